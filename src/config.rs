//! Typed configuration (`kafkascope.toml`): defaults that serve, validation errors that name the key.
//!
//! Parsing goes through `serde_path_to_error`, so a wrong type or an unknown key is reported with its
//! full path (`clusters[0].interval`) and toml's line and column; checks that need more than one
//! value (duplicate names, timeout longer than interval) run afterwards and locate their key's line
//! in the file text themselves.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The annotated example configuration, also printed by `kafkascope example-config`.
pub const EXAMPLE: &str = include_str!("../kafkascope.example.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {key}: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
}

impl ConfigError {
    fn invalid(file: &str, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            file: file.to_string(),
            key: key.into(),
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub collector: CollectorConfig,
    #[serde(default)]
    pub clusters: Vec<ClusterConfig>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the web server binds to. Loopback by default: exposing it is a deliberate choice.
    pub listen: String,
    /// SQLite database file, relative to the working directory.
    pub database: PathBuf,
    /// Token required by write endpoints (annotations). Without it they are disabled.
    pub write_token: Option<Secret>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database: PathBuf::from("kafkascope.db"),
            write_token: None,
        }
    }
}

impl ServerConfig {
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.listen.parse().map_err(|e| {
            format!(
                "{:?} is not an address like 127.0.0.1:8080 ({e})",
                self.listen
            )
        })
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub retention: RetentionConfig,
}

/// How long each storage tier keeps data: a duration such as `8d`, or `forever`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    pub raw: Keep,
    #[serde(rename = "1m")]
    pub m1: Keep,
    #[serde(rename = "5m")]
    pub m5: Keep,
    #[serde(rename = "1h")]
    pub h1: Keep,
    #[serde(rename = "1d")]
    pub d1: Keep,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let days = |d: u64| Keep(Some(Duration::from_secs(d * 86_400)));
        Self {
            raw: days(8),
            m1: days(35),
            m5: days(90),
            h1: days(400),
            d1: Keep(None),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    /// Scrape interval of every target unless its cluster sets one.
    pub interval: Dur,
    /// Per-scrape timeout; defaults to 80% of the interval, at most 10 s.
    pub timeout: Option<Dur>,
    /// Longest pause between attempts while a target keeps failing.
    pub max_backoff: Dur,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            interval: Dur(Duration::from_secs(15)),
            timeout: None,
            max_backoff: Dur(Duration::from_secs(300)),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub name: String,
    /// ZooKeeper servers' client ports (`host:port`), read with four-letter words.
    #[serde(default)]
    pub zookeeper: Vec<String>,
    /// ZooKeeper AdminServer base URLs (`http://host:port`).
    #[serde(default)]
    pub zookeeper_admin: Vec<String>,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
}

impl ClusterConfig {
    pub fn interval(&self, collector: &CollectorConfig) -> Duration {
        self.interval.unwrap_or(collector.interval).0
    }

    pub fn timeout(&self, collector: &CollectorConfig) -> Duration {
        let interval = self.interval(collector);
        self.timeout
            .or(collector.timeout)
            .map(|d| d.0)
            .unwrap_or_else(|| (interval.mul_f64(0.8)).min(Duration::from_secs(10)))
    }
}

/// A secret string: never printed, logged or rendered.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A duration written as `15s`, `5m`, `7d`, `500ms`, `1h30m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

/// A retention: a duration, or `forever` (None).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keep(pub Option<Duration>);

impl<'de> Deserialize<'de> for Keep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim() == "forever" {
            return Ok(Keep(None));
        }
        let dur = parse_duration(&text)
            .map_err(|e| serde::de::Error::custom(format!("{e}, or \"forever\"")))?;
        if dur.is_zero() {
            return Err(serde::de::Error::custom(
                "a retention of zero would keep nothing; use \"forever\" or a duration",
            ));
        }
        Ok(Keep(Some(dur)))
    }
}

/// The crate's one duration parser and formatter (see [`crate::duration`]).
pub use crate::duration::{format_duration, parse_duration};

