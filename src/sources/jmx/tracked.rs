//! Attributes an operator chose in the MBean explorer to be collected from then on ("track").
//! The web layer keeps the list in the store (a document per target under [`SUBJECT`]) and puts
//! it here at start-up and on every change; the source reads it at each scrape. Tracked values
//! are named by jmx_exporter's default format (`domain_firstkeyvalue_attribute` with the other
//! keys as labels), so they read like any other series.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// The documents' subject; the document name is the target's address.
pub const SUBJECT: &str = "__jmx_tracked__";
/// Most attributes one target may track: each is read every scrape.
pub const MAX_PER_TARGET: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    pub bean: String,
    pub attribute: String,
    pub added_ms: i64,
}

/// Tracked lists by (cluster, address).
type Registry = RwLock<HashMap<(String, String), Vec<Tracked>>>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Replaces the tracked list of one target.
pub fn set(cluster: &str, address: &str, list: Vec<Tracked>) {
    if let Ok(mut r) = registry().write() {
        if list.is_empty() {
            r.remove(&(cluster.to_string(), address.to_string()));
        } else {
            r.insert((cluster.to_string(), address.to_string()), list);
        }
    }
}

/// The tracked list of one target (empty when none).
pub fn get(cluster: &str, address: &str) -> Vec<Tracked> {
    registry()
        .read()
        .ok()
        .and_then(|r| r.get(&(cluster.to_string(), address.to_string())).cloned())
        .unwrap_or_default()
}

/// The stored form of a list.
pub fn to_json(list: &[Tracked]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// A stored list; a damaged document reads as empty rather than stopping the server.
pub fn from_json(body: &str) -> Vec<Tracked> {
    serde_json::from_str(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_per_target_and_survive_a_round_trip() {
        let t = Tracked {
            bean: "kafka.server:type=X,name=Y".into(),
            attribute: "Value".into(),
            added_ms: 5,
        };
        set("c", "h:1", vec![t.clone()]);
        assert_eq!(get("c", "h:1"), vec![t.clone()]);
        assert!(get("c", "h:2").is_empty());
        assert_eq!(from_json(&to_json(std::slice::from_ref(&t))), vec![t]);
        assert!(from_json("not json").is_empty());
        set("c", "h:1", vec![]);
        assert!(get("c", "h:1").is_empty());
    }
}
