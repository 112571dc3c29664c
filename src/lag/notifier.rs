//! Burrow's HTTP notifier: every `interval` the groups of the store are evaluated with the lag
//! engine's rules; a group whose status reaches the notifier's `threshold` opens an incident (a new
//! id) and its open message is sent — again every interval, or once with `send_once` — and when
//! the group falls back below the threshold the close message carries the same id. Bodies come
//! from templates with `{{…}}` fields (Burrow's default body when none is given), with the
//! configured headers and basic auth. A failed send is logged and tried again at the next
//! interval; it never stops the loop or the server.

use super::evaluator::{EvalConfig, evaluate_group};
use super::{GroupStatus, Status, storage};
use crate::config::NotifierConfig;
use crate::model::now_ms;
use crate::store::Store;
use crate::targets::TargetRegistry;
use regex::RegexSet;
use std::collections::HashMap;
use std::time::Duration;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The checks `check-config` runs on a `[[notifiers]]` table: Err((key, message)).
pub fn check(n: &NotifierConfig) -> Result<(), (String, String)> {
    let url = |key: &str, u: &str| {
        crate::config::check_http_url(&fill_url(u, "id", "cluster", "group"))
            .map_err(|m| (key.to_string(), m))
    };
    url("url_open", &n.url_open)?;
    if let Some(u) = &n.url_close {
        url("url_close", u)?;
    }
    for (key, m) in [
        ("method_open", &n.method_open),
        ("method_close", &n.method_close),
    ] {
        if let Some(m) = m
            && !["POST", "PUT", "DELETE", "PATCH", "GET"].contains(&m.as_str())
        {
            return Err((
                key.into(),
                format!("{m:?} is not POST, PUT, DELETE, PATCH or GET"),
            ));
        }
    }
    threshold(n).map_err(|m| ("threshold".to_string(), m))?;
    if n.interval.is_some_and(|d| d.0 < Duration::from_secs(1)) {
        return Err(("interval".into(), "must be at least 1s".into()));
    }
    groups(n).map_err(|(k, m)| (k.to_string(), m))?;
    for (key, t) in [
        ("template_open", &n.template_open),
        ("template_close", &n.template_close),
    ] {
        if let Some(p) = t {
            std::fs::read_to_string(p)
                .map_err(|e| (key.to_string(), format!("cannot read {}: {e}", p.display())))?;
        }
    }
    match (&n.username, &n.password_file) {
        (Some(_), None) => return Err(("username".into(), "needs password_file".into())),
        (None, Some(_)) => return Err(("password_file".into(), "needs username".into())),
        _ => {}
    }
    for k in n.headers.keys() {
        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(("headers".into(), format!("{k:?} is not a header name")));
        }
    }
    Ok(())
}

/// Allow and deny patterns on group ids (None: no such list).
type GroupFilter = (Option<RegexSet>, Option<RegexSet>);

fn threshold(n: &NotifierConfig) -> Result<Status, String> {
    match n.threshold.as_deref().unwrap_or("WARN") {
        "WARN" => Ok(Status::Warn),
        "ERR" => Ok(Status::Err),
        other => Err(format!("{other:?} is not WARN or ERR")),
    }
}

fn groups(n: &NotifierConfig) -> Result<GroupFilter, (&'static str, String)> {
    let set =
        |key: &'static str, v: &[String]| -> Result<Option<RegexSet>, (&'static str, String)> {
            if v.is_empty() {
                return Ok(None);
            }
            RegexSet::new(v.iter().map(|p| format!("^(?:{p})$")))
                .map(Some)
                .map_err(|e| (key, format!("not a regular expression: {e}")))
        };
    Ok((
        set("groups_allow", &n.groups_allow)?,
        set("groups_deny", &n.groups_deny)?,
    ))
}

/// `{{id}}`, `{{cluster}}`, `{{group}}` in a URL, URL-encoded.
fn fill_url(u: &str, id: &str, cluster: &str, group: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    u.replace("{{id}}", &enc(id))
        .replace("{{cluster}}", &enc(cluster))
        .replace("{{group}}", &enc(group))
}

fn json_str(s: &str) -> String {
    let q = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    q[1..q.len() - 1].to_string()
}

