//! Every key of the single table, built here and nowhere else.
//!
//! | item            | pk                          | sk                | gsi1 (pk / sk)  | gsi2 (pk / sk)                 | gsi3 (pk / sk)                          |
//! |-----------------|-----------------------------|-------------------|-----------------|--------------------------------|-----------------------------------------|
//! | resource        | `<Type>#<id>`               | `RESOURCE`        | `<Type>` / id   | `<Type>#externalId#<ext>` / id | `Group#displayName#<lowercase>` / id (groups) |
//! | userName guard  | `User#userName#<lowercase>` | `UNIQUE`          |                 |                                |                                         |
//! | email lookup    | `User#<id>`                 | `EMAIL#<lowercase>` |               | `User#email#<lowercase>` / id  |                                         |
//! | membership edge | `Group#<group id>`          | `MEMBER#<member id>` |              | `MemberOf#<member id>` / group id |                                      |
//! | cleanup task    | `CLEANUP`                   | `<time>#<Type>#<id>` |              |                                |                                         |
//!
//! `gsi1` lists the resources of one type in id order. `gsi2` is the lookup
//! index: resources by `externalId` (case-exact, not unique), and the inverted
//! membership edges (a member's groups). `gsi3` finds groups by `displayName`
//! (case-insensitive). A group's members are the edges in its own partition,
//! so both directions of a membership are one Query and one item.
//!
//! The guard item makes `userName` unique case-insensitively: it is written in
//! the same transaction as the user, with the condition that it does not exist.
//! A cleanup task is written in the same transaction as a resource's delete and
//! names edges still to be removed; reads never show edges whose ends are gone.

use crate::scim::ScimError;

pub const PK: &str = "pk";
pub const SK: &str = "sk";

/// A global secondary index: its name and key attributes (both strings).
#[derive(Debug, PartialEq, Eq)]
pub struct IndexDef {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

/// Resources of one type, in id order.
pub static TYPE_INDEX: IndexDef = IndexDef {
    name: "gsi1",
    pk: "gsi1pk",
    sk: "gsi1sk",
};

/// Resources by `externalId`, and a member's groups (inverted edges).
pub static LOOKUP_INDEX: IndexDef = IndexDef {
    name: "gsi2",
    pk: "gsi2pk",
    sk: "gsi2sk",
};

/// Groups by `displayName`.
pub static DISPLAY_NAME_INDEX: IndexDef = IndexDef {
    name: "gsi3",
    pk: "gsi3pk",
    sk: "gsi3sk",
};

/// Every GSI of the table (all project every attribute).
pub static INDEXES: &[&IndexDef] = &[&TYPE_INDEX, &LOOKUP_INDEX, &DISPLAY_NAME_INDEX];

/// DynamoDB's limit on a partition key value is 2048 bytes and on a sort key
/// 1024; values that go into keys are held well under both.
pub const MAX_KEY_VALUE_BYTES: usize = 1000;

const RESOURCE_SK: &str = "RESOURCE";
const GUARD_SK: &str = "UNIQUE";

/// A full primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

pub fn resource(resource_type: &str, id: &str) -> Key {
    Key {
        pk: format!("{resource_type}#{id}"),
        sk: RESOURCE_SK.into(),
    }
}

/// The guard item that holds a `userName`, case-folded.
pub fn user_name_guard(user_name: &str) -> Key {
    Key {
        pk: format!("User#userName#{}", fold(user_name)),
        sk: GUARD_SK.into(),
    }
}

/// `gsi1pk` of a resource.
pub fn type_partition(resource_type: &str) -> String {
    resource_type.to_string()
}

/// `gsi2pk` of a resource with this `externalId`.
pub fn external_id_partition(resource_type: &str, external_id: &str) -> String {
    format!("{resource_type}#externalId#{external_id}")
}

/// `gsi3pk` of a group with this `displayName`.
pub fn display_name_partition(resource_type: &str, display_name: &str) -> String {
    format!("{resource_type}#displayName#{}", fold(display_name))
}

/// The lookup item that finds user `id` by one of its emails.
pub fn email_lookup(id: &str, email: &str) -> Key {
    Key {
        pk: resource("User", id).pk,
        sk: format!("EMAIL#{}", fold(email)),
    }
}

/// `gsi2pk` of the users with this email (any letter case).
pub fn email_partition(email: &str) -> String {
    format!("User#email#{}", fold(email))
}

const MEMBER_PREFIX: &str = "MEMBER#";

/// The edge that makes `member_id` a member of group `group_id`.
pub fn member_edge(group_id: &str, member_id: &str) -> Key {
    Key {
        pk: resource("Group", group_id).pk,
        sk: format!("{MEMBER_PREFIX}{member_id}"),
    }
}

/// The partition and sort key prefix holding a group's member edges.
pub fn members_of(group_id: &str) -> (String, &'static str) {
    (resource("Group", group_id).pk, MEMBER_PREFIX)
}

/// `gsi2pk` of the edges whose member is `member_id`.
pub fn member_of_partition(member_id: &str) -> String {
    format!("MemberOf#{member_id}")
}

const CLEANUP_PK: &str = "CLEANUP";

/// A pending cleanup of the edges of a deleted resource.
pub fn cleanup_task(at: &str, resource_type: &str, id: &str) -> Key {
    Key {
        pk: CLEANUP_PK.into(),
        sk: format!("{at}#{resource_type}#{id}"),
    }
}

/// The partition holding every pending cleanup task.
pub fn cleanup_partition() -> &'static str {
    CLEANUP_PK
}

/// Case folding for case-insensitive uniqueness (RFC 7643 `caseExact: false`).
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Refuses values too long to be part of a key, as given or case-folded
/// (some letters grow when lowercased: "İ" is 2 bytes, "i̇" 3).
pub fn check_key_value(attribute: &str, value: &str) -> Result<(), ScimError> {
    if value.len() > MAX_KEY_VALUE_BYTES || fold(value).len() > MAX_KEY_VALUE_BYTES {
        return Err(ScimError::invalid_value(format!(
            "'{attribute}' is longer than {MAX_KEY_VALUE_BYTES} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_values_that_outgrow_a_key_once_folded() {
        let grows = "İ".repeat(400);
        assert!(grows.len() <= MAX_KEY_VALUE_BYTES);
        assert!(check_key_value("emails.value", &grows).is_err());
        assert!(check_key_value("userName", &"a".repeat(MAX_KEY_VALUE_BYTES)).is_ok());
    }

    #[test]
    fn user_name_guard_ignores_case() {
        assert_eq!(
            user_name_guard("BJensen@Example.com"),
            user_name_guard("bjensen@example.COM")
        );
        assert_ne!(user_name_guard("a"), resource("User", "a"));
    }

    #[test]
    fn a_groups_edges_share_its_partition_but_not_its_sort_key() {
        let (pk, prefix) = members_of("g1");
        let edge = member_edge("g1", "u1");
        assert_eq!(edge.pk, pk);
        assert_eq!(edge.pk, resource("Group", "g1").pk);
        assert!(edge.sk.starts_with(prefix));
        assert!(!resource("Group", "g1").sk.starts_with(prefix));
    }
}
