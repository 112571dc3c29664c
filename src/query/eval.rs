//! The evaluator: walks a `promql-parser` syntax tree over a grid of evaluation times, with
//! Prometheus 2.42's semantics (see the module documentation of [`crate::query`]).
//!
//! Every node evaluates to one value per grid time: a scalar per time, or series that each hold an
//! optional value per time (a step-by-step vector, as Prometheus' range evaluation builds it).
//! Data comes from a [`Loader`], asked once per selector for the samples of the whole span the
//! grid needs; it counts them against the sample budget.

use super::functions;
use promql_parser::label::{MatchOp as PMatchOp, Matcher as PMatcher, Matchers};
use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_DIV, T_EQLC, T_GROUP, T_GTE,
    T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MAX, T_MIN, T_MOD, T_MUL, T_NEQ, T_POW,
    T_QUANTILE, T_STDDEV, T_STDVAR, T_SUB, T_SUM, T_TOPK, TokenType,
};
use promql_parser::parser::{
    AggregateExpr, AtModifier, BinaryExpr, Expr, LabelModifier, Offset, SubqueryExpr,
    VectorMatchCardinality, VectorSelector,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

/// A label set sorted by name, `__name__` included.
pub type Lbls = Vec<(String, String)>;
pub const NAME: &str = "__name__";

/// The error Prometheus answers when `--query.max-samples` is exceeded.
pub const TOO_MANY_SAMPLES: &str =
    "query processing would load too many samples into memory in query execution";

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The sample budget is exhausted (HTTP 422 like Prometheus).
    #[error("{TOO_MANY_SAMPLES}")]
    TooManySamples,
    /// A query that is well formed but cannot be evaluated (matching errors, bad arguments).
    #[error("{0}")]
    Execution(String),
    /// A construct the parser accepts that this evaluator does not implement.
    #[error("{0} is not supported by kafkascope's evaluator")]
    Unsupported(String),
    /// The client went away or the time limit passed.
    #[error("query cancelled: {0}")]
    Cancelled(&'static str),
    #[error("reading the store failed: {0}")]
    Store(String),
}

fn exec(msg: impl Into<String>) -> EvalError {
    EvalError::Execution(msg.into())
}

/// One limit on samples loaded (counted across all series while fetching) and on the points of
/// any intermediate or final result, as Prometheus' `--query.max-samples`.
#[derive(Debug)]
pub struct Budget {
    max: usize,
    loaded: AtomicUsize,
}

impl Budget {
    pub fn new(max: usize) -> Self {
        Budget {
            max,
            loaded: AtomicUsize::new(0),
        }
    }

    /// Counts `n` more loaded samples.
    pub fn load(&self, n: usize) -> Result<(), EvalError> {
        let before = self.loaded.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) > self.max {
            return Err(EvalError::TooManySamples);
        }
        Ok(())
    }

    /// Checks the size of one result.
    pub fn result(&self, points: usize) -> Result<(), EvalError> {
        if points > self.max {
            return Err(EvalError::TooManySamples);
        }
        Ok(())
    }

    pub fn loaded(&self) -> usize {
        self.loaded.load(Ordering::Relaxed)
    }
}

/// A series' labels and the sample an instant selector found at each time.
pub type Sampled = (Lbls, Vec<Option<(i64, f64)>>);

/// Samples of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    pub labels: Lbls,
    /// Ascending timestamps.
    pub samples: Vec<(i64, f64)>,
}

/// One series of a step-by-step vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Lbls,
    pub values: Vec<Option<f64>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Scalar(Vec<f64>),
    Vector(Vec<Series>),
    /// Only as the whole result of an instant query (`up[5m]`, `x[10m:1m]`).
    Matrix(Vec<RangeSeries>),
    Str(String),
}

/// Where samples come from.
pub trait Loader {
    /// Sees the whole query before evaluation starts (to choose how to read).
    fn plan(&mut self, _expr: &Expr, _step_ms: i64, _lookback_ms: i64) {}

