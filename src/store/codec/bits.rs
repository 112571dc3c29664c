//! The one bit writer and reader of the engine. Bits go least significant first into bytes in
//! order (the same layout as little-endian 64-bit words), so a stream written in one go, or grown
//! sample by sample in the head, reads back with the same reader.

use super::{CodecError, err};

#[inline]
fn mask(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    }
}

/// Appends bit fields to a byte buffer. The buffer keeps up to 8 zero bytes of slack past the
/// last written bit so that each write is one unaligned 64-bit read-modify-write.
#[derive(Default, Clone, Debug)]
pub(crate) struct BitWriter {
    buf: Vec<u8>,
    bits: u64,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes the low `nbits` (at most 64) of `v`.
    #[inline]
    pub fn write(&mut self, v: u64, nbits: u32) {
        debug_assert!(nbits <= 64);
        if nbits == 0 {
            return;
        }
        let v = mask(v, nbits);
        let byte = (self.bits / 8) as usize;
        let off = (self.bits % 8) as u32;
        // off + nbits ≤ 71 bits: eight bytes plus one.
        if self.buf.len() < byte + 9 {
            self.buf.resize(byte + 9, 0);
        }
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.buf[byte..byte + 8]);
        let lo = u64::from_le_bytes(word) | (v << off);
        self.buf[byte..byte + 8].copy_from_slice(&lo.to_le_bytes());
        if off + nbits > 64 {
            self.buf[byte + 8] |= (v >> (64 - off)) as u8;
        }
        self.bits += u64::from(nbits);
    }

    #[cfg(test)]
    pub fn bit_len(&self) -> u64 {
        self.bits
    }

    /// The bytes written so far (the last one possibly partial, its high bits zero).
    #[cfg(test)]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.bits.div_ceil(8) as usize]
    }

    /// A reader over exactly the bits written.
    pub fn reader(&self) -> BitReader<'_> {
        BitReader::with_len(&self.buf, self.bits)
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.truncate(self.bits.div_ceil(8) as usize);
        self.buf
    }
}

/// Reads bit fields written by [`BitWriter`]; reading past the end is an error, never a panic.
pub(crate) struct BitReader<'a> {
    buf: &'a [u8],
    pos: u64,
    len: u64,
}

impl<'a> BitReader<'a> {
    /// Every bit of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::with_len(buf, buf.len() as u64 * 8)
    }

    /// The first `len` bits of `buf` (at most all of them).
    pub fn with_len(buf: &'a [u8], len: u64) -> Self {
        BitReader {
            buf,
            pos: 0,
            len: len.min(buf.len() as u64 * 8),
        }
    }

    #[inline]
    fn load(&self, byte: usize) -> u64 {
        match self.buf.get(byte..byte + 8) {
            Some(s) => {
                let mut w = [0u8; 8];
                w.copy_from_slice(s);
                u64::from_le_bytes(w)
            }
            None => {
                let mut w = [0u8; 8];
                let tail = self.buf.get(byte..).unwrap_or(&[]);
                w[..tail.len()].copy_from_slice(tail);
                u64::from_le_bytes(w)
            }
        }
    }

    /// Reads `nbits` (at most 64).
    #[inline]
    pub fn read(&mut self, nbits: u32) -> Result<u64, CodecError> {
        debug_assert!(nbits <= 64);
        let end = self.pos + u64::from(nbits);
        if end > self.len {
            return err("bit stream ends early");
        }
        if nbits == 0 {
            return Ok(0);
        }
        let byte = (self.pos / 8) as usize;
        let off = (self.pos % 8) as u32;
        let mut v = self.load(byte) >> off;
        if off + nbits > 64 {
            v |= u64::from(self.buf.get(byte + 8).copied().unwrap_or(0)) << (64 - off);
        }
        self.pos = end;
        Ok(mask(v, nbits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(256))]

        /// Any sequence of fields reads back; the bytes equal the little-endian 64-bit words of
        /// the same bits (the layout both former writers produced); reading past the end fails.
        #[test]
        fn fields_round_trip_in_the_little_endian_word_layout(
            fields in proptest::collection::vec((proptest::prelude::any::<u64>(), 0u32..=64), 0..200),
        ) {
            let mut w = BitWriter::new();
            let mut words: Vec<u64> = Vec::new();
            let mut bits = 0u64;
            for &(v, n) in &fields {
                w.write(v, n);
                // Reference: the head's former word writer.
                if n > 0 {
                    let v = mask(v, n);
                    let off = (bits % 64) as u32;
                    if off == 0 {
                        words.push(v);
                    } else {
                        *words.last_mut().unwrap() |= v << off;
                        if off + n > 64 {
                            words.push(v >> (64 - off));
                        }
                    }
                    bits += u64::from(n);
                }
            }
            let want: Vec<u8> = words.iter().flat_map(|x| x.to_le_bytes()).take(bits.div_ceil(8) as usize).collect();
            proptest::prop_assert_eq!(w.as_bytes(), &want[..]);
            proptest::prop_assert_eq!(w.bit_len(), bits);
            let mut r = w.reader();
            for &(v, n) in &fields {
                proptest::prop_assert_eq!(r.read(n).unwrap(), mask(v, n));
            }
            proptest::prop_assert!(r.read(1).is_err());
            let bytes = w.clone().finish();
            let mut r = BitReader::new(&bytes);
            for &(v, n) in &fields {
                proptest::prop_assert_eq!(r.read(n).unwrap(), mask(v, n));
            }
        }
    }
}
