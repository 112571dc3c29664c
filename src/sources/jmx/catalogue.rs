//! What the `jmx` source declares. Its series names come from rules (jmx_exporter's format, ours
//! or a team's own), so the type and help of each name arrive with every scrape as metadata; the
//! unit is read from the name by the conventions of Kafka's and the JVM's beans, which the
//! Prometheus suffixes alone would get wrong: Kafka's `…Percent` beans are 0–1 fractions, request
//! times end in `ms` without an underscore, client latencies are milliseconds without saying so.

use crate::catalogue::{MetricDef, MetricMeta, MetricType, SourceCatalogue, Unit};

pub const CATALOGUE: SourceCatalogue = SourceCatalogue {
    metrics: &[
        MetricDef {
            name: "kafkascope_jmx_beans",
            kind: MetricType::Gauge,
            unit: Unit::None,
            help: "MBeans read from the JVM in the last scrape",
        },
        MetricDef {
            name: "kafkascope_jmx_attribute_errors",
            kind: MetricType::Gauge,
            unit: Unit::None,
            help: "Attributes that could not be read in the last scrape (the getter threw, the bean vanished)",
        },
        MetricDef {
            name: "kafkascope_jmx_series_dropped",
            kind: MetricType::Gauge,
            unit: Unit::None,
            help: "Series over the target's max_series cut from the last scrape",
        },
        MetricDef {
            name: "kafkascope_jmx_java_seconds",
            kind: MetricType::Gauge,
            unit: Unit::Seconds,
            help: "Time the last scrape spent inside the JVM (RMI calls to the target)",
        },
    ],
    rule: Some(describe),
    family: Some(family),
};

/// Whether a name is one our presets write (Kafka, JVM, process and ZooKeeper JMX names).
fn ours(name: &str) -> bool {
    ["kafka_", "jvm_", "process_", "zookeeper_"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// The family of a timer's or histogram's statistics: `…_count` and `…_mean` with their base.
pub fn family(name: &str) -> Option<String> {
    if !ours(name) {
        return None;
    }
    ["_count", "_mean", "_sum", "_total"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .filter(|b| !b.is_empty())
        .map(str::to_string)
}

/// The unit a Kafka/JVM JMX series name implies.
pub fn unit(name: &str) -> Unit {
    if name.ends_with("_count") || name.ends_with("_info") {
        return Unit::None;
    }
    let base = name.strip_suffix("_total").unwrap_or(name);
    let base = base.strip_suffix("_sum").unwrap_or(base);
    if base.ends_with("_ns_avg") || base.ends_with("_ns") || base.contains("_ns_") {
        return Unit::None;
    }
    // Kafka's `…Percent` beans are 0–1 fractions, whichever rule named them (`…avgidle_percent`,
    // `…avgidlepercent`, Confluent's `…avgidlepercent_total`).
    if name.starts_with("kafka_") && base.ends_with("percent") {
        return Unit::Ratio;
    }
    if base.ends_with("_ratio") || base.ends_with("_ratio_avg") {
        return Unit::Ratio;
    }
    if base.ends_with("_seconds") || base.ends_with("_seconds_ago") {
        return Unit::Seconds;
    }
    if base.contains("byte")
        || base.ends_with("_size_avg")
        || base.ends_with("_size_max")
        || base.ends_with("_approximatedatasize")
        // kafka.log:type=Log,name=Size: a partition log's bytes.
        || base.ends_with("_log_size")
    {
        return Unit::Bytes;
    }
    if base.ends_with("timems")
        || base.ends_with("_ms")
        || base.ends_with("ms_avg")
        || base.ends_with("ms_max")
        || base.ends_with("latency_avg")
        || base.ends_with("latency_max")
        || base.ends_with("_time_avg")
        || base.ends_with("_time_max")
        || base.ends_with("requestlatency")
        || base.ends_with("latencyms")
    {
        return Unit::Milliseconds;
    }
    Unit::None
}

/// The type and unit of one of our names, before any scrape described it.
pub fn describe(name: &str) -> Option<MetricMeta> {
    if !ours(name) {
        return None;
    }
    let kind = if name.ends_with("_total") {
        MetricType::Counter
    } else {
        MetricType::Unknown
    };
    Some(MetricMeta::new(name, kind, unit(name), ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_names_get_the_units_their_beans_measure() {
        for (name, want) in [
            ("kafka_server_brokertopicmetrics_bytesin_total", Unit::Bytes),
            ("kafka_log_log_size", Unit::Bytes),
            (
                "kafka_server_kafkaserver_linux_disk_read_bytes",
                Unit::Bytes,
            ),
            (
                "kafka_network_requestmetrics_totaltimems",
                Unit::Milliseconds,
            ),
            (
                "kafka_log_logflushstats_logflushrateandtimems",
                Unit::Milliseconds,
            ),
            (
                "kafka_log_logflushstats_logflushrateandtimems_count",
                Unit::None,
            ),
            (
                "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
                Unit::Ratio,
            ),
            (
                "kafka_network_socketserver_networkprocessoravgidle_percent",
                Unit::Ratio,
            ),
            (
                "kafka_network_socketserver_networkprocessoravgidlepercent",
                Unit::Ratio,
            ),
            (
                "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_total",
                Unit::Ratio,
            ),
            (
                "kafka_server_replicamanager_underreplicatedpartitions",
                Unit::None,
            ),
            (
                "kafka_server_brokertopicmetrics_messagesin_total",
                Unit::None,
            ),
            (
                "kafka_producer_producer_metrics_request_latency_avg",
                Unit::Milliseconds,
            ),
            (
                "kafka_producer_producer_metrics_record_queue_time_avg",
                Unit::Milliseconds,
            ),
            (
                "kafka_producer_producer_metrics_io_wait_time_ns_avg",
                Unit::None,
            ),
            (
                "kafka_producer_producer_metrics_batch_size_avg",
                Unit::Bytes,
            ),
            (
                "kafka_producer_producer_metrics_buffer_available_bytes",
                Unit::Bytes,
            ),
            (
                "kafka_producer_producer_metrics_outgoing_byte_rate",
                Unit::Bytes,
            ),
            ("kafka_producer_producer_metrics_io_wait_ratio", Unit::Ratio),
            (
                "kafka_consumer_consumer_metrics_last_poll_seconds_ago",
                Unit::Seconds,
            ),
            (
                "kafka_consumer_consumer_fetch_manager_metrics_records_lag_max",
                Unit::None,
            ),
            ("jvm_gc_collection_seconds_sum", Unit::Seconds),
            ("jvm_gc_collection_seconds_count", Unit::None),
            ("jvm_memory_bytes_used", Unit::Bytes),
            ("process_cpu_seconds_total", Unit::Seconds),
            ("zookeeper_avgrequestlatency", Unit::Milliseconds),
        ] {
            assert_eq!(unit(name), want, "{name}");
        }
    }

    #[test]
    fn only_our_names_are_claimed() {
        assert!(describe("node_memory_Cached_bytes").is_none());
        assert!(describe("zk_avg_latency").is_none());
        let m = describe("kafka_server_brokertopicmetrics_bytesin_total").unwrap();
        assert_eq!((m.kind, m.unit), (MetricType::Counter, Unit::Bytes));
        assert_eq!(
            family("kafka_log_logflushstats_logflushrateandtimems_count").as_deref(),
            Some("kafka_log_logflushstats_logflushrateandtimems")
        );
    }
}
