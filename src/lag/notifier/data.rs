//! What a notifier template sees: Burrow's `{Cluster, Group, ID, Start, Extras, Result}` with
//! `Result` a `protocol.ConsumerGroupStatus`, under Burrow's Go field names.

use super::super::{ConsumerOffset, GroupStatus, PartitionStatus, Status};
use super::value::{Field, Value};
use std::collections::BTreeMap;

fn f(go: &'static str, json: Option<&'static str>, value: Value) -> Field {
    Field { go, json, value }
}

fn offset(o: &Option<ConsumerOffset>) -> Value {
    match o {
        None => Value::NilPtr("protocol.ConsumerOffset"),
        Some(o) => Value::Struct {
            ty: "protocol.ConsumerOffset",
            ptr: true,
            fields: vec![
                f("Offset", Some("offset"), Value::Int(o.offset)),
                f("Timestamp", Some("timestamp"), Value::Int(o.timestamp)),
                f(
                    "Lag",
                    Some("lag"),
                    o.lag.map_or(Value::NilPtr("protocol.Lag"), Value::Lag),
                ),
            ],
        },
    }
}

fn partition(p: &PartitionStatus) -> Value {
    Value::Struct {
        ty: "protocol.PartitionStatus",
        ptr: true,
        fields: vec![
            f("Topic", Some("topic"), Value::Str(p.topic.clone())),
            f(
                "Partition",
                Some("partition"),
                Value::Int(p.partition.into()),
            ),
            f("Owner", Some("owner"), Value::Str(p.owner.clone())),
            f(
                "ClientID",
                Some("client_id"),
                Value::Str(p.client_id.clone()),
            ),
            f("Status", Some("status"), Value::Status(p.status as i64)),
            f("Start", Some("start"), offset(&p.start)),
            f("End", Some("end"), offset(&p.end)),
            f(
                "CurrentLag",
                Some("current_lag"),
                Value::Uint(p.current_lag),
            ),
            f(
                "Complete",
                Some("complete"),
                Value::Float(p.complete.into(), 32),
            ),
        ],
    }
}

/// Burrow's `ConsumerGroupStatus` as a Go value (as the notifier gets it: only the partitions
/// that are not OK, like Burrow's `/status`).
pub fn result(g: &GroupStatus) -> Value {
    Value::Struct {
        ty: "protocol.ConsumerGroupStatus",
        ptr: false,
        fields: vec![
            f("Cluster", Some("cluster"), Value::Str(g.cluster.clone())),
            f("Group", Some("group"), Value::Str(g.group.clone())),
            f("Status", Some("status"), Value::Status(g.status as i64)),
            f(
                "Complete",
                Some("complete"),
                Value::Float(g.complete.into(), 32),
            ),
            f(
                "Partitions",
                Some("partitions"),
                Value::List(g.partitions.iter().map(partition).collect()),
            ),
            f(
                "TotalPartitions",
                Some("partition_count"),
                Value::Int(g.partition_count as i64),
            ),
            f(
                "Maxlag",
                Some("maxlag"),
                g.maxlag
                    .as_ref()
                    .map_or(Value::NilPtr("protocol.PartitionStatus"), partition),
            ),
            f("TotalLag", Some("totallag"), Value::Uint(g.totallag)),
        ],
    }
}

/// The template's `.`: Burrow's `executeTemplate` data.
pub fn data(g: &GroupStatus, id: &str, start_ms: i64, extras: &BTreeMap<String, String>) -> Value {
    Value::Struct {
        ty: "struct { Cluster string; Group string; ID string; Start time.Time; Extras map[string]string; Result protocol.ConsumerGroupStatus }",
        ptr: false,
        fields: vec![
            f("Cluster", Some("Cluster"), Value::Str(g.cluster.clone())),
            f("Group", Some("Group"), Value::Str(g.group.clone())),
            f("ID", Some("ID"), Value::Str(id.to_string())),
            f("Start", Some("Start"), Value::Time(start_ms)),
            f(
                "Extras",
                Some("Extras"),
                Value::Map(
                    extras
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
                        .collect(),
                    Box::new(Value::Str(String::new())),
                ),
            ),
            f("Result", Some("Result"), result(g)),
        ],
    }
}

/// A group status with every optional part present, for [`super::template::Template::check`].
pub fn sample() -> GroupStatus {
    let off = |offset, timestamp, lag| ConsumerOffset {
        offset,
        timestamp,
        lag: Some(lag),
    };
    let p = PartitionStatus {
        topic: "topic".into(),
        partition: 0,
        owner: "/127.0.0.1".into(),
        client_id: "client".into(),
        status: Status::Warn,
        start: Some(off(100, 1_700_000_000_000, 5)),
        end: Some(off(200, 1_700_000_600_000, 9)),
        current_lag: 9,
        complete: 1.0,
        reason: String::new(),
        window: Vec::new(),
        retention: None,
    };
    GroupStatus {
        cluster: "cluster".into(),
        group: "group".into(),
        status: Status::Warn,
        complete: 1.0,
        partitions: vec![p.clone()],
        partition_count: 1,
        maxlag: Some(p),
        totallag: 9,
        evidence: Vec::new(),
    }
}
