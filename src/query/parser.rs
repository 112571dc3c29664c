//! A recursive-descent parser for the supported PromQL subset. It works on the text directly
//! (no separate lexer) because durations such as `5m` are only tokens inside `[...]` and after
//! `offset`; every error carries the character position where it was found.

use super::ast::{AggOp, BinOp, Expr, Grouping, RangeFunc, Selector};
use super::duration::scan_duration;
use crate::model::{MatchOp, Matcher};
use std::fmt;

/// Deeper nesting than this is refused instead of risking the stack on hostile input.
const MAX_DEPTH: usize = 128;

/// A query that could not be parsed: what was wrong and where (1-based character position).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// 1-based character (not byte) position in the query text.
    pub position: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parse error at char {}: {}", self.position, self.message)
    }
}

/// Parses a query such as `sum by (server) (rate(zk_packets_received{cluster="lab"}[5m]))`.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        src: text,
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.at_end() {
        return Err(p.error_at(0, "empty query"));
    }
    let expr = p.expr()?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.error(format!(
            "unexpected {} after the expression",
            p.describe_next()
        )));
    }
    Ok(expr)
}

/// Parses a selector alone (what `match[]` of `/api/v1/series` takes).
pub fn parse_selector(text: &str) -> Result<Selector, ParseError> {
    match parse(text)? {
        Expr::Selector(s) => Ok(s),
        other => Err(ParseError {
            position: 1,
            message: format!(
                "expected a series selector such as up{{cluster=\"lab\"}}, got {other}"
            ),
        }),
    }
}

