//! SCIM change events (RFC 9967): the event URIs and the parts of a
//! Security Event Token's claims (RFC 8417) that SCIM defines: the
//! subject (`sub_id`) and the `events` claim.
//!
//! - A resource's create, replacement and patch are `prov:create:full`,
//!   `prov:put:full` and `prov:patch:full`, whose `data` is the resource as
//!   it now is (without a group's members); too large for its channel, the
//!   `:notice` form lists the attributes instead.
//! - A user's `active` turning false adds `prov:deactivate` to the same SET
//!   (one state change of one subject); turning true again, `prov:activate`.
//! - A membership change is a `prov:patch:full` of the group whose `data`
//!   is the PatchOp that adds or removes that one member.

use serde_json::{Map, Value, json};

use super::Kind;

pub const CREATE_FULL: &str = "urn:ietf:params:scim:event:prov:create:full";
pub const CREATE_NOTICE: &str = "urn:ietf:params:scim:event:prov:create:notice";
pub const PUT_FULL: &str = "urn:ietf:params:scim:event:prov:put:full";
pub const PUT_NOTICE: &str = "urn:ietf:params:scim:event:prov:put:notice";
pub const PATCH_FULL: &str = "urn:ietf:params:scim:event:prov:patch:full";
pub const PATCH_NOTICE: &str = "urn:ietf:params:scim:event:prov:patch:notice";
pub const DELETE: &str = "urn:ietf:params:scim:event:prov:delete";
pub const ACTIVATE: &str = "urn:ietf:params:scim:event:prov:activate";
pub const DEACTIVATE: &str = "urn:ietf:params:scim:event:prov:deactivate";

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// What happened to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    Created,
    Replaced,
    Patched,
    Deleted,
    MemberAdded {
        member_id: String,
        member_kind: Kind,
    },
    MemberRemoved {
        member_id: String,
        member_kind: Kind,
    },
}

/// How a user's `active` moved with the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Unchanged,
    Activated,
    Deactivated,
}

impl Activity {
    /// From `active` before and after: absent counts as active, so that a
    /// user created without it and then set to false is deactivated.
    pub fn between(before: Option<&Value>, after: Option<&Value>) -> Self {
        let off = |v: Option<&Value>| v.and_then(Value::as_bool) == Some(false);
        match (off(before), off(after)) {
            (false, true) => Self::Deactivated,
            (true, false) => Self::Activated,
            _ => Self::Unchanged,
        }
    }
}

/// The subject of a SCIM event (RFC 9967 §2.1): the resource's path below
/// the base URL, its id and, when it has one, its `externalId`.
pub fn sub_id(kind: Kind, id: &str, external_id: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("format".into(), json!("scim"));
    m.insert("uri".into(), json!(format!("{}/{id}", kind.endpoint())));
    m.insert("id".into(), json!(id));
    if let Some(ext) = external_id {
        m.insert("externalId".into(), json!(ext));
    }
    Value::Object(m)
}

/// How much of a resource an event carries.
#[derive(Debug, Clone, Copy)]
pub enum Detail<'a> {
    /// The resource (`data`).
    Full,
    /// Only the names of the attributes the change set (`attributes`).
    Notice(&'a [String]),
}

/// The `events` claim. `resource` is the resource as rendered (for a
/// create, replacement or patch); `base` the directory's base URL (for a
/// member's `$ref`).
pub fn events_claim(
    happened: &Happened,
    activity: Activity,
    resource: Option<&Value>,
    version: Option<&str>,
    base: &str,
    detail: Detail<'_>,
) -> Value {
    let mut events = Map::new();
    let with_version = |mut payload: Map<String, Value>| {
        if let Some(v) = version {
            payload.insert("version".into(), json!(v));
        }
        Value::Object(payload)
    };
    let resource_event = |full_uri: &str, notice_uri: &str| {
        let mut payload = Map::new();
        match detail {
            Detail::Full => {
                let resource = resource.cloned().unwrap_or_else(|| json!({}));
                payload.insert("data".into(), resource);
                (full_uri.to_string(), payload)
            }
            Detail::Notice(changed) => {
                payload.insert("attributes".into(), json!(changed));
                (notice_uri.to_string(), payload)
            }
        }
    };
    let (uri, payload) = match happened {
        Happened::Created => resource_event(CREATE_FULL, CREATE_NOTICE),
        Happened::Replaced => resource_event(PUT_FULL, PUT_NOTICE),
        Happened::Patched => resource_event(PATCH_FULL, PATCH_NOTICE),
        Happened::Deleted => (DELETE.to_string(), Map::new()),
        Happened::MemberAdded {
            member_id,
            member_kind,
        } => {
            let value = json!([{
                "value": member_id,
                "type": member_kind.name(),
                "$ref": format!("{base}{}/{member_id}", member_kind.endpoint()),
            }]);
            member_patch(json!({"op": "add", "path": "members", "value": value}))
        }
        Happened::MemberRemoved { member_id, .. } => member_patch(json!({
            "op": "remove",
            "path": format!("members[value eq {}]", json!(member_id)),
        })),
    };
    events.insert(uri, with_version(payload));
    match activity {
        Activity::Unchanged => {}
        Activity::Activated => {
            events.insert(ACTIVATE.into(), json!({}));
        }
        Activity::Deactivated => {
            events.insert(DEACTIVATE.into(), json!({}));
        }
    }
    Value::Object(events)
}

