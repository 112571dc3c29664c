//! "What changed together": how much a series changed in a window against a baseline before it,
//! and how two series move together. Pure functions over aligned value vectors (one value per
//! step, NaN for a step without data); the page fetches and aligns, this module only counts.
//!
//! The two change scores are Netdata's metric-correlation methods (`weights.c`, see
//! ../shared/reference/dashboards.md §3.3):
//!
//! * **KS2** ([`ks_score`]): the two-sample Kolmogorov–Smirnov statistic `D` between the
//!   distributions of the *first differences* of baseline and window (scaled by 100,000 and
//!   rounded, as Netdata does, so float noise compares equal), turned into `1 − p` with the
//!   Kolmogorov distribution at `n = round(n_b·n_w / (n_b + n_w))`. It compares how a series
//!   *moved* — its noise, slope, oscillation — not where it sat: a clean level shift is a single
//!   large difference among many and barely moves `D` (the unit tests show it), which is why
//!   the volume method exists beside it.
//!   Netdata evaluates the p-value with Simard & L'Ecuyer's exact `KSfbar`; here it is the
//!   asymptotic Kolmogorov series with Stephens' small-sample correction
//!   (`λ = (√n + 0.12 + 0.11/√n)·D`), which differs from the exact value only in the tails that
//!   the ranking below flattens anyway.
//! * **Volume** ([`volume_score`]): `B`, `H` = mean absolute value over baseline and window; `c`
//!   = the share of window points on the far side of `B` (above it when `H > B`, below when
//!   `H < B`); score `|H − B| / |B| · c`, or `c` alone when `B = 0` ("share of time").
//!
//! [`rank`] then spreads the scores evenly like Netdata's `spread_results_evenly`: duplicates
//! collapse, and a score's weight is `1 − (unique scores above it) / (unique scores)`, so the
//! top score weighs 1 and the order, not the raw magnitude, is what the page shows.
//!
//! Where this differs from `weights.c` (read at netdata/netdata 00712b35), on purpose: a gap
//! (NaN) breaks the chain of differences, where Netdata's query fills empty points with 0 (a
//! scrape outage would look like a change); the volume ratio is `|H − B| / |B|`, where Netdata
//! keeps its sign (a fall matters as much as a rise here); any baseline multiple from 1× is
//! accepted, where Netdata rounds it to a power of two for its index-shifting trick (both sides
//! here share one step, so the CDF fractions are computed directly); and a zero score is not
//! ranked at all (nothing changed), where Netdata registers it.

/// Netdata scales differences to integers with this factor before comparing them.
const DIFF_SCALE: f64 = 100_000.0;

/// First differences of consecutive finite values (a gap — a NaN — breaks the chain rather than
/// bridging it), scaled and rounded as Netdata does.
fn diffs(values: &[f64]) -> Vec<f64> {
    values
        .windows(2)
        .filter_map(|w| {
            let d = ((w[1] - w[0]) * DIFF_SCALE).round();
            d.is_finite().then_some(d)
        })
        .collect()
}

