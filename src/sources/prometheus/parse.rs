//! A parser for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text.
//!
//! It reads a whole body as `&str` and hands out one [`Line`] at a time, borrowing names, label
//! values and help text from the body (a [`Cow`] is owned only where an escape or a sanitised name
//! forces it). No regex, no allocation per line beyond a sample's label list.
//!
//! What it accepts:
//! - `# HELP name text` (escapes `\\`, `\n`, and in OpenMetrics `\"`), `# TYPE name type` (every
//!   type of both formats: counter, gauge, histogram, gaugehistogram, summary, info, stateset,
//!   unknown, untyped), `# UNIT name unit`, `# EOF`. Any other `#` line is a comment.
//! - Samples `name{label="value",…} value [timestamp] [# {exemplar labels} value [timestamp]]`,
//!   with escaped label values (`\\`, `\"`, `\n`), a trailing comma in the label set, blanks
//!   between tokens, values as floats or integers, `NaN`, `+Inf`, `-Inf` (any case). Timestamps
//!   are integer milliseconds in the text format and (fractional) seconds in OpenMetrics; both are
//!   returned in milliseconds. Exemplars are checked for syntax and dropped.
//! - The quoted names of the UTF-8 text format (`{"my.metric", "some.label"="v"} 1`, `# HELP
//!   "my.metric" …`): they are **sanitised** to classic names, every character outside
//!   `[a-zA-Z0-9_:]` (and a leading digit) replaced by `_`, as Prometheus' `underscores` escaping
//!   does, because our series names and PromQL use the classic alphabet. [`Parser::sanitised`]
//!   counts them so the source can say so.
//! - OpenMetrics must end with `# EOF` and nothing may follow it: without it the body may have
//!   been cut short, and a partial scrape would silently drop series.
//!
//! An error names the 1-based line and what was expected there. Grouping samples into families
//! (which `_bucket` belongs to which histogram) is the caller's job: see `convert.rs`.

use std::borrow::Cow;
use std::fmt;

/// Which exposition format a body is in (decided by its Content-Type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4` and anything unrecognised, as Prometheus does.
    Text,
    /// `application/openmetrics-text; version=1.0.0` (or 0.0.1).
    OpenMetrics,
}

impl Format {
    /// The format of a response by its Content-Type; `Err` for a format we do not read
    /// (the protobuf exposition, which we never ask for).
    pub fn from_content_type(content_type: Option<&str>) -> Result<Format, String> {
        let Some(ct) = content_type else {
            return Ok(Format::Text);
        };
        let media = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/openmetrics-text" => Ok(Format::OpenMetrics),
            "application/vnd.google.protobuf" => Err(format!(
                "the target answered the protobuf exposition ({ct}), which was not asked for"
            )),
            _ => Ok(Format::Text),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text 0.0.4",
            Format::OpenMetrics => "OpenMetrics 1.0",
        }
    }
}

/// A `# TYPE` of either format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FamilyType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// `unknown` (OpenMetrics) and `untyped` (text format), and samples without a `# TYPE`.
    Unknown,
}

impl FamilyType {
    pub fn parse(word: &str) -> Option<FamilyType> {
        Some(match word {
            "counter" => FamilyType::Counter,
            "gauge" => FamilyType::Gauge,
            "histogram" => FamilyType::Histogram,
            "gaugehistogram" => FamilyType::GaugeHistogram,
            "summary" => FamilyType::Summary,
            "info" => FamilyType::Info,
            "stateset" => FamilyType::StateSet,
            "unknown" | "untyped" => FamilyType::Unknown,
            _ => return None,
        })
    }

    pub fn as_str(self, format: Format) -> &'static str {
        match self {
            FamilyType::Counter => "counter",
            FamilyType::Gauge => "gauge",
            FamilyType::Histogram => "histogram",
            FamilyType::GaugeHistogram => "gaugehistogram",
            FamilyType::Summary => "summary",
            FamilyType::Info => "info",
            FamilyType::StateSet => "stateset",
            FamilyType::Unknown if format == Format::Text => "untyped",
            FamilyType::Unknown => "unknown",
        }
    }
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample<'a> {
    pub name: Cow<'a, str>,
    /// In the order written; names are unique.
    pub labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub value: f64,
    /// Milliseconds since the epoch, when the line carries a timestamp.
    pub timestamp_ms: Option<i64>,
}

