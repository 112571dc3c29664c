//! Reading `__consumer_offsets`, as Burrow's `kafka` consumer module and kminion's `offsetsTopic`
//! mode do: every commit with its commit time, and the groups' metadata, straight from the log the
//! group coordinators write.
//!
//! - **Decoders** ([`decode`]): the record key's version says what the record is (0 and 1:
//!   OffsetCommit; 2: GroupMetadata; higher: newer coordinator records, counted and skipped).
//!   Layouts from apache/kafka `group-coordinator/src/main/resources/common/message/`
//!   `OffsetCommitKey.json`, `OffsetCommitValue.json` (v0–v4; v4 flexible),
//!   `GroupMetadataKey.json`, `GroupMetadataValue.json` (v0–v4; v4 flexible). A null value is a
//!   tombstone: offset deleted, or group deleted. Every read is bounds-checked; nothing panics.
//! - **Reader** ([`OffsetsReader`]): keeps its position per partition across polls, starts at the
//!   earliest offset, fetches at most [`POLL_BYTES`] per poll from the partitions' leaders, and
//!   keeps the latest commit per group/topic/partition, a commit counter, and each group's
//!   metadata. The commits read since the previous poll are handed out once, with their commit
//!   times, so the store holds one committed-offset sample per commit at the time it was made.

use super::client::admin::{self, Member};
use super::client::fetch::{self, FetchedRecord};
use super::client::{ClientError, Pool};
use super::collect::{GroupState, Snapshot, canonical_state};
use super::config::NameFilter;
use crate::model::{Reading, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use tokio::time::Instant;

/// The topic's name.
pub const TOPIC: &str = "__consumer_offsets";
/// Bytes fetched per poll at most (the reader catches up over several polls beyond that).
pub const POLL_BYTES: i32 = 32 << 20;
/// Bytes one Fetch asks for at most, and per partition.
const FETCH_BYTES: i32 = 4 << 20;
const PARTITION_BYTES: i32 = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Decoders

/// Why a record could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {message}")]
pub struct DecodeError {
    pub what: &'static str,
    pub message: String,
}

/// An OffsetCommit value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetCommitValue {
    pub version: i16,
    pub offset: i64,
    /// −1 before v3 and when unknown.
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// v1 only; −1 otherwise.
    pub expire_timestamp: i64,
}

/// A member in a GroupMetadata value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberMetadata {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// −1 before v1.
    pub rebalance_timeout: i32,
    pub session_timeout: i32,
    pub subscription: Vec<u8>,
    pub assignment: Vec<u8>,
}

/// A GroupMetadata value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupMetadataValue {
    pub version: i16,
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// −1 before v2.
    pub current_state_timestamp: i64,
    pub members: Vec<MemberMetadata>,
}

/// What one record of `__consumer_offsets` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Commit {
        group: String,
        topic: String,
        partition: i32,
        value: OffsetCommitValue,
    },
    /// Tombstone of an offset (deleted or expired).
    OffsetDeleted {
        group: String,
        topic: String,
        partition: i32,
    },
    Group {
        group: String,
        value: GroupMetadataValue,
    },
    /// Tombstone of a group (deleted, or dead once its offsets expired).
    GroupDeleted { group: String },
    /// A record type this reader does not use (newer coordinators' records, key version 3+).
    Other { key_version: i16 },
}

