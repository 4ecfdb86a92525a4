//! The service's logs: neither tokens nor personal data reach them, and each
//! request is one JSON line with what an operator needs. A process of its
//! own, with one test: tracing's subscribers are per thread, and other tests
//! logging in parallel would race with the capture.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

#[path = "scim/common.rs"]
#[allow(dead_code)]
mod common;

use common::{Harness, TOKEN};

#[tokio::test]
async fn logs_hold_no_tokens_and_no_personal_data_and_one_line_a_request() {
    tokens_never_reach_the_logs_at_any_level().await;
    info_logs_have_one_line_a_request_and_no_personal_data().await;
}

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
    // Two requests in a tenant's directory.
    let acme = h.add_tenant("acme");
    let r = h
        .send_as(
            &acme,
            "POST",
            "/scim/v2/acme/Users",
            Some(json!({"userName": "zyx.tenant@example.com"})),
        )
        .await;
    let tenant_user = r.body["id"].as_str().unwrap_or_default().to_string();
    h.send_as(
        &acme,
        "GET",
        &format!("/scim/v2/acme/Users/{tenant_user}"),
        None,
    )
    .await;
    // A Basic pair and an OAuth client: a token asked for (once with a
    // wrong secret), then used, and the pair used.
    let secrets = credentials_used(&h).await;
    (sink.text(), format!("{id} {acme} {secrets}"))
}

/// Gives the single-tenant directory a Basic pair and an OAuth client,
/// and makes 4 requests with them; the secrets they carried.
async fn credentials_used(h: &Harness) -> String {
    use base64::Engine;
    use scim_lambda::auth::{Credential, Kind, Scope, TenantsFileDoc};
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut doc = TenantsFileDoc::read(&h.tenants_file).unwrap_or_else(|e| panic!("{e}"));
    let mut set = doc.directory.take().unwrap_or_default();
    let mut pair = Credential::new(
        "pair".into(),
        Kind::Basic,
        Scope::ReadWrite,
        "basic-pw-zyx",
        0,
    );
    pair.username = Some("okta-zyx".into());
    set.credentials.push(pair);
    set.credentials.push(Credential::new(
        "client-zyx".into(),
        Kind::OauthClient,
        Scope::ReadWrite,
        "client-secret-zyx",
        0,
    ));
    doc.directory = Some(set);
    doc.write(&h.tenants_file).unwrap_or_else(|e| panic!("{e}"));
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let token = |secret: &'static str| {
        let authorization = format!("Basic {}", b64(&format!("client-zyx:{secret}")));
        async move {
            h.send_with(
                "POST",
                "/scim/v2/oauth2/token",
                None,
                &[form[0], ("authorization", &authorization)],
            )
            .await
        }
    };
    let granted = token("client-secret-zyx").await;
    token("wrong-client-secret-zyx").await;
    let access = granted.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    h.send_as(&access, "GET", "/scim/v2/Users", None).await;
    let basic = format!("Basic {}", b64("okta-zyx:basic-pw-zyx"));
    h.send_with("GET", "/scim/v2/Users", None, &[("authorization", &basic)])
        .await;
    format!(
        "{access} {} basic-pw-zyx client-secret-zyx wrong-client-secret-zyx",
        b64("okta-zyx:basic-pw-zyx")
    )
}

async fn tokens_never_reach_the_logs_at_any_level() {
    let (logs, ids) = captured_logs("trace").await;
    assert!(!logs.is_empty(), "nothing was logged");
    let tenant_token = ids.split(' ').nth(1).unwrap_or("(none)");
    let credentials: Vec<&str> = ids.split(' ').skip(2).collect();
    assert_eq!(credentials.len(), 5, "{ids}");
    for secret in [
        TOKEN,
        "wrong-but-secret-token-123",
        "Bearer",
        "Basic",
        tenant_token,
    ]
    .into_iter()
    .chain(credentials)
    {
        assert!(!logs.contains(secret), "{secret} is in the logs:\n{logs}");
    }
    assert!(!logs.to_lowercase().contains("authorization"), "{logs}");
}

async fn info_logs_have_one_line_a_request_and_no_personal_data() {
    let (logs, ids) = captured_logs("info").await;
    let id = ids.split(' ').next().unwrap_or_default().to_string();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    // 7 SCIM requests, 2 token requests, 2 with the new credentials.
    assert_eq!(requests.len(), 11, "{logs}");
    for r in &requests {
        let f = &r["fields"];
        for field in [
            "tenant",
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
    assert_eq!(get["fields"]["tenant"], "default", "{get}");
    // Requests in a tenant's directory carry its name, so that the lines
    // count requests and DynamoDB requests by tenant.
    let by_tenant: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| {
            (
                r["fields"]["tenant"].as_str().unwrap_or_default(),
                r["fields"]["route"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        by_tenant.iter().filter(|(t, _)| *t == "acme").count(),
        2,
        "{by_tenant:?}"
    );
    let tenant_get = requests
        .iter()
        .find(|r| r["fields"]["route"] == "/scim/v2/{tenant}/Users/{id}")
        .unwrap_or_else(|| panic!("no tenant GET by id in {logs}"));
    assert_eq!(tenant_get["fields"]["tenant"], "acme", "{tenant_get}");
    assert_eq!(tenant_get["fields"]["dynamodb_requests"], 2, "{tenant_get}");
    for personal in [
        "Zyxwvuts",
        "zyx.secret",
        "zyx.private",
        "555 0199",
        "zyx.broken",
        "zyx.tenant",
        id.as_str(),
    ] {
        assert!(
            !logs.contains(personal),
            "{personal} is in the logs:\n{logs}"
        );
    }
}