/// A body from a template: string fields JSON-escaped (templates are usually JSON), `{{result}}`
/// the group's status as Burrow's JSON.
pub fn render(template: &str, notifier: &str, id: &str, g: &GroupStatus, start_ms: i64) -> String {
    let result = serde_json::to_string(g).unwrap_or_else(|_| "null".into());
    template
        .replace("{{id}}", &json_str(id))
        .replace("{{notifier}}", &json_str(notifier))
        .replace("{{cluster}}", &json_str(&g.cluster))
        .replace("{{group}}", &json_str(&g.group))
        .replace("{{status}}", g.status.as_str())
        .replace("{{total_lag}}", &g.totallag.to_string())
        .replace(
            "{{start}}",
            &jiff::Timestamp::from_millisecond(start_ms)
                .map(|t| t.to_string())
                .unwrap_or_default(),
        )
        .replace("{{result}}", &result)
}

/// Burrow's default body fields.
pub const DEFAULT_TEMPLATE: &str = r#"{"Id":"{{id}}","Notifier":"{{notifier}}","Cluster":"{{cluster}}","Group":"{{group}}","Status":"{{status}}","Start":"{{start}}","TotalLag":{{total_lag}},"Result":{{result}}}"#;

/// An open incident.
#[derive(Clone, Debug)]
struct Incident {
    id: String,
    start_ms: i64,
    sent: bool,
}

/// One notifier's state between evaluations.
pub struct Notifier {
    cfg: NotifierConfig,
    threshold: Status,
    allow: Option<RegexSet>,
    deny: Option<RegexSet>,
    open_body: String,
    close_body: String,
    client: reqwest::Client,
    incidents: HashMap<(String, String), Incident>,
}

/// What one evaluation did, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tick {
    pub opened: Vec<String>,
    pub resent: Vec<String>,
    pub closed: Vec<String>,
    pub errors: Vec<String>,
}

impl Notifier {
    pub fn new(cfg: NotifierConfig) -> Result<Notifier, String> {
        check(&cfg).map_err(|(k, m)| format!("notifiers {}: {k}: {m}", cfg.name))?;
        let (allow, deny) = groups(&cfg).map_err(|(_, m)| m)?;
        let read = |p: &Option<std::path::PathBuf>| -> Result<String, String> {
            match p {
                None => Ok(DEFAULT_TEMPLATE.to_string()),
                Some(p) => std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display())),
            }
        };
        let client = crate::sources::http_client_builder()
            .timeout(cfg.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Notifier {
            threshold: threshold(&cfg)?,
            allow,
            deny,
            open_body: read(&cfg.template_open)?,
            close_body: read(&cfg.template_close)?,
            client,
            incidents: HashMap::new(),
            cfg,
        })
    }

    pub fn interval(&self) -> Duration {
        self.cfg.interval.map_or(DEFAULT_INTERVAL, |d| d.0)
    }

    fn wanted(&self, cluster: &str, group: &str) -> bool {
        (self.cfg.clusters.is_empty() || self.cfg.clusters.iter().any(|c| c == cluster))
            && self.allow.as_ref().is_none_or(|a| a.is_match(group))
            && !self.deny.as_ref().is_some_and(|d| d.is_match(group))
    }

    async fn send(&self, method: &str, url: &str, body: String) -> Result<(), String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut req = self
            .client
            .request(method, url)
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in &self.cfg.headers {
            req = req.header(k, v);
        }
        if let (Some(u), Some(p)) = (&self.cfg.username, &self.cfg.password_file) {
            let pw = tokio::fs::read_to_string(p)
                .await
                .map_err(|e| format!("cannot read password_file {}: {e}", p.display()))?;
            req = req.basic_auth(u, Some(pw.trim_end_matches(['\r', '\n'])));
        }
        let r = req
            .send()
            .await
            .map_err(|e| crate::sources::error_chain(&e))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!("answered HTTP {}", r.status().as_u16()))
        }
    }

    /// Evaluates every wanted group of the store once and sends what changed.
    pub async fn tick(&mut self, store: &Store, targets: &TargetRegistry) -> Tick {
        let mut out = Tick::default();
        let cfg: EvalConfig = super::settings::current().eval;
        let now = now_ms();
        let snapshot = targets.snapshot();
        let mut seen = std::collections::HashSet::new();
        for cluster in storage::clusters(store) {
            let groups: Vec<String> = storage::groups(store, &cluster)
                .into_iter()
                .filter(|g| self.wanted(&cluster, g))
                .collect();
            if groups.is_empty() {
                continue;
            }
            let interval = storage::interval_of(&snapshot, &cluster);
            let data = match storage::read_groups(
                store,
                &cluster,
                &groups,
                now,
                &cfg,
                interval,
                storage::Docs::ClusterMode,
            )
            .await
            {
                Ok(d) => d,
                Err(e) => {
                    out.errors.push(format!("{cluster}: reading groups: {e}"));
                    continue;
                }
            };
            for d in data.iter().filter(|d| d.found(now, &cfg)) {
                let g = evaluate_group(&cluster, &d.group, &d.windows, now, &cfg, d.inference());
                let key = (cluster.clone(), d.group.clone());
                seen.insert(key.clone());
                self.step(key, &g, now, &mut out).await;
            }
        }
        // A group that is gone (deleted, or no longer wanted) closes its incident.
        let gone: Vec<(String, String)> = self
            .incidents
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            let g = GroupStatus::not_found(&key.0, &key.1);
            self.close(key, &g, &mut out).await;
        }
        out
    }

    async fn step(&mut self, key: (String, String), g: &GroupStatus, now: i64, out: &mut Tick) {
        let bad = g.status >= self.threshold && g.status != Status::NotFound;
        let label = format!("{}/{}", key.0, key.1);
        if bad {
            let fresh = !self.incidents.contains_key(&key);
            let inc = self
                .incidents
                .entry(key.clone())
                .or_insert_with(|| Incident {
                    id: new_id(),
                    start_ms: now,
                    sent: false,
                });
            if inc.sent && self.cfg.send_once {
                return;
            }
            let inc = inc.clone();
            let url = fill_url(&self.cfg.url_open, &inc.id, &key.0, &key.1);
            let body = render(&self.open_body, &self.cfg.name, &inc.id, g, inc.start_ms);
            let method = self
                .cfg
                .method_open
                .clone()
                .unwrap_or_else(|| "POST".into());
            match self.send(&method, &url, body).await {
                Ok(()) => {
                    if let Some(i) = self.incidents.get_mut(&key) {
                        i.sent = true;
                    }
                    if fresh || !inc.sent {
                        out.opened.push(label);
                    } else {
                        out.resent.push(label);
                    }
                }
                Err(e) => {
                    tracing::warn!(notifier = %self.cfg.name, group = %label, error = %e, "Notification not sent.");
                    out.errors.push(format!("{label}: open: {e}"));
                }
            }
        } else if self.incidents.contains_key(&key) {
            self.close(key, g, out).await;
        }
    }

    async fn close(&mut self, key: (String, String), g: &GroupStatus, out: &mut Tick) {
        let Some(inc) = self.incidents.get(&key).cloned() else {
            return;
        };
        let label = format!("{}/{}", key.0, key.1);
        let send_close = self.cfg.send_close.unwrap_or(true);
        if let (true, true, Some(u)) = (send_close, inc.sent, &self.cfg.url_close) {
            let url = fill_url(u, &inc.id, &key.0, &key.1);
            let body = render(&self.close_body, &self.cfg.name, &inc.id, g, inc.start_ms);
            let method = self
                .cfg
                .method_close
                .clone()
                .unwrap_or_else(|| "DELETE".into());
            if let Err(e) = self.send(&method, &url, body).await {
                tracing::warn!(notifier = %self.cfg.name, group = %label, error = %e, "Close notification not sent.");
                out.errors.push(format!("{label}: close: {e}"));
                // Kept open: the close is tried again at the next interval.
                return;
            }
        }
        self.incidents.remove(&key);
        out.closed.push(label);
    }
}