/// One meaningful line of an exposition.
#[derive(Clone, Debug, PartialEq)]
pub enum Line<'a> {
    Help {
        family: Cow<'a, str>,
        text: Cow<'a, str>,
    },
    Type {
        family: Cow<'a, str>,
        kind: FamilyType,
    },
    Unit {
        family: Cow<'a, str>,
        unit: &'a str,
    },
    Sample(Sample<'a>),
}

/// Why a body is not an exposition, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads an exposition line by line; see the module docs.
pub struct Parser<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    format: Format,
    eof_seen: bool,
    failed: bool,
    sanitised: usize,
}

impl<'a> Parser<'a> {
    pub fn new(text: &'a str, format: Format) -> Self {
        Parser {
            text,
            pos: 0,
            line: 0,
            format,
            eof_seen: false,
            failed: false,
            sanitised: 0,
        }
    }

    /// How many quoted (UTF-8) names were rewritten to classic names so far.
    pub fn sanitised(&self) -> usize {
        self.sanitised
    }

    /// The line number of the line last returned.
    pub fn line(&self) -> usize {
        self.line
    }

    fn err(&mut self, message: impl Into<String>) -> ParseError {
        self.failed = true;
        ParseError {
            line: self.line,
            message: message.into(),
        }
    }

    fn next_line(&mut self) -> Option<&'a str> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, advance) = match rest.find('\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        self.line += 1;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    fn parse_line(&mut self, raw: &'a str) -> Result<Option<Line<'a>>, ParseError> {
        let line = raw.trim_start_matches([' ', '\t']);
        if line.trim_end_matches([' ', '\t']).is_empty() {
            return Ok(None);
        }
        if self.eof_seen {
            return Err(self.err("content after # EOF"));
        }
        if let Some(comment) = line.strip_prefix('#') {
            return self.parse_comment(comment);
        }
        let mut cur = Cursor::new(line);
        match self.parse_sample(&mut cur) {
            Ok(s) => Ok(Some(Line::Sample(s))),
            Err(message) => Err(self.err(message)),
        }
    }

    fn parse_comment(&mut self, comment: &'a str) -> Result<Option<Line<'a>>, ParseError> {
        let body = comment.trim_start_matches([' ', '\t']);
        let (word, rest) = split_word(body);
        let keyword = match word {
            "HELP" | "TYPE" | "UNIT" => word,
            "EOF" if rest.trim().is_empty() => {
                if self.format == Format::OpenMetrics {
                    self.eof_seen = true;
                }
                return Ok(None);
            }
            // Any other comment carries nothing.
            _ => return Ok(None),
        };
        // In the text format a HELP/TYPE needs a blank after `#`; `#HELP` is a plain comment.
        if self.format == Format::Text && !comment.starts_with([' ', '\t']) {
            return Ok(None);
        }
        let rest = rest.trim_start_matches([' ', '\t']);
        let mut cur = Cursor::new(rest);
        let family = match self.name_token(&mut cur, "a metric name") {
            Ok(n) => n,
            Err(m) => return Err(self.err(format!("# {keyword}: {m}"))),
        };
        let after = cur.rest();
        if !after.is_empty() && !after.starts_with([' ', '\t']) {
            return Err(self.err(format!(
                "# {keyword}: unexpected {:?} after the metric name",
                first_char(after)
            )));
        }
        let arg = after.strip_prefix([' ', '\t']).unwrap_or(after);
        match keyword {
            "HELP" => Ok(Some(Line::Help {
                family,
                text: unescape_help(arg, self.format),
            })),
            "TYPE" => {
                let word = arg.trim_matches([' ', '\t']);
                match FamilyType::parse(word) {
                    Some(kind) => Ok(Some(Line::Type { family, kind })),
                    None => Err(self.err(format!(
                        "# TYPE {family}: unknown type {word:?} (expected counter, gauge, histogram, gaugehistogram, summary, info, stateset, unknown or untyped)"
                    ))),
                }
            }
            _ => Ok(Some(Line::Unit {
                family,
                unit: arg.trim_matches([' ', '\t']),
            })),
        }
    }

    /// A classic name, or a quoted one (sanitised).
    fn name_token(&mut self, cur: &mut Cursor<'a>, what: &str) -> Result<Cow<'a, str>, String> {
        if cur.peek() == Some('"') {
            let raw = cur.quoted().map_err(|e| format!("{what}: {e}"))?;
            return Ok(self.sanitise(raw));
        }
        let name = cur.take_while(|c, i| is_name_char(c, i, true));
        if name.is_empty() {
            return Err(match cur.peek() {
                Some(c) => format!("expected {what}, found {c:?}"),
                None => format!("expected {what}, found the end of the line"),
            });
        }
        Ok(Cow::Borrowed(name))
    }

    fn label_name(&mut self, cur: &mut Cursor<'a>) -> Result<Cow<'a, str>, String> {
        if cur.peek() == Some('"') {
            let raw = cur.quoted().map_err(|e| format!("a label name: {e}"))?;
            return Ok(self.sanitise_label(raw));
        }
        let name = cur.take_while(|c, i| is_name_char(c, i, false));
        if name.is_empty() {
            return Err(match cur.peek() {
                Some(c) => format!("expected a label name, found {c:?}"),
                None => "expected a label name, found the end of the line".to_string(),
            });
        }
        Ok(Cow::Borrowed(name))
    }

    fn sanitise(&mut self, raw: Cow<'a, str>) -> Cow<'a, str> {
        if !raw.is_empty() && raw.char_indices().all(|(i, c)| is_name_char(c, i, true)) {
            return raw;
        }
        self.sanitised += 1;
        Cow::Owned(sanitise_name(&raw, true))
    }

    fn sanitise_label(&mut self, raw: Cow<'a, str>) -> Cow<'a, str> {
        if !raw.is_empty() && raw.char_indices().all(|(i, c)| is_name_char(c, i, false)) {
            return raw;
        }
        self.sanitised += 1;
        Cow::Owned(sanitise_name(&raw, false))
    }

    fn parse_sample(&mut self, cur: &mut Cursor<'a>) -> Result<Sample<'a>, String> {
        let mut name = None;
        if cur.peek() != Some('{') {
            name = Some(self.name_token(cur, "a metric name")?);
        }
        let mut labels = Vec::new();
        let mut n_blanks = cur.skip_blanks();
        if cur.peek() == Some('{') {
            let quoted_name = self.label_set(cur, &mut labels, name.is_none())?;
            if let Some(q) = quoted_name {
                name = Some(q);
            }
            n_blanks = cur.skip_blanks();
        }
        let Some(name) = name else {
            return Err("a sample without a metric name".into());
        };
        if n_blanks == 0 {
            return Err(match cur.peek() {
                None => format!("{name}: no value"),
                Some(c) => format!("{name}: expected a blank before the value, found {c:?}"),
            });
        }
        let token = cur.token();
        let value = parse_value(token).ok_or_else(|| {
            if token.is_empty() {
                format!("{name}: no value")
            } else {
                format!("{name}: {token:?} is not a number")
            }
        })?;
        cur.skip_blanks();
        let mut timestamp_ms = None;
        if !cur.at_end() && cur.peek() != Some('#') {
            let token = cur.token();
            timestamp_ms = Some(
                parse_timestamp(token, self.format)
                    .ok_or_else(|| format!("{name}: {token:?} is not a timestamp"))?,
            );
            cur.skip_blanks();
        }
        if cur.peek() == Some('#') {
            self.exemplar(cur)
                .map_err(|m| format!("{name}: exemplar: {m}"))?;
        }
        if !cur.at_end() {
            return Err(format!(
                "{name}: unexpected {:?} after the value",
                cur.rest()
            ));
        }
        Ok(Sample {
            name,
            labels,
            value,
            timestamp_ms,
        })
    }

    /// `{a="1",b="2"}`; returns the metric name when the set starts with a quoted one (UTF-8
    /// format) and `name_allowed`.
    fn label_set(
        &mut self,
        cur: &mut Cursor<'a>,
        labels: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>,
        name_allowed: bool,
    ) -> Result<Option<Cow<'a, str>>, String> {
        cur.bump(); // {
        let mut metric_name = None;
        loop {
            cur.skip_blanks();
            match cur.peek() {
                Some('}') => {
                    cur.bump();
                    return Ok(metric_name);
                }
                None => return Err("unterminated label set (no closing '}')".into()),
                _ => {}
            }
            let quoted = cur.peek() == Some('"');
            let lname = self.label_name(cur)?;
            cur.skip_blanks();
            if quoted && name_allowed && labels.is_empty() && metric_name.is_none() {
                // `{"metric.name", …}`: a quoted string not followed by `=` is the metric name.
                if matches!(cur.peek(), Some(',') | Some('}')) {
                    metric_name = Some(self.sanitise(lname));
                    if cur.peek() == Some(',') {
                        cur.bump();
                    }
                    continue;
                }
            }
            if cur.peek() != Some('=') {
                return Err(format!(
                    "label {lname}: expected '=', found {}",
                    cur.peek()
                        .map(|c| format!("{c:?}"))
                        .unwrap_or_else(|| "the end of the line".into())
                ));
            }
            cur.bump();
            cur.skip_blanks();
            if cur.peek() != Some('"') {
                return Err(format!("label {lname}: the value must be in double quotes"));
            }
            let value = cur.quoted().map_err(|e| format!("label {lname}: {e}"))?;
            if labels.iter().any(|(n, _)| *n == lname) {
                return Err(format!("label {lname} appears twice"));
            }
            labels.push((lname, value));
            cur.skip_blanks();
            match cur.peek() {
                Some(',') => {
                    cur.bump();
                }
                Some('}') => {}
                Some(c) => {
                    return Err(format!(
                        "expected ',' or '}}' in the label set, found {c:?}"
                    ));
                }
                None => return Err("unterminated label set (no closing '}')".into()),
            }
        }
    }

    /// ` # {labels} value [timestamp]`, checked and dropped.
    fn exemplar(&mut self, cur: &mut Cursor<'a>) -> Result<(), String> {
        cur.bump(); // #
        cur.skip_blanks();
        if cur.peek() != Some('{') {
            return Err("expected '{' after '#'".into());
        }
        let mut labels = Vec::new();
        self.label_set(cur, &mut labels, false)?;
        cur.skip_blanks();
        let token = cur.token();
        parse_value(token).ok_or_else(|| format!("{token:?} is not a number"))?;
        cur.skip_blanks();
        if !cur.at_end() {
            let token = cur.token();
            parse_timestamp(token, Format::OpenMetrics)
                .ok_or_else(|| format!("{token:?} is not a timestamp"))?;
            cur.skip_blanks();
        }
        Ok(())
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Line<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let Some(raw) = self.next_line() else {
                if self.format == Format::OpenMetrics && !self.eof_seen {
                    self.line += 1;
                    return Some(Err(
                        self.err("no # EOF at the end (the body may have been cut short)")
                    ));
                }
                return None;
            };
            match self.parse_line(raw) {
                Ok(Some(l)) => return Some(Ok(l)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// A position in one line.
struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, i: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.i += c.len_utf8();
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn skip_blanks(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(' ') | Some('\t')) {
            self.i += 1;
        }
        self.i - start
    }

    /// Up to the next blank.
    fn token(&mut self) -> &'a str {
        let rest = self.rest();
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        self.i += end;
        &rest[..end]
    }

    fn take_while(&mut self, f: impl Fn(char, usize) -> bool) -> &'a str {
        let rest = self.rest();
        let end = rest
            .char_indices()
            .find(|&(i, c)| !f(c, i))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        self.i += end;
        &rest[..end]
    }

    /// A double-quoted string with `\\`, `\"`, `\n` escapes; the cursor is on the opening quote.
    fn quoted(&mut self) -> Result<Cow<'a, str>, String> {
        self.bump();
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut i = 0;
        let mut escaped = false;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    let raw = &rest[..i];
                    self.i += i + 1;
                    return Ok(if escaped {
                        Cow::Owned(unescape(raw, true))
                    } else {
                        Cow::Borrowed(raw)
                    });
                }
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                _ => i += 1,
            }
        }
        Err("unterminated quoted string (no closing '\"')".into())
    }
}

fn first_char(s: &str) -> char {
    s.chars().next().unwrap_or(' ')
}

fn split_word(s: &str) -> (&str, &str) {
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names, without `:` for label names.
fn is_name_char(c: char, i: usize, metric: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (metric && c == ':') || (i > 0 && c.is_ascii_digit())
}

/// Prometheus' `underscores` escaping: every character outside the classic alphabet becomes `_`.
pub fn sanitise_name(raw: &str, metric: bool) -> String {
    if raw.is_empty() {
        return "_".into();
    }
    raw.chars()
        .enumerate()
        .map(|(i, c)| if is_name_char(c, i, metric) { c } else { '_' })
        .collect()
}

fn unescape(raw: &str, quote: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') if quote => out.push('"'),
            // Other escapes are kept as written, as Prometheus does.
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn unescape_help(raw: &str, format: Format) -> Cow<'_, str> {
    if raw.contains('\\') {
        Cow::Owned(unescape(raw, format == Format::OpenMetrics))
    } else {
        Cow::Borrowed(raw)
    }
}

/// A sample value: a float or integer, `NaN`, `+Inf`, `-Inf` (any case, as Go's ParseFloat).
pub fn parse_value(token: &str) -> Option<f64> {
    if token.is_empty() {
        return None;
    }
    // Rust accepts "inf", "infinity" and "nan" in any case, like Go; it refuses hex and `_`.
    token.parse::<f64>().ok()
}

/// Milliseconds: the text format writes integer ms, OpenMetrics (fractional) seconds.
fn parse_timestamp(token: &str, format: Format) -> Option<i64> {
    match format {
        Format::Text => token.parse::<i64>().ok(),
        Format::OpenMetrics => {
            let s: f64 = token.parse().ok()?;
            let ms = (s * 1000.0).round();
            (ms.is_finite() && ms.abs() < 9.0e18).then_some(ms as i64)
        }
    }
}

/// Writes one exposition line; used by tests and the benchmark to build bodies.
pub fn render_sample(out: &mut String, s: &Sample<'_>, format: Format) {
    out.push_str(&s.name);
    if !s.labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in s.labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            crate::model::escape_label_value(v, out);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&render_value(s.value));
    if let Some(ts) = s.timestamp_ms {
        out.push(' ');
        match format {
            Format::Text => out.push_str(&ts.to_string()),
            Format::OpenMetrics => {
                let sign = if ts < 0 { "-" } else { "" };
                let abs = ts.unsigned_abs();
                out.push_str(&format!("{sign}{}.{:03}", abs / 1000, abs % 1000))
            }
        }
    }
    out.push('\n');
}

/// A value as the formats write it (`NaN`, `+Inf`, `-Inf`; otherwise Rust's shortest exact form).
pub fn render_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

/// Escapes HELP text (`\\`, `\n`, and `"` in OpenMetrics).
pub fn escape_help(text: &str, format: Format, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str, format: Format) -> Result<Vec<Line<'_>>, ParseError> {
        Parser::new(text, format).collect()
    }

