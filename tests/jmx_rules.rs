//! The JMX rule engine and our presets against real bean shapes: kafka-clients 3.9.1 bean dumps
//! (producer, consumer), every ObjectName of the canonical broker / KRaft / JVM tables with the
//! attribute shapes Yammer and the JVM give them, and a team's jmx_exporter config in the upstream
//! example's format.

use kafkascope::sources::jmx::model::{Attribute, Bean, RuleSample, SampleType, Value};
use kafkascope::sources::jmx::presets::{Family, Role, rules_for};
use kafkascope::sources::jmx::rules::{Applied, RuleSet};

// ---------- building beans ----------

fn object_name(name: &str) -> (String, Vec<(String, String)>) {
    let (domain, rest) = name.split_once(':').expect("ObjectName has a domain");
    let props = rest
        .split(',')
        .map(|p| {
            let (k, v) = p.split_once('=').expect("key=value");
            (k.to_string(), v.to_string())
        })
        .collect();
    (domain.to_string(), props)
}

fn bean(name: &str, attrs: Vec<(&str, Value)>) -> Bean {
    let (domain, properties) = object_name(name);
    Bean {
        name: name.to_string(),
        domain,
        properties,
        attributes: attrs
            .into_iter()
            .map(|(n, value)| Attribute {
                name: n.to_string(),
                value,
            })
            .collect(),
    }
}

/// A kafka-clients dump (`ObjectName` lines, then `    attr (type) = value`) as the bridge would
/// return it: numbers as numbers, anything else (a "double" holding a commit id) as text.
fn parse_dump(text: &str) -> Vec<Bean> {
    let mut beans: Vec<Bean> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            beans.push(bean(line.trim(), vec![]));
            continue;
        }
        let (left, value) = line.trim().split_once(" = ").expect("attr = value");
        let attr = left.split(" (").next().expect("attribute name");
        let value = match value {
            "NaN" => Value::Number(f64::NAN),
            v => v
                .parse::<f64>()
                .map(Value::Number)
                .unwrap_or_else(|_| Value::Text(v.to_string())),
        };
        beans
            .last_mut()
            .expect("an ObjectName line first")
            .attributes
            .push(Attribute {
                name: attr.into(),
                value,
            });
    }
    beans
}

fn num(v: f64) -> Value {
    Value::Number(v)
}

const PERCENTILES: [&str; 6] = ["50th", "75th", "95th", "98th", "99th", "999th"];

/// A Yammer meter: Count and the EWMA rates, EventType and RateUnit as text.
fn meter(name: &str, count: f64) -> Bean {
    bean(
        name,
        vec![
            ("Count", num(count)),
            ("MeanRate", num(0.5)),
            ("OneMinuteRate", num(0.25)),
            ("FiveMinuteRate", num(0.2)),
            ("FifteenMinuteRate", num(0.1)),
            ("EventType", Value::Text("requests".into())),
            ("RateUnit", Value::Text("SECONDS".into())),
        ],
    )
}

/// A Yammer histogram (or the latency half of a timer): Count, Mean, Min, Max, StdDev and the
/// percentiles (the p-th percentile is `p` here so a test can tell them apart).
fn histogram(name: &str, count: f64) -> Bean {
    let mut attrs = vec![
        ("Count", num(count)),
        ("Mean", num(7.5)),
        ("Min", num(1.0)),
        ("Max", num(100.0)),
        ("StdDev", num(2.0)),
    ];
    for (p, v) in PERCENTILES.iter().zip([50.0, 75.0, 95.0, 98.0, 99.0, 99.9]) {
        attrs.push((leak(format!("{p}Percentile")), num(v)));
    }
    bean(name, attrs)
}

/// A Yammer timer: histogram plus meter attributes.
fn timer(name: &str, count: f64) -> Bean {
    let mut b = histogram(name, count);
    let m = meter(name, count);
    b.attributes
        .extend(m.attributes.into_iter().filter(|a| a.name != "Count"));
    b.attributes.push(Attribute {
        name: "LatencyUnit".into(),
        value: Value::Text("MILLISECONDS".into()),
    });
    b
}