/// A range-vector selector that is the whole query, such as `up[5m]` or
/// `zk_znode_count{cluster="lab"}[1h] offset 1d`: the selector and the range. `Ok(None)` when the
/// text is any other expression (including one that merely contains a range selector, which
/// [`parse`] then accepts or rejects as usual); an error when it is a range selector with a bad
/// range or offset.
pub fn parse_range_selector(text: &str) -> Result<Option<(Selector, i64)>, ParseError> {
    let mut p = Parser {
        src: text,
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    let start = p.pos;
    let metric = match p.peek() {
        Some('{') => None,
        Some(c) if is_ident_start(c) => p.ident().map(str::to_string),
        _ => return Ok(None),
    };
    let Ok(mut selector) = p.selector_matchers(metric, start) else {
        return Ok(None);
    };
    if !p.eat('[') {
        return Ok(None);
    }
    let range_at = p.pos;
    let range_ms = p.duration()?;
    if range_ms == 0 {
        return Err(p.error_at(range_at, "a range must be longer than zero"));
    }
    p.expect(']', "to close the range")?;
    selector.offset_ms = p.offset()?;
    p.skip_ws();
    if !p.at_end() {
        return Ok(None);
    }
    Ok(Some((selector, range_ms)))
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error_at(&self, byte_pos: usize, message: impl Into<String>) -> ParseError {
        let byte_pos = byte_pos.min(self.src.len());
        ParseError {
            position: self.src[..byte_pos].chars().count() + 1,
            message: message.into(),
        }
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    fn describe_next(&self) -> String {
        match self.peek() {
            None => "end of input".into(),
            Some(c) => format!("{c:?}"),
        }
    }

    /// Skips whitespace and `#` comments.
    fn skip_ws(&mut self) {
        loop {
            let before = self.pos;
            while let Some(c) = self.peek() {
                if c.is_whitespace() {
                    self.bump();
                } else {
                    break;
                }
            }
            if self.peek() == Some('#') {
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            if self.pos == before {
                return;
            }
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, context: &str) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(format!(
                "expected {c:?} {context}, found {}",
                self.describe_next()
            )))
        }
    }

    /// Reads an identifier (metric-name characters) without consuming whitespace after it.
    fn ident(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let rest = self.rest();
        let mut chars = rest.char_indices();
        match chars.next() {
            Some((_, c)) if is_ident_start(c) => {}
            _ => return None,
        }
        let end = chars
            .find(|&(_, c)| !is_ident_char(c))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        self.pos += end;
        Some(&rest[..end])
    }

    /// The identifier that comes next, without consuming it.
    fn peek_ident(&mut self) -> Option<&'a str> {
        let save = self.pos;
        let id = self.ident();
        self.pos = save;
        id
    }

    fn peek_keyword(&mut self, word: &str) -> bool {
        self.peek_ident() == Some(word)
    }

    /// The next non-blank character after the identifier at the cursor, without consuming anything.
    fn char_after_ident(&mut self) -> Option<char> {
        let save = self.pos;
        self.ident();
        self.skip_ws();
        let c = self.peek();
        self.pos = save;
        c
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("expression nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut lhs = self.term()?;
        loop {
            self.skip_ws();
            let op = match self.peek() {
                Some('+') => BinOp::Add,
                Some('-') => BinOp::Sub,
                _ => break,
            };
            self.bump();
            let rhs = self.term()?;
            lhs = Expr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.unary()?;
        loop {
            self.skip_ws();
            let op = match self.peek() {
                Some('*') => BinOp::Mul,
                Some('/') => BinOp::Div,
                _ => break,
            };
            self.bump();
            let rhs = self.unary()?;
            lhs = Expr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some('-') => {
                self.enter()?;
                self.bump();
                self.skip_ws();
                // `-1` is a literal; `-x` negates an expression.
                let out = if self.starts_number() {
                    let v = self.number()?;
                    Expr::Number(-v)
                } else {
                    Expr::Neg(Box::new(self.unary()?))
                };
                self.depth -= 1;
                Ok(out)
            }
            Some('+') => {
                self.enter()?;
                self.bump();
                let out = self.unary()?;
                self.depth -= 1;
                Ok(out)
            }
            _ => self.primary(),
        }
    }

    fn starts_number(&self) -> bool {
        let mut chars = self.rest().chars();
        match chars.next() {
            Some(c) if c.is_ascii_digit() => true,
            Some('.') => matches!(chars.next(), Some(c) if c.is_ascii_digit()),
            _ => {
                let word: String = self
                    .rest()
                    .chars()
                    .take_while(|c| is_ident_char(*c))
                    .collect();
                word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("nan")
            }
        }
    }

    /// A number literal: `1`, `1.5`, `.5`, `2e3`, `Inf`, `NaN`.
    fn number(&mut self) -> Result<f64, ParseError> {
        self.skip_ws();
        let start = self.pos;
        if let Some(word) = self.peek_ident() {
            if word.eq_ignore_ascii_case("inf") {
                self.ident();
                return Ok(f64::INFINITY);
            }
            if word.eq_ignore_ascii_case("nan") {
                self.ident();
                return Ok(f64::NAN);
            }
        }
        let bytes = self.src.as_bytes();
        let mut i = self.pos;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
        if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
            let mut j = i + 1;
            if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                j += 1;
            }
            if j < bytes.len() && bytes[j].is_ascii_digit() {
                while j < bytes.len() && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                i = j;
            }
        }
        let text = &self.src[start..i];
        let value: f64 = text
            .parse()
            .map_err(|_| self.error_at(start, format!("invalid number {text:?}")))?;
        self.pos = i;
        if self.peek().is_some_and(is_ident_char) {
            return Err(self.error(format!(
                "unexpected {} right after the number {text} (durations such as 5m are only \
                 allowed inside [...] and after offset)",
                self.describe_next()
            )));
        }
        Ok(value)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => Err(self.error("unexpected end of query, expected an expression")),
            Some('(') => {
                self.enter()?;
                self.bump();
                let e = self.expr()?;
                self.expect(')', "to close the parenthesis")?;
                self.depth -= 1;
                self.no_range_here(start)?;
                Ok(e)
            }
            Some('{') => {
                let sel = self.selector_rest(None, start)?;
                self.no_range_here(start)?;
                Ok(Expr::Selector(sel))
            }
            Some(_) if self.starts_number() => {
                let v = self.number()?;
                Ok(Expr::Number(v))
            }
            Some(c) if is_ident_start(c) => self.ident_expr(),
            Some(_) => Err(self.error(format!(
                "unexpected {}, expected a selector, a function, an aggregation or a number",
                self.describe_next()
            ))),
        }
    }

    /// A `[` after an expression that is not the argument of a range function.
    fn no_range_here(&mut self, start: usize) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some('[') {
            return Err(self.error_at(
                start,
                format!(
                    "a range [..] is only allowed on a selector inside one of: {}",
                    range_func_names()
                ),
            ));
        }
        Ok(())
    }

    fn ident_expr(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let name = self.peek_ident().unwrap_or_default();
        let next = self.char_after_ident();
        if let Some(op) = AggOp::from_name(name) {
            let save = self.pos;
            self.ident();
            let grouping_follows = self.peek_keyword("by") || self.peek_keyword("without");
            self.pos = save;
            if next == Some('(') || grouping_follows {
                self.ident();
                return self.aggregation(op, start);
            }
        }
        if next == Some('(') {
            self.ident();
            return match RangeFunc::from_name(name) {
                Some(func) => self.call(func),
                None => Err(self.error_at(
                    start,
                    format!(
                        "unknown function {name:?}; supported: {}, and the aggregations sum, avg, \
                         min, max, count",
                        range_func_names()
                    ),
                )),
            };
        }
        self.ident();
        let sel = self.selector_rest(Some(name.to_string()), start)?;
        self.no_range_here(start)?;
        Ok(Expr::Selector(sel))
    }

    fn aggregation(&mut self, op: AggOp, start: usize) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut grouping = self.grouping()?;
        self.expect('(', &format!("after {}", op.name()))?;
        let expr = self.expr()?;
        self.expect(')', &format!("to close {}(", op.name()))?;
        if let Some(after) = self.grouping()? {
            if grouping.is_some() {
                return Err(self.error_at(
                    start,
                    format!("{} has a by/without clause twice", op.name()),
                ));
            }
            grouping = Some(after);
        }
        self.depth -= 1;
        Ok(Expr::Aggregate {
            op,
            grouping,
            expr: Box::new(expr),
        })
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
        let by = if self.peek_keyword("by") {
            true
        } else if self.peek_keyword("without") {
            false
        } else {
            return Ok(None);
        };
        self.ident();
        self.expect('(', if by { "after by" } else { "after without" })?;
        let mut labels = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(')') {
                break;
            }
            let at = self.pos;
            let name = self.ident().ok_or_else(|| {
                self.error(format!(
                    "expected a label name, found {}",
                    self.describe_next()
                ))
            })?;
            if !is_label_name(name) {
                return Err(self.error_at(at, format!("{name:?} is not a valid label name")));
            }
            labels.push(name.to_string());
            if !self.eat(',') {
                self.expect(')', "to close the label list")?;
                break;
            }
        }
        Ok(Some(if by {
            Grouping::By(labels)
        } else {
            Grouping::Without(labels)
        }))
    }

    fn call(&mut self, func: RangeFunc) -> Result<Expr, ParseError> {
        self.expect('(', &format!("after {}", func.name()))?;
        self.skip_ws();
        let sel_start = self.pos;
        let metric = match self.peek() {
            Some('{') => None,
            Some(c) if is_ident_start(c) => self.ident().map(str::to_string),
            _ => {
                return Err(self.error(format!(
                    "{}() takes a range selector such as metric[5m], found {}",
                    func.name(),
                    self.describe_next()
                )));
            }
        };
        let mut selector = self.selector_matchers(metric, sel_start)?;
        if !self.eat('[') {
            return Err(self.error(format!(
                "{}() needs a range: write {}({selector}[5m])",
                func.name(),
                func.name()
            )));
        }
        let range_ms = self.duration()?;
        if range_ms == 0 {
            return Err(self.error_at(sel_start, "a range must be longer than zero"));
        }
        self.expect(']', "to close the range")?;
        selector.offset_ms = self.offset()?;
        self.expect(')', &format!("to close {}(", func.name()))?;
        Ok(Expr::Call {
            func,
            selector,
            range_ms,
        })
    }

    /// After an optional metric name: optional `{...}`, then optional `offset`.
    fn selector_rest(
        &mut self,
        metric: Option<String>,
        start: usize,
    ) -> Result<Selector, ParseError> {
        let mut s = self.selector_matchers(metric, start)?;
        s.offset_ms = self.offset()?;
        Ok(s)
    }

    fn selector_matchers(
        &mut self,
        metric: Option<String>,
        start: usize,
    ) -> Result<Selector, ParseError> {
        let mut matchers = Vec::new();
        if self.eat('{') {
            loop {
                self.skip_ws();
                if self.eat('}') {
                    break;
                }
                matchers.push(self.matcher()?);
                if !self.eat(',') {
                    self.expect('}', "to close the label matchers")?;
                    break;
                }
            }
        }
        if metric.is_some() && matchers.iter().any(|m| m.name == "__name__") {
            return Err(self.error_at(
                start,
                "the metric name is given twice (before { and as __name__)",
            ));
        }
        if metric.is_none() && matchers.iter().all(|m| m.matches(Some(""))) {
            return Err(self.error_at(
                start,
                "a selector needs a metric name or at least one matcher that does not match the \
                 empty string",
            ));
        }
        Ok(Selector {
            metric,
            matchers,
            offset_ms: 0,
        })
    }

    fn matcher(&mut self) -> Result<Matcher, ParseError> {
        self.skip_ws();
        let at = self.pos;
        let name = self.ident().ok_or_else(|| {
            self.error(format!(
                "expected a label name, found {}",
                self.describe_next()
            ))
        })?;
        if !is_label_name(name) {
            return Err(self.error_at(at, format!("{name:?} is not a valid label name")));
        }
        self.skip_ws();
        let op = if self.rest().starts_with("=~") {
            MatchOp::Regex
        } else if self.rest().starts_with("!~") {
            MatchOp::NotRegex
        } else if self.rest().starts_with("!=") {
            MatchOp::NotEqual
        } else if self.rest().starts_with("==") {
            return Err(self.error("use = (not ==) in a label matcher"));
        } else if self.rest().starts_with('=') {
            MatchOp::Equal
        } else {
            return Err(self.error(format!(
                "expected one of = != =~ !~ after {name}, found {}",
                self.describe_next()
            )));
        };
        self.pos += op.as_str().len();
        self.skip_ws();
        let value_at = self.pos;
        let value = self.string()?;
        Matcher::new(name, op, value).map_err(|e| {
            self.error_at(
                value_at,
                format!("invalid regular expression: {}", one_line(&e.to_string())),
            )
        })
    }

    /// A string literal in double quotes, single quotes (both with escapes) or backticks (raw).
    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let quote = match self.peek() {
            Some(q @ ('"' | '\'' | '`')) => q,
            _ => {
                return Err(self.error(format!(
                    "expected a quoted string, found {}",
                    self.describe_next()
                )));
            }
        };
        self.bump();
        let mut out = String::new();
        loop {
            let c = self
                .bump()
                .ok_or_else(|| self.error_at(start, "unterminated string"))?;
            if c == quote {
                return Ok(out);
            }
            if c == '\\' && quote != '`' {
                let esc_at = self.pos - 1;
                let e = self
                    .bump()
                    .ok_or_else(|| self.error_at(start, "unterminated string"))?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    '\\' | '"' | '\'' => out.push(e),
                    'x' | 'u' | 'U' => {
                        let len = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex = self.rest().get(..len).unwrap_or("");
                        let ch = (hex.len() == len && hex.chars().all(|c| c.is_ascii_hexdigit()))
                            .then(|| u32::from_str_radix(hex, 16).ok())
                            .flatten()
                            .and_then(char::from_u32)
                            .ok_or_else(|| {
                                self.error_at(esc_at, format!("invalid \\{e} escape in string"))
                            })?;
                        self.pos += len;
                        out.push(ch);
                    }
                    other => {
                        return Err(
                            self.error_at(esc_at, format!("unknown escape \\{other} in string"))
                        );
                    }
                }
            } else {
                out.push(c);
            }
        }
    }

    /// `offset <duration>` if present, else 0.
    fn offset(&mut self) -> Result<i64, ParseError> {
        if !self.peek_keyword("offset") {
            return Ok(0);
        }
        self.ident();
        let at = self.pos;
        let ms = self.duration()?;
        if ms == 0 {
            return Err(self.error_at(at, "an offset must be longer than zero"));
        }
        Ok(ms)
    }

    /// A duration such as `5m`, `1h30m`, `250ms`, `1w`, `1y` (365 days).
    fn duration(&mut self) -> Result<i64, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let (ms, used) = scan_duration(self.rest()).map_err(|e| self.error_at(start, e))?;
        if used == 0 {
            return Err(self.error(format!(
                "expected a duration such as 5m, found {}",
                self.describe_next()
            )));
        }
        self.pos += used;
        if self.peek().is_some_and(is_ident_char) {
            return Err(self.error(format!("unexpected {} in duration", self.describe_next())));
        }
        Ok(ms)
    }
}

