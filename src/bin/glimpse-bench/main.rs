//! glimpse-bench: a load benchmark for any server speaking the OpenStack Glance registry (v1)
//! API. It seeds a catalog of realistic images with concurrent POSTs (or reuses one), then runs
//! named scenarios for a fixed time over C keep-alive connections and reports requests/s,
//! latency percentiles, errors and (optionally) the server's memory, as a table and as JSON.
//!
//! It talks HTTP only, so the same run measures glimpse and the Python glance-registry alike.

mod catalog;
mod catalog_file;
mod data;
mod keystone;
mod report;
mod rng;
mod runner;
mod scenario;
mod seed;

use clap::Parser;
use report::{Machine, MemReport, RunReport, ScenarioReport, SeedReport};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use scenario::{Scenario, Target, Worker};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "glimpse-bench",
    version,
    about = "Load benchmark for any OpenStack Glance registry (v1) server",
    after_help = "Scenarios: show, head, list-brief, list-detail, filter-property, \
                  filter-and-sort, page-walk, create, update, mixed (90% reads, 10% writes), \
                  healthz (GET /healthz: the HTTP stack's ceiling; glimpse only).\n\n\
                  v2 scenarios (the v2 images API at --images-url; in `all` only with it): \
                  v2-show, v2-list, v2-list-filter, v2-patch (JSON patch of min_ram and a \
                  property, no If-Match), on the same image ids.\n\n\
                  Data scenarios (the v2 images API at --images-url; run on their own): \
                  upload, download, each --data-size bytes per transfer on every connection.\n\n\
                  Any answer other than 2xx counts as an error; a run with errors says so \
                  loudly and exits with status 1."
)]
struct Args {
    /// Base URL of the registry.
    #[arg(long, default_value = "http://127.0.0.1:9191")]
    url: String,

    /// Send X-Auth-Token (with X-Identity-Status: Confirmed); without it the tool is the
    /// no-token admin.
    #[arg(long)]
    token: Option<String>,

    /// X-Tenant-Id to send with --token.
    #[arg(long)]
    tenant: Option<String>,

    /// X-Roles to send with --token (comma-separated; "admin" makes an admin).
    #[arg(long)]
    roles: Option<String>,

    /// Log in to this Keystone (v3) and send only the token it issues (X-Auth-Token), for a
    /// glimpse in keystone mode. Needs --keystone-user, --keystone-password, --keystone-project.
    #[arg(long, conflicts_with_all = ["token", "tenant", "roles"])]
    keystone_auth_url: Option<String>,

    /// The Keystone user for --keystone-auth-url.
    #[arg(long, requires = "keystone_auth_url")]
    keystone_user: Option<String>,

    /// Its password (or GLIMPSE_BENCH_KEYSTONE_PASSWORD).
    #[arg(
        long,
        env = "GLIMPSE_BENCH_KEYSTONE_PASSWORD",
        requires = "keystone_auth_url"
    )]
    keystone_password: Option<String>,

    /// The project to scope the token to.
    #[arg(long, requires = "keystone_auth_url")]
    keystone_project: Option<String>,

    /// The domain of user and project.
    #[arg(long, default_value = "Default")]
    keystone_domain: String,

    /// Images to seed [default: 10000]. With --skip-seed: how many existing ones to use at
    /// most (default: every id of --ids-file, or 10000 found by listing).
    #[arg(long)]
    images: Option<u64>,

    /// Do not seed: reuse the images already there (from --ids-file, or found by listing).
    #[arg(long)]
    skip_seed: bool,

    /// Seed, then stop without running scenarios.
    #[arg(long, conflicts_with = "skip_seed")]
    seed_only: bool,

    /// File of image ids, one a line: written after seeding, read with --skip-seed.
    #[arg(long)]
    ids_file: Option<PathBuf>,

    /// Write the seed catalog (--images of them) to this file in `glimpse db import` format,
    /// and their ids to --ids-file, then stop: the fast way to a catalog of a million images
    /// (`glimpse db import --database URL < FILE`). glimpse only; other servers are seeded
    /// over the API.
    #[arg(long, conflicts_with_all = ["skip_seed", "seed_only"])]
    write_catalog: Option<PathBuf>,

    /// Concurrent connections while seeding (default: --connections).
    #[arg(long)]
    seed_connections: Option<usize>,

    /// Comma-separated scenarios to run, or "all".
    #[arg(long, default_value = "all")]
    scenarios: String,

    /// Seconds each scenario is measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,

    /// Seconds each scenario runs before it is measured (not counted).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,

    /// Concurrent keep-alive connections, each sending one request after another.
    #[arg(long, short = 'c', default_value_t = 32)]
    connections: usize,

    /// Write the results as JSON to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,

    /// The server's process id: its memory (VmRSS, VmHWM) is read from /proc before, during
    /// and after each scenario.
    #[arg(long)]
    server_pid: Option<u32>,

    /// Threads of the load generator (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,

    /// Seed of the generated catalog and of the request mix.
    #[arg(long, default_value_t = 42)]
    rng_seed: u64,

    /// Base URL of the v2 images API (e.g. http://127.0.0.1:9292): the v2 scenarios run
    /// only with it (`all` includes them then). The data scenarios (upload, download) use
    /// http://127.0.0.1:9292 without it.
    #[arg(long)]
    images_url: Option<String>,

    /// Bytes of each image the data scenarios upload or download [default: 256 MiB].
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    data_size: u64,

    /// Seconds a request may take before it counts as an error.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
}

