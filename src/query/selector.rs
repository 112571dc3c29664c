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

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(256))]
        #[test]
        fn never_panics(text in "\\PC{0,64}") {
            let _ = parse_selector(&text);
        }

        /// Printed selectors parse back to themselves, whatever their label values hold.
        #[test]
        fn display_round_trips(
            name in "[a-z_][a-z0-9_:]{0,12}",
            labels in proptest::collection::vec(("[a-z_][a-z0-9_]{0,8}", "\\PC{0,12}", 0usize..4), 0..4),
            offset in 0i64..10_000_000,
        ) {
            let ops = [MatchOp::Equal, MatchOp::NotEqual, MatchOp::Regex, MatchOp::NotRegex];
            let matchers: Vec<Matcher> = labels
                .into_iter()
                .filter_map(|(k, v, op)| {
                    let v = if op >= 2 { regex::escape(&v) } else { v };
                    Matcher::new(k, ops[op], v).ok()
                })
                .collect();
            let sel = Selector { metric: Some(name), matchers, offset_ms: offset * 1000 };
            let text = sel.to_string();
            let back = parse_selector(&text);
            // Keywords cannot be metric names; anything else must come back unchanged.
            if let Ok(back) = back {
                proptest::prop_assert_eq!(back, sel, "{}", text);
            } else {
                let kw = ["and", "or", "unless", "atan2", "by", "without", "on", "ignoring", "offset", "bool", "inf", "nan"];
                proptest::prop_assert!(
                    kw.iter().any(|k| sel.metric.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(k))),
                    "{} did not parse back", text
                );
            }
        }
    }
}
