//! Integer streams: frame-of-reference bit packing in frames of 128, after delta coding of order
//! 0, 1 or 2 (whichever is smallest). Counters with a steady rate become constant deltas that pack
//! into 0 bits; slowly changing series use sparse frames.

use super::bits::{BitReader, BitWriter};
use super::bytes::{Reader, put_ivarint, varint_len, zigzag};
use super::{CodecError, err};

const FRAME: usize = 128;

fn deltas(vals: &[i64], order: usize) -> (Vec<i64>, Vec<i64>) {
    let mut head = Vec::new();
    let mut cur: Vec<i64> = vals.to_vec();
    for _ in 0..order {
        if cur.is_empty() {
            break;
        }
        head.push(cur[0]);
        cur = cur.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    }
    (head, cur)
}

fn frame_width(frame: &[i64]) -> (i64, u32) {
    let min = frame.iter().copied().min().unwrap_or(0);
    let max = frame.iter().copied().max().unwrap_or(0);
    let range = (max as u64).wrapping_sub(min as u64);
    (min, 64 - range.leading_zeros())
}

/// Flag in a frame's width byte: a sparse frame (bitmap of non-zero positions, then the non-zero
/// values packed against their own minimum). Widths never exceed 64, so older data never sets it.
const SPARSE: u8 = 0x80;

/// Minimum and bit width of the non-zero values of a frame, and how many there are.
fn sparse_width(frame: &[i64]) -> (i64, u32, usize) {
    let nz = frame.iter().copied().filter(|&v| v != 0);
    let (mut min, mut max, mut count) = (i64::MAX, i64::MIN, 0usize);
    for v in nz {
        min = min.min(v);
        max = max.max(v);
        count += 1;
    }
    if count == 0 {
        return (0, 0, 0);
    }
    let range = (max as u64).wrapping_sub(min as u64);
    (min, 64 - range.leading_zeros(), count)
}

fn dense_size(f: &[i64]) -> usize {
    let (min, w) = frame_width(f);
    varint_len(zigzag(min)) + 1 + (w as usize * f.len()).div_ceil(8)
}

fn sparse_size(f: &[i64]) -> usize {
    let (min, w, count) = sparse_width(f);
    varint_len(zigzag(min)) + 1 + f.len().div_ceil(8) + (w as usize * count).div_ceil(8)
}

fn packed_size(vals: &[i64]) -> usize {
    vals.chunks(FRAME)
        .map(|f| dense_size(f).min(sparse_size(f)))
        .sum()
}

fn pack(vals: &[i64], out: &mut Vec<u8>) {
    for f in vals.chunks(FRAME) {
        if sparse_size(f) < dense_size(f) {
            let (min, w, _) = sparse_width(f);
            put_ivarint(out, min);
            out.push(SPARSE | w as u8);
            let mut bitmap = vec![0u8; f.len().div_ceil(8)];
            for (i, &v) in f.iter().enumerate() {
                if v != 0 {
                    bitmap[i / 8] |= 1 << (i % 8);
                }
            }
            out.extend_from_slice(&bitmap);
            let mut bw = BitWriter::new();
            for &v in f.iter().filter(|&&v| v != 0) {
                bw.write((v as u64).wrapping_sub(min as u64), w);
            }
            out.extend_from_slice(&bw.finish());
            continue;
        }
        let (min, w) = frame_width(f);
        put_ivarint(out, min);
        out.push(w as u8);
        if w > 0 {
            let mut bw = BitWriter::new();
            for &v in f {
                bw.write((v as u64).wrapping_sub(min as u64), w);
            }
            out.extend_from_slice(&bw.finish());
        }
    }
}

fn unpack(r: &mut Reader<'_>, n: usize, out: &mut Vec<i64>) -> Result<(), CodecError> {
    let mut left = n;
    while left > 0 {
        let len = left.min(FRAME);
        let min = r.ivarint()?;
        let flags = r.u8()?;
        let w = u32::from(flags & !SPARSE);
        if w > 64 {
            return err(format!("bit width {w} exceeds 64"));
        }
        if flags & SPARSE != 0 {
            let bitmap = r.bytes(len.div_ceil(8))?;
            let count: usize = bitmap.iter().map(|b| b.count_ones() as usize).sum();
            let bytes = r.bytes((w as usize * count).div_ceil(8))?;
            let mut br = BitReader::new(bytes);
            for i in 0..len {
                if bitmap[i / 8] & (1 << (i % 8)) != 0 {
                    out.push((min as u64).wrapping_add(br.read(w)?) as i64);
                } else {
                    out.push(0);
                }
            }
        } else if w == 0 {
            out.extend(std::iter::repeat_n(min, len));
        } else {
            let bytes = r.bytes((w as usize * len).div_ceil(8))?;
            let mut br = BitReader::new(bytes);
            for _ in 0..len {
                out.push((min as u64).wrapping_add(br.read(w)?) as i64);
            }
        }
        left -= len;
    }
    Ok(())
}

/// Encodes integers with the best delta order; returns the encoded bytes.
pub(crate) fn encode_ints(vals: &[i64], out: &mut Vec<u8>) {
    let mut best: Option<(usize, usize)> = None;
    for order in 0..=2usize {
        let (head, rest) = deltas(vals, order);
        let size: usize =
            head.iter().map(|&h| varint_len(zigzag(h))).sum::<usize>() + packed_size(&rest);
        if best.is_none_or(|b| size < b.1) {
            best = Some((order, size));
        }
    }
    let order = best.map(|b| b.0).unwrap_or(0);
    let (head, rest) = deltas(vals, order);
    out.push(head.len() as u8);
    for h in head {
        put_ivarint(out, h);
    }
    pack(&rest, out);
}

pub(crate) fn decode_ints(r: &mut Reader<'_>, n: usize) -> Result<Vec<i64>, CodecError> {
    let order = r.u8()? as usize;
    if order > 2 || order > n {
        return err(format!("delta order {order} invalid for {n} values"));
    }
    let mut head = Vec::with_capacity(order);
    for _ in 0..order {
        head.push(r.ivarint()?);
    }
    let mut cur = Vec::with_capacity(n);
    unpack(r, n - order, &mut cur)?;
    // Undo the deltas, innermost first.
    for &h in head.iter().rev() {
        let mut next = Vec::with_capacity(cur.len() + 1);
        let mut acc = h;
        next.push(acc);
        for d in cur {
            acc = acc.wrapping_add(d);
            next.push(acc);
        }
        cur = next;
    }
    if cur.len() != n {
        return err(format!("decoded {} integers, expected {n}", cur.len()));
    }
    Ok(cur)
}
