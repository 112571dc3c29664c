//! The values a notifier template works on, printed as Go's `fmt` prints them and encoded as Go's
//! `encoding/json` encodes them, so that Burrow's template files give Burrow's bytes.

use std::collections::BTreeMap;

/// One field of a Go struct: its Go name, its JSON name (`None`: `json:"-"`) and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub go: &'static str,
    pub json: Option<&'static str>,
    pub value: Value,
}

/// A Go value as text/template sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// What a missing map key gives to a field lookup: printed `<no value>`.
    Invalid,
    /// An untyped nil.
    Nil,
    /// A nil pointer to the named type.
    NilPtr(&'static str),
    Bool(bool),
    Int(i64),
    Uint(u64),
    /// The value and its Go size (32 or 64 bits).
    Float(f64, u8),
    Str(String),
    /// Burrow's `StatusConstant`: an int that prints as its name.
    Status(i64),
    /// A `time.Time`, in milliseconds since the epoch (shown in UTC).
    Time(i64),
    /// Burrow's `*Lag` (a struct around a uint64 that encodes as the bare number).
    Lag(u64),
    List(Vec<Value>),
    /// Keys sorted as Go sorts them when ranging; `zero` is what `index` gives for a missing key.
    Map(BTreeMap<String, Value>, Box<Value>),
    /// A struct (`ptr`: reached through a pointer) with its Go type name.
    Struct {
        ty: &'static str,
        ptr: bool,
        fields: Vec<Field>,
    },
}

/// Burrow's status names, by value (`core/protocol/evaluator.go`).
pub fn status_name(v: i64) -> &'static str {
    const NAMES: [&str; 7] = ["NOTFOUND", "OK", "WARN", "ERR", "STOP", "STALL", "REWIND"];
    usize::try_from(v)
        .ok()
        .and_then(|i| NAMES.get(i).copied())
        .unwrap_or("UNKNOWN")
}

impl Value {
    /// The Go type name, for error messages.
    pub fn type_name(&self) -> String {
        match self {
            Value::Invalid => "invalid".into(),
            Value::Nil => "nil".into(),
            Value::NilPtr(t) => format!("*{t}"),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Uint(_) => "uint64".into(),
            Value::Float(_, b) => format!("float{b}"),
            Value::Str(_) => "string".into(),
            Value::Status(_) => "protocol.StatusConstant".into(),
            Value::Time(_) => "time.Time".into(),
            Value::Lag(_) => "*protocol.Lag".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(..) => "map[string]interface {}".into(),
            Value::Struct { ty, ptr, .. } => format!("{}{ty}", if *ptr { "*" } else { "" }),
        }
    }