fn member_patch(operation: Value) -> (String, Map<String, Value>) {
    let mut payload = Map::new();
    payload.insert(
        "data".into(),
        json!({"schemas": [PATCH_OP], "Operations": [operation]}),
    );
    (PATCH_FULL.to_string(), payload)
}

/// The attributes one document sets differently from another (the
/// top-level ones, extension schemas counting as one): what a notice
/// names.
pub fn changed_attributes(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<String> {
    let mut names: Vec<String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    names.extend(before.keys().filter(|k| !after.contains_key(*k)).cloned());
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deactivation_is_active_turning_false_and_absent_counts_as_active() {
        let (t, f) = (json!(true), json!(false));
        assert_eq!(Activity::between(Some(&t), Some(&f)), Activity::Deactivated);
        assert_eq!(Activity::between(None, Some(&f)), Activity::Deactivated);
        assert_eq!(Activity::between(Some(&f), Some(&t)), Activity::Activated);
        assert_eq!(Activity::between(Some(&f), None), Activity::Activated);
        assert_eq!(Activity::between(Some(&t), None), Activity::Unchanged);
        assert_eq!(Activity::between(Some(&f), Some(&f)), Activity::Unchanged);
    }

    #[test]
    fn a_deactivating_patch_carries_both_events_and_the_version() {
        let user = json!({"schemas": [], "id": "u1", "active": false, "meta": {}});
        let events = events_claim(
            &Happened::Patched,
            Activity::Deactivated,
            Some(&user),
            Some("W/\"3\""),
            "https://x/scim/v2",
            Detail::Full,
        );
        assert_eq!(events[PATCH_FULL]["data"], user);
        assert_eq!(events[PATCH_FULL]["version"], "W/\"3\"");
        assert_eq!(events[DEACTIVATE], json!({}));
        let notice = events_claim(
            &Happened::Patched,
            Activity::Unchanged,
            Some(&user),
            None,
            "https://x/scim/v2",
            Detail::Notice(&changed_attributes(
                json!({"active": true, "nickName": "b"})
                    .as_object()
                    .unwrap(),
                json!({"active": false, "displayName": "B"})
                    .as_object()
                    .unwrap(),
            )),
        );
        assert_eq!(
            notice[PATCH_NOTICE]["attributes"],
            json!(["active", "displayName", "nickName"])
        );
        assert_eq!(notice.as_object().map(Map::len), Some(1));
    }

    #[test]
    fn a_membership_change_is_the_patch_of_that_one_member() {
        let base = "https://x/scim/v2/acme";
        let added = events_claim(
            &Happened::MemberAdded {
                member_id: "u1".into(),
                member_kind: Kind::User,
            },
            Activity::Unchanged,
            None,
            None,
            base,
            Detail::Full,
        );
        let op = &added[PATCH_FULL]["data"]["Operations"][0];
        assert_eq!(op["op"], "add");
        assert_eq!(op["value"][0]["$ref"], "https://x/scim/v2/acme/Users/u1");
        let removed = events_claim(
            &Happened::MemberRemoved {
                member_id: "u\"1".into(),
                member_kind: Kind::User,
            },
            Activity::Unchanged,
            None,
            None,
            base,
            Detail::Full,
        );
        let op = &removed[PATCH_FULL]["data"]["Operations"][0];
        assert_eq!(op["path"], "members[value eq \"u\\\"1\"]");
    }
}
