//! The `[clusters.jmx]` section: which JVMs to read over remote JMX, and how to name what they say.
//!
//! ```toml
//! [clusters.jmx]
//! brokers = ["broker1:9999", "broker2:9999"]  # host:port or service:jmx:rmi:///jndi/rmi://host:port/jmxrmi
//! controllers = ["ctrl1:9999"]                # KRaft controllers
//! zookeeper = ["zk1:9998"]
//! interval = "15s"                            # optional, else the cluster's
//! timeout = "10s"                             # optional: the budget of one scrape
//! naming = "jmx_exporter"                     # or "confluent": which dashboards' series names
//! partitions = false                          # per-partition beans (kafka.log Log, kafka.cluster Partition)
//! partitions_every = 4                        # …read every Nth scrape when on
//! max_series = 20000                          # per target; more is cut with a warning
//! refresh_names_every = 10                    # re-resolve bean patterns every N scrapes
//! username = "monitor"                        # JMX authentication, with
//! password_file = "/etc/kafkascope/jmx.pass"  # the password from a file (or password = "…")
//! ssl = false                                 # JMX over SSL (the JDK's SslRMIClientSocketFactory)
//! rules_file = "/etc/jmx_exporter/kafka.yml"  # a jmx_exporter config used instead of the preset
//! extra_rules_file = "/etc/kafkascope/more.yml"  # jmx_exporter rules applied before the preset
//!
//! [[clusters.jmx.clients]]
//! name = "orders-producer"                    # unique in the cluster; the `client` label
//! jmx = "app1:9010"
//! kind = "producer"                           # producer | consumer | streams | connect
//! ```
//!
//! A broker, controller or ZooKeeper entry may also be a table with its own `address`,
//! `rules_file`, `extra_rules_file`, `naming`, `username`, `password_file`. Rule files are read and
//! checked when the config is loaded, so `check-config` names a bad rule at once.

use super::bridge;
use super::presets::{self, Family, Role};
use super::rules::RuleSet;
use crate::config::{ConfigError, Dur, Secret};
use crate::sources::{BuildContext, PlannedTarget, Sections};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_MAX_SERIES: usize = 20_000;
pub const DEFAULT_REFRESH_NAMES_EVERY: u32 = 10;
pub const DEFAULT_PARTITIONS_EVERY: u32 = 4;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JmxConfig {
    #[serde(default)]
    pub brokers: Vec<Entry>,
    #[serde(default)]
    pub controllers: Vec<Entry>,
    #[serde(default)]
    pub zookeeper: Vec<Entry>,
    #[serde(default)]
    pub clients: Vec<ClientEntry>,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
    pub naming: Option<String>,
    #[serde(default)]
    pub partitions: bool,
    pub partitions_every: Option<u32>,
    pub max_series: Option<usize>,
    pub refresh_names_every: Option<u32>,
    #[serde(flatten)]
    pub access: Access,
    pub rules_file: Option<PathBuf>,
    pub extra_rules_file: Option<PathBuf>,
}

/// How to log in; the password itself is only ever held in memory.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Access {
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    pub ssl: Option<bool>,
}

/// A broker/controller/ZooKeeper entry: an address, or a table with its own options.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    Address(String),
    Table(EntryTable),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryTable {
    pub address: String,
    pub naming: Option<String>,
    pub rules_file: Option<PathBuf>,
    pub extra_rules_file: Option<PathBuf>,
    #[serde(flatten)]
    pub access: Access,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    pub name: String,
    pub jmx: String,
    pub kind: String,
    pub rules_file: Option<PathBuf>,
    pub extra_rules_file: Option<PathBuf>,
    #[serde(flatten)]
    pub access: Access,
}

/// Where a target's password comes from.
#[derive(Clone, Debug)]
pub enum Password {
    Inline(Secret),
    /// Read at every (re)connect, so a rotated password is picked up.
    File(PathBuf),
}

