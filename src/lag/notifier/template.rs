//! The part of Go's `text/template` that Burrow's notifier templates use, so that Burrow's own
//! template files run unchanged: `{{.Field.Sub}}`, `{{$}}`, variables (`$x := …`, `$x = …`),
//! `{{if}}`/`{{else if}}`/`{{else}}`, `{{range}}` (with `$i, $e :=`, `{{else}}`, `{{break}}`,
//! `{{continue}}`), `{{with}}`, pipelines, parenthesized pipelines, method calls with arguments
//! (`.Start.Format "…"`, `.Result.Status.String`), `{{- -}}` trimming, comments, Go's built-in
//! functions (and, or, not, eq, ne, lt, le, gt, ge, len, index, print, printf, println, urlquery)
//! and Burrow's helpers (`core/internal/notifier/helpers.go`). `define`, `template` and `block`
//! are refused: a notifier template is one file.
//!
//! As in Go, an unknown function or variable is a parse error; a field that does not exist is
//! found by [`Template::check`], which runs every branch over a sample status when the config is
//! loaded. Errors name the file and line.

use super::value::{Value, go_time_format, go_time_string, status_name};
use std::collections::BTreeMap;

/// A parse or execution error: `file:line: message`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {msg}")]
pub struct TemplateError {
    pub file: String,
    pub line: usize,
    pub msg: String,
    /// Depends on the data (a nil pointer, a missing index, a division by zero): not reported
    /// by [`Template::check`].
    pub data_dependent: bool,
}

/// How the pre-Go-template fields (`{{id}}`, `{{group}}`, …) escape their strings: kept as
/// functions of those names so the templates written for them keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// Inside a JSON string (bodies).
    Json,
    /// URL-encoded (URLs).
    Url,
}

/// The values of the older `{{id}}`-style fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Legacy {
    pub id: String,
    pub notifier: String,
    pub cluster: String,
    pub group: String,
    pub status: String,
    pub total_lag: u64,
    /// RFC 3339.
    pub start: String,
    /// The group's status as Burrow's JSON.
    pub result: String,
    pub escape: Escape,
}

/// A parsed template.
#[derive(Clone, Debug)]
pub struct Template {
    file: String,
    nodes: Vec<Node>,
}

/// Output beyond this, or this many evaluation steps, is an error (a runaway `range`).
const MAX_OUTPUT: usize = 4 << 20;
const MAX_STEPS: usize = 2_000_000;

const FUNCS: &[&str] = &[
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "urlquery",
    "jsonencoder",
    "topicsbystatus",
    "partitioncounts",
    "add",
    "minus",
    "multiply",
    "divide",
    "maxlag",
    "formattimestamp",
    "id",
    "notifier",
    "cluster",
    "group",
    "status",
    "total_lag",
    "start",
    "result",
];

const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "break", "continue", "define", "template", "block",
];

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Dot,
    Field(String),
    Var(String),
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Pipe,
    LParen,
    RParen,
    Comma,
    Declare,
    Assign,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// Whitespace before it: `.A .B` are two operands, `.A.B` one chain.
    spaced: bool,
}

enum Item {
    Text(String),
    Action { line: usize, toks: Vec<Token> },
}

#[derive(Clone, Debug)]
enum Node {
    Text(String),
    Action(Pipe),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

#[derive(Clone, Debug)]
struct Pipe {
    line: usize,
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Cmd>,
}

#[derive(Clone, Debug)]
struct Cmd {
    args: Vec<Arg>,
}

#[derive(Clone, Debug)]
enum Arg {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Func(String),
    Var(String),
    Pipe(Box<Pipe>),
    /// A base followed by field or method names: `.A.B`, `$x.A`, `(…).A`.
    Chain(Box<Arg>, Vec<String>),
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn ws_str(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

struct Lexer<'a> {
    src: &'a str,
    file: &'a str,
}

impl Lexer<'_> {
    fn err(&self, line: usize, msg: impl Into<String>) -> TemplateError {
        TemplateError {
            file: self.file.to_string(),
            line,
            msg: msg.into(),
            data_dependent: false,
        }
    }

    fn items(&self) -> Result<Vec<Item>, TemplateError> {
        let src = self.src;
        let b = src.as_bytes();
        let mut items = Vec::new();
        let mut pos = 0;
        let mut line = 1;
        let mut trim_next = false;
        loop {
            let Some(rel) = src[pos..].find("{{") else {
                let mut text = &src[pos..];
                if trim_next {
                    text = text.trim_start_matches(ws_str);
                }
                if !text.is_empty() {
                    items.push(Item::Text(text.to_string()));
                }
                return Ok(items);
            };
            let start = pos + rel;
            line += src[pos..start].matches('\n').count();
            let mut text = &src[pos..start];
            if trim_next {
                text = text.trim_start_matches(ws_str);
            }
            let mut inner = start + 2;
            if b.get(inner) == Some(&b'-') && b.get(inner + 1).is_some_and(|c| is_ws(*c)) {
                text = text.trim_end_matches(ws_str);
                inner += 2;
            }
            if !text.is_empty() {
                items.push(Item::Text(text.to_string()));
            }
            let action_line = line;
            if src[inner..].starts_with("/*") {
                let end = src[inner + 2..]
                    .find("*/")
                    .map(|e| inner + 2 + e + 2)
                    .ok_or_else(|| self.err(action_line, "unclosed comment"))?;
                line += src[start..end].matches('\n').count();
                let after = &src[end..];
                if after.starts_with("}}") {
                    pos = end + 2;
                    trim_next = false;
                } else if after.len() >= 4
                    && is_ws(after.as_bytes()[0])
                    && after[1..].starts_with("-}}")
                {
                    pos = end + 4;
                    trim_next = true;
                } else {
                    return Err(self.err(action_line, "comment ends before closing delimiter"));
                }
                continue;
            }
            let (toks, end, trim) = self.action(inner, action_line)?;
            line += src[start..end].matches('\n').count();
            items.push(Item::Action {
                line: action_line,
                toks,
            });
            pos = end;
            trim_next = trim;
        }
    }

