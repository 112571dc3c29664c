//! Burrow's HTTP API v3 for Kafka (`/v3/kafka/...`), answered from the store with the lag
//! engine, in Burrow 1.2's JSON shapes, messages and HTTP codes (`core/internal/httpserver/
//! kafka.go`), so Burrow clients and dashboards keep working:
//!
//! - every reply is `{"error", "message", <payload>, "request": {"url", "host"}}`;
//! - an unknown cluster or topic is 404 with `"error": true` and Burrow's message;
//! - `/status` and `/lag` of an unknown group are 404 with `"error": false` and a status
//!   `NOTFOUND` (Burrow's evaluator answers every failure that way);
//! - any other path under `/v3` is Burrow's catch-all 404.
//!
//! Burrow's cluster list is its configured clusters; ours is the clusters with a kafka target or
//! with Kafka offsets stored. A cluster's "module" describes its kafka target: the brokers, the
//! poll interval (which refreshes topics and offsets alike) and the client profile the kafka
//! source publishes as its `kafka_client` document (client id, TLS CA file, SASL mechanism and
//! user; never a password). The profile is named after the cluster; `kafka-version` is empty
//! because the source negotiates each API's version with each broker (ApiVersions) rather than
//! assuming a Kafka release. Before the source's first successful poll the profile is empty
//! (client-id `""`, which a configured one never is).

use super::Ctx;
use crate::lag::evaluator::EvalConfig;
use crate::lag::storage::{self, GroupData, LagError};
use crate::lag::{ConsumerOffset, GroupStatus};
use crate::model::now_ms;
use crate::sources::kafka::collect::{CLIENT_DOC, CLIENT_SUBJECT};
use crate::store::StoreError;
use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The `/v3` routes (nested under `/v3` by the router).
pub(crate) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/kafka", get(cluster_list))
        .route("/kafka/{cluster}", get(cluster_detail))
        .route("/kafka/{cluster}/topic", get(topic_list))
        .route("/kafka/{cluster}/topic/{topic}", get(topic_detail))
        .route(
            "/kafka/{cluster}/topic/{topic}/consumers",
            get(topic_consumers),
        )
        .route("/kafka/{cluster}/consumer", get(consumer_list))
        .route("/kafka/{cluster}/consumer/{group}", get(consumer_detail))
        .route(
            "/kafka/{cluster}/consumer/{group}/status",
            get(consumer_status),
        )
        .route("/kafka/{cluster}/consumer/{group}/lag", get(consumer_lag))
        .fallback(invalid_request)
}

/// `request` of every reply: the path asked and this host's name (as Burrow reports them).
#[derive(Serialize)]
struct RequestInfo {
    url: String,
    host: String,
}

fn hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_default()
    })
}

fn info(uri: &Uri) -> RequestInfo {
    RequestInfo {
        url: uri.path().to_string(),
        host: hostname().to_string(),
    }
}

/// A reply: `error`, `message`, the payload's fields, `request`.
#[derive(Serialize)]
struct Reply<T: Serialize> {
    error: bool,
    message: &'static str,
    #[serde(flatten)]
    payload: T,
    request: RequestInfo,
}

#[derive(Serialize)]
struct Empty {}

/// A successful reply (`"error": false`), with `code` 200, or 404 for a NOTFOUND status.
fn reply<T: Serialize>(code: StatusCode, message: &'static str, payload: T, uri: &Uri) -> Response {
    answer(code, false, message, payload, uri)
}

fn answer<T: Serialize>(
    code: StatusCode,
    error: bool,
    message: &'static str,
    payload: T,
    uri: &Uri,
) -> Response {
    (
        code,
        axum::Json(Reply {
            error,
            message,
            payload,
            request: info(uri),
        }),
    )
        .into_response()
}

fn not_found(message: &'static str, uri: &Uri) -> Response {
    answer(StatusCode::NOT_FOUND, true, message, Empty {}, uri)
}

/// A store failure: logged in full, answered in Burrow's error shape.
fn failed(e: impl std::fmt::Display, uri: &Uri) -> Response {
    tracing::error!(error = %e, path = uri.path(), "Burrow API request failed.");
    answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        true,
        "could not read offsets from the store",
        Empty {},
        uri,
    )
}