fn gauge(name: &str, v: f64) -> Bean {
    bean(name, vec![("Value", num(v))])
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

const REQUESTS: [&str; 5] = [
    "Produce",
    "FetchConsumer",
    "FetchFollower",
    "Metadata",
    "OffsetCommit",
];
const PHASES: [&str; 7] = [
    "TotalTimeMs",
    "RequestQueueTimeMs",
    "LocalTimeMs",
    "RemoteTimeMs",
    "ResponseQueueTimeMs",
    "ResponseSendTimeMs",
    "ThrottleTimeMs",
];
const TOPIC_METERS: [&str; 8] = [
    "BytesInPerSec",
    "BytesOutPerSec",
    "MessagesInPerSec",
    "BytesRejectedPerSec",
    "FailedProduceRequestsPerSec",
    "FailedFetchRequestsPerSec",
    "ProduceMessageConversionsPerSec",
    "FetchMessageConversionsPerSec",
];

/// Every ObjectName of the canonical broker, KRaft and JVM tables, shaped as the broker has them.
fn broker_beans() -> Vec<Bean> {
    let mut b = vec![
        gauge(
            "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions",
            3.0,
        ),
        gauge(
            "kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount",
            1.0,
        ),
        gauge(
            "kafka.server:type=ReplicaManager,name=AtMinIsrPartitionCount",
            2.0,
        ),
        gauge(
            "kafka.server:type=ReplicaManager,name=PartitionCount",
            120.0,
        ),
        gauge("kafka.server:type=ReplicaManager,name=LeaderCount", 40.0),
        meter(
            "kafka.server:type=ReplicaManager,name=IsrShrinksPerSec",
            11.0,
        ),
        meter(
            "kafka.server:type=ReplicaManager,name=IsrExpandsPerSec",
            12.0,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=OfflinePartitionsCount",
            0.0,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=ActiveControllerCount",
            1.0,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=PreferredReplicaImbalanceCount",
            4.0,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=GlobalTopicCount",
            9.0,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=GlobalPartitionCount",
            90.0,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=ActiveBrokerCount",
            3.0,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=FencedBrokerCount",
            0.0,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=LastAppliedRecordLagMs",
            5.0,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=LastAppliedRecordOffset",
            500.0,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=LastCommittedRecordOffset",
            501.0,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=LastAppliedRecordTimestamp",
            1.7e12,
        ),
        gauge(
            "kafka.controller:type=KafkaController,name=MetadataErrorCount",
            0.0,
        ),
        timer(
            "kafka.controller:type=ControllerStats,name=LeaderElectionRateAndTimeMs",
            6.0,
        ),
        meter(
            "kafka.controller:type=ControllerStats,name=UncleanLeaderElectionsPerSec",
            0.0,
        ),
        histogram(
            "kafka.controller:type=ControllerEventManager,name=EventQueueTimeMs",
            70.0,
        ),
        histogram(
            "kafka.controller:type=ControllerEventManager,name=EventQueueProcessingTimeMs",
            71.0,
        ),
        gauge(
            "kafka.server:type=ReplicaFetcherManager,name=MaxLag,clientId=Replica",
            17.0,
        ),
        meter(
            "kafka.server:type=KafkaRequestHandlerPool,name=RequestHandlerAvgIdlePercent",
            1000.0,
        ),
        gauge(
            "kafka.network:type=SocketServer,name=NetworkProcessorAvgIdlePercent",
            0.93,
        ),
        meter(
            "kafka.network:type=RequestMetrics,name=ErrorsPerSec,request=Produce,error=NONE",
            900.0,
        ),
        gauge(
            "kafka.network:type=RequestChannel,name=RequestQueueSize",
            2.0,
        ),
        gauge(
            "kafka.network:type=RequestChannel,name=ResponseQueueSize",
            1.0,
        ),
        gauge(
            "kafka.server:type=DelayedOperationPurgatory,name=PurgatorySize,delayedOperation=Produce",
            5.0,
        ),
        gauge(
            "kafka.server:type=DelayedOperationPurgatory,name=PurgatorySize,delayedOperation=Fetch",
            50.0,
        ),
        timer(
            "kafka.log:type=LogFlushStats,name=LogFlushRateAndTimeMs",
            300.0,
        ),
        gauge(
            "kafka.log:type=LogManager,name=OfflineLogDirectoryCount",
            0.0,
        ),
        gauge(
            "kafka.server:type=KafkaServer,name=linux-disk-read-bytes",
            4096.0,
        ),
        gauge(
            "kafka.server:type=KafkaServer,name=linux-disk-write-bytes",
            8192.0,
        ),
        gauge("kafka.server:type=KafkaServer,name=BrokerState", 3.0),
        gauge(
            "kafka.server:type=FetchSessionCache,name=NumIncrementalFetchSessions",
            8.0,
        ),
        meter(
            "kafka.server:type=FetchSessionCache,name=IncrementalFetchSessionEvictionsPerSec",
            2.0,
        ),
        bean(
            "kafka.server:type=socket-server-metrics,listener=PLAINTEXT,networkProcessor=0",
            vec![
                ("connection-count", num(12.0)),
                ("connection-creation-rate", num(0.5)),
                ("connection-close-rate", num(0.25)),
                ("connection-creation-total", num(40.0)),
            ],
        ),
        histogram(
            "kafka.server:type=ZooKeeperClientMetrics,name=ZooKeeperRequestLatencyMs",
            33.0,
        ),
        // KRaft
        bean(
            "kafka.server:type=raft-metrics",
            vec![
                ("current-state", Value::Text("leader".into())),
                ("current-leader", num(1.0)),
                ("current-vote", num(1.0)),
                ("current-epoch", num(7.0)),
                ("high-watermark", num(1234.0)),
                ("log-end-offset", num(1235.0)),
                ("log-end-epoch", num(7.0)),
                ("commit-latency-avg", num(2.5)),
                ("commit-latency-max", num(9.0)),
                ("election-latency-avg", num(f64::NAN)),
                ("append-records-rate", num(3.0)),
                ("fetch-records-rate", num(4.0)),
                ("poll-idle-ratio-avg", num(0.9)),
                ("number-unknown-voter-connections", num(0.0)),
            ],
        ),
        bean(
            "kafka.server:type=broker-metadata-metrics",
            vec![
                ("last-applied-record-lag-ms", num(12.0)),
                ("last-applied-record-offset", num(1230.0)),
                ("metadata-load-error-count", num(0.0)),
                ("metadata-apply-error-count", num(0.0)),
            ],
        ),
        // JVM
        bean(
            "java.lang:type=GarbageCollector,name=G1 Young Generation",
            vec![
                ("CollectionCount", num(40.0)),
                ("CollectionTime", num(1500.0)),
            ],
        ),
        bean(
            "java.lang:type=GarbageCollector,name=G1 Old Generation",
            vec![
                ("CollectionCount", num(1.0)),
                ("CollectionTime", num(250.0)),
            ],
        ),
        bean(
            "java.lang:type=Memory",
            vec![
                ("HeapMemoryUsage", usage(1e9, 256e6, 4e9, 500e6)),
                ("NonHeapMemoryUsage", usage(90e6, 7e6, -1.0, 80e6)),
                ("ObjectPendingFinalizationCount", num(0.0)),
            ],
        ),
        bean(
            "java.lang:type=MemoryPool,name=G1 Eden Space",
            vec![("Usage", usage(1.0, 2.0, 3.0, 4.0))],
        ),
        bean(
            "java.lang:type=Threading",
            vec![("ThreadCount", num(88.0)), ("DaemonThreadCount", num(80.0))],
        ),
        bean(
            "java.lang:type=OperatingSystem",
            vec![
                ("OpenFileDescriptorCount", num(512.0)),
                ("MaxFileDescriptorCount", num(1048576.0)),
                ("ProcessCpuLoad", num(0.1)),
                ("ProcessCpuTime", num(12_500_000_000.0)),
            ],
        ),
        bean(
            "java.lang:type=Runtime",
            vec![
                ("StartTime", num(1_700_000_000_123.0)),
                ("Uptime", num(5000.0)),
            ],
        ),
    ];
    for (i, r) in REQUESTS.iter().enumerate() {
        b.push(meter(
            &format!("kafka.network:type=RequestMetrics,name=RequestsPerSec,request={r},version=9"),
            100.0 + i as f64,
        ));
        for p in PHASES {
            b.push(histogram(
                &format!("kafka.network:type=RequestMetrics,name={p},request={r}"),
                10.0,
            ));
        }
    }
    for m in TOPIC_METERS {
        b.push(meter(
            &format!("kafka.server:type=BrokerTopicMetrics,name={m}"),
            1000.0,
        ));
        b.push(meter(
            &format!("kafka.server:type=BrokerTopicMetrics,name={m},topic=orders"),
            600.0,
        ));
    }
    for e in ["Disconnects", "Expires", "SyncConnects", "AuthFailures"] {
        b.push(meter(
            &format!("kafka.server:type=SessionExpireListener,name=ZooKeeper{e}PerSec"),
            1.0,
        ));
    }
    for s in [
        "",
        "Stable",
        "PreparingRebalance",
        "CompletingRebalance",
        "Empty",
        "Dead",
    ] {
        b.push(gauge(
            &format!("kafka.coordinator.group:type=GroupMetadataManager,name=NumGroups{s}"),
            2.0,
        ));
    }
    b
}

fn partition_beans() -> Vec<Bean> {
    let mut b = Vec::new();
    for n in ["Size", "LogEndOffset", "LogStartOffset", "NumLogSegments"] {
        b.push(gauge(
            &format!("kafka.log:type=Log,name={n},topic=orders,partition=0"),
            77.0,
        ));
    }
    for n in ["UnderMinIsr", "AtMinIsr", "UnderReplicated"] {
        b.push(gauge(
            &format!("kafka.cluster:type=Partition,name={n},topic=orders,partition=0"),
            0.0,
        ));
    }
    b
}

fn usage(committed: f64, init: f64, max: f64, used: f64) -> Value {
    Value::Composite(vec![
        ("committed".into(), num(committed)),
        ("init".into(), num(init)),
        ("max".into(), num(max)),
        ("used".into(), num(used)),
    ])
}

// ---------- looking samples up ----------

fn find<'a>(a: &'a Applied, name: &str, labels: &[(&str, &str)]) -> Option<&'a RuleSample> {
    a.samples.iter().find(|s| {
        s.name == name
            && s.labels.len() == labels.len()
            && labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
    })
}

