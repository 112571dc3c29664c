//! The `[clusters.kafka]` section: which brokers to ask, and what to keep.
//!
//! ```toml
//! [clusters.kafka]
//! brokers = ["broker1:9092", "broker2:9092"]  # bootstrap list (host:port)
//! interval = "30s"                            # optional, else the cluster's
//! timeout = "10s"                             # optional: the budget of one whole poll
//! commits = "auto"                            # auto | admin-api | offsets-topic (see below)
//! groups_allow = [".*"]                       # anchored regexes on the group id
//! groups_deny = ["console-consumer-.*"]
//! topics_allow = [".*"]                       # anchored regexes on the topic name
//! topics_deny = ["__.*"]
//! client_id = "kafkascope"                    # the client id the brokers see
//! tls = { ca_file = "/etc/kafkascope/kafka-ca.pem" }  # TLS to every broker, trusting these CAs
//! # SASL on every broker connection (over TLS too): PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
//! sasl = { mechanism = "SCRAM-SHA-512", username = "monitor", password_file = "/etc/kafkascope/kafka.pass" }
//! ```
//!
//! `commits`: where committed offsets are read.
//! - `admin-api`: OffsetFetch each poll; a commit is seen at poll time, so Burrow-style status is
//!   inferred (the consumer pages say so).
//! - `offsets-topic`: `__consumer_offsets`, read from its earliest offset and then followed (as
//!   Burrow and kminion do): every commit with its commit time, group members from GroupMetadata.
//!   Needs read access to that topic (managed services often deny it).
//! - `auto` (default): reads the topic every poll and uses it once it is readable, caught up and
//!   holds commit records; otherwise the Admin API, saying why on /targets and in the group
//!   document.
//!
//! One target per cluster (the collector polls the whole cluster at once). The SASL password comes
//! from `password_file` (re-read at every new connection, so a rotated password is picked up; a
//! trailing line end is not part of it) or, discouraged, inline `password`; it is never logged,
//! rendered or returned. PLAIN sends the password as it is: use it over TLS only.

use super::{CommitsMode, KafkaSettings};
use crate::config::{ConfigError, Dur, check_host_port};
use crate::sources::{BuildContext, PlannedTarget, Sections};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers (`host:port`); the rest are learned from metadata.
    #[serde(default)]
    pub brokers: Vec<String>,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
    /// `auto`, `admin-api` or `offsets-topic`.
    pub commits: Option<String>,
    #[serde(default)]
    pub groups_allow: Vec<String>,
    #[serde(default)]
    pub groups_deny: Vec<String>,
    #[serde(default)]
    pub topics_allow: Vec<String>,
    #[serde(default)]
    pub topics_deny: Vec<String>,
    pub client_id: Option<String>,
    pub tls: Option<TlsSection>,
    pub sasl: Option<SaslSection>,
}

/// `sasl = { mechanism, username, password_file | password }`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SaslSection {
    pub mechanism: String,
    pub username: String,
    pub password_file: Option<PathBuf>,
    /// Inline; `Secret` keeps it out of Debug output.
    pub password: Option<crate::config::Secret>,
}

