//! Naming and kinds: how parsed ZooKeeper output becomes readings.
//!
//! - `mntr` keys keep their names (`zk_avg_latency`); AdminServer `monitor` keys get the `zk_`
//!   prefix first, so both paths land in the same series.
//! - Dynamic keys are normalised so series names do not explode: summary sets keyed by a top-level
//!   znode (`zk_avg_lab_write_per_namespace` → `zk_avg_write_per_namespace{namespace="lab"}`) or by
//!   a server id (`zk_p99_1_learner_handler_qp_time_ms` → `zk_p99_learner_handler_qp_time_ms{sid="1"}`),
//!   and counter/gauge sets keyed by namespace (`zk_lab_quota_count_usage_per_namespace` →
//!   `zk_quota_count_usage_per_namespace{namespace="lab"}`).
//! - Kinds: counters for the monotonic totals ZooKeeper keeps (a curated list taken from 3.8's
//!   `ServerMetrics` counters plus the packet counts), the `cnt`/`sum` members of summary families,
//!   and with the Prometheus metrics provider the `_count`/`_sum` of quantile families and
//!   `_total` names. Everything else is a gauge.
//! - `NaN` and infinite values are skipped: ZooKeeper prints `NaN` for a quantile of an empty
//!   window, and a missing sample is the honest record of "no observation" (storing NaN would
//!   chart as a gap anyway, and SQLite would turn it into NULL).
//! - Text values become info gauges: `zk_server_state{state="leader"} 1`, `zk_peer_state{state}`,
//!   `zk_version_info{version}`, with 0 for values this server reported before (see [`InfoHistory`]).

use super::parse::{Connection, Mntr, ServerStat, WatchSummary, split_zxid};
use crate::model::{MetricKind, Reading};
use std::collections::{BTreeSet, HashSet};

/// Monotonic totals of `mntr` (ZooKeeper 3.4–3.9). Taken from the `getCounter` registrations of
/// 3.8's `ServerMetrics`, plus the `ServerStats` totals that are exposed as gauges but only grow.
pub const COUNTERS: &[&str] = &[
    "zk_packets_received",
    "zk_packets_sent",
    "zk_fsync_threshold_exceed_count",
    "zk_auth_failed_count",
    "zk_non_mtls_local_conn_count",
    "zk_non_mtls_remote_conn_count",
    "zk_add_dead_watcher_stall_time",
    "zk_bytes_received_count",
    "zk_cnxn_closed_without_zk_server_running",
    "zk_commit_count",
    "zk_connection_drop_count",
    "zk_connection_rejected",
    "zk_connection_request_count",
    "zk_connection_revalidate_count",
    "zk_dead_watchers_cleared",
    "zk_dead_watchers_queued",
    "zk_diff_count",
    "zk_digest_mismatches_count",
    "zk_ensemble_auth_fail",
    "zk_ensemble_auth_skip",
    "zk_ensemble_auth_success",
    "zk_insecure_admin_count",
    "zk_large_requests_rejected",
    "zk_learner_commit_received_count",
    "zk_learner_proposal_received_count",
    "zk_looking_count",
    "zk_outstanding_changes_queued",
    "zk_outstanding_changes_removed",
    "zk_prep_processor_request_queued",
    "zk_proposal_count",
    "zk_quit_leading_due_to_disloyal_voter",
    "zk_request_commit_queued",
    "zk_request_throttle_wait_count",
    "zk_requests_not_forwarded_to_commit_processor",
    "zk_response_bytes",
    "zk_response_packet_cache_hits",
    "zk_response_packet_cache_misses",
    "zk_response_packet_get_children_cache_hits",
    "zk_response_packet_get_children_cache_misses",
    "zk_revalidate_count",
    "zk_sessionless_connections_expired",
    "zk_skip_learner_request_to_next_processor_count",
    "zk_snap_count",
    "zk_stale_replies",
    "zk_stale_requests",
    "zk_stale_requests_dropped",
    "zk_stale_sessions_expired",
    "zk_sync_processor_request_queued",
    "zk_throttled_ops",
    "zk_tls_handshake_exceeded",
    "zk_unrecoverable_error_count",
    "zk_unsuccessful_handshake",
    "zk_watch_bytes",
];

