//! Documents: the latest text snapshot per (cluster, subject, name), e.g. a ZooKeeper server's
//! `conf` output. Not part of the time-series engine.

use sqlx::Row;

use crate::model::Timestamp;

use super::counters::Hold;
use super::{Store, StoreError, sql};

/// Appended to a multi-row INSERT: an older snapshot than the stored one is ignored.
const UPSERT_TAIL: &str = " ON CONFLICT (cluster, subject, name) DO UPDATE SET ts = excluded.ts, \
     body = excluded.body WHERE excluded.ts >= documents.ts";

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
        self.put_documents(cluster, ts, &[(subject, name, body)])
            .await
    }

    /// Many snapshots of one cluster at one time (a poll's documents) in one transaction: one
    /// commit and a few multi-row statements instead of a statement and a commit per document
    /// (2,001 documents of a 2,000-group poll: 270 → 8 ms).
    pub async fn put_documents(
        &self,
        cluster: &str,
        ts: Timestamp,
        docs: &[(&str, &str, &str)],
    ) -> Result<(), StoreError> {
        if docs.is_empty() {
            return Ok(());
        }
        let mut conn = self.inner.writer(Hold::Documents).await?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(sql("writing documents"))?;
        // Multi-row statements: one statement per document cost ~135 µs each here. A name
        // twice in one batch would make the upsert touch a row twice: keep the last.
        let mut last: std::collections::HashMap<(&str, &str), &str> =
            std::collections::HashMap::with_capacity(docs.len());
        for (subject, name, body) in docs {
            last.insert((*subject, *name), *body);
        }
        let rows: Vec<_> = last.into_iter().collect();
        for part in rows.chunks(500) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO documents (cluster, subject, name, ts, body) ",
            );
            qb.push_values(part, |mut b, ((subject, name), body)| {
                b.push_bind(cluster.to_string())
                    .push_bind(subject.to_string())
                    .push_bind(name.to_string())
                    .push_bind(ts)
                    .push_bind(body.to_string());
            });
            qb.push(UPSERT_TAIL);
            qb.build()
                .execute(&mut *tx)
                .await
                .map_err(sql("writing documents"))?;
        }
        tx.commit().await.map_err(sql("writing documents"))?;
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