/// The two-sample KS statistic `D = max |F_a(x) − F_b(x)|` of two sorted, non-empty samples.
fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut d: f64 = 0.0;
    while i < a.len() && j < b.len() {
        // Step past every copy of the smaller value in both samples, then compare the CDFs.
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

/// The complementary Kolmogorov distribution `P(D_n > d)` (the p-value), by the asymptotic
/// series with Stephens' correction; 1 when the series has not converged (tiny `λ`).
fn ks_pvalue(n: f64, d: f64) -> f64 {
    if d <= 0.0 || n <= 0.0 {
        return 1.0;
    }
    let sn = n.sqrt();
    let lambda = (sn + 0.12 + 0.11 / sn) * d;
    let a2 = -2.0 * lambda * lambda;
    let (mut sum, mut fac, mut prev) = (0.0, 2.0, 0.0);
    for j in 1..=100 {
        let j = f64::from(j);
        let term = fac * (a2 * j * j).exp();
        sum += term;
        if term.abs() <= 0.001 * prev || term.abs() <= 1e-8 * sum {
            return sum.clamp(0.0, 1.0);
        }
        fac = -fac;
        prev = term.abs();
    }
    1.0
}

/// KS2 change score in `[0, 1]` (1 = the window's differences are distributed unlike the
/// baseline's). None when either side has fewer than two differences (Netdata skips metrics with
/// fewer than two rows).
pub fn ks_score(baseline: &[f64], window: &[f64]) -> Option<f64> {
    let mut b = diffs(baseline);
    let mut w = diffs(window);
    if b.len() < 2 || w.len() < 2 {
        return None;
    }
    b.sort_by(f64::total_cmp);
    w.sort_by(f64::total_cmp);
    let d = ks_statistic(&b, &w);
    let (nb, nw) = (b.len() as f64, w.len() as f64);
    let n = (nb * nw / (nb + nw)).round();
    Some((1.0 - ks_pvalue(n, d)).clamp(0.0, 1.0))
}

/// What a volume score measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolumeKind {
    /// Relative change of the mean times the share of time on the far side of the baseline.
    Ratio,
    /// The baseline mean was zero: the share of time alone.
    ShareOfTime,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VolumeScore {
    /// Non-negative; a ratio can exceed 1 (a tenfold rise scores about 9).
    pub score: f64,
    pub kind: VolumeKind,
}

/// Netdata's volume score. None when the window has no value, the means are equal, or a figure
/// is not finite. A baseline without values counts as 0, as in Netdata.
pub fn volume_score(baseline: &[f64], window: &[f64]) -> Option<VolumeScore> {
    let mean_abs = |v: &[f64]| {
        let (s, n) = v
            .iter()
            .filter(|x| x.is_finite())
            .fold((0.0, 0usize), |(s, n), x| (s + x.abs(), n + 1));
        (n > 0).then(|| s / n as f64)
    };
    let h = mean_abs(window)?;
    let b = mean_abs(baseline).unwrap_or(0.0);
    if !h.is_finite() || !b.is_finite() || h == b {
        return None;
    }
    let finite: Vec<f64> = window
        .iter()
        .filter(|x| x.is_finite())
        .map(|x| x.abs())
        .collect();
    let far = finite
        .iter()
        .filter(|x| if h > b { **x > b } else { **x < b })
        .count();
    let c = far as f64 / finite.len() as f64;
    let (score, kind) = if b != 0.0 {
        (((h - b) / b).abs() * c, VolumeKind::Ratio)
    } else {
        (c, VolumeKind::ShareOfTime)
    };
    score.is_finite().then_some(VolumeScore { score, kind })
}

/// Pearson's r over the steps where both series have a finite value; None with fewer than three
/// such steps or when either is constant over them.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (*x, *y))
        .collect();
    pearson_pairs(&pairs)
}

fn pearson_pairs(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 3 {
        return None;
    }
    // A constant side has no correlation; rounding in its mean must not invent a variance.
    let constant = |f: fn(&(f64, f64)) -> f64| pairs.iter().all(|p| f(p) == f(&pairs[0]));
    if constant(|p| p.0) || constant(|p| p.1) {
        return None;
    }
    let n = pairs.len() as f64;
    let (sx, sy) = pairs
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        let (dx, dy) = (x - mx, y - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    let r = sxy / (sxx.sqrt() * syy.sqrt());
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

/// The lag in steps, within `±max_lag`, at which `b` best matches `a`, and Pearson's r there.
/// A positive lag means `b` follows `a`: `b[i + lag]` moves like `a[i]`. "Best" is the largest
/// |r| (a mirror image counts); ties go to the smaller |lag|. Each lag needs at least half of the
/// shorter series (and three steps) overlapping, so that an edge of a few points cannot win.
pub fn cross_correlation(a: &[f64], b: &[f64], max_lag: usize) -> Option<(isize, f64)> {
    let min_overlap = (a.len().min(b.len()) / 2).max(3);
    let max_lag = max_lag.min(a.len().max(b.len())) as isize;
    let mut best: Option<(isize, f64)> = None;
    let mut pairs = Vec::with_capacity(a.len());
    for lag in -max_lag..=max_lag {
        pairs.clear();
        for (i, x) in a.iter().enumerate() {
            let j = i as isize + lag;
            if j < 0 {
                continue;
            }
            let Some(y) = b.get(j as usize) else { break };
            if x.is_finite() && y.is_finite() {
                pairs.push((*x, *y));
            }
        }
        if pairs.len() < min_overlap {
            continue;
        }
        let Some(r) = pearson_pairs(&pairs) else {
            continue;
        };
        let better = match best {
            None => true,
            Some((bl, br)) => {
                r.abs() > br.abs() + 1e-12
                    || ((r.abs() - br.abs()).abs() <= 1e-12 && lag.abs() < bl.abs())
            }
        };
        if better {
            best = Some((lag, r));
        }
    }
    best
}

/// How [`rank`] scores a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Ks,
    Volume,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "ks" => Some(Method::Ks),
            "volume" => Some(Method::Volume),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Ks => "ks",
            Method::Volume => "volume",
        }
    }
}

