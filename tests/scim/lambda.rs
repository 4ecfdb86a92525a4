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

/// The events' tokens: the single-tenant one, and tenant acme's in a
/// tenants file in `dir`.
fn auth(dir: &std::path::Path) -> Auth {
    let file = dir.join("tenants.json");
    let doc = serde_json::json!({"tenants": {"acme": {"token": TENANT_EVENT_TOKEN}}});
    std::fs::write(&file, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    Auth::fixed(EVENT_TOKEN.into()).with_tenants(Tenants::File(TenantsFile::new(file)))
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
/// `events/manifest.json`, against one fresh store seeded with the RFC 7643
/// example resources the events name; each must answer its listed status.
#[tokio::test]
async fn every_event_file_gets_its_expected_status() {
    use scim_lambda::scim::resource::Meta;
    use scim_lambda::store::{Directory, Edge, Stored};

    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = scim_lambda::store::embedded::Embedded::open(&tmp.path().join("e.redb"))
        .unwrap_or_else(|e| panic!("{e}"));
    let table = scim_lambda::store::Table::new(Arc::new(db));
    let router = scim_lambda::app_router(&crate::common::config(), table.clone(), auth(tmp.path()))
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = Directory::new(table);
    let seed = |id: &str, doc: Value| Stored {
        meta: Meta {
            id: id.into(),
            created: "2026-01-01T00:00:00Z".into(),
            last_modified: "2026-01-01T00:00:00Z".into(),
            version: 1,
        },
        doc: doc.as_object().cloned().unwrap_or_default(),
    };
    let bjensen = "2819c223-7f76-453a-919d-413861904646";
    let users = [
        seed(
            bjensen,
            serde_json::json!({"userName": "bjensen@example.com", "externalId": "701984", "displayName": "Babs Jensen",
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]}),
        ),
        seed(
            "26118915-6090-4610-87e4-49d8ca9f808d",
            serde_json::json!({"userName": "jsmith@example.com"}),
        ),
    ];
    let group = "e9e30dba-f08f-4109-8486-d5c6a331660a";
    dir.import(scim_lambda::scim::Kind::User, &users)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    dir.import(
        scim_lambda::scim::Kind::Group,
        &[seed(
            group,
            serde_json::json!({"displayName": "Tour Guides"}),
        )],
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let edge = Edge {
        group_id: group.into(),
        member_id: bjensen.into(),
        member_type: scim_lambda::scim::Kind::User,
    };
    dir.write_edges(&[edge], &[])
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

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
