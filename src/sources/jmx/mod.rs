//! The JMX source: brokers, KRaft controllers, ZooKeeper and Kafka clients over remote JMX, named
//! by rules in jmx_exporter's own format.
//!
//! - **Config** ([`config`]): `[clusters.jmx]` with `brokers`, `controllers`, `zookeeper` and
//!   `[[clusters.jmx.clients]]`; one target per JVM (`source="jmx"`, target = the address).
//! - **Bridge** ([`bridge`]): one embedded JVM per process (the `jmx` crate on j4rs) and one
//!   dedicated OS thread per target, so a hung JVM never holds up another target or the async
//!   workers; a scrape crosses into Java once and reads each bean with one `getAttributes`.
//! - **Rules** ([`rules`], [`presets`]): jmx_exporter's rule semantics; our presets are rule
//!   files in that format (`jmx_exporter` or `confluent` names), a team's own config works as is.
//! - **Series**: the rules' names with `instance` (the address), `job` (the role) and, for
//!   clients, `client` (the configured name); type and help travel as scrape metadata, units come
//!   from [`catalogue::unit`].
//! - **Events** ([`events`]): read from the beans, whatever the rules call them.
//! - **Failures**: nothing listening → down without starting a JVM; the JVM or Java missing → down
//!   with what is missing; an attribute that throws or a bean that vanished → a warning, the rest
//!   of the scrape stands.

pub mod bridge;
pub mod catalogue;
pub mod config;
pub mod events;
pub mod explorer;
pub mod model;
pub mod presets;
pub mod rules;
pub mod tracked;

