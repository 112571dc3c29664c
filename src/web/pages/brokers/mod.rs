//! The broker pages, from the JMX source's series (jmx_exporter's Kafka names, see
//! notes/jmx-contract): `/brokers` (a row per broker with sparklines and how far each broker is
//! from the others, under a line per cluster: brokers up, active controllers, offline and
//! under-replicated partitions, the KRaft quorum) and `/brokers/{cluster}/{broker}` (one broker
//! over the range, every chart from [`PANELS`]). Also the overview tile of the JMX source.
//!
//! A broker is an `instance` whose series carry `job="kafka-broker"`; pages read only the store.

mod list;
mod show;

use super::Ctx;
use crate::catalogue::Unit;
use crate::model::Matcher;
use crate::store::StoredEvent;
use crate::web::error::WebResult;
use crate::web::format::urlencode;
use crate::web::panels::{Panel, instant};
use crate::web::sources::{Tile, TileFuture, WebSource};
use crate::web::timerange::TimeRange;
use axum::Router;
use axum::routing::get;
use std::collections::BTreeMap;

pub const WEB: WebSource = WebSource {
    key: "jmx",
    nav: Some(("brokers", "Brokers", "/brokers")),
    routes,
    overview: tile,
    event_link: |e, range| {
        // The JMX source's broker events name the broker's instance (`jmx_…` kinds). A JVM
        // restart may be any JVM's (a client's, ZooKeeper's): no broker page to send it to.
        if !e.event.kind.starts_with("jmx_")
            || e.event.kind == "jmx_jvm_restart"
            || e.event.subject.is_empty()
        {
            return None;
        }
        let instance = e.event.subject.as_str();
        Some(format!(
            "{}?{}",
            BrokerId {
                cluster: e.event.cluster.clone(),
                instance: instance.to_string(),
            }
            .path(),
            range.query()
        ))
    },
};

/// The `job` label of broker series.
pub const BROKER_JOB: &str = "kafka-broker";

fn routes(router: Router<Ctx>) -> Router<Ctx> {
    router
        .route("/brokers", get(list::list))
        .route("/brokers/{cluster}/{broker}", get(show::show))
}

/// One broker as stored: its cluster and the JMX target's address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BrokerId {
    pub cluster: String,
    pub instance: String,
}

impl BrokerId {
    pub fn path(&self) -> String {
        format!(
            "/brokers/{}/{}",
            urlencode(&self.cluster),
            urlencode(&self.instance)
        )
    }

    /// The matchers of its series, for `{sel}` in a panel's query.
    pub fn selector(&self) -> String {
        format!(
            "cluster=\"{}\",job=\"{BROKER_JOB}\",instance=\"{}\"",
            q(&self.cluster),
            q(&self.instance)
        )
    }
}

