//! jmx_exporter's rule engine, in Rust: a jmx_exporter YAML config (its keys, its semantics) turned
//! into a [`RuleSet`] that names the [`Bean`]s a scrape read as Prometheus samples.
//!
//! Semantics follow prometheus/jmx_exporter `JmxCollector` (1.x) and `JmxScraper`:
//! - each numeric/boolean leaf of a bean becomes the match string
//!   `domain<k1=v1, k2=v2><key1, key2>attrName: value` (composites add their attribute name to the
//!   `<keys>`, tabular rows add their index columns to the properties, a `value` column keeps the
//!   attribute's own name);
//! - rules are tried in order against `^.*(?:pattern).*$` (so a pattern is not anchored); the first
//!   match wins; `$N` in `name`, `labels`, `value` and `help` are its groups;
//! - a matched rule with no `name` uses the default format
//!   `domain_firstPropertyValue_key1_…_attrName{otherKey="value",…}`; a `name` that expands to ""
//!   or a `value` that is not a number drops the attribute (no later rule is tried);
//! - names and label names pass through `safeName` (anything outside `[a-zA-Z0-9:_]` → `_`, runs of
//!   `_` collapsed, a leading digit prefixed with `_`), then the lowercase options;
//! - `cache: true` rules match against `…attrName: <cache>` and their result is remembered per match
//!   string (jmx_exporter's `MatchedRulesCache`, stale entries dropped after each scrape).
//!
//! Differences, on purpose: Java regexes are translated (see [`java_regex`]) or rejected with an
//! error; keys jmx_exporter would silently ignore are errors here, except the connection keys
//! (`hostPort`, `jmxUrl`, `username`, `password`, `ssl`, `startDelaySeconds`) and Confluent's
//! `cacheRules`, which are accepted and reported because the connection comes from our config;
//! same-name-and-labels samples keep the first and are counted (jmx_exporter 1.x would add an
//! `_objectname` label); a number renders in the match string as an integer when it is one (the
//! bridge gives `f64`s, so Java's `Long` vs `Double` text is inferred) — only `value`-matching rules
//! without `cache` can see the difference; attribute descriptions are not read by the bridge, so the
//! default help is jmx_exporter's `domain:name=…,type=…,attribute=…` without a description prefix.

pub mod java_regex;
pub mod object_name;

use crate::sources::jmx::model::{Bean, RuleSample, SampleType, TabularRow, Value};
use java_regex::Template;
use object_name::ObjectNamePattern;
use regex::{Regex, RegexSet};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use yaml_serde::Value as Yaml;

/// What went wrong reading a rule file: where (file, key path) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    #[error("{origin}: not valid YAML: {message}")]
    Yaml { origin: String, message: String },
    #[error("{origin}: {location}: {message}")]
    Invalid {
        origin: String,
        location: String,
        message: String,
    },
}

/// The connection keys a jmx_exporter config may carry. They are accepted (so the file works
/// unchanged) and reported, never used: the connection comes from `[clusters.jmx]`. The password
/// itself is not kept.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnectionKeys {
    pub start_delay_seconds: Option<i64>,
    pub host_port: Option<String>,
    pub jmx_url: Option<String>,
    pub ssl: Option<bool>,
    pub username: Option<String>,
    pub password_given: bool,
}

/// One file's settings that apply to its own rules (rules from different files keep their own).
#[derive(Clone, Debug)]
struct Segment {
    origin: String,
    include: Vec<ObjectNamePattern>,
    exclude: Vec<ObjectNamePattern>,
    include_attributes: Vec<(ObjectNamePattern, Vec<String>)>,
    exclude_attributes: Vec<(ObjectNamePattern, Vec<String>)>,
    connection: ConnectionKeys,
    ignored: Vec<String>,
}

impl Segment {
    fn admits(&self, bean: &Bean) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.matches(bean)))
            && !self.exclude.iter().any(|p| p.matches(bean))
    }

    fn admits_attribute(&self, bean: &Bean, attr: &str) -> bool {
        let lists = |l: &[(ObjectNamePattern, Vec<String>)]| -> (bool, bool) {
            // (some entry is for this bean, this attribute is listed for it)
            let mut for_bean = false;
            let mut listed = false;
            for (p, names) in l {
                if p.matches(bean) {
                    for_bean = true;
                    listed |= names.iter().any(|n| n == attr);
                }
            }
            (for_bean, listed)
        };
        if lists(&self.exclude_attributes).1 {
            return false;
        }
        // With an include list for this bean, only the listed attributes.
        let (for_bean, listed) = lists(&self.include_attributes);
        !for_bean || listed
    }
}

#[derive(Clone, Debug)]
struct Rule {
    segment: usize,
    /// Position in its own file, for messages.
    index: usize,
    regex: Option<Regex>,
    /// The rule's pattern as written.
    pattern: Option<String>,
    name: Option<Template>,
    value: Option<Template>,
    value_factor: f64,
    labels: Vec<(Template, Template)>,
    help: Option<Template>,
    kind: SampleType,
    snake: bool,
    cache: bool,
    lowercase_name: bool,
    lowercase_labels: bool,
}