#[track_caller]
fn value(a: &Applied, name: &str, labels: &[(&str, &str)]) -> f64 {
    match find(a, name, labels) {
        Some(s) => s.value,
        None => {
            let near: Vec<String> = a
                .samples
                .iter()
                .filter(|s| s.name.starts_with(&name[..name.len().min(20)]))
                .map(|s| format!("{} {:?}", s.name, s.labels))
                .take(20)
                .collect();
            panic!("no {name} {labels:?}; similar: {near:#?}")
        }
    }
}

#[track_caller]
fn kind(a: &Applied, name: &str, labels: &[(&str, &str)]) -> SampleType {
    find(a, name, labels)
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
        .kind
}

// ---------- clients: real kafka-clients 3.9.1 dumps ----------

#[test]
fn producer_preset_on_a_real_producer_dump() {
    let beans = parse_dump(include_str!("fixtures/jmx/producer_jmx_attributes.txt"));
    assert!(beans.len() > 3);
    let a = rules_for(Role::Producer, Family::JmxExporter, false)
        .unwrap()
        .apply(&beans);
    let c = [("client_id", "lab-java-producer")];
    assert_eq!(
        value(&a, "kafka_producer_producer_metrics_record_send_total", &c),
        581.0
    );
    assert_eq!(
        kind(&a, "kafka_producer_producer_metrics_record_send_total", &c),
        SampleType::Counter
    );
    assert_eq!(
        kind(&a, "kafka_producer_producer_metrics_record_error_rate", &c),
        SampleType::Gauge
    );
    let ct = [("client_id", "lab-java-producer"), ("topic", "lab-java")];
    assert_eq!(
        value(
            &a,
            "kafka_producer_producer_topic_metrics_record_send_total",
            &ct
        ),
        584.0
    );
    for attr in [
        "record_send_rate",
        "record_error_rate",
        "record_retry_rate",
        "request_latency_avg",
        "record_queue_time_avg",
        "batch_size_avg",
        "compression_rate_avg",
        "produce_throttle_time_avg",
        "buffer_available_bytes",
        "outgoing_byte_rate",
        "requests_in_flight",
    ] {
        assert!(
            find(&a, &format!("kafka_producer_producer_metrics_{attr}"), &c).is_some(),
            "{attr}"
        );
    }
    // Per node, with node_id.
    assert!(a.samples.iter().any(
        |s| s.name.starts_with("kafka_producer_producer_node_metrics_")
            && s.labels.iter().any(|(k, _)| k == "node_id")
    ));
    // app-info (a "double" holding a commit id) is left out by the preset, not reported.
    assert!(a.samples.iter().all(|s| !s.name.contains("app_info")));
    assert_eq!(a.duplicates, 0);
}

