//! Head-log entries: one append call, written to a head-log lane before the samples reach the
//! in-memory head, and replayed at open.

use super::bytes::{Reader, open_crc, put_ivarint, put_uvarint, seal_crc};
use super::{CodecError, err};

/// One append call in the head log: (series id, ts, value) triples, ids and timestamps
/// delta-coded (a scrape shares one timestamp and mostly ascending ids), values raw.
pub fn encode_log(samples: &[(u32, i64, f64)]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(8 + samples.len() * 11);
    put_uvarint(&mut payload, samples.len() as u64);
    let (mut prev_id, mut prev_ts) = (0i64, 0i64);
    for &(id, ts, v) in samples {
        put_ivarint(&mut payload, i64::from(id) - prev_id);
        put_ivarint(&mut payload, ts.wrapping_sub(prev_ts));
        payload.extend_from_slice(&v.to_bits().to_le_bytes());
        prev_id = i64::from(id);
        prev_ts = ts;
    }
    let mut out = Vec::with_capacity(payload.len() + 4);
    seal_crc(&payload, &mut out);
    out
}

pub fn decode_log(data: &[u8]) -> Result<Vec<(u32, i64, f64)>, CodecError> {
    let mut r = Reader::new(open_crc(data)?);
    let n = r.count(r.remaining() / 3 + 1)?;
    let mut out = Vec::with_capacity(n);
    let (mut id, mut ts) = (0i64, 0i64);
    for _ in 0..n {
        id += r.ivarint()?;
        ts = ts.wrapping_add(r.ivarint()?);
        let v = r.f64_le()?;
        let id32 =
            u32::try_from(id).map_err(|_| CodecError(format!("series id {id} out of range")))?;
        out.push((id32, ts, v));
    }
    if !r.is_empty() {
        return err("trailing bytes after head log entry");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_round_trips_and_detects_corruption() {
        let s = vec![
            (3u32, 1_700_000_000_000i64, 1.5),
            (1, 1_700_000_000_000, f64::NAN),
            (9, -5, f64::INFINITY),
        ];
        let enc = encode_log(&s);
        let dec = decode_log(&enc).unwrap();
        assert_eq!(dec.len(), 3);
        for (a, b) in s.iter().zip(&dec) {
            assert_eq!((a.0, a.1, a.2.to_bits()), (b.0, b.1, b.2.to_bits()));
        }
        let mut bad = enc.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        assert!(decode_log(&bad).is_err());
        assert!(decode_log(&enc[..3]).is_err());
    }
}
