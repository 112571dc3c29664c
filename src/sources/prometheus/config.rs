//! The `[[clusters.prometheus]]` section: one table per scraped endpoint.
//!
//! ```toml
//! [[clusters.prometheus]]
//! name = "node-broker-1"                      # unique in the cluster; the `job` label
//! url = "http://broker-1:9100/metrics"        # http or https; no user:password@ in it
//! interval = "15s"                            # optional, else the cluster's
//! timeout = "10s"                             # optional
//! labels = { host = "broker-1" }              # added to every series of this target
//! honor_labels = false                        # on a clash keep the target's labels (default)
//! metric_allow = ["node_(memory|filesystem)_.*"]  # anchored regexes on the sample name
//! metric_deny = ["node_scrape_collector_.*"]
//! username = "kafkascope"                     # basic auth, with
//! password_file = "/etc/kafkascope/node.pass" # the password read from a file at each scrape
//! # bearer_token_file = "/etc/kafkascope/token"  # or a bearer token, also read at each scrape
//! body_limit = "16MiB"                        # default 16 MiB (after gzip decompression)
//! series_limit = 50000                        # default 50,000
//! tls_ca_file = "/etc/kafkascope/ca.pem"      # https only: trust only these CAs
//! ```
//!
//! A single `[clusters.prometheus]` table is read as one target too. Secrets are never in the
//! file itself: only the paths of the files that hold them, read at every scrape (so a rotated
//! token is picked up) and kept in memory only for that request. `tls_ca_file` is read when the
//! config is built, so `check-config` says at once when it is missing or holds no certificate.

use super::{PrometheusSource, convert::MapOptions};
use crate::config::{ConfigError, Dur, check_http_url, redact_url};
use crate::model::Labels;
use crate::sources::{BuildContext, PlannedTarget, Sections};
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

/// Default `body_limit`: 16 MiB.
pub const DEFAULT_BODY_LIMIT: u64 = 16 << 20;
/// Default `series_limit`.
pub const DEFAULT_SERIES_LIMIT: usize = 50_000;

/// One `[[clusters.prometheus]]` table.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusTarget {
    /// Unique in the cluster; the `job` label of its series.
    pub name: String,
    pub url: String,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
    /// Added to every series; `job` and `instance` here replace the defaults.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub honor_labels: bool,
    #[serde(default)]
    pub metric_allow: Vec<String>,
    #[serde(default)]
    pub metric_deny: Vec<String>,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub bearer_token_file: Option<PathBuf>,
    pub body_limit: Option<ByteSize>,
    pub series_limit: Option<usize>,
    pub tls_ca_file: Option<PathBuf>,
}

/// A size in bytes: `16MiB`, `512KiB`, `1GiB`, `10MB`, or a plain number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => parse_size(&s)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `16MiB`, `512 KiB`, `1GB`, `4096`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let err =
        || format!("invalid size {text:?}: expected e.g. 16MiB, 512KiB, 1GiB or a number of bytes");
    let s = text.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..split].parse().map_err(|_| err())?;
    let mult: u64 = match s[split..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(err()),
    };
    n.checked_mul(mult).ok_or_else(err)
}

/// `16777216` → `16 MiB`, `1536` → `1.5 KiB`.
pub fn format_size(bytes: u64) -> String {
    for (unit, per) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= per {
            let v = bytes as f64 / per as f64;
            return if bytes.is_multiple_of(per) {
                format!("{} {unit}", bytes / per)
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{bytes} bytes")
}

/// How a target authenticates; only file paths, never the secrets themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic {
        username: String,
        password_file: PathBuf,
    },
    Bearer {
        token_file: PathBuf,
    },
}

fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()))
}

fn regex_set(
    ctx: &BuildContext<'_>,
    key: &str,
    patterns: &[String],
) -> Result<Option<regex::RegexSet>, ConfigError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    for (i, p) in patterns.iter().enumerate() {
        regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
            ctx.error(
                &format!("{key}[{i}]"),
                format!("not a regular expression: {}", one_line(&e.to_string())),
            )
        })?;
    }
    regex::RegexSet::new(patterns.iter().map(|p| format!("^(?:{p})$")))
        .map(Some)
        .map_err(|e| ctx.error(key, one_line(&e.to_string())))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads the cluster's `prometheus` key and returns one source per table.
