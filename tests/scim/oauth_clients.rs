//! OAuth clients nobody here wrote, against the token endpoint over
//! loopback HTTP: Authlib (client_secret_basic and client_secret_post, and
//! its own refetch once a token expires), requests-oauthlib's
//! `BackendApplicationClient`, and the ConnId connector's exact token
//! request (no grant_type, a raw form, a new token on 401). They run from
//! the test venv (`scripts/lib/oauth_client.py`).

use std::time::Duration;

use scim_lambda::auth::{Credential, Kind, Scope, TenantsFileDoc};
use serde_json::Value;

use crate::common::{Driver, Harness, config};

const CLIENT: &str = "library-client";
const SECRET: &str = "library-client-secret-0123456789abcdef";

/// The router served on a free loopback port; its base URL.
async fn serve(h: &Harness) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let router = h.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/scim/v2")
}

fn give_client(h: &Harness) {
    let mut doc = TenantsFileDoc::read(&h.tenants_file).unwrap_or_else(|e| panic!("{e}"));
    let mut set = doc.directory.take().unwrap_or_default();
    set.credentials.push(Credential::new(
        CLIENT.into(),
        Kind::OauthClient,
        Scope::ReadWrite,
        SECRET,
        0,
    ));
    doc.directory = Some(set);
    doc.write(&h.tenants_file).unwrap_or_else(|e| panic!("{e}"));
}

/// Runs the client script in one mode; its JSON answer.
async fn client(mode: &str, base: &str, secret: &str, extra: &[&str]) -> Value {
    let python = std::env::var("SCIM_TEST_PYTHON")
        .unwrap_or_else(|_| panic!("SCIM_TEST_PYTHON is not set: run scripts/test"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lib/oauth_client.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .arg(mode)
        .args(["--token-url", &format!("{base}/oauth2/token")])
        .args(["--client-id", CLIENT, "--client-secret", secret])
        .args(["--users-url", &format!("{base}/Users")])
        .args(extra)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{mode}: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{mode}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

async fn independent_oauth_clients_get_tokens_use_them_and_get_new_ones_after_expiry(
    driver: Driver,
) {
    let mut c = config();
    c.credentials.access_token_lifetime = Duration::from_secs(2);
    let h = driver.harness(&c).await;
    give_client(&h);
    let base = serve(&h).await;
    let modes = [
        "authlib-basic",
        "authlib-post",
        "oauthlib-backend",
        "connid",
    ];
    let runs = modes
        .iter()
        .map(|m| client(m, &base, SECRET, &["--wait-expiry"]));
    let answers = futures_util::future::join_all(runs).await;
    for (mode, a) in modes.iter().zip(&answers) {
        let tokens = a["tokens"].as_array().map_or(0, Vec::len);
        assert_eq!(
            tokens, 2,
            "{mode}: a token, then a new one after expiry: {a:#}"
        );
        assert_eq!(a["expired_token_status"], 401, "{mode}: {a:#}");
        let statuses: Vec<u64> = a["statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect();
        // ConnId meets the expired token's 401 itself, then fetches anew.
        let want: &[u64] = if *mode == "connid" {
            &[200, 401, 200]
        } else {
            &[200, 200]
        };
        assert_eq!(statuses, want, "{mode}: {a:#}");
        for r in a["token_responses"].as_array().into_iter().flatten() {
            assert_eq!(r["status"], 200, "{mode}: {a:#}");
            assert_eq!(r["cache_control"], "no-store", "{mode}: {a:#}");
        }
        assert!(
            a["token_types"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|t| t.as_str().is_some_and(|t| t.eq_ignore_ascii_case("bearer"))),
            "{mode}: {a:#}"
        );
    }
    // Authlib refetched on its own, seeing expires_in.
    for a in &answers[..2] {
        assert_eq!(a["refetched_automatically"], true, "{a:#}");
    }
    // The connector sent what it sends: no grant_type, the client in the form.
    let connid = &answers[3]["token_request"];
    assert_eq!(connid["authorization_scheme"], Value::Null, "{connid}");
    assert!(
        connid["body"]
            .as_str()
            .is_some_and(|b| b.contains("client_id=") && !b.contains("grant_type")),
        "{connid}"
    );
}

async fn independent_oauth_clients_surface_rfc_6749_errors(driver: Driver) {
    let h = driver.harness(&config()).await;
    give_client(&h);
    let base = serve(&h).await;
    for mode in ["authlib-basic", "authlib-post", "oauthlib-backend"] {
        let a = client(mode, &base, "not-the-secret", &["--expect-error"]).await;
        assert_eq!(a["error"], "invalid_client", "{mode}: {a:#}");
        assert_eq!(a["status"], 401, "{mode}: {a:#}");
    }
    let a = client(
        "authlib-basic",
        &base,
        SECRET,
        &["--expect-error", "--scope", "admin"],
    )
    .await;
    assert_eq!(
        (&a["error"], &a["status"]),
        (&"invalid_scope".into(), &400.into()),
        "{a:#}"
    );
    let a = client("authlib-basic", &base, SECRET, &["--scope", "read-only"]).await;
    assert_eq!(a["scope"][0], "read-only", "{a:#}");
}

/// Each scenario on both drivers; all need the test venv (and DynamoDB
/// Local), so a bare `cargo test` leaves them to `scripts/test`.
macro_rules! with_the_venv {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs the test venv's Authlib and requests-oauthlib (scripts/test sets SCIM_TEST_PYTHON)"]
                async fn $name() {
                    super::$name($crate::common::Driver::Embedded).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs the test venv and DynamoDB Local; scripts/test runs it"]
                async fn $name() {
                    super::$name($crate::common::Driver::DynamoDb).await
                }
            )*
        }
    };
}

with_the_venv!(
    independent_oauth_clients_get_tokens_use_them_and_get_new_ones_after_expiry,
    independent_oauth_clients_surface_rfc_6749_errors,
);
