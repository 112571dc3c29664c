//! The `[clusters.zookeeper]` section: which servers to read, and how.
//!
//! ```toml
//! [clusters.zookeeper]
//! servers = ["zk1:2181", "zk2:2181"]          # four-letter words on the client port
//! admin = ["http://zk1:8081/commands"]        # AdminServer (3.5+), optional
//! interval = "15s"                            # optional, else the cluster's
//! ```
//!
//! The flat keys of earlier versions (`zookeeper = [...]` and `zookeeper_admin = [...]` directly in
//! the cluster) keep working; `check-config` prints the section that replaces them.

use crate::config::{ConfigError, Dur, check_host_port, check_http_url};
use crate::sources::{BuildContext, PlannedTarget, Sections};
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZookeeperConfig {
    /// Client ports (`host:port`), read with four-letter words.
    #[serde(default)]
    pub servers: Vec<String>,
    /// AdminServer base URLs (`http://host:port` or `https://…`, optionally ending in `/commands`).
    #[serde(default)]
    pub admin: Vec<String>,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
}

/// Takes the cluster's ZooKeeper keys (the section, or the flat keys of earlier versions).
pub(super) fn read(
    ctx: &BuildContext<'_>,
    sections: &mut Sections,
) -> Result<Option<ZookeeperConfig>, ConfigError> {
    let section = sections.remove("zookeeper");
    let flat_admin = sections.remove("zookeeper_admin");
    let (config, prefix) = match section {
        None if flat_admin.is_none() => return Ok(None),
        Some(v @ toml::Value::Table(_)) => {
            if flat_admin.is_some() {
                return Err(ctx.error(
                    "zookeeper_admin",
                    "with a [clusters.zookeeper] section, AdminServer URLs go in its `admin` key",
                ));
            }
            let c: ZookeeperConfig = ctx.origin.section(&format!("{}.zookeeper", ctx.path), &v)?;
            (c, "zookeeper.")
        }
        other => {
            // The flat keys: `zookeeper = [...]`, `zookeeper_admin = [...]`.
            let servers: Vec<String> = match other {
                Some(v) => ctx.origin.section(&format!("{}.zookeeper", ctx.path), &v)?,
                None => vec![],
            };
            let admin: Vec<String> = match flat_admin {
                Some(v) => ctx
                    .origin
                    .section(&format!("{}.zookeeper_admin", ctx.path), &v)?,
                None => vec![],
            };
            (
                ZookeeperConfig {
                    servers,
                    admin,
                    ..Default::default()
                },
                "",
            )
        }
    };
    let (servers_key, admin_key) = if prefix.is_empty() {
        ("zookeeper", "zookeeper_admin")
    } else {
        ("zookeeper.servers", "zookeeper.admin")
    };
    for (j, addr) in config.servers.iter().enumerate() {
        check_host_port(addr.trim()).map_err(|m| ctx.error(&format!("{servers_key}[{j}]"), m))?;
    }
    for (j, url) in config.admin.iter().enumerate() {
        check_http_url(url.trim()).map_err(|m| ctx.error(&format!("{admin_key}[{j}]"), m))?;
    }
    if prefix.is_empty() {
        ctx.notes.borrow_mut().push(format!(
            "{}: `zookeeper = [...]` and `zookeeper_admin = [...]` directly in a cluster are the old spelling; they still work, and this section replaces them:\n{}",
            ctx.path,
            rewrite_hint(&config)
        ));
    }
    Ok(Some(config))
}

/// The section text that replaces the flat keys, for `check-config`.
pub fn rewrite_hint(c: &ZookeeperConfig) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!("[clusters.zookeeper]\nservers = [{}]\n", list(&c.servers));
    if !c.admin.is_empty() {
        out.push_str(&format!("admin = [{}]\n", list(&c.admin)));
    }
    out
}

pub(super) fn build(
    ctx: &BuildContext<'_>,
    sections: &mut Sections,
) -> Result<Vec<PlannedTarget>, ConfigError> {
    let Some(config) = read(ctx, sections)? else {
        return Ok(vec![]);
    };
    let (interval, timeout) =
        ctx.schedule(config.interval.map(|d| d.0), config.timeout.map(|d| d.0));
    if timeout > interval {
        return Err(ctx.error(
            "zookeeper.timeout",
            "must not be longer than the interval (scrapes of one target never overlap)",
        ));
    }
    Ok(
        super::build_sources(&ctx.cluster.name, &config.servers, &config.admin)
            .into_iter()
            .map(|t| PlannedTarget {
                cluster: ctx.cluster.name.clone(),
                source: Box::new(t),
                interval,
                timeout,
            })
            .collect(),
    )
}

/// ZooKeeper's client port on this machine.
pub(super) fn default_local() -> Option<toml::Value> {
    // The AdminServer's usual port, 8080, is also kafkascope's: it is only read when configured.
    let mut t = toml::Table::new();
    t.insert(
        "servers".into(),
        toml::Value::Array(vec![toml::Value::String("127.0.0.1:2181".into())]),
    );
    Some(toml::Value::Table(t))
}
