//! Prometheus: scrape any endpoint that speaks the Prometheus text format 0.0.4 or OpenMetrics 1.0
//! (node_exporter, jmx_exporter agents on brokers, kafka-lag-exporter, kminion, another
//! kafkascope's `/metrics`) and keep its series.
//!
//! - **Config** ([`config`]): `[[clusters.prometheus]]` tables, one per endpoint, with `name`,
//!   `url`, schedule, `labels`, `honor_labels`, `metric_allow`/`metric_deny`, basic auth or a
//!   bearer token read from files, `body_limit` (16 MiB), `series_limit` (50,000) and
//!   `tls_ca_file`. Without a config file, `kafkascope serve` tries node_exporter on
//!   `http://127.0.0.1:9100/metrics` as target `node` (down when absent).
//! - **Scraping** ([`scrape`]): Prometheus' own `Accept` header, gzip, every limit enforced while
//!   the body streams, the whole request bounded by the scrape timeout, at most 3 redirects, TLS
//!   through rustls. A failure is this target's error on `/targets` (and `up` = 0), saying what
//!   failed: `HTTP 404 Not Found from …`, `body larger than 16 MiB …`, `612,000 series, more than
//!   series_limit 50,000`, `not a Prometheus exposition (text 0.0.4): line 3: …`,
//!   `… invalid peer certificate: UnknownIssuer`, `no response within 10s …`.
//! - **Parsing** ([`parse`]): our own parser of both formats (no maintained, permissively licensed
//!   crate reads all of OpenMetrics: `prometheus-parse` misses OpenMetrics types, `_created`, UNIT
//!   and exemplars, `openmetrics-parser` is LGPL), property-tested.
//! - **Mapping** ([`convert`]): counters and the `_bucket`/`_count`/`_sum` of histograms and
//!   summaries are stored as counters, everything else as gauges; each family's type, help and
//!   unit (from `# UNIT`, else the naming conventions) go to the catalogue with every scrape.
//!
//! **Series and labels.** Every series of a target carries `job` (the target's `name`) and
//! `instance` (the URL's `host:port`), as Prometheus sets them, plus the target's `labels`, plus
//! `cluster` (added by the collector): `{cluster="prod",job="node-broker-1"}` selects all series
//! of one target, and `/targets` shows `job` and `instance` as the target's identity. Scraped
//! labels that clash are renamed `exported_<name>` unless `honor_labels` is set (then the scraped
//! value wins); a scraped `cluster` label always becomes `exported_cluster`. The collector's own
//! `up` and `scrape_duration_seconds` carry `cluster`, `source="prometheus"` and `target` (the URL).
//!
//! **Timestamps.** Samples are stamped with the collector's scrape time, like Prometheus with
//! `honor_timestamps: false`; timestamps in the exposition are parsed and checked but not used.
//! One time per scrape keeps a target's series aligned with its `up` and with every other
//! source's, which the store compresses well and the pages compare directly; exporters that
//! attach their own timestamps (federation, the Pushgateway) are rare among Kafka exporters.
//!
//! **Names.** The quoted UTF-8 names of Prometheus 3's text format are rewritten to classic names
//! (every other character becomes `_`, as Prometheus' `underscores` escaping) with a warning on
//! `/targets`; we never ask for UTF-8 names, so a compliant exporter escapes them itself.

pub mod catalogue;
pub mod config;
pub mod convert;
pub mod parse;
pub mod scrape;

use crate::model::Labels;
use crate::sources::{ScrapeOutput, Source, SourceError, SourceKind, TargetInfo};
use config::Auth;
use convert::{ConvertError, MapOptions};
use parse::Format;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The Prometheus source kind.
pub const KIND: SourceKind = SourceKind {
    key: "prometheus",
    title: "Prometheus endpoints",
    target_sources: &["prometheus"],
    catalogue: catalogue::CATALOGUE,
    events: &[],
    build: config::build,
    default_local: config::default_local,
};

/// Everything a target needs, validated by [`config::build`].
pub struct Settings {
    pub url: String,
    /// The URL's host, for the phase key.
    pub host: String,
    pub auth: Auth,
    pub body_limit: u64,
    /// CAs to trust instead of the system's (empty: the system's).
    pub ca: Vec<reqwest::Certificate>,
    pub map: MapOptions,
}

/// One scraped endpoint.
pub struct PrometheusSource {
    info: TargetInfo,
    url: String,
    client: reqwest::Client,
    auth: Auth,
    body_limit: u64,
    map: Arc<MapOptions>,
}

