//! Authentication: every route refuses every token but the right one. (That
//! tokens never reach the logs is tests/logs.rs, in a process of its own.)

use serde_json::json;

use crate::common::{Harness, TOKEN};

/// Every route the service has, with a method it answers.
pub fn routes(user: &str, group: &str) -> Vec<(&'static str, String)> {
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
