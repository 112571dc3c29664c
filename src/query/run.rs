//! Runs queries off the async workers: each query is parsed, evaluated and its syntax tree dropped
//! on a thread of its own with a large stack, at most [`MAX_CONCURRENT`] at a time. The thread
//! blocks on the store's futures through the runtime handle, so chunk decoding happens there too.
//! A cancellation flag, set when the caller's future is dropped (client gone, request timeout) or
//! when [`Limits::timeout`] passes, stops the loops that load and evaluate.

use super::data::StoreLoader;
use super::eval::{
    Budget, Env, EvalError, Evaluator, Lbls, Loader, NAME, Series, Val, duration_ms,
};
use super::guard;
use super::selector::{Selector, from_vector_selector, short_error};
use crate::model::{Labels, Timestamp};
use crate::store::{Store, Tier};
use promql_parser::parser::{Expr, value::ValueType};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Stack of a query thread: deep enough for [`guard::MAX_DEPTH`] levels in the parser's
/// recursive checks, the evaluator and the tree's drop, even in debug builds. Only the pages
/// touched are committed.
pub const QUERY_STACK: usize = 512 << 20;
/// Queries evaluated at once; more wait for a slot.
pub const MAX_CONCURRENT: usize = 4;

static SLOTS: LazyLock<Arc<tokio::sync::Semaphore>> =
    LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT)));

/// Limits and defaults of query evaluation (Prometheus' flags of the same meaning).
#[derive(Clone, Debug)]
pub struct Limits {
    /// `--query.max-samples`: samples loaded in all, and points of any one result.
    pub max_samples: usize,
    /// `--query.timeout`.
    pub timeout: Duration,
    /// `--query.lookback-delta`.
    pub lookback_ms: i64,
    /// The resolution of subqueries that name none (Prometheus' global evaluation interval).
    pub subquery_step_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            lookback_ms: 5 * 60_000,
            subquery_step_ms: 60_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The text is not a query this server evaluates (HTTP 400).
    #[error("{0}")]
    BadQuery(String),
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// One output series: its labels and one value per grid time (None = no value there).
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesValues {
    /// The metric name, if the result still has one.
    pub metric: Option<String>,
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

/// `__name__` (when the result still has a name) followed by the labels.
fn with_name(metric: Option<&str>, labels: &Labels) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(labels.len() + 1);
    if let Some(m) = metric {
        out.push(("__name__".into(), m.to_string()));
    }
    out.extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    out
}

impl SeriesValues {
    /// Labels including `__name__`, as the Prometheus API writes them.
    pub fn metric_labels(&self) -> Vec<(String, String)> {
        with_name(self.metric.as_deref(), &self.labels)
    }