/// A bounds-checked reader of Kafka's classic and flexible (compact) encodings.
struct Reader<'a> {
    b: &'a [u8],
    what: &'static str,
    len: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8], what: &'static str) -> Self {
        Reader {
            b,
            what,
            len: b.len(),
        }
    }

    fn err(&self, message: impl Into<String>) -> DecodeError {
        DecodeError {
            what: self.what,
            message: format!("{} at byte {}", message.into(), self.len - self.b.len()),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.b.len() < n {
            return Err(self.err(format!("{n} bytes needed, {} left", self.b.len())));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16, DecodeError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// An unsigned varint of at most 5 bytes (a u32).
    fn uvarint(&mut self) -> Result<u32, DecodeError> {
        let mut v: u32 = 0;
        for i in 0..5 {
            let byte = self.take(1)?[0];
            v |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 5 bytes"))
    }

    /// A length (compact: N+1, 0 = null; classic: i16/i32, −1 = null). None: null.
    fn length(&mut self, flexible: bool, wide: bool) -> Result<Option<usize>, DecodeError> {
        if flexible {
            let n = self.uvarint()?;
            return Ok(n.checked_sub(1).map(|n| n as usize));
        }
        let n = if wide {
            self.i32()?
        } else {
            i32::from(self.i16()?)
        };
        match n {
            -1 => Ok(None),
            n if n >= 0 => Ok(Some(n as usize)),
            n => Err(self.err(format!("negative length {n}"))),
        }
    }

    fn nullable_string(&mut self, flexible: bool) -> Result<Option<String>, DecodeError> {
        match self.length(flexible, false)? {
            None => Ok(None),
            Some(n) => {
                let b = self.take(n)?;
                std::str::from_utf8(b)
                    .map(|s| Some(s.to_string()))
                    .map_err(|_| self.err("string is not UTF-8"))
            }
        }
    }

    fn string(&mut self, flexible: bool) -> Result<String, DecodeError> {
        self.nullable_string(flexible)?
            .ok_or_else(|| self.err("null where a string is required"))
    }

    fn bytes(&mut self, flexible: bool) -> Result<Vec<u8>, DecodeError> {
        match self.length(flexible, true)? {
            None => Err(self.err("null where bytes are required")),
            Some(n) => Ok(self.take(n)?.to_vec()),
        }
    }

    /// An array's count; never more than the bytes left (each element takes at least one).
    fn count(&mut self, flexible: bool) -> Result<usize, DecodeError> {
        let n = self
            .length(flexible, true)?
            .ok_or_else(|| self.err("null array"))?;
        if n > self.b.len() {
            return Err(self.err(format!("array of {n} elements in {} bytes", self.b.len())));
        }
        Ok(n)
    }

    /// Skips a flexible struct's tagged fields.
    fn tagged_fields(&mut self) -> Result<(), DecodeError> {
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }

    fn end(&self) -> Result<(), DecodeError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(self.err(format!("{} bytes left over", self.b.len())))
        }
    }
}

/// Decodes one record of `__consumer_offsets` from its key and value (None: tombstone).
pub fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Entry, DecodeError> {
    let key = key.ok_or(DecodeError {
        what: "key",
        message: "null key".into(),
    })?;
    let mut k = Reader::new(key, "key");
    let key_version = k.i16()?;
    match key_version {
        0 | 1 => {
            let mut k = Reader::new(&key[2..], "OffsetCommitKey");
            let group = k.string(false)?;
            let topic = k.string(false)?;
            let partition = k.i32()?;
            k.end()?;
            match value {
                None => Ok(Entry::OffsetDeleted {
                    group,
                    topic,
                    partition,
                }),
                Some(v) => Ok(Entry::Commit {
                    group,
                    topic,
                    partition,
                    value: offset_commit_value(v)?,
                }),
            }
        }
        2 => {
            let mut k = Reader::new(&key[2..], "GroupMetadataKey");
            let group = k.string(false)?;
            k.end()?;
            match value {
                None => Ok(Entry::GroupDeleted { group }),
                Some(v) => Ok(Entry::Group {
                    group,
                    value: group_metadata_value(v)?,
                }),
            }
        }
        v if v > 2 => Ok(Entry::Other { key_version: v }),
        v => Err(k.err(format!("key version {v}"))),
    }
}

/// OffsetCommitValue v0–v4.
pub fn offset_commit_value(b: &[u8]) -> Result<OffsetCommitValue, DecodeError> {
    let mut r = Reader::new(b, "OffsetCommitValue");
    let version = r.i16()?;
    if !(0..=4).contains(&version) {
        return Err(r.err(format!("version {version} (0 to 4 are read)")));
    }
    let flexible = version >= 4;
    let offset = r.i64()?;
    let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
    let metadata = r.string(flexible)?;
    let commit_timestamp = r.i64()?;
    let expire_timestamp = if version == 1 { r.i64()? } else { -1 };
    if flexible {
        r.tagged_fields()?;
    }
    r.end()?;
    Ok(OffsetCommitValue {
        version,
        offset,
        leader_epoch,
        metadata,
        commit_timestamp,
        expire_timestamp,
    })
}

/// GroupMetadataValue v0–v4.
pub fn group_metadata_value(b: &[u8]) -> Result<GroupMetadataValue, DecodeError> {
    let mut r = Reader::new(b, "GroupMetadataValue");
    let version = r.i16()?;
    if !(0..=4).contains(&version) {
        return Err(r.err(format!("version {version} (0 to 4 are read)")));
    }
    let flexible = version >= 4;
    let protocol_type = r.string(flexible)?;
    let generation = r.i32()?;
    let protocol = r.nullable_string(flexible)?;
    let leader = r.nullable_string(flexible)?;
    let current_state_timestamp = if version >= 2 { r.i64()? } else { -1 };
    let n = r.count(flexible)?;
    let mut members = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let member_id = r.string(flexible)?;
        let group_instance_id = if version >= 3 {
            r.nullable_string(flexible)?
        } else {
            None
        };
        let client_id = r.string(flexible)?;
        let client_host = r.string(flexible)?;
        let rebalance_timeout = if version >= 1 { r.i32()? } else { -1 };
        let session_timeout = r.i32()?;
        let subscription = r.bytes(flexible)?;
        let assignment = r.bytes(flexible)?;
        if flexible {
            r.tagged_fields()?;
        }
        members.push(MemberMetadata {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout,
            session_timeout,
            subscription,
            assignment,
        });
    }
    if flexible {
        r.tagged_fields()?;
    }
    r.end()?;
    Ok(GroupMetadataValue {
        version,
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp,
        members,
    })
}

