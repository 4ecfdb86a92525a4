//! Every key of the single table, built here and nowhere else.
//!
//! `<t>` is the tenant's prefix: empty for the single-tenant directory at
//! the base path, `T#<tenant>#` for a tenant at `/scim/v2/<tenant>`.
//!
//! | item            | pk                             | sk                   | gsi1 (pk / sk)     | gsi2 (pk / sk)                       | gsi3 (pk / sk)                                   |
//! |-----------------|--------------------------------|----------------------|--------------------|--------------------------------------|--------------------------------------------------|
//! | resource        | `<t><Type>#<id>`               | `RESOURCE`           | `<t><Type>` / id   | `<t><Type>#externalId#<ext>` / id    | `<t>Group#displayName#<lowercase>` / id (groups) |
//! | userName guard  | `<t>User#userName#<lowercase>` | `UNIQUE`             |                    |                                      |                                                  |
//! | email lookup    | `<t>User#<id>`                 | `EMAIL#<lowercase>`  |                    | `<t>User#email#<lowercase>` / id     |                                                  |
//! | membership edge | `<t>Group#<group id>`          | `MEMBER#<member id>` |                    | `<t>MemberOf` / `<member id>#<group id>` |                                              |
//! | cleanup task    | `<t>CLEANUP`                   | `<time>#<Type>#<id>` |                    |                                      |                                                  |
//! | count shard     | `<t>COUNT#<Type>#<0..31>`      | `COUNT`              |                    |                                      |                                                  |
//! | page mark       | `<t>PAGE#<Type>`               | `<count>#<startIndex>` |                    |                                      |                                                  |
//!
//! `gsi1` lists the resources of one type in id order. `gsi2` is the lookup
//! index: resources by `externalId` (case-exact, not unique), and the inverted
//! membership edges (a member's groups). `gsi3` finds groups by `displayName`
//! (case-insensitive). A group's members are the edges in its own partition,
//! so both directions of a membership are one Query and one item.
//!
//! The guard item makes `userName` unique case-insensitively within a
//! tenant: it is written in the same transaction as the user, with the
//! condition that it does not exist. A cleanup task is written in the same
//! transaction as a resource's delete and names edges still to be removed;
//! reads never show edges whose ends are gone.
//!
//! A type's count is the sum of its shards, each moved by one in the
//! transaction that creates or deletes a resource (the shard chosen by the
//! id, so that creates spread over [`COUNT_SHARDS`] partitions). A page mark
//! says after which id the unfiltered index page at `startIndex` begins,
//! for walks of one `count` a page: written by the page before it, it lets the next page start its Query
//! there.
//!
//! Every partition key, of the table and of each GSI, carries the tenant:
//! a Query or GetItem names one partition, so none can reach another
//! tenant's items.

use crate::scim::{Kind, ScimError};
use crate::tenant::{Tenant, TenantId};

/// How a kind's keys begin (after the tenant's prefix). Stored names are
/// the resource types' names, so that an application reading the table
/// sees `User#…` and `Group#…`.
fn type_prefix(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "User",
        Kind::Group => "Group",
    }
}

pub const PK: &str = "pk";
pub const SK: &str = "sk";

/// The names of the items' other attributes, for every room that reads or
/// writes them (the resource module and both drivers).
pub mod attr {
    /// A resource's document, as JSON.
    pub const DOC: &str = "doc";
    pub const ID: &str = "id";
    /// What the item is: `User`, `Group`, `Membership`, `UserGuard`, ...
    pub const TYPE: &str = "type";
    pub const CREATED: &str = "created";
    pub const LAST_MODIFIED: &str = "lastModified";
    /// A number that moves by one with each write of a resource.
    pub const VERSION: &str = "version";
    /// A plain copy of a user's `userName`, for applications that read the table.
    pub const USER_NAME: &str = "userName";
    /// An edge's group and member ids, and the member's type.
    pub const GROUP: &str = "group";
    pub const MEMBER: &str = "member";
    pub const MEMBER_TYPE: &str = "memberType";
    /// A cleanup task's resource type.
    pub const TARGET_TYPE: &str = "resourceType";
    /// Until when (milliseconds since the Unix epoch) a writer holds its
    /// claim on a resource.
    pub const CLAIMED_UNTIL: &str = "claimedUntil";
    /// The SCIM operation that last wrote a resource's document
    /// (`create`, `replace`, `patch`), for change events.
    pub const OPERATION: &str = "operation";
    /// A count shard's number.
    pub const COUNT: &str = "count";
    /// The id after which a marked page begins.
    pub const AFTER: &str = "after";
    /// When (Unix seconds) an item may be forgotten: the table's TTL
    /// attribute (DynamoDB deletes such items in its own time; readers
    /// ignore them from this moment).
    pub const EXPIRES: &str = "expires";
}

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

