//! Every route of the web layer, in one place.

use super::error::WebError;
use super::{Ctx, api, assets, base_path, context, etag, export, pages, selfmetrics};
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

/// The Content-Security-Policy: our own scripts and styles only, and framing only by the pages
/// `server.frame_ancestors` names.
fn content_security_policy(frame_ancestors: &[String]) -> HeaderValue {
    let ancestors = if frame_ancestors.is_empty() {
        "'none'".to_string()
    } else {
        frame_ancestors.join(" ")
    };
    let text = format!(
        "default-src 'self'; img-src 'self' data:; frame-ancestors {ancestors}; base-uri 'none'; form-action 'self'"
    );
    // Validated by the config (origins and 'self' only); a bad value falls back to no framing.
    HeaderValue::from_str(&text).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
    })
}

pub(crate) fn build(ctx: Ctx) -> Router {
    let server_cfg = ctx.config.server.clone();
    let api = Router::new()
        .route("/query", get(api::query).post(api::query))
        .route("/query_range", get(api::query_range).post(api::query_range))
        .route("/series", get(api::series).post(api::series))
        .route("/labels", get(api::labels).post(api::labels))
        .route("/label/{name}/values", get(api::label_values))
        .route("/metadata", get(api::metadata))
        .route("/panels", get(api::panels))
        .route("/query_exemplars", get(api::exemplars).post(api::exemplars))
        .route("/status/buildinfo", get(api::buildinfo))
        .route("/rules", get(api::rules))
        .route("/alerts", get(api::alerts))
        .route("/events", get(api::events))
        .route("/annotations", axum::routing::post(api::annotate))
        .route(
            "/format_query",
            get(api::format_query).post(api::format_query),
        )
        .fallback(api::unknown);

    let app = super::sources::routes(Router::new())
        .route("/", get(pages::overview::show))
        .route("/metric", get(pages::metric::show))
        .route("/targets", get(pages::targets::show))
        .route("/events", get(pages::events::show))
        .route("/trends", get(pages::trends::show))
        .route("/embed.svg", get(pages::embed::chart))
        .route("/embed/status/{cluster}", get(pages::embed::status))
        .route("/investigate", get(pages::investigate::show))
        .route("/explore", get(pages::explore::list))
        .route("/explore/{target}", get(pages::explore::show))
        .route(
            "/explore/{target}/track",
            axum::routing::post(pages::explore::track),
        )
        .route("/static/{file}", get(assets::static_file))
        .route("/healthz", get(selfmetrics::healthz))
        .route("/metrics", get(selfmetrics::metrics))
        .nest("/api/v1", api)
        .nest("/v3", super::burrow::routes())
        .fallback(not_found)
        // `&format=csv|json&chart=ID` (or `table=ID`) on any page: that chart's or table's data.
        .layer(axum::middleware::from_fn(export::intercept))
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            context::scope,
        ))
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            selfmetrics::track,
        ))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        // Inside compression: it rewrites the links of the uncompressed HTML.
        .layer(axum::middleware::from_fn_with_state(
            server_cfg.base_path.clone().unwrap_or_default(),
            base_path::prefix_html,
        ))
        // Over the final, uncompressed body.
        .layer(axum::middleware::from_fn(etag::etag))
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(&server_cfg.frame_ancestors),
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
            // Only without allowed framers: the old header cannot name them, and browsers that
            // know CSP prefer its frame-ancestors anyway.
            server_cfg
                .frame_ancestors
                .is_empty()
                .then(|| HeaderValue::from_static("DENY")),
        ))
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(ctx);
    match server_cfg.base_path.as_deref() {
        // Paths under the prefix reach the same routes; so do paths without it (a proxy that
        // strips the prefix).
        Some(base) if !base.is_empty() => Router::new()
            .nest_service(base, app.clone())
            .fallback_service(app),
        _ => app,
    }
}

async fn not_found(uri: axum::http::Uri) -> WebError {
    WebError::NotFound(format!("There is no page at {}.", uri.path()))
}
