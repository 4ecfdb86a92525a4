//! Credentials beyond the bearer token, on both drivers: HTTP Basic pairs,
//! OAuth clients and the access tokens of the token endpoint, read-only
//! scope, expiry, revocation, rotation overlaps, and one directory's
//! credentials never opening another's. Credentials are written to the
//! harness's tenants file as `credentials add` writes them (its own runs
//! are in tests/cli.rs and, on Secrets Manager, in secrets.rs).

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use scim_lambda::auth::{Credential, CredentialSet, Kind, Scope, TenantsFileDoc};
use serde_json::{Value, json};

use crate::auth::routes;
use crate::common::{Driver, Harness, Resp, TOKEN, config};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A directory's credentials in the harness's file (None: the
/// single-tenant directory's), changed by `edit`.
fn edit_credentials(h: &Harness, tenant: Option<&str>, edit: impl FnOnce(&mut CredentialSet)) {
    let mut doc = TenantsFileDoc::read(&h.tenants_file).unwrap_or_else(|e| panic!("{e}"));
    match tenant {
        None => {
            let mut set = doc.directory.take().unwrap_or_default();
            edit(&mut set);
            doc.directory = Some(set);
        }
        Some(t) => {
            let entry = doc.tenants.entry(t.to_string()).or_default();
            let mut set = entry.set();
            edit(&mut set);
            entry.token_sha256 = None;
            entry.token = None;
            entry.credentials = set.credentials;
        }
    }
    doc.write(&h.tenants_file).unwrap_or_else(|e| panic!("{e}"));
}

/// Adds a credential; returns its secret.
fn add(h: &Harness, tenant: Option<&str>, id: &str, kind: Kind, scope: Scope) -> String {
    let secret = format!("{id}-secret-{}", uuid::Uuid::new_v4().simple());
    let mut c = Credential::new(id.into(), kind, scope, &secret, now());
    if kind == Kind::Basic {
        c.username = Some(format!("{id}-user"));
    }
    edit_credentials(h, tenant, |set| set.credentials.push(c));
    secret
}

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// POSTs a form to a token endpoint.
async fn token_request(h: &Harness, path: &str, authorization: Option<&str>, form: &str) -> Resp {
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "scim.example.test")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let req = req
        .body(Body::from(form.to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, headers, bytes) = h.exchange(req).await;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}

/// An access token of the directory at `base` for this client.
async fn access_token(h: &Harness, base: &str, id: &str, secret: &str, form: &str) -> String {
    let r = token_request(
        h,
        &format!("{base}/oauth2/token"),
        Some(&basic(id, secret)),
        form,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.body))
        .to_string()
}

async fn status_with(h: &Harness, authorization: &str, method: &str, path: &str) -> u16 {
    let body = matches!(method, "POST" | "PUT" | "PATCH").then(|| "{}".to_string());
    h.send_with(method, path, body, &[("authorization", authorization)])
        .await
        .status
}

/// A user and a group to aim the routes at.
async fn targets(h: &Harness) -> (String, String) {
    let user = h.create_user(json!({"userName": "cred@example.com"})).await;
    let group = h
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": "Cred"})),
        )
        .await;
    (
        user["id"].as_str().unwrap_or_default().to_string(),
        group.body["id"].as_str().unwrap_or_default().to_string(),
    )
}

/// The `Authorization` values of one credential of each kind (the OAuth
/// client's by both client authentications) of the single-tenant directory.
async fn one_of_each(h: &Harness, scope: Scope) -> Vec<(String, String)> {
    let tag = scope.as_str();
    let bearer = add(h, None, &format!("bearer-{tag}"), Kind::Bearer, scope);
    let pw = add(h, None, &format!("basic-{tag}"), Kind::Basic, scope);
    let client = format!("client-{tag}");
    let cs = add(h, None, &client, Kind::OauthClient, scope);
    let by_basic = access_token(h, "/scim/v2", &client, &cs, "grant_type=client_credentials").await;
    let by_form = access_token(
        h,
        "/scim/v2",
        &client,
        &cs,
        &format!("client_id={client}&client_secret={cs}"),
    )
    .await;
    vec![
        ("bearer".into(), format!("Bearer {bearer}")),
        ("basic".into(), basic(&format!("basic-{tag}-user"), &pw)),
        ("access token (Basic)".into(), format!("Bearer {by_basic}")),
        ("access token (form)".into(), format!("Bearer {by_form}")),
    ]
}