// ---------------------------------------------------------------------------------------------
// Reader

/// The newest commit of one group/topic/partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub offset: i64,
    pub at: Timestamp,
    /// Commit records seen since kafkascope started.
    pub count: u64,
}

/// A commit read this poll, handed out once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitSeen {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub at: Timestamp,
}

/// A group as its GroupMetadata record describes it, and the offsets-topic partition it lives in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupMeta {
    pub value: Option<GroupMetadataValue>,
    pub home: i32,
}

/// Per partition of `__consumer_offsets`: where reading goes on, and the log end last seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Position {
    next: Option<i64>,
    end: Option<i64>,
}

/// What one poll of the topic found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadReport {
    /// Why the topic cannot be used this poll (absent, or no partition could be read).
    pub unreadable: Option<String>,
    pub warnings: Vec<String>,
    /// Leaders that answered Fetch for every partition they lead.
    pub answered: BTreeSet<i32>,
}

/// The state kept across polls.
#[derive(Debug, Default)]
pub struct OffsetsReader {
    positions: BTreeMap<i32, Position>,
    pub commits: BTreeMap<(String, String, i32), Committed>,
    /// Group → the offsets-topic partition its records are in, and its metadata when read.
    pub groups: BTreeMap<String, GroupMeta>,
    pending: Vec<CommitSeen>,
    pub records_total: u64,
    pub commit_records_total: u64,
    pub decode_errors_total: u64,
    pub other_records_total: u64,
    /// The newest decode error, shown on /targets for as long as kafkascope runs (a skipped
    /// record is read once; a warning of one poll would be gone a second later).
    last_decode_error: Option<String>,
}

impl OffsetsReader {
    /// Records not read yet, summed over the partitions (None before the first log end is seen).
    pub fn behind(&self) -> Option<i64> {
        let mut any = false;
        let mut sum = 0i64;
        for p in self.positions.values() {
            if let (Some(n), Some(e)) = (p.next, p.end) {
                any = true;
                sum = sum.saturating_add((e - n).max(0));
            }
        }
        any.then_some(sum)
    }

