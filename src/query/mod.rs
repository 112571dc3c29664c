//! PromQL over the store: the full grammar, parsed by the `promql-parser` crate, evaluated with
//! Prometheus 2.42's semantics on raw samples.
//!
//! # What is supported
//!
//! Every construct `promql-parser` accepts is evaluated, except those listed under "Not
//! supported" below (they answer 400 with a message that names them):
//!
//! * Instant and range vector selectors with all matcher kinds (regexes anchored), `or` between
//!   matcher sets, `offset` (also negative), `@ <time>`, `@ start()`, `@ end()`; subqueries
//!   `expr[range:step]` (default step: 1 min, Prometheus' default evaluation interval).
//! * Lookback of 5 min: an instant selector's value at `t` is the newest sample in `[t − 5m, t]`;
//!   a series without one has no value there. Range windows are `[t − range, t]`, closed at both
//!   ends as in Prometheus 2.x.
//! * All aggregations (`sum avg min max count group stddev stdvar topk bottomk quantile
//!   count_values`) with `by`/`without`.
//! * All binary operators: `+ - * / % ^ atan2`, comparisons with and without `bool`, `and or
//!   unless`, between scalars, vector and scalar, and vectors with `on`/`ignoring` and
//!   `group_left`/`group_right`, including Prometheus' errors (duplicate series on the "one"
//!   side, many-to-one without `group_x`, duplicate output label sets).
//! * Functions: `rate irate increase delta idelta deriv predict_linear` (rate/increase/delta
//!   extrapolate exactly as Prometheus' `extrapolatedRate`, counters reset-aware),
//!   `histogram_quantile label_replace label_join abs ceil floor round exp ln log2 log10 sqrt
//!   clamp clamp_min clamp_max sgn time timestamp vector scalar absent absent_over_time changes
//!   resets sort sort_desc`, every `*_over_time` (`avg min max sum count last present stddev
//!   stdvar quantile`, and the newer `first mad ts_of_first/last/min/max`), the date functions
//!   (`day_of_month day_of_week day_of_year days_in_month hour minute month year`), trigonometry
//!   (`sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh deg rad pi`),
//!   `double_exponential_smoothing` (2.42's `holt_winters`), `sort_by_label(_desc)`, and the
//!   experimental `start() end() range() step() min_of max_of`. Native-histogram functions
//!   (`histogram_count/sum/avg/stddev/stdvar/fraction`) answer an empty vector, as Prometheus
//!   does for float samples: the store keeps only floats.
//! * A range selector or subquery alone in `/api/v1/query` answers a matrix.
//!
//! Results are cross-checked point by point against Debian's Prometheus 2.42 on the same samples
//! (`tests/promql_crosscheck.rs`).
//!
//! # Limits
//!
//! * Depth: before parsing, a lexical scan bounds bracket nesting plus operator count to
//!   [`guard::MAX_DEPTH`] (4096; a 3,000-term chain passes) and reports unbalanced brackets
//!   with their position. Parsing, evaluation and dropping the tree run on a query thread with
//!   a 512 MiB stack reservation ([`run::QUERY_STACK`]), at most [`run::MAX_CONCURRENT`] at once,
//!   so no query shape can overflow a stack of the async workers.
//! * Samples: [`Limits::max_samples`] (Prometheus' `--query.max-samples`, default 50,000,000)
//!   bounds the samples loaded, counted across all series while fetching, and the points of every
//!   intermediate and final result; beyond it the API answers 422 with Prometheus' message.
//! * Time: [`Limits::timeout`] (default 2 min, Prometheus' `--query.timeout`) and a dropped
//!   request (client gone, or the HTTP layer's 30 s request timeout) both set a cancellation flag
//!   that the loading and evaluation loops check.
//! * Error texts echo at most 512 bytes of the query (a 1 MB regex does not come back).
//!
//! # How it differs from Prometheus
//!
//! * Beyond raw retention (default 8 days) only rollup buckets exist. There the evaluator gets
//!   pseudo-samples from the finest tier that has data: one per bucket at the bucket's end,
//!   gauges with the bucket's last value, counters with a cumulative value rebuilt from the
//!   buckets' reset-aware increases (anchored at the newest bucket's real last value). Rates over
//!   that stretch are therefore computed from one point per minute (or 5 min, 1 h, 1 d), and
//!   `*_over_time` see one value per bucket.
//! * Long-range charts: a range query with a step of at least 10 min reads the coarsest of the
//!   1 m, 5 m and 1 h tiers whose resolution is at most a tenth of the step and a fifth of the
//!   shortest range in the query (the 5 min lookback counts as a range); newer data than the
//!   tier holds is read raw. Steps below 10 min always read raw samples (see
//!   [`run::rollup_tier`]).
//! * No staleness markers: a series that stopped has values for 5 min after its last sample,
//!   as in Prometheus for targets that vanish without a stale marker (and for backfilled data).
//! * `sort_by_label` compares label values as plain strings, not Prometheus' natural order.
//! * Not supported: the `fill`/`fill_left`/`fill_right` binary modifiers, `limitk`/`limit_ratio`,
//!   `info()`, `histogram_quantiles()`, `start_timestamp()` (all newer than 2.42 and
//!   experimental); native histograms (the store has none). `holt_winters` is spelled
//!   `double_exponential_smoothing`, as the parser knows only the newer name.

pub mod data;
pub mod eval;
pub mod functions;
pub mod guard;
pub mod run;
pub mod selector;

pub use eval::{EvalError, TOO_MANY_SAMPLES};
pub use run::{
    Limits, QueryError, QueryResult, SeriesSamples, SeriesValues, Shape, Value, eval_instant,
    eval_range, format_query, shape,
};
pub use selector::{Selector, parse_selector};
