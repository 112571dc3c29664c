//! Sources turn one target into readings, events and text snapshots. A source knows its protocol and
//! nothing else: it never touches the store or the pages, and it reports failures as errors that the
//! collector turns into `up=0` and an error text on the targets page.
//!
//! Each source is one folder, `src/sources/<name>/`, holding everything it is: its config section
//! (read from the cluster's `[clusters.<name>]` table, validated with errors that name the key),
//! `build` from that section to targets, the collection code, its metric catalogue, its event kinds
//! and its tests. It is made known here by one line in [`KINDS`]; nothing else in the server names
//! a source.

use crate::catalogue::{MetricMeta, SourceCatalogue};
use crate::config::{ClusterConfig, Config, ConfigError, Origin};
use crate::model::{Labels, Reading, Severity, Timestamp};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub mod host;
pub mod jmx;
pub mod kafka;
pub mod prometheus;
pub mod zookeeper;

/// Every source kind this build has. Adding a source is one folder and one line here.
pub const KINDS: &[&SourceKind] = &[
    &zookeeper::KIND,
    &prometheus::KIND,
    &host::KIND,
    &kafka::KIND,
    &jmx::KIND,
];

/// What a source kind declares about itself: the config key it reads, the series it writes and the
/// events it emits. The pages build their navigation, tiles and event filters from this.
pub struct SourceKind {
    /// The key of its section in a cluster's table (`[clusters.zookeeper]`).
    pub key: &'static str,
    /// Shown to people: `ZooKeeper`.
    pub title: &'static str,
    /// The `source` label values of its targets (`zookeeper`, `zookeeper_admin`).
    pub target_sources: &'static [&'static str],
    pub catalogue: SourceCatalogue,
    pub events: &'static [EventKind],
    /// Reads its keys of one cluster (taking them out of `sections`) and returns its targets.
    pub build: fn(&BuildContext<'_>, &mut Sections) -> Result<Vec<PlannedTarget>, ConfigError>,
    /// The section `kafkascope serve` uses without a config file: the usual local ports.
    pub default_local: fn() -> Option<toml::Value>,
}

/// A kind of event a source emits, for filters and legends.
#[derive(Clone, Copy, Debug)]
pub struct EventKind {
    pub kind: &'static str,
    pub title: &'static str,
}

/// A cluster's sections not yet taken by a source; what is left at the end is an unknown key.
pub type Sections = BTreeMap<String, toml::Value>;

/// What a source's `build` knows of its cluster.
pub struct BuildContext<'a> {
    pub cluster: &'a ClusterConfig,
    /// The path of the cluster's table in the file, e.g. `clusters[0]`.
    pub path: String,
    pub origin: &'a Origin,
    /// The cluster's schedule (its own or the collector's defaults).
    pub interval: Duration,
    pub timeout: Duration,
    /// Advice for `check-config` (a deprecated spelling and its replacement, say).
    pub notes: std::cell::RefCell<Vec<String>>,
}

impl BuildContext<'_> {
    /// A schedule for one target: its own interval/timeout where the section sets them.
    /// Without its own timeout, a target with its own interval gets the default share of it.
    pub fn schedule(
        &self,
        interval: Option<Duration>,
        timeout: Option<Duration>,
    ) -> (Duration, Duration) {
        match interval {
            None => (self.interval, timeout.unwrap_or(self.timeout)),
            Some(i) => (
                i,
                timeout.unwrap_or_else(|| crate::config::default_timeout(None, i)),
            ),
        }
    }

    /// An error about `key` inside this cluster (`zookeeper.servers[1]`).
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        self.origin.error(format!("{}.{key}", self.path), message)
    }
}

/// One target ready for the collector.
pub struct PlannedTarget {
    pub cluster: String,
    pub source: BoxedSource,
    pub interval: Duration,
    pub timeout: Duration,
}

/// Every target of a config, and advice about how it is written.
pub struct BuildPlan {
    pub targets: Vec<PlannedTarget>,
    pub notes: Vec<String>,
}