/// The headers every request carries and whether they make an admin: a Keystone token, the
/// identity headers of --token, or none (the no-token admin).
async fn auth_headers(args: &Args) -> Result<(HeaderMap, bool), String> {
    let Some(auth_url) = &args.keystone_auth_url else {
        return header_auth(args);
    };
    let need = |v: &Option<String>, flag: &str| {
        v.clone()
            .ok_or_else(|| format!("--keystone-auth-url needs {flag}"))
    };
    let (user, password, project) = (
        need(&args.keystone_user, "--keystone-user")?,
        need(&args.keystone_password, "--keystone-password")?,
        need(&args.keystone_project, "--keystone-project")?,
    );
    let (token, admin) = keystone::issue(&keystone::Login {
        auth_url,
        user: &user,
        password: &password,
        project: &project,
        domain: &args.keystone_domain,
    })
    .await?;
    let mut h = HeaderMap::new();
    let v = HeaderValue::from_str(&token).map_err(|_| "Keystone's token is not a header value")?;
    h.insert(HeaderName::from_static("x-auth-token"), v);
    Ok((h, admin))
}

fn header_auth(args: &Args) -> Result<(HeaderMap, bool), String> {
    let mut h = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| -> Result<(), String> {
        let v = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of {name} cannot be sent as a header: {value:?}"))?;
        h.insert(HeaderName::from_static(name), v);
        Ok(())
    };
    let Some(token) = &args.token else {
        if args.tenant.is_some() || args.roles.is_some() {
            return Err("--tenant and --roles need --token".into());
        }
        return Ok((h, true));
    };
    set("x-auth-token", token)?;
    set("x-identity-status", "Confirmed")?;
    set("x-user-id", "glimpse-bench")?;
    if let Some(t) = &args.tenant {
        set("x-tenant-id", t)?;
    }
    let roles = args.roles.clone().unwrap_or_default();
    if !roles.is_empty() {
        set("x-roles", &roles)?;
    }
    let admin = roles
        .split(',')
        .any(|r| r.trim().eq_ignore_ascii_case("admin"));
    Ok((h, admin))
}

/// Where the data scenarios find the v2 images API without --images-url: glimpse's default.
const DEFAULT_IMAGES_URL: &str = "http://127.0.0.1:9292";

fn positive_secs(name: &str, v: f64, allow_zero: bool) -> Result<Duration, String> {
    if v.is_finite() && (v > 0.0 || (allow_zero && v == 0.0)) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{name} must be a positive number of seconds"))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = match rt.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("glimpse-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("glimpse-bench: {e}");
            ExitCode::from(2)
        }
    }
}

/// The data scenarios alone; returns the number of failed transfers.
async fn run_data(
    args: &Args,
    names: &[&str],
    duration: Duration,
    timeout: Duration,
) -> Result<u64, String> {
    let (headers, _) = auth_headers(args).await?;
    let base = args
        .images_url
        .as_deref()
        .unwrap_or(DEFAULT_IMAGES_URL)
        .trim_end_matches('/');
    url::Url::parse(base).map_err(|e| format!("--images-url {base}: {e}"))?;
    // A transfer may take long: the timeout covers the slowest one.
    let timeout = timeout.max(Duration::from_secs(3600));
    let clients = (0..args.connections)
        .map(|_| runner::client(&headers, timeout))
        .collect::<Result<Vec<_>, _>>()?;
    let run = data::DataRun {
        images_url: base,
        clients,
        size: args.data_size,
        duration,
        server_pid: args.server_pid,
    };
    println!(
        "glimpse-bench {} -> {base} (data: {} bytes per transfer, {} connections, {}s)",
        env!("CARGO_PKG_VERSION"),
        args.data_size,
        args.connections,
        args.duration
    );
    println!("{}", data::header());
    let mut reports = Vec::new();
    for name in names {
        let name: &'static str = match *name {
            "upload" => "upload",
            "download" => "download",
            other => {
                return Err(format!(
                    "scenario {other} cannot run with the data scenarios (upload, download): run it separately"
                ));
            }
        };
        let r = data::run(name, &run).await?;
        println!("{}", data::row(&r));
        if r.errors > 0 {
            report::loud(&format!(
                "{name}: {} transfers failed; first: {}",
                r.errors,
                r.error_samples.first().map_or("?", String::as_str)
            ));
        }
        reports.push(r);
    }
    if let Some(path) = &args.json_out {
        let text = serde_json::to_string_pretty(&reports).map_err(|e| format!("JSON: {e}"))?;
        std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("results written to {}", path.display());
    }
    Ok(reports.iter().map(|r| r.errors).sum())
}

