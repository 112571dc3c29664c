//! Helpers shared by the integration tests (`mod support;` in a test file).

#![allow(dead_code)]

pub mod browser;
pub mod jvm;
pub mod kafka;
pub mod server;
pub mod tls;
pub mod zookeeper;
