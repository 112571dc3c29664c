//! Fixtures are written byte by byte from apache/kafka's message definitions in
//! `group-coordinator/src/main/resources/common/message/` (OffsetCommitKey.json,
//! OffsetCommitValue.json, GroupMetadataKey.json, GroupMetadataValue.json): classic versions use
//! int16-length strings, int32-length bytes and int32 array counts; flexible versions (v4) use
//! compact strings/bytes/arrays (unsigned varint N+1, 0 = null) and end each struct with tagged
//! fields. The record key starts with its int16 version (0/1 OffsetCommit, 2 GroupMetadata).

use super::*;
use bytes::Bytes;
use proptest::prelude::*;

fn s16(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn compact(out: &mut Vec<u8>, s: &[u8]) {
    // Lengths in these fixtures stay below 127: one varint byte.
    out.push(s.len() as u8 + 1);
    out.extend_from_slice(s);
}

fn commit_key(version: i16, group: &str, topic: &str, partition: i32) -> Vec<u8> {
    let mut k = version.to_be_bytes().to_vec();
    s16(&mut k, group);
    s16(&mut k, topic);
    k.extend_from_slice(&partition.to_be_bytes());
    k
}

fn group_key(group: &str) -> Vec<u8> {
    let mut k = 2i16.to_be_bytes().to_vec();
    s16(&mut k, group);
    k
}

/// ConsumerProtocolAssignment v0: [topic, [partition]], null user data.
fn assignment(topic: &str, partitions: &[i32]) -> Vec<u8> {
    let mut a = 0i16.to_be_bytes().to_vec();
    a.extend_from_slice(&1i32.to_be_bytes());
    s16(&mut a, topic);
    a.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
    for p in partitions {
        a.extend_from_slice(&p.to_be_bytes());
    }
    a.extend_from_slice(&(-1i32).to_be_bytes());
    a
}

#[test]
fn offset_commit_key_v1_and_value_v3_as_kafka_writes_them() {
    // Value v3: offset, leaderEpoch, metadata, commitTimestamp.
    let mut v = 3i16.to_be_bytes().to_vec();
    v.extend_from_slice(&42i64.to_be_bytes());
    v.extend_from_slice(&7i32.to_be_bytes());
    s16(&mut v, "meta");
    v.extend_from_slice(&1_700_000_000_123i64.to_be_bytes());
    let e = decode(Some(&commit_key(1, "billing", "orders", 3)), Some(&v)).unwrap();
    assert_eq!(
        e,
        Entry::Commit {
            group: "billing".into(),
            topic: "orders".into(),
            partition: 3,
            value: OffsetCommitValue {
                version: 3,
                offset: 42,
                leader_epoch: 7,
                metadata: "meta".into(),
                commit_timestamp: 1_700_000_000_123,
                expire_timestamp: -1,
            }
        }
    );
}

#[test]
fn offset_commit_values_v0_v1_and_flexible_v4() {
    // v1 carries expireTimestamp after commitTimestamp.
    let mut v1 = 1i16.to_be_bytes().to_vec();
    v1.extend_from_slice(&5i64.to_be_bytes());
    s16(&mut v1, "");
    v1.extend_from_slice(&100i64.to_be_bytes());
    v1.extend_from_slice(&200i64.to_be_bytes());
    let d = offset_commit_value(&v1).unwrap();
    assert_eq!(
        (d.offset, d.commit_timestamp, d.expire_timestamp),
        (5, 100, 200)
    );
    // v0: offset, metadata, commitTimestamp (key version 0 as old brokers wrote it).
    let mut v0 = 0i16.to_be_bytes().to_vec();
    v0.extend_from_slice(&9i64.to_be_bytes());
    s16(&mut v0, "m");
    v0.extend_from_slice(&300i64.to_be_bytes());
    let e = decode(Some(&commit_key(0, "g", "t", 0)), Some(&v0)).unwrap();
    assert!(
        matches!(
            e,
            Entry::Commit {
                value: OffsetCommitValue {
                    offset: 9,
                    commit_timestamp: 300,
                    leader_epoch: -1,
                    ..
                },
                ..
            }
        ),
        "{e:?}"
    );
    // v4 (flexible): compact metadata and a tagged field (tag 0, 16 bytes: a topic id) skipped.
    let mut v4 = 4i16.to_be_bytes().to_vec();
    v4.extend_from_slice(&11i64.to_be_bytes());
    v4.extend_from_slice(&(-1i32).to_be_bytes());
    compact(&mut v4, b"x");
    v4.extend_from_slice(&400i64.to_be_bytes());
    v4.extend_from_slice(&[1, 0, 16]);
    v4.extend_from_slice(&[0xab; 16]);
    let d = offset_commit_value(&v4).unwrap();
    assert_eq!(
        (d.offset, d.metadata.as_str(), d.commit_timestamp),
        (11, "x", 400)
    );
    // Left-over bytes and unknown versions are errors, not guesses.
    let mut extra = v1.clone();
    extra.push(0);
    assert!(
        offset_commit_value(&extra)
            .unwrap_err()
            .message
            .contains("left over")
    );
    let mut v9 = v1.clone();
    v9[..2].copy_from_slice(&9i16.to_be_bytes());
    assert!(
        offset_commit_value(&v9)
            .unwrap_err()
            .message
            .contains("version 9")
    );
}

#[test]
fn group_metadata_v3_with_a_member_and_its_assignment() {
    let mut v = 3i16.to_be_bytes().to_vec();
    s16(&mut v, "consumer");
    v.extend_from_slice(&5i32.to_be_bytes()); // generation
    s16(&mut v, "range"); // protocol
    s16(&mut v, "m-1"); // leader
    v.extend_from_slice(&1_700_000_000_000i64.to_be_bytes()); // currentStateTimestamp
    v.extend_from_slice(&1i32.to_be_bytes()); // members
    s16(&mut v, "m-1");
    v.extend_from_slice(&(-1i16).to_be_bytes()); // groupInstanceId null
    s16(&mut v, "client-a");
    s16(&mut v, "/10.0.0.1");
    v.extend_from_slice(&300_000i32.to_be_bytes()); // rebalanceTimeout
    v.extend_from_slice(&45_000i32.to_be_bytes()); // sessionTimeout
    let sub = b"\x00\x00\x00\x00\x00\x01\x00\x06orders\xff\xff\xff\xff";
    v.extend_from_slice(&(sub.len() as i32).to_be_bytes());
    v.extend_from_slice(sub);
    let a = assignment("orders", &[0, 2]);
    v.extend_from_slice(&(a.len() as i32).to_be_bytes());
    v.extend_from_slice(&a);
    let e = decode(Some(&group_key("billing")), Some(&v)).unwrap();
    let Entry::Group { group, value } = e else {
        panic!("{e:?}")
    };
    assert_eq!(group, "billing");
    assert_eq!(value.generation, 5);
    assert_eq!(value.protocol.as_deref(), Some("range"));
    assert_eq!(value.members.len(), 1);
    let m = &value.members[0];
    assert_eq!(
        (m.client_id.as_str(), m.client_host.as_str()),
        ("client-a", "/10.0.0.1")
    );
    assert_eq!((m.rebalance_timeout, m.session_timeout), (300_000, 45_000));
    let decoded = admin::consumer_assignment(&m.assignment).unwrap();
    assert_eq!(decoded["orders"], vec![0, 2]);
}

#[test]
fn group_metadata_v0_and_flexible_v4() {
    // v0: no currentStateTimestamp, no groupInstanceId, no rebalanceTimeout; an empty group.
    let mut v0 = 0i16.to_be_bytes().to_vec();
    s16(&mut v0, "consumer");
    v0.extend_from_slice(&0i32.to_be_bytes());
    v0.extend_from_slice(&(-1i16).to_be_bytes()); // protocol null
    v0.extend_from_slice(&(-1i16).to_be_bytes()); // leader null
    v0.extend_from_slice(&0i32.to_be_bytes()); // no members
    let d = group_metadata_value(&v0).unwrap();
    assert_eq!(
        (
            d.protocol.clone(),
            d.members.len(),
            d.current_state_timestamp
        ),
        (None, 0, -1)
    );
    // v4: compact fields, a member with a static instance id, tagged fields on both structs.
    let mut v4 = 4i16.to_be_bytes().to_vec();
    compact(&mut v4, b"consumer");
    v4.extend_from_slice(&3i32.to_be_bytes());
    compact(&mut v4, b"cooperative-sticky");
    v4.push(0); // leader null
    v4.extend_from_slice(&9i64.to_be_bytes());
    v4.push(2); // one member
    compact(&mut v4, b"m-9");
    compact(&mut v4, b"instance-1");
    compact(&mut v4, b"c");
    compact(&mut v4, b"/h");
    v4.extend_from_slice(&1i32.to_be_bytes());
    v4.extend_from_slice(&2i32.to_be_bytes());
    compact(&mut v4, b"");
    compact(&mut v4, &assignment("t", &[1]));
    v4.push(0); // member tagged fields
    v4.extend_from_slice(&[1, 5, 2, 0xaa, 0xbb]); // one unknown tagged field at the end
    let d = group_metadata_value(&v4).unwrap();
    assert_eq!(d.leader, None);
    assert_eq!(
        d.members[0].group_instance_id.as_deref(),
        Some("instance-1")
    );
    assert_eq!(
        admin::consumer_assignment(&d.members[0].assignment).unwrap()["t"],
        vec![1]
    );
}

#[test]
fn tombstones_and_other_record_types() {
    assert_eq!(
        decode(Some(&commit_key(1, "g", "t", 2)), None).unwrap(),
        Entry::OffsetDeleted {
            group: "g".into(),
            topic: "t".into(),
            partition: 2
        }
    );
    assert_eq!(
        decode(Some(&group_key("g")), None).unwrap(),
        Entry::GroupDeleted { group: "g".into() }
    );
    // KIP-848 records (ConsumerGroupMetadata is key version 3): skipped, not an error.
    assert_eq!(
        decode(Some(&[0, 3, 0, 1, b'g']), Some(b"..")).unwrap(),
        Entry::Other { key_version: 3 }
    );
    assert!(decode(None, Some(b"x")).is_err());
    assert!(decode(Some(&[0xff, 0xff]), None).is_err());
}

fn record(offset: i64, key: Vec<u8>, value: Option<Vec<u8>>) -> FetchedRecord {
    FetchedRecord {
        offset,
        timestamp: 1_000 + offset,
        key: Some(Bytes::from(key)),
        value: value.map(Bytes::from),
    }
}

fn commit_value(offset: i64, ts: i64) -> Vec<u8> {
    let mut v = 3i16.to_be_bytes().to_vec();
    v.extend_from_slice(&offset.to_be_bytes());
    v.extend_from_slice(&(-1i32).to_be_bytes());
    s16(&mut v, "");
    v.extend_from_slice(&ts.to_be_bytes());
    v
}

#[test]
fn the_reader_keeps_commits_counts_them_and_forgets_deleted_groups() {
    let mut r = OffsetsReader::default();
    let all = NameFilter::default();
    let now = 10_000;
    r.apply(
        0,
        &record(0, commit_key(1, "a", "t", 0), Some(commit_value(5, 1_000))),
        &all,
        now,
    )
    .unwrap();
    r.apply(
        0,
        &record(1, commit_key(1, "a", "t", 0), Some(commit_value(5, 2_000))),
        &all,
        now,
    )
    .unwrap();
    // A commit stamped in the future is kept at now.
    r.apply(
        1,
        &record(0, commit_key(1, "b", "t", 1), Some(commit_value(8, 99_000))),
        &all,
        now,
    )
    .unwrap();
    // Garbage is counted and skipped; the others stand.
    assert!(
        r.apply(
            1,
            &record(1, commit_key(1, "b", "t", 2), Some(vec![0, 3, 1])),
            &all,
            now
        )
        .is_err()
    );
    assert_eq!(r.decode_errors_total, 1);
    let a = &r.commits[&("a".to_string(), "t".to_string(), 0)];
    assert_eq!((a.offset, a.at, a.count), (5, 2_000, 2));
    let pending = r.take_pending();
    assert_eq!(
        pending
            .iter()
            .map(|c| (c.group.as_str(), c.at))
            .collect::<Vec<_>>(),
        vec![("a", 1_000), ("a", 2_000), ("b", 10_000)]
    );
    assert!(r.take_pending().is_empty(), "handed out once");
    let readings = r.readings(&pending, &all);
    let offsets: Vec<Option<i64>> = readings
        .iter()
        .filter(|x| x.metric == "kafka_consumergroup_current_offset")
        .map(|x| x.at)
        .collect();
    assert_eq!(offsets, vec![Some(1_000), Some(2_000), Some(10_000)]);
    let count = readings
        .iter()
        .find(|x| {
            x.metric == "kafka_consumergroup_commits_total"
                && x.labels.get("consumergroup") == Some("a")
        })
        .map(|x| x.value);
    assert_eq!(count, Some(2.0));

    // The group's view, then a tombstone removes it.
    let mut snap = Snapshot::default();
    let leaders: BTreeMap<i32, (i32, String)> = [
        (0, (1, "b1:9092".to_string())),
        (1, (1, "b1:9092".to_string())),
    ]
    .into();
    let answered: BTreeSet<i32> = [1].into();
    r.apply_to(&mut snap, &all, &leaders, &answered);
    assert_eq!(snap.groups.keys().collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(snap.groups["a"].coordinator, 1);
    assert!(snap.commits_from_topic);
    r.apply(0, &record(2, group_key("a"), None), &all, now)
        .unwrap();
    let mut snap = Snapshot::default();
    r.apply_to(&mut snap, &all, &leaders, &answered);
    assert_eq!(snap.groups.keys().collect::<Vec<_>>(), vec!["b"]);
    // An offset tombstone removes just that partition.
    r.apply(1, &record(2, commit_key(1, "b", "t", 1), None), &all, now)
        .unwrap();
    assert!(r.commits.is_empty());
}

#[test]
fn group_metadata_gives_state_members_and_generation() {
    let mut r = OffsetsReader::default();
    let all = NameFilter::default();
    r.apply(
        2,
        &record(0, commit_key(1, "g", "orders", 0), Some(commit_value(3, 5))),
        &all,
        10,
    )
    .unwrap();
    let mut v = 3i16.to_be_bytes().to_vec();
    s16(&mut v, "consumer");
    v.extend_from_slice(&4i32.to_be_bytes());
    s16(&mut v, "range");
    s16(&mut v, "m");
    v.extend_from_slice(&0i64.to_be_bytes());
    v.extend_from_slice(&1i32.to_be_bytes());
    s16(&mut v, "m");
    v.extend_from_slice(&(-1i16).to_be_bytes());
    s16(&mut v, "cid");
    s16(&mut v, "/h");
    v.extend_from_slice(&1i32.to_be_bytes());
    v.extend_from_slice(&1i32.to_be_bytes());
    v.extend_from_slice(&0i32.to_be_bytes());
    let a = assignment("orders", &[0]);
    v.extend_from_slice(&(a.len() as i32).to_be_bytes());
    v.extend_from_slice(&a);
    r.apply(2, &record(1, group_key("g"), Some(v)), &all, 10)
        .unwrap();
    let mut snap = Snapshot::default();
    r.apply_to(&mut snap, &all, &BTreeMap::new(), &BTreeSet::new());
    let g = &snap.groups["g"];
    assert_eq!(
        (g.state, g.generation, g.members.len()),
        ("Stable", Some(4), 1)
    );
    assert_eq!(g.members[0].assignments["orders"], vec![0]);
    assert_eq!(g.offsets[&("orders".to_string(), 0)], 3);
}

proptest! {
    #[test]
    fn arbitrary_keys_and_values_never_panic(
        key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..256)),
    ) {
        let _ = decode(key.as_deref(), value.as_deref());
        if let Some(v) = &value {
            let _ = offset_commit_value(v);
            let _ = group_metadata_value(v);
        }
    }

    #[test]
    fn values_with_a_known_version_prefix_never_panic(
        version in 0i16..6,
        rest in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut v = version.to_be_bytes().to_vec();
        v.extend_from_slice(&rest);
        let _ = offset_commit_value(&v);
        let _ = group_metadata_value(&v);
    }
}
