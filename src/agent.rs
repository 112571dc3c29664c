//! `kafkascope agent`: the host source on a broker host, served as Prometheus text on `/metrics`
//! for a central kafkascope (or Prometheus) to scrape. Read-only, no database: each scrape reads
//! `/proc` once, as node_exporter does, so the agent holds nothing but the reader's small state.
//!
//! The series are the host source's (node_exporter's names, see `sources::host::node`), without
//! `job`/`instance`: the scraper adds those, which makes an agent-scraped host and the central
//! server's own host look alike on the host pages.

use crate::catalogue::{Catalogue, MetricType};
use crate::model::{MetricKind, Reading, escape_label_value};
use crate::query::functions::format_go_float;
use crate::sources::host::{HostReader, config::HostConfig};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone)]
struct AgentState {
    reader: Arc<Mutex<HostReader>>,
    catalogue: Arc<Catalogue>,
}

/// The agent's routes: `/metrics` and a one-line `/`.
pub fn router(config: HostConfig) -> Router {
    let state = AgentState {
        reader: Arc::new(Mutex::new(HostReader::new(config))),
        catalogue: Arc::new(crate::sources::catalogue()),
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/", get(index))
        .with_state(state)
}

async fn index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "kafkascope agent: host metrics (node_exporter names, page cache, Kafka log dirs) at /metrics\n",
    )
        .into_response()
}

async fn metrics(State(state): State<AgentState>) -> Response {
    let reader = state.reader.clone();
    let started = Instant::now();
    let read = tokio::task::spawn_blocking(move || {
        let mut r = reader.lock().unwrap_or_else(|p| p.into_inner());
        r.read()
    })
    .await;
    let read = match read {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("host read failed: {e}\n"),
            )
                .into_response();
        }
    };
    let mut body = exposition(&read.readings, &state.catalogue);
    let _ = writeln!(
        body,
        "# HELP kafkascope_agent_read_seconds Time the agent took to read the host for this scrape.\n# TYPE kafkascope_agent_read_seconds gauge\nkafkascope_agent_read_seconds {}",
        format_go_float(started.elapsed().as_secs_f64())
    );
    let _ = writeln!(
        body,
        "# HELP kafkascope_agent_read_problems Parts of the host that could not be read in this scrape.\n# TYPE kafkascope_agent_read_problems gauge\nkafkascope_agent_read_problems {}",
        read.warnings.len()
    );
    for w in &read.warnings {
        tracing::warn!("{w}");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Readings as the Prometheus text format 0.0.4, one family after another, with HELP and TYPE.
/// node_exporter exposes `/proc/vmstat` fields as untyped; so do we, so both read the same.
pub fn exposition(readings: &[Reading], catalogue: &Catalogue) -> String {
    let mut order: Vec<&Reading> = readings.iter().collect();
    // Stable by name, so each family's samples are contiguous, as the format requires.
    order.sort_by(|a, b| a.metric.cmp(&b.metric));
    let mut out = String::with_capacity(readings.len() * 64);
    let mut last: Option<&str> = None;
    for r in order {
        if last != Some(r.metric.as_str()) {
            let help = catalogue
                .get(&r.metric)
                .map(|m| m.help)
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| r.metric.clone());
            let kind = if r.metric.starts_with("node_vmstat_") {
                "untyped"
            } else {
                match r.kind {
                    MetricKind::Counter => "counter",
                    _ => match catalogue.get(&r.metric).map(|m| m.kind) {
                        Some(MetricType::Counter) => "counter",
                        _ => "gauge",
                    },
                }
            };
            let _ = writeln!(out, "# HELP {} {}", r.metric, escape_help(&help));
            let _ = writeln!(out, "# TYPE {} {kind}", r.metric);
            last = Some(r.metric.as_str());
        }
        out.push_str(&r.metric);
        let mut labels = r.labels.iter().peekable();
        if labels.peek().is_some() {
            out.push('{');
            for (i, (k, v)) in labels.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{k}=\"");
                escape_label_value(v, &mut out);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        out.push_str(&format_go_float(r.value));
        out.push('\n');
    }
    out
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Runs the agent until Ctrl-C or SIGTERM.
pub async fn run(listen: std::net::SocketAddr, config: HostConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr()?;
    tracing::info!("kafkascope agent serving host metrics on http://{local}/metrics");
    // Tests and scripts read the port from this line when started on port 0.
    println!("kafkascope agent listening on {local}");
    axum::serve(listener, router(config))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::prometheus::parse::{Format, Line, Parser};

    #[test]
    fn the_exposition_reads_back_with_our_own_parser_and_keeps_types() {
        let readings = vec![
            Reading::counter("node_cpu_seconds_total", 12.5)
                .label("cpu", "0")
                .label("mode", "idle"),
            Reading::gauge("node_vmstat_pgmajfault", 3.0),
            Reading::gauge("node_memory_Cached_bytes", 1024.0),
            Reading::counter("node_cpu_seconds_total", 1.0)
                .label("cpu", "1")
                .label("mode", "user"),
            Reading::gauge("kafkascope_log_dir_info", 1.0).label("log_dir", "/data/\"x\"\n"),
        ];
        let text = exposition(&readings, &crate::sources::catalogue());
        assert!(
            text.contains("# TYPE node_vmstat_pgmajfault untyped\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE node_cpu_seconds_total counter\n"),
            "{text}"
        );
        let samples: Vec<_> = Parser::new(&text, Format::Text)
            .map(|l| l.expect(&text))
            .filter_map(|l| match l {
                Line::Sample(s) => Some((s.name.to_string(), s.value)),
                _ => None,
            })
            .collect();
        assert_eq!(samples.len(), readings.len(), "{text}");
        assert!(samples.contains(&("node_cpu_seconds_total".to_string(), 12.5)));
    }
}
