//! The series the kafka source writes: kafka_exporter's names (danielqsj/kafka_exporter), so
//! dashboards and alerts written for it read ours, plus `kafka_scrape_requests`.

use crate::catalogue::{MetricDef, MetricType, SourceCatalogue, Unit};

const fn def(name: &'static str, kind: MetricType, help: &'static str) -> MetricDef {
    MetricDef {
        name,
        kind,
        unit: Unit::None,
        help,
    }
}

use MetricType::{Counter, Gauge, Info, State};

pub const METRICS: &[MetricDef] = &[
    def("kafka_brokers", Gauge, "Brokers in the cluster's metadata"),
    def(
        "kafka_broker_info",
        Info,
        "One per broker: its id, advertised address and rack",
    ),
    def(
        "kafka_controller_id",
        Gauge,
        "Broker id of the controller (-1 when unknown)",
    ),
    def("kafka_topic_partitions", Gauge, "Partitions of the topic"),
    def(
        "kafka_topic_partition_current_offset",
        Gauge,
        "Latest offset (log end, high watermark) of the partition",
    ),
    def(
        "kafka_topic_partition_oldest_offset",
        Gauge,
        "Earliest offset still in the partition's log",
    ),
    def(
        "kafka_topic_partition_leader",
        Gauge,
        "Broker id of the partition's leader (-1: none)",
    ),
    def(
        "kafka_topic_partition_replicas",
        Gauge,
        "Replicas of the partition",
    ),
    def(
        "kafka_topic_partition_in_sync_replica",
        Gauge,
        "In-sync replicas of the partition",
    ),
    def(
        "kafka_topic_partition_leader_is_preferred",
        Gauge,
        "1 when the leader is the preferred (first) replica",
    ),
    def(
        "kafka_topic_partition_under_replicated_partition",
        Gauge,
        "1 when fewer replicas are in sync than assigned",
    ),
    def(
        "kafka_consumergroup_current_offset",
        Gauge,
        "Offset the group committed for the partition (absent without a commit)",
    ),
    def(
        "kafka_consumergroup_lag",
        Gauge,
        "Latest offset minus committed offset, floored at 0",
    ),
    def(
        "kafka_consumergroup_commit_ahead",
        Gauge,
        "1 when the committed offset is past the latest offset (lag shown as 0)",
    ),
    def(
        "kafka_consumergroup_current_offset_sum",
        Gauge,
        "Sum of the group's committed offsets over the topic's partitions",
    ),
    def(
        "kafka_consumergroup_lag_sum",
        Gauge,
        "Sum of the group's lag over the topic's partitions",
    ),
    def("kafka_consumergroup_members", Gauge, "Members of the group"),
    def(
        "kafka_consumergroup_generation",
        Gauge,
        "Generation of the group, when its members' subscriptions carry it",
    ),
    def(
        "kafka_consumergroup_state",
        State,
        "Group state: 1 for the current one (Stable, Empty, PreparingRebalance, CompletingRebalance, Dead, Unknown)",
    ),
    def(
        "kafka_scrape_requests",
        Gauge,
        "Kafka requests one poll of the cluster sent (ApiVersions on new connections included)",
    ),
    // Read from __consumer_offsets (commits = "offsets-topic" or "auto"), see offsets_topic.rs.
    def(
        "kafka_consumergroup_commits_total",
        Counter,
        "Commit records of the group for the partition read from __consumer_offsets since kafkascope started",
    ),
    def(
        "kafkascope_offsets_topic_behind_records",
        Gauge,
        "Records of the __consumer_offsets partition not read yet (log end minus read position)",
    ),
    def(
        "kafkascope_offsets_topic_records_total",
        Counter,
        "Records read from __consumer_offsets since kafkascope started",
    ),
    def(
        "kafkascope_offsets_topic_decode_errors_total",
        Counter,
        "Records or batches of __consumer_offsets that could not be decoded (skipped)",
    ),
];

pub const CATALOGUE: SourceCatalogue = SourceCatalogue {
    metrics: METRICS,
    rule: None,
    family: None,
};