async fn every_kind_of_credential_opens_every_route(h: Harness) {
    let (uid, gid) = targets(&h).await;
    for (what, authorization) in one_of_each(&h, Scope::ReadWrite).await {
        for (method, path) in routes(&uid, &gid) {
            let status = status_with(&h, &authorization, method, &path).await;
            assert!(
                status != 401 && status != 403,
                "{what}: {method} {path} got {status}"
            );
        }
        // Writes go through (the routes above sent empty bodies).
        let r = h
            .send_with(
                "POST",
                "/scim/v2/Users",
                Some(json!({"userName": format!("{what}@example.com")}).to_string()),
                &[("authorization", &authorization)],
            )
            .await;
        assert_eq!(r.status, 201, "{what}: {}", r.body);
    }
}

async fn read_only_credentials_read_and_search_and_get_403_for_every_write(h: Harness) {
    let (uid, gid) = targets(&h).await;
    let mut all = one_of_each(&h, Scope::ReadOnly).await;
    // A read-write client may ask for a read-only token.
    let cs = add(&h, None, "rw-client", Kind::OauthClient, Scope::ReadWrite);
    let narrowed = access_token(&h, "/scim/v2", "rw-client", &cs, "scope=read-only").await;
    all.push(("narrowed access token".into(), format!("Bearer {narrowed}")));
    let before = h.send("GET", &format!("/scim/v2/Users/{uid}"), None).await;
    for (what, authorization) in &all {
        for (method, path) in routes(&uid, &gid) {
            let reads = method == "GET" || path.ends_with("/.search");
            let requests = h.requests();
            let r = h
                .send_with(
                    method,
                    &path,
                    (method != "GET" && method != "DELETE").then(|| "{}".to_string()),
                    &[("authorization", authorization)],
                )
                .await;
            if reads {
                assert!(
                    r.status != 401 && r.status != 403,
                    "{what}: {method} {path} got {}",
                    r.status
                );
            } else {
                r.assert_error(403, None);
                assert_eq!(
                    h.requests() - requests,
                    Default::default(),
                    "{what}: {method} {path} touched the table"
                );
            }
        }
    }
    // Nothing changed.
    let after = h.send("GET", &format!("/scim/v2/Users/{uid}"), None).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.body, before.body);
    assert_eq!(
        h.send("GET", &format!("/scim/v2/Groups/{gid}"), None)
            .await
            .status,
        200
    );
    // A read-only client cannot ask for more.
    let ro = add(&h, None, "ro-client-2", Kind::OauthClient, Scope::ReadOnly);
    let r = token_request(
        &h,
        "/scim/v2/oauth2/token",
        Some(&basic("ro-client-2", &ro)),
        "scope=read-write",
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
}