    /// text/template's truth: the zero value of its type is false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Invalid | Value::Nil | Value::NilPtr(_) => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Status(i) => *i != 0,
            Value::Uint(u) => *u != 0,
            Value::Float(f, _) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m, _) => !m.is_empty(),
            Value::Time(_) | Value::Lag(_) | Value::Struct { .. } => true,
        }
    }

    /// How `{{.}}` prints it (Go's `fmt.Fprint` after text/template's `printableValue`).
    pub fn print(&self) -> String {
        let mut s = String::new();
        self.write_go(&mut s, true);
        s
    }

    fn write_go(&self, out: &mut String, top: bool) {
        match self {
            Value::Invalid => out.push_str("<no value>"),
            Value::Nil | Value::NilPtr(_) => out.push_str("<nil>"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Uint(u) => out.push_str(&u.to_string()),
            Value::Float(f, bits) => out.push_str(&go_float_g(*f, *bits)),
            Value::Str(s) => out.push_str(s),
            Value::Status(v) => out.push_str(status_name(*v)),
            Value::Time(ms) => out.push_str(&go_time_string(*ms)),
            Value::Lag(v) => {
                // A pointer printed at the top is followed; inside a value Go would print its
                // address, which no one can use, so it is shown as `&{…}`.
                out.push_str(if top { "{" } else { "&{" });
                out.push_str(&v.to_string());
                out.push('}');
            }
            Value::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_go(out, false);
                }
                out.push(']');
            }
            Value::Map(m, _) => {
                out.push_str("map[");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_go(out, false);
                }
                out.push(']');
            }
            Value::Struct { ptr, fields, .. } => {
                if *ptr && !top {
                    out.push('&');
                }
                out.push('{');
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    f.value.write_go(out, false);
                }
                out.push('}');
            }
        }
    }

    /// Go's `json.Marshal` of the value (HTML-escaping included, as Go does by default).
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write_json(&mut s);
        s
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Value::Invalid | Value::Nil | Value::NilPtr(_) => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Uint(u) | Value::Lag(u) => out.push_str(&u.to_string()),
            Value::Float(f, bits) => out.push_str(&go_json_float(*f, *bits)),
            Value::Str(s) => json_string(s, out),
            Value::Status(v) => json_string(status_name(*v), out),
            Value::Time(ms) => json_string(&go_rfc3339_nano(*ms), out),
            Value::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json(out);
                }
                out.push(']');
            }
            Value::Map(m, _) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_string(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
            Value::Struct { fields, .. } => {
                out.push('{');
                let mut first = true;
                for f in fields {
                    let Some(name) = f.json else { continue };
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    json_string(name, out);
                    out.push(':');
                    f.value.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON string as Go writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped too.
fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The shortest digits that read back as the same float of `bits` size, and the decimal
/// exponent of the first digit: 0.7 → ("7", -1).
fn shortest(f: f64, bits: u8) -> (String, i32) {
    let e = if bits == 32 {
        format!("{:e}", f as f32)
    } else {
        format!("{f:e}")
    };
    let e = e.trim_start_matches('-');
    let (mant, exp) = e.split_once('e').unwrap_or((e, "0"));
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// Go's `%v` of a float: strconv's `'g'` with the shortest digits (exponent form below 1e-4 and
/// from 1e21 up... in Go from the 6th power of ten up, as `fmt.Print(1e8)` gives `1e+08`).
pub fn go_float_g(f: f64, bits: u8) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let neg = if f < 0.0 { "-" } else { "" };
    let (digits, exp) = shortest(f, bits);
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{neg}{first}{dot}e{sign}{:02}", exp.abs());
    }
    format!("{neg}{}", fixed(&digits, exp))
}

/// Digits with the decimal point placed after the digit of power `exp`, no exponent.
fn fixed(digits: &str, exp: i32) -> String {
    let point = exp + 1;
    if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    }
}

/// Go's `encoding/json` float: plain digits, exponent form below 1e-6 and from 1e21.
pub fn go_json_float(f: f64, bits: u8) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    if f == 0.0 {
        return "0".into();
    }
    let neg = if f < 0.0 { "-" } else { "" };
    let a = f.abs();
    let (digits, exp) = shortest(f, bits);
    if !(1e-6..1e21).contains(&a) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{neg}{first}{dot}e{sign}{}", exp.abs());
    }
    format!("{neg}{}", fixed(&digits, exp))
}

fn civil(ms: i64) -> (jiff::civil::DateTime, i32) {
    let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let nanos = (ms.rem_euclid(1000) * 1_000_000) as i32;
    (jiff::tz::Offset::UTC.to_datetime(ts), nanos)
}

/// Go's `Time.String()` in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`.
pub fn go_time_string(ms: i64) -> String {
    go_time_format(ms, "2006-01-02 15:04:05.999999999 -0700 MST")
}

