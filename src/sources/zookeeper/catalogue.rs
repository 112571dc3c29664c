//! What the ZooKeeper series measure. The well-known `mntr` keys are declared one by one (the
//! list an operator reads first, with help); every other `zk_*` name — ZooKeeper 3.6+ prints
//! hundreds, some generated from znode names or server ids — is described by [`describe`] from
//! ZooKeeper's own naming: summary families `zk_{avg,min,max,p50,p95,p99,p999,cnt,sum}_X`,
//! latencies and times in milliseconds, sizes in bytes.

use super::metrics::COUNTERS;
use crate::catalogue::{MetricDef, MetricMeta, MetricType, SourceCatalogue, Unit};

const fn def(name: &'static str, kind: MetricType, unit: Unit, help: &'static str) -> MetricDef {
    MetricDef {
        name,
        kind,
        unit,
        help,
    }
}

use MetricType::{Counter, Gauge, Info, State};
use Unit::{Bytes, Milliseconds, None as Plain};

pub const METRICS: &[MetricDef] = &[
    def(
        "zk_avg_latency",
        Gauge,
        Milliseconds,
        "Average request latency since the server started or its statistics were reset",
    ),
    def(
        "zk_min_latency",
        Gauge,
        Milliseconds,
        "Minimum request latency since start or reset",
    ),
    def(
        "zk_max_latency",
        Gauge,
        Milliseconds,
        "Maximum request latency since start or reset",
    ),
    def(
        "zk_packets_received",
        Counter,
        Plain,
        "Packets received from clients",
    ),
    def("zk_packets_sent", Counter, Plain, "Packets sent to clients"),
    def(
        "zk_num_alive_connections",
        Gauge,
        Plain,
        "Open client connections",
    ),
    def(
        "zk_outstanding_requests",
        Gauge,
        Plain,
        "Requests queued and not yet processed",
    ),
    def(
        "zk_server_state",
        State,
        Plain,
        "Server mode: 1 for the current one (leader, follower, observer, standalone)",
    ),
    def(
        "zk_peer_state",
        State,
        Plain,
        "Quorum peer state (e.g. following - broadcast): 1 for the current one",
    ),
    def(
        "zk_version_info",
        Info,
        Plain,
        "ZooKeeper version of the server",
    ),
    def("zk_znode_count", Gauge, Plain, "Znodes in the data tree"),
    def("zk_watch_count", Gauge, Plain, "Watches set by clients"),
    def("zk_ephemerals_count", Gauge, Plain, "Ephemeral znodes"),
    def(
        "zk_approximate_data_size",
        Gauge,
        Bytes,
        "Approximate size of the data tree",
    ),
    def(
        "zk_open_file_descriptor_count",
        Gauge,
        Plain,
        "Open file descriptors of the server process",
    ),
    def(
        "zk_max_file_descriptor_count",
        Gauge,
        Plain,
        "File descriptor limit of the server process",
    ),
    def(
        "zk_followers",
        Gauge,
        Plain,
        "Followers connected to the leader (3.4/3.5)",
    ),
    def(
        "zk_learners",
        Gauge,
        Plain,
        "Learners (followers and observers) connected to the leader",
    ),
    def(
        "zk_synced_followers",
        Gauge,
        Plain,
        "Followers in sync with the leader",
    ),
    def(
        "zk_synced_non_voting_followers",
        Gauge,
        Plain,
        "Non-voting followers in sync with the leader",
    ),
    def(
        "zk_synced_observers",
        Gauge,
        Plain,
        "Observers in sync with the leader",
    ),
    def(
        "zk_pending_syncs",
        Gauge,
        Plain,
        "Learners waiting for a sync from the leader",
    ),
    def(
        "zk_uptime",
        Gauge,
        Milliseconds,
        "Time since the server started",
    ),
    def(
        "zk_ruok",
        Gauge,
        Plain,
        "1 when the server answered imok to ruok",
    ),
    def(
        "zk_read_only",
        Gauge,
        Plain,
        "1 when the server is in read-only mode",
    ),
    def(
        "zk_zxid_epoch",
        Gauge,
        Plain,
        "Epoch (high 32 bits) of the last processed zxid",
    ),
    def(
        "zk_zxid_counter",
        Gauge,
        Plain,
        "Counter (low 32 bits) of the last processed zxid",
    ),
    def(
        "zk_leader_id",
        Gauge,
        Plain,
        "Server id of the leader this server follows",
    ),
    def(
        "zk_voting_members",
        Gauge,
        Plain,
        "Members of the voting view, by learner type",
    ),
    def(
        "zk_watch_connections",
        Gauge,
        Plain,
        "Connections with watches (wchs)",
    ),
    def("zk_watch_paths", Gauge, Plain, "Watched paths (wchs)"),
    def("zk_watch_total", Gauge, Plain, "Watches (wchs)"),
    def(
        "zk_cons_connections",
        Gauge,
        Plain,
        "Client connections listed by cons",
    ),
    def(
        "zk_cons_queued_requests",
        Gauge,
        Plain,
        "Requests queued on all client connections (cons)",
    ),
    def(
        "zk_cons_max_latency",
        Gauge,
        Milliseconds,
        "Largest maximum latency of any client connection (cons)",
    ),
];