impl Config {
    /// The configuration `kafkascope serve` runs without a file: a SQLite file in the working
    /// directory, 127.0.0.1:8080, and every source's usual local port tried (shown as down when absent).
    pub fn default_local() -> Self {
        Config {
            server: ServerConfig::default(),
            storage: StorageConfig::default(),
            collector: CollectorConfig::default(),
            clusters: vec![ClusterConfig {
                name: "local".into(),
                zookeeper: vec!["127.0.0.1:2181".into()],
                // The AdminServer's usual port, 8080, is also ours: it is only tried when configured.
                zookeeper_admin: vec![],
                interval: None,
                timeout: None,
            }],
        }
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates config text; `file` names it in error messages.
    pub fn parse(text: &str, file: &str) -> Result<Self, ConfigError> {
        let de = toml::de::Deserializer::parse(text)
            .map_err(|e| ConfigError::invalid(file, "(syntax)", one_line(&e.to_string())))?;
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.span().map(|s| line_of_offset(text, s.start));
            let message = match line {
                Some(l) => format!("{} (line {l})", inner.message()),
                None => inner.message().to_string(),
            };
            ConfigError::invalid(
                file,
                if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                message,
            )
        })?;
        config.validate(text, file)?;
        Ok(config)
    }

    fn validate(&self, text: &str, file: &str) -> Result<(), ConfigError> {
        let fail = |key: String, message: String| {
            let message = match find_key_line(text, &key) {
                Some(l) => format!("{message} (line {l})"),
                None => message,
            };
            Err(ConfigError::invalid(file, key, message))
        };
        if let Err(m) = self.server.listen_addr() {
            return fail("server.listen".into(), m);
        }
        if self.server.database.as_os_str().is_empty() {
            return fail("server.database".into(), "must name a file".into());
        }
        if let Some(t) = &self.server.write_token
            && t.expose().len() < 16
        {
            return fail(
                "server.write_token".into(),
                "must be at least 16 characters".into(),
            );
        }
        if self.collector.interval.0 < Duration::from_secs(1) {
            return fail("collector.interval".into(), "must be at least 1s".into());
        }
        let mut names = std::collections::HashSet::new();
        for (i, c) in self.clusters.iter().enumerate() {
            let key = |k: &str| format!("clusters[{i}].{k}");
            if c.name.is_empty()
                || !c
                    .name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
            {
                return fail(
                    key("name"),
                    format!(
                        "{:?} must be non-empty letters, digits, '-', '_' or '.'",
                        c.name
                    ),
                );
            }
            if !names.insert(c.name.as_str()) {
                return fail(
                    key("name"),
                    format!("{:?} is used by an earlier cluster", c.name),
                );
            }
            let interval = c.interval(&self.collector);
            if interval < Duration::from_secs(1) {
                return fail(key("interval"), "must be at least 1s".into());
            }
            if c.timeout(&self.collector) > interval {
                return fail(
                    key("timeout"),
                    "must not be longer than the interval (scrapes of one target never overlap)"
                        .into(),
                );
            }
            for (j, addr) in c.zookeeper.iter().enumerate() {
                if let Err(m) = check_host_port(addr) {
                    return fail(format!("clusters[{i}].zookeeper[{j}]"), m);
                }
            }
            for (j, url) in c.zookeeper_admin.iter().enumerate() {
                if let Err(m) = check_http_url(url) {
                    return fail(format!("clusters[{i}].zookeeper_admin[{j}]"), m);
                }
            }
        }
        Ok(())
    }
}

/// `host:port` with a numeric port (IPv6 as `[::1]:2181`).
pub fn check_host_port(addr: &str) -> Result<(), String> {
    let bad = || format!("{addr:?} is not host:port (e.g. 127.0.0.1:2181)");
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || host.contains('/') || port.parse::<u16>().map(|p| p == 0).unwrap_or(true)
    {
        return Err(bad());
    }
    Ok(())
}

