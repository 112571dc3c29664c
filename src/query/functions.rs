//! PromQL functions with Prometheus 2.42's semantics (`promql/functions.go`): which labels a
//! function keeps, how it treats NaN, and `rate`'s extrapolation.

use super::eval::{
    EvalError, Evaluator, Lbls, NAME, Series, Val, Windows, drop_name, get, merge_same_labels,
    set_label,
};
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{Call, Expr};

fn exec(msg: impl Into<String>) -> EvalError {
    EvalError::Execution(msg.into())
}

fn unwrap_parens(e: &Expr) -> &Expr {
    let mut e = e;
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

pub fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: how Prometheus writes sample values in its API
/// and count_values' label values (`1`, `0.5`, `NaN`, `+Inf`).
pub fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// Neumaier-compensated summation step (Prometheus' `kahanSumInc`).
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// φ-quantile with linear interpolation between the closest ranks (Prometheus' `quantile`).
pub fn quantile(q: f64, vals: &mut [f64]) -> f64 {
    if vals.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    vals.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = vals.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    vals[lower as usize] * (1.0 - weight) + vals[upper as usize] * weight
}

/// Prometheus' `extrapolatedRate` (2.42): the increase between the first and last sample of the
/// window, reset-aware for counters, extrapolated towards the window edges when the samples
/// reach close to them (at most half a sample interval beyond, never below zero for counters).
fn extrapolated_rate(
    s: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    counter: bool,
    rate: bool,
) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (first, last) = (s[0], s[s.len() - 1]);
    let mut result = last.1 - first.1;
    if counter {
        let mut prev = 0.0f64;
        for &(_, v) in s {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let mut to_start = (first.0 - range_start) as f64 / 1000.0;
    let to_end = (range_end - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let avg = sampled / (s.len() - 1) as f64;
    if counter && result > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg / 2.0
    };
    let mut v = result * (interval / sampled);
    if rate {
        v /= range_ms as f64 / 1000.0;
    }
    Some(v)
}

fn instant_delta(s: &[(i64, f64)], rate: bool) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (prev, last) = (s[s.len() - 2], s[s.len() - 1]);
    let mut v = if rate && last.1 < prev.1 {
        last.1
    } else {
        last.1 - prev.1
    };
    let interval = last.0 - prev.0;
    if interval == 0 {
        return None;
    }
    if rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Least-squares fit of the samples, x in seconds relative to `intercept_t`.
fn linear_regression(s: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = s[0].1;
    let mut const_y = true;
    for (i, &(t, v)) in s.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(v, sy, cy);
        (sxy, cxy) = kahan_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn over_time(name: &str, s: &[(i64, f64)], q: f64) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    let vals = || s.iter().map(|p| p.1);
    Some(match name {
        "avg_over_time" => {
            let (mut mean, mut count, mut c) = (0.0f64, 0.0f64, 0.0f64);
            for v in vals() {
                count += 1.0;
                if mean.is_infinite() {
                    if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                        continue;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        continue;
                    }
                }
                (mean, c) = kahan_inc(v / count - mean / count, mean, c);
            }
            if mean.is_infinite() { mean } else { mean + c }
        }
        "sum_over_time" => {
            let (mut sum, mut c) = (0.0, 0.0);
            for v in vals() {
                (sum, c) = kahan_inc(v, sum, c);
            }
            if f64::is_infinite(sum) { sum } else { sum + c }
        }
        "count_over_time" => s.len() as f64,
        "min_over_time" => {
            vals().skip(1).fold(
                s[0].1,
                |acc, v| {
                    if v < acc || acc.is_nan() { v } else { acc }
                },
            )
        }
        "max_over_time" => {
            vals().skip(1).fold(
                s[0].1,
                |acc, v| {
                    if v > acc || acc.is_nan() { v } else { acc }
                },
            )
        }
        "last_over_time" => s[s.len() - 1].1,
        "first_over_time" => s[0].1,
        "ts_of_last_over_time" => s[s.len() - 1].0 as f64 / 1000.0,
        "ts_of_first_over_time" => s[0].0 as f64 / 1000.0,
        "ts_of_max_over_time" | "ts_of_min_over_time" => {
            let max = name == "ts_of_max_over_time";
            let mut best = s[0];
            for &p in &s[1..] {
                let better = if max { p.1 >= best.1 } else { p.1 <= best.1 };
                if better || best.1.is_nan() {
                    best = p;
                }
            }
            best.0 as f64 / 1000.0
        }
        "present_over_time" => 1.0,
        "stddev_over_time" | "stdvar_over_time" => {
            let (mut count, mut mean, mut cm, mut aux, mut ca) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for v in vals() {
                count += 1.0;
                let delta = v - (mean + cm);
                (mean, cm) = kahan_inc(delta / count, mean, cm);
                (aux, ca) = kahan_inc(delta * (v - (mean + cm)), aux, ca);
            }
            let var = (aux + ca) / count;
            if name == "stddev_over_time" {
                var.sqrt()
            } else {
                var
            }
        }
        "quantile_over_time" => quantile(q, &mut vals().collect::<Vec<_>>()),
        "mad_over_time" => {
            let mut v: Vec<f64> = vals().collect();
            let median = quantile(0.5, &mut v);
            let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
            quantile(0.5, &mut dev)
        }
        "changes" => {
            let mut n = 0;
            for w in s.windows(2) {
                let (p, c) = (w[0].1, w[1].1);
                if c != p && !(c.is_nan() && p.is_nan()) {
                    n += 1;
                }
            }
            n as f64
        }
        "resets" => s.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64,
        _ => return None,
    })
}

fn holt_winters(s: &[(i64, f64)], sf: f64, tf: f64) -> Result<Option<f64>, EvalError> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(exec(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf}"
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(exec(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf}"
        )));
    }
    if s.len() < 2 {
        return Ok(None);
    }
    let (mut s0, mut s1) = (0.0, s[0].1);
    let mut b = s[1].1 - s[0].1;
    for (i, &(_, v)) in s.iter().enumerate().skip(1) {
        let x = sf * v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Ok(Some(s1))
}

