//! The JSON API in the shape of Prometheus' HTTP API (`/api/v1/query`, `query_range`,
//! `format_query`, `series`, `labels`, `label/<name>/values`, `metadata`, `query_exemplars`,
//! `status/buildinfo`), so scripts and Grafana (as a Prometheus data source) can read the store;
//! plus events and operator annotations. Unknown `/api/v1/…` paths answer a JSON 404.
//!
//! Parameters come from the query string or, for POST, an `application/x-www-form-urlencoded`
//! body, as in Prometheus. Times are unix seconds (float) or RFC 3339; `step` is seconds or a
//! duration (`15s`). Errors answer `{"status":"error","errorType":"bad_data","error":"…"}`.
//! `start`/`end` of `series`, `labels` and `label/…/values` are accepted and ignored: the series
//! registry does not record when a series was last seen.

use super::Ctx;
use super::error::{ApiError, WebError};
use crate::duration::parse_i64_ms as parse_duration;
use crate::model::{Event, Severity, Timestamp, now_ms};
use crate::query::functions::format_go_float;
use crate::query::{self, Limits, QueryError, QueryResult, Value, eval_instant, eval_range};
use crate::store::{EventQuery, SeriesInfo};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::{Form, Json};
use serde_json::{Map, Value as J, json};
use std::collections::{BTreeMap, BTreeSet};

/// Prometheus' limit on points per series in a range query.
pub const MAX_POINTS: i64 = 11_000;

type ApiResult = Result<Json<J>, ApiError>;

fn success(data: J) -> ApiResult {
    Ok(Json(json!({"status": "success", "data": data})))
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(WebError::BadRequest(msg.into()))
}

/// Query-string and form parameters, repeated keys kept (`match[]`).
pub struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut pairs = Query::<Vec<(String, String)>>::try_from_uri(req.uri())
            .map_err(|e| bad(format!("cannot read the query string: {e}")))?
            .0;
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if req.method() == Method::POST && is_form {
            let Form(body) = Form::<Vec<(String, String)>>::from_request(req, state)
                .await
                .map_err(|e| bad(format!("cannot read the form body: {e}")))?;
            pairs.extend(body);
        }
        Ok(Params(pairs))
    }
}

/// Unix seconds (float) or RFC 3339.
pub fn parse_api_time(name: &str, text: &str) -> Result<Timestamp, ApiError> {
    if let Ok(secs) = text.parse::<f64>()
        && secs.is_finite()
        && secs.abs() < 1e14
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| bad(format!("invalid parameter {name:?}: cannot parse {text:?} to a valid timestamp (unix seconds or RFC 3339)")))
}

/// Seconds (float) or a duration such as `15s`.
fn parse_step(text: &str) -> Result<i64, ApiError> {
    let ms = match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() => (secs * 1000.0).round() as i64,
        _ => parse_duration(text).map_err(|e| bad(format!("invalid parameter \"step\": {e}")))?,
    };
    if ms <= 0 {
        return Err(bad(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    Ok(ms)
}

fn query_text(p: &Params) -> Result<&str, ApiError> {
    p.get("query")
        .ok_or_else(|| bad("invalid parameter \"query\": missing"))
}

/// Timestamps as seconds, integral when whole (as Prometheus writes them).
fn ts_json(ms: Timestamp) -> J {
    if ms % 1000 == 0 {
        J::from(ms / 1000)
    } else {
        J::from(ms as f64 / 1000.0)
    }
}

fn labels_json(pairs: Vec<(String, String)>) -> J {
    J::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k, J::String(v)))
            .collect::<Map<_, _>>(),
    )
}

/// Maps query errors to Prometheus' answers: 400 bad_data for queries that cannot be
/// evaluated as written, 422 execution for limits and evaluation errors, 503 for timeouts.
pub(crate) fn query_error(e: QueryError) -> ApiError {
    use query::EvalError as E;
    ApiError(match e {
        QueryError::BadQuery(m) => {
            WebError::BadRequest(format!("invalid parameter \"query\": {m}"))
        }
        QueryError::Eval(E::Unsupported(m)) => {
            WebError::BadRequest(format!("invalid parameter \"query\": {m} is not supported"))
        }
        QueryError::Eval(E::Store(m)) => WebError::Store(m),
        QueryError::Eval(E::Cancelled(m)) => WebError::Timeout(m.to_string()),
        QueryError::Eval(other) => WebError::Unprocessable(other.to_string()),
    })
}

