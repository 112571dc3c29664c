//! The syntax tree of the supported PromQL subset, and its canonical text form.
//!
//! `Display` writes an expression so that parsing the text gives the same tree back (the parser's
//! property tests check this), which is also how the pages put a query into a URL.

use crate::model::{Matcher, escape_label_value};
use std::fmt;

/// A series selector: `metric{label="value", ...}`, optionally shifted back by `offset`.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    pub metric: Option<String>,
    pub matchers: Vec<Matcher>,
    /// `offset 1w`: read the data this many milliseconds earlier than the evaluation time.
    pub offset_ms: i64,
}

/// Functions that take a range vector (`sel[5m]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeFunc {
    Rate,
    Increase,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    SumOverTime,
    CountOverTime,
    LastOverTime,
}

impl RangeFunc {
    pub const ALL: [RangeFunc; 8] = [
        RangeFunc::Rate,
        RangeFunc::Increase,
        RangeFunc::AvgOverTime,
        RangeFunc::MinOverTime,
        RangeFunc::MaxOverTime,
        RangeFunc::SumOverTime,
        RangeFunc::CountOverTime,
        RangeFunc::LastOverTime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RangeFunc::Rate => "rate",
            RangeFunc::Increase => "increase",
            RangeFunc::AvgOverTime => "avg_over_time",
            RangeFunc::MinOverTime => "min_over_time",
            RangeFunc::MaxOverTime => "max_over_time",
            RangeFunc::SumOverTime => "sum_over_time",
            RangeFunc::CountOverTime => "count_over_time",
            RangeFunc::LastOverTime => "last_over_time",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Aggregation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
}

impl AggOp {
    pub const ALL: [AggOp; 5] = [AggOp::Sum, AggOp::Avg, AggOp::Min, AggOp::Max, AggOp::Count];

    pub fn name(self) -> &'static str {
        match self {
            AggOp::Sum => "sum",
            AggOp::Avg => "avg",
            AggOp::Min => "min",
            AggOp::Max => "max",
            AggOp::Count => "count",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// `by (a, b)` keeps only the listed labels; `without (a, b)` drops them (and the metric name).
#[derive(Clone, Debug, PartialEq)]
pub enum Grouping {
    By(Vec<String>),
    Without(Vec<String>),
}

/// Arithmetic operators, in the usual precedence (`*` and `/` bind tighter than `+` and `-`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }

    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => 1,
            BinOp::Mul | BinOp::Div => 2,
        }
    }

    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number literal (a scalar).
    Number(f64),
    /// An instant vector selector.
    Selector(Selector),
    /// `func(selector[range])`.
    Call {
        func: RangeFunc,
        selector: Selector,
        range_ms: i64,
    },
    Aggregate {
        op: AggOp,
        grouping: Option<Grouping>,
        expr: Box<Expr>,
    },
    /// Unary minus of a non-literal (a negative literal is a `Number`).
    Neg(Box<Expr>),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

impl Expr {
    /// Every selector in the expression, with the range it is read over (0 for instant selectors).
    pub fn selectors(&self) -> Vec<(&Selector, i64)> {
        let mut out = Vec::new();
        self.collect_selectors(&mut out);
        out
    }

    fn collect_selectors<'a>(&'a self, out: &mut Vec<(&'a Selector, i64)>) {
        match self {
            Expr::Number(_) => {}
            Expr::Selector(s) => out.push((s, 0)),
            Expr::Call {
                selector, range_ms, ..
            } => out.push((selector, *range_ms)),
            Expr::Aggregate { expr, .. } | Expr::Neg(expr) => expr.collect_selectors(out),
            Expr::Binary { lhs, rhs, .. } => {
                lhs.collect_selectors(out);
                rhs.collect_selectors(out);
            }
        }
    }
}

/// Writes a duration in PromQL units, largest first: `1w2d`, `5m`, `1h30m`, `250ms`.
pub fn format_duration_ms(ms: i64) -> String {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    if ms <= 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, per) in UNITS {
        if rest >= per {
            out.push_str(&format!("{}{unit}", rest / per));
            rest %= per;
        }
    }
    out
}

/// Writes a string literal that the parser reads back to the same value.
pub(crate) fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && c != '\n' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => {
                let mut buf = [0u8; 4];
                escape_label_value(c.encode_utf8(&mut buf), &mut out)
            }
        }
    }
    out.push('"');
    f.write_str(&out)
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = &self.metric {
            f.write_str(m)?;
        }
        if self.metric.is_none() || !self.matchers.is_empty() {
            f.write_str("{")?;
            for (i, m) in self.matchers.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}{}", m.name, m.op.as_str())?;
                write_string(f, &m.value)?;
            }
            f.write_str("}")?;
        }
        Ok(())
    }
}

fn write_offset(f: &mut fmt::Formatter<'_>, offset_ms: i64) -> fmt::Result {
    if offset_ms != 0 {
        write!(f, " offset {}", format_duration_ms(offset_ms))?;
    }
    Ok(())
}

fn write_labels(f: &mut fmt::Formatter<'_>, labels: &[String]) -> fmt::Result {
    f.write_str("(")?;
    f.write_str(&labels.join(", "))?;
    f.write_str(")")
}

fn write_number(f: &mut fmt::Formatter<'_>, v: f64) -> fmt::Result {
    if v.is_nan() {
        f.write_str("NaN")
    } else if v.is_infinite() {
        f.write_str(if v > 0.0 { "Inf" } else { "-Inf" })
    } else {
        // Rust prints the shortest text that parses back to the same f64.
        write!(f, "{v}")
    }
}

impl Expr {
    /// Precedence for parenthesising: binary ops by operator, everything else binds tightest.
    fn precedence(&self) -> u8 {
        match self {
            Expr::Binary { op, .. } => op.precedence(),
            _ => u8::MAX,
        }
    }

    fn write_operand(&self, f: &mut fmt::Formatter<'_>, parens: bool) -> fmt::Result {
        if parens {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(v) => write_number(f, *v),
            Expr::Selector(s) => {
                write!(f, "{s}")?;
                write_offset(f, s.offset_ms)
            }
            Expr::Call {
                func,
                selector,
                range_ms,
            } => {
                write!(
                    f,
                    "{}({selector}[{}]",
                    func.name(),
                    format_duration_ms(*range_ms)
                )?;
                write_offset(f, selector.offset_ms)?;
                f.write_str(")")
            }
            Expr::Aggregate { op, grouping, expr } => {
                f.write_str(op.name())?;
                match grouping {
                    Some(Grouping::By(l)) => {
                        f.write_str(" by ")?;
                        write_labels(f, l)?;
                        f.write_str(" ")?;
                    }
                    Some(Grouping::Without(l)) => {
                        f.write_str(" without ")?;
                        write_labels(f, l)?;
                        f.write_str(" ")?;
                    }
                    None => {}
                }
                write!(f, "({expr})")
            }
            Expr::Neg(e) => {
                f.write_str("-")?;
                // A binary operand needs parentheses; a leading `-` before a number would fold
                // into the literal, so keep it apart with parentheses too.
                let parens = matches!(**e, Expr::Binary { .. } | Expr::Number(_) | Expr::Neg(_));
                e.write_operand(f, parens)
            }
            Expr::Binary { op, lhs, rhs } => {
                lhs.write_operand(f, lhs.precedence() < op.precedence())?;
                write!(f, " {} ", op.symbol())?;
                rhs.write_operand(f, rhs.precedence() <= op.precedence())
            }
        }
    }
}
