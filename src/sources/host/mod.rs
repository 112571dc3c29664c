//! The host source: page-cache counters (cachestat) and the page-cache residency of Kafka's log segments.
pub mod cachestat;
pub mod residency;
