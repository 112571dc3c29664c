//! Chunk layouts. Every chunk is `CRC-32 | kind | count | ...`:
//! - raw (kind 1): count, the series' previous value (for counter increases), a timestamp column
//!   and a value column;
//! - rollup (kind 3): count, timestamps, `last` and `count` columns, then max, min, sum and
//!   increase each either plainly or as the few positions where they differ from a prediction
//!   (max ≈ min ≈ last in flat buckets, sum ≈ count × last, increase ≈ the step between lasts);
//! - rollup (kind 2, written by older builds, still read): six independent value columns.

use super::bytes::{Reader, open_crc, put_uvarint, seal_crc};
use super::timestamps::{decode_timestamps, encode_timestamps};
use super::values::{ValueCodecs, decode_values, encode_values};
use super::{CodecError, err};
use crate::store::Bucket;
use crate::store::rollup::counter_increase;

const CHUNK_RAW: u8 = 1;
const CHUNK_ROLLUP: u8 = 2;
/// Upper bound on samples or buckets in one chunk (guards allocations on corrupt input).
const MAX_CHUNK_N: usize = 1 << 22;

/// A decoded raw chunk. `prev` is the series' sample before the first one (for counter increases).
#[derive(Debug, Clone, PartialEq)]
pub struct RawChunk {
    pub prev: Option<f64>,
    pub ts: Vec<i64>,
    pub vals: Vec<f64>,
}

pub(crate) fn encode_raw(
    prev: Option<f64>,
    samples: &[(i64, f64)],
    codecs: ValueCodecs,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(64 + samples.len() * 2);
    p.push(CHUNK_RAW);
    put_uvarint(&mut p, samples.len() as u64);
    match prev {
        Some(v) => {
            p.push(1);
            p.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        None => p.push(0),
    }
    let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let vals: Vec<f64> = samples.iter().map(|s| s.1).collect();
    encode_timestamps(&ts, &mut p);
    encode_values(&vals, codecs, &mut p);
    let mut out = Vec::with_capacity(p.len() + 4);
    seal_crc(&p, &mut out);
    out
}

pub(crate) fn decode_raw(data: &[u8]) -> Result<RawChunk, CodecError> {
    let mut r = Reader::new(open_crc(data)?);
    if r.u8()? != CHUNK_RAW {
        return err("not a raw chunk");
    }
    let n = r.count(MAX_CHUNK_N)?;
    let prev = match r.u8()? {
        0 => None,
        1 => Some(r.f64_le()?),
        f => return err(format!("bad prev flag {f}")),
    };
    let ts = decode_timestamps(&mut r, n)?;
    let vals = decode_values(&mut r, n)?;
    if !r.is_empty() {
        return err("trailing bytes in raw chunk");
    }
    Ok(RawChunk { prev, ts, vals })
}

/// Rollup chunks written since the predicted-column format (kind 3); kind 2 chunks (independent
/// columns) are still read.
const CHUNK_ROLLUP_PREDICTED: u8 = 3;

const COL_PLAIN: u8 = 0;
const COL_PREDICTED: u8 = 1;

/// Predictions of the derived columns from `last` and `count`: max and min ≈ last (flat buckets),
/// sum ≈ count × last, increase ≈ the counter increase between consecutive lasts (exact for a
/// counter without a reset inside the bucket).
fn predict(kind: usize, last: &[f64], count: &[f64]) -> Vec<f64> {
    match kind {
        0 | 1 => last.to_vec(),
        2 => count.iter().zip(last).map(|(c, l)| c * l).collect(),
        _ => last
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                if i == 0 {
                    0.0
                } else {
                    counter_increase(Some(last[i - 1]), l)
                }
            })
            .collect(),
    }
}

/// Encodes a column either plainly or as the positions where it differs (bit for bit) from its
/// prediction plus the differing values, whichever is smaller.
fn encode_column(vals: &[f64], predicted: &[f64], codecs: ValueCodecs, out: &mut Vec<u8>) {
    let mut plain = Vec::new();
    encode_values(vals, codecs, &mut plain);
    let mut pred = Vec::new();
    let diffs: Vec<usize> = (0..vals.len())
        .filter(|&i| vals[i].to_bits() != predicted[i].to_bits())
        .collect();
    put_uvarint(&mut pred, diffs.len() as u64);
    let mut prev = 0usize;
    for &i in &diffs {
        put_uvarint(&mut pred, (i - prev) as u64);
        prev = i;
    }
    let values: Vec<f64> = diffs.iter().map(|&i| vals[i]).collect();
    encode_values(&values, codecs, &mut pred);
    if pred.len() < plain.len() {
        out.push(COL_PREDICTED);
        out.extend_from_slice(&pred);
    } else {
        out.push(COL_PLAIN);
        out.extend_from_slice(&plain);
    }
}

