//! Burrow's notifiers (`core/internal/notifier`): every `interval` the groups of the store are
//! evaluated with the lag engine's rules. A group that leaves OK opens an incident (a new id and
//! start time); while its status is at or above the notifier's `threshold` the open message is
//! sent — every interval, at most every `send_interval`, or once with `send_once` — and when the
//! group is OK again (or gone) the close message carries the same id. Messages are Go
//! text/template files run by [`template`] over Burrow's data ([`data`]), sent over HTTP (with
//! the configured headers and basic auth) or as email over SMTP ([`smtp`]). A failed send is
//! logged naming the receiver and tried again at the next interval; it never stops the loop, the
//! other notifiers or the server.

pub mod data;
pub mod smtp;
pub mod template;
pub mod value;

use super::{GroupStatus, Status, storage};
use crate::config::NotifierConfig;
use crate::model::now_ms;
use crate::store::Store;
use crate::targets::TargetRegistry;
use regex::RegexSet;
use std::collections::HashMap;
use std::time::Duration;
use template::{Escape, Legacy, Template};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_EMAIL_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP body when no template is given (the `{{id}}`-style fields are functions of the
/// template language, JSON-escaped in bodies).
pub const DEFAULT_TEMPLATE: &str = r#"{"Id":"{{id}}","Notifier":"{{notifier}}","Cluster":"{{cluster}}","Group":"{{group}}","Status":"{{status}}","Start":"{{start}}","TotalLag":{{total_lag}},"Result":{{result}}}"#;

/// Burrow's `config/default-email.tmpl`, the email body when no template is given.
pub const DEFAULT_EMAIL_TEMPLATE: &str = include_str!("default-email.tmpl");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Http,
    Email,
}

fn kind(n: &NotifierConfig) -> Result<Kind, (String, String)> {
    match n.kind.as_deref().unwrap_or("http") {
        "http" => Ok(Kind::Http),
        "email" => Ok(Kind::Email),
        other => Err(("kind".into(), format!("{other:?} is not http or email"))),
    }
}

/// The parsed and checked templates of a notifier.
struct Templates {
    open: Template,
    close: Template,
    url_open: Option<Template>,
    url_close: Option<Template>,
}

fn sample_legacy(escape: Escape) -> Legacy {
    Legacy {
        id: "id".into(),
        notifier: "notifier".into(),
        cluster: "cluster".into(),
        group: "group".into(),
        status: "WARN".into(),
        total_lag: 0,
        start: "2024-01-01T00:00:00Z".into(),
        result: "{}".into(),
        escape,
    }
}

/// Parses a template and runs every branch of it over a sample status; `extras` are the
/// notifier's own, so a `range` over them is checked too.
fn load(
    key: &str,
    name: &str,
    src: &str,
    escape: Escape,
    extras: &std::collections::BTreeMap<String, String>,
) -> Result<Template, (String, String)> {
    let fail = |e: template::TemplateError| (key.to_string(), e.to_string());
    let t = Template::parse(name, src).map_err(fail)?;
    let sample = data::data(&data::sample(), "id", 0, extras);
    t.check(&sample, &sample_legacy(escape)).map_err(fail)?;
    Ok(t)
}

fn templates(n: &NotifierConfig, k: Kind) -> Result<Templates, (String, String)> {
    let default = match k {
        Kind::Http => DEFAULT_TEMPLATE,
        Kind::Email => DEFAULT_EMAIL_TEMPLATE,
    };
    let body = |key: &str, p: &Option<std::path::PathBuf>| -> Result<Template, (String, String)> {
        match p {
            None => load(
                key,
                &format!("(built-in {key})"),
                default,
                Escape::Json,
                &n.extras,
            ),
            Some(p) => {
                let src = std::fs::read_to_string(p)
                    .map_err(|e| (key.to_string(), format!("cannot read {}: {e}", p.display())))?;
                load(key, &p.display().to_string(), &src, Escape::Json, &n.extras)
            }
        }
    };
    let url = |key: &str, u: &Option<String>| -> Result<Option<Template>, (String, String)> {
        let Some(u) = u else { return Ok(None) };
        let t = load(key, key, u, Escape::Url, &n.extras)?;
        let sample = data::data(&data::sample(), "id", 0, &n.extras);
        let shown = t
            .render(&sample, &sample_legacy(Escape::Url))
            .map_err(|e| (key.to_string(), e.to_string()))?;
        crate::config::check_http_url(&shown).map_err(|m| (key.to_string(), m))?;
        Ok(Some(t))
    };
    Ok(Templates {
        open: body("template_open", &n.template_open)?,
        close: body("template_close", &n.template_close)?,
        url_open: url("url_open", &n.url_open)?,
        url_close: url("url_close", &n.url_close)?,
    })
}

