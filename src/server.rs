//! Starting and stopping the server.

use crate::config::ServerConfig;
use crate::http::{AppState, router};
use crate::registry::Registry;
use crate::storage::sql::{SqlStore, redact_url};
use std::sync::Arc;
use tokio::net::TcpListener;

/// A server bound to its port, ready to run.
pub struct Server {
    listener: TcpListener,
    store: SqlStore,
    app: axum::Router,
}

impl Server {
    /// Connects to the database, applies migrations and binds the listener.
    pub async fn bind(config: ServerConfig) -> Result<Server, String> {
        let noauth = config.noauth_allowed()?;
        let store = SqlStore::connect(&config.database_url, &config.pool)
            .await
            .map_err(|e| {
                format!(
                    "cannot open database {}: {e}",
                    redact_url(&config.database_url)
                )
            })?;
        store.migrate().await.map_err(|e| {
            format!(
                "cannot migrate database {}: {e}",
                redact_url(&config.database_url)
            )
        })?;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
        if noauth && !config.bind.ip().is_loopback() {
            tracing::warn!(
                "requests without X-Auth-Token are served as admin on a non-loopback address (--noauth allow)"
            );
        }
        let state = Arc::new(AppState {
            registry: Registry::new(store.clone(), config.rules.clone(), config.limits),
            owner_is_tenant: config.owner_is_tenant,
            noauth,
            max_body_bytes: config.max_body_bytes,
        });
        Ok(Server {
            listener,
            store,
            app: router(state),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests and closes the pool.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Server {
            listener,
            store,
            app,
        } = self;
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await?;
        store.close().await;
        Ok(())
    }
}
