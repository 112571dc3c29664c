//! Typed configuration (`kafkascope.toml`): defaults that serve, validation errors that name the key.
//!
//! Parsing goes through `serde_path_to_error`, so a wrong type or an unknown key is reported with its
//! full path (`clusters[0].interval`) and toml's line and column; checks that need more than one
//! value (duplicate names, timeout longer than interval) run afterwards and locate their key's line
//! in the file text themselves.

use crate::store::Retention;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
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
    /// Consumer-group status notifications (Burrow's HTTP notifier), `[[notifiers]]`.
    #[serde(default)]
    pub notifiers: Vec<NotifierConfig>,
    /// Burrow's window settings and per-group lag thresholds, `[lag]` (see crate::lag::settings).
    #[serde(default)]
    pub lag: crate::lag::settings::LagConfig,
    /// The file and text this was read from (empty for the built-in default).
    #[serde(skip)]
    pub origin: Origin,
}

/// One `[[notifiers]]` table: Burrow's HTTP or email notifier. An incident opens when a group's
/// status leaves OK and closes when it is OK again; each has an id carried by its open and close
/// messages. Bodies come from Go text/template files (Burrow's own run unchanged).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NotifierConfig {
    /// Unique; names the notifier in logs and in the message (`{{notifier}}`).
    pub name: String,
    /// `http` (default) or `email`.
    pub kind: Option<String>,
    /// http: where the open message goes; a template (`{{.ID}}`, `{{.Result.Group}}`; the older
    /// `{{id}}`, `{{cluster}}`, `{{group}}` are URL-encoded).
    pub url_open: Option<String>,
    /// http: where the close message goes; without it no close message is sent.
    pub url_close: Option<String>,
    /// Default POST.
    pub method_open: Option<String>,
    /// Default DELETE.
    pub method_close: Option<String>,
    /// Group status from which the open message is sent: `WARN` (default) or `ERR`.
    pub threshold: Option<String>,
    /// How often groups are evaluated; default 1m.
    pub interval: Option<Dur>,
    /// Least time between two open messages of one incident; default: every interval.
    pub send_interval: Option<Dur>,
    /// Send the open message once per incident instead of every interval.
    #[serde(default)]
    pub send_once: bool,
    /// Send the close message when the group is OK again (default: http when url_close is set,
    /// email when template_close is set).
    pub send_close: Option<bool>,
    /// Only these clusters (default all).
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Anchored regexes on the group id.
    #[serde(default)]
    pub groups_allow: Vec<String>,
    #[serde(default)]
    pub groups_deny: Vec<String>,
    /// Go text/template files for the open and close messages, with Burrow's data
    /// `{Cluster, Group, ID, Start, Extras, Result}` and helpers; default: http
    /// `{"Id","Notifier","Cluster","Group","Status","Start","TotalLag","Result"}`, email
    /// Burrow's `default-email.tmpl`.
    pub template_open: Option<PathBuf>,
    pub template_close: Option<PathBuf>,
    /// Free-form values for the templates (`{{index .Extras "app"}}`).
    #[serde(default)]
    pub extras: BTreeMap<String, String>,
    /// http: extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// http basic auth or SMTP AUTH; the password read from a file at each send.
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Per request (http) or per message (email); default 5s (http), 30s (email).
    pub timeout: Option<Dur>,
    /// email: the SMTP server's host name and port (default 25; 465 with `tls = "implicit"`).
    pub server: Option<String>,
    pub port: Option<u16>,
    /// email: `plain` or `crammd5`; needs username and password_file.
    pub auth_type: Option<String>,
    /// email: the sender and the recipients (comma-separated, as Burrow's `to`).
    pub from: Option<String>,
    pub to: Option<String>,
    /// email: `starttls` (default), `implicit` or `none`.
    pub tls: Option<String>,
    /// email: the CAs the server's certificate is checked against (needed unless `tls = "none"`).
    pub ca_file: Option<PathBuf>,
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
    /// The path prefix under which a reverse proxy serves kafkascope (`/kafkascope`): every link
    /// the pages write starts with it, and requests are accepted with or without it.
    pub base_path: Option<String>,
    /// Pages that may show kafkascope in a frame (CSP `frame-ancestors`), e.g.
    /// `["'self'", "https://portal.example.com"]`. Empty (the default): no framing at all.
    pub frame_ancestors: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database: PathBuf::from("kafkascope.db"),
            write_token: None,
            base_path: None,
            frame_ancestors: Vec::new(),
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
    /// How long each storage tier keeps data (the store's own type; see its `Deserialize` below).
    pub retention: Retention,
}