async fn invalid_request() -> Response {
    // Burrow's catch-all answers with http.Error: text/plain, body in its JSON shape.
    (
        StatusCode::NOT_FOUND,
        "{\"error\":true,\"message\":\"invalid request type\",\"result\":{}}\n",
    )
        .into_response()
}

/// Clusters with a kafka target or Kafka offsets stored.
fn known_clusters(ctx: &Ctx) -> Vec<String> {
    let mut out: Vec<String> = storage::clusters(&ctx.store);
    for t in ctx.targets.snapshot() {
        if t.source == "kafka" && !out.contains(&t.cluster) {
            out.push(t.cluster.clone());
        }
    }
    out.sort();
    out
}

fn is_cluster(ctx: &Ctx, cluster: &str) -> bool {
    known_clusters(ctx).iter().any(|c| c == cluster)
}

#[derive(Serialize)]
struct Clusters {
    clusters: Vec<String>,
}

async fn cluster_list(State(ctx): State<Ctx>, OriginalUri(uri): OriginalUri) -> Response {
    reply(
        StatusCode::OK,
        "cluster list returned",
        Clusters {
            clusters: known_clusters(&ctx),
        },
        &uri,
    )
}

/// Burrow's `httpResponseClientProfile`.
#[derive(Serialize)]
struct ClientProfile {
    name: String,
    #[serde(rename = "client-id")]
    client_id: String,
    #[serde(rename = "kafka-version")]
    kafka_version: String,
    tls: Option<TlsProfile>,
    sasl: Option<SaslProfile>,
}

/// Burrow's `httpResponseTLSProfile`: file paths only. The kafka source verifies brokers against
/// its CA file and presents no client certificate.
#[derive(Serialize)]
struct TlsProfile {
    name: String,
    noverify: bool,
    certfile: String,
    keyfile: String,
    cafile: String,
}

/// Burrow's `httpResponseSASLProfile` plus the mechanism (Burrow 1.2 configures one but does not
/// show it; its clients ignore the extra key). No password, ever.
#[derive(Serialize)]
struct SaslProfile {
    name: String,
    #[serde(rename = "handshake-first")]
    handshake_first: bool,
    username: String,
    mechanism: String,
}

/// The kafka source's `kafka_client` document (see `sources::kafka::collect::ClientProfile`).
#[derive(Deserialize)]
struct ClientDoc {
    client_id: String,
    tls: Option<TlsDoc>,
    sasl: Option<SaslDoc>,
}

#[derive(Deserialize)]
struct TlsDoc {
    ca_file: String,
}

#[derive(Deserialize)]
struct SaslDoc {
    mechanism: String,
    username: String,
    handshake_first: bool,
}

impl ClientProfile {
    /// Named after the cluster; empty but for the name until the source has published one.
    fn of(cluster: &str, doc: Option<ClientDoc>) -> Self {
        let doc = doc.unwrap_or(ClientDoc {
            client_id: String::new(),
            tls: None,
            sasl: None,
        });
        ClientProfile {
            name: cluster.to_string(),
            client_id: doc.client_id,
            kafka_version: String::new(),
            tls: doc.tls.map(|t| TlsProfile {
                name: cluster.to_string(),
                noverify: false,
                certfile: String::new(),
                keyfile: String::new(),
                cafile: t.ca_file,
            }),
            sasl: doc.sasl.map(|s| SaslProfile {
                name: cluster.to_string(),
                handshake_first: s.handshake_first,
                username: s.username,
                mechanism: s.mechanism,
            }),
        }
    }
}

/// The cluster's `kafka_client` document; None when absent or damaged (a damaged row must not
/// fail the reply).
async fn client_doc(ctx: &Ctx, cluster: &str) -> Result<Option<ClientDoc>, StoreError> {
    let docs = ctx.store.documents(cluster, CLIENT_SUBJECT).await?;
    Ok(docs
        .into_iter()
        .find(|(name, _, _)| name == CLIENT_DOC)
        .and_then(|(_, _, body)| serde_json::from_str(&body).ok()))
}

