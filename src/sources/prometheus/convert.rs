//! From a parsed exposition to our model: families, kinds, labels, metadata and limits.
//!
//! - **Families.** A sample belongs to the family its name declares (`# TYPE`/`# HELP`/`# UNIT`)
//!   exactly, or else to the declared family its name is a suffix form of, when that family's
//!   type has the suffix (`foo_bucket` → histogram `foo`, `foo_total` → OpenMetrics counter `foo`,
//!   `foo_info` → info `foo`). An exact declaration wins, so a gauge named `x_sum` stays a gauge.
//!   A sample of no declared family is `unknown`.
//! - **Kinds.** Counters (their `_total`, or the bare name in the text format) and the `_bucket`,
//!   `_count` and `_sum` of histograms and summaries are stored as counters; summary quantiles,
//!   gauge histograms (`_bucket`, `_gcount`, `_gsum`), gauges, info, stateset and unknown as
//!   gauges.
//! - **`_created`** (OpenMetrics: when a counter, histogram or summary started) is not a series of
//!   its own in OpenMetrics semantics, so it is not stored: rates come from the counter's own
//!   resets. A family that is itself named `…_created` (what client_python writes in the text
//!   format, with its own `# TYPE … gauge`) is a gauge like any other.
//! - **Labels.** Every series gets the target's labels (`job`, `instance` and the configured
//!   `labels`). A scraped label with the same name is renamed `exported_<name>` (again prefixed
//!   while that name is taken too), as Prometheus does; with `honor_labels` the scraped value is
//!   kept and the target's label is dropped for that series. `cluster` belongs to kafkascope: a
//!   scraped `cluster` label always becomes `exported_cluster`. A scraped `__name__` label is
//!   dropped. Empty label values are absent labels, as in Prometheus.
//! - **Metadata.** Each family's type, help and unit (from `# UNIT`, else from the Prometheus
//!   naming conventions `_seconds`, `_bytes`, `_ratio`, `_percent`, `_milliseconds`, before a
//!   `_total`) is reported for the family name and for every stored sample name: `_sum` and the
//!   quantiles carry the family's unit, `_count` and `_bucket` are plain counts.
//! - **Limits.** `metric_allow`/`metric_deny` (anchored regexes on the sample name) run first;
//!   more series than `series_limit` fail the scrape (readings stop being built at the limit; the
//!   rest is only counted, so memory stays bounded by the limit). Duplicate series keep the first.

use super::parse::{FamilyType, Format, Line, ParseError, Parser};
use crate::catalogue::{MetricMeta, MetricType, Unit};
use crate::model::{Labels, MetricKind, Reading};
use std::collections::{HashMap, HashSet};

/// How samples become readings for one target.
#[derive(Clone, Debug)]
pub struct MapOptions {
    /// `job`, `instance` and the configured labels.
    pub target_labels: Labels,
    pub honor_labels: bool,
    pub allow: Option<regex::RegexSet>,
    pub deny: Option<regex::RegexSet>,
    pub series_limit: usize,
}

impl MapOptions {
    fn keeps(&self, name: &str) -> bool {
        self.allow.as_ref().is_none_or(|a| a.is_match(name))
            && self.deny.as_ref().is_none_or(|d| !d.is_match(name))
    }
}

/// What one exposition gave.
#[derive(Clone, Debug, Default)]
pub struct Converted {
    pub readings: Vec<Reading>,
    pub metadata: Vec<MetricMeta>,
    pub warnings: Vec<String>,
    /// Samples in the body before the allow/deny filter (`_created` excluded).
    pub samples_total: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("not a Prometheus exposition ({format}): {error}")]
    Parse {
        format: &'static str,
        error: ParseError,
    },
    #[error("{} series, more than series_limit {}", thousands(*found), thousands(*limit))]
    SeriesLimit { found: usize, limit: usize },
}

