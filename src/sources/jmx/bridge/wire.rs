//! The line format KsJmx.java answers in (one string per call, so one JNI crossing per scrape):
//! tab-separated fields, `\\ \t \r \n` escaped in text, values as
//! `N num | Z 0/1 | S text | U type | E error | C n (K key, value)*n |
//! T n (R ni nv (I key text)*ni (K key, value)*nv)*n`, and `X kind text` for a failed call.
//! The parser is total: any input gives a value or an error, never a panic (proptest below).

use crate::sources::jmx::model::{
    Attribute, AttributeInfo, Bean, BeanInfo, OperationInfo, TabularRow, Value,
};

/// The format version KsJmx.java writes in its `H` line.
pub const PROTOCOL: &str = "1";

/// Nesting deeper than this is refused (Java stops at 8).
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub enum WireError {
    /// The helper reported a failure: its kind (`refused`, `notjmx`, `auth`, `timeout`, `lost`,
    /// `connect`, `remote`) and text.
    Java { kind: String, text: String },
    /// The reply did not follow the format (a bug, or a helper of another version).
    Malformed(String),
}

/// A parsed scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeWire {
    pub refreshed: bool,
    pub java_ms: f64,
    pub beans: Vec<Bean>,
    /// Beans that could not be read at all: (ObjectName, why).
    pub skipped: Vec<(String, String)>,
}

struct Lines<'a> {
    rest: &'a str,
    line_no: usize,
}

impl<'a> Lines<'a> {
    fn new(s: &'a str) -> Self {
        Lines {
            rest: s,
            line_no: 0,
        }
    }

    fn next_line(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        self.line_no += 1;
        match self.rest.find('\n') {
            Some(i) => {
                let line = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                Some(line)
            }
            None => {
                let line = self.rest;
                self.rest = "";
                Some(line)
            }
        }
    }

