//! One poll of a cluster, and what it becomes: readings (kafka_exporter's names) and documents.
//!
//! The request plan (B brokers, G groups, L partition leaders):
//! 1. Metadata once, from the first bootstrap broker that answers;
//! 2. one task per broker, concurrently: ListGroups (the groups it coordinates), then
//!    DescribeGroups and OffsetFetch for those groups in batches, and ListOffsets earliest and
//!    latest for the partitions it leads (two requests, pipelined);
//! 3. groups whose coordinator moved meanwhile (NOT_COORDINATOR and friends): FindCoordinator
//!    once for all of them, then DescribeGroups and OffsetFetch at the new coordinator.
//!
//! That is 1 + B + 2·⌈G/batch⌉ + 2·L requests (plus ApiVersions on new connections), never one
//! per partition. A broker that fails is a warning; the poll fails only when no broker answers
//! Metadata.

use super::client::admin::{
    self, BrokerMeta, ClusterMetadata, GroupDescription, ListedGroup, Member,
};
use super::client::{BrokerHandle, ClientError, Pool};
use super::config::NameFilter;
use crate::model::Reading;
use crate::sources::Document;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Kafka error codes that mean "ask the group's (new) coordinator": COORDINATOR_LOAD_IN_PROGRESS,
/// COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR.
const COORDINATOR_MOVED: [i16; 3] = [14, 15, 16];

/// Everything one poll learned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub at_ms: i64,
    pub brokers: Vec<BrokerMeta>,
    pub controller_id: i32,
    pub topics: BTreeMap<String, TopicState>,
    pub groups: BTreeMap<String, GroupState>,
    /// Groups listed but left out this poll (an error); not taken for deleted.
    pub skipped: BTreeSet<String>,
    /// Brokers whose ListGroups answered.
    pub listed_by: BTreeSet<i32>,
    /// Requests this poll sent.
    pub requests: u64,
    pub warnings: Vec<String>,
    /// `__consumer_offsets` partition → (leader id, leader address), whatever the topic filter.
    pub offsets_topic: BTreeMap<i32, (i32, String)>,
    /// The groups' offsets were read from `__consumer_offsets`: their committed-offset samples
    /// are written per commit at its commit time (offsets_topic.rs), not at the poll.
    pub commits_from_topic: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopicState {
    pub internal: bool,
    pub partitions: BTreeMap<i32, PartitionState>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartitionState {
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline: Vec<i32>,
    pub earliest: Option<i64>,
    pub latest: Option<i64>,
}

impl PartitionState {
    pub fn under_replicated(&self) -> bool {
        self.isr.len() < self.replicas.len()
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupState {
    pub coordinator: i32,
    /// One of [`STATES`].
    pub state: &'static str,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<Member>,
    pub generation: Option<i32>,
    /// (topic, partition) → committed offset; partitions without a commit are absent.
    pub offsets: BTreeMap<(String, i32), i64>,
}

/// The group states as Kafka names them, plus `Unknown` for anything else a broker says.
pub const STATES: [&str; 6] = [
    "Stable",
    "Empty",
    "PreparingRebalance",
    "CompletingRebalance",
    "Dead",
    "Unknown",
];

/// A broker's state word in Kafka's spelling (brokers differ in case and underscores:
/// `Stable`, `STABLE`, `preparing_rebalance`).
pub fn canonical_state(s: &str) -> &'static str {
    let key: String = s
        .chars()
        .filter(|c| *c != '_' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    STATES
        .iter()
        .find(|st| st.to_ascii_lowercase() == key)
        .copied()
        .unwrap_or("Unknown")
}

/// What the source asks of one poll.
pub struct PollSettings<'a> {
    pub bootstrap: &'a [String],
    pub groups: &'a Arc<NameFilter>,
    pub topics: &'a NameFilter,
}

/// Reads the cluster once.
pub async fn poll(
    pool: &mut Pool,
    settings: &PollSettings<'_>,
    deadline: Instant,
) -> Result<Snapshot, String> {
    let sent_before = pool.requests_sent();
    let mut warnings = Vec::new();
    let meta = fetch_metadata(pool, settings.bootstrap, deadline, &mut warnings).await?;

    let addresses: HashMap<i32, String> =
        meta.brokers.iter().map(|b| (b.id, b.address())).collect();
    // Partitions per leader, for ListOffsets.
    let mut led: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
    for t in &meta.topics {
        if !settings.topics.passes(&t.name) {
            continue;
        }
        if let Some(e) = &t.error {
            warnings.push(format!("topic {}: {e}", t.name));
        }
        for p in &t.partitions {
            if p.leader >= 0 {
                led.entry(p.leader)
                    .or_default()
                    .push((t.name.clone(), p.partition));
            }
        }
    }
    let mut offsets_topic = BTreeMap::new();
    if let Some(t) = meta
        .topics
        .iter()
        .find(|t| t.name == super::offsets_topic::TOPIC)
    {
        for p in &t.partitions {
            if let Some(addr) = addresses.get(&p.leader) {
                offsets_topic.insert(p.partition, (p.leader, addr.clone()));
            }
        }
    }
    let mut tasks = JoinSet::new();
    for b in &meta.brokers {
        let work = BrokerWork {
            id: b.id,
            handle: pool.broker(&b.address()),
            groups: GroupsToRead::List(settings.groups.clone()),
            partitions: led.remove(&b.id).unwrap_or_default(),
        };
        tasks.spawn(work.run(deadline));
    }
    for (leader, parts) in led {
        warnings.push(format!(
            "broker {leader} leads {} partitions but is not in the metadata; their offsets are unknown",
            parts.len()
        ));
    }
    let mut outcomes = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(o) => outcomes.push(o),
            Err(e) => warnings.push(format!("a broker task stopped: {e}")),
        }
    }

    let mut snap = Snapshot {
        brokers: meta.brokers.clone(),
        controller_id: meta.controller_id,
        offsets_topic,
        ..Default::default()
    };
    for t in &meta.topics {
        if !settings.topics.passes(&t.name) {
            continue;
        }
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                (
                    p.partition,
                    PartitionState {
                        leader: p.leader,
                        replicas: p.replicas.clone(),
                        isr: p.isr.clone(),
                        offline: p.offline.clone(),
                        earliest: None,
                        latest: None,
                    },
                )
            })
            .collect();
        snap.topics.insert(
            t.name.clone(),
            TopicState {
                internal: t.internal,
                partitions,
            },
        );
    }

    let mut moved: Vec<String> = Vec::new();
    for o in &mut outcomes {
        absorb(&mut snap, o, settings.topics, &mut moved, &mut warnings);
    }
    if !moved.is_empty() {
        retry_moved(
            pool,
            &mut snap,
            &addresses,
            moved,
            settings.topics,
            deadline,
            &mut warnings,
        )
        .await;
    }
    if snap.listed_by.is_empty() && !meta.brokers.is_empty() {
        warnings
            .push("no broker answered ListGroups: consumer groups are unknown this poll".into());
    }
    snap.requests = pool.requests_sent() - sent_before;
    snap.warnings = warnings;
    Ok(snap)
}

