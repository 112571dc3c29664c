//! kafkascope: collects Kafka and ZooKeeper metrics into SQLite time series and serves dashboards.
//!
//! Data flows one way: config → collector → sources → store → analysis → web.

pub mod collector;
pub mod config;
pub mod model;
pub mod query;
pub mod sources;
pub mod store;
pub mod targets;
pub mod web;
