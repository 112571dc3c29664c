//! The one bit writer and reader of the engine. Bits go least significant first into 64-bit
//! words; on disk they are the words' little-endian bytes. The reader reads either form, so a
//! chunk column and a head stream grown sample by sample decode with the same code.

use super::CodecError;

#[inline]
fn mask(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    }
}

/// Appends bit fields, least significant bit first, to 64-bit words (a push or an OR into the
/// last word per field: the head appends a few fields per sample to each of many streams).
/// [`finish`](Self::finish) gives the little-endian bytes of the words, cut to the bits written.
#[derive(Default, Clone, Debug)]
pub(crate) struct BitWriter {
    words: Vec<u64>,
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
        let off = (self.bits % 64) as u32;
        if off == 0 {
            self.words.push(v);
        } else {
            if let Some(w) = self.words.last_mut() {
                *w |= v << off;
            }
            if off + nbits > 64 {
                self.words.push(v >> (64 - off));
            }
        }
        self.bits += u64::from(nbits);
    }

    #[cfg(test)]
    pub fn bit_len(&self) -> u64 {
        self.bits
    }

    /// A reader over exactly the bits written.
    pub fn reader(&self) -> BitReader<&[u64]> {
        let words: &[u64] = &self.words;
        BitReader {
            src: words,
            pos: 0,
            len: self.bits.min(words.bit_len()),
        }
    }

    /// The bytes written (the last one possibly partial, its high bits zero).
    pub fn finish(self) -> Vec<u8> {
        let n = self.bits.div_ceil(8) as usize;
        let mut out = Vec::with_capacity(n);
        for w in &self.words {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// Where a [`BitReader`] reads from: the bytes of a finished stream, or a writer's words.
pub(crate) trait BitSource: Copy {
    /// Length in bits.
    fn bit_len(&self) -> u64;
    /// The 64 bits starting at bit `pos` (zeros past the end).
    fn window(&self, pos: u64) -> u64;
}

impl BitSource for &[u8] {
    fn bit_len(&self) -> u64 {
        self.len() as u64 * 8
    }

    #[inline]
    fn window(&self, pos: u64) -> u64 {
        let byte = (pos / 8) as usize;
        let off = (pos % 8) as u32;
        let word = match self.get(byte..byte + 8).map(<[u8; 8]>::try_from) {
            Some(Ok(w)) => u64::from_le_bytes(w),
            _ => {
                let mut w = [0u8; 8];
                let tail = self.get(byte..).unwrap_or(&[]);
                let n = tail.len().min(8);
                w[..n].copy_from_slice(&tail[..n]);
                u64::from_le_bytes(w)
            }
        };
        let lo = word >> off;
        if off == 0 {
            lo
        } else {
            lo | (u64::from(self.get(byte + 8).copied().unwrap_or(0)) << (64 - off))
        }
    }
}

impl BitSource for &[u64] {
    fn bit_len(&self) -> u64 {
        self.len() as u64 * 64
    }

    #[inline]
    fn window(&self, pos: u64) -> u64 {
        let i = (pos / 64) as usize;
        let off = (pos % 64) as u32;
        let lo = self.get(i).copied().unwrap_or(0) >> off;
        if off == 0 {
            lo
        } else {
            lo | (self.get(i + 1).copied().unwrap_or(0) << (64 - off))
        }
    }
}

/// Reads bit fields written by [`BitWriter`], from its bytes (a chunk) or from the writer
/// itself (the head); reading past the end is an error, never a panic.
pub(crate) struct BitReader<S> {
    src: S,
    pos: u64,
    len: u64,
}

impl<'a> BitReader<&'a [u8]> {
    /// Every bit of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        BitReader {
            src: buf,
            pos: 0,
            len: buf.bit_len(),
        }
    }
}

impl<S: BitSource> BitReader<S> {
    /// The next `nbits` (at most 64) without consuming them; bits past the end read as zero.
    /// For decoding variable-length prefixes in one step; [`skip`](Self::skip) then consumes
    /// what was used (and checks the end).
    #[inline]
    pub fn peek(&self, nbits: u32) -> u64 {
        mask(self.src.window(self.pos), nbits)
    }

    #[inline]
    pub fn skip(&mut self, nbits: u32) -> Result<(), CodecError> {
        let end = self.pos + u64::from(nbits);
        if end > self.len {
            return Err(ends_early());
        }
        self.pos = end;
        Ok(())
    }

    /// Reads `nbits` (at most 64).
    #[inline]
    pub fn read(&mut self, nbits: u32) -> Result<u64, CodecError> {
        debug_assert!(nbits <= 64);
        let end = self.pos + u64::from(nbits);
        if end > self.len {
            return Err(ends_early());
        }
        let v = mask(self.src.window(self.pos), nbits);
        self.pos = end;
        Ok(v)
    }
}

#[cold]
#[inline(never)]
fn ends_early() -> CodecError {
    CodecError("bit stream ends early".to_string())
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
            proptest::prop_assert_eq!(&w.clone().finish(), &want);
            proptest::prop_assert_eq!(w.bit_len(), bits);
            let mut r = w.reader();
            for &(v, n) in &fields {
                let peeked = r.peek(n);
                proptest::prop_assert_eq!(r.read(n).unwrap(), mask(v, n));
                proptest::prop_assert_eq!(peeked, mask(v, n));
            }
            proptest::prop_assert!(r.read(1).is_err());
            proptest::prop_assert!(r.skip(1).is_err());
            proptest::prop_assert_eq!(r.peek(64), 0);
            let bytes = w.clone().finish();
            let mut r = BitReader::new(&bytes);
            for &(v, n) in &fields {
                let peeked = r.peek(n);
                proptest::prop_assert_eq!(r.read(n).unwrap(), mask(v, n));
                proptest::prop_assert_eq!(peeked, mask(v, n));
            }
            // A byte stream may end with up to 7 padding bits, never more.
            proptest::prop_assert!(r.read(8).is_err());
        }
    }
}