    /// `name{a="b"}` for legends.
    pub fn display_name(&self) -> String {
        let labels = self.labels.canonical();
        match (&self.metric, labels.is_empty()) {
            (Some(m), true) => m.clone(),
            (Some(m), false) => format!("{m}{{{labels}}}"),
            (None, _) => format!("{{{labels}}}"),
        }
    }
}

/// Raw samples of one series (a matrix result).
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSamples {
    pub metric: Option<String>,
    pub labels: Labels,
    pub samples: Vec<(Timestamp, f64)>,
}

impl SeriesSamples {
    /// Labels including `__name__`, as the Prometheus API writes them.
    pub fn metric_labels(&self) -> Vec<(String, String)> {
        with_name(self.metric.as_deref(), &self.labels)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// One value per grid time.
    Scalar(Vec<f64>),
    Vector(Vec<SeriesValues>),
    Matrix(Vec<SeriesSamples>),
    String(String),
}

/// The result of a query over its evaluation times.
#[derive(Clone, Debug)]
pub struct QueryResult {
    pub times: Vec<Timestamp>,
    pub value: Value,
    /// The storage tiers that answered.
    pub tiers: Vec<Tier>,
    /// The vector's order is meaningful (`sort`, `sort_desc`, `sort_by_label`, `topk` …).
    pub ordered: bool,
    /// Samples loaded from the store.
    pub samples_loaded: usize,
}

impl QueryResult {
    /// The vector result as series (a scalar becomes one series without labels).
    pub fn into_series(self) -> Vec<SeriesValues> {
        match self.value {
            Value::Vector(v) => v,
            Value::Scalar(x) => vec![SeriesValues {
                metric: None,
                labels: Labels::new(),
                values: x.into_iter().map(Some).collect(),
            }],
            Value::Matrix(_) | Value::String(_) => Vec::new(),
        }
    }
}

/// What the pages want to know about a query without evaluating it.
#[derive(Clone, Debug, Default)]
pub struct Shape {
    /// The query is one plain selector (no offset, no `@`).
    pub selector: Option<Selector>,
    /// The metric name of the first selector.
    pub first_metric: Option<String>,
    /// The query applies `rate`/`irate`/`deriv` (its values are per second).
    pub per_second: bool,
}

fn split_labels(l: Lbls) -> (Option<String>, Labels) {
    let mut metric = None;
    let mut rest = Vec::with_capacity(l.len());
    for (k, v) in l {
        if k == NAME {
            metric = Some(v);
        } else {
            rest.push((k, v));
        }
    }
    (metric, Labels::from_pairs(rest))
}

fn convert(v: Val) -> Value {
    match v {
        Val::Scalar(x) => Value::Scalar(x),
        Val::Str(s) => Value::String(s),
        Val::Vector(series) => Value::Vector(
            series
                .into_iter()
                .filter(|s| s.values.iter().any(Option::is_some))
                .map(|Series { labels, values }| {
                    let (metric, labels) = split_labels(labels);
                    SeriesValues {
                        metric,
                        labels,
                        values,
                    }
                })
                .collect(),
        ),
        Val::Matrix(m) => Value::Matrix(
            m.into_iter()
                .map(|s| {
                    let (metric, labels) = split_labels(s.labels);
                    SeriesSamples {
                        metric,
                        labels,
                        samples: s.samples,
                    }
                })
                .collect(),
        ),
    }
}

/// Sets the flag when dropped, so a blocking query stops when its caller goes away.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `f` on a query thread; `f` gets the cancellation flag.
pub async fn on_query_thread<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce(&AtomicBool) -> Result<T, QueryError> + Send + 'static,
) -> Result<T, QueryError> {
    let permit = SLOTS
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| QueryError::Eval(EvalError::Cancelled("the server is shutting down")))?;
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let flag = cancel.clone();
    std::thread::Builder::new()
        .name("kafkascope-query".into())
        .stack_size(QUERY_STACK)
        .spawn(move || {
            // The slot is held until the thread is really done, even when the caller left.
            let _permit = permit;
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&flag)));
            let _ = tx.send(r);
        })
        .map_err(|e| {
            QueryError::Eval(EvalError::Execution(format!(
                "cannot start a query thread: {e}"
            )))
        })?;
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(Ok(r))) => r,
        Ok(Ok(Err(_))) => {
            tracing::error!("A query thread panicked.");
            Err(QueryError::Eval(EvalError::Execution(
                "query evaluation failed unexpectedly; the server log has the details".into(),
            )))
        }
        Ok(Err(_)) => Err(QueryError::Eval(EvalError::Execution(
            "the query thread ended without an answer".into(),
        ))),
        Err(_) => {
            cancel.store(true, Ordering::Relaxed);
            Err(QueryError::Eval(EvalError::Cancelled(
                "query timed out in expression evaluation",
            )))
        }
    }
}

/// Parses on the current (query) thread, after the lexical depth check.
pub fn parse_checked(text: &str) -> Result<Expr, QueryError> {
    guard::check(text, guard::MAX_DEPTH).map_err(|e| QueryError::BadQuery(e.to_string()))?;
    promql_parser::parser::parse(text).map_err(|e| {
        QueryError::BadQuery(short_error(&if e == "invalid promql query" {
            format!("parse error: {text:?} is not a valid PromQL expression")
        } else {
            format!("parse error: {e}")
        }))
    })
}