/// One JMX target, validated.
#[derive(Clone)]
pub struct TargetSettings {
    /// The cluster it belongs to.
    pub cluster: String,
    /// As configured: the `instance` label and the targets page's address.
    pub address: String,
    /// The JMX service URL.
    pub url: String,
    pub role: Role,
    /// A client's configured name (the `client` label).
    pub client: Option<String>,
    pub rules: Arc<RuleSet>,
    /// Per-partition rules, read every `partitions_every` scrapes (None: off).
    pub partition_rules: Option<(Arc<RuleSet>, u32)>,
    pub username: Option<String>,
    pub password: Option<Password>,
    pub ssl: bool,
    pub max_series: usize,
    pub refresh_names_every: u32,
}

impl std::fmt::Debug for TargetSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetSettings")
            .field("address", &self.address)
            .field("role", &self.role)
            .field("client", &self.client)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

fn family(ctx: &BuildContext<'_>, key: &str, v: Option<&str>) -> Result<Family, ConfigError> {
    match v.unwrap_or("jmx_exporter") {
        other if Family::parse(other).is_some() => Ok(Family::parse(other).unwrap_or_default()),
        other => Err(ctx.error(
            key,
            format!("{other:?} is not one of \"jmx_exporter\" (prometheus/jmx_exporter example names) or \"confluent\" (Confluent jmx-monitoring-stacks names)"),
        )),
    }
}

fn read_rules(ctx: &BuildContext<'_>, key: &str, path: &PathBuf) -> Result<RuleSet, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ctx.error(key, format!("cannot read {}: {e}", path.display())))?;
    RuleSet::from_yaml(&text, &path.display().to_string())
        .map_err(|e| ctx.error(key, e.to_string()))
}

/// The rules of one target: a full jmx_exporter config in place of the preset, or the preset for
/// its role; extra rules go first, so they win over the preset's (jmx_exporter: first match wins).
fn rules(
    ctx: &BuildContext<'_>,
    key: &str,
    role: Role,
    fam: Family,
    rules_file: Option<&PathBuf>,
    extra: Option<&PathBuf>,
) -> Result<RuleSet, ConfigError> {
    let mut set = match rules_file {
        Some(p) => read_rules(ctx, &format!("{key}.rules_file"), p)?,
        None => presets::rules_for(role, fam, false).map_err(|e| ctx.error(key, e.to_string()))?,
    };
    if let Some(p) = extra {
        let mut first = read_rules(ctx, &format!("{key}.extra_rules_file"), p)?;
        first.extend(set);
        set = first;
    }
    Ok(set)
}

/// The opt-in per-partition rules (`partitions = true`), read on their own slower schedule.
fn partition_rules(ctx: &BuildContext<'_>) -> Result<RuleSet, ConfigError> {
    let text = presets::preset("kafka-partitions.yml").ok_or_else(|| {
        ctx.error(
            "jmx.partitions",
            "the per-partition preset is missing from this build",
        )
    })?;
    RuleSet::from_yaml(text, "preset kafka-partitions.yml")
        .map_err(|e| ctx.error("jmx.partitions", e.to_string()))
}

fn password(
    ctx: &BuildContext<'_>,
    key: &str,
    a: &Access,
    inherited: &Access,
) -> Result<(Option<String>, Option<Password>, bool), ConfigError> {
    let username = a.username.clone().or_else(|| inherited.username.clone());
    let (pw, pw_file) = if a.password.is_some() || a.password_file.is_some() {
        (a.password.clone(), a.password_file.clone())
    } else {
        (inherited.password.clone(), inherited.password_file.clone())
    };
    let password = match (pw, pw_file) {
        (Some(_), Some(_)) => {
            return Err(ctx.error(
                &format!("{key}.password_file"),
                "use either password or password_file, not both",
            ));
        }
        (Some(s), None) => Some(Password::Inline(s)),
        (None, Some(f)) => Some(Password::File(f)),
        (None, None) => None,
    };
    match (&username, &password) {
        (Some(_), None) => {
            return Err(ctx.error(
                &format!("{key}.username"),
                "needs password_file (or password)",
            ));
        }
        (None, Some(_)) => {
            return Err(ctx.error(&format!("{key}.password_file"), "needs username"));
        }
        _ => {}
    }
    let ssl = a.ssl.or(inherited.ssl).unwrap_or(false);
    Ok((username, password, ssl))
}

