//! Pure parsers for everything a ZooKeeper server says: the four-letter words (`mntr`, `srvr`,
//! `stat`, `cons`, `wchs`, `conf`, `envi`, `isro`, `ruok`) of 3.2 to 3.9 and the AdminServer JSON
//! (3.5+). No I/O here: the clients hand the raw reply in and get typed values or a [`ParseError`]
//! that names the command and quotes a short, escaped excerpt of what the server sent.
//!
//! Parsers are faithful: they keep every value as the server printed it (decimals as `f64`, `NaN`
//! as `f64::NAN`, labels of tagged lines in order). Deciding what becomes a series is the job of
//! `metrics.rs`.

use serde_json::{Map, Value};

/// How many characters of an unexpected reply an error quotes.
const EXCERPT_CHARS: usize = 80;

/// Why a reply could not be used. The text is shown to operators as is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// ZooKeeper 3.5+ answers a command outside `4lw.commands.whitelist` with a sentence, not data.
    #[error("{command}: not allowed by the server's 4lw.commands.whitelist (it answered {reply})")]
    NotWhitelisted { command: String, reply: String },
    /// A server that is electing a leader or has lost its quorum answers every data command so.
    #[error(
        "{command}: the server is not currently serving requests (it answered {reply}); it is electing a leader or has lost its quorum"
    )]
    NotServing { command: String, reply: String },
    #[error("{command}: empty reply")]
    Empty { command: String },
    /// AdminServer answered with a non-null `error` field.
    #[error("{command}: the server answered with an error: {message}")]
    Server { command: String, message: String },
    #[error("{command}: unexpected reply ({reason}): {excerpt}")]
    Unexpected {
        command: String,
        reason: String,
        excerpt: String,
    },
}

impl ParseError {
    /// The command the error is about.
    pub fn command(&self) -> &str {
        match self {
            ParseError::NotWhitelisted { command, .. }
            | ParseError::NotServing { command, .. }
            | ParseError::Empty { command }
            | ParseError::Server { command, .. }
            | ParseError::Unexpected { command, .. } => command,
        }
    }

    fn unexpected(command: &str, reason: impl Into<String>, text: &str) -> Self {
        ParseError::Unexpected {
            command: command.to_string(),
            reason: reason.into(),
            excerpt: excerpt(text),
        }
    }
}

