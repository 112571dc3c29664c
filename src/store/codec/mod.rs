//! The engine's on-disk formats. Every decoder returns a [`CodecError`] on malformed input, never
//! panics; the formats are frozen (see `src/store/format_tests.rs`).
//!
//! - [`bytes`]: varints, zig-zag, a bounds-checked byte reader, CRC-32 framing.
//! - [`bits`]: the one bit writer and reader (least significant bit first), used by the integer
//!   packing, the Gorilla value column and the head's in-memory sample streams.
//! - [`ints`]: integer streams (delta order 0–2, frame-of-reference packing, sparse frames).
//! - [`timestamps`]: timestamp columns (run-length deltas or packed deltas).
//! - [`gorilla`]: Gorilla XOR value coding, as a chunk value column and as the head's
//!   delta-of-delta + XOR sample stream.
//! - [`values`]: value columns (constant, decimal, Gorilla, pco; the smallest wins).
//! - [`chunk`]: raw and rollup chunk layouts.
//! - [`log`]: head-log entries; [`state`]: the newest compacted sample per series.

use std::fmt;

pub(crate) mod bits;
pub(crate) mod bytes;
pub(crate) mod chunk;
pub(crate) mod gorilla;
pub(crate) mod ints;
pub(crate) mod log;
pub(crate) mod state;
pub(crate) mod timestamps;
pub(crate) mod values;

pub(crate) use chunk::{decode_raw, decode_rollup, encode_raw, encode_rollup};
pub(crate) use log::{decode_log, encode_log};
pub(crate) use state::{STATE_PART, decode_state, encode_state};
pub use values::ValueCodecs;

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