async fn expired_revoked_foreign_and_almost_right_credentials_get_401(h: Harness) {
    h.add_tenant("acme");
    h.add_tenant("globex");
    let acme_pw = add(
        &h,
        Some("acme"),
        "acme-basic",
        Kind::Basic,
        Scope::ReadWrite,
    );
    let acme_cs = add(
        &h,
        Some("acme"),
        "acme-client",
        Kind::OauthClient,
        Scope::ReadWrite,
    );
    let globex_cs = add(
        &h,
        Some("globex"),
        "globex-client",
        Kind::OauthClient,
        Scope::ReadWrite,
    );
    let acme_token = access_token(&h, "/scim/v2/acme", "acme-client", &acme_cs, "").await;
    let acme_basic = basic("acme-basic-user", &acme_pw);
    let acme_bearer = format!("Bearer {acme_token}");
    assert_eq!(
        status_with(&h, &acme_bearer, "GET", "/scim/v2/acme/Users").await,
        200
    );
    assert_eq!(
        status_with(&h, &acme_basic, "GET", "/scim/v2/acme/Users").await,
        200
    );
    // Another directory's credentials open nothing here, and the client of
    // one directory gets no token at another's endpoint.
    for path in [
        "/scim/v2/globex/Users",
        "/scim/v2/Users",
        "/scim/v2/initech/Users",
    ] {
        assert_eq!(
            status_with(&h, &acme_bearer, "GET", path).await,
            401,
            "{path}"
        );
        assert_eq!(
            status_with(&h, &acme_basic, "GET", path).await,
            401,
            "{path}"
        );
    }
    for (path, id, secret) in [
        (
            "/scim/v2/globex/oauth2/token",
            "acme-client",
            acme_cs.as_str(),
        ),
        ("/scim/v2/oauth2/token", "acme-client", acme_cs.as_str()),
        (
            "/scim/v2/acme/oauth2/token",
            "globex-client",
            globex_cs.as_str(),
        ),
    ] {
        let r = token_request(&h, path, Some(&basic(id, secret)), "").await;
        assert_eq!(r.status, 401, "{path} {id}");
        assert_eq!(r.body["error"], "invalid_client");
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"scim\""));
    }
    // A client id both directories have (ids are per directory): each
    // directory's token still opens only its own.
    let shared_acme = add(
        &h,
        Some("acme"),
        "shared-client",
        Kind::OauthClient,
        Scope::ReadWrite,
    );
    add(
        &h,
        Some("globex"),
        "shared-client",
        Kind::OauthClient,
        Scope::ReadWrite,
    );
    let shared = access_token(&h, "/scim/v2/acme", "shared-client", &shared_acme, "").await;
    let shared = format!("Bearer {shared}");
    assert_eq!(
        status_with(&h, &shared, "GET", "/scim/v2/acme/Users").await,
        200
    );
    assert_eq!(
        status_with(&h, &shared, "GET", "/scim/v2/globex/Users").await,
        401
    );
    // Almost right.
    let mut flipped = acme_pw.clone().into_bytes();
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    let flipped = String::from_utf8_lossy(&flipped).into_owned();
    for authorization in [
        basic("acme-basic-user", &flipped),
        basic("ACME-BASIC-USER", &acme_pw),
        basic("acme-basic", &acme_pw),
        basic("acme-basic-user", &acme_pw[..acme_pw.len() - 1]),
        basic("acme-client", &acme_cs),
        format!("Bearer {acme_cs}"),
        format!("Bearer {}", &acme_token[..acme_token.len() - 2]),
        format!("Bearer {acme_token}x"),
    ] {
        assert_eq!(
            status_with(&h, &authorization, "GET", "/scim/v2/acme/Users").await,
            401,
            "{authorization}"
        );
    }
    let r = token_request(
        &h,
        "/scim/v2/acme/oauth2/token",
        Some(&basic("acme-client", &flipped)),
        "",
    )
    .await;
    assert_eq!(r.status, 401);
    // Expired: the client gets no token, and the tokens it has stop.
    edit_credentials(&h, Some("acme"), |set| {
        for c in &mut set.credentials {
            c.expires = Some(now() - 1);
        }
    });
    let r = token_request(
        &h,
        "/scim/v2/acme/oauth2/token",
        Some(&basic("acme-client", &acme_cs)),
        "",
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(
        status_with(&h, &acme_bearer, "GET", "/scim/v2/acme/Users").await,
        401
    );
    assert_eq!(
        status_with(&h, &acme_basic, "GET", "/scim/v2/acme/Users").await,
        401
    );
    // Revoked: globex's client and its token.
    let globex_token = access_token(&h, "/scim/v2/globex", "globex-client", &globex_cs, "").await;
    let globex_bearer = format!("Bearer {globex_token}");
    assert_eq!(
        status_with(&h, &globex_bearer, "GET", "/scim/v2/globex/Users").await,
        200
    );
    edit_credentials(&h, Some("globex"), |set| {
        set.credentials.retain(|c| c.id != "globex-client")
    });
    assert_eq!(
        status_with(&h, &globex_bearer, "GET", "/scim/v2/globex/Users").await,
        401
    );
    // The tenants' tokens of `tenant add` still open their directories.
    assert_eq!(
        h.send("GET", "/scim/v2/Users", None).await.status,
        200,
        "the single-tenant token ({TOKEN})"
    );
}

async fn a_rotated_secret_opens_during_its_overlap_then_only_the_new_one(h: Harness) {
    let pw = add(&h, None, "rot-basic", Kind::Basic, Scope::ReadWrite);
    let cs = add(&h, None, "rot-client", Kind::OauthClient, Scope::ReadWrite);
    let (pw2, cs2) = (
        "rotated-password-2".to_string(),
        "rotated-client-secret-2".to_string(),
    );
    // Rotated with an overlap of 2 s.
    let t = now();
    edit_credentials(&h, None, |set| {
        for c in &mut set.credentials {
            match c.id.as_str() {
                "rot-basic" => c.rotate(&pw2, t, t + 2),
                "rot-client" => c.rotate(&cs2, t, t + 2),
                _ => {}
            }
        }
    });
    let opens = |pw: String, cs: String| {
        let h = &h;
        async move {
            let b = status_with(h, &basic("rot-basic-user", &pw), "GET", "/scim/v2/Users").await;
            let c = token_request(
                h,
                "/scim/v2/oauth2/token",
                Some(&basic("rot-client", &cs)),
                "",
            )
            .await
            .status;
            (b, c)
        }
    };
    assert_eq!(
        opens(pw.clone(), cs.clone()).await,
        (200, 200),
        "old, in the overlap"
    );
    assert_eq!(opens(pw2.clone(), cs2.clone()).await, (200, 200), "new");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        opens(pw.clone(), cs.clone()).await,
        (401, 401),
        "old, after the overlap"
    );
    assert_eq!(
        opens(pw2.clone(), cs2.clone()).await,
        (200, 200),
        "new, after"
    );
    // Rotated again without overlap: the second secret stops at once.
    let t = now();
    edit_credentials(&h, None, |set| {
        if let Some(c) = set.get_mut("rot-basic") {
            c.rotate("rotated-password-3", t, t);
        }
    });
    let old = status_with(&h, &basic("rot-basic-user", &pw2), "GET", "/scim/v2/Users").await;
    let new = status_with(
        &h,
        &basic("rot-basic-user", "rotated-password-3"),
        "GET",
        "/scim/v2/Users",
    )
    .await;
    assert_eq!((old, new), (401, 200));
}