/// `[storage.retention]`: per tier a duration such as `8d`, or `forever`; unset tiers keep the
/// store's defaults.
impl<'de> Deserialize<'de> for Retention {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Text {
            raw: Option<Keep>,
            #[serde(rename = "1m")]
            m1: Option<Keep>,
            #[serde(rename = "5m")]
            m5: Option<Keep>,
            #[serde(rename = "1h")]
            h1: Option<Keep>,
            #[serde(rename = "1d")]
            d1: Option<Keep>,
        }
        let t = Text::deserialize(d)?;
        let dflt = Retention::default();
        let pick = |k: Option<Keep>, default: Option<Duration>| k.map_or(default, |k| k.0);
        Ok(Retention {
            raw: pick(t.raw, dflt.raw),
            m1: pick(t.m1, dflt.m1),
            m5: pick(t.m5, dflt.m5),
            h1: pick(t.h1, dflt.h1),
            d1: pick(t.d1, dflt.d1),
        })
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

/// One cluster: its name, its default schedule, and one section per source
/// (`[clusters.zookeeper]`, `[[clusters.prometheus]]`, …). The sections are read by the sources
/// themselves (`crate::sources::build_all`), so a new source needs no change here.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    pub name: String,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
    /// Every other key of the cluster's table, by key, as written.
    pub sections: BTreeMap<String, toml::Value>,
}

impl<'de> Deserialize<'de> for ClusterConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            name: String,
            #[serde(default)]
            interval: Option<Dur>,
            #[serde(default)]
            timeout: Option<Dur>,
            #[serde(flatten)]
            sections: BTreeMap<String, toml::Value>,
        }
        let r = Raw::deserialize(d)?;
        Ok(ClusterConfig {
            name: r.name,
            interval: r.interval,
            timeout: r.timeout,
            sections: r.sections,
        })
    }
}

impl ClusterConfig {
    pub fn interval(&self, collector: &CollectorConfig) -> Duration {
        self.interval.unwrap_or(collector.interval).0
    }

    pub fn timeout(&self, collector: &CollectorConfig) -> Duration {
        default_timeout(self.timeout.or(collector.timeout), self.interval(collector))
    }
}

/// The timeout of a scrape: the configured one, or 80% of the interval and at most 10 s.
pub fn default_timeout(configured: Option<Dur>, interval: Duration) -> Duration {
    configured
        .map(|d| d.0)
        .unwrap_or_else(|| (interval.mul_f64(0.8)).min(Duration::from_secs(10)))
}

/// Where a config came from: its name for messages and its text for finding a key's line.
/// Its `Debug` leaves the text out: it may hold secrets.
#[derive(Clone, Default, PartialEq)]
pub struct Origin {
    pub file: String,
    pub text: std::sync::Arc<str>,
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Origin")
            .field("file", &self.file)
            .field("text_bytes", &self.text.len())
            .finish()
    }
}

impl Origin {
    pub fn new(file: &str, text: &str) -> Self {
        Origin {
            file: file.to_string(),
            text: text.into(),
        }
    }

    /// An error about `key` (a path like `clusters[0].zookeeper.servers[1]`), with its line when
    /// the key can be found in the text.
    pub fn error(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        let key = key.into();
        let message = message.into();
        let message = match find_key_line(&self.text, &key) {
            Some(l) if !message.contains("(line ") => format!("{message} (line {l})"),
            _ => message,
        };
        ConfigError::invalid(&self.file, key, message)
    }

