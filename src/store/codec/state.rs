//! The newest compacted sample of every series (`series_state` rows), written with each
//! compaction before the watermark moves, read at open.

use super::bytes::{Reader, open_crc, put_ivarint, put_uvarint, seal_crc};
use super::{CodecError, err};
use crate::model::Timestamp;

/// Series ids per series-state row: small rows keep each write transaction short.
pub(crate) const STATE_PART: usize = 8192;

/// Newest compacted sample per series for ids in one part: (id offset, ts, value) entries.
pub(crate) fn encode_state(part: &[Option<(Timestamp, f64)>]) -> Vec<u8> {
    let mut p = Vec::with_capacity(part.len() * 12);
    let n = part.iter().filter(|s| s.is_some()).count();
    put_uvarint(&mut p, n as u64);
    let (mut prev_i, mut prev_ts) = (0usize, 0i64);
    for (i, s) in part.iter().enumerate() {
        if let Some((ts, v)) = s {
            put_uvarint(&mut p, (i - prev_i) as u64);
            put_ivarint(&mut p, ts.wrapping_sub(prev_ts));
            p.extend_from_slice(&v.to_bits().to_le_bytes());
            prev_i = i;
            prev_ts = *ts;
        }
    }
    let mut out = Vec::with_capacity(p.len() + 4);
    seal_crc(&p, &mut out);
    out
}

pub(crate) fn decode_state(
    data: &[u8],
    base: usize,
    into: &mut Vec<Option<(Timestamp, f64)>>,
) -> Result<(), CodecError> {
    let mut r = Reader::new(open_crc(data)?);
    let n = r.count(STATE_PART)?;
    let (mut i, mut ts) = (0usize, 0i64);
    for _ in 0..n {
        i += r.uvarint()? as usize;
        ts = ts.wrapping_add(r.ivarint()?);
        let v = r.f64_le()?;
        if i >= STATE_PART {
            return err("series state index out of range");
        }
        let idx = base + i;
        if into.len() <= idx {
            into.resize(idx + 1, None);
        }
        into[idx] = Some((ts, v));
    }
    Ok(())
}