    /// The series that `vs`'s name and matchers select, with their samples whose timestamps are
    /// in `[lo, hi]`; series without samples there may be left out.
    fn load(
        &mut self,
        vs: &VectorSelector,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<RangeSeries>, EvalError>;
}

/// Whether a series' labels satisfy a selector's name and matchers (absent labels match as "").
pub fn selector_matches(vs: &VectorSelector, labels: &Lbls) -> bool {
    if let Some(name) = &vs.name
        && get(labels, NAME).unwrap_or("") != name
    {
        return false;
    }
    matchers_match(&vs.matchers, labels)
}

fn matchers_match(m: &Matchers, labels: &Lbls) -> bool {
    let all = |ms: &[PMatcher]| {
        ms.iter()
            .all(|m| m.is_match(get(labels, &m.name).unwrap_or("")))
    };
    if m.or_matchers.is_empty() {
        all(&m.matchers)
    } else {
        m.or_matchers.iter().any(|ms| all(ms))
    }
}

/// Equality matchers every matching series must satisfy (what an index lookup can use).
pub fn required_equalities(vs: &VectorSelector) -> Vec<(String, String)> {
    if !vs.matchers.or_matchers.is_empty() {
        return Vec::new();
    }
    vs.matchers
        .matchers
        .iter()
        .filter(|m| matches!(m.op, PMatchOp::Equal) && m.name != NAME && !m.value.is_empty())
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect()
}

/// Evaluation settings and context shared by all nodes.
pub struct Env<'a> {
    /// The query's start and end (what `@ start()` and `@ end()` mean) and step (0 for instant).
    pub start: i64,
    pub end: i64,
    pub step: i64,
    pub lookback_ms: i64,
    /// Resolution of subqueries without one (Prometheus' global evaluation interval).
    pub subquery_step_ms: i64,
    pub budget: &'a Budget,
    pub cancel: &'a AtomicBool,
}

pub struct Evaluator<'a> {
    pub env: Env<'a>,
    pub loader: &'a mut dyn Loader,
}

pub fn duration_ms(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

pub fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => -duration_ms(d),
    }
}

fn systime_ms(t: &SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => duration_ms(&d),
        Err(e) => -duration_ms(&e.duration()),
    }
}

pub fn get<'l>(labels: &'l Lbls, name: &str) -> Option<&'l str> {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub fn set_label(labels: &mut Lbls, name: &str, value: &str) {
    match labels.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
        Ok(i) => {
            if value.is_empty() {
                labels.remove(i);
            } else {
                labels[i].1 = value.to_string();
            }
        }
        Err(i) => {
            if !value.is_empty() {
                labels.insert(i, (name.to_string(), value.to_string()));
            }
        }
    }
}

pub fn drop_name(labels: &mut Lbls) {
    labels.retain(|(k, _)| k != NAME);
}

/// `{a="1", b="2"}` as Prometheus prints label sets in errors.
pub fn labels_text(labels: &Lbls) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// A string key of a label set.
pub fn key(labels: &Lbls) -> String {
    let mut s = String::new();
    for (k, v) in labels {
        s.push_str(k);
        s.push('\u{0}');
        s.push_str(v);
        s.push('\u{0}');
    }
    s
}

/// Vector matching of a binary operation.
struct Matching {
    card: Card,
    on: bool,
    labels: Vec<String>,
    include: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

impl Matching {
    fn signature(&self, l: &Lbls) -> String {
        let mut s = String::new();
        for (k, v) in l {
            let listed = self.labels.iter().any(|x| x == k);
            let keep = if self.on {
                listed
            } else {
                !listed && k != NAME
            };
            if keep {
                s.push_str(k);
                s.push('\u{0}');
                s.push_str(v);
                s.push('\u{0}');
            }
        }
        s
    }