/// A rule's verdict on one attribute.
#[derive(Clone, Debug)]
enum Outcome {
    Emit(Arc<Emit>),
    /// The rule matched but stops the attribute (empty name, `value` not a number).
    Drop(String),
}

#[derive(Clone, Debug)]
struct Emit {
    name: String,
    labels: Vec<(String, String)>,
    kind: SampleType,
    help: String,
    value: Option<f64>,
    factor: f64,
}

/// Rules of one kind (cached or not, snake-case attribute or not) compiled into one set so one
/// pass tells which of them match.
#[derive(Debug)]
struct Group {
    cache: bool,
    snake: bool,
    set: RegexSet,
    /// Set position → rule index.
    rules: Vec<usize>,
}

/// Remembered per value-free match string: the first cached rule that matches (and its outcome).
#[derive(Clone, Debug)]
struct CachedLeaf {
    first: Option<(usize, Outcome)>,
    seen: u64,
}

#[derive(Debug, Default)]
struct Cache {
    leaves: HashMap<Box<str>, CachedLeaf>,
    generation: u64,
}

/// A compiled rule set: one jmx_exporter config, or several composed with [`RuleSet::extend`].
#[derive(Debug)]
pub struct RuleSet {
    segments: Vec<Segment>,
    rules: Vec<Rule>,
    groups: Vec<Group>,
    query_include: Vec<String>,
    query_exclude: Vec<String>,
    /// Some rule has `cache: true`.
    any_cached: bool,
    /// Rules without a pattern (they match everything), in order.
    patternless: Vec<usize>,
    cache: Mutex<Cache>,
}

impl Clone for RuleSet {
    fn clone(&self) -> RuleSet {
        let mut r = RuleSet {
            segments: self.segments.clone(),
            rules: self.rules.clone(),
            groups: Vec::new(),
            query_include: Vec::new(),
            query_exclude: Vec::new(),
            any_cached: false,
            patternless: Vec::new(),
            cache: Mutex::new(Cache::default()),
        };
        r.rebuild();
        r
    }
}

/// One attribute (or composite item) a rule could not turn into a sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Unusable {
    pub bean: String,
    pub attribute: String,
    pub reason: String,
}

/// What [`RuleSet::apply`] made of one scrape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    pub samples: Vec<RuleSample>,
    /// Samples dropped because an earlier one had the same name and labels.
    pub duplicates: usize,
    pub unusable: Vec<Unusable>,
}

const CONNECTION_KEYS: &[&str] = &[
    "startDelaySeconds",
    "hostPort",
    "jmxUrl",
    "ssl",
    "username",
    "password",
];
const RULE_KEYS: &[&str] = &[
    "pattern",
    "name",
    "value",
    "valueFactor",
    "labels",
    "help",
    "type",
    "attrNameSnakeCase",
    "cache",
];