/// Reads `[clusters.jmx]` into one settings value per target, with errors that name the key.
pub(super) fn read(
    ctx: &BuildContext<'_>,
    value: &toml::Value,
) -> Result<(JmxConfig, Vec<TargetSettings>), ConfigError> {
    let c: JmxConfig = ctx.origin.section(&format!("{}.jmx", ctx.path), value)?;
    if c.brokers.is_empty()
        && c.controllers.is_empty()
        && c.zookeeper.is_empty()
        && c.clients.is_empty()
    {
        return Err(ctx.error(
            "jmx",
            "names no target: add brokers, controllers, zookeeper or [[clusters.jmx.clients]]",
        ));
    }
    let fam = family(ctx, "jmx.naming", c.naming.as_deref())?;
    let max_series = c.max_series.unwrap_or(DEFAULT_MAX_SERIES);
    if max_series == 0 {
        return Err(ctx.error("jmx.max_series", "must be at least 1"));
    }
    let refresh = c.refresh_names_every.unwrap_or(DEFAULT_REFRESH_NAMES_EVERY);
    if refresh == 0 {
        return Err(ctx.error("jmx.refresh_names_every", "must be at least 1"));
    }
    let partitions_every = c.partitions_every.unwrap_or(DEFAULT_PARTITIONS_EVERY);
    if partitions_every == 0 {
        return Err(ctx.error("jmx.partitions_every", "must be at least 1"));
    }
    // One shared preset per role and family: rule sets are compiled once.
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let groups: [(&str, Role, &Vec<Entry>); 3] = [
        ("brokers", Role::Broker, &c.brokers),
        ("controllers", Role::Controller, &c.controllers),
        ("zookeeper", Role::ZooKeeper, &c.zookeeper),
    ];
    for (list, role, entries) in groups {
        for (j, entry) in entries.iter().enumerate() {
            let key = format!("jmx.{list}[{j}]");
            let (address, naming, rules_file, extra, access) = match entry {
                Entry::Address(a) => (a.clone(), None, None, None, Access::default()),
                Entry::Table(t) => (
                    t.address.clone(),
                    t.naming.clone(),
                    t.rules_file.clone(),
                    t.extra_rules_file.clone(),
                    t.access.clone(),
                ),
            };
            let address = address.trim().to_string();
            let url = bridge::service_url(&address).map_err(|m| ctx.error(&key, m))?;
            if !seen.insert(address.clone()) {
                return Err(ctx.error(
                    &key,
                    format!("{address} is listed twice in this cluster; one JVM is one target (a combined broker+controller goes under brokers)"),
                ));
            }
            let fam = match naming {
                Some(n) => family(ctx, &format!("{key}.naming"), Some(&n))?,
                None => fam,
            };
            let rules = rules(
                ctx,
                &key,
                role,
                fam,
                rules_file.as_ref().or(c.rules_file.as_ref()),
                extra.as_ref().or(c.extra_rules_file.as_ref()),
            )?;
            let (username, password, ssl) = password(ctx, &key, &access, &c.access)?;
            let partition_rules = if c.partitions && role == Role::Broker {
                Some((Arc::new(partition_rules(ctx)?), partitions_every))
            } else {
                None
            };
            out.push(TargetSettings {
                cluster: ctx.cluster.name.clone(),
                address,
                url,
                role,
                client: None,
                rules: Arc::new(rules),
                partition_rules,
                username,
                password,
                ssl,
                max_series,
                refresh_names_every: refresh,
            });
        }
    }
    let mut names = HashSet::new();
    for (j, cl) in c.clients.iter().enumerate() {
        let key = format!("jmx.clients[{j}]");
        if cl.name.trim().is_empty() {
            return Err(ctx.error(&format!("{key}.name"), "must not be empty"));
        }
        if !names.insert(cl.name.clone()) {
            return Err(ctx.error(
                &format!("{key}.name"),
                format!(
                    "{:?} is already another client's name in this cluster",
                    cl.name
                ),
            ));
        }
        let role = match cl.kind.as_str() {
            "producer" => Role::Producer,
            "consumer" => Role::Consumer,
            "streams" => Role::Streams,
            "connect" => Role::Connect,
            other => {
                return Err(ctx.error(
                    &format!("{key}.kind"),
                    format!("{other:?} is not one of producer, consumer, streams, connect"),
                ));
            }
        };
        let address = cl.jmx.trim().to_string();
        let url = bridge::service_url(&address).map_err(|m| ctx.error(&format!("{key}.jmx"), m))?;
        if !seen.insert(address.clone()) {
            return Err(ctx.error(
                &format!("{key}.jmx"),
                format!("{address} is already another target in this cluster"),
            ));
        }
        let rules = rules(
            ctx,
            &key,
            role,
            fam,
            cl.rules_file.as_ref(),
            cl.extra_rules_file.as_ref(),
        )?;
        let (username, password, ssl) = password(ctx, &key, &cl.access, &c.access)?;
        out.push(TargetSettings {
            cluster: ctx.cluster.name.clone(),
            address,
            url,
            role,
            client: Some(cl.name.clone()),
            rules: Arc::new(rules),
            partition_rules: None,
            username,
            password,
            ssl,
            max_series,
            refresh_names_every: refresh,
        });
    }
    Ok((c, out))
}

