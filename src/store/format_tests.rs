//! The on-disk formats are frozen: bytes written by earlier builds must still decode, and the
//! encoders must keep producing the same bytes (so re-compaction replaces identical chunks).
//!
//! `tests/fixtures/store_format.txt` holds one line per case, `name hex`, captured from the
//! engine before its codec was split into `src/store/codec/`. Each case below rebuilds its input
//! deterministically; the test checks that decoding the stored bytes gives that input back (bit
//! for bit) and that encoding the input gives the stored bytes.

use std::collections::BTreeMap;

use super::Bucket;
use super::codec::bytes::{put_uvarint, seal_crc};
use super::codec::timestamps::encode_timestamps;
use super::codec::values::encode_values;
use super::codec::{
    ValueCodecs, decode_log, decode_raw, decode_rollup, decode_state, encode_log, encode_raw,
    encode_rollup, encode_state,
};
use super::rollup::rollup_samples;

const FIXTURES: &str = include_str!("../../tests/fixtures/store_format.txt");

const T0: i64 = 1_704_067_200_000;

/// A small deterministic generator (xorshift64*), so that inputs do not depend on a crate's
/// random number algorithm.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

enum Case {
    Raw {
        prev: Option<f64>,
        samples: Vec<(i64, f64)>,
        codecs: ValueCodecs,
    },
    Rollup {
        buckets: Vec<Bucket>,
        codecs: ValueCodecs,
    },
    /// The rollup layout with six independent columns (kind 2), written by older builds; only
    /// decoded now.
    RollupV2 {
        buckets: Vec<Bucket>,
    },
    Log(Vec<(u32, i64, f64)>),
    State(Vec<Option<(i64, f64)>>),
}

const GORILLA_ONLY: ValueCodecs = ValueCodecs {
    decimal: false,
    gorilla: true,
    pco: false,
};
const DECIMAL_ONLY: ValueCodecs = ValueCodecs {
    decimal: true,
    gorilla: false,
    pco: false,
};
const WITH_PCO: ValueCodecs = ValueCodecs {
    decimal: true,
    gorilla: true,
    pco: true,
};

fn regular(n: i64, mut f: impl FnMut(i64) -> f64) -> Vec<(i64, f64)> {
    (0..n).map(|i| (T0 + i * 15_000, f(i))).collect()
}

fn cases() -> Vec<(&'static str, Case)> {
    let d = ValueCodecs::default();
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let counter = regular(480, |i| (1_000_000 + i * 250 + (i * i) % 7) as f64);
    let constant = regular(480, |_| 3.0);
    let mut level = 5_000_000i64;
    let stepped = regular(480, |i| {
        if i % 4 == 0 {
            level += (i * 37 % 101) - 40;
        }
        level as f64
    });
    let mut ts = T0;
    let jittered: Vec<(i64, f64)> = (0..480)
        .map(|_| {
            ts += 15_000 + g.below(40) as i64;
            (ts, f64::from_bits(0x4090_0000_0000_0000 | (g.next() >> 12)))
        })
        .collect();
    let decimals = regular(480, |i| ((i * 7919) % 10_000) as f64 / 10_000.0 + 1.0);
    let specials: Vec<(i64, f64)> = [
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
        123_456_789.123,
        3.355_443_2e7,
    ]
    .iter()
    .enumerate()
    .map(|(i, &v)| (T0 + i as i64 * 15_000, v))
    .collect();
    let quadratic = regular(300, |i| (i * i * 3 + 17) as f64);
    let percentiles = regular(480, |i| {
        if i % 11 == 0 {
            f64::NAN
        } else {
            ((i * 13) % 50) as f64 / 10.0
        }
    });
    let rollup_counter = rollup_samples(&counter, Some(999_000.0), true, 60_000);
    let noisy: Vec<(i64, f64)> = (0..480)
        .map(|i| (T0 + i * 15_000, (g.below(1_000_000) as f64) / 7.0))
        .collect();
    let rollup_gauge = rollup_samples(&noisy, None, false, 60_000);
    let rollup_hour = rollup_samples(&stepped, None, false, 3_600_000);
    let log: Vec<(u32, i64, f64)> = (0..200u32)
        .map(|i| {
            (
                1 + (i * 7) % 61,
                T0 + i64::from(i / 20) * 15_000,
                f64::from(i) * 1.5,
            )
        })
        .chain([(9, -5, f64::NAN), (3, i64::MAX, f64::NEG_INFINITY)])
        .collect();
    let mut state: Vec<Option<(i64, f64)>> = vec![None; 300];
    for i in (0..300).step_by(3) {
        state[i] = Some((T0 - i as i64 * 1000, i as f64 / 4.0));
    }
    vec![
        (
            "raw_counter_runs",
            Case::Raw {
                prev: Some(999_750.0),
                samples: counter.clone(),
                codecs: d,
            },
        ),
        (
            "raw_constant",
            Case::Raw {
                prev: None,
                samples: constant,
                codecs: d,
            },
        ),
        (
            "raw_stepped_sparse",
            Case::Raw {
                prev: None,
                samples: stepped.clone(),
                codecs: d,
            },
        ),
        (
            "raw_jitter_gorilla",
            Case::Raw {
                prev: Some(1.0),
                samples: jittered.clone(),
                codecs: d,
            },
        ),
        (
            "raw_jitter_gorilla_only",
            Case::Raw {
                prev: None,
                samples: jittered,
                codecs: GORILLA_ONLY,
            },
        ),
        (
            "raw_decimals",
            Case::Raw {
                prev: None,
                samples: decimals.clone(),
                codecs: d,
            },
        ),
        (
            "raw_decimals_pco",
            Case::Raw {
                prev: None,
                samples: decimals,
                codecs: WITH_PCO,
            },
        ),
        (
            "raw_specials",
            Case::Raw {
                prev: Some(-1.5),
                samples: specials.clone(),
                codecs: d,
            },
        ),
        (
            "raw_specials_gorilla_only",
            Case::Raw {
                prev: None,
                samples: specials.clone(),
                codecs: GORILLA_ONLY,
            },
        ),
        (
            "raw_specials_decimal_only",
            Case::Raw {
                prev: None,
                samples: specials,
                codecs: DECIMAL_ONLY,
            },
        ),
        (
            "raw_quadratic",
            Case::Raw {
                prev: None,
                samples: quadratic,
                codecs: d,
            },
        ),
        (
            "raw_percentiles_nan",
            Case::Raw {
                prev: None,
                samples: percentiles,
                codecs: d,
            },
        ),
        (
            "raw_one_sample",
            Case::Raw {
                prev: None,
                samples: vec![(T0, 42.5)],
                codecs: d,
            },
        ),
        (
            "raw_empty",
            Case::Raw {
                prev: Some(7.0),
                samples: Vec::new(),
                codecs: d,
            },
        ),
        (
            "rollup_counter",
            Case::Rollup {
                buckets: rollup_counter.clone(),
                codecs: d,
            },
        ),
        (
            "rollup_noisy_gauge",
            Case::Rollup {
                buckets: rollup_gauge,
                codecs: d,
            },
        ),
        (
            "rollup_hour_pco",
            Case::Rollup {
                buckets: rollup_hour,
                codecs: WITH_PCO,
            },
        ),
        (
            "rollup_empty",
            Case::Rollup {
                buckets: Vec::new(),
                codecs: d,
            },
        ),
        (
            "rollup_v2_counter",
            Case::RollupV2 {
                buckets: rollup_counter,
            },
        ),
        ("head_log", Case::Log(log)),
        ("series_state", Case::State(state)),
    ]
}