/// `GET|POST /api/v1/query?query=&time=`. A range selector or subquery alone (`up[5m]`) answers
/// a matrix of its samples in `[time − range, time]`, as Prometheus does.
pub(crate) async fn query(State(ctx): State<Ctx>, p: Params) -> ApiResult {
    let at = match p.get("time") {
        Some(t) => parse_api_time("time", t)?,
        None => now_ms(),
    };
    let r = eval_instant(&ctx.store, query_text(&p)?, at, &Limits::default())
        .await
        .map_err(query_error)?;
    success(instant_json(r, at))
}

fn samples_json(samples: &[(Timestamp, f64)]) -> Vec<J> {
    samples
        .iter()
        .map(|(t, v)| json!([ts_json(*t), format_go_float(*v)]))
        .collect()
}

fn instant_json(r: QueryResult, at: Timestamp) -> J {
    let ordered = r.ordered;
    match r.value {
        Value::Scalar(v) => {
            let v = v.first().copied().unwrap_or(f64::NAN);
            json!({"resultType": "scalar", "result": [ts_json(at), format_go_float(v)]})
        }
        Value::String(s) => json!({"resultType": "string", "result": [ts_json(at), s]}),
        Value::Matrix(mut m) => {
            m.sort_by_key(|s| s.metric_labels());
            let result: Vec<J> = m
                .into_iter()
                .map(|s| json!({"metric": labels_json(s.metric_labels()), "values": samples_json(&s.samples)}))
                .collect();
            json!({"resultType": "matrix", "result": result})
        }
        Value::Vector(mut series) => {
            if !ordered {
                series.sort_by_key(|s| s.metric_labels());
            }
            let result: Vec<J> = series
                .into_iter()
                .filter_map(|s| {
                    let v = s.values.first().copied().flatten()?;
                    Some(json!({"metric": labels_json(s.metric_labels()), "value": [ts_json(at), format_go_float(v)]}))
                })
                .collect();
            json!({"resultType": "vector", "result": result})
        }
    }
}

