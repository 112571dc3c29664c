//! Fetch (v4–v12, negotiated; v13+ names topics by id) of one topic's partitions from their
//! leader, and the decoding of the returned record batches (RecordBatch v2, with
//! `kafka_protocol::records`).
//!
//! Bounded: the request caps the bytes of the answer (`max_bytes`, per partition
//! `partition_max_bytes`); a batch announcing more records than its bytes can hold is refused
//! before anything is reserved for them, and a compressed batch is inflated to at most
//! [`MAX_INFLATED_BYTES`]. Compression: none and gzip (flate2, already a dependency, pure Rust)
//! are decoded; snappy, lz4 and zstd batches are refused with an error naming the codec (their
//! kafka-protocol features pull C libraries or extra crates; Kafka writes `__consumer_offsets`
//! uncompressed unless `offsets.topic.compression.codec` is set).

use super::connection::{ClientError, Connection, error_name};
use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, RecordBatchDecoder};
use std::io::Read;
use tokio::time::Instant;

/// A compressed batch inflates to at most this many bytes.
pub const MAX_INFLATED_BYTES: usize = 16 << 20;
/// A compressed batch may announce at most this many records (its header count is reserved as a
/// vector by the decoder before the records are read).
pub const MAX_COMPRESSED_RECORDS: i32 = 100_000;
/// How long a broker may hold a Fetch with no data to answer.
pub const FETCH_WAIT_MS: i32 = 100;
/// Bytes of a RecordBatch v2 header up to and including the record count.
const BATCH_HEADER: usize = 61;
/// The smallest record: length, attributes, timestamp delta, offset delta, key length, value
/// length and header count, one byte each.
const MIN_RECORD: usize = 7;

/// What one partition answered.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchedPartition {
    pub partition: i32,
    /// The partition's error (`OFFSET_OUT_OF_RANGE (1)` …), with its code.
    pub error: Option<(i16, String)>,
    pub high_watermark: i64,
    /// −1 when the broker does not say (before v5).
    pub log_start: i64,
    pub records: Bytes,
}