/// A label value inside a PromQL string literal.
pub(crate) fn q(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Series every broker writes under either preset family's JVM collectors or the broker rules;
/// the newest of them says whether the broker still reports.
pub(crate) const CORE: [&str; 5] = [
    "jvm_memory_bytes_used",
    "kafka_server_replicamanager_partitioncount",
    "kafka_controller_kafkacontroller_activecontrollercount",
    "kafka_server_brokertopicmetrics_bytesin_total",
    "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
];

/// Every broker in the store (of one cluster when given), sorted by cluster and instance: the
/// instances with one of the [`CORE`] series (a broker has thousands of per-topic and
/// per-partition series; listing them all to find ten instances is the slow way), or, when no
/// broker has any of them (a custom rule set), with any series.
pub fn brokers(ctx: &Ctx, cluster: Option<&str>) -> Vec<BrokerId> {
    let mut matchers = vec![Matcher::eq("job", BROKER_JOB)];
    if let Some(c) = cluster {
        matchers.push(Matcher::eq("cluster", c));
    }
    let mut found: Vec<_> = CORE
        .iter()
        .flat_map(|m| ctx.store.select(Some(m), &matchers))
        .collect();
    if found.is_empty() {
        found = ctx.store.select(None, &matchers);
    }
    let mut out: Vec<BrokerId> = found
        .into_iter()
        .filter_map(|i| {
            Some(BrokerId {
                cluster: i.key.labels.get("cluster")?.to_string(),
                instance: i.key.labels.get("instance")?.to_string(),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The single value of an instant query (the first series), if any.
pub(crate) async fn scalar(ctx: &Ctx, text: &str, at: i64) -> WebResult<Option<f64>> {
    Ok(instant(ctx, text, at)
        .await?
        .first()
        .and_then(|s| s.values.first().copied().flatten())
        .filter(|v| v.is_finite()))
}

/// One KRaft quorum member at the range's end, from `kafka_server_raft_metrics_*`.
#[derive(Clone, Debug, PartialEq)]
pub struct Voter {
    pub instance: String,
    pub job: String,
    /// `leader`, `follower`, `candidate`, `voted`, `unattached`, `resigned` (raft-metrics'
    /// `current-state`); empty when the state series has no sample at the end.
    pub state: String,
    /// The node id this member believes leads the quorum (−1: none).
    pub leader: Option<f64>,
    pub epoch: Option<f64>,
}

/// A cluster's health line: what the brokers say at the range's end.
#[derive(Clone, Debug, Default)]
pub struct ClusterHealth {
    pub brokers: usize,
    /// Brokers whose JMX scrape succeeded last (`up{source="jmx"}`), when the collector wrote it;
    /// otherwise the brokers with a recent sample.
    pub up: usize,
    pub stale: Vec<String>,
    /// Sum of `ActiveControllerCount` over the brokers (must be exactly 1); None without samples.
    pub controllers: Option<f64>,
    pub offline: Option<f64>,
    pub urp: Option<f64>,
    pub voters: Vec<Voter>,
}

impl ClusterHealth {
    /// Why the cluster is not healthy, worst first, with its class.
    pub fn verdict(&self) -> (&'static str, Vec<String>) {
        let mut class = "ok";
        let mut reasons = Vec::new();
        let mut raise = |c: &'static str| {
            if crate::web::sources::class_rank(c) > crate::web::sources::class_rank(class) {
                class = c;
            }
        };
        if let Some(o) = self.offline.filter(|o| *o > 0.0) {
            reasons.push(format!("{o:.0} offline partitions"));
            raise("critical");
        }
        match self.controllers {
            Some(c) if c != 1.0 => {
                reasons.push(format!("{c:.0} active controllers (must be exactly 1)"));
                raise("critical");
            }
            None if self.brokers > 0 => {
                reasons.push("no broker reports ActiveControllerCount".into());
                raise("unknown");
            }
            _ => {}
        }
        if let Some(u) = self.urp.filter(|u| *u > 0.0) {
            reasons.push(format!("{u:.0} under-replicated partitions"));
            raise("warning");
        }
        if self.up < self.brokers {
            reasons.push(format!("{} of {} brokers up", self.up, self.brokers));
            raise("warning");
        }
        if !self.stale.is_empty() {
            reasons.push(format!("stale: {}", self.stale.join(", ")));
            raise("warning");
        }
        let leaders: Vec<&Voter> = self.voters.iter().filter(|v| v.state == "leader").collect();
        if !self.voters.is_empty() && leaders.len() != 1 {
            reasons.push(format!(
                "{} KRaft quorum members say they lead (must be exactly 1)",
                leaders.len()
            ));
            raise("critical");
        }
        (class, reasons)
    }
}

/// The KRaft quorum members of a cluster: every instance with `raft-metrics`.
pub async fn voters(ctx: &Ctx, cluster: &str, at: i64) -> WebResult<Vec<Voter>> {
    let c = format!("cluster=\"{}\"", q(cluster));
    let stored = ctx.store.select(
        Some("kafka_server_raft_metrics_current_state_info"),
        &[Matcher::eq("cluster", cluster)],
    );
    if stored.is_empty() {
        return Ok(vec![]);
    }
    let mut by: BTreeMap<String, Voter> = BTreeMap::new();
    for s in stored {
        let instance = s.key.labels.get("instance").unwrap_or("").to_string();
        by.entry(instance.clone()).or_insert(Voter {
            job: s.key.labels.get("job").unwrap_or("").to_string(),
            instance,
            state: String::new(),
            leader: None,
            epoch: None,
        });
    }
    for s in instant(
        ctx,
        &format!("kafka_server_raft_metrics_current_state_info{{{c}}} == 1"),
        at,
    )
    .await?
    {
        if let (Some(i), Some(state)) = (s.labels.get("instance"), s.labels.get("state"))
            && let Some(v) = by.get_mut(i)
        {
            v.state = state.to_string();
        }
    }
    for (metric, leader) in [
        ("kafka_server_raft_metrics_current_leader", true),
        ("kafka_server_raft_metrics_current_epoch", false),
    ] {
        for s in instant(ctx, &format!("{metric}{{{c}}}"), at).await? {
            let value = s
                .values
                .first()
                .copied()
                .flatten()
                .filter(|v| v.is_finite());
            if let Some(v) = s.labels.get("instance").and_then(|i| by.get_mut(i)) {
                if leader {
                    v.leader = value;
                } else {
                    v.epoch = value;
                }
            }
        }
    }
    Ok(by.into_values().collect())
}

/// The health line of one cluster at `range`'s end; None when it has no broker series.
pub async fn cluster_health(
    ctx: &Ctx,
    cluster: &str,
    range: &TimeRange,
) -> WebResult<Option<ClusterHealth>> {
    let rows = list::rows(ctx, Some(cluster), range, false).await?;
    let voters = voters(ctx, cluster, range.to).await?;
    if rows.is_empty() && voters.is_empty() {
        return Ok(None);
    }
    Ok(Some(list::health_of(&rows, voters)))
}

fn tile<'a>(
    ctx: &'a Ctx,
    cluster: &'a str,
    range: &'a TimeRange,
    _events: &'a [StoredEvent],
) -> TileFuture<'a> {
    Box::pin(async move {
        let Some(h) = cluster_health(ctx, cluster, range).await? else {
            return Ok(None);
        };
        Ok(Some(tile_of(&h, cluster, range)))
    })
}

/// The overview tile of a cluster's health line.
pub fn tile_of(h: &ClusterHealth, cluster: &str, range: &TimeRange) -> Tile {
    let (class, reasons) = h.verdict();
    let n = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
    let mut facts = vec![
        (
            "Brokers up".to_string(),
            format!("{} / {}", h.up, h.brokers),
        ),
        ("Active controllers".into(), n(h.controllers)),
        ("Offline partitions".into(), n(h.offline)),
        ("Under-replicated".into(), n(h.urp)),
    ];
    for v in &h.voters {
        facts.push((format!("KRaft {}", v.instance), voter_text(v)));
    }
    Tile {
        title: "Brokers (JMX)".into(),
        link: format!("/brokers?cluster={}&{}", urlencode(cluster), range.query()),
        class,
        reasons,
        facts,
        charts: vec![],
        strip: vec![],
    }
}

/// `leader, epoch 7` / `follower of 1, epoch 7`.
pub fn voter_text(v: &Voter) -> String {
    let state = if v.state.is_empty() {
        "no state at the end of the range"
    } else {
        v.state.as_str()
    };
    let mut out = state.to_string();
    if v.state != "leader"
        && let Some(l) = v.leader
    {
        if l < 0.0 {
            out.push_str(", no leader known");
        } else {
            out.push_str(&format!(", leader node {l:.0}"));
        }
    }
    if let Some(e) = v.epoch {
        out.push_str(&format!(", epoch {e:.0}"));
    }
    out
}

use Unit::{Bytes, Milliseconds, None as Plain, Ratio};

use crate::web::panels::panel;

/// The charts of a broker page, in order. `{sel}` is the broker's matchers
/// ([`BrokerId::selector`]); the all-topics `BrokerTopicMetrics` beans have no `topic` label,
/// so `topic=""` keeps the per-topic series out of the totals.
pub const PANELS: &[Panel] = &[
    panel(
        "Bytes in and out",
        "label_replace(sum(rate(kafka_server_brokertopicmetrics_bytesin_total{{sel},topic=\"\"}[{w}])), \"what\", \"in\", \"\", \"\") or label_replace(sum(rate(kafka_server_brokertopicmetrics_bytesout_total{{sel},topic=\"\"}[{w}])), \"what\", \"out\", \"\", \"\")",
        "what",
        "",
        Bytes,
        true,
        "Bytes produced to this broker and fetched from it (out includes follower fetches)",
    ),
    panel(
        "Messages in",
        "sum(rate(kafka_server_brokertopicmetrics_messagesin_total{{sel},topic=\"\"}[{w}]))",
        "",
        "",
        Plain,
        true,
        "Records appended to this broker's leader partitions per second",
    ),
    panel(
        "Bytes in by topic (top 10)",
        "topk(10, sum by (topic) (rate(kafka_server_brokertopicmetrics_bytesin_total{{sel},topic!=\"\"}[{w}])))",
        "topic",
        "",
        Bytes,
        true,
        "The topics that bring the most bytes to this broker",
    ),
    panel(
        "Requests by type",
        "sum by (request) (rate(kafka_network_requestmetrics_requests_total{{sel}}[{w}]))",
        "request",
        "",
        Plain,
        true,
        "Requests per second per API (Produce, FetchConsumer, FetchFollower, Metadata …)",
    ),
    panel(
        "Errors by type",
        "sum by (request, error) (rate(kafka_network_requestmetrics_errors_total{{sel},error!=\"NONE\"}[{w}]))",
        "",
        "",
        Plain,
        true,
        "Error responses per second by API and error code (NONE left out)",
    ),
    panel(
        "Produce total time, p50 and p99",
        "kafka_network_requestmetrics_totaltimems{{sel},request=\"Produce\",quantile=~\"0.50|0.99\"}",
        "quantile",
        "",
        Milliseconds,
        false,
        "Time from receiving a produce request to sending its response (acks=all waits for followers)",
    ),
    panel(
        "Produce time by phase, p99",
        "label_replace({__name__=~\"kafka_network_requestmetrics_(requestqueue|local|remote|responsequeue|responsesend)timems\",{sel},request=\"Produce\",quantile=\"0.99\"}, \"phase\", \"$1\", \"__name__\", \"kafka_network_requestmetrics_(.+)timems\")",
        "phase",
        "",
        Milliseconds,
        false,
        "Where produce time goes: waiting for a handler (requestqueue), writing the log (local), waiting for followers (remote), for a network thread (responsequeue), sending (responsesend)",
    ),
    panel(
        "Consumer fetch total time, p50 and p99",
        "kafka_network_requestmetrics_totaltimems{{sel},request=\"FetchConsumer\",quantile=~\"0.50|0.99\"}",
        "quantile",
        "",
        Milliseconds,
        false,
        "Time to answer consumers' fetches, including fetch.max.wait.ms spent waiting for data",
    ),
    panel(
        "Consumer fetch time by phase, p99",
        "label_replace({__name__=~\"kafka_network_requestmetrics_(requestqueue|local|remote|responsequeue|responsesend)timems\",{sel},request=\"FetchConsumer\",quantile=\"0.99\"}, \"phase\", \"$1\", \"__name__\", \"kafka_network_requestmetrics_(.+)timems\")",
        "phase",
        "",
        Milliseconds,
        false,
        "Remote is long-poll waiting for data; local is reading the log (slow when reads miss the page cache)",
    ),
    panel(
        "Follower fetch total time, p50 and p99",
        "kafka_network_requestmetrics_totaltimems{{sel},request=\"FetchFollower\",quantile=~\"0.50|0.99\"}",
        "quantile",
        "",
        Milliseconds,
        false,
        "Time to answer replica fetches from the followers of this broker's leaders",
    ),
    panel(
        "Follower fetch time by phase, p99",
        "label_replace({__name__=~\"kafka_network_requestmetrics_(requestqueue|local|remote|responsequeue|responsesend)timems\",{sel},request=\"FetchFollower\",quantile=\"0.99\"}, \"phase\", \"$1\", \"__name__\", \"kafka_network_requestmetrics_(.+)timems\")",
        "phase",
        "",
        Milliseconds,
        false,
        "A slow follower fetch delays acks=all produces on the leader",
    ),
    panel(
        "Thread idle",
        "label_replace(kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent{{sel}}, \"what\", \"request handlers\", \"\", \"\") or label_replace(kafka_network_socketserver_networkprocessoravgidlepercent{{sel}}, \"what\", \"network processors\", \"\", \"\")",
        "what",
        "",
        Ratio,
        false,
        "Share of time the I/O and network threads are idle; below 30 % the broker is saturated",
    ),
    panel(
        "Request and response queues",
        "{__name__=~\"kafka_network_requestchannel_(request|response)queuesize\",{sel},processor=\"\"}",
        "__name__",
        "kafka_network_requestchannel_",
        Plain,
        false,
        "Requests waiting for a handler thread and responses waiting for a network thread",
    ),
    panel(
        "ISR shrinks and expands",
        "label_replace(rate(kafka_server_replicamanager_isrshrinks_total{{sel}}[{w}]), \"what\", \"shrinks\", \"\", \"\") or label_replace(rate(kafka_server_replicamanager_isrexpands_total{{sel}}[{w}]), \"what\", \"expands\", \"\", \"\")",
        "what",
        "",
        Plain,
        true,
        "Replicas leaving and rejoining the in-sync set; shrinks without expands mean a follower fell behind",
    ),
    panel(
        "Under-replicated and under-min-ISR partitions",
        "{__name__=~\"kafka_server_replicamanager_(underreplicatedpartitions|underminisrpartitioncount)\",{sel}}",
        "__name__",
        "kafka_server_replicamanager_",
        Plain,
        false,
        "Leader partitions of this broker missing replicas; under min ISR, acks=all produces fail",
    ),
    panel(
        "Partitions and leaders",
        "{__name__=~\"kafka_server_replicamanager_(partitioncount|leadercount)\",{sel}}",
        "__name__",
        "kafka_server_replicamanager_",
        Plain,
        false,
        "Replicas hosted and partitions led by this broker: compare across brokers for balance",
    ),
    panel(
        "Connections by listener",
        "sum by (listener) (kafka_server_socket_server_metrics_connection_count{{sel}})",
        "listener",
        "",
        Plain,
        false,
        "Open client and inter-broker connections per listener",
    ),
    panel(
        "Purgatory size",
        "kafka_server_delayedoperationpurgatory_purgatorysize{{sel}}",
        "delayedOperation",
        "",
        Plain,
        false,
        "Requests parked until they can complete: acks=all produces waiting for followers, long-poll fetches",
    ),
    panel(
        "Log flush rate",
        "rate(kafka_log_logflushstats_logflushrateandtimems_count{{sel}}[{w}])",
        "",
        "",
        Plain,
        true,
        "Log flushes (fsync) per second",
    ),
    panel(
        "Log flush time, p99",
        "kafka_log_logflushstats_logflushrateandtimems{{sel},quantile=\"0.99\"}",
        "quantile",
        "",
        Milliseconds,
        false,
        "How long a flush to disk takes at the 99th percentile",
    ),
    panel(
        "JVM heap",
        "{__name__=~\"jvm_memory_bytes_(used|committed|max)\",{sel},area=\"heap\"}",
        "__name__",
        "jvm_memory_bytes_",
        Bytes,
        false,
        "Heap used against committed and maximum; Kafka keeps a small heap and leaves memory to the page cache",
    ),
    panel(
        "GC time",
        "sum by (gc) (rate(jvm_gc_collection_seconds_sum{{sel}}[{w}]))",
        "gc",
        "",
        Ratio,
        false,
        "Share of wall time spent in garbage collection per collector; pauses cause ISR shrinks",
    ),
    panel(
        "GC collections",
        "sum by (gc) (rate(jvm_gc_collection_seconds_count{{sel}}[{w}]))",
        "gc",
        "",
        Plain,
        true,
        "Collections per second per collector",
    ),
    panel(
        "JVM threads",
        "jvm_threads_current{{sel}}",
        "",
        "",
        Plain,
        false,
        "Live threads of the broker's JVM",
    ),
    panel(
        "Open file descriptors",
        "{__name__=~\"process_(open|max)_fds\",{sel}}",
        "__name__",
        "process_",
        Plain,
        false,
        "One per log segment and index file plus one per socket, against the limit",
    ),
    panel(
        "Process CPU",
        "rate(process_cpu_seconds_total{{sel}}[{w}])",
        "",
        "",
        Ratio,
        false,
        "CPU seconds per second used by the broker's JVM (100 % = one core busy)",
    ),
    panel(
        "Disk reads and writes (KIP-551)",
        "label_replace(rate(kafka_server_kafkaserver_linux_disk_read_bytes{{sel}}[{w}]), \"what\", \"read\", \"\", \"\") or label_replace(rate(kafka_server_kafkaserver_linux_disk_write_bytes{{sel}}[{w}]), \"what\", \"write\", \"\", \"\")",
        "what",
        "",
        Bytes,
        true,
        "Bytes the broker process read from and wrote to disk; reads rising with steady bytes out are page-cache misses",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn find(title: &str) -> &'static Panel {
        PANELS
            .iter()
            .find(|p| p.title == title)
            .unwrap_or_else(|| panic!("no panel {title}"))
    }

    /// Each panel's unit matches what its query returns: bytes for byte counters, milliseconds
    /// for the request and flush timers, a ratio for idle and GC shares, and per-second rates
    /// exactly where the query takes a rate of a count.
    #[test]
    fn every_panel_has_the_unit_of_its_query() {
        for p in PANELS {
            let text = p.text("cluster=\"c\",instance=\"b:1\"", 60_000);
            promql_parser::parser::parse(&text)
                .unwrap_or_else(|e| panic!("{}: {e}: {text}", p.title));
            assert!(!p.help.is_empty(), "{} has no help", p.title);
            let q = p.query;
            let expected = if q.contains("timems") && !q.contains("timems_count") {
                Milliseconds
            } else if q.contains("_percent")
                || q.contains("jvm_gc_collection_seconds_sum")
                || q.contains("cpu_seconds")
            {
                Ratio
            } else if q.contains("bytes") && !q.contains("fds") {
                Bytes
            } else {
                Plain
            };
            assert_eq!(p.unit, expected, "{}", p.title);
            // A rate of a counter of things is per second; a rate of seconds is a share (GC,
            // CPU), not "per second".
            let rate = q.contains("rate(");
            let of_seconds = q.contains("seconds_sum") || q.contains("cpu_seconds");
            assert_eq!(p.per_second, rate && !of_seconds, "{}", p.title);
        }
        assert_eq!(find("Bytes in and out").unit, Bytes);
        assert!(find("Bytes in and out").per_second);
        assert_eq!(find("Produce time by phase, p99").unit, Milliseconds);
        assert_eq!(find("Thread idle").unit, Ratio);
    }

    #[test]
    fn the_broker_page_covers_the_issue_list() {
        for title in [
            "Bytes in and out",
            "Requests by type",
            "Errors by type",
            "Produce total time, p50 and p99",
            "Consumer fetch time by phase, p99",
            "Follower fetch time by phase, p99",
            "Thread idle",
            "Request and response queues",
            "ISR shrinks and expands",
            "Partitions and leaders",
            "Connections by listener",
            "Purgatory size",
            "Log flush rate",
            "Log flush time, p99",
            "JVM heap",
            "GC time",
            "JVM threads",
            "Open file descriptors",
            "Process CPU",
            "Disk reads and writes (KIP-551)",
        ] {
            find(title);
        }
        // Every phase of the three request types.
        for p in PANELS.iter().filter(|p| p.title.contains("by phase")) {
            for phase in [
                "requestqueue",
                "local",
                "remote",
                "responsequeue",
                "responsesend",
            ] {
                assert!(p.query.contains(phase), "{} lacks {phase}", p.title);
            }
        }
    }

    #[test]
    fn a_controller_count_other_than_one_is_critical_and_one_is_not() {
        let mut h = ClusterHealth {
            brokers: 3,
            up: 3,
            controllers: Some(2.0),
            offline: Some(0.0),
            urp: Some(0.0),
            ..Default::default()
        };
        let (class, reasons) = h.verdict();
        assert_eq!(class, "critical");
        assert!(reasons[0].contains("2 active controllers"), "{reasons:?}");
        h.controllers = Some(1.0);
        assert_eq!(h.verdict(), ("ok", vec![]));
        h.controllers = Some(0.0);
        assert_eq!(h.verdict().0, "critical");
    }

    #[test]
    fn voters_read_as_text() {
        let v = Voter {
            instance: "c1:9999".into(),
            job: "kafka-controller".into(),
            state: "follower".into(),
            leader: Some(2.0),
            epoch: Some(7.0),
        };
        assert_eq!(voter_text(&v), "follower, leader node 2, epoch 7");
        let l = Voter {
            state: "leader".into(),
            ..v.clone()
        };
        assert_eq!(voter_text(&l), "leader, epoch 7");
    }

    #[test]
    fn the_tile_shows_the_quorum_next_to_the_controller_check() {
        let range = TimeRange::last("1h", 1_000_000_000_000).unwrap();
        let voter = |instance: &str, state: &str| Voter {
            instance: instance.into(),
            job: "kafka-controller".into(),
            state: state.into(),
            leader: Some(1.0),
            epoch: Some(7.0),
        };
        let mut h = ClusterHealth {
            brokers: 2,
            up: 2,
            controllers: Some(1.0),
            offline: Some(0.0),
            urp: Some(0.0),
            voters: vec![voter("c1:9998", "leader"), voter("c2:9998", "follower")],
            ..Default::default()
        };
        let t = tile_of(&h, "lab a", &range);
        assert_eq!(t.class, "ok", "{:?}", t.reasons);
        assert!(
            t.link.starts_with("/brokers?cluster=lab%20a&"),
            "{}",
            t.link
        );
        let fact = |t: &Tile, k: &str| {
            t.facts
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no fact {k}"))
        };
        assert_eq!(fact(&t, "KRaft c1:9998"), "leader, epoch 7");
        assert_eq!(
            fact(&t, "KRaft c2:9998"),
            "follower, leader node 1, epoch 7"
        );
        assert_eq!(fact(&t, "Active controllers"), "1");
        // Two members claiming leadership (a split quorum) is critical.
        h.voters[1].state = "leader".into();
        let t = tile_of(&h, "lab", &range);
        assert_eq!(t.class, "critical");
        assert!(
            t.reasons_text().contains("2 KRaft quorum members"),
            "{:?}",
            t.reasons
        );
    }
}
