//! jmx_exporter rules are `java.util.regex` patterns with `$N` replacements; this module turns them
//! into Rust `regex` patterns and replacement templates, or says clearly why it cannot.
//!
//! Translated (same meaning in both engines after translation):
//! - `\w \W \d \D \s \S` become ASCII classes (Java's are ASCII unless `UNICODE_CHARACTER_CLASS`;
//!   Rust's are Unicode), `\b \B` become ASCII word boundaries;
//! - `\Q…\E` quoting becomes escaped literals; `\uXXXX` becomes `\x{XXXX}`.
//!
//! Rejected with an error naming the construct (Rust's `regex` has no backtracking):
//! look-ahead/look-behind `(?=` `(?!` `(?<=` `(?<!`, atomic groups `(?>`, possessive quantifiers
//! `*+ ++ ?+ {n}+`, back-references `\1`…`\9` and `\k<name>`. Anything else Rust's parser refuses
//! (e.g. `\p{javaLowerCase}`, a bare `{`) is reported with its message.
//!
//! Known remaining difference: Java's `.` also refuses `\r`, `\u0085`, `\u2028`, `\u2029`; Rust's
//! refuses only `\n`. Bean names and attribute names never contain them.

/// Translate a Java regex into Rust `regex` syntax; `Err` says what is not supported.
pub fn translate(java: &str) -> Result<String, String> {
    let chars: Vec<char> = java.chars().collect();
    let mut out = String::with_capacity(java.len() + 16);
    let mut i = 0;
    let mut class_depth = 0usize;
    // Whether the previous token can carry a quantifier (for spotting possessive `X*+`).
    let mut prev_quantifier = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err("pattern ends with a lone backslash".into());
                };
                i += 2;
                prev_quantifier = false;
                match n {
                    'w' | 'd' | 's' | 'W' | 'D' | 'S' => {
                        out.push_str(ascii_class(n, class_depth > 0))
                    }
                    'b' | 'B' if class_depth == 0 => {
                        out.push_str(if n == 'b' { "(?-u:\\b)" } else { "(?-u:\\B)" })
                    }
                    '1'..='9' if class_depth == 0 => {
                        return Err(format!(
                            "back-reference \\{n} is not supported (no backtracking in Rust's regex)"
                        ));
                    }
                    'k' if chars.get(i) == Some(&'<') => {
                        return Err("named back-reference \\k<…> is not supported".into());
                    }
                    'Q' => {
                        // Everything up to \E (or the end) is literal.
                        let mut lit = String::new();
                        while i < chars.len() {
                            if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                                i += 2;
                                break;
                            }
                            lit.push(chars[i]);
                            i += 1;
                        }
                        out.push_str(&regex::escape(&lit));
                    }
                    'E' => {}
                    'u' => {
                        let hex: String = chars.iter().skip(i).take(4).collect();
                        if hex.len() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit()) {
                            out.push_str(&format!("\\x{{{hex}}}"));
                            i += 4;
                        } else {
                            return Err(format!("malformed \\u escape \\u{hex}"));
                        }
                    }
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
                if class_depth == 0 {
                    prev_quantifier = true;
                }
                continue;
            }
            '[' => {
                class_depth += 1;
                out.push('[');
                i += 1;
                // A `]` or `^]` right after the opening bracket is literal in both engines.
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                prev_quantifier = false;
                continue;
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(']');
                i += 1;
                prev_quantifier = class_depth == 0;
                continue;
            }
            _ if class_depth > 0 => {
                out.push(c);
                i += 1;
                continue;
            }
            '(' => {
                let rest: String = chars.iter().skip(i + 1).take(3).collect();
                if rest.starts_with("?=") || rest.starts_with("?!") {
                    return Err("look-ahead (?=…)/(?!…) is not supported by Rust's regex".into());
                }
                if rest.starts_with("?<=") || rest.starts_with("?<!") {
                    return Err("look-behind (?<=…)/(?<!…) is not supported by Rust's regex".into());
                }
                if rest.starts_with("?>") {
                    return Err("atomic group (?>…) is not supported by Rust's regex".into());
                }
                out.push('(');
                i += 1;
                prev_quantifier = false;
                continue;
            }
            '*' | '+' | '?' | '}' => {
                out.push(c);
                i += 1;
                if c == '}' || prev_quantifier {
                    if chars.get(i) == Some(&'+') {
                        return Err(format!(
                            "possessive quantifier {c}+ is not supported by Rust's regex"
                        ));
                    }
                    if chars.get(i) == Some(&'?') {
                        out.push('?');
                        i += 1;
                    }
                }
                prev_quantifier = false;
                continue;
            }
            _ => {
                out.push(c);
                i += 1;
                prev_quantifier = true;
            }
        }
    }
    Ok(out)
}

fn ascii_class(c: char, in_class: bool) -> &'static str {
    match (c, in_class) {
        ('w', false) => "[0-9A-Za-z_]",
        ('w', true) => "0-9A-Za-z_",
        ('d', false) => "[0-9]",
        ('d', true) => "0-9",
        ('s', false) => "[\\t\\n\\x0B\\x0C\\r ]",
        ('s', true) => "\\t\\n\\x0B\\x0C\\r ",
        ('W', _) => "[^0-9A-Za-z_]",
        ('D', _) => "[^0-9]",
        _ => "[^\\t\\n\\x0B\\x0C\\r ]",
    }
}

/// One piece of a `Matcher.replaceAll` replacement string.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Lit(String),
    Group(usize),
    Named(String),
}