/// Runs everything; returns the number of failed requests.
async fn run(args: Args) -> Result<u64, String> {
    let images = args.images.unwrap_or(10_000);
    if let Some(path) = &args.write_catalog {
        catalog_file::write(path, args.ids_file.as_deref(), images, args.rng_seed)?;
        return Ok(0);
    }
    let duration = positive_secs("--duration", args.duration, false)?;
    let warmup = positive_secs("--warmup", args.warmup, true)?;
    let timeout = positive_secs("--timeout", args.timeout, false)?;
    if args.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    let names: Vec<&str> = args.scenarios.split(',').map(str::trim).collect();
    if names.iter().any(|n| *n == "upload" || *n == "download") {
        return run_data(&args, &names, duration, timeout).await;
    }
    let scenarios = Scenario::parse_list(&args.scenarios, args.images_url.is_some())?;
    let base = args.url.trim_end_matches('/').to_owned();
    url::Url::parse(&base).map_err(|e| format!("--url {base}: {e}"))?;
    let images_base = args
        .images_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_owned());
    if let Some(u) = &images_base {
        url::Url::parse(u).map_err(|e| format!("--images-url {u}: {e}"))?;
    }
    let (headers, admin) = auth_headers(&args).await?;
    let started_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let machine = Machine::detect(&base);

    let probe = runner::client(&headers, timeout)?;
    if let Some([one, _, _]) = machine.load_average
        && one > machine.cpus as f64
    {
        report::loud(&format!(
            "the machine is already busy (load average {one:.2} on {} CPUs): \
             the figures will be low and noisy",
            machine.cpus
        ));
    }
    println!(
        "glimpse-bench {} -> {base}{} ({} connections, {}s per scenario{}, as {}){}",
        env!("CARGO_PKG_VERSION"),
        images_base
            .as_deref()
            .map_or_else(String::new, |u| format!(" and {u} (v2)")),
        args.connections,
        args.duration,
        if warmup.is_zero() {
            String::new()
        } else {
            format!(" after {}s warm-up", args.warmup)
        },
        if args.token.is_none() {
            "the no-token admin"
        } else if admin {
            "an admin"
        } else {
            "a tenant"
        },
        if machine.same_host {
            "; the load generator runs on the server's machine"
        } else {
            ""
        }
    );

    // The catalog.
    let mut seed_report = None;
    let ids: Vec<String> = if args.skip_seed {
        match &args.ids_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                let ids: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .take(args.images.map_or(usize::MAX, |n| n as usize))
                    .map(str::to_owned)
                    .collect();
                eprintln!("using {} image ids from {}", ids.len(), path.display());
                ids
            }
            None => seed::discover(&probe, &base, images).await?,
        }
    } else {
        let n = args.seed_connections.unwrap_or(args.connections).max(1);
        let clients = (0..n)
            .map(|_| runner::client(&headers, timeout))
            .collect::<Result<Vec<_>, _>>()?;
        let seeded = seed::seed(&clients, &base, images, args.rng_seed, admin).await;
        if seeded.errors > 0 {
            report::loud(&format!(
                "{} of {} seeding requests failed; first: {}",
                seeded.errors,
                images,
                seeded.samples.first().map_or("?", String::as_str)
            ));
        }
        let secs = seeded.elapsed.as_secs_f64();
        seed_report = Some(SeedReport {
            created: seeded.ids.len() as u64,
            errors: seeded.errors,
            seconds: secs,
            images_per_s: seeded.ids.len() as f64 / secs.max(1e-9),
            error_samples: seeded.samples,
        });
        if let Some(path) = &args.ids_file {
            let mut text = seeded.ids.join("\n");
            text.push('\n');
            std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        seeded.ids
    };
    if ids.is_empty() && !args.seed_only && scenarios.iter().any(|s| s.needs_ids()) {
        return Err("there are no images to read or update: seed some (drop --skip-seed)".into());
    }

    let catalog_images = if args.skip_seed {
        ids.len() as u64
    } else {
        images
    };
    let target = Arc::new(Target {
        base: base.clone(),
        images_base,
        ids: Arc::new(ids),
        catalog_size: catalog_images,
        seed: args.rng_seed,
        admin,
    });

    let mut reports: Vec<ScenarioReport> = Vec::new();
    if !args.seed_only {
        println!("{}", report::header());
        for (n, &sc) in scenarios.iter().enumerate() {
            let clients = (0..args.connections)
                .map(|_| runner::client(&headers, timeout))
                .collect::<Result<Vec<_>, _>>()?;
            let mut workers: Vec<Worker> = (0..args.connections as u64)
                .map(|w| Worker::new(w + ((n as u64) << 16), args.rng_seed))
                .collect();
            let warm = if warmup.is_zero() {
                None
            } else {
                Some(runner::run_phase(&clients, &mut workers, &target, sc, warmup).await)
            };
            let before = args.server_pid.and_then(report::read_mem);
            let sampler = args.server_pid.map(|pid| {
                let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(async move {
                    let mut max = 0u64;
                    let mut tick = tokio::time::interval(Duration::from_millis(100));
                    loop {
                        tokio::select! {
                            _ = tick.tick() => {
                                if let Some(m) = report::read_mem(pid) {
                                    max = max.max(m.rss_kib);
                                }
                            }
                            _ = &mut stop_rx => return max,
                        }
                    }
                });
                (stop_tx, task)
            });
            let measured = runner::run_phase(&clients, &mut workers, &target, sc, duration).await;
            let max_rss = match sampler {
                Some((stop, task)) => {
                    let _ = stop.send(());
                    task.await.ok().filter(|&m| m > 0)
                }
                None => None,
            };
            let memory = args.server_pid.map(|pid| MemReport {
                before,
                after: report::read_mem(pid),
                max_rss_kib_during: max_rss,
            });
            let r = ScenarioReport::new(sc.name(), args.connections, measured, warm, memory);
            println!("{}", report::rows(&r));
            if r.errors > 0 || r.warmup_errors > 0 {
                report::loud(&format!(
                    "scenario {} had {} errors ({} more in warm-up); first: {}",
                    r.name,
                    r.errors,
                    r.warmup_errors,
                    r.error_samples.first().map_or("?", String::as_str)
                ));
            }
            if r.name == "head"
                && r.errors > 0
                && r.error_samples.iter().all(|e| e.starts_with("head -> 404"))
            {
                report::loud(
                    "this server answers HEAD /images/<id> with 404 for images GET finds: it \
                     does not support HEAD there (the Python glance-registry routes only GET, \
                     PUT and DELETE on that path); leave `head` out with --scenarios",
                );
            }
            if r.requests == 0 {
                report::loud(&format!("scenario {} completed no request", r.name));
            }
            reports.push(r);
        }
    }

    let rate = |name: &str| {
        reports
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.requests_per_s)
    };
    let show_to_healthz = match (rate("show"), rate("healthz")) {
        (Some(s), Some(h)) if h > 0.0 => Some(s / h),
        _ => None,
    };
    let seed_errors = seed_report.as_ref().map_or(0, |s| s.errors);
    let total_errors = seed_errors
        + reports
            .iter()
            .map(|r| r.errors + r.warmup_errors)
            .sum::<u64>();

    if reports.len() > 1 {
        println!("\nsummary ({catalog_images} images in the catalog):");
        println!("{}", report::header());
        for r in &reports {
            println!("{}", report::rows(r));
        }
    }
    if let Some(ratio) = show_to_healthz {
        println!("show reaches {:.0}% of healthz's requests/s", ratio * 100.0);
    }
    let run = RunReport {
        tool: "glimpse-bench",
        version: env!("CARGO_PKG_VERSION"),
        url: base,
        started_at,
        machine,
        catalog_images,
        connections: args.connections,
        duration_s: report::secs(duration),
        warmup_s: report::secs(warmup),
        seed: seed_report,
        scenarios: reports,
        show_to_healthz,
        total_errors,
        server_pid: args.server_pid,
    };
    if let Some(path) = &args.json_out {
        let text = serde_json::to_string_pretty(&run).map_err(|e| format!("JSON: {e}"))?;
        std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("results written to {}", path.display());
    }
    if total_errors > 0 {
        report::loud(&format!(
            "{total_errors} requests failed in this run: the figures are not valid"
        ));
    }
    Ok(total_errors)
}