/// Reads every cluster's source sections and returns all targets. Errors name the key and line;
/// a key no source takes is an error listing the sources this build has.
pub fn build_all(config: &Config) -> Result<BuildPlan, ConfigError> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for (i, cluster) in config.clusters.iter().enumerate() {
        let ctx = BuildContext {
            cluster,
            path: format!("clusters[{i}]"),
            origin: &config.origin,
            interval: cluster.interval(&config.collector),
            timeout: cluster.timeout(&config.collector),
            notes: Default::default(),
        };
        let mut sections = cluster.sections.clone();
        for kind in KINDS {
            out.extend((kind.build)(&ctx, &mut sections)?);
        }
        if let Some(key) = sections.keys().next() {
            let known: Vec<&str> = KINDS.iter().map(|k| k.key).collect();
            return Err(ctx.error(
                key,
                format!(
                    "unknown key {key:?} in a cluster: a cluster has name, interval, timeout and one section per source ({})",
                    known.join(", ")
                ),
            ));
        }
        notes.extend(ctx.notes.take());
    }
    Ok(BuildPlan {
        targets: out,
        notes,
    })
}

/// The configuration `kafkascope serve` runs without a file: a SQLite file in the working
/// directory, 127.0.0.1:8080, and one cluster `local` with every source's usual local targets
/// (each shown as down when nothing answers).
pub fn default_local_config() -> Config {
    let mut config = Config::default_local();
    if let Some(cluster) = config.clusters.first_mut() {
        for kind in KINDS {
            if let Some(section) = (kind.default_local)() {
                cluster.sections.insert(kind.key.to_string(), section);
            }
        }
    }
    config
}

/// Sources whose naming rule is Prometheus' generic suffix convention (`_bytes` → bytes,
/// `_percent` → percent) and answers for any name: their rules are asked last, after the rules of
/// sources that know their own names (Kafka's `…Percent` beans are 0–1 fractions, its request
/// times end in `ms` without an underscore).
const CONVENTION_RULES: [&str; 2] = ["prometheus", "host"];

/// The catalogues of every source kind plus the collector's and the lag recorder's own series, the generic naming
/// conventions last.
pub fn catalogues() -> impl Iterator<Item = &'static SourceCatalogue> {
    let generic = |k: &&&SourceKind| CONVENTION_RULES.contains(&k.key);
    KINDS
        .iter()
        .filter(move |k| !generic(k))
        .chain(KINDS.iter().filter(generic))
        .map(|k| &k.catalogue)
        .chain(std::iter::once(&crate::collector::CATALOGUE))
        .chain(std::iter::once(&crate::lag::recorder::CATALOGUE))
}

/// A catalogue holding every source kind's declarations and the collector's.
pub fn catalogue() -> crate::catalogue::Catalogue {
    crate::catalogue::Catalogue::with_sources(catalogues())
}

/// The kind whose targets carry this `source` label value.
pub fn kind_of_target(source: &str) -> Option<&'static SourceKind> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.target_sources.contains(&source))
}

/// An HTTP client builder with TLS ready for `https://` targets. reqwest is built without a
/// rustls crypto provider (the default one needs a C toolchain and cmake), so this installs ring
/// as the process-wide provider once before the first client is built.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // An error means another provider was installed first; it serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// An error and its causes on one line (`a: b: c`), without repeating a cause already in the
/// text: "connection refused" is not hidden behind "error sending request".
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// What a target is, for the `up{cluster,target,source}` series and the targets page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetInfo {
    /// The source kind, e.g. `zookeeper` (four-letter words) or `zookeeper_admin` (AdminServer).
    pub source: &'static str,
    /// The address as configured, e.g. `127.0.0.1:2181` or `http://127.0.0.1:8080`.
    pub target: String,
    /// Targets with the same key (in one cluster) are read at the same moment of the interval.
    /// ZooKeeper uses the host, because a server's four-letter-word and AdminServer targets write
    /// the same series: read at different moments, a counter's newest sample would come from the
    /// earlier reader until the later one overwrote it, and its rate would dip at the live edge.
    pub phase_key: String,
    /// Labels that identify the target before any scrape (a Prometheus endpoint's `job` and
    /// `instance`), shown on the targets page even while it has never answered; a scrape's own
    /// identity adds to them.
    pub identity: Labels,
}

