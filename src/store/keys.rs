//! Every key of the single table, built here and nowhere else.
//!
//! | item                | pk                          | sk         | gsi1pk / gsi1sk | gsi2pk / gsi2sk                  |
//! |---------------------|-----------------------------|------------|-----------------|----------------------------------|
//! | resource            | `<Type>#<id>`               | `RESOURCE` | `<Type>` / id   | `<Type>#externalId#<ext>` / id   |
//! | userName guard      | `User#userName#<lowercase>` | `UNIQUE`   |                 |                                  |
//!
//! `gsi1` lists the resources of one type in id order; `gsi2` finds resources
//! by `externalId` (case-exact, not unique). The guard item makes `userName`
//! unique case-insensitively: it is written in the same transaction as the
//! user, with the condition that it does not exist.

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

/// Resources by `externalId`.
pub static EXTERNAL_ID_INDEX: IndexDef = IndexDef {
    name: "gsi2",
    pk: "gsi2pk",
    sk: "gsi2sk",
};

/// Every GSI of the table (all project every attribute).
pub static INDEXES: &[&IndexDef] = &[&TYPE_INDEX, &EXTERNAL_ID_INDEX];

/// DynamoDB's limit on a partition key value is 2048 bytes and on a sort key
/// 1024; values that go into keys are held well under both.
pub const MAX_KEY_VALUE_BYTES: usize = 1000;

const RESOURCE_SK: &str = "RESOURCE";
const GUARD_SK: &str = "UNIQUE";

/// A full primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Case folding for case-insensitive uniqueness (RFC 7643 `caseExact: false`).
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Refuses values too long to be part of a key.
pub fn check_key_value(attribute: &str, value: &str) -> Result<(), ScimError> {
    if value.len() > MAX_KEY_VALUE_BYTES {
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
    fn user_name_guard_ignores_case() {
        assert_eq!(
            user_name_guard("BJensen@Example.com"),
            user_name_guard("bjensen@example.COM")
        );
        assert_ne!(user_name_guard("a"), resource("User", "a"));
    }
}