    fn sample(line: &Line<'_>) -> Sample<'static> {
        match line {
            Line::Sample(s) => Sample {
                name: Cow::Owned(s.name.to_string()),
                labels: s
                    .labels
                    .iter()
                    .map(|(k, v)| (Cow::Owned(k.to_string()), Cow::Owned(v.to_string())))
                    .collect(),
                value: s.value,
                timestamp_ms: s.timestamp_ms,
            },
            other => panic!("not a sample: {other:?}"),
        }
    }

    #[test]
    fn the_text_format_reference_example() {
        // The example of the Prometheus exposition format documentation, tabs and all.
        let text = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
"#;
        let l = lines(text, Format::Text).unwrap();
        assert_eq!(
            l[0],
            Line::Help {
                family: "http_requests_total".into(),
                text: "The total number of HTTP requests.".into()
            }
        );
        assert_eq!(
            l[1],
            Line::Type {
                family: "http_requests_total".into(),
                kind: FamilyType::Counter
            }
        );
        let s = sample(&l[3]);
        assert_eq!(s.value, 3.0);
        assert_eq!(s.timestamp_ms, Some(1_395_066_363_000));
        let s = sample(&l[4]);
        assert_eq!(s.labels[0].1, "C:\\DIR\\FILE.TXT");
        assert_eq!(s.labels[1].1, "Cannot find file:\n\"FILE.TXT\"");
        let s = sample(&l[6]);
        assert_eq!(s.value, f64::INFINITY);
        assert_eq!(s.timestamp_ms, Some(-3_982_045));
        assert_eq!(
            l.iter().filter(|l| matches!(l, Line::Sample(_))).count(),
            13
        );
    }

    #[test]
    fn openmetrics_with_units_exemplars_and_every_type() {
        let text = "# TYPE acme_http_router_request_seconds summary\n\
# UNIT acme_http_router_request_seconds seconds\n\
# HELP acme_http_router_request_seconds Latency though all of ACME's \\\"HTTP\\\" request router.\n\
acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n\
acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n\
acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n\
# TYPE foo histogram\n\
foo_bucket{le=\"0.01\"} 0\n\
foo_bucket{le=\"+Inf\"} 17 # {trace_id=\"KOO5S4vxi0o\"} 0.67 1520879607.789\n\
foo_count 17\n\
foo_sum 324789.3\n\
# TYPE g gaugehistogram\n\
g_bucket{le=\"1\"} 3\n\
g_gcount 3\n\
g_gsum 2\n\
# TYPE build info\n\
build_info{version=\"1.2\"} 1\n\
# TYPE state stateset\n\
state{state=\"a\"} 1\n\
state{state=\"b\"} 0\n\
# TYPE x unknown\n\
x NaN 1520879607.789\n\
y -inf\n\
# EOF\n";
        let l = lines(text, Format::OpenMetrics).unwrap();
        assert_eq!(
            l[2],
            Line::Help {
                family: "acme_http_router_request_seconds".into(),
                text: "Latency though all of ACME's \"HTTP\" request router.".into()
            }
        );
        assert_eq!(
            l[1],
            Line::Unit {
                family: "acme_http_router_request_seconds".into(),
                unit: "seconds"
            }
        );
        let s = sample(&l[8]);
        assert_eq!(s.value, 17.0, "the exemplar is dropped");
        assert_eq!(s.timestamp_ms, None);
        let x = l
            .iter()
            .map(sample_or_none)
            .find(|s| s.as_ref().is_some_and(|s| s.name == "x"))
            .flatten()
            .unwrap();
        assert!(x.value.is_nan());
        assert_eq!(x.timestamp_ms, Some(1_520_879_607_789));
    }

    fn sample_or_none(l: &Line<'_>) -> Option<Sample<'static>> {
        matches!(l, Line::Sample(_)).then(|| sample(l))
    }

    #[test]
    fn openmetrics_must_end_with_eof_and_nothing_after() {
        let e = lines("a 1\n", Format::OpenMetrics).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("# EOF"), "{e}");
        let e = lines("a 1\n# EOF\nb 2\n", Format::OpenMetrics).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("after # EOF"), "{e}");
        // The text format has no EOF and needs none.
        assert_eq!(lines("a 1\n", Format::Text).unwrap().len(), 1);
    }

