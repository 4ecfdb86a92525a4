//! What Microsoft's and Okta's validation material still found: the common
//! attributes in `/Schemas`, elements left without a value, value filters on
//! references, lenient paths, and `attributes` naming a filtered path.

use serde_json::{Value, json};

use crate::common::{Harness, encode, new_group};

fn attribute_names(schema: &Value) -> Vec<String> {
    schema["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["name"].as_str().map(str::to_string))
        .collect()
}

/// Entra ID's gallery check finds `externalId` (and `id`) in the core
/// schemas, with the RFC's characteristics; extensions do not list them.
async fn the_core_schemas_declare_the_common_attributes(h: Harness) {
    for (urn, own) in [
        ("urn:ietf:params:scim:schemas:core:2.0:User", "userName"),
        ("urn:ietf:params:scim:schemas:core:2.0:Group", "displayName"),
    ] {
        let r = h
            .send("GET", &format!("/scim/v2/Schemas/{urn}"), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let names = attribute_names(&r.body);
        for want in ["id", "externalId", own] {
            assert_eq!(
                names.iter().filter(|n| *n == want).count(),
                1,
                "{want} in {urn}: {names:?}"
            );
        }
        // `meta` is not declared: model-building clients (scim2-tester's)
        // give it the RFC's own type.
        assert!(!names.iter().any(|n| n == "meta"), "{names:?}");
        let attr = |name: &str| {
            r.body["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["name"] == name)
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(attr("id")["mutability"], "readOnly");
        assert_eq!(attr("id")["returned"], "always");
        assert_eq!(attr("id")["uniqueness"], "server");
        assert_eq!(attr("externalId")["mutability"], "readWrite");
        assert_eq!(attr("externalId")["caseExact"], true);
    }
    let list = h.send("GET", "/scim/v2/Schemas", None).await;
    let enterprise = list.body["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        .cloned()
        .unwrap_or_default();
    assert!(!attribute_names(&enterprise).contains(&"externalId".to_string()));
    let user = list.body["Resources"][0].clone();
    assert!(
        attribute_names(&user).contains(&"externalId".to_string()),
        "{user}"
    );
}

/// After Entra ID empties `emails[type eq "work"].value` (and a phone
/// number's, and an address's parts), those elements are gone, not left
/// as `{"type": "work", "primary": true}`.
async fn an_element_whose_value_is_emptied_is_removed(h: Harness) {
    let u = h
        .create_user(json!({
            "userName": "valueless@example.com",
            "emails": [{"value": "w@example.com", "type": "work", "primary": true},
                       {"value": "h@example.com", "type": "home"}],
            "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
            "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Town"},
                          {"type": "home", "locality": "Village"}]
        }))
        .await;
    let id = u["id"].as_str().unwrap_or_default();
    let op = |path: &str, value: Value| json!({"op": "Replace", "path": path, "value": value});
    let r = h
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    op("emails[type eq \"work\"].value", json!("")),
                    op("phoneNumbers[type eq \"work\"].value", Value::Null),
                    op("addresses[type eq \"work\"].streetAddress", json!("")),
                    op("addresses[type eq \"work\"].locality", Value::Null),
                ]
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = h
        .send("GET", &format!("/scim/v2/Users/{id}"), None)
        .await
        .body;
    assert_eq!(
        got["emails"],
        json!([{"value": "h@example.com", "type": "home"}]),
        "{got}"
    );
    assert!(got.get("phoneNumbers").is_none(), "{got}");
    assert_eq!(
        got["addresses"],
        json!([{"type": "home", "locality": "Village"}]),
        "{got}"
    );
}

/// `members[value eq "<id>"]` (alone or in an `and`) is answered as
/// `members.value eq "<id>"`, and a user's `groups[value eq "<id>"]` too.
async fn value_filters_on_references_are_answered_like_their_value(h: Harness) {
    let u = h
        .create_user(json!({"userName": "member@example.com"}))
        .await;
    let other = h
        .create_user(json!({"userName": "other@example.com"}))
        .await;
    let uid = u["id"].as_str().unwrap_or_default();
    let g = new_group(&h, "Readers", &[uid]).await;
    new_group(&h, "Others", &[other["id"].as_str().unwrap_or_default()]).await;
    for (bracketed, dotted) in [
        (
            format!(
                "/scim/v2/Groups?filter={}",
                encode(&format!("members[value eq \"{uid}\"]"))
            ),
            format!(
                "/scim/v2/Groups?filter={}",
                encode(&format!("members.value eq \"{uid}\""))
            ),
        ),
        (
            format!(
                "/scim/v2/Groups?excludedAttributes=members&filter={}",
                encode(&format!(
                    "displayName eq \"Readers\" and members[value eq \"{uid}\"]"
                ))
            ),
            format!(
                "/scim/v2/Groups?excludedAttributes=members&filter={}",
                encode(&format!(
                    "displayName eq \"Readers\" and members.value eq \"{uid}\""
                ))
            ),
        ),
        (
            format!(
                "/scim/v2/Users?filter={}",
                encode(&format!("groups[value eq \"{g}\"]"))
            ),
            format!(
                "/scim/v2/Users?filter={}",
                encode(&format!("groups.value eq \"{g}\""))
            ),
        ),
    ] {
        let a = h.send("GET", &bracketed, None).await;
        assert_eq!(a.status, 200, "{bracketed}: {}", a.body);
        assert_eq!(a.body["totalResults"], 1, "{bracketed}: {}", a.body);
        let b = h.send("GET", &dotted, None).await;
        assert_eq!(a.body, b.body, "{bracketed}");
    }
    let r = h
        .send(
            "GET",
            &format!(
                "/scim/v2/Users?filter={}",
                encode(&format!("groups[value eq \"{g}\"]"))
            ),
            None,
        )
        .await;
    assert_eq!(r.body["Resources"][0]["id"], uid);
}

/// `/users`, `/GROUPS/{id}` and `/Users/?filter=` are served like the
/// canonical paths; what the answers say of locations stays canonical.
async fn endpoints_in_any_case_or_with_a_trailing_slash_are_served(h: Harness) {
    let r = h
        .send(
            "POST",
            "/scim/v2/users",
            Some(json!({"userName": "lower@example.com"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    let location = r.header("location").unwrap_or_default().to_string();
    assert!(
        location.ends_with(&format!("/scim/v2/Users/{id}")),
        "{location}"
    );
    assert_eq!(r.body["meta"]["location"], location.as_str());
    for path in [
        format!("/scim/v2/users/{id}"),
        format!("/scim/v2/USERS/{id}/"),
        format!(
            "/scim/v2/Users/?filter={}",
            encode("userName eq \"lower@example.com\"")
        ),
        "/scim/v2/users?count=1".to_string(),
        "/scim/v2/serviceproviderconfig".to_string(),
        "/scim/v2/schemas/".to_string(),
    ] {
        let r = h.send("GET", &path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    let listed = h
        .send(
            "GET",
            "/scim/v2/Users/?filter=userName%20eq%20%22lower@example.com%22",
            None,
        )
        .await;
    assert_eq!(listed.body["totalResults"], 1);
    assert_eq!(
        listed.body["Resources"][0]["meta"]["location"],
        location.as_str()
    );
    let g = h
        .send(
            "POST",
            "/scim/v2/groups/",
            Some(json!({"displayName": "Lower"})),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap_or_default();
    assert!(
        g.header("location")
            .is_some_and(|l| l.ends_with(&format!("/Groups/{gid}")))
    );
    let r = h
        .send("DELETE", &format!("/scim/v2/Groups/{gid}/"), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // A tenant's endpoints too; an id keeps its case.
    let acme = h.add_tenant("acme");
    let r = h
        .send_as(
            &acme,
            "POST",
            "/scim/v2/acme/users",
            Some(json!({"userName": "t@example.com"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("/scim/v2/acme/Users/"))
    );
    h.send(
        "GET",
        &format!("/scim/v2/Users/{}", id.to_uppercase()),
        None,
    )
    .await
    .assert_error(404, None);
}

/// `attributes=emails[type eq "work"]` says what is accepted, instead of
/// answering with `id` alone.
async fn attributes_naming_a_filtered_path_are_refused_saying_what_is_accepted(h: Harness) {
    let u = h
        .create_user(json!({"userName": "attrs@example.com"}))
        .await;
    let id = u["id"].as_str().unwrap_or_default();
    let bad = encode("emails[type eq \"work\"]");
    for path in [
        format!("/scim/v2/Users?attributes={bad}"),
        format!("/scim/v2/Users/{id}?attributes=userName,{bad}"),
        format!("/scim/v2/Users?excludedAttributes={bad}"),
    ] {
        let r = h.send("GET", &path, None).await;
        r.assert_error(400, Some("invalidValue"));
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("emails[type eq \"work\"]") && detail.contains("name.subAttribute"),
            "{detail}"
        );
    }
    let fine = h
        .send(
            "GET",
            &format!("/scim/v2/Users/{id}?attributes=emails.value,userName"),
            None,
        )
        .await;
    assert_eq!(fine.status, 200);
}

crate::on_both_drivers!(
    the_core_schemas_declare_the_common_attributes,
    an_element_whose_value_is_emptied_is_removed,
    value_filters_on_references_are_answered_like_their_value,
    endpoints_in_any_case_or_with_a_trailing_slash_are_served,
    attributes_naming_a_filtered_path_are_refused_saying_what_is_accepted,
);
