//! Reads what the kafka source stored (see the series and documents of the kafka contract) into
//! the lag engine's plain types: a group's commit windows for the evaluator, partitions'
//! log-end histories for lag in seconds, topics' newest offsets, and the `kafka_group` document.
//!
//! Every read is "as of" a time `at`, so a page with a fixed range shows the same status whenever
//! it is opened; the Burrow API asks as of now.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::Matcher;
use crate::store::{SeriesId, SeriesInfo, Store, StoreError};

use super::evaluator::{EvalConfig, Inference, build_window};
use super::seconds::{History, bucket_points};
use super::{CommitsSource, PartitionWindow};

/// Committed offset per group, topic and partition (absent when the group has no commit).
pub const COMMITTED: &str = "kafka_consumergroup_current_offset";
/// Log end minus committed, floored at 0.
pub const LAG: &str = "kafka_consumergroup_lag";
/// Latest (log-end) offset per topic and partition.
pub const LOG_END: &str = "kafka_topic_partition_current_offset";
pub const OLDEST: &str = "kafka_topic_partition_oldest_offset";
pub const MEMBERS: &str = "kafka_consumergroup_members";
pub const STATE: &str = "kafka_consumergroup_state";
pub const LAG_SUM: &str = "kafka_consumergroup_lag_sum";
pub const PARTITIONS: &str = "kafka_topic_partitions";
/// The group document's name.
pub const GROUP_DOC: &str = "kafka_group";

/// Up to this many groups, a read selects each group's series by its label.
const FEW_GROUPS: usize = 8;

/// Samples one page or API answer may decode.
const SAMPLE_BUDGET: usize = 20_000_000;

#[derive(Debug, thiserror::Error)]
pub enum LagError {
    #[error("reading {what} of Kafka cluster {cluster:?} from the store: {source}")]
    Store {
        what: &'static str,
        cluster: String,
        source: StoreError,
    },
}

fn store_err(what: &'static str, cluster: &str) -> impl FnOnce(StoreError) -> LagError {
    let cluster = cluster.to_string();
    move |source| LagError::Store {
        what,
        cluster,
        source,
    }
}

/// A member's assigned partitions of one topic (in the `kafka_group` document).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct Assignment {
    pub topic: String,
    pub partitions: Vec<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct Member {
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    pub assignments: Vec<Assignment>,
}

/// The kafka source's `kafka_group` document: the group's latest description.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct GroupDoc {
    pub group: String,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub generation: Option<i64>,
    pub members: Vec<Member>,
    pub commits_source: String,
    pub polled_at_ms: Option<i64>,
}

impl GroupDoc {
    /// How commits were seen; admin-api when the document does not say (the weaker claim).
    pub fn commits(&self) -> CommitsSource {
        CommitsSource::parse(&self.commits_source).unwrap_or(CommitsSource::AdminApi)
    }

    /// (owner host, client id) of a partition, from the members' assignments.
    pub fn owner_of(&self, topic: &str, partition: i32) -> Option<(&str, &str)> {
        self.members.iter().find_map(|m| {
            m.assignments
                .iter()
                .any(|a| a.topic == topic && a.partitions.contains(&partition))
                .then_some((m.client_host.as_str(), m.client_id.as_str()))
        })
    }
}

/// Parses a `kafka_group` document; None when it is not one (a damaged row must not fail a page).
pub fn parse_group_doc(body: &str) -> Option<GroupDoc> {
    serde_json::from_str(body).ok()
}

/// The group's document, if the source wrote one.
pub async fn group_doc(
    store: &Store,
    cluster: &str,
    group: &str,
) -> Result<Option<GroupDoc>, LagError> {
    let docs = store
        .documents(cluster, group)
        .await
        .map_err(store_err("the group document", cluster))?;
    Ok(docs
        .into_iter()
        .find(|(name, _, _)| name == GROUP_DOC)
        .and_then(|(_, _, body)| parse_group_doc(&body)))
}

