use super::*;
use crate::sources::jmx::model::{Attribute, TabularRow};

/// A bean from its ObjectName and attributes.
fn bean(name: &str, attrs: Vec<(&str, Value)>) -> Bean {
    let (domain, rest) = name.split_once(':').unwrap();
    Bean {
        name: name.into(),
        domain: domain.into(),
        properties: rest
            .split(',')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.into(), v.into())
            })
            .collect(),
        attributes: attrs
            .into_iter()
            .map(|(n, v)| Attribute {
                name: n.into(),
                value: v,
            })
            .collect(),
    }
}

fn num(v: f64) -> Value {
    Value::Number(v)
}

fn rules(yaml: &str) -> RuleSet {
    RuleSet::from_yaml(yaml, "test.yml").unwrap_or_else(|e| panic!("{e}"))
}

fn names(a: &Applied) -> Vec<String> {
    a.samples.iter().map(|s| s.name.clone()).collect()
}

fn labels(s: &RuleSample) -> Vec<(&str, &str)> {
    s.labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn default_export_without_rules() {
    let set = rules("");
    let b = bean(
        "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic=orders",
        vec![
            ("Count", num(42.0)),
            ("RateUnit", Value::Text("SECONDS".into())),
        ],
    );
    let a = set.apply(&[b]);
    assert_eq!(names(&a), vec!["kafka_server_BrokerTopicMetrics_Count"]);
    let s = &a.samples[0];
    assert_eq!(
        labels(s),
        vec![("name", "BytesInPerSec"), ("topic", "orders")]
    );
    assert_eq!(s.value, 42.0);
    assert_eq!(s.kind, SampleType::Untyped);
    assert_eq!(
        s.help,
        "kafka.server:name=BytesInPerSec,type=BrokerTopicMetrics,attribute=Count"
    );
    // A text attribute under the default rule cannot be a number: reported, not emitted.
    assert_eq!(a.unusable.len(), 1);
    assert_eq!(a.unusable[0].attribute, "RateUnit");
}

#[test]
fn default_export_lowercase_options() {
    let set = rules("lowercaseOutputName: true\nlowercaseOutputLabelNames: true\n");
    let b = bean(
        "java.lang:type=Threading,Extra Key=v",
        vec![("ThreadCount", num(7.0))],
    );
    let a = set.apply(&[b]);
    assert_eq!(names(&a), vec!["java_lang_threading_threadcount"]);
    assert_eq!(labels(&a.samples[0]), vec![("extra_key", "v")]);
    // Positive control: without the options the case is kept.
    let a = rules("").apply(&[bean(
        "java.lang:type=Threading,Extra Key=v",
        vec![("ThreadCount", num(7.0))],
    )]);
    assert_eq!(names(&a), vec!["java_lang_Threading_ThreadCount"]);
    assert_eq!(labels(&a.samples[0]), vec![("Extra_Key", "v")]);
}

#[test]
fn first_matching_rule_wins_and_patterns_are_unanchored() {
    let set = rules(
        r#"
rules:
  - pattern: "name=(\\w+)><>Count"
    name: first_$1
  - pattern: "kafka.server<type=(.+), name=(.+)><>Count"
    name: second_$2
"#,
    );
    let a = set.apply(&[bean(
        "kafka.server:type=T,name=N",
        vec![("Count", num(1.0))],
    )]);
    assert_eq!(names(&a), vec!["first_N"]);
    // An attribute no rule matches is not exported (and not an error).
    let a = set.apply(&[bean(
        "kafka.server:type=T,name=N",
        vec![("Value", num(1.0))],
    )]);
    assert!(a.samples.is_empty() && a.unusable.is_empty());
}

#[test]
fn labels_are_sorted_sanitized_and_empty_ones_dropped() {
    let set = rules(
        r#"
lowercaseOutputLabelNames: true
rules:
  - pattern: "kafka.(\\w+)<type=(.+), name=(.+), (.+)=(.*)><>Value"
    name: kafka_$1_$2_$3
    type: GAUGE
    help: "help for $3"
    labels:
      "$4": "$5"
      a-label: fixed
      empty: ""
"#,
    );
    let b = bean(
        "kafka.server:type=DelayedOperationPurgatory,name=PurgatorySize,delayedOperation=Produce",
        vec![("Value", num(3.0))],
    );
    let a = set.apply(&[b]);
    let s = &a.samples[0];
    assert_eq!(
        s.name,
        "kafka_server_DelayedOperationPurgatory_PurgatorySize"
    );
    // TreeMap order of the label names as written: "$4" < "a-label" < "empty".
    assert_eq!(
        labels(s),
        vec![("delayedoperation", "Produce"), ("a_label", "fixed")]
    );
    assert_eq!(s.help, "help for PurgatorySize");
    assert_eq!(s.kind, SampleType::Gauge);
    // An empty label value (the (.*) group) drops that label.
    let a = set.apply(&[bean(
        "kafka.server:type=T,name=N,k=",
        vec![("Value", num(1.0))],
    )]);
    assert_eq!(labels(&a.samples[0]), vec![("a_label", "fixed")]);
}

#[test]
fn value_and_value_factor() {
    let set = rules(
        r#"
rules:
  - pattern: "java.lang<type=GarbageCollector, name=(.+)><>CollectionTime"
    name: gc_seconds
    valueFactor: 0.001
    labels: {gc: "$1"}
  - pattern: "x<type=(\\w+)><>flag"
    name: flag
    valueFactor: 5
  - pattern: "x<type=(\\d+)><>fixed"
    name: fixed
    value: "$1"
    valueFactor: 2
  - pattern: "x<type=(\\w+)><>bad"
    name: bad
    value: "$1"
"#,
    );
    let a = set.apply(&[
        bean(
            "java.lang:type=GarbageCollector,name=G1 Young Generation",
            vec![("CollectionTime", num(1500.0))],
        ),
        bean(
            "x:type=a",
            vec![("flag", Value::Boolean(true)), ("bad", num(1.0))],
        ),
        bean("x:type=21", vec![("fixed", num(99.0))]),
    ]);
    let got: Vec<(String, f64)> = a
        .samples
        .iter()
        .map(|s| (s.name.clone(), s.value))
        .collect();
    assert_eq!(
        got,
        vec![
            ("gc_seconds".into(), 1.5),
            ("flag".into(), 1.0),
            ("fixed".into(), 42.0)
        ],
        "booleans are 1/0 without the factor; value: replaces the reading, then the factor"
    );
    assert_eq!(labels(&a.samples[0]), vec![("gc", "G1 Young Generation")]);
    // value: "a" is not a number: the attribute is dropped and said so.
    assert_eq!(a.unusable.len(), 1);
    assert!(
        a.unusable[0].reason.contains("not a number"),
        "{:?}",
        a.unusable
    );
}

#[test]
fn text_values_need_a_value_rule() {
    let set = rules(
        r#"
rules:
  - pattern: "kafka.server<type=raft-metrics><>current-state: ([a-z]+)"
    name: kafka_server_raft_metrics_current_state_info
    value: 1
    labels: {state: "$1"}
  - pattern: "kafka.server<type=raft-metrics><>([a-z-]+)"
    name: kafka_server_raft_metrics_$1
"#,
    );
    let a = set.apply(&[bean(
        "kafka.server:type=raft-metrics",
        vec![
            ("current-state", Value::Text("leader".into())),
            ("current-epoch", num(4.0)),
            ("current-vote-text", Value::Text("x".into())),
        ],
    )]);
    assert_eq!(
        names(&a),
        vec![
            "kafka_server_raft_metrics_current_state_info",
            "kafka_server_raft_metrics_current_epoch"
        ]
    );
    assert_eq!(labels(&a.samples[0]), vec![("state", "leader")]);
    assert_eq!(a.samples[0].value, 1.0);
    assert_eq!(a.unusable.len(), 1);
    assert_eq!(a.unusable[0].attribute, "current-vote-text");
}

#[test]
fn composites_add_their_attribute_to_the_keys() {
    let set = rules(
        r#"
rules:
  - pattern: "java.lang<type=Memory><HeapMemoryUsage>(\\w+)"
    name: jvm_memory_bytes_$1
    labels: {area: heap}
  - pattern: ".*"
"#,
    );
    let b = bean(
        "java.lang:type=Memory",
        vec![
            (
                "HeapMemoryUsage",
                Value::Composite(vec![
                    ("committed".into(), num(10.0)),
                    ("used".into(), num(5.0)),
                ]),
            ),
            (
                "NonHeapMemoryUsage",
                Value::Composite(vec![("used".into(), num(2.0))]),
            ),
        ],
    );
    let a = set.apply(&[b]);
    assert_eq!(
        names(&a),
        vec![
            "jvm_memory_bytes_committed",
            "jvm_memory_bytes_used",
            "java_lang_Memory_NonHeapMemoryUsage_used"
        ]
    );
}

#[test]
fn tabular_rows_become_properties() {
    // A TabularData of key/value rows (as Cassandra and others expose): index columns join the
    // bean properties, a `value` column keeps the attribute name, other columns extend the keys.
    let set = rules("");
    let rows = vec![
        TabularRow {
            index: vec![("key".into(), "a".into())],
            values: vec![
                ("key".into(), Value::Text("a".into())),
                ("value".into(), num(1.0)),
            ],
        },
        TabularRow {
            index: vec![("key".into(), "b".into())],
            values: vec![("value".into(), num(2.0)), ("other".into(), num(3.0))],
        },
    ];
    let a = set.apply(&[bean(
        "d:type=T",
        vec![("Table", Value::Tabular(rows.clone()))],
    )]);
    type Row<'a> = (String, Vec<(&'a str, &'a str)>, f64);
    let got: Vec<Row> = a
        .samples
        .iter()
        .map(|s| (s.name.clone(), labels(s), s.value))
        .collect();
    assert_eq!(
        got,
        vec![
            ("d_T_Table".into(), vec![("key", "a")], 1.0),
            ("d_T_Table_other".into(), vec![("key", "b")], 3.0),
            ("d_T_Table".into(), vec![("key", "b")], 2.0),
        ]
    );
}

#[test]
fn tabular_index_names_never_overwrite_bean_properties() {
    let rows = vec![TabularRow {
        index: vec![("key".into(), "inner".into())],
        values: vec![("value".into(), num(1.0))],
    }];
    let a = rules("").apply(&[bean(
        "d:type=T,key=outer",
        vec![("Table", Value::Tabular(rows))],
    )]);
    assert_eq!(
        labels(&a.samples[0]),
        vec![("key", "outer"), ("key_", "inner")]
    );
}

#[test]
fn snake_case_attribute_names() {
    assert_eq!(to_snake_and_lower("HeapMemoryUsage"), "heap_memory_usage");
    assert_eq!(to_snake_and_lower("anAttrName"), "an_attr_name");
    assert_eq!(to_snake_and_lower("CPULoad"), "cpuload");
    let set =
        rules("rules:\n  - pattern: \"d<type=T><>thread_count\"\n    attrNameSnakeCase: true\n");
    let a = set.apply(&[bean("d:type=T", vec![("ThreadCount", num(1.0))])]);
    assert_eq!(names(&a), vec!["d_T_thread_count"]);
}

#[test]
fn safe_name_rules() {
    assert_eq!(
        safe_name("kafka_server_socket-server-metrics__x"),
        "kafka_server_socket_server_metrics_x"
    );
    assert_eq!(safe_name("9lives"), "_9lives");
    assert_eq!(safe_name("a:b c"), "a:b_c");
    assert_eq!(safe_name("a-_-b"), "a_b");
}

#[test]
fn empty_name_stops_the_attribute() {
    let set = rules(
        r#"
rules:
  - pattern: "d<type=(x?)Skip><>(.*)"
    name: "$1"
  - pattern: ".*"
    name: caught
"#,
    );
    let a = set.apply(&[bean("d:type=Skip", vec![("A", num(1.0))])]);
    assert!(a.samples.is_empty(), "{:?}", a.samples);
    // Positive control: a bean the first rule does not match reaches the second.
    let a = set.apply(&[bean("d:type=Other", vec![("A", num(1.0))])]);
    assert_eq!(names(&a), vec!["caught"]);
}

#[test]
fn duplicates_keep_the_first_and_are_counted() {
    let set = rules("rules:\n  - pattern: \"d<type=(.+)><>(.+)\"\n    name: same\n");
    let a = set.apply(&[
        bean("d:type=A", vec![("x", num(1.0)), ("y", num(2.0))]),
        bean("d:type=B", vec![("x", num(3.0))]),
    ]);
    assert_eq!(a.samples.len(), 1);
    assert_eq!(a.samples[0].value, 1.0);
    assert_eq!(a.duplicates, 2);
    // Positive control: distinct labels are not duplicates.
    let set = rules(
        "rules:\n  - pattern: \"d<type=(.+)><>(.+)\"\n    name: same\n    labels: {t: \"$1\", a: \"$2\"}\n",
    );
    let a = set.apply(&[
        bean("d:type=A", vec![("x", num(1.0)), ("y", num(2.0))]),
        bean("d:type=B", vec![("x", num(3.0))]),
    ]);
    assert_eq!((a.samples.len(), a.duplicates), (3, 0));
}

#[test]
fn include_and_exclude_object_names() {
    let set = rules(
        r#"
includeObjectNames: ["kafka.server:type=ReplicaManager,*", "java.lang:*"]
blacklistObjectNames: ["kafka.server:type=ReplicaManager,name=LeaderCount"]
"#,
    );
    let a = set.apply(&[
        bean(
            "kafka.server:type=ReplicaManager,name=PartitionCount",
            vec![("Value", num(1.0))],
        ),
        bean(
            "kafka.server:type=ReplicaManager,name=LeaderCount",
            vec![("Value", num(1.0))],
        ),
        bean(
            "kafka.network:type=RequestChannel,name=RequestQueueSize",
            vec![("Value", num(1.0))],
        ),
        bean("java.lang:type=Threading", vec![("ThreadCount", num(1.0))]),
    ]);
    assert_eq!(
        names(&a),
        vec![
            "kafka_server_ReplicaManager_Value",
            "java_lang_Threading_ThreadCount"
        ]
    );
    let (inc, exc) = set.object_names();
    assert_eq!(inc, ["kafka.server:type=ReplicaManager,*", "java.lang:*"]);
    assert_eq!(exc, ["kafka.server:type=ReplicaManager,name=LeaderCount"]);
    // The newer key wins over the older one when both are given.
    let set = rules("includeObjectNames: [\"a:*\"]\nwhitelistObjectNames: [\"b:*\"]\n");
    assert_eq!(set.object_names().0, ["a:*"]);
}

#[test]
fn exclude_object_name_attributes() {
    let set = rules(
        "excludeObjectNameAttributes:\n  \"java.lang:type=Threading\": [AllThreadIds, PeakThreadCount]\n",
    );
    let a = set.apply(&[bean(
        "java.lang:type=Threading",
        vec![("PeakThreadCount", num(1.0)), ("ThreadCount", num(2.0))],
    )]);
    assert_eq!(names(&a), vec!["java_lang_Threading_ThreadCount"]);
}

#[test]
fn composed_sets_keep_their_own_options_and_filters() {
    let mut set = rules("rules:\n  - pattern: \"d<type=(.+)><>A\"\n    name: Extra_$1\n");
    set.extend(rules("lowercaseOutputName: true\nexcludeObjectNames: [\"d:type=Hidden\"]\nrules:\n  - pattern: \"d<type=(.+)><>(\\\\w+)\"\n    name: Preset_$1_$2\n"));
    let a = set.apply(&[
        bean("d:type=X", vec![("A", num(1.0)), ("B", num(2.0))]),
        bean("d:type=Hidden", vec![("A", num(1.0)), ("B", num(2.0))]),
    ]);
    assert_eq!(names(&a), vec!["Extra_X", "preset_x_b", "Extra_Hidden"]);
    // Querying: one file wants all beans, so all are queried; the exclude is not shared.
    let (inc, exc) = set.object_names();
    assert!(inc.is_empty() && exc.is_empty());
}

#[test]
fn cached_rules_give_the_same_result_across_scrapes() {
    let yaml = r#"
lowercaseOutputName: true
rules:
  - pattern: "d<type=(.+)><>(\\w+): (\\d+)$"
    name: live_$1_$2
  - pattern: "d<type=(.+)><>(\\w+)"
    name: cached_$1_$2
    cache: true
"#;
    let set = rules(yaml);
    let scrape = |v: f64| set.apply(&[bean("d:type=T", vec![("a", num(v)), ("b", num(0.5))])]);
    for _ in 0..3 {
        // The live rule sees the value (an integer renders as one); the cached rule sees <cache>.
        assert_eq!(names(&scrape(3.0)), vec!["live_t_a", "cached_t_b"]);
        assert_eq!(names(&scrape(0.25)), vec!["cached_t_a", "cached_t_b"]);
    }
    // A cached rule matching on the value sees "<cache>", as in jmx_exporter.
    let set = rules(
        "rules:\n  - pattern: \"d<type=T><>a: 3\"\n    name: never\n    cache: true\n  - pattern: \"d<type=T><>a: <cache>\"\n    name: placeholder\n    cache: true\n",
    );
    assert_eq!(
        names(&set.apply(&[bean("d:type=T", vec![("a", num(3.0))])])),
        vec!["placeholder"]
    );
}

#[test]
fn errors_name_the_rule_and_key() {
    let cases = [
        (
            "rules:\n  - pattern: \"a\"\n  - pattern: \"(unclosed\"\n",
            "rules[1].pattern",
        ),
        ("rules:\n  - pattern: \"a(?=b)\"\n", "look-ahead"),
        ("rules:\n  - pattern: \"a++\"\n", "possessive"),
        ("rules:\n  - pattern: \"a\"\n    nmae: x\n", "rules[0].nmae"),
        (
            "rules:\n  - pattern: \"(a)\"\n    name: x_$2\n",
            "rules[0].name",
        ),
        (
            "rules:\n  - pattern: \"a\"\n    name: x\n    type: HISTOGRAM\n",
            "rules[0].type",
        ),
        (
            "rules:\n  - labels: {a: b}\n",
            "labels and help need a name",
        ),
        ("rules:\n  - name: x\n", "a name needs a pattern"),
        (
            "rules:\n  - pattern: a\n    valueFactor: lots\n",
            "rules[0].valueFactor",
        ),
        ("lowercaseOutputNames: true\n", "lowercaseOutputNames"),
        ("includeObjectNames: [\"nocolon\"]\n", "includeObjectNames"),
        ("hostPort: a:1\njmxUrl: service:jmx:x\n", "at most one"),
        ("rules: [\n", "not valid YAML"),
        ("- a\n", "expected a mapping"),
    ];
    for (yaml, want) in cases {
        let e = RuleSet::from_yaml(yaml, "team.yml")
            .expect_err(yaml)
            .to_string();
        assert!(e.contains(want), "{yaml:?}: {e}");
        assert!(e.starts_with("team.yml"), "{e}");
    }
}

#[test]
fn connection_keys_are_accepted_and_the_password_never_kept() {
    let set = rules(
        "startDelaySeconds: 120\nhostPort: broker:9999\nusername: admin\npassword: s3cret-pw\nssl: false\ncacheRules: true\n",
    );
    let (_, keys) = set.connection_keys()[0];
    assert_eq!(keys.host_port.as_deref(), Some("broker:9999"));
    assert!(keys.password_given);
    let dump = format!("{set:?} {:?}", set.notes());
    assert!(!dump.contains("s3cret-pw"), "{dump}");
    assert!(set.notes().iter().any(|n| n.contains("password")));
    assert!(set.notes().iter().any(|n| n.contains("cacheRules")));
}

#[test]
fn read_errors_and_unsupported_values_are_reported() {
    let a = rules("").apply(&[bean(
        "d:type=T",
        vec![
            ("a", Value::Error("getter threw".into())),
            ("b", Value::Unsupported("long[]".into())),
            ("c", num(1.0)),
        ],
    )]);
    assert_eq!(a.samples.len(), 1);
    let reasons: Vec<&str> = a.unusable.iter().map(|u| u.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec!["read failed: getter threw", "unsupported type long[]"]
    );
}

#[test]
fn numbers_render_like_java_in_the_match_string() {
    assert_eq!(java_number(581.0), "581");
    assert_eq!(java_number(0.5), "0.5");
    assert_eq!(java_number(f64::NAN), "NaN");
    assert_eq!(java_number(1.5e20), "1.5E20");
    assert_eq!(java_number(1e-5), "1.0E-5");
    assert_eq!(parse_java_double("1"), Some(1.0));
    assert_eq!(parse_java_double("2.5d"), Some(2.5));
    assert_eq!(parse_java_double("inf"), None);
    assert_eq!(parse_java_double("x"), None);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<f64>().prop_map(Value::Number),
            any::<bool>().prop_map(Value::Boolean),
            "[a-z0-9 :<>=,.-]{0,12}".prop_map(Value::Text),
            "[a-z]{0,5}".prop_map(Value::Error),
        ];
        leaf.prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(("[a-zA-Z]{1,6}", inner.clone()), 0..4)
                    .prop_map(Value::Composite),
                proptest::collection::vec(
                    (
                        proptest::collection::vec(("[a-z]{1,3}", "[a-z0-9]{0,3}"), 0..2),
                        proptest::collection::vec(("[a-zA-Z]{1,6}", inner), 0..3)
                    ),
                    0..3
                )
                .prop_map(|rows| Value::Tabular(
                    rows.into_iter()
                        .map(|(index, values)| TabularRow { index, values })
                        .collect()
                )),
            ]
        })
    }

    fn beans() -> impl Strategy<Value = Vec<Bean>> {
        proptest::collection::vec(
            (
                "[a-z.]{1,10}",
                proptest::collection::vec(("[a-zA-Z-]{1,6}", "[a-zA-Z0-9 \"._-]{0,8}"), 0..4),
                proptest::collection::vec(("[a-zA-Z-]{1,8}", value()), 0..5),
            )
                .prop_map(|(domain, properties, attrs)| Bean {
                    name: format!("{domain}:x"),
                    domain,
                    properties,
                    attributes: attrs
                        .into_iter()
                        .map(|(name, value)| Attribute { name, value })
                        .collect(),
                }),
            0..6,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_yaml_never_panics(text in "\\PC{0,200}") {
            let _ = RuleSet::from_yaml(&text, "fuzz");
        }

        #[test]
        fn arbitrary_rule_fields_never_panic(
            pattern in "[a-z.<>=,()\\\\$*+?|\\[\\]{}^ 0-9:-]{0,24}",
            name in "[a-z_$0-9{}\\\\]{0,12}",
            label in "[a-z_$0-9]{0,6}",
            value in proptest::option::of("[0-9$.a-z]{0,5}"),
            cache in any::<bool>(),
            bs in beans(),
        ) {
            let mut yaml = format!(
                "rules:\n  - pattern: {}\n    name: {}\n    cache: {cache}\n    labels: {{l: {}}}\n",
                serde_json::to_string(&pattern).unwrap(),
                serde_json::to_string(&name).unwrap(),
                serde_json::to_string(&label).unwrap(),
            );
            if let Some(v) = value {
                yaml.push_str(&format!("    value: {}\n", serde_json::to_string(&v).unwrap()));
            }
            if let Ok(set) = RuleSet::from_yaml(&yaml, "fuzz") {
                let key = |a: &Applied| a.samples.iter().map(|s| (s.name.clone(), s.labels.clone(), s.value.to_bits())).collect::<Vec<_>>();
                prop_assert_eq!(key(&set.apply(&bs)), key(&set.apply(&bs)));
            }
        }

        #[test]
        fn apply_is_deterministic_and_never_panics(bs in beans()) {
            for set in [rules(""), crate::sources::jmx::presets::rules_for(
                crate::sources::jmx::presets::Role::Broker,
                crate::sources::jmx::presets::Family::JmxExporter,
                true,
            ).unwrap()] {
                let first = set.apply(&bs);
                let again = set.apply(&bs);
                // NaN != NaN: compare through the bits.
                let key = |a: &Applied| a.samples.iter().map(|s| (s.name.clone(), s.labels.clone(), s.value.to_bits())).collect::<Vec<_>>();
                prop_assert_eq!(key(&first), key(&again));
                prop_assert_eq!(first.duplicates, again.duplicates);
                prop_assert_eq!(first.unusable, again.unusable);
            }
        }
    }
}