/// The sort key of a resource's own item in its partition.
pub const RESOURCE_SK: &str = "RESOURCE";
const GUARD_SK: &str = "UNIQUE";
pub const MEMBER_PREFIX: &str = "MEMBER#";
const CLEANUP_PK: &str = "CLEANUP";
const COUNT_SK: &str = "COUNT";

/// How many items a type's count is spread over. DynamoDB lets one
/// transaction at a time write an item (a second is cancelled as a
/// conflict, and retried after a backoff), so each shard takes creates and
/// deletes one after another: the shards, chosen by the (random) id, are
/// what lets them run side by side. Read together with a page's mark in
/// one BatchGetItem of at most 100 keys.
pub const COUNT_SHARDS: usize = 32;

/// A full primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

/// The keys of one tenant's directory. Every partition key and GSI
/// partition key starts with the tenant's prefix: empty for the
/// single-tenant directory (so its items keep the keys they have always
/// had), `T#<tenant>#` for a named tenant. No unprefixed key starts with
/// `T#`, and a tenant id holds no `#`, so two directories share no
/// partition: every Query and GetItem stays in its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn of(tenant: &Tenant) -> Self {
        Self {
            prefix: match tenant {
                Tenant::Default => String::new(),
                Tenant::Named(t) => format!("T#{t}#"),
            },
        }
    }

    pub fn resource(&self, kind: Kind, id: &str) -> Key {
        Key {
            pk: format!("{}{}#{id}", self.prefix, type_prefix(kind)),
            sk: RESOURCE_SK.into(),
        }
    }

    /// The guard item that holds a `userName`, case-folded.
    pub fn user_name_guard(&self, user_name: &str) -> Key {
        Key {
            pk: format!("{}User#userName#{}", self.prefix, fold(user_name)),
            sk: GUARD_SK.into(),
        }
    }

    /// `gsi1pk` of a resource.
    pub fn type_partition(&self, kind: Kind) -> String {
        format!("{}{}", self.prefix, type_prefix(kind))
    }

    /// `gsi2pk` of a resource with this `externalId`.
    pub fn external_id_partition(&self, kind: Kind, external_id: &str) -> String {
        format!(
            "{}{}#externalId#{external_id}",
            self.prefix,
            type_prefix(kind)
        )
    }

    /// `gsi3pk` of a group with this `displayName`.
    pub fn display_name_partition(&self, display_name: &str) -> String {
        format!(
            "{}{}#displayName#{}",
            self.prefix,
            type_prefix(Kind::Group),
            fold(display_name)
        )
    }

    /// The lookup item that finds user `id` by one of its emails.
    pub fn email_lookup(&self, id: &str, email: &str) -> Key {
        Key {
            pk: self.resource(Kind::User, id).pk,
            sk: format!("EMAIL#{}", fold(email)),
        }
    }

    /// `gsi2pk` of the users with this email (any letter case).
    pub fn email_partition(&self, email: &str) -> String {
        format!("{}User#email#{}", self.prefix, fold(email))
    }

    /// The edge that makes `member_id` a member of group `group_id`.
    pub fn member_edge(&self, group_id: &str, member_id: &str) -> Key {
        Key {
            pk: self.resource(Kind::Group, group_id).pk,
            sk: format!("{MEMBER_PREFIX}{member_id}"),
        }
    }

    /// The partition and sort key prefix holding a group's member edges.
    pub fn members_of(&self, group_id: &str) -> (String, &'static str) {
        (self.resource(Kind::Group, group_id).pk, MEMBER_PREFIX)
    }

    /// `gsi2pk` of every membership edge of the directory: one partition
    /// in member id order, so that the groups of a page of users (a run of
    /// consecutive ids) are one Query.
    pub fn member_of_partition(&self) -> String {
        format!("{}MemberOf", self.prefix)
    }

    /// `gsi2sk` of the edge that makes `member_id` a member of `group_id`.
    pub fn member_of_sort(member_id: &str, group_id: &str) -> String {
        format!("{member_id}#{group_id}")
    }

    /// The `gsi2sk` prefix of the edges whose member is `member_id`.
    pub fn member_of_prefix(member_id: &str) -> String {
        format!("{member_id}#")
    }

    /// The `gsi2sk` range of the edges whose members' ids run from `first`
    /// to `last` (`$` follows `#`, and no key of an edge holds it).
    pub fn member_of_range(first: &str, last: &str) -> (String, String) {
        (format!("{first}#"), format!("{last}$"))
    }

    /// A pending cleanup of the edges of a deleted resource.
    pub fn cleanup_task(&self, at: &str, kind: Kind, id: &str) -> Key {
        Key {
            pk: self.cleanup_partition(),
            sk: format!("{at}#{}#{id}", type_prefix(kind)),
        }
    }

    /// The partition holding the directory's pending cleanup tasks.
    pub fn cleanup_partition(&self) -> String {
        format!("{}{CLEANUP_PK}", self.prefix)
    }

    /// The count shard `shard` of a type.
    pub fn count_shard(&self, kind: Kind, shard: usize) -> Key {
        Key {
            pk: format!("{}COUNT#{}#{shard}", self.prefix, type_prefix(kind)),
            sk: COUNT_SK.into(),
        }
    }

    /// The count shard the create and delete of resource `id` move.
    pub fn count_shard_of(&self, kind: Kind, id: &str) -> Key {
        // FNV-1a: stable across processes and releases, unlike std's hasher.
        let h = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        self.count_shard(kind, (h % COUNT_SHARDS as u64) as usize)
    }

    /// Every count shard of a type.
    pub fn count_shards(&self, kind: Kind) -> Vec<Key> {
        (0..COUNT_SHARDS)
            .map(|n| self.count_shard(kind, n))
            .collect()
    }

    /// The mark saying where the unfiltered index page at `start_index` of
    /// a type begins, for walks of `count` a page.
    pub fn page_mark(&self, kind: Kind, count: usize, start_index: usize) -> Key {
        Key {
            pk: self.page_marks(kind),
            sk: format!("{count:06}#{start_index:012}"),
        }
    }

    /// The partition holding a type's page marks.
    pub fn page_marks(&self, kind: Kind) -> String {
        format!("{}PAGE#{}", self.prefix, type_prefix(kind))
    }

    /// Whether a partition key value belongs to this directory (for checks
    /// over a whole table: the prefix of a named tenant, or no tenant's).
    pub fn owns(&self, pk: &str) -> bool {
        if self.prefix.is_empty() {
            !pk.starts_with("T#")
        } else {
            pk.starts_with(&self.prefix)
        }
    }
}

