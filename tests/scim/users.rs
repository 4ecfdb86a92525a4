//! Users over the whole router, on both store drivers.

use serde_json::{Value, json};

use crate::common::{Harness, TOKEN, encode, fixture};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})
}

fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn url(path: &str) -> String {
    format!("/scim/v2{path}")
}

async fn creates_a_user_with_server_assigned_id_meta_and_headers(h: Harness) {
    let r = h
        .send(
            "POST",
            &url("/Users"),
            Some(fixture("rfc7643/enterprise-user.json")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "id {id} is not a UUID");
    assert_ne!(
        id, "2819c223-7f76-453a-919d-413861904646",
        "a client-sent id must be ignored"
    );
    let meta = &r.body["meta"];
    assert_eq!(meta["resourceType"], "User");
    let location = format!("http://scim.example.test/scim/v2/Users/{id}");
    assert_eq!(meta["location"], location.as_str());
    assert_eq!(r.header("location"), Some(location.as_str()));
    assert_eq!(r.header("etag"), meta["version"].as_str());
    assert!(
        meta["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("W/\""))
    );
    assert_ne!(
        meta["created"], "2010-01-23T04:56:22Z",
        "meta is server-assigned"
    );
    assert!(
        time::OffsetDateTime::parse(
            meta["created"].as_str().unwrap_or(""),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );
    assert!(
        r.body.get("password").is_none(),
        "password is never returned"
    );
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE])
    );

    let got = h.send("GET", &url(&format!("/Users/{id}")), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, r.body);
    assert_eq!(got.header("etag"), r.header("etag"));
}

async fn round_trips_every_writable_attribute(h: Harness) {
    let sent = fixture("rfc7643/enterprise-user.json");
    let created = h.create_user(sent.clone()).await;
    let id = created["id"].as_str().unwrap_or_default();
    let got = h
        .send("GET", &url(&format!("/Users/{id}")), None)
        .await
        .body;
    let mut want = sent.clone();
    for k in ["id", "meta", "password", "groups"] {
        want.as_object_mut().map(|o| o.remove(k));
    }
    // manager.displayName is readOnly (RFC 7643 §4.3).
    want[ENTERPRISE]["manager"]
        .as_object_mut()
        .map(|o| o.remove("displayName"));
    for (k, v) in want.as_object().cloned().unwrap_or_default() {
        assert_eq!(got[&k], v, "attribute {k}");
    }
}