/// `612000` → `612,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The part of a sample name after its family name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Bare,
    Total,
    Created,
    Bucket,
    Count,
    Sum,
    GCount,
    GSum,
    Info,
}

const SUFFIXES: &[(&str, Role)] = &[
    ("_total", Role::Total),
    ("_created", Role::Created),
    ("_bucket", Role::Bucket),
    ("_count", Role::Count),
    ("_sum", Role::Sum),
    ("_gcount", Role::GCount),
    ("_gsum", Role::GSum),
    ("_info", Role::Info),
];

fn allows(kind: FamilyType, role: Role) -> bool {
    use FamilyType as F;
    match role {
        Role::Bare => true,
        Role::Total => kind == F::Counter,
        Role::Created => matches!(kind, F::Counter | F::Histogram | F::Summary),
        Role::Bucket => matches!(kind, F::Histogram | F::GaugeHistogram),
        Role::Count | Role::Sum => matches!(kind, F::Histogram | F::Summary),
        Role::GCount | Role::GSum => kind == F::GaugeHistogram,
        Role::Info => kind == F::Info,
    }
}

fn kind_of(family: FamilyType, role: Role) -> MetricKind {
    use FamilyType as F;
    match (family, role) {
        (F::Counter, _) => MetricKind::Counter,
        (F::Histogram, Role::Bucket | Role::Count | Role::Sum) => MetricKind::Counter,
        (F::Summary, Role::Count | Role::Sum) => MetricKind::Counter,
        _ => MetricKind::Gauge,
    }
}

fn meta_type(kind: FamilyType) -> MetricType {
    match kind {
        FamilyType::Counter => MetricType::Counter,
        FamilyType::Gauge => MetricType::Gauge,
        FamilyType::Histogram | FamilyType::GaugeHistogram => MetricType::Histogram,
        FamilyType::Summary => MetricType::Summary,
        FamilyType::Info => MetricType::Info,
        FamilyType::StateSet => MetricType::State,
        FamilyType::Unknown => MetricType::Unknown,
    }
}

/// The unit a Prometheus name states by convention (`node_cpu_seconds_total` → seconds).
pub fn unit_by_convention(name: &str) -> Unit {
    let base = name.strip_suffix("_total").unwrap_or(name);
    for (suffix, unit) in [
        ("_seconds", Unit::Seconds),
        ("_bytes", Unit::Bytes),
        ("_ratio", Unit::Ratio),
        ("_percent", Unit::Percent),
        ("_milliseconds", Unit::Milliseconds),
    ] {
        if base.ends_with(suffix) {
            return unit;
        }
    }
    Unit::None
}

#[derive(Default)]
struct Decl {
    kind: Option<FamilyType>,
    help: Option<String>,
    unit: Option<String>,
    /// Sample names seen for it, with their role.
    seen: Vec<(String, Role)>,
}

