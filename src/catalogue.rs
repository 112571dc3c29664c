//! The metric catalogue: what every series measures — its type, unit and one-line help.
//!
//! Each source declares its series ([`SourceCatalogue`]: exact names plus a naming rule for the
//! families it generates), and sources that learn metadata while scraping (the Prometheus text
//! format's `# TYPE`/`# HELP`/`# UNIT`) hand it over with each scrape. Pages, `/metrics` and
//! `/api/v1/metadata` take units and help from here and never guess from a name.
//!
//! Lookup order: metadata learned from scrapes (newest wins), then the declared exact names, then
//! the sources' naming rules. A metric nobody describes has type `unknown` and no unit.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// What kind of quantity a metric is, in the Prometheus/OpenMetrics sense plus `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// A level that goes up and down.
    Gauge,
    /// A monotonically increasing total (reset to zero on restart); shown as a rate.
    Counter,
    /// A quantile of a summary (`quantile` label) or one statistic of a summary family; never
    /// averaged across entities.
    Summary,
    /// Histogram buckets (`le` label) and their `_sum`/`_count`.
    Histogram,
    /// An enumerated state written as an info gauge (`zk_server_state{state="leader"} 1`).
    State,
    /// Constant labels describing the entity (`*_info` with value 1).
    Info,
    #[default]
    Unknown,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauge",
            MetricType::Counter => "counter",
            MetricType::Summary => "summary",
            MetricType::Histogram => "histogram",
            MetricType::State => "stateset",
            MetricType::Info => "info",
            MetricType::Unknown => "unknown",
        }
    }

    /// Parses the Prometheus/OpenMetrics `# TYPE` word (and our own names).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "gauge" => MetricType::Gauge,
            "counter" => MetricType::Counter,
            "summary" => MetricType::Summary,
            "histogram" | "gaugehistogram" => MetricType::Histogram,
            "stateset" | "state" => MetricType::State,
            "info" => MetricType::Info,
            "unknown" | "untyped" => MetricType::Unknown,
            _ => return None,
        })
    }
}

/// What a metric's values measure. Values are stored in the unit the source reports; pages scale
/// them for display (`1536` bytes → `1.5 KiB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// A plain number (counts, queue lengths, ids).
    #[default]
    None,
    Bytes,
    Seconds,
    /// ZooKeeper and Kafka clients report many times in milliseconds.
    Milliseconds,
    /// A fraction between 0 and 1.
    Ratio,
    /// A share between 0 and 100.
    Percent,
}

impl Unit {
    /// The OpenMetrics `# UNIT` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::None => "",
            Unit::Bytes => "bytes",
            Unit::Seconds => "seconds",
            Unit::Milliseconds => "milliseconds",
            Unit::Ratio => "ratio",
            Unit::Percent => "percent",
        }
    }

    /// Parses an OpenMetrics `# UNIT` word; unknown units are kept as no unit.
    pub fn parse(s: &str) -> Unit {
        match s {
            "bytes" | "byte" => Unit::Bytes,
            "seconds" | "second" => Unit::Seconds,
            "milliseconds" | "ms" => Unit::Milliseconds,
            "ratio" => Unit::Ratio,
            "percent" => Unit::Percent,
            _ => Unit::None,
        }
    }
}

/// One metric's description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricMeta {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: MetricType,
    pub unit: Unit,
    pub help: String,
}

impl MetricMeta {
    pub fn new(
        name: impl Into<String>,
        kind: MetricType,
        unit: Unit,
        help: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            kind,
            unit,
            help: help.into(),
        }
    }
}

/// A declared metric, as sources write them in their static catalogue.
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    pub name: &'static str,
    pub kind: MetricType,
    pub unit: Unit,
    pub help: &'static str,
}

impl MetricDef {
    pub fn meta(&self) -> MetricMeta {
        MetricMeta::new(self.name, self.kind, self.unit, self.help)
    }
}

/// What one source declares about the series it writes.
#[derive(Clone, Copy)]
pub struct SourceCatalogue {
    /// Names the source always uses.
    pub metrics: &'static [MetricDef],
    /// Describes a name the source generates from its target's output (ZooKeeper's summary
    /// families, say); None when the name is not the source's.
    pub rule: Option<fn(&str) -> Option<MetricMeta>>,
    /// The family a name belongs to, when the source writes families (a summary's statistics,
    /// a histogram's buckets): `zk_p99_fsynctime` → `zk_fsynctime`. None when not the source's.
    pub family: Option<fn(&str) -> Option<String>>,
}

