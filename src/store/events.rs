//! Events: first-class rows in the main database (broker up/down, leader changes, rebalances,
//! annotations), written after the samples of the same append, read newest first. Not part of the
//! time-series engine: no head, chunks, tiers or retention (they are small).

use std::time::Instant;

use sqlx::Row;

use crate::model::{Event, Severity, Timestamp};

use super::counters::Hold;
use super::engine::Inner;
use super::{Store, StoreError, sql};

#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    pub start: Timestamp,
    pub end: Timestamp,
    pub cluster: Option<String>,
    pub subject: Option<String>,
    pub kinds: Vec<String>,
    pub limit: usize,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StoredEvent {
    pub id: i64,
    #[serde(flatten)]
    pub event: Event,
}

/// Writes events in one transaction on the main writer.
pub(crate) async fn write(inner: &Inner, events: &[Event]) -> Result<(), StoreError> {
    let waited = Instant::now();
    let mut conn = inner.writer(Hold::Events).await?;
    inner.counters().event_wait(waited.elapsed());
    let mut tx = sqlx::Connection::begin(&mut *conn)
        .await
        .map_err(sql("writing events"))?;
    for part in events.chunks(4000) {
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO events (ts, kind, severity, cluster, subject, message) ",
        );
        qb.push_values(part, |mut b, e| {
            b.push_bind(e.ts)
                .push_bind(e.kind.clone())
                .push_bind(e.severity.as_str())
                .push_bind(e.cluster.clone())
                .push_bind(e.subject.clone())
                .push_bind(e.message.clone());
        });
        qb.build()
            .execute(&mut *tx)
            .await
            .map_err(sql("writing events"))?;
    }
    tx.commit().await.map_err(sql("committing events"))?;
    Ok(())
}

impl Store {
    /// Newest first.
    pub async fn events(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT id, ts, kind, severity, cluster, subject, message FROM events WHERE ts >= ",
        );
        qb.push_bind(q.start).push(" AND ts <= ").push_bind(q.end);
        if let Some(c) = &q.cluster {
            qb.push(" AND cluster = ").push_bind(c.clone());
        }
        if let Some(s) = &q.subject {
            qb.push(" AND subject = ").push_bind(s.clone());
        }
        if !q.kinds.is_empty() {
            qb.push(" AND kind IN (");
            let mut sep = qb.separated(", ");
            for k in &q.kinds {
                sep.push_bind(k.clone());
            }
            qb.push(")");
        }
        let limit = if q.limit == 0 {
            i64::MAX
        } else {
            q.limit as i64
        };
        qb.push(" ORDER BY ts DESC, id DESC LIMIT ")
            .push_bind(limit);
        let rows = qb
            .build()
            .persistent(false)
            .fetch_all(self.inner.readers())
            .await
            .map_err(sql("reading events"))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let severity: String = r.get(3);
                StoredEvent {
                    id: r.get(0),
                    event: Event {
                        ts: r.get(1),
                        kind: r.get(2),
                        severity: Severity::parse(&severity).unwrap_or_default(),
                        cluster: r.get(4),
                        subject: r.get(5),
                        message: r.get(6),
                    },
                }
            })
            .collect())
    }
}
