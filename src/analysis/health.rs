//! A cluster's health strip: the numbers an operator checks first, as of the end of a range —
//! brokers online, exactly one active controller, offline, under-replicated and under-min-ISR
//! partitions, unclean elections within the range, the ZooKeeper and KRaft quorums. Each cell
//! comes from the JMX source's broker series where they exist and from the kafka source's
//! metadata otherwise, and is left out when neither source has stored anything for it (a cell
//! without data would read as "0, healthy").
//!
//! Consumer groups by status come from the lag engine, which the consumer pages' overview tile
//! runs anyway; it hands its cell over (see [`groups_cell`] and [`Strip::with`]).

use crate::model::{Matcher, Timestamp};
use crate::query::{Limits, QueryError, eval_instant};
use crate::store::Store;
use std::collections::BTreeSet;

/// The `job` label of broker series (the JMX source's brokers).
const BROKER_JOB: &str = "kafka-broker";

/// Series every broker reports under the JMX presets; who has one is a broker we know of.
const BROKER_CORE: [&str; 3] = [
    "kafka_server_replicamanager_partitioncount",
    "kafka_controller_kafkacontroller_activecontrollercount",
    "kafka_server_brokertopicmetrics_bytesin_total",
];

/// How a cell reads: the classes of the pages' badges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

impl Level {
    pub fn class(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

/// One number of the strip.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub key: &'static str,
    pub title: &'static str,
    pub value: String,
    pub level: Level,
    /// Where the number came from and what makes it bad, for the cell's hover text.
    pub detail: String,
    /// The PromQL the number was read with (empty for the lag engine's cell).
    pub query: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Strip {
    pub cells: Vec<Cell>,
}

/// Consumer groups of a cluster by Burrow status, from the lag engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCounts {
    pub ok: usize,
    pub warn: usize,
    pub err: usize,
}

impl Strip {
    /// The worst level of its cells (None without cells).
    pub fn worst(&self) -> Option<Level> {
        self.cells.iter().map(|c| c.level).max_by_key(|l| *l as u8)
    }