/// The newest sample of each series at or before `at`, within `lookback_ms`. A series whose
/// newest sample of all is at or before `at` (a page at the present, the API, the notifier)
/// is answered from it without decoding any chunk: nothing newer exists, so it is the value at
/// `at`. Only the others are read from the store.
async fn newest_at(
    store: &Store,
    ids: &[SeriesId],
    at: i64,
    lookback_ms: i64,
) -> Result<Vec<Option<(i64, f64)>>, StoreError> {
    let mut out = store.latest(ids);
    let mut ask = Vec::new();
    let mut slots = Vec::new();
    for (i, v) in out.iter_mut().enumerate() {
        match *v {
            Some((ts, _)) if ts <= at => {
                if ts < at.saturating_sub(lookback_ms) {
                    *v = None;
                }
            }
            _ => {
                ask.push(ids[i]);
                slots.push(i);
                *v = None;
            }
        }
    }
    if !ask.is_empty() {
        let got = store.value_at(&ask, at, lookback_ms).await?;
        for (i, g) in slots.into_iter().zip(got) {
            out[i] = g;
        }
    }
    Ok(out)
}

/// Clusters that have Kafka offsets stored, sorted.
pub fn clusters(store: &Store) -> Vec<String> {
    let mut out = BTreeSet::new();
    for metric in [LOG_END, COMMITTED] {
        store.visit(Some(metric), &[], |i| {
            if let Some(c) = i.key.labels.get("cluster")
                && !out.contains(c)
            {
                out.insert(c.to_string());
            }
        });
    }
    out.into_iter().collect()
}

/// Whether a cluster has Kafka offsets stored.
pub fn has_cluster(store: &Store, cluster: &str) -> bool {
    [LOG_END, COMMITTED].iter().any(|m| {
        let mut any = false;
        store.visit(Some(m), &[Matcher::eq("cluster", cluster)], |_| any = true);
        any
    })
}

/// The sorted values of `label` over the series of `metric` that match `on`.
fn label_set(store: &Store, metric: &str, on: &[Matcher], label: &str) -> Vec<String> {
    let mut set: BTreeSet<String> = BTreeSet::new();
    store.visit(Some(metric), on, |i| {
        if let Some(v) = i.key.labels.get(label)
            && !set.contains(v)
        {
            set.insert(v.to_string());
        }
    });
    set.into_iter().collect()
}

/// Groups of a cluster with committed offsets stored, sorted.
pub fn groups(store: &Store, cluster: &str) -> Vec<String> {
    label_set(
        store,
        COMMITTED,
        &[Matcher::eq("cluster", cluster)],
        "consumergroup",
    )
}

/// Topics of a cluster with log-end offsets stored, sorted.
pub fn topics(store: &Store, cluster: &str) -> Vec<String> {
    label_set(store, LOG_END, &[Matcher::eq("cluster", cluster)], "topic")
}

/// Groups with committed offsets on a topic, sorted.
pub fn topic_consumers(store: &Store, cluster: &str, topic: &str) -> Vec<String> {
    label_set(
        store,
        COMMITTED,
        &[Matcher::eq("cluster", cluster), Matcher::eq("topic", topic)],
        "consumergroup",
    )
}

fn partition_of(i: &SeriesInfo) -> Option<i32> {
    i.key.labels.get("partition")?.parse().ok()
}

/// The newest log-end offset of each partition of a topic at or before `at` (within
/// `lookback_ms`), in partition order; None when the topic has no partition stored. A partition
/// without a recent value is reported as 0, as Burrow reports a partition it has no offset for.
pub async fn topic_log_ends(
    store: &Store,
    cluster: &str,
    topic: &str,
    at: i64,
    lookback_ms: i64,
) -> Result<Option<Vec<i64>>, LagError> {
    let infos = store.select(
        Some(LOG_END),
        &[Matcher::eq("cluster", cluster), Matcher::eq("topic", topic)],
    );
    let parts: Vec<(i32, SeriesId)> = infos
        .iter()
        .filter_map(|i| Some((partition_of(i)?, i.id)))
        .collect();
    let Some(max) = parts.iter().map(|p| p.0).max() else {
        return Ok(None);
    };
    let ids: Vec<SeriesId> = parts.iter().map(|p| p.1).collect();
    let values = newest_at(store, &ids, at, lookback_ms)
        .await
        .map_err(store_err("log-end offsets", cluster))?;
    let mut out = vec![0i64; (max.max(0) + 1) as usize];
    for ((p, _), v) in parts.iter().zip(values) {
        if let (Ok(idx), Some((_, v))) = (usize::try_from(*p), v) {
            out[idx] = v as i64;
        }
    }
    Ok(Some(out))
}