/// Every JMX target of a config (for the MBean explorer); a cluster whose section does not read
/// is left out (the server would not have started with it).
pub fn targets(config: &crate::config::Config) -> Vec<TargetSettings> {
    let mut out = Vec::new();
    for (i, cluster) in config.clusters.iter().enumerate() {
        let Some(value) = cluster.sections.get("jmx") else {
            continue;
        };
        let ctx = BuildContext {
            cluster,
            path: format!("clusters[{i}]"),
            origin: &config.origin,
            interval: cluster.interval(&config.collector),
            timeout: cluster.timeout(&config.collector),
            notes: Default::default(),
        };
        if let Ok((_, t)) = read(&ctx, value) {
            out.extend(t);
        }
    }
    out
}

pub(super) fn build(
    ctx: &BuildContext<'_>,
    sections: &mut Sections,
) -> Result<Vec<PlannedTarget>, ConfigError> {
    let Some(value) = sections.remove("jmx") else {
        return Ok(vec![]);
    };
    if !value.is_table() {
        return Err(ctx.error(
            "jmx",
            "must be a table: [clusters.jmx] with brokers = [\"host:port\", ...]",
        ));
    }
    let (config, targets) = read(ctx, &value)?;
    let (interval, timeout) =
        ctx.schedule(config.interval.map(|d| d.0), config.timeout.map(|d| d.0));
    if interval < Duration::from_secs(1) {
        return Err(ctx.error("jmx.interval", "must be at least 1s"));
    }
    if timeout > interval {
        return Err(ctx.error(
            "jmx.timeout",
            "must not be longer than the interval (scrapes of one target never overlap)",
        ));
    }
    Ok(targets
        .into_iter()
        .map(|t| PlannedTarget {
            cluster: ctx.cluster.name.clone(),
            source: Box::new(super::JmxSource::new(t)),
            interval,
            timeout,
        })
        .collect())
}

