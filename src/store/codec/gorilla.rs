//! Gorilla XOR value coding (Pelkonen et al., VLDB 2015): each value is XOR-ed with the previous
//! one; an unchanged value costs one bit, a change that fits the previous window of meaningful
//! bits costs two bits plus the window, otherwise 13 bits of window header plus the meaningful
//! bits. Used as a chunk value column and, with delta-of-delta timestamps interleaved, as the
//! head's in-memory sample stream ([`SampleStream`]). Both use the same [`BitWriter`] and
//! [`BitReader`], and the same [`XorEncoder`]/[`XorDecoder`].

use super::bits::{BitReader, BitSource, BitWriter};
use super::bytes::{unzigzag, zigzag};
use super::{CodecError, err};
use crate::model::Timestamp;

/// Window of meaningful bits of the previous XOR: leading zeros (capped at 31, 5 bits) and
/// trailing zeros. `lead == NONE` until the first window is written.
const NONE: u8 = u8::MAX;

#[derive(Clone, Copy, Debug)]
pub(crate) struct XorEncoder {
    prev: u64,
    lead: u8,
    trail: u8,
}

impl Default for XorEncoder {
    fn default() -> Self {
        XorEncoder {
            prev: 0,
            lead: NONE,
            trail: 0,
        }
    }
}

impl XorEncoder {
    /// Writes the first value verbatim (64 bits).
    pub fn first(w: &mut BitWriter, bits: u64) -> Self {
        w.write(bits, 64);
        XorEncoder {
            prev: bits,
            lead: NONE,
            trail: 0,
        }
    }

    #[inline]
    pub fn push(&mut self, w: &mut BitWriter, bits: u64) {
        let x = bits ^ self.prev;
        self.prev = bits;
        if x == 0 {
            w.write(0, 1);
            return;
        }
        let lead = x.leading_zeros().min(31);
        let trail = x.trailing_zeros();
        if self.lead != NONE && lead >= u32::from(self.lead) && trail >= u32::from(self.trail) {
            let (pl, pt) = (u32::from(self.lead), u32::from(self.trail));
            w.write(0b01, 2); // '1' then '0', least significant bit first
            w.write(x >> pt, 64 - pl - pt);
        } else {
            let sig = 64 - lead - trail;
            w.write(0b11, 2);
            w.write(u64::from(lead), 5);
            w.write(u64::from(sig - 1), 6);
            w.write(x >> trail, sig);
            self.lead = lead as u8;
            self.trail = trail as u8;
        }
    }