/// The members of a 3.6+ summary family, as `mntr` prefixes them.
const FAMILY_PREFIXES: &[&str] = &[
    "avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999",
];

/// Summary sets keyed by a top-level znode (`namespace`).
const NAMESPACE_SUMMARY_SETS: &[&str] = &["write_per_namespace", "read_per_namespace"];
/// Summary sets keyed by a server id (`sid`).
const SID_SUMMARY_SETS: &[&str] = &[
    "learner_handler_qp_size",
    "learner_handler_qp_time_ms",
    "ack_latency",
];
/// Counter and gauge sets keyed by namespace, printed without a family prefix.
const NAMESPACE_SETS: &[&str] = &[
    "quota_exceeded_error_per_namespace",
    "quota_count_limit_per_namespace",
    "quota_bytes_limit_per_namespace",
    "quota_count_usage_per_namespace",
    "quota_bytes_usage_per_namespace",
];

/// A metric name with the dynamic part of its key moved into a label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalised {
    pub metric: String,
    pub label: Option<(&'static str, String)>,
}

/// Normalises a dynamic `mntr` key (see the module docs); other keys come back unchanged.
pub fn normalise_key(key: &str) -> Normalised {
    let plain = Normalised {
        metric: key.to_string(),
        label: None,
    };
    let Some(body) = key.strip_prefix("zk_") else {
        return plain;
    };
    if let Some((prefix, rest)) = body.split_once('_')
        && FAMILY_PREFIXES.contains(&prefix)
    {
        for set in NAMESPACE_SUMMARY_SETS {
            if let Some(ns) = rest.strip_suffix(set).and_then(|r| r.strip_suffix('_'))
                && !ns.is_empty()
            {
                return Normalised {
                    metric: format!("zk_{prefix}_{set}"),
                    label: Some(("namespace", ns.to_string())),
                };
            }
        }
        for set in SID_SUMMARY_SETS {
            // `zk_avg_quorum_ack_latency` is a plain summary, not server "quorum": ids are digits.
            if let Some(sid) = rest.strip_suffix(set).and_then(|r| r.strip_suffix('_'))
                && !sid.is_empty()
                && sid.bytes().all(|b| b.is_ascii_digit())
            {
                return Normalised {
                    metric: format!("zk_{prefix}_{set}"),
                    label: Some(("sid", sid.to_string())),
                };
            }
        }
    }
    for set in NAMESPACE_SETS {
        if let Some(ns) = body.strip_suffix(set).and_then(|r| r.strip_suffix('_'))
            && !ns.is_empty()
        {
            return Normalised {
                metric: format!("zk_{set}"),
                label: Some(("namespace", ns.to_string())),
            };
        }
    }
    plain
}

/// The kind of a (normalised) `mntr` metric. `quantile_families` holds the base names that have
/// Prometheus-provider quantile lines in the same reply, whose `_count`/`_sum` are counters.
pub fn kind_of(metric: &str, quantile_families: &HashSet<String>) -> MetricKind {
    if COUNTERS.contains(&metric) || metric.starts_with("zk_cnt_") || metric.starts_with("zk_sum_")
    {
        return MetricKind::Counter;
    }
    if metric.ends_with("_total") {
        return MetricKind::Counter;
    }
    for suffix in ["_count", "_sum"] {
        if let Some(base) = metric.strip_suffix(suffix)
            && quantile_families.contains(base)
        {
            return MetricKind::Counter;
        }
    }
    MetricKind::Gauge
}

/// Makes a metric name safe for the store and for PromQL: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn sanitise_metric_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Label names the collector or the source set themselves; a tagged line's label of the same
/// name is kept as `exported_<name>`, as Prometheus does.
const RESERVED_LABELS: &[&str] = &["cluster", "server"];

fn label_name(name: &str) -> String {
    if RESERVED_LABELS.contains(&name) {
        format!("exported_{name}")
    } else {
        name.to_string()
    }
}