async fn fetch_metadata(
    pool: &mut Pool,
    bootstrap: &[String],
    deadline: Instant,
    warnings: &mut Vec<String>,
) -> Result<ClusterMetadata, String> {
    let mut errors = Vec::new();
    for addr in bootstrap {
        let h = pool.broker(addr);
        let r = async {
            let mut l = h.lock(deadline).await?;
            let r = match l.conn(&h.addr) {
                Ok(c) => admin::metadata(c, deadline).await,
                Err(e) => Err(e),
            };
            l.check(r)
        }
        .await;
        match r {
            Ok(m) => {
                if !errors.is_empty() {
                    warnings.extend(errors);
                }
                return Ok(m);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    Err(if errors.len() == 1 {
        errors.remove(0)
    } else {
        format!("no broker answered Metadata: {}", errors.join("; "))
    })
}

enum GroupsToRead {
    /// ListGroups, then the groups that pass the filter.
    List(Arc<NameFilter>),
    /// These groups (their coordinator moved here).
    Given(Vec<String>),
}

struct BrokerWork {
    id: i32,
    handle: BrokerHandle,
    groups: GroupsToRead,
    partitions: Vec<(String, i32)>,
}

/// What one broker answered.
#[derive(Default)]
struct BrokerOutcome {
    id: i32,
    /// Connecting failed, or ListGroups did.
    listed: Option<Result<Vec<ListedGroup>, ClientError>>,
    described: Option<Result<admin::Described, ClientError>>,
    fetched: Option<Result<admin::Fetched, ClientError>>,
    offsets: Option<Result<admin::PartitionOffsets, ClientError>>,
    connect: Option<ClientError>,
}

impl BrokerWork {
    async fn run(self, deadline: Instant) -> BrokerOutcome {
        let mut out = BrokerOutcome {
            id: self.id,
            ..Default::default()
        };
        let h = &self.handle;
        let mut l = match h.lock(deadline).await {
            Ok(l) => l,
            Err(e) => {
                out.connect = Some(e);
                return out;
            }
        };
        // Offsets first: they do not depend on the groups, and a slow group phase must not
        // cost the partitions their offsets.
        if !self.partitions.is_empty() {
            let r = match l.conn(&h.addr) {
                Ok(c) => admin::list_offsets(c, &self.partitions, deadline).await,
                Err(e) => Err(e),
            };
            out.offsets = Some(l.check(r));
        }
        let ids = match self.groups {
            GroupsToRead::List(filter) => {
                let r = match l.conn(&h.addr) {
                    Ok(c) => admin::list_groups(c, deadline).await,
                    Err(e) => Err(e),
                };
                let r = l.check(r);
                let ids: Vec<String> = match &r {
                    Ok(gs) => gs
                        .iter()
                        .filter(|g| filter.passes(&g.id))
                        .map(|g| g.id.clone())
                        .collect(),
                    Err(_) => vec![],
                };
                out.listed = Some(r);
                ids
            }
            GroupsToRead::Given(ids) => ids,
        };
        if !ids.is_empty() {
            let r = match l.conn(&h.addr) {
                Ok(c) => admin::describe_groups(c, &ids, deadline).await,
                Err(e) => Err(e),
            };
            out.described = Some(l.check(r));
            let r = match l.conn(&h.addr) {
                Ok(c) => admin::offset_fetch(c, &ids, deadline).await,
                Err(e) => Err(e),
            };
            out.fetched = Some(l.check(r));
        }
        out
    }
}

/// Folds one broker's answers into the snapshot; groups to ask elsewhere go to `moved`.
fn absorb(
    snap: &mut Snapshot,
    o: &mut BrokerOutcome,
    topics: &NameFilter,
    moved: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    if let Some(e) = o.connect.take() {
        warnings.push(format!("broker {}: {e}", o.id));
        return;
    }
    if let Some(r) = o.offsets.take() {
        match r {
            Ok(offsets) => {
                let mut failed = Vec::new();
                for ((t, p), (earliest, latest)) in offsets {
                    let Some(ps) = snap
                        .topics
                        .get_mut(&t)
                        .and_then(|ts| ts.partitions.get_mut(&p))
                    else {
                        continue;
                    };
                    match earliest {
                        Ok(v) => ps.earliest = Some(v),
                        Err(e) => failed.push(format!("{t}/{p} earliest: {e}")),
                    }
                    match latest {
                        Ok(v) => ps.latest = Some(v),
                        Err(e) => failed.push(format!("{t}/{p} latest: {e}")),
                    }
                }
                if !failed.is_empty() {
                    warnings.push(format!(
                        "broker {}: ListOffsets: {} partition offsets unknown: {}",
                        o.id,
                        failed.len(),
                        shorten(&failed)
                    ));
                }
            }
            Err(e) => warnings.push(format!("broker {}: {e}", o.id)),
        }
    }
    match o.listed.take() {
        Some(Ok(_)) => {
            snap.listed_by.insert(o.id);
        }
        Some(Err(e)) => warnings.push(format!("broker {}: {e}", o.id)),
        None => {}
    }
    let mut descriptions: BTreeMap<String, GroupDescription> = BTreeMap::new();
    match o.described.take() {
        Some(Ok(ds)) => {
            for (id, d) in ds {
                match d {
                    Ok(d) if canonical_state(&d.state) == "Dead" => {
                        warnings.push(format!(
                            "group {id}: gone between ListGroups and DescribeGroups (state Dead); skipped"
                        ));
                    }
                    Ok(d) => {
                        descriptions.insert(id, d);
                    }
                    Err((code, _)) if COORDINATOR_MOVED.contains(&code) => {
                        if !moved.contains(&id) {
                            moved.push(id);
                        }
                    }
                    Err((_, m)) => {
                        warnings.push(format!("group {id}: DescribeGroups: {m}; skipped"));
                        snap.skipped.insert(id);
                    }
                }
            }
        }
        Some(Err(e)) => warnings.push(format!("broker {}: {e}", o.id)),
        None => {}
    }
    match o.fetched.take() {
        Some(Ok(fs)) => {
            for (id, offsets, bad) in fs {
                let Some(d) = descriptions.remove(&id) else {
                    continue;
                };
                match offsets {
                    Err((code, _)) if COORDINATOR_MOVED.contains(&code) => {
                        if !moved.contains(&id) {
                            moved.push(id);
                        }
                    }
                    Err((_, m)) => {
                        warnings.push(format!("group {id}: OffsetFetch: {m}; skipped"));
                        snap.skipped.insert(id);
                    }
                    Ok(offsets) => {
                        if !bad.is_empty() {
                            warnings.push(format!(
                                "group {id}: OffsetFetch: {} partitions with an error: {}",
                                bad.len(),
                                shorten(&bad)
                            ));
                        }
                        let offsets = offsets
                            .into_iter()
                            .filter(|((t, _), _)| topics.passes(t))
                            .collect();
                        snap.groups.insert(
                            id,
                            GroupState {
                                coordinator: o.id,
                                state: canonical_state(&d.state),
                                protocol_type: d.protocol_type,
                                protocol: d.protocol,
                                members: d.members,
                                generation: d.generation,
                                offsets,
                            },
                        );
                    }
                }
            }
            // Described but not in the OffsetFetch answer.
            for id in descriptions.into_keys() {
                warnings.push(format!(
                    "group {id}: missing from the OffsetFetch answer; skipped"
                ));
                snap.skipped.insert(id);
            }
        }
        Some(Err(e)) => {
            warnings.push(format!("broker {}: {e}", o.id));
            snap.skipped.extend(descriptions.into_keys());
        }
        None => snap.skipped.extend(descriptions.into_keys()),
    }
}

/// Asks where moved groups are now and reads them there (once; a group still moving is skipped).
#[allow(clippy::too_many_arguments)]
async fn retry_moved(
    pool: &mut Pool,
    snap: &mut Snapshot,
    addresses: &HashMap<i32, String>,
    moved: Vec<String>,
    topics: &NameFilter,
    deadline: Instant,
    warnings: &mut Vec<String>,
) {
    // Any broker that answered will do for FindCoordinator.
    let Some(asker) = snap
        .listed_by
        .iter()
        .next()
        .and_then(|id| addresses.get(id))
    else {
        for g in moved {
            warnings.push(format!(
                "group {g}: its coordinator moved and no broker could say where; skipped"
            ));
            snap.skipped.insert(g);
        }
        return;
    };
    let h = pool.broker(asker);
    let found = async {
        let mut l = h.lock(deadline).await?;
        let r = match l.conn(&h.addr) {
            Ok(c) => admin::find_coordinators(c, &moved, deadline).await,
            Err(e) => Err(e),
        };
        l.check(r)
    }
    .await;
    let found = match found {
        Ok(f) => f,
        Err(e) => {
            warnings.push(format!("FindCoordinator: {e}"));
            snap.skipped.extend(moved);
            return;
        }
    };
    let mut by_node: BTreeMap<i32, (String, Vec<String>)> = BTreeMap::new();
    for (g, c) in found {
        match c {
            Ok(c) => {
                let addr = addresses.get(&c.node_id).cloned().unwrap_or_else(|| {
                    BrokerMeta {
                        id: c.node_id,
                        host: c.host,
                        port: c.port,
                        rack: None,
                    }
                    .address()
                });
                by_node
                    .entry(c.node_id)
                    .or_insert_with(|| (addr, vec![]))
                    .1
                    .push(g);
            }
            Err(e) => {
                warnings.push(format!("group {g}: FindCoordinator: {e}; skipped"));
                snap.skipped.insert(g);
            }
        }
    }
    let mut tasks = JoinSet::new();
    for (id, (addr, groups)) in by_node {
        let work = BrokerWork {
            id,
            handle: pool.broker(&addr),
            groups: GroupsToRead::Given(groups),
            partitions: vec![],
        };
        tasks.spawn(work.run(deadline));
    }
    let mut still = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(mut o) => absorb(snap, &mut o, topics, &mut still, warnings),
            Err(e) => warnings.push(format!("a broker task stopped: {e}")),
        }
    }
    for g in still {
        warnings.push(format!(
            "group {g}: its coordinator is still moving; skipped"
        ));
        snap.skipped.insert(g);
    }
}

/// The first few items and how many more.
fn shorten(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

/// The states each group has been seen in, so `kafka_consumergroup_state` says 1 for the current
/// one and 0 for earlier ones (the newest sample with value 1 is then unique).
#[derive(Clone, Debug, Default)]
pub struct StateMemory {
    seen: HashMap<String, BTreeSet<&'static str>>,
}

impl StateMemory {
    fn readings(&mut self, group: &str, current: &'static str, out: &mut Vec<Reading>) {
        let seen = self.seen.entry(group.to_string()).or_default();
        seen.insert(current);
        for s in seen.iter() {
            out.push(
                Reading::gauge(
                    "kafka_consumergroup_state",
                    if *s == current { 1.0 } else { 0.0 },
                )
                .label("consumergroup", group)
                .label("state", *s),
            );
        }
    }

    /// Forgets groups that are gone.
    fn retain(&mut self, groups: &BTreeMap<String, GroupState>) {
        self.seen.retain(|g, _| groups.contains_key(g));
    }
}

/// The series of one poll (contract: kafka_exporter's names; the collector adds `cluster`).
pub fn readings(snap: &Snapshot, states: &mut StateMemory) -> Vec<Reading> {
    let mut out = Vec::new();
    out.push(Reading::gauge("kafka_brokers", snap.brokers.len() as f64));
    for b in &snap.brokers {
        let mut r = Reading::gauge("kafka_broker_info", 1.0)
            .label("id", b.id.to_string())
            .label("address", b.address());
        if let Some(rack) = &b.rack {
            r = r.label("rack", rack.clone());
        }
        out.push(r);
    }
    out.push(Reading::gauge(
        "kafka_controller_id",
        snap.controller_id as f64,
    ));
    for (topic, t) in &snap.topics {
        out.push(
            Reading::gauge("kafka_topic_partitions", t.partitions.len() as f64)
                .label("topic", topic),
        );
        for (p, ps) in &t.partitions {
            let g = |name: &str, v: f64| {
                Reading::gauge(name, v)
                    .label("topic", topic)
                    .label("partition", p.to_string())
            };
            if let Some(v) = ps.latest {
                out.push(g("kafka_topic_partition_current_offset", v as f64));
            }
            if let Some(v) = ps.earliest {
                out.push(g("kafka_topic_partition_oldest_offset", v as f64));
            }
            out.push(g("kafka_topic_partition_leader", ps.leader as f64));
            out.push(g(
                "kafka_topic_partition_replicas",
                ps.replicas.len() as f64,
            ));
            out.push(g(
                "kafka_topic_partition_in_sync_replica",
                ps.isr.len() as f64,
            ));
            let preferred = ps.replicas.first() == Some(&ps.leader);
            out.push(g(
                "kafka_topic_partition_leader_is_preferred",
                if preferred { 1.0 } else { 0.0 },
            ));
            out.push(g(
                "kafka_topic_partition_under_replicated_partition",
                if ps.under_replicated() { 1.0 } else { 0.0 },
            ));
        }
    }
    for (group, gs) in &snap.groups {
        let mut sums: BTreeMap<&str, (f64, Option<f64>)> = BTreeMap::new();
        for ((topic, p), committed) in &gs.offsets {
            let g = |name: &str, v: f64| {
                Reading::gauge(name, v)
                    .label("consumergroup", group)
                    .label("topic", topic)
                    .label("partition", p.to_string())
            };
            if !snap.commits_from_topic {
                out.push(g("kafka_consumergroup_current_offset", *committed as f64));
            }
            let sum = sums.entry(topic.as_str()).or_insert((0.0, None));
            sum.0 += *committed as f64;
            let latest = snap
                .topics
                .get(topic)
                .and_then(|t| t.partitions.get(p))
                .and_then(|ps| ps.latest);
            if let Some(latest) = latest {
                let (lag, ahead) = lag_of(latest, *committed);
                out.push(g("kafka_consumergroup_lag", lag as f64));
                out.push(g(
                    "kafka_consumergroup_commit_ahead",
                    if ahead { 1.0 } else { 0.0 },
                ));
                *sum.1.get_or_insert(0.0) += lag as f64;
            }
        }
        for (topic, (offsets, lag)) in sums {
            let g = |name: &str, v: f64| {
                Reading::gauge(name, v)
                    .label("consumergroup", group)
                    .label("topic", topic)
            };
            out.push(g("kafka_consumergroup_current_offset_sum", offsets));
            if let Some(lag) = lag {
                out.push(g("kafka_consumergroup_lag_sum", lag));
            }
        }
        out.push(
            Reading::gauge("kafka_consumergroup_members", gs.members.len() as f64)
                .label("consumergroup", group),
        );
        if let Some(gen_id) = gs.generation {
            out.push(
                Reading::gauge("kafka_consumergroup_generation", gen_id as f64)
                    .label("consumergroup", group),
            );
        }
        states.readings(group, gs.state, &mut out);
    }
    states.retain(&snap.groups);
    out.push(Reading::gauge(
        "kafka_scrape_requests",
        snap.requests as f64,
    ));
    out
}

/// Lag in offsets, floored at 0, and whether the commit is past the log end (a reset topic, or
/// a broker whose log end moved back: flagged rather than shown as negative lag).
pub fn lag_of(latest: i64, committed: i64) -> (i64, bool) {
    if committed > latest {
        (0, true)
    } else {
        (latest.saturating_sub(committed), false)
    }
}

#[derive(Serialize)]
struct GroupDoc<'a> {
    group: &'a str,
    state: &'a str,
    protocol_type: &'a str,
    protocol: &'a str,
    generation: Option<i32>,
    members: Vec<MemberDoc<'a>>,
    commits_source: &'a str,
    /// Why commits come from where they do (`auto` falling back to the Admin API, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    commits_note: Option<&'a str>,
    polled_at_ms: i64,
}

#[derive(Serialize)]
struct MemberDoc<'a> {
    member_id: &'a str,
    client_id: &'a str,
    client_host: &'a str,
    assignments: Vec<AssignmentDoc<'a>>,
}

