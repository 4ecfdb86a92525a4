//! The Lambda front door: API Gateway events from `events/` through
//! `lambda_http`'s adapter (what `lambda_http::run` does per event) into the
//! same router.

use std::sync::Arc;

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use scim_lambda::auth::{Auth, Tenants, TenantsFile};
use serde_json::Value;

/// The token the files in `events/` carry.
const EVENT_TOKEN: &str = "event-token-for-local-invocations";

/// The token of tenant `acme` in `events/apigw-v2-tenant-*.json`.
const TENANT_EVENT_TOKEN: &str = "event-token-for-tenant-acme";

/// The HTTP Basic pair and the OAuth client of `events/` (the README's
/// local invocation sets them as SCIM_BASIC_* and SCIM_OAUTH_CLIENT_*).
const EVENT_BASIC: (&str, &str) = (
    "event-basic-user",
    "event-basic-password-for-local-invocations",
);
const EVENT_CLIENT: (&str, &str) = ("event-client", "event-client-secret-for-local-invocations");

/// The environment of `events/local.env`, which the README's local
/// invocation reads.
fn local_env() -> Vec<(String, String)> {
    let path = format!("{}/events/local.env", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The events' credentials as `events/local.env` gives them: the
/// single-tenant directory's token, Basic pair and OAuth client, and
/// tenant acme's token in `events/local-tenants.json`. The constants above
/// must be what the files say.
fn auth(_dir: &std::path::Path) -> Auth {
    let vars = local_env();
    let config = scim_lambda::config::Config::from_lookup(|name| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        config.embedded_asked,
        "events/local.env asks for the embedded store"
    );
    assert_eq!(config.token.as_deref(), Some(EVENT_TOKEN));
    assert_eq!(
        config.credentials.basic,
        Some((EVENT_BASIC.0.to_string(), EVENT_BASIC.1.to_string()))
    );
    assert_eq!(
        config.credentials.oauth_client,
        Some((EVENT_CLIENT.0.to_string(), EVENT_CLIENT.1.to_string()))
    );
    let tenants = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(&config.tenants_file);
    let doc = std::fs::read_to_string(&tenants).unwrap_or_else(|e| panic!("{e}"));
    assert!(doc.contains(TENANT_EVENT_TOKEN), "{doc}");
    Auth::fixed_set(scim_lambda::environment_credentials(&config, EVENT_TOKEN))
        .with_tenants(Tenants::File(TenantsFile::new(tenants)))
}

fn router() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = scim_lambda::store::embedded::Embedded::open(&dir.path().join("l.redb"))
        .unwrap_or_else(|e| panic!("{e}"));
    let table = scim_lambda::store::Table::new(Arc::new(db));
    let router = scim_lambda::app_router(&crate::common::config(), table, auth(dir.path()))
        .unwrap_or_else(|e| panic!("{e}"));
    (router, dir)
}

/// An event file of `events/`, as JSON.
fn event(event_file: &str) -> Value {
    let path = format!("{}/events/{event_file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub async fn invoke(router: &axum::Router, event_file: &str) -> Value {
    invoke_event(router, event(event_file)).await
}

async fn invoke_event(router: &axum::Router, event: Value) -> Value {
    let request: LambdaRequest = serde_json::from_value(event).unwrap_or_else(|e| panic!("{e}"));
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

#[tokio::test]
async fn an_access_token_from_the_token_event_opens_the_api() {
    let (router, _dir) = router();
    let granted = invoke(&router, "apigw-v2-oauth-token.json").await;
    assert_eq!(granted["statusCode"], 200, "{granted}");
    assert_eq!(granted["headers"]["cache-control"], "no-store");
    let token = body(&granted);
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);
    let access = token["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // The list event, with the access token instead of the static one.
    let mut list = event("apigw-v2-list-users.json");
    list["headers"]["authorization"] = Value::String(format!("Bearer {access}"));
    let listed = invoke_event(&router, list.clone()).await;
    assert_eq!(listed["statusCode"], 200, "{listed}");
    assert_eq!(body(&listed)["totalResults"], 0);
    // Another directory's: the token names the directory it opens.
    list["rawPath"] = "/scim/v2/acme/Users".into();
    list["requestContext"]["http"]["path"] = "/scim/v2/acme/Users".into();
    let foreign = invoke_event(&router, list).await;
    assert_eq!(foreign["statusCode"], 401, "{foreign}");
    // A wrong client secret: OAuth's 401, with its challenge.
    let mut wrong = event("apigw-v2-oauth-token.json");
    wrong["headers"]["authorization"] = "Basic ZXZlbnQtY2xpZW50Ondyb25n".into();
    let refused = invoke_event(&router, wrong).await;
    assert_eq!(refused["statusCode"], 401, "{refused}");
    assert_eq!(
        refused["headers"]["www-authenticate"],
        "Basic realm=\"scim\""
    );
    assert_eq!(body(&refused)["error"], "invalid_client");
}

#[tokio::test]
async fn a_tenants_event_lands_in_its_directory() {
    let (router, _dir) = router();
    let created = invoke(&router, "apigw-v2-tenant-create-user.json").await;
    assert_eq!(created["statusCode"], 201, "{created}");
    let user = body(&created);
    let location = format!(
        "https://abc123xyz0.execute-api.eu-west-1.amazonaws.com/scim/v2/acme/Users/{}",
        user["id"].as_str().unwrap_or_default()
    );
    assert_eq!(created["headers"]["location"], location.as_str());
    // The single-tenant directory does not have it, and its own user of the
    // same userName can still be created.
    let listed = invoke(&router, "apigw-v2-list-users.json").await;
    assert_eq!(body(&listed)["totalResults"], 0, "{listed}");
    let created = invoke(&router, "apigw-v2-create-user.json").await;
    assert_eq!(created["statusCode"], 201, "{created}");
}

/// Every file in `events/` runs through the Lambda path, in the order of
/// `events/manifest.json`, against one fresh store seeded as the README's
/// local invocation seeds it: `events/seed.ndjson` (the RFC 7643 example
/// resources the events name) loaded by `import`'s own code; each event
/// must answer its listed status.
#[tokio::test]
async fn every_event_file_gets_its_expected_status() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = scim_lambda::store::embedded::Embedded::open(&tmp.path().join("e.redb"))
        .unwrap_or_else(|e| panic!("{e}"));
    let table = scim_lambda::store::Table::new(Arc::new(db));
    let config = crate::common::config();
    let router = scim_lambda::app_router(&config, table.clone(), auth(tmp.path()))
        .unwrap_or_else(|e| panic!("{e}"));
    let service = scim_lambda::service(
        &config,
        table,
        scim_lambda::schemas(&config).unwrap_or_else(|e| panic!("{e}")),
    );
    let seed_path = format!("{}/events/seed.ndjson", env!("CARGO_MANIFEST_DIR"));
    let seed = std::fs::read_to_string(&seed_path).unwrap_or_else(|e| panic!("{e}"));
    for line in seed.lines() {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        let done = service
            .import_line(&line)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(
            done,
            scim_lambda::service::Imported::Created { .. }
        ));
    }

    let manifest_path = format!("{}/events/manifest.json", env!("CARGO_MANIFEST_DIR"));
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(&manifest_path).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let listed: Vec<&str> = manifest
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["file"].as_str())
        .collect();
    // Every v2 event file is in the manifest (the v1 one has its own test).
    let mut on_disk: Vec<String> =
        std::fs::read_dir(format!("{}/events", env!("CARGO_MANIFEST_DIR")))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("apigw-v2-") && n.ends_with(".json"))
            .collect();
    on_disk.sort();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted, on_disk,
        "events/manifest.json must list every apigw-v2 event"
    );
    for entry in manifest.as_array().into_iter().flatten() {
        let file = entry["file"].as_str().unwrap_or_default();
        let resp = invoke(&router, file).await;
        assert_eq!(resp["statusCode"], entry["status"], "{file}: {resp}");
        if resp["statusCode"].as_u64().is_some_and(|s| s >= 400) {
            assert_eq!(
                body(&resp)["schemas"][0],
                "urn:ietf:params:scim:api:messages:2.0:Error",
                "{file}"
            );
        }
    }
}
