//! kafkascope: collects Kafka and ZooKeeper metrics into SQLite time series and serves dashboards.
//!
//! Data flows one way: config → collector → sources → store → analysis → web.

pub mod agent;
pub mod analysis;
pub mod bench;
pub mod catalogue;
pub mod collector;
pub mod config;
pub mod duration;
pub mod lag;
pub mod model;
pub mod query;
pub mod sources;
pub mod store;
pub mod targets;
pub mod web;

/// Proptest settings for unit tests under `src/`: failing cases are kept next to their source file
/// (`<file>.proptest-regressions`) instead of in a top-level directory.
#[cfg(test)]
pub(crate) fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..proptest::test_runner::Config::default()
    }
}