/// One partition of a group as stored: its series ids.
#[derive(Clone, Debug)]
struct PartSeries {
    topic: String,
    partition: i32,
    committed: SeriesId,
    lag: Option<SeriesId>,
    log_end: Option<SeriesId>,
    log_start: Option<SeriesId>,
}

/// The series of the groups of a cluster, indexed once per read.
struct ClusterIndex {
    parts: BTreeMap<String, Vec<PartSeries>>,
    members: HashMap<String, SeriesId>,
}

/// Series of `metric` of the wanted groups of a cluster. A few groups: asked of the registry
/// one by one (its label index answers directly); many: one pass over the cluster's series.
/// `f` gets each series with its group label.
fn of_groups(
    store: &Store,
    cluster: &str,
    metric: &str,
    wanted: &BTreeSet<&str>,
    mut f: impl FnMut(&str, &SeriesInfo),
) {
    let mut each = |i: &SeriesInfo| {
        if let Some(g) = i.key.labels.get("consumergroup")
            && wanted.contains(g)
        {
            f(g, i);
        }
    };
    if wanted.len() <= FEW_GROUPS {
        for g in wanted {
            store.visit(
                Some(metric),
                &[
                    Matcher::eq("cluster", cluster),
                    Matcher::eq("consumergroup", *g),
                ],
                &mut each,
            );
        }
    } else {
        store.visit(Some(metric), &[Matcher::eq("cluster", cluster)], each);
    }
}

/// A per-partition series of a cluster by topic, then partition (looked up without allocating).
type ByPartition = HashMap<String, HashMap<i32, SeriesId>>;

fn by_partition(store: &Store, cluster: &str, metric: &str) -> ByPartition {
    let mut out: ByPartition = HashMap::new();
    store.visit(Some(metric), &[Matcher::eq("cluster", cluster)], |i| {
        if let (Some(t), Some(p)) = (i.key.labels.get("topic"), partition_of(i)) {
            match out.get_mut(t) {
                Some(m) => {
                    m.insert(p, i.id);
                }
                None => {
                    out.insert(t.to_string(), HashMap::from([(p, i.id)]));
                }
            }
        }
    });
    out
}

fn lookup(m: &ByPartition, topic: &str, partition: i32) -> Option<SeriesId> {
    m.get(topic).and_then(|ps| ps.get(&partition)).copied()
}

/// The committed-offset, log-end and log-start series of the wanted groups' partitions. The
/// lag series are not indexed here: they are read only for the few partitions that need them
/// (see [`add_lag_series`]), which keeps a read of thousands of groups from walking them all.
fn index(store: &Store, cluster: &str, wanted: &BTreeSet<&str>) -> ClusterIndex {
    let log_end = by_partition(store, cluster, LOG_END);
    let log_start = by_partition(store, cluster, OLDEST);
    let mut parts: BTreeMap<String, Vec<PartSeries>> = BTreeMap::new();
    of_groups(store, cluster, COMMITTED, wanted, |g, i| {
        let (Some(t), Some(p)) = (i.key.labels.get("topic"), partition_of(i)) else {
            return;
        };
        let part = PartSeries {
            topic: t.to_string(),
            partition: p,
            committed: i.id,
            lag: None,
            log_end: lookup(&log_end, t, p),
            log_start: lookup(&log_start, t, p),
        };
        match parts.get_mut(g) {
            Some(v) => v.push(part),
            None => {
                parts.insert(g.to_string(), vec![part]);
            }
        }
    });
    for v in parts.values_mut() {
        v.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    }
    let mut members = HashMap::new();
    of_groups(store, cluster, MEMBERS, wanted, |g, i| {
        members.insert(g.to_string(), i.id);
    });
    ClusterIndex { parts, members }
}