/// The email notifier's SMTP settings.
fn mailer(n: &NotifierConfig) -> Result<smtp::Mailer, (String, String)> {
    let e = |k: &str, m: &str| (k.to_string(), m.to_string());
    let server = n.server.clone().filter(|s| !s.is_empty()).ok_or_else(|| {
        e(
            "server",
            "an email notifier needs the SMTP server's host name",
        )
    })?;
    let tls = match n.tls.as_deref().unwrap_or("starttls") {
        "starttls" => smtp::TlsMode::StartTls,
        "implicit" => smtp::TlsMode::Implicit,
        "none" => smtp::TlsMode::None,
        other => {
            return Err(e(
                "tls",
                &format!("{other:?} is not starttls, implicit or none"),
            ));
        }
    };
    let tls_config = match (&n.ca_file, tls) {
        (Some(p), _) => Some(
            crate::sources::kafka::config::tls_client(p).map_err(|m| ("ca_file".to_string(), m))?,
        ),
        (None, smtp::TlsMode::None) => None,
        (None, _) => {
            return Err(e(
                "ca_file",
                "TLS to the SMTP server needs the CAs its certificate is checked against (or tls = \"none\")",
            ));
        }
    };
    let auth = match (n.auth_type.as_deref(), &n.username, &n.password_file) {
        (None, None, None) => None,
        (Some(a), Some(u), Some(p)) => {
            let kind = match a {
                "plain" => smtp::AuthType::Plain,
                "crammd5" => smtp::AuthType::CramMd5,
                other => {
                    return Err(e(
                        "auth_type",
                        &format!("{other:?} is not plain or crammd5"),
                    ));
                }
            };
            Some((kind, u.clone(), p.clone()))
        }
        (None, _, _) => {
            return Err(e(
                "auth_type",
                "username needs auth_type (plain or crammd5)",
            ));
        }
        (Some(_), _, _) => {
            return Err(e("auth_type", "needs username and password_file"));
        }
    };
    if n.from.as_deref().is_none_or(str::is_empty) {
        return Err(e("from", "an email notifier needs the sender's address"));
    }
    if recipients(n).is_empty() {
        return Err(e("to", "an email notifier needs at least one recipient"));
    }
    Ok(smtp::Mailer {
        server,
        port: n.port.unwrap_or(if tls == smtp::TlsMode::Implicit {
            465
        } else {
            25
        }),
        tls,
        tls_config,
        auth,
        timeout: n.timeout.map_or(DEFAULT_EMAIL_TIMEOUT, |d| d.0),
    })
}