async fn the_token_endpoint_answers_as_rfc_6749_asks(h: Harness) {
    let cs = add(&h, None, "rfc-client", Kind::OauthClient, Scope::ReadWrite);
    let path = "/scim/v2/oauth2/token";
    let good = basic("rfc-client", &cs);
    let r = token_request(&h, path, Some(&good), "grant_type=client_credentials").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3600);
    assert_eq!(r.body["scope"], "read-write");
    // ConnId's request: the client in the form, no grant_type, a leading &.
    let connid = format!("&client_id=rfc-client&client_secret={cs}");
    assert_eq!(token_request(&h, path, None, &connid).await.status, 200);
    // Entra ID's "both": header and form naming the same client.
    let both = format!("grant_type=client_credentials&client_id=rfc-client&client_secret={cs}");
    assert_eq!(
        token_request(&h, path, Some(&good), &both).await.status,
        200
    );
    let refusals = [
        (
            None,
            "grant_type=client_credentials".to_string(),
            401,
            "invalid_client",
        ),
        (
            Some(basic("rfc-client", "wrong")),
            String::new(),
            401,
            "invalid_client",
        ),
        (
            Some(good.clone()),
            "grant_type=password".into(),
            400,
            "unsupported_grant_type",
        ),
        (
            Some(good.clone()),
            "grant_type=a&grant_type=a".into(),
            400,
            "invalid_request",
        ),
        (
            Some(good.clone()),
            "client_secret=other".into(),
            400,
            "invalid_request",
        ),
        (
            Some(good.clone()),
            "scope=admin".into(),
            400,
            "invalid_scope",
        ),
    ];
    for (authorization, form, status, error) in refusals {
        let r = token_request(&h, path, authorization.as_deref(), &form).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (status, Some(error)),
            "{form}"
        );
        assert!(
            r.body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(
            r.header("www-authenticate").is_some(),
            status == 401,
            "{form}"
        );
    }
    // Not a form.
    let r = h
        .send_with("POST", path, Some("{}".into()), &[("authorization", &good)])
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // Discovery names the schemes.
    let spc = h.send("GET", "/scim/v2/ServiceProviderConfig", None).await;
    let types: Vec<&str> = spc.body["authenticationSchemes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["type"].as_str())
        .collect();
    assert_eq!(types, ["oauthbearertoken", "oauth2", "httpbasic"]);
    assert!(
        spc.body["authenticationSchemes"][1]["description"]
            .as_str()
            .is_some_and(|d| d.contains("http://scim.example.test/scim/v2/oauth2/token"))
    );
}

crate::on_both_drivers!(
    every_kind_of_credential_opens_every_route,
    read_only_credentials_read_and_search_and_get_403_for_every_write,
    expired_revoked_foreign_and_almost_right_credentials_get_401,
    a_rotated_secret_opens_during_its_overlap_then_only_the_new_one,
    the_token_endpoint_answers_as_rfc_6749_asks,
);

async fn an_access_token_stops_working_when_it_expires(driver: Driver) {
    let mut c = config();
    c.credentials.access_token_lifetime = Duration::from_secs(1);
    let h = driver.harness(&c).await;
    let cs = add(
        &h,
        None,
        "short-client",
        Kind::OauthClient,
        Scope::ReadWrite,
    );
    let r = token_request(
        &h,
        "/scim/v2/oauth2/token",
        Some(&basic("short-client", &cs)),
        "",
    )
    .await;
    assert_eq!(r.body["expires_in"], 1);
    let bearer = format!(
        "Bearer {}",
        r.body["access_token"].as_str().unwrap_or_default()
    );
    assert_eq!(status_with(&h, &bearer, "GET", "/scim/v2/Users").await, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = h
        .send_with("GET", "/scim/v2/Users", None, &[("authorization", &bearer)])
        .await;
    r.assert_error(401, None);
}

crate::on_both_drivers_with_config!(an_access_token_stops_working_when_it_expires);