/// Fills in the stored lag series of the partitions `needs` picks, for their groups only.
fn add_lag_series(
    store: &Store,
    cluster: &str,
    idx: &mut ClusterIndex,
    needs: impl Fn(&PartSeries) -> bool,
) {
    let groups: BTreeSet<&str> = idx
        .parts
        .iter()
        .filter(|(_, ps)| ps.iter().any(&needs))
        .map(|(g, _)| g.as_str())
        .collect();
    if groups.is_empty() {
        return;
    }
    let mut found: HashMap<String, ByPartition> = HashMap::new();
    of_groups(store, cluster, LAG, &groups, |g, i| {
        if let (Some(t), Some(p)) = (i.key.labels.get("topic"), partition_of(i)) {
            found
                .entry(g.to_string())
                .or_default()
                .entry(t.to_string())
                .or_default()
                .insert(p, i.id);
        }
    });
    for (g, ps) in idx.parts.iter_mut() {
        let Some(lags) = found.get(g) else { continue };
        for p in ps.iter_mut().filter(|p| needs(p)) {
            p.lag = lookup(lags, &p.topic, p.partition);
        }
    }
}

/// One group as the evaluator and the pages need it.
#[derive(Clone, Debug)]
pub struct GroupData {
    pub group: String,
    /// Partitions with a commit stored, by topic and partition.
    pub windows: Vec<PartitionWindow>,
    /// The newest commit (or observation) of any partition.
    pub last_commit: Option<i64>,
    /// The group's document (only read when asked for, see [`Docs`]).
    pub doc: Option<GroupDoc>,
    /// How the cluster's commits were seen (from a `kafka_group` document), None when unknown.
    pub commits: Option<CommitsSource>,
    /// Members: from the document, else the members series; None when neither is stored.
    pub members: Option<usize>,
    /// The group's state (`Stable`, `Empty` …): from the document, else the state series.
    pub state: Option<String>,
    /// Log-end history per partition, over the read window (for lag seconds at `at`).
    pub recent_log_ends: HashMap<(String, i32), LogEnds>,
}

/// A partition's (time, log-end offset) points, shared by every group reading the partition.
pub type LogEnds = std::sync::Arc<[(i64, i64)]>;

impl GroupData {
    pub fn inference(&self) -> Inference {
        Inference {
            source: self.commits.unwrap_or(CommitsSource::AdminApi),
            members: self.members,
        }
    }

    /// Whether Burrow would still know the group at `at` (a commit within `expire-group`).
    pub fn found(&self, at: i64, cfg: &EvalConfig) -> bool {
        self.last_commit
            .is_some_and(|t| t >= at - cfg.expire_group_ms && !self.windows.is_empty())
    }
}

/// How far back a window read reaches: twice the time `intervals` polls take, so a window is
/// full even with a missed poll or two.
pub fn window_span_ms(cfg: &EvalConfig, interval_ms: i64) -> i64 {
    (cfg.intervals.max(1) as i64 + 2) * interval_ms.max(1_000) * 2
}

/// The lag of a commit of `offset` at `ts`: the newest log end polled at or before `ts` minus
/// the offset, floored at 0 (Burrow's lag at insertion); None without such a log end.
fn lag_at(log_ends: &[(i64, i64)], ts: i64, offset: i64) -> Option<u64> {
    let i = log_ends.partition_point(|p| p.0 <= ts);
    i.checked_sub(1)
        .map(|i| (log_ends[i].1 - offset).max(0) as u64)
}

/// Which `kafka_group` documents a read loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Docs {
    /// Every group's (owners, client ids, members, state): pages of one group and the API.
    Each,
    /// Only enough to learn the cluster's commits source (one document read, not one per
    /// group): the list of every group, with members and state from their series.
    ClusterMode,
}

