//! The web layer: server-rendered pages with inline SVG charts, the Prometheus-shaped JSON API,
//! `/healthz` and `/metrics`.
//!
//! Layout (after docs.rs): all routes in [`routes`], one small handler module per page under
//! [`pages`], one template struct per page (`templates/<page>.html`), one HTTP error enum
//! ([`error::WebError`]). Chart geometry is pure ([`chart`], and [`strip`] for state series);
//! the templates only place it. Every chart's bucket width comes from one place ([`steps`]): a
//! nice step (30s, 10m, 1h …) never finer than the scrape interval or the tier retention keeps.

pub mod api;
pub mod assets;
mod base_path;
mod burrow;
pub mod chart;
pub mod context;
pub mod error;
mod etag;
pub mod export;
pub mod extract;
pub mod format;
pub mod page;
pub(crate) mod pages;
/// Loads the MBean explorer's tracked attributes into the JMX source (at start-up).
pub use pages::explore::restore_tracked;
pub(crate) mod panels;
pub(crate) mod planner;
mod routes;
pub mod selfmetrics;
pub(crate) mod sources;
pub mod steps;
pub mod strip;
pub mod timerange;

use crate::config::Config;
use crate::store::Store;
use crate::targets::TargetRegistry;
use std::future::Future;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub targets: TargetRegistry,
    pub config: Arc<Config>,
    /// Type, unit and help of every metric (see [`crate::catalogue`]).
    pub catalogue: crate::catalogue::Catalogue,
}

/// The state the router's handlers get: the app state plus the web layer's own request metrics.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub app: AppState,
    pub http: Arc<selfmetrics::HttpMetrics>,
    /// What pages know of the stored data (see [`context`]).
    pub data_context: Arc<context::ContextCache>,
}

impl std::ops::Deref for Ctx {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.app
    }
}

impl AppState {
    /// How to show a series' values: its unit from the catalogue, as a rate when it is a counter.
    pub fn format_of(&self, info: &crate::store::SeriesInfo) -> format::ValueFormat {
        format::ValueFormat::new(self.catalogue.unit(&info.key.metric), info.kind)
    }
}

/// Every page, the API, `/static`, `/healthz` and `/metrics`, with tracing, compression, a
/// timeout, panic catching, a request body limit and security headers.
pub fn router(state: AppState) -> axum::Router {
    routes::build(Ctx {
        app: state,
        http: Arc::new(selfmetrics::HttpMetrics::default()),
        data_context: Arc::default(),
    })
}

/// Serves [`router`] on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "Serving pages and API.");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