    /// Deserializes one section of the file (a source's table), naming the full key path and its
    /// line on error. `prefix` is the section's own path, e.g. `clusters[0].zookeeper`.
    pub fn section<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        value: &toml::Value,
    ) -> Result<T, ConfigError> {
        serde_path_to_error::deserialize(value.clone()).map_err(|e| {
            let inner = e.path().to_string();
            let key = if inner == "." || inner.is_empty() {
                prefix.to_string()
            } else if inner.starts_with('[') {
                format!("{prefix}{inner}")
            } else {
                format!("{prefix}.{inner}")
            };
            let message = one_line(&e.into_inner().to_string());
            self.error(key, message)
        })
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

/// A retention as written: a duration, or `forever` (None).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Keep(Option<Duration>);

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
    /// Server, storage and collector defaults and one cluster named `local` without sources;
    /// `crate::sources::default_local_config` adds every source's usual local targets.
    pub fn default_local() -> Self {
        Config {
            server: ServerConfig::default(),
            storage: StorageConfig::default(),
            collector: CollectorConfig::default(),
            clusters: vec![ClusterConfig {
                name: "local".into(),
                interval: None,
                timeout: None,
                sections: BTreeMap::new(),
            }],
            notifiers: Vec::new(),
            lag: Default::default(),
            origin: Origin::new("(built-in default)", ""),
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
        let mut config = config;
        config.origin = Origin::new(file, text);
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |key: String, message: String| Err(self.origin.error(key, message));
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
        if let Some(b) = &self.server.base_path
            && let Err(m) = check_base_path(b)
        {
            return fail("server.base_path".into(), m);
        }
        for (i, a) in self.server.frame_ancestors.iter().enumerate() {
            if let Err(m) = check_frame_ancestor(a) {
                return fail(format!("server.frame_ancestors[{i}]"), m);
            }
        }
        if self.collector.interval.0 < Duration::from_secs(1) {
            return fail("collector.interval".into(), "must be at least 1s".into());
        }
        let mut notifier_names = std::collections::HashSet::new();
        for (i, n) in self.notifiers.iter().enumerate() {
            if !notifier_names.insert(n.name.as_str()) || n.name.is_empty() {
                return fail(
                    format!("notifiers[{i}].name"),
                    format!("{:?} is empty or another notifier's name", n.name),
                );
            }
            if let Err((key, m)) = crate::lag::notifier::check(n) {
                return fail(format!("notifiers[{i}].{key}"), m);
            }
        }
        if let Err((key, m)) = self.lag.settings() {
            return fail(format!("lag.{key}"), m);
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
        }
        Ok(())
    }
}

/// `/kafkascope` or `/tools/kafkascope`: a leading slash, no trailing one, URL-safe characters.
fn check_base_path(p: &str) -> Result<(), String> {
    let ok = p.starts_with('/')
        && p.len() > 1
        && !p.ends_with('/')
        && !p.contains("//")
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~/".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{p:?} is not a path prefix like \"/kafkascope\" (a leading /, no trailing /, letters, digits, - . _ ~)"
        ))
    }
}

/// A CSP source for `frame-ancestors`: `'self'`, `'none'`, or a scheme and host such as
/// `https://portal.example.com` or `https://*.example.com:8443`.
fn check_frame_ancestor(a: &str) -> Result<(), String> {
    if a == "'self'" || a == "'none'" {
        return Ok(());
    }
    let rest = a
        .strip_prefix("https://")
        .or_else(|| a.strip_prefix("http://"))
        .ok_or_else(|| {
            format!("{a:?} is not 'self' or an origin like https://portal.example.com")
        })?;
    let host_ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.*:[]".contains(c));
    if host_ok {
        Ok(())
    } else {
        Err(format!(
            "{a:?} is not an origin like https://portal.example.com (no path, spaces or quotes)"
        ))
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

pub fn check_http_url(url: &str) -> Result<(), String> {
    let shown = redact_url(url);
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            format!("{shown:?} is not an http:// or https:// URL (e.g. http://127.0.0.1:8080)")
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(format!(
            "{}: credentials in the URL are not accepted (they would show in labels and logs); use the source's username and password_file keys",
            shown
        ));
    }
    check_host_port(authority).map_err(|_| {
        format!("{shown:?} needs host:port after the scheme (e.g. http://127.0.0.1:8080)")
    })
}

/// The URL with any `user:password@` replaced by `***@`, for messages and labels.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_string(),
    };
    match scheme {
        Some(s) => format!("{s}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Finds the line of a key path such as `clusters[1].zookeeper.servers[0]`, `server.listen` or
/// `clusters[0].prometheus[2]` (a table's own header), by following table headers and counting
/// arrays of tables; good enough for error messages, never used for parsing. Dotted keys and
/// inline tables are not followed.
fn find_key_line(text: &str, path: &str) -> Option<usize> {
    // A trailing index names an element of an inline array: its key's line is the answer.
    let target = strip_trailing_index(path);
    let mut table = String::new();
    // How many times each array of tables was opened, by its path with parent indices.
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if let Some(header) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
            let base = with_parent_indices(header.trim(), &counts);
            let i = counts.entry(base.clone()).or_insert(0);
            table = format!("{base}[{i}]");
            *i += 1;
        } else if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = with_parent_indices(header.trim(), &counts);
        } else if let Some((k, _)) = line.split_once('=') {
            let k = k.trim().trim_matches('"');
            let full = if table.is_empty() {
                k.to_string()
            } else {
                format!("{table}.{k}")
            };
            if full == path || full == target {
                return Some(n + 1);
            }
            continue;
        } else {
            continue;
        }
        if table == path {
            return Some(n + 1);
        }
    }
    None
}