/// Reads the commit windows of `groups` (of `cluster`) as of `at`. Groups without any committed
/// offset series are returned with no windows (not found).
pub async fn read_groups(
    store: &Store,
    cluster: &str,
    groups: &[String],
    at: i64,
    cfg: &EvalConfig,
    interval_ms: i64,
    docs: Docs,
) -> Result<Vec<GroupData>, LagError> {
    let wanted: BTreeSet<&str> = groups.iter().map(String::as_str).collect();
    let mut idx = index(store, cluster, &wanted);
    // Partitions without a stored log end get their lag at each commit from the lag series.
    add_lag_series(store, cluster, &mut idx, |p| p.log_end.is_none());
    let span = window_span_ms(cfg, interval_ms);

    let mut ids: Vec<SeriesId> = Vec::new();
    let mut seen_log_end: BTreeSet<SeriesId> = BTreeSet::new();
    for parts in idx.parts.values() {
        for p in parts {
            ids.push(p.committed);
            // The lag at each commit is the log end of that poll minus the commit (as Burrow
            // computes it at insertion), so the stored lag series is read only for partitions
            // without a log end; log ends are shared by every group reading the partition.
            match p.log_end {
                Some(l) => {
                    if seen_log_end.insert(l) {
                        ids.push(l);
                    }
                }
                None => ids.extend(p.lag),
            }
        }
    }
    let raw = store
        .raw_samples(&ids, at - span, at, SAMPLE_BUDGET)
        .await
        .map_err(store_err("recent offsets", cluster))?;
    let mut samples: HashMap<SeriesId, Vec<(i64, f64)>> = ids.iter().copied().zip(raw).collect();

    // Partitions with no commit in the window: stopped consumers or deleted groups. Find their
    // newest commit within expire-group and read the window that ends there.
    let quiet: Vec<SeriesId> = idx
        .parts
        .values()
        .flatten()
        .filter(|p| samples.get(&p.committed).is_none_or(Vec::is_empty))
        .map(|p| p.committed)
        .collect();
    // Committed-offset series whose window is old, with their lag series.
    let mut old_lag: HashMap<SeriesId, SeriesId> = HashMap::new();
    if !quiet.is_empty() {
        let quiet_set: std::collections::HashSet<SeriesId> = quiet.iter().copied().collect();
        add_lag_series(store, cluster, &mut idx, |p| {
            quiet_set.contains(&p.committed)
        });
        let newest = newest_at(store, &quiet, at, cfg.expire_group_ms)
            .await
            .map_err(store_err("the newest commits", cluster))?;
        let mut by_end: BTreeMap<i64, Vec<SeriesId>> = BTreeMap::new();
        for (id, v) in quiet.iter().zip(newest) {
            if let Some((ts, _)) = v {
                by_end.entry(ts).or_default().push(*id);
            }
        }
        for (end, part_ids) in by_end {
            // Their stored lags too: the log ends read above are of the recent window only.
            let mut with_lag = part_ids.clone();
            let these: std::collections::HashSet<SeriesId> = part_ids.iter().copied().collect();
            for p in idx.parts.values().flatten() {
                if these.contains(&p.committed) {
                    with_lag.extend(p.lag);
                    if let Some(l) = p.lag {
                        old_lag.insert(p.committed, l);
                    }
                }
            }
            let raw = store
                .raw_samples(&with_lag, end - span, end, SAMPLE_BUDGET)
                .await
                .map_err(store_err("old commits", cluster))?;
            for (id, s) in with_lag.into_iter().zip(raw) {
                let e = samples.entry(id).or_default();
                if e.is_empty() {
                    *e = s;
                }
            }
        }
    }

    // States at `at`: the state series whose newest value is 1.
    // (group, state, series) of the wanted groups' state series.
    let mut state_infos: Vec<(String, String, SeriesId)> = Vec::new();
    of_groups(store, cluster, STATE, &wanted, |g, i| {
        if let Some(st) = i.key.labels.get("state") {
            state_infos.push((g.to_string(), st.to_string(), i.id));
        }
    });
    let state_ids: Vec<SeriesId> = state_infos.iter().map(|i| i.2).collect();
    let state_values = newest_at(store, &state_ids, at, span)
        .await
        .map_err(store_err("group states", cluster))?;
    let mut states: HashMap<&str, (i64, String)> = HashMap::new();
    for ((g, st, _), v) in state_infos.iter().zip(state_values) {
        let Some((ts, v)) = v else {
            continue;
        };
        if v >= 1.0 && states.get(g.as_str()).is_none_or(|(t, _)| ts > *t) {
            states.insert(g, (ts, st.clone()));
        }
    }

    let member_groups: Vec<(&String, SeriesId)> =
        idx.members.iter().map(|(g, id)| (g, *id)).collect();
    let member_ids: Vec<SeriesId> = member_groups.iter().map(|m| m.1).collect();
    let member_values = newest_at(store, &member_ids, at, span)
        .await
        .map_err(store_err("group members", cluster))?;
    let members_now: HashMap<&str, usize> = member_groups
        .iter()
        .zip(member_values)
        .filter_map(|((g, _), v)| v.map(|(_, m)| (g.as_str(), m.max(0.0) as usize)))
        .collect();

    // Each partition's earliest offset at `at` (retention), read once for all groups.
    let start_ids: Vec<SeriesId> = idx
        .parts
        .values()
        .flatten()
        .filter_map(|p| p.log_start)
        .collect::<BTreeSet<SeriesId>>()
        .into_iter()
        .collect();
    let start_values = newest_at(store, &start_ids, at, span)
        .await
        .map_err(store_err("earliest offsets", cluster))?;
    let log_starts: HashMap<SeriesId, i64> = start_ids
        .iter()
        .zip(start_values)
        .filter_map(|(id, v)| v.map(|(_, x)| (*id, x as i64)))
        .collect();

    let mut cluster_commits: Option<CommitsSource> = None;
    if docs == Docs::ClusterMode {
        for g in groups.iter().take(3) {
            if let Some(d) = group_doc(store, cluster, g).await? {
                cluster_commits = Some(d.commits());
                break;
            }
        }
    }

    // Converted once per partition, not once per group reading it.
    let mut shared_log_ends: HashMap<SeriesId, LogEnds> = HashMap::new();
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let doc = match docs {
            Docs::Each => group_doc(store, cluster, g).await?,
            Docs::ClusterMode => None,
        };
        let parts = idx.parts.get(g.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let mut windows = Vec::new();
        let mut last_commit: Option<i64> = None;
        let mut recent_log_ends = HashMap::new();
        for p in parts {
            let commits = samples.get(&p.committed).map(Vec::as_slice).unwrap_or(&[]);
            if commits.is_empty() {
                continue;
            }
            let log_ends: LogEnds = match p.log_end {
                Some(l) => shared_log_ends
                    .entry(l)
                    .or_insert_with(|| {
                        samples
                            .get(&l)
                            .map(|v| v.iter().map(|(t, x)| (*t, *x as i64)).collect())
                            .unwrap_or_default()
                    })
                    .clone(),
                None => LogEnds::default(),
            };
            let stored_lag = old_lag
                .get(&p.committed)
                .copied()
                .or(if p.log_end.is_none() { p.lag } else { None });
            let triples: Vec<(i64, i64, Option<u64>)> = match stored_lag {
                Some(l) => {
                    let lags: HashMap<i64, f64> = samples
                        .get(&l)
                        .map(|v| v.iter().copied().collect())
                        .unwrap_or_default();
                    commits
                        .iter()
                        .map(|(ts, o)| {
                            let lag = lags
                                .get(ts)
                                .filter(|l| l.is_finite() && **l >= 0.0)
                                .map(|l| *l as u64);
                            (*ts, *o as i64, lag)
                        })
                        .collect()
                }
                None => commits
                    .iter()
                    .map(|(ts, o)| (*ts, *o as i64, lag_at(&log_ends, *ts, *o as i64)))
                    .collect(),
            };
            let offsets = build_window(&triples, cfg);
            let Some(last) = offsets.last().copied() else {
                continue;
            };
            last_commit = last_commit.max(Some(last.timestamp));
            let broker_offsets: Vec<i64> = log_ends
                [log_ends.len().saturating_sub(cfg.intervals.max(1))..]
                .iter()
                .map(|p| p.1)
                .collect();
            // Burrow's current lag: the newest log end minus the newest commit, floored at 0;
            // the stored lag of the newest commit when no log end is stored.
            let current_lag = match log_ends.last() {
                Some((_, end)) => (end - last.offset).max(0) as u64,
                None => last.lag.unwrap_or(0),
            };
            let (owner, client_id) = doc
                .as_ref()
                .and_then(|d| d.owner_of(&p.topic, p.partition))
                .map(|(o, c)| (o.to_string(), c.to_string()))
                .unwrap_or_default();
            windows.push(PartitionWindow {
                topic: p.topic.clone(),
                partition: p.partition,
                owner,
                client_id,
                offsets,
                broker_offsets,
                current_lag,
                log_start: p.log_start.and_then(|id| log_starts.get(&id).copied()),
                log_end: log_ends.last().map(|e| e.1),
            });
            recent_log_ends.insert((p.topic.clone(), p.partition), log_ends);
        }
        let members = doc
            .as_ref()
            .map(|d| d.members.len())
            .or_else(|| members_now.get(g.as_str()).copied());
        let state = doc
            .as_ref()
            .map(|d| d.state.clone())
            .filter(|s| !s.is_empty())
            .or_else(|| states.get(g.as_str()).map(|(_, s)| s.clone()));
        out.push(GroupData {
            group: g.clone(),
            windows,
            last_commit,
            commits: doc.as_ref().map(GroupDoc::commits).or(cluster_commits),
            doc,
            members,
            state,
            recent_log_ends,
        });
    }
    Ok(out)
}