pub(super) fn build(
    ctx: &BuildContext<'_>,
    sections: &mut Sections,
) -> Result<Vec<PlannedTarget>, ConfigError> {
    let Some(value) = sections.remove("prometheus") else {
        return Ok(vec![]);
    };
    let tables: Vec<(String, toml::Value)> = match value {
        toml::Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("prometheus[{i}]"), v))
            .collect(),
        v @ toml::Value::Table(_) => vec![("prometheus".to_string(), v)],
        _ => {
            return Err(ctx.error(
                "prometheus",
                "must be tables: [[clusters.prometheus]] with name and url",
            ));
        }
    };
    let mut names = HashSet::new();
    let mut urls = HashSet::new();
    let mut identities = HashSet::new();
    let mut out = Vec::new();
    for (key, value) in tables {
        let t: PrometheusTarget = ctx.origin.section(&format!("{}.{key}", ctx.path), &value)?;
        let k = |field: &str| format!("{key}.{field}");
        if t.name.is_empty()
            || !t
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ctx.error(
                &k("name"),
                format!(
                    "{:?} must be non-empty letters, digits, '-', '_' or '.'",
                    t.name
                ),
            ));
        }
        if !names.insert(t.name.clone()) {
            return Err(ctx.error(
                &k("name"),
                format!(
                    "{:?} is used by an earlier prometheus target of this cluster",
                    t.name
                ),
            ));
        }
        let url = t.url.trim();
        check_http_url(url).map_err(|m| ctx.error(&k("url"), m))?;
        if !urls.insert(url.to_string()) {
            // `up` and the targets page know a target by cluster and URL.
            return Err(ctx.error(
                &k("url"),
                format!(
                    "{:?} is already scraped by an earlier prometheus target of this cluster",
                    redact_url(url)
                ),
            ));
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            ctx.error(
                &k("url"),
                format!("{:?} is not a URL: {e}", redact_url(url)),
            )
        })?;
        let host = parsed
            .host_str()
            .ok_or_else(|| ctx.error(&k("url"), "the URL has no host"))?
            .to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let mut target_labels = Labels::new()
            .with("job", t.name.as_str())
            .with("instance", format!("{host}:{port}"));
        for (name, value) in &t.labels {
            if !is_label_name(name) || name.starts_with("__") {
                return Err(ctx.error(
                    &k("labels"),
                    format!("{name:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"),
                ));
            }
            if name == "cluster" {
                return Err(ctx.error(
                    &k("labels"),
                    "`cluster` is set by kafkascope from the cluster's name",
                ));
            }
            if value.is_empty() {
                return Err(ctx.error(
                    &k("labels"),
                    format!("label {name:?} has an empty value (an empty label is an absent one)"),
                ));
            }
            target_labels.insert(name.as_str(), value.as_str());
        }
        let identity = (
            target_labels.get("job").unwrap_or("").to_string(),
            target_labels.get("instance").unwrap_or("").to_string(),
        );
        if !identities.insert(identity.clone()) {
            return Err(ctx.error(
                &k("labels"),
                format!(
                    "job={:?} instance={:?} is already another target's in this cluster; their series would mix",
                    identity.0, identity.1
                ),
            ));
        }
        let auth = match (&t.username, &t.password_file, &t.bearer_token_file) {
            (None, None, None) => Auth::None,
            (Some(u), Some(p), None) => Auth::Basic {
                username: u.clone(),
                password_file: p.clone(),
            },
            (None, None, Some(f)) => Auth::Bearer {
                token_file: f.clone(),
            },
            (Some(_), None, None) => {
                return Err(ctx.error(
                    &k("username"),
                    "needs password_file (the password is read from a file, never written in the config)",
                ));
            }
            (None, Some(_), None) => {
                return Err(ctx.error(&k("password_file"), "needs username"));
            }
            _ => {
                return Err(ctx.error(
                    &k("bearer_token_file"),
                    "use either username and password_file or bearer_token_file, not both",
                ));
            }
        };
        let allow = regex_set(ctx, &k("metric_allow"), &t.metric_allow)?;
        let deny = regex_set(ctx, &k("metric_deny"), &t.metric_deny)?;
        let body_limit = t.body_limit.map(|b| b.0).unwrap_or(DEFAULT_BODY_LIMIT);
        if body_limit < 1024 {
            return Err(ctx.error(&k("body_limit"), "must be at least 1KiB"));
        }
        let series_limit = t.series_limit.unwrap_or(DEFAULT_SERIES_LIMIT);
        if series_limit == 0 {
            return Err(ctx.error(&k("series_limit"), "must be at least 1"));
        }
        let (interval, timeout) = ctx.schedule(t.interval.map(|d| d.0), t.timeout.map(|d| d.0));
        if interval < Duration::from_secs(1) {
            return Err(ctx.error(&k("interval"), "must be at least 1s"));
        }
        if timeout > interval {
            return Err(ctx.error(
                &k("timeout"),
                "must not be longer than the interval (scrapes of one target never overlap)",
            ));
        }
        let mut ca = Vec::new();
        if let Some(path) = &t.tls_ca_file {
            if parsed.scheme() != "https" {
                return Err(ctx.error(&k("tls_ca_file"), "is only used with an https:// url"));
            }
            let pem = std::fs::read(path).map_err(|e| {
                ctx.error(
                    &k("tls_ca_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            ca = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    ctx.error(
                        &k("tls_ca_file"),
                        format!("{} holds no PEM certificate", path.display()),
                    )
                })?;
        }
        let source = PrometheusSource::new(super::Settings {
            url: url.to_string(),
            host,
            auth,
            body_limit,
            ca,
            map: MapOptions {
                target_labels,
                honor_labels: t.honor_labels,
                allow,
                deny,
                series_limit,
            },
        })
        .map_err(|m| ctx.error(&key, m))?;
        out.push(PlannedTarget {
            cluster: ctx.cluster.name.clone(),
            source: Box::new(source),
            interval,
            timeout,
        });
    }
    Ok(out)
}