#[test]
fn consumer_preset_on_a_real_consumer_dump() {
    let beans = parse_dump(include_str!("fixtures/jmx/consumer_jmx_attributes.txt"));
    let a = rules_for(Role::Consumer, Family::JmxExporter, false)
        .unwrap()
        .apply(&beans);
    let c = [("client_id", "lab-java-consumer")];
    assert_eq!(
        value(
            &a,
            "kafka_consumer_consumer_fetch_manager_metrics_records_lag_max",
            &c
        ),
        187.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_consumer_consumer_fetch_manager_metrics_records_lead_min",
            &c
        ),
        5.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_consumer_consumer_fetch_manager_metrics_records_consumed_total",
            &c
        ),
        0.0
    );
    assert_eq!(
        kind(
            &a,
            "kafka_consumer_consumer_fetch_manager_metrics_records_consumed_total",
            &c
        ),
        SampleType::Counter
    );
    let p1 = [
        ("client_id", "lab-java-consumer"),
        ("topic", "lab-java"),
        ("partition", "1"),
    ];
    assert_eq!(
        value(
            &a,
            "kafka_consumer_consumer_fetch_manager_metrics_records_lag",
            &p1
        ),
        117.0
    );
    assert!(
        (value(
            &a,
            "kafka_consumer_consumer_coordinator_metrics_commit_rate",
            &c
        ) - 0.08491847826086955)
            .abs()
            < 1e-15
    );
    for n in [
        "kafka_consumer_consumer_fetch_manager_metrics_records_consumed_rate",
        "kafka_consumer_consumer_fetch_manager_metrics_fetch_rate",
        "kafka_consumer_consumer_fetch_manager_metrics_fetch_latency_avg",
        "kafka_consumer_consumer_fetch_manager_metrics_bytes_consumed_rate",
        "kafka_consumer_consumer_coordinator_metrics_commit_total",
        "kafka_consumer_consumer_coordinator_metrics_rebalance_total",
        "kafka_consumer_consumer_coordinator_metrics_rebalance_rate_per_hour",
        "kafka_consumer_consumer_coordinator_metrics_last_heartbeat_seconds_ago",
    ] {
        assert!(find(&a, n, &c).is_some(), "{n}");
    }
    assert!(
        find(
            &a,
            "kafka_consumer_consumer_metrics_last_poll_seconds_ago",
            &c
        )
        .is_some()
    );
    // NaN readings (no rebalance yet) are samples like any other: the store decides.
    assert!(
        value(
            &a,
            "kafka_consumer_consumer_coordinator_metrics_partition_lost_latency_max",
            &c
        )
        .is_nan()
    );
    assert_eq!(a.duplicates, 0);
}

