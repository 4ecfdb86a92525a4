//! The bearer token from Secrets Manager (moto standing in), cached and
//! refreshed so that a rotation is picked up without a redeploy.

use std::time::Duration;

use scim_lambda::auth::Auth;

use crate::common::Harness;

async fn client() -> aws_sdk_secretsmanager::Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL_SECRETS_MANAGER is not set: run scripts/test, which starts moto")
    });
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "tests only talk to loopback, not {endpoint}"
    );
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_secretsmanager::Client::new(&aws)
}

async fn harness_with(auth: Auth) -> (Harness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = scim_lambda::store::embedded::Embedded::open(&dir.path().join("s.redb"))
        .unwrap_or_else(|e| panic!("{e}"));
    let config = crate::common::config();
    let table = scim_lambda::store::Table::new(std::sync::Arc::new(db));
    let router =
        scim_lambda::app_router(&config, table.clone(), auth).unwrap_or_else(|e| panic!("{e}"));
    (Harness::from_router(router, table), dir)
}

async fn status_with(h: &Harness, token: &str) -> u16 {
    h.send_with(
        "GET",
        "/scim/v2/ServiceProviderConfig",
        None,
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
    .status
}

#[tokio::test]
#[ignore = "needs moto; scripts/test runs it"]
async fn accepts_the_secret_token_and_picks_up_a_rotation() {
    let sm = client().await;
    let name = format!("scim-token-{}", uuid::Uuid::new_v4());
    sm.create_secret()
        .name(&name)
        .secret_string("first-token-aaaaaaaa")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let auth = Auth::secrets_manager(sm.clone(), name.clone(), Duration::from_secs(1));
    let (h, _dir) = harness_with(auth).await;
    assert_eq!(status_with(&h, "first-token-aaaaaaaa").await, 200);
    assert_eq!(status_with(&h, "second-token-bbbbbbb").await, 401);

    // Rotate: a new current version, as JSON with a `token` field this time.
    sm.put_secret_value()
        .secret_id(&name)
        .secret_string(r#"{"token": "second-token-bbbbbbb"}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // Wait out the cache lifetime (1 s here), then the new token works and
    // the old one no longer does.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status_with(&h, "second-token-bbbbbbb").await, 200);
    assert_eq!(status_with(&h, "first-token-aaaaaaaa").await, 401);
}

#[tokio::test]
#[ignore = "needs moto; scripts/test runs it"]
async fn a_missing_secret_is_a_503_not_an_open_door() {
    let sm = client().await;
    let auth = Auth::secrets_manager(
        sm,
        format!("no-such-secret-{}", uuid::Uuid::new_v4()),
        Duration::from_secs(300),
    );
    let (h, _dir) = harness_with(auth).await;
    let r = h
        .send_with(
            "GET",
            "/scim/v2/Users",
            None,
            &[("authorization", "Bearer anything")],
        )
        .await;
    r.assert_error(503, None);
}

#[tokio::test]
#[ignore = "needs moto; scripts/test runs it"]
async fn rotate_token_stores_a_token_the_service_then_accepts() {
    let sm = client().await;
    let name = format!("scim-token-{}", uuid::Uuid::new_v4());
    sm.create_secret()
        .name(&name)
        .secret_string("before-rotation-token")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let (h, _dir) = harness_with(Auth::secrets_manager(
        sm.clone(),
        name.clone(),
        Duration::from_secs(1),
    ))
    .await;
    assert_eq!(status_with(&h, "before-rotation-token").await, 200);
    let token = scim_lambda::admin::secrets::rotate_token(&sm, &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(token.len(), 64, "256 bits, hex");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    // The secret's current value is the new token (read as AWSCURRENT).
    let stored = sm
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(stored.secret_string(), Some(token.as_str()));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status_with(&h, &token).await, 200);
    assert_eq!(status_with(&h, "before-rotation-token").await, 401);
    let again = scim_lambda::admin::secrets::rotate_token(&sm, &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(again, token);
}

#[tokio::test]
#[ignore = "needs moto; scripts/test runs it"]
async fn processes_sharing_the_cursor_key_secret_accept_each_others_cursors() {
    let sm = client().await;
    let shared = format!("scim-cursor-{}", uuid::Uuid::new_v4());
    let other = format!("scim-cursor-{}", uuid::Uuid::new_v4());
    sm.create_secret()
        .name(&shared)
        .secret_string("shared-cursor-key-0123456789")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    sm.create_secret()
        .name(&other)
        .secret_string("other-cursor-key-0123456789")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let app = |secret: &str, file: &str| {
        let mut c = crate::common::config();
        c.token = Some(crate::common::TOKEN.into());
        c.cursor_key_secret_id = Some(secret.into());
        c.db_path = dir.path().join(file);
        async move {
            scim_lambda::App::build(&c)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let a = app(&shared, "a.redb").await;
    let h = Harness::from_router(a.router, a.table);
    for i in 0..3 {
        h.create_user(serde_json::json!({"userName": format!("c{i}@example.com")}))
            .await;
    }
    let first = h
        .send("GET", "/scim/v2/Users?cursor=&count=1", None)
        .await
        .body;
    let cursor: String = form_urlencoded::byte_serialize(
        first["nextCursor"].as_str().unwrap_or_default().as_bytes(),
    )
    .collect();
    let next = format!("/scim/v2/Users?cursor={cursor}&count=1");
    let b = app(&shared, "b.redb").await;
    let page = Harness::from_router(b.router, b.table)
        .send("GET", &next, None)
        .await
        .body;
    assert_eq!(
        page["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse",
        "{page}"
    );
    let c = app(&other, "c.redb").await;
    let refused = Harness::from_router(c.router, c.table)
        .send("GET", &next, None)
        .await
        .body;
    assert_eq!(refused["scimType"], "invalidCursor", "{refused}");
}

#[tokio::test]
#[ignore = "needs moto; scripts/test runs it"]
async fn each_tenants_token_is_its_own_secret_and_opens_that_tenant_only() {
    use scim_lambda::admin::secrets;
    use scim_lambda::auth::{self, TenantSecrets, Tenants};
    use scim_lambda::tenant::TenantId;
    let sm = client().await;
    let prefix = format!("scim-{}/tenants/", uuid::Uuid::new_v4());
    let (acme, globex) = (
        TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
        TenantId::parse("globex").unwrap_or_else(|e| panic!("{e}")),
    );
    let acme_token = secrets::create_tenant_secret(&sm, &prefix, &acme)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let globex_token = secrets::create_tenant_secret(&sm, &prefix, &globex)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let again = secrets::create_tenant_secret(&sm, &prefix, &acme).await;
    assert!(again.is_err_and(|e| e.contains("already exists")));
    assert_eq!(
        secrets::list_tenant_secrets(&sm, &prefix).await,
        Ok(vec!["acme".to_string(), "globex".to_string()])
    );
    let tenants = Tenants::Secrets(TenantSecrets::new(
        sm.clone(),
        prefix.clone(),
        Duration::from_secs(1),
    ));
    let (h, _dir) = harness_with(Auth::tenants_only().with_tenants(tenants)).await;
    let status = |token: String, path: &'static str| {
        let h = &h;
        async move { h.send_as(&token, "GET", path, None).await.status }
    };
    assert_eq!(status(acme_token.clone(), "/scim/v2/acme/Users").await, 200);
    assert_eq!(
        status(globex_token.clone(), "/scim/v2/globex/Users").await,
        200
    );
    assert_eq!(
        status(acme_token.clone(), "/scim/v2/globex/Users").await,
        401
    );
    assert_eq!(
        status(globex_token.clone(), "/scim/v2/acme/Users").await,
        401
    );
    // No secret, no tenant; and no token opens the base path here.
    assert_eq!(
        status(acme_token.clone(), "/scim/v2/initech/Users").await,
        401
    );
    assert_eq!(status(acme_token.clone(), "/scim/v2/Users").await, 401);

    // A rotation of one tenant's token leaves the other's alone.
    let name = auth::tenant_secret_name(&prefix, &acme);
    let rotated = secrets::rotate_token(&sm, &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status(rotated.clone(), "/scim/v2/acme/Users").await, 200);
    assert_eq!(status(acme_token.clone(), "/scim/v2/acme/Users").await, 401);
    assert_eq!(
        status(globex_token.clone(), "/scim/v2/globex/Users").await,
        200
    );

    // Removal revokes: once the cache lifetime has passed, the token is
    // refused; removing again is not an error (a removal can be resumed).
    secrets::delete_tenant_secret(&sm, &prefix, &acme)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    secrets::delete_tenant_secret(&sm, &prefix, &acme)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status(rotated, "/scim/v2/acme/Users").await, 401);
    assert_eq!(
        secrets::list_tenant_secrets(&sm, &prefix).await,
        Ok(vec!["globex".to_string()])
    );
}

#[tokio::test]
#[ignore = "needs moto; scripts/test runs it"]
async fn made_up_tenants_cannot_run_up_secret_reads() {
    use scim_lambda::auth::{TenantSecrets, Tenants};
    let sm = client().await;
    let prefix = format!("scim-{}/tenants/", uuid::Uuid::new_v4());
    let tenants = Tenants::Secrets(TenantSecrets::new(sm, prefix, Duration::from_secs(300)));
    let (h, _dir) = harness_with(Auth::tenants_only().with_tenants(tenants)).await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = h
            .send_as("guess", "GET", &format!("/scim/v2/made-up-{i}/Users"), None)
            .await;
        if r.status == 503 {
            assert_eq!(r.header("retry-after"), Some("1"));
        }
        statuses.push(r.status);
    }
    // A few secret reads a second, then 503 until the next second: never a
    // 200, and no read per request.
    assert_eq!(statuses[0], 401, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    assert!(statuses.contains(&503), "{statuses:?}");
    // Once the second has passed, the names already seen are answered from
    // the cache (an absent secret is read again only after the TTL): all
    // of them at once, without a read, so never over the ration.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for i in 0..5 {
        let r = h
            .send_as("guess", "GET", &format!("/scim/v2/made-up-{i}/Users"), None)
            .await;
        assert_eq!(r.status, 401, "made-up-{i}: {}", r.body);
    }
}

/// Runs the built binary's `credentials` command on the single-tenant
/// directory whose credentials are the secret `secret` (moto); its stdout.
fn credentials_command(secret: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-lambda"))
        .arg("credentials")
        .args(args)
        .env("SCIM_TOKEN_SECRET_ID", secret)
        .env_remove("TABLE_NAME")
        .env_remove("SCIM_TENANT_SECRET_PREFIX")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "credentials {args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn printed(stdout: &str, label: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {label} in {stdout}"))
}

#[tokio::test]
#[ignore = "needs moto; scripts/test runs it"]
async fn credentials_in_secrets_manager_rotate_with_overlap_and_revoke() {
    use base64::Engine;
    let sm = client().await;
    let name = format!("scim-credentials-{}", uuid::Uuid::new_v4());
    // As the template leaves it: a bare generated token.
    sm.create_secret()
        .name(&name)
        .secret_string("template-generated-token-0123")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let out = credentials_command(&name, &["add", "--kind", "oauth-client"]);
    let (id, first) = (printed(&out, "Client ID:"), printed(&out, "Client secret:"));
    let out = credentials_command(
        &name,
        &[
            "add",
            "--kind",
            "basic",
            "--scope",
            "read-only",
            "--username",
            "auditor",
        ],
    );
    let password = printed(&out, "Password:");
    // Digests only, in a new current version; the bare token's version is
    // kept as AWSPREVIOUS.
    let stage = |stage: &'static str| {
        let sm = sm.clone();
        let name = name.clone();
        async move {
            sm.get_secret_value()
                .secret_id(&name)
                .version_stage(stage)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e:?}"))
                .secret_string()
                .unwrap_or_default()
                .to_string()
        }
    };
    let current = stage("AWSCURRENT").await;
    assert!(current.contains("\"credentials\""), "{current}");
    for secret in [&first, &password, "template-generated-token-0123"] {
        assert!(!current.contains(secret), "{current}");
    }
    assert!(stage("AWSPREVIOUS").await.contains("\"oauth-client\""));

    let (h, _dir) = harness_with(Auth::secrets_manager(
        sm.clone(),
        name.clone(),
        Duration::from_secs(1),
    ))
    .await;
    let token_status = |secret: String| {
        let h = &h;
        let id = id.clone();
        async move {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            let r = h
                .send_with(
                    "POST",
                    "/scim/v2/oauth2/token",
                    None,
                    &[
                        ("authorization", &format!("Basic {basic}")),
                        ("content-type", "application/x-www-form-urlencoded"),
                    ],
                )
                .await;
            (
                r.status,
                r.body["access_token"].as_str().map(str::to_string),
            )
        }
    };
    // The template's token still opens the directory.
    assert_eq!(status_with(&h, "template-generated-token-0123").await, 200);
    let (status, access) = token_status(first.clone()).await;
    assert_eq!(status, 200);
    let access = access.unwrap_or_default();
    assert_eq!(status_with(&h, &access).await, 200);
    let auditor = base64::engine::general_purpose::STANDARD.encode(format!("auditor:{password}"));
    let auditor = format!("Basic {auditor}");
    let r = h
        .send_with(
            "GET",
            "/scim/v2/Users",
            None,
            &[("authorization", &auditor)],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = h
        .send_with(
            "POST",
            "/scim/v2/Users",
            Some(r#"{"userName": "x@example.com"}"#.into()),
            &[("authorization", &auditor)],
        )
        .await;
    r.assert_error(403, None);

    // Rotated with the default overlap: both secrets work.
    let second = printed(
        &credentials_command(&name, &["rotate", &id]),
        "Client secret:",
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        token_status(first.clone()).await.0,
        200,
        "old, in the overlap"
    );
    assert_eq!(token_status(second.clone()).await.0, 200, "new");
    // Rotated without overlap: only the newest.
    let third = printed(
        &credentials_command(&name, &["rotate", &id, "--overlap-hours", "0"]),
        "Client secret:",
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(token_status(first.clone()).await.0, 401);
    assert_eq!(token_status(second).await.0, 401);
    assert_eq!(token_status(third.clone()).await.0, 200);
    let listed = credentials_command(&name, &["list"]);
    assert!(
        listed.contains(&id) && listed.contains("auditor"),
        "{listed}"
    );

    // Revoked: no token, and the tokens it was given stop within the TTL.
    credentials_command(&name, &["revoke", &id]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(token_status(third).await.0, 401);
    assert_eq!(status_with(&h, &access).await, 401);
    assert_eq!(status_with(&h, "template-generated-token-0123").await, 200);
}

#[tokio::test]
#[ignore = "needs moto; scripts/test runs it"]
async fn a_flood_of_made_up_clients_at_token_endpoints_is_rationed() {
    use scim_lambda::auth::{TenantSecrets, Tenants};
    let sm = client().await;
    let prefix = format!("scim-{}/tenants/", uuid::Uuid::new_v4());
    let tenants = Tenants::Secrets(TenantSecrets::new(sm, prefix, Duration::from_secs(300)));
    let (h, _dir) = harness_with(Auth::tenants_only().with_tenants(tenants)).await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = h
            .send_with(
                "POST",
                &format!("/scim/v2/made-up-{i}/oauth2/token"),
                None,
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    // "guess:guess"
                    ("authorization", "Basic Z3Vlc3M6Z3Vlc3M="),
                ],
            )
            .await;
        assert_eq!(r.header("cache-control"), Some("no-store"));
        match r.status {
            401 => assert_eq!(r.body["error"], "invalid_client"),
            503 => {
                assert_eq!(r.header("retry-after"), Some("1"));
                assert_eq!(r.body["error"], "temporarily_unavailable");
            }
            s => panic!("{s}: {}", r.body),
        }
        statuses.push(r.status);
    }
    // A few secret reads a second, then 503 until the next one.
    assert_eq!(statuses[0], 401, "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
}
