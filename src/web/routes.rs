//! Every route of the web layer, in one place.

use super::error::WebError;
use super::{Ctx, api, assets, context, pages, selfmetrics};
use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::routing::get;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Longest time a request may take before it is answered with 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest accepted request body (forms with long queries, annotations).
const BODY_LIMIT: usize = 256 * 1024;

pub(crate) fn build(ctx: Ctx) -> Router {
    let api = Router::new()
        .route("/query", get(api::query).post(api::query))
        .route("/query_range", get(api::query_range).post(api::query_range))
        .route("/series", get(api::series).post(api::series))
        .route("/labels", get(api::labels).post(api::labels))
        .route("/label/{name}/values", get(api::label_values))
        .route("/metadata", get(api::metadata))
        .route("/query_exemplars", get(api::exemplars).post(api::exemplars))
        .route("/status/buildinfo", get(api::buildinfo))
        .route("/rules", get(api::rules))
        .route("/alerts", get(api::alerts))
        .route("/events", get(api::events))
        .route("/annotations", axum::routing::post(api::annotate));

    super::sources::routes(Router::new())
        .route("/", get(pages::overview::show))
        .route("/metric", get(pages::metric::show))
        .route("/targets", get(pages::targets::show))
        .route("/events", get(pages::events::show))
        .route("/static/{file}", get(assets::static_file))
        .route("/healthz", get(selfmetrics::healthz))
        .route("/metrics", get(selfmetrics::metrics))
        .nest("/api/v1", api)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), context::scope))
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), selfmetrics::track))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT))
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(ctx)
}

async fn not_found(uri: axum::http::Uri) -> WebError {
    WebError::NotFound(format!("There is no page at {}.", uri.path()))
}
