//! Byte-level encodings shared by the head log and the chunk codecs: varints, zig-zag, a bounds
//! checked reader, and CRC-32 framing. Every decoder returns a [`CodecError`] on malformed input,
//! never panics.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T, CodecError> {
    Err(CodecError(msg.into()))
}

#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
pub fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// Bounds-checked cursor over a byte slice.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn u8(&mut self) -> Result<u8, CodecError> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => err("unexpected end of data"),
        }
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.remaining() {
            return err(format!("needs {n} bytes, {} left", self.remaining()));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u64_le(&mut self) -> Result<u64, CodecError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub fn f64_le(&mut self) -> Result<f64, CodecError> {
        Ok(f64::from_bits(self.u64_le()?))
    }

    pub fn uvarint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.u8()?;
            if shift == 63 && b > 1 {
                return err("varint overflows 64 bits");
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return err("varint longer than 10 bytes");
            }
        }
    }

    pub fn ivarint(&mut self) -> Result<i64, CodecError> {
        Ok(unzigzag(self.uvarint()?))
    }

    /// A count that must be plausible for the bytes that remain (guards allocations).
    pub fn count(&mut self, max: usize) -> Result<usize, CodecError> {
        let n = self.uvarint()?;
        if n > max as u64 {
            return err(format!("count {n} exceeds limit {max}"));
        }
        Ok(n as usize)
    }
}

/// Prefixes `payload` with its CRC-32.
pub fn seal_crc(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Checks and strips the CRC-32 written by [`seal_crc`].
pub fn open_crc(data: &[u8]) -> Result<&[u8], CodecError> {
    if data.len() < 4 {
        return err(format!("{} bytes is too short for a checksum", data.len()));
    }
    let (crc, payload) = data.split_at(4);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let got = crc32fast::hash(payload);
    if want != got {
        return err(format!(
            "checksum mismatch: stored {want:08x}, computed {got:08x}"
        ));
    }
    Ok(payload)
}

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

// ---------------------------------------------------------------------------------------------
// Bit I/O.

struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

#[inline]
fn mask(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    }
}

impl BitWriter {
    fn new() -> Self {
        Self {
            out: Vec::new(),
            acc: 0,
            n: 0,
        }
    }

    #[inline]
    fn write(&mut self, v: u64, bits: u32) {
        let mut v = mask(v, bits);
        let mut bits = bits;
        while bits > 0 {
            let take = bits.min(64 - self.n);
            self.acc |= mask(v, take) << self.n;
            self.n += take;
            v = if take >= 64 { 0 } else { v >> take };
            bits -= take;
            if self.n == 64 {
                self.out.extend_from_slice(&self.acc.to_le_bytes());
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        let bytes = self.n.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_le_bytes()[..bytes]);
        self.out
    }
}

struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    #[inline]
    fn read_small(&mut self, bits: u32) -> Result<u64, CodecError> {
        // bits <= 56: one unaligned 8-byte load covers them.
        let end = self.pos + bits as usize;
        if end > self.buf.len() * 8 {
            return err("bit stream ends early");
        }
        let byte = self.pos / 8;
        let mut word = [0u8; 8];
        let avail = (self.buf.len() - byte).min(8);
        word[..avail].copy_from_slice(&self.buf[byte..byte + avail]);
        let v = u64::from_le_bytes(word) >> (self.pos % 8);
        self.pos = end;
        Ok(mask(v, bits))
    }

