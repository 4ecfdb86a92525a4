//! SCIM responses: `application/scim+json` bodies, `ETag` and `Location`
//! headers, and the one conversion of `ScimError` into a response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::scim::ScimError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// A JSON body with the SCIM media type.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    resp
}

/// A resource body with its `ETag` (and `Location`, when created).
pub fn resource(status: StatusCode, body: &Value, etag: &str, location: Option<&str>) -> Response {
    let mut resp = scim_json(status, body);
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    if let Some(loc) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(header::LOCATION, loc);
    }
    resp
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = scim_json(status, &self.to_json());
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(
            status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_throttled_answers_say_when_to_retry() {
        let resp = ScimError::unavailable().into_response();
        assert_eq!(
            resp.headers()
                .get(header::RETRY_AFTER)
                .map(HeaderValue::as_bytes),
            Some(&b"1"[..])
        );
        let resp = ScimError::internal().into_response();
        assert_eq!(resp.headers().get(header::RETRY_AFTER), None);
    }
}