fn check_http_url(url: &str) -> Result<(), String> {
    let rest = match url.strip_prefix("http://") {
        Some(r) => r,
        None if url.starts_with("https://") => {
            return Err(format!(
                "{url:?}: https is not supported by this build; use the AdminServer's plain http port"
            ));
        }
        None => {
            return Err(format!(
                "{url:?} is not an http:// URL (e.g. http://127.0.0.1:8080)"
            ));
        }
    };
    let authority = rest.split('/').next().unwrap_or("");
    check_host_port(authority)
        .map_err(|_| format!("{url:?} needs host:port after http:// (e.g. http://127.0.0.1:8080)"))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Finds the line of a dotted key path such as `clusters[1].zookeeper[0]` or `server.listen`,
/// by walking table headers; good enough for error messages, never used for parsing.
fn find_key_line(text: &str, path: &str) -> Option<usize> {
    // Split "clusters[1].zookeeper[0]" into table part and key part.
    let (table, index, key) = match path.split_once('.') {
        Some((head, tail)) => {
            let (t, i) = match head.split_once('[') {
                Some((t, i)) => (t, i.trim_end_matches(']').parse::<usize>().ok()),
                None => (head, None),
            };
            (
                t,
                i,
                tail.split('[')
                    .next()
                    .unwrap_or(tail)
                    .split('.')
                    .next()
                    .unwrap_or(tail),
            )
        }
        None => ("", None, path),
    };
    let mut seen = 0usize;
    let mut in_table = table.is_empty();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            let name = line.trim_matches(|c| c == '[' || c == ']').trim();
            in_table = false;
            if name == table {
                match index {
                    Some(i) => {
                        in_table = seen == i;
                        seen += 1;
                    }
                    None => in_table = true,
                }
            }
            continue;
        }
        if in_table
            && let Some((k, _)) = line.split_once('=')
            && k.trim().trim_matches('"') == key
        {
            return Some(n + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_the_usual_units() {
        assert_eq!(parse_duration("15s").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(format_duration(Duration::from_secs(7 * 86_400)), "1w");
        assert_eq!(format_duration(Duration::from_secs(15)), "15s");
        for bad in ["", "15", "15x", "s", "1.5s", "-3s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn the_issue_example_config_parses() {
        let text = r#"
[server]
listen = "127.0.0.1:8080"
database = "kafkascope.db"

[[clusters]]
name = "lab"
zookeeper = ["127.0.0.1:2181", "127.0.0.1:2182"]        # four-letter words
zookeeper_admin = ["http://127.0.0.1:8080"]            # AdminServer, optional
interval = "15s"
"#;
        let c = Config::parse(text, "t.toml").unwrap();
        assert_eq!(c.clusters[0].zookeeper.len(), 2);
        assert_eq!(
            c.clusters[0].interval(&c.collector),
            Duration::from_secs(15)
        );
        assert_eq!(c.clusters[0].timeout(&c.collector), Duration::from_secs(10));
        assert_eq!(
            c.storage.retention.raw.0,
            Some(Duration::from_secs(8 * 86_400))
        );
        assert_eq!(c.storage.retention.d1.0, None);
    }

    #[test]
    fn the_shipped_example_is_valid() {
        Config::parse(EXAMPLE, "kafkascope.example.toml").unwrap();
    }

    fn error_of(text: &str) -> String {
        Config::parse(text, "bad.toml").unwrap_err().to_string()
    }

    #[test]
    fn a_bad_duration_names_its_key_and_line() {
        let e = error_of("[[clusters]]\nname = \"lab\"\ninterval = \"15x\"\n");
        assert!(e.contains("clusters[0].interval"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("15x"), "{e}");
    }

    #[test]
    fn an_unknown_key_is_named() {
        let e = error_of("[server]\nlisten = \"127.0.0.1:1\"\ndatabse = \"x.db\"\n");
        assert!(e.contains("databse"), "{e}");
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn semantic_errors_name_key_and_line() {
        let e = error_of(
            "[[clusters]]\nname = \"a\"\n\n[[clusters]]\nname = \"b\"\nzookeeper = [\"127.0.0.1\"]\n",
        );
        assert!(e.contains("clusters[1].zookeeper[0]"), "{e}");
        assert!(e.contains("line 6"), "{e}");
        let e = error_of("[[clusters]]\nname = \"a\"\n[[clusters]]\nname = \"a\"\n");
        assert!(
            e.contains("clusters[1].name") && e.contains("line 4"),
            "{e}"
        );
        let e = error_of("[server]\nlisten = \"localhost\"\n");
        assert!(e.contains("server.listen") && e.contains("line 2"), "{e}");
        let e = error_of("[[clusters]]\nname = \"a\"\ninterval = \"5s\"\ntimeout = \"6s\"\n");
        assert!(
            e.contains("clusters[0].timeout") && e.contains("line 4"),
            "{e}"
        );
        let e = error_of("[[clusters]]\nname = \"a\"\nzookeeper_admin = [\"https://x:1\"]\n");
        assert!(e.contains("https is not supported"), "{e}");
    }

    #[test]
    fn syntax_errors_report_the_line() {
        let e = error_of("[server\nlisten = 1\n");
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = Config::parse(
            "[server]\nwrite_token = \"correct-horse-battery-staple\"\n",
            "t",
        )
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("correct-horse"), "{dbg}");
        assert_eq!(
            c.server.write_token.unwrap().expose(),
            "correct-horse-battery-staple"
        );
    }

    #[test]
    fn retention_accepts_forever_and_refuses_zero() {
        let c =
            Config::parse("[storage.retention]\nraw = \"2d\"\n1h = \"forever\"\n", "t").unwrap();
        assert_eq!(
            c.storage.retention.raw.0,
            Some(Duration::from_secs(2 * 86_400))
        );
        assert_eq!(c.storage.retention.h1.0, None);
        assert_eq!(
            c.storage.retention.m1.0,
            Some(Duration::from_secs(35 * 86_400)),
            "unset tiers keep defaults"
        );
        let e = error_of("[storage.retention]\nraw = \"0s\"\n");
        assert!(e.contains("storage.retention.raw"), "{e}");
    }

    #[test]
    fn default_local_config_tries_local_zookeeper() {
        let c = Config::default_local();
        assert_eq!(
            c.server.listen_addr().unwrap().to_string(),
            "127.0.0.1:8080"
        );
        assert_eq!(c.clusters[0].zookeeper, vec!["127.0.0.1:2181".to_string()]);
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(256))]

        #[test]
        fn duration_parser_never_panics(text in "\\PC{0,24}") {
            let _ = parse_duration(&text);
        }

        #[test]
        fn formatted_durations_parse_back(ms in 1u64..10_000_000_000u64) {
            let d = Duration::from_millis(ms);
            proptest::prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }

        #[test]
        fn config_parser_never_panics_and_errors_name_a_key(text in "(\\[\\[?[a-z_.]{0,12}\\]?\\]?\n|[a-z_0-9]{1,10} = (\"[^\"\\\\]{0,12}\"|[0-9]{1,4}|\\[\"[0-9.:]{0,15}\"\\])\n){0,8}") {
            if let Err(e) = Config::parse(&text, "p.toml") {
                let msg = e.to_string();
                proptest::prop_assert!(msg.starts_with("p.toml: "), "{}", msg);
            }
        }
    }
}