/// What a changed item is, read back from its key: the items change
/// events are made of (a resource's own item and a membership edge);
/// guards, lookups and cleanup tasks are none of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    Resource { kind: Kind, id: String },
    Member { group_id: String, member_id: String },
}

/// The directory and the meaning of an item's key, when it is a resource
/// or an edge; `None` for every other item (and for keys not built here).
pub fn changed(key: &Key) -> Option<(Tenant, Changed)> {
    let (tenant, rest) = match key.pk.strip_prefix("T#") {
        None => (Tenant::Default, key.pk.as_str()),
        Some(named) => {
            let (id, rest) = named.split_once('#')?;
            (Tenant::Named(TenantId::parse(id).ok()?), rest)
        }
    };
    let (ty, id) = rest.split_once('#')?;
    let kind = Kind::ALL.into_iter().find(|k| type_prefix(*k) == ty)?;
    if key.sk == RESOURCE_SK && !id.contains('#') {
        return Some((
            tenant,
            Changed::Resource {
                kind,
                id: id.into(),
            },
        ));
    }
    match (kind, key.sk.strip_prefix(MEMBER_PREFIX)) {
        (Kind::Group, Some(member)) if !id.contains('#') => Some((
            tenant,
            Changed::Member {
                group_id: id.into(),
                member_id: member.into(),
            },
        )),
        _ => None,
    }
}

impl Default for Keys {
    fn default() -> Self {
        Self::of(&Tenant::Default)
    }
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

    fn tenant(t: &str) -> Keys {
        Keys::of(&Tenant::Named(TenantId::parse(t).unwrap()))
    }

    #[test]
    fn refuses_values_that_outgrow_a_key_once_folded() {
        let grows = "İ".repeat(400);
        assert!(grows.len() <= MAX_KEY_VALUE_BYTES);
        assert!(check_key_value("emails.value", &grows).is_err());
        assert!(check_key_value("userName", &"a".repeat(MAX_KEY_VALUE_BYTES)).is_ok());
    }

    #[test]
    fn user_name_guard_ignores_case() {
        let k = Keys::default();
        assert_eq!(
            k.user_name_guard("BJensen@Example.com"),
            k.user_name_guard("bjensen@example.COM")
        );
        assert_ne!(k.user_name_guard("a"), k.resource(Kind::User, "a"));
    }

    #[test]
    fn a_groups_edges_share_its_partition_but_not_its_sort_key() {
        let k = tenant("acme");
        let (pk, prefix) = k.members_of("g1");
        let edge = k.member_edge("g1", "u1");
        assert_eq!(edge.pk, pk);
        assert_eq!(edge.pk, k.resource(Kind::Group, "g1").pk);
        assert!(edge.sk.starts_with(prefix));
        assert!(!k.resource(Kind::Group, "g1").sk.starts_with(prefix));
    }

