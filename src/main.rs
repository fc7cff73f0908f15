use clap::Parser;
use glimpse::cli::{Cli, Command, ConfigCommand, DbCommand};
use glimpse::config::{LogFormat, ServerConfig, Settings};
use glimpse::server::Server;
use glimpse::storage::sql::{SqlStore, redact_url};
use std::process::ExitCode;

fn init_logging(settings: &Settings) {
    let filter = match (&settings.log_level, std::env::var("RUST_LOG")) {
        (Some(level), _) => tracing_subscriber::EnvFilter::new(level),
        (None, Ok(env)) if !env.is_empty() => tracing_subscriber::EnvFilter::new(env),
        _ => tracing_subscriber::EnvFilter::new("info,sqlx=warn"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log_format {
        Some(LogFormat::Json) => builder.json().flatten_event(true).init(),
        _ => builder.init(),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}

fn fail(msg: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("glimpse: {msg}");
    ExitCode::from(code)
}

async fn serve(args: glimpse::cli::ConfigArgs) -> ExitCode {
    let settings = match args.resolve() {
        Ok(s) => s,
        Err(e) => return fail(e, 2),
    };
    let config = match ServerConfig::from_settings(&settings, &args.sources) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    init_logging(&settings);
    let db = redact_url(&config.database_url);
    let server = match Server::bind(config).await {
        Ok(s) => s,
        Err(e) => return fail(e, 1),
    };
    match server.local_addr() {
        Ok(addr) => tracing::info!("glimpse listening on http://{addr} with database {db}"),
        Err(e) => tracing::warn!("listening (address unknown: {e}) with database {db}"),
    }
    if let Err(e) = server.run(shutdown_signal()).await {
        return fail(format!("server error: {e}"), 1);
    }
    ExitCode::SUCCESS
}

async fn db(command: DbCommand, args: glimpse::cli::ConfigArgs) -> ExitCode {
    let settings = match args.resolve() {
        Ok(s) => s,
        Err(e) => return fail(e, 2),
    };
    let config = match ServerConfig::from_settings(&settings, &args.sources) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let store = match SqlStore::connect(&config.database_url, &config.pool).await {
        Ok(s) => s,
        Err(e) => return fail(e, 1),
    };
    let result = match command {
        DbCommand::Migrate => store
            .migrate()
            .await
            .map(|()| println!("migrations applied")),
        DbCommand::Status => store.migration_status().await.map(|list| {
            for (version, description, applied) in list {
                println!(
                    "{version:>6}  {:<8}  {description}",
                    if applied { "applied" } else { "pending" }
                );
            }
        }),
    };
    store.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e, 1),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Config(ConfigCommand::Show(args)) => match args.resolve() {
            Ok(s) => {
                if let Err(e) = ServerConfig::from_settings(&s, &args.sources) {
                    return fail(e, 2);
                }
                print!("{}", s.to_toml_masked());
                ExitCode::SUCCESS
            }
            Err(e) => fail(e, 2),
        },
        Command::Db { command, config } => db(command, config).await,
    }
}