fn recipients(n: &NotifierConfig) -> Vec<String> {
    n.to.as_deref()
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The checks `check-config` runs on a `[[notifiers]]` table: Err((key, message)).
pub fn check(n: &NotifierConfig) -> Result<(), (String, String)> {
    let k = kind(n)?;
    let only = |key: &str, set: bool, of: &str| -> Result<(), (String, String)> {
        if set {
            Err((key.to_string(), format!("is a key of {of} notifiers")))
        } else {
            Ok(())
        }
    };
    match k {
        Kind::Http => {
            if n.url_open.is_none() {
                return Err(("url_open".into(), "an http notifier needs url_open".into()));
            }
            only("server", n.server.is_some(), "email")?;
            only("port", n.port.is_some(), "email")?;
            only("auth_type", n.auth_type.is_some(), "email")?;
            only("from", n.from.is_some(), "email")?;
            only("to", n.to.is_some(), "email")?;
            only("tls", n.tls.is_some(), "email")?;
            only("ca_file", n.ca_file.is_some(), "email")?;
        }
        Kind::Email => {
            only("url_open", n.url_open.is_some(), "http")?;
            only("url_close", n.url_close.is_some(), "http")?;
            only("method_open", n.method_open.is_some(), "http")?;
            only("method_close", n.method_close.is_some(), "http")?;
            only("headers", !n.headers.is_empty(), "http")?;
            mailer(n)?;
        }
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
    templates(n, k)?;
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

/// An open incident.
#[derive(Clone, Debug)]
struct Incident {
    id: String,
    start_ms: i64,
    /// When the open message was last sent (None: not yet).
    last_sent_ms: Option<i64>,
}

enum Sink {
    Http(reqwest::Client),
    Email(smtp::Mailer),
}

/// Incident ids and start times by (cluster, group), shared by the notifiers of one process: as
/// in Burrow, an incident has one id whichever notifier tells of it.
pub type SharedIds = std::sync::Arc<std::sync::Mutex<HashMap<(String, String), (String, i64)>>>;

/// One notifier's state between evaluations.
pub struct Notifier {
    ids: SharedIds,
    cfg: NotifierConfig,
    threshold: Status,
    allow: Option<RegexSet>,
    deny: Option<RegexSet>,
    templates: Templates,
    sink: Sink,
    incidents: HashMap<(String, String), Incident>,
    /// Burrow's settings and the `[[lag.thresholds]]` it evaluates with.
    lag: std::sync::Arc<super::settings::LagSettings>,
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
        let named = |(k, m): (String, String)| format!("notifiers {}: {k}: {m}", cfg.name);
        check(&cfg).map_err(named)?;
        let k = kind(&cfg).map_err(named)?;
        let (allow, deny) = groups(&cfg).map_err(|(_, m)| m)?;
        let sink = match k {
            Kind::Http => Sink::Http(
                crate::sources::http_client_builder()
                    .timeout(cfg.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| format!("HTTP client: {e}"))?,
            ),
            Kind::Email => {
                // The rustls provider, once per process, as for https targets.
                let _ = crate::sources::http_client_builder();
                Sink::Email(mailer(&cfg).map_err(named)?)
            }
        };
        Ok(Notifier {
            threshold: threshold(&cfg)?,
            allow,
            deny,
            templates: templates(&cfg, k).map_err(named)?,
            sink,
            incidents: HashMap::new(),
            ids: SharedIds::default(),
            lag: std::sync::Arc::new(super::settings::current().clone()),
            cfg,
        })
    }

    /// Evaluates with these `[lag]` settings instead of the server's.
    pub fn with_lag_settings(mut self, lag: super::settings::LagSettings) -> Notifier {
        self.lag = std::sync::Arc::new(lag);
        self
    }

    /// Shares incident ids with the other notifiers built with the same `ids`.
    pub fn with_shared_ids(mut self, ids: SharedIds) -> Notifier {
        self.ids = ids;
        self
    }

    pub fn interval(&self) -> Duration {
        self.cfg.interval.map_or(DEFAULT_INTERVAL, |d| d.0)
    }

    /// Where messages go, for logs: the open URL's scheme and authority, or `smtp://host:port`.
    pub fn receiver(&self) -> String {
        match &self.sink {
            Sink::Email(m) => m.label(),
            Sink::Http(_) => {
                let u = self.cfg.url_open.as_deref().unwrap_or("");
                let end = u
                    .find("://")
                    .map(|i| i + 3)
                    .and_then(|s| u[s..].find(['/', '?', '#']).map(|e| s + e))
                    .unwrap_or(u.len());
                crate::config::redact_url(&u[..end])
            }
        }
    }

    fn wanted(&self, cluster: &str, group: &str) -> bool {
        (self.cfg.clusters.is_empty() || self.cfg.clusters.iter().any(|c| c == cluster))
            && self.allow.as_ref().is_none_or(|a| a.is_match(group))
            && !self.deny.as_ref().is_some_and(|d| d.is_match(group))
    }

    fn legacy(&self, inc: &Incident, g: &GroupStatus, escape: Escape) -> Legacy {
        Legacy {
            id: inc.id.clone(),
            notifier: self.cfg.name.clone(),
            cluster: g.cluster.clone(),
            group: g.group.clone(),
            status: g.status.as_str().to_string(),
            total_lag: g.totallag,
            start: jiff::Timestamp::from_millisecond(inc.start_ms)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            result: serde_json::to_string(g).unwrap_or_else(|_| "null".into()),
            escape,
        }
    }

    /// Renders and sends the open (`open`) or close message of an incident.
    async fn deliver(&self, open: bool, inc: &Incident, g: &GroupStatus) -> Result<(), String> {
        let t = &self.templates;
        let data = data::data(g, &inc.id, inc.start_ms, &self.cfg.extras);
        let body = if open { &t.open } else { &t.close }
            .render(&data, &self.legacy(inc, g, Escape::Json))
            .map_err(|e| format!("template {e}"))?;
        match &self.sink {
            Sink::Email(m) => {
                let from = self.cfg.from.as_deref().unwrap_or("");
                let to = recipients(&self.cfg);
                let message = smtp::compose(&body, from, &to, now_ms(), &inc.id)
                    .map_err(|e| format!("{}: {e}", m.label()))?;
                m.send(from, &to, &message).await
            }
            Sink::Http(client) => {
                let url_t = if open { &t.url_open } else { &t.url_close };
                let Some(url_t) = url_t else {
                    return Ok(());
                };
                let url = url_t
                    .render(&data, &self.legacy(inc, g, Escape::Url))
                    .map_err(|e| format!("template {e}"))?;
                let method = if open {
                    self.cfg.method_open.as_deref().unwrap_or("POST")
                } else {
                    self.cfg.method_close.as_deref().unwrap_or("DELETE")
                };
                self.http(client, method, &url, body).await
            }
        }
    }

    async fn http(
        &self,
        client: &reqwest::Client,
        method: &str,
        url: &str,
        body: String,
    ) -> Result<(), String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut req = client
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
        let shown = crate::config::redact_url(url);
        let r = req
            .send()
            .await
            .map_err(|e| format!("{shown}: {}", crate::sources::error_chain(&e.without_url())))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!("{shown} answered HTTP {}", r.status().as_u16()))
        }
    }

    /// Evaluates every wanted group of the store once and sends what changed.
    pub async fn tick(&mut self, store: &Store, targets: &TargetRegistry) -> Tick {
        let mut out = Tick::default();
        let settings = self.lag.clone();
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
            // With lag in seconds, so the `[[lag.thresholds]]` on it apply as on the pages.
            let evaluated = match super::assess::evaluate(
                store,
                &cluster,
                Some(groups),
                now,
                &settings,
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
            for e in evaluated {
                let g = e.status;
                let key = (cluster.clone(), e.data.group);
                seen.insert(key.clone());
                // Burrow's notifier asks for the status without OK partitions.
                self.step(key, &g.only_problems(), now, &mut out).await;
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
        let label = format!("{}/{}", key.0, key.1);
        if g.status <= Status::Ok {
            if self.incidents.contains_key(&key) {
                self.close(key, g, out).await;
            }
            return;
        }
        // Not OK: an incident (Burrow opens one for any status above OK; the threshold only
        // decides whether this notifier sends).
        let inc = match self.incidents.get(&key) {
            Some(i) => i.clone(),
            None => {
                let (id, start_ms) = match self.ids.lock() {
                    Ok(mut ids) => ids
                        .entry(key.clone())
                        .or_insert_with(|| (new_id(), now))
                        .clone(),
                    Err(_) => (new_id(), now),
                };
                let i = Incident {
                    id,
                    start_ms,
                    last_sent_ms: None,
                };
                self.incidents.insert(key.clone(), i.clone());
                i
            }
        };
        if g.status < self.threshold {
            return;
        }
        if let Some(last) = inc.last_sent_ms {
            let too_soon = self
                .cfg
                .send_interval
                .is_some_and(|d| now - last < d.0.as_millis() as i64);
            if self.cfg.send_once || too_soon {
                return;
            }
        }
        match self.deliver(true, &inc, g).await {
            Ok(()) => {
                if let Some(i) = self.incidents.get_mut(&key) {
                    i.last_sent_ms = Some(now);
                }
                if inc.last_sent_ms.is_none() {
                    out.opened.push(label);
                } else {
                    out.resent.push(label);
                }
            }
            Err(e) => {
                tracing::warn!(notifier = %self.cfg.name, receiver = %self.receiver(), group = %label, id = %inc.id, error = %e, "Notification not sent.");
                out.errors.push(format!("{label}: open: {e}"));
            }
        }
    }

    async fn close(&mut self, key: (String, String), g: &GroupStatus, out: &mut Tick) {
        let Some(inc) = self.incidents.get(&key).cloned() else {
            return;
        };
        let label = format!("{}/{}", key.0, key.1);
        let default_close = match &self.sink {
            Sink::Http(_) => self.cfg.url_close.is_some(),
            Sink::Email(_) => self.cfg.template_close.is_some(),
        };
        // Only an incident whose open message went out gets a close message.
        if self.cfg.send_close.unwrap_or(default_close)
            && inc.last_sent_ms.is_some()
            && let Err(e) = self.deliver(false, &inc, g).await
        {
            tracing::warn!(notifier = %self.cfg.name, receiver = %self.receiver(), group = %label, id = %inc.id, error = %e, "Close notification not sent.");
            out.errors.push(format!("{label}: close: {e}"));
            // Kept open: the close is tried again at the next interval.
            return;
        }
        self.incidents.remove(&key);
        if let Ok(mut ids) = self.ids.lock()
            && ids.get(&key).is_some_and(|(id, _)| *id == inc.id)
        {
            ids.remove(&key);
        }
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
    let ids = SharedIds::default();
    for c in configs {
        match Notifier::new(c.clone()) {
            Ok(n) => {
                let mut n = n.with_shared_ids(ids.clone());
                let store = store.clone();
                let targets = targets.clone();
                tracing::info!(notifier = %n.cfg.name, receiver = %n.receiver(), interval = ?n.interval(), "Notifier started.");
                tokio::spawn(async move {
                    let mut every = tokio::time::interval(n.interval());
                    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        every.tick().await;
                        let t = n.tick(&store, &targets).await;
                        if !t.opened.is_empty() || !t.resent.is_empty() || !t.closed.is_empty() {
                            tracing::info!(notifier = %n.cfg.name, opened = ?t.opened, resent = ?t.resent, closed = ?t.closed, "Notifications sent.");
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
    fn the_default_body_escapes_strings_and_embeds_the_result() {
        let mut g = GroupStatus::not_found("lab", "we\"ird");
        g.status = Status::Err;
        g.totallag = 42;
        let t = load(
            "template_open",
            "default",
            DEFAULT_TEMPLATE,
            Escape::Json,
            &Default::default(),
        )
        .unwrap();
        let inc = Incident {
            id: "id-1".into(),
            start_ms: 0,
            last_sent_ms: None,
        };
        let cfg: NotifierConfig =
            toml::from_str("name = \"ops\"\nurl_open = \"http://h:1/\"").unwrap();
        let n = Notifier::new(cfg).unwrap();
        let body = t
            .render(
                &data::data(&g, "id-1", 0, &Default::default()),
                &n.legacy(&inc, &g, Escape::Json),
            )
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(v["Group"], "we\"ird");
        assert_eq!(v["Notifier"], "ops");
        assert_eq!(v["Status"], "ERR");
        assert_eq!(v["TotalLag"], 42);
        assert_eq!(v["Start"], "1970-01-01T00:00:00Z");
        assert_eq!(v["Result"]["group"], "we\"ird");
        assert_eq!(n.receiver(), "http://h:1");
    }
}