#[derive(Serialize)]
struct AssignmentDoc<'a> {
    topic: &'a str,
    partitions: &'a [i32],
}

#[derive(Serialize)]
struct TopicDoc<'a> {
    topic: &'a str,
    internal: bool,
    partitions: Vec<PartitionDoc<'a>>,
}

#[derive(Serialize)]
struct PartitionDoc<'a> {
    partition: i32,
    leader: i32,
    replicas: &'a [i32],
    isr: &'a [i32],
    offline: &'a [i32],
}

/// Subject of the topics document.
pub const TOPICS_SUBJECT: &str = "__topics__";

/// The `kafka_group` document per group and the `kafka_topics` document (see the contract).
pub fn documents(
    snap: &Snapshot,
    commits_source: &str,
    commits_note: Option<&str>,
) -> Vec<Document> {
    let mut out = Vec::with_capacity(snap.groups.len() + 1);
    for (group, g) in &snap.groups {
        let doc = GroupDoc {
            group,
            state: g.state,
            protocol_type: &g.protocol_type,
            protocol: &g.protocol,
            generation: g.generation,
            members: g
                .members
                .iter()
                .map(|m| MemberDoc {
                    member_id: &m.member_id,
                    client_id: &m.client_id,
                    client_host: &m.client_host,
                    assignments: m
                        .assignments
                        .iter()
                        .map(|(t, ps)| AssignmentDoc {
                            topic: t,
                            partitions: ps,
                        })
                        .collect(),
                })
                .collect(),
            commits_source,
            commits_note,
            polled_at_ms: snap.at_ms,
        };
        if let Ok(body) = serde_json::to_string(&doc) {
            out.push(Document {
                subject: group.clone(),
                name: "kafka_group".into(),
                body,
            });
        }
    }
    let topics: Vec<TopicDoc> = snap
        .topics
        .iter()
        .map(|(name, t)| TopicDoc {
            topic: name,
            internal: t.internal,
            partitions: t
                .partitions
                .iter()
                .map(|(p, ps)| PartitionDoc {
                    partition: *p,
                    leader: ps.leader,
                    replicas: &ps.replicas,
                    isr: &ps.isr,
                    offline: &ps.offline,
                })
                .collect(),
        })
        .collect();
    if let Ok(body) = serde_json::to_string(&topics) {
        out.push(Document {
            subject: TOPICS_SUBJECT.into(),
            name: "kafka_topics".into(),
            body,
        });
    }
    out
}