#[derive(Serialize)]
struct Module {
    #[serde(rename = "class-name")]
    class_name: &'static str,
    servers: Vec<String>,
    #[serde(rename = "client-profile")]
    client_profile: ClientProfile,
    #[serde(rename = "topic-refresh")]
    topic_refresh: i64,
    #[serde(rename = "offset-refresh")]
    offset_refresh: i64,
}

#[derive(Serialize)]
struct ModuleDetail {
    module: Module,
}

async fn cluster_detail(
    State(ctx): State<Ctx>,
    Path(cluster): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    if !is_cluster(&ctx, &cluster) {
        return not_found("cluster module not found", &uri);
    }
    let targets = ctx.targets.snapshot();
    let target = targets
        .iter()
        .find(|t| t.cluster == cluster && t.source == "kafka");
    let servers = target
        .map(|t| {
            t.target
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    // One poll refreshes metadata and offsets alike; unknown (0) without a target.
    let refresh = target.map_or(0, |t| t.interval_ms / 1000);
    // Without a kafka target, a stored profile would describe a configuration that is gone.
    let doc = match target {
        Some(_) => match client_doc(&ctx, &cluster).await {
            Ok(d) => d,
            Err(e) => return failed(e, &uri),
        },
        None => None,
    };
    reply(
        StatusCode::OK,
        "cluster module detail returned",
        ModuleDetail {
            module: Module {
                class_name: "kafka",
                servers,
                client_profile: ClientProfile::of(&cluster, doc),
                topic_refresh: refresh,
                offset_refresh: refresh,
            },
        },
        &uri,
    )
}

#[derive(Serialize)]
struct Topics {
    topics: Vec<String>,
}

async fn topic_list(
    State(ctx): State<Ctx>,
    Path(cluster): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    if !is_cluster(&ctx, &cluster) {
        return not_found("cluster not found", &uri);
    }
    reply(
        StatusCode::OK,
        "topic list returned",
        Topics {
            topics: storage::topics(&ctx.store, &cluster),
        },
        &uri,
    )
}

#[derive(Serialize)]
struct Offsets {
    offsets: Vec<i64>,
}

async fn topic_detail(
    State(ctx): State<Ctx>,
    Path((cluster, topic)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let interval = storage::interval_of(&ctx.targets.snapshot(), &cluster);
    // A partition's log end counts as current for Burrow's expire-group (it drops nothing sooner).
    let lookback = eval_config(&ctx).expire_group_ms.max(3 * interval);
    match storage::topic_log_ends(&ctx.store, &cluster, &topic, now_ms(), lookback).await {
        Ok(Some(offsets)) => reply(
            StatusCode::OK,
            "topic offsets returned",
            Offsets { offsets },
            &uri,
        ),
        Ok(None) => not_found("cluster or topic not found", &uri),
        Err(e) => failed(e, &uri),
    }
}

#[derive(Serialize)]
struct Consumers {
    consumers: Vec<String>,
}

async fn topic_consumers(
    State(ctx): State<Ctx>,
    Path((cluster, topic)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    if !is_cluster(&ctx, &cluster) {
        return not_found("cluster not found", &uri);
    }
    reply(
        StatusCode::OK,
        "consumers of topic returned",
        Consumers {
            consumers: storage::topic_consumers(&ctx.store, &cluster, &topic),
        },
        &uri,
    )
}

async fn consumer_list(
    State(ctx): State<Ctx>,
    Path(cluster): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    if !is_cluster(&ctx, &cluster) {
        return not_found("cluster not found", &uri);
    }
    reply(
        StatusCode::OK,
        "consumer list returned",
        Consumers {
            consumers: storage::groups(&ctx.store, &cluster),
        },
        &uri,
    )
}

/// Burrow's settings from the `[lag]` config (validated at startup; Burrow's defaults if not).
fn eval_config(ctx: &Ctx) -> EvalConfig {
    ctx.config
        .lag
        .settings()
        .map(|s| s.eval)
        .unwrap_or_default()
}

/// Reads one group as of now; None when Burrow would not know it.
async fn read_group(
    ctx: &Ctx,
    cluster: &str,
    group: &str,
    cfg: &EvalConfig,
) -> Result<Option<GroupData>, LagError> {
    if !is_cluster(ctx, cluster) {
        return Ok(None);
    }
    let interval = storage::interval_of(&ctx.targets.snapshot(), cluster);
    let now = now_ms();
    let data = storage::read_groups(
        &ctx.store,
        cluster,
        &[group.to_string()],
        now,
        cfg,
        interval,
        storage::Docs::Each,
    )
    .await?
    .into_iter()
    .next();
    Ok(data.filter(|d| d.found(now, cfg)))
}

/// One partition in a consumer detail: the ring of `intervals` slots (empty ones first, as
/// Burrow's ring reads when not yet full).
#[derive(Serialize)]
struct DetailPartition {
    offsets: Vec<Option<ConsumerOffset>>,
    owner: String,
    client_id: String,
    #[serde(rename = "current-lag")]
    current_lag: u64,
}

#[derive(Serialize)]
struct Detail {
    topics: BTreeMap<String, Vec<DetailPartition>>,
}

fn detail_of(d: &GroupData, cfg: &EvalConfig) -> Detail {
    let mut topics: BTreeMap<String, Vec<DetailPartition>> = BTreeMap::new();
    for w in &d.windows {
        let Ok(idx) = usize::try_from(w.partition) else {
            continue;
        };
        let parts = topics.entry(w.topic.clone()).or_default();
        while parts.len() <= idx {
            parts.push(DetailPartition {
                offsets: Vec::new(),
                owner: String::new(),
                client_id: String::new(),
                current_lag: 0,
            });
        }
        let slots = cfg.intervals.max(1);
        let mut ring: Vec<Option<ConsumerOffset>> =
            vec![None; slots.saturating_sub(w.offsets.len())];
        ring.extend(w.offsets.iter().copied().map(Some));
        parts[idx] = DetailPartition {
            offsets: ring,
            owner: w.owner.clone(),
            client_id: w.client_id.clone(),
            current_lag: w.current_lag,
        };
    }
    Detail { topics }
}

async fn consumer_detail(
    State(ctx): State<Ctx>,
    Path((cluster, group)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let cfg = eval_config(&ctx);
    match read_group(&ctx, &cluster, &group, &cfg).await {
        Ok(Some(d)) => reply(
            StatusCode::OK,
            "consumer detail returned",
            detail_of(&d, &cfg),
            &uri,
        ),
        Ok(None) => not_found("cluster or consumer not found", &uri),
        Err(e) => failed(e, &uri),
    }
}

#[derive(Serialize)]
struct StatusPayload {
    status: GroupStatus,
}

/// The group's status as the consumer pages evaluate it (Burrow's rules with the `[lag]`
/// settings, then its thresholds, whose reasons are the status's `evidence`).
async fn status_reply(ctx: &Ctx, cluster: &str, group: &str, all: bool, uri: &Uri) -> Response {
    let not_found = || {
        reply(
            StatusCode::NOT_FOUND,
            "consumer status returned",
            StatusPayload {
                status: GroupStatus::not_found(cluster, group),
            },
            uri,
        )
    };
    if !is_cluster(ctx, cluster) {
        return not_found();
    }
    let evaluated = super::pages::consumers::evaluate(
        ctx,
        cluster,
        Some(vec![group.to_string()]),
        now_ms(),
        storage::Docs::Each,
    )
    .await;
    match evaluated.map(|mut v| v.pop()) {
        Ok(Some(e)) => {
            let status = if all {
                e.status
            } else {
                e.status.only_problems()
            };
            reply(
                StatusCode::OK,
                "consumer status returned",
                StatusPayload { status },
                uri,
            )
        }
        Ok(None) => not_found(),
        Err(e) => failed(e, uri),
    }
}

async fn consumer_status(
    State(ctx): State<Ctx>,
    Path((cluster, group)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    status_reply(&ctx, &cluster, &group, false, &uri).await
}

async fn consumer_lag(
    State(ctx): State<Ctx>,
    Path((cluster, group)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    status_reply(&ctx, &cluster, &group, true, &uri).await
}