/// Where learned metadata is kept between restarts: a document per metric (JSON of
/// [`MetricMeta`]) under this subject, in no cluster.
pub const STORE_SUBJECT: &str = "__catalogue__";

/// The catalogue of the running server: shared by the collector (which feeds scraped metadata)
/// and the pages and API (which read it).
#[derive(Clone, Default)]
pub struct Catalogue {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    declared: HashMap<String, MetricMeta>,
    learned: HashMap<String, MetricMeta>,
    rules: Vec<fn(&str) -> Option<MetricMeta>>,
    families: Vec<fn(&str) -> Option<String>>,
}

impl Catalogue {
    /// A catalogue holding these sources' declarations.
    pub fn with_sources<'a>(sources: impl IntoIterator<Item = &'a SourceCatalogue>) -> Self {
        let c = Catalogue::default();
        {
            let mut inner = c.write();
            for s in sources {
                for d in s.metrics {
                    inner.declared.insert(d.name.to_string(), d.meta());
                }
                if let Some(rule) = s.rule {
                    inner.rules.push(rule);
                }
                if let Some(family) = s.family {
                    inner.families.push(family);
                }
            }
        }
        c
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Records metadata learned from a scrape; returns the entries that were new or changed (for
    /// the store to persist).
    pub fn learn(&self, metas: &[MetricMeta]) -> Vec<MetricMeta> {
        if metas.is_empty() {
            return vec![];
        }
        let mut inner = self.write();
        let mut changed = Vec::new();
        for m in metas {
            if inner.learned.get(&m.name) != Some(m) {
                inner.learned.insert(m.name.clone(), m.clone());
                changed.push(m.clone());
            }
        }
        changed
    }

    /// The description of `metric`, if anyone gives one.
    pub fn get(&self, metric: &str) -> Option<MetricMeta> {
        let inner = self.read();
        if let Some(m) = inner
            .learned
            .get(metric)
            .or_else(|| inner.declared.get(metric))
        {
            return Some(m.clone());
        }
        inner.rules.iter().find_map(|rule| rule(metric))
    }

    /// The family `metric` belongs to, as its source groups its series (itself when none does).
    pub fn family(&self, metric: &str) -> String {
        self.read()
            .families
            .iter()
            .find_map(|f| f(metric))
            .unwrap_or_else(|| metric.to_string())
    }

    /// The unit of `metric` (none when nobody describes it).
    pub fn unit(&self, metric: &str) -> Unit {
        self.get(metric).map(|m| m.unit).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFS: &[MetricDef] = &[MetricDef {
        name: "up",
        kind: MetricType::Gauge,
        unit: Unit::None,
        help: "1 when the last scrape succeeded",
    }];

    fn rule(name: &str) -> Option<MetricMeta> {
        name.ends_with("_ms")
            .then(|| MetricMeta::new(name, MetricType::Gauge, Unit::Milliseconds, "a time"))
    }

    #[test]
    fn learned_metadata_wins_over_declarations_and_rules() {
        let c = Catalogue::with_sources(&[SourceCatalogue {
            metrics: DEFS,
            rule: Some(rule),
            family: None,
        }]);
        assert_eq!(c.get("up").map(|m| m.kind), Some(MetricType::Gauge));
        assert_eq!(c.unit("fsync_ms"), Unit::Milliseconds);
        assert_eq!(c.get("nobody"), None);
        let learned = MetricMeta::new("fsync_ms", MetricType::Summary, Unit::Seconds, "x");
        assert_eq!(
            c.learn(std::slice::from_ref(&learned)),
            vec![learned.clone()]
        );
        assert_eq!(
            c.learn(std::slice::from_ref(&learned)),
            vec![],
            "unchanged is not re-learned"
        );
        assert_eq!(c.get("fsync_ms"), Some(learned));
    }

    #[test]
    fn type_and_unit_words_round_trip() {
        for t in [
            MetricType::Gauge,
            MetricType::Counter,
            MetricType::Summary,
            MetricType::Histogram,
            MetricType::State,
            MetricType::Info,
            MetricType::Unknown,
        ] {
            assert_eq!(MetricType::parse(t.as_str()), Some(t));
        }
        for u in [
            Unit::Bytes,
            Unit::Seconds,
            Unit::Milliseconds,
            Unit::Ratio,
            Unit::Percent,
        ] {
            assert_eq!(Unit::parse(u.as_str()), u);
        }
    }
}