    /// The tokens of one action from `i` (after `{{`): (tokens, position after `}}`, right trim).
    fn action(
        &self,
        mut i: usize,
        line: usize,
    ) -> Result<(Vec<Token>, usize, bool), TemplateError> {
        let src = self.src;
        let b = src.as_bytes();
        let mut toks = Vec::new();
        let mut spaced = true;
        loop {
            let Some(&c) = b.get(i) else {
                return Err(self.err(line, "unclosed action"));
            };
            if is_ws(c) {
                if src[i + 1..].starts_with("-}}") {
                    return Ok((toks, i + 4, true));
                }
                i += 1;
                spaced = true;
                continue;
            }
            if src[i..].starts_with("}}") {
                return Ok((toks, i + 2, false));
            }
            let next = b.get(i + 1).copied();
            let (tok, len) = match c {
                b'|' => (Tok::Pipe, 1),
                b'(' => (Tok::LParen, 1),
                b')' => (Tok::RParen, 1),
                b',' => (Tok::Comma, 1),
                b':' if next == Some(b'=') => (Tok::Declare, 2),
                b'=' => (Tok::Assign, 1),
                b'"' => self.quoted(i, line)?,
                b'`' => {
                    let end = src[i + 1..]
                        .find('`')
                        .ok_or_else(|| self.err(line, "unterminated raw quoted string"))?;
                    (Tok::Str(src[i + 1..i + 1 + end].to_string()), end + 2)
                }
                b'\'' => self.char_constant(i, line)?,
                b'$' => {
                    let n = b[i + 1..].iter().take_while(|c| ident_char(**c)).count();
                    (Tok::Var(src[i..i + 1 + n].to_string()), n + 1)
                }
                b'.' if next.is_some_and(|c| c.is_ascii_digit()) => self.number(i, line)?,
                b'.' if next.is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') => {
                    let n = b[i + 1..].iter().take_while(|c| ident_char(**c)).count();
                    (Tok::Field(src[i + 1..i + 1 + n].to_string()), n + 1)
                }
                b'.' => (Tok::Dot, 1),
                b'0'..=b'9' => self.number(i, line)?,
                b'+' | b'-' if next.is_some_and(|c| c.is_ascii_digit() || c == b'.') => {
                    self.number(i, line)?
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    let n = b[i..].iter().take_while(|c| ident_char(**c)).count();
                    let word = &src[i..i + n];
                    let tok = match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => Tok::Ident(w.to_string()),
                    };
                    (tok, n)
                }
                _ => {
                    let ch = src[i..].chars().next().unwrap_or('?');
                    return Err(self.err(line, format!("unexpected {ch:?} in action")));
                }
            };
            toks.push(Token { tok, spaced });
            spaced = false;
            i += len;
        }
    }

    fn quoted(&self, i: usize, line: usize) -> Result<(Tok, usize), TemplateError> {
        let mut out = String::new();
        let mut chars = self.src[i + 1..].char_indices();
        while let Some((k, c)) = chars.next() {
            match c {
                '"' => return Ok((Tok::Str(out), k + 2)),
                '\n' => break,
                '\\' => {
                    let (_, e) = chars
                        .next()
                        .ok_or_else(|| self.err(line, "unterminated quoted string"))?;
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '\\' => '\\',
                        '"' => '"',
                        '\'' => '\'',
                        '0' => '\0',
                        'x' | 'u' | 'U' => {
                            let n = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.err(line, format!("bad escape \\{e}{hex}")))?
                        }
                        other => {
                            return Err(self.err(line, format!("unknown escape \\{other}")));
                        }
                    });
                }
                c => out.push(c),
            }
        }
        Err(self.err(line, "unterminated quoted string"))
    }

    fn char_constant(&self, i: usize, line: usize) -> Result<(Tok, usize), TemplateError> {
        let rest = &self.src[i + 1..];
        let mut chars = rest.char_indices();
        let c = match chars.next() {
            Some((_, '\\')) => match chars.next() {
                Some((_, 'n')) => '\n',
                Some((_, 't')) => '\t',
                Some((_, '\\')) => '\\',
                Some((_, '\'')) => '\'',
                _ => return Err(self.err(line, "bad character constant")),
            },
            Some((_, c)) if c != '\'' => c,
            _ => return Err(self.err(line, "bad character constant")),
        };
        match chars.next() {
            Some((k, '\'')) => Ok((Tok::Int(c as i64), k + 2)),
            _ => Err(self.err(line, "unterminated character constant")),
        }
    }

    fn number(&self, i: usize, line: usize) -> Result<(Tok, usize), TemplateError> {
        let b = self.src.as_bytes();
        let mut n = 0;
        while let Some(&c) = b.get(i + n) {
            let exp_sign = (c == b'+' || c == b'-')
                && n > 0
                && matches!(b[i + n - 1], b'e' | b'E')
                && !self.src[i..i + n].contains(['x', 'X']);
            if ident_char(c) || c == b'.' || exp_sign || (n == 0 && (c == b'+' || c == b'-')) {
                n += 1;
            } else {
                break;
            }
        }
        let text = self.src[i..i + n].replace('_', "");
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text.strip_prefix('+').unwrap_or(&text)),
        };
        let radix = |p: &str, r| {
            digits
                .strip_prefix(p)
                .and_then(|d| i64::from_str_radix(d, r).ok())
        };
        let int = radix("0x", 16)
            .or_else(|| radix("0X", 16))
            .or_else(|| radix("0o", 8))
            .or_else(|| radix("0b", 2))
            .or_else(|| digits.parse::<i64>().ok());
        let tok = match int {
            Some(v) => Tok::Int(if neg { v.wrapping_neg() } else { v }),
            None => match digits.parse::<f64>() {
                Ok(f)
                    if digits
                        .bytes()
                        .all(|c| c.is_ascii_digit() || b".eE+-".contains(&c)) =>
                {
                    Tok::Float(if neg { -f } else { f })
                }
                _ => {
                    return Err(self.err(
                        line,
                        format!("bad number syntax: {:?}", &self.src[i..i + n]),
                    ));
                }
            },
        };
        Ok((tok, n))
    }
}

enum Term {
    End,
    Else(Vec<Token>),
}

/// Nodes up to a terminator (`{{end}}` or `{{else …}}` and its line), or to the end of input.
type Listed = (Vec<Node>, Option<(Term, usize)>);

struct Parser<'a> {
    items: std::vec::IntoIter<Item>,
    file: &'a str,
    vars: Vec<String>,
    range_depth: usize,
}

struct Cur<'a> {
    toks: &'a [Token],
    i: usize,
}

impl Cur<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }
}

