//! The JMX source: brokers, KRaft controllers, ZooKeeper and Kafka clients over remote JMX, named
//! by rules in jmx_exporter's own format.

pub mod model;
pub mod presets;
pub mod rules;
