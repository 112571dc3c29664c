//! A PromQL subset: parser and evaluator over the store.
//!
//! # What is supported
//!
//! * Series selectors `metric{a="b", c!="d", e=~"re", f!~"re"}` and `{__name__=~"zk_.*"}`; strings in
//!   `"…"` or `'…'` (with Go-style escapes) or `` `…` `` (raw). Regexes are anchored, as in
//!   Prometheus. `offset 1w` after a selector or a range.
//! * Range functions on a selector: `rate(sel[5m])`, `increase(sel[5m])`, `avg_over_time`,
//!   `min_over_time`, `max_over_time`, `sum_over_time`, `count_over_time`, `last_over_time`.
//! * Aggregations `sum | avg | min | max | count`, with `by (l, …)` or `without (l, …)` written
//!   before or after the parenthesised argument.
//! * Number literals (`1`, `2.5e3`, `Inf`, `NaN`), unary minus, `+ - * /` between scalars, between
//!   a vector and a scalar, and between two vectors (one-to-one on identical label sets without the
//!   metric name).
//! * Comments (`# …` to the end of the line).
//! * A range selector alone as the whole query of `/api/v1/query` (`up[5m]`,
//!   `zk_znode_count{cluster="lab"}[1h] offset 1d`): the raw samples in `(t − range, t]` as a
//!   matrix, as in Prometheus ([`parse_range_selector`]). Anywhere else a range is only allowed
//!   inside a range function.
//!
//! # How it differs from Prometheus
//!
//! * Evaluation reads the store's step-aligned buckets (`count, sum, min, max, last, increase`), not
//!   raw samples. On a range query the value of a selector at `t` is the `last` of the newest
//!   non-empty bucket that ends at or before `t` and ends within the 5 m lookback (or one step,
//!   when the step is longer); a sample exactly at `t` lands in the next bucket. So a value can be
//!   up to one bucket older than Prometheus' newest sample ≤ t. Instant queries (`/api/v1/query`)
//!   use the store's exact `value_at` for plain selectors.
//! * `rate` and `increase` add up the buckets' reset-aware increases inside the window (including the
//!   step from the last sample before the window to the first one in it) and do not extrapolate
//!   to the window edges; `rate = increase ÷ window seconds`. A window with samples gives a value
//!   even with a single sample (Prometheus needs two inside the window). A bucket belongs to a
//!   window when its midpoint does; an unaligned window is thus widened or narrowed to whole
//!   buckets (the divisor is the time those buckets span).
//! * At the live edge — no data after the window yet, and the newest bucket ending at most two
//!   sample intervals before the evaluation time — `rate`/`increase` use the window that ends with
//!   the newest bucket, so the newest point does not dip while the next scrape is pending
//!   (Prometheus extrapolates instead). A series that stopped longer ago keeps its window.
//! * Applied to a series stored as a gauge, `rate`/`increase` use the reset-aware differences of the
//!   buckets' last values (no within-bucket resets are seen).
//! * Granularity: a range query reads buckets of the largest size that divides the step, every
//!   range and `start − offset`; if that is below 1 s or would need more than 30 000 buckets per
//!   series, it falls back to the gcd of step and ranges, then to the step (windows approximate).
//!   Instant queries read range functions at 1/60 of the range or finer.
//! * A selector matching more than 10 000 series is refused.
//! * `*_over_time` aggregate the buckets in the window (`avg` is Σsum ÷ Σcount).
//! * Not supported: `irate`, `delta`, other functions, comparison and set operators (`>`, `and`,
//!   `or`, `unless`), `on`/`ignoring`/`group_left`, `topk`/`quantile`/`stddev`, subqueries,
//!   `@` modifiers, `^` and `%`, string results, quoted (UTF-8) metric and label names.
//! * `offset` must be positive.

pub mod ast;
pub mod duration;
pub mod eval;
pub mod parser;

pub use ast::{AggOp, BinOp, Expr, Grouping, RangeFunc, Selector};
pub use duration::parse_duration;
pub use eval::{EvalError, QueryResult, SeriesValues, Value, eval_instant, eval_range};
pub use parser::{ParseError, parse, parse_range_selector, parse_selector};