fn strip_trailing_index(path: &str) -> &str {
    match path.strip_suffix(']').and_then(|p| p.rsplit_once('[')) {
        Some((head, idx)) if idx.chars().all(|c| c.is_ascii_digit()) => head,
        _ => path,
    }
}

/// `clusters.zookeeper` inside the third `[[clusters]]` is `clusters[2].zookeeper`: every proper
/// prefix of a header that is an array of tables refers to its latest element.
fn with_parent_indices(header: &str, counts: &std::collections::HashMap<String, usize>) -> String {
    let parts: Vec<&str> = header
        .split('.')
        .map(|p| p.trim().trim_matches('"'))
        .collect();
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(part);
        if i + 1 < parts.len()
            && let Some(n) = counts.get(&out).filter(|n| **n > 0)
        {
            out.push_str(&format!("[{}]", n - 1));
        }
    }
    out
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
        assert!(c.clusters[0].sections.contains_key("zookeeper"));
        assert_eq!(
            c.clusters[0].interval(&c.collector),
            Duration::from_secs(15)
        );
        assert_eq!(c.clusters[0].timeout(&c.collector), Duration::from_secs(10));
        assert_eq!(
            c.storage.retention.raw,
            Some(Duration::from_secs(8 * 86_400))
        );
        assert_eq!(c.storage.retention.d1, None);
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
            c.storage.retention.raw,
            Some(Duration::from_secs(2 * 86_400))
        );
        assert_eq!(c.storage.retention.h1, None);
        assert_eq!(
            c.storage.retention.m1,
            Some(Duration::from_secs(35 * 86_400)),
            "unset tiers keep defaults"
        );
        let e = error_of("[storage.retention]\nraw = \"0s\"\n");
        assert!(e.contains("storage.retention.raw"), "{e}");
    }

    #[test]
    fn key_lines_are_found_in_nested_tables_and_arrays_of_tables() {
        let text = "[server]\nlisten = \"x\"\n\n[[clusters]]\nname = \"a\"\n[clusters.zookeeper]\nservers = [\"b\"]\n\n[[clusters]]\nname = \"b\"\n[[clusters.prometheus]]\nurl = \"u\"\n[[clusters.prometheus]]\nurl = \"v\" # second\n[clusters.zookeeper]\nservers = [\"c\"]\n";
        assert_eq!(find_key_line(text, "server.listen"), Some(2));
        assert_eq!(
            find_key_line(text, "clusters[0].zookeeper.servers[0]"),
            Some(7)
        );
        assert_eq!(find_key_line(text, "clusters[1].name"), Some(10));
        assert_eq!(
            find_key_line(text, "clusters[1].prometheus[0].url"),
            Some(12)
        );
        assert_eq!(
            find_key_line(text, "clusters[1].prometheus[1].url"),
            Some(14)
        );
        assert_eq!(find_key_line(text, "clusters[1].prometheus[1]"), Some(13));
        assert_eq!(
            find_key_line(text, "clusters[1].zookeeper.servers"),
            Some(16)
        );
        assert_eq!(find_key_line(text, "clusters[2].name"), None);
    }

    #[test]
    fn urls_with_credentials_are_refused_without_showing_them() {
        let e = check_http_url("http://admin:hunter2@zk1:8080").unwrap_err();
        assert!(!e.contains("hunter2") && e.contains("***@zk1:8080"), "{e}");
        assert_eq!(redact_url("https://u:p@h:1/x?y"), "https://***@h:1/x?y");
        assert_eq!(
            redact_url("http://h:1/a@b"),
            "http://h:1/a@b",
            "an @ in the path is not userinfo"
        );
        assert!(check_http_url("https://zk1:8443/commands").is_ok());
        let e = check_http_url("ftp://u:secret@h:1").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
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
