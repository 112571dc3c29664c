//! Documents: the latest text snapshot per (cluster, subject, name), e.g. a ZooKeeper server's
//! `conf` output. Not part of the time-series engine.

use sqlx::Row;

use crate::model::Timestamp;

use super::counters::Hold;
use super::{Store, StoreError, sql};

impl Store {
    /// Latest text snapshot per (cluster, subject, name), e.g. a ZooKeeper server's `conf`. An
    /// older snapshot than the stored one is ignored.
    pub async fn put_document(
        &self,
        cluster: &str,
        subject: &str,
        name: &str,
        ts: Timestamp,
        body: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.inner.writer(Hold::Documents).await?;
        sqlx::query(
            "INSERT INTO documents (cluster, subject, name, ts, body) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (cluster, subject, name) DO UPDATE SET ts = excluded.ts, body = excluded.body \
             WHERE excluded.ts >= documents.ts",
        )
        .bind(cluster.to_string())
        .bind(subject.to_string())
        .bind(name.to_string())
        .bind(ts)
        .bind(body.to_string())
        .execute(&mut *conn)
        .await
        .map_err(sql("writing a document"))?;
        Ok(())
    }

    /// (name, ts, body), sorted by name.
    pub async fn documents(
        &self,
        cluster: &str,
        subject: &str,
    ) -> Result<Vec<(String, Timestamp, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, ts, body FROM documents WHERE cluster = ? AND subject = ? ORDER BY name",
        )
        .bind(cluster.to_string())
        .bind(subject.to_string())
        .fetch_all(self.inner.readers())
        .await
        .map_err(sql("reading documents"))?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}