fn decode_column(r: &mut Reader<'_>, n: usize, predicted: &[f64]) -> Result<Vec<f64>, CodecError> {
    match r.u8()? {
        COL_PLAIN => decode_values(r, n),
        COL_PREDICTED => {
            let k = r.count(n)?;
            let mut idx = Vec::with_capacity(k);
            let mut i = 0usize;
            for j in 0..k {
                let gap = r.uvarint()? as usize;
                if j > 0 && gap == 0 {
                    return err("predicted column repeats an index");
                }
                i = i
                    .checked_add(gap)
                    .filter(|&i| i < n)
                    .ok_or_else(|| CodecError("predicted column index out of range".into()))?;
                idx.push(i);
            }
            let values = decode_values(r, k)?;
            let mut out = predicted.to_vec();
            for (i, v) in idx.into_iter().zip(values) {
                out[i] = v;
            }
            Ok(out)
        }
        m => err(format!("unknown column mode {m}")),
    }
}

pub(crate) fn encode_rollup(buckets: &[Bucket], codecs: ValueCodecs) -> Vec<u8> {
    let mut p = Vec::with_capacity(64 + buckets.len() * 4);
    p.push(CHUNK_ROLLUP_PREDICTED);
    put_uvarint(&mut p, buckets.len() as u64);
    let ts: Vec<i64> = buckets.iter().map(|b| b.ts).collect();
    encode_timestamps(&ts, &mut p);
    let col = |f: fn(&Bucket) -> f64| -> Vec<f64> { buckets.iter().map(f).collect() };
    let last = col(|b| b.last);
    let count = col(|b| f64::from(b.count));
    encode_values(&last, codecs, &mut p);
    encode_values(&count, codecs, &mut p);
    let derived = [
        col(|b| b.max),
        col(|b| b.min),
        col(|b| b.sum),
        col(|b| b.increase),
    ];
    for (kind, vals) in derived.iter().enumerate() {
        encode_column(vals, &predict(kind, &last, &count), codecs, &mut p);
    }
    let mut out = Vec::with_capacity(p.len() + 4);
    seal_crc(&p, &mut out);
    out
}

