//! The poll against in-process brokers that speak the real wire format (kafka-protocol's `broker`
//! codecs, enabled for tests only): three brokers where Tansu has one, so the paths a single real
//! broker cannot show run here — a broker down while the others answer, a group whose coordinator
//! moved (NOT_COORDINATOR → FindCoordinator → asked again at the new one), OffsetFetch one request
//! per group (pipelined) on a broker below v8 and batched on one with v8, and the exact request
//! count of a poll.

use super::client::Pool;
use super::collect::{self, PollSettings, StateMemory};
use super::config::NameFilter;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, DescribeGroupsRequest, DescribeGroupsResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, GroupId, ListGroupsResponse,
    ListOffsetsRequest, ListOffsetsResponse, MetadataResponse, OffsetFetchRequest,
    OffsetFetchResponse, RequestHeader, ResponseHeader, TopicName,
    api_versions_response::ApiVersion,
    describe_groups_response::DescribedGroup,
    find_coordinator_response::Coordinator,
    list_groups_response::ListedGroup,
    list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse},
    metadata_response::{MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic},
    offset_fetch_response::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
        OffsetFetchResponseTopic, OffsetFetchResponseTopics,
    },
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// (topic, partition, committed offset).
type Commit = (&'static str, i32, i64);

/// What one fake broker answers.
#[derive(Default)]
struct Plan {
    id: i32,
    offset_fetch_max: i16,
    listed: Vec<&'static str>,
    /// Group → state, or an error code.
    described: BTreeMap<&'static str, Result<&'static str, i16>>,
    /// Group → (topic, partition, committed), or an error code.
    committed: BTreeMap<&'static str, Result<Vec<Commit>, i16>>,
    /// (topic, partition) → (earliest, latest) for the partitions it leads.
    offsets: BTreeMap<(&'static str, i32), (i64, i64)>,
    /// Group → coordinator node, for FindCoordinator.
    coordinators: BTreeMap<&'static str, i32>,
}

#[derive(Default)]
struct Shared {
    metadata: MetadataResponse,
    addresses: BTreeMap<i32, (String, i32)>,
    /// (broker, api key, version) of every request served.
    log: Vec<(i32, i16, i16)>,
}

async fn serve(listener: TcpListener, plan: Arc<Plan>, shared: Arc<Mutex<Shared>>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(connection(stream, plan.clone(), shared.clone()));
    }
}

async fn connection(mut stream: TcpStream, plan: Arc<Plan>, shared: Arc<Mutex<Shared>>) {
    loop {
        let Ok(len) = stream.read_i32().await else {
            return;
        };
        let mut buf = vec![0; len as usize];
        if stream.read_exact(&mut buf).await.is_err() {
            return;
        }
        let mut body = Bytes::from(buf);
        let key = i16::from_be_bytes([body[0], body[1]]);
        let version = i16::from_be_bytes([body[2], body[3]]);
        let api = ApiKey::try_from(key).expect("a known API");
        let header = RequestHeader::decode(&mut body, api.request_header_version(version))
            .expect("request header");
        shared.lock().unwrap().log.push((plan.id, key, version));
        let mut out = BytesMut::new();
        out.put_i32(0);
        ResponseHeader::default()
            .with_correlation_id(header.correlation_id)
            .encode(&mut out, api.response_header_version(version))
            .unwrap();
        respond(api, version, &mut body, &plan, &shared, &mut out);
        let n = (out.len() - 4) as i32;
        out[..4].copy_from_slice(&n.to_be_bytes());
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn respond(
    api: ApiKey,
    v: i16,
    body: &mut Bytes,
    plan: &Plan,
    shared: &Mutex<Shared>,
    out: &mut BytesMut,
) {
    match api {
        ApiKey::ApiVersions => {
            let keys = [
                (3, 12),
                (16, 5),
                (15, 5),
                (10, 6),
                (9, plan.offset_fetch_max),
                (2, 9),
                (18, 3),
            ];
            ApiVersionsResponse::default()
                .with_api_keys(
                    keys.iter()
                        .map(|(k, max)| {
                            ApiVersion::default()
                                .with_api_key(*k)
                                .with_min_version(0)
                                .with_max_version(*max)
                        })
                        .collect(),
                )
                .encode(out, v)
                .unwrap()
        }
        ApiKey::Metadata => shared.lock().unwrap().metadata.encode(out, v).unwrap(),
        ApiKey::ListGroups => ListGroupsResponse::default()
            .with_groups(
                plan.listed
                    .iter()
                    .map(|g| {
                        ListedGroup::default()
                            .with_group_id(GroupId(s(g)))
                            .with_protocol_type(s("consumer"))
                    })
                    .collect(),
            )
            .encode(out, v)
            .unwrap(),
        ApiKey::DescribeGroups => {
            let req = DescribeGroupsRequest::decode(body, v).unwrap();
            DescribeGroupsResponse::default()
                .with_groups(
                    req.groups
                        .iter()
                        .map(|g| {
                            let d = DescribedGroup::default().with_group_id(g.clone());
                            match plan.described.get(g.0.as_str()) {
                                Some(Ok(state)) => d
                                    .with_group_state(s(state))
                                    .with_protocol_type(s("consumer"))
                                    .with_protocol_data(s("range")),
                                Some(Err(code)) => d.with_error_code(*code),
                                None => d.with_group_state(s("Dead")),
                            }
                        })
                        .collect(),
                )
                .encode(out, v)
                .unwrap()
        }
        ApiKey::FindCoordinator => {
            let req = FindCoordinatorRequest::decode(body, v).unwrap();
            let sh = shared.lock().unwrap();
            FindCoordinatorResponse::default()
                .with_coordinators(
                    req.coordinator_keys
                        .iter()
                        .map(|k| {
                            let node = plan.coordinators[k.as_str()];
                            let (host, port) = sh.addresses[&node].clone();
                            Coordinator::default()
                                .with_key(k.clone())
                                .with_node_id(BrokerId(node))
                                .with_host(s(&host))
                                .with_port(port)
                        })
                        .collect(),
                )
                .encode(out, v)
                .unwrap()
        }
        ApiKey::OffsetFetch => {
            let req = OffsetFetchRequest::decode(body, v).unwrap();
            if v >= 8 {
                let groups = req
                    .groups
                    .iter()
                    .map(|g| {
                        let r =
                            OffsetFetchResponseGroup::default().with_group_id(g.group_id.clone());
                        match &plan.committed[g.group_id.0.as_str()] {
                            Err(code) => r.with_error_code(*code),
                            Ok(rows) => r.with_topics(
                                rows.iter()
                                    .map(|(t, p, o)| {
                                        OffsetFetchResponseTopics::default()
                                            .with_name(TopicName(s(t)))
                                            .with_partitions(vec![
                                                OffsetFetchResponsePartitions::default()
                                                    .with_partition_index(*p)
                                                    .with_committed_offset(*o),
                                            ])
                                    })
                                    .collect(),
                            ),
                        }
                    })
                    .collect();
                OffsetFetchResponse::default()
                    .with_groups(groups)
                    .encode(out, v)
                    .unwrap()
            } else {
                let r = OffsetFetchResponse::default();
                let r = match &plan.committed[req.group_id.0.as_str()] {
                    Err(code) => r.with_error_code(*code),
                    Ok(rows) => r.with_topics(
                        rows.iter()
                            .map(|(t, p, o)| {
                                OffsetFetchResponseTopic::default()
                                    .with_name(TopicName(s(t)))
                                    .with_partitions(vec![
                                        OffsetFetchResponsePartition::default()
                                            .with_partition_index(*p)
                                            .with_committed_offset(*o),
                                    ])
                            })
                            .collect(),
                    ),
                };
                r.encode(out, v).unwrap()
            }
        }
        ApiKey::ListOffsets => {
            let req = ListOffsetsRequest::decode(body, v).unwrap();
            ListOffsetsResponse::default()
                .with_topics(
                    req.topics
                        .iter()
                        .map(|t| {
                            ListOffsetsTopicResponse::default()
                                .with_name(t.name.clone())
                                .with_partitions(
                                    t.partitions
                                        .iter()
                                        .map(|p| {
                                            let r = ListOffsetsPartitionResponse::default()
                                                .with_partition_index(p.partition_index);
                                            match plan
                                                .offsets
                                                .get(&(t.name.0.as_str(), p.partition_index))
                                            {
                                                // NOT_LEADER_OR_FOLLOWER
                                                None => r.with_error_code(6),
                                                Some((e, l)) => {
                                                    r.with_offset(if p.timestamp == -2 {
                                                        *e
                                                    } else {
                                                        *l
                                                    })
                                                }
                                            }
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
                .encode(out, v)
                .unwrap()
        }
        other => panic!("the fake broker does not serve {other:?}"),
    }
    // Every request body was read to its end.
    assert!(
        !body.has_remaining()
            || matches!(
                api,
                ApiKey::ApiVersions | ApiKey::Metadata | ApiKey::ListGroups
            )
    );
}

fn partition(p: i32, leader: i32, replicas: &[i32], isr: &[i32]) -> MetadataResponsePartition {
    MetadataResponsePartition::default()
        .with_partition_index(p)
        .with_leader_id(BrokerId(leader))
        .with_replica_nodes(replicas.iter().map(|r| BrokerId(*r)).collect())
        .with_isr_nodes(isr.iter().map(|r| BrokerId(*r)).collect())
}

#[tokio::test]
async fn three_brokers_one_down_a_moved_coordinator_and_both_offset_fetch_styles() {
    let la = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (pa, pb) = (
        la.local_addr().unwrap().port() as i32,
        lb.local_addr().unwrap().port() as i32,
    );
    // Broker 3's port: bound, released, refused.
    let pc = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port() as i32;
    let shared = Arc::new(Mutex::new(Shared::default()));
    {
        let mut sh = shared.lock().unwrap();
        for (id, port) in [(1, pa), (2, pb), (3, pc)] {
            sh.addresses.insert(id, ("127.0.0.1".to_string(), port));
        }
        sh.metadata = MetadataResponse::default()
            .with_controller_id(BrokerId(1))
            .with_brokers(
                sh.addresses
                    .iter()
                    .map(|(id, (h, p))| {
                        MetadataResponseBroker::default()
                            .with_node_id(BrokerId(*id))
                            .with_host(s(h))
                            .with_port(*p)
                    })
                    .collect(),
            )
            .with_topics(vec![
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(s("t"))))
                    .with_partitions(vec![
                        partition(0, 1, &[1, 2], &[1, 2]),
                        partition(1, 2, &[1, 2], &[2]),
                        partition(2, 3, &[3], &[3]),
                    ]),
            ]);
    }
    // A: lists g1 and g2, but g2's coordinator has moved to B; OffsetFetch up to v7 only.
    let a = Plan {
        id: 1,
        offset_fetch_max: 7,
        listed: vec!["g1", "g2"],
        described: [("g1", Ok("Stable")), ("g2", Err(16))]
            .into_iter()
            .collect(),
        committed: [("g1", Ok(vec![("t", 0, 5), ("t", 1, 3)])), ("g2", Err(16))]
            .into_iter()
            .collect(),
        offsets: [(("t", 0), (1, 10))].into_iter().collect(),
        coordinators: [("g2", 2)].into_iter().collect(),
    };
    // B: lists g3, and answers for g2 when asked; OffsetFetch v8 (many groups per request).
    let b = Plan {
        id: 2,
        offset_fetch_max: 8,
        listed: vec!["g3"],
        described: [("g3", Ok("Empty")), ("g2", Ok("Stable"))]
            .into_iter()
            .collect(),
        committed: [("g3", Ok(vec![("t", 1, 2)])), ("g2", Ok(vec![("t", 0, 7)]))]
            .into_iter()
            .collect(),
        offsets: [(("t", 1), (0, 4))].into_iter().collect(),
        coordinators: BTreeMap::new(),
    };
    tokio::spawn(serve(la, Arc::new(a), shared.clone()));
    tokio::spawn(serve(lb, Arc::new(b), shared.clone()));

    let mut pool = Pool::new("test");
    let bootstrap = vec![format!("127.0.0.1:{pa}")];
    let groups = Arc::new(NameFilter::default());
    let topics = NameFilter::default();
    let settings = PollSettings {
        bootstrap: &bootstrap,
        groups: &groups,
        topics: &topics,
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let snap = collect::poll(&mut pool, &settings, deadline).await.unwrap();

    // Every group, each from its coordinator, g2 from the one it moved to.
    let coords: Vec<(&str, i32)> = snap
        .groups
        .iter()
        .map(|(g, s)| (g.as_str(), s.coordinator))
        .collect();
    assert_eq!(
        coords,
        vec![("g1", 1), ("g2", 2), ("g3", 2)],
        "{:?}",
        snap.warnings
    );
    assert_eq!(snap.groups["g2"].offsets[&("t".to_string(), 0)], 7);
    assert_eq!(snap.groups["g3"].state, "Empty");
    // The down broker is a warning, and only its partition lacks offsets.
    let warnings = snap.warnings.join("\n");
    assert!(
        warnings.contains(&format!("broker 3: 127.0.0.1:{pc}: cannot connect")),
        "{warnings}"
    );
    assert_eq!(snap.warnings.len(), 1, "{warnings}");
    let latest = |p: i32| snap.topics["t"].partitions[&p].latest;
    assert_eq!((latest(0), latest(1), latest(2)), (Some(10), Some(4), None));
    assert_eq!(
        snap.listed_by.iter().copied().collect::<Vec<_>>(),
        vec![1, 2]
    );

    // The request plan: A serves ApiVersions, Metadata, ListOffsets ×2, ListGroups,
    // DescribeGroups, OffsetFetch once per group (v7) and FindCoordinator; B ApiVersions,
    // ListOffsets ×2, ListGroups, DescribeGroups and OffsetFetch (v8, batched) twice each (its
    // own groups, then the moved one).
    let log = shared.lock().unwrap().log.clone();
    let count = |broker: i32, key: i16| {
        log.iter()
            .filter(|(b, k, _)| *b == broker && *k == key)
            .count()
    };
    assert_eq!(
        count(1, 9),
        2,
        "one OffsetFetch per group below v8: {log:?}"
    );
    assert!(
        log.contains(&(1, 9, 7)) && log.contains(&(2, 9, 8)),
        "{log:?}"
    );
    assert_eq!(count(2, 9), 2, "{log:?}");
    assert_eq!(count(1, 10), 1);
    assert_eq!((count(1, 2), count(2, 2)), (2, 2));
    assert_eq!(snap.requests, log.len() as u64);
    assert_eq!(snap.requests, 17);

    // Readings from it: lag against each leader's latest offset; none where it is unknown.
    let rs = collect::readings(&snap, &mut StateMemory::default());
    let lag = |g: &str, p: &str| {
        rs.iter()
            .find(|r| {
                r.metric == "kafka_consumergroup_lag"
                    && r.labels.get("consumergroup") == Some(g)
                    && r.labels.get("partition") == Some(p)
            })
            .map(|r| r.value)
    };
    assert_eq!(lag("g1", "0"), Some(5.0));
    assert_eq!(lag("g1", "1"), Some(1.0));
    assert_eq!(lag("g2", "0"), Some(3.0));

    // A second poll reuses the connections: no ApiVersions again.
    let before = shared.lock().unwrap().log.len();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let again = collect::poll(&mut pool, &settings, deadline).await.unwrap();
    let log = shared.lock().unwrap().log.clone();
    assert!(
        log[before..].iter().all(|(_, k, _)| *k != 18),
        "{:?}",
        &log[before..]
    );
    assert_eq!(again.requests, 15);
    assert!(super::events::diff(&snap, &again).is_empty());
}
