//! The narrow read interface: exactly what the query evaluator and the pages ask of the store.
//!
//! [`Store`] implements [`SeriesReader`]; a Prometheus-compatible remote store (VictoriaMetrics,
//! Thanos, Mimir through their `/api/v1/*` and remote-read APIs) can implement it too, so that
//! users who outgrow one SQLite file keep the same pages and PromQL on top. Every method is
//! async, even where the local store answers from memory, because a remote one cannot.
//!
//! Conventions (as the local store implements them):
//! - timestamps are Unix milliseconds; ranges are inclusive of both ends;
//! - series come from [`select`](SeriesReader::select) as [`SeriesInfo`] (id, key, kind); ids are
//!   only meaningful to the reader that handed them out;
//! - a duplicate (series, timestamp) written twice reads back once, with the last value written;
//! - an unknown id yields no [`SeriesRange`] from the range queries, `None` from
//!   `latest`/`value_at` and an empty vector from `raw_samples`.

use std::future::Future;

use crate::model::{Matcher, Timestamp};

use super::{EventQuery, SeriesId, SeriesInfo, SeriesRange, Store, StoreError, StoredEvent, Tier};

/// What every reader's error must tell the query layer.
pub trait ReadError: std::error::Error + Send + Sync + 'static {
    /// `Some(limit)` when the read was refused because it would load more than `limit` samples
    /// (Prometheus answers such a query with HTTP 422 and `errorType` "execution").
    fn sample_limit(&self) -> Option<usize>;
}

impl ReadError for StoreError {
    fn sample_limit(&self) -> Option<usize> {
        match self {
            StoreError::TooManySamples { limit } => Some(*limit),
            _ => None,
        }
    }
}

/// The read side of a time-series store.
pub trait SeriesReader: Send + Sync {
    type Error: ReadError;

    /// Series whose metric equals `metric` (if given) and that satisfy all matchers; sorted by
    /// key.
    fn select(
        &self,
        metric: Option<&str>,
        matchers: &[Matcher],
    ) -> impl Future<Output = Result<Vec<SeriesInfo>, Self::Error>> + Send;

    fn series_info(
        &self,
        id: SeriesId,
    ) -> impl Future<Output = Result<Option<SeriesInfo>, Self::Error>> + Send;

    /// Sorted, including `__name__`.
    fn label_names(&self) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

    /// Sorted; `__name__` gives metric names.
    fn label_values(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

    /// Chart query: the reader picks the resolution so that each series gets at most
    /// `max_points` aggregated buckets.
    fn query_range(
        &self,
        ids: &[SeriesId],
        start: Timestamp,
        end: Timestamp,
        max_points: usize,
    ) -> impl Future<Output = Result<Vec<SeriesRange>, Self::Error>> + Send;

    /// Buckets aligned to multiples of `step_ms`, from `tier` or (None) the finest that fits.
    fn query_range_step(
        &self,
        ids: &[SeriesId],
        start: Timestamp,
        end: Timestamp,
        step_ms: i64,
        tier: Option<Tier>,
    ) -> impl Future<Output = Result<Vec<SeriesRange>, Self::Error>> + Send;

    /// Raw samples with `start <= ts <= end`, ascending, one vector per requested id (in the
    /// order given). Fails with an error whose [`ReadError::sample_limit`] is
    /// `Some(max_samples)` once more than `max_samples` samples, counted across all series, would
    /// be returned.
    fn raw_samples(
        &self,
        ids: &[SeriesId],
        start: Timestamp,
        end: Timestamp,
        max_samples: usize,
    ) -> impl Future<Output = Result<Vec<Vec<(Timestamp, f64)>>, Self::Error>> + Send;

    /// Newest sample of each series.
    fn latest(
        &self,
        ids: &[SeriesId],
    ) -> impl Future<Output = Result<Vec<Option<(Timestamp, f64)>>, Self::Error>> + Send;

    /// Newest sample at or before `at`, within `lookback_ms`, of each series.
    fn value_at(
        &self,
        ids: &[SeriesId],
        at: Timestamp,
        lookback_ms: i64,
    ) -> impl Future<Output = Result<Vec<Option<(Timestamp, f64)>>, Self::Error>> + Send;

    /// Events, newest first.
    fn events(
        &self,
        q: &EventQuery,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, Self::Error>> + Send;

    /// Latest text snapshots of a subject: (name, ts, body), sorted by name.
    fn documents(
        &self,
        cluster: &str,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<(String, Timestamp, String)>, Self::Error>> + Send;
}

impl SeriesReader for Store {
    type Error = StoreError;

    async fn select(
        &self,
        metric: Option<&str>,
        matchers: &[Matcher],
    ) -> Result<Vec<SeriesInfo>, StoreError> {
        Ok(Store::select(self, metric, matchers))
    }

    async fn series_info(&self, id: SeriesId) -> Result<Option<SeriesInfo>, StoreError> {
        Ok(Store::series_info(self, id))
    }

    async fn label_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(Store::label_names(self))
    }

    async fn label_values(&self, name: &str) -> Result<Vec<String>, StoreError> {
        Ok(Store::label_values(self, name))
    }

    async fn query_range(
        &self,
        ids: &[SeriesId],
        start: Timestamp,
        end: Timestamp,
        max_points: usize,
    ) -> Result<Vec<SeriesRange>, StoreError> {
        Store::query_range(self, ids, start, end, max_points).await
    }

    async fn query_range_step(
        &self,
        ids: &[SeriesId],
        start: Timestamp,
        end: Timestamp,
        step_ms: i64,
        tier: Option<Tier>,
    ) -> Result<Vec<SeriesRange>, StoreError> {
        Store::query_range_step(self, ids, start, end, step_ms, tier).await
    }

    async fn raw_samples(
        &self,
        ids: &[SeriesId],
        start: Timestamp,
        end: Timestamp,
        max_samples: usize,
    ) -> Result<Vec<Vec<(Timestamp, f64)>>, StoreError> {
        Store::raw_samples(self, ids, start, end, max_samples).await
    }

    async fn latest(&self, ids: &[SeriesId]) -> Result<Vec<Option<(Timestamp, f64)>>, StoreError> {
        Ok(Store::latest(self, ids))
    }

    async fn value_at(
        &self,
        ids: &[SeriesId],
        at: Timestamp,
        lookback_ms: i64,
    ) -> Result<Vec<Option<(Timestamp, f64)>>, StoreError> {
        Store::value_at(self, ids, at, lookback_ms).await
    }

    async fn events(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        Store::events(self, q).await
    }

    async fn documents(
        &self,
        cluster: &str,
        subject: &str,
    ) -> Result<Vec<(String, Timestamp, String)>, StoreError> {
        Store::documents(self, cluster, subject).await
    }
}
