//! Benchmarks behind `kafkascope bench-*` and `cargo bench`: they drive the engine through its
//! public (or crate-visible) API only.

pub mod store;