pub const CATALOGUE: SourceCatalogue = SourceCatalogue {
    metrics: METRICS,
    rule: Some(describe),
    family: Some(family),
};

/// The family of a `zk_*` name: a 3.6+ statistic's summary (`zk_p99_fsynctime` →
/// `zk_fsynctime`), every other name its own (`zk_watch_count` is not a `_count` of anything).
pub fn family(metric: &str) -> Option<String> {
    let body = metric.strip_prefix("zk_")?;
    Some(match body.split_once('_') {
        Some((stat, name)) if STATS.contains(&stat) || stat == "cnt" || stat == "sum" => {
            format!("zk_{name}")
        }
        _ => metric.to_string(),
    })
}

/// Statistics of a 3.6+ summary family, as `mntr` prefixes them.
const STATS: &[&str] = &["avg", "min", "max", "p50", "p95", "p99", "p999"];

/// Describes a `zk_*` name from ZooKeeper's naming conventions.
pub fn describe(metric: &str) -> Option<MetricMeta> {
    let body = metric.strip_prefix("zk_")?;
    let (kind, quantity, help) = match body.split_once('_') {
        Some((stat, rest)) if STATS.contains(&stat) => (
            MetricType::Summary,
            rest,
            format!("{stat} of {rest} over ZooKeeper's summary window"),
        ),
        Some(("cnt", rest)) => (MetricType::Counter, rest, format!("Observations of {rest}")),
        // The sum has the unit of the quantity it adds up.
        Some(("sum", rest)) => (MetricType::Counter, rest, format!("Sum of {rest}")),
        _ if COUNTERS.contains(&metric) || body.ends_with("_total") => (
            MetricType::Counter,
            body,
            format!("ZooKeeper counter {body}"),
        ),
        _ => (MetricType::Gauge, body, format!("ZooKeeper {body}")),
    };
    let unit = if body.starts_with("cnt_") {
        Unit::None
    } else {
        unit_of(quantity, kind)
    };
    Some(MetricMeta::new(metric, kind, unit, help))
}

/// ZooKeeper's units by name: latencies and `*time*` in milliseconds, sizes and bytes in bytes.
fn unit_of(quantity: &str, kind: MetricType) -> Unit {
    // A count of events has no unit whatever it counts (`zk_diff_count`).
    if kind == MetricType::Counter && !quantity.contains("bytes") && quantity.ends_with("_count") {
        return Unit::None;
    }
    if quantity.ends_with("_bytes")
        || quantity.contains("bytes_received")
        || quantity.ends_with("data_size")
        || quantity.ends_with("proposal_size")
        || quantity.ends_with("response_size")
        || quantity == "response_bytes"
        || quantity == "watch_bytes"
    {
        Unit::Bytes
    } else if quantity.ends_with("_ms")
        || quantity.contains("latency")
        || quantity.ends_with("time")
        || quantity.ends_with("uptime")
    {
        Unit::Milliseconds
    } else {
        Unit::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_times_and_sizes_get_their_units() {
        let m = describe("zk_p99_write_commitproc_time_ms").unwrap();
        assert_eq!((m.kind, m.unit), (MetricType::Summary, Unit::Milliseconds));
        assert_eq!(
            describe("zk_avg_fsynctime").unwrap().unit,
            Unit::Milliseconds
        );
        assert_eq!(
            describe("zk_bytes_received_count").unwrap().unit,
            Unit::Bytes
        );
        assert_eq!(describe("zk_avg_proposal_size").unwrap().unit, Unit::Bytes);
        assert_eq!(
            describe("zk_sum_fsynctime").unwrap().unit,
            Unit::Milliseconds
        );
        assert_eq!(describe("zk_cnt_fsynctime").unwrap().unit, Unit::None);
        assert_eq!(
            describe("zk_avg_sync_processor_queue_size").unwrap().unit,
            Unit::None
        );
        assert_eq!(
            describe("zk_packets_received").unwrap().kind,
            MetricType::Counter
        );
        assert_eq!(describe("zk_watch_count").unwrap().unit, Unit::None);
        assert!(describe("node_load1").is_none(), "not ZooKeeper's");
    }

    #[test]
    fn families_strip_statistics_only() {
        assert_eq!(family("zk_p99_fsynctime").as_deref(), Some("zk_fsynctime"));
        assert_eq!(family("zk_cnt_fsynctime").as_deref(), Some("zk_fsynctime"));
        assert_eq!(family("zk_watch_count").as_deref(), Some("zk_watch_count"));
        assert_eq!(family("node_load1"), None, "not ZooKeeper's");
    }

    #[test]
    fn declared_metrics_agree_with_the_naming_rule_on_units() {
        for d in METRICS {
            let ruled = describe(d.name).unwrap();
            assert_eq!(ruled.unit, d.unit, "{}", d.name);
        }
    }
}
