//! The admin requests the kafka source needs, each over one broker connection, with the answers
//! turned into plain types. Many items go in one request where the protocol allows it:
//! DescribeGroups takes many groups, OffsetFetch v8+ many groups (older brokers get one request per
//! group, pipelined), FindCoordinator v4+ many keys, ListOffsets every partition a broker leads.

use super::connection::{ClientError, Connection, error_name};
use kafka_protocol::messages::{
    BrokerId, DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest, GroupId,
    ListGroupsRequest, ListOffsetsRequest, MetadataRequest, OffsetFetchRequest, TopicName,
    list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic},
    offset_fetch_request::OffsetFetchRequestGroup,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::BTreeMap;
use tokio::time::Instant;

/// Groups per DescribeGroups or OffsetFetch request: large enough that 2,000 groups take a
/// handful of requests, small enough that one response stays a few megabytes.
pub const GROUP_BATCH: usize = 200;

/// Metadata: brokers, controller, topics and their partitions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterMetadata {
    pub brokers: Vec<BrokerMeta>,
    pub controller_id: i32,
    pub topics: Vec<TopicMeta>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerMeta {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerMeta {
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TopicMeta {
    pub name: String,
    pub internal: bool,
    /// A topic-level error (e.g. LEADER_NOT_AVAILABLE while it is created), else None.
    pub error: Option<String>,
    pub partitions: Vec<PartitionMeta>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMeta {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline: Vec<i32>,
}

pub async fn metadata(
    c: &mut Connection,
    deadline: Instant,
) -> Result<ClusterMetadata, ClientError> {
    let v = c.version::<MetadataRequest>(1, 12)?;
    // All topics (None), never creating one by asking.
    let mut req = MetadataRequest::default().with_topics(None);
    if v >= 4 {
        req.allow_auto_topic_creation = false;
    }
    let r = c.call(&req, v, deadline).await?;
    Ok(ClusterMetadata {
        brokers: r
            .brokers
            .iter()
            .map(|b| BrokerMeta {
                id: b.node_id.0,
                host: b.host.as_str().to_string(),
                port: b.port,
                rack: b.rack.as_ref().map(|r| r.as_str().to_string()),
            })
            .collect(),
        controller_id: r.controller_id.0,
        topics: r
            .topics
            .iter()
            .filter_map(|t| {
                let name = t.name.as_ref()?.0.as_str().to_string();
                Some(TopicMeta {
                    name,
                    internal: t.is_internal,
                    error: (t.error_code != 0).then(|| error_name(t.error_code)),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| PartitionMeta {
                            partition: p.partition_index,
                            leader: p.leader_id.0,
                            replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                            isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                            offline: p.offline_replicas.iter().map(|b| b.0).collect(),
                        })
                        .collect(),
                })
            })
            .collect(),
    })
}

/// A group as ListGroups names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedGroup {
    pub id: String,
    pub protocol_type: String,
    /// Empty before v4 (and from brokers that do not say).
    pub state: String,
}

/// The groups this broker coordinates.
pub async fn list_groups(
    c: &mut Connection,
    deadline: Instant,
) -> Result<Vec<ListedGroup>, ClientError> {
    let v = c.version::<ListGroupsRequest>(0, 5)?;
    let r = c.call(&ListGroupsRequest::default(), v, deadline).await?;
    if r.error_code != 0 {
        return Err(ClientError::Broker {
            addr: c.addr().to_string(),
            api: "ListGroups",
            message: error_name(r.error_code),
        });
    }
    Ok(r.groups
        .iter()
        .map(|g| ListedGroup {
            id: g.group_id.0.as_str().to_string(),
            protocol_type: g.protocol_type.as_str().to_string(),
            state: g.group_state.as_str().to_string(),
        })
        .collect())
}

/// A group as DescribeGroups describes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupDescription {
    pub id: String,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<Member>,
    /// The generation the members' subscriptions carry (consumer protocol v2+), when any does.
    pub generation: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Member {
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    /// Topic → partitions, from the consumer protocol's assignment.
    pub assignments: BTreeMap<String, Vec<i32>>,
}

/// A group-level error: the Kafka code and its text.
pub type GroupError = (i16, String);

/// Per group, its description or its error.
pub type Described = Vec<(String, Result<GroupDescription, GroupError>)>;

/// Describes `groups` (batched), returning per group its description or the error text.
pub async fn describe_groups(
    c: &mut Connection,
    groups: &[String],
    deadline: Instant,
) -> Result<Described, ClientError> {
    if groups.is_empty() {
        return Ok(vec![]);
    }
    let v = c.version::<DescribeGroupsRequest>(0, 5)?;
    let reqs: Vec<DescribeGroupsRequest> = groups
        .chunks(GROUP_BATCH)
        .map(|chunk| {
            DescribeGroupsRequest::default().with_groups(
                chunk
                    .iter()
                    .map(|g| GroupId(StrBytes::from_string(g.clone())))
                    .collect(),
            )
        })
        .collect();
    let responses = c.pipeline(&reqs, v, deadline).await?;
    Ok(responses.iter().flat_map(describe_answers).collect())
}

fn describe_answers(r: &DescribeGroupsResponse) -> Described {
    r.groups
        .iter()
        .map(|g| {
            let id = g.group_id.0.as_str().to_string();
            if g.error_code != 0 {
                let mut m = error_name(g.error_code);
                if let Some(text) = &g.error_message {
                    m = format!("{m}: {}", text.as_str());
                }
                return (id, Err((g.error_code, m)));
            }
            let consumer = g.protocol_type.as_str() == "consumer";
            let mut generation = None;
            let members = g
                .members
                .iter()
                .map(|m| {
                    let mut assignments = BTreeMap::new();
                    if consumer {
                        if let Some(a) = consumer_assignment(&m.member_assignment) {
                            assignments = a;
                        }
                        if let Some(gen_id) = subscription_generation(&m.member_metadata) {
                            generation = Some(generation.map_or(gen_id, |g: i32| g.max(gen_id)));
                        }
                    }
                    Member {
                        member_id: m.member_id.as_str().to_string(),
                        client_id: m.client_id.as_str().to_string(),
                        client_host: m.client_host.as_str().to_string(),
                        assignments,
                    }
                })
                .collect();
            (
                id.clone(),
                Ok(GroupDescription {
                    id,
                    state: g.group_state.as_str().to_string(),
                    protocol_type: g.protocol_type.as_str().to_string(),
                    protocol: g.protocol_data.as_str().to_string(),
                    members,
                    generation,
                }),
            )
        })
        .collect()
}

/// A bounds-checked reader of the consumer protocol's embedded bytes. Ours rather than
/// kafka-protocol's decoders: those reserve an array's announced length before reading it, and
/// member metadata is opaque client data.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn i16(&mut self) -> Option<i16> {
        self.take(2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Option<i32> {
        self.take(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Option<Option<String>> {
        match self.i16()? {
            -1 => Some(None),
            n if n >= 0 => {
                let b = self.take(n as usize)?;
                Some(Some(String::from_utf8_lossy(b).into_owned()))
            }
            _ => None,
        }
    }

    fn bytes(&mut self) -> Option<()> {
        match self.i32()? {
            -1 => Some(()),
            n if n >= 0 => self.take(n as usize).map(|_| ()),
            _ => None,
        }
    }

    /// An array length, which can never exceed the bytes left (every element takes at least one).
    fn count(&mut self) -> Option<usize> {
        let n = self.i32()?;
        (n >= 0 && n as usize <= self.0.len()).then_some(n as usize)
    }

    fn topic_partitions(&mut self) -> Option<BTreeMap<String, Vec<i32>>> {
        let mut out: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for _ in 0..self.count()? {
            let topic = self.string()??;
            let mut ps = Vec::new();
            for _ in 0..self.count()? {
                ps.push(self.i32()?);
            }
            out.entry(topic).or_default().extend(ps);
        }
        Some(out)
    }
}

/// The consumer protocol's assignment (versions 0–3 share one layout): topic → partitions.
pub fn consumer_assignment(bytes: &[u8]) -> Option<BTreeMap<String, Vec<i32>>> {
    let mut r = Reader(bytes);
    let version = r.i16()?;
    if !(0..=3).contains(&version) {
        return None;
    }
    let out = r.topic_partitions()?;
    r.bytes()?;
    Some(out)
}

/// The generation in a consumer subscription (v2+ carries the member's last generation).
pub fn subscription_generation(bytes: &[u8]) -> Option<i32> {
    let mut r = Reader(bytes);
    let version = r.i16()?;
    if !(2..=3).contains(&version) {
        return None;
    }
    for _ in 0..r.count()? {
        r.string()?;
    }
    r.bytes()?;
    r.topic_partitions()?;
    r.i32().filter(|g| *g >= 0)
}

/// One group's committed offsets: (topic, partition) → offset, or the group's error.
pub type GroupOffsets = Result<BTreeMap<(String, i32), i64>, GroupError>;

/// Per group: its offsets (or error), and the partitions that answered with an error.
pub type Fetched = Vec<(String, GroupOffsets, Vec<String>)>;

/// Committed offsets of every topic of each group (no commit: absent). Returns per group its
/// offsets or error; partitions with an error are left out and listed in the second value.
pub async fn offset_fetch(
    c: &mut Connection,
    groups: &[String],
    deadline: Instant,
) -> Result<Fetched, ClientError> {
    if groups.is_empty() {
        return Ok(vec![]);
    }
    // v2 is the first to answer "all topics" (topics = null).
    let v = c.version::<OffsetFetchRequest>(2, 9)?;
    let mut out = Vec::with_capacity(groups.len());
    if v >= 8 {
        let reqs: Vec<OffsetFetchRequest> = groups
            .chunks(GROUP_BATCH)
            .map(|chunk| {
                OffsetFetchRequest::default().with_groups(
                    chunk
                        .iter()
                        .map(|g| {
                            OffsetFetchRequestGroup::default()
                                .with_group_id(GroupId(StrBytes::from_string(g.clone())))
                                .with_topics(None)
                        })
                        .collect(),
                )
            })
            .collect();
        for r in c.pipeline(&reqs, v, deadline).await? {
            for g in r.groups {
                let mut bad = vec![];
                let id = g.group_id.0.as_str().to_string();
                if g.error_code != 0 {
                    out.push((id, Err((g.error_code, error_name(g.error_code))), bad));
                    continue;
                }
                let mut offsets = BTreeMap::new();
                for t in g.topics {
                    let topic = t.name.0.as_str().to_string();
                    for p in t.partitions {
                        keep_commit(
                            &mut offsets,
                            &mut bad,
                            &topic,
                            p.partition_index,
                            p.committed_offset,
                            p.error_code,
                        );
                    }
                }
                out.push((id, Ok(offsets), bad));
            }
        }
    } else {
        let reqs: Vec<OffsetFetchRequest> = groups
            .iter()
            .map(|g| {
                OffsetFetchRequest::default()
                    .with_group_id(GroupId(StrBytes::from_string(g.clone())))
                    .with_topics(None)
            })
            .collect();
        for (g, r) in groups.iter().zip(c.pipeline(&reqs, v, deadline).await?) {
            let mut bad = vec![];
            if r.error_code != 0 {
                out.push((
                    g.clone(),
                    Err((r.error_code, error_name(r.error_code))),
                    bad,
                ));
                continue;
            }
            let mut offsets = BTreeMap::new();
            for t in r.topics {
                let topic = t.name.0.as_str().to_string();
                for p in t.partitions {
                    keep_commit(
                        &mut offsets,
                        &mut bad,
                        &topic,
                        p.partition_index,
                        p.committed_offset,
                        p.error_code,
                    );
                }
            }
            out.push((g.clone(), Ok(offsets), bad));
        }
    }
    Ok(out)
}

fn keep_commit(
    offsets: &mut BTreeMap<(String, i32), i64>,
    bad: &mut Vec<String>,
    topic: &str,
    partition: i32,
    offset: i64,
    code: i16,
) {
    if code != 0 {
        bad.push(format!("{topic}/{partition}: {}", error_name(code)));
    } else if offset >= 0 {
        // -1: no commit for this partition.
        offsets.insert((topic.to_string(), partition), offset);
    }
}

/// Where a group's coordinator is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coordinator {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

/// The coordinator of each group (v4+: one request for all, else one per group, pipelined).
pub async fn find_coordinators(
    c: &mut Connection,
    groups: &[String],
    deadline: Instant,
) -> Result<Vec<(String, Result<Coordinator, String>)>, ClientError> {
    if groups.is_empty() {
        return Ok(vec![]);
    }
    let v = c.version::<FindCoordinatorRequest>(0, 6)?;
    if v >= 4 {
        let req = FindCoordinatorRequest::default().with_coordinator_keys(
            groups
                .iter()
                .map(|g| StrBytes::from_string(g.clone()))
                .collect(),
        );
        let r = c.call(&req, v, deadline).await?;
        return Ok(r
            .coordinators
            .iter()
            .map(|k| {
                let answer = if k.error_code != 0 {
                    Err(error_name(k.error_code))
                } else {
                    Ok(Coordinator {
                        node_id: k.node_id.0,
                        host: k.host.as_str().to_string(),
                        port: k.port,
                    })
                };
                (k.key.as_str().to_string(), answer)
            })
            .collect());
    }
    let reqs: Vec<FindCoordinatorRequest> = groups
        .iter()
        .map(|g| FindCoordinatorRequest::default().with_key(StrBytes::from_string(g.clone())))
        .collect();
    let rs = c.pipeline(&reqs, v, deadline).await?;
    Ok(groups
        .iter()
        .zip(rs)
        .map(|(g, r)| {
            let answer = if r.error_code != 0 {
                Err(error_name(r.error_code))
            } else {
                Ok(Coordinator {
                    node_id: r.node_id.0,
                    host: r.host.as_str().to_string(),
                    port: r.port,
                })
            };
            (g.clone(), answer)
        })
        .collect())
}

/// Earliest (−2) and latest (−1) offsets, one request each for every partition `partitions`
/// (which this broker leads), pipelined. Per partition: (earliest, latest), each or its error.
pub type OffsetPair = (Result<i64, String>, Result<i64, String>);

/// (topic, partition) → its earliest and latest offsets.
pub type PartitionOffsets = BTreeMap<(String, i32), OffsetPair>;

pub async fn list_offsets(
    c: &mut Connection,
    partitions: &[(String, i32)],
    deadline: Instant,
) -> Result<PartitionOffsets, ClientError> {
    let mut out = BTreeMap::new();
    if partitions.is_empty() {
        return Ok(out);
    }
    // v0 answers in a layout without a single offset (Tansu even leaves it out): v1+ only.
    let v = c.version::<ListOffsetsRequest>(1, 9)?;
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in partitions {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    let request = |timestamp: i64| {
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(
                by_topic
                    .iter()
                    .map(|(t, ps)| {
                        ListOffsetsTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_string())))
                            .with_partitions(
                                ps.iter()
                                    .map(|p| {
                                        ListOffsetsPartition::default()
                                            .with_partition_index(*p)
                                            .with_timestamp(timestamp)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    };
    let rs = c.pipeline(&[request(-2), request(-1)], v, deadline).await?;
    for (i, r) in rs.iter().enumerate() {
        for t in &r.topics {
            let topic = t.name.0.as_str();
            for p in &t.partitions {
                let value = if p.error_code != 0 {
                    Err(error_name(p.error_code))
                } else if p.offset < 0 {
                    Err(format!("no offset (answered {})", p.offset))
                } else {
                    Ok(p.offset)
                };
                let e = out
                    .entry((topic.to_string(), p.partition_index))
                    .or_insert_with(|| {
                        (
                            Err("not answered".to_string()),
                            Err("not answered".to_string()),
                        )
                    });
                if i == 0 {
                    e.0 = value;
                } else {
                    e.1 = value;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::protocol::Encodable;
    use proptest::prelude::*;

    #[test]
    fn a_consumer_assignment_decodes_topics_and_partitions() {
        // Version 0: array of (topic, [partitions]), then null user data.
        let mut b = BytesMut::new();
        b.put_i16(0);
        b.put_i32(1);
        b.put_i16(2);
        b.put_slice(b"t1");
        b.put_i32(2);
        b.put_i32(0);
        b.put_i32(3);
        b.put_i32(-1);
        let a = consumer_assignment(&b.freeze()).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a["t1"], vec![0, 3]);
        assert!(consumer_assignment(&[0]).is_none());
        // An array longer than the bytes left is refused before anything is reserved.
        assert!(consumer_assignment(&[0, 0, 0x7f, 0xff, 0xff, 0xff]).is_none());
    }

    #[test]
    fn a_v2_subscription_carries_the_generation() {
        use kafka_protocol::messages::ConsumerProtocolSubscription;
        let s = ConsumerProtocolSubscription::default()
            .with_topics(vec![StrBytes::from_static_str("t")])
            .with_generation_id(7);
        let mut b = BytesMut::new();
        b.put_i16(2);
        s.encode(&mut b, 2).unwrap();
        assert_eq!(subscription_generation(&b.freeze()), Some(7));
        // v1 has no generation.
        let mut b = BytesMut::new();
        b.put_i16(1);
        ConsumerProtocolSubscription::default()
            .encode(&mut b, 1)
            .unwrap();
        assert_eq!(subscription_generation(&b.freeze()), None);
    }

    proptest! {
        #[test]
        fn member_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = consumer_assignment(&bytes);
            let _ = subscription_generation(&bytes);
        }
    }
}