/// Readings of a parsed `mntr` (or AdminServer `monitor`), without the `server` label and
/// without the info gauges of text values (see [`InfoHistory`]).
pub fn mntr_readings(mntr: &Mntr) -> Vec<Reading> {
    let quantile_families: HashSet<String> = mntr
        .metrics
        .iter()
        .filter(|m| m.labels.iter().any(|(k, _)| k == "quantile"))
        .map(|m| sanitise_metric_name(&m.key))
        .collect();
    let mut out = Vec::with_capacity(mntr.metrics.len());
    for m in &mntr.metrics {
        if !m.value.is_finite() {
            continue;
        }
        let norm = normalise_key(&m.key);
        let metric = sanitise_metric_name(&norm.metric);
        let kind = kind_of(&metric, &quantile_families);
        let mut reading = Reading {
            metric,
            labels: Default::default(),
            kind,
            value: m.value,
            at: None,
        };
        if let Some((name, value)) = norm.label {
            reading.labels.insert(name, value);
        }
        for (k, v) in &m.labels {
            reading.labels.insert(label_name(k), v.clone());
        }
        out.push(reading);
    }
    out
}

/// Readings of `srvr`/`stat` under the `mntr` names, for servers whose `mntr` is not available
/// (3.3 and older, or a whitelist without `mntr`). The zxid is in [`zxid_readings`].
pub fn srvr_readings(s: &ServerStat) -> Vec<Reading> {
    let mut out = Vec::new();
    let mut gauge = |name: &str, v: Option<f64>| {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            out.push(Reading::gauge(name, v));
        }
    };
    gauge("zk_min_latency", s.latency_min);
    gauge("zk_avg_latency", s.latency_avg);
    gauge("zk_max_latency", s.latency_max);
    gauge("zk_num_alive_connections", s.connections);
    gauge("zk_outstanding_requests", s.outstanding);
    gauge("zk_znode_count", s.node_count);
    if let Some([last, min, max]) = s.proposal_sizes {
        gauge("zk_last_proposal_size", Some(last));
        gauge("zk_min_proposal_size", Some(min));
        gauge("zk_max_proposal_size", Some(max));
    }
    if let Some(v) = s.received {
        out.push(Reading::counter("zk_packets_received", v));
    }
    if let Some(v) = s.sent {
        out.push(Reading::counter("zk_packets_sent", v));
    }
    if s.connections.is_none() && !s.clients.is_empty() {
        // Before 3.4.4 `stat` has no Connections line; its client list is the count.
        out.push(Reading::gauge(
            "zk_num_alive_connections",
            s.clients.len() as f64,
        ));
    }
    out
}

/// `zk_zxid_epoch` and `zk_zxid_counter`: the high and low 32 bits, exact in `f64`.
pub fn zxid_readings(zxid: u64) -> [Reading; 2] {
    let (epoch, counter) = split_zxid(zxid);
    [
        Reading::gauge("zk_zxid_epoch", f64::from(epoch)),
        Reading::gauge("zk_zxid_counter", f64::from(counter)),
    ]
}

/// `wchs` / `watch_summary`: connections with watches, watched paths, total watches.
pub fn watch_readings(w: &WatchSummary) -> [Reading; 3] {
    [
        Reading::gauge("zk_watch_connections", w.connections),
        Reading::gauge("zk_watch_paths", w.paths),
        Reading::gauge("zk_watch_total", w.watches),
    ]
}

/// Aggregates of `cons` / `connections`: how many, how many requests queued on them, and the
/// worst connection's maximum latency.
pub fn connection_readings(conns: &[Connection]) -> Vec<Reading> {
    let mut out = vec![
        Reading::gauge("zk_cons_connections", conns.len() as f64),
        Reading::gauge(
            "zk_cons_queued_requests",
            conns.iter().filter_map(|c| c.queued).sum(),
        ),
    ];
    if let Some(max) = conns.iter().filter_map(|c| c.max_latency).reduce(f64::max) {
        out.push(Reading::gauge("zk_cons_max_latency", max));
    }
    out
}

/// Drops later duplicates of a series (same metric and labels), keeping the first: `mntr` comes
/// first, so its values win over the `srvr` fallbacks.
pub fn dedup(readings: &mut Vec<Reading>) {
    let mut seen = HashSet::new();
    readings.retain(|r| seen.insert((r.metric.clone(), r.labels.clone())));
}