fn str_arg(ev: &mut Evaluator<'_>, e: &Expr, times: &[i64]) -> Result<String, EvalError> {
    match ev.eval(e, times)? {
        Val::Str(s) => Ok(s),
        _ => Err(exec(format!("expected a string, got {e}"))),
    }
}

fn map_values(mut v: Vec<Series>, f: impl Fn(f64) -> f64) -> Result<Val, EvalError> {
    for s in &mut v {
        drop_name(&mut s.labels);
        s.values.iter_mut().flatten().for_each(|x| *x = f(*x));
    }
    Ok(Val::Vector(merge_same_labels(v)?))
}

fn scalar_fn(f: fn(f64) -> f64) -> impl Fn(f64) -> f64 {
    move |x| f(x)
}

fn date_part(name: &str, secs: f64) -> f64 {
    if !secs.is_finite() {
        return f64::NAN;
    }
    let Ok(ts) = jiff::Timestamp::from_second(secs.trunc() as i64) else {
        return f64::NAN;
    };
    let z = ts.to_zoned_datetime(jiff::tz::TimeZone::UTC).datetime();
    f64::from(match name {
        "day_of_month" => i16::from(z.day()),
        "day_of_week" => i16::from(z.weekday().to_sunday_zero_offset()),
        "day_of_year" => z.day_of_year(),
        "days_in_month" => i16::from(z.days_in_month()),
        "hour" => i16::from(z.hour()),
        "minute" => i16::from(z.minute()),
        "month" => i16::from(z.month()),
        _ => z.year(),
    })
}

/// Labels for `absent(sel)`: the selector's equality matchers (none for other arguments).
fn absent_labels(e: &Expr) -> Lbls {
    let vs = match unwrap_parens(e) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Lbls::new(),
    };
    let mut out = Lbls::new();
    let mut drop: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == NAME {
            continue;
        }
        if matches!(m.op, PMatchOp::Equal) && get(&out, &m.name).is_none() {
            set_label(&mut out, &m.name, &m.value);
        } else {
            drop.push(&m.name);
        }
    }
    out.retain(|(k, _)| !drop.contains(&k.as_str()));
    out
}