    fn matched_labels(&self, l: &Lbls) -> Lbls {
        l.iter()
            .filter(|(k, _)| {
                let listed = self.labels.iter().any(|x| x == k);
                if self.on {
                    listed
                } else {
                    !listed && k != NAME
                }
            })
            .cloned()
            .collect()
    }
}

fn is_comparison(op: u16) -> bool {
    matches!(op, T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE)
}

/// Arithmetic drops the metric name; in 2.42 `atan2` keeps it (as comparisons do).
fn drops_name(op: u16) -> bool {
    matches!(op, T_ADD | T_SUB | T_MUL | T_DIV | T_MOD | T_POW)
}

/// Prometheus' `vectorElemBinop`: the value and whether a comparison keeps the sample.
fn elem_binop(op: u16, l: f64, r: f64) -> Result<(f64, bool), EvalError> {
    Ok(match op {
        T_ADD => (l + r, true),
        T_SUB => (l - r, true),
        T_MUL => (l * r, true),
        T_DIV => (l / r, true),
        T_POW => (l.powf(r), true),
        T_MOD => (l % r, true),
        T_ATAN2 => (l.atan2(r), true),
        T_EQLC => (l, l == r),
        T_NEQ => (l, l != r),
        T_GTR => (l, l > r),
        T_LSS => (l, l < r),
        T_GTE => (l, l >= r),
        T_LTE => (l, l <= r),
        other => {
            return Err(exec(format!(
                "operator {} is not allowed here",
                TokenType::new(other)
            )));
        }
    })
}

/// The first multiple of `step` at or after `t` (Prometheus' subquery alignment).
fn align_up(t: i64, step: i64) -> i64 {
    // Go's integer division truncates toward zero; Prometheus then adds a step when below `t`.
    let mut s = step * (t / step);
    if s < t {
        s += step;
    }
    s
}

/// The windows `[lo, hi]` a range argument covers at each evaluation time, and its length.
pub struct Windows {
    pub bounds: Vec<(i64, i64)>,
    pub range_ms: i64,
}

impl Windows {
    /// Index range of `samples` inside window `i` (closed on both ends, as Prometheus 2.x).
    pub fn slice<'s>(&self, samples: &'s [(i64, f64)], i: usize) -> &'s [(i64, f64)] {
        let (lo, hi) = self.bounds[i];
        let a = samples.partition_point(|s| s.0 < lo);
        let b = samples.partition_point(|s| s.0 <= hi);
        &samples[a..b.max(a)]
    }
}