/// `GET|POST /api/v1/query_range?query=&start=&end=&step=`.
pub(crate) async fn query_range(State(ctx): State<Ctx>, p: Params) -> ApiResult {
    let text = query_text(&p)?;
    let start = parse_api_time(
        "start",
        p.get("start")
            .ok_or_else(|| bad("invalid parameter \"start\": missing"))?,
    )?;
    let end = parse_api_time(
        "end",
        p.get("end")
            .ok_or_else(|| bad("invalid parameter \"end\": missing"))?,
    )?;
    let step = parse_step(
        p.get("step")
            .ok_or_else(|| bad("invalid parameter \"step\": missing"))?,
    )?;
    if end < start {
        return Err(bad(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    if (end - start) / step + 1 > MAX_POINTS {
        return Err(bad(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let r = eval_range(&ctx.store, text, start, end, step, &Limits::default())
        .await
        .map_err(query_error)?;
    let times = r.times.clone();
    let mut series = r.into_series();
    series.sort_by_key(|s| s.metric_labels());
    let result: Vec<J> = series
        .into_iter()
        .filter_map(|s| {
            let values: Vec<J> = times
                .iter()
                .zip(&s.values)
                .filter_map(|(t, v)| v.map(|v| json!([ts_json(*t), format_go_float(v)])))
                .collect();
            (!values.is_empty())
                .then(|| json!({"metric": labels_json(s.metric_labels()), "values": values}))
        })
        .collect();
    success(json!({"resultType": "matrix", "result": result}))
}

/// `GET|POST /api/v1/format_query?query=`: the expression pretty-printed.
pub(crate) async fn format_query(p: Params) -> ApiResult {
    let text = query::format_query(query_text(&p)?)
        .await
        .map_err(query_error)?;
    success(J::String(text))
}

/// Any other `/api/v1/…` path: Prometheus' JSON 404 instead of the HTML error page.
pub(crate) async fn unknown(uri: axum::http::Uri) -> ApiError {
    ApiError(WebError::NotFound(format!(
        "unknown API endpoint {}",
        uri.path()
    )))
}

/// Series matching any of the `match[]` selectors (all series when `required` is false and none
/// is given), deduplicated, sorted by key.
fn matched_series(
    ctx: &Ctx,
    p: &Params,
    required: bool,
) -> Result<Option<Vec<SeriesInfo>>, ApiError> {
    let matches = p.all("match[]");
    if matches.is_empty() {
        if required {
            return Err(bad("no match[] parameter provided"));
        }
        return Ok(None);
    }
    let mut out: BTreeMap<u32, SeriesInfo> = BTreeMap::new();
    for m in matches {
        let sel = query::parse_selector(m)
            .map_err(|e| bad(format!("invalid parameter \"match[]\": {e}")))?;
        for info in ctx.store.select(sel.metric.as_deref(), &sel.matchers) {
            out.insert(info.id, info);
        }
    }
    let mut v: Vec<SeriesInfo> = out.into_values().collect();
    v.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Some(v))
}

fn key_labels(info: &SeriesInfo) -> Vec<(String, String)> {
    let mut l = vec![("__name__".to_string(), info.key.metric.clone())];
    l.extend(
        info.key
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    l
}

/// `GET|POST /api/v1/series?match[]=…`.
pub(crate) async fn series(State(ctx): State<Ctx>, p: Params) -> ApiResult {
    let series = matched_series(&ctx, &p, true)?.unwrap_or_default();
    success(J::Array(
        series.iter().map(|s| labels_json(key_labels(s))).collect(),
    ))
}

/// `GET|POST /api/v1/labels[?match[]=…]`.
pub(crate) async fn labels(State(ctx): State<Ctx>, p: Params) -> ApiResult {
    let names: Vec<String> = match matched_series(&ctx, &p, false)? {
        None => ctx.store.label_names(),
        Some(series) => {
            let mut set = BTreeSet::new();
            for s in &series {
                set.insert("__name__".to_string());
                set.extend(s.key.labels.iter().map(|(k, _)| k.to_string()));
            }
            set.into_iter().collect()
        }
    };
    success(json!(names))
}

/// `GET /api/v1/label/<name>/values[?match[]=…]`.
pub(crate) async fn label_values(
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
    p: Params,
) -> ApiResult {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(bad(format!("invalid label name: {name:?}")));
    }
    let values: Vec<String> = match matched_series(&ctx, &p, false)? {
        None => ctx.store.label_values(&name),
        Some(series) => {
            let set: BTreeSet<String> = series
                .iter()
                .filter_map(|s| {
                    if name == "__name__" {
                        Some(s.key.metric.clone())
                    } else {
                        s.key.labels.get(&name).map(str::to_string)
                    }
                })
                .collect();
            set.into_iter().collect()
        }
    };
    success(json!(values))
}

/// `GET /api/v1/metadata[?metric=…&limit=…]`.
pub(crate) async fn metadata(State(ctx): State<Ctx>, p: Params) -> ApiResult {
    let limit: usize = match p.get("limit") {
        Some(l) => l
            .parse()
            .map_err(|_| bad(format!("invalid parameter \"limit\": {l:?}")))?,
        None => usize::MAX,
    };
    let names: Vec<String> = match p.get("metric") {
        Some(m) => vec![m.to_string()],
        None => ctx.store.label_values("__name__"),
    };
    let mut out = Map::new();
    for name in names {
        if out.len() >= limit {
            break;
        }
        if let Some(entry) = metric_metadata(&ctx, &name) {
            out.insert(name, json!([entry]));
        }
    }
    success(J::Object(out))
}

/// `/api/v1/panels`: every page's chart catalogue (title, PromQL with the page's `{sel}` and `{w}`
/// substitutions, unit, whether per second, what it means), so a team can rebuild a chart in
/// another tool from the same definition.
pub(crate) async fn panels() -> ApiResult {
    let pages: Vec<J> = crate::web::pages::catalogue::all()
        .into_iter()
        .map(|page| {
            let panels: Vec<J> = page
                .panels
                .iter()
                .map(|p| {
                    json!({
                        "title": p.title,
                        "query": p.query,
                        "unit": p.unit.as_str(),
                        "per_second": p.per_second,
                        "help": p.help,
                    })
                })
                .collect();
            json!({"page": page.page, "panels": panels})
        })
        .collect();
    success(J::Array(pages))
}

/// One stored metric's metadata: type, unit and help from the catalogue (what its source
/// declared or its target described), the stored kind when nobody describes it.
fn metric_metadata(ctx: &Ctx, name: &str) -> Option<J> {
    let info = ctx.store.select(Some(name), &[]).into_iter().next()?;
    let meta = ctx.catalogue.get(name);
    let kind = match meta.as_ref().map(|m| m.kind) {
        Some(k) if k != crate::catalogue::MetricType::Unknown => k.as_str(),
        _ => info.kind.as_str(),
    };
    Some(json!({
        "type": kind,
        "help": meta.as_ref().map(|m| m.help.as_str()).unwrap_or(""),
        "unit": meta.as_ref().map(|m| m.unit.as_str()).unwrap_or(""),
    }))
}

/// `GET|POST /api/v1/query_exemplars`: the store keeps no exemplars; an empty answer keeps Grafana
/// quiet when exemplars are switched on.
pub(crate) async fn exemplars() -> ApiResult {
    success(json!([]))
}

/// `GET /api/v1/rules` and `/api/v1/alerts`: no recording or alerting rules exist here; empty
/// answers let Grafana's alerting views load instead of reporting a broken data source.
pub(crate) async fn rules() -> ApiResult {
    success(json!({"groups": []}))
}

pub(crate) async fn alerts() -> ApiResult {
    success(json!({"alerts": []}))
}

/// `GET /api/v1/status/buildinfo`: what Grafana asks to learn the API level it can use.
pub(crate) async fn buildinfo() -> ApiResult {
    success(json!({
        "version": "2.45.0",
        "revision": concat!("kafkascope-", env!("CARGO_PKG_VERSION")),
        "branch": "kafkascope",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "none (kafkascope is written in Rust; the version is the Prometheus API level it emulates)"
    }))
}

/// `GET /api/v1/events?start=&end=&cluster=&subject=&kind=&limit=`: newest first; default the last
/// 24 hours, at most 1000 (or `limit`).
pub(crate) async fn events(State(ctx): State<Ctx>, p: Params) -> ApiResult {
    let now = now_ms();
    let end = match p.get("end") {
        Some(t) => parse_api_time("end", t)?,
        None => now,
    };
    let start = match p.get("start") {
        Some(t) => parse_api_time("start", t)?,
        None => end - 86_400_000,
    };
    if end < start {
        return Err(bad(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let limit = match p.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| bad(format!("invalid parameter \"limit\": {l:?}")))?
            .min(100_000),
        None => 1000,
    };
    let q = EventQuery {
        start,
        end,
        cluster: p.get("cluster").map(str::to_string),
        subject: p.get("subject").map(str::to_string),
        kinds: p
            .all("kind")
            .into_iter()
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect(),
        limit,
    };
    let events = ctx
        .store
        .events(&q)
        .await
        .map_err(|e| ApiError(WebError::Store(e.to_string())))?;
    let data: Vec<J> = events
        .into_iter()
        .map(|e| {
            let mut v = serde_json::to_value(&e).unwrap_or(J::Null);
            if let J::Object(m) = &mut v {
                m.insert("time".into(), J::String(super::format::rfc3339(e.event.ts)));
            }
            v
        })
        .collect();
    success(J::Array(data))
}

/// The body of `POST /api/v1/annotations`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationBody {
    pub text: String,
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    /// Unix seconds (or milliseconds when ≥ 10^11), or an RFC 3339 string; default now.
    #[serde(default)]
    pub ts: Option<J>,
}

/// Compares without an early exit, so response timing does not reveal how much of a guess matched.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Whether `given` is the server's write token: 404 when writing is off (no token configured), 403
/// when the token is missing or wrong. The comparison takes the same time however much matched.
pub(crate) fn check_write_token(ctx: &Ctx, given: &str) -> Result<(), WebError> {
    let Some(token) = ctx.config.server.write_token.as_ref() else {
        return Err(WebError::NotFound(
            "writing is disabled: no server.write_token is configured".into(),
        ));
    };
    if given.is_empty() {
        return Err(WebError::Forbidden(
            "writing needs the server's write token (an Authorization: Bearer <token> header, or the token field of the form)".into(),
        ));
    }
    if !same_secret(given.as_bytes(), token.expose().as_bytes()) {
        return Err(WebError::Forbidden(
            "the token is not valid for writing".into(),
        ));
    }
    Ok(())
}

/// `POST /api/v1/annotations` with `Authorization: Bearer <server.write_token>` and a JSON body
/// `{text, cluster?, subject?, ts?}`: records an `annotation` event (a deploy marker) that every
/// chart of its range draws. 404 when no token is configured, 403 without the right token.
pub(crate) async fn annotate(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    check_write_token(&ctx, given).map_err(ApiError)?;
    let a: AnnotationBody = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("invalid annotation body (expected JSON {{\"text\", \"cluster\"?, \"subject\"?, \"ts\"?}}): {e}")))?;
    let text = a.text.trim();
    if text.is_empty() {
        return Err(bad("invalid annotation: \"text\" is empty"));
    }
    if text.chars().count() > 2000 {
        return Err(bad(
            "invalid annotation: \"text\" is longer than 2000 characters",
        ));
    }
    let ts = match &a.ts {
        None | Some(J::Null) => now_ms(),
        Some(J::Number(n)) => {
            let v = n
                .as_f64()
                .ok_or_else(|| bad("invalid annotation: \"ts\" is not a number"))?;
            if v >= 1e11 {
                v.round() as i64
            } else {
                (v * 1000.0).round() as i64
            }
        }
        Some(J::String(s)) => parse_api_time("ts", s)?,
        Some(_) => {
            return Err(bad(
                "invalid annotation: \"ts\" must be a number or an RFC 3339 string",
            ));
        }
    };
    let event = Event {
        ts,
        kind: "annotation".into(),
        severity: Severity::Info,
        cluster: a.cluster.unwrap_or_default(),
        subject: a.subject.unwrap_or_default(),
        message: text.to_string(),
    };
    let report = ctx
        .store
        .append(&[], std::slice::from_ref(&event))
        .await
        .map_err(|e| ApiError(WebError::Store(e.to_string())))?;
    if report.rejected > 0 {
        return Err(bad(
            "the store refused the annotation (its time is outside what the store accepts)",
        ));
    }
    tracing::info!(cluster = %event.cluster, subject = %event.subject, ts, "Annotation recorded.");
    success(json!({"kind": "annotation", "ts": ts, "time": super::format::rfc3339(ts)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_times_accept_unix_seconds_and_rfc3339() {
        assert_eq!(
            parse_api_time("t", "1714557600").unwrap(),
            1_714_557_600_000
        );
        assert_eq!(
            parse_api_time("t", "1714557600.25").unwrap(),
            1_714_557_600_250
        );
        assert_eq!(
            parse_api_time("t", "2024-05-01T10:00:00Z").unwrap(),
            1_714_557_600_000
        );
        assert!(parse_api_time("t", "yesterday").is_err());
    }

    #[test]
    fn steps_accept_seconds_and_durations() {
        assert_eq!(parse_step("15").unwrap(), 15_000);
        assert_eq!(parse_step("0.5").unwrap(), 500);
        assert_eq!(parse_step("1m").unwrap(), 60_000);
        assert!(parse_step("0").is_err());
        assert!(parse_step("-5").is_err());
        assert!(parse_step("fast").is_err());
    }

    #[test]
    fn values_and_times_are_written_like_prometheus() {
        assert_eq!(format_go_float(1.0), "1");
        assert_eq!(format_go_float(0.25), "0.25");
        assert_eq!(format_go_float(f64::NAN), "NaN");
        assert_eq!(format_go_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(ts_json(1_000), json!(1));
        assert_eq!(ts_json(1_500), json!(1.5));
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"a"));
    }
}