/// A random incident id (UUID v4 layout).
fn new_id() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Runs every configured notifier on its own interval until the process ends.
pub fn spawn(configs: &[NotifierConfig], store: Store, targets: TargetRegistry) {
    for c in configs {
        match Notifier::new(c.clone()) {
            Ok(mut n) => {
                let store = store.clone();
                let targets = targets.clone();
                tokio::spawn(async move {
                    let mut every = tokio::time::interval(n.interval());
                    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        every.tick().await;
                        let t = n.tick(&store, &targets).await;
                        if !t.opened.is_empty() || !t.closed.is_empty() {
                            tracing::info!(notifier = %n.cfg.name, opened = ?t.opened, closed = ?t.closed, "Notifications sent.");
                        }
                    }
                });
            }
            Err(e) => tracing::error!(error = %e, "Notifier not started."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_uuids_and_differ() {
        let a = new_id();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, new_id());
    }

    #[test]
    fn templates_escape_strings_and_embed_the_result() {
        let mut g = GroupStatus::not_found("lab", "we\"ird");
        g.status = Status::Err;
        g.totallag = 42;
        let body = render(DEFAULT_TEMPLATE, "ops", "id-1", &g, 0);
        let v: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(v["Group"], "we\"ird");
        assert_eq!(v["Status"], "ERR");
        assert_eq!(v["TotalLag"], 42);
        assert_eq!(v["Result"]["group"], "we\"ird");
        assert_eq!(
            fill_url("http://h/i/{{id}}?g={{group}}", "x y", "c", "a/b"),
            "http://h/i/x%20y?g=a%2Fb"
        );
    }
}