pub(crate) fn decode_rollup(data: &[u8]) -> Result<Vec<Bucket>, CodecError> {
    let mut r = Reader::new(open_crc(data)?);
    let kind = r.u8()?;
    let n = r.count(MAX_CHUNK_N)?;
    let ts = decode_timestamps(&mut r, n)?;
    let (count, sum, min, max, last, increase) = match kind {
        CHUNK_ROLLUP => {
            let count = decode_values(&mut r, n)?;
            let sum = decode_values(&mut r, n)?;
            let min = decode_values(&mut r, n)?;
            let max = decode_values(&mut r, n)?;
            let last = decode_values(&mut r, n)?;
            let increase = decode_values(&mut r, n)?;
            (count, sum, min, max, last, increase)
        }
        CHUNK_ROLLUP_PREDICTED => {
            let last = decode_values(&mut r, n)?;
            let count = decode_values(&mut r, n)?;
            let max = decode_column(&mut r, n, &predict(0, &last, &count))?;
            let min = decode_column(&mut r, n, &predict(1, &last, &count))?;
            let sum = decode_column(&mut r, n, &predict(2, &last, &count))?;
            let increase = decode_column(&mut r, n, &predict(3, &last, &count))?;
            (count, sum, min, max, last, increase)
        }
        _ => return err("not a rollup chunk"),
    };
    if !r.is_empty() {
        return err("trailing bytes in rollup chunk");
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let c = count[i];
        if !(c >= 1.0 && c <= f64::from(u32::MAX) && c.fract() == 0.0) {
            return err(format!("bucket count {c} is not a positive integer"));
        }
        out.push(Bucket {
            ts: ts[i],
            count: c as u32,
            sum: sum[i],
            min: min[i],
            max: max[i],
            last: last[i],
            increase: increase[i],
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec::bytes::{put_uvarint, seal_crc};
    use crate::store::codec::timestamps::encode_timestamps;
    use crate::store::codec::values::encode_values;

    fn same(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    fn raw_round_trip(prev: Option<f64>, samples: &[(i64, f64)], codecs: ValueCodecs) {
        let enc = encode_raw(prev, samples, codecs);
        let dec = decode_raw(&enc).unwrap();
        assert_eq!(dec.prev.map(f64::to_bits), prev.map(f64::to_bits));
        assert_eq!(dec.ts, samples.iter().map(|s| s.0).collect::<Vec<_>>());
        assert!(same(
            &dec.vals,
            &samples.iter().map(|s| s.1).collect::<Vec<_>>()
        ));
    }

    #[test]
    fn special_values_round_trip_bit_exactly_in_every_codec() {
        let vals = [
            0.0,
            -0.0,
            1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e308,
            -1e-308,
            5e-324,
            1.2703,
            f64::from_bits(0x7ff8_dead_beef_0001),
            123456789.123,
            3.3554432e7,
        ];
        let samples: Vec<(i64, f64)> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64 * 15_000, v))
            .collect();
        for codecs in [
            ValueCodecs::default(),
            ValueCodecs {
                decimal: false,
                gorilla: true,
                pco: false,
            },
            ValueCodecs {
                decimal: true,
                gorilla: false,
                pco: false,
            },
            ValueCodecs {
                decimal: false,
                gorilla: false,
                pco: true,
            },
        ] {
            raw_round_trip(Some(-1.5), &samples, codecs);
            raw_round_trip(None, &samples[..1], codecs);
            raw_round_trip(None, &[], codecs);
        }
    }

    #[test]
    fn regular_counters_and_constants_cost_almost_nothing() {
        let counter: Vec<(i64, f64)> = (0..480)
            .map(|i| (1_700_000_000_000 + i * 15_000, (1_000_000 + i * 250) as f64))
            .collect();
        assert!(encode_raw(None, &counter, ValueCodecs::default()).len() < 40);
        // A slowly varying gauge (a change every fourth sample) packs into sparse frames.
        let mut level = 5_000_000i64;
        let stepped: Vec<(i64, f64)> = (0..480)
            .map(|i| {
                if i % 4 == 0 {
                    level += (i * 37 % 101) - 40;
                }
                (i * 15_000, level as f64)
            })
            .collect();
        let enc = encode_raw(None, &stepped, ValueCodecs::default());
        assert!(enc.len() < 480 / 2, "{} bytes", enc.len());
        assert_eq!(
            decode_raw(&enc).unwrap().vals,
            stepped.iter().map(|s| s.1).collect::<Vec<_>>()
        );
        let constant: Vec<(i64, f64)> = (0..480).map(|i| (i * 15_000, 3.0)).collect();
        assert!(encode_raw(None, &constant, ValueCodecs::default()).len() < 30);
    }

    /// The layout written before predicted columns (kind 2), still read.
    fn encode_rollup_v2(buckets: &[Bucket]) -> Vec<u8> {
        let mut p = vec![CHUNK_ROLLUP];
        put_uvarint(&mut p, buckets.len() as u64);
        let ts: Vec<i64> = buckets.iter().map(|b| b.ts).collect();
        encode_timestamps(&ts, &mut p);
        let cols: [fn(&Bucket) -> f64; 6] = [
            |b| f64::from(b.count),
            |b| b.sum,
            |b| b.min,
            |b| b.max,
            |b| b.last,
            |b| b.increase,
        ];
        for f in cols {
            let v: Vec<f64> = buckets.iter().map(f).collect();
            encode_values(&v, ValueCodecs::default(), &mut p);
        }
        let mut out = Vec::new();
        seal_crc(&p, &mut out);
        out
    }

    #[test]
    fn rollups_of_both_layouts_decode_and_predicted_columns_are_smaller_for_counters() {
        let samples: Vec<(i64, f64)> = (0..480)
            .map(|i| {
                (
                    i * 15_000,
                    (1_000_000 + i * i * 37 % 5_000 + i * 900) as f64,
                )
            })
            .collect();
        let buckets = crate::store::rollup::rollup_samples(&samples, Some(999_000.0), true, 60_000);
        let old = encode_rollup_v2(&buckets);
        let new = encode_rollup(&buckets, ValueCodecs::default());
        assert_eq!(decode_rollup(&old).unwrap(), buckets);
        assert_eq!(decode_rollup(&new).unwrap(), buckets);
        assert!(new.len() < old.len(), "{} vs {}", new.len(), old.len());
    }

    fn arb_value() -> impl proptest::strategy::Strategy<Value = f64> {
        use proptest::prelude::*;
        prop_oneof![
            any::<f64>(),
            (-1_000_000i64..1_000_000).prop_map(|v| v as f64),
            (-1_000_000i64..1_000_000, 0u32..6).prop_map(|(m, e)| m as f64 / 10f64.powi(e as i32)),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE),
        ]
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(256))]

        #[test]
        fn raw_chunks_round_trip(
            start in -1_000_000_000_000i64..4_000_000_000_000,
            steps in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(15_000i64), 1i64..100_000], 0..600),
            vals in proptest::collection::vec(arb_value(), 600),
            prev in proptest::option::of(arb_value()),
        ) {
            let mut ts = start;
            let samples: Vec<(i64, f64)> = steps.iter().zip(&vals).map(|(d, v)| { ts += d; (ts, *v) }).collect();
            raw_round_trip(prev, &samples, ValueCodecs::default());
        }

        #[test]
        fn rollup_chunks_round_trip(raw in proptest::collection::vec((1u32..1000, arb_value(), arb_value(), arb_value(), arb_value(), arb_value()), 0..300)) {
            let buckets: Vec<Bucket> = raw.iter().enumerate().map(|(i, r)| Bucket {
                ts: i as i64 * 60_000, count: r.0, sum: r.1, min: r.2, max: r.3, last: r.4, increase: r.5,
            }).collect();
            let dec = decode_rollup(&encode_rollup(&buckets, ValueCodecs::default())).unwrap();
            proptest::prop_assert_eq!(dec.len(), buckets.len());
            for (a, b) in dec.iter().zip(&buckets) {
                proptest::prop_assert!(a.ts == b.ts && a.count == b.count);
                proptest::prop_assert!(same(&[a.sum, a.min, a.max, a.last, a.increase], &[b.sum, b.min, b.max, b.last, b.increase]));
            }
        }

        /// Corrupted chunks: a flipped byte is caught by the checksum; garbage that carries a valid
        /// checksum still decodes to an error or to something, never a panic.
        #[test]
        fn corrupt_chunks_never_panic(
            n in 1usize..300,
            flips in proptest::collection::vec((0usize..10_000, 1u8..=255), 1..4),
            garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            cut in 0usize..10_000,
        ) {
            let samples: Vec<(i64, f64)> = (0..n).map(|i| (i as i64 * 15_000, (i * 7 % 13) as f64 * 0.25)).collect();
            let raw = encode_raw(Some(1.0), &samples, ValueCodecs::default());
            let buckets = crate::store::rollup::rollup_samples(&samples, None, true, 60_000);
            let roll = encode_rollup(&buckets, ValueCodecs::default());
            for enc in [&raw, &roll] {
                let mut bad = enc.clone();
                for &(pos, x) in &flips {
                    let p = pos % bad.len();
                    bad[p] ^= x;
                }
                // Two flips of one byte by the same mask cancel out; only a changed chunk must fail.
                if bad != *enc {
                    proptest::prop_assert!(decode_raw(&bad).is_err());
                    proptest::prop_assert!(decode_rollup(&bad).is_err());
                }
                let truncated = &enc[..cut % enc.len()];
                proptest::prop_assert!(decode_raw(truncated).is_err());
                proptest::prop_assert!(decode_rollup(truncated).is_err());
                // Mutate the payload, then re-seal so the checksum passes: the inner decoders
                // must still fail cleanly or decode.
                let mut payload = enc[4..].to_vec();
                for &(pos, x) in &flips {
                    let p = pos % payload.len();
                    payload[p] ^= x;
                }
                let mut resealed = Vec::new();
                seal_crc(&payload, &mut resealed);
                let _ = decode_raw(&resealed);
                let _ = decode_rollup(&resealed);
            }
            for kind in [CHUNK_RAW, CHUNK_ROLLUP, CHUNK_ROLLUP_PREDICTED] {
                let mut payload = vec![kind];
                payload.extend_from_slice(&garbage);
                let mut sealed = Vec::new();
                seal_crc(&payload, &mut sealed);
                let _ = decode_raw(&sealed);
                let _ = decode_rollup(&sealed);
            }
        }
    }
}
