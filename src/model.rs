//! The shared data model: series identity, samples and events.
//!
//! Everything that flows from sources to the store is expressed in these few small types, so a
//! source never needs to know how or where its samples are kept.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Unix time in milliseconds. Every timestamp in kafkascope uses this unit.
pub type Timestamp = i64;

/// Current wall-clock time in unix milliseconds.
pub fn now_ms() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A sorted, duplicate-free label set. Sorting makes two spellings of the same set equal, which is
/// what makes a [`SeriesKey`] a stable identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Builds a label set from pairs; a later pair with the same name replaces an earlier one.
    /// Empty values are dropped, as in Prometheus, where an empty label equals an absent one.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut labels = Self::new();
        for (k, v) in pairs {
            labels.insert(k, v);
        }
        labels
    }

    /// Inserts or replaces one label, keeping the set sorted.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].1 = value,
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    /// Returns a copy with one more label.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds every label of `other`, replacing same-named ones.
    pub fn extend(&mut self, other: &Labels) {
        for (k, v) in &other.0 {
            self.insert(k.clone(), v.clone());
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The canonical text form used as a storage key: `a="1",b="2"` with Prometheus escaping.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            escape_label_value(v, &mut out);
            out.push('"');
        }
        out
    }

    /// Parses the canonical form written by [`Labels::canonical`].
    pub fn parse_canonical(text: &str) -> Result<Self, String> {
        let mut labels = Labels::new();
        let mut rest = text;
        while !rest.is_empty() {
            let eq = rest
                .find("=\"")
                .ok_or_else(|| format!("label without value in {text:?}"))?;
            let name = &rest[..eq];
            let mut value = String::new();
            let mut chars = rest[eq + 2..].char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => return Err(format!("dangling escape in {text:?}")),
                    },
                    '"' => {
                        end = Some(eq + 2 + i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("unterminated label value in {text:?}"))?;
            labels.insert(name, value);
            rest = rest[end..].strip_prefix(',').unwrap_or(&rest[end..]);
        }
        Ok(labels)
    }
}

/// Escapes a label value the way the Prometheus text format does (backslash, quote, newline).
pub fn escape_label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The identity of a time series: a metric name plus a sorted label set.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    pub metric: String,
    pub labels: Labels,
}

impl SeriesKey {
    pub fn new(metric: impl Into<String>, labels: Labels) -> Self {
        Self {
            metric: metric.into(),
            labels,
        }
    }
}

impl fmt::Display for SeriesKey {
    /// `metric{a="1",b="2"}`, the selector that matches exactly this series.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{{{}}}", self.metric, self.labels.canonical())
    }
}

/// How a series' values behave, which decides how they are rolled up and charted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// A value that goes up and down (a level): charted as is.
    #[default]
    Gauge,
    /// A monotonically increasing total that may reset to zero on restart: charted as a rate.
    Counter,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Gauge => "gauge",
            MetricKind::Counter => "counter",
        }
    }

    pub fn code(self) -> i64 {
        match self {
            MetricKind::Gauge => 0,
            MetricKind::Counter => 1,
        }
    }

    pub fn from_code(code: i64) -> Self {
        if code == 1 {
            MetricKind::Counter
        } else {
            MetricKind::Gauge
        }
    }
}

/// One value of one series at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub key: SeriesKey,
    pub kind: MetricKind,
    pub ts: Timestamp,
    pub value: f64,
}

/// A value a source read, before the collector adds the target's labels and the scrape time.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub metric: String,
    pub labels: Labels,
    pub kind: MetricKind,
    pub value: f64,
    /// When the value was true, if not at the scrape: a commit read from `__consumer_offsets`
    /// lands at its commit time. The collector never stores it later than the scrape's wall clock.
    pub at: Option<Timestamp>,
}

impl Reading {
    pub fn gauge(metric: impl Into<String>, value: f64) -> Self {
        Self {
            metric: metric.into(),
            labels: Labels::new(),
            kind: MetricKind::Gauge,
            value,
            at: None,
        }
    }

    pub fn counter(metric: impl Into<String>, value: f64) -> Self {
        Self {
            metric: metric.into(),
            labels: Labels::new(),
            kind: MetricKind::Counter,
            value,
            at: None,
        }
    }

    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(name, value);
        self
    }

    /// Stamps the reading with its own time (see [`Reading::at`]).
    pub fn at(mut self, ts: Timestamp) -> Self {
        self.at = Some(ts);
        self
    }
}

