//! Each known client quirk, one named test (on the embedded driver; the IdP
//! conversation replays run every one of them on both drivers too).

use serde_json::{Value, json};

use crate::common::{Harness, TOKEN, config};

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn user(h: &Harness, body: Value) -> String {
    h.create_user(body).await["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn total(h: &Harness, path_and_filter: &str) -> Value {
    let r = h.send("GET", path_and_filter, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["totalResults"].clone()
}

#[tokio::test]
async fn entra_test_connection_lookup_of_a_random_guid_is_an_empty_list_not_404() {
    let h = Harness::embedded().await;
    let guid = uuid::Uuid::new_v4();
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Users?filter={}",
                enc(&format!("userName eq \"{guid}\""))
            ),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));
    assert_eq!(r.body["itemsPerPage"], 0);
}

#[tokio::test]
async fn entra_filters_a_work_email_value_after_a_value_filter() {
    let h = Harness::embedded().await;
    user(&h, json!({"userName": "w@x", "emails": [{"type": "work", "value": "w@contoso.com"}, {"type": "home", "value": "h@contoso.com"}]})).await;
    assert_eq!(
        total(
            &h,
            &format!(
                "/scim/v2/Users?filter={}",
                enc("emails[type eq \"work\"].value eq \"w@contoso.com\"")
            )
        )
        .await,
        1
    );
    assert_eq!(
        total(
            &h,
            &format!(
                "/scim/v2/Users?filter={}",
                enc("emails[type eq \"work\"].value eq \"h@contoso.com\"")
            )
        )
        .await,
        0
    );
}

#[tokio::test]
async fn entra_compares_manager_and_members_without_a_sub_attribute() {
    let h = Harness::embedded().await;
    let boss = user(&h, json!({"userName": "boss@x"})).await;
    let emp = user(&h, json!({"userName": "emp@x", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": boss}})).await;
    let f = |s: String| format!("/scim/v2/Users?filter={}", enc(&s));
    assert_eq!(
        total(&h, &f(format!("id eq \"{emp}\" and manager eq \"{boss}\""))).await,
        1
    );
    assert_eq!(
        total(&h, &f(format!("id eq \"{emp}\" and manager eq \"{emp}\""))).await,
        0
    );
    let g = h
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": "G", "members": [{"value": emp}]})),
        )
        .await
        .body["id"]
        .clone();
    let g = g.as_str().unwrap_or_default();
    let gf = |s: String| {
        format!(
            "/scim/v2/Groups?excludedAttributes=members&filter={}",
            enc(&s)
        )
    };
    assert_eq!(
        total(&h, &gf(format!("id eq \"{g}\" and members eq \"{emp}\""))).await,
        1
    );
    assert_eq!(
        total(&h, &gf(format!("id eq \"{g}\" and members eq \"{boss}\""))).await,
        0
    );
}

#[tokio::test]
async fn entra_unquoted_filter_values_are_strings() {
    let h = Harness::embedded().await;
    user(&h, json!({"userName": "jy@x", "externalId": "jyoung"})).await;
    assert_eq!(
        total(&h, "/scim/v2/Users?filter=externalId%20eq%20jyoung").await,
        1
    );
}

#[tokio::test]
async fn entra_create_bodies_with_meta_nulls_empty_roles_and_extra_schemas_are_accepted() {
    let h = Harness::embedded().await;
    let r = h
        .send("POST", "/scim/v2/Users", Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": "meta@x", "active": true, "meta": {"resourceType": "User", "created": "2000-01-01T00:00:00Z"},
            "roles": [], "title": null, "displayName": null
        })))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.get("roles").is_none() && r.body.get("title").is_none());
    assert_ne!(r.body["meta"]["created"], "2000-01-01T00:00:00Z");
    let r = h
        .send("POST", "/scim/v2/Groups", Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "Extra", "externalId": "e-1", "members": []
        })))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["externalId"], "e-1");
}

#[tokio::test]
async fn entra_default_dialect_capitalised_ops_and_string_booleans() {
    let h = Harness::embedded().await;
    let id = user(&h, json!({"userName": "cap@x", "active": true})).await;
    let r = h
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            Some(json!({"Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "title", "value": "Boss"}
            ]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["title"], "Boss");
}

#[tokio::test]
async fn entra_rfc_dialect_lowercase_ops_and_dotted_replace_with_the_flag_ignored() {
    let h = Harness::embedded().await;
    let id = user(&h, json!({"userName": "rfc@x", "name": {"givenName": "A"}})).await;
    let r = h
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}?aadOptscim062020"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"name.givenName": "B", "active": false,
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "D"}}]
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"]["givenName"], "B");
    assert_eq!(r.body["active"], false);
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "D"
    );
}

#[tokio::test]
async fn entra_adding_a_work_email_value_creates_the_email() {
    let h = Harness::embedded().await;
    let id = user(&h, json!({"userName": "noemail@x"})).await;
    let r = h
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            Some(json!({"Operations": [
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"}
            ]})),
        )
        .await;
    assert_eq!(
        r.body["emails"],
        json!([{"type": "work", "value": "new@contoso.com"}])
    );
}

