//! Series selectors as the rest of the crate uses them (`match[]`, page links): a metric name,
//! label matchers and an offset, parsed by `promql-parser`.

use super::guard;
use crate::duration::format_signed_ms;
use crate::model::{MatchOp, Matcher};
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{Expr, VectorSelector};
use std::fmt;

/// A series selector: `metric{label="value", ...}`, optionally shifted back by `offset`.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    pub metric: Option<String>,
    pub matchers: Vec<Matcher>,
    /// `offset 1w`: read the data this many milliseconds earlier than the evaluation time.
    pub offset_ms: i64,
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = &self.metric {
            f.write_str(m)?;
        }
        if !self.matchers.is_empty() || self.metric.is_none() {
            let inner: Vec<String> = self.matchers.iter().map(|m| m.to_string()).collect();
            write!(f, "{{{}}}", inner.join(", "))?;
        }
        if self.offset_ms != 0 {
            write!(f, " offset {}", format_signed_ms(self.offset_ms))?;
        }
        Ok(())
    }
}

/// Longest error text echoed back (a 1 MB regex must not come back in the error).
const MAX_ERROR: usize = 512;

pub fn short_error(e: &str) -> String {
    if e.len() <= MAX_ERROR {
        return e.to_string();
    }
    let mut cut = MAX_ERROR;
    while !e.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes in all)", &e[..cut], e.len())
}

/// Converts a parsed selector (its `or` alternatives are not representable here).
pub fn from_vector_selector(vs: &VectorSelector) -> Result<Selector, String> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err("selectors with `or` between matcher sets are not supported here".into());
    }
    let mut matchers = Vec::with_capacity(vs.matchers.matchers.len());
    for m in &vs.matchers.matchers {
        let op = match m.op {
            PMatchOp::Equal => MatchOp::Equal,
            PMatchOp::NotEqual => MatchOp::NotEqual,
            PMatchOp::Re(_) => MatchOp::Regex,
            PMatchOp::NotRe(_) => MatchOp::NotRegex,
        };
        matchers.push(
            Matcher::new(m.name.clone(), op, m.value.clone())
                .map_err(|e| short_error(&format!("invalid regular expression: {e}")))?,
        );
    }
    Ok(Selector {
        metric: vs.name.clone(),
        matchers,
        offset_ms: super::eval::offset_ms(&vs.offset),
    })
}

/// Parses a series selector such as `zk_znode_count{cluster="lab"}` (for `match[]`). Runs
/// inline: the lexical check refuses any bracket before the parser sees the text.
pub fn parse_selector(text: &str) -> Result<Selector, String> {
    let shape = guard::check(text, guard::MAX_DEPTH).map_err(|e| e.to_string())?;
    if shape.depth() > 0 {
        return Err(format!(
            "{:?} is not a series selector (such as up{{job=\"x\"}})",
            short_error(text)
        ));
    }
    let expr = promql_parser::parser::parse(text).map_err(|e| short_error(&e))?;
    match expr {
        Expr::VectorSelector(vs) if vs.at.is_none() => from_vector_selector(&vs),
        _ => Err(format!(
            "{:?} is not a series selector (such as up{{job=\"x\"}})",
            short_error(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_print_back() {
        let s = parse_selector(r#"zk_avg_latency{cluster="lab \"a\"", server=~"zk1.*"}"#).unwrap();
        assert_eq!(s.metric.as_deref(), Some("zk_avg_latency"));
        assert_eq!(s.matchers.len(), 2);
        assert!(s.matchers[1].matches(Some("zk1:2181")));
        assert_eq!(parse_selector(&s.to_string()).unwrap(), s);
        let s = parse_selector(r#"{__name__=~"zk_(min|max)_latency"} offset 5m"#).unwrap();
        assert_eq!(s.offset_ms, 300_000);
        assert_eq!(parse_selector(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn non_selectors_are_refused() {
        for bad in [
            "rate(up[5m])",
            "up + 1",
            "1",
            "up[5m]",
            "(up)",
            "up @ 100",
            "{}",
        ] {
            assert!(parse_selector(bad).is_err(), "{bad}");
        }
        let huge = format!("up{{a=~\"{}\"}}", "(".repeat(100_000));
        let e = parse_selector(&huge).unwrap_err();
        assert!(e.len() < 2_000, "{} bytes", e.len());
    }
}
