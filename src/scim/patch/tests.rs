//! Unit tests of PATCH: paths, filters and the quirks IdPs rely on.

use super::values::is_primary;
use super::*;
use crate::scim::Kind;
use crate::scim::error::ScimType;
use crate::scim::schema::ENTERPRISE_USER_SCHEMA;
use crate::scim::schemas::Schemas;
use serde_json::json;

fn base() -> Doc {
    let schemas = Schemas::builtin();
    let user_type = schemas.resource_type(Kind::User);
    resource::normalize(
        &json!({
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "b@work.example", "type": "work", "primary": true},
                {"value": "b@home.example", "type": "home"}
            ],
            "active": true
        }),
        user_type,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn patch(doc: &Doc, body: Value) -> Result<Doc, ScimError> {
    let schemas = Schemas::builtin();
    let user_type = schemas.resource_type(Kind::User);
    apply(doc, &parse_operations(&body)?, user_type)
}

#[test]
fn replaces_a_filtered_sub_attribute() {
    let out = patch(
        &base(),
        json!({"Operations": [
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@work.example"}
        ]}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["emails"][0]["value"], "new@work.example");
    assert_eq!(out["emails"][1]["value"], "b@home.example");
}

#[test]
fn adds_a_filtered_email_that_does_not_exist_yet() {
    let schemas = Schemas::builtin();
    let user_type = schemas.resource_type(Kind::User);
    let doc =
        resource::normalize(&json!({"userName": "x"}), user_type).unwrap_or_else(|e| panic!("{e}"));
    let out = patch(
        &doc,
        json!({"Operations": [
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@work.example"}
        ]}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out["emails"],
        json!([{"type": "work", "value": "x@work.example"}])
    );
}

#[test]
fn replace_without_path_takes_dotted_and_urn_keys() {
    let out = patch(
        &base(),
        json!({"Operations": [{"op": "Replace", "value": {
            "name.givenName": "Babs",
            "active": "False",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "boss-id",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Tour"
        }}]}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["name"]["givenName"], "Babs");
    assert_eq!(out["name"]["familyName"], "Jensen");
    assert_eq!(out["active"], false);
    assert_eq!(out[ENTERPRISE_USER_SCHEMA]["manager"]["value"], "boss-id");
    assert_eq!(out[ENTERPRISE_USER_SCHEMA]["department"], "Tour");
}

#[test]
fn removes_values_and_reports_no_target_for_unmatched_filters() {
    let out = patch(
        &base(),
        json!({"Operations": [
            {"op": "remove", "path": "emails[type eq \"home\"]"}
        ]}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["emails"].as_array().map(Vec::len), Some(1));
    let err = patch(
        &base(),
        json!({"Operations": [
            {"op": "remove", "path": "emails[type eq \"other\"]"}
        ]}),
    )
    .err();
    assert_eq!(err.and_then(|e| e.scim_type), Some(ScimType::NoTarget));
    let err = patch(&base(), json!({"Operations": [{"op": "remove"}]})).err();
    assert_eq!(err.and_then(|e| e.scim_type), Some(ScimType::NoTarget));
}

#[test]
fn rejects_bad_paths_read_only_targets_and_removing_user_name() {
    for (body, want) in [
        (
            json!({"Operations": [{"op": "add", "path": "nosuch", "value": 1}]}),
            ScimType::InvalidPath,
        ),
        (
            json!({"Operations": [{"op": "add", "path": "emails[type eq", "value": 1}]}),
            ScimType::InvalidPath,
        ),
        (
            json!({"Operations": [{"op": "replace", "path": "id", "value": "x"}]}),
            ScimType::Mutability,
        ),
        (
            json!({"Operations": [{"op": "remove", "path": "userName"}]}),
            ScimType::InvalidValue,
        ),
        (
            json!({"Operations": [{"op": "jump", "path": "userName"}]}),
            ScimType::InvalidSyntax,
        ),
        (json!({"Operations": []}), ScimType::InvalidSyntax),
        (
            json!({"Operations": [{"op": "add", "path": "uéé", "value": 1}]}),
            ScimType::InvalidPath,
        ),
        (
            json!({"Operations": [{"op": "add", "path": "urn:é:x", "value": 1}]}),
            ScimType::InvalidPath,
        ),
    ] {
        let err = patch(&base(), body.clone()).err();
        assert_eq!(err.and_then(|e| e.scim_type), Some(want), "{body}");
    }
}

#[test]
fn adding_a_primary_email_demotes_the_old_primary() {
    let out = patch(
        &base(),
        json!({"Operations": [
            {"op": "add", "path": "emails", "value": [{"value": "c@x.example", "primary": true}]}
        ]}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let primaries: Vec<&Value> = out["emails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| is_primary(e))
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["value"], "c@x.example");
}

#[test]
fn removing_the_manager_by_urn_path_clears_it() {
    let doc = patch(&base(), json!({"Operations": [{"op": "add", "path":
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "m1"}}]}))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc[ENTERPRISE_USER_SCHEMA]["manager"]["value"], "m1");
    let doc = patch(
        &doc,
        json!({"Operations": [{"op": "remove", "path":
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(doc.get(ENTERPRISE_USER_SCHEMA).is_none());
}