    #[test]
    fn the_single_tenant_directory_keeps_its_unprefixed_keys() {
        let k = Keys::default();
        assert_eq!(k.resource(Kind::User, "u1").pk, "User#u1");
        assert_eq!(k.type_partition(Kind::Group), "Group");
        assert_eq!(k.cleanup_partition(), "CLEANUP");
    }

    /// Every partition key of one directory, for one set of values.
    fn partitions(k: &Keys) -> Vec<String> {
        vec![
            k.resource(Kind::User, "x").pk,
            k.user_name_guard("x").pk,
            k.type_partition(Kind::User),
            k.external_id_partition(Kind::User, "x"),
            k.display_name_partition("x"),
            k.email_lookup("x", "x@example.com").pk,
            k.email_partition("x@example.com"),
            k.member_edge("g", "x").pk,
            k.member_of_partition(),
            k.cleanup_partition(),
            k.count_shard(Kind::User, 0).pk,
            k.page_marks(Kind::User),
        ]
    }

    #[test]
    fn a_members_edges_sort_together_and_inside_the_range_of_its_neighbours() {
        let ids = ["0a", "0a-1", "0b", "1"];
        let mut sorts: Vec<String> = ids
            .iter()
            .flat_map(|m| ["g1", "g2"].map(|g| Keys::member_of_sort(m, g)))
            .collect();
        sorts.sort();
        // Each member's edges are a run under its prefix, in member order.
        let owners: Vec<&str> = sorts
            .iter()
            .map(|s| {
                *ids.iter()
                    .find(|m| s.starts_with(&Keys::member_of_prefix(m)))
                    .unwrap()
            })
            .collect();
        assert_eq!(owners, ["0a", "0a", "0a-1", "0a-1", "0b", "0b", "1", "1"]);
        let (lo, hi) = Keys::member_of_range("0a-1", "0b");
        let inside: Vec<&String> = sorts
            .iter()
            .filter(|s| lo.as_str() <= s.as_str() && s.as_str() <= hi.as_str())
            .collect();
        assert_eq!(inside.len(), 4, "{inside:?}");
        assert!(
            inside
                .iter()
                .all(|s| !s.starts_with("0a#") && !s.starts_with("1#"))
        );
    }

    #[test]
    fn counts_spread_over_every_shard_and_a_resource_keeps_its_shard() {
        let k = Keys::default();
        let shards = k.count_shards(Kind::User);
        let used: std::collections::HashSet<Key> = (0..200)
            .map(|i| k.count_shard_of(Kind::User, &format!("id-{i}")))
            .collect();
        assert_eq!(used.len(), COUNT_SHARDS);
        assert!(used.iter().all(|s| shards.contains(s)));
        assert_eq!(
            k.count_shard_of(Kind::User, "x"),
            k.count_shard_of(Kind::User, "x")
        );
        assert_ne!(k.count_shards(Kind::Group), shards);
    }

    #[test]
    fn no_two_tenants_share_a_partition_and_each_owns_only_its_own() {
        let dirs = [
            Keys::default(),
            tenant("acme"),
            tenant("acme-2"),
            tenant("t"),
        ];
        for (i, a) in dirs.iter().enumerate() {
            for pk in partitions(a) {
                for (j, b) in dirs.iter().enumerate() {
                    assert_eq!(b.owns(&pk), i == j, "{pk} in directory {j}");
                    if i != j {
                        assert!(!partitions(b).contains(&pk), "{pk} shared");
                    }
                }
            }
        }
    }

    #[test]
    fn reads_back_resources_and_edges_and_nothing_else() {
        for (t, k) in [
            (Tenant::Default, Keys::default()),
            (
                Tenant::Named(TenantId::parse("acme").unwrap()),
                tenant("acme"),
            ),
        ] {
            let user = Changed::Resource {
                kind: Kind::User,
                id: "u1".into(),
            };
            assert_eq!(
                changed(&k.resource(Kind::User, "u1")),
                Some((t.clone(), user))
            );
            let group = Changed::Resource {
                kind: Kind::Group,
                id: "g1".into(),
            };
            assert_eq!(
                changed(&k.resource(Kind::Group, "g1")),
                Some((t.clone(), group))
            );
            let edge = Changed::Member {
                group_id: "g1".into(),
                member_id: "u1".into(),
            };
            assert_eq!(changed(&k.member_edge("g1", "u1")), Some((t.clone(), edge)));
            assert_eq!(changed(&k.user_name_guard("u1")), None);
            assert_eq!(changed(&k.email_lookup("u1", "a@example.com")), None);
            assert_eq!(changed(&k.cleanup_task("2026", Kind::User, "u1")), None);
            assert_eq!(changed(&k.count_shard(Kind::User, 3)), None);
            assert_eq!(changed(&k.page_mark(Kind::Group, 100, 101)), None);
        }
    }
}