/// Calls `f` on `e` and every expression inside it, parents first.
pub fn walk<'e>(e: &'e Expr, f: &mut dyn FnMut(&'e Expr)) {
    f(e);
    match e {
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                walk(p, f);
            }
            walk(&a.expr, f);
        }
        Expr::Unary(u) => walk(&u.expr, f),
        Expr::Binary(b) => {
            walk(&b.lhs, f);
            walk(&b.rhs, f);
        }
        Expr::Paren(p) => walk(&p.expr, f),
        Expr::Subquery(s) => walk(&s.expr, f),
        Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, f)),
        _ => {}
    }
}

/// Long-range charts read a rollup tier: for a range query whose step is at least 10 min, the
/// coarsest of the 1 m, 5 m and 1 h tiers whose resolution is at most a tenth of the step and a
/// fifth of every range in the query (matrix selectors, subqueries, and the 5 min lookback of
/// instant selectors). Data newer than the tier's newest bucket is still read raw.
pub fn rollup_tier(e: &Expr, step_ms: i64, lookback_ms: i64) -> Option<Tier> {
    if step_ms < 10 * 60_000 {
        return None;
    }
    let mut min_range = i64::MAX;
    walk(e, &mut |n| match n {
        Expr::VectorSelector(_) => min_range = min_range.min(lookback_ms),
        Expr::MatrixSelector(m) => min_range = min_range.min(duration_ms(&m.range)),
        Expr::Subquery(s) => min_range = min_range.min(duration_ms(&s.range)),
        _ => {}
    });
    [Tier::H1, Tier::M5, Tier::M1].into_iter().find(|t| {
        let res = t.resolution_ms().unwrap_or(i64::MAX);
        res * 10 <= step_ms && res * 5 <= min_range
    })
}

fn ordered(e: &Expr) -> bool {
    match e {
        Expr::Paren(p) => ordered(&p.expr),
        Expr::Call(c) => matches!(
            c.func.name,
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc"
        ),
        Expr::Aggregate(a) => {
            use promql_parser::parser::token::{T_BOTTOMK, T_TOPK};
            matches!(a.op.id(), T_TOPK | T_BOTTOMK)
        }
        _ => false,
    }
}

fn shape_of(e: &Expr) -> Shape {
    let mut s = Shape::default();
    let mut inner = e;
    while let Expr::Paren(p) = inner {
        inner = &p.expr;
    }
    if let Expr::VectorSelector(vs) = inner
        && vs.offset.is_none()
        && vs.at.is_none()
    {
        s.selector = from_vector_selector(vs).ok();
    }
    walk(e, &mut |n| match n {
        Expr::VectorSelector(vs) if s.first_metric.is_none() => {
            s.first_metric = vs.name.clone().or_else(|| {
                vs.matchers
                    .matchers
                    .iter()
                    .find(|m| m.name == NAME)
                    .map(|m| m.value.clone())
            })
        }
        Expr::MatrixSelector(m) if s.first_metric.is_none() => s.first_metric = m.vs.name.clone(),
        Expr::Call(c) if matches!(c.func.name, "rate" | "irate" | "deriv") => s.per_second = true,
        _ => {}
    });
    s
}

/// What the pages need to know about a query (parsed on a query thread).
pub async fn shape(text: &str) -> Result<Shape, QueryError> {
    let text = text.to_string();
    on_query_thread(Duration::from_secs(30), move |_| {
        let e = parse_checked(&text)?;
        Ok(shape_of(&e))
    })
    .await
}

/// `/api/v1/format_query`: the query pretty-printed by `promql-parser`.
pub async fn format_query(text: &str) -> Result<String, QueryError> {
    let text = text.to_string();
    on_query_thread(Duration::from_secs(30), move |_| {
        let e = parse_checked(&text)?;
        Ok(e.prettify())
    })
    .await
}

/// A query over a grid: `start`, `start + step`, … ≤ `end` (an instant query has one time and
/// step 0).
pub(crate) struct Job {
    pub text: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub step: i64,
    pub limits: Limits,
}