// ---------- the broker tables ----------

#[test]
fn broker_preset_gives_the_jmx_exporter_example_names() {
    let beans = broker_beans();
    let a = rules_for(Role::Broker, Family::JmxExporter, false)
        .unwrap()
        .apply(&beans);
    assert_eq!(a.duplicates, 0);
    // Every bean of the tables is named by something.
    for b in &beans {
        let hits = count_for(
            &rules_for(Role::Broker, Family::JmxExporter, false).unwrap(),
            b,
        );
        assert!(hits > 0, "no series from {}", b.name);
    }
    let g = |n: &str| value(&a, n, &[]);
    assert_eq!(
        g("kafka_server_replicamanager_underreplicatedpartitions"),
        3.0
    );
    assert_eq!(
        g("kafka_server_replicamanager_underminisrpartitioncount"),
        1.0
    );
    assert_eq!(g("kafka_server_replicamanager_partitioncount"), 120.0);
    assert_eq!(g("kafka_server_replicamanager_leadercount"), 40.0);
    assert_eq!(g("kafka_server_replicamanager_isrshrinks_total"), 11.0);
    assert_eq!(g("kafka_server_replicamanager_isrexpands_total"), 12.0);
    assert_eq!(
        kind(&a, "kafka_server_replicamanager_isrshrinks_total", &[]),
        SampleType::Counter
    );
    assert_eq!(
        g("kafka_controller_kafkacontroller_activecontrollercount"),
        1.0
    );
    assert_eq!(
        g("kafka_controller_kafkacontroller_offlinepartitionscount"),
        0.0
    );
    assert_eq!(g("kafka_controller_kafkacontroller_activebrokercount"), 3.0);
    assert_eq!(g("kafka_controller_kafkacontroller_fencedbrokercount"), 0.0);
    assert_eq!(
        g("kafka_controller_controllerstats_uncleanleaderelections_total"),
        0.0
    );
    assert_eq!(
        g("kafka_controller_controllerstats_leaderelectionrateandtimems_count"),
        6.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_controller_controllerstats_leaderelectionrateandtimems",
            &[("quantile", "0.99")]
        ),
        99.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_controller_controllereventmanager_eventqueuetimems",
            &[("quantile", "0.50")]
        ),
        50.0
    );
    assert_eq!(g("kafka_network_requestchannel_requestqueuesize"), 2.0);
    assert_eq!(g("kafka_network_requestchannel_responsequeuesize"), 1.0);
    assert_eq!(g("kafka_server_kafkaserver_linux_disk_read_bytes"), 4096.0);
    assert_eq!(g("kafka_server_kafkaserver_linux_disk_write_bytes"), 8192.0);
    assert_eq!(g("kafka_server_kafkaserver_brokerstate"), 3.0);
    assert_eq!(g("kafka_log_logmanager_offlinelogdirectorycount"), 0.0);
    assert_eq!(
        g("kafka_log_logflushstats_logflushrateandtimems_count"),
        300.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_log_logflushstats_logflushrateandtimems",
            &[("quantile", "0.999")]
        ),
        99.9
    );
    assert_eq!(
        g("kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent"),
        0.5
    );
    // The upstream example's generic Value rule comes before its Percent rule, so this gauge
    // keeps the plain name there (and here).
    assert_eq!(
        g("kafka_network_socketserver_networkprocessoravgidlepercent"),
        0.93
    );
    assert_eq!(
        value(
            &a,
            "kafka_server_delayedoperationpurgatory_purgatorysize",
            &[("delayedOperation", "Produce")]
        ),
        5.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_server_replicafetchermanager_maxlag",
            &[("clientId", "Replica")]
        ),
        17.0
    );
    assert_eq!(
        g("kafka_server_fetchsessioncache_numincrementalfetchsessions"),
        8.0
    );
    assert_eq!(
        g("kafka_server_fetchsessioncache_incrementalfetchsessionevictions_total"),
        2.0
    );
    assert_eq!(
        g("kafka_server_sessionexpirelistener_zookeeperexpires_total"),
        1.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_server_zookeeperclientmetrics_zookeeperrequestlatencyms",
            &[("quantile", "0.95")]
        ),
        95.0
    );
    assert_eq!(
        g("kafka_coordinator_group_groupmetadatamanager_numgroupsstable"),
        2.0
    );
    // Throughput, all topics and per topic.
    for m in [
        "bytesin",
        "bytesout",
        "messagesin",
        "bytesrejected",
        "failedproducerequests",
        "failedfetchrequests",
        "producemessageconversions",
        "fetchmessageconversions",
    ] {
        assert_eq!(
            g(&format!("kafka_server_brokertopicmetrics_{m}_total")),
            1000.0,
            "{m}"
        );
        assert_eq!(
            value(
                &a,
                &format!("kafka_server_brokertopicmetrics_{m}_total"),
                &[("topic", "orders")]
            ),
            600.0
        );
    }
    // Requests: rate, errors, and every phase at every percentile for every type.
    assert_eq!(
        value(
            &a,
            "kafka_network_requestmetrics_requests_total",
            &[("request", "Produce"), ("version", "9")]
        ),
        100.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_network_requestmetrics_errors_total",
            &[("request", "Produce"), ("error", "NONE")]
        ),
        900.0
    );
    for r in REQUESTS {
        for p in PHASES {
            let n = format!("kafka_network_requestmetrics_{}", p.to_lowercase());
            for (q, v) in ["0.50", "0.75", "0.95", "0.98", "0.99", "0.999"]
                .iter()
                .zip([50.0, 75.0, 95.0, 98.0, 99.0, 99.9])
            {
                assert_eq!(
                    value(&a, &n, &[("request", r), ("quantile", q)]),
                    v,
                    "{n} {r} {q}"
                );
            }
            assert_eq!(value(&a, &format!("{n}_count"), &[("request", r)]), 10.0);
            assert_eq!(value(&a, &format!("{n}_mean"), &[("request", r)]), 7.5);
        }
    }
    // Connections per listener and network processor.
    let lp = [("listener", "PLAINTEXT"), ("networkProcessor", "0")];
    assert_eq!(
        value(
            &a,
            "kafka_server_socket_server_metrics_connection_count",
            &lp
        ),
        12.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_server_socket_server_metrics_connection_creation_total",
            &lp
        ),
        40.0
    );
    assert_eq!(
        kind(
            &a,
            "kafka_server_socket_server_metrics_connection_creation_total",
            &lp
        ),
        SampleType::Counter
    );
    // KRaft.
    assert_eq!(
        value(
            &a,
            "kafka_server_raft_metrics_current_state_info",
            &[("state", "leader")]
        ),
        1.0
    );
    assert_eq!(g("kafka_server_raft_metrics_current_leader"), 1.0);
    assert_eq!(g("kafka_server_raft_metrics_current_epoch"), 7.0);
    assert_eq!(g("kafka_server_raft_metrics_high_watermark"), 1234.0);
    assert_eq!(g("kafka_server_raft_metrics_commit_latency_avg"), 2.5);
    assert_eq!(
        g("kafka_server_broker_metadata_metrics_last_applied_record_lag_ms"),
        12.0
    );
    assert_eq!(
        g("kafka_server_broker_metadata_metrics_metadata_apply_error_count"),
        0.0
    );
    // JVM.
    assert_jvm(&a);
    // Per-partition beans: not by default ...
    let p = rules_for(Role::Broker, Family::JmxExporter, false)
        .unwrap()
        .apply(&partition_beans());
    assert!(p.samples.iter().all(|s| !s.name.starts_with("kafka_log_log_") && !s.name.starts_with("kafka_cluster_")), "{:?}", p.samples);
    // ... and with the opt-in preset.
    let p = rules_for(Role::Broker, Family::JmxExporter, true)
        .unwrap()
        .apply(&partition_beans());
    let tp = [("topic", "orders"), ("partition", "0")];
    assert_eq!(value(&p, "kafka_log_log_size", &tp), 77.0);
    assert_eq!(value(&p, "kafka_log_log_logendoffset", &tp), 77.0);
    assert_eq!(value(&p, "kafka_cluster_partition_underminisr", &tp), 0.0);
}