/// node_exporter on this machine, shown as down when it is not running.
pub(super) fn default_local() -> Option<toml::Value> {
    let mut t = toml::Table::new();
    t.insert("name".into(), toml::Value::String("node".into()));
    t.insert(
        "url".into(),
        toml::Value::String("http://127.0.0.1:9100/metrics".into()),
    );
    Some(toml::Value::Array(vec![toml::Value::Table(t)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::sources::build_all;

    fn plan(text: &str) -> Result<Vec<PlannedTarget>, String> {
        let c = Config::parse(text, "t.toml").map_err(|e| e.to_string())?;
        build_all(&c).map(|p| p.targets).map_err(|e| e.to_string())
    }

    const HEAD: &str = "[[clusters]]\nname = \"lab\"\n";

    #[test]
    fn a_minimal_target_gets_job_instance_and_defaults() {
        let p = plan(&format!(
            "{HEAD}[[clusters.prometheus]]\nname = \"node\"\nurl = \"http://127.0.0.1:9100/metrics\"\n"
        ))
        .unwrap();
        assert_eq!(p.len(), 1);
        let info = p[0].source.target_info();
        assert_eq!(info.source, "prometheus");
        assert_eq!(info.target, "http://127.0.0.1:9100/metrics");
        assert_eq!(info.phase_key, "127.0.0.1");
        assert_eq!(p[0].interval, Duration::from_secs(15));
        assert_eq!(p[0].timeout, Duration::from_secs(10));
    }

    #[test]
    fn a_single_table_is_one_target() {
        let p = plan(&format!(
            "{HEAD}[clusters.prometheus]\nname = \"node\"\nurl = \"https://h:9100/metrics\"\ninterval = \"30s\"\n"
        ))
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].interval, Duration::from_secs(30));
        assert_eq!(p[0].timeout, Duration::from_secs(10));
    }

    #[test]
    fn errors_name_key_and_line() {
        let two = |a: &str, b: &str| {
            format!(
                "{HEAD}[[clusters.prometheus]]\nname = \"a\"\nurl = \"http://h:1/metrics\"\n{a}\n[[clusters.prometheus]]\nname = \"b\"\nurl = \"http://h:2/metrics\"\n{b}\n"
            )
        };
        let cases: &[(String, &str, &str)] = &[
            (two("", "url2 = 1"), "clusters[0].prometheus[1]", "url2"),
            (
                two("", "interval = \"5x\""),
                "clusters[0].prometheus[1].interval",
                "line 10",
            ),
            (
                two("", "timeout = \"20s\"\ninterval = \"5s\""),
                "clusters[0].prometheus[1].timeout",
                "line 10",
            ),
            (
                two("metric_deny = [\"ok\", \"(\"]", ""),
                "clusters[0].prometheus[0].metric_deny[1]",
                "line 6",
            ),
            (
                two("username = \"u\"", ""),
                "clusters[0].prometheus[0].username",
                "password_file",
            ),
            (
                two(
                    "",
                    "bearer_token_file = \"/t\"\nusername = \"u\"\npassword_file = \"/p\"",
                ),
                "clusters[0].prometheus[1].bearer_token_file",
                "not both",
            ),
            (
                two("labels = { cluster = \"x\" }", ""),
                "clusters[0].prometheus[0].labels",
                "line 6",
            ),
            (
                two("labels = { \"a.b\" = \"x\" }", ""),
                "clusters[0].prometheus[0].labels",
                "not a label name",
            ),
            (
                two("series_limit = 0", ""),
                "clusters[0].prometheus[0].series_limit",
                "line 6",
            ),
            (
                two("body_limit = \"16 parsecs\"", ""),
                "clusters[0].prometheus[0].body_limit",
                "invalid size",
            ),
            (
                two("tls_ca_file = \"/x.pem\"", ""),
                "clusters[0].prometheus[0].tls_ca_file",
                "https",
            ),
            (
                two("", "").replace("name = \"b\"", "name = \"a\""),
                "clusters[0].prometheus[1].name",
                "line 8",
            ),
            (
                two("", "labels = { job = \"a\", instance = \"h:1\" }"),
                "clusters[0].prometheus[1].labels",
                "their series would mix",
            ),
            (
                two("", "").replace("http://h:2/metrics", "http://h:1/metrics"),
                "clusters[0].prometheus[1].url",
                "already scraped",
            ),
            (
                two("", "").replace("http://h:2/metrics", "http://u:hunter2@h:2/metrics"),
                "clusters[0].prometheus[1].url",
                "***@h:2",
            ),
        ];
        for (text, key, needle) in cases {
            let e = plan(text)
                .err()
                .unwrap_or_else(|| panic!("accepted:\n{text}"));
            assert!(e.contains(key) && e.contains(needle), "{e}\n---\n{text}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn the_ca_file_is_checked_when_the_config_is_built() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "not a certificate").unwrap();
        let text = |p: &std::path::Path| {
            format!(
                "{HEAD}[[clusters.prometheus]]\nname = \"a\"\nurl = \"https://h:1/metrics\"\ntls_ca_file = {:?}\n",
                p.display().to_string()
            )
        };
        let e = plan(&text(&bad)).err().unwrap();
        assert!(
            e.contains("tls_ca_file") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = plan(&text(&dir.path().join("missing.pem"))).err().unwrap();
        assert!(
            e.contains("tls_ca_file") && e.contains("cannot read"),
            "{e}"
        );
    }

    #[test]
    fn sizes_parse_and_format() {
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("512 KiB").unwrap(), 512 << 10);
        assert_eq!(parse_size("10MB").unwrap(), 10_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("MiB").is_err() && parse_size("1TiB").is_err());
        assert_eq!(format_size(16 << 20), "16 MiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(100), "100 bytes");
    }

    #[test]
    fn the_local_default_is_node_exporter() {
        let c = crate::sources::default_local_config();
        let targets = build_all(&c).unwrap().targets;
        assert!(
            targets
                .iter()
                .any(|t| t.source.target_info().target == "http://127.0.0.1:9100/metrics"),
        );
    }
}
