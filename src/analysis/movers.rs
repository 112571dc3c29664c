//! Top movers: which brokers, topics, groups, ZooKeeper servers and hosts changed most against
//! the same time a week (or any shift) earlier. Each candidate family is one PromQL query that
//! yields a series per entity; every series' mean over the range is compared with its mean over
//! the shifted range, and the largest relative changes come first.
//!
//! A change is measured as |ln((|now| + ε) / (|then| + ε))| with ε = 5 % of the largest mean of
//! the same family in either window: a topic going from 0.01 to 1 msg/s does not outrank a broker
//! going from 50 to 100 MB/s just because its ratio is bigger. An entity without data a week
//! earlier is not a mover (there is nothing to compare with; usually collection just started).

use crate::catalogue::Unit;
use crate::model::Timestamp;
use crate::query::{Limits, QueryError, eval_range};
use crate::store::Store;
use std::collections::HashMap;

/// One family of candidates: a query whose output series are one entity each.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    pub title: &'static str,
    /// The label naming the entity in the output.
    pub entity: &'static str,
    /// PromQL with `{sel}` for the matchers (the cluster, plus the entity for a link) and `{w}`
    /// for the rate window.
    pub query: &'static str,
    pub unit: Unit,
    pub per_second: bool,
}

const fn f(
    title: &'static str,
    entity: &'static str,
    query: &'static str,
    unit: Unit,
    per_second: bool,
) -> Family {
    Family {
        title,
        entity,
        query,
        unit,
        per_second,
    }
}

/// The candidates: quantities a Kafka operator reads as load or trouble, per entity.
pub const FAMILIES: &[Family] = &[
    f(
        "Bytes in",
        "instance",
        "sum by (instance) (rate(kafka_server_brokertopicmetrics_bytesin_total{{sel},topic=\"\"}[{w}]))",
        Unit::Bytes,
        true,
    ),
    f(
        "Bytes out",
        "instance",
        "sum by (instance) (rate(kafka_server_brokertopicmetrics_bytesout_total{{sel},topic=\"\"}[{w}]))",
        Unit::Bytes,
        true,
    ),
    f(
        "Produce p99",
        "instance",
        "max by (instance) (kafka_network_requestmetrics_totaltimems{{sel},request=\"Produce\",quantile=\"0.99\"})",
        Unit::Milliseconds,
        false,
    ),
    f(
        "Request handler idle",
        "instance",
        "max by (instance) (kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent{{sel}})",
        Unit::Ratio,
        false,
    ),
    f(
        "Messages in",
        "topic",
        "sum by (topic) (rate(kafka_topic_partition_current_offset{{sel}}[{w}]))",
        Unit::None,
        true,
    ),
    f(
        "Consumer lag",
        "consumergroup",
        "sum by (consumergroup) (kafka_consumergroup_lag{{sel}})",
        Unit::None,
        false,
    ),
    f(
        "ZooKeeper requests",
        "server",
        "sum by (server) (rate(zk_packets_received{{sel}}[{w}]))",
        Unit::None,
        true,
    ),
    f(
        "ZooKeeper average latency",
        "server",
        "max by (server) (zk_avg_latency{{sel}})",
        Unit::Milliseconds,
        false,
    ),
    f(
        "Host CPU busy",
        "instance",
        "1 - avg by (instance) (rate(node_cpu_seconds_total{{sel},mode=\"idle\"}[{w}]))",
        Unit::Ratio,
        false,
    ),
    f(
        "Disk reads",
        "instance",
        "sum by (instance) (rate(node_disk_read_bytes_total{{sel}}[{w}]))",
        Unit::Bytes,
        true,
    ),
    f(
        "Network sent",
        "instance",
        "sum by (instance) (rate(node_network_transmit_bytes_total{{sel}}[{w}]))",
        Unit::Bytes,
        true,
    ),
];

impl Family {
    pub fn text(&self, matchers: &str, window_s: i64) -> String {
        self.query
            .replace("{sel}", matchers)
            .replace("{w}", &format!("{window_s}s"))
    }
}

/// One entity's change.
#[derive(Clone, Debug)]
pub struct Mover {
    pub family: &'static Family,
    pub entity: String,
    /// Mean over the range and over the shifted range (None: no data then).
    pub now: f64,
    pub then: Option<f64>,
    /// The ranking score (see the module's comment).
    pub score: f64,
}

impl Mover {
    /// The relative change in percent (None when there was nothing to compare with).
    pub fn change_pct(&self) -> Option<f64> {
        let then = self.then?;
        (then != 0.0).then(|| (self.now - then) / then.abs() * 100.0)
    }
}