impl Evaluator<'_> {
    fn check(&self) -> Result<(), EvalError> {
        if self.env.cancel.load(Ordering::Relaxed) {
            return Err(EvalError::Cancelled(
                "the client disconnected or the time limit passed",
            ));
        }
        Ok(())
    }

    fn at_base(&self, t: i64, at: &Option<AtModifier>) -> i64 {
        match at {
            None => t,
            Some(AtModifier::Start) => self.env.start,
            Some(AtModifier::End) => self.env.end,
            Some(AtModifier::At(st)) => systime_ms(st),
        }
    }

    fn count_result(&self, v: &Val) -> Result<(), EvalError> {
        let points = match v {
            Val::Scalar(x) => x.len(),
            Val::Vector(s) => s.iter().map(|s| s.values.iter().flatten().count()).sum(),
            Val::Matrix(m) => m.iter().map(|s| s.samples.len()).sum(),
            Val::Str(_) => 0,
        };
        self.env.budget.result(points)
    }

    pub fn eval(&mut self, e: &Expr, times: &[i64]) -> Result<Val, EvalError> {
        self.check()?;
        let v = match e {
            Expr::NumberLiteral(n) => Val::Scalar(vec![n.val; times.len()]),
            Expr::StringLiteral(s) => Val::Str(s.val.clone()),
            Expr::Paren(p) => self.eval(&p.expr, times)?,
            Expr::Unary(u) => match self.eval(&u.expr, times)? {
                Val::Scalar(mut x) => {
                    x.iter_mut().for_each(|v| *v = -*v);
                    Val::Scalar(x)
                }
                Val::Vector(mut s) => {
                    for x in &mut s {
                        drop_name(&mut x.labels);
                        x.values.iter_mut().flatten().for_each(|v| *v = -*v);
                    }
                    Val::Vector(merge_same_labels(s)?)
                }
                _ => return Err(exec("unary minus needs a scalar or an instant vector")),
            },
            Expr::VectorSelector(vs) => Val::Vector(
                self.instant_selector(vs, times)?
                    .into_iter()
                    .map(|(labels, pts)| Series {
                        labels,
                        values: pts.into_iter().map(|p| p.map(|p| p.1)).collect(),
                    })
                    .collect(),
            ),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                let (series, w) = self.range_arg(e, times)?;
                // Only an instant query returns a matrix: the samples of its one window.
                Val::Matrix(
                    series
                        .into_iter()
                        .map(|s| RangeSeries {
                            samples: w.slice(&s.samples, 0).to_vec(),
                            labels: s.labels,
                        })
                        .filter(|s| !s.samples.is_empty())
                        .collect(),
                )
            }
            Expr::Aggregate(a) => self.aggregate(a, times)?,
            Expr::Binary(b) => self.binary(b, times)?,
            Expr::Call(c) => functions::call(self, c, times)?,
            Expr::Extension(_) => {
                return Err(EvalError::Unsupported("an extension expression".into()));
            }
        };
        self.count_result(&v)?;
        Ok(v)
    }

    /// Evaluates to a per-time scalar (for function and aggregation parameters).
    pub fn eval_scalar(&mut self, e: &Expr, times: &[i64]) -> Result<Vec<f64>, EvalError> {
        match self.eval(e, times)? {
            Val::Scalar(x) => Ok(x),
            _ => Err(exec(format!("expected a scalar, got {e}"))),
        }
    }

    pub fn eval_vector(&mut self, e: &Expr, times: &[i64]) -> Result<Vec<Series>, EvalError> {
        match self.eval(e, times)? {
            Val::Vector(v) => Ok(v),
            _ => Err(exec(format!("expected an instant vector, got {e}"))),
        }
    }

    /// The newest sample at or before each time's reference point, within the lookback.
    pub fn instant_selector(
        &mut self,
        vs: &VectorSelector,
        times: &[i64],
    ) -> Result<Vec<Sampled>, EvalError> {
        let off = offset_ms(&vs.offset);
        let refs: Vec<i64> = times
            .iter()
            .map(|&t| self.at_base(t, &vs.at) - off)
            .collect();
        let (Some(lo), Some(hi)) = (refs.iter().min(), refs.iter().max()) else {
            return Ok(Vec::new());
        };
        let lookback = self.env.lookback_ms;
        let data = self.loader.load(vs, lo - lookback, *hi)?;
        self.check()?;
        Ok(data
            .into_iter()
            .map(|s| {
                let pts = refs
                    .iter()
                    .map(|&r| {
                        let i = s.samples.partition_point(|p| p.0 <= r);
                        (i > 0)
                            .then(|| s.samples[i - 1])
                            .filter(|p| p.0 >= r - lookback)
                    })
                    .collect();
                (s.labels, pts)
            })
            .filter(|(_, pts): &Sampled| pts.iter().any(Option::is_some))
            .collect())
    }

    /// The series and per-time windows of a range argument (a matrix selector or a subquery).
    pub fn range_arg(
        &mut self,
        e: &Expr,
        times: &[i64],
    ) -> Result<(Vec<RangeSeries>, Windows), EvalError> {
        match e {
            Expr::Paren(p) => self.range_arg(&p.expr, times),
            Expr::MatrixSelector(ms) => {
                let range_ms = duration_ms(&ms.range);
                let off = offset_ms(&ms.vs.offset);
                let bounds: Vec<(i64, i64)> = times
                    .iter()
                    .map(|&t| {
                        let r = self.at_base(t, &ms.vs.at) - off;
                        (r - range_ms, r)
                    })
                    .collect();
                let lo = bounds.iter().map(|b| b.0).min().unwrap_or(0);
                let hi = bounds.iter().map(|b| b.1).max().unwrap_or(0);
                let series = if bounds.is_empty() {
                    Vec::new()
                } else {
                    self.loader.load(&ms.vs, lo, hi)?
                };
                Ok((series, Windows { bounds, range_ms }))
            }
            Expr::Subquery(sq) => self.subquery(sq, times),
            other => Err(exec(format!(
                "expected a range vector (a selector with [range] or a subquery), got {other}"
            ))),
        }
    }

    fn subquery(
        &mut self,
        sq: &SubqueryExpr,
        times: &[i64],
    ) -> Result<(Vec<RangeSeries>, Windows), EvalError> {
        let range_ms = duration_ms(&sq.range);
        let step = sq
            .step
            .as_ref()
            .map(duration_ms)
            .filter(|s| *s > 0)
            .unwrap_or(self.env.subquery_step_ms)
            .max(1);
        let off = offset_ms(&sq.offset);
        let bounds: Vec<(i64, i64)> = times
            .iter()
            .map(|&t| {
                let r = self.at_base(t, &sq.at) - off;
                (r - range_ms, r)
            })
            .collect();
        let (Some(lo), Some(hi)) = (
            bounds.iter().map(|b| b.0).min(),
            bounds.iter().map(|b| b.1).max(),
        ) else {
            return Ok((Vec::new(), Windows { bounds, range_ms }));
        };
        let first = align_up(lo, step);
        let n = if hi < first {
            0
        } else {
            ((hi - first) / step) as usize + 1
        };
        self.env.budget.result(n)?;
        let grid: Vec<i64> = (0..n).map(|i| first + i as i64 * step).collect();
        let inner = self.eval_vector(&sq.expr, &grid)?;
        let series = inner
            .into_iter()
            .map(|s| RangeSeries {
                labels: s.labels,
                samples: grid
                    .iter()
                    .zip(s.values)
                    .filter_map(|(t, v)| v.map(|v| (*t, v)))
                    .collect(),
            })
            .collect();
        Ok((series, Windows { bounds, range_ms }))
    }

    fn aggregate(&mut self, a: &AggregateExpr, times: &[i64]) -> Result<Val, EvalError> {
        let op = a.op.id();
        let n = times.len();
        // Parameters are evaluated before the argument, as Prometheus does.
        let mut param: Option<Vec<f64>> = None;
        let mut label_param: Option<String> = None;
        if let Some(p) = &a.param {
            match self.eval(p, times)? {
                Val::Scalar(x) => param = Some(x),
                Val::Str(s) => label_param = Some(s),
                _ => return Err(exec(format!("invalid parameter of {}", a.op))),
            }
        }
        let input = self.eval_vector(&a.expr, times)?;
        let (by, names): (bool, Vec<String>) = match &a.modifier {
            None => (true, Vec::new()),
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
        };
        let group_labels = |l: &Lbls| -> Lbls {
            l.iter()
                .filter(|(k, _)| {
                    if by {
                        names.iter().any(|x| x == k)
                    } else {
                        k != NAME && !names.iter().any(|x| x == k)
                    }
                })
                .cloned()
                .collect()
        };
        let mut groups: Vec<(Lbls, Vec<usize>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, s) in input.iter().enumerate() {
            let g = group_labels(&s.labels);
            let k = key(&g);
            let gi = *index.entry(k).or_insert_with(|| {
                groups.push((g, Vec::new()));
                groups.len() - 1
            });
            groups[gi].1.push(i);
        }
        match op {
            T_TOPK | T_BOTTOMK => {
                let ks = param.ok_or_else(|| exec("topk/bottomk need a parameter"))?;
                let mut out: Vec<Series> = input
                    .iter()
                    .map(|s| Series {
                        labels: s.labels.clone(),
                        values: vec![None; n],
                    })
                    .collect();
                for (_, members) in &groups {
                    for (t, &kf) in ks.iter().enumerate() {
                        let k = if kf.is_nan() { 0 } else { kf.min(1e9) as i64 };
                        if k < 1 {
                            continue;
                        }
                        let mut present: Vec<(usize, f64)> = members
                            .iter()
                            .filter_map(|&m| input[m].values[t].map(|v| (m, v)))
                            .collect();
                        // NaN sorts last for both (Prometheus replaces it by any real value).
                        present.sort_by(|a, b| {
                            let (x, y) = (a.1, b.1);
                            match (x.is_nan(), y.is_nan()) {
                                (true, true) => std::cmp::Ordering::Equal,
                                (true, false) => std::cmp::Ordering::Greater,
                                (false, true) => std::cmp::Ordering::Less,
                                _ if op == T_TOPK => y.total_cmp(&x),
                                _ => x.total_cmp(&y),
                            }
                        });
                        for (m, v) in present.into_iter().take(k as usize) {
                            out[m].values[t] = Some(v);
                        }
                    }
                }
                out.retain(|s| s.values.iter().any(Option::is_some));
                Ok(Val::Vector(out))
            }
            T_COUNT_VALUES => {
                let label = label_param.ok_or_else(|| exec("count_values needs a label name"))?;
                if !functions::valid_label_name(&label) {
                    return Err(exec(format!("invalid label name {label:?}")));
                }
                let mut out: Vec<Series> = Vec::new();
                let mut idx: HashMap<String, usize> = HashMap::new();
                for (g, members) in &groups {
                    for t in 0..n {
                        for &m in members {
                            let Some(v) = input[m].values[t] else {
                                continue;
                            };
                            let mut l = g.clone();
                            set_label(&mut l, &label, &functions::format_go_float(v));
                            let k = key(&l);
                            let oi = *idx.entry(k).or_insert_with(|| {
                                out.push(Series {
                                    labels: l,
                                    values: vec![None; n],
                                });
                                out.len() - 1
                            });
                            let slot = &mut out[oi].values[t];
                            *slot = Some(slot.unwrap_or(0.0) + 1.0);
                        }
                    }
                }
                Ok(Val::Vector(out))
            }
            _ => {
                let mut out = Vec::with_capacity(groups.len());
                for (g, members) in groups {
                    let mut values = vec![None; n];
                    let mut buf: Vec<f64> = Vec::new();
                    for (t, slot) in values.iter_mut().enumerate() {
                        buf.clear();
                        buf.extend(members.iter().filter_map(|&m| input[m].values[t]));
                        if buf.is_empty() {
                            continue;
                        }
                        let q = param.as_ref().map(|p| p[t]).unwrap_or(f64::NAN);
                        *slot = Some(aggregate_values(op, &mut buf, q)?);
                    }
                    out.push(Series { labels: g, values });
                }
                out.retain(|s| s.values.iter().any(Option::is_some));
                Ok(Val::Vector(out))
            }
        }
    }

    fn binary(&mut self, b: &BinaryExpr, times: &[i64]) -> Result<Val, EvalError> {
        let op = b.op.id();
        let lhs = self.eval(&b.lhs, times)?;
        let rhs = self.eval(&b.rhs, times)?;
        let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
        if let Some(m) = &b.modifier
            && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
        {
            return Err(EvalError::Unsupported(
                "the fill/fill_left/fill_right modifier (newer than Prometheus 2.42)".into(),
            ));
        }
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => {
                let mut out = Vec::with_capacity(l.len());
                for (a, c) in l.into_iter().zip(r) {
                    let (v, keep) = elem_binop(op, a, c)?;
                    out.push(if is_comparison(op) {
                        if keep { 1.0 } else { 0.0 }
                    } else {
                        v
                    });
                }
                Ok(Val::Scalar(out))
            }
            (Val::Vector(v), Val::Scalar(s)) => {
                vector_scalar(op, v, &s, false, return_bool).map(Val::Vector)
            }
            (Val::Scalar(s), Val::Vector(v)) => {
                vector_scalar(op, v, &s, true, return_bool).map(Val::Vector)
            }
            (Val::Vector(l), Val::Vector(r)) => {
                let m = matching(b, op);
                let out = match op {
                    T_LAND | T_LOR | T_LUNLESS => set_op(op, l, r, &m, times.len()),
                    _ => vector_binop(op, l, r, &m, return_bool, times.len())?,
                };
                Ok(Val::Vector(out))
            }
            _ => Err(exec(format!(
                "binary operator {} needs scalars or instant vectors",
                b.op
            ))),
        }
    }
}