use crate::catalogue::{MetricMeta, MetricType};
use crate::model::{Labels, MetricKind, Reading};
use crate::sources::{
    Retry, ScrapeOutput, Source, SourceError, SourceEvent, SourceKind, TargetInfo,
};
use config::{Password, TargetSettings};
use model::{RuleSample, SampleType, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The jmx source kind.
pub const KIND: SourceKind = SourceKind {
    key: "jmx",
    title: "JMX",
    target_sources: &["jmx"],
    catalogue: catalogue::CATALOGUE,
    events: events::KINDS,
    build: config::build,
    default_local: config::default_local,
};

/// ISR shrinks within one scrape interval that count as a burst.
const ISR_SHRINK_BURST: f64 = 5.0;
/// Attribute errors listed by name on the targets page; the rest are counted.
const ERRORS_SHOWN: usize = 5;

/// One JVM.
pub struct JmxSource {
    info: TargetInfo,
    settings: TargetSettings,
    client: Option<(bridge::TargetClient, Option<String>)>,
    scrapes: u64,
    watch: Option<events::Watch>,
    retry: Retry,
}

impl JmxSource {
    pub fn new(settings: TargetSettings) -> Self {
        let mut identity = Labels::new();
        identity.insert("instance", settings.address.clone());
        identity.insert("job", job(settings.role));
        if let Some(c) = &settings.client {
            identity.insert("client", c.clone());
        }
        JmxSource {
            info: TargetInfo {
                source: "jmx",
                target: settings.address.clone(),
                phase_key: settings.address.clone(),
                identity,
            },
            settings,
            client: None,
            scrapes: 0,
            watch: None,
            retry: Retry::Backoff,
        }
    }

    /// The target's client, made again when the password changed (a rotated password file).
    async fn client(&mut self) -> Result<&bridge::TargetClient, String> {
        let password = match &self.settings.password {
            None => None,
            Some(Password::Inline(s)) => Some(s.expose().to_string()),
            Some(Password::File(p)) => Some(
                tokio::fs::read_to_string(p)
                    .await
                    .map_err(|e| format!("cannot read password_file {}: {e}", p.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            ),
        };
        let stale = match &self.client {
            Some((_, old)) => *old != password,
            None => true,
        };
        if stale {
            let endpoint = bridge::Endpoint {
                url: self.settings.url.clone(),
                username: self.settings.username.clone(),
                password: password.clone(),
                ssl: self.settings.ssl,
            };
            self.client = Some((
                bridge::TargetClient::new(endpoint, &self.settings.address),
                password,
            ));
        }
        match &self.client {
            Some((c, _)) => Ok(c),
            None => Err("no JMX client".into()),
        }
    }

    async fn scrape_once(&mut self, timeout: Duration) -> Result<ScrapeOutput, String> {
        let started = Instant::now();
        // A margin so our own error, not the collector's cut, says what was slow.
        let budget = timeout.saturating_sub((timeout / 10).min(Duration::from_millis(300)));
        // Nothing listening is told without starting a JVM (the default config tries port 9999
        // on every machine; most have nothing there).
        if let Some(addr) = socket_address(&self.settings.url) {
            let probe = budget.min(Duration::from_secs(2));
            match tokio::time::timeout(probe, tokio::net::TcpStream::connect(&addr)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    self.retry = Retry::EveryInterval;
                    return Err(format!(
                        "{addr}: connection refused (no JMX agent listening)"
                    ));
                }
                Ok(Err(e)) => return Err(format!("{addr}: {e}")),
                Err(_) => return Err(format!("{addr}: no answer to connect within {probe:?}")),
            }
        }
        self.retry = Retry::Backoff;
        tokio::task::spawn_blocking(bridge::jvm_status)
            .await
            .map_err(|e| format!("starting the JVM: {e}"))??;
        self.scrapes += 1;
        let n = self.scrapes;
        let refresh = self.settings.refresh_names_every;
        let rules = self.settings.rules.clone();
        let partitions = self.settings.partition_rules.clone();
        let tracked = tracked::get(&self.settings.cluster, &self.settings.address);
        let client = self.client().await?;
        let (include, exclude) = rules.object_names();
        let request = bridge::ScrapeRequest {
            include: include.to_vec(),
            exclude: exclude.to_vec(),
            refresh_every: refresh,
        };
        let reply = client
            .scrape(&request, budget)
            .await
            .map_err(|e| e.to_string())?;
        let mut java_ms = reply.java_ms;
        let mut beans = reply.beans;
        let mut applied = rules.apply(&beans);
        let mut warnings = Vec::new();
        // Per-partition beans are many and change slowly: every Nth scrape, with what is left of
        // the budget.
        if let Some((prules, every)) = partitions
            && (n - 1).is_multiple_of(u64::from(every))
        {
            let left = budget.saturating_sub(started.elapsed());
            let (pi, pe) = prules.object_names();
            let request = bridge::ScrapeRequest {
                include: pi.to_vec(),
                exclude: pe.to_vec(),
                refresh_every: refresh,
            };
            match client.scrape(&request, left).await {
                Ok(r) => {
                    java_ms += r.java_ms;
                    let more = prules.apply(&r.beans);
                    applied.samples.extend(more.samples);
                    applied.duplicates += more.duplicates;
                    beans.extend(r.beans);
                }
                Err(e) => warnings.push(format!("per-partition beans: {e}")),
            }
        }
        // Attributes an operator chose in the explorer, named by jmx_exporter's default format.
        if !tracked.is_empty() {
            let left = budget.saturating_sub(started.elapsed());
            let mut names: Vec<String> = tracked.iter().map(|t| t.bean.clone()).collect();
            names.sort();
            names.dedup();
            let request = bridge::ScrapeRequest {
                include: names,
                exclude: Vec::new(),
                refresh_every: refresh,
            };
            match client.scrape(&request, left).await {
                Ok(mut r) => {
                    java_ms += r.java_ms;
                    for b in &mut r.beans {
                        b.attributes.retain(|a| {
                            tracked
                                .iter()
                                .any(|t| t.bean == b.name && t.attribute == a.name)
                        });
                    }
                    let more = default_rules().apply(&r.beans);
                    applied.samples.extend(more.samples);
                    applied.duplicates += more.duplicates;
                }
                Err(e) => warnings.push(format!("tracked attributes: {e}")),
            }
        }
        let mut out = ScrapeOutput::default();
        let errors: Vec<String> = beans
            .iter()
            .flat_map(|b| {
                b.attributes.iter().filter_map(move |a| match &a.value {
                    Value::Error(e) => Some(format!("{} {}: {e}", b.name, a.name)),
                    _ => None,
                })
            })
            .collect();
        for e in errors.iter().take(ERRORS_SHOWN) {
            warnings.push(e.clone());
        }
        if errors.len() > ERRORS_SHOWN {
            warnings.push(format!(
                "{} more attributes could not be read",
                errors.len() - ERRORS_SHOWN
            ));
        }
        if applied.duplicates > 0 {
            warnings.push(format!(
                "{} samples had the name and labels of an earlier one and were dropped (the rules give two attributes the same series)",
                applied.duplicates
            ));
        }
        let max = self.settings.max_series;
        let total = applied.samples.len();
        if total > max {
            warnings.push(format!(
                "{total} series is over max_series = {max}: {} were dropped; raise max_series or narrow the rules (per-partition beans are the usual cause)",
                total - max
            ));
            applied.samples.truncate(max);
        }
        let mut described = HashSet::new();
        for s in applied.samples {
            if described.insert(s.name.clone()) {
                out.metadata.push(meta(&s));
            }
            out.readings.push(self.reading(s));
        }
        let gauge = |metric: &str, value: f64, info: &TargetInfo| Reading {
            metric: metric.to_string(),
            labels: info.identity.clone(),
            kind: MetricKind::Gauge,
            value,
            at: None,
        };
        out.readings.push(gauge(
            "kafkascope_jmx_beans",
            beans.len() as f64,
            &self.info,
        ));
        out.readings.push(gauge(
            "kafkascope_jmx_attribute_errors",
            errors.len() as f64,
            &self.info,
        ));
        out.readings.push(gauge(
            "kafkascope_jmx_series_dropped",
            total.saturating_sub(max) as f64,
            &self.info,
        ));
        out.readings.push(gauge(
            "kafkascope_jmx_java_seconds",
            java_ms / 1000.0,
            &self.info,
        ));
        let watch = events::Watch::read(&beans);
        if let Some(before) = &self.watch {
            out.events = events::diff(before, &watch, &self.settings.address, ISR_SHRINK_BURST);
        }
        if let Some(start) = watch.start_time_ms {
            out.up_since = Some(start as i64);
        }
        self.watch = Some(watch);
        out.warnings = warnings;
        out.identity = self.info.identity.clone();
        Ok(out)
    }

    /// A rule's sample with the target's labels; a rule label with one of their names is kept as
    /// `exported_<name>` (Prometheus' honor_labels = false).
    fn reading(&self, s: RuleSample) -> Reading {
        let mut labels = Labels::new();
        for (k, v) in s.labels {
            let k = if self.info.identity.get(&k).is_some() {
                format!("exported_{k}")
            } else {
                k
            };
            labels.insert(k, v);
        }
        for (k, v) in self.info.identity.iter() {
            labels.insert(k.to_string(), v.to_string());
        }
        Reading {
            metric: s.name,
            labels,
            kind: match s.kind {
                SampleType::Counter => MetricKind::Counter,
                _ => MetricKind::Gauge,
            },
            value: s.value,
            at: None,
        }
    }
}

/// The `host:port` a JMX service URL connects to first (the RMI registry of
/// `service:jmx:rmi:///jndi/rmi://host:port/jmxrmi`, or the address of `service:jmx:rmi://host:port/…`
/// and `service:jmx:jmxmp://host:port`), for a cheap reachability probe.
fn socket_address(url: &str) -> Option<String> {
    let rest = url.strip_prefix("service:jmx:")?;
    let after = match rest.find("/jndi/rmi://") {
        Some(i) => &rest[i + "/jndi/rmi://".len()..],
        None => rest.split_once("://")?.1,
    };
    let hp = after.split('/').next()?;
    (!hp.is_empty() && hp.contains(':')).then(|| hp.to_string())
}

/// The `job` label of a role, as jmx_exporter deployments commonly name their scrape jobs.
pub fn job(role: presets::Role) -> &'static str {
    use presets::Role::*;
    match role {
        Broker => "kafka-broker",
        Controller => "kafka-controller",
        ZooKeeper => "zookeeper",
        Producer => "kafka-producer",
        Consumer => "kafka-consumer",
        Streams => "kafka-streams",
        Connect => "kafka-connect",
    }
}

/// jmx_exporter's behaviour without rules: every attribute by the default format.
fn default_rules() -> &'static rules::RuleSet {
    static R: std::sync::OnceLock<rules::RuleSet> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        rules::RuleSet::from_yaml("{}", "default").expect("an empty jmx_exporter config is valid")
    })
}

