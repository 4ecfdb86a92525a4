//! Operator-declared extension schemas (`SCIM_SCHEMA_EXTENSIONS`), end to
//! end on both drivers. Each router carries the schemas it was built with.

use serde_json::{Value, json};

use crate::common::{Driver, Harness, config};

const ACME_USER: &str = "urn:example:params:scim:schemas:extension:acme:2.0:User";
const ACME_GROUP: &str = "urn:example:params:scim:schemas:extension:acme:2.0:Group";

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

crate::on_both_drivers_with_config!(
    declared_extensions_are_discoverable,
    extension_attributes_are_validated_stored_returned_patched_and_filtered,
    a_required_extension_must_be_present,
);
