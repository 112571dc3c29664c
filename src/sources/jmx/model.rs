//! What a JMX scrape reads from a target, before any rule names it, and what the rules make of it.
//! The bridge (JVM side) fills [`Bean`]s; the rules (jmx_exporter's semantics) turn them into
//! [`RuleSample`]s; the source turns those into readings. Small plain types so each part can be
//! tested without the others.

/// One MBean with the attributes read from it in one call.
#[derive(Clone, Debug, PartialEq)]
pub struct Bean {
    /// The ObjectName as the server returns it, e.g.
    /// `kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions`.
    pub name: String,
    /// The part before the colon: `kafka.server`.
    pub domain: String,
    /// Key properties in the order of the ObjectName's key property list string, values as given
    /// (quoted values keep their quotes). jmx_exporter keeps this order: its default naming uses
    /// the first property's value and turns the others into labels.
    pub properties: Vec<(String, String)>,
    pub attributes: Vec<Attribute>,
}

/// One attribute of a bean and what reading it gave.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub value: Value,
}

/// An attribute value as JMX returned it, kept in a shape the rules can walk.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Any `java.lang.Number` (NaN and infinities included, as the target reported them).
    Number(f64),
    Boolean(bool),
    /// A `String` (or an enum, `ObjectName`, … rendered with `toString`), e.g. raft `current-state`.
    Text(String),
    /// `CompositeData`: its items in the composite type's key order (`HeapMemoryUsage.used`).
    Composite(Vec<(String, Value)>),
    /// `TabularData`: one row per entry; `index` holds the row's index columns as text.
    Tabular(Vec<TabularRow>),
    /// Present but of a type no rule can use (an array, a custom object); the Java type name.
    Unsupported(String),
    /// Reading this one attribute failed (the getter threw, the bean vanished mid-read): the
    /// error text. The rest of the bean and of the scrape is unaffected.
    Error(String),
}

/// One row of a `TabularData` attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct TabularRow {
    pub index: Vec<(String, String)>,
    pub values: Vec<(String, Value)>,
}

/// What jmx_exporter calls the metric type of a rule's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SampleType {
    Gauge,
    Counter,
    #[default]
    Untyped,
}

/// One sample a rule produced: a Prometheus series name, its labels (rule labels, then default
/// labels, in jmx_exporter's order) and the value after `valueFactor`.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub kind: SampleType,
    pub help: String,
}

/// What the MBean explorer shows about one bean: JConsole's MBeans tab.
#[derive(Clone, Debug, PartialEq)]
pub struct BeanInfo {
    pub name: String,
    pub class_name: String,
    pub description: String,
    pub attributes: Vec<AttributeInfo>,
    pub operations: Vec<OperationInfo>,
}

/// An attribute as `MBeanInfo` declares it, with its current value.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeInfo {
    pub name: String,
    /// The declared Java type (`double`, `javax.management.openmbean.CompositeData`, …).
    pub type_name: String,
    pub description: String,
    pub readable: bool,
    pub writable: bool,
    pub value: Value,
}

/// An operation as `MBeanInfo` declares it (listed, never invoked).
#[derive(Clone, Debug, PartialEq)]
pub struct OperationInfo {
    pub name: String,
    pub return_type: String,
    /// `(name, type)` of each parameter.
    pub parameters: Vec<(String, String)>,
    pub description: String,
    /// `INFO`, `ACTION`, `ACTION_INFO` or `UNKNOWN`.
    pub impact: String,
}