/// An event a source noticed (a mode change, a leader change); the collector adds the cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceEvent {
    pub kind: String,
    pub severity: Severity,
    pub subject: String,
    pub message: String,
    /// When it happened, when the target says so (a leader's uptime dates its election); None
    /// means at the scrape that noticed it.
    pub at: Option<Timestamp>,
}

/// A text snapshot worth keeping beside the numbers (ZooKeeper `conf`, `envi`), latest value only.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// What it is about, e.g. the server address `127.0.0.1:2181`.
    pub subject: String,
    /// Its name, e.g. `conf`.
    pub name: String,
    pub body: String,
}

/// Everything one successful scrape produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScrapeOutput {
    /// Readings with every label but `cluster`, which the collector adds.
    pub readings: Vec<Reading>,
    pub events: Vec<SourceEvent>,
    pub documents: Vec<Document>,
    /// Problems that did not stop the scrape (a command outside the whitelist, say); shown on the
    /// targets page next to the target.
    pub warnings: Vec<String>,
    /// Labels that identify the scraped entity, learned during the scrape (e.g. `server`), shown on
    /// the targets page.
    pub identity: Labels,
    /// Descriptions learned from the target itself (`# TYPE`/`# HELP`/`# UNIT` of a Prometheus
    /// exposition), for the catalogue. Sources with a fixed catalogue leave this empty.
    pub metadata: Vec<MetricMeta>,
    /// When the target itself says it (re)started (ZooKeeper's uptime), so that its return after
    /// a failure is dated then rather than at the scrape that noticed it.
    pub up_since: Option<Timestamp>,
}

/// How the collector retries a target after a failed scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Exponentially longer pauses, up to `collector.max_backoff`.
    Backoff,
    /// Every interval: the host answered and refused the connection, which is cheap to ask again
    /// and usually means the service is restarting.
    EveryInterval,
}

/// A scrape that produced nothing usable. The text is shown to operators as is, so it must say
/// what failed and where (`127.0.0.1:2181: mntr: connection refused`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// One target's protocol. The collector owns one instance per target and never calls `scrape`
/// concurrently on it, so a source may keep state between scrapes (previous mode, say).
pub trait Source: Send + 'static {
    fn info(&self) -> &TargetInfo;

    /// Reads the target once. `timeout` is the whole budget for this scrape; the collector also
    /// enforces it from outside, so a source should spend it carefully rather than rely on it.
    fn scrape(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<ScrapeOutput, SourceError>> + Send;

    /// Events noticed outside a successful scrape (a failed scrape that costs an ensemble its
    /// quorum, say). The collector takes them after every attempt.
    fn take_events(&mut self) -> Vec<SourceEvent> {
        Vec::new()
    }

    /// How to retry after the last failure.
    fn retry(&self) -> Retry {
        Retry::Backoff
    }
}

/// A source of any kind behind one type, so the collector can hold a list of them.
pub type BoxedSource = Box<dyn DynSource>;

/// The object-safe form of [`Source`].
pub trait DynSource: Send + 'static {
    fn target_info(&self) -> &TargetInfo;
    fn scrape_boxed(
        &mut self,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<ScrapeOutput, SourceError>> + Send + '_>>;
    fn take_events_dyn(&mut self) -> Vec<SourceEvent>;
    fn retry_dyn(&self) -> Retry;
}

impl<S: Source> DynSource for S {
    fn target_info(&self) -> &TargetInfo {
        Source::info(self)
    }

    fn scrape_boxed(
        &mut self,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<ScrapeOutput, SourceError>> + Send + '_>> {
        Box::pin(self.scrape(timeout))
    }

    fn take_events_dyn(&mut self) -> Vec<SourceEvent> {
        self.take_events()
    }

    fn retry_dyn(&self) -> Retry {
        self.retry()
    }
}

impl Source for BoxedSource {
    fn info(&self) -> &TargetInfo {
        (**self).target_info()
    }

