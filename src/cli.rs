//! The command line: `glimpse serve`, `glimpse config show`, `glimpse db ...`.

use crate::config::{Settings, Sources};
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "glimpse",
    version,
    about = "An image-metadata registry speaking the OpenStack Glance registry (v1) API",
    long_about = "An image-metadata registry speaking the OpenStack Glance registry (v1) API.\n\n\
        Settings come from flags, then GLIMPSE_* environment variables, then the --config TOML \
        file, then --glance-config, then built-in defaults."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Settings sources and values shared by the commands that open the database.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub sources: Sources,
    #[command(flatten)]
    pub settings: Settings,
}

impl ConfigArgs {
    pub fn resolve(&self) -> Result<Settings, String> {
        self.sources.resolve(self.settings.clone())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the registry server.
    Serve(ConfigArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (passwords masked) as TOML.
    Show(ConfigArgs),
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations without serving.
    Migrate,
    /// List applied and pending migrations.
    Status,
}