/// Prometheus' `bucketQuantile` over (upper bound, cumulative count) pairs.
fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if !buckets.last().is_some_and(|b| b.0 == f64::INFINITY) {
        return f64::NAN;
    }
    // Merge buckets with the same bound.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(le, c) in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == le => last.1 += c,
            _ => merged.push((le, c)),
        }
    }
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = merged[..merged.len() - 1].partition_point(|x| x.1 < rank);
    if b == merged.len() - 1 {
        return merged[merged.len() - 2].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (mut start, end, mut count) = (0.0, merged[b].0, merged[b].1);
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

fn histogram_quantile(q: &[f64], input: Vec<Series>, n: usize) -> Result<Val, EvalError> {
    // Group by all labels but `le` (the metric name included), output without name and `le`.
    let mut groups: Vec<(Lbls, Vec<(f64, usize)>)> = Vec::new();
    let mut idx: std::collections::HashMap<String, usize> = Default::default();
    for (i, s) in input.iter().enumerate() {
        let Some(le) = get(&s.labels, "le").and_then(parse_go_float) else {
            continue;
        };
        let mut sig = s.labels.clone();
        sig.retain(|(k, _)| k != "le");
        let k = super::eval::key(&sig);
        let gi = *idx.entry(k).or_insert_with(|| {
            let mut out = sig.clone();
            drop_name(&mut out);
            groups.push((out, Vec::new()));
            groups.len() - 1
        });
        groups[gi].1.push((le, i));
    }
    let mut out = Vec::with_capacity(groups.len());
    let mut buf = Vec::new();
    for (labels, members) in groups {
        let mut values = vec![None; n];
        for (t, slot) in values.iter_mut().enumerate() {
            buf.clear();
            buf.extend(
                members
                    .iter()
                    .filter_map(|&(le, i)| input[i].values[t].map(|c| (le, c))),
            );
            if !buf.is_empty() {
                *slot = Some(bucket_quantile(q[t], &mut buf));
            }
        }
        out.push(Series { labels, values });
    }
    Ok(Val::Vector(merge_same_labels(out)?))
}

/// Go's `strconv.ParseFloat`, which also reads `+Inf`, `Inf`, `NaN` in any case.
fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "+inf" | "inf" | "+infinity" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ => t.parse().ok(),
    }
}