fn assert_jvm(a: &Applied) {
    assert_eq!(
        value(a, "jvm_memory_bytes_used", &[("area", "heap")]),
        500e6
    );
    assert_eq!(
        value(a, "jvm_memory_bytes_committed", &[("area", "heap")]),
        1e9
    );
    assert_eq!(value(a, "jvm_memory_bytes_max", &[("area", "heap")]), 4e9);
    assert_eq!(
        value(a, "jvm_memory_bytes_used", &[("area", "nonheap")]),
        80e6
    );
    assert_eq!(
        value(
            a,
            "jvm_gc_collection_seconds_count",
            &[("gc", "G1 Young Generation")]
        ),
        40.0
    );
    assert_eq!(
        value(
            a,
            "jvm_gc_collection_seconds_sum",
            &[("gc", "G1 Young Generation")]
        ),
        1.5
    );
    assert_eq!(
        kind(
            a,
            "jvm_gc_collection_seconds_sum",
            &[("gc", "G1 Old Generation")]
        ),
        SampleType::Counter
    );
    assert_eq!(value(a, "jvm_threads_current", &[]), 88.0);
    assert_eq!(value(a, "process_open_fds", &[]), 512.0);
    assert_eq!(value(a, "process_max_fds", &[]), 1048576.0);
    assert_eq!(value(a, "process_cpu_seconds_total", &[]), 12.5);
    // StartTime (ms) × 0.001, the same f64 product jmx_exporter computes.
    assert!((value(a, "process_start_time_seconds", &[]) - 1_700_000_000.123).abs() < 1e-6);
}

fn count_for(set: &RuleSet, b: &Bean) -> usize {
    set.apply(std::slice::from_ref(b)).samples.len()
}