#[tokio::test]
async fn entra_manager_as_a_plain_id_a_list_or_removed_by_value_filter() {
    let h = Harness::embedded().await;
    let boss = user(&h, json!({"userName": "b@x"})).await;
    let id = user(&h, json!({"userName": "m@x"})).await;
    let path = format!("/scim/v2/Users/{id}");
    let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let r = h.send("PATCH", &path, Some(json!({"Operations": [{"op": "Replace", "path": format!("{ext}:manager"), "value": boss}]}))).await;
    assert_eq!(r.body[ext]["manager"], json!({"value": boss}));
    let r = h.send("PATCH", &path, Some(json!({"Operations": [{"op": "Remove", "path": format!("manager[value eq \"{boss}\"]")}]}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get(ext).is_none(), "{}", r.body);
    let r = h.send("PATCH", &path, Some(json!({"Operations": [{"op": "Add", "path": "manager", "value": [{"value": boss}]}]}))).await;
    assert_eq!(r.body[ext]["manager"], json!({"value": boss}), "{}", r.body);
}

#[tokio::test]
async fn entra_a_disabled_user_is_still_returned() {
    let h = Harness::embedded().await;
    let id = user(&h, json!({"userName": "off@x", "active": false})).await;
    assert_eq!(
        h.send("GET", &format!("/scim/v2/Users/{id}"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        total(
            &h,
            &format!("/scim/v2/Users?filter={}", enc("userName eq \"off@x\""))
        )
        .await,
        1
    );
}

#[tokio::test]
async fn rauthy_an_unencoded_plus_in_a_filter_value_stays_a_plus() {
    let h = Harness::embedded().await;
    user(
        &h,
        json!({"userName": "a+b@example.com", "emails": [{"value": "a+b@example.com"}]}),
    )
    .await;
    assert_eq!(
        total(
            &h,
            "/scim/v2/Users?filter=emails.value%20eq%20%22a+b@example.com%22"
        )
        .await,
        1
    );
    assert_eq!(
        total(
            &h,
            "/scim/v2/Users?filter=userName+eq+%22a%2Bb@example.com%22"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn connid_plain_json_content_type_and_lowercase_attribute_names() {
    let h = Harness::embedded().await;
    let r = h
        .send_with(
            "POST",
            "/scim/v2/Users",
            Some(json!({"username": "LC@x", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeenumber": "7"}}).to_string()),
            &[("authorization", &format!("Bearer {TOKEN}")), ("content-type", "application/json")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        total(
            &h,
            &format!("/scim/v2/Users?filter={}", enc("username eq \"lc@x\""))
        )
        .await,
        1
    );
    let r = h
        .send("GET", "/scim/v2/Users?attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", None)
        .await;
    let u = &r.body["Resources"][0];
    assert_eq!(
        u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "7"
    );
    assert!(u.get("userName").is_none());
}

#[tokio::test]
async fn connid_memberships_through_user_groups_only_when_enabled() {
    // Off by default: `groups` on a user is read-only and ignored.
    let h = Harness::embedded().await;
    let g = h
        .send("POST", "/scim/v2/Groups", Some(json!({"displayName": "G"})))
        .await
        .body["id"]
        .clone();
    let r = h
        .send(
            "POST",
            "/scim/v2/Users",
            Some(json!({"userName": "u@x", "groups": [{"value": g}]})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(r.body.get("groups").is_none());
    // Opted in: POST and PUT set the user's direct groups.
    let mut c = config();
    c.limits.user_groups_writable = true;
    let h = Harness::embedded_with(&c).await;
    let g1 = h
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": "G1"})),
        )
        .await
        .body["id"]
        .clone();
    let g2 = h
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": "G2"})),
        )
        .await
        .body["id"]
        .clone();
    let r = h
        .send(
            "POST",
            "/scim/v2/Users",
            Some(json!({"userName": "u@x", "groups": [{"value": g1}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["groups"][0]["value"], g1);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    let g2_path = format!("/scim/v2/Groups/{}", g2.as_str().unwrap_or_default());
    let g2_version = h.send("GET", &g2_path, None).await.body["meta"]["version"].clone();
    let r = h
        .send(
            "PUT",
            &format!("/scim/v2/Users/{id}"),
            Some(json!({"userName": "u@x", "groups": [{"value": g2}]})),
        )
        .await;
    let after = h.send("GET", &g2_path, None).await.body["meta"]["version"].clone();
    assert_ne!(
        after, g2_version,
        "a group whose members changed has a new version"
    );
    assert_eq!(r.body["groups"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.body["groups"][0]["value"], g2);
    let members = h
        .send(
            "GET",
            &format!("/scim/v2/Groups/{}", g1.as_str().unwrap_or_default()),
            None,
        )
        .await;
    assert!(members.body.get("members").is_none(), "{}", members.body);
    h.send(
        "PUT",
        &format!("/scim/v2/Users/{id}"),
        Some(json!({"userName": "u@x", "groups": [{"value": "nope"}]})),
    )
    .await
    .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn connid_a_full_reconcile_without_count_returns_up_to_1000() {
    let h = Harness::embedded().await;
    crate::common::import_users(&h.table, 1000, |i| {
        let mut d = serde_json::Map::new();
        d.insert("userName".into(), json!(format!("r{i}@x")));
        (d, "2026-01-01T00:00:00Z".into())
    })
    .await;
    let r = h
        .send("GET", "/scim/v2/Users?excludedAttributes=groups", None)
        .await;
    assert_eq!(r.body["totalResults"], 1000);
    assert_eq!(r.body["itemsPerPage"], 1000);
}