/// Kind 2 rollup chunk: count, sum, min, max, last, increase as independent value columns.
fn encode_rollup_v2(buckets: &[Bucket]) -> Vec<u8> {
    let mut p = vec![2u8];
    put_uvarint(&mut p, buckets.len() as u64);
    let ts: Vec<i64> = buckets.iter().map(|b| b.ts).collect();
    encode_timestamps(&ts, &mut p);
    let cols: [fn(&Bucket) -> f64; 6] = [
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

fn bits(v: &[(i64, f64)]) -> Vec<(i64, u64)> {
    v.iter().map(|&(t, x)| (t, x.to_bits())).collect()
}

fn bucket_bits(b: &[Bucket]) -> Vec<(i64, u32, [u64; 5])> {
    b.iter()
        .map(|b| {
            (
                b.ts,
                b.count,
                [b.sum, b.min, b.max, b.last, b.increase].map(f64::to_bits),
            )
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("fixture is hex"))
        .collect()
}

/// What the current encoders write for every case (the stored bytes for decoding tests).
fn encoded(case: &Case) -> Vec<u8> {
    match case {
        Case::Raw {
            prev,
            samples,
            codecs,
        } => encode_raw(*prev, samples, *codecs),
        Case::Rollup { buckets, codecs } => encode_rollup(buckets, *codecs),
        Case::RollupV2 { buckets } => encode_rollup_v2(buckets),
        Case::Log(s) => encode_log(s),
        Case::State(s) => encode_state(s),
    }
}

fn stored() -> BTreeMap<&'static str, Vec<u8>> {
    FIXTURES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, h) = l.split_once(' ').expect("`name hex` line");
            (name, unhex(h.trim()))
        })
        .collect()
}

#[test]
fn bytes_written_by_earlier_builds_decode_and_encoders_reproduce_them() {
    let stored = stored();
    let cases = cases();
    assert_eq!(
        stored.keys().copied().collect::<Vec<_>>(),
        {
            let mut names: Vec<&str> = cases.iter().map(|c| c.0).collect();
            names.sort_unstable();
            names
        },
        "every case has a fixture and every fixture a case"
    );
    for (name, case) in &cases {
        let bytes = &stored[name];
        match case {
            Case::Raw { prev, samples, .. } => {
                let got = decode_raw(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(got.prev.map(f64::to_bits), prev.map(f64::to_bits), "{name}");
                let pairs: Vec<(i64, f64)> = got.ts.iter().copied().zip(got.vals).collect();
                assert_eq!(bits(&pairs), bits(samples), "{name}");
            }
            Case::Rollup { buckets, .. } | Case::RollupV2 { buckets } => {
                let got = decode_rollup(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(bucket_bits(&got), bucket_bits(buckets), "{name}");
            }
            Case::Log(s) => {
                let got = decode_log(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                let a: Vec<(u32, i64, u64)> =
                    got.iter().map(|x| (x.0, x.1, x.2.to_bits())).collect();
                let b: Vec<(u32, i64, u64)> = s.iter().map(|x| (x.0, x.1, x.2.to_bits())).collect();
                assert_eq!(a, b, "{name}");
            }
            Case::State(s) => {
                let mut got = Vec::new();
                decode_state(bytes, 0, &mut got).unwrap_or_else(|e| panic!("{name}: {e}"));
                got.resize(s.len(), None);
                let a: Vec<Option<(i64, u64)>> = got
                    .iter()
                    .map(|x| x.map(|(t, v)| (t, v.to_bits())))
                    .collect();
                let b: Vec<Option<(i64, u64)>> =
                    s.iter().map(|x| x.map(|(t, v)| (t, v.to_bits()))).collect();
                assert_eq!(a, b, "{name}");
            }
        }
        assert_eq!(
            hex(&encoded(case)),
            hex(bytes),
            "{name}: the encoder no longer writes the stored bytes"
        );
    }
}