fn go_rfc3339_nano(ms: i64) -> String {
    go_time_format(ms, "2006-01-02T15:04:05.999999999Z07:00")
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Go's `Time.Format` with a Go layout (`Jan 02, 2006 15:04:05 UTC`), in UTC.
pub fn go_time_format(ms: i64, layout: &str) -> String {
    let (dt, nanos) = civil(ms);
    let month = dt.month() as usize;
    let hour = dt.hour() as i32;
    let h12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let weekday = dt.weekday().to_monday_zero_offset() as usize;
    let mut out = String::new();
    let mut rest = layout;
    // Longest layout elements first where one is a prefix of another (as Go's nextStdChunk).
    const CHUNKS: &[&str] = &[
        "January",
        "Jan",
        "Monday",
        "Mon",
        "MST",
        "2006",
        "002",
        "__2",
        "_2",
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "15",
        "PM",
        "pm",
        "-07:00:00",
        "-070000",
        "-07:00",
        "-0700",
        "-07",
        "Z07:00:00",
        "Z070000",
        "Z07:00",
        "Z0700",
        "Z07",
        "1",
        "2",
        "3",
        "4",
        "5",
        ".",
        ",",
    ];
    'outer: while !rest.is_empty() {
        for chunk in CHUNKS {
            if !rest.starts_with(chunk) {
                continue;
            }
            let after = &rest[chunk.len()..];
            let text = match *chunk {
                "January" => MONTHS[month - 1].to_string(),
                "Jan" => MONTHS[month - 1][..3].to_string(),
                "Monday" => DAYS[weekday].to_string(),
                "Mon" => DAYS[weekday][..3].to_string(),
                "MST" => "UTC".into(),
                "2006" => format!("{:04}", dt.year()),
                "002" => format!("{:03}", dt.day_of_year()),
                "__2" => format!("{:>3}", dt.day_of_year()),
                "_2" => format!("{:>2}", dt.day()),
                "01" => format!("{month:02}"),
                "02" => format!("{:02}", dt.day()),
                "03" => format!("{h12:02}"),
                "04" => format!("{:02}", dt.minute()),
                "05" => format!("{:02}", dt.second()),
                "06" => format!("{:02}", dt.year().rem_euclid(100)),
                "15" => format!("{hour:02}"),
                "PM" => if hour >= 12 { "PM" } else { "AM" }.into(),
                "pm" => if hour >= 12 { "pm" } else { "am" }.into(),
                "-07:00:00" => "+00:00:00".into(),
                "-070000" => "+000000".into(),
                "-07:00" => "+00:00".into(),
                "-0700" => "+0000".into(),
                "-07" => "+00".into(),
                c if c.starts_with('Z') => "Z".into(),
                "1" => month.to_string(),
                "2" => dt.day().to_string(),
                "3" => h12.to_string(),
                "4" => dt.minute().to_string(),
                "5" => dt.second().to_string(),
                "." | "," => {
                    // Fractional seconds: a run of 0s (fixed) or 9s (trailing zeros dropped)
                    // that is not followed by another digit.
                    let digit = after.chars().next();
                    let run = match digit {
                        Some(d @ ('0' | '9')) => after.chars().take_while(|c| *c == d).count(),
                        _ => 0,
                    };
                    let next_is_digit = after[run..].starts_with(|c: char| c.is_ascii_digit());
                    if run == 0 || next_is_digit {
                        continue;
                    }
                    let frac = format!("{nanos:09}");
                    let frac = &frac[..run.min(9)];
                    rest = &after[run..];
                    if digit == Some('9') {
                        let t = frac.trim_end_matches('0');
                        if !t.is_empty() {
                            out.push_str(chunk);
                            out.push_str(t);
                        }
                    } else {
                        out.push_str(chunk);
                        out.push_str(frac);
                    }
                    continue 'outer;
                }
                _ => continue,
            };
            out.push_str(&text);
            rest = after;
            continue 'outer;
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(go_float_g(0.7f32 as f64, 32), "0.7");
        assert_eq!(go_float_g(1.0, 32), "1");
        assert_eq!(go_float_g(0.25, 32), "0.25");
        assert_eq!(go_float_g(1e8, 64), "1e+08");
        assert_eq!(go_float_g(123456.0, 64), "123456");
        assert_eq!(go_float_g(0.00001, 64), "1e-05");
        assert_eq!(go_json_float(0.7f32 as f64, 32), "0.7");
        assert_eq!(go_json_float(1.0, 32), "1");
        assert_eq!(go_json_float(1e-7, 64), "1e-7");
    }

    #[test]
    fn times_format_with_go_layouts() {
        // 2024-03-05 07:08:09.120 UTC, a Tuesday.
        let ms = 1_709_622_489_120;
        assert_eq!(
            go_time_format(ms, "Jan 02, 2006 15:04:05 UTC"),
            "Mar 05, 2024 07:08:09 UTC"
        );
        assert_eq!(
            go_time_format(ms, "Monday January _2 3:4:5 PM .000 .999 -0700 MST Z07:00"),
            "Tuesday March  5 7:8:9 AM .120 .12 +0000 UTC Z"
        );
        assert_eq!(go_time_string(ms), "2024-03-05 07:08:09.12 +0000 UTC");
        assert_eq!(
            Value::Time(ms).to_json(),
            "\"2024-03-05T07:08:09.12Z\"".to_string()
        );
    }

    #[test]
    fn json_escapes_like_go() {
        assert_eq!(
            Value::Str("a<b>&\"c\"\n".into()).to_json(),
            r#""a\u003cb\u003e\u0026\"c\"\n""#
        );
        assert_eq!(Value::NilPtr("protocol.Lag").to_json(), "null");
    }
}
