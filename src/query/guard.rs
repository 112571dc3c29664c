//! A lexical pre-check that runs before the parser: it bounds how deeply a query nests, so that
//! neither `promql-parser` (whose AST post-processing recurses), nor the evaluator, nor dropping
//! the syntax tree can exhaust a thread's stack, and it reports unbalanced brackets with their
//! position (the parser itself only says "invalid promql query").
//!
//! The depth bound is conservative: bracket nesting plus the number of operators outside label
//! braces (a chain `a * b * c …` is a left-deep tree as tall as it has operators).

/// The largest nesting bound a query may have. 3,000-term operator chains pass.
pub const MAX_DEPTH: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("parse error at char {pos}: {msg}")]
    Syntax { pos: usize, msg: String },
    #[error(
        "the query is too complex: its operators and brackets nest {depth} levels deep, more than the limit of {limit}; split it into smaller queries"
    )]
    TooDeep { depth: usize, limit: usize },
    #[error("the query is empty")]
    Empty,
}

/// What the scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// Deepest nesting of `(` and `[`.
    pub nesting: usize,
    /// Operators outside `{…}` (binary operators, unary minus/plus, keywords `and or unless atan2`).
    pub operators: usize,
}

impl Shape {
    pub fn depth(&self) -> usize {
        self.nesting + self.operators
    }
}

/// Scans `text` (skipping strings and comments) and checks its depth against `limit`.
pub fn check(text: &str, limit: usize) -> Result<Shape, GuardError> {
    let shape = scan(text)?;
    if shape.depth() > limit {
        return Err(GuardError::TooDeep {
            depth: shape.depth(),
            limit,
        });
    }
    Ok(shape)
}

fn scan(text: &str) -> Result<Shape, GuardError> {
    let b = text.as_bytes();
    let mut stack: Vec<(u8, usize)> = Vec::new();
    let mut shape = Shape::default();
    let mut in_brace = false;
    let mut brace_at = 0;
    let mut any = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\'' | b'`' => {
                let start = i;
                i += 1;
                loop {
                    if i >= b.len() {
                        return Err(GuardError::Syntax {
                            pos: start + 1,
                            msg: "unterminated quoted string".into(),
                        });
                    }
                    if b[i] == b'\\' && c != b'`' {
                        i += 2;
                        continue;
                    }
                    if b[i] == c {
                        break;
                    }
                    i += 1;
                }
                any = true;
            }
            b'{' => {
                if in_brace {
                    return Err(GuardError::Syntax {
                        pos: i + 1,
                        msg: "unexpected \"{\" inside braces".into(),
                    });
                }
                in_brace = true;
                brace_at = i;
                any = true;
            }
            b'}' => {
                if !in_brace {
                    return Err(GuardError::Syntax {
                        pos: i + 1,
                        msg: "unexpected right brace '}'".into(),
                    });
                }
                in_brace = false;
            }
            _ if in_brace => {}
            b'(' | b'[' => {
                stack.push((c, i));
                shape.nesting = shape.nesting.max(stack.len());
                any = true;
            }
            b')' | b']' => {
                let want = if c == b')' { b'(' } else { b'[' };
                match stack.pop() {
                    Some((open, _)) if open == want => {}
                    _ => {
                        let what = if c == b')' {
                            "unexpected right parenthesis ')'"
                        } else {
                            "unexpected right bracket ']'"
                        };
                        return Err(GuardError::Syntax {
                            pos: i + 1,
                            msg: what.into(),
                        });
                    }
                }
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'<' | b'>' => {
                // `<=`, `>=` count once: the `=` that follows is skipped below.
                shape.operators += 1;
                any = true;
            }
            b'=' | b'!' => {
                if b.get(i + 1) == Some(&b'=') {
                    shape.operators += 1;
                    i += 1;
                }
                any = true;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':')
                {
                    i += 1;
                }
                let word = &text[start..i];
                if ["and", "or", "unless", "atan2"]
                    .iter()
                    .any(|k| word.eq_ignore_ascii_case(k))
                {
                    shape.operators += 1;
                }
                any = true;
                continue;
            }
            c if !c.is_ascii_whitespace() => any = true,
            _ => {}
        }
        i += 1;
    }
    if in_brace {
        return Err(GuardError::Syntax {
            pos: brace_at + 1,
            msg: "unclosed left brace".into(),
        });
    }
    if let Some((open, at)) = stack.pop() {
        let what = if open == b'(' {
            "unclosed left parenthesis"
        } else {
            "unclosed left bracket"
        };
        return Err(GuardError::Syntax {
            pos: at + 1,
            msg: what.into(),
        });
    }
    if !any {
        return Err(GuardError::Empty);
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_nesting_and_operators_outside_strings_and_braces() {
        let s = check(r#"sum(rate(x{a=~"(((", b!="+-*"}[5m])) * 2 + 1"#, 100).unwrap();
        assert_eq!(s.nesting, 3);
        assert_eq!(s.operators, 2);
        let s = check("a >= b and c unless d # ((( comment", 100).unwrap();
        assert_eq!(s.operators, 3);
        assert_eq!(s.nesting, 0);
    }

    #[test]
    fn unbalanced_brackets_name_their_position() {
        assert_eq!(
            check("rate(up[5m]", 100).unwrap_err().to_string(),
            "parse error at char 5: unclosed left parenthesis"
        );
        assert!(check("up)", 100).is_err());
        assert!(check("up{a=\"b\"", 100).is_err());
        assert!(check("up{a=\"b}", 100).is_err());
        assert!(check("(]", 100).is_err());
        assert_eq!(check("  ", 100), Err(GuardError::Empty));
    }

    #[test]
    fn deep_and_long_queries_are_refused_with_the_numbers() {
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = check(&deep, MAX_DEPTH).unwrap_err();
        assert_eq!(
            e,
            GuardError::TooDeep {
                depth: 10_000,
                limit: MAX_DEPTH
            }
        );
        let chain = format!("up{}", " * 1".repeat(2_999));
        assert_eq!(check(&chain, MAX_DEPTH).unwrap().operators, 2_999);
        let long = format!("up{}", " * 1".repeat(5_000));
        assert!(check(&long, MAX_DEPTH).is_err());
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(256))]
        #[test]
        fn never_panics(text in "\\PC{0,64}") {
            let _ = check(&text, MAX_DEPTH);
        }
    }
}