#[test]
fn confluent_preset_gives_the_dashboard_names() {
    let beans = broker_beans();
    let a = rules_for(Role::Broker, Family::Confluent, false)
        .unwrap()
        .apply(&beans);
    assert_eq!(a.duplicates, 0);
    let g = |n: &str| value(&a, n, &[]);
    assert_eq!(g("kafka_server_brokertopicmetrics_bytesinpersec"), 1000.0);
    assert_eq!(
        value(
            &a,
            "kafka_server_brokertopicmetrics_bytesinpersec",
            &[("topic", "orders")]
        ),
        600.0
    );
    assert_eq!(
        g("kafka_server_brokertopicmetrics_messagesinpersec"),
        1000.0
    );
    assert_eq!(
        g("kafka_controller_kafkacontroller_activecontrollercount"),
        1.0
    );
    assert_eq!(
        g("kafka_controller_kafkacontroller_offlinepartitionscount"),
        0.0
    );
    assert_eq!(
        g("kafka_server_replicamanager_underreplicatedpartitions"),
        3.0
    );
    assert_eq!(g("kafka_server_replicamanager_isrshrinkspersec"), 11.0);
    assert_eq!(
        g("kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_total"),
        0.25
    );
    assert_eq!(g("kafka_server_kafkaserver_linux_disk_read_bytes"), 4096.0);
    assert_eq!(
        g("kafka_controller_controllerstats_uncleanleaderelectionspersec"),
        0.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_network_requestmetrics_totaltimems",
            &[("request", "Produce"), ("quantile", "0.99")]
        ),
        99.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_network_requestmetrics_requestspersec",
            &[("request", "Produce"), ("version", "9")]
        ),
        100.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_server_delayedoperationpurgatory_purgatorysize",
            &[("delayedoperation", "Fetch")]
        ),
        50.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_server_socketservermetrics_connection_count",
            &[("listener", "PLAINTEXT"), ("network_processor", "0")]
        ),
        12.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_server_raft_metrics_current_state_info",
            &[("state", "leader")]
        ),
        1.0
    );
    assert_jvm(&a);
    // Positive control for the family switch: the jmx_exporter names are not produced here.
    assert!(find(&a, "kafka_server_brokertopicmetrics_bytesin_total", &[]).is_none());
}

// ---------- a team's existing jmx_exporter config ----------