fn label_replace(
    v: Vec<Series>,
    dst: &str,
    repl: &str,
    src: &str,
    re: &str,
) -> Result<Val, EvalError> {
    let regex = regex::Regex::new(&format!("^(?s:{re})$")).map_err(|e| {
        exec(format!(
            "invalid regular expression in label_replace(): {re}: {e}"
        ))
    })?;
    if !valid_label_name(dst) {
        return Err(exec(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        let src_val = get(&s.labels, src).unwrap_or("").to_string();
        if let Some(caps) = regex.captures(&src_val) {
            let mut res = String::new();
            caps.expand(repl, &mut res);
            set_label(&mut s.labels, dst, &res);
        }
        out.push(s);
    }
    Ok(Val::Vector(merge_same_labels(out)?))
}

fn sort_by_value(mut v: Vec<Series>, desc: bool) -> Vec<Series> {
    // Only the first time's order is visible (instant queries); range results are unordered.
    v.sort_by(|a, b| {
        let x = a.values.first().copied().flatten().unwrap_or(f64::NAN);
        let y = b.values.first().copied().flatten().unwrap_or(f64::NAN);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if desc => y.total_cmp(&x),
            _ => x.total_cmp(&y),
        }
    });
    v
}

/// Evaluates a function call.
pub fn call(ev: &mut Evaluator<'_>, c: &Call, times: &[i64]) -> Result<Val, EvalError> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    let n = times.len();
    let arg = |i: usize| -> Result<&Expr, EvalError> {
        args.get(i)
            .copied()
            .ok_or_else(|| exec(format!("{name}() is missing argument {}", i + 1)))
    };
    match name {
        "time" => Ok(Val::Scalar(
            times.iter().map(|&t| t as f64 / 1000.0).collect(),
        )),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
        "start" => Ok(Val::Scalar(vec![ev.env.start as f64 / 1000.0; n])),
        "end" => Ok(Val::Scalar(vec![ev.env.end as f64 / 1000.0; n])),
        "range" => Ok(Val::Scalar(vec![
            (ev.env.end - ev.env.start) as f64 / 1000.0;
            n
        ])),
        "step" => Ok(Val::Scalar(vec![ev.env.step as f64 / 1000.0; n])),
        "max_of" | "min_of" => {
            let a = ev.eval_scalar(arg(0)?, times)?;
            let b = ev.eval_scalar(arg(1)?, times)?;
            Ok(Val::Scalar(
                a.into_iter()
                    .zip(b)
                    .map(|(x, y)| if name == "max_of" { x.max(y) } else { x.min(y) })
                    .collect(),
            ))
        }
        "vector" => {
            let s = ev.eval_scalar(arg(0)?, times)?;
            Ok(Val::Vector(vec![Series {
                labels: Lbls::new(),
                values: s.into_iter().map(Some).collect(),
            }]))
        }
        "scalar" => {
            let v = ev.eval_vector(arg(0)?, times)?;
            Ok(Val::Scalar(
                (0..n)
                    .map(|t| {
                        let mut it = v.iter().filter_map(|s| s.values[t]);
                        match (it.next(), it.next()) {
                            (Some(x), None) => x,
                            _ => f64::NAN,
                        }
                    })
                    .collect(),
            ))
        }
        "timestamp" => {
            if let Expr::VectorSelector(vs) = unwrap_parens(arg(0)?) {
                let data = ev.instant_selector(vs, times)?;
                let out = data
                    .into_iter()
                    .map(|(mut labels, pts)| {
                        drop_name(&mut labels);
                        Series {
                            labels,
                            values: pts
                                .into_iter()
                                .map(|p| p.map(|p| p.0 as f64 / 1000.0))
                                .collect(),
                        }
                    })
                    .collect();
                return Ok(Val::Vector(merge_same_labels(out)?));
            }
            let mut v = ev.eval_vector(arg(0)?, times)?;
            for s in &mut v {
                drop_name(&mut s.labels);
                for (t, x) in s.values.iter_mut().enumerate() {
                    if x.is_some() {
                        *x = Some(times[t] as f64 / 1000.0);
                    }
                }
            }
            Ok(Val::Vector(merge_same_labels(v)?))
        }
        "abs" | "ceil" | "floor" | "exp" | "sqrt" | "ln" | "log2" | "log10" | "sgn" | "deg"
        | "rad" | "acos" | "acosh" | "asin" | "asinh" | "atan" | "atanh" | "cos" | "cosh"
        | "sin" | "sinh" | "tan" | "tanh" => {
            let f: fn(f64) -> f64 = match name {
                "abs" => f64::abs,
                "ceil" => f64::ceil,
                "floor" => f64::floor,
                "exp" => f64::exp,
                "sqrt" => f64::sqrt,
                "ln" => f64::ln,
                "log2" => f64::log2,
                "log10" => f64::log10,
                "sgn" => |x: f64| {
                    if x < 0.0 {
                        -1.0
                    } else if x > 0.0 {
                        1.0
                    } else {
                        x
                    }
                },
                "deg" => |x: f64| x * 180.0 / std::f64::consts::PI,
                "rad" => |x: f64| x * std::f64::consts::PI / 180.0,
                "acos" => f64::acos,
                "acosh" => f64::acosh,
                "asin" => f64::asin,
                "asinh" => f64::asinh,
                "atan" => f64::atan,
                "atanh" => f64::atanh,
                "cos" => f64::cos,
                "cosh" => f64::cosh,
                "sin" => f64::sin,
                "sinh" => f64::sinh,
                "tan" => f64::tan,
                _ => f64::tanh,
            };
            let v = ev.eval_vector(arg(0)?, times)?;
            map_values(v, scalar_fn(f))
        }
        "round" => {
            let v = ev.eval_vector(arg(0)?, times)?;
            let to = match args.get(1) {
                Some(e) => ev.eval_scalar(e, times)?,
                None => vec![1.0; n],
            };
            let mut v = v;
            for s in &mut v {
                drop_name(&mut s.labels);
                for (t, x) in s.values.iter_mut().enumerate() {
                    if let Some(val) = x {
                        let inv = 1.0 / to[t];
                        *x = Some((*val * inv + 0.5).floor() / inv);
                    }
                }
            }
            Ok(Val::Vector(merge_same_labels(v)?))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let mut v = ev.eval_vector(arg(0)?, times)?;
            let a = ev.eval_scalar(arg(1)?, times)?;
            let b = if name == "clamp" {
                Some(ev.eval_scalar(arg(2)?, times)?)
            } else {
                None
            };
            for s in &mut v {
                drop_name(&mut s.labels);
                for (t, x) in s.values.iter_mut().enumerate() {
                    let Some(val) = *x else { continue };
                    *x = match name {
                        "clamp_min" => Some(val.max(a[t])),
                        "clamp_max" => Some(val.min(a[t])),
                        _ => {
                            let (lo, hi) = (a[t], b.as_ref().map_or(f64::NAN, |b| b[t]));
                            // clamp with max < min answers nothing.
                            (hi >= lo || lo.is_nan() || hi.is_nan()).then(|| lo.max(hi.min(val)))
                        }
                    };
                }
            }
            v.retain(|s| s.values.iter().any(Option::is_some));
            Ok(Val::Vector(merge_same_labels(v)?))
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => {
            let v = match args.first() {
                Some(e) => ev.eval_vector(e, times)?,
                None => vec![Series {
                    labels: Lbls::new(),
                    values: times.iter().map(|&t| Some(t as f64 / 1000.0)).collect(),
                }],
            };
            map_values(v, |x| date_part(name, x))
        }
        "label_replace" => {
            let v = ev.eval_vector(arg(0)?, times)?;
            let dst = str_arg(ev, arg(1)?, times)?;
            let repl = str_arg(ev, arg(2)?, times)?;
            let src = str_arg(ev, arg(3)?, times)?;
            let re = str_arg(ev, arg(4)?, times)?;
            label_replace(v, &dst, &repl, &src, &re)
        }
        "label_join" => {
            let mut v = ev.eval_vector(arg(0)?, times)?;
            let dst = str_arg(ev, arg(1)?, times)?;
            let sep = str_arg(ev, arg(2)?, times)?;
            let mut srcs = Vec::new();
            for e in args.iter().skip(3) {
                let s = str_arg(ev, e, times)?;
                if !valid_label_name(&s) {
                    return Err(exec(format!(
                        "invalid source label name in label_join(): {s}"
                    )));
                }
                srcs.push(s);
            }
            if !valid_label_name(&dst) {
                return Err(exec(format!(
                    "invalid destination label name in label_join(): {dst}"
                )));
            }
            for s in &mut v {
                let joined = srcs
                    .iter()
                    .map(|l| get(&s.labels, l).unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(&sep);
                set_label(&mut s.labels, &dst, &joined);
            }
            Ok(Val::Vector(merge_same_labels(v)?))
        }
        "sort" | "sort_desc" => {
            let v = ev.eval_vector(arg(0)?, times)?;
            Ok(Val::Vector(sort_by_value(v, name == "sort_desc")))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut v = ev.eval_vector(arg(0)?, times)?;
            let mut names = Vec::new();
            for e in args.iter().skip(1) {
                names.push(str_arg(ev, e, times)?);
            }
            v.sort_by(|a, b| {
                let ka: Vec<&str> = names
                    .iter()
                    .map(|l| get(&a.labels, l).unwrap_or(""))
                    .collect();
                let kb: Vec<&str> = names
                    .iter()
                    .map(|l| get(&b.labels, l).unwrap_or(""))
                    .collect();
                ka.cmp(&kb).then_with(|| a.labels.cmp(&b.labels))
            });
            if name == "sort_by_label_desc" {
                v.reverse();
            }
            Ok(Val::Vector(v))
        }
        "absent" => {
            let v = ev.eval_vector(arg(0)?, times)?;
            let values: Vec<Option<f64>> = (0..n)
                .map(|t| (!v.iter().any(|s| s.values[t].is_some())).then_some(1.0))
                .collect();
            let out = if values.iter().any(Option::is_some) {
                vec![Series {
                    labels: absent_labels(arg(0)?),
                    values,
                }]
            } else {
                Vec::new()
            };
            Ok(Val::Vector(out))
        }
        "histogram_quantile" => {
            let q = ev.eval_scalar(arg(0)?, times)?;
            let v = ev.eval_vector(arg(1)?, times)?;
            histogram_quantile(&q, v, n)
        }
        // Native-histogram functions ignore float samples, and the store holds only floats.
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            ev.eval_vector(arg(0)?, times)?;
            Ok(Val::Vector(Vec::new()))
        }
        "histogram_fraction" => {
            ev.eval_scalar(arg(0)?, times)?;
            ev.eval_scalar(arg(1)?, times)?;
            ev.eval_vector(arg(2)?, times)?;
            Ok(Val::Vector(Vec::new()))
        }
        "rate"
        | "increase"
        | "delta"
        | "irate"
        | "idelta"
        | "deriv"
        | "predict_linear"
        | "changes"
        | "resets"
        | "avg_over_time"
        | "min_over_time"
        | "max_over_time"
        | "sum_over_time"
        | "count_over_time"
        | "last_over_time"
        | "first_over_time"
        | "present_over_time"
        | "stddev_over_time"
        | "stdvar_over_time"
        | "mad_over_time"
        | "ts_of_last_over_time"
        | "ts_of_first_over_time"
        | "ts_of_max_over_time"
        | "ts_of_min_over_time"
        | "quantile_over_time"
        | "absent_over_time"
        | "double_exponential_smoothing" => range_function(ev, name, &args, times),
        other => Err(EvalError::Unsupported(format!("the function {other}()"))),
    }
}

fn range_function(
    ev: &mut Evaluator<'_>,
    name: &str,
    args: &[&Expr],
    times: &[i64],
) -> Result<Val, EvalError> {
    let n = times.len();
    let missing = || exec(format!("{name}() is missing an argument"));
    // Scalar parameters come first (quantile_over_time) or after the range argument.
    let (range_expr, params): (&Expr, Vec<Vec<f64>>) = match name {
        "quantile_over_time" => {
            let q = ev.eval_scalar(args.first().ok_or_else(missing)?, times)?;
            (args.get(1).ok_or_else(missing)?, vec![q])
        }
        "predict_linear" => {
            let d = ev.eval_scalar(args.get(1).ok_or_else(missing)?, times)?;
            (args.first().ok_or_else(missing)?, vec![d])
        }
        "double_exponential_smoothing" => {
            let sf = ev.eval_scalar(args.get(1).ok_or_else(missing)?, times)?;
            let tf = ev.eval_scalar(args.get(2).ok_or_else(missing)?, times)?;
            (args.first().ok_or_else(missing)?, vec![sf, tf])
        }
        _ => (args.first().ok_or_else(missing)?, Vec::new()),
    };
    let (series, w): (_, Windows) = ev.range_arg(range_expr, times)?;
    if name == "absent_over_time" {
        let values: Vec<Option<f64>> = (0..n)
            .map(|t| (!series.iter().any(|s| !w.slice(&s.samples, t).is_empty())).then_some(1.0))
            .collect();
        let out = if values.iter().any(Option::is_some) {
            vec![Series {
                labels: absent_labels(range_expr),
                values,
            }]
        } else {
            Vec::new()
        };
        return Ok(Val::Vector(out));
    }
    let keep_name = matches!(name, "last_over_time" | "first_over_time");
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        let mut values = Vec::with_capacity(n);
        for t in 0..n {
            if t % 1024 == 0 && ev.env.cancel.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(EvalError::Cancelled(
                    "the client disconnected or the time limit passed",
                ));
            }
            let win = w.slice(&s.samples, t);
            let (lo, hi) = w.bounds[t];
            let v = match name {
                "rate" => extrapolated_rate(win, lo, hi, w.range_ms, true, true),
                "increase" => extrapolated_rate(win, lo, hi, w.range_ms, true, false),
                "delta" => extrapolated_rate(win, lo, hi, w.range_ms, false, false),
                "irate" => instant_delta(win, true),
                "idelta" => instant_delta(win, false),
                "deriv" => (win.len() >= 2).then(|| linear_regression(win, win[0].0).0),
                "predict_linear" => (win.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(win, times[t]);
                    intercept + slope * params[0][t]
                }),
                "double_exponential_smoothing" => holt_winters(win, params[0][t], params[1][t])?,
                "quantile_over_time" => over_time(name, win, params[0][t]),
                _ => over_time(name, win, f64::NAN),
            };
            values.push(v);
        }
        let mut labels = s.labels;
        if !keep_name {
            drop_name(&mut labels);
        }
        if values.iter().any(Option::is_some) {
            out.push(Series { labels, values });
        }
    }
    // Matrix functions fail on duplicate label sets even when their times do not overlap.
    let mut seen = std::collections::HashSet::new();
    for s in &out {
        if !seen.insert(super::eval::key(&s.labels)) {
            return Err(exec("vector cannot contain metrics with the same labelset"));
        }
    }
    Ok(Val::Vector(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[(i64, f64)]) -> Vec<(i64, f64)> {
        v.to_vec()
    }

    #[test]
    fn rate_extrapolates_like_prometheus() {
        // 15 s samples 1/s over a 60 s window ending 5 s after the last sample.
        let s = pts(&[
            (10_000, 10.0),
            (25_000, 25.0),
            (40_000, 40.0),
            (55_000, 55.0),
        ]);
        // to_start 10 s, to_end 5 s, both < 1.1 × 15 s: extrapolated to the full 60 s.
        let v = extrapolated_rate(&s, 0, 60_000, 60_000, true, false).unwrap();
        assert!((v - 45.0 * 60.0 / 45.0).abs() < 1e-9, "{v}");
        // A counter cannot be extrapolated below zero: from 10 at 10 s the zero point is 10 s back.
        let s = pts(&[(30_000, 1.0), (45_000, 16.0), (60_000, 31.0)]);
        let v = extrapolated_rate(&s, 0, 60_000, 60_000, true, false).unwrap();
        // sampled 30 s, to_zero 1 s, to_start 30 s ≥ 16.5 → avg/2 = 7.5 s... then min(to_zero).
        assert!((v - 30.0 * (30.0 + 1.0) / 30.0).abs() < 1e-9, "{v}");
        // Resets add the value before the reset.
        let s = pts(&[
            (0, 5.0),
            (15_000, 10.0),
            (30_000, 2.0),
            (45_000, 7.0),
            (60_000, 12.0),
        ]);
        let v = extrapolated_rate(&s, 0, 60_000, 60_000, true, false).unwrap();
        assert!((v - 17.0).abs() < 1e-9, "{v}");
        assert_eq!(
            extrapolated_rate(&s[..1], 0, 60_000, 60_000, true, true),
            None
        );
    }

    #[test]
    fn histogram_quantile_interpolates_within_the_bucket() {
        let mut b = vec![
            (0.1, 10.0),
            (0.5, 60.0),
            (1.0, 90.0),
            (f64::INFINITY, 100.0),
        ];
        // rank 50 lies in (0.1, 0.5]: 0.1 + 0.4 × 40/50.
        assert!((bucket_quantile(0.5, &mut b) - 0.42).abs() < 1e-12);
        assert_eq!(
            bucket_quantile(0.99, &mut b),
            1.0,
            "the +Inf bucket answers the bound below"
        );
        let mut no_inf = vec![(0.1, 1.0), (1.0, 2.0)];
        assert!(bucket_quantile(0.5, &mut no_inf).is_nan());
    }

    #[test]
    fn quantile_and_regression() {
        assert_eq!(quantile(0.5, &mut [3.0, 1.0, 2.0, 4.0]), 2.5);
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
        let s = pts(&[(0, 1.0), (1000, 3.0), (2000, 5.0)]);
        let (slope, icpt) = linear_regression(&s, 0);
        assert!((slope - 2.0).abs() < 1e-12 && (icpt - 1.0).abs() < 1e-12);
        assert_eq!(
            linear_regression(&pts(&[(0, 7.0), (1000, 7.0)]), 0),
            (0.0, 7.0)
        );
    }

    #[test]
    fn date_parts_are_utc() {
        // 2024-02-29T13:45:00Z, a Thursday.
        let t = 1_709_214_300.0;
        assert_eq!(date_part("year", t), 2024.0);
        assert_eq!(date_part("month", t), 2.0);
        assert_eq!(date_part("days_in_month", t), 29.0);
        assert_eq!(date_part("day_of_week", t), 4.0);
        assert_eq!(date_part("hour", t), 13.0);
        assert_eq!(date_part("minute", t), 45.0);
        assert_eq!(date_part("day_of_year", t), 60.0);
    }
}