impl Parser<'_> {
    fn err(&self, line: usize, msg: impl Into<String>) -> TemplateError {
        TemplateError {
            file: self.file.to_string(),
            line,
            msg: msg.into(),
            data_dependent: false,
        }
    }

    fn list(&mut self) -> Result<Listed, TemplateError> {
        let mut nodes = Vec::new();
        while let Some(item) = self.items.next() {
            let (line, toks) = match item {
                Item::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Item::Action { line, toks } => (line, toks),
            };
            let kw = match toks.first().map(|t| &t.tok) {
                Some(Tok::Ident(w)) if KEYWORDS.contains(&w.as_str()) => w.clone(),
                _ => {
                    let p = self.pipe_of(line, &toks, 1)?;
                    nodes.push(Node::Action(p));
                    continue;
                }
            };
            let rest = &toks[1..];
            match kw.as_str() {
                "end" if rest.is_empty() => return Ok((nodes, Some((Term::End, line)))),
                "end" => return Err(self.err(line, "unexpected tokens after {{end}}")),
                "else" => return Ok((nodes, Some((Term::Else(rest.to_vec()), line)))),
                "if" => nodes.push(self.if_node(line, rest)?),
                "with" => {
                    let mark = self.vars.len();
                    let p = self.pipe_of(line, rest, 1)?;
                    let (body, els) = self.body_and_else(line, "with")?;
                    self.vars.truncate(mark);
                    nodes.push(Node::With(p, body, els));
                }
                "range" => {
                    let mark = self.vars.len();
                    let p = self.pipe_of(line, rest, 2)?;
                    self.range_depth += 1;
                    let r = self.body_and_else(line, "range");
                    self.range_depth -= 1;
                    let (body, els) = r?;
                    self.vars.truncate(mark);
                    nodes.push(Node::Range(p, body, els));
                }
                "break" | "continue" => {
                    if self.range_depth == 0 {
                        return Err(self.err(line, format!("{{{{{kw}}}}} outside {{{{range}}}}")));
                    }
                    if !rest.is_empty() {
                        return Err(self.err(line, format!("unexpected tokens after {{{{{kw}}}}}")));
                    }
                    nodes.push(if kw == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    });
                }
                other => {
                    return Err(self.err(
                        line,
                        format!(
                            "{{{{{other}}}}} is not supported: a notifier template is one file"
                        ),
                    ));
                }
            }
        }
        Ok((nodes, None))
    }

    /// A `with` or `range` body up to `{{end}}`, with an optional `{{else}}` part.
    fn body_and_else(
        &mut self,
        line: usize,
        what: &str,
    ) -> Result<(Vec<Node>, Vec<Node>), TemplateError> {
        let (body, term) = self.list()?;
        match term {
            Some((Term::End, _)) => Ok((body, Vec::new())),
            Some((Term::Else(rest), l)) => {
                if !rest.is_empty() {
                    return Err(self.err(
                        l,
                        format!("unexpected tokens after {{{{else}}}} in {{{{{what}}}}}"),
                    ));
                }
                let (els, term) = self.list()?;
                match term {
                    Some((Term::End, _)) => Ok((body, els)),
                    Some((_, l)) => {
                        Err(self.err(l, format!("a second {{{{else}}}} in {{{{{what}}}}}")))
                    }
                    None => Err(self.err(line, format!("{{{{{what}}}}} without {{{{end}}}}"))),
                }
            }
            None => Err(self.err(line, format!("{{{{{what}}}}} without {{{{end}}}}"))),
        }
    }

    fn if_node(&mut self, line: usize, toks: &[Token]) -> Result<Node, TemplateError> {
        let mark = self.vars.len();
        let mut branches = Vec::new();
        let mut els = Vec::new();
        let mut cond = self.pipe_of(line, toks, 1)?;
        loop {
            let (body, term) = self.list()?;
            branches.push((cond, body));
            match term {
                Some((Term::End, _)) => break,
                Some((Term::Else(rest), l)) => {
                    if rest.is_empty() {
                        let (body, term) = self.list()?;
                        match term {
                            Some((Term::End, _)) => {
                                els = body;
                                break;
                            }
                            Some((_, l)) => {
                                return Err(self.err(l, "{{else}} after {{else}} in {{if}}"));
                            }
                            None => return Err(self.err(line, "{{if}} without {{end}}")),
                        }
                    }
                    if matches!(&rest[0].tok, Tok::Ident(w) if w == "if") {
                        cond = self.pipe_of(l, &rest[1..], 1)?;
                        continue;
                    }
                    return Err(self.err(l, "{{else}} may only be followed by if"));
                }
                None => return Err(self.err(line, "{{if}} without {{end}}")),
            }
        }
        self.vars.truncate(mark);
        Ok(Node::If(branches, els))
    }

    fn pipe_of(
        &mut self,
        line: usize,
        toks: &[Token],
        decl_max: usize,
    ) -> Result<Pipe, TemplateError> {
        let mut c = Cur { toks, i: 0 };
        if toks.is_empty() {
            return Err(self.err(line, "missing value for command"));
        }
        self.pipeline(&mut c, line, decl_max, false)
    }

    fn pipeline(
        &mut self,
        c: &mut Cur,
        line: usize,
        decl_max: usize,
        in_paren: bool,
    ) -> Result<Pipe, TemplateError> {
        let mut decl = Vec::new();
        let mut assign = false;
        if decl_max > 0 {
            let t = |k: usize| c.toks.get(c.i + k).map(|t| &t.tok);
            let names = match (t(0), t(1), t(2), t(3)) {
                (Some(Tok::Var(a)), Some(Tok::Declare | Tok::Assign), ..) => vec![a.clone()],
                (
                    Some(Tok::Var(a)),
                    Some(Tok::Comma),
                    Some(Tok::Var(b)),
                    Some(Tok::Declare | Tok::Assign),
                ) if decl_max == 2 => {
                    vec![a.clone(), b.clone()]
                }
                _ => Vec::new(),
            };
            if !names.is_empty() {
                c.i += names.len() * 2 - 1;
                assign = matches!(c.next().map(|t| t.tok), Some(Tok::Assign));
                decl = names;
            }
        }
        let mut cmds = Vec::new();
        loop {
            cmds.push(self.command(c, line)?);
            match c.peek().map(|t| &t.tok) {
                Some(Tok::Pipe) => {
                    c.next();
                }
                Some(Tok::RParen) if in_paren => {
                    c.next();
                    break;
                }
                None if !in_paren => break,
                None => return Err(self.err(line, "unclosed left paren")),
                Some(t) => return Err(self.err(line, format!("unexpected {t:?} in command"))),
            }
        }
        for v in &decl {
            if assign {
                if !self.vars.contains(v) {
                    return Err(self.err(line, format!("undefined variable {v:?}")));
                }
            } else {
                self.vars.push(v.clone());
            }
        }
        Ok(Pipe {
            line,
            decl,
            assign,
            cmds,
        })
    }

    fn command(&mut self, c: &mut Cur, line: usize) -> Result<Cmd, TemplateError> {
        let mut args = Vec::new();
        while let Some(t) = c.peek() {
            if matches!(t.tok, Tok::Pipe | Tok::RParen) {
                break;
            }
            args.push(self.operand(c, line)?);
        }
        if args.is_empty() {
            return Err(self.err(line, "missing value for command"));
        }
        Ok(Cmd { args })
    }

    fn operand(&mut self, c: &mut Cur, line: usize) -> Result<Arg, TemplateError> {
        let Some(t) = c.next() else {
            return Err(self.err(line, "missing operand"));
        };
        let base = match t.tok {
            Tok::Dot => Arg::Dot,
            Tok::Field(n) => {
                let mut names = vec![n];
                names.extend(self.fields(c));
                return Ok(Arg::Chain(Box::new(Arg::Dot), names));
            }
            Tok::Var(v) => {
                if v != "$" && !self.vars.contains(&v) {
                    return Err(self.err(line, format!("undefined variable {v:?}")));
                }
                Arg::Var(v)
            }
            Tok::Ident(n) => {
                if KEYWORDS.contains(&n.as_str()) {
                    return Err(self.err(line, format!("unexpected {n:?} in operand")));
                }
                if !FUNCS.contains(&n.as_str()) {
                    return Err(self.err(line, format!("function {n:?} not defined")));
                }
                Arg::Func(n)
            }
            Tok::Str(s) => Arg::Str(s),
            Tok::Int(i) => Arg::Int(i),
            Tok::Float(f) => Arg::Float(f),
            Tok::Bool(b) => Arg::Bool(b),
            Tok::Nil => Arg::Nil,
            Tok::LParen => Arg::Pipe(Box::new(self.pipeline(c, line, 1, true)?)),
            other => return Err(self.err(line, format!("unexpected {other:?} in operand"))),
        };
        let names = self.fields(c);
        if names.is_empty() {
            return Ok(base);
        }
        match base {
            Arg::Dot | Arg::Var(_) | Arg::Pipe(_) => Ok(Arg::Chain(Box::new(base), names)),
            _ => Err(self.err(line, format!("unexpected .{} after term", names[0]))),
        }
    }

    /// Field names directly after an operand (no space): `.A.B`.
    fn fields(&self, c: &mut Cur) -> Vec<String> {
        let mut names = Vec::new();
        while let Some(Token {
            tok: Tok::Field(n),
            spaced: false,
        }) = c.peek()
        {
            names.push(n.clone());
            c.next();
        }
        names
    }
}

