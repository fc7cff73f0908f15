//! Starting and stopping the server: the accept loop with its connection limit and header
//! timeout (a slow client cannot pin the server), and graceful shutdown.

use crate::api::common::caller::Peer;
use crate::api::{AppState, router};
use crate::config::ServerConfig;
use crate::metrics;
use crate::registry::{DataSettings, Registry};
use crate::storage::sql::{SqlStore, redact_url};
use crate::store::DataStore;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How often planner statistics are refreshed.
const ANALYZE_EVERY: Duration = Duration::from_secs(300);

/// A server bound to its port(s), ready to run.
pub struct Server {
    /// The v1 registry API's listener, if it is served.
    listener: Option<TcpListener>,
    /// The v2 images API's listener, when it is served.
    images_listener: Option<TcpListener>,
    images_app: axum::Router,
    metrics_listener: Option<TcpListener>,
    store: SqlStore,
    state: Arc<AppState<SqlStore>>,
    app: axum::Router,
    config: ServerConfig,
    auth_mode: &'static str,
}

impl Server {
    /// Connects to the database, applies migrations and binds the listeners.
    pub async fn bind(config: ServerConfig) -> Result<Server, String> {
        let auth = crate::auth::Authenticator::new(config.auth_config()?)?;
        let db = redact_url(&config.database_url);
        let store = SqlStore::connect(&config.database_url, &config.pool)
            .await
            .map_err(|e| format!("cannot open database {db}: {e}"))?;
        store
            .migrate()
            .await
            .map_err(|e| format!("cannot migrate database {db}: {e}"))?;
        let listener = match config.bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen on {addr}: {e}"))?,
            ),
            None => None,
        };
        let images_listener = match config.images_bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen for the images API on {addr}: {e}"))?,
            ),
            None => None,
        };
        let metrics_listener = match config.metrics_bind.filter(|_| config.metrics) {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen for metrics on {addr}: {e}"))?,
            ),
            None => None,
        };
        if auth.mode_name() == "noauth" && config.listeners().any(|a| !a.ip().is_loopback()) {
            tracing::warn!(
                "every request is served as admin on a non-loopback address (--auth noauth)"
            );
        }
        let auth_mode = auth.mode_name();
        let data = data_settings(&config).await?;
        let state = Arc::new(AppState {
            registry: Registry::new(store.clone(), config.rules.clone(), config.limits, data),
            owner_is_tenant: config.owner_is_tenant,
            auth,
            max_body_bytes: config.max_body_bytes,
            meta_budget: config.meta_headers,
            request_timeout: config.request_timeout,
            metrics: metrics::Metrics::new(),
            metrics_on_api: config.metrics && config.metrics_bind.is_none(),
            public_endpoint: config.public_endpoint.clone(),
        });
        Ok(Server {
            listener,
            images_listener,
            images_app: crate::api::images_router(state.clone()),
            metrics_listener,
            store,
            app: router(state.clone()),
            state,
            config,
            auth_mode,
        })
    }

    /// Where image data goes, for the start-up lines.
    pub fn store_description(&self) -> String {
        self.state.registry.data.store.describe()
    }

    /// The auth mode in force, for the start-up line.
    pub fn auth_mode(&self) -> &'static str {
        self.auth_mode
    }

    /// Where the v1 registry API listens (an error when it is not served).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.listener {
            Some(l) => l.local_addr(),
            None => Err(std::io::Error::other("the registry API is not served")),
        }
    }

    /// Where the v1 registry API listens, if it is served.
    pub fn registry_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Where the v2 images API listens, if it is served.
    pub fn images_addr(&self) -> Option<SocketAddr> {
        self.images_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then stops accepting, gives in-flight requests up to
    /// the shutdown timeout to finish, and closes the pool.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Server {
            listener,
            images_listener,
            images_app,
            metrics_listener,
            store,
            state,
            app,
            config,
            ..
        } = self;
        if let Some(ml) = metrics_listener {
            let metrics_app = crate::api::metrics_router(app.clone());
            tokio::spawn(async move {
                let _ = axum::serve(ml, metrics_app).await;
            });
        }
        // Planner statistics: soon after start, then every few minutes.
        let analyzer = {
            let store = store.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                loop {
                    if let Err(e) = store.refresh_statistics().await {
                        tracing::warn!(error = %e, "refreshing planner statistics failed");
                    }
                    tokio::time::sleep(ANALYZE_EVERY).await;
                }
            })
        };
        // Uploads whose instance died: at start, then as often as one can go stale.
        let upkeep = {
            let every = (config.upload_stale_after / 2).max(Duration::from_millis(200));
            tokio::spawn(async move {
                loop {
                    if let Err(e) = state.registry.requeue_stale_uploads().await {
                        tracing::warn!(error = %e, "looking for abandoned uploads failed");
                    }
                    tokio::time::sleep(every).await;
                }
            })
        };
        let graceful = Arc::new(GracefulShutdown::new());
        let slots = Arc::new(Semaphore::new(config.max_connections));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let conn = ConnSettings {
            header_read_timeout: config.header_read_timeout,
        };
        let images = images_listener.map(|l| {
            tokio::spawn(accept_loop(
                l,
                images_app,
                slots.clone(),
                graceful.clone(),
                stop_rx.clone(),
                conn,
            ))
        });
        let registry = listener.map(|l| {
            tokio::spawn(accept_loop(
                l,
                app.clone(),
                slots.clone(),
                graceful.clone(),
                stop_rx.clone(),
                conn,
            ))
        });
        shutdown.await;
        let _ = stop_tx.send(true);
        if let Some(registry) = registry {
            let _ = registry.await;
        }
        if let Some(images) = images {
            let _ = images.await;
        }
        let graceful = Arc::try_unwrap(graceful).unwrap_or_else(|_| GracefulShutdown::new());
        tokio::select! {
            _ = graceful.shutdown() => tracing::info!("all connections closed"),
            _ = tokio::time::sleep(config.shutdown_timeout) => {
                tracing::warn!("shutdown timeout reached with requests still in flight");
            }
        }
        analyzer.abort();
        upkeep.abort();
        store.close().await;
        Ok(())
    }
}

/// The image store and upload limits of `config`, opened.
pub async fn data_settings(config: &ServerConfig) -> Result<DataSettings, String> {
    let store = DataStore::open(&config.store)
        .await
        .map_err(|e| format!("cannot open the image store: {e}"))?;
    Ok(DataSettings {
        store,
        size_cap: config.image_size_cap,
        stale_after: config.upload_stale_after,
        idle_timeout: config.request_timeout,
    })
}

#[derive(Debug, Clone, Copy)]
struct ConnSettings {
    header_read_timeout: Duration,
}

/// Accepts connections on one listener until `stop` turns true; every connection holds one
/// of the shared `slots` (at the limit, new clients wait in the backlog) and is watched by
/// `graceful`, so that shutdown waits for it.
async fn accept_loop(
    listener: TcpListener,
    app: axum::Router,
    slots: Arc<Semaphore>,
    graceful: Arc<GracefulShutdown>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    conn: ConnSettings,
) {
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stop.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            c = listener.accept() => match c {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(conn.header_read_timeout);
        let with_peer = tower::Layer::layer(&axum::Extension(Peer(peer)), app.clone());
        let service = TowerToHyperService::new(with_peer);
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let watched = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = watched.await;
            drop(permit);
        });
    }
}