async fn uses_the_forwarded_scheme_for_locations(h: Harness) {
    let r = h
        .send_with(
            "POST",
            &url("/Users"),
            Some(user("proto@example.com").to_string()),
            &[
                ("authorization", &format!("Bearer {TOKEN}")),
                ("x-forwarded-proto", "https"),
            ],
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(
        r.header("location")
            .is_some_and(|l| l.starts_with("https://scim.example.test/scim/v2/Users/"))
    );
}

async fn rejects_duplicate_user_name_case_insensitively(h: Harness) {
    h.create_user(user("Alice@Example.com")).await;
    let r = h
        .send("POST", &url("/Users"), Some(user("alice@EXAMPLE.com")))
        .await;
    r.assert_error(409, Some("uniqueness"));
    let list = h
        .send(
            "GET",
            &url(&format!(
                "/Users?filter={}",
                encode("userName eq \"ALICE@example.com\"")
            )),
            None,
        )
        .await;
    assert_eq!(list.body["totalResults"], 1);
}

async fn renames_keep_user_names_unique(h: Harness) {
    let a = h.create_user(user("a@example.com")).await;
    h.create_user(user("b@example.com")).await;
    let a_path = url(&format!("/Users/{}", a["id"].as_str().unwrap_or_default()));
    // PUT and PATCH onto a taken name are refused, and change nothing.
    h.send("PUT", &a_path, Some(user("B@example.com")))
        .await
        .assert_error(409, Some("uniqueness"));
    let r = h
        .send(
            "PATCH",
            &a_path,
            Some(patch_op(
                json!([{"op": "replace", "path": "userName", "value": "b@EXAMPLE.com"}]),
            )),
        )
        .await;
    r.assert_error(409, Some("uniqueness"));
    assert_eq!(
        h.send("GET", &a_path, None).await.body["userName"],
        "a@example.com"
    );
    // A change of letter case alone is the same name.
    let r = h.send("PUT", &a_path, Some(user("A@Example.com"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["userName"], "A@Example.com");
    // A real rename frees the old name.
    let r = h.send("PUT", &a_path, Some(user("c@example.com"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    h.create_user(user("a@example.com")).await;
    let r = h
        .send("POST", &url("/Users"), Some(user("C@example.com")))
        .await;
    r.assert_error(409, Some("uniqueness"));
}

async fn filters_by_user_name_external_id_and_email(h: Harness) {
    for i in 0..5 {
        h.create_user(json!({
            "userName": format!("user{i}@example.com"),
            "externalId": format!("ext-{}", i % 2),
            "active": i % 2 == 0,
            "emails": [{"value": format!("u{i}@mail.example"), "type": "work"}]
        }))
        .await;
    }
    let list = |f: &str| {
        let path = url(&format!("/Users?filter={}", encode(f)));
        let h = &h;
        async move { h.send("GET", &path, None).await }
    };
    let r = list("userName eq \"USER3@example.com\"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["userName"], "user3@example.com");
    let r = list("externalId eq \"ext-1\"").await;
    assert_eq!(r.body["totalResults"], 2);
    let r = list("externalId eq \"EXT-1\"").await;
    assert_eq!(r.body["totalResults"], 0, "externalId is case-exact");
    let r = list("emails.value eq \"U4@MAIL.example\"").await;
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["userName"], "user4@example.com");
    let r = list("externalId eq \"ext-0\" and active eq true").await;
    assert_eq!(r.body["totalResults"], 3);
    let r = list("userName eq \"nobody@example.com\"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));
    let r = list("userName sw \"user\" and not (active eq true)").await;
    assert_eq!(r.body["totalResults"], 2);
}

async fn pages_lists_by_start_index_and_count(h: Harness) {
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            h.create_user(user(&format!("p{i}@example.com"))).await["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    ids.sort();
    let r = h
        .send("GET", &url("/Users?startIndex=3&count=2"), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["startIndex"], 3);
    assert_eq!(r.body["itemsPerPage"], 2);
    let got: Vec<&str> = r.body["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["id"].as_str())
        .collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[3].as_str()]);
    let r = h.send("GET", &url("/Users?count=0"), None).await;
    assert_eq!(
        (
            r.body["totalResults"].as_u64(),
            r.body["itemsPerPage"].as_u64()
        ),
        (Some(7), Some(0))
    );
    let r = h
        .send("GET", &url("/Users?startIndex=7&count=5"), None)
        .await;
    assert_eq!(r.body["itemsPerPage"], 1);
    let r = h.send("GET", &url("/Users?startIndex=20"), None).await;
    assert_eq!(r.body["Resources"], json!([]));
    let r = h
        .send(
            "GET",
            &url(&format!(
                "/Users?filter={}&startIndex=2&count=1",
                encode("userName sw \"p\"")
            )),
            None,
        )
        .await;
    assert_eq!(
        (
            r.body["totalResults"].as_u64(),
            r.body["itemsPerPage"].as_u64()
        ),
        (Some(7), Some(1))
    );
    h.send("GET", &url("/Users?count=many"), None)
        .await
        .assert_error(400, Some("invalidValue"));
}

async fn replaces_a_user_honouring_mutability(h: Harness) {
    let created = h
        .create_user(json!({
            "userName": "r@example.com", "title": "Guide", "displayName": "R",
            "emails": [{"value": "r@example.com", "type": "work"}]
        }))
        .await;
    let id = created["id"].as_str().unwrap_or_default();
    let path = url(&format!("/Users/{id}"));
    let r = h
        .send(
            "PUT",
            &path,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "someone-else", "userName": "r@example.com", "displayName": "Renamed",
                "meta": {"created": "1999-01-01T00:00:00Z"},
                "groups": [{"value": "g"}]
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], id, "readOnly id is ignored");
    assert_eq!(r.body["displayName"], "Renamed");
    assert!(
        r.body.get("title").is_none() && r.body.get("emails").is_none(),
        "PUT replaces: omitted attributes go"
    );
    assert!(r.body.get("groups").is_none());
    assert_eq!(r.body["meta"]["created"], created["meta"]["created"]);
    assert_ne!(
        r.header("etag"),
        created["meta"]["version"].as_str(),
        "the version changes on every write"
    );
    h.send(
        "PUT",
        &url("/Users/unknown-id"),
        Some(user("x@example.com")),
    )
    .await
    .assert_error(404, None);
    h.send("PUT", &path, Some(json!({"displayName": "no userName"})))
        .await
        .assert_error(400, Some("invalidValue"));
}

async fn patches_attributes_sub_attributes_filters_and_the_extension(h: Harness) {
    let created = h
        .create_user(json!({
            "userName": "p@example.com",
            "name": {"givenName": "Pat", "familyName": "Doe"},
            "emails": [{"value": "p@home.example", "type": "home"}],
            "active": true
        }))
        .await;
    let path = url(&format!(
        "/Users/{}",
        created["id"].as_str().unwrap_or_default()
    ));
    let r = h
        .send("PATCH", &path, Some(patch_op(json!([
            {"op": "Replace", "path": "name.givenName", "value": "Patricia"},
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "p@work.example"},
            {"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "boss"}},
            {"op": "replace", "value": {"active": "False", "title": "Rep", "name.familyName": "Roe"}},
            {"op": "add", "path": "phoneNumbers", "value": [{"value": "555-0100", "type": "work"}]}
        ]))))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let u = &r.body;
    assert_eq!(
        u["name"],
        json!({"givenName": "Patricia", "familyName": "Roe"})
    );
    assert_eq!(u["active"], false);
    assert_eq!(u["title"], "Rep");
    let emails = u["emails"].as_array().cloned().unwrap_or_default();
    assert_eq!(emails.len(), 2);
    assert!(emails.contains(&json!({"value": "p@home.example", "type": "home", "primary": true})));
    assert!(
        emails
            .iter()
            .any(|e| e["type"] == "work" && e["value"] == "p@work.example")
    );
    assert_eq!(u[ENTERPRISE]["department"], "Sales");
    assert_eq!(u[ENTERPRISE]["manager"]["value"], "boss");
    assert_eq!(u["phoneNumbers"][0]["value"], "555-0100");
    assert_eq!(r.header("etag"), u["meta"]["version"].as_str());

    let r = h
        .send("PATCH", &path, Some(patch_op(json!([
            {"op": "remove", "path": "emails[type eq \"home\"]"},
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},
            {"op": "remove", "path": "title"}
        ]))))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["emails"].as_array().map(Vec::len), Some(1));
    assert!(r.body[ENTERPRISE].get("manager").is_none());
    assert_eq!(r.body[ENTERPRISE]["department"], "Sales");
    assert!(r.body.get("title").is_none());
    assert_eq!(
        h.send("GET", &path, None).await.body,
        r.body,
        "the patch was stored"
    );
}

async fn patch_errors_apply_nothing(h: Harness) {
    let created = h
        .create_user(json!({"userName": "e@example.com", "title": "Keep"}))
        .await;
    let path = url(&format!(
        "/Users/{}",
        created["id"].as_str().unwrap_or_default()
    ));
    let cases = [
        (
            json!([{"op": "replace", "path": "title", "value": "Changed"}, {"op": "add", "path": "bogus.attr", "value": 1}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "title", "value": "Changed"}, {"op": "remove", "path": "emails[type eq \"work\"]"}]),
            "noTarget",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "perhaps"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
            "mutability",
        ),
        (json!([{"op": "remove"}]), "noTarget"),
        (json!([{"op": "move", "path": "title"}]), "invalidSyntax"),
        (
            json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
            "invalidPath",
        ),
    ];
    for (ops, scim_type) in cases {
        let r = h.send("PATCH", &path, Some(patch_op(ops.clone()))).await;
        r.assert_error(400, Some(scim_type));
    }
    let r = h
        .send("PATCH", &path, Some(json!({"Operations": "nope"})))
        .await;
    r.assert_error(400, Some("invalidSyntax"));
    let now = h.send("GET", &path, None).await;
    assert_eq!(now.body["title"], "Keep");
    assert_eq!(now.body["meta"]["version"], created["meta"]["version"]);
}

async fn deletes_a_user_and_frees_its_name(h: Harness) {
    let created = h.create_user(user("d@example.com")).await;
    let path = url(&format!(
        "/Users/{}",
        created["id"].as_str().unwrap_or_default()
    ));
    let r = h.send("DELETE", &path, None).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, Value::Null);
    h.send("GET", &path, None).await.assert_error(404, None);
    h.send("DELETE", &path, None).await.assert_error(404, None);
    h.send(
        "PATCH",
        &path,
        Some(patch_op(
            json!([{"op": "add", "path": "title", "value": "x"}]),
        )),
    )
    .await
    .assert_error(404, None);
    h.create_user(user("D@example.com")).await;
}

async fn answers_every_bad_request_with_a_scim_error(h: Harness) {
    let raw = |body: &str| {
        h.send_with(
            "POST",
            "/scim/v2/Users",
            Some(body.to_string()),
            &[("authorization", "Bearer test-token-0123456789")],
        )
    };
    raw("{\"userName\": ")
        .await
        .assert_error(400, Some("invalidSyntax"));
    raw("").await.assert_error(400, Some("invalidSyntax"));
    raw("[1,2]").await.assert_error(400, Some("invalidSyntax"));
    raw(&json!({"userName": 5, "active": [true, false]}).to_string())
        .await
        .assert_error(400, Some("invalidValue"));
    raw(&json!({"name": {"givenName": "No userName"}}).to_string())
        .await
        .assert_error(400, Some("invalidValue"));
    raw(&json!({"userName": "x".repeat(2000)}).to_string())
        .await
        .assert_error(400, Some("invalidValue"));
    let big = json!({"userName": "big@example.com", "displayName": "x".repeat(1024 * 1024)});
    h.send("POST", &url("/Users"), Some(big))
        .await
        .assert_error(413, None);
    // Under the body limit, but over DynamoDB's 400 KB item limit.
    let large = json!({"userName": "large@example.com", "displayName": "x".repeat(500 * 1024)});
    h.send("POST", &url("/Users"), Some(large))
        .await
        .assert_error(413, None);
    for f in [
        "userName eq",
        "nosuch eq \"x\"",
        "userName eq \"a\" or",
        "emails[type eq \"work\"",
        "active gt true",
    ] {
        h.send("GET", &url(&format!("/Users?filter={}", encode(f))), None)
            .await
            .assert_error(400, Some("invalidFilter"));
    }
    h.send("GET", &url(&format!("/Users/{}", "x".repeat(3000))), None)
        .await
        .assert_error(404, None);
    let f = encode(&format!("userName eq \"{}\"", "x".repeat(3000)));
    let r = h
        .send("GET", &url(&format!("/Users?filter={f}")), None)
        .await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.body);
    h.send("GET", &url("/Users/no-such-id"), None)
        .await
        .assert_error(404, None);
    h.send("GET", &url("/Nothing"), None)
        .await
        .assert_error(404, None);
    h.send("GET", "/elsewhere", None)
        .await
        .assert_error(404, None);
    h.send("DELETE", &url("/Users"), None)
        .await
        .assert_error(405, None);
    h.send("POST", &url("/ServiceProviderConfig"), Some(json!({})))
        .await
        .assert_error(405, None);
}

async fn requires_the_bearer_token_everywhere(h: Harness) {
    for (method, path) in [
        ("GET", "/scim/v2/Users"),
        ("POST", "/scim/v2/Users"),
        ("GET", "/scim/v2/ServiceProviderConfig"),
        ("GET", "/scim/v2/Schemas"),
        ("DELETE", "/scim/v2/Users/x"),
        ("GET", "/scim/v2/nowhere"),
    ] {
        for headers in [
            vec![],
            vec![("authorization", "Bearer wrong-token")],
            vec![("authorization", "Basic dGVzdA==")],
            vec![("authorization", "Bearer test-token-012345678")],
        ] {
            let r = h.send_with(method, path, None, &headers).await;
            r.assert_error(401, None);
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        }
    }
}

async fn honours_if_match_and_if_none_match(h: Harness) {
    let created = h.create_user(user("etag@example.com")).await;
    let path = url(&format!(
        "/Users/{}",
        created["id"].as_str().unwrap_or_default()
    ));
    let etag = created["meta"]["version"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let auth = format!("Bearer {TOKEN}");
    let r = h
        .send_with(
            "GET",
            &path,
            None,
            &[("authorization", &auth), ("if-none-match", &etag)],
        )
        .await;
    assert_eq!(r.status, 304);
    let body = Some(patch_op(json!([{"op": "add", "path": "title", "value": "T"}])).to_string());
    let r = h
        .send_with(
            "PATCH",
            &path,
            body.clone(),
            &[("authorization", &auth), ("if-match", "W/\"999\"")],
        )
        .await;
    r.assert_error(412, None);
    let r = h
        .send_with(
            "PATCH",
            &path,
            body.clone(),
            &[("authorization", &auth), ("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = h
        .send_with(
            "DELETE",
            &path,
            None,
            &[("authorization", &auth), ("if-match", &etag)],
        )
        .await;
    r.assert_error(412, None);
    let r = h
        .send_with(
            "DELETE",
            &path,
            None,
            &[("authorization", &auth), ("if-match", "*")],
        )
        .await;
    assert_eq!(r.status, 204);
}

async fn one_of_32_concurrent_creates_of_a_name_wins(h: Harness) {
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    for i in 0..32 {
        let h = std::sync::Arc::clone(&h);
        // Every task writes the same name in a different letter case.
        let name: String = "concurrent.user@example.com"
            .chars()
            .enumerate()
            .map(|(j, c)| {
                if (i >> (j % 5)) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            h.send("POST", "/scim/v2/Users", Some(user(&name))).await
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        let r = t.await.unwrap_or_else(|e| panic!("{e}"));
        if r.status == 409 {
            r.assert_error(409, Some("uniqueness"));
        }
        statuses.push(r.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        31,
        "{statuses:?}"
    );
    let r = h.send("GET", "/scim/v2/Users", None).await;
    assert_eq!(r.body["totalResults"], 1);
}

/// The DynamoDB requests each Users operation makes, counted in the table
/// handle (the same count on both drivers). Reading a user computes its
/// `groups` (1 Query on the inverted edges, plus 1 BatchGetItem when it has
/// any); `excludedAttributes=groups` skips that.
async fn each_operation_makes_the_minimum_of_requests(h: Harness) {
    let before = h.requests();
    let created = h
        .create_user(json!({"userName": "n@example.com", "externalId": "n-1"}))
        .await;
    let d = h.requests() - before;
    assert_eq!((d.transact_write_items, d.total()), (1, 1), "create: {d:?}");
    let path = url(&format!(
        "/Users/{}",
        created["id"].as_str().unwrap_or_default()
    ));
    let no_groups = format!("{path}?excludedAttributes=groups");

    let count = |method: &'static str, path: String, body: Option<Value>| {
        let h = &h;
        async move {
            let before = h.requests();
            let r = h.send(method, &path, body).await;
            assert!(r.status < 300, "{method} {path}: {}", r.body);
            h.requests() - before
        }
    };
    let d = count("GET", no_groups.clone(), None).await;
    assert_eq!((d.get_item, d.total()), (1, 1), "get without groups: {d:?}");
    let d = count("GET", path.clone(), None).await;
    assert_eq!((d.get_item, d.query, d.total()), (1, 1, 2), "get: {d:?}");
    let filter = |f: &str| {
        url(&format!(
            "/Users?excludedAttributes=groups&filter={}",
            encode(f)
        ))
    };
    let d = count("GET", filter("userName eq \"N@example.com\""), None).await;
    assert_eq!((d.get_item, d.total()), (2, 2), "userName eq: {d:?}");
    let d = count("GET", filter("externalId eq \"n-1\""), None).await;
    assert_eq!((d.query, d.total()), (1, 1), "externalId eq: {d:?}");
    let active = Some(patch_op(
        json!([{"op": "replace", "path": "active", "value": false}]),
    ));
    let d = count("PATCH", no_groups.clone(), active).await;
    assert_eq!(
        (d.get_item, d.put_or_delete_item, d.total()),
        (1, 1, 2),
        "patch: {d:?}"
    );
    let d = count("PUT", no_groups.clone(), Some(user("n@example.com"))).await;
    assert_eq!(
        (d.get_item, d.put_or_delete_item, d.total()),
        (1, 1, 2),
        "put: {d:?}"
    );
    let d = count("PUT", no_groups.clone(), Some(user("renamed@example.com"))).await;
    assert_eq!(
        (d.get_item, d.transact_write_items, d.total()),
        (1, 1, 2),
        "put with rename: {d:?}"
    );
    let d = count(
        "GET",
        url("/Users?count=10&excludedAttributes=groups"),
        None,
    )
    .await;
    // The page (1 Query) and the type's kept count (1 BatchGetItem).
    assert_eq!(
        (d.query, d.batch_get_item, d.total()),
        (1, 1, 2),
        "list: {d:?}"
    );
    // Delete: read, one transaction (user, guard, cleanup task), then the
    // cleanup: 1 Query for the user's edges (none) and 1 BatchWriteItem
    // removing them with the task.
    let d = count("DELETE", path.clone(), None).await;
    assert_eq!(
        (
            d.get_item,
            d.transact_write_items,
            d.query,
            d.batch_write_item,
            d.total()
        ),
        (1, 1, 1, 1, 4),
        "delete: {d:?}"
    );
}

crate::on_both_drivers!(
    creates_a_user_with_server_assigned_id_meta_and_headers,
    round_trips_every_writable_attribute,
    uses_the_forwarded_scheme_for_locations,
    rejects_duplicate_user_name_case_insensitively,
    renames_keep_user_names_unique,
    filters_by_user_name_external_id_and_email,
    pages_lists_by_start_index_and_count,
    replaces_a_user_honouring_mutability,
    patches_attributes_sub_attributes_filters_and_the_extension,
    patch_errors_apply_nothing,
    deletes_a_user_and_frees_its_name,
    answers_every_bad_request_with_a_scim_error,
    requires_the_bearer_token_everywhere,
    honours_if_match_and_if_none_match,
    one_of_32_concurrent_creates_of_a_name_wins,
    each_operation_makes_the_minimum_of_requests,
);

#[tokio::test]
async fn embedded_data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("restart.redb");
    let open = || {
        let db =
            scim_lambda::store::embedded::Embedded::open(&path).unwrap_or_else(|e| panic!("{e}"));
        Harness::with_table(
            scim_lambda::store::Table::new(std::sync::Arc::new(db)),
            &crate::common::config(),
            None,
        )
    };
    let id = {
        let h = open();
        h.create_user(user("persist@example.com")).await["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let h = open();
    let r = h.send("GET", &url(&format!("/Users/{id}")), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["userName"], "persist@example.com");
    h.send("POST", &url("/Users"), Some(user("PERSIST@example.com")))
        .await
        .assert_error(409, Some("uniqueness"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs DynamoDB Local; scripts/test runs it"]
async fn dynamodb_reports_the_capacity_each_operation_consumes() {
    let h = Harness::dynamodb().await;
    let consumed = || h.table.consumed().unwrap_or_default();
    let before = consumed();
    let created = h.create_user(user("capacity@example.com")).await;
    let write = consumed() - before;
    // A transaction of two small items costs 2 write units each.
    assert!(write.write >= 4.0 && write.read == 0.0, "create: {write:?}");
    let before = consumed();
    let path = format!(
        "/Users/{}?excludedAttributes=groups",
        created["id"].as_str().unwrap_or_default()
    );
    assert_eq!(h.send("GET", &url(&path), None).await.status, 200);
    let read = consumed() - before;
    // One strongly consistent read of an item under 4 KB.
    assert_eq!((read.read, read.write), (1.0, 0.0), "get: {read:?}");
}

#[tokio::test]
async fn the_embedded_store_reports_no_capacity() {
    let h = Harness::embedded().await;
    h.create_user(user("nocapacity@example.com")).await;
    assert_eq!(h.table.consumed(), None);
}
