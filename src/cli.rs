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
    /// Where the client commands (image, member, shared) send their requests, and as whom.
    #[command(flatten)]
    pub client: crate::client::ClientOptions,
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
    #[command(subcommand)]
    Db(DbCommand),
    /// Image data maintenance.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Client commands: talk to a running registry.
    #[command(flatten)]
    Client(crate::client::ClientCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (passwords masked) as TOML.
    Show(ConfigArgs),
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations without serving.
    Migrate(ConfigArgs),
    /// List applied and pending migrations.
    Status(ConfigArgs),
    /// Refresh the query planner's statistics now (the server also does it every 5 minutes).
    Analyze(ConfigArgs),
    /// Permanently remove images soft-deleted longer ago than --older-than, with their
    /// properties and memberships, in small batches that do not block the server.
    Purge {
        #[command(flatten)]
        config: ConfigArgs,
        /// Age of deletion, e.g. 30d, 12h, 90m.
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: std::time::Duration,
        /// Only count what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the whole catalog (deleted images and memberships included) as JSON lines, in
    /// id order: the same catalog always gives the same bytes.
    Export {
        #[command(flatten)]
        config: ConfigArgs,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Load a catalog written by `db export` (into an empty database, typically).
    Import {
        #[command(flatten)]
        config: ConfigArgs,
        /// Read from here instead of standard input.
        #[arg(long, short)]
        input: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Compare the image store with the catalog: list objects no live image owns (removed
    /// with --delete) and images whose data is missing. Changes nothing without --delete.
    Scrub {
        #[command(flatten)]
        config: ConfigArgs,
        /// Remove the orphaned objects found.
        #[arg(long)]
        delete: bool,
    },
}

impl DbCommand {
    /// The configuration every database command takes.
    pub fn config(&self) -> &ConfigArgs {
        match self {
            DbCommand::Migrate(c) | DbCommand::Status(c) | DbCommand::Analyze(c) => c,
            DbCommand::Purge { config, .. }
            | DbCommand::Export { config, .. }
            | DbCommand::Import { config, .. } => config,
        }
    }
}