/// One series to score: its values over the baseline and over the window, at one step.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub baseline: &'a [f64],
    pub window: &'a [f64],
}

/// A scored candidate, by its index in the input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    pub index: usize,
    /// The method's own score (KS: 1 − p in [0, 1]; volume: ratio, or share of time already
    /// multiplied by the largest ratio, as Netdata does to make both comparable).
    pub score: f64,
    /// Netdata's evenly spread weight in (0, 1]; the top candidate weighs 1.
    pub weight: f64,
    pub volume_kind: Option<VolumeKind>,
}

/// Scores every candidate, drops those with no score or a zero score (nothing changed), and
/// returns them best first (weight, then raw score, then input order).
pub fn rank(candidates: &[Candidate<'_>], method: Method) -> Vec<Ranked> {
    let mut out: Vec<Ranked> = candidates
        .iter()
        .enumerate()
        .filter_map(|(index, c)| {
            let (score, volume_kind) = match method {
                Method::Ks => (ks_score(c.baseline, c.window)?, None),
                Method::Volume => {
                    let v = volume_score(c.baseline, c.window)?;
                    (v.score, Some(v.kind))
                }
            };
            (score > 0.0).then_some(Ranked {
                index,
                score,
                weight: 0.0,
                volume_kind,
            })
        })
        .collect();
    // "Share of time" scores are fractions; scale them by the largest ratio seen so that a
    // series rising from zero is not always outranked by any ratio above 1.
    let max_ratio = out
        .iter()
        .filter(|r| r.volume_kind == Some(VolumeKind::Ratio))
        .map(|r| r.score)
        .fold(0.0, f64::max);
    if max_ratio > 0.0 {
        for r in &mut out {
            if r.volume_kind == Some(VolumeKind::ShareOfTime) {
                r.score *= max_ratio;
            }
        }
    }
    let mut unique: Vec<f64> = out.iter().map(|r| r.score).collect();
    unique.sort_by(f64::total_cmp);
    unique.dedup();
    let m = unique.len() as f64;
    for r in &mut out {
        let above = unique.len() - unique.partition_point(|u| *u <= r.score);
        r.weight = 1.0 - above as f64 / m;
    }
    out.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then(b.score.total_cmp(&a.score))
            .then(a.index.cmp(&b.index))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic noise in [-1, 1) (a small LCG: tests must not depend on a seed source).
    fn noise(seed: u64, n: usize) -> Vec<f64> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// 400 baseline and 100 window points of `level + noise`, with `f` changing the window.
    fn series(seed: u64, f: impl Fn(usize, f64) -> f64) -> (Vec<f64>, Vec<f64>) {
        let v = noise(seed, 500);
        let all: Vec<f64> = v
            .iter()
            .enumerate()
            .map(|(i, x)| {
                if i < 400 {
                    50.0 + x
                } else {
                    f(i - 400, 50.0 + x)
                }
            })
            .collect();
        (all[..400].to_vec(), all[400..].to_vec())
    }

    #[test]
    fn ks_statistic_matches_hand_counts() {
        assert_eq!(ks_statistic(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 0.0);
        assert_eq!(ks_statistic(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        // F_a(1) = 1/2, F_b(1) = 0: D = 1/2.
        assert_eq!(ks_statistic(&[1.0, 3.0], &[2.0, 3.0]), 0.5);
        // Ties step both CDFs together.
        assert_eq!(ks_statistic(&[1.0, 1.0, 2.0], &[1.0, 2.0, 2.0]), 1.0 / 3.0);
    }

    #[test]
    fn ks_pvalue_matches_the_kolmogorov_table() {
        // Q_KS(λ) at λ = 1.36 is the classic 5 % critical value, 1.63 the 1 % one (n → ∞).
        let big = 1e12;
        assert!((ks_pvalue(big, 1.358 / big.sqrt()) - 0.05).abs() < 1e-3);
        assert!((ks_pvalue(big, 1.628 / big.sqrt()) - 0.01).abs() < 1e-3);
        assert_eq!(ks_pvalue(100.0, 0.0), 1.0);
        assert!(ks_pvalue(100.0, 1.0) < 1e-20);
    }

    #[test]
    fn a_change_in_how_a_series_moves_ranks_first_by_ks() {
        // 50 series of the same noise; number 17 starts to climb in the window (a consumer's lag
        // growing: every difference shifts by +1), number 31 starts to swing 5× wider.
        let data: Vec<(Vec<f64>, Vec<f64>)> = (0..50)
            .map(|k| match k {
                17 => series(k, |i, v| v + i as f64),
                31 => series(k, |_, v| 50.0 + (v - 50.0) * 5.0),
                _ => series(k, |_, v| v),
            })
            .collect();
        let cands: Vec<Candidate> = data
            .iter()
            .map(|(b, w)| Candidate {
                baseline: b,
                window: w,
            })
            .collect();
        let ranked = rank(&cands, Method::Ks);
        let top: Vec<usize> = ranked.iter().take(2).map(|r| r.index).collect();
        assert!(top.contains(&17) && top.contains(&31), "{ranked:?}");
        assert!(ranked[0].score > 0.999 && ranked[1].score > 0.999);
        assert_eq!(ranked[0].weight, 1.0);
        // Positive control of the noise: the unchanged ones are not all certain changes.
        let calm = ranked.iter().filter(|r| r.index != 17 && r.index != 31);
        assert!(calm.clone().any(|r| r.score < 0.9), "{ranked:?}");
    }

    #[test]
    fn a_level_step_ranks_first_by_volume_and_barely_moves_ks() {
        let data: Vec<(Vec<f64>, Vec<f64>)> = (0..50)
            .map(|k| {
                if k == 23 {
                    series(k, |_, v| v + 30.0)
                } else {
                    series(k, |_, v| v)
                }
            })
            .collect();
        let cands: Vec<Candidate> = data
            .iter()
            .map(|(b, w)| Candidate {
                baseline: b,
                window: w,
            })
            .collect();
        let ranked = rank(&cands, Method::Volume);
        assert_eq!(ranked[0].index, 23, "{ranked:?}");
        assert_eq!(ranked[0].weight, 1.0);
        // Mean 50 → 80, all 100 window points above 50: 0.6 × 1.
        assert!((ranked[0].score - 0.6).abs() < 0.02, "{}", ranked[0].score);
        assert!(ranked[1].score < 0.05, "the others hardly changed");
        // The same step, judged by KS on differences: one large difference among a hundred
        // (the step falls between baseline and window, so not even that one): no evidence.
        let ks = ks_score(&data[23].0, &data[23].1).unwrap();
        assert!(
            ks < 0.99,
            "KS compares how a series moves, not its level: {ks}"
        );
    }

    #[test]
    fn volume_from_zero_is_the_share_of_time() {
        let v = volume_score(&[0.0; 10], &[0.0, 0.0, 5.0, 5.0]).unwrap();
        assert_eq!(
            v,
            VolumeScore {
                score: 0.5,
                kind: VolumeKind::ShareOfTime
            }
        );
        // A missing baseline counts as 0.
        assert_eq!(
            volume_score(&[f64::NAN; 3], &[2.0, 2.0]).map(|v| v.kind),
            Some(VolumeKind::ShareOfTime)
        );
        let fall = volume_score(&[10.0; 10], &[5.0, 5.0, 5.0, 20.0]).unwrap();
        // H = 8.75, B = 10: |−0.125| × 3/4 below.
        assert!((fall.score - 0.125 * 0.75).abs() < 1e-12);
        assert_eq!(volume_score(&[3.0; 4], &[3.0; 4]), None, "equal means");
        assert_eq!(volume_score(&[3.0; 4], &[]), None, "no window");
    }

    #[test]
    fn a_correlated_series_ranks_first_by_pearson() {
        let base = noise(1, 200);
        let twin: Vec<f64> = base
            .iter()
            .zip(noise(2, 200))
            .map(|(x, n)| 3.0 * x + 0.05 * n + 7.0)
            .collect();
        let mut scored: Vec<(usize, f64)> = (0..20)
            .map(|k| {
                let other = if k == 9 {
                    twin.clone()
                } else {
                    noise(100 + k as u64, 200)
                };
                (k, pearson(&base, &other).unwrap())
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        assert_eq!(scored[0].0, 9);
        assert!(scored[0].1 > 0.99, "{scored:?}");
        assert!(scored[1].1 < 0.5, "{scored:?}");
        let mirror: Vec<f64> = base.iter().map(|x| -x).collect();
        assert!((pearson(&base, &mirror).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(
            pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]),
            None,
            "constant"
        );
        assert_eq!(pearson(&[1.0, 2.0], &[1.0, 2.0]), None, "too short");
    }

    #[test]
    fn a_shifted_copy_is_found_at_its_lag() {
        let a = noise(5, 150);
        for shift in [-7isize, 0, 4, 12] {
            // b[i + shift] = a[i].
            let b: Vec<f64> = (0..150)
                .map(|i| {
                    let j = i as isize - shift;
                    if (0..150).contains(&j) {
                        a[j as usize] * 2.0 + 1.0
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            let (lag, r) = cross_correlation(&a, &b, 20).unwrap();
            assert_eq!(lag, shift);
            assert!(r > 0.999, "{r}");
        }
        // Beyond max_lag it is not found (only weak chance matches remain).
        let b: Vec<f64> = (0..150)
            .map(|i| if i >= 30 { a[i - 30] } else { f64::NAN })
            .collect();
        let (lag, r) = cross_correlation(&a, &b, 10).unwrap();
        assert!(lag != 30 && r.abs() < 0.5, "{lag} {r}");
    }

    #[test]
    fn constant_and_empty_series_have_no_scores() {
        assert_eq!(ks_score(&[5.0; 50], &[5.0; 20]), Some(0.0));
        assert_eq!(ks_score(&[], &[1.0, 2.0, 3.0]), None);
        assert_eq!(ks_score(&[f64::NAN; 10], &[1.0, 2.0, 3.0]), None);
        assert_eq!(cross_correlation(&[1.0; 10], &[2.0; 10], 3), None);
        assert_eq!(cross_correlation(&[], &[], 3), None);
        let flat = [5.0; 10];
        let ranked = rank(
            &[Candidate {
                baseline: &flat,
                window: &flat,
            }],
            Method::Ks,
        );
        assert!(ranked.is_empty(), "nothing changed, nothing ranked");
    }

    fn values() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(
            prop_oneof![
                8 => -1e6f64..1e6,
                1 => Just(f64::NAN),
                1 => prop::num::f64::ANY,
            ],
            0..60,
        )
    }

    proptest! {
        #[test]
        fn any_input_gives_bounded_scores(b in values(), w in values(), lag in 0usize..80) {
            if let Some(s) = ks_score(&b, &w) {
                prop_assert!((0.0..=1.0).contains(&s), "ks {s}");
            }
            if let Some(v) = volume_score(&b, &w) {
                prop_assert!(v.score.is_finite() && v.score >= 0.0, "volume {v:?}");
                if v.kind == VolumeKind::ShareOfTime {
                    prop_assert!(v.score <= 1.0);
                }
            }
            if let Some(r) = pearson(&b, &w) {
                prop_assert!((-1.0..=1.0).contains(&r));
            }
            if let Some((l, r)) = cross_correlation(&b, &w, lag) {
                prop_assert!(l.unsigned_abs() <= lag && (-1.0..=1.0).contains(&r));
            }
            for m in [Method::Ks, Method::Volume] {
                let c = [Candidate { baseline: &b, window: &w }, Candidate { baseline: &w, window: &b }];
                for r in rank(&c, m) {
                    prop_assert!(r.weight > 0.0 && r.weight <= 1.0, "{r:?}");
                    prop_assert!(r.score.is_finite() && r.score > 0.0);
                }
            }
        }
    }
}