/// Validates `kafka.sasl`; the password file must be readable now (it is read again at every
/// connection). Errors name the key and never hold the password.
fn sasl_settings(
    ctx: &BuildContext<'_>,
    s: &SaslSection,
) -> Result<super::client::sasl::SaslSettings, ConfigError> {
    use super::client::sasl::{Mechanism, Password, SaslSettings, read_password_file};
    let mechanism = Mechanism::parse(&s.mechanism).ok_or_else(|| {
        ctx.error(
            "kafka.sasl.mechanism",
            format!(
                "{:?} is not one of {}",
                s.mechanism,
                Mechanism::ALL
                    .iter()
                    .map(|m| format!("\"{}\"", m.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    if s.username.is_empty() {
        return Err(ctx.error("kafka.sasl.username", "must not be empty"));
    }
    let password = match (&s.password_file, &s.password) {
        (Some(path), None) => {
            read_password_file(path).map_err(|m| ctx.error("kafka.sasl.password_file", m))?;
            Password::File(path.clone())
        }
        (None, Some(p)) if p.expose().is_empty() => {
            return Err(ctx.error("kafka.sasl.password", "must not be empty"));
        }
        (None, Some(p)) => Password::Inline(p.clone()),
        (Some(_), Some(_)) => {
            return Err(ctx.error(
                "kafka.sasl",
                "give either password_file or password, not both",
            ));
        }
        (None, None) => {
            return Err(ctx.error(
                "kafka.sasl",
                "needs password_file = \"/path/to/file\" (or an inline password)",
            ));
        }
    };
    Ok(SaslSettings {
        mechanism,
        username: s.username.clone(),
        password,
    })
}

/// `tls = { ca_file = "..." }`: TLS to every broker, verified against the CAs in the file (the
/// broker's certificate must name the host as written in `brokers` and in the metadata).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub ca_file: PathBuf,
}

/// A rustls client config trusting exactly the CAs in `path`.
pub fn tls_client(path: &std::path::Path) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let shown = path.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {shown}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{shown} is not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{shown} holds no certificate"));
    }
    let mut roots = rustls::RootCertStore::empty();
    for c in certs {
        roots
            .add(c)
            .map_err(|e| format!("{shown}: a certificate is not usable as a CA: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Anchored patterns: a name passes when it matches an allow pattern (or there are none) and no
/// deny pattern.
#[derive(Clone, Debug, Default)]
pub struct NameFilter {
    allow: Option<regex::RegexSet>,
    deny: Option<regex::RegexSet>,
}

impl NameFilter {
    pub fn new(allow: &[String], deny: &[String]) -> Result<Self, (String, usize, String)> {
        Ok(NameFilter {
            allow: compile("allow", allow)?,
            deny: compile("deny", deny)?,
        })
    }

    pub fn passes(&self, name: &str) -> bool {
        self.allow.as_ref().is_none_or(|a| a.is_match(name))
            && !self.deny.as_ref().is_some_and(|d| d.is_match(name))
    }
}

fn compile(
    which: &str,
    patterns: &[String],
) -> Result<Option<regex::RegexSet>, (String, usize, String)> {
    if patterns.is_empty() {
        return Ok(None);
    }
    for (i, p) in patterns.iter().enumerate() {
        regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
            (
                which.to_string(),
                i,
                format!(
                    "not a regular expression: {}",
                    e.to_string()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            )
        })?;
    }
    regex::RegexSet::new(patterns.iter().map(|p| format!("^(?:{p})$")))
        .map(Some)
        .map_err(|e| (which.to_string(), 0, e.to_string()))
}

/// Reads `[clusters.kafka]` into settings, with errors that name the key.
pub(super) fn read(
    ctx: &BuildContext<'_>,
    value: &toml::Value,
) -> Result<(KafkaConfig, KafkaSettings), ConfigError> {
    let c: KafkaConfig = ctx.origin.section(&format!("{}.kafka", ctx.path), value)?;
    if c.brokers.is_empty() {
        return Err(ctx.error(
            "kafka.brokers",
            "needs at least one broker (host:port), e.g. brokers = [\"127.0.0.1:9092\"]",
        ));
    }
    for (j, addr) in c.brokers.iter().enumerate() {
        check_host_port(addr.trim()).map_err(|m| ctx.error(&format!("kafka.brokers[{j}]"), m))?;
    }
    let commits = match c.commits.as_deref().unwrap_or("auto") {
        "auto" => {
            ctx.notes.borrow_mut().push(format!(
                "{}.kafka.commits = \"auto\": committed offsets are read from __consumer_offsets when it is readable and holds commits (commit times are real), else with the Admin API (OffsetFetch: commit times are poll times and Burrow-style status is inferred)",
                ctx.path
            ));
            CommitsMode::Auto
        }
        "admin-api" => CommitsMode::AdminApi,
        "offsets-topic" => CommitsMode::OffsetsTopic,
        other => {
            return Err(ctx.error(
                "kafka.commits",
                format!("{other:?} is not one of \"auto\", \"admin-api\", \"offsets-topic\""),
            ));
        }
    };
    let filter = |allow_key: &str, deny_key: &str, allow: &[String], deny: &[String]| {
        NameFilter::new(allow, deny).map_err(|(which, i, m)| {
            let key = if which == "allow" {
                allow_key
            } else {
                deny_key
            };
            ctx.error(&format!("kafka.{key}[{i}]"), m)
        })
    };
    let groups = filter(
        "groups_allow",
        "groups_deny",
        &c.groups_allow,
        &c.groups_deny,
    )?;
    let topics = filter(
        "topics_allow",
        "topics_deny",
        &c.topics_allow,
        &c.topics_deny,
    )?;
    let client_id = c.client_id.clone().unwrap_or_else(|| "kafkascope".into());
    if client_id.is_empty() || client_id.len() > 255 {
        return Err(ctx.error("kafka.client_id", "must be 1 to 255 characters"));
    }
    let tls = match &c.tls {
        Some(t) => Some(tls_client(&t.ca_file).map_err(|m| ctx.error("kafka.tls.ca_file", m))?),
        None => None,
    };
    let sasl = match &c.sasl {
        Some(s) => Some(Arc::new(sasl_settings(ctx, s)?)),
        None => None,
    };
    let settings = KafkaSettings {
        tls,
        tls_ca_file: c.tls.as_ref().map(|t| t.ca_file.clone()),
        sasl,
        brokers: c.brokers.iter().map(|b| b.trim().to_string()).collect(),
        commits,
        groups,
        topics,
        client_id,
    };
    Ok((c, settings))
}

pub(super) fn build(
    ctx: &BuildContext<'_>,
    sections: &mut Sections,
) -> Result<Vec<PlannedTarget>, ConfigError> {
    let Some(value) = sections.remove("kafka") else {
        return Ok(vec![]);
    };
    if !value.is_table() {
        return Err(ctx.error(
            "kafka",
            "must be a table: [clusters.kafka] with brokers = [\"host:port\", ...]",
        ));
    }
    let (config, settings) = read(ctx, &value)?;
    let (interval, timeout) =
        ctx.schedule(config.interval.map(|d| d.0), config.timeout.map(|d| d.0));
    if timeout > interval {
        return Err(ctx.error(
            "kafka.timeout",
            "must not be longer than the interval (polls of one cluster never overlap)",
        ));
    }
    Ok(vec![PlannedTarget {
        cluster: ctx.cluster.name.clone(),
        source: Box::new(super::KafkaSource::new(settings)),
        interval,
        timeout,
    }])
}

/// A broker on its usual local port.
pub(super) fn default_local() -> Option<toml::Value> {
    let mut t = toml::Table::new();
    t.insert(
        "brokers".into(),
        toml::Value::Array(vec![toml::Value::String("127.0.0.1:9092".into())]),
    );
    t.insert("commits".into(), toml::Value::String("admin-api".into()));
    Some(toml::Value::Table(t))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::sources::build_all;

    fn plan(section: &str) -> Result<crate::sources::BuildPlan, String> {
        let text = format!("[[clusters]]\nname = \"a\"\n[clusters.kafka]\n{section}");
        let c = Config::parse(&text, "t.toml").map_err(|e| e.to_string())?;
        build_all(&c).map_err(|e| e.to_string())
    }

    #[test]
    fn a_good_section_gives_one_target_for_the_cluster() {
        let p = plan("brokers = [\"127.0.0.1:9092\", \"b2:9093\"]\ncommits = \"admin-api\"\ngroups_deny = [\"console-consumer-.*\"]\n").unwrap();
        assert_eq!(p.targets.len(), 1);
        let info = p.targets[0].source.target_info();
        assert_eq!(info.source, "kafka");
        assert_eq!(info.target, "127.0.0.1:9092,b2:9093");
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        // auto says what it means.
        let p = plan("brokers = [\"127.0.0.1:9092\"]\n").unwrap();
        assert!(p.notes[0].contains("__consumer_offsets"), "{:?}", p.notes);
        assert!(p.notes[0].contains("Admin API"), "{:?}", p.notes);
        // offsets-topic is accepted and needs no note.
        let p = plan("brokers = [\"127.0.0.1:9092\"]\ncommits = \"offsets-topic\"\n").unwrap();
        assert_eq!(p.targets.len(), 1);
        assert!(p.notes.is_empty(), "{:?}", p.notes);
    }

    #[test]
    fn errors_name_the_key() {
        for (section, key) in [
            ("brokers = [\"nohost\"]\n", "clusters[0].kafka.brokers[0]"),
            ("brokers = []\n", "clusters[0].kafka.brokers"),
            (
                "brokers = [\"h:1\"]\ncommits = \"zk\"\n",
                "clusters[0].kafka.commits",
            ),
            (
                "brokers = [\"h:1\"]\ngroups_deny = [\"ok\", \"(\"]\n",
                "clusters[0].kafka.groups_deny[1]",
            ),
            (
                "brokers = [\"h:1\"]\ntopics_allow = [\"[\"]\n",
                "clusters[0].kafka.topics_allow[0]",
            ),
            ("brokers = [\"h:1\"]\nsasl = {}\n", "clusters[0].kafka.sasl"),
            (
                "brokers = [\"h:1\"]\nsasl = { mechanism = \"GSSAPI\", username = \"u\", password = \"p\" }\n",
                "clusters[0].kafka.sasl.mechanism",
            ),
            (
                "brokers = [\"h:1\"]\nsasl = { mechanism = \"PLAIN\", username = \"\", password = \"p\" }\n",
                "clusters[0].kafka.sasl.username",
            ),
            (
                "brokers = [\"h:1\"]\nsasl = { mechanism = \"PLAIN\", username = \"u\" }\n",
                "clusters[0].kafka.sasl",
            ),
            (
                "brokers = [\"h:1\"]\nsasl = { mechanism = \"PLAIN\", username = \"u\", password = \"p\", password_file = \"/x\" }\n",
                "clusters[0].kafka.sasl",
            ),
            (
                "brokers = [\"h:1\"]\nsasl = { mechanism = \"PLAIN\", username = \"u\", password_file = \"/nonexistent/pass\" }\n",
                "clusters[0].kafka.sasl.password_file",
            ),
            (
                "brokers = [\"h:1\"]\nsasl = { mechanism = \"PLAIN\", username = \"u\", passwd = \"p\" }\n",
                "clusters[0].kafka.sasl",
            ),
            (
                "brokers = [\"h:1\"]\ntls = { ca_file = \"/nonexistent/ca.pem\" }\n",
                "clusters[0].kafka.tls.ca_file",
            ),
            (
                "brokers = [\"h:1\"]\ntls = { ca = \"x\" }\n",
                "clusters[0].kafka.tls",
            ),
            (
                "brokers = [\"h:1\"]\ninterval = \"5s\"\ntimeout = \"6s\"\n",
                "clusters[0].kafka.timeout",
            ),
        ] {
            let e = plan(section)
                .err()
                .unwrap_or_else(|| panic!("{section} was accepted"));
            assert!(e.contains(key), "{section}: {e}");
        }
        let e = plan("brokers = [\"h:1\"]\ncommits = \"offset-topic\"\n")
            .err()
            .unwrap();
        assert!(e.contains("\"offsets-topic\""), "{e}");
    }

    #[test]
    fn sasl_reads_its_password_file_and_never_shows_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kafka.pass");
        std::fs::write(&file, "s3cret-pw\n").unwrap();
        let p = plan(&format!(
            "brokers = [\"h:1\"]\nsasl = {{ mechanism = \"scram-sha-512\", username = \"monitor\", password_file = {:?} }}\n",
            file.display()
        ))
        .unwrap();
        assert_eq!(p.targets.len(), 1);
        let s = super::super::client::sasl::SaslSettings {
            mechanism: super::super::client::sasl::Mechanism::ScramSha512,
            username: "monitor".into(),
            password: super::super::client::sasl::Password::File(file.clone()),
        };
        // The line end is not part of the password; the Debug form names the file only.
        assert_eq!(s.password().unwrap().expose(), "s3cret-pw");
        assert!(!format!("{s:?}").contains("s3cret"), "{s:?}");
        // An empty file is refused by name, an inline password is accepted and hidden.
        std::fs::write(&file, "\n").unwrap();
        let e = plan(&format!(
            "brokers = [\"h:1\"]\nsasl = {{ mechanism = \"PLAIN\", username = \"u\", password_file = {:?} }}\n",
            file.display()
        ))
        .err()
        .unwrap();
        assert!(
            e.contains("clusters[0].kafka.sasl.password_file") && e.contains("is empty"),
            "{e}"
        );
        let text = "brokers = [\"h:1\"]\nsasl = { mechanism = \"PLAIN\", username = \"u\", password = \"inline-pw\" }\n";
        assert_eq!(plan(text).unwrap().targets.len(), 1);
        let parsed: super::KafkaConfig = toml::from_str(text).unwrap();
        assert!(!format!("{parsed:?}").contains("inline-pw"), "{parsed:?}");
        let e = plan(&text.replace("PLAIN", "KERBEROS")).err().unwrap();
        assert!(!e.contains("inline-pw"), "{e}");
    }

    #[test]
    fn filters_are_anchored() {
        let f = super::NameFilter::new(&["app-.*".into()], &["app-test".into()]).unwrap();
        assert!(f.passes("app-1"));
        assert!(!f.passes("myapp-1"), "allow is anchored at the start");
        assert!(!f.passes("app-test"));
        assert!(f.passes("app-tester"), "deny is anchored at the end");
        assert!(super::NameFilter::default().passes("anything"));
    }
}
