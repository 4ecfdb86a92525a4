//! An API Gateway REST (v1) event on a named stage: with
//! `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` set (as `template.yaml` sets it),
//! the stage does not leak into the path the router sees. A binary of its
//! own, because the variable is process-wide.

use std::sync::Arc;

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::Value;

#[test]
fn rest_api_event_on_a_named_stage_reaches_the_router() {
    // Set before any other thread exists in this process.
    unsafe { std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true") };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = scim_lambda::store::embedded::Embedded::open(&dir.path().join("l.redb"))
            .unwrap_or_else(|e| panic!("{e}"));
        let config =
            scim_lambda::config::Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
        let router = scim_lambda::app_router(
            &config,
            scim_lambda::store::Table::new(Arc::new(db)),
            scim_lambda::auth::Auth::fixed("event-token-for-local-invocations".into()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let path = format!(
            "{}/events/apigw-v1-service-provider-config.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let request: LambdaRequest = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let resp = Adapter::from(router)
            .call(LambdaEvent::new(request, Context::default()))
            .await
            .unwrap_or_else(|e| match e {});
        let resp = serde_json::to_value(resp).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resp["statusCode"], 200, "{resp}");
        let body: Value =
            serde_json::from_str(resp["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        assert_eq!(body["patch"]["supported"], true);
        assert_eq!(
            body["meta"]["location"],
            "https://abc123xyz0.execute-api.eu-west-1.amazonaws.com/scim/v2/ServiceProviderConfig"
        );
    });
}
