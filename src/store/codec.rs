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

    pub fn u32_le(&mut self) -> Result<u32, CodecError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
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

    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos.min(self.buf.len())..];
        self.pos = self.buf.len();
        s
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
}