fn arg_text(a: &Arg) -> String {
    match a {
        Arg::Dot => ".".into(),
        Arg::Nil => "nil".into(),
        Arg::Bool(b) => b.to_string(),
        Arg::Int(i) => i.to_string(),
        Arg::Float(f) => f.to_string(),
        Arg::Str(s) => format!("{s:?}"),
        Arg::Func(n) | Arg::Var(n) => n.clone(),
        Arg::Pipe(p) => format!("({})", pipe_text(p)),
        Arg::Chain(base, names) => {
            let b = match base.as_ref() {
                Arg::Dot => String::new(),
                other => arg_text(other),
            };
            format!("{b}.{}", names.join("."))
        }
    }
}

fn pipe_text(p: &Pipe) -> String {
    p.cmds
        .iter()
        .map(|c| c.args.iter().map(arg_text).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" | ")
}

impl Template {
    /// Parses `src`; `file` names it in errors.
    pub fn parse(file: &str, src: &str) -> Result<Template, TemplateError> {
        let items = Lexer { src, file }.items()?;
        let mut p = Parser {
            items: items.into_iter(),
            file,
            vars: Vec::new(),
            range_depth: 0,
        };
        let (nodes, term) = p.list()?;
        match term {
            None => Ok(Template {
                file: file.to_string(),
                nodes,
            }),
            Some((Term::End, line)) => Err(p.err(line, "unexpected {{end}}")),
            Some((Term::Else(_), line)) => Err(p.err(line, "unexpected {{else}}")),
        }
    }

    /// Runs the template over `data` (`.` and `$`).
    pub fn render(&self, data: &Value, legacy: &Legacy) -> Result<String, TemplateError> {
        let mut x = Exec {
            out: String::new(),
            vars: vec![("$".into(), data.clone())],
            file: &self.file,
            check: false,
            legacy,
            steps: 0,
        };
        x.list(&self.nodes, data)?;
        Ok(x.out)
    }

    /// Runs every branch over a sample `data`: a field, method or argument that cannot work
    /// with these types is an error here, when the config is loaded, not when an incident opens.
    pub fn check(&self, data: &Value, legacy: &Legacy) -> Result<(), TemplateError> {
        let mut x = Exec {
            out: String::new(),
            vars: vec![("$".into(), data.clone())],
            file: &self.file,
            check: true,
            legacy,
            steps: 0,
        };
        match x.list(&self.nodes, data) {
            Err(e) if !e.data_dependent => Err(e),
            _ => Ok(()),
        }
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a> {
    out: String,
    vars: Vec<(String, Value)>,
    file: &'a str,
    /// Every branch taken, over sample data (see [`Template::check`]).
    check: bool,
    legacy: &'a Legacy,
    steps: usize,
}

/// An execution error before it gets its file and line: (message, data-dependent).
type Fail = (String, bool);

fn fail<T>(msg: impl Into<String>) -> Result<T, Fail> {
    Err((msg.into(), false))
}

fn fail_data<T>(msg: impl Into<String>) -> Result<T, Fail> {
    Err((msg.into(), true))
}

impl Exec<'_> {
    fn at(&self, line: usize, p: &Pipe, (msg, data_dependent): Fail) -> TemplateError {
        TemplateError {
            file: self.file.to_string(),
            line,
            msg: format!("at <{}>: {msg}", pipe_text(p)),
            data_dependent,
        }
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
        for n in nodes {
            self.steps += 1;
            if self.steps > MAX_STEPS || self.out.len() > MAX_OUTPUT {
                return Err(TemplateError {
                    file: self.file.to_string(),
                    line: 0,
                    msg: "the output is too large (a runaway range?)".into(),
                    data_dependent: true,
                });
            }
            let flow = match n {
                Node::Text(t) => {
                    self.out.push_str(t);
                    Flow::Normal
                }
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        self.out.push_str(&v.print());
                    }
                    Flow::Normal
                }
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
                Node::If(branches, els) => self.if_node(branches, els, dot)?,
                Node::With(p, body, els) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?;
                    let mut flow = Flow::Normal;
                    if v.truth() {
                        flow = self.list(body, &v)?;
                    }
                    if !v.truth() || self.check {
                        flow = self.list(els, dot)?;
                    }
                    self.vars.truncate(mark);
                    flow
                }
                Node::Range(p, body, els) => self.range(p, body, els, dot)?,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn if_node(
        &mut self,
        branches: &[(Pipe, Vec<Node>)],
        els: &[Node],
        dot: &Value,
    ) -> Result<Flow, TemplateError> {
        let mark = self.vars.len();
        let mut flow = None;
        for (p, body) in branches {
            let v = self.pipe(p, dot)?;
            if self.check {
                self.list(body, dot)?;
            } else if v.truth() {
                flow = Some(self.list(body, dot)?);
                break;
            }
        }
        let flow = match flow {
            Some(f) => f,
            None => self.list(els, dot)?,
        };
        self.vars.truncate(mark);
        Ok(if self.check { Flow::Normal } else { flow })
    }

    fn range(
        &mut self,
        p: &Pipe,
        body: &[Node],
        els: &[Node],
        dot: &Value,
    ) -> Result<Flow, TemplateError> {
        let v = self.cmds(p, dot)?;
        let items: Vec<(Value, Value)> = match v {
            Value::List(l) => l
                .into_iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e))
                .collect(),
            Value::Map(m, _) => m.into_iter().map(|(k, e)| (Value::Str(k), e)).collect(),
            Value::Int(n) => (0..n.clamp(0, MAX_STEPS as i64))
                .map(|i| (Value::Int(i), Value::Int(i)))
                .collect(),
            Value::Invalid | Value::Nil | Value::NilPtr(_) => Vec::new(),
            other => {
                let e = (format!("range can't iterate over {}", other.print()), false);
                return Err(self.at(p.line, p, e));
            }
        };
        let take = if self.check { 1 } else { items.len() };
        let empty = items.is_empty();
        for (k, e) in items.into_iter().take(take) {
            let mark = self.vars.len();
            match p.decl.as_slice() {
                [one] => self.vars.push((one.clone(), e.clone())),
                [i, one] => {
                    self.vars.push((i.clone(), k));
                    self.vars.push((one.clone(), e.clone()));
                }
                _ => {}
            }
            let flow = self.list(body, &e)?;
            self.vars.truncate(mark);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        if empty || self.check {
            self.list(els, dot)?;
        }
        Ok(Flow::Normal)
    }

