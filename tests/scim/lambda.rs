//! The Lambda front door: API Gateway events from `events/` through
//! `lambda_http`'s adapter (what `lambda_http::run` does per event) into the
//! same router.

use std::sync::Arc;

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use scim_lambda::auth::Auth;
use serde_json::Value;

/// The token the files in `events/` carry.
const EVENT_TOKEN: &str = "event-token-for-local-invocations";

fn router() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = scim_lambda::store::embedded::Embedded::open(&dir.path().join("l.redb"))
        .unwrap_or_else(|e| panic!("{e}"));
    let table = scim_lambda::store::Table::new(Arc::new(db));
    let router = scim_lambda::app_router(
        &crate::common::config(),
        table,
        Auth::fixed(EVENT_TOKEN.into()),
    );
    (router, dir)
}

pub async fn invoke(router: &axum::Router, event_file: &str) -> Value {
    let path = format!("{}/events/{event_file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let request: LambdaRequest =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut adapter = Adapter::from(router.clone());
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .unwrap_or_else(|e| match e {});
    serde_json::to_value(response).unwrap_or_else(|e| panic!("{e}"))
}

fn body(resp: &Value) -> Value {
    assert_eq!(resp["isBase64Encoded"], false, "{resp}");
    serde_json::from_str(resp["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

#[tokio::test]
async fn api_gateway_v2_events_create_and_find_a_user() {
    let (router, _dir) = router();
    let created = invoke(&router, "apigw-v2-create-user.json").await;
    assert_eq!(created["statusCode"], 201, "{created}");
    assert_eq!(created["headers"]["content-type"], "application/scim+json");
    let user = body(&created);
    assert_eq!(user["userName"], "event.user@example.com");
    assert_eq!(user["active"], true);
    let location = format!(
        "https://abc123xyz0.execute-api.eu-west-1.amazonaws.com/scim/v2/Users/{}",
        user["id"].as_str().unwrap_or_default()
    );
    assert_eq!(created["headers"]["location"], location.as_str());

    let listed = invoke(&router, "apigw-v2-list-users.json").await;
    assert_eq!(listed["statusCode"], 200, "{listed}");
    let list = body(&listed);
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["id"], user["id"]);
}
