//! One request through the router, in-process, and its whole answer: for
//! the router tests and the benchmarks alike.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Sends a request as built and reads the whole answer: status, headers
/// and body bytes, whatever they hold.
pub async fn exchange(router: &Router, req: Request<Body>) -> (u16, HeaderMap, Vec<u8>) {
    let resp = router
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .to_bytes()
        .to_vec();
    (status, headers, bytes)
}
