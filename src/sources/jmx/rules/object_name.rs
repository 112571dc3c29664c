//! JMX ObjectName patterns (`kafka.server:type=*,*`, `*:*`, `java.lang:type=GarbageCollector,name=*`)
//! as `includeObjectNames`/`excludeObjectNames` use them, matched against beans already read,
//! so the rules give the same result whatever the bridge queried.

use crate::sources::jmx::model::Bean;

/// A parsed ObjectName (pattern): domain glob, key=value pairs (values may hold `*`/`?`), and
/// whether the property list is open (`,*`).
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectNamePattern {
    pub text: String,
    domain: String,
    properties: Vec<(String, String)>,
    open: bool,
}

impl ObjectNamePattern {
    pub fn parse(text: &str) -> Result<ObjectNamePattern, String> {
        let Some((domain, rest)) = text.split_once(':') else {
            return Err(format!(
                "{text:?} is not an ObjectName (no ':' after the domain)"
            ));
        };
        let mut properties = Vec::new();
        let mut open = false;
        if rest.is_empty() {
            return Err(format!(
                "{text:?} has no key properties (use {domain}:* for all)"
            ));
        }
        for part in split_props(rest) {
            let part = part.trim();
            if part == "*" {
                open = true;
                continue;
            }
            let Some((k, v)) = part.split_once('=') else {
                return Err(format!("{text:?}: property {part:?} is not key=value"));
            };
            if k.is_empty() {
                return Err(format!("{text:?}: empty key in {part:?}"));
            }
            properties.push((k.to_string(), v.to_string()));
        }
        Ok(ObjectNamePattern {
            text: text.to_string(),
            domain: domain.to_string(),
            properties,
            open,
        })
    }

    /// Whether `bean` is one of the names this pattern stands for (`ObjectName.apply`). An empty
    /// domain (the server's default domain) is taken as any domain: beans carry no default-domain
    /// marker.
    pub fn matches(&self, bean: &Bean) -> bool {
        if !self.domain.is_empty() && !glob(&self.domain, &bean.domain) {
            return false;
        }
        for (k, v) in &self.properties {
            match bean.properties.iter().find(|(bk, _)| bk == k) {
                Some((_, bv)) if glob(v, bv) => {}
                _ => return false,
            }
        }
        self.open || bean.properties.len() == self.properties.len()
    }
}

/// Split a key property list on commas outside quoted values.
fn split_props(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// `*` any run, `?` one character; everything else literal.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bean(name: &str) -> Bean {
        let (domain, rest) = name.split_once(':').unwrap();
        Bean {
            name: name.into(),
            domain: domain.into(),
            properties: rest
                .split(',')
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.into(), v.into())
                })
                .collect(),
            attributes: vec![],
        }
    }

    #[test]
    fn patterns_match_like_object_name_apply() {
        let b = bean("kafka.log:type=Log,name=Size,topic=t,partition=0");
        assert!(
            ObjectNamePattern::parse("kafka.log:type=Log,*")
                .unwrap()
                .matches(&b)
        );
        assert!(ObjectNamePattern::parse("*:*").unwrap().matches(&b));
        assert!(
            ObjectNamePattern::parse("kafka.*:type=L?g,*")
                .unwrap()
                .matches(&b)
        );
        // Not open: the key set must be exactly the same.
        assert!(
            !ObjectNamePattern::parse("kafka.log:type=Log")
                .unwrap()
                .matches(&b)
        );
        assert!(
            ObjectNamePattern::parse("kafka.log:partition=0,topic=t,name=Size,type=Log")
                .unwrap()
                .matches(&b)
        );
        assert!(
            !ObjectNamePattern::parse("kafka.server:*")
                .unwrap()
                .matches(&b)
        );
        assert!(
            !ObjectNamePattern::parse("kafka.log:type=Partition,*")
                .unwrap()
                .matches(&b)
        );
        assert!(ObjectNamePattern::parse("no-colon").is_err());
        assert!(ObjectNamePattern::parse("d:novalue").is_err());
    }

    #[test]
    fn glob_basics() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("*", ""));
        assert!(!glob("a?c", "ac"));
        assert!(glob("replica*", "replica.1"));
    }
}
