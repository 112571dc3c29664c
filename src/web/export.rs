//! CSV and JSON export of any chart or table of any page: `<page URL>&format=csv&chart=<id>` (or
//! `format=json`, or `table=<id>`). One implementation for every page: a middleware takes the
//! three parameters off the URL, runs the page's own handler on the rest inside a request-scoped
//! slot naming what is wanted, and answers with what the page offered into that slot instead of
//! its HTML. Charts offer their data from [`crate::web::chart::ChartSpec::render`] (so a chart's
//! export holds exactly the buckets it draws), tables through [`offer_table`]. Without a wanted
//! slot (every ordinary page view) offering costs one task-local lookup and builds nothing.

use super::chart::SeriesData;
use super::error::WebError;
use super::format::{ValueFormat, rfc3339, urlencode};
use super::timerange::Compare;
use crate::model::Timestamp;
use axum::extract::Request;
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, Mutex};

/// Which kind of thing an export asks for, by the URL parameter that names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Chart,
    Table,
}

impl Kind {
    fn param(self) -> &'static str {
        match self {
            Kind::Chart => "chart",
            Kind::Table => "table",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    fn parse(text: &str) -> Option<Format> {
        match text {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// A chart's data as drawn: its lines, and its ghost lines with the original (earlier) times.
#[derive(Clone, Debug)]
pub struct ChartData {
    pub id: String,
    pub title: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub format: ValueFormat,
    pub series: Vec<SeriesData>,
    /// Ghost lines (`compare=`), with the shift they are drawn at.
    pub ghosts: Vec<SeriesData>,
    pub compare: Option<Compare>,
}

/// One cell of an exported table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Num(f64),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        if v.is_finite() {
            Cell::Num(v)
        } else {
            Cell::Empty
        }
    }
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Cell {
        v.map_or(Cell::Empty, Cell::from)
    }
}

/// A page's table as data: named columns (with their unit in the name where there is one) and
/// one row of cells per table row, in the page's order.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub id: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(id: &'static str, columns: Vec<&'static str>) -> Table {
        Table {
            id,
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row; cells past the columns are dropped, missing ones are empty.
    pub fn row(&mut self, cells: Vec<Cell>) {
        let mut cells = cells;
        cells.resize(self.columns.len(), Cell::Empty);
        self.rows.push(cells);
    }
}

enum Found {
    Chart(Box<ChartData>),
    Table(Table),
}

struct Wanted {
    kind: Kind,
    id: String,
    found: Option<Found>,
}

tokio::task_local! {
    static WANTED: Arc<Mutex<Wanted>>;
}

/// Whether the current request exports the chart or table `id` (and it was not found yet).
fn wants(kind: Kind, id: &str) -> bool {
    WANTED
        .try_with(|w| {
            w.lock()
                .is_ok_and(|w| w.kind == kind && w.id == id && w.found.is_none())
        })
        .unwrap_or(false)
}

fn put(found: Found) {
    let _ = WANTED.try_with(|w| {
        if let Ok(mut w) = w.lock() {
            w.found = Some(found);
        }
    });
}

/// Offers a chart's data to an export of it; `data` runs only when this chart is wanted.
pub fn offer_chart(id: &str, data: impl FnOnce() -> ChartData) {
    if wants(Kind::Chart, id) {
        put(Found::Chart(Box::new(data())));
    }
}

/// Offers a page's table to an export of it; `table` runs only when this table is wanted.
pub fn offer_table(id: &str, table: impl FnOnce() -> Table) {
    if wants(Kind::Table, id) {
        put(Found::Table(table()));
    }
}

/// A chart's id on its page: a slug of its title and a hash of the title and the link without
/// its range parameters, so the page at absolute times (the export link) gives the chart the
/// same id as the page at `range=6h`.
pub fn chart_id(title: &str, link: &str) -> String {
    let (path, query) = link.split_once('?').unwrap_or((link, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| {
            let name = kv.split('=').next().unwrap_or("");
            !matches!(name, "range" | "from" | "to" | "refresh" | "compare") && !kv.is_empty()
        })
        .collect();
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let mut h: u32 = 0x811c_9dc5;
    for b in title
        .bytes()
        .chain([0])
        .chain(path.bytes())
        .chain([0])
        .chain(kept.join("&").bytes())
    {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let mut slug: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    slug = slug
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    slug.truncate(12);
    format!("{}-{h:08x}", slug.trim_end_matches('-'))
}

/// The URL's query pairs, decoded.
fn pairs(query: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let (Some(a), Some(b)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
            {
                out.push((a * 16 + b) as u8);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The middleware (see the module documentation). A request without `chart=` or `table=` passes
/// through untouched (the `/metric` page's own `format=csv` of all its series, say).
pub async fn intercept(mut req: Request, next: Next) -> Response {
    let query = req.uri().query().unwrap_or("").to_string();
    let all = pairs(&query);
    let get = |name: &str| all.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let target = match (get("chart"), get("table")) {
        (None, None) => return next.run(req).await,
        (Some(_), Some(_)) => {
            return WebError::BadRequest("table: give either chart= or table=, not both".into())
                .into_response();
        }
        (Some(id), None) => (Kind::Chart, id.to_string()),
        (None, Some(id)) => (Kind::Table, id.to_string()),
    };
    let format = match get("format").map(Format::parse) {
        Some(Some(f)) => f,
        Some(None) | None => {
            return WebError::BadRequest(format!(
                "format: {:?} is not one of csv, json (the export of a {} needs one)",
                get("format").unwrap_or(""),
                target.0.param()
            ))
            .into_response();
        }
    };
    // The page's own URL: everything but the export's parameters, in their original encoding.
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| {
            let name = kv.split('=').next().unwrap_or("");
            !matches!(name, "format" | "chart" | "table") && !kv.is_empty()
        })
        .collect();
    let path = req.uri().path().to_string();
    let uri = if rest.is_empty() {
        path.clone()
    } else {
        format!("{path}?{}", rest.join("&"))
    };
    match uri.parse::<Uri>() {
        Ok(u) => *req.uri_mut() = u,
        Err(e) => {
            return WebError::BadRequest(format!("the URL cannot be read: {e}")).into_response();
        }
    }
    let slot = Arc::new(Mutex::new(Wanted {
        kind: target.0,
        id: target.1.clone(),
        found: None,
    }));
    let page = WANTED.scope(slot.clone(), next.run(req)).await;
    if !page.status().is_success() {
        return page;
    }
    let found = slot.lock().ok().and_then(|mut w| w.found.take());
    let (body, name) = match found {
        None => {
            return WebError::NotFound(format!(
                "{}: the page {path} has no {} with the id {:?} (ids are in the page's export links)",
                target.0.param(),
                target.0.param(),
                target.1
            ))
            .into_response();
        }
        Some(Found::Chart(c)) => (
            match format {
                Format::Csv => chart_csv(&c),
                Format::Json => chart_json(&c).to_string(),
            },
            c.id.clone(),
        ),
        Some(Found::Table(t)) => (
            match format {
                Format::Csv => table_csv(&t),
                Format::Json => table_json(&t).to_string(),
            },
            t.id.to_string(),
        ),
    };
    let (ctype, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/json", "json"),
    };
    let disposition = format!(
        "attachment; filename=\"kafkascope-{}.{ext}\"",
        urlencode(&name)
    );
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// What a series' numbers are: a counter's `rate per second` (its stored total is not in the
/// file) or a `value`.
fn values_kind(f: ValueFormat) -> &'static str {
    if f.per_second {
        "rate per second"
    } else {
        "value"
    }
}

/// The header of [`series_csv`].
pub const SERIES_CSV_HEADER: &str = "series,time,timestamp_ms,avg,min,max,last,values,unit,tier\n";

/// One row per series and bucket, after [`SERIES_CSV_HEADER`]: the bucket's start, its average,
/// minimum, maximum and last value, what the values are and their unit (`bytes`, …, per second
/// for rates), and the tier that answered.
pub fn series_csv(out: &mut String, s: &SeriesData, f: ValueFormat) {
    use std::fmt::Write as _;
    let name = csv_field(&s.label);
    let (values, unit) = (values_kind(f), f.unit.as_str());
    for p in &s.points {
        let _ = writeln!(
            out,
            "{name},{},{},{},{},{},{},{values},{unit},{}",
            rfc3339(p.ts),
            p.ts,
            p.avg,
            p.min,
            p.max,
            p.last,
            s.tier
        );
    }
}

/// A chart as CSV: its lines, then its ghost lines named `<label> (1w earlier)` at their own
/// (earlier) times.
pub fn chart_csv(c: &ChartData) -> String {
    let mut out = String::from(SERIES_CSV_HEADER);
    for s in &c.series {
        series_csv(&mut out, s, c.format);
    }
    for g in &c.ghosts {
        series_csv(&mut out, g, c.format);
    }
    out
}

fn nums(v: impl Iterator<Item = f64>) -> serde_json::Value {
    serde_json::Value::Array(
        v.map(|x| {
            serde_json::Number::from_f64(x)
                .map_or(serde_json::Value::Null, serde_json::Value::Number)
        })
        .collect(),
    )
}

fn series_json(s: &SeriesData, shift_ms: i64) -> serde_json::Value {
    serde_json::json!({
        "label": s.label,
        "tier": s.tier,
        "step_ms": s.step_ms,
        "shift_ms": shift_ms,
        "timestamps": s.points.iter().map(|p| p.ts).collect::<Vec<_>>(),
        "avg": nums(s.points.iter().map(|p| p.avg)),
        "min": nums(s.points.iter().map(|p| p.min)),
        "max": nums(s.points.iter().map(|p| p.max)),
        "last": nums(s.points.iter().map(|p| p.last)),
    })
}

/// A chart as JSON: title, unit, range, then each line with its bucket starts (unix ms) and
/// values; ghost lines at their own (earlier) times with the shift they are drawn at.
pub fn chart_json(c: &ChartData) -> serde_json::Value {
    let shift = c.compare.as_ref().map_or(0, |k| k.ms);
    serde_json::json!({
        "chart": c.id,
        "title": c.title,
        "unit": c.format.unit.as_str(),
        "values": values_kind(c.format),
        "from": c.from,
        "to": c.to,
        "compare": c.compare.as_ref().map(|k| k.text.clone()),
        "series": c.series.iter().map(|s| series_json(s, 0)).collect::<Vec<_>>(),
        "ghosts": c.ghosts.iter().map(|s| series_json(s, shift)).collect::<Vec<_>>(),
    })
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Num(v) => v.to_string(),
        Cell::Empty => String::new(),
    }
}

pub fn table_csv(t: &Table) -> String {
    let mut out = t
        .columns
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in &t.rows {
        out.push_str(
            &r.iter()
                .map(|c| csv_field(&cell_text(c)))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

/// A table as JSON: its columns and one object per row keyed by them (numbers as numbers, empty
/// cells as null).
pub fn table_json(t: &Table) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = t
        .rows
        .iter()
        .map(|r| {
            let mut m = serde_json::Map::new();
            for (name, c) in t.columns.iter().zip(r) {
                let v = match c {
                    Cell::Text(s) => serde_json::Value::String(s.clone()),
                    Cell::Num(x) => serde_json::Number::from_f64(*x)
                        .map_or(serde_json::Value::Null, serde_json::Value::Number),
                    Cell::Empty => serde_json::Value::Null,
                };
                m.insert((*name).to_string(), v);
            }
            serde_json::Value::Object(m)
        })
        .collect();
    serde_json::json!({ "table": t.id, "columns": t.columns, "rows": rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_ids_ignore_the_range_but_not_the_query() {
        let a = chart_id("Bytes in", "/metric?query=x&range=6h");
        let b = chart_id(
            "Bytes in",
            "/metric?query=x&from=2024-01-01T00%3A00%3A00Z&to=2024-01-02T00%3A00%3A00Z&compare=1w",
        );
        assert_eq!(a, b);
        assert!(a.starts_with("bytes-in-"), "{a}");
        assert_ne!(a, chart_id("Bytes in", "/metric?query=y&range=6h"));
        assert_ne!(a, chart_id("Bytes out", "/metric?query=x&range=6h"));
    }

    #[test]
    fn query_pairs_are_decoded() {
        assert_eq!(
            pairs("a=1&chart=x%2Dy&b=c+d&&e"),
            vec![
                ("a".into(), "1".into()),
                ("chart".into(), "x-y".into()),
                ("b".into(), "c d".into()),
                ("e".into(), String::new())
            ]
        );
        assert_eq!(pairs("x=%zz%4"), vec![("x".into(), "%zz%4".into())]);
    }

    #[test]
    fn tables_are_written_with_quoted_fields_and_typed_json() {
        let mut t = Table::new("groups", vec!["group", "lag"]);
        t.row(vec!["a,\"b\"".into(), 12.5.into()]);
        t.row(vec!["c".into()]);
        assert_eq!(table_csv(&t), "group,lag\n\"a,\"\"b\"\"\",12.5\nc,\n");
        let j = table_json(&t);
        assert_eq!(j["rows"][0]["lag"], 12.5);
        assert!(j["rows"][1]["lag"].is_null());
    }

    proptest::proptest! {
        #[test]
        fn reading_any_query_never_panics(q in ".{0,64}") {
            let _ = pairs(&q);
            let _ = chart_id(&q, &q);
        }
    }
}