fn range_func_names() -> String {
    RangeFunc::ALL
        .iter()
        .map(|f| format!("{}()", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_range_selector_alone_is_recognised() {
        let (sel, range) = parse_range_selector(r#" zk_znode_count{cluster="lab"}[1h] offset 1d "#)
            .unwrap()
            .unwrap();
        assert_eq!(sel.metric.as_deref(), Some("zk_znode_count"));
        assert_eq!(sel.matchers.len(), 1);
        assert_eq!((range, sel.offset_ms), (3_600_000, 86_400_000));
        let (sel, range) = parse_range_selector("up[5m]").unwrap().unwrap();
        assert_eq!((sel.metric.as_deref(), range), (Some("up"), 300_000));
        for other in ["up", "rate(up[5m])", "up[5m] + 1", "sum(up)", "1", "{}[5m]"] {
            assert_eq!(parse_range_selector(other).unwrap(), None, "{other}");
        }
        assert!(parse_range_selector("up[0s]").is_err());
        assert!(parse_range_selector("up[5x]").is_err());
    }
    use super::*;
    use crate::query::ast::format_duration_ms;

    fn sel(metric: &str, matchers: &[(&str, MatchOp, &str)]) -> Selector {
        Selector {
            metric: (!metric.is_empty()).then(|| metric.to_string()),
            matchers: matchers
                .iter()
                .map(|(n, op, v)| Matcher::new(*n, *op, *v).unwrap())
                .collect(),
            offset_ms: 0,
        }
    }

    #[test]
    fn parses_selector_with_all_matcher_kinds() {
        let e = parse(r#"zk_avg_latency{a="b", c!="d", e=~"r.*", f!~'x|y'}"#).unwrap();
        assert_eq!(
            e,
            Expr::Selector(sel(
                "zk_avg_latency",
                &[
                    ("a", MatchOp::Equal, "b"),
                    ("c", MatchOp::NotEqual, "d"),
                    ("e", MatchOp::Regex, "r.*"),
                    ("f", MatchOp::NotRegex, "x|y"),
                ]
            ))
        );
    }

    #[test]
    fn parses_name_matcher_without_metric() {
        let e = parse(r#"{__name__=~"zk_.*latency"}"#).unwrap();
        assert_eq!(
            e,
            Expr::Selector(sel("", &[("__name__", MatchOp::Regex, "zk_.*latency")]))
        );
    }

    #[test]
    fn parses_rate_in_aggregation_with_grouping_before_or_after() {
        let a = parse("sum by (server) (rate(zk_packets_received[5m]))").unwrap();
        let b = parse("sum(rate(zk_packets_received[5m])) by (server)").unwrap();
        assert_eq!(a, b);
        match a {
            Expr::Aggregate {
                op: AggOp::Sum,
                grouping: Some(Grouping::By(l)),
                expr,
            } => {
                assert_eq!(l, vec!["server".to_string()]);
                assert!(matches!(
                    *expr,
                    Expr::Call {
                        func: RangeFunc::Rate,
                        range_ms: 300_000,
                        ..
                    }
                ));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn arithmetic_follows_precedence_and_folds_negative_literals() {
        assert_eq!(
            parse("1 + 2 * 3").unwrap().to_string(),
            "1 + 2 * 3",
            "multiplication binds tighter"
        );
        let e = parse("(1 + 2) * -3").unwrap();
        assert_eq!(e.to_string(), "(1 + 2) * -3");
        assert!(matches!(
            e,
            Expr::Binary { op: BinOp::Mul, ref rhs, .. } if **rhs == Expr::Number(-3.0)
        ));
        assert_eq!(parse("a - b - c").unwrap().to_string(), "a - b - c");
        assert_eq!(parse("a - (b - c)").unwrap().to_string(), "a - (b - c)");
        assert_eq!(parse("1+1").unwrap().to_string(), "1 + 1");
    }

    #[test]
    fn parses_offset_and_compound_durations() {
        let e = parse("max_over_time(x[1h30m] offset 1w)").unwrap();
        match e {
            Expr::Call {
                selector, range_ms, ..
            } => {
                assert_eq!(range_ms, 5_400_000);
                assert_eq!(selector.offset_ms, 7 * 86_400_000);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(format_duration_ms(5_400_000), "1h30m");
        let e = parse("up offset 5m").unwrap();
        assert_eq!(e.to_string(), "up offset 5m");
    }

    #[test]
    fn errors_say_where_and_what() {
        let err = parse(r#"up{cluster="lab"#).unwrap_err();
        assert_eq!(err.position, 12, "{err}");
        assert!(err.message.contains("unterminated string"), "{err}");

        let err = parse("rate(up)").unwrap_err();
        assert!(err.message.contains("needs a range"), "{err}");

        let err = parse("up[5m]").unwrap_err();
        assert_eq!(err.position, 1);
        assert!(err.message.contains("only allowed"), "{err}");

        let err = parse("foo(up)").unwrap_err();
        assert!(err.message.contains("unknown function \"foo\""), "{err}");

        let err = parse(r#"{a=~"("}"#).unwrap_err();
        assert_eq!(err.position, 5, "{err}");
        assert!(err.message.contains("regular expression"), "{err}");

        let err = parse("{}").unwrap_err();
        assert!(err.message.contains("at least one matcher"), "{err}");

        let err = parse(r#"{a=""}"#).unwrap_err();
        assert!(err.message.contains("at least one matcher"), "{err}");

        let err = parse("up + ").unwrap_err();
        assert!(err.message.contains("end of query"), "{err}");

        let err = parse("sum(up) by (a) by (b)").unwrap_err();
        assert!(err.message.contains("unexpected"), "{err}");

        let err = parse("rate(x[5q])").unwrap_err();
        assert!(err.message.contains("duration unit"), "{err}");

        let err = parse("x{a==\"b\"}").unwrap_err();
        assert!(err.message.contains("use ="), "{err}");

        assert_eq!(
            parse("up{é=\"x\"}").unwrap_err().to_string(),
            "parse error at char 4: expected a label name, found 'é'"
        );
    }

    #[test]
    fn error_position_counts_characters_not_bytes() {
        let err = parse("x{a=\"é\"} +").unwrap_err();
        assert_eq!(err.position, 11);
    }

    #[test]
    fn keywords_are_metric_names_when_not_called() {
        assert_eq!(
            parse("sum").unwrap(),
            Expr::Selector(sel("sum", &[])),
            "an aggregation name alone is a metric"
        );
        assert_eq!(parse("rate + 1").unwrap().to_string(), "rate + 1");
        assert_eq!(parse("Inf").unwrap(), Expr::Number(f64::INFINITY));
    }

    #[test]
    fn strings_support_escapes_and_raw_backticks() {
        let e = parse(r#"x{a="q\"\\\n\u00e9", b=`C:\dir`}"#).unwrap();
        let Expr::Selector(s) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(s.matchers[0].value, "q\"\\\né");
        assert_eq!(s.matchers[1].value, "C:\\dir");
        assert_eq!(parse(&e.to_string()).unwrap(), e);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("nested deeper"), "{err}");
        let text = "-".repeat(10_000) + "x";
        assert!(parse(&text).is_err());
    }

    #[test]
    fn parse_selector_refuses_expressions() {
        assert!(parse_selector("up{a=\"b\"}").is_ok());
        let err = parse_selector("rate(up[5m])").unwrap_err();
        assert!(err.message.contains("expected a series selector"), "{err}");
    }

    #[test]
    fn comments_and_newlines_are_whitespace() {
        let e = parse("sum(\n  up # all targets\n)").unwrap();
        assert_eq!(e.to_string(), "sum(up)");
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn reserved(s: &str) -> bool {
        ["by", "without", "offset", "inf", "nan"]
            .iter()
            .any(|r| r.eq_ignore_ascii_case(s))
    }

    fn metric_name() -> impl Strategy<Value = String> {
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,10}".prop_filter("not a reserved word", |s| !reserved(s))
    }

    fn label_name() -> impl Strategy<Value = String> {
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}".prop_filter("not __name__", |s| s != "__name__")
    }

    fn matcher() -> impl Strategy<Value = Matcher> {
        (
            label_name(),
            prop_oneof![
                Just(MatchOp::Equal),
                Just(MatchOp::NotEqual),
                Just(MatchOp::Regex),
                Just(MatchOp::NotRegex)
            ],
            "\\PC{0,10}|[\\t\\n\"'\\\\`a]{0,5}",
        )
            .prop_filter_map("valid regex", |(n, op, v)| Matcher::new(n, op, v).ok())
    }

    fn selector() -> impl Strategy<Value = Selector> {
        (
            proptest::option::of(metric_name()),
            proptest::collection::vec(matcher(), 0..3),
            prop_oneof![Just(0i64), 1i64..10_000_000_000],
        )
            .prop_map(|(metric, mut matchers, offset_ms)| {
                if metric.is_none() {
                    // Guarantee one matcher that does not match the empty string.
                    matchers.push(Matcher::eq("job", "zk"));
                }
                Selector {
                    metric,
                    matchers,
                    offset_ms,
                }
            })
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            (0.0f64..1e12).prop_map(Expr::Number),
            (-1e6f64..0.0).prop_map(Expr::Number),
            selector().prop_map(Expr::Selector),
            (
                proptest::sample::select(RangeFunc::ALL.to_vec()),
                selector(),
                1i64..100_000_000_000
            )
                .prop_map(|(func, selector, range_ms)| Expr::Call {
                    func,
                    selector,
                    range_ms
                }),
        ];
        leaf.prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (
                    proptest::sample::select(AggOp::ALL.to_vec()),
                    proptest::option::of(prop_oneof![
                        proptest::collection::vec(label_name(), 0..3).prop_map(Grouping::By),
                        proptest::collection::vec(label_name(), 0..3).prop_map(Grouping::Without),
                    ]),
                    inner.clone()
                )
                    .prop_map(|(op, grouping, e)| Expr::Aggregate {
                        op,
                        grouping,
                        expr: Box::new(e)
                    }),
                inner.clone().prop_map(|e| Expr::Neg(Box::new(e))),
                (
                    prop_oneof![
                        Just(BinOp::Add),
                        Just(BinOp::Sub),
                        Just(BinOp::Mul),
                        Just(BinOp::Div)
                    ],
                    inner.clone(),
                    inner
                )
                    .prop_map(|(op, l, r)| Expr::Binary {
                        op,
                        lhs: Box::new(l),
                        rhs: Box::new(r)
                    }),
            ]
        })
    }

    proptest! {
        #![proptest_config(crate::proptest_config(512))]

        #[test]
        fn display_round_trips_through_the_parser(e in expr()) {
            let text = e.to_string();
            let back = parse(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
            prop_assert_eq!(&back, &e, "text: {}", text);
            prop_assert_eq!(back.to_string(), text);
        }

        #[test]
        fn parser_never_panics_on_arbitrary_text(s in "\\PC{0,60}") {
            let _ = parse(&s);
        }

        #[test]
        fn parser_never_panics_on_query_like_text(
            s in "[a-z_{}()\\[\\]=~!,\"'` +*/0-9.-]{0,60}|(sum|rate|by|offset|x|\\{|\\}|\\(|\\)|\\[5m\\]|=~|\"a\"|,| )*"
        ) {
            if let Ok(e) = parse(&s) {
                // Whatever parses must print to text that parses to the same tree.
                let again = parse(&e.to_string());
                prop_assert!(again.is_ok(), "{s:?} printed as {}", e);
            }
        }
    }
}