impl fmt::Debug for PrometheusSource {
    // Only paths of secret files are held, but say so explicitly rather than derive.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusSource")
            .field("info", &self.info)
            .field(
                "auth",
                &match &self.auth {
                    Auth::None => "none",
                    Auth::Basic { .. } => "basic (password from a file)",
                    Auth::Bearer { .. } => "bearer (token from a file)",
                },
            )
            .field("body_limit", &self.body_limit)
            .field("series_limit", &self.map.series_limit)
            .field("target_labels", &self.map.target_labels)
            .finish()
    }
}

impl PrometheusSource {
    pub fn new(s: Settings) -> Result<Self, String> {
        let client = scrape::client(s.ca)?;
        Ok(PrometheusSource {
            info: TargetInfo {
                source: "prometheus",
                target: crate::config::redact_url(&s.url),
                phase_key: s.host,
                identity: s.map.target_labels.clone(),
            },
            url: s.url,
            client,
            auth: s.auth,
            body_limit: s.body_limit,
            map: Arc::new(s.map),
        })
    }

    /// The labels every series of this target carries (`job`, `instance`, the configured ones).
    pub fn target_labels(&self) -> &Labels {
        &self.map.target_labels
    }

    async fn scrape_once(&self, timeout: Duration) -> Result<ScrapeOutput, String> {
        // A small margin so our own error, not the collector's cut, says what was slow.
        let margin = (timeout / 10).min(Duration::from_millis(200));
        let budget = timeout.saturating_sub(margin);
        let fetched =
            scrape::fetch(&self.client, &self.url, &self.auth, self.body_limit, budget).await?;
        let format = Format::from_content_type(fetched.content_type.as_deref())?;
        let shown_type = fetched
            .content_type
            .clone()
            .unwrap_or_else(|| "no Content-Type".into());
        let map = self.map.clone();
        // Parsing 16 MiB takes tens of milliseconds: off the async workers.
        let converted = tokio::task::spawn_blocking(move || {
            let text = std::str::from_utf8(&fetched.body).map_err(|e| {
                let line = fetched.body[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1;
                format!("not a Prometheus exposition ({shown_type}): line {line}: not UTF-8 text")
            })?;
            convert::convert(text, format, &map).map_err(|e| match e {
                ConvertError::Parse { .. } => format!("{e} (Content-Type {shown_type})"),
                ConvertError::SeriesLimit { .. } => e.to_string(),
            })
        })
        .await
        .map_err(|e| format!("the parser stopped: {e}"))??;
        // The standard `process_start_time_seconds` of client libraries and exporters dates a
        // return after a failure (the process restarted then).
        let up_since = converted
            .readings
            .iter()
            .find(|r| r.metric == "process_start_time_seconds")
            .map(|r| r.value)
            .filter(|v| v.is_finite() && *v > 0.0)
            .map(|v| (v * 1000.0) as i64);
        Ok(ScrapeOutput {
            readings: converted.readings,
            events: vec![],
            documents: vec![],
            warnings: converted.warnings,
            identity: self.map.target_labels.clone(),
            metadata: converted.metadata,
            up_since,
        })
    }
}

impl Source for PrometheusSource {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    async fn scrape(&mut self, timeout: Duration) -> Result<ScrapeOutput, SourceError> {
        self.scrape_once(timeout)
            .await
            .map_err(|m| SourceError(format!("{}: {m}", self.info.target)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn debug_output_names_the_auth_kind_and_nothing_secret() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "hunter2-secret\n").unwrap();
        let text = format!(
            "[[clusters]]\nname = \"a\"\n[[clusters.prometheus]]\nname = \"n\"\nurl = \"http://127.0.0.1:9/metrics\"\nusername = \"u\"\npassword_file = {:?}\n",
            pw.display().to_string()
        );
        let c = Config::parse(&text, "t.toml").unwrap();
        let plan = crate::sources::build_all(&c).unwrap();
        let t = &plan.targets[0];
        assert_eq!(t.source.target_info().target, "http://127.0.0.1:9/metrics");
        let s = PrometheusSource::new(Settings {
            url: "http://127.0.0.1:9/metrics".into(),
            host: "127.0.0.1".into(),
            auth: Auth::Basic {
                username: "u".into(),
                password_file: pw.clone(),
            },
            body_limit: 1 << 20,
            ca: vec![],
            map: MapOptions {
                target_labels: Labels::new().with("job", "n"),
                honor_labels: false,
                allow: None,
                deny: None,
                series_limit: 10,
            },
        })
        .unwrap();
        let dbg = format!("{s:?} {c:?}");
        assert!(dbg.contains("basic (password from a file)"), "{dbg}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }
}
