//! Extractors that answer bad input with the app's own error (an HTML page, or Prometheus' JSON
//! for the API) instead of axum's plain-text rejection.

use super::error::WebError;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A page's query string, deserialized; a repeated or malformed parameter is a 400 page that
/// names it.
pub struct PageQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for PageQuery<T> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::try_from_uri(&parts.uri) {
            Ok(Query(v)) => Ok(PageQuery(v)),
            Err(e) => Err(WebError::BadRequest(explain(&e.body_text()))),
        }
    }
}

/// Turns serde's wording into advice: `duplicate field `range`` becomes which parameter is
/// repeated and why that is refused.
fn explain(text: &str) -> String {
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text);
    if let Some(rest) = detail.strip_prefix("duplicate field `")
        && let Some(name) = rest.split('`').next()
    {
        return format!(
            "the parameter {name:?} is given more than once; a page takes one value of each parameter"
        );
    }
    format!("the query string cannot be read: {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_parameter_is_named() {
        assert_eq!(
            explain("Failed to deserialize query string: duplicate field `range`"),
            "the parameter \"range\" is given more than once; a page takes one value of each parameter"
        );
        assert!(
            explain("Failed to deserialize query string: invalid type").contains("invalid type")
        );
    }
}
