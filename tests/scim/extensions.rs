//! Operator-declared extension schemas (`SCIM_SCHEMA_EXTENSIONS`), end to
//! end on both drivers. Each router carries the schemas it was built with,
//! so directories with different declarations live side by side.

use serde_json::{Value, json};

use crate::common::{Driver, Harness, config, ids};

const ACME_USER: &str = "urn:example:params:scim:schemas:extension:acme:2.0:User";
const ACME_GROUP: &str = "urn:example:params:scim:schemas:extension:acme:2.0:Group";
const GLOBEX_USER: &str = "urn:example:params:scim:schemas:extension:globex:2.0:User";

fn acme() -> Value {
    json!([
        {"resourceType": "User", "required": false, "schema": {
            "id": ACME_USER, "name": "AcmeUser", "description": "Acme badge data",
            "attributes": [
                {"name": "badge", "type": "integer", "required": true},
                {"name": "clearance", "type": "complex", "subAttributes": [
                    {"name": "level", "type": "string", "canonicalValues": ["low", "high"]}]},
                {"name": "hired", "type": "dateTime"},
                {"name": "secret", "type": "string", "mutability": "writeOnly"},
                {"name": "tags", "type": "string", "multiValued": true}
            ]}},
        {"resourceType": "Group", "required": true, "schema": {
            "id": ACME_GROUP, "name": "AcmeGroup",
            "attributes": [{"name": "costCode", "type": "string", "required": true}]}}
    ])
}

fn globex() -> Value {
    json!([
        {"resourceType": "User", "schema": {
            "id": GLOBEX_USER, "name": "GlobexUser",
            "attributes": [{"name": "floor", "type": "integer"}]}}
    ])
}

