//! The web layer: pages, charts and the Prometheus-shaped JSON API.

pub mod chart;
pub mod format;
pub mod timerange;
