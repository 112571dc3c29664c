//! The JMX source: brokers, KRaft controllers, ZooKeeper and Kafka clients over remote JMX, named
//! by rules in jmx_exporter's own format.

pub mod bridge;
pub mod model;
