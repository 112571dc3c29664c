//! The one HTTP error type of the web layer. Pages render it as an HTML error page; the JSON API
//! wraps it in [`ApiError`] to answer in Prometheus' `{"status":"error",...}` shape.

use super::page::PageCtx;
use super::timerange::{TimeRange, TimeRangeError};
use crate::model::now_ms;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A query parameter or body that cannot be used; the text says which and why.
    #[error("{0}")]
    BadRequest(String),
    /// A well-formed query the evaluator refuses (too many points, too many series).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// A query that ran out of time or whose client left.
    #[error("{0}")]
    Timeout(String),
    /// The store failed; logged in full, shown briefly.
    #[error("store error: {0}")]
    Store(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type WebResult<T> = Result<T, WebError>;

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Prometheus' `errorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            WebError::BadRequest(_) => "bad_data",
            WebError::Unprocessable(_) => "execution",
            WebError::NotFound(_) => "not_found",
            WebError::Forbidden(_) => "forbidden",
            WebError::Timeout(_) => "timeout",
            WebError::Store(_) => "unavailable",
            WebError::Internal(_) => "internal",
        }
    }

    fn log(&self) {
        match self {
            WebError::Store(_) | WebError::Internal(_) => {
                tracing::error!(error = %self, "Request failed.")
            }
            _ => tracing::debug!(error = %self, "Request refused."),
        }
    }
}

impl From<TimeRangeError> for WebError {
    fn from(e: TimeRangeError) -> Self {
        WebError::BadRequest(e.to_string())
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(format!("rendering a page failed: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: PageCtx,
    status: u16,
    reason: &'a str,
    message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let range = TimeRange::last("24h", now_ms()).unwrap_or_else(|_| TimeRange::fixed(0, 1));
        let mut page = PageCtx::bare(
            format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
            "",
            "/",
            range,
        );
        page.picker = false;
        let message = match &self {
            // Do not echo internal details to visitors; the log has them.
            WebError::Internal(_) => {
                "Something went wrong while building this page; the server log has the details."
                    .to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorPage {
            page,
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or(""),
            message,
        };
        match body.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => (status, format!("{}\n(error page failed: {e})", self)).into_response(),
        }
    }
}

/// A [`WebError`] answered as Prometheus JSON.
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let message = match &self.0 {
            WebError::Internal(_) => "internal error; see the server log".to_string(),
            other => other.to_string(),
        };
        let body = serde_json::json!({
            "status": "error",
            "errorType": self.0.error_type(),
            "error": message,
        });
        (self.0.status(), axum::Json(body)).into_response()
    }
}