impl RuleSet {
    /// Parse a jmx_exporter YAML config. `origin` names it in errors (`preset kafka-broker.yml`,
    /// `/etc/kafkascope/broker-rules.yml`). An empty file is jmx_exporter's `{}`: everything in the
    /// default format.
    pub fn from_yaml(text: &str, origin: &str) -> Result<RuleSet, RulesError> {
        let yaml: Yaml = yaml_serde::from_str(text).map_err(|e| RulesError::Yaml {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let err = |location: &str, message: String| RulesError::Invalid {
            origin: origin.to_string(),
            location: location.to_string(),
            message,
        };
        let empty = yaml_serde::Mapping::new();
        let map = match &yaml {
            Yaml::Null => &empty,
            Yaml::Mapping(m) => m,
            _ => {
                return Err(err(
                    "(top level)",
                    "expected a mapping of jmx_exporter settings".into(),
                ));
            }
        };
        let mut seg = Segment {
            origin: origin.to_string(),
            include: Vec::new(),
            exclude: Vec::new(),
            include_attributes: Vec::new(),
            exclude_attributes: Vec::new(),
            connection: ConnectionKeys::default(),
            ignored: Vec::new(),
        };
        let mut lowercase_name = false;
        let mut lowercase_labels = false;
        let mut rules_yaml: Option<&Yaml> = None;
        let (mut include_key, mut exclude_key) = (None, None);
        for (k, v) in map {
            let Some(key) = k.as_str() else {
                return Err(err("(top level)", format!("key {k:?} is not a string")));
            };
            match key {
                "lowercaseOutputName" => {
                    lowercase_name =
                        bool_of(v).ok_or_else(|| err(key, "expected true or false".into()))?
                }
                "lowercaseOutputLabelNames" => {
                    lowercase_labels =
                        bool_of(v).ok_or_else(|| err(key, "expected true or false".into()))?
                }
                // jmx_exporter prefers the new name when both are given.
                "includeObjectNames" => include_key = Some((key, v)),
                "whitelistObjectNames" if include_key.is_none() => include_key = Some((key, v)),
                "excludeObjectNames" => exclude_key = Some((key, v)),
                "blacklistObjectNames" if exclude_key.is_none() => exclude_key = Some((key, v)),
                "whitelistObjectNames" | "blacklistObjectNames" => {}
                "includeObjectNameAttributes" => {
                    seg.include_attributes = attribute_map(key, v).map_err(|m| err(key, m))?
                }
                "excludeObjectNameAttributes" => {
                    seg.exclude_attributes = attribute_map(key, v).map_err(|m| err(key, m))?
                }
                // Attributes that cannot be numbers are reported per scrape instead of remembered.
                "autoExcludeObjectNameAttributes" => {
                    bool_of(v).ok_or_else(|| err(key, "expected true or false".into()))?;
                    seg.ignored.push(key.to_string());
                }
                "cacheRules" => {
                    bool_of(v).ok_or_else(|| err(key, "expected true or false".into()))?;
                    seg.ignored.push(key.to_string());
                }
                "rules" => rules_yaml = Some(v),
                "startDelaySeconds" => {
                    seg.connection.start_delay_seconds = Some(
                        v.as_i64()
                            .ok_or_else(|| err(key, "expected a whole number of seconds".into()))?,
                    )
                }
                "hostPort" => {
                    seg.connection.host_port =
                        Some(string_of(v).ok_or_else(|| err(key, "expected host:port".into()))?)
                }
                "jmxUrl" => {
                    seg.connection.jmx_url =
                        Some(string_of(v).ok_or_else(|| err(key, "expected a JMX URL".into()))?)
                }
                "ssl" => {
                    seg.connection.ssl =
                        Some(bool_of(v).ok_or_else(|| err(key, "expected true or false".into()))?)
                }
                "username" => {
                    seg.connection.username =
                        Some(string_of(v).ok_or_else(|| err(key, "expected a string".into()))?)
                }
                // Never echoed: only that one was given.
                "password" => seg.connection.password_given = true,
                "metricCustomizers" => {
                    return Err(err(
                        key,
                        "metricCustomizers (jmx_exporter beta) is not supported; use rules".into(),
                    ));
                }
                other => {
                    return Err(err(
                        other,
                        "unknown jmx_exporter setting (known: rules, lowercaseOutputName, lowercaseOutputLabelNames, \
                         includeObjectNames, excludeObjectNames, whitelistObjectNames, blacklistObjectNames, \
                         includeObjectNameAttributes, excludeObjectNameAttributes, autoExcludeObjectNameAttributes, \
                         startDelaySeconds, hostPort, jmxUrl, ssl, username, password)"
                            .into(),
                    ));
                }
            }
        }
        if seg.connection.host_port.is_some() && seg.connection.jmx_url.is_some() {
            return Err(err(
                "hostPort",
                "at most one of hostPort and jmxUrl may be given".into(),
            ));
        }
        if let Some((key, v)) = include_key {
            seg.include = object_names(v).map_err(|m| err(key, m))?;
        }
        if let Some((key, v)) = exclude_key {
            seg.exclude = object_names(v).map_err(|m| err(key, m))?;
        }
        let mut rules = Vec::new();
        match rules_yaml {
            None | Some(Yaml::Null) => {
                rules.push(Rule::default_rule(lowercase_name, lowercase_labels))
            }
            Some(Yaml::Sequence(list)) => {
                for (i, r) in list.iter().enumerate() {
                    rules.push(parse_rule(r, i, lowercase_name, lowercase_labels).map_err(
                        |(k, m)| {
                            err(
                                &if k.is_empty() {
                                    format!("rules[{i}]")
                                } else {
                                    format!("rules[{i}].{k}")
                                },
                                m,
                            )
                        },
                    )?);
                }
            }
            Some(_) => return Err(err("rules", "expected a list of rules".into())),
        }
        let mut set = RuleSet {
            segments: vec![seg],
            rules,
            groups: Vec::new(),
            query_include: Vec::new(),
            query_exclude: Vec::new(),
            any_cached: false,
            patternless: Vec::new(),
            cache: Mutex::new(Cache::default()),
        };
        set.rebuild();
        Ok(set)
    }

    /// Append `other`'s rules after this set's (first match wins, so this set's rules take
    /// precedence). Compose config extra rules first, then the preset: a team's specific rules must
    /// win over the preset's generic catch-alls. Each file keeps its own lowercase options and
    /// include/exclude lists, which apply to its own rules only.
    pub fn extend(&mut self, other: RuleSet) {
        let base = self.segments.len();
        self.segments.extend(other.segments);
        self.rules.extend(other.rules.into_iter().map(|mut r| {
            r.segment += base;
            r
        }));
        self.rebuild();
    }

    /// The ObjectName patterns to query (`include`; empty = all beans) and to leave out: the union
    /// of every file's includes (all, if any file has none) and the excludes every file shares.
    pub fn object_names(&self) -> (&[String], &[String]) {
        (&self.query_include, &self.query_exclude)
    }

    /// Number of rules (a file without `rules` counts its one default rule).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The connection keys each file carried (accepted, not used), by origin.
    pub fn connection_keys(&self) -> Vec<(&str, &ConnectionKeys)> {
        self.segments
            .iter()
            .map(|s| (s.origin.as_str(), &s.connection))
            .collect()
    }

    /// Human notes about settings that were accepted but have no effect here (never a secret).
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for s in &self.segments {
            let c = &s.connection;
            let mut given: Vec<&str> = Vec::new();
            if c.start_delay_seconds.is_some() {
                given.push("startDelaySeconds");
            }
            if c.host_port.is_some() {
                given.push("hostPort");
            }
            if c.jmx_url.is_some() {
                given.push("jmxUrl");
            }
            if c.ssl.is_some() {
                given.push("ssl");
            }
            if c.username.is_some() {
                given.push("username");
            }
            if c.password_given {
                given.push("password");
            }
            debug_assert!(given.iter().all(|g| CONNECTION_KEYS.contains(g)));
            if !given.is_empty() {
                notes.push(format!(
                    "{}: {} accepted but not used: the connection comes from [clusters.jmx]",
                    s.origin,
                    given.join(", ")
                ));
            }
            for k in &s.ignored {
                notes.push(format!("{}: {k} accepted, has no effect here", s.origin));
            }
        }
        notes
    }

    fn rebuild(&mut self) {
        let mut groups = Vec::new();
        for cache in [false, true] {
            for snake in [false, true] {
                let members: Vec<usize> = (0..self.rules.len())
                    .filter(|&i| {
                        let r = &self.rules[i];
                        r.cache == cache && r.snake == snake && r.regex.is_some()
                    })
                    .collect();
                if members.is_empty() {
                    continue;
                }
                let patterns: Vec<&str> = members
                    .iter()
                    .filter_map(|&i| self.rules[i].regex.as_ref().map(Regex::as_str))
                    .collect();
                // Each pattern compiled on its own already; the set of them compiles too (same
                // syntax). Should the set exceed the size limit, fall back to one-by-one matching.
                match RegexSet::new(&patterns) {
                    Ok(set) => groups.push(Group {
                        cache,
                        snake,
                        set,
                        rules: members,
                    }),
                    Err(_) => {
                        for i in members {
                            if let Some(re) = &self.rules[i].regex
                                && let Ok(set) = RegexSet::new([re.as_str()])
                            {
                                groups.push(Group {
                                    cache,
                                    snake,
                                    set,
                                    rules: vec![i],
                                });
                            }
                        }
                    }
                }
            }
        }
        self.groups = groups;
        self.any_cached = self.rules.iter().any(|r| r.cache);
        self.patternless = (0..self.rules.len())
            .filter(|&i| self.rules[i].regex.is_none())
            .collect();
        let all = self.segments.iter().any(|s| s.include.is_empty());
        self.query_include = if all {
            Vec::new()
        } else {
            let mut v: Vec<String> = self
                .segments
                .iter()
                .flat_map(|s| s.include.iter().map(|p| p.text.clone()))
                .collect();
            v.dedup();
            v
        };
        self.query_exclude = match self.segments.split_first() {
            Some((first, rest)) => first
                .exclude
                .iter()
                .filter(|p| {
                    rest.iter()
                        .all(|s| s.exclude.iter().any(|q| q.text == p.text))
                })
                .map(|p| p.text.clone())
                .collect(),
            None => Vec::new(),
        };
        if let Ok(mut c) = self.cache.lock() {
            c.leaves.clear();
        }
    }

    /// Name one scrape's beans. Deterministic: the same beans give the same samples in the same
    /// order. Cached rule results carry over to the next call; entries not seen this time are
    /// dropped.
    pub fn apply(&self, beans: &[Bean]) -> Applied {
        let mut guard = match self.cache.lock() {
            Ok(g) => g,
            // A panic elsewhere while holding the lock: the cache is only an optimisation.
            Err(poisoned) => {
                let mut g = poisoned.into_inner();
                g.leaves.clear();
                g
            }
        };
        guard.generation += 1;
        let mut run = Run {
            set: self,
            cache: &mut guard,
            out: Applied::default(),
            seen: HashSet::new(),
            key: String::new(),
        };
        run.beans(beans);
        let out = std::mem::take(&mut run.out);
        let generation = guard.generation;
        guard.leaves.retain(|_, l| l.seen == generation);
        out
    }
}

impl Run<'_> {
    fn beans(&mut self, beans: &[Bean]) {
        let set = self.set;
        for bean in beans {
            let admitted: Vec<bool> = set.segments.iter().map(|s| s.admits(bean)).collect();
            if !admitted.iter().any(|a| *a) {
                continue;
            }
            let mut prefix: Option<String> = None;
            for attr in &bean.attributes {
                let eligible: Vec<bool> = set
                    .segments
                    .iter()
                    .zip(&admitted)
                    .map(|(s, a)| *a && s.admits_attribute(bean, &attr.name))
                    .collect();
                if !eligible.iter().any(|a| *a) {
                    continue;
                }
                let top =
                    prefix.get_or_insert_with(|| match_prefix(&bean.domain, &bean.properties, &[]));
                let top = std::mem::take(top);
                self.walk(
                    bean,
                    &eligible,
                    Some(&top),
                    &bean.properties,
                    &[],
                    &attr.name,
                    &attr.value,
                );
                prefix = Some(top);
            }
        }
    }
}