/// Subject and name of the client profile document.
pub const CLIENT_SUBJECT: &str = "__client__";
pub const CLIENT_DOC: &str = "kafka_client";

/// How this source connects to its cluster, as configured: the `kafka_client` document, which
/// Burrow's `client-profile` (`/v3/kafka/{cluster}`) reads. Paths and names only, never the
/// SASL password (`SaslSettings` is not serialisable, so it cannot slip in).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientProfile {
    pub client_id: String,
    pub tls: Option<TlsProfile>,
    pub sasl: Option<SaslProfile>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TlsProfile {
    pub ca_file: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SaslProfile {
    pub mechanism: &'static str,
    pub username: String,
    /// Our client always sends SaslHandshake before SaslAuthenticate.
    pub handshake_first: bool,
}

impl ClientProfile {
    pub fn document(&self) -> Option<Document> {
        serde_json::to_string(self).ok().map(|body| Document {
            subject: CLIENT_SUBJECT.into(),
            name: CLIENT_DOC.into(),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn find<'a>(rs: &'a [Reading], metric: &str, labels: &[(&str, &str)]) -> Option<&'a Reading> {
        rs.iter()
            .find(|r| r.metric == metric && labels.iter().all(|(k, v)| r.labels.get(k) == Some(*v)))
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot {
            brokers: vec![BrokerMeta {
                id: 1,
                host: "b1".into(),
                port: 9092,
                rack: Some("r1".into()),
            }],
            controller_id: 1,
            requests: 7,
            ..Default::default()
        };
        let mut t = TopicState::default();
        for p in 0..2 {
            t.partitions.insert(
                p,
                PartitionState {
                    leader: 1,
                    replicas: vec![1, 2],
                    isr: if p == 0 { vec![1, 2] } else { vec![1] },
                    earliest: Some(0),
                    latest: Some(10),
                    ..Default::default()
                },
            );
        }
        s.topics.insert("t".into(), t);
        let mut offsets = BTreeMap::new();
        offsets.insert(("t".to_string(), 0), 4);
        offsets.insert(("t".to_string(), 1), 12);
        s.groups.insert(
            "g".into(),
            GroupState {
                coordinator: 1,
                state: "Stable",
                offsets,
                generation: Some(3),
                ..Default::default()
            },
        );
        s
    }

    #[test]
    fn lag_is_latest_minus_committed_and_a_commit_past_the_end_is_flagged() {
        let mut m = StateMemory::default();
        let rs = readings(&snapshot(), &mut m);
        let v = |metric, labels: &[(&str, &str)]| find(&rs, metric, labels).map(|r| r.value);
        assert_eq!(
            v("kafka_consumergroup_lag", &[("partition", "0")]),
            Some(6.0)
        );
        assert_eq!(
            v("kafka_consumergroup_commit_ahead", &[("partition", "0")]),
            Some(0.0)
        );
        assert_eq!(
            v("kafka_consumergroup_lag", &[("partition", "1")]),
            Some(0.0)
        );
        assert_eq!(
            v("kafka_consumergroup_commit_ahead", &[("partition", "1")]),
            Some(1.0)
        );
        assert_eq!(
            v("kafka_consumergroup_lag_sum", &[("topic", "t")]),
            Some(6.0)
        );
        assert_eq!(
            v("kafka_consumergroup_current_offset_sum", &[("topic", "t")]),
            Some(16.0)
        );
        assert_eq!(
            v(
                "kafka_topic_partition_under_replicated_partition",
                &[("partition", "1")]
            ),
            Some(1.0)
        );
        assert_eq!(
            v(
                "kafka_topic_partition_under_replicated_partition",
                &[("partition", "0")]
            ),
            Some(0.0)
        );
        assert_eq!(
            v(
                "kafka_topic_partition_leader_is_preferred",
                &[("partition", "0")]
            ),
            Some(1.0)
        );
        assert_eq!(
            v(
                "kafka_broker_info",
                &[("rack", "r1"), ("address", "b1:9092")]
            ),
            Some(1.0)
        );
        assert_eq!(v("kafka_consumergroup_generation", &[]), Some(3.0));
        assert_eq!(v("kafka_scrape_requests", &[]), Some(7.0));
        assert_eq!(
            v("kafka_consumergroup_state", &[("state", "Stable")]),
            Some(1.0)
        );
    }

    #[test]
    fn an_earlier_state_reads_zero_and_a_deleted_group_is_forgotten() {
        let mut m = StateMemory::default();
        let mut s = snapshot();
        readings(&s, &mut m);
        if let Some(g) = s.groups.get_mut("g") {
            g.state = "Empty";
        }
        let rs = readings(&s, &mut m);
        assert_eq!(
            find(&rs, "kafka_consumergroup_state", &[("state", "Stable")]).map(|r| r.value),
            Some(0.0)
        );
        assert_eq!(
            find(&rs, "kafka_consumergroup_state", &[("state", "Empty")]).map(|r| r.value),
            Some(1.0)
        );
        s.groups.clear();
        readings(&s, &mut m);
        assert!(m.seen.is_empty());
    }

    #[test]
    fn no_commit_and_no_log_end_give_no_lag() {
        let mut s = snapshot();
        if let Some(p) = s.topics.get_mut("t").and_then(|t| t.partitions.get_mut(&0)) {
            p.latest = None;
        }
        let rs = readings(&s, &mut StateMemory::default());
        assert!(find(&rs, "kafka_consumergroup_lag", &[("partition", "0")]).is_none());
        // The committed offset is still there.
        assert!(
            find(
                &rs,
                "kafka_consumergroup_current_offset",
                &[("partition", "0")]
            )
            .is_some()
        );
    }

    #[test]
    fn states_are_read_in_any_spelling() {
        assert_eq!(canonical_state("Stable"), "Stable");
        assert_eq!(canonical_state("STABLE"), "Stable");
        assert_eq!(canonical_state("preparing_rebalance"), "PreparingRebalance");
        assert_eq!(
            canonical_state("CompletingRebalance"),
            "CompletingRebalance"
        );
        assert_eq!(canonical_state(""), "Unknown");
        assert_eq!(canonical_state("Assigning"), "Unknown");
    }

    #[test]
    fn documents_follow_the_contract() {
        let docs = documents(&snapshot(), "admin-api", None);
        let g: serde_json::Value = serde_json::from_str(&docs[0].body).unwrap();
        assert_eq!(docs[0].name, "kafka_group");
        assert_eq!(g["commits_source"], "admin-api");
        assert_eq!(g["state"], "Stable");
        let t: serde_json::Value = serde_json::from_str(&docs[1].body).unwrap();
        assert_eq!(docs[1].subject, "__topics__");
        assert_eq!(t[0]["partitions"][1]["isr"], serde_json::json!([1]));
    }

    #[test]
    fn the_client_profile_document_names_mechanism_and_user_never_a_password() {
        let p = ClientProfile {
            client_id: "scope-1".into(),
            tls: Some(TlsProfile {
                ca_file: "/etc/ca.pem".into(),
            }),
            sasl: Some(SaslProfile {
                mechanism: "SCRAM-SHA-512",
                username: "monitor".into(),
                handshake_first: true,
            }),
        };
        let d = p.document().unwrap();
        assert_eq!(
            (d.subject.as_str(), d.name.as_str()),
            ("__client__", "kafka_client")
        );
        let v: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"client_id": "scope-1", "tls": {"ca_file": "/etc/ca.pem"},
                "sasl": {"mechanism": "SCRAM-SHA-512", "username": "monitor", "handshake_first": true}})
        );
        let plain = ClientProfile {
            client_id: "k".into(),
            tls: None,
            sasl: None,
        };
        let v: serde_json::Value = serde_json::from_str(&plain.document().unwrap().body).unwrap();
        assert_eq!(v["tls"], serde_json::Value::Null);
        assert_eq!(v["sasl"], serde_json::Value::Null);
    }

    #[test]
    fn a_group_gone_or_failing_is_skipped_with_a_warning_and_the_others_stand() {
        let mut snap = snapshot();
        snap.groups.clear();
        let desc = |id: &str, state: &str| {
            (
                id.to_string(),
                Ok(GroupDescription {
                    id: id.into(),
                    state: state.into(),
                    ..Default::default()
                }),
            )
        };
        let offsets = |id: &str, v: admin::GroupOffsets| (id.to_string(), v, vec![]);
        let mut committed = BTreeMap::new();
        committed.insert(("t".to_string(), 0), 3);
        let mut o = BrokerOutcome {
            id: 1,
            listed: Some(Ok(vec![])),
            described: Some(Ok(vec![
                desc("ok", "Stable"),
                // Deleted after ListGroups: DescribeGroups says Dead.
                desc("gone", "Dead"),
                desc("vanished", "Empty"),
                desc("moved", "Stable"),
                (
                    "denied".to_string(),
                    Err((30, "GROUP_AUTHORIZATION_FAILED (30)".to_string())),
                ),
            ])),
            fetched: Some(Ok(vec![
                offsets("ok", Ok(committed)),
                // Deleted between DescribeGroups and OffsetFetch.
                offsets("vanished", Err((69, "GROUP_ID_NOT_FOUND (69)".into()))),
                offsets("moved", Err((16, "NOT_COORDINATOR (16)".into()))),
            ])),
            ..Default::default()
        };
        let (mut moved, mut warnings) = (vec![], vec![]);
        absorb(
            &mut snap,
            &mut o,
            &NameFilter::default(),
            &mut moved,
            &mut warnings,
        );
        assert_eq!(snap.groups.keys().collect::<Vec<_>>(), vec!["ok"]);
        assert_eq!(snap.groups["ok"].offsets.len(), 1);
        assert_eq!(moved, vec!["moved".to_string()]);
        let skipped: Vec<&str> = snap.skipped.iter().map(String::as_str).collect();
        assert_eq!(skipped, vec!["denied", "vanished"]);
        let text = warnings.join("\n");
        for needle in [
            "group gone: gone between ListGroups and DescribeGroups",
            "group vanished: OffsetFetch: GROUP_ID_NOT_FOUND (69); skipped",
            "group denied: DescribeGroups: GROUP_AUTHORIZATION_FAILED (30); skipped",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        assert!(snap.listed_by.contains(&1));
    }

    #[test]
    fn a_broker_that_failed_is_a_warning_not_a_listing() {
        let mut snap = snapshot();
        let mut o = BrokerOutcome {
            id: 2,
            connect: Some(ClientError::Connect {
                addr: "b2:9092".into(),
                message: "Connection refused (os error 111)".into(),
            }),
            ..Default::default()
        };
        let (mut moved, mut warnings) = (vec![], vec![]);
        absorb(
            &mut snap,
            &mut o,
            &NameFilter::default(),
            &mut moved,
            &mut warnings,
        );
        assert_eq!(
            warnings,
            vec![
                "broker 2: b2:9092: cannot connect: Connection refused (os error 111)".to_string()
            ]
        );
        assert!(!snap.listed_by.contains(&2));
    }

    proptest! {
        #[test]
        fn lag_is_never_negative(latest in any::<i64>(), committed in any::<i64>()) {
            let (lag, ahead) = lag_of(latest, committed);
            prop_assert!(lag >= 0);
            prop_assert_eq!(ahead, committed > latest);
        }
    }
}