/// Raw log-end points the last hour's layer may read (all partitions together): 1,000
/// partitions polled every 30 s, or 130 polled every second; beyond it the rollups answer.
const RAW_HOUR_BUDGET: usize = 500_000;

/// Layers of log-end points per topic partition, coarse to fine.
type Layers = HashMap<(String, i32), Vec<Vec<(i64, i64)>>>;

/// Log-end histories for lag in seconds at `at`, per topic partition: the recent raw points,
/// extended for partitions whose lowest committed offset (`committed`: the minimum over the
/// groups that read it) is older than the finer layer: with the raw points of the last hour
/// (each poll: precise to a poll interval) while they fit [`RAW_HOUR_BUDGET`], then rollups of the
/// last day and of the last 400 days (precise to a bucket, 5 min and a day), so the history
/// reaches as far back as the store keeps it.
pub async fn histories(
    store: &Store,
    cluster: &str,
    recent: &HashMap<(String, i32), LogEnds>,
    committed: &HashMap<(String, i32), i64>,
    at: i64,
) -> Result<HashMap<(String, i32), History>, LagError> {
    let on = [Matcher::eq("cluster", cluster)];
    let mut log_end: HashMap<(String, i32), SeriesId> = HashMap::new();
    store.visit(Some(LOG_END), &on, |i| {
        if let (Some(t), Some(p)) = (i.key.labels.get("topic"), partition_of(i)) {
            let k = (t.to_string(), p);
            if committed.contains_key(&k) {
                log_end.insert(k, i.id);
            }
        }
    });
    let mut layers: Layers = HashMap::new();
    for k in committed.keys() {
        layers
            .entry(k.clone())
            .or_default()
            .push(recent.get(k).map(|r| r.to_vec()).unwrap_or_default());
    }
    // A partition needs an older layer when its commit is below everything the finest has.
    let needs = |layers: &Layers| -> Vec<(String, i32)> {
        committed
            .iter()
            .filter(|(k, c)| {
                let oldest = layers
                    .get(*k)
                    .and_then(|ls| ls.iter().flatten().min_by_key(|p| p.0).copied());
                match oldest {
                    None => true,
                    Some((_, end)) => **c < end,
                }
            })
            .map(|(k, _)| k.clone())
            .filter(|k| log_end.contains_key(k))
            .collect()
    };
    let want = needs(&layers);
    if !want.is_empty() {
        let ids: Vec<SeriesId> = want
            .iter()
            .filter_map(|k| log_end.get(k).copied())
            .collect();
        match store
            .raw_samples(&ids, at - 3_600_000, at, RAW_HOUR_BUDGET)
            .await
        {
            Ok(raw) => {
                let by_id: HashMap<SeriesId, Vec<(i64, f64)>> = ids.into_iter().zip(raw).collect();
                for k in want {
                    if let Some(pts) = log_end.get(&k).and_then(|id| by_id.get(id)) {
                        let pts = pts.iter().map(|(t, v)| (*t, *v as i64)).collect();
                        layers.entry(k).or_default().insert(0, pts);
                    }
                }
            }
            // Too many for the budget: the rollups below answer, a bucket coarser.
            Err(StoreError::TooManySamples { .. }) => {}
            Err(e) => return Err(store_err("log-end history", cluster)(e)),
        }
    }
    for (reach, points) in [(86_400_000i64, 288usize), (400 * 86_400_000, 400)] {
        let want = needs(&layers);
        if want.is_empty() {
            break;
        }
        let ids: Vec<SeriesId> = want
            .iter()
            .filter_map(|k| log_end.get(k).copied())
            .collect();
        let ranges = store
            .query_range(&ids, at - reach, at, points)
            .await
            .map_err(store_err("log-end history", cluster))?;
        let by_id: HashMap<SeriesId, Vec<(i64, i64)>> = ranges
            .into_iter()
            .map(|r| {
                let b: Vec<(i64, i64, f64, f64)> = r
                    .buckets
                    .iter()
                    .map(|b| (b.ts, r.step_ms, b.min, b.max))
                    .collect();
                (r.series.id, bucket_points(&b))
            })
            .collect();
        for k in want {
            if let Some(pts) = log_end.get(&k).and_then(|id| by_id.get(id)) {
                // Coarser layers go first.
                layers.entry(k).or_default().insert(0, pts.clone());
            }
        }
    }
    Ok(layers
        .into_iter()
        .map(|(k, ls)| (k, History::layered(&ls)))
        .collect())
}

