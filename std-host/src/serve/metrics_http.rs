//! `--metrics ADDR`: `GET /metrics` in the OpenMetrics text format, which
//! Prometheus scrapes (`scrape_configs: - targets: ["HOST:PORT"]`).
//! Anything else is 404; the server stops with `wirekit serve`. Served by
//! the runtime's HTTP driver (`crate::runtime::http`: header timeout and
//! connection limits).

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// The media type of the OpenMetrics text format.
pub const CONTENT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The routes of the metrics endpoint.
pub fn router(metrics: Metrics) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let text = metrics.render();
            async move { ([(CONTENT_TYPE, CONTENT)], text) }
        }),
    )
}

/// Serves `router(metrics)` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    crate::runtime::http::serve(listener, router(metrics), shutdown).await
}