    /// The strip with cells other parts of the page computed (a source tile's groups cell).
    pub fn with(mut self, cells: impl IntoIterator<Item = Cell>) -> Strip {
        self.cells.extend(cells);
        self
    }
}

/// The consumer groups' cell: by Burrow status, with the largest lag in time.
pub fn groups_cell(g: GroupCounts, max_lag: &str) -> Cell {
    let level = if g.err > 0 {
        Level::Critical
    } else if g.warn > 0 {
        Level::Warning
    } else {
        Level::Ok
    };
    Cell {
        key: "groups",
        title: "Consumer groups",
        value: format!("{} OK · {} WARN · {} ERR", g.ok, g.warn, g.err),
        level,
        detail: format!(
            "Burrow's status rules over each group's last commits; the largest lag is {max_lag}"
        ),
        query: String::new(),
    }
}

/// A label value inside a PromQL string literal.
fn lit(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The value of a query that yields one number at `at` (None: no series answered).
async fn one(store: &Store, text: &str, at: Timestamp) -> Result<Option<f64>, QueryError> {
    let r = eval_instant(store, text, at, &Limits::default()).await?;
    Ok(r.into_series()
        .into_iter()
        .filter_map(|s| s.values.first().copied().flatten())
        .find(|v| v.is_finite()))
}

/// Whether the cluster has any series of `metric` (so "no answer" means zero, not "unknown").
fn has(store: &Store, cluster: &str, metric: &str) -> bool {
    !store
        .select(Some(metric), &[Matcher::eq("cluster", cluster)])
        .is_empty()
}

fn count_text(n: f64) -> String {
    format!("{n:.0}")
}

/// The strip of `cluster` as of `to`; `from` bounds the window of "unclean elections in range".
pub async fn strip(
    store: &Store,
    cluster: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Strip, QueryError> {
    let c = format!("cluster=\"{}\"", lit(cluster));
    let jmx = format!("{c},job=\"{BROKER_JOB}\"");
    let mut cells = Vec::new();

    // Brokers: those reporting JMX now against those that ever did, or the metadata's count.
    let known: BTreeSet<String> = BROKER_CORE
        .iter()
        .flat_map(|m| {
            store.select(
                Some(m),
                &[
                    Matcher::eq("cluster", cluster),
                    Matcher::eq("job", BROKER_JOB),
                ],
            )
        })
        .filter_map(|i| i.key.labels.get("instance").map(str::to_string))
        .collect();
    let in_metadata = one(store, &format!("max(kafka_brokers{{{c}}})"), to).await?;
    if !known.is_empty() {
        let q = format!(
            "count(count by (instance) ({{__name__=~\"{}\",{jmx}}}))",
            BROKER_CORE.join("|")
        );
        let online = one(store, &q, to).await?.unwrap_or(0.0);
        let expected = (known.len() as f64).max(in_metadata.unwrap_or(0.0));
        cells.push(Cell {
            key: "brokers",
            title: "Brokers online",
            value: format!("{} / {}", count_text(online), count_text(expected)),
            level: if online >= expected {
                Level::Ok
            } else if online == 0.0 {
                Level::Critical
            } else {
                Level::Warning
            },
            detail: format!(
                "brokers reporting JMX now, of {} seen{}",
                known.len(),
                in_metadata
                    .map(|m| format!(" and {} in the cluster's metadata", count_text(m)))
                    .unwrap_or_default()
            ),
            query: q,
        });
    } else if let Some(m) = in_metadata {
        let q = format!("max(kafka_brokers{{{c}}})");
        cells.push(Cell {
            key: "brokers",
            title: "Brokers",
            value: count_text(m),
            level: if m > 0.0 { Level::Ok } else { Level::Critical },
            detail: "brokers in the cluster's metadata (no broker JMX configured)".into(),
            query: q,
        });
    }

    // Active controller: exactly one, from JMX, else whether the metadata names one.
    let q = format!("sum(kafka_controller_kafkacontroller_activecontrollercount{{{jmx}}})");
    if let Some(n) = one(store, &q, to).await? {
        cells.push(Cell {
            key: "controller",
            title: "Active controllers",
            value: count_text(n),
            level: if n == 1.0 { Level::Ok } else { Level::Critical },
            detail: "must be exactly 1: 0 means no controller, 2 a split brain".into(),
            query: q,
        });
    } else {
        let q = format!("max(kafka_controller_id{{{c}}})");
        if let Some(id) = one(store, &q, to).await? {
            cells.push(Cell {
                key: "controller",
                title: "Controller",
                value: if id >= 0.0 {
                    format!("broker {id:.0}")
                } else {
                    "none".into()
                },
                level: if id >= 0.0 {
                    Level::Ok
                } else {
                    Level::Critical
                },
                detail: "the controller the cluster's metadata names".into(),
                query: q,
            });
        }
    }

    // Partition counts that must be zero.
    let zero_cells: [(&str, &str, String, String, Level, &str); 3] = [
        (
            "offline",
            "Offline partitions",
            format!("sum(kafka_controller_kafkacontroller_offlinepartitionscount{{{jmx}}})"),
            format!(
                "count(kafka_topic_partition_leader{{{c}}} < 0) or (0 * max(kafka_topic_partition_leader{{{c}}}))"
            ),
            Level::Critical,
            "partitions without a leader: unavailable to producers and consumers",
        ),
        (
            "urp",
            "Under-replicated",
            format!("sum(kafka_server_replicamanager_underreplicatedpartitions{{{jmx}}})"),
            format!("sum(kafka_topic_partition_under_replicated_partition{{{c}}})"),
            Level::Warning,
            "partitions with fewer in-sync replicas than replicas",
        ),
        (
            "underminisr",
            "Under min ISR",
            format!("sum(kafka_server_replicamanager_underminisrpartitioncount{{{jmx}}})"),
            String::new(),
            Level::Critical,
            "partitions below min.insync.replicas: acks=all producers fail",
        ),
    ];
    for (key, title, from_jmx, from_meta, bad, what) in zero_cells {
        let mut found = None;
        for q in [from_jmx, from_meta] {
            if q.is_empty() {
                continue;
            }
            if let Some(v) = one(store, &q, to).await? {
                found = Some((v, q));
                break;
            }
        }
        if let Some((v, q)) = found {
            cells.push(Cell {
                key,
                title,
                value: count_text(v),
                level: if v > 0.0 { bad } else { Level::Ok },
                detail: what.into(),
                query: q,
            });
        }
    }

    // Unclean elections within the range: any is data loss.
    let unclean = "kafka_controller_controllerstats_uncleanleaderelections_total";
    if has(store, cluster, unclean) {
        let secs = ((to - from) / 1000).max(60);
        let q = format!("sum(increase({unclean}{{{jmx}}}[{secs}s]))");
        let n = one(store, &q, to).await?.unwrap_or(0.0).round();
        cells.push(Cell {
            key: "unclean",
            title: "Unclean elections",
            value: count_text(n),
            level: if n > 0.0 { Level::Critical } else { Level::Ok },
            detail: "in this range: an out-of-sync replica became leader (data loss)".into(),
            query: q,
        });
    }

    // ZooKeeper: one leader among the servers that answer, none down.
    if has(store, cluster, "zk_server_state") {
        let members = format!(
            "count(zk_server_state{{{c},state=~\"leader|follower|standalone|observer\"}} == 1)"
        );
        let leaders = format!("count(zk_server_state{{{c},state=~\"leader|standalone\"}} == 1)");
        let down = format!("count(up{{{c},source=\"zookeeper\"}} == 0)");
        let m = one(store, &members, to).await?.unwrap_or(0.0);
        let l = one(store, &leaders, to).await?.unwrap_or(0.0);
        let d = one(store, &down, to).await?.unwrap_or(0.0);
        let level = if l != 1.0 {
            Level::Critical
        } else if d > 0.0 {
            Level::Warning
        } else {
            Level::Ok
        };
        cells.push(Cell {
            key: "zookeeper",
            title: "ZooKeeper quorum",
            value: if l == 1.0 {
                format!(
                    "leader + {} other{}",
                    count_text(m - 1.0),
                    if m == 2.0 { "" } else { "s" }
                ) + &if d > 0.0 {
                    format!(", {} down", count_text(d))
                } else {
                    String::new()
                }
            } else if l == 0.0 {
                "no leader".into()
            } else {
                format!("{} leaders", count_text(l))
            },
            level,
            detail:
                "servers serving as leader, follower or observer; a quorum has exactly one leader"
                    .into(),
            query: members,
        });
    }

    // KRaft: exactly one leader among the controllers' raft states.
    let raft = "kafka_server_raft_metrics_current_state_info";
    if has(store, cluster, raft) {
        let q = format!("count({raft}{{{c},state=\"leader\"}} == 1)");
        let l = one(store, &q, to).await?.unwrap_or(0.0);
        cells.push(Cell {
            key: "kraft",
            title: "KRaft quorum",
            value: match l {
                1.0 => "1 leader".into(),
                0.0 => "no leader".into(),
                n => format!("{} leaders", count_text(n)),
            },
            level: if l == 1.0 { Level::Ok } else { Level::Critical },
            detail: "controllers whose raft state is leader".into(),
            query: q,
        });
    }
    Ok(Strip { cells })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(level: Level) -> Cell {
        Cell {
            key: "k",
            title: "t",
            value: String::new(),
            level,
            detail: String::new(),
            query: String::new(),
        }
    }

    #[test]
    fn the_worst_cell_decides_and_groups_add_their_cell() {
        let s = Strip {
            cells: vec![cell(Level::Ok), cell(Level::Warning)],
        };
        assert_eq!(s.worst(), Some(Level::Warning));
        let s = s.with([groups_cell(
            GroupCounts {
                ok: 3,
                warn: 0,
                err: 1,
            },
            "5m",
        )]);
        assert_eq!(s.worst(), Some(Level::Critical));
        assert_eq!(s.cells[2].value, "3 OK · 0 WARN · 1 ERR");
        assert_eq!(Strip::default().worst(), None);
    }
}