/// A parsed replacement (`kafka_$1_$2_total`, `0.$8`, `${name}`), Java's rules: `\x` is a literal
/// `x`; after `$` the first digit is always part of the group number and each further digit is
/// taken while the number stays a valid group (so `$10` is group 10 only if there are ten).
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parse `text` for a regex with `groups` capture groups and these group names.
    pub fn parse(text: &str, groups: usize, names: &[&str]) -> Result<Template, String> {
        let chars: Vec<char> = text.chars().collect();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' => {
                    let Some(&n) = chars.get(i + 1) else {
                        return Err("character to be escaped is missing (trailing \\)".into());
                    };
                    lit.push(n);
                    i += 2;
                }
                '$' => {
                    i += 1;
                    match chars.get(i) {
                        Some('{') => {
                            let end = chars[i..].iter().position(|&c| c == '}').map(|p| p + i);
                            let Some(end) = end else {
                                return Err("named group reference ${… is missing its }".into());
                            };
                            let name: String = chars[i + 1..end].iter().collect();
                            if !names.contains(&name.as_str()) {
                                return Err(format!("no group named {name:?} in the pattern"));
                            }
                            flush(&mut lit, &mut parts);
                            parts.push(Part::Named(name));
                            i = end + 1;
                        }
                        Some(d) if d.is_ascii_digit() => {
                            let mut num = d.to_digit(10).unwrap_or(0) as usize;
                            i += 1;
                            while let Some(n) = chars.get(i).and_then(|c| c.to_digit(10)) {
                                let next = num * 10 + n as usize;
                                if next > groups {
                                    break;
                                }
                                num = next;
                                i += 1;
                            }
                            if num > groups {
                                return Err(format!("refers to group ${num} but the pattern has {groups} group(s)"));
                            }
                            flush(&mut lit, &mut parts);
                            parts.push(Part::Group(num));
                        }
                        _ => return Err("illegal group reference: $ must be followed by a digit or {name} (write \\$ for a dollar)".into()),
                    }
                }
                c => {
                    lit.push(c);
                    i += 1;
                }
            }
        }
        flush(&mut lit, &mut parts);
        Ok(Template { parts })
    }

    /// The template with the captures filled in (an unmatched group gives "", as in Java).
    pub fn expand(&self, caps: &regex::Captures<'_>) -> String {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(l) => s.push_str(l),
                Part::Group(g) => s.push_str(caps.get(*g).map_or("", |m| m.as_str())),
                Part::Named(n) => s.push_str(caps.name(n).map_or("", |m| m.as_str())),
            }
        }
        s
    }

    /// Whether the template has no group references (its expansion is always the same).
    pub fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(l)] => Some(l),
            _ => None,
        }
    }
}

fn flush(lit: &mut String, parts: &mut Vec<Part>) {
    if !lit.is_empty() {
        parts.push(Part::Lit(std::mem::take(lit)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_classes_and_quotes() {
        assert_eq!(
            translate(r"kafka.(\w+)<").unwrap(),
            "kafka.([0-9A-Za-z_]+)<"
        );
        assert_eq!(translate(r"[\w-]+").unwrap(), "[0-9A-Za-z_-]+");
        assert_eq!(translate(r"\Qa.b\E").unwrap(), r"a\.b");
        assert_eq!(
            translate(r"(\d+)thPercentile").unwrap(),
            "([0-9]+)thPercentile"
        );
        // Lazy quantifiers are fine; possessive ones are not.
        assert_eq!(translate("a+?b*?").unwrap(), "a+?b*?");
        assert!(translate("a++").unwrap_err().contains("possessive"));
        assert!(translate("a{2}+").unwrap_err().contains("possessive"));
        // An escaped plus followed by a quantifier is not possessive.
        assert_eq!(translate(r"\++").unwrap(), r"\++");
        assert!(translate("(?=x)").unwrap_err().contains("look-ahead"));
        assert!(translate("(?<!x)").unwrap_err().contains("look-behind"));
        assert!(translate("(?>x)").unwrap_err().contains("atomic"));
        assert!(translate(r"(a)\1").unwrap_err().contains("back-reference"));
        // Named groups pass through.
        assert_eq!(translate("(?<n>x)").unwrap(), "(?<n>x)");
    }

    #[test]
    fn java_ascii_word_class_refuses_unicode_letters() {
        let re = regex::Regex::new(&translate(r"^\w+$").unwrap()).unwrap();
        assert!(re.is_match("abc_1"));
        assert!(!re.is_match("é"));
    }

    #[test]
    fn templates_follow_java_group_rules() {
        let re = regex::Regex::new("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)").unwrap();
        let caps = re.captures("abcdefghijk").unwrap();
        assert_eq!(Template::parse("$10", 11, &[]).unwrap().expand(&caps), "j");
        // With fewer groups `$10` is group 1 followed by a literal 0.
        let re2 = regex::Regex::new("(a)(b)").unwrap();
        let caps2 = re2.captures("ab").unwrap();
        assert_eq!(Template::parse("$10", 2, &[]).unwrap().expand(&caps2), "a0");
        assert_eq!(
            Template::parse(r"0.$2\$", 2, &[]).unwrap().expand(&caps2),
            "0.b$"
        );
        assert!(Template::parse("$x", 2, &[]).is_err());
        assert!(Template::parse("$3", 2, &[]).is_err());
        assert_eq!(
            Template::parse("plain", 0, &[]).unwrap().literal(),
            Some("plain")
        );
    }
}