    #[inline]
    fn read(&mut self, bits: u32) -> Result<u64, CodecError> {
        if bits <= 56 {
            self.read_small(bits)
        } else {
            let lo = self.read_small(32)?;
            let hi = self.read_small(bits - 32)?;
            Ok(lo | (hi << 32))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Integer streams: frame-of-reference bit packing in frames of 128, after delta coding of order
// 0, 1 or 2 (whichever is smallest). Counters with a steady rate become constant deltas that pack
// into 0 bits.

const FRAME: usize = 128;

fn varint_len(v: u64) -> usize {
    ((64 - (v | 1).leading_zeros()) as usize).div_ceil(7)
}

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
fn encode_ints(vals: &[i64], out: &mut Vec<u8>) {
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

fn decode_ints(r: &mut Reader<'_>, n: usize) -> Result<Vec<i64>, CodecError> {
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

// ---------------------------------------------------------------------------------------------
// Timestamps: either (delta, run length) pairs — regular scrapes cost a few bytes per chunk — or
// packed deltas for jittered ones.

const TS_RUNS: u8 = 0;
const TS_PACKED: u8 = 1;

pub fn encode_timestamps(ts: &[i64], out: &mut Vec<u8>) {
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

pub fn decode_timestamps(r: &mut Reader<'_>, n: usize) -> Result<Vec<i64>, CodecError> {
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

// ---------------------------------------------------------------------------------------------
// Values. Candidates, smallest wins (a tag byte says which):
// - constant: one value;
// - decimal: values scaled by 10^e to integers (exact round trip checked bit for bit), then the
//   integer stream codec; values that do not fit (NaN, ±Inf, -0.0, too many digits) are kept
//   verbatim as exceptions;
// - Gorilla XOR: for noisy doubles;
// - pco, when enabled (see [`ValueCodecs`]).

const V_CONST: u8 = 0;
const V_DECIMAL: u8 = 1;
const V_GORILLA: u8 = 2;
const V_PCO: u8 = 3;

const MAX_EXP: usize = 15;
const P10: [f64; MAX_EXP + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];
const MAX_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53

#[inline]
fn scaled(v: f64, e: usize) -> Option<i64> {
    let m = (v * P10[e]).round();
    if m.abs() > MAX_EXACT || (m / P10[e]).to_bits() != v.to_bits() {
        return None;
    }
    Some(m as i64)
}

/// Smallest decimal exponent that represents `v` exactly, if any.
fn needed_exp(v: f64) -> Option<usize> {
    if !v.is_finite() || (v == 0.0 && v.is_sign_negative()) {
        return None;
    }
    (0..=MAX_EXP).find(|&e| scaled(v, e).is_some())
}

fn encode_decimal(vals: &[f64]) -> Option<Vec<u8>> {
    let needs: Vec<Option<usize>> = vals.iter().map(|&v| needed_exp(v)).collect();
    let mut hist = [0usize; MAX_EXP + 1];
    for e in needs.iter().flatten() {
        hist[*e] += 1;
    }
    // Smallest exponent that covers all but an eighth of the values.
    let target = vals.len() - vals.len() / 8;
    let mut acc = 0;
    let mut exp = None;
    for (e, &h) in hist.iter().enumerate() {
        acc += h;
        if acc >= target && acc > 0 {
            exp = Some(e);
            break;
        }
    }
    let e = exp?;
    let mut ints = Vec::with_capacity(vals.len());
    let mut exceptions: Vec<(usize, u64)> = Vec::new();
    let mut last = 0i64;
    for (i, &v) in vals.iter().enumerate() {
        match needs[i].filter(|&n| n <= e).and_then(|_| scaled(v, e)) {
            Some(m) => {
                ints.push(m);
                last = m;
            }
            None => {
                exceptions.push((i, v.to_bits()));
                ints.push(last);
            }
        }
    }
    let mut out = Vec::with_capacity(vals.len());
    out.push(e as u8);
    put_uvarint(&mut out, exceptions.len() as u64);
    let (mut prev_i, mut prev_bits) = (0usize, None);
    for (i, bits) in exceptions {
        put_uvarint(&mut out, (i - prev_i) as u64);
        prev_i = i;
        if prev_bits == Some(bits) {
            out.push(0);
        } else {
            out.push(1);
            out.extend_from_slice(&bits.to_le_bytes());
            prev_bits = Some(bits);
        }
    }
    encode_ints(&ints, &mut out);
    Some(out)
}

fn decode_decimal(r: &mut Reader<'_>, n: usize) -> Result<Vec<f64>, CodecError> {
    let e = r.u8()? as usize;
    if e > MAX_EXP {
        return err(format!("decimal exponent {e} out of range"));
    }
    let nexc = r.count(n)?;
    let mut exceptions = Vec::with_capacity(nexc);
    let (mut i, mut bits) = (0usize, 0u64);
    for k in 0..nexc {
        let gap = r.uvarint()? as usize;
        i = i
            .checked_add(gap)
            .filter(|&i| i < n)
            .ok_or_else(|| CodecError("exception index out of range".into()))?;
        if k > 0 && gap == 0 {
            return err("exception indexes repeat");
        }
        match r.u8()? {
            0 if k > 0 => {}
            1 => bits = r.u64_le()?,
            f => return err(format!("bad exception flag {f}")),
        }
        exceptions.push((i, bits));
    }
    let ints = decode_ints(r, n)?;
    let mut out: Vec<f64> = ints.into_iter().map(|m| m as f64 / P10[e]).collect();
    for (i, bits) in exceptions {
        out[i] = f64::from_bits(bits);
    }
    Ok(out)
}

fn encode_gorilla(vals: &[f64]) -> Vec<u8> {
    let mut w = BitWriter::new();
    let Some(first) = vals.first() else {
        return Vec::new();
    };
    let mut prev = first.to_bits();
    w.write(prev, 64);
    let (mut pl, mut pt) = (u32::MAX, 0u32);
    for v in &vals[1..] {
        let bits = v.to_bits();
        let x = bits ^ prev;
        prev = bits;
        if x == 0 {
            w.write(0, 1);
            continue;
        }
        let lead = x.leading_zeros().min(31);
        let trail = x.trailing_zeros();
        if pl != u32::MAX && lead >= pl && trail >= pt {
            w.write(0b01, 2); // '1' then '0', LSB first
            w.write(x >> pt, 64 - pl - pt);
        } else {
            w.write(0b11, 2);
            let sig = 64 - lead - trail;
            w.write(u64::from(lead), 5);
            w.write(u64::from(sig - 1), 6);
            w.write(x >> trail, sig);
            pl = lead;
            pt = trail;
        }
    }
    w.finish()
}

fn decode_gorilla(data: &[u8], n: usize) -> Result<Vec<f64>, CodecError> {
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return Ok(out);
    }
    let mut r = BitReader::new(data);
    let mut prev = r.read(64)?;
    out.push(f64::from_bits(prev));
    let (mut pl, mut pt) = (u32::MAX, 0u32);
    for _ in 1..n {
        if r.read(1)? == 0 {
            out.push(f64::from_bits(prev));
            continue;
        }
        let x = if r.read(1)? == 0 {
            if pl == u32::MAX {
                return err("gorilla stream reuses a window before defining one");
            }
            r.read(64 - pl - pt)? << pt
        } else {
            let lead = r.read(5)? as u32;
            let sig = r.read(6)? as u32 + 1;
            if lead + sig > 64 {
                return err("gorilla window exceeds 64 bits");
            }
            let trail = 64 - lead - sig;
            pl = lead;
            pt = trail;
            r.read(sig)? << trail
        };
        prev ^= x;
        out.push(f64::from_bits(prev));
    }
    Ok(out)
}

/// Which value codecs compaction tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueCodecs {
    pub decimal: bool,
    pub gorilla: bool,
    pub pco: bool,
}

impl Default for ValueCodecs {
    fn default() -> Self {
        Self {
            decimal: true,
            gorilla: true,
            pco: false,
        }
    }
}

/// Encodes a value column: tag byte, byte length, body.
pub fn encode_values(vals: &[f64], codecs: ValueCodecs, out: &mut Vec<u8>) {
    let push = |out: &mut Vec<u8>, tag: u8, body: &[u8]| {
        out.push(tag);
        put_uvarint(out, body.len() as u64);
        out.extend_from_slice(body);
    };
    if let Some(first) = vals.first()
        && vals.iter().all(|v| v.to_bits() == first.to_bits())
    {
        push(out, V_CONST, &first.to_bits().to_le_bytes());
        return;
    }
    fn consider(best: &mut Option<(u8, Vec<u8>)>, tag: u8, body: Vec<u8>) {
        if best.as_ref().is_none_or(|b| body.len() < b.1.len()) {
            *best = Some((tag, body));
        }
    }
    let mut best: Option<(u8, Vec<u8>)> = None;
    if codecs.decimal
        && let Some(body) = encode_decimal(vals)
    {
        consider(&mut best, V_DECIMAL, body);
    }
    // Gorilla only when decimal did poorly (over 2 bytes a value) or is off.
    let decimal_size = best.as_ref().map(|b| b.1.len()).unwrap_or(usize::MAX);
    if (codecs.gorilla && decimal_size > vals.len() * 2) || !codecs.decimal {
        consider(&mut best, V_GORILLA, encode_gorilla(vals));
    }
    if codecs.pco
        && let Ok(body) = pco::standalone::simple_compress(vals, &pco::ChunkConfig::default())
    {
        consider(&mut best, V_PCO, body);
    }
    let (tag, body) = best.unwrap_or_else(|| (V_GORILLA, encode_gorilla(vals)));
    push(out, tag, &body);
}

pub fn decode_values(r: &mut Reader<'_>, n: usize) -> Result<Vec<f64>, CodecError> {
    let tag = r.u8()?;
    let len = r.count(r.remaining())?;
    let body = r.bytes(len)?;
    let mut br = Reader::new(body);
    let out = match tag {
        V_CONST => {
            let v = br.f64_le()?;
            vec![v; n]
        }
        V_DECIMAL => decode_decimal(&mut br, n)?,
        V_GORILLA => return decode_gorilla(body, n),
        V_PCO => {
            let v: Vec<f64> = pco::standalone::simple_decompress(body)
                .map_err(|e| CodecError(format!("pco: {e}")))?;
            if v.len() != n {
                return err(format!("pco gave {} values, expected {n}", v.len()));
            }
            return Ok(v);
        }
        t => return err(format!("unknown value codec {t}")),
    };
    if !br.is_empty() {
        return err("trailing bytes in value column");
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Chunks.

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

pub fn encode_raw(prev: Option<f64>, samples: &[(i64, f64)], codecs: ValueCodecs) -> Vec<u8> {
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

pub fn decode_raw(data: &[u8]) -> Result<RawChunk, CodecError> {
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
                    super::rollup::counter_increase(Some(last[i - 1]), l)
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

pub fn encode_rollup(buckets: &[super::Bucket], codecs: ValueCodecs) -> Vec<u8> {
    let mut p = Vec::with_capacity(64 + buckets.len() * 4);
    p.push(CHUNK_ROLLUP_PREDICTED);
    put_uvarint(&mut p, buckets.len() as u64);
    let ts: Vec<i64> = buckets.iter().map(|b| b.ts).collect();
    encode_timestamps(&ts, &mut p);
    let col = |f: fn(&super::Bucket) -> f64| -> Vec<f64> { buckets.iter().map(f).collect() };
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

pub fn decode_rollup(data: &[u8]) -> Result<Vec<super::Bucket>, CodecError> {
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
        out.push(super::Bucket {
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

    #[test]
    fn varints_round_trip_extremes() {
        let mut buf = Vec::new();
        let vals = [0i64, 1, -1, i64::MAX, i64::MIN, 1 << 40, -(1 << 40)];
        for &v in &vals {
            put_ivarint(&mut buf, v);
        }
        let mut r = Reader::new(&buf);
        for &v in &vals {
            assert_eq!(r.ivarint().unwrap(), v);
        }
        assert!(r.is_empty());
    }

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
    fn encode_rollup_v2(buckets: &[super::super::Bucket]) -> Vec<u8> {
        let mut p = vec![CHUNK_ROLLUP];
        put_uvarint(&mut p, buckets.len() as u64);
        let ts: Vec<i64> = buckets.iter().map(|b| b.ts).collect();
        encode_timestamps(&ts, &mut p);
        let cols: [fn(&super::super::Bucket) -> f64; 6] = [
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
            let buckets: Vec<super::super::Bucket> = raw.iter().enumerate().map(|(i, r)| super::super::Bucket {
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