    /// The pipeline's value, stored in its variable if it declares one.
    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, TemplateError> {
        let v = self.cmds(p, dot)?;
        if let Some(name) = p.decl.first() {
            if p.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = v.clone();
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn cmds(&mut self, p: &Pipe, dot: &Value) -> Result<Value, TemplateError> {
        let mut v: Option<Value> = None;
        for c in &p.cmds {
            v = Some(
                self.cmd(c, dot, v.take())
                    .map_err(|e| self.at(p.line, p, e))?,
            );
        }
        Ok(v.unwrap_or(Value::Invalid))
    }

    fn cmd(&mut self, c: &Cmd, dot: &Value, last: Option<Value>) -> Result<Value, Fail> {
        let rest = &c.args[1..];
        match &c.args[0] {
            Arg::Func(name) => self.call(name, rest, last, dot),
            Arg::Chain(base, names) => {
                let mut v = self.arg(base, dot)?;
                for (k, name) in names.iter().enumerate() {
                    let args = if k + 1 == names.len() {
                        let mut a = rest
                            .iter()
                            .map(|x| self.arg(x, dot))
                            .collect::<Result<Vec<_>, _>>()?;
                        a.extend(last.clone());
                        a
                    } else {
                        Vec::new()
                    };
                    v = field(v, name, args)?;
                }
                Ok(v)
            }
            Arg::Nil => fail("nil is not a command"),
            other => {
                if !rest.is_empty() || last.is_some() {
                    return fail(format!(
                        "can't give argument to non-function {}",
                        arg_text(other)
                    ));
                }
                self.arg(other, dot)
            }
        }
    }

    fn arg(&mut self, a: &Arg, dot: &Value) -> Result<Value, Fail> {
        Ok(match a {
            Arg::Dot => dot.clone(),
            Arg::Nil => Value::Nil,
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Int(i) => Value::Int(*i),
            Arg::Float(f) => Value::Float(*f, 64),
            Arg::Str(s) => Value::Str(s.clone()),
            Arg::Var(n) => match self.vars.iter().rev().find(|(v, _)| v == n) {
                Some((_, v)) => v.clone(),
                None => return fail(format!("undefined variable {n:?}")),
            },
            Arg::Func(n) => self.call(n, &[], None, dot)?,
            Arg::Pipe(p) => {
                let mut v: Option<Value> = None;
                for c in &p.cmds {
                    v = Some(self.cmd(c, dot, v.take())?);
                }
                v.unwrap_or(Value::Invalid)
            }
            Arg::Chain(base, names) => {
                let mut v = self.arg(base, dot)?;
                for name in names {
                    v = field(v, name, Vec::new())?;
                }
                v
            }
        })
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Arg],
        last: Option<Value>,
        dot: &Value,
    ) -> Result<Value, Fail> {
        if name == "and" || name == "or" {
            // Short-circuit: the first false (and) or true (or) argument, else the last.
            let n = args.len() + usize::from(last.is_some());
            if n == 0 {
                return fail(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                ));
            }
            let mut v = Value::Invalid;
            for a in args {
                v = self.arg(a, dot)?;
                if v.truth() != (name == "and") && !self.check {
                    return Ok(v);
                }
            }
            if let Some(l) = last {
                v = l;
            }
            return Ok(v);
        }
        let mut vals = args
            .iter()
            .map(|a| self.arg(a, dot))
            .collect::<Result<Vec<_>, _>>()?;
        vals.extend(last);
        function(name, vals, self.legacy)
    }
}

fn want(name: &str, n: usize, vals: &[Value]) -> Result<(), Fail> {
    if vals.len() == n {
        Ok(())
    } else {
        fail(format!(
            "wrong number of args for {name}: want {n} got {}",
            vals.len()
        ))
    }
}

fn int_of(name: &str, v: &Value) -> Result<i64, Fail> {
    match v {
        Value::Int(i) | Value::Status(i) => Ok(*i),
        Value::Uint(u) => Ok(*u as i64),
        other => fail(format!(
            "wrong type for value in {name}; expected int; got {}",
            other.type_name()
        )),
    }
}

fn str_of<'v>(name: &str, v: &'v Value) -> Result<&'v str, Fail> {
    match v {
        Value::Str(s) => Ok(s),
        other => fail(format!(
            "wrong type for value in {name}; expected string; got {}",
            other.type_name()
        )),
    }
}

/// A field or method of a value.
fn field(recv: Value, name: &str, args: Vec<Value>) -> Result<Value, Fail> {
    let no_args = |v: Value| -> Result<Value, Fail> {
        if args.is_empty() {
            Ok(v)
        } else {
            fail(format!(
                "{name} has arguments but cannot be invoked as function"
            ))
        }
    };
    match &recv {
        Value::Struct { ty, fields, .. } => match fields.iter().find(|f| f.go == name) {
            Some(f) => no_args(f.value.clone()),
            None => fail(format!("can't evaluate field {name} in type {ty}")),
        },
        Value::NilPtr(ty) => fail_data(format!("nil pointer evaluating *{ty}.{name}")),
        Value::Map(m, _) => no_args(m.get(name).cloned().unwrap_or(Value::Invalid)),
        Value::Status(v) if name == "String" => no_args(Value::Str(status_name(*v).into())),
        Value::Lag(v) if name == "Value" => no_args(Value::Uint(*v)),
        Value::Time(ms) => match name {
            "Format" => {
                want("Format", 1, &args)?;
                Ok(Value::Str(go_time_format(*ms, str_of("Format", &args[0])?)))
            }
            "String" => no_args(Value::Str(go_time_string(*ms))),
            "Unix" => no_args(Value::Int(ms.div_euclid(1000))),
            "UnixMilli" => no_args(Value::Int(*ms)),
            "UnixNano" => no_args(Value::Int(ms.saturating_mul(1_000_000))),
            "UTC" | "Local" => no_args(recv.clone()),
            "IsZero" => no_args(Value::Bool(false)),
            _ => fail(format!("can't evaluate field {name} in type time.Time")),
        },
        Value::Invalid | Value::Nil => fail_data(format!("nil data; no entry for key {name:?}")),
        other => fail(format!(
            "can't evaluate field {name} in type {}",
            other.type_name()
        )),
    }
}

/// What `eq` and friends compare: Go's basic kinds.
#[derive(PartialEq, PartialOrd)]
enum Basic<'v> {
    Nil,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'v str),
}

