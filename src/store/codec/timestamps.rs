//! Timestamp columns: either (delta, run length) pairs — regular scrapes cost a few bytes per
//! chunk — or packed deltas for jittered ones (whichever is smaller; a mode byte says which).

use super::bytes::{Reader, put_ivarint, put_uvarint, varint_len};
use super::ints::{decode_ints, encode_ints};
use super::{CodecError, err};

const TS_RUNS: u8 = 0;
const TS_PACKED: u8 = 1;

pub(crate) fn encode_timestamps(ts: &[i64], out: &mut Vec<u8>) {
    // An empty column encodes to nothing (the count is stored before it).
    let Some(&first) = ts.first() else { return };
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for w in ts.windows(2) {
        let d = (w[1] as u64).wrapping_sub(w[0] as u64);
        match runs.last_mut() {
            Some((rd, n)) if *rd == d => *n += 1,
            _ => runs.push((d, 1)),
        }
    }
    let runs_size: usize = runs
        .iter()
        .map(|&(d, n)| varint_len(d) + varint_len(n))
        .sum();
    let ds: Vec<i64> = ts.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let mut packed = Vec::new();
    encode_ints(&ds, &mut packed);
    put_ivarint(out, first);
    if runs_size <= packed.len() {
        out.push(TS_RUNS);
        put_uvarint(out, runs.len() as u64);
        for (d, n) in runs {
            put_uvarint(out, d);
            put_uvarint(out, n);
        }
    } else {
        out.push(TS_PACKED);
        out.extend_from_slice(&packed);
    }
}

pub(crate) fn decode_timestamps(r: &mut Reader<'_>, n: usize) -> Result<Vec<i64>, CodecError> {
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return Ok(out);
    }
    let first = r.ivarint()?;
    let mode = r.u8()?;
    out.push(first);
    match mode {
        TS_RUNS => {
            let pairs = r.count(n)?;
            for _ in 0..pairs {
                let d = r.uvarint()? as i64;
                let len = r.uvarint()?;
                if len as usize > n - out.len() {
                    return err("timestamp runs exceed the sample count");
                }
                let mut t = *out.last().unwrap_or(&first);
                for _ in 0..len {
                    t = t.wrapping_add(d);
                    out.push(t);
                }
            }
        }
        TS_PACKED => {
            let ds = decode_ints(r, n - 1)?;
            let mut t = first;
            for d in ds {
                t = t.wrapping_add(d);
                out.push(t);
            }
        }
        m => return err(format!("unknown timestamp mode {m}")),
    }
    if out.len() != n {
        return err(format!("decoded {} timestamps, expected {n}", out.len()));
    }
    if out.windows(2).any(|w| w[1] <= w[0]) {
        return err("timestamps are not strictly ascending");
    }
    Ok(out)
}