    pub fn prev_bits(&self) -> u64 {
        self.prev
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct XorDecoder {
    prev: u64,
    lead: u32,
    trail: u32,
    defined: bool,
}

impl XorDecoder {
    pub fn first<S: BitSource>(r: &mut BitReader<S>) -> Result<(Self, u64), CodecError> {
        let prev = r.read(64)?;
        Ok((
            XorDecoder {
                prev,
                lead: 0,
                trail: 0,
                defined: false,
            },
            prev,
        ))
    }

    #[inline]
    pub fn next<S: BitSource>(&mut self, r: &mut BitReader<S>) -> Result<u64, CodecError> {
        // Control bits '0' (unchanged), '10' (previous window), '11' (new window).
        let control = r.peek(2);
        if control & 1 == 0 {
            r.skip(1)?;
            return Ok(self.prev);
        }
        r.skip(2)?;
        let x = if control & 2 == 0 {
            if !self.defined {
                return err("gorilla stream reuses a window before defining one");
            }
            r.read(64 - self.lead - self.trail)? << self.trail
        } else {
            // 5 bits of leading zeros, then 6 bits of (meaningful bits - 1).
            let header = r.read(11)? as u32;
            let lead = header & 31;
            let sig = (header >> 5) + 1;
            if lead + sig > 64 {
                return err("gorilla window exceeds 64 bits");
            }
            self.lead = lead;
            self.trail = 64 - lead - sig;
            self.defined = true;
            r.read(sig)? << self.trail
        };
        self.prev ^= x;
        Ok(self.prev)
    }
}

/// A Gorilla value column.
pub(crate) fn encode_gorilla(vals: &[f64]) -> Vec<u8> {
    let Some(first) = vals.first() else {
        return Vec::new();
    };
    let mut w = BitWriter::new();
    let mut enc = XorEncoder::first(&mut w, first.to_bits());
    for v in &vals[1..] {
        enc.push(&mut w, v.to_bits());
    }
    w.finish()
}

pub(crate) fn decode_gorilla(data: &[u8], n: usize) -> Result<Vec<f64>, CodecError> {
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return Ok(out);
    }
    let mut r = BitReader::new(data);
    let (mut dec, first) = XorDecoder::first(&mut r)?;
    out.push(f64::from_bits(first));
    for _ in 1..n {
        out.push(f64::from_bits(dec.next(&mut r)?));
    }
    Ok(out)
}

/// Samples in time order, compressed as they arrive: the first sample's value verbatim, then per
/// sample a delta-of-delta timestamp ('0', or '10' + 14 bits, '110' + 24 bits, '111' + 64 bits of
/// the zig-zagged delta of delta) and an XOR-coded value. About 1–4 bytes a sample instead of 16;
/// in memory only (the head), never on disk.
#[derive(Default, Clone, Debug)]
pub(crate) struct SampleStream {
    w: BitWriter,
    n: u32,
    first_ts: i64,
    last_ts: i64,
    last_delta: i64,
    /// Meaningful once `n > 0`.
    xor: XorEncoder,
}

impl SampleStream {
    pub fn len(&self) -> usize {
        self.n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn last(&self) -> Option<(Timestamp, f64)> {
        (self.n > 0).then(|| (self.last_ts, f64::from_bits(self.xor.prev_bits())))
    }

    /// Whether a sample at `ts` can be pushed (it is later than every sample held).
    #[inline]
    pub fn appends(&self, ts: Timestamp) -> bool {
        self.n == 0 || ts > self.last_ts
    }

    /// Appends a sample later than every sample held (the caller keeps the order).
    #[inline]
    pub fn push(&mut self, ts: Timestamp, v: f64) {
        let bits = v.to_bits();
        if self.n == 0 {
            self.first_ts = ts;
            self.last_ts = ts;
            self.last_delta = 0;
            self.xor = XorEncoder::first(&mut self.w, bits);
            self.n = 1;
            return;
        }
        let delta = ts.wrapping_sub(self.last_ts);
        let dod = delta.wrapping_sub(self.last_delta);
        if dod == 0 {
            self.w.write(0, 1);
        } else {
            let z = zigzag(dod);
            if z < 1 << 14 {
                self.w.write(0b01, 2);
                self.w.write(z, 14);
            } else if z < 1 << 24 {
                self.w.write(0b011, 3);
                self.w.write(z, 24);
            } else {
                self.w.write(0b111, 3);
                self.w.write(z, 64);
            }
        }
        self.xor.push(&mut self.w, bits);
        self.last_ts = ts;
        self.last_delta = delta;
        self.n += 1;
    }

    /// All samples, ascending. The stream is only ever written by `push`, so a decoding error
    /// means a bug; it is logged and the samples decoded so far are returned.
    pub fn decode(&self) -> Vec<(Timestamp, f64)> {
        let mut out = Vec::with_capacity(self.n as usize);
        if let Err(e) = self.decode_into(&mut out) {
            tracing::error!(error = %e, samples = self.n, "Head sample stream does not decode.");
        }
        out
    }

    fn decode_into(&self, out: &mut Vec<(Timestamp, f64)>) -> Result<(), CodecError> {
        if self.n == 0 {
            return Ok(());
        }
        let mut r = self.w.reader();
        let (mut dec, bits) = XorDecoder::first(&mut r)?;
        let mut ts = self.first_ts;
        let mut delta = 0i64;
        out.push((ts, f64::from_bits(bits)));
        for _ in 1..self.n {
            // Prefixes '0', '10', '110', '111' (least significant bit first).
            let prefix = r.peek(3);
            let dod = if prefix & 1 == 0 {
                r.skip(1)?;
                0
            } else if prefix & 2 == 0 {
                r.skip(2)?;
                unzigzag(r.read(14)?)
            } else if prefix & 4 == 0 {
                r.skip(3)?;
                unzigzag(r.read(24)?)
            } else {
                r.skip(3)?;
                unzigzag(r.read(64)?)
            };
            delta = delta.wrapping_add(dod);
            ts = ts.wrapping_add(delta);
            out.push((ts, f64::from_bits(dec.next(&mut r)?)));
        }
        Ok(())
    }
}