/// Parses and evaluates `job` with data from `loader` (on the calling thread, which must have a
/// large stack); the syntax tree is dropped here too.
pub(crate) fn evaluate_with(
    loader: &mut dyn Loader,
    job: &Job,
    budget: &Budget,
    cancel: &AtomicBool,
) -> Result<(Vec<Timestamp>, Val, bool), QueryError> {
    let expr = parse_checked(&job.text)?;
    let range = job.step > 0;
    if range {
        match expr.value_type() {
            ValueType::Matrix => {
                return Err(QueryError::BadQuery(
                    "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector (a range selector alone works in /api/v1/query, which returns its raw samples)".into(),
                ));
            }
            ValueType::String => {
                return Err(QueryError::BadQuery(
                    "invalid expression type \"string\" for range query, must be Scalar or instant Vector".into(),
                ));
            }
            _ => {}
        }
    }
    loader.plan(&expr, job.step, job.limits.lookback_ms);
    let times: Vec<Timestamp> = if range {
        let n = ((job.end - job.start).max(0) / job.step) as usize + 1;
        (0..n).map(|i| job.start + i as i64 * job.step).collect()
    } else {
        vec![job.start]
    };
    let val = Evaluator {
        env: Env {
            start: job.start,
            end: job.end,
            step: job.step,
            lookback_ms: job.limits.lookback_ms,
            subquery_step_ms: job.limits.subquery_step_ms,
            budget,
            cancel,
        },
        loader,
    }
    .eval(&expr, &times)?;
    let ordered = !range && ordered(&expr);
    // The tree is dropped here, on the query thread's large stack.
    drop(expr);
    Ok((times, val, ordered))
}

fn evaluate(
    store: &Store,
    handle: tokio::runtime::Handle,
    job: &Job,
    cancel: &AtomicBool,
) -> Result<QueryResult, QueryError> {
    let budget = Budget::new(job.limits.max_samples);
    let mut loader = StoreLoader {
        store,
        handle,
        budget: &budget,
        cancel,
        rollup: None,
        tiers: Default::default(),
    };
    let (times, val, ordered) = evaluate_with(&mut loader, job, &budget, cancel)?;
    Ok(QueryResult {
        times,
        value: convert(val),
        tiers: loader.tiers.into_iter().collect(),
        ordered,
        samples_loaded: budget.loaded(),
    })
}

async fn run(store: &Store, job: Job) -> Result<QueryResult, QueryError> {
    let store = store.clone();
    let handle = tokio::runtime::Handle::current();
    let timeout = job.limits.timeout;
    on_query_thread(timeout, move |cancel| {
        evaluate(&store, handle, &job, cancel)
    })
    .await
}

/// Evaluates `text` at `start, start + step, …, ≤ end` (Prometheus `/api/v1/query_range`).
pub async fn eval_range(
    store: &Store,
    text: &str,
    start: Timestamp,
    end: Timestamp,
    step_ms: i64,
    limits: &Limits,
) -> Result<QueryResult, QueryError> {
    run(
        store,
        Job {
            text: text.to_string(),
            start,
            end,
            step: step_ms.max(1),
            limits: limits.clone(),
        },
    )
    .await
}