/// Parses `text` and maps it; see the module docs.
pub fn convert(text: &str, format: Format, opts: &MapOptions) -> Result<Converted, ConvertError> {
    let mut decls: HashMap<String, Decl> = HashMap::new();
    let mut undeclared: HashSet<String> = HashSet::new();
    let mut out = Converted::default();
    let mut kept = 0usize;
    let mut duplicates = 0usize;
    let mut index = SeriesIndex::default();
    let mut last: Option<(String, Option<(String, Role)>)> = None;
    let mut parser = Parser::new(text, format);
    let parse_err = |error| ConvertError::Parse {
        format: format.as_str(),
        error,
    };
    for line in parser.by_ref() {
        let sample = match line.map_err(parse_err)? {
            Line::Help { family, text } => {
                decls.entry(family.into_owned()).or_default().help = Some(text.into_owned());
                continue;
            }
            Line::Type { family, kind } => {
                decls.entry(family.into_owned()).or_default().kind = Some(kind);
                continue;
            }
            Line::Unit { family, unit } => {
                decls.entry(family.into_owned()).or_default().unit = Some(unit.to_string());
                continue;
            }
            Line::Sample(s) => s,
        };
        let name: &str = &sample.name;
        // Which family and which part of it; consecutive samples mostly share a name.
        if last.as_ref().is_none_or(|(n, _)| n != name) {
            last = Some((name.to_string(), resolve(name, &decls)));
        }
        let resolved = last.as_ref().and_then(|(_, r)| r.as_ref());
        let (family_kind, role) = match resolved {
            Some((family, role)) => (
                decls
                    .get(family)
                    .and_then(|d| d.kind)
                    .unwrap_or(FamilyType::Unknown),
                *role,
            ),
            None => (FamilyType::Unknown, Role::Bare),
        };
        if role == Role::Created {
            continue;
        }
        out.samples_total += 1;
        if !opts.keeps(name) {
            continue;
        }
        kept += 1;
        if kept > opts.series_limit {
            // Only counted from here on: the error says how many there were.
            continue;
        }
        let labels = series_labels(&sample.labels, opts);
        if !index.insert(&out.readings, name, &labels) {
            duplicates += 1;
            continue;
        }
        match resolved {
            Some((family, role)) => {
                if let Some(d) = decls.get_mut(family)
                    && !d.seen.iter().any(|(n, _)| n == name)
                {
                    d.seen.push((name.to_string(), *role));
                }
            }
            None => {
                if !undeclared.contains(name) {
                    undeclared.insert(name.to_string());
                }
            }
        }
        out.readings.push(Reading {
            metric: name.to_string(),
            labels,
            kind: kind_of(family_kind, role),
            value: sample.value,
            at: None,
        });
    }
    if kept > opts.series_limit {
        return Err(ConvertError::SeriesLimit {
            found: kept,
            limit: opts.series_limit,
        });
    }
    if parser.sanitised() > 0 {
        out.warnings.push(format!(
            "{} quoted UTF-8 metric or label names were rewritten to classic names (characters outside [a-zA-Z0-9_:] became '_')",
            parser.sanitised()
        ));
    }
    if duplicates > 0 {
        out.warnings.push(format!(
            "{duplicates} duplicate series in the exposition; the first of each was kept"
        ));
    }
    out.metadata = metadata(&decls, undeclared.iter());
    Ok(out)
}

/// The family a sample name belongs to and its part in it; see the module docs.
fn resolve(name: &str, decls: &HashMap<String, Decl>) -> Option<(String, Role)> {
    if decls.contains_key(name) {
        return Some((name.to_string(), Role::Bare));
    }
    SUFFIXES.iter().find_map(|(suffix, role)| {
        let base = name.strip_suffix(suffix)?;
        let d = decls.get(base)?;
        allows(d.kind.unwrap_or(FamilyType::Unknown), *role).then(|| (base.to_string(), *role))
    })
}

/// Finds duplicate series as readings are added, by a hash of name and labels (a sort of 50,000
/// readings cost more than the parse); equal hashes are confirmed against the stored reading.
#[derive(Default)]
struct SeriesIndex {
    first: HashMap<u64, usize>,
    /// Other readings whose hash collided with a different series (rare).
    more: Vec<(u64, usize)>,
}

impl SeriesIndex {
    /// Records the series that is about to be pushed at `readings.len()`; false if already there.
    fn insert(&mut self, readings: &[Reading], metric: &str, labels: &Labels) -> bool {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        metric.hash(&mut h);
        labels.hash(&mut h);
        let hash = h.finish();
        let same = |i: &usize| readings[*i].metric == metric && readings[*i].labels == *labels;
        match self.first.get(&hash) {
            None => {
                self.first.insert(hash, readings.len());
                true
            }
            Some(i) if same(i) => false,
            Some(_) => {
                if self.more.iter().any(|(h, i)| *h == hash && same(i)) {
                    return false;
                }
                self.more.push((hash, readings.len()));
                true
            }
        }
    }
}

