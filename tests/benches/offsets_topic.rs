//! Reading `__consumer_offsets`: record batches decoded (RecordBatch v2, none and gzip) and every
//! record decoded and applied to the reader's state, in records per second.
//!
//! `cargo bench --bench offsets_topic`; sizes with `BENCH_RECORDS` (400,000), `BENCH_GROUPS`
//! (2,000). Without `--bench` it is a smoke run (small sizes, figures not comparable).

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafkascope::sources::kafka::client::fetch::decode_records;
use kafkascope::sources::kafka::config::NameFilter;
use kafkascope::sources::kafka::offsets_topic::OffsetsReader;
use std::time::Instant;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn s16(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// OffsetCommit key v1 and value v3, as Kafka writes them.
fn commit(group: &str, topic: &str, partition: i32, offset: i64, ts: i64) -> (Bytes, Bytes) {
    let mut k = 1i16.to_be_bytes().to_vec();
    s16(&mut k, group);
    s16(&mut k, topic);
    k.extend_from_slice(&partition.to_be_bytes());
    let mut v = 3i16.to_be_bytes().to_vec();
    v.extend_from_slice(&offset.to_be_bytes());
    v.extend_from_slice(&(-1i32).to_be_bytes());
    s16(&mut v, "");
    v.extend_from_slice(&ts.to_be_bytes());
    (Bytes::from(k), Bytes::from(v))
}

/// `n` commit records in batches of 50 (one OffsetCommit request of a 50-partition group).
fn log(n: usize, groups: usize, compression: Compression) -> Bytes {
    let mut out = BytesMut::new();
    let mut offset = 0i64;
    while (offset as usize) < n {
        let g = format!("group-{:05}", (offset as usize / 50) % groups.max(1));
        let records: Vec<Record> = (0..50.min(n - offset as usize))
            .map(|i| {
                let (key, value) =
                    commit(&g, "orders", i as i32, offset, 1_700_000_000_000 + offset);
                Record {
                    transactional: false,
                    control: false,
                    delete_horizon: false,
                    partition_leader_epoch: 0,
                    producer_id: -1,
                    producer_epoch: -1,
                    timestamp_type: TimestampType::Creation,
                    offset: offset + i as i64,
                    sequence: -1,
                    timestamp: 1_700_000_000_000 + offset,
                    key: Some(key),
                    value: Some(value),
                    headers: Default::default(),
                }
            })
            .collect();
        offset += records.len() as i64;
        RecordBatchEncoder::encode_with_custom_compression(
            &mut out,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
            Some(|buf: &mut BytesMut, dst: &mut BytesMut, c: Compression| {
                if c == Compression::Gzip {
                    use std::io::Write;
                    let mut e =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    e.write_all(buf)?;
                    dst.extend_from_slice(&e.finish()?);
                } else {
                    dst.extend_from_slice(buf);
                }
                Ok(())
            }),
        )
        .expect("encode");
    }
    out.freeze()
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n = env_num("BENCH_RECORDS", if smoke { 2_000 } else { 400_000 });
    let groups = env_num("BENCH_GROUPS", if smoke { 10 } else { 2_000 });
    if smoke {
        println!("(smoke run: figures not comparable; use cargo bench)");
    }
    let filter = NameFilter::default();
    for (name, c) in [("none", Compression::None), ("gzip", Compression::Gzip)] {
        let bytes = log(n, groups, c);
        let mut reader = OffsetsReader::default();
        let t = Instant::now();
        let d = decode_records(&bytes);
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        for r in &d.records {
            reader
                .apply(0, r, &filter, 1_800_000_000_000)
                .expect("decodes");
        }
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(d.records.len(), n);
        assert_eq!(reader.commit_records_total as usize, n);
        println!(
            "compression {name}: {n} commit records ({:.1} MiB, {} groups) decoded and applied in {:.3} s: {:.0} records/s",
            bytes.len() as f64 / 1048576.0,
            groups,
            secs,
            n as f64 / secs
        );
    }
}