    /// Whether any commit record was ever read.
    pub fn has_commits(&self) -> bool {
        self.commit_records_total > 0
    }

    /// Applies one record (read from partition `home`); a record that does not decode is
    /// counted and its text returned.
    pub fn apply(
        &mut self,
        home: i32,
        r: &FetchedRecord,
        groups: &NameFilter,
        now: Timestamp,
    ) -> Result<(), DecodeError> {
        self.records_total += 1;
        let entry = match decode(r.key.as_deref(), r.value.as_deref()) {
            Ok(e) => e,
            Err(e) => {
                self.decode_errors_total += 1;
                return Err(e);
            }
        };
        match entry {
            Entry::Commit {
                group,
                topic,
                partition,
                value,
            } => {
                self.commit_records_total += 1;
                if !groups.passes(&group) {
                    return Ok(());
                }
                // Never in the future (a producer's clock ahead of ours); a commit without a
                // time (−1) takes the record's own timestamp.
                let mut at = value.commit_timestamp;
                if at < 0 {
                    at = r.timestamp;
                }
                let at = at.clamp(0, now);
                self.groups.entry(group.clone()).or_default().home = home;
                let c = self
                    .commits
                    .entry((group.clone(), topic.clone(), partition))
                    .or_insert(Committed {
                        offset: value.offset,
                        at,
                        count: 0,
                    });
                c.offset = value.offset;
                c.at = at;
                c.count += 1;
                self.pending.push(CommitSeen {
                    group,
                    topic,
                    partition,
                    offset: value.offset,
                    at,
                });
            }
            Entry::OffsetDeleted {
                group,
                topic,
                partition,
            } => {
                self.commits.remove(&(group, topic, partition));
            }
            Entry::Group { group, value } => {
                if groups.passes(&group) {
                    self.groups.insert(
                        group,
                        GroupMeta {
                            value: Some(value),
                            home,
                        },
                    );
                }
            }
            Entry::GroupDeleted { group } => {
                self.groups.remove(&group);
                self.commits.retain(|(g, _, _), _| *g != group);
                self.pending.retain(|c| c.group != group);
            }
            Entry::Other { .. } => self.other_records_total += 1,
        }
        Ok(())
    }

