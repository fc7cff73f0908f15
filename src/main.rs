use clap::Parser;
use glimpse::cli::{Cli, Command};
use glimpse::server::Server;
use glimpse::storage::sql::redact_url;
use std::process::ExitCode;

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Serve(args) => {
            let config = match args.into_config() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("glimpse: {e}");
                    return ExitCode::from(2);
                }
            };
            let db = redact_url(&config.database_url);
            let server = match Server::bind(config).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("glimpse: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match server.local_addr() {
                Ok(addr) => tracing::info!("glimpse listening on http://{addr} with database {db}"),
                Err(e) => tracing::warn!("listening (address unknown: {e}) with database {db}"),
            }
            if let Err(e) = server.run(shutdown_signal()).await {
                eprintln!("glimpse: server error: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
    }
}