    #[test]
    fn errors_name_the_line_and_what_was_expected() {
        let cases: &[(&str, usize, &str)] = &[
            ("a 1\n<html>\n", 2, "expected a metric name, found '<'"),
            ("a{b=\"1\" 2\n", 1, "expected ',' or '}'"),
            ("a{b=1} 2\n", 1, "double quotes"),
            ("a{b=\"1\"\n", 1, "unterminated"),
            ("a{b=\"1} 2\n", 1, "unterminated quoted"),
            ("a\n", 1, "no value"),
            ("a x\n", 1, "\"x\" is not a number"),
            ("a 1 1.5\n", 1, "not a timestamp"),
            ("a 1 2 3\n", 1, "unexpected"),
            ("# TYPE a countr\n", 1, "unknown type \"countr\""),
            ("a{b=\"1\",b=\"2\"} 1\n", 1, "label b appears twice"),
            ("a{=\"1\"} 1\n", 1, "expected a label name"),
            ("\n\n a{} 1 # {x=\"1\"}\n", 3, "exemplar"),
        ];
        for (text, line, needle) in cases {
            let e = lines(text, Format::Text).unwrap_err();
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.message.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn quoted_utf8_names_are_sanitised_and_counted() {
        let text = "# HELP \"my.metric\" Dots.\n{\"my.metric\", \"some.label\"=\"v\"} 1\n\"2nd\"{a=\"b\"} 2\nplain 3\n";
        let mut p = Parser::new(text, Format::Text);
        let l: Vec<_> = p.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            l[0],
            Line::Help {
                family: "my_metric".into(),
                text: "Dots.".into()
            }
        );
        let s = sample(&l[1]);
        assert_eq!(s.name, "my_metric");
        assert_eq!(s.labels, vec![("some_label".into(), "v".into())]);
        assert_eq!(sample(&l[2]).name, "_nd");
        assert_eq!(p.sanitised(), 4);
    }

    #[test]
    fn blanks_trailing_commas_crlf_and_comments_are_tolerated() {
        let text = "#HELP not_help x\n# just a comment\n  a { b = \"1\" , } \t 2\r\n";
        let l = lines(text, Format::Text).unwrap();
        assert_eq!(l.len(), 1);
        let s = sample(&l[0]);
        assert_eq!((s.labels[0].1.as_ref(), s.value), ("1", 2.0));
    }

    #[test]
    fn content_types_pick_the_parser() {
        assert_eq!(
            Format::from_content_type(Some(
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            )),
            Ok(Format::OpenMetrics)
        );
        assert_eq!(
            Format::from_content_type(Some("text/plain; version=0.0.4; charset=utf-8")),
            Ok(Format::Text)
        );
        assert_eq!(Format::from_content_type(None), Ok(Format::Text));
        assert_eq!(
            Format::from_content_type(Some("text/html")),
            Ok(Format::Text)
        );
        assert!(
            Format::from_content_type(Some(
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily"
            ))
            .is_err()
        );
    }

    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}"
    }

    fn label_name() -> impl Strategy<Value = String> {
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}"
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            (-1_000_000i64..1_000_000).prop_map(|v| v as f64),
        ]
    }

    /// Labels, value, timestamp.
    type GenSample = (Vec<(String, String)>, f64, Option<i64>);

    #[derive(Debug, Clone)]
    struct GenFamily {
        name: String,
        kind: FamilyType,
        help: Option<String>,
        unit: Option<String>,
        samples: Vec<GenSample>,
    }

    fn family() -> impl Strategy<Value = GenFamily> {
        let kinds = prop_oneof![
            Just(FamilyType::Counter),
            Just(FamilyType::Gauge),
            Just(FamilyType::Histogram),
            Just(FamilyType::GaugeHistogram),
            Just(FamilyType::Summary),
            Just(FamilyType::Info),
            Just(FamilyType::StateSet),
            Just(FamilyType::Unknown),
        ];
        let labels =
            proptest::collection::btree_map(label_name(), "\\PC{0,10}|[\"\\\\\n{},= #]{0,6}", 0..4)
                .prop_map(|m| m.into_iter().collect::<Vec<_>>());
        (
            name(),
            kinds,
            proptest::option::of("\\PC{0,20}|[\"\\\\\n]{0,5}"),
            proptest::option::of("[a-z]{1,8}"),
            proptest::collection::vec(
                (
                    labels,
                    value(),
                    proptest::option::of(-4_000_000_000_000i64..4_000_000_000_000),
                ),
                0..5,
            ),
        )
            .prop_map(|(name, kind, help, unit, samples)| GenFamily {
                name,
                kind,
                help,
                unit,
                samples,
            })
    }

    fn render(families: &[GenFamily], format: Format) -> String {
        let mut out = String::new();
        for f in families {
            if let Some(h) = &f.help {
                out.push_str(&format!("# HELP {} ", f.name));
                escape_help(h, format, &mut out);
                out.push('\n');
            }
            out.push_str(&format!("# TYPE {} {}\n", f.name, f.kind.as_str(format)));
            if format == Format::OpenMetrics
                && let Some(u) = &f.unit
            {
                out.push_str(&format!("# UNIT {} {u}\n", f.name));
            }
            for (labels, v, ts) in &f.samples {
                render_sample(
                    &mut out,
                    &Sample {
                        name: Cow::Borrowed(&f.name),
                        labels: labels
                            .iter()
                            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
                            .collect(),
                        value: *v,
                        timestamp_ms: *ts,
                    },
                    format,
                );
            }
        }
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        out
    }

    proptest! {
        #![proptest_config(crate::proptest_config(256))]

        #[test]
        fn never_panics_on_arbitrary_text(text in "\\PC{0,200}|[a-z_{}=\",# \n\\\\0-9.+-]{0,200}") {
            for f in [Format::Text, Format::OpenMetrics] {
                let mut p = Parser::new(&text, f);
                for l in p.by_ref() {
                    if let Err(e) = l {
                        prop_assert!(e.line >= 1);
                    }
                }
            }
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let text = String::from_utf8_lossy(&bytes);
            for f in [Format::Text, Format::OpenMetrics] {
                let _ = Parser::new(&text, f).count();
            }
        }

        #[test]
        fn rendered_families_parse_back(families in proptest::collection::vec(family(), 0..6), om in any::<bool>()) {
            let format = if om { Format::OpenMetrics } else { Format::Text };
            let text = render(&families, format);
            let parsed: Vec<Line<'_>> = Parser::new(&text, format).collect::<Result<_, _>>()
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            let mut it = parsed.iter();
            for f in &families {
                if let Some(h) = &f.help {
                    prop_assert_eq!(it.next(), Some(&Line::Help { family: f.name.as_str().into(), text: h.as_str().into() }));
                }
                prop_assert_eq!(it.next(), Some(&Line::Type { family: f.name.as_str().into(), kind: f.kind }));
                if format == Format::OpenMetrics && let Some(u) = &f.unit {
                    prop_assert_eq!(it.next(), Some(&Line::Unit { family: f.name.as_str().into(), unit: u.as_str() }));
                }
                for (labels, v, ts) in &f.samples {
                    let Some(Line::Sample(s)) = it.next() else {
                        return Err(TestCaseError::fail(format!("missing sample\n{text}")));
                    };
                    prop_assert_eq!(&s.name, &f.name);
                    let got: Vec<(String, String)> = s.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                    prop_assert_eq!(&got, labels);
                    prop_assert!(s.value == *v || (s.value.is_nan() && v.is_nan()), "{} vs {}", s.value, v);
                    prop_assert_eq!(s.timestamp_ms, *ts);
                }
            }
            prop_assert_eq!(it.next(), None);
        }
    }
}
