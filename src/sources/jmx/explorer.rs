//! JConsole's MBeans tab as a service for the web layer: domains, the beans of a domain, and one
//! bean's attributes (live values, composites expanded), types, descriptions and operations.
//! Requests and answers are plain types; the web page never sees a JMX connection. The explorer
//! keeps its own connection per target (its own thread), so browsing never waits behind or
//! delays a scrape. Values that look like credentials (JVM arguments and system properties such
//! as `-Djavax.net.ssl.keyStorePassword=…`) are masked before they leave this module.

use super::bridge::{self, TargetClient};
use super::config::{Password, TargetSettings};
use super::model::{BeanInfo, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// What to show.
#[derive(Clone, Debug, PartialEq)]
pub enum Browse {
    /// Every domain with its number of beans.
    Domains,
    /// The beans of one domain, sorted.
    Beans(String),
    /// One bean, in full.
    Bean(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Domains(Vec<(String, usize)>),
    Beans(Vec<String>),
    Bean(BeanInfo),
}

/// Connections unused for this long are closed.
const IDLE: Duration = Duration::from_secs(600);

/// A target's explorer connection, the password it was made with, and when it was last used.
type Held = (Arc<TargetClient>, Option<String>, Instant);

#[derive(Default)]
pub struct Explorer {
    clients: Mutex<HashMap<String, Held>>,
}

/// The process's explorer.
pub fn explorer() -> &'static Explorer {
    static E: OnceLock<Explorer> = OnceLock::new();
    E.get_or_init(Explorer::default)
}

impl Explorer {
    async fn client(&self, cluster: &str, t: &TargetSettings) -> Result<Arc<TargetClient>, String> {
        let password = match &t.password {
            None => None,
            Some(Password::Inline(s)) => Some(s.expose().to_string()),
            Some(Password::File(p)) => Some(
                tokio::fs::read_to_string(p)
                    .await
                    .map_err(|e| format!("cannot read password_file {}: {e}", p.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            ),
        };
        let key = format!("{cluster}\u{0}{}", t.address);
        let mut clients = self.clients.lock().map_err(|_| "explorer state poisoned")?;
        clients.retain(|_, (_, _, used)| used.elapsed() < IDLE);
        if let Some((c, pw, used)) = clients.get_mut(&key)
            && *pw == password
        {
            *used = Instant::now();
            return Ok(c.clone());
        }
        let c = Arc::new(TargetClient::new(
            bridge::Endpoint {
                url: t.url.clone(),
                username: t.username.clone(),
                password: password.clone(),
                ssl: t.ssl,
            },
            &format!("explore {}", t.address),
        ));
        clients.insert(key, (c.clone(), password, Instant::now()));
        Ok(c)
    }

    /// Answers one request about target `t` of `cluster` within `budget`.
    pub async fn browse(
        &self,
        cluster: &str,
        t: &TargetSettings,
        what: &Browse,
        budget: Duration,
    ) -> Result<Answer, String> {
        tokio::task::spawn_blocking(bridge::jvm_status)
            .await
            .map_err(|e| format!("starting the JVM: {e}"))??;
        let client = self.client(cluster, t).await?;
        let text = |e: bridge::BridgeError| format!("{}: {e}", t.address);
        match what {
            Browse::Domains => {
                let names = client.query_names("*:*", budget).await.map_err(text)?;
                let mut count: BTreeMap<String, usize> = BTreeMap::new();
                for n in names {
                    let d = n.split_once(':').map(|(d, _)| d).unwrap_or(&n).to_string();
                    *count.entry(d).or_default() += 1;
                }
                Ok(Answer::Domains(count.into_iter().collect()))
            }
            Browse::Beans(domain) => {
                check_domain(domain)?;
                let mut names = client
                    .query_names(&format!("{domain}:*"), budget)
                    .await
                    .map_err(text)?;
                names.sort();
                Ok(Answer::Beans(names))
            }
            Browse::Bean(name) => {
                let mut info = client.bean_info(name, budget).await.map_err(text)?;
                for a in &mut info.attributes {
                    mask(&a.name, &mut a.value);
                }
                Ok(Answer::Bean(info))
            }
        }
    }
}

/// A domain as typed in a URL must not be a pattern (`*`, `?`) or hold the separator.
fn check_domain(d: &str) -> Result<(), String> {
    if d.is_empty() || d.contains([':', '*', '?', ',', '=']) {
        return Err(format!("{d:?} is not a domain name"));
    }
    Ok(())
}

fn secret_word(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "apikey",
        "api_key",
    ]
    .iter()
    .any(|w| l.contains(w))
}

/// Masks what looks like a credential: a value under a secret-sounding name, and `key=value`
/// pairs with such a key inside text (JVM arguments, command lines).
pub fn mask(name: &str, v: &mut Value) {
    match v {
        Value::Text(t) if secret_word(name) => *t = "***".into(),
        Value::Text(t) => *t = mask_pairs(t),
        Value::Number(_) | Value::Boolean(_) if secret_word(name) => *v = Value::Text("***".into()),
        Value::Composite(items) => {
            for (k, x) in items {
                mask(k, x);
            }
        }
        Value::Tabular(rows) => {
            for r in rows {
                // System properties are rows of (key, value): the key names the secret.
                let secret_row = r.index.iter().any(|(_, k)| secret_word(k));
                for (k, x) in &mut r.values {
                    if secret_row {
                        *x = Value::Text("***".into());
                    } else {
                        mask(k, x);
                    }
                }
            }
        }
        _ => {}
    }
}

fn mask_pairs(text: &str) -> String {
    if !secret_word(text) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match word.split_once('=') {
            Some((k, _)) if secret_word(k) => {
                out.push_str(k);
                out.push_str("=***");
            }
            _ => out.push_str(word),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::jmx::model::TabularRow;

    #[test]
    fn credentials_in_arguments_and_properties_are_masked() {
        let mut v = Value::Text(
            "-Xmx1g -Djavax.net.ssl.keyStorePassword=hunter2 -Dcom.sun.management.jmxremote.port=9999"
                .into(),
        );
        mask("InputArguments", &mut v);
        assert_eq!(
            v,
            Value::Text(
                "-Xmx1g -Djavax.net.ssl.keyStorePassword=*** -Dcom.sun.management.jmxremote.port=9999"
                    .into()
            )
        );
        let mut props = Value::Tabular(vec![
            TabularRow {
                index: vec![("key".into(), "sasl.jaas.password".into())],
                values: vec![("value".into(), Value::Text("hunter2".into()))],
            },
            TabularRow {
                index: vec![("key".into(), "java.version".into())],
                values: vec![("value".into(), Value::Text("17".into()))],
            },
        ]);
        mask("SystemProperties", &mut props);
        let Value::Tabular(rows) = props else {
            unreachable!()
        };
        assert_eq!(rows[0].values[0].1, Value::Text("***".into()));
        assert_eq!(rows[1].values[0].1, Value::Text("17".into()));
        let mut plain = Value::Text("nothing to hide".into());
        mask("Name", &mut plain);
        assert_eq!(plain, Value::Text("nothing to hide".into()));
        let mut named = Value::Text("hunter2".into());
        mask("TrustStorePassword", &mut named);
        assert_eq!(named, Value::Text("***".into()));
    }

    #[test]
    fn patterns_are_not_domains() {
        assert!(check_domain("kafka.server").is_ok());
        for d in ["", "*", "kafka.*", "a:b", "k?"] {
            assert!(check_domain(d).is_err(), "{d}");
        }
    }
}