    /// Reads what is new in the topic: `leaders` maps each of its partitions to its leader's
    /// address and id. Every partition without a position starts at its earliest offset.
    pub async fn read(
        &mut self,
        pool: &mut Pool,
        leaders: &BTreeMap<i32, (i32, String)>,
        groups: &NameFilter,
        deadline: Instant,
    ) -> ReadReport {
        let mut report = ReadReport::default();
        if leaders.is_empty() {
            report.unreadable = Some(format!("there is no {TOPIC} topic in the metadata"));
            return report;
        }
        self.positions.retain(|p, _| leaders.contains_key(p));
        let mut by_leader: BTreeMap<i32, (String, Vec<i32>)> = BTreeMap::new();
        for (p, (id, addr)) in leaders {
            by_leader
                .entry(*id)
                .or_insert_with(|| (addr.clone(), vec![]))
                .1
                .push(*p);
        }
        let mut budget = POLL_BYTES;
        let mut errors: Vec<String> = Vec::new();
        let mut decode_errors: Vec<String> = Vec::new();
        for (id, (addr, parts)) in &by_leader {
            let h = pool.broker(addr);
            let r: Result<(), ClientError> = async {
                let mut l = h.lock(deadline).await?;
                // Partitions not started yet begin at their earliest offset.
                let fresh: Vec<(String, i32)> = parts
                    .iter()
                    .filter(|p| self.positions.get(p).is_none_or(|x| x.next.is_none()))
                    .map(|p| (TOPIC.to_string(), *p))
                    .collect();
                if !fresh.is_empty() {
                    let r = match l.conn(&h.addr) {
                        Ok(c) => admin::list_offsets(c, &fresh, deadline).await,
                        Err(e) => Err(e),
                    };
                    for ((_, p), (earliest, latest)) in l.check(r)? {
                        let pos = self.positions.entry(p).or_default();
                        match earliest {
                            Ok(e) => pos.next = Some(e),
                            Err(e) => errors.push(format!("partition {p}: earliest offset: {e}")),
                        }
                        if let Ok(e) = latest {
                            pos.end = Some(e);
                        }
                    }
                }
                // Rounds until caught up, out of budget, or stuck. The first round asks every
                // partition: its answer carries the log end, which is how new records are seen.
                let mut first = true;
                loop {
                    let want: Vec<(i32, i64)> = parts
                        .iter()
                        .filter_map(|p| {
                            let pos = self.positions.get(p)?;
                            let next = pos.next?;
                            (first || pos.end.is_none_or(|e| next < e)).then_some((*p, next))
                        })
                        .collect();
                    first = false;
                    if want.is_empty() || budget <= 0 {
                        break;
                    }
                    let max = budget.min(FETCH_BYTES);
                    let r = match l.conn(&h.addr) {
                        Ok(c) => {
                            fetch::fetch(c, TOPIC, &want, max, PARTITION_BYTES.min(max), deadline)
                                .await
                        }
                        Err(e) => Err(e),
                    };
                    let answers = l.check(r)?;
                    let mut progressed = false;
                    for a in answers {
                        let got = i32::try_from(a.records.len()).unwrap_or(i32::MAX);
                        budget = budget.saturating_sub(got);
                        let pos = self.positions.entry(a.partition).or_default();
                        if let Some((code, text)) = &a.error {
                            // OFFSET_OUT_OF_RANGE: the log was cleaned past us; start again at
                            // the earliest offset next poll.
                            if *code == 1 {
                                pos.next = None;
                            }
                            errors.push(format!("partition {}: {text}", a.partition));
                            continue;
                        }
                        if a.high_watermark >= 0 {
                            pos.end = Some(a.high_watermark);
                        }
                        let decoded = fetch::decode_records(&a.records);
                        for (base, e) in &decoded.errors {
                            self.decode_errors_total += 1;
                            decode_errors.push(format!(
                                "partition {} batch at offset {base}: {e}",
                                a.partition
                            ));
                        }
                        let now = crate::model::now_ms();
                        let start = pos.next.unwrap_or(0);
                        for rec in &decoded.records {
                            // A batch starts before the position when we asked mid-batch.
                            if rec.offset < start {
                                continue;
                            }
                            if let Err(e) = self.apply(a.partition, rec, groups, now) {
                                decode_errors.push(format!(
                                    "partition {} offset {}: {e}",
                                    a.partition, rec.offset
                                ));
                            }
                        }
                        let pos = self.positions.entry(a.partition).or_default();
                        if let Some(n) = decoded.next_offset
                            && pos.next.is_none_or(|x| n > x)
                        {
                            pos.next = Some(n);
                            progressed = true;
                        }
                    }
                    if !progressed || tokio::time::Instant::now() >= deadline {
                        break;
                    }
                }
                Ok(())
            }
            .await;
            match r {
                Ok(()) => {
                    report.answered.insert(*id);
                }
                Err(e) => errors.push(format!("broker {id}: {e}")),
            }
        }
        if !errors.is_empty() {
            report.warnings.push(format!(
                "{TOPIC}: {} read errors: {}",
                errors.len(),
                shorten(&errors)
            ));
        }
        if let Some(last) = decode_errors.last() {
            self.last_decode_error = Some(last.clone());
        }
        if let Some(last) = &self.last_decode_error {
            report.warnings.push(format!(
                "{TOPIC}: {} records or batches skipped since start (not decodable); the last: {last}",
                self.decode_errors_total
            ));
        }
        if report.answered.is_empty() {
            report.unreadable = Some(format!("{TOPIC} could not be read: {}", shorten(&errors)));
        }
        report
    }

    /// The commits read since the last call, oldest first per group.
    pub fn take_pending(&mut self) -> Vec<CommitSeen> {
        std::mem::take(&mut self.pending)
    }

