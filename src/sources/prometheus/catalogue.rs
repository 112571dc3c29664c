//! What the `prometheus` source declares. It writes no series of its own (the collector writes
//! `up` and `scrape_duration_seconds`); everything it stores is described by the target itself,
//! through the `# TYPE`/`# HELP`/`# UNIT` it sends with every scrape (see `convert.rs`). The rule
//! below only covers names nobody has described yet (a series whose target never sent metadata,
//! or before the first scrape after a restart): it reads what the Prometheus naming conventions
//! state — `_total` is a counter, `_seconds`/`_bytes`/`_ratio`/`_percent`/`_milliseconds` give the
//! unit — and claims nothing else.

use super::convert::unit_by_convention;
use crate::catalogue::{MetricMeta, MetricType, SourceCatalogue, Unit};

pub const CATALOGUE: SourceCatalogue = SourceCatalogue {
    metrics: &[],
    rule: Some(describe),
    family: Some(family),
};

/// The family of a sample name by the exposition formats' suffixes: a histogram's `_bucket`, a
/// summary's or histogram's `_sum` and `_count`, a counter's `_total` and `_created`.
pub fn family(metric: &str) -> Option<String> {
    ["_bucket", "_sum", "_count", "_total", "_created"]
        .iter()
        .find_map(|s| metric.strip_suffix(s))
        .filter(|base| !base.is_empty())
        .map(str::to_string)
}

/// The type and unit a Prometheus-style name states, if it states any.
pub fn describe(name: &str) -> Option<MetricMeta> {
    let counter = name.ends_with("_total");
    let unit = unit_by_convention(name);
    if !counter && unit == Unit::None {
        return None;
    }
    let kind = if counter {
        MetricType::Counter
    } else {
        MetricType::Unknown
    };
    Some(MetricMeta::new(name, kind, unit, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions_give_type_and_unit_and_nothing_more() {
        let m = describe("node_network_receive_bytes_total").unwrap();
        assert_eq!((m.kind, m.unit), (MetricType::Counter, Unit::Bytes));
        let m = describe("go_gc_duration_seconds").unwrap();
        assert_eq!((m.kind, m.unit), (MetricType::Unknown, Unit::Seconds));
        assert_eq!(describe("node_load1"), None);
    }
}