/// A broker on Kafka's usual JMX port (`JMX_PORT=9999` in Kafka's scripts and images).
pub(super) fn default_local() -> Option<toml::Value> {
    let mut t = toml::Table::new();
    t.insert(
        "brokers".into(),
        toml::Value::Array(vec![toml::Value::String("127.0.0.1:9999".into())]),
    );
    Some(toml::Value::Table(t))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::sources::build_all;

    fn plan(section: &str) -> Result<crate::sources::BuildPlan, String> {
        let text = format!("[[clusters]]\nname = \"a\"\n[clusters.jmx]\n{section}");
        let c = Config::parse(&text, "t.toml").map_err(|e| e.to_string())?;
        build_all(&c).map_err(|e| e.to_string())
    }

    #[test]
    fn one_target_per_jvm_with_its_role() {
        let p = plan("brokers = [\"127.0.0.1:9999\", \"service:jmx:rmi:///jndi/rmi://b2:9998/jmxrmi\"]\nzookeeper = [\"127.0.0.1:9997\"]\n[[clusters.jmx.clients]]\nname = \"orders\"\njmx = \"127.0.0.1:9010\"\nkind = \"producer\"\n").unwrap();
        let t: Vec<(&str, String)> = p
            .targets
            .iter()
            .map(|t| {
                let i = t.source.target_info();
                (i.source, i.target.clone())
            })
            .collect();
        assert_eq!(
            t,
            vec![
                ("jmx", "127.0.0.1:9999".to_string()),
                (
                    "jmx",
                    "service:jmx:rmi:///jndi/rmi://b2:9998/jmxrmi".to_string()
                ),
                ("jmx", "127.0.0.1:9997".to_string()),
                ("jmx", "127.0.0.1:9010".to_string()),
            ]
        );
        let job = |i: usize| {
            p.targets[i]
                .source
                .target_info()
                .identity
                .get("job")
                .map(str::to_string)
        };
        assert_eq!(job(0).as_deref(), Some("kafka-broker"));
        assert_eq!(job(2).as_deref(), Some("zookeeper"));
        assert_eq!(job(3).as_deref(), Some("kafka-producer"));
    }

    #[test]
    fn errors_name_the_key() {
        for (section, key) in [
            ("brokers = [\"nohost\"]\n", "clusters[0].jmx.brokers[0]"),
            ("interval = \"15s\"\n", "clusters[0].jmx"),
            (
                "brokers = [\"h:1\", \"h:1\"]\n",
                "clusters[0].jmx.brokers[1]",
            ),
            (
                "brokers = [\"h:1\"]\nnaming = \"grafana\"\n",
                "clusters[0].jmx.naming",
            ),
            (
                "brokers = [\"h:1\"]\nusername = \"u\"\n",
                "clusters[0].jmx.brokers[0].username",
            ),
            (
                "brokers = [\"h:1\"]\nrules_file = \"/nonexistent/k.yml\"\n",
                "clusters[0].jmx.brokers[0].rules_file",
            ),
            (
                "brokers = [\"h:1\"]\nmax_series = 0\n",
                "clusters[0].jmx.max_series",
            ),
            (
                "[[clusters.jmx.clients]]\nname = \"x\"\njmx = \"h:1\"\nkind = \"spark\"\n",
                "clusters[0].jmx.clients[0].kind",
            ),
            (
                "brokers = [{ address = \"h:1\", rules = \"x\" }]\n",
                "clusters[0].jmx.brokers",
            ),
        ] {
            let e = plan(section)
                .err()
                .unwrap_or_else(|| panic!("{section} was accepted"));
            assert!(e.contains(key), "{section}: {e}");
        }
    }

    #[test]
    fn a_bad_rule_file_is_named_with_its_rule() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.yml");
        std::fs::write(&f, "rules:\n  - pattern: 'kafka.server<type=(.+'\n").unwrap();
        let e = plan(&format!(
            "brokers = [\"h:1\"]\nextra_rules_file = {:?}\n",
            f
        ))
        .err()
        .unwrap();
        assert!(
            e.contains("clusters[0].jmx.brokers[0].extra_rules_file") && e.contains("bad.yml"),
            "{e}"
        );
    }

    #[test]
    fn the_password_is_never_in_debug_output_or_errors() {
        let p = plan(
            "brokers = [\"127.0.0.1:9999\"]\nusername = \"u\"\npassword = \"hunter2-secret\"\n",
        )
        .unwrap();
        assert_eq!(p.targets.len(), 1);
        let text = format!("{:?}", p.targets[0].source.target_info());
        assert!(!text.contains("hunter2"), "{text}");
        let e = plan("brokers = [\"127.0.0.1:9999\"]\npassword = \"hunter2-secret\"\n")
            .err()
            .unwrap();
        assert!(
            !e.contains("hunter2") && e.contains("needs username"),
            "{e}"
        );
    }
}
