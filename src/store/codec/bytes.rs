//! Byte-level encodings: varints, zig-zag, a bounds-checked reader, and CRC-32 framing.

use super::{CodecError, err};

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
/// Bytes a value takes as a uvarint.
pub(crate) fn varint_len(v: u64) -> usize {
    ((64 - (v | 1).leading_zeros()) as usize).div_ceil(7)
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
            assert_eq!(varint_len(zigzag(v)), {
                let mut one = Vec::new();
                put_ivarint(&mut one, v);
                one.len()
            });
        }
        assert!(r.is_empty());
    }
}