/// The score of a change from `then` to `now` with floor `eps` (see the module's comment).
pub fn score(now: f64, then: f64, eps: f64) -> f64 {
    let eps = eps.max(f64::MIN_POSITIVE);
    ((now.abs() + eps) / (then.abs() + eps)).ln().abs()
}

/// Ranks one family's entities: `now` and `then` are means per entity.
pub fn rank_family(
    family: &'static Family,
    now: &HashMap<String, f64>,
    then: &HashMap<String, f64>,
) -> Vec<Mover> {
    let largest = now
        .values()
        .chain(then.values())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    if largest == 0.0 {
        return Vec::new();
    }
    let eps = 0.05 * largest;
    now.iter()
        .filter_map(|(entity, &n)| {
            let t = then.get(entity).copied()?;
            Some(Mover {
                family,
                entity: entity.clone(),
                now: n,
                then: Some(t),
                score: score(n, t, eps),
            })
        })
        .filter(|m| m.score > 0.0)
        .collect()
}

/// Mean of the finite values of each output series, keyed by its entity label.
async fn means(
    store: &Store,
    text: &str,
    entity: &str,
    from: Timestamp,
    to: Timestamp,
    step: i64,
) -> Result<HashMap<String, f64>, QueryError> {
    let start = from.div_euclid(step) * step + step;
    let r = eval_range(store, text, start, to, step, &Limits::default()).await?;
    let mut out = HashMap::new();
    for s in r.into_series() {
        let Some(name) = s.labels.get(entity) else {
            continue;
        };
        let v: Vec<f64> = s
            .values
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if !v.is_empty() {
            out.insert(name.to_string(), v.iter().sum::<f64>() / v.len() as f64);
        }
    }
    Ok(out)
}

/// The `n` largest movers of `cluster` between `[from, to]` and the same range `shift_ms`
/// earlier, over every family with data.
pub async fn top_movers(
    store: &Store,
    cluster: &str,
    from: Timestamp,
    to: Timestamp,
    shift_ms: i64,
    n: usize,
) -> Result<Vec<Mover>, QueryError> {
    // About 24 points per window: a mean, not a shape, is compared, and a step of an hour over a
    // day lets the 5-minute rollup answer instead of the raw samples.
    let step = ((to - from) / 24).max(60_000);
    let window_s = (2 * step / 1000).max(60);
    let m = format!(
        "cluster=\"{}\"",
        cluster.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let mut all = Vec::new();
    for fam in FAMILIES {
        let text = fam.text(&m, window_s);
        let now = means(store, &text, fam.entity, from, to, step).await?;
        if now.is_empty() {
            continue;
        }
        let then = means(
            store,
            &text,
            fam.entity,
            from - shift_ms,
            to - shift_ms,
            step,
        )
        .await?;
        all.extend(rank_family(fam, &now, &then));
    }
    all.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.entity.cmp(&b.entity))
    });
    all.truncate(n);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: &[(&str, f64)]) -> HashMap<String, f64> {
        v.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn a_doubled_large_entity_outranks_a_tiny_one_with_a_bigger_ratio() {
        let fam = &FAMILIES[0];
        let now = map(&[("b1", 100.0), ("b2", 0.5), ("b3", 50.0)]);
        let then = map(&[("b1", 50.0), ("b2", 0.01), ("b3", 50.0)]);
        let mut r = rank_family(fam, &now, &then);
        r.sort_by(|a, b| b.score.total_cmp(&a.score));
        assert_eq!(r[0].entity, "b1");
        assert!((r[0].change_pct().unwrap() - 100.0).abs() < 1e-9);
        // b3 did not move: not a mover at all.
        assert!(r.iter().all(|m| m.entity != "b3"));
        // b2 moved, but by less than its peers' scale.
        assert!(r[1].score < r[0].score && r[1].entity == "b2");
    }

    #[test]
    fn an_entity_without_last_weeks_data_is_not_a_mover() {
        let fam = &FAMILIES[4];
        assert!(rank_family(fam, &map(&[("t", 10.0)]), &map(&[])).is_empty());
        // Positive control: with last week's data it is one, and from zero it has no percentage.
        let r = rank_family(fam, &map(&[("t", 10.0)]), &map(&[("t", 0.0)]));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].change_pct(), None);
        assert!(rank_family(fam, &map(&[("t", 0.0)]), &map(&[("t", 0.0)])).is_empty());
    }

    #[test]
    fn the_score_is_symmetric_in_direction() {
        assert!((score(200.0, 100.0, 1.0) - score(100.0, 200.0, 1.0)).abs() < 1e-12);
        assert_eq!(score(5.0, 5.0, 0.0), 0.0);
    }
}