fn basic<'v>(v: &'v Value) -> Result<Basic<'v>, Fail> {
    Ok(match v {
        Value::Nil | Value::NilPtr(_) => Basic::Nil,
        Value::Bool(b) => Basic::Bool(*b),
        Value::Int(i) | Value::Status(i) => Basic::Int(*i as i128),
        Value::Uint(u) => Basic::Int(*u as i128),
        Value::Float(f, _) => Basic::Float(*f),
        Value::Str(s) => Basic::Str(s),
        other => {
            return fail(format!(
                "invalid type for comparison: {}",
                other.type_name()
            ));
        }
    })
}

fn same_kind(a: &Basic, b: &Basic) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn equal(a: &Value, b: &Value) -> Result<bool, Fail> {
    // A pointer compared with nil: equal only when it is nil.
    if let (Value::Struct { ptr: true, .. }, Value::Nil)
    | (Value::Nil, Value::Struct { ptr: true, .. }) = (a, b)
    {
        return Ok(false);
    }
    let (x, y) = (basic(a)?, basic(b)?);
    if !same_kind(&x, &y) {
        return fail("incompatible types for comparison");
    }
    Ok(x == y)
}

fn less(a: &Value, b: &Value) -> Result<bool, Fail> {
    let (x, y) = (basic(a)?, basic(b)?);
    if !same_kind(&x, &y) {
        return fail("incompatible types for comparison");
    }
    if matches!(x, Basic::Nil | Basic::Bool(_)) {
        return fail("invalid type for comparison");
    }
    Ok(x < y)
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn sprint(vals: &[Value]) -> String {
    let mut s = String::new();
    for (i, v) in vals.iter().enumerate() {
        if i > 0 && !matches!(v, Value::Str(_)) && !matches!(vals[i - 1], Value::Str(_)) {
            s.push(' ');
        }
        s.push_str(&v.print());
    }
    s
}

fn url_query(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn url_path(s: &str) -> String {
    url_query(s).replace('+', "%20")
}

fn json_inner(s: &str) -> String {
    let q = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    q[1..q.len() - 1].to_string()
}

/// Go's `fmt.Sprintf` for the verbs templates use: %v %s %d %q %f %g %e %x %X %t %c %%, with
/// flags `-` `0` `+`, width and precision.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut zero, mut plus) = (false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => minus = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut prec: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(v) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let bad = || format!("%!{verb}({}={})", v.type_name(), v.print());
        let num = |v: &Value| -> Option<i128> {
            match v {
                Value::Int(i) => Some(*i as i128),
                Value::Uint(u) => Some(*u as i128),
                _ => None,
            }
        };
        let mut text = match verb {
            'v' => v.print(),
            's' => match v {
                Value::Str(_) | Value::Status(_) | Value::Time(_) => v.print(),
                _ => bad(),
            },
            'd' => match (num(v), v) {
                (Some(n), _) => format!("{}{n}", if plus && n >= 0 { "+" } else { "" }),
                (None, Value::Status(s)) => s.to_string(),
                _ => bad(),
            },
            'q' => match v {
                Value::Str(s) => format!("{s:?}"),
                _ => bad(),
            },
            'f' | 'F' | 'e' | 'g' => match v {
                Value::Float(f, bits) => match verb {
                    'g' => super::value::go_float_g(*f, *bits),
                    'e' => format!("{:.*e}", prec.unwrap_or(6), f),
                    _ => format!("{:.*}", prec.unwrap_or(6), f),
                },
                _ => bad(),
            },
            'x' | 'X' => {
                let t = match (num(v), v) {
                    (Some(n), _) => format!("{n:x}"),
                    (None, Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
                    _ => bad(),
                };
                if verb == 'X' { t.to_uppercase() } else { t }
            }
            't' => match v {
                Value::Bool(b) => b.to_string(),
                _ => bad(),
            },
            'c' => match num(v)
                .and_then(|n| u32::try_from(n).ok())
                .and_then(char::from_u32)
            {
                Some(c) => c.to_string(),
                None => bad(),
            },
            _ => format!("%!{verb}({}={})", v.type_name(), v.print()),
        };
        if let (Some(p), 's' | 'v') = (prec, verb) {
            text = text.chars().take(p).collect();
        }
        let w: usize = width.parse().unwrap_or(0);
        let len = text.chars().count();
        if len < w {
            let pad = w - len;
            if minus {
                text.push_str(&" ".repeat(pad));
            } else if zero && matches!(verb, 'd' | 'f' | 'x' | 'X' | 'e' | 'g') {
                let (sign, digits) = match text.strip_prefix(['-', '+']) {
                    Some(d) => (&text[..1], d),
                    None => ("", text.as_str()),
                };
                text = format!("{sign}{}{digits}", "0".repeat(pad));
            } else {
                text = format!("{}{text}", " ".repeat(pad));
            }
        }
        out.push_str(&text);
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|v| format!("{}={}", v.type_name(), v.print()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

/// Go's built-ins, Burrow's helpers, and the older fields kept as functions.
fn function(name: &str, vals: Vec<Value>, legacy: &Legacy) -> Result<Value, Fail> {
    let esc = |s: &str| match legacy.escape {
        Escape::Json => json_inner(s),
        Escape::Url => url_path(s),
    };
    match name {
        "not" => {
            want(name, 1, &vals)?;
            Ok(Value::Bool(!vals[0].truth()))
        }
        "len" => {
            want(name, 1, &vals)?;
            match &vals[0] {
                Value::Str(s) => Ok(Value::Int(s.len() as i64)),
                Value::List(l) => Ok(Value::Int(l.len() as i64)),
                Value::Map(m, _) => Ok(Value::Int(m.len() as i64)),
                other => fail(format!("len of type {}", other.type_name())),
            }
        }
        "index" => {
            let Some((first, keys)) = vals.split_first() else {
                return fail("wrong number of args for index: want at least 1 got 0");
            };
            let mut v = first.clone();
            for k in keys {
                v = match (&v, k) {
                    (Value::List(l), k) => {
                        let i = int_of("index", k)?;
                        match usize::try_from(i).ok().and_then(|i| l.get(i)) {
                            Some(e) => e.clone(),
                            None => {
                                return fail_data(format!(
                                    "error calling index: index out of range: {i}"
                                ));
                            }
                        }
                    }
                    (Value::Map(m, zero), Value::Str(s)) => {
                        m.get(s).cloned().unwrap_or((**zero).clone())
                    }
                    (Value::Map(..), other) => {
                        return fail(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        ));
                    }
                    (Value::Nil | Value::Invalid, _) => return fail_data("index of untyped nil"),
                    (other, _) => {
                        return fail(format!("can't index item of type {}", other.type_name()));
                    }
                };
            }
            Ok(v)
        }
        "eq" => {
            if vals.len() < 2 {
                return fail(format!(
                    "wrong number of args for eq: want at least 2 got {}",
                    vals.len()
                ));
            }
            let mut any = false;
            for b in &vals[1..] {
                any |= equal(&vals[0], b)?;
            }
            Ok(Value::Bool(any))
        }
        "ne" => {
            want(name, 2, &vals)?;
            Ok(Value::Bool(!equal(&vals[0], &vals[1])?))
        }
        "lt" | "le" | "gt" | "ge" => {
            want(name, 2, &vals)?;
            let (a, b) = (&vals[0], &vals[1]);
            Ok(Value::Bool(match name {
                "lt" => less(a, b)?,
                "le" => less(a, b)? || equal(a, b)?,
                "gt" => less(b, a)?,
                _ => less(b, a)? || equal(a, b)?,
            }))
        }
        "print" => Ok(Value::Str(sprint(&vals))),
        "println" => {
            let s: Vec<String> = vals.iter().map(Value::print).collect();
            Ok(Value::Str(format!("{}\n", s.join(" "))))
        }
        "printf" => {
            let Some((f, rest)) = vals.split_first() else {
                return fail("wrong number of args for printf: want at least 1 got 0");
            };
            Ok(Value::Str(sprintf(str_of("printf", f)?, rest)))
        }
        "urlquery" => Ok(Value::Str(url_query(&sprint(&vals)))),
        "jsonencoder" => {
            want(name, 1, &vals)?;
            Ok(Value::Str(vals[0].to_json()))
        }
        "topicsbystatus" | "partitioncounts" => {
            want(name, 1, &vals)?;
            let parts = match &vals[0] {
                Value::List(l) => l.as_slice(),
                Value::Nil => &[],
                other => {
                    return fail(format!(
                        "wrong type for value in {name}; expected []*protocol.PartitionStatus; got {}",
                        other.type_name()
                    ));
                }
            };
            let mut statuses = Vec::new();
            for p in parts {
                let (Value::Struct { fields, .. },) = (p,) else {
                    return fail(format!("{name}: not a partition status: {}", p.type_name()));
                };
                let get = |n: &str| fields.iter().find(|f| f.go == n).map(|f| f.value.clone());
                let (Some(Value::Status(s)), Some(Value::Str(t))) = (get("Status"), get("Topic"))
                else {
                    return fail(format!("{name}: not a partition status: {}", p.type_name()));
                };
                statuses.push((s, t));
            }
            if name == "topicsbystatus" {
                let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for (s, t) in statuses {
                    let topics = m.entry(status_name(s).to_string()).or_default();
                    if !topics.contains(&t) {
                        topics.push(t);
                    }
                }
                let m = m
                    .into_iter()
                    .map(|(k, mut v)| {
                        // Go's map order is random; sorted is one of the orders it may give.
                        v.sort();
                        (k, Value::List(v.into_iter().map(Value::Str).collect()))
                    })
                    .collect();
                Ok(Value::Map(m, Box::new(Value::List(Vec::new()))))
            } else {
                let mut m: BTreeMap<String, Value> = ["warn", "stop", "stall", "rewind", "unknown"]
                    .iter()
                    .map(|k| (k.to_string(), Value::Int(0)))
                    .collect();
                for (s, _) in statuses {
                    let key = match s {
                        1 => continue,
                        2 => "warn",
                        4 => "stop",
                        5 => "stall",
                        6 => "rewind",
                        _ => "unknown",
                    };
                    if let Some(Value::Int(n)) = m.get_mut(key) {
                        *n += 1;
                    }
                }
                Ok(Value::Map(m, Box::new(Value::Int(0))))
            }
        }
        "add" | "minus" | "multiply" | "divide" => {
            want(name, 2, &vals)?;
            let (a, b) = (int_of(name, &vals[0])?, int_of(name, &vals[1])?);
            Ok(Value::Int(match name {
                "add" => a.wrapping_add(b),
                "minus" => a.wrapping_sub(b),
                "multiply" => a.wrapping_mul(b),
                _ if b == 0 => {
                    return fail_data(
                        "error calling divide: runtime error: integer divide by zero",
                    );
                }
                _ => a.wrapping_div(b),
            }))
        }
        "maxlag" => {
            want(name, 1, &vals)?;
            match &vals[0] {
                Value::Nil | Value::NilPtr(_) => Ok(Value::Int(0)),
                Value::Struct { fields, .. } => {
                    match fields.iter().find(|f| f.go == "CurrentLag") {
                        Some(f) => Ok(Value::Int(int_of(name, &f.value)?)),
                        None => fail("maxlag: not a partition status"),
                    }
                }
                other => fail(format!(
                    "wrong type for value in maxlag; expected *protocol.PartitionStatus; got {}",
                    other.type_name()
                )),
            }
        }
        "formattimestamp" => {
            want(name, 2, &vals)?;
            let ms = int_of(name, &vals[0])?;
            Ok(Value::Str(go_time_format(ms, str_of(name, &vals[1])?)))
        }
        "id" | "notifier" | "cluster" | "group" | "status" | "total_lag" | "start" | "result" => {
            want(name, 0, &vals)?;
            Ok(Value::Str(match name {
                "id" => esc(&legacy.id),
                "notifier" => esc(&legacy.notifier),
                "cluster" => esc(&legacy.cluster),
                "group" => esc(&legacy.group),
                "status" => legacy.status.clone(),
                "total_lag" => legacy.total_lag.to_string(),
                "start" => esc(&legacy.start),
                _ => legacy.result.clone(),
            }))
        }
        other => fail(format!("function {other:?} not defined")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::value::Field;
    use super::*;

    fn legacy() -> Legacy {
        Legacy {
            id: "i d".into(),
            notifier: "n".into(),
            cluster: "c".into(),
            group: "g\"1".into(),
            status: "WARN".into(),
            total_lag: 7,
            start: "2024-01-01T00:00:00Z".into(),
            result: "{}".into(),
            escape: Escape::Json,
        }
    }

    fn data() -> Value {
        let part = |topic: &str, status: i64, lag: u64| Value::Struct {
            ty: "protocol.PartitionStatus",
            ptr: true,
            fields: vec![
                Field {
                    go: "Topic",
                    json: Some("topic"),
                    value: Value::Str(topic.into()),
                },
                Field {
                    go: "Status",
                    json: Some("status"),
                    value: Value::Status(status),
                },
                Field {
                    go: "CurrentLag",
                    json: Some("current_lag"),
                    value: Value::Uint(lag),
                },
            ],
        };
        Value::Struct {
            ty: "notifier.data",
            ptr: false,
            fields: vec![
                Field {
                    go: "ID",
                    json: None,
                    value: Value::Str("abc".into()),
                },
                Field {
                    go: "Extras",
                    json: None,
                    value: Value::Map(
                        [("app".to_string(), Value::Str("kafka".into()))]
                            .into_iter()
                            .collect(),
                        Box::new(Value::Str(String::new())),
                    ),
                },
                Field {
                    go: "Start",
                    json: None,
                    value: Value::Time(1_709_622_489_120),
                },
                Field {
                    go: "Parts",
                    json: None,
                    value: Value::List(vec![part("a", 2, 5), part("b", 4, 9), part("a", 4, 1)]),
                },
                Field {
                    go: "Status",
                    json: None,
                    value: Value::Status(3),
                },
            ],
        }
    }

    fn run(src: &str) -> Result<String, TemplateError> {
        Template::parse("t.tmpl", src)?.render(&data(), &legacy())
    }

    #[test]
    fn fields_conditions_ranges_and_variables() {
        assert_eq!(run("{{.ID}}-{{$.ID}}").unwrap(), "abc-abc");
        assert_eq!(
            run("{{if eq .Status 2}}W{{else if eq .Status 3 4}}E{{else}}O{{end}}").unwrap(),
            "E"
        );
        assert_eq!(
            run("{{.Status}} {{.Status.String}} {{printf \"%d\" .Status}}").unwrap(),
            "ERR ERR 3"
        );
        assert_eq!(
            run("{{range $i, $p := .Parts}}{{if $i}},{{end}}{{$i}}:{{.Topic}}{{end}}").unwrap(),
            "0:a,1:b,2:a"
        );
        assert_eq!(
            run("{{range .Extras}}{{.}}{{else}}none{{end}}").unwrap(),
            "kafka"
        );
        assert_eq!(run("{{$x := 1}}{{$x = add $x 2}}{{$x}}").unwrap(), "3");
        assert_eq!(
            run("{{range .Parts}}{{if eq .Topic \"b\"}}{{break}}{{end}}{{.Topic}}{{end}}").unwrap(),
            "a"
        );
        assert_eq!(run("{{with .ID}}<{{.}}>{{end}}").unwrap(), "<abc>");
        assert_eq!(
            run("{{index .Extras \"app\"}}|{{index .Extras \"nope\"}}|{{.Extras.nope}}").unwrap(),
            "kafka||<no value>"
        );
        assert_eq!(
            run("{{len .Parts}} {{(index .Parts 1).Topic}}").unwrap(),
            "3 b"
        );
        assert_eq!(
            run("{{.Start.Format \"Jan 02, 2006 15:04:05 UTC\"}}").unwrap(),
            "Mar 05, 2024 07:08:09 UTC"
        );
        assert_eq!(
            run("{{formattimestamp 0 \"2006-01-02\"}}").unwrap(),
            "1970-01-01"
        );
        assert_eq!(
            run("{{and 1 0 2}} {{or 0 \"\" 3}} {{not 0}}").unwrap(),
            "0 3 true"
        );
        assert_eq!(run("{{\"x\" | printf \"%s-%v\" .ID}}").unwrap(), "abc-x");
        assert_eq!(
            run("{{printf \"%5d|%-4s|%.2f|%q\" 42 \"ab\" 1.5 \"q\"}}").unwrap(),
            "   42|ab  |1.50|\"q\""
        );
    }

    #[test]
    fn burrows_helpers() {
        assert_eq!(
            run("{{range $s, $t := topicsbystatus .Parts}}{{$s}}={{$t}};{{end}}").unwrap(),
            "STOP=[a b];WARN=[a];"
        );
        assert_eq!(
            run("{{$c := partitioncounts .Parts}}{{$c.warn}}/{{$c.stop}}/{{index $c \"rewind\"}}")
                .unwrap(),
            "1/2/0"
        );
        assert_eq!(
            run("{{maxlag (index .Parts 1)}} {{maxlag nil}}").unwrap(),
            "9 0"
        );
        assert_eq!(
            run("{{add 1 2}} {{minus 1 2}} {{multiply 3 4}} {{divide 9 2}}").unwrap(),
            "3 -1 12 4"
        );
        assert_eq!(
            run("{{jsonencoder (index .Parts 0)}}").unwrap(),
            r#"{"topic":"a","status":"WARN","current_lag":5}"#
        );
        let e = run("{{divide 1 0}}").unwrap_err();
        assert!(e.data_dependent && e.msg.contains("divide by zero"), "{e}");
    }

    #[test]
    fn trimming_and_comments() {
        assert_eq!(run("a  {{- .ID -}}  \n b").unwrap(), "aabcb");
        assert_eq!(
            run("a {{/* note */}} b {{- /* x */ -}} c").unwrap(),
            "a  bc"
        );
        assert_eq!(run("{{-3}}").unwrap(), "-3");
    }

    #[test]
    fn the_older_fields_still_work_and_escape() {
        assert_eq!(
            run("{\"g\":\"{{group}}\",\"l\":{{total_lag}}}").unwrap(),
            "{\"g\":\"g\\\"1\",\"l\":7}"
        );
        let t = Template::parse("u", "http://h/{{id}}").unwrap();
        let mut l = legacy();
        l.escape = Escape::Url;
        assert_eq!(t.render(&data(), &l).unwrap(), "http://h/i%20d");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let parse = |s: &str| Template::parse("open.tmpl", s).unwrap_err().to_string();
        assert!(
            parse("a\n{{nosuch .X}}").starts_with("open.tmpl:2: function \"nosuch\" not defined")
        );
        assert!(parse("{{if .X}}").contains("open.tmpl:1: {{if}} without {{end}}"));
        assert!(parse("x\n\n{{end}}").starts_with("open.tmpl:3: unexpected {{end}}"));
        assert!(parse("{{$y}}").contains("undefined variable \"$y\""));
        assert!(parse("{{template \"x\"}}").contains("not supported"));
        assert!(parse("{{.A").contains("unclosed action"));
        assert!(parse("{{break}}").contains("outside"));
        // A field that does not exist: found by check, in a branch the data would not take.
        let t = Template::parse("open.tmpl", "x\n{{if false}}\n{{.Nope}}{{end}}").unwrap();
        assert!(t.render(&data(), &legacy()).is_ok());
        let e = t.check(&data(), &legacy()).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "open.tmpl:3: at <.Nope>: can't evaluate field Nope in type notifier.data"
            ),
            "{e}"
        );
        let t = Template::parse("m.tmpl", "{{.Start.Fmt}}").unwrap();
        assert!(
            t.check(&data(), &legacy())
                .unwrap_err()
                .msg
                .contains("Fmt in type time.Time")
        );
        // Positive control: a template that only uses what exists passes.
        let t = Template::parse(
            "ok.tmpl",
            "{{if false}}{{.Start.Format \"2006\"}}{{range .Parts}}{{.Topic}}{{end}}{{end}}",
        )
        .unwrap();
        assert!(t.check(&data(), &legacy()).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn the_parser_never_panics(src in "(\\{\\{|\\}\\}|[-. $|()\"`'a-zA-Z0-9:=,/*\\n\\\\]|if|end|else|range|with|eq|printf|index){0,60}") {
            if let Ok(t) = Template::parse("p", &src) {
                let _ = t.render(&data(), &legacy());
                let _ = t.check(&data(), &legacy());
            }
        }

        #[test]
        fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
            if let Ok(t) = Template::parse("p", &src) {
                let _ = t.render(&data(), &legacy());
            }
        }
    }
}