/// Fetches `topic`'s `partitions` (partition, fetch offset) from this broker (their leader),
/// waiting at most [`FETCH_WAIT_MS`] for data.
pub async fn fetch(
    c: &mut Connection,
    topic: &str,
    partitions: &[(i32, i64)],
    max_bytes: i32,
    partition_max_bytes: i32,
    deadline: Instant,
) -> Result<Vec<FetchedPartition>, ClientError> {
    if partitions.is_empty() {
        return Ok(vec![]);
    }
    let v = c.version::<FetchRequest>(4, 12)?;
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        // Tansu answers an empty set to min_bytes 0; with 1 a broker that has data answers at
        // once, and one that has none waits at most this long (we only ask below the log end).
        .with_max_wait_ms(FETCH_WAIT_MS)
        .with_min_bytes(1)
        .with_max_bytes(max_bytes)
        // READ_UNCOMMITTED: commits of open transactions are read like the others.
        .with_isolation_level(0)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|(p, offset)| {
                            FetchPartition::default()
                                .with_partition(*p)
                                .with_fetch_offset(*offset)
                                .with_partition_max_bytes(partition_max_bytes)
                        })
                        .collect(),
                ),
        ]);
    let r = c.call(&req, v, deadline).await?;
    if r.error_code != 0 {
        return Err(ClientError::Broker {
            addr: c.addr().to_string(),
            api: "Fetch",
            message: error_name(r.error_code),
        });
    }
    let mut out = Vec::new();
    for t in r.responses {
        if t.topic.0.as_str() != topic {
            continue;
        }
        for p in t.partitions {
            out.push(FetchedPartition {
                partition: p.partition_index,
                error: (p.error_code != 0).then(|| (p.error_code, error_name(p.error_code))),
                high_watermark: p.high_watermark,
                log_start: p.log_start_offset,
                records: p.records.unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// One record of a fetched batch, as the offsets topic needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedRecord {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// What the record bytes of one partition held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecodedRecords {
    /// Data records (control records, e.g. transaction markers, left out), in offset order.
    pub records: Vec<FetchedRecord>,
    /// The offset after the last whole batch read (None: no whole batch).
    pub next_offset: Option<i64>,
    /// Batches that could not be decoded: (base offset, why). Reading continues after them.
    pub errors: Vec<(i64, String)>,
}

fn be_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

fn be_i32(b: &[u8]) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    i32::from_be_bytes(a)
}

/// Splits the bytes into batches and decodes each. A trailing partial batch (the answer cut at
/// `max_bytes`) is left for the next fetch; a batch too damaged to know its length stops the
/// reading there (its offset is reported, the rest is skipped by the caller).
pub fn decode_records(bytes: &Bytes) -> DecodedRecords {
    let mut out = DecodedRecords::default();
    let mut at = 0usize;
    while bytes.len() - at >= 12 {
        let head = &bytes[at..];
        let base = be_i64(&head[0..8]);
        let length = be_i32(&head[8..12]);
        let Ok(length) = usize::try_from(length) else {
            out.errors
                .push((base, format!("negative batch length {length}")));
            return out;
        };
        let Some(total) = length.checked_add(12) else {
            return out;
        };
        if head.len() < total {
            break; // cut by max_bytes: fetched again next time
        }
        let batch = bytes.slice(at..at + total);
        at += total;
        match decode_batch(&batch, &mut out.records) {
            Ok(last) => out.next_offset = Some(last + 1),
            Err(e) => {
                out.errors.push((base, e));
                // The batch's last offset is in its header when that much is there.
                if batch.len() >= 27 {
                    let delta = be_i32(&batch[23..27]);
                    out.next_offset = Some(base.saturating_add(i64::from(delta.max(0))) + 1);
                } else {
                    out.next_offset = Some(base + 1);
                }
            }
        }
    }
    out
}

/// Decodes one whole batch into `records`; returns its last offset.
fn decode_batch(batch: &Bytes, records: &mut Vec<FetchedRecord>) -> Result<i64, String> {
    if batch.len() < BATCH_HEADER {
        return Err(format!(
            "batch of {} bytes is shorter than a header",
            batch.len()
        ));
    }
    let magic = batch[16] as i8;
    if magic != 2 {
        return Err(format!(
            "message format v{magic} (only RecordBatch v2, Kafka 0.11+, is read)"
        ));
    }
    let base = be_i64(&batch[0..8]);
    let last_delta = be_i32(&batch[23..27]);
    let attributes = i16::from_be_bytes([batch[21], batch[22]]);
    let count = be_i32(&batch[57..61]);
    let codec = attributes & 0x7;
    let fits = if codec == 0 {
        usize::try_from(count).is_ok_and(|n| n <= (batch.len() - BATCH_HEADER) / MIN_RECORD)
    } else {
        (0..=MAX_COMPRESSED_RECORDS).contains(&count)
    };
    if !fits {
        return Err(format!(
            "batch announces {count} records, more than its {} bytes can hold",
            batch.len()
        ));
    }
    let mut buf = batch.clone();
    let set = RecordBatchDecoder::decode_with_custom_compression(
        &mut buf,
        Some(|b: &mut Bytes, c: Compression| -> anyhow::Result<Bytes> {
            match c {
                Compression::None => Ok(b.clone()),
                Compression::Gzip => inflate_gzip(b),
                other => Err(anyhow::anyhow!(
                    "the batch is compressed with {}, which kafkascope does not decode (none and gzip only)",
                    codec_name(other)
                )),
            }
        }),
    )
    .map_err(|e| e.to_string())?;
    for r in set.records {
        if r.control {
            continue;
        }
        records.push(FetchedRecord {
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key,
            value: r.value,
        });
    }
    Ok(base.saturating_add(i64::from(last_delta.max(0))))
}

fn codec_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

/// Gzip, inflated to at most [`MAX_INFLATED_BYTES`] (a small batch must not become gigabytes).
fn inflate_gzip(b: &Bytes) -> anyhow::Result<Bytes> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&b[..])
        .take(MAX_INFLATED_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| anyhow::anyhow!("gzip: {e}"))?;
    if out.len() > MAX_INFLATED_BYTES {
        anyhow::bail!("gzip batch inflates to more than {MAX_INFLATED_BYTES} bytes");
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    use proptest::prelude::*;

    fn record(offset: i64, key: &'static [u8], value: Option<&'static [u8]>) -> Record {
        Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: -1,
            timestamp: 1_700_000_000_000 + offset,
            key: Some(Bytes::from_static(key)),
            value: value.map(Bytes::from_static),
            headers: Default::default(),
        }
    }

    fn batch(records: &[Record], compression: Compression) -> Bytes {
        let mut b = BytesMut::new();
        RecordBatchEncoder::encode_with_custom_compression(
            &mut b,
            records,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
            Some(|buf: &mut BytesMut, out: &mut BytesMut, c: Compression| {
                match c {
                    Compression::None => out.extend_from_slice(buf),
                    Compression::Gzip => {
                        use std::io::Write;
                        let mut e = flate2::write::GzEncoder::new(
                            Vec::new(),
                            flate2::Compression::default(),
                        );
                        e.write_all(buf)?;
                        out.extend_from_slice(&e.finish()?);
                    }
                    // Stand-in bytes: only the codec id in the header matters to the reader.
                    _ => out.extend_from_slice(buf),
                }
                Ok(())
            }),
        )
        .unwrap();
        b.freeze()
    }

    #[test]
    fn batches_decode_with_tombstones_and_a_cut_batch_is_left_for_later() {
        let mut all = BytesMut::new();
        all.extend_from_slice(&batch(
            &[record(0, b"k0", Some(b"v0")), record(1, b"k1", None)],
            Compression::None,
        ));
        all.extend_from_slice(&batch(&[record(2, b"k2", Some(b"v2"))], Compression::Gzip));
        let third = batch(&[record(3, b"k3", Some(b"v3"))], Compression::None);
        all.extend_from_slice(&third[..third.len() - 3]);
        let d = decode_records(&all.freeze());
        assert_eq!(d.errors, vec![]);
        assert_eq!(
            d.records.iter().map(|r| r.offset).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(d.records[1].value, None, "a tombstone keeps its null value");
        assert_eq!(d.records[2].value.as_deref(), Some(&b"v2"[..]));
        assert_eq!(d.next_offset, Some(3), "the cut batch is fetched again");
    }

    #[test]
    fn an_unsupported_codec_is_named_and_reading_goes_on_after_it() {
        let mut all = BytesMut::new();
        all.extend_from_slice(&batch(&[record(0, b"k", Some(b"v"))], Compression::Zstd));
        all.extend_from_slice(&batch(&[record(1, b"k", Some(b"v"))], Compression::None));
        let d = decode_records(&all.freeze());
        assert_eq!(d.errors.len(), 1, "{:?}", d.errors);
        assert!(
            d.errors[0].1.contains("compressed with zstd"),
            "{:?}",
            d.errors
        );
        assert_eq!(d.records.len(), 1);
        assert_eq!(d.records[0].offset, 1);
        assert_eq!(d.next_offset, Some(2));
    }

    #[test]
    fn a_record_count_larger_than_the_batch_is_refused_before_reserving() {
        let mut b = BytesMut::from(&batch(&[record(0, b"k", Some(b"v"))], Compression::None)[..]);
        b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        let d = decode_records(&b.freeze());
        assert!(d.errors[0].1.contains("announces"), "{:?}", d.errors);
        assert_eq!(d.next_offset, Some(1));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_records(&Bytes::from(bytes));
        }

        #[test]
        fn a_damaged_batch_never_panics(flip in 0usize..200, value in any::<u8>()) {
            let b = batch(&[record(0, b"key", Some(b"value")), record(1, b"k", None)], Compression::None);
            let mut m = BytesMut::from(&b[..]);
            let i = flip % m.len();
            m[i] = value;
            let _ = decode_records(&m.freeze());
        }
    }
}