fn matching(b: &BinaryExpr, op: u16) -> Matching {
    let set = matches!(op, T_LAND | T_LOR | T_LUNLESS);
    let (card, include) = match b.modifier.as_ref().map(|m| &m.card) {
        Some(VectorMatchCardinality::ManyToOne(l)) => (Card::ManyToOne, l.labels.clone()),
        Some(VectorMatchCardinality::OneToMany(l)) => (Card::OneToMany, l.labels.clone()),
        Some(VectorMatchCardinality::ManyToMany) => (Card::ManyToMany, Vec::new()),
        _ if set => (Card::ManyToMany, Vec::new()),
        _ => (Card::OneToOne, Vec::new()),
    };
    let (on, labels) = match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
        Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
        Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
        None => (false, Vec::new()),
    };
    Matching {
        card,
        on,
        labels,
        include,
    }
}

/// Series that ended up with the same labels are merged when their values never share a
/// time; otherwise the query fails as in Prometheus.
pub fn merge_same_labels(series: Vec<Series>) -> Result<Vec<Series>, EvalError> {
    let mut out: Vec<Series> = Vec::with_capacity(series.len());
    let mut idx: HashMap<String, usize> = HashMap::new();
    for s in series {
        let k = key(&s.labels);
        match idx.get(&k) {
            None => {
                idx.insert(k, out.len());
                out.push(s);
            }
            Some(&i) => {
                let target = &mut out[i];
                for (slot, v) in target.values.iter_mut().zip(s.values) {
                    if v.is_some() {
                        if slot.is_some() {
                            return Err(exec(
                                "vector cannot contain metrics with the same labelset",
                            ));
                        }
                        *slot = v;
                    }
                }
            }
        }
    }
    Ok(out)
}