#[test]
fn a_teams_jmx_exporter_kafka_config_works_unchanged() {
    let text = include_str!("fixtures/jmx/jmx_exporter_kafka_example.yml");
    let team = RuleSet::from_yaml(text, "kafka-2_0_0.yml").unwrap_or_else(|e| panic!("{e}"));
    let ours = rules_for(Role::Broker, Family::JmxExporter, false).unwrap();
    let beans: Vec<Bean> = broker_beans()
        .into_iter()
        .filter(|b| b.domain.starts_with("kafka"))
        .collect();
    let theirs = team.apply(&beans);
    let mine = ours.apply(&beans);
    assert!(theirs.samples.len() > 300, "{}", theirs.samples.len());
    // Every series the team's config gives, our preset gives identically (name, labels, value,
    // type); ours adds _mean, socket-server-metrics and raft names on top.
    for s in &theirs.samples {
        let m = find(
            &mine,
            &s.name,
            &s.labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_else(|| panic!("preset lacks {} {:?}", s.name, s.labels));
        assert_eq!(
            (m.value.to_bits(), m.kind),
            (s.value.to_bits(), s.kind),
            "{}",
            s.name
        );
    }
    // The team's config composed in front of our preset (config rules first) changes nothing for
    // these beans, and the preset still adds what the team file lacks.
    let mut composed = RuleSet::from_yaml(text, "team").unwrap();
    composed.extend(rules_for(Role::Broker, Family::JmxExporter, false).unwrap());
    let c = composed.apply(&broker_beans());
    assert!(
        find(
            &c,
            "kafka_server_raft_metrics_current_state_info",
            &[("state", "leader")]
        )
        .is_some()
    );
    assert!(find(&c, "jvm_threads_current", &[]).is_some());
    assert_eq!(c.duplicates, 0);
}

#[test]
fn zookeeper_preset_names() {
    let beans = vec![
        bean(
            "org.apache.ZooKeeperService:name0=ReplicatedServer_id1,name1=replica.1,name2=Leader",
            vec![
                ("PacketsReceived", num(100.0)),
                ("OutstandingRequests", num(2.0)),
                ("AvgRequestLatency", num(1.5)),
                ("NumAliveConnections", num(4.0)),
                ("Version", Value::Text("3.8.4".into())),
            ],
        ),
        bean(
            "org.apache.ZooKeeperService:name0=ReplicatedServer_id1",
            vec![("QuorumSize", num(3.0))],
        ),
        bean(
            "org.apache.ZooKeeperService:name0=ReplicatedServer_id1,name1=replica.1,name2=Leader,name3=InMemoryDataTree",
            vec![("NodeCount", num(42.0))],
        ),
        bean(
            "org.apache.ZooKeeperService:name0=StandaloneServer_port2181",
            vec![("OutstandingRequests", num(0.0))],
        ),
        bean(
            "org.apache.ZooKeeperService:name0=StandaloneServer_port2181,name1=InMemoryDataTree",
            vec![("WatchCount", num(9.0))],
        ),
    ];
    let a = rules_for(Role::ZooKeeper, Family::JmxExporter, false)
        .unwrap()
        .apply(&beans);
    let rm = [("replicaId", "1"), ("memberType", "Leader")];
    assert_eq!(value(&a, "zookeeper_PacketsReceived", &rm), 100.0);
    assert_eq!(
        kind(&a, "zookeeper_PacketsReceived", &rm),
        SampleType::Counter
    );
    assert_eq!(value(&a, "zookeeper_OutstandingRequests", &rm), 2.0);
    assert_eq!(value(&a, "zookeeper_AvgRequestLatency", &rm), 1.5);
    assert_eq!(value(&a, "zookeeper_QuorumSize", &[]), 3.0);
    assert_eq!(value(&a, "zookeeper_InMemoryDataTree_NodeCount", &rm), 42.0);
    assert_eq!(value(&a, "zookeeper_OutstandingRequests", &[]), 0.0);
    assert_eq!(value(&a, "zookeeper_WatchCount", &[]), 9.0);
    // The text Version matched a rule without value: reported, not emitted.
    assert!(a.unusable.iter().any(|u| u.attribute == "Version"));

    // The Confluent family: lower-case names its alert rules use.
    let c = rules_for(Role::ZooKeeper, Family::Confluent, false)
        .unwrap()
        .apply(&beans);
    let m = [
        ("server_name", "ReplicatedServer_id1"),
        ("server_id", "1"),
        ("member_type", "Leader"),
    ];
    assert_eq!(value(&c, "zookeeper_avgrequestlatency", &m), 1.5);
    assert_eq!(value(&c, "zookeeper_outstandingrequests", &m), 2.0);
    assert_eq!(value(&c, "zookeeper_inmemorydatatree_nodecount", &m), 42.0);
    assert_eq!(
        value(&c, "zookeeper_status_quorumsize", &[("server_id", "1")]),
        3.0
    );
    assert_eq!(
        value(
            &c,
            "zookeeper_outstandingrequests",
            &[("server_name", "StandaloneServer_port2181")]
        ),
        0.0
    );
    assert!(find(&c, "zookeeper_version", &m).is_none());
}

#[test]
fn streams_and_connect_presets() {
    let beans = vec![
        bean(
            "kafka.streams:type=stream-thread-metrics,thread-id=app-StreamThread-1",
            vec![("process-total", num(10.0)), ("process-rate", num(2.0))],
        ),
        bean(
            "kafka.streams:type=stream-metrics,client-id=app-1",
            vec![("state", Value::Text("RUNNING".into()))],
        ),
        bean(
            "kafka.producer:type=producer-metrics,client-id=app-1-StreamThread-1-producer",
            vec![("record-send-total", num(5.0))],
        ),
    ];
    let a = rules_for(Role::Streams, Family::JmxExporter, false)
        .unwrap()
        .apply(&beans);
    assert_eq!(
        value(
            &a,
            "kafka_streams_stream_thread_metrics_process_total",
            &[("thread_id", "app-StreamThread-1")]
        ),
        10.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_streams_stream_metrics_state_info",
            &[("client_id", "app-1"), ("state", "RUNNING")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_producer_producer_metrics_record_send_total",
            &[("client_id", "app-1-StreamThread-1-producer")]
        ),
        5.0
    );
    let beans = vec![
        bean(
            "kafka.connect:type=connect-worker-metrics",
            vec![("connector-count", num(2.0))],
        ),
        bean(
            "kafka.connect:type=connector-task-metrics,connector=sink,task=0",
            vec![
                ("status", Value::Text("running".into())),
                ("batch-size-avg", num(3.0)),
            ],
        ),
        bean(
            "kafka.connect:type=sink-task-metrics,connector=sink,task=0",
            vec![("sink-record-read-total", num(9.0))],
        ),
    ];
    let a = rules_for(Role::Connect, Family::JmxExporter, false)
        .unwrap()
        .apply(&beans);
    assert_eq!(
        value(
            &a,
            "kafka_connect_connect_worker_metrics_connector_count",
            &[]
        ),
        2.0
    );
    let ct = [("connector", "sink"), ("task", "0")];
    assert_eq!(
        value(
            &a,
            "kafka_connect_sink_task_metrics_sink_record_read_total",
            &ct
        ),
        9.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_connect_connector_task_metrics_batch_size_avg",
            &ct
        ),
        3.0
    );
    assert_eq!(
        value(
            &a,
            "kafka_connect_connector_task_status_info",
            &[("connector", "sink"), ("task", "0"), ("status", "running")]
        ),
        1.0
    );
}