/// A short, escaped, quoted excerpt of a reply for error texts (control bytes and non-ASCII junk
/// are shown as escapes so the targets page never renders raw binary).
pub fn excerpt(text: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = text.chars();
    for c in chars.by_ref().take(EXCERPT_CHARS) {
        if c == char::REPLACEMENT_CHARACTER {
            // The mark of bytes that were not UTF-8: say so rather than print a lookalike.
            out.push_str("\\u{fffd}");
        } else {
            out.extend(c.escape_debug());
        }
    }
    out.push('"');
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Checks what every four-letter-word reply can be instead of data: nothing, the whitelist
/// sentence, the not-serving sentence, an HTTP server, or binary junk.
pub fn check_reply(command: &str, text: &str) -> Result<(), ParseError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ParseError::Empty {
            command: command.to_string(),
        });
    }
    // "<cmd> is not executed because it is not in the whitelist." (3.5.3+).
    if trimmed.contains("is not executed because it is not in the") {
        return Err(ParseError::NotWhitelisted {
            command: command.to_string(),
            reply: excerpt(trimmed),
        });
    }
    if trimmed.starts_with("This ZooKeeper instance is not currently serving requests") {
        return Err(ParseError::NotServing {
            command: command.to_string(),
            reply: excerpt(trimmed),
        });
    }
    if trimmed.starts_with("HTTP/") {
        return Err(ParseError::unexpected(
            command,
            "an HTTP server answered on the four-letter-word port",
            trimmed,
        ));
    }
    if text.chars().any(|c| {
        c == char::REPLACEMENT_CHARACTER || (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    }) {
        return Err(ParseError::unexpected(
            command,
            "binary data, not ZooKeeper text",
            trimmed,
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// mntr (and AdminServer monitor)
// ---------------------------------------------------------------------------------------------

/// One numeric `mntr` line: `zk_avg_latency 1.1818` or, 3.6+ with the Prometheus metrics
/// provider, `zk_readlatency{quantile="0.5"} NaN`.
#[derive(Clone, Debug, PartialEq)]
pub struct MntrMetric {
    /// The key as printed, without labels (`zk_avg_latency`).
    pub key: String,
    /// Labels of a tagged line, in the order printed.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// A parsed `mntr` reply (or AdminServer `monitor`, with keys given the `zk_` prefix).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mntr {
    pub metrics: Vec<MntrMetric>,
    /// Non-numeric values (`zk_version`, `zk_server_state`, `zk_peer_state`), in order.
    pub texts: Vec<(String, String)>,
}

impl Mntr {
    pub fn text(&self, key: &str) -> Option<&str> {
        self.texts
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of an unlabelled metric.
    pub fn value(&self, key: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.key == key && m.labels.is_empty())
            .map(|m| m.value)
    }

    /// `zk_server_state`, lower-cased (leader, follower, observer, standalone, read-only).
    pub fn server_state(&self) -> Option<String> {
        self.text("zk_server_state")
            .map(|s| s.trim().to_ascii_lowercase())
    }

    pub fn version(&self) -> Option<&str> {
        self.text("zk_version")
    }
}

/// Parses `mntr` output of any version: tab- or space-separated, decimals, `NaN`, scientific
/// notation (`1.7297301E7`), tagged lines with one or more labels, values with spaces
/// (`zk_version`, `zk_peer_state`). Every non-empty line must be a `zk_` metric; anything else
/// (a truncated last line, junk) is an error, never a partial result that would chart as zeros.
pub fn parse_mntr(text: &str) -> Result<Mntr, ParseError> {
    const CMD: &str = "mntr";
    check_reply(CMD, text)?;
    let mut out = Mntr::default();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if !line.starts_with("zk_") {
            return Err(ParseError::unexpected(
                CMD,
                format!("line {} is not a zk_ metric", n + 1),
                line,
            ));
        }
        let (key, labels, rest) = split_key(line).map_err(|reason| {
            ParseError::unexpected(CMD, format!("line {}: {reason}", n + 1), line)
        })?;
        let value = rest.trim();
        if value.is_empty() {
            return Err(ParseError::unexpected(
                CMD,
                format!("line {} has no value (truncated reply?)", n + 1),
                line,
            ));
        }
        match parse_number(value) {
            Some(v) => out.metrics.push(MntrMetric {
                key: key.to_string(),
                labels,
                value: v,
            }),
            None if labels.is_empty() => out.texts.push((key.to_string(), value.to_string())),
            None => {
                return Err(ParseError::unexpected(
                    CMD,
                    format!("line {}: a tagged line with a non-numeric value", n + 1),
                    line,
                ));
            }
        }
    }
    if out.metrics.is_empty() {
        return Err(ParseError::unexpected(
            CMD,
            "no metrics in the reply",
            text.trim(),
        ));
    }
    Ok(out)
}

/// Numbers as Java prints them: integers, decimals, `1.0E7`, `NaN`, `Infinity`.
fn parse_number(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        // Rust also accepts "inf" and "nan" spellings Java never prints; require a digit so a text
        // value such as "info" stays text.
        _ if s.bytes().any(|b| b.is_ascii_digit()) => s.parse::<f64>().ok(),
        _ => None,
    }
}

/// Labels of a tagged line, in the order printed.
type Labels = Vec<(String, String)>;
type KeyParts<'a> = (&'a str, Labels, &'a str);

/// Splits `key{a="b",c="d"}<ws>rest` (labels optional). The key ends at the first whitespace or
/// `{`; label values may contain spaces, commas and escaped quotes.
fn split_key(line: &str) -> Result<KeyParts<'_>, String> {
    let end = line
        .find(|c: char| c.is_whitespace() || c == '{')
        .ok_or_else(|| "no value (truncated reply?)".to_string())?;
    let key = &line[..end];
    let rest = &line[end..];
    if let Some(body) = rest.strip_prefix('{') {
        let (labels, after) = parse_labels(body)?;
        if !after.starts_with(|c: char| c.is_whitespace()) {
            return Err("no whitespace between labels and value".to_string());
        }
        Ok((key, labels, after))
    } else {
        Ok((key, Vec::new(), rest))
    }
}

/// Parses `a="b",c="d"}` (the text after `{`) and returns the labels and the text after `}`.
fn parse_labels(body: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let mut rest = body;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without '='")?;
        let name = rest[..eq].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad label name {name:?}"));
        }
        let quoted = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut end = None;
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => return Err("dangling escape in a label value".to_string()),
                },
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or("unterminated label value")?;
        labels.push((name.to_string(), value));
        rest = quoted[end..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Renders metrics back to `mntr` text (tab-separated, one per line), the inverse of
/// [`parse_mntr`] for finite values. Used by tests and by anyone who wants to show a raw view.
pub fn render_mntr(mntr: &Mntr) -> String {
    let mut out = String::new();
    for (k, v) in &mntr.texts {
        out.push_str(&format!("{k}\t{v}\n"));
    }
    for m in &mntr.metrics {
        out.push_str(&m.key);
        if !m.labels.is_empty() {
            out.push('{');
            for (i, (k, v)) in m.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(k);
                out.push_str("=\"");
                crate::model::escape_label_value(v, &mut out);
                out.push('"');
            }
            out.push('}');
        }
        out.push('\t');
        out.push_str(&format_java_number(m.value));
        out.push('\n');
    }
    out
}