/// A harness whose router was built from this declarations file, read
/// through the configuration as at start-up.
async fn declaring(driver: Driver, declarations: Value) -> Harness {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("extensions.json");
    std::fs::write(&path, declarations.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let mut config = config();
    config.schema_extensions = Some(path);
    driver.harness(&config).await
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn declared_extensions_are_discoverable(driver: Driver) {
    let h = declaring(driver, acme()).await;
    let r = h
        .send("GET", &format!("/scim/v2/Schemas/{ACME_USER}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["attributes"][0]["name"], "badge");
    assert_eq!(r.body["attributes"][0]["type"], "integer");
    let r = h.send("GET", "/scim/v2/ResourceTypes/User", None).await;
    assert_eq!(
        r.body["schemaExtensions"][1],
        json!({"schema": ACME_USER, "required": false})
    );
    let r = h.send("GET", "/scim/v2/ResourceTypes/Group", None).await;
    assert_eq!(
        r.body["schemaExtensions"][0],
        json!({"schema": ACME_GROUP, "required": true})
    );
}

async fn extension_attributes_are_validated_stored_returned_patched_and_filtered(driver: Driver) {
    let h = declaring(driver, acme()).await;
    let r = h
        .send("POST", "/scim/v2/Users", Some(json!({
            "userName": "acme@example.com",
            ACME_USER: {"badge": "42", "clearance": {"level": "high"}, "hired": "2024-02-01T09:00:00Z", "secret": "s", "tags": "solo"}
        })))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.body["schemas"]
            .as_array()
            .is_some_and(|s| s.contains(&json!(ACME_USER)))
    );
    assert_eq!(
        r.body[ACME_USER],
        json!({"badge": 42, "clearance": {"level": "high"}, "hired": "2024-02-01T09:00:00Z", "tags": ["solo"]})
    );
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    let got = h.send("GET", &format!("/scim/v2/Users/{id}"), None).await;
    assert_eq!(got.body[ACME_USER], r.body[ACME_USER]);

    // A wrong type, a malformed date, and the extension without its
    // required attribute.
    for bad in [
        json!({"badge": "forty"}),
        json!({"badge": 1, "hired": "yesterday"}),
        json!({"clearance": {"level": "high"}}),
    ] {
        let r = h
            .send(
                "POST",
                "/scim/v2/Users",
                Some(json!({"userName": "bad@example.com", ACME_USER: bad})),
            )
            .await;
        r.assert_error(400, Some("invalidValue"));
    }

    let r = h
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            Some(json!({"Operations": [
                {"op": "replace", "path": format!("{ACME_USER}:clearance.level"), "value": "low"},
                {"op": "add", "path": format!("{ACME_USER}:tags"), "value": ["two"]}
            ]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body[ACME_USER]["clearance"]["level"], "low");
    assert_eq!(r.body[ACME_USER]["tags"], json!(["solo", "two"]));

    let list = |f: String| {
        let h = &h;
        async move {
            h.send("GET", &format!("/scim/v2/Users?filter={}", enc(&f)), None)
                .await
                .body["totalResults"]
                .clone()
        }
    };
    assert_eq!(list(format!("{ACME_USER}:badge gt 40")).await, 1);
    assert_eq!(list(format!("{ACME_USER}:badge lt 40")).await, 0);
    assert_eq!(list(format!("{ACME_USER}:tags eq \"two\"")).await, 1);
    assert_eq!(
        list(format!("{ACME_USER}:clearance.level eq \"LOW\"")).await,
        1
    );
    let r = h
        .send(
            "GET",
            &format!("/scim/v2/Users/{id}?attributes={ACME_USER}:badge"),
            None,
        )
        .await;
    assert_eq!(r.body[ACME_USER], json!({"badge": 42}));
}

async fn a_required_extension_must_be_present(driver: Driver) {
    let h = declaring(driver, acme()).await;
    let r = h
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": "No Acme"})),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    let r = h
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": "Acme", ACME_GROUP: {}})),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    let r = h
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": "Acme", ACME_GROUP: {"costCode": "CC-1"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body[ACME_GROUP]["costCode"], "CC-1");
}

/// Two directories in one process, built from different declarations:
/// each serves its own schemas and keeps its own extension's attributes,
/// and the other knows nothing of them.
async fn two_directories_in_one_process_each_serve_their_own_extensions(driver: Driver) {
    let acme_dir = declaring(driver, acme()).await;
    let globex_dir = declaring(driver, globex()).await;
    let builtin = [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ];
    let served = |declared: &[&str]| -> Vec<String> {
        builtin
            .iter()
            .chain(declared)
            .map(|s| s.to_string())
            .collect()
    };
    let r = acme_dir.send("GET", "/scim/v2/Schemas", None).await;
    assert_eq!(ids(&r.body), served(&[ACME_USER, ACME_GROUP]));
    let r = globex_dir.send("GET", "/scim/v2/Schemas", None).await;
    assert_eq!(ids(&r.body), served(&[GLOBEX_USER]));
    globex_dir
        .send("GET", &format!("/scim/v2/Schemas/{ACME_USER}"), None)
        .await
        .assert_error(404, None);
    acme_dir
        .send("GET", &format!("/scim/v2/Schemas/{GLOBEX_USER}"), None)
        .await
        .assert_error(404, None);
    let r = globex_dir
        .send("GET", "/scim/v2/ResourceTypes/User", None)
        .await;
    assert_eq!(
        r.body["schemaExtensions"][1],
        json!({"schema": GLOBEX_USER, "required": false})
    );

    // The same body to both: each keeps the extension it declares, and
    // ignores the other's, as it ignores any unknown attribute.
    let body = json!({
        "userName": "both@example.com",
        ACME_USER: {"badge": 7},
        GLOBEX_USER: {"floor": "12"}
    });
    let a = acme_dir.create_user(body.clone()).await;
    let g = globex_dir.create_user(body).await;
    assert_eq!(a[ACME_USER], json!({"badge": 7}));
    assert_eq!(a.get(GLOBEX_USER), None, "{a}");
    assert_eq!(g[GLOBEX_USER], json!({"floor": 12}));
    assert_eq!(g.get(ACME_USER), None, "{g}");
    assert_eq!(
        g["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", GLOBEX_USER])
    );

    // Each validates its own extension only.
    globex_dir
        .send(
            "POST",
            "/scim/v2/Users",
            Some(json!({"userName": "bad@example.com", GLOBEX_USER: {"floor": "top"}})),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    let fine = acme_dir
        .create_user(json!({"userName": "fine@example.com", GLOBEX_USER: {"floor": "top"}}))
        .await;
    assert_eq!(fine.get(GLOBEX_USER), None, "{fine}");

    // Filters and PATCH paths naming the other's attributes are refused.
    let filter = enc(&format!("{ACME_USER}:badge eq 7"));
    let r = acme_dir
        .send("GET", &format!("/scim/v2/Users?filter={filter}"), None)
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    globex_dir
        .send("GET", &format!("/scim/v2/Users?filter={filter}"), None)
        .await
        .assert_error(400, Some("invalidFilter"));
    let id = g["id"].as_str().unwrap_or_default();
    globex_dir
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            Some(json!({"Operations": [
                {"op": "replace", "path": format!("{ACME_USER}:badge"), "value": 8}
            ]})),
        )
        .await
        .assert_error(400, Some("invalidPath"));
}

crate::on_both_drivers_with_config!(
    declared_extensions_are_discoverable,
    extension_attributes_are_validated_stored_returned_patched_and_filtered,
    a_required_extension_must_be_present,
    two_directories_in_one_process_each_serve_their_own_extensions,
);