/// Values of one text-valued series a server reported since start (its states, say), so the
/// info gauge can say 1 for the current value and 0 for the earlier ones: the latest sample with
/// value 1 is then unique.
#[derive(Clone, Debug, Default)]
pub struct InfoHistory {
    seen: BTreeSet<String>,
}

impl InfoHistory {
    /// Readings of `metric{label=current} 1` plus `metric{label=earlier} 0` for earlier values.
    pub fn readings(&mut self, metric: &str, label: &str, current: &str) -> Vec<Reading> {
        self.seen.insert(current.to_string());
        self.seen
            .iter()
            .map(|v| {
                Reading::gauge(metric, if v == current { 1.0 } else { 0.0 }).label(label, v.clone())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_keys_become_labels() {
        let n = normalise_key("zk_avg_lab_write_per_namespace");
        assert_eq!(n.metric, "zk_avg_write_per_namespace");
        assert_eq!(n.label, Some(("namespace", "lab".to_string())));
        let n = normalise_key("zk_p999_my_app_read_per_namespace");
        assert_eq!(n.metric, "zk_p999_read_per_namespace");
        assert_eq!(n.label, Some(("namespace", "my_app".to_string())));
        let n = normalise_key("zk_avg_1_learner_handler_qp_size");
        assert_eq!(n.metric, "zk_avg_learner_handler_qp_size");
        assert_eq!(n.label, Some(("sid", "1".to_string())));
        let n = normalise_key("zk_lab_quota_count_usage_per_namespace");
        assert_eq!(n.metric, "zk_quota_count_usage_per_namespace");
        assert_eq!(n.label, Some(("namespace", "lab".to_string())));
    }

    #[test]
    fn fixed_keys_that_look_dynamic_stay_put() {
        for key in [
            "zk_avg_quorum_ack_latency",
            "zk_max_file_descriptor_count",
            "zk_avg_latency",
            "zk_min_proposal_size",
            "zk_version",
        ] {
            assert_eq!(normalise_key(key).metric, key);
            assert_eq!(normalise_key(key).label, None);
        }
    }

    #[test]
    fn kinds_follow_the_curated_list_and_families() {
        let none = HashSet::new();
        assert_eq!(kind_of("zk_packets_received", &none), MetricKind::Counter);
        assert_eq!(kind_of("zk_cnt_readlatency", &none), MetricKind::Counter);
        assert_eq!(
            kind_of("zk_sum_write_per_namespace", &none),
            MetricKind::Counter
        );
        assert_eq!(kind_of("zk_p99_readlatency", &none), MetricKind::Gauge);
        assert_eq!(kind_of("zk_watch_count", &none), MetricKind::Gauge);
        assert_eq!(kind_of("zk_znode_count", &none), MetricKind::Gauge);
        let fams = HashSet::from(["zk_readlatency".to_string()]);
        assert_eq!(kind_of("zk_readlatency_count", &fams), MetricKind::Counter);
        assert_eq!(kind_of("zk_readlatency_sum", &fams), MetricKind::Counter);
        assert_eq!(
            kind_of("zk_jvm_threads_started_total", &none),
            MetricKind::Counter
        );
    }

    #[test]
    fn info_history_marks_only_the_current_value() {
        let mut h = InfoHistory::default();
        let r = h.readings("zk_server_state", "state", "follower");
        assert_eq!(r.len(), 1);
        let r = h.readings("zk_server_state", "state", "leader");
        let ones: Vec<_> = r.iter().filter(|r| r.value == 1.0).collect();
        assert_eq!(ones.len(), 1);
        assert_eq!(ones[0].labels.get("state"), Some("leader"));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn reserved_label_names_are_renamed() {
        let m = super::super::parse::parse_mntr("zk_x{server=\"a\",cluster=\"b\"}\t1\n").unwrap();
        let r = mntr_readings(&m);
        assert_eq!(r[0].labels.get("exported_server"), Some("a"));
        assert_eq!(r[0].labels.get("exported_cluster"), Some("b"));
        assert_eq!(r[0].labels.get("server"), None);
    }
}