/// `domain<k1=v1, k2=v2><key1, key2>`: the part of the match string before the attribute name
/// (Java's `LinkedHashMap`/`LinkedList` `toString` with the brackets swapped for `<>`).
fn match_prefix(domain: &str, props: &[(String, String)], keys: &[String]) -> String {
    let mut p = String::with_capacity(domain.len() + 16 * (props.len() + keys.len()) + 4);
    p.push_str(domain);
    p.push('<');
    for (i, (k, v)) in props.iter().enumerate() {
        if i > 0 {
            p.push_str(", ");
        }
        p.push_str(k);
        p.push('=');
        p.push_str(v);
    }
    p.push_str("><");
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            p.push_str(", ");
        }
        p.push_str(k);
    }
    p.push('>');
    p
}

struct Run<'a> {
    set: &'a RuleSet,
    cache: &'a mut Cache,
    out: Applied,
    seen: HashSet<String>,
    key: String,
}

impl Run<'_> {
    /// jmx_exporter's `processBeanValue`: recurse into composites and tabular rows, record leaves.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        bean: &Bean,
        eligible: &[bool],
        prefix: Option<&str>,
        props: &[(String, String)],
        keys: &[String],
        attr: &str,
        value: &Value,
    ) {
        match value {
            Value::Number(_) | Value::Boolean(_) | Value::Text(_) => {
                let built;
                let prefix = match prefix {
                    Some(p) => p,
                    None => {
                        built = match_prefix(&bean.domain, props, keys);
                        &built
                    }
                };
                self.leaf(bean, eligible, prefix, props, keys, attr, value)
            }
            Value::Composite(items) => {
                let mut k = keys.to_vec();
                k.push(attr.to_string());
                for (name, v) in items {
                    self.walk(bean, eligible, None, props, &k, name, v);
                }
            }
            Value::Tabular(rows) => {
                let mut extended = keys.to_vec();
                extended.push(attr.to_string());
                for row in rows {
                    let row_props = tabular_props(props, row);
                    // jmx_exporter walks the value columns in sorted order.
                    let mut cols: Vec<&(String, Value)> = row
                        .values
                        .iter()
                        .filter(|(c, _)| !row.index.iter().any(|(i, _)| i == c))
                        .collect();
                    cols.sort_by(|a, b| a.0.cmp(&b.0));
                    for (col, v) in cols {
                        if col.eq_ignore_ascii_case("value") {
                            self.walk(bean, eligible, None, &row_props, keys, attr, v);
                        } else {
                            self.walk(bean, eligible, None, &row_props, &extended, col, v);
                        }
                    }
                }
            }
            Value::Unsupported(t) => self.out.unusable.push(Unusable {
                bean: bean.name.clone(),
                attribute: attr.to_string(),
                reason: format!("unsupported type {t}"),
            }),
            Value::Error(e) => self.out.unusable.push(Unusable {
                bean: bean.name.clone(),
                attribute: attr.to_string(),
                reason: format!("read failed: {e}"),
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn leaf(
        &mut self,
        bean: &Bean,
        eligible: &[bool],
        prefix: &str,
        props: &[(String, String)],
        keys: &[String],
        attr: &str,
        value: &Value,
    ) {
        let set = self.set;
        // Built only when a rule needs them (a warm cache hit needs neither).
        let snake_attr = std::cell::OnceCell::new();
        let value_text = std::cell::OnceCell::new();
        let subject = |snake: bool, cache: bool| {
            let mut s = String::with_capacity(prefix.len() + attr.len() + 24);
            s.push_str(prefix);
            s.push_str(if snake {
                snake_attr.get_or_init(|| to_snake_and_lower(attr))
            } else {
                attr
            });
            s.push_str(": ");
            s.push_str(if cache {
                "<cache>"
            } else {
                value_text.get_or_init(|| render_value(value))
            });
            s
        };

        // Cached rules: one lookup per leaf once warm. The key is the value-free match string;
        // eligibility depends on the bean's name and properties only, which the key contains.
        let generation = self.cache.generation;
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        key.push_str(prefix);
        key.push_str(attr);
        let cached_first: Option<(usize, Outcome)> = if set.any_cached {
            if let Some(hit) = self.cache.leaves.get_mut(key.as_str()) {
                hit.seen = generation;
                hit.first.clone()
            } else {
                let first = self
                    .first_match(eligible, true, usize::MAX, &subject)
                    .map(|(i, s)| {
                        let outcome = set.rules[i].outcome(&s, props, keys, attr, &bean.domain);
                        (i, outcome)
                    });
                self.cache.leaves.insert(
                    key.as_str().into(),
                    CachedLeaf {
                        first: first.clone(),
                        seen: generation,
                    },
                );
                first
            }
        } else {
            None
        };
        self.key = key;
        let bound = cached_first.as_ref().map_or(usize::MAX, |(i, _)| *i);
        let live = self
            .first_match(eligible, false, bound, &subject)
            .map(|(i, s)| {
                let outcome = set.rules[i].outcome(&s, props, keys, attr, &bean.domain);
                (i, outcome)
            });
        let Some((rule_index, outcome)) = live.or(cached_first) else {
            return;
        };
        let emit = match outcome {
            Outcome::Emit(e) => e,
            Outcome::Drop(reason) => {
                self.out.unusable.push(Unusable {
                    bean: bean.name.clone(),
                    attribute: attr.to_string(),
                    reason,
                });
                return;
            }
        };
        let v = match (emit.value, value) {
            (Some(v), _) => v * emit.factor,
            (None, Value::Number(n)) => n * emit.factor,
            (None, Value::Boolean(b)) => f64::from(u8::from(*b)),
            _ => {
                let r = &set.rules[rule_index];
                self.out.unusable.push(Unusable {
                    bean: bean.name.clone(),
                    attribute: attr.to_string(),
                    reason: format!(
                        "text value {:?} is not a number (rule {} of {} matched it without a value:)",
                        render_value(value),
                        r.index,
                        set.segments[r.segment].origin
                    ),
                });
                return;
            }
        };
        // Same name and label set (in any order) as an earlier sample: keep the first.
        let mut sorted: Vec<&(String, String)> = emit.labels.iter().collect();
        sorted.sort();
        let mut id = emit.name.clone();
        for (k, val) in sorted {
            id.push('\u{0}');
            id.push_str(k);
            id.push('\u{1}');
            id.push_str(val);
        }
        if !self.seen.insert(id) {
            self.out.duplicates += 1;
            return;
        }
        self.out.samples.push(RuleSample {
            name: emit.name.clone(),
            labels: emit.labels.clone(),
            value: v,
            kind: emit.kind,
            help: emit.help.clone(),
        });
    }

    /// The first eligible rule (below `bound`) among cached or live ones that matches, with the
    /// string it matched.
    fn first_match(
        &self,
        eligible: &[bool],
        cache: bool,
        bound: usize,
        subject: &dyn Fn(bool, bool) -> String,
    ) -> Option<(usize, String)> {
        let set = self.set;
        let mut best: Option<(usize, String)> = None;
        for g in set.groups.iter().filter(|g| g.cache == cache) {
            let s = subject(g.snake, cache);
            let hit = g
                .set
                .matches(&s)
                .into_iter()
                .map(|p| g.rules[p])
                .find(|&i| eligible[set.rules[i].segment]);
            if let Some(i) = hit
                && i < bound
                && best.as_ref().is_none_or(|(b, _)| i < *b)
            {
                best = Some((i, s));
            }
        }
        // Pattern-less rules match everything.
        let patternless = set.patternless.iter().copied().find(|&i| {
            let r = &set.rules[i];
            r.cache == cache && eligible[r.segment] && i < bound
        });
        if let Some(i) = patternless
            && best.as_ref().is_none_or(|(b, _)| i < *b)
        {
            best = Some((i, subject(set.rules[i].snake, cache)));
        }
        best
    }
}

/// Tabular row properties (jmx_exporter 1.x): a copy of the bean's with each index column added;
/// an index name the bean already has gets `_` appended until it is new (nested tables repeat
/// `key`).
fn tabular_props(props: &[(String, String)], row: &TabularRow) -> Vec<(String, String)> {
    let mut out = props.to_vec();
    for (k, v) in &row.index {
        let mut key = k.clone();
        while out.iter().any(|(ek, _)| *ek == key) {
            key.push('_');
        }
        out.push((key, v.clone()));
    }
    out
}

impl Rule {
    fn default_rule(lowercase_name: bool, lowercase_labels: bool) -> Rule {
        Rule {
            segment: 0,
            index: 0,
            regex: None,
            pattern: None,
            name: None,
            value: None,
            value_factor: 1.0,
            labels: Vec::new(),
            help: None,
            kind: SampleType::Untyped,
            snake: false,
            cache: false,
            lowercase_name,
            lowercase_labels,
        }
    }

    /// What this rule makes of the attribute whose match string is `subject` (it matched).
    fn outcome(
        &self,
        subject: &str,
        props: &[(String, String)],
        keys: &[String],
        attr: &str,
        domain: &str,
    ) -> Outcome {
        let attr_name = if self.snake {
            to_snake_and_lower(attr)
        } else {
            attr.to_string()
        };
        let caps = self.regex.as_ref().and_then(|r| r.captures(subject));
        let expand = |t: &Template| match &caps {
            Some(c) => t.expand(c),
            None => t.literal().unwrap_or_default().to_string(),
        };
        let value = match &self.value {
            Some(t) => {
                let text = expand(t);
                if text.is_empty() {
                    None
                } else {
                    match parse_java_double(&text) {
                        Some(v) => Some(v),
                        None => {
                            return Outcome::Drop(format!(
                                "value {text:?} from rule {} is not a number",
                                self.index
                            ));
                        }
                    }
                }
            }
            None => None,
        };
        let help = default_help(domain, props, attr);
        let Some(name_t) = &self.name else {
            // Default format.
            let mut name = String::from(domain);
            if let Some((_, first)) = props.first() {
                name.push('_');
                name.push_str(first);
            }
            for k in keys {
                name.push('_');
                name.push_str(k);
            }
            name.push('_');
            name.push_str(&attr_name);
            let mut name = safe_name(&name);
            if self.lowercase_name {
                name = name.to_lowercase();
            }
            let labels = props
                .iter()
                .skip(1)
                .map(|(k, v)| {
                    let k = safe_name(k);
                    (
                        if self.lowercase_labels {
                            k.to_lowercase()
                        } else {
                            k
                        },
                        v.clone(),
                    )
                })
                .collect();
            return Outcome::Emit(Arc::new(Emit {
                name,
                labels,
                kind: self.kind,
                help,
                value,
                factor: self.value_factor,
            }));
        };
        let mut name = safe_name(&expand(name_t));
        if name.is_empty() {
            return Outcome::Drop(format!("rule {} gave an empty name", self.index));
        }
        if self.lowercase_name {
            name = name.to_lowercase();
        }
        let help = self.help.as_ref().map_or(help, &expand);
        let mut labels = Vec::with_capacity(self.labels.len());
        for (kt, vt) in &self.labels {
            let mut k = safe_name(&expand(kt));
            if self.lowercase_labels {
                k = k.to_lowercase();
            }
            let v = expand(vt);
            if !k.is_empty() && !v.is_empty() {
                labels.push((k, v));
            }
        }
        Outcome::Emit(Arc::new(Emit {
            name,
            labels,
            kind: self.kind,
            help,
            value,
            factor: self.value_factor,
        }))
    }
}

/// jmx_exporter 1.x's default HELP: `domain:name=<name>,type=<type>,attribute=<attr>` (Java
/// prints `null` for a missing key).
fn default_help(domain: &str, props: &[(String, String)], attr: &str) -> String {
    let get = |k: &str| {
        props
            .iter()
            .find(|(pk, _)| pk == k)
            .map_or("null", |(_, v)| v.as_str())
    };
    format!(
        "{domain}:name={},type={},attribute={attr}",
        get("name"),
        get("type")
    )
}

fn parse_rule(
    yaml: &Yaml,
    index: usize,
    lowercase_name: bool,
    lowercase_labels: bool,
) -> Result<Rule, (String, String)> {
    let Yaml::Mapping(map) = yaml else {
        return Err((
            String::new(),
            "expected a mapping (pattern, name, labels, …)".into(),
        ));
    };
    let mut rule = Rule::default_rule(lowercase_name, lowercase_labels);
    rule.index = index;
    let mut name_src = None;
    let mut value_src = None;
    let mut help_src = None;
    let mut labels_src: Vec<(String, String)> = Vec::new();
    let mut has_labels = false;
    for (k, v) in map {
        let Some(key) = k.as_str() else {
            return Err((format!("{k:?}"), "rule keys must be strings".into()));
        };
        let bad = |m: &str| (key.to_string(), m.to_string());
        match key {
            "pattern" => {
                rule.pattern = Some(string_of(v).ok_or_else(|| bad("expected a regex string"))?)
            }
            "name" => {
                name_src = Some(
                    v.as_str()
                        .ok_or_else(|| bad("expected a string"))?
                        .to_string(),
                )
            }
            "value" => {
                value_src = Some(string_of(v).ok_or_else(|| bad("expected a number or a string"))?)
            }
            "valueFactor" => {
                let f = match v {
                    Yaml::Number(n) => n.as_f64(),
                    Yaml::String(s) => parse_java_double(s),
                    _ => None,
                };
                rule.value_factor = f
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| bad("expected a number"))?;
            }
            "labels" => {
                has_labels = true;
                match v {
                    Yaml::Mapping(m) => {
                        for (lk, lv) in m {
                            let lk =
                                string_of(lk).ok_or_else(|| bad("label names must be strings"))?;
                            let lv = string_of(lv).ok_or_else(|| {
                                bad(&format!("label {lk:?}: value must be a string"))
                            })?;
                            labels_src.push((lk, lv));
                        }
                    }
                    Yaml::Null => {}
                    _ => return Err(bad("expected a mapping of label name to value")),
                }
            }
            "help" => {
                help_src = Some(
                    v.as_str()
                        .ok_or_else(|| bad("expected a string"))?
                        .to_string(),
                )
            }
            "type" => {
                rule.kind = match v.as_str() {
                    Some("GAUGE") => SampleType::Gauge,
                    Some("COUNTER") => SampleType::Counter,
                    Some("UNTYPED") | Some("UNKNOWN") => SampleType::Untyped,
                    _ => return Err(bad("expected GAUGE, COUNTER or UNTYPED")),
                }
            }
            "attrNameSnakeCase" => {
                rule.snake = bool_of(v).ok_or_else(|| bad("expected true or false"))?
            }
            "cache" => rule.cache = bool_of(v).ok_or_else(|| bad("expected true or false"))?,
            other => {
                return Err((
                    other.to_string(),
                    format!("unknown rule key (known: {})", RULE_KEYS.join(", ")),
                ));
            }
        }
    }
    if (has_labels || help_src.is_some()) && name_src.is_none() {
        return Err((String::new(), "labels and help need a name".into()));
    }
    if name_src.is_some() && rule.pattern.is_none() {
        return Err((String::new(), "a name needs a pattern".into()));
    }
    let (groups, names): (usize, Vec<String>) = match &rule.pattern {
        Some(p) => {
            let translated = java_regex::translate(p).map_err(|m| ("pattern".to_string(), m))?;
            let re = Regex::new(&format!("^.*(?:{translated}).*$"))
                .map_err(|e| ("pattern".to_string(), format!("invalid regex: {e}")))?;
            let g = re.captures_len() - 1;
            let n = re.capture_names().flatten().map(str::to_string).collect();
            rule.regex = Some(re);
            (g, n)
        }
        None => (0, Vec::new()),
    };
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let template = |key: &str, src: &str| {
        Template::parse(src, groups, &names).map_err(|m| (key.to_string(), m))
    };
    rule.name = name_src
        .as_deref()
        .map(|s| template("name", s))
        .transpose()?;
    rule.value = value_src
        .as_deref()
        .map(|s| template("value", s))
        .transpose()?;
    rule.help = help_src
        .as_deref()
        .map(|s| template("help", s))
        .transpose()?;
    // jmx_exporter keeps labels in a TreeMap: sorted by the name as written.
    labels_src.sort_by(|a, b| a.0.cmp(&b.0));
    labels_src.dedup_by(|a, b| a.0 == b.0);
    for (k, v) in labels_src {
        let kt = template(&format!("labels.{k}"), &k)?;
        let vt = template(&format!("labels.{k}"), &v)?;
        rule.labels.push((kt, vt));
    }
    Ok(rule)
}

fn object_names(v: &Yaml) -> Result<Vec<ObjectNamePattern>, String> {
    match v {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Sequence(list) => list
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let s = n
                    .as_str()
                    .ok_or_else(|| format!("[{i}]: expected an ObjectName string"))?;
                ObjectNamePattern::parse(s).map_err(|m| format!("[{i}]: {m}"))
            })
            .collect(),
        _ => Err("expected a list of ObjectNames".into()),
    }
}