fn meta(s: &RuleSample) -> MetricMeta {
    let kind = match s.kind {
        SampleType::Counter => MetricType::Counter,
        SampleType::Gauge => MetricType::Gauge,
        SampleType::Untyped => MetricType::Unknown,
    };
    MetricMeta::new(
        s.name.clone(),
        kind,
        catalogue::unit(&s.name),
        s.help.clone(),
    )
}

impl Source for JmxSource {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    async fn scrape(&mut self, timeout: Duration) -> Result<ScrapeOutput, SourceError> {
        use tracing::Instrument;
        let span = tracing::debug_span!("jmx", target = %self.info.target);
        self.scrape_once(timeout)
            .instrument(span)
            .await
            .map_err(|m| {
                if m.starts_with(&self.info.target) || m.contains(&self.info.target) {
                    SourceError(m)
                } else {
                    SourceError(format!("{}: {m}", self.info.target))
                }
            })
    }

    fn take_events(&mut self) -> Vec<SourceEvent> {
        Vec::new()
    }

    fn retry(&self) -> Retry {
        self.retry
    }
}

#[cfg(test)]
mod tests {
    use super::socket_address;

    #[test]
    fn the_probe_address_is_the_registry_or_the_connector() {
        for (url, want) in [
            (
                "service:jmx:rmi:///jndi/rmi://127.0.0.1:9999/jmxrmi",
                Some("127.0.0.1:9999"),
            ),
            (
                "service:jmx:rmi://h:44444/jndi/rmi://reg:1099/jmxrmi",
                Some("reg:1099"),
            ),
            ("service:jmx:jmxmp://h:5555", Some("h:5555")),
            ("service:jmx:rmi:///jndi/ldap://x/y", None),
            ("http://h:1", None),
        ] {
            assert_eq!(socket_address(url).as_deref(), want, "{url}");
        }
    }
}