    /// The next line split into fields; the first must be `tag`.
    fn expect(&mut self, tag: &str, min_fields: usize) -> Result<Vec<&'a str>, WireError> {
        let line_no = self.line_no + 1;
        let line = self.next_line().ok_or_else(|| {
            WireError::Malformed(format!("reply ends before line {line_no} ({tag})"))
        })?;
        let fields: Vec<&str> = line.split('\t').collect();
        if fields[0] != tag || fields.len() < min_fields {
            return Err(WireError::Malformed(format!(
                "line {line_no}: expected {tag} with {min_fields} fields, got {:?}",
                truncate(line)
            )));
        }
        Ok(fields)
    }

    fn peek_tag(&self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self.rest.find(['\t', '\n']).unwrap_or(self.rest.len());
        Some(&self.rest[..end])
    }

    fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    fn malformed(&self, what: &str) -> WireError {
        WireError::Malformed(format!("line {}: {what}", self.line_no))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Undoes KsJmx.esc.
pub fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn count(field: &str, lines: &Lines) -> Result<usize, WireError> {
    field
        .parse::<usize>()
        .map_err(|_| lines.malformed(&format!("bad count {:?}", truncate(field))))
}

/// An `X kind text` first line, when the reply is an error.
fn java_error(s: &str) -> Option<WireError> {
    let first = s.split('\n').next()?;
    let mut fields = first.splitn(3, '\t');
    if fields.next()? != "X" {
        return None;
    }
    let kind = fields.next().unwrap_or("").to_string();
    let text = unescape(fields.next().unwrap_or(""));
    Some(WireError::Java { kind, text })
}

fn parse_value(lines: &mut Lines, depth: usize) -> Result<Value, WireError> {
    if depth > MAX_DEPTH {
        return Err(lines.malformed("values nested too deep"));
    }
    let line_no = lines.line_no + 1;
    let line = lines.next_line().ok_or_else(|| {
        WireError::Malformed(format!("reply ends before value at line {line_no}"))
    })?;
    let (tag, rest) = line.split_once('\t').unwrap_or((line, ""));
    Ok(match tag {
        "N" => Value::Number(
            rest.parse::<f64>()
                .map_err(|_| lines.malformed(&format!("bad number {:?}", truncate(rest))))?,
        ),
        "Z" => Value::Boolean(rest == "1"),
        "S" => Value::Text(unescape(rest)),
        "U" => Value::Unsupported(unescape(rest)),
        "E" => Value::Error(unescape(rest)),
        "C" => {
            let n = count(rest, lines)?;
            let mut items = Vec::new();
            for _ in 0..n {
                let k = lines.expect("K", 2)?;
                let key = unescape(k[1]);
                items.push((key, parse_value(lines, depth + 1)?));
            }
            Value::Composite(items)
        }
        "T" => {
            let n = count(rest, lines)?;
            let mut rows = Vec::new();
            for _ in 0..n {
                let r = lines.expect("R", 3)?;
                let (ni, nv) = (count(r[1], lines)?, count(r[2], lines)?);
                let mut index = Vec::new();
                for _ in 0..ni {
                    let i = lines.expect("I", 3)?;
                    index.push((unescape(i[1]), unescape(i[2])));
                }
                let mut values = Vec::new();
                for _ in 0..nv {
                    let k = lines.expect("K", 2)?;
                    let key = unescape(k[1]);
                    values.push((key, parse_value(lines, depth + 1)?));
                }
                rows.push(TabularRow { index, values });
            }
            Value::Tabular(rows)
        }
        other => return Err(lines.malformed(&format!("unknown value tag {:?}", truncate(other)))),
    })
}

/// Splits an ObjectName into its domain and its key properties in the order written (quoted
/// values keep their quotes, and may hold `,` `=` `:`). None when it is not a valid name.
pub fn split_object_name(name: &str) -> Option<(String, Vec<(String, String)>)> {
    let (domain, keys) = name.split_once(':')?;
    let mut props = Vec::new();
    let bytes: Vec<char> = keys.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let key_start = i;
        while i < bytes.len() && bytes[i] != '=' {
            if bytes[i] == ',' {
                return None;
            }
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let key: String = bytes[key_start..i].iter().collect();
        i += 1; // '='
        let value_start = i;
        if i < bytes.len() && bytes[i] == '"' {
            i += 1;
            loop {
                if i >= bytes.len() {
                    return None;
                }
                match bytes[i] {
                    '\\' => i += 2,
                    '"' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            if i > bytes.len() {
                return None;
            }
        } else {
            while i < bytes.len() && bytes[i] != ',' {
                i += 1;
            }
        }
        let value: String = bytes[value_start..i.min(bytes.len())].iter().collect();
        if key.is_empty() {
            return None;
        }
        props.push((key, value));
        if i < bytes.len() {
            if bytes[i] != ',' {
                return None;
            }
            i += 1;
            if i == bytes.len() {
                return None;
            }
        }
    }
    Some((domain.to_string(), props))
}

pub fn parse_scrape(s: &str) -> Result<ScrapeWire, WireError> {
    if let Some(e) = java_error(s) {
        return Err(e);
    }
    let mut lines = Lines::new(s);
    let h = lines.expect("H", 6)?;
    if h[1] != PROTOCOL {
        return Err(WireError::Malformed(format!(
            "helper speaks protocol {:?}, this build {PROTOCOL}",
            truncate(h[1])
        )));
    }
    let refreshed = h[2] == "1";
    let java_ms = h[3]
        .parse::<f64>()
        .map_err(|_| lines.malformed("bad java_ms"))?;
    let nbeans = count(h[4], &lines)?;
    let nskipped = count(h[5], &lines)?;
    let mut beans = Vec::new();
    for _ in 0..nbeans {
        let b = lines.expect("B", 3)?;
        let name = unescape(b[1]);
        let nattrs = count(b[2], &lines)?;
        let (domain, properties) = split_object_name(&name)
            .ok_or_else(|| lines.malformed(&format!("bad ObjectName {:?}", truncate(&name))))?;
        let mut attributes = Vec::new();
        for _ in 0..nattrs {
            let a = lines.expect("A", 2)?;
            let attr = unescape(a[1]);
            attributes.push(Attribute {
                name: attr,
                value: parse_value(&mut lines, 0)?,
            });
        }
        beans.push(Bean {
            name,
            domain,
            properties,
            attributes,
        });
    }
    let mut skipped = Vec::new();
    for _ in 0..nskipped {
        let v = lines.expect("V", 3)?;
        skipped.push((unescape(v[1]), unescape(v[2])));
    }
    if !lines.at_end() {
        return Err(lines.malformed("trailing data after the last bean"));
    }
    Ok(ScrapeWire {
        refreshed,
        java_ms,
        beans,
        skipped,
    })
}

/// `OK` then lines `tag<TAB>text`: the texts (queryNames, getDomains).
pub fn parse_list(s: &str, tag: &str) -> Result<Vec<String>, WireError> {
    if let Some(e) = java_error(s) {
        return Err(e);
    }
    let mut lines = Lines::new(s);
    lines.expect("OK", 1)?;
    let mut out = Vec::new();
    while !lines.at_end() {
        let f = lines.expect(tag, 2)?;
        out.push(unescape(f[1]));
    }
    Ok(out)
}

pub fn parse_bean_info(s: &str, name: &str) -> Result<BeanInfo, WireError> {
    if let Some(e) = java_error(s) {
        return Err(e);
    }
    let mut lines = Lines::new(s);
    lines.expect("OK", 1)?;
    let i = lines.expect("I", 3)?;
    let mut info = BeanInfo {
        name: name.to_string(),
        class_name: unescape(i[1]),
        description: unescape(i[2]),
        attributes: Vec::new(),
        operations: Vec::new(),
    };
    while let Some(tag) = lines.peek_tag() {
        match tag {
            "F" => {
                let f = lines.expect("F", 6)?;
                let (readable, writable) = (f[4] == "1", f[5] == "1");
                info.attributes.push(AttributeInfo {
                    name: unescape(f[1]),
                    type_name: unescape(f[2]),
                    description: unescape(f[3]),
                    readable,
                    writable,
                    value: parse_value(&mut lines, 0)?,
                });
            }
            "O" => {
                let o = lines.expect("O", 6)?;
                let n = count(o[5], &lines)?;
                let mut parameters = Vec::new();
                for _ in 0..n {
                    let p = lines.expect("P", 3)?;
                    parameters.push((unescape(p[1]), unescape(p[2])));
                }
                info.operations.push(OperationInfo {
                    name: unescape(o[1]),
                    return_type: unescape(o[2]),
                    description: unescape(o[3]),
                    impact: unescape(o[4]),
                    parameters,
                });
            }
            other => {
                return Err(
                    lines.malformed(&format!("unexpected {:?} in bean info", truncate(other)))
                );
            }
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scrape_with_every_value_shape() {
        let s = "H\t1\t1\t3.5\t1\t1\n\
                 B\tjava.lang:type=Memory,name=\"a,b=c\"\t6\n\
                 A\tHeap\nC\t2\nK\tcommitted\nN\t1.0E9\nK\tused\nN\tNaN\n\
                 A\tRate\nN\t-Infinity\n\
                 A\tversion\nS\t3.9.1\\tx\\\\y\n\
                 A\tVerbose\nZ\t1\n\
                 A\tTable\nT\t1\nR\t1\t1\nI\tkey\tk1\nK\tvalue\nS\tv1\n\
                 A\tBroken\nE\tjava.lang.IllegalStateException: no\n\
                 V\tkafka:type=Gone\tbean vanished before it was read\n";
        let w = parse_scrape(s).expect("parses");
        assert!(w.refreshed);
        assert_eq!(w.java_ms, 3.5);
        assert_eq!(w.skipped.len(), 1);
        let b = &w.beans[0];
        assert_eq!(b.domain, "java.lang");
        assert_eq!(
            b.properties,
            vec![
                ("type".to_string(), "Memory".to_string()),
                ("name".to_string(), "\"a,b=c\"".to_string())
            ]
        );
        let Value::Composite(items) = &b.attributes[0].value else {
            panic!("composite expected: {:?}", b.attributes[0]);
        };
        assert_eq!(items[0], ("committed".to_string(), Value::Number(1e9)));
        assert!(matches!(items[1].1, Value::Number(x) if x.is_nan()));
        assert_eq!(b.attributes[1].value, Value::Number(f64::NEG_INFINITY));
        assert_eq!(b.attributes[2].value, Value::Text("3.9.1\tx\\y".into()));
        assert_eq!(b.attributes[3].value, Value::Boolean(true));
        assert_eq!(
            b.attributes[4].value,
            Value::Tabular(vec![TabularRow {
                index: vec![("key".into(), "k1".into())],
                values: vec![("value".into(), Value::Text("v1".into()))],
            }])
        );
        assert!(matches!(&b.attributes[5].value, Value::Error(e) if e.contains("IllegalState")));
    }

    #[test]
    fn errors_and_malformed_replies() {
        assert_eq!(
            parse_scrape("X\tauth\tauthentication failed: bad\\tpass\n"),
            Err(WireError::Java {
                kind: "auth".into(),
                text: "authentication failed: bad\tpass".into()
            })
        );
        assert!(matches!(
            parse_scrape("H\t2\t1\t1\t0\t0\n"),
            Err(WireError::Malformed(m)) if m.contains("protocol")
        ));
        assert!(matches!(
            parse_scrape("H\t1\t1\t1\t2\t0\nB\ta:b=c\t0\n"),
            Err(WireError::Malformed(_))
        ));
        // Positive control for the same shape, complete.
        assert_eq!(
            parse_scrape("H\t1\t0\t1\t2\t0\nB\ta:b=c\t0\nB\ta:b=d\t0\n")
                .expect("complete reply")
                .beans
                .len(),
            2
        );
    }

    #[test]
    fn object_names() {
        assert_eq!(
            split_object_name("kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic=t"),
            Some((
                "kafka.server".into(),
                vec![
                    ("type".into(), "BrokerTopicMetrics".into()),
                    ("name".into(), "BytesInPerSec".into()),
                    ("topic".into(), "t".into())
                ]
            ))
        );
        assert_eq!(
            split_object_name("d:k=\"x\\\"y,z\",j=1").map(|(_, p)| p),
            Some(vec![
                ("k".into(), "\"x\\\"y,z\"".into()),
                ("j".into(), "1".into())
            ])
        );
        assert_eq!(split_object_name("nodomain"), None);
        assert_eq!(split_object_name("d:k=\"open"), None);
        assert_eq!(split_object_name("d:k=v,"), None);
    }

    #[test]
    fn bean_info_and_lists() {
        let s = "OK\nI\tcom.x.Impl\tdesc\nF\tCount\tlong\tthe count\t1\t0\nN\t5.0\n\
                 F\tSecret\tjava.lang.String\t\t0\t1\nU\twrite-only\n\
                 O\treset\tvoid\tresets\tACTION\t1\nP\thard\tboolean\n";
        let info = parse_bean_info(s, "a:b=c").expect("parses");
        assert_eq!(info.attributes.len(), 2);
        assert_eq!(info.attributes[0].value, Value::Number(5.0));
        assert!(!info.attributes[1].readable && info.attributes[1].writable);
        assert_eq!(
            info.operations[0].parameters,
            vec![("hard".into(), "boolean".into())]
        );
        assert_eq!(
            parse_list("OK\nM\ta:b=c\nM\ta:b=d\n", "M").expect("list"),
            vec!["a:b=c".to_string(), "a:b=d".to_string()]
        );
        assert!(parse_list("OK\nD\tx\n", "M").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "(?s).{0,400}") {
            let _ = parse_scrape(&s);
            let _ = parse_bean_info(&s, "x:y=z");
            let _ = parse_list(&s, "M");
            let _ = split_object_name(&s);
            let _ = unescape(&s);
        }

        #[test]
        fn parsers_never_panic_on_near_valid_input(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("H\t1\t1\t2.0\t3\t1".to_string()),
                    Just("B\ta:b=c\t2".to_string()),
                    Just("A\tx".to_string()),
                    Just("C\t99999999999".to_string()),
                    Just("T\t2".to_string()),
                    Just("R\t1\t1".to_string()),
                    Just("I\tk\tv".to_string()),
                    Just("K\tk".to_string()),
                    Just("N\tNaN".to_string()),
                    Just("S\t\\".to_string()),
                    Just("V\ta:b=c\tgone".to_string()),
                    Just("OK".to_string()),
                    Just("F\ta\tint\td\t1\t0".to_string()),
                    Just("O\top\tvoid\td\tINFO\t2".to_string()),
                    "[A-Z]\t[ -~]{0,12}",
                ],
                0..60,
            )
        ) {
            let s = lines.join("\n");
            let _ = parse_scrape(&s);
            let _ = parse_bean_info(&s, "x:y=z");
            let _ = parse_list(&s, "M");
        }

        #[test]
        fn escaped_text_round_trips(s in "(?s).{0,60}") {
            let escaped = s.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r");
            prop_assert_eq!(unescape(&escaped), s);
        }
    }
}
