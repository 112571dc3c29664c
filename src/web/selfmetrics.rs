//! Self-observability: `/metrics` (Prometheus text) and `/healthz`, and the middleware that counts
//! requests and their latency per route.

use super::Ctx;
use crate::model::{escape_label_value, now_ms};
use crate::store::EventQuery;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Latency histogram bucket bounds, seconds.
const BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct RouteStats {
    /// Count per status code.
    by_status: BTreeMap<u16, u64>,
    /// Cumulative counts per bound (plus +Inf as the total).
    buckets: [u64; BOUNDS.len()],
    count: u64,
    sum_s: f64,
}

/// Request counts and latency per (route, method).
#[derive(Default)]
pub struct HttpMetrics {
    routes: Mutex<BTreeMap<(String, String), RouteStats>>,
}

impl HttpMetrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, took: Duration) {
        let mut map = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let s = map
            .entry((route.to_string(), method.to_string()))
            .or_default();
        *s.by_status.entry(status).or_default() += 1;
        let secs = took.as_secs_f64();
        for (i, b) in BOUNDS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
        s.count += 1;
        s.sum_s += secs;
    }

    fn write(&self, out: &mut String) {
        let map = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP kafkascope_http_requests_total HTTP requests answered, by route, method and status.\n");
        out.push_str("# TYPE kafkascope_http_requests_total counter\n");
        for ((route, method), s) in map.iter() {
            for (status, n) in &s.by_status {
                let _ = writeln!(
                    out,
                    "kafkascope_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                    esc(route),
                    esc(method)
                );
            }
        }
        out.push_str("# HELP kafkascope_http_request_duration_seconds Time to answer HTTP requests, by route and method.\n");
        out.push_str("# TYPE kafkascope_http_request_duration_seconds histogram\n");
        for ((route, method), s) in map.iter() {
            let l = format!("route=\"{}\",method=\"{}\"", esc(route), esc(method));
            for (i, b) in BOUNDS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "kafkascope_http_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "kafkascope_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "kafkascope_http_request_duration_seconds_sum{{{l}}} {}",
                s.sum_s
            );
            let _ = writeln!(
                out,
                "kafkascope_http_request_duration_seconds_count{{{l}}} {}",
                s.count
            );
        }
    }
}

fn esc(v: &str) -> String {
    let mut s = String::new();
    escape_label_value(v, &mut s);
    s
}

/// Middleware: times every request and records it under its route pattern (`/zookeeper/{cluster}`),
/// so URLs with arbitrary values do not create unbounded label sets.
pub(crate) async fn track(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    ctx.http
        .observe(&route, &method, resp.status().as_u16(), started.elapsed());
    resp
}

/// `GET /healthz`: 200 when the store answers a read within two seconds, else 503.
pub(crate) async fn healthz(State(ctx): State<Ctx>) -> Response {
    let now = now_ms();
    let q = EventQuery {
        start: now,
        end: now,
        limit: 1,
        ..Default::default()
    };
    let probe = ctx.store.events(&q);
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(_)) => {
            let series = ctx.store.stats().await.series;
            (
                StatusCode::OK,
                axum::Json(serde_json::json!({"status": "ok", "store": "ok", "series": series})),
            )
                .into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Health check: the store failed.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "error", "store": e.to_string()})),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "error", "store": "no answer within 2s"})),
        )
            .into_response(),
    }
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// `GET /metrics`: the server's own metrics in the Prometheus text format.
pub(crate) async fn metrics(State(ctx): State<Ctx>) -> Response {
    let stats = ctx.store.stats().await;
    let mut out = String::with_capacity(8192);
    metric(
        &mut out,
        "kafkascope_samples_ingested_total",
        "counter",
        "Samples accepted by the store.",
        stats.samples_ingested_total,
    );
    metric(
        &mut out,
        "kafkascope_samples_rejected_total",
        "counter",
        "Samples the store refused (too old, not finite).",
        stats.samples_rejected_total,
    );
    metric(
        &mut out,
        "kafkascope_series_active",
        "gauge",
        "Series known to the store.",
        stats.series,
    );
    metric(
        &mut out,
        "kafkascope_store_bytes",
        "gauge",
        "Database size on disk, including WAL and shared memory.",
        stats.bytes_on_disk,
    );
    metric(
        &mut out,
        "kafkascope_store_head_samples",
        "gauge",
        "Samples in the in-memory head, not yet compacted.",
        stats.head_samples,
    );
    metric(
        &mut out,
        "kafkascope_store_compactions_total",
        "counter",
        "Head compactions run.",
        stats.compactions_total,
    );
    metric(
        &mut out,
        "kafkascope_store_corrupt_chunks_total",
        "counter",
        "Chunks that failed to decode when read.",
        stats.corrupt_chunks_total,
    );
    metric(
        &mut out,
        "kafkascope_store_max_append_wait_seconds",
        "gauge",
        "Longest wait of an append for the writer.",
        stats.max_append_wait_ms / 1000.0,
    );

    let targets = ctx.targets.snapshot();
    let (mut up, mut down, mut unknown) = (0, 0, 0);
    for t in &targets {
        match t.up {
            Some(true) => up += 1,
            Some(false) => down += 1,
            None => unknown += 1,
        }
    }
    out.push_str("# HELP kafkascope_targets Scrape targets by state of their last scrape.\n# TYPE kafkascope_targets gauge\n");
    let _ = writeln!(
        out,
        "kafkascope_targets{{state=\"up\"}} {up}\nkafkascope_targets{{state=\"down\"}} {down}\nkafkascope_targets{{state=\"unknown\"}} {unknown}"
    );
    out.push_str("# HELP kafkascope_scrapes_total Scrapes attempted per target.\n# TYPE kafkascope_scrapes_total counter\n");
    for t in &targets {
        let _ = writeln!(
            out,
            "kafkascope_scrapes_total{{cluster=\"{}\",source=\"{}\",target=\"{}\"}} {}",
            esc(&t.cluster),
            esc(t.source),
            esc(&t.target),
            t.scrapes_total
        );
    }
    out.push_str("# HELP kafkascope_scrape_failures_total Failed scrapes per target.\n# TYPE kafkascope_scrape_failures_total counter\n");
    for t in &targets {
        let _ = writeln!(
            out,
            "kafkascope_scrape_failures_total{{cluster=\"{}\",source=\"{}\",target=\"{}\"}} {}",
            esc(&t.cluster),
            esc(t.source),
            esc(&t.target),
            t.failures_total
        );
    }
    ctx.http.write(&mut out);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
