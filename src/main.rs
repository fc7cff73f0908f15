use clap::Parser;
use glimpse::cli::{Cli, Command, ConfigCommand, DbCommand, StoreCommand};
use glimpse::config::{LogFormat, ServerConfig, Settings};
use glimpse::domain::Timestamp;
use glimpse::error::Error;
use glimpse::server::Server;
use glimpse::storage::sql::{SqlStore, redact_url};
use std::io::Write;
use std::process::ExitCode;

/// mimalloc: glibc malloc was a fifth of the server's CPU under load and its per-thread
/// arenas most of its memory (see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// The merged settings of `args` and the configuration they make (exit status 2 if invalid).
fn validated(args: &glimpse::cli::ConfigArgs) -> Result<(Settings, ServerConfig), String> {
    let settings = args.resolve()?;
    let config = ServerConfig::from_settings(&settings, &args.sources)?;
    Ok((settings, config))
}

async fn serve(args: glimpse::cli::ConfigArgs) -> ExitCode {
    let (settings, config) = match validated(&args) {
        Ok(v) => v,
        Err(e) => return fail(e, 2),
    };
    init_logging(&settings);
    let db = redact_url(&config.database_url);
    let server = match Server::bind(config).await {
        Ok(s) => s,
        Err(e) => return fail(e, 1),
    };
    match server.registry_addr() {
        Some(addr) => tracing::info!(
            "glimpse listening on http://{addr} with database {db} (auth: {})",
            server.auth_mode()
        ),
        None => tracing::info!(
            "glimpse serving database {db} without the registry API (auth: {})",
            server.auth_mode()
        ),
    }
    if let Some(addr) = server.images_addr() {
        tracing::info!("glimpse images API (v2) listening on http://{addr}");
    }
    tracing::info!("image data stored in {}", server.store_description());
    if let Err(e) = server.run(shutdown_signal()).await {
        return fail(format!("server error: {e}"), 1);
    }
    ExitCode::SUCCESS
}

async fn store(command: StoreCommand) -> ExitCode {
    let StoreCommand::Scrub {
        config: args,
        delete,
    } = command;
    let (_, config) = match validated(&args) {
        Ok(v) => v,
        Err(e) => return fail(e, 2),
    };
    let catalog = match SqlStore::connect(&config.database_url, &config.pool).await {
        Ok(s) => s,
        Err(e) => return fail(e, 1),
    };
    if let Err(e) = catalog.migrate().await {
        return fail(e, 1);
    }
    let data = match glimpse::server::data_settings(&config).await {
        Ok(d) => d,
        Err(e) => return fail(e, 1),
    };
    let registry = glimpse::registry::Registry::new(
        catalog.clone(),
        config.rules.clone(),
        config.limits,
        data,
    );
    let result = registry.scrub(delete).await;
    catalog.close().await;
    let report = match result {
        Ok(r) => r,
        Err(e) => return fail(e, 1),
    };
    for (object, why) in &report.orphans {
        println!("orphan  {}  {} bytes  ({why})", object.key, object.size);
    }
    for id in &report.missing {
        println!("missing {id}  (the image has data in the catalog but none in the store)");
    }
    if delete {
        println!(
            "{} orphaned objects removed, {} images with missing data",
            report.removed,
            report.missing.len()
        );
    } else {
        println!(
            "{} orphaned objects (run with --delete to remove them), {} images with missing data",
            report.orphans.len(),
            report.missing.len()
        );
    }
    ExitCode::SUCCESS
}