/// How much an event matters to an operator.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// Something that happened at a point in time: a mode change, a target going down, a deploy.
/// Every chart draws the events of its range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub ts: Timestamp,
    /// Machine-readable kind, e.g. `zk_mode_change`, `zk_leader_change`, `target_down`, `annotation`.
    pub kind: String,
    pub severity: Severity,
    /// The cluster the event belongs to (empty for global events).
    pub cluster: String,
    /// What the event is about, e.g. a server address or a target name.
    pub subject: String,
    /// One human sentence.
    pub message: String,
}

/// How a label matcher compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// A Prometheus label matcher. `__name__` matches the metric name; an absent label matches as the
/// empty string; regexes are anchored at both ends, as in Prometheus.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Matcher {
    pub fn new(
        name: impl Into<String>,
        op: MatchOp,
        value: impl Into<String>,
    ) -> Result<Self, regex::Error> {
        let value = value.into();
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(regex::Regex::new(&format!("^(?:{value})$"))?)
            }
            _ => None,
        };
        Ok(Self {
            name: name.into(),
            op,
            value,
            re,
        })
    }

    /// Shorthand for an equality matcher, which cannot fail.
    pub fn eq(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            re: None,
        }
    }

    /// Whether a label value (None when the label is absent) satisfies this matcher.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let v = value.unwrap_or("");
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            _ => false,
        }
    }

    /// Whether a series key satisfies this matcher (`__name__` is the metric name).
    pub fn matches_key(&self, key: &SeriesKey) -> bool {
        if self.name == "__name__" {
            self.matches(Some(&key.metric))
        } else {
            self.matches(key.labels.get(&self.name))
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = String::new();
        escape_label_value(&self.value, &mut v);
        write!(f, "{}{}\"{}\"", self.name, self.op.as_str(), v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sorted_and_deduplicated() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("b", "3")]);
        assert_eq!(l.canonical(), r#"a="1",b="3""#);
        assert_eq!(l.get("b"), Some("3"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn empty_label_value_means_absent() {
        let l = Labels::from_pairs([("a", "1"), ("b", "")]);
        assert_eq!(l.len(), 1);
        let l = l.with("a", "");
        assert!(l.is_empty());
    }

    #[test]
    fn canonical_form_round_trips_with_escapes() {
        let l = Labels::from_pairs([("path", "C:\\x\"y\"\nz"), ("q", "a,b=\"c\"")]);
        let text = l.canonical();
        assert_eq!(Labels::parse_canonical(&text).unwrap(), l);
    }

    #[test]
    fn series_key_displays_as_selector() {
        let k = SeriesKey::new("zk_znode_count", Labels::from_pairs([("cluster", "lab")]));
        assert_eq!(k.to_string(), r#"zk_znode_count{cluster="lab"}"#);
    }

    #[test]
    fn matchers_follow_prometheus_rules() {
        let k = SeriesKey::new(
            "up",
            Labels::from_pairs([("job", "zk"), ("cluster", "lab")]),
        );
        assert!(
            Matcher::new("cluster", MatchOp::Equal, "lab")
                .unwrap()
                .matches_key(&k)
        );
        assert!(
            Matcher::new("cluster", MatchOp::Regex, "la.")
                .unwrap()
                .matches_key(&k)
        );
        assert!(
            !Matcher::new("cluster", MatchOp::Regex, "la")
                .unwrap()
                .matches_key(&k),
            "regex is anchored"
        );
        assert!(
            Matcher::new("missing", MatchOp::Equal, "")
                .unwrap()
                .matches_key(&k),
            "absent label is empty"
        );
        assert!(
            Matcher::new("__name__", MatchOp::NotRegex, "zk_.*")
                .unwrap()
                .matches_key(&k)
        );
        assert!(Matcher::new("x", MatchOp::Regex, "(").is_err());
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(256))]

        #[test]
        fn canonical_round_trip_for_any_labels(pairs in proptest::collection::vec(("[a-z_][a-z0-9_]{0,8}", "\\PC{0,12}"), 0..6)) {
            let l = Labels::from_pairs(pairs);
            proptest::prop_assert_eq!(Labels::parse_canonical(&l.canonical()).unwrap(), l);
        }
    }
}