/// Evaluates `text` at one time (Prometheus `/api/v1/query`).
pub async fn eval_instant(
    store: &Store,
    text: &str,
    at: Timestamp,
    limits: &Limits,
) -> Result<QueryResult, QueryError> {
    run(
        store,
        Job {
            text: text.to_string(),
            start: at,
            end: at,
            step: 0,
            limits: limits.clone(),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::eval::{RangeSeries, selector_matches};
    use promql_parser::parser::VectorSelector;

    /// Samples in memory: `up{instance="a|b", job="x"}` = 1 and a counter `req_total` that
    /// grows 1/s, every 15 s for an hour.
    struct Mem<'b>(Vec<RangeSeries>, &'b Budget);

    impl Loader for Mem<'_> {
        fn load(
            &mut self,
            vs: &VectorSelector,
            lo: i64,
            hi: i64,
        ) -> Result<Vec<RangeSeries>, EvalError> {
            let out: Vec<RangeSeries> = self
                .0
                .iter()
                .filter(|s| selector_matches(vs, &s.labels))
                .map(|s| RangeSeries {
                    labels: s.labels.clone(),
                    samples: s
                        .samples
                        .iter()
                        .copied()
                        .filter(|p| p.0 >= lo && p.0 <= hi)
                        .collect(),
                })
                .collect();
            self.1.load(out.iter().map(|s| s.samples.len()).sum())?;
            Ok(out)
        }
    }

    fn mem(budget: &Budget) -> Mem<'_> {
        let l = |pairs: &[(&str, &str)]| -> Lbls {
            let mut v: Lbls = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            v.sort();
            v
        };
        let every = |f: fn(i64) -> f64| (0..=240).map(move |i| (i * 15_000, f(i))).collect();
        Mem(
            vec![
                RangeSeries {
                    labels: l(&[("__name__", "up"), ("instance", "a"), ("job", "x")]),
                    samples: every(|_| 1.0),
                },
                RangeSeries {
                    labels: l(&[("__name__", "up"), ("instance", "b"), ("job", "x")]),
                    samples: every(|_| 1.0),
                },
                RangeSeries {
                    labels: l(&[("__name__", "req_total"), ("instance", "a")]),
                    samples: every(|i| (i * 15) as f64),
                },
            ],
            budget,
        )
    }

    /// Evaluates on a thread with the query stack, as the server does.
    fn eval(text: &str, at: i64, max_samples: usize) -> Result<Val, QueryError> {
        let text = text.to_string();
        std::thread::Builder::new()
            .stack_size(QUERY_STACK)
            .spawn(move || {
                let job = Job {
                    text,
                    start: at,
                    end: at,
                    step: 0,
                    limits: Limits {
                        max_samples,
                        ..Limits::default()
                    },
                };
                let budget = Budget::new(max_samples);
                let cancel = AtomicBool::new(false);
                evaluate_with(&mut mem(&budget), &job, &budget, &cancel).map(|r| r.1)
            })
            .expect("thread")
            .join()
            .expect("no panic")
    }

    fn values(v: &Val) -> Vec<f64> {
        match v {
            Val::Scalar(x) => x.clone(),
            Val::Vector(s) => s.iter().filter_map(|s| s.values[0]).collect(),
            other => panic!("{other:?}"),
        }
    }

    const AT: i64 = 1_800_000;

    #[test]
    fn long_chains_and_deep_nesting_evaluate_up_to_the_limit() {
        let chain = format!("up{}", " * 1".repeat(2_999));
        assert_eq!(
            values(&eval(&chain, AT, 1_000_000).unwrap()),
            vec![1.0, 1.0]
        );
        let parens = format!("{}up{}", "(".repeat(4_000), ")".repeat(4_000));
        assert_eq!(values(&eval(&parens, AT, 1_000_000).unwrap()).len(), 2);
        let calls = format!("{}up{}", "abs(".repeat(2_000), ")".repeat(2_000));
        assert_eq!(
            values(&eval(&calls, AT, 1_000_000).unwrap()),
            vec![1.0, 1.0]
        );
        let deep = format!("{}up{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = eval(&deep, AT, 1_000_000).unwrap_err().to_string();
        assert!(e.contains("too complex") && e.contains("10000"), "{e}");
    }

    #[test]
    fn the_sample_budget_stops_a_query_with_prometheus_message() {
        // 21 samples in the closed 5 min window of each of two series: 42 loaded.
        assert!(eval("count_over_time(up[5m])", AT, 42).is_ok());
        let e = eval("count_over_time(up[5m])", AT, 41).unwrap_err();
        assert!(
            matches!(e, QueryError::Eval(EvalError::TooManySamples)),
            "{e}"
        );
        assert_eq!(e.to_string(), crate::query::TOO_MANY_SAMPLES);
    }

    #[test]
    fn a_set_cancel_flag_stops_evaluation() {
        let job = Job {
            text: "sum(rate(req_total[5m]))".into(),
            start: AT,
            end: AT,
            step: 0,
            limits: Limits::default(),
        };
        let budget = Budget::new(1_000);
        let cancel = AtomicBool::new(true);
        let e = evaluate_with(&mut mem(&budget), &job, &budget, &cancel).unwrap_err();
        assert!(
            matches!(e, QueryError::Eval(EvalError::Cancelled(_))),
            "{e}"
        );
    }

    #[test]
    fn matching_follows_prometheus() {
        let v = eval(
            "rate(req_total[5m]) * on(instance) group_left(job) up",
            AT,
            1_000,
        )
        .unwrap();
        let Val::Vector(s) = v else { panic!() };
        assert_eq!(s.len(), 1);
        assert!(
            s[0].labels.contains(&("job".into(), "x".into())),
            "{:?}",
            s[0].labels
        );
        assert!((s[0].values[0].unwrap() - 1.0).abs() < 1e-12, "1/s");
        // Two `up` series match one req_total on(job)… the right side must be unique.
        let e = eval("req_total + on(job) up", AT, 1_000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("many-to-many matching not allowed"), "{e}");
        let e = eval("up + ignoring(instance) up", AT, 1_000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("many-to-many"), "{e}");
        assert_eq!(
            values(&eval("count(up > bool 0)", AT, 1_000).unwrap()),
            vec![2.0]
        );
        assert_eq!(
            values(&eval("up unless on(instance) req_total", AT, 1_000).unwrap()),
            vec![1.0]
        );
    }

    #[test]
    fn staleness_and_offsets() {
        // 5 min after the last sample the series still answers; a ms later it does not.
        let last = 240 * 15_000;
        assert_eq!(values(&eval("up", last + 300_000, 1_000).unwrap()).len(), 2);
        assert!(values(&eval("up", last + 300_001, 1_000).unwrap()).is_empty());
        assert_eq!(
            values(&eval("req_total offset 1m", AT, 1_000).unwrap()),
            vec![(AT / 1000 - 60) as f64]
        );
        assert_eq!(
            values(&eval("req_total @ 60", AT, 1_000).unwrap()),
            vec![60.0]
        );
    }

    /// Wraps `q` `n` times in templates that keep `up`'s value at ±1.
    fn deep_query(ops: &[u8]) -> (String, f64) {
        let mut q = String::from("up");
        let mut sign = 1.0;
        for op in ops {
            q = match op % 6 {
                0 => format!("{q} * 1"),
                1 => format!("({q})"),
                2 => format!("abs({q})"),
                3 => format!("max by (instance) ({q})"),
                4 => {
                    sign = -sign;
                    format!("-({q})")
                }
                _ => format!("{q} != bool 0"),
            };
            if op % 6 == 2 || op % 6 == 5 {
                sign = 1.0;
            }
        }
        (q, sign)
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(48))]
        /// Any depth is evaluated (within the limit, with the right value) or refused with 400;
        /// none overflows a stack.
        #[test]
        fn deep_generated_queries_evaluate_or_are_refused(ops in proptest::collection::vec(proptest::num::u8::ANY, 0..6_000)) {
            let (q, sign) = deep_query(&ops);
            let shape = guard::check(&q, usize::MAX).expect("balanced");
            match eval(&q, AT, 10_000_000) {
                Ok(v) => {
                    proptest::prop_assert!(shape.depth() <= guard::MAX_DEPTH);
                    proptest::prop_assert_eq!(values(&v), vec![sign, sign]);
                }
                Err(QueryError::BadQuery(m)) => {
                    proptest::prop_assert!(shape.depth() > guard::MAX_DEPTH, "{}", m);
                }
                Err(e) => proptest::prop_assert!(false, "{}", e),
            }
        }

        /// Wide queries: long label sets, long `by` lists, many terms side by side.
        #[test]
        fn wide_generated_queries_evaluate(n in 1usize..3_000) {
            let matchers: Vec<String> = (0..n).map(|i| format!("l{i}=\"\"")).collect();
            let q = format!("up{{{}}}", matchers.join(","));
            proptest::prop_assert_eq!(values(&eval(&q, AT, 1_000_000).unwrap()).len(), 2);
            let by: Vec<String> = (0..n).map(|i| format!("l{i}")).collect();
            let q = format!("sum by ({}) (up)", by.join(","));
            proptest::prop_assert_eq!(values(&eval(&q, AT, 1_000_000).unwrap()), vec![2.0]);
        }
    }
}