/// The poll interval of a cluster's kafka target (30 s when none is registered).
pub fn interval_of(targets: &[crate::targets::TargetStatus], cluster: &str) -> i64 {
    targets
        .iter()
        .filter(|t| t.cluster == cluster && t.source == "kafka")
        .map(|t| t.interval_ms)
        .max()
        .unwrap_or(30_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_document_of_the_contract_parses() {
        let body = r#"{"group":"g","state":"Stable","protocol_type":"consumer","protocol":"range",
            "generation":4,"members":[{"member_id":"m1","client_id":"c1","client_host":"/10.0.0.7",
            "assignments":[{"topic":"orders","partitions":[0,2]}]}],"commits_source":"admin-api",
            "polled_at_ms":1795627169598}"#;
        let d = parse_group_doc(body).expect("parses");
        assert_eq!(d.commits(), CommitsSource::AdminApi);
        assert_eq!(d.owner_of("orders", 2), Some(("/10.0.0.7", "c1")));
        assert_eq!(d.owner_of("orders", 1), None);
        assert_eq!(d.generation, Some(4));
        // Unknown fields and a missing member list do not fail it.
        let d = parse_group_doc(r#"{"group":"g","extra":1,"commits_source":"offsets-topic"}"#)
            .expect("parses");
        assert_eq!(d.commits(), CommitsSource::OffsetsTopic);
        assert!(d.members.is_empty());
        assert_eq!(parse_group_doc("not json"), None);
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(256))]
        #[test]
        fn a_damaged_document_is_none_not_a_panic(body in ".{0,200}") {
            let _ = parse_group_doc(&body);
        }

        #[test]
        fn documents_with_odd_values_parse_or_are_refused(
            generation in proptest::option::of(proptest::num::i64::ANY),
            parts in proptest::collection::vec(proptest::num::i32::ANY, 0..5),
            source in "[a-z-]{0,14}",
        ) {
            let body = serde_json::json!({
                "group": "g", "generation": generation, "commits_source": source,
                "members": [{"client_host": "h", "assignments": [{"topic": "t", "partitions": parts}]}],
            })
            .to_string();
            let d = parse_group_doc(&body).expect("a document of the contract's shape parses");
            proptest::prop_assert_eq!(d.generation, generation);
            proptest::prop_assert!(matches!(d.commits(), CommitsSource::AdminApi | CommitsSource::OffsetsTopic));
        }
    }

    #[test]
    fn the_lag_of_a_commit_is_against_the_log_end_polled_with_it() {
        let ends = [(1_000, 50), (2_000, 80), (3_000, 90)];
        assert_eq!(lag_at(&ends, 2_000, 60), Some(20));
        // Between polls: the newest log end known at the commit.
        assert_eq!(lag_at(&ends, 2_500, 60), Some(20));
        // A commit past the log end polled with it is no lag (sampled at different times).
        assert_eq!(lag_at(&ends, 3_000, 95), Some(0));
        // Before the first poll: unknown.
        assert_eq!(lag_at(&ends, 500, 10), None);
    }

    #[test]
    fn the_window_read_covers_twice_the_window() {
        assert_eq!(window_span_ms(&EvalConfig::default(), 30_000), 720_000);
    }
}