    fn scrape(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<ScrapeOutput, SourceError>> + Send {
        (**self).scrape_boxed(timeout)
    }

    fn take_events(&mut self) -> Vec<SourceEvent> {
        (**self).take_events_dyn()
    }

    fn retry(&self) -> Retry {
        (**self).retry_dyn()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<BuildPlan, String> {
        let c = Config::parse(text, "t.toml").map_err(|e| e.to_string())?;
        build_all(&c).map_err(|e| e.to_string())
    }

    #[test]
    fn the_section_and_the_flat_keys_give_the_same_targets() {
        let section = plan("[[clusters]]\nname = \"a\"\n[clusters.zookeeper]\nservers = [\"127.0.0.1:2181\"]\nadmin = [\"http://127.0.0.1:8081\"]\n").unwrap();
        let flat = plan("[[clusters]]\nname = \"a\"\nzookeeper = [\"127.0.0.1:2181\"]\nzookeeper_admin = [\"http://127.0.0.1:8081\"]\n").unwrap();
        let names = |p: &BuildPlan| {
            p.targets
                .iter()
                .map(|t| {
                    (
                        t.source.target_info().source,
                        t.source.target_info().target.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&section), names(&flat));
        assert_eq!(names(&section).len(), 2);
        assert!(section.notes.is_empty());
        assert!(
            flat.notes[0].contains("[clusters.zookeeper]\nservers = [\"127.0.0.1:2181\"]\nadmin = [\"http://127.0.0.1:8081\"]"),
            "{}",
            flat.notes[0]
        );
    }

    #[test]
    fn source_errors_name_key_and_line() {
        let e = plan("[[clusters]]\nname = \"a\"\n\n[[clusters]]\nname = \"b\"\nzookeeper = [\"127.0.0.1\"]\n").err().unwrap();
        assert!(
            e.contains("clusters[1].zookeeper[0]") && e.contains("line 6"),
            "{e}"
        );
        let e = plan("[[clusters]]\nname = \"b\"\n[clusters.zookeeper]\nservers = [\"127.0.0.1:2181\", \"x\"]\n").err().unwrap();
        assert!(
            e.contains("clusters[0].zookeeper.servers[1]") && e.contains("line 4"),
            "{e}"
        );
        let e = plan(
            "[[clusters]]\nname = \"b\"\n[clusters.zookeeper]\nserver = [\"127.0.0.1:2181\"]\n",
        )
        .err()
        .unwrap();
        assert!(
            e.contains("clusters[0].zookeeper") && e.contains("server"),
            "{e}"
        );
        let e = plan("[[clusters]]\nname = \"b\"\n[clusters.kafak]\nbrokers = []\n")
            .err()
            .unwrap();
        assert!(
            e.contains("clusters[0].kafak") && e.contains("line 3") && e.contains("zookeeper"),
            "{e}"
        );
        let e = plan("[[clusters]]\nname = \"b\"\n[clusters.zookeeper]\nservers = [\"127.0.0.1:2181\"]\ninterval = \"5s\"\ntimeout = \"6s\"\n").err().unwrap();
        assert!(
            e.contains("clusters[0].zookeeper.timeout") && e.contains("line 6"),
            "{e}"
        );
    }

    #[test]
    fn https_admin_urls_are_accepted_from_the_config() {
        let p = plan("[[clusters]]\nname = \"a\"\n[clusters.zookeeper]\nadmin = [\"https://127.0.0.1:8443\"]\n").unwrap();
        assert_eq!(p.targets.len(), 1);
    }

    #[test]
    fn the_default_local_config_tries_every_source_on_its_usual_port() {
        let c = default_local_config();
        assert_eq!(
            c.server.listen_addr().unwrap().to_string(),
            "127.0.0.1:8080"
        );
        let p = build_all(&c).unwrap();
        let targets: Vec<String> = p
            .targets
            .iter()
            .map(|t| t.source.target_info().target.clone())
            .collect();
        assert!(
            targets.contains(&"127.0.0.1:2181".to_string()),
            "{targets:?}"
        );
        for kind in KINDS {
            assert!(
                (kind.default_local)().is_some(),
                "{} has no local default",
                kind.key
            );
        }
    }
}