async fn db(command: DbCommand) -> ExitCode {
    let args = command.config().clone();
    let (_, config) = match validated(&args) {
        Ok(v) => v,
        Err(e) => return fail(e, 2),
    };
    let store = match SqlStore::connect(&config.database_url, &config.pool).await {
        Ok(s) => s,
        Err(e) => return fail(e, 1),
    };
    // Every command but `status` works on the current schema.
    if !matches!(command, DbCommand::Status(_))
        && let Err(e) = store.migrate().await
    {
        return fail(e, 1);
    }
    let result = match command {
        DbCommand::Migrate(_) => {
            println!("migrations applied");
            Ok(())
        }
        DbCommand::Analyze(_) => store
            .analyze()
            .await
            .map(|()| println!("statistics refreshed")),
        DbCommand::Status(_) => store.migration_status().await.map(|list| {
            for (version, description, applied) in list {
                let state = if applied { "applied" } else { "pending" };
                println!("{version:>6}  {state:<8}  {description}");
            }
        }),
        DbCommand::Purge {
            older_than,
            dry_run,
            ..
        } => {
            let cutoff = match time::Duration::try_from(older_than) {
                Ok(age) => Timestamp::from_primitive(Timestamp::now().as_primitive() - age),
                Err(e) => return fail(format!("invalid --older-than: {e}"), 2),
            };
            store.purge_deleted(cutoff, dry_run).await.map(|n| {
                if dry_run {
                    println!("{n} images deleted before {cutoff} would be purged");
                } else {
                    println!("purged {n} images deleted before {cutoff}");
                }
            })
        }
        DbCommand::Export { output, .. } => {
            let mut out: Box<dyn Write + Send> = match output {
                Some(path) => match std::fs::File::create(&path) {
                    Ok(f) => Box::new(std::io::BufWriter::new(f)),
                    Err(e) => return fail(format!("cannot create {}: {e}", path.display()), 1),
                },
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            let exported = store.export(&mut *out).await;
            let flushed = out.flush();
            exported.and_then(|n| {
                flushed.map_err(|e| Error::Internal(format!("cannot write export: {e}")))?;
                eprintln!("exported {n} images");
                Ok(())
            })
        }
        DbCommand::Import { input, .. } => {
            let started = std::time::Instant::now();
            let mut last = started;
            let mut progress = |n: u64| {
                if last.elapsed() >= std::time::Duration::from_secs(10) {
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!("imported {n} images so far ({:.0}/s)", n as f64 / secs);
                    last = std::time::Instant::now();
                }
            };
            let imported = match input {
                Some(path) => match std::fs::File::open(&path) {
                    Ok(f) => {
                        store
                            .import(std::io::BufReader::new(f), &mut progress)
                            .await
                    }
                    Err(e) => return fail(format!("cannot open {}: {e}", path.display()), 1),
                },
                None => store.import(std::io::stdin().lock(), &mut progress).await,
            };
            let imported = match imported {
                Ok(n) => {
                    eprintln!("refreshing statistics after importing {n} images");
                    store.settle_after_import().await.map(|()| n)
                }
                Err(e) => Err(e),
            };
            imported.map(|n| eprintln!("imported {n} images, statistics refreshed"))
        }
    };
    store.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e, 1),
    }
}

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (the Rust bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps the server's memory close to what it uses. Measured at 1,000,000 images under load,
/// RSS was 70-95 MiB while the live heap was far smaller: glibc (which SQLite allocates from)
/// kept a 7 MiB arena per thread that had touched it, mostly free, and mimalloc held freed
/// pages for a second (its default purge delay) before returning them. Two arenas and
/// immediate purging keep RSS ~10-15 MiB lower at no measurable cost in throughput (the
/// larger leak, metrics histograms queueing every observation, is fixed in `metrics`).
fn tune_allocators() {
    // SAFETY: called first thing in main, before any other thread exists; both calls only
    // set allocator options.
    unsafe {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

fn main() -> ExitCode {
    tune_allocators();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(rt) => rt.block_on(run()),
        Err(e) => {
            eprintln!("glimpse: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
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
        Command::Db(command) => db(command).await,
        Command::Store(command) => store(command).await,
        Command::Client(cmd) => glimpse::client::run(cli.client, cmd).await,
    }
}

#[cfg(test)]
mod tests {
    /// The option index is mimalloc's enum position, not a name: check that it is the purge
    /// delay (1,000 ms by default in the mimalloc 3 that Cargo.lock pins) before anything sets
    /// it.
    #[test]
    fn purge_delay_option_index_is_right() {
        // SAFETY: reads an allocator option.
        let v = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(v, 1000);
    }
}