fn metadata<'a>(
    decls: &HashMap<String, Decl>,
    undeclared: impl Iterator<Item = &'a String>,
) -> Vec<MetricMeta> {
    let mut out: Vec<MetricMeta> = Vec::new();
    for (family, d) in decls {
        if d.seen.is_empty() {
            continue;
        }
        let kind = d.kind.unwrap_or(FamilyType::Unknown);
        let unit = match &d.unit {
            Some(u) if !u.is_empty() => Unit::parse(u),
            _ => unit_by_convention(family),
        };
        let help = d.help.clone().unwrap_or_default();
        let t = meta_type(kind);
        out.push(MetricMeta::new(family.clone(), t, unit, help.clone()));
        for (name, role) in &d.seen {
            if name == family {
                continue;
            }
            let unit = match role {
                Role::Count | Role::Bucket | Role::GCount | Role::Info => Unit::None,
                _ => unit,
            };
            out.push(MetricMeta::new(name.clone(), t, unit, help.clone()));
        }
    }
    for name in undeclared {
        out.push(MetricMeta::new(
            name.clone(),
            MetricType::Unknown,
            unit_by_convention(name),
            "",
        ));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The scraped labels merged with the target's; see the module docs.
fn series_labels(
    scraped: &[(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)],
    opts: &MapOptions,
) -> Labels {
    let mut labels = Labels::from_pairs(
        scraped
            .iter()
            .filter(|(k, _)| k != "__name__")
            .map(|(k, v)| (k.as_ref(), v.as_ref())),
    );
    move_aside(&mut labels, "cluster");
    for (k, v) in opts.target_labels.iter() {
        if labels.get(k).is_some() {
            if opts.honor_labels {
                continue;
            }
            move_aside(&mut labels, k);
        }
        labels.insert(k, v);
    }
    labels
}

/// Renames label `name` to `exported_<name>` (prefixed again while taken).
fn move_aside(labels: &mut Labels, name: &str) {
    let Some(value) = labels.get(name).map(str::to_string) else {
        return;
    };
    let mut new = format!("exported_{name}");
    while labels.get(&new).is_some() {
        new = format!("exported_{new}");
    }
    labels.insert(name, "");
    labels.insert(new, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> MapOptions {
        MapOptions {
            target_labels: Labels::from_pairs([("job", "node"), ("instance", "h:9100")]),
            honor_labels: false,
            allow: None,
            deny: None,
            series_limit: 50_000,
        }
    }

    fn find<'a>(c: &'a Converted, metric: &str, label: (&str, &str)) -> &'a Reading {
        c.readings
            .iter()
            .find(|r| r.metric == metric && r.labels.get(label.0) == Some(label.1))
            .unwrap_or_else(|| panic!("{metric} with {label:?} not in {:?}", c.readings))
    }

    fn meta<'a>(c: &'a Converted, name: &str) -> &'a MetricMeta {
        c.metadata
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no metadata for {name}: {:?}", c.metadata))
    }

    #[test]
    fn histograms_summaries_and_counters_get_their_kinds_and_units() {
        let text = "# HELP rpc_duration_seconds RPC latency.\n# TYPE rpc_duration_seconds summary\nrpc_duration_seconds{quantile=\"0.5\"} 0.2\nrpc_duration_seconds_sum 10\nrpc_duration_seconds_count 50\n\
# TYPE req_seconds histogram\nreq_seconds_bucket{le=\"0.1\"} 3\nreq_seconds_bucket{le=\"+Inf\"} 5\nreq_seconds_sum 0.7\nreq_seconds_count 5\n\
# TYPE read_bytes_total counter\nread_bytes_total 12\n\
# TYPE low_sum gauge\nlow_sum 4\n\
untyped_thing_ratio 0.5\n";
        let c = convert(text, Format::Text, &opts()).unwrap();
        let k = |m: &str| c.readings.iter().find(|r| r.metric == m).unwrap().kind;
        assert_eq!(k("rpc_duration_seconds"), MetricKind::Gauge);
        assert_eq!(k("rpc_duration_seconds_sum"), MetricKind::Counter);
        assert_eq!(k("rpc_duration_seconds_count"), MetricKind::Counter);
        assert_eq!(k("req_seconds_bucket"), MetricKind::Counter);
        assert_eq!(k("read_bytes_total"), MetricKind::Counter);
        assert_eq!(k("low_sum"), MetricKind::Gauge, "an exact declaration wins");
        assert_eq!(k("untyped_thing_ratio"), MetricKind::Gauge);
        assert_eq!(
            find(&c, "req_seconds_bucket", ("le", "+Inf")).value,
            5.0,
            "the le label is kept as written"
        );
        let m = meta(&c, "rpc_duration_seconds");
        assert_eq!(
            (m.kind, m.unit, m.help.as_str()),
            (MetricType::Summary, Unit::Seconds, "RPC latency.")
        );
        assert_eq!(meta(&c, "rpc_duration_seconds_count").unit, Unit::None);
        assert_eq!(meta(&c, "rpc_duration_seconds_sum").unit, Unit::Seconds);
        assert_eq!(meta(&c, "req_seconds_bucket").kind, MetricType::Histogram);
        assert_eq!(meta(&c, "req_seconds_bucket").unit, Unit::None);
        assert_eq!(meta(&c, "read_bytes_total").unit, Unit::Bytes);
        assert_eq!(meta(&c, "read_bytes_total").kind, MetricType::Counter);
        assert_eq!(meta(&c, "untyped_thing_ratio").kind, MetricType::Unknown);
        assert_eq!(meta(&c, "untyped_thing_ratio").unit, Unit::Ratio);
        assert_eq!(c.readings.len(), 10);
    }

    #[test]
    fn openmetrics_families_created_info_stateset_and_gaugehistogram() {
        let text = "# TYPE foo counter\n# UNIT foo bytes\nfoo_total 3\nfoo_created 1.6e9\n\
# TYPE build info\nbuild_info{version=\"1\"} 1\n\
# TYPE st stateset\nst{st=\"a\"} 1\nst{st=\"b\"} 0\n\
# TYPE q gaugehistogram\nq_bucket{le=\"1\"} 2\nq_gcount 2\nq_gsum 1.5\n\
# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\nh_created 1.6e9\n# EOF\n";
        let c = convert(text, Format::OpenMetrics, &opts()).unwrap();
        let names: Vec<&str> = c.readings.iter().map(|r| r.metric.as_str()).collect();
        assert!(!names.iter().any(|n| n.ends_with("_created")), "{names:?}");
        assert_eq!(c.samples_total, 10);
        let k = |m: &str| c.readings.iter().find(|r| r.metric == m).unwrap().kind;
        assert_eq!(k("foo_total"), MetricKind::Counter);
        assert_eq!(
            k("q_bucket"),
            MetricKind::Gauge,
            "gauge histograms go up and down"
        );
        assert_eq!(k("q_gsum"), MetricKind::Gauge);
        assert_eq!(k("h_bucket"), MetricKind::Counter);
        assert_eq!(meta(&c, "foo").unit, Unit::Bytes);
        assert_eq!(meta(&c, "foo_total").kind, MetricType::Counter);
        assert_eq!(meta(&c, "build_info").kind, MetricType::Info);
        assert_eq!(meta(&c, "st").kind, MetricType::State);
        assert_eq!(find(&c, "st", ("st", "b")).value, 0.0);
    }

    #[test]
    fn a_gauge_named_created_in_the_text_format_is_kept() {
        // client_python's text format: `_created` as its own gauge family.
        let text = "# TYPE c_total counter\nc_total 1\n# TYPE c_created gauge\nc_created 1.6e9\n";
        let c = convert(text, Format::Text, &opts()).unwrap();
        assert_eq!(c.readings.len(), 2);
    }

    #[test]
    fn clashing_labels_are_exported_or_honoured() {
        let text =
            "a{job=\"scraped\",exported_job=\"x\",cluster=\"theirs\",__name__=\"b\",k=\"v\"} 1\n";
        let c = convert(text, Format::Text, &opts()).unwrap();
        let l = &c.readings[0].labels;
        assert_eq!(l.get("job"), Some("node"));
        assert_eq!(l.get("exported_job"), Some("x"));
        assert_eq!(l.get("exported_exported_job"), Some("scraped"));
        assert_eq!(l.get("exported_cluster"), Some("theirs"));
        assert_eq!(l.get("cluster"), None, "the collector adds ours");
        assert_eq!(l.get("__name__"), None);
        assert_eq!(l.get("instance"), Some("h:9100"));
        let mut honour = opts();
        honour.honor_labels = true;
        let c = convert(text, Format::Text, &honour).unwrap();
        let l = &c.readings[0].labels;
        assert_eq!(l.get("job"), Some("scraped"));
        assert_eq!(l.get("exported_job"), Some("x"));
        assert_eq!(l.get("instance"), Some("h:9100"));
        assert_eq!(
            l.get("exported_cluster"),
            Some("theirs"),
            "cluster is ours even with honor_labels"
        );
    }

    #[test]
    fn allow_deny_and_the_series_limit() {
        let mut text = String::new();
        for i in 0..60 {
            text.push_str(&format!("keep_me{{i=\"{i}\"}} 1\ndrop_me{{i=\"{i}\"}} 1\n"));
        }
        let mut o = opts();
        o.allow = Some(regex::RegexSet::new(["^(?:keep_.*|drop_me)$"]).unwrap());
        o.deny = Some(regex::RegexSet::new(["^(?:drop_.*)$"]).unwrap());
        o.series_limit = 60;
        let c = convert(&text, Format::Text, &o).unwrap();
        assert_eq!(c.readings.len(), 60);
        assert_eq!(c.samples_total, 120);
        o.series_limit = 59;
        let e = convert(&text, Format::Text, &o).unwrap_err();
        assert_eq!(
            e,
            ConvertError::SeriesLimit {
                found: 60,
                limit: 59
            }
        );
        assert_eq!(e.to_string(), "60 series, more than series_limit 59");
        assert_eq!(thousands(612_000), "612,000");
        assert_eq!(thousands(50_000), "50,000");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn duplicates_keep_the_first_and_warn() {
        let c = convert("a 1\na 2\nb{x=\"1\"} 3\n", Format::Text, &opts()).unwrap();
        assert_eq!(c.readings.len(), 2);
        assert_eq!(c.readings[0].value, 1.0);
        assert!(c.warnings[0].contains("1 duplicate"), "{:?}", c.warnings);
    }

    #[test]
    fn a_parse_error_says_format_and_line() {
        let e = convert("<!DOCTYPE html>\n", Format::Text, &opts()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a Prometheus exposition (text 0.0.4): line 1: expected a metric name, found '<'"
        );
    }

    /// Sample lines counted without the parser: not blank, not a comment.
    fn sample_lines(text: &str) -> usize {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count()
    }

    /// The value written on the line that starts with `prefix` (read without the parser).
    fn value_on_line(text: &str, prefix: &str) -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn kminion_documented_output() {
        let text = include_str!("../../../tests/fixtures/prometheus/kminion_docs_sample.prom");
        let c = convert(text, Format::Text, &opts()).unwrap();
        assert_eq!(c.readings.len(), sample_lines(text));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let r = &c
            .readings
            .iter()
            .find(|r| r.metric == "kminion_exporter_offset_consumer_records_consumed_total")
            .unwrap();
        assert_eq!((r.kind, r.value), (MetricKind::Counter, 5.058244883e9));
        let r = find(
            &c,
            "kminion_kafka_topic_low_water_mark_sum",
            ("topic_name", "__consumer_offsets"),
        );
        assert_eq!(r.kind, MetricKind::Gauge, "a gauge that ends in _sum");
        let r = find(
            &c,
            "kminion_end_to_end_produce_latency_seconds_bucket",
            ("le", "0.005"),
        );
        assert_eq!(
            (r.kind, r.labels.get("partitionId")),
            (MetricKind::Counter, Some("0"))
        );
        let m = meta(&c, "kminion_end_to_end_produce_latency_seconds");
        assert_eq!((m.kind, m.unit), (MetricType::Histogram, Unit::Seconds));
        assert_eq!(
            meta(&c, "kminion_kafka_broker_log_dir_size_total_bytes").unit,
            Unit::Bytes
        );
        assert_eq!(
            meta(&c, "kminion_kafka_broker_info").help,
            "Kafka broker information"
        );
        let info = find(&c, "kminion_kafka_broker_info", ("broker_id", "9"));
        assert_eq!(info.labels.get("rack_id"), Some("europe-west1-b"));
        assert_eq!(info.labels.get("job"), Some("node"));
    }

    #[test]
    fn node_exporter_captures() {
        for text in [
            include_str!("../../../tests/fixtures/host/node_exporter_metrics.txt"),
            include_str!("../../../tests/fixtures/host/node_exporter_metrics_extended_vmstat.txt"),
        ] {
            let c = convert(text, Format::Text, &opts()).unwrap();
            assert_eq!(c.readings.len(), sample_lines(text));
            let mem = c
                .readings
                .iter()
                .find(|r| r.metric == "node_memory_MemTotal_bytes")
                .unwrap();
            assert_eq!(
                mem.value,
                value_on_line(text, "node_memory_MemTotal_bytes ")
            );
            assert_eq!(mem.kind, MetricKind::Gauge);
            assert_eq!(meta(&c, "node_memory_MemTotal_bytes").unit, Unit::Bytes);
            let cpu = find(&c, "node_cpu_seconds_total", ("mode", "idle"));
            assert_eq!(cpu.kind, MetricKind::Counter);
            let m = meta(&c, "node_cpu_seconds_total");
            assert_eq!((m.kind, m.unit), (MetricType::Counter, Unit::Seconds));
            let q = find(&c, "go_gc_duration_seconds", ("quantile", "0.5"));
            assert_eq!(q.kind, MetricKind::Gauge);
            let sum = c
                .readings
                .iter()
                .find(|r| r.metric == "go_gc_duration_seconds_sum")
                .unwrap();
            assert_eq!(sum.kind, MetricKind::Counter);
            assert_eq!(meta(&c, "go_gc_duration_seconds").kind, MetricType::Summary);
            let b = find(&c, "node_exporter_build_info", ("version", "1.5.0"));
            assert_eq!(b.labels.get("goversion"), Some("go1.19.8"));
            // Untyped families (node_vmstat_*) are gauges of unknown type.
            let v = c
                .readings
                .iter()
                .find(|r| r.metric == "node_vmstat_pgmajfault")
                .unwrap();
            assert_eq!(v.kind, MetricKind::Gauge);
            assert_eq!(meta(&c, "node_vmstat_pgmajfault").kind, MetricType::Unknown);
        }
    }

    #[test]
    fn units_by_convention() {
        assert_eq!(unit_by_convention("node_cpu_seconds_total"), Unit::Seconds);
        assert_eq!(
            unit_by_convention("node_memory_MemTotal_bytes"),
            Unit::Bytes
        );
        assert_eq!(unit_by_convention("x_ratio"), Unit::Ratio);
        assert_eq!(unit_by_convention("x_seconds_bucket"), Unit::None);
        assert_eq!(unit_by_convention("x_total"), Unit::None);
    }
}
