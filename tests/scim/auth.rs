//! Authentication: every route refuses every token but the right one, and
//! neither tokens nor personal data reach the logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::common::{Harness, TOKEN};

/// Every route the service has, with a method it answers.
fn routes(user: &str, group: &str) -> Vec<(&'static str, String)> {
    let mut r: Vec<(&'static str, String)> = [
        "ServiceProviderConfig",
        "ResourceTypes",
        "ResourceTypes/User",
        "Schemas",
        "Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        "Users",
        "Groups",
        "nowhere",
    ]
    .iter()
    .map(|p| ("GET", format!("/scim/v2/{p}")))
    .collect();
    for (method, p) in [
        ("POST", "Users".to_string()),
        ("POST", "Groups".to_string()),
        ("POST", ".search".to_string()),
        ("POST", "Users/.search".to_string()),
        ("POST", "Groups/.search".to_string()),
        ("GET", format!("Users/{user}")),
        ("PUT", format!("Users/{user}")),
        ("PATCH", format!("Users/{user}")),
        ("DELETE", format!("Users/{user}")),
        ("GET", format!("Groups/{group}")),
        ("PUT", format!("Groups/{group}")),
        ("PATCH", format!("Groups/{group}")),
        ("DELETE", format!("Groups/{group}")),
    ] {
        r.push((method, format!("/scim/v2/{p}")));
    }
    r
}

/// `Authorization` values that must not open anything: missing, empty,
/// malformed, wrong, and almost right.
fn bad_authorizations() -> Vec<Option<String>> {
    let t = TOKEN;
    let mut flipped = t.as_bytes().to_vec();
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    let flipped = String::from_utf8_lossy(&flipped).into_owned();
    let other_same_length = "x".repeat(t.len());
    [
        None,
        Some(String::new()),
        Some(" ".into()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some(t.into()),
        Some(format!("Basic {t}")),
        Some(format!("Token {t}")),
        Some(format!("Bearer{t}")),
        Some(format!("Bearer {}", &t[..t.len() - 1])),
        Some(format!("Bearer {t}x")),
        Some(format!("Bearer x{t}")),
        Some(format!("Bearer {}", t.to_uppercase())),
        Some(format!("Bearer {flipped}")),
        Some(format!("Bearer {other_same_length}")),
        Some(format!("Bearer {t} {t}")),
        Some(format!("Bearer {t},Bearer {t}")),
        Some(format!("Bearer \"{t}\"")),
        Some("Bearer null".into()),
        Some("Bearer undefined".into()),
    ]
    .into_iter()
    .collect()
}

async fn every_route_refuses_every_token_but_the_right_one(h: Harness) {
    let user = h.create_user(json!({"userName": "auth@example.com"})).await;
    let uid = user["id"].as_str().unwrap_or_default().to_string();
    let group = h
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": "Auth"})),
        )
        .await;
    let gid = group.body["id"].as_str().unwrap_or_default().to_string();
    let before = h.requests();
    let mut tried = 0;
    for (method, path) in routes(&uid, &gid) {
        for auth in bad_authorizations() {
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| vec![("authorization", a)])
                .unwrap_or_default();
            let body = matches!(method, "POST" | "PUT" | "PATCH").then(|| "{}".to_string());
            let r = h.send_with(method, &path, body, &headers).await;
            let what = format!("{method} {path} with {auth:?}");
            assert_eq!(r.status, 401, "{what}: {}", r.body);
            assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{what}");
            assert_eq!(
                r.header("content-type"),
                Some("application/scim+json"),
                "{what}"
            );
            tried += 1;
        }
    }
    // Refused before anything is read or written.
    assert_eq!(h.requests() - before, Default::default());
    assert!(tried >= 400, "{tried}");
    // The scheme is case-insensitive (RFC 7235); the token is not.
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = h
            .send_with(
                "GET",
                &format!("/scim/v2/Users/{uid}"),
                None,
                &[("authorization", &format!("{scheme} {TOKEN}"))],
            )
            .await;
        assert_eq!(r.status, 200, "{scheme}");
    }
}

crate::on_both_drivers!(every_route_refuses_every_token_but_the_right_one);

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// Runs a conversation with the service's JSON logs captured at `level`.
async fn captured_logs(level: &str) -> (String, String) {
    let sink = Captured::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_writer(move || writer.clone())
        .finish();
    // This test runs on one thread: the subscriber sees every event.
    let _guard = tracing::subscriber::set_default(subscriber);
    let h = Harness::embedded().await;
    let secret_name = "Zyxwvuts Secretperson";
    let created = h
        .create_user(json!({"userName": "zyx.secret@example.com", "displayName": secret_name,
            "emails": [{"value": "zyx.private@example.com"}], "phoneNumbers": [{"value": "+1 555 0199"}]}))
        .await;
    let id = created["id"].as_str().unwrap_or_default().to_string();
    h.send("GET", &format!("/scim/v2/Users/{id}"), None).await;
    h.send(
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22zyx.secret@example.com%22",
        None,
    )
    .await;
    h.send_with(
        "GET",
        "/scim/v2/Users",
        None,
        &[("authorization", "Bearer wrong-but-secret-token-123")],
    )
    .await;
    h.send_with(
        "POST",
        "/scim/v2/Users",
        Some("{\"userName\": \"zyx.broken@example.com\", ".into()),
        &[("authorization", &format!("Bearer {TOKEN}"))],
    )
    .await;
    (sink.text(), id)
}

#[tokio::test]
async fn tokens_never_reach_the_logs_at_any_level() {
    let (logs, _) = captured_logs("trace").await;
    assert!(!logs.is_empty(), "nothing was logged");
    for secret in [TOKEN, "wrong-but-secret-token-123", "Bearer"] {
        assert!(!logs.contains(secret), "{secret} is in the logs:\n{logs}");
    }
    assert!(!logs.to_lowercase().contains("authorization"), "{logs}");
}

#[tokio::test]
async fn info_logs_have_one_line_a_request_and_no_personal_data() {
    let (logs, id) = captured_logs("info").await;
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 5, "{logs}");
    for r in &requests {
        let f = &r["fields"];
        for field in [
            "request_id",
            "method",
            "route",
            "status",
            "latency_ms",
            "dynamodb_requests",
        ] {
            assert!(!f[field].is_null(), "{field} missing in {r}");
        }
    }
    // The GET by id made 2 DynamoDB requests (the item, its edges; in no
    // group, so no BatchGetItem): the count is the request's own.
    let get = requests
        .iter()
        .find(|r| r["fields"]["route"] == "/scim/v2/Users/{id}")
        .unwrap_or_else(|| panic!("no GET by id in {logs}"));
    assert_eq!(get["fields"]["dynamodb_requests"], 2, "{get}");
    for personal in [
        "Zyxwvuts",
        "zyx.secret",
        "zyx.private",
        "555 0199",
        "zyx.broken",
        id.as_str(),
    ] {
        assert!(
            !logs.contains(personal),
            "{personal} is in the logs:\n{logs}"
        );
    }
}
