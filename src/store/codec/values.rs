//! Value columns. Candidates, smallest wins (a tag byte says which):
//! - constant: one value;
//! - decimal: values scaled by 10^e to integers (exact round trip checked bit for bit), then the
//!   integer stream codec; values that do not fit (NaN, ±Inf, -0.0, too many digits) are kept
//!   verbatim as exceptions;
//! - Gorilla XOR: for noisy doubles;
//! - pco, when enabled (see [`ValueCodecs`]).

use super::bytes::{Reader, put_uvarint};
use super::gorilla::{decode_gorilla, encode_gorilla};
use super::ints::{decode_ints, encode_ints};
use super::{CodecError, err};

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
pub(crate) fn encode_values(vals: &[f64], codecs: ValueCodecs, out: &mut Vec<u8>) {
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

pub(crate) fn decode_values(r: &mut Reader<'_>, n: usize) -> Result<Vec<f64>, CodecError> {
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