fn format_java_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        format!("{v:?}")
    }
}

/// Turns an AdminServer `/commands/monitor` body into the same [`Mntr`] shape as the 4lw reply:
/// numbers become `zk_<key>` metrics, strings `zk_<key>` texts; `command` and `error` are dropped.
pub fn monitor_from_admin(body: &Map<String, Value>) -> Result<Mntr, ParseError> {
    let mut out = Mntr::default();
    for (k, v) in body {
        if k == "command" || k == "error" {
            continue;
        }
        let key = format!("zk_{k}");
        match v {
            Value::Number(n) => {
                if let Some(f) = n.as_f64() {
                    out.metrics.push(MntrMetric {
                        key,
                        labels: Vec::new(),
                        value: f,
                    });
                }
            }
            Value::Bool(b) => out.metrics.push(MntrMetric {
                key,
                labels: Vec::new(),
                value: f64::from(u8::from(*b)),
            }),
            Value::String(s) => match parse_number(s) {
                // Some providers report numbers as strings ("NaN" in particular).
                Some(f) => out.metrics.push(MntrMetric {
                    key,
                    labels: Vec::new(),
                    value: f,
                }),
                None => out.texts.push((key, s.clone())),
            },
            Value::Null | Value::Array(_) | Value::Object(_) => {}
        }
    }
    if out.metrics.is_empty() {
        return Err(ParseError::Unexpected {
            command: "monitor".to_string(),
            reason: "no numeric values in the reply".to_string(),
            excerpt: excerpt(&Value::Object(body.clone()).to_string()),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// srvr / stat
// ---------------------------------------------------------------------------------------------

/// A parsed `srvr` or `stat` reply (3.2 to 3.9).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerStat {
    /// `3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC`, as printed.
    pub version: String,
    pub latency_min: Option<f64>,
    pub latency_avg: Option<f64>,
    pub latency_max: Option<f64>,
    pub received: Option<f64>,
    pub sent: Option<f64>,
    /// Absent before 3.4.4.
    pub connections: Option<f64>,
    pub outstanding: Option<f64>,
    pub zxid: Option<u64>,
    /// Lower-cased: leader, follower, observer, standalone, read-only.
    pub mode: Option<String>,
    pub node_count: Option<f64>,
    /// `Proposal sizes last/min/max` (leaders, 3.4.6+).
    pub proposal_sizes: Option<[f64; 3]>,
    /// The client lines of `stat` (empty for `srvr`).
    pub clients: Vec<String>,
}

impl ServerStat {
    /// The zxid split into (epoch, counter): the high and low 32 bits, both exact in `f64`.
    pub fn zxid_parts(&self) -> Option<(u32, u32)> {
        self.zxid.map(split_zxid)
    }
}

/// Splits a zxid into its epoch (high 32 bits) and counter (low 32 bits).
pub fn split_zxid(zxid: u64) -> (u32, u32) {
    ((zxid >> 32) as u32, (zxid & 0xffff_ffff) as u32)
}

/// Parses `srvr` or `stat` (`command` names which, for errors). Tolerates the 3.2 indented
/// `Clients:` header, the missing `Connections:` line before 3.4.4, negative minimum latency,
/// decimal average latency (3.5+) and unknown trailing lines.
pub fn parse_srvr(command: &str, text: &str) -> Result<ServerStat, ParseError> {
    check_reply(command, text)?;
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let first = lines.next().unwrap_or_default().trim();
    let version = first
        .strip_prefix("Zookeeper version:")
        .or_else(|| first.strip_prefix("ZooKeeper version:"))
        .ok_or_else(|| {
            ParseError::unexpected(command, "no 'Zookeeper version:' first line", text.trim())
        })?
        .trim()
        .to_string();
    let mut out = ServerStat {
        version,
        ..ServerStat::default()
    };
    // `stat` lists clients after a `Clients:` header (indented in 3.2) up to a blank line.
    let mut in_clients = false;
    for line in lines {
        let t = line.trim();
        if t.is_empty() {
            in_clients = false;
            continue;
        }
        if t == "Clients:" {
            in_clients = true;
            continue;
        }
        if in_clients {
            out.clients.push(t.to_string());
            continue;
        }
        let Some((key, value)) = t.split_once(':') else {
            return Err(ParseError::unexpected(
                command,
                "a line without 'key: value'",
                t,
            ));
        };
        let value = value.trim();
        let num = |v: &str| -> Result<f64, ParseError> {
            v.parse::<f64>()
                .map_err(|_| ParseError::unexpected(command, format!("{key} is not a number"), t))
        };
        match key.trim() {
            "Latency min/avg/max" => {
                let [a, b, c] = three(value).map_err(|r| ParseError::unexpected(command, r, t))?;
                out.latency_min = Some(num(a)?);
                out.latency_avg = Some(num(b)?);
                out.latency_max = Some(num(c)?);
            }
            "Received" => out.received = Some(num(value)?),
            "Sent" => out.sent = Some(num(value)?),
            "Connections" => out.connections = Some(num(value)?),
            "Outstanding" => out.outstanding = Some(num(value)?),
            "Node count" => out.node_count = Some(num(value)?),
            "Mode" => out.mode = Some(value.to_ascii_lowercase()),
            "Zxid" => {
                let hex = value
                    .strip_prefix("0x")
                    .or_else(|| value.strip_prefix("0X"))
                    .unwrap_or(value);
                out.zxid =
                    Some(u64::from_str_radix(hex, 16).map_err(|_| {
                        ParseError::unexpected(command, "Zxid is not hexadecimal", t)
                    })?);
            }
            "Proposal sizes last/min/max" => {
                let [a, b, c] = three(value).map_err(|r| ParseError::unexpected(command, r, t))?;
                out.proposal_sizes = Some([num(a)?, num(b)?, num(c)?]);
            }
            // Newer servers may add lines; they are not ours to reject.
            _ => {}
        }
    }
    if out.mode.is_none() && out.zxid.is_none() {
        return Err(ParseError::unexpected(
            command,
            "no Mode or Zxid line (truncated reply?)",
            text.trim(),
        ));
    }
    Ok(out)
}

fn three(value: &str) -> Result<[&str; 3], String> {
    let parts: Vec<&str> = value.split('/').map(str::trim).collect();
    match parts.as_slice() {
        [a, b, c] => Ok([a, b, c]),
        _ => Err("expected three values separated by '/'".to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// cons (and AdminServer connections)
// ---------------------------------------------------------------------------------------------

/// One client connection, from `cons` or AdminServer `connections`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Connection {
    /// `127.0.0.1:51248` (the leading `/` of `cons` removed).
    pub remote: String,
    /// Requests queued on this connection (`queued` / `outstanding_requests`).
    pub queued: Option<f64>,
    pub received: Option<f64>,
    pub sent: Option<f64>,
    /// `sid` / `session_id` as printed (hex in `cons`, decimal in JSON).
    pub session_id: Option<String>,
    pub last_operation: Option<String>,
    pub min_latency: Option<f64>,
    pub avg_latency: Option<f64>,
    pub max_latency: Option<f64>,
}

/// Parses `cons`: one ` /addr:port[interest](k=v,...)` line per connection.
pub fn parse_cons(text: &str) -> Result<Vec<Connection>, ParseError> {
    const CMD: &str = "cons";
    check_reply(CMD, text)?;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        out.push(parse_cons_line(line).ok_or_else(|| {
            ParseError::unexpected(
                CMD,
                "a line that is not '/address[ops](key=value,...)'",
                line,
            )
        })?);
    }
    Ok(out)
}

fn parse_cons_line(line: &str) -> Option<Connection> {
    let open = line.find('(')?;
    let fields = line[open + 1..].strip_suffix(')')?;
    let head = &line[..open];
    let bracket = head.rfind('[')?;
    head[bracket..].strip_suffix(']')?;
    let remote = head[..bracket].trim_start_matches('/').to_string();
    if remote.is_empty() {
        return None;
    }
    let mut c = Connection {
        remote,
        ..Connection::default()
    };
    for field in fields.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = field.split_once('=')?;
        let num = v.parse::<f64>().ok();
        match k {
            "queued" => c.queued = num,
            "recved" => c.received = num,
            "sent" => c.sent = num,
            "sid" => c.session_id = Some(v.to_string()),
            "lop" => c.last_operation = Some(v.to_string()),
            "minlat" => c.min_latency = num,
            "avglat" => c.avg_latency = num,
            "maxlat" => c.max_latency = num,
            _ => {}
        }
    }
    Some(c)
}

/// Turns AdminServer `connections` (and `secure_connections`) into [`Connection`]s.
pub fn connections_from_admin(body: &Map<String, Value>) -> Result<Vec<Connection>, ParseError> {
    let mut out = Vec::new();
    let mut seen_list = false;
    for list in ["connections", "secure_connections"] {
        let Some(items) = body.get(list) else {
            continue;
        };
        let items = items
            .as_array()
            .ok_or_else(|| admin_shape("connections", list, body))?;
        seen_list = true;
        for item in items {
            let o = item
                .as_object()
                .ok_or_else(|| admin_shape("connections", list, body))?;
            let num = |k: &str| o.get(k).and_then(Value::as_f64);
            out.push(Connection {
                remote: o
                    .get("remote_socket_address")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                queued: num("outstanding_requests"),
                received: num("packets_received"),
                sent: num("packets_sent"),
                session_id: o.get("session_id").map(|v| v.to_string()),
                last_operation: o
                    .get("last_operation")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                min_latency: num("min_latency"),
                avg_latency: num("avg_latency"),
                max_latency: num("max_latency"),
            });
        }
    }
    if !seen_list {
        return Err(admin_shape("connections", "connections", body));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// wchs (and AdminServer watch_summary)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WatchSummary {
    pub connections: f64,
    pub paths: f64,
    pub watches: f64,
}

/// Parses `wchs`: `1 connections watching 2 paths` / `Total watches:2`.
pub fn parse_wchs(text: &str) -> Result<WatchSummary, ParseError> {
    const CMD: &str = "wchs";
    check_reply(CMD, text)?;
    let bad = || {
        ParseError::unexpected(
            CMD,
            "expected 'N connections watching N paths' and 'Total watches:N'",
            text.trim(),
        )
    };
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first: Vec<&str> = lines.next().ok_or_else(bad)?.split_whitespace().collect();
    let (connections, paths) = match first.as_slice() {
        [c, "connections", "watching", p, "paths"] => {
            (c.parse().map_err(|_| bad())?, p.parse().map_err(|_| bad())?)
        }
        _ => return Err(bad()),
    };
    let watches = lines
        .next()
        .and_then(|l| l.strip_prefix("Total watches:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(bad)?;
    Ok(WatchSummary {
        connections,
        paths,
        watches,
    })
}

/// Turns AdminServer `watch_summary` into a [`WatchSummary`].
pub fn watch_summary_from_admin(body: &Map<String, Value>) -> Result<WatchSummary, ParseError> {
    let get = |k: &str| body.get(k).and_then(Value::as_f64);
    match (
        get("num_connections"),
        get("num_paths"),
        get("num_total_watches"),
    ) {
        (Some(connections), Some(paths), Some(watches)) => Ok(WatchSummary {
            connections,
            paths,
            watches,
        }),
        _ => Err(admin_shape(
            "watch_summary",
            "num_connections/num_paths/num_total_watches",
            body,
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// conf, envi (and AdminServer configuration, environment)
// ---------------------------------------------------------------------------------------------

/// Ordered `key=value` pairs of `conf` or `envi`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyValues(pub Vec<(String, String)>);

impl KeyValues {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// One `key=value` per line, the form documents are stored in.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.0 {
            out.push_str(k);
            out.push('=');
            out.push_str(v);
            out.push('\n');
        }
        out
    }
}

/// Parses `conf` (3.4: `key=value` lines; 3.5+: also a `membership:` header before the
/// `server.N=...` lines) or `envi` (an `Environment:` header, then `key=value` lines).
pub fn parse_key_values(command: &str, text: &str) -> Result<KeyValues, ParseError> {
    check_reply(command, text)?;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some((k, v)) = line.split_once('=') {
            let k = k.trim();
            if k.is_empty() || k.contains(char::is_whitespace) {
                return Err(ParseError::unexpected(
                    command,
                    "a line that is not 'key=value'",
                    line,
                ));
            }
            out.push((k.to_string(), v.to_string()));
        } else if line.ends_with(':') && !line.contains(' ') {
            // Section headers: "Environment:", "membership:".
        } else {
            return Err(ParseError::unexpected(
                command,
                "a line that is not 'key=value'",
                line,
            ));
        }
    }
    if out.is_empty() {
        return Err(ParseError::unexpected(
            command,
            "no key=value lines",
            text.trim(),
        ));
    }
    Ok(KeyValues(out))
}

/// AdminServer `configuration` or `environment` as key/value pairs (scalars only, nested values
/// as JSON), `command` and `error` dropped.
pub fn key_values_from_admin(body: &Map<String, Value>) -> KeyValues {
    KeyValues(
        body.iter()
            .filter(|(k, _)| k.as_str() != "command" && k.as_str() != "error")
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// ruok, isro
// ---------------------------------------------------------------------------------------------

/// `ruok`: `Ok(true)` for `imok`, `Ok(false)` for any other text the server sent; the whitelist
/// sentence and an empty reply are errors (an unknown answer is not "not ok").
pub fn parse_ruok(text: &str) -> Result<bool, ParseError> {
    check_reply("ruok", text)?;
    Ok(text.trim() == "imok")
}

/// `isro`: `rw` → false, `ro` → true.
pub fn parse_isro(text: &str) -> Result<bool, ParseError> {
    check_reply("isro", text)?;
    match text.trim() {
        "rw" => Ok(false),
        "ro" => Ok(true),
        other => Err(ParseError::unexpected(
            "isro",
            "expected 'rw' or 'ro'",
            other,
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// AdminServer envelope and the small commands
// ---------------------------------------------------------------------------------------------

/// Parses an AdminServer reply body: a JSON object whose `error` is null. A non-JSON body, a
/// non-object or a non-null `error` is an error naming the command.
pub fn parse_admin(command: &str, body: &[u8]) -> Result<Map<String, Value>, ParseError> {
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        return Err(ParseError::Empty {
            command: command.to_string(),
        });
    }
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| ParseError::unexpected(command, format!("not JSON: {e}"), text.trim()))?;
    let Value::Object(map) = value else {
        return Err(ParseError::unexpected(
            command,
            "not a JSON object",
            text.trim(),
        ));
    };
    match map.get("error") {
        None | Some(Value::Null) => Ok(map),
        Some(Value::String(message)) => Err(ParseError::Server {
            command: command.to_string(),
            message: message.clone(),
        }),
        Some(other) => Err(ParseError::Server {
            command: command.to_string(),
            message: other.to_string(),
        }),
    }
}

fn admin_shape(command: &str, field: &str, body: &Map<String, Value>) -> ParseError {
    ParseError::Unexpected {
        command: command.to_string(),
        reason: format!("missing or malformed {field}"),
        excerpt: excerpt(&Value::Object(body.clone()).to_string()),
    }
}

/// AdminServer `leader` (3.7+ ensembles).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderInfo {
    pub is_leader: bool,
    pub leader_id: Option<i64>,
    pub leader_ip: Option<String>,
}

pub fn leader_from_admin(body: &Map<String, Value>) -> Result<LeaderInfo, ParseError> {
    let is_leader = body
        .get("is_leader")
        .and_then(Value::as_bool)
        .ok_or_else(|| admin_shape("leader", "is_leader", body))?;
    Ok(LeaderInfo {
        is_leader,
        leader_id: body.get("leader_id").and_then(Value::as_i64),
        leader_ip: body
            .get("leader_ip")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// One member of AdminServer `voting_view`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VotingMember {
    pub sid: u64,
    pub server_addresses: Vec<String>,
    /// Empty when the member's client address is not known to this server.
    pub client_address: String,
    /// `participant` or `observer`.
    pub learner_type: String,
}

pub fn voting_view_from_admin(body: &Map<String, Value>) -> Result<Vec<VotingMember>, ParseError> {
    let config = body
        .get("current_config")
        .and_then(Value::as_object)
        .ok_or_else(|| admin_shape("voting_view", "current_config", body))?;
    let mut out = Vec::new();
    for (sid, member) in config {
        let (Ok(sid), Some(m)) = (sid.parse::<u64>(), member.as_object()) else {
            return Err(admin_shape("voting_view", "current_config", body));
        };
        let strings = |k: &str| -> Vec<String> {
            m.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        out.push(VotingMember {
            sid,
            server_addresses: strings("server_addresses"),
            client_address: m
                .get("client_address")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            learner_type: m
                .get("learner_type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        });
    }
    out.sort_by_key(|m| m.sid);
    Ok(out)
}

/// The client port from AdminServer `configuration`.
pub fn client_port_from_admin(body: &Map<String, Value>) -> Result<u16, ParseError> {
    body.get("client_port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| admin_shape("configuration", "client_port", body))
}

/// The last processed zxid from AdminServer `stats` (or `server_stats`).
pub fn zxid_from_admin_stats(body: &Map<String, Value>) -> Result<u64, ParseError> {
    body.get("server_stats")
        .and_then(Value::as_object)
        .and_then(|s| s.get("last_processed_zxid"))
        .and_then(Value::as_u64)
        .ok_or_else(|| admin_shape("stats", "server_stats.last_processed_zxid", body))
}

/// AdminServer `is_read_only`.
pub fn read_only_from_admin(body: &Map<String, Value>) -> Result<bool, ParseError> {
    body.get("read_only")
        .and_then(Value::as_bool)
        .ok_or_else(|| admin_shape("is_read_only", "read_only", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitelist_reply_is_a_typed_error() {
        let e =
            parse_mntr("mntr is not executed because it is not in the whitelist.\n").unwrap_err();
        assert!(
            matches!(e, ParseError::NotWhitelisted { ref command, .. } if command == "mntr"),
            "{e}"
        );
        assert!(e.to_string().contains("4lw.commands.whitelist"), "{e}");
    }

    #[test]
    fn not_serving_reply_is_a_typed_error() {
        let e = parse_srvr(
            "srvr",
            "This ZooKeeper instance is not currently serving requests\n",
        )
        .unwrap_err();
        assert!(matches!(e, ParseError::NotServing { .. }), "{e}");
    }

    #[test]
    fn tagged_lines_keep_every_label_and_escapes() {
        let m = parse_mntr(
            "zk_jvm_memory_pool_bytes_used{pool=\"CodeHeap 'non-nmethods'\"}\t1234.0\n\
             zk_write_per_namespace{key=\"a,b\",quantile=\"0.5\"} 3.0\n\
             zk_x{k=\"say \\\"hi\\\"\",} 1\n",
        )
        .unwrap();
        assert_eq!(
            m.metrics[0].labels,
            vec![("pool".into(), "CodeHeap 'non-nmethods'".into())]
        );
        assert_eq!(
            m.metrics[1].labels,
            vec![
                ("key".into(), "a,b".into()),
                ("quantile".into(), "0.5".into())
            ]
        );
        assert_eq!(m.metrics[2].labels, vec![("k".into(), "say \"hi\"".into())]);
    }

    #[test]
    fn java_number_spellings_parse() {
        let m = parse_mntr("zk_a\t1.7297301E7\nzk_b\tNaN\nzk_c\t-1\nzk_d\tInfinity\n").unwrap();
        assert_eq!(m.value("zk_a"), Some(17_297_301.0));
        assert!(m.value("zk_b").is_some_and(f64::is_nan));
        assert_eq!(m.value("zk_c"), Some(-1.0));
        assert_eq!(m.value("zk_d"), Some(f64::INFINITY));
    }

    #[test]
    fn truncated_mntr_is_an_error_not_a_partial_result() {
        let e = parse_mntr("zk_version\t3.8.0\nzk_avg_latency\t0\nzk_max_lat").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
    }

    #[test]
    fn http_on_the_4lw_port_is_named() {
        let e = parse_mntr("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").unwrap_err();
        assert!(e.to_string().contains("HTTP server"), "{e}");
    }

    #[test]
    fn binary_junk_is_escaped_in_the_error() {
        let junk = String::from_utf8_lossy(&[0x00, 0xff, 0x13, b'z', b'k']).into_owned();
        let e = parse_mntr(&junk).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("binary data"), "{text}");
        assert!(text.contains("\\0") && text.contains("\\u{fffd}"), "{text}");
    }

    #[test]
    fn excerpt_is_bounded() {
        let long = "x".repeat(500);
        let e = excerpt(&long);
        assert!(e.chars().count() < 90, "{e}");
        assert!(e.ends_with('…'));
    }

    #[test]
    fn zxid_splits_into_epoch_and_counter() {
        assert_eq!(split_zxid(0x1_0000_0007), (1, 7));
        assert_eq!(split_zxid(0x1034799c7), (1, 0x034799c7));
        assert_eq!(split_zxid(u64::MAX), (u32::MAX, u32::MAX));
    }

    #[test]
    fn admin_error_field_is_a_server_error() {
        let e = parse_admin(
            "leader",
            br#"{"error":"server is not initialized","command":"leader"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            ParseError::Server {
                command: "leader".into(),
                message: "server is not initialized".into()
            }
        );
        let e = parse_admin("monitor", b"<html>oops</html>").unwrap_err();
        assert!(e.to_string().contains("not JSON"), "{e}");
    }
}