fn vector_scalar(
    op: u16,
    v: Vec<Series>,
    s: &[f64],
    swap: bool,
    return_bool: bool,
) -> Result<Vec<Series>, EvalError> {
    if matches!(op, T_LAND | T_LOR | T_LUNLESS) {
        return Err(exec("set operators need instant vectors on both sides"));
    }
    let mut out = Vec::with_capacity(v.len());
    for mut series in v {
        for (t, slot) in series.values.iter_mut().enumerate() {
            let Some(x) = *slot else { continue };
            let (l, r) = if swap { (s[t], x) } else { (x, s[t]) };
            let (mut value, mut keep) = elem_binop(op, l, r)?;
            // A comparison keeps the vector's value even when the vector is on the right.
            if is_comparison(op) && swap {
                value = r;
            }
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            *slot = keep.then_some(value);
        }
        if drops_name(op) || return_bool {
            drop_name(&mut series.labels);
        }
        if series.values.iter().any(Option::is_some) {
            out.push(series);
        }
    }
    merge_same_labels(out)
}

fn set_op(op: u16, l: Vec<Series>, r: Vec<Series>, m: &Matching, n: usize) -> Vec<Series> {
    let lsig: Vec<String> = l.iter().map(|s| m.signature(&s.labels)).collect();
    let rsig: Vec<String> = r.iter().map(|s| m.signature(&s.labels)).collect();
    fn present<'s>(
        side: &[Series],
        sigs: &'s [String],
        t: usize,
    ) -> std::collections::HashSet<&'s str> {
        side.iter()
            .zip(sigs)
            .filter(|(s, _)| s.values[t].is_some())
            .map(|(_, g)| g.as_str())
            .collect()
    }
    let mut out: Vec<Series> = Vec::new();
    let mut idx: HashMap<String, usize> = HashMap::new();
    let mut put = |out: &mut Vec<Series>, labels: &Lbls, t: usize, v: f64| {
        let k = key(labels);
        let i = *idx.entry(k).or_insert_with(|| {
            out.push(Series {
                labels: labels.clone(),
                values: vec![None; n],
            });
            out.len() - 1
        });
        out[i].values[t] = Some(v);
    };
    for t in 0..n {
        match op {
            T_LAND => {
                let rs = present(&r, &rsig, t);
                for (s, g) in l.iter().zip(&lsig) {
                    if let Some(v) = s.values[t]
                        && rs.contains(g.as_str())
                    {
                        put(&mut out, &s.labels, t, v);
                    }
                }
            }
            T_LOR => {
                let ls = present(&l, &lsig, t);
                for s in &l {
                    if let Some(v) = s.values[t] {
                        put(&mut out, &s.labels, t, v);
                    }
                }
                for (s, g) in r.iter().zip(&rsig) {
                    if let Some(v) = s.values[t]
                        && !ls.contains(g.as_str())
                    {
                        put(&mut out, &s.labels, t, v);
                    }
                }
            }
            _ => {
                let rs = present(&r, &rsig, t);
                for (s, g) in l.iter().zip(&lsig) {
                    if let Some(v) = s.values[t]
                        && !rs.contains(g.as_str())
                    {
                        put(&mut out, &s.labels, t, v);
                    }
                }
            }
        }
    }
    out
}