fn attribute_map(key: &str, v: &Yaml) -> Result<Vec<(ObjectNamePattern, Vec<String>)>, String> {
    let Yaml::Mapping(m) = v else {
        return Err(format!(
            "{key} expects a mapping of ObjectName to a list of attribute names"
        ));
    };
    let mut out = Vec::new();
    for (k, names) in m {
        let k = k.as_str().ok_or("ObjectNames must be strings")?;
        let pattern = ObjectNamePattern::parse(k)?;
        let Yaml::Sequence(list) = names else {
            return Err(format!("{k}: expected a list of attribute names"));
        };
        let names = list
            .iter()
            .map(|n| string_of(n).ok_or_else(|| format!("{k}: attribute names must be strings")))
            .collect::<Result<Vec<_>, _>>()?;
        out.push((pattern, names));
    }
    Ok(out)
}

fn bool_of(v: &Yaml) -> Option<bool> {
    v.as_bool()
}

/// A scalar as Java's `String.valueOf` would give it (`value: 1` → "1").
fn string_of(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `Double.valueOf`: decimal or exponent notation, `NaN`, `Infinity`, optional sign, optional
/// trailing `d`/`f`, surrounding whitespace ignored.
pub fn parse_java_double(s: &str) -> Option<f64> {
    let t = s.trim();
    let t = t.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(t);
    match t {
        "NaN" | "+NaN" | "-NaN" => return Some(f64::NAN),
        "Infinity" | "+Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    // Rust also accepts "inf"/"nan" spellings Java refuses.
    if t.chars()
        .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
    {
        return None;
    }
    t.parse::<f64>().ok()
}

/// The value as it appears after `: ` in the match string (Java's `toString` of the value).
fn render_value(v: &Value) -> String {
    match v {
        Value::Number(n) => java_number(*n),
        Value::Boolean(b) => b.to_string(),
        Value::Text(t) => t.clone(),
        _ => String::new(),
    }
}

fn java_number(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        if n > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else if (1e-3..1e7).contains(&n.abs()) {
        format!("{n}")
    } else {
        let s = format!("{n:E}");
        match s.split_once('E') {
            Some((m, e)) if !m.contains('.') => format!("{m}.0E{e}"),
            _ => s,
        }
    }
}

/// jmx_exporter's `safeName`: anything outside `[a-zA-Z0-9:_]` becomes `_`, runs of `_` collapse,
/// a leading digit gets a `_` in front.
pub fn safe_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    let mut prev_underscore = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == ':' {
            out.push(c);
            prev_underscore = false;
        } else if !prev_underscore {
            out.push('_');
            prev_underscore = true;
        }
    }
    out
}

/// jmx_exporter's `toSnakeAndLowerCase`: `anAttrName` → `an_attr_name`, `HeapMemoryUsage` →
/// `heap_memory_usage`; no `_` after an upper-case letter or an underscore.
pub fn to_snake_and_lower(attr: &str) -> String {
    let mut out = String::with_capacity(attr.len() + 4);
    let mut chars = attr.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut prev_upper_or_underscore = first.is_uppercase() || first == '_';
    out.extend(first.to_lowercase());
    for c in chars {
        let upper = c.is_uppercase();
        if !prev_upper_or_underscore && upper {
            out.push('_');
        }
        out.extend(c.to_lowercase());
        prev_upper_or_underscore = upper || c == '_';
    }
    out
}

#[cfg(test)]
mod tests;