    /// Replaces the snapshot's groups with the topic's view: groups with commits or metadata,
    /// their offsets from the topic, state and members from GroupMetadata (else from what
    /// DescribeGroups said, when the group was listed). `leaders` are the offsets-topic partition
    /// leaders (a group's coordinator is the leader of its partition).
    pub fn apply_to(
        &self,
        snap: &mut Snapshot,
        topics: &NameFilter,
        leaders: &BTreeMap<i32, (i32, String)>,
        answered: &BTreeSet<i32>,
    ) {
        let described = std::mem::take(&mut snap.groups);
        let mut out: BTreeMap<String, GroupState> = BTreeMap::new();
        for ((g, t, p), c) in &self.commits {
            if !topics.passes(t) {
                continue;
            }
            out.entry(g.clone())
                .or_default()
                .offsets
                .insert((t.clone(), *p), c.offset);
        }
        for g in self.groups.keys() {
            out.entry(g.clone()).or_default();
        }
        for (g, gs) in out.iter_mut() {
            let meta = self.groups.get(g);
            gs.coordinator = meta
                .and_then(|m| leaders.get(&m.home))
                .map(|l| l.0)
                .unwrap_or(-1);
            match (meta.and_then(|m| m.value.as_ref()), described.get(g)) {
                (Some(v), _) => {
                    gs.state = if v.members.is_empty() {
                        "Empty"
                    } else {
                        "Stable"
                    };
                    gs.protocol_type = v.protocol_type.clone();
                    gs.protocol = v.protocol.clone().unwrap_or_default();
                    gs.generation = Some(v.generation);
                    gs.members = v
                        .members
                        .iter()
                        .map(|m| Member {
                            member_id: m.member_id.clone(),
                            client_id: m.client_id.clone(),
                            client_host: m.client_host.clone(),
                            assignments: if v.protocol_type == "consumer" {
                                admin::consumer_assignment(&m.assignment).unwrap_or_default()
                            } else {
                                Default::default()
                            },
                        })
                        .collect();
                }
                (None, Some(d)) => {
                    gs.state = d.state;
                    gs.protocol_type = d.protocol_type.clone();
                    gs.protocol = d.protocol.clone();
                    gs.generation = d.generation;
                    gs.members = d.members.clone();
                }
                (None, None) => gs.state = canonical_state(""),
            }
        }
        snap.groups = out;
        snap.skipped.clear();
        snap.listed_by = answered.clone();
        snap.commits_from_topic = true;
    }

    /// The readings of the topic: one committed-offset sample per commit read (at its commit
    /// time), the commit counters, and how far behind the reader is.
    pub fn readings(&self, pending: &[CommitSeen], topics: &NameFilter) -> Vec<Reading> {
        let mut out = Vec::new();
        for c in pending {
            if !topics.passes(&c.topic) {
                continue;
            }
            out.push(
                Reading::gauge("kafka_consumergroup_current_offset", c.offset as f64)
                    .label("consumergroup", &c.group)
                    .label("topic", &c.topic)
                    .label("partition", c.partition.to_string())
                    .at(c.at),
            );
        }
        for ((g, t, p), c) in &self.commits {
            if !topics.passes(t) {
                continue;
            }
            out.push(
                Reading::counter("kafka_consumergroup_commits_total", c.count as f64)
                    .label("consumergroup", g)
                    .label("topic", t)
                    .label("partition", p.to_string()),
            );
        }
        for (p, pos) in &self.positions {
            if let (Some(n), Some(e)) = (pos.next, pos.end) {
                out.push(
                    Reading::gauge(
                        "kafkascope_offsets_topic_behind_records",
                        (e - n).max(0) as f64,
                    )
                    .label("partition", p.to_string()),
                );
            }
        }
        out.push(Reading::counter(
            "kafkascope_offsets_topic_records_total",
            self.records_total as f64,
        ));
        out.push(Reading::counter(
            "kafkascope_offsets_topic_decode_errors_total",
            self.decode_errors_total as f64,
        ));
        out
    }
}

/// The first few items and how many more.
fn shorten(items: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

#[cfg(test)]
mod tests;