fn result_labels(op: u16, l: &Lbls, r: &Lbls, m: &Matching) -> Lbls {
    let mut out = l.clone();
    if drops_name(op) {
        drop_name(&mut out);
    }
    if m.card == Card::OneToOne {
        if m.on {
            out.retain(|(k, _)| m.labels.iter().any(|x| x == k));
        } else {
            out.retain(|(k, _)| !m.labels.iter().any(|x| x == k));
        }
    }
    for name in &m.include {
        // Labels listed in group_x are taken from the "one" side.
        let v = get(r, name).unwrap_or("").to_string();
        set_label(&mut out, name, &v);
    }
    out
}

fn vector_binop(
    op: u16,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    m: &Matching,
    return_bool: bool,
    n: usize,
) -> Result<Vec<Series>, EvalError> {
    if m.card == Card::ManyToMany {
        return Err(exec(
            "many-to-many matching is only allowed for set operators",
        ));
    }
    let swapped = m.card == Card::OneToMany;
    // The right side is the "one" side after swapping.
    let (lhs, rhs) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let lsig: Vec<String> = lhs.iter().map(|s| m.signature(&s.labels)).collect();
    let rsig: Vec<String> = rhs.iter().map(|s| m.signature(&s.labels)).collect();
    let mut out: Vec<Series> = Vec::new();
    let mut out_idx: HashMap<String, usize> = HashMap::new();
    let mut pair_out: HashMap<(usize, usize), usize> = HashMap::new();
    for t in 0..n {
        let mut right: HashMap<&str, usize> = HashMap::new();
        for (ri, s) in rhs.iter().enumerate() {
            if s.values[t].is_none() {
                continue;
            }
            if let Some(&dup) = right.get(rsig[ri].as_str()) {
                let side = if swapped { "left" } else { "right" };
                return Err(exec(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    labels_text(&m.matched_labels(&s.labels)),
                    labels_text(&s.labels),
                    labels_text(&rhs[dup].labels)
                )));
            }
            right.insert(rsig[ri].as_str(), ri);
        }
        let mut matched: HashMap<&str, Vec<usize>> = HashMap::new();
        for (li, s) in lhs.iter().enumerate() {
            let Some(lv) = s.values[t] else { continue };
            let Some(&ri) = right.get(lsig[li].as_str()) else {
                continue;
            };
            let rv = rhs[ri].values[t].unwrap_or(f64::NAN);
            let (vl, vr) = if swapped { (rv, lv) } else { (lv, rv) };
            let (mut value, keep) = elem_binop(op, vl, vr)?;
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            let oi = match pair_out.get(&(li, ri)) {
                Some(&oi) => oi,
                None => {
                    let mut labels = result_labels(op, &s.labels, &rhs[ri].labels, m);
                    if return_bool {
                        drop_name(&mut labels);
                    }
                    let k = key(&labels);
                    let oi = *out_idx.entry(k).or_insert_with(|| {
                        out.push(Series {
                            labels,
                            values: vec![None; n],
                        });
                        out.len() - 1
                    });
                    pair_out.insert((li, ri), oi);
                    oi
                }
            };
            let seen = matched.entry(lsig[li].as_str()).or_default();
            if m.card == Card::OneToOne {
                if !seen.is_empty() {
                    return Err(exec(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
            } else if seen.contains(&oi) {
                return Err(exec(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
            seen.push(oi);
            if out[oi].values[t].is_some() {
                return Err(exec("vector cannot contain metrics with the same labelset"));
            }
            out[oi].values[t] = Some(value);
        }
    }
    Ok(out)
}

/// One aggregation over the values present at one time.
fn aggregate_values(op: u16, vals: &mut [f64], q: f64) -> Result<f64, EvalError> {
    Ok(match op {
        T_SUM => vals.iter().sum(),
        T_COUNT => vals.len() as f64,
        T_GROUP => 1.0,
        T_MIN => vals.iter().skip(1).fold(
            vals[0],
            |acc, &v| {
                if acc > v || acc.is_nan() { v } else { acc }
            },
        ),
        T_MAX => vals.iter().skip(1).fold(
            vals[0],
            |acc, &v| {
                if acc < v || acc.is_nan() { v } else { acc }
            },
        ),
        T_AVG => {
            let mut mean = vals[0];
            for (i, &v) in vals.iter().enumerate().skip(1) {
                let count = (i + 1) as f64;
                if mean.is_infinite() {
                    if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                        continue;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        continue;
                    }
                }
                mean += v / count - mean / count;
            }
            mean
        }
        T_STDDEV | T_STDVAR => {
            let (mut mean, mut value, mut count) = (vals[0], 0.0f64, 1.0f64);
            for &v in &vals[1..] {
                count += 1.0;
                let delta = v - mean;
                mean += delta / count;
                value += delta * (v - mean);
            }
            let var = value / count;
            if op == T_STDDEV { var.sqrt() } else { var }
        }
        T_QUANTILE => functions::quantile(q, vals),
        other => {
            return Err(EvalError::Unsupported(format!(
                "the aggregation {}",
                TokenType::new(other)
            )));
        }
    })
}
