//! The resource module: SCIM resources, their uniqueness guards, membership
//! edges and cleanup tasks as items of the single table. Every write of a
//! resource is one conditional write or one transaction; edges are written in
//! batches. Errors come back as questions the service maps to SCIM.
//!
//! Rooms: this file (the resources' reads and writes), `item` (a resource
//! as items: the resource item, its guards and lookups), `edges`
//! (membership edges), `cleanup` (removing a deleted resource's edges),
//! `find` (Queries by index and key), `counts` (a type's count and the
//! marks where index pages begin), `upgrade` (bringing an earlier
//! release's items up to this one).

mod cleanup;
mod counts;
mod edges;
mod find;
mod item;
mod upgrade;

use super::keys::{Key, Keys, attr};
use super::table::{Claim, Condition, Item, Requests, StoreError, Table, Write};
use crate::scim::Kind;
use crate::scim::resource::{Doc, Meta};
use crate::tenant::Tenant;

pub use cleanup::CleanupTask;
pub use counts::PageStart;
pub use edges::Edge;

/// Which SCIM operation last wrote a resource's item (also when it left
/// the document as it was: a group PUT that changes only members), kept on
/// the item so that a change event can tell a replacement from a patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Replaced,
    Patched,
}

impl Written {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "create",
            Self::Replaced => "replace",
            Self::Patched => "patch",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Created, Self::Replaced, Self::Patched]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct Stored {
    pub meta: Meta,
    pub doc: Doc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirError {
    /// Another resource already holds this `userName` (any letter case).
    UserNameTaken,
    /// The resource changed (or went away) since it was read, or another
    /// writer holds a claim on it.
    VersionMismatch,
    /// A write that went with the resource's own found its item changed
    /// (say, a group to touch was deleted): the round is to be redone.
    OtherChanged,
    Store(StoreError),
}

impl From<StoreError> for DirError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

#[derive(Clone)]
pub struct Directory {
    pub(super) table: Table,
    tenant: Tenant,
    pub(super) keys: Keys,
}

impl Directory {
    /// The single-tenant directory.
    pub fn new(table: Table) -> Self {
        Self::of(table, &Tenant::Default)
    }

    /// One tenant's directory.
    pub fn of(table: Table, tenant: &Tenant) -> Self {
        Self {
            table,
            tenant: tenant.clone(),
            keys: Keys::of(tenant),
        }
    }

    /// The same table, another tenant's directory.
    pub fn for_tenant(&self, tenant: &Tenant) -> Self {
        Self::of(self.table.clone(), tenant)
    }

    /// Whose directory this is.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The table underneath.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Requests made to the table so far.
    pub fn requests(&self) -> Requests {
        self.table.requests()
    }

    /// 1 GetItem.
    pub async fn get(&self, kind: Kind, id: &str) -> Result<Option<Stored>, DirError> {
        let item = self.table.get(&self.keys.resource(kind, id)).await?;
        item.as_ref().map(Self::from_item).transpose()
    }

    /// 1 TransactWriteItems: the resource, its guard and lookup items, and
    /// its type's count.
    pub async fn create(&self, kind: Kind, s: &Stored, with: &[Write]) -> Result<(), DirError> {
        let mut writes = vec![Write::put(
            self.to_item(kind, s, Written::Created)?,
            Condition::NotExists,
        )];
        for g in self.guards(kind, &s.doc) {
            writes.push(Write::put(
                Self::guard_item(kind, g, &s.meta.id),
                Condition::NotExists,
            ));
        }
        writes.extend(
            self.lookups(kind, s)
                .into_iter()
                .map(|i| Write::put(i, Condition::None)),
        );
        writes.push(self.count_write(kind, &s.meta.id, 1));
        writes.extend_from_slice(with);
        match self.table.write_all(&writes).await {
            Err(e) if e.failed_write().is_some_and(|i| i > 0) => Err(DirError::UserNameTaken),
            other => Ok(other?),
        }
    }

    /// Writes a resource as an earlier export had it, its id and meta
    /// kept: the transaction of [`Directory::create`]. `Ok(false)` when a
    /// resource of that id is there already (an import run again);
    /// `UserNameTaken` when another resource holds its `userName`.
    pub async fn restore(&self, kind: Kind, s: &Stored) -> Result<bool, DirError> {
        match self.create(kind, s, &[]).await {
            Ok(()) => Ok(true),
            Err(DirError::Store(StoreError::ConditionFailed { index: 0 })) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Replaces `old` with `new` if `old` is still current: 1 PutItem, or 1
    /// TransactWriteItems when a guard moves (rename). With `claim_until`,
    /// `new` holds a claim until then (see [`Claim`]).
    pub async fn replace(
        &self,
        kind: Kind,
        old: &Stored,
        new: &Stored,
        op: Written,
        with: &[Write],
        claim_until: Option<i64>,
    ) -> Result<(), DirError> {
        let mut item = self.to_item(kind, new, op)?;
        if let Some(until) = claim_until {
            item.set_n(attr::CLAIMED_UNTIL, until);
        }
        let mut writes = vec![Write::put(item, Condition::VersionIs(Self::version(old)))];
        let before = self.guards(kind, &old.doc);
        let after = self.guards(kind, &new.doc);
        for g in before.iter().filter(|g| !after.contains(g)) {
            writes.push(Write::delete(g.clone(), Condition::None));
        }
        let first_new_guard = writes.len();
        for g in after.into_iter().filter(|g| !before.contains(g)) {
            writes.push(Write::put(
                Self::guard_item(kind, g, &new.meta.id),
                Condition::NotExists,
            ));
        }
        let (old_lookups, new_lookups) = (self.lookups(kind, old), self.lookups(kind, new));
        let new_keys: Vec<Key> = new_lookups.iter().map(Item::key).collect();
        let old_keys: Vec<Key> = old_lookups.iter().map(Item::key).collect();
        for k in old_keys.iter().filter(|k| !new_keys.contains(k)) {
            writes.push(Write::delete(k.clone(), Condition::None));
        }
        for item in new_lookups
            .into_iter()
            .filter(|i| !old_keys.contains(&i.key()))
        {
            writes.push(Write::put(item, Condition::None));
        }
        let first_with = writes.len();
        writes.extend_from_slice(with);
        match self.table.write_all(&writes).await {
            Err(e) => match e.failed_write() {
                // A write that goes with this one found its item changed
                // (say, a group to touch was deleted): the round is redone.
                Some(0) => Err(DirError::VersionMismatch),
                Some(i) if i >= first_with => Err(DirError::OtherChanged),
                Some(i) if i >= first_new_guard => Err(DirError::UserNameTaken),
                _ => Err(e.into()),
            },
            Ok(()) => Ok(()),
        }
    }

    /// Deletes `old`, with its guards, moves its type's count and records a
    /// cleanup task for its edges: 1 TransactWriteItems. The delete holds only if `old` is still
    /// current when `pinned` (If-Match), or when other items hang off its
    /// document (a user's guard and email lookups are found from the
    /// document read: a changed one would leave some behind); otherwise it
    /// needs only the resource to exist, so that a stream of other writes
    /// cannot keep it from going.
    pub async fn delete(
        &self,
        kind: Kind,
        old: &Stored,
        at: &str,
        pinned: bool,
    ) -> Result<CleanupTask, DirError> {
        let dependents: Vec<Key> = self
            .guards(kind, &old.doc)
            .into_iter()
            .chain(self.lookups(kind, old).iter().map(Item::key))
            .collect();
        let condition = if pinned || !dependents.is_empty() {
            Condition::VersionIs(Self::version(old))
        } else {
            Condition::Exists
        };
        let mut writes = vec![Write::delete(
            self.keys.resource(kind, &old.meta.id),
            condition,
        )];
        writes.extend(
            dependents
                .into_iter()
                .map(|k| Write::delete(k, Condition::None)),
        );
        let task = CleanupTask {
            key: self.keys.cleanup_task(at, kind, &old.meta.id),
            kind,
            id: old.meta.id.clone(),
        };
        let mut item = Item::new(task.key.clone());
        item.set_s(attr::TARGET_TYPE, kind.name())
            .set_s(attr::ID, old.meta.id.clone());
        writes.push(Write::put(item, Condition::None));
        writes.push(self.count_write(kind, &old.meta.id, -1));
        match self.table.write_all(&writes).await {
            Err(e) if e.failed_write() == Some(0) => Err(DirError::VersionMismatch),
            Err(e) => Err(e.into()),
            Ok(()) => Ok(task),
        }
    }

    /// Writes resources and their guard items without conditions, in
    /// BatchWriteItems, then moves the type's count (1 UpdateItem a shard):
    /// for bulk loading new resources into a table where they cannot clash
    /// (migrations, tests, benchmarks), never for requests.
    pub async fn import(&self, kind: Kind, resources: &[Stored]) -> Result<(), DirError> {
        let mut writes = Vec::with_capacity(resources.len() * 2);
        for s in resources {
            writes.push(Write::put(
                self.to_item(kind, s, Written::Created)?,
                Condition::None,
            ));
            for g in self.guards(kind, &s.doc) {
                writes.push(Write::put(
                    Self::guard_item(kind, g, &s.meta.id),
                    Condition::None,
                ));
            }
            writes.extend(
                self.lookups(kind, s)
                    .into_iter()
                    .map(|i| Write::put(i, Condition::None)),
            );
        }
        self.table.batch_write(&writes).await?;
        let ids: Vec<&str> = resources.iter().map(|s| s.meta.id.as_str()).collect();
        self.add_counts(kind, &ids, 1).await
    }

    /// The write that bumps `version` and `lastModified` of a resource in
    /// place, under `condition`, to go in a transaction with others.
    pub fn touch_write(&self, kind: Kind, id: &str, at: &str, condition: Condition) -> Write {
        self.touch_claim_write(kind, id, at, condition, Claim::Keep)
    }

    fn touch_claim_write(
        &self,
        kind: Kind,
        id: &str,
        at: &str,
        condition: Condition,
        claim: Claim,
    ) -> Write {
        Write::Touch {
            key: self.keys.resource(kind, id),
            last_modified: at.to_string(),
            condition,
            claim,
        }
    }

    /// Bumps `version` and `lastModified` of a resource in place (1
    /// UpdateItem), under `condition`, with `with` in the same transaction.
    pub async fn touch(
        &self,
        kind: Kind,
        id: &str,
        at: &str,
        condition: Condition,
        with: &[Write],
    ) -> Result<(), DirError> {
        self.touch_claiming(kind, id, at, condition, Claim::Keep, with)
            .await
    }

    /// Like [`Directory::touch`], taking or releasing a claim on the
    /// resource as well.
    pub async fn touch_claiming(
        &self,
        kind: Kind,
        id: &str,
        at: &str,
        condition: Condition,
        claim: Claim,
        with: &[Write],
    ) -> Result<(), DirError> {
        let mut writes = vec![self.touch_claim_write(kind, id, at, condition, claim)];
        writes.extend_from_slice(with);
        match self.table.write_all(&writes).await {
            Err(e) if e.is_condition_failed() => Err(DirError::VersionMismatch),
            other => Ok(other?),
        }
    }

    /// Resources by (type, id), those that exist: BatchGetItems.
    pub async fn get_many(&self, refs: &[(Kind, &str)]) -> Result<Vec<(Kind, Stored)>, DirError> {
        let keys: Vec<Key> = refs
            .iter()
            .map(|(kind, id)| self.keys.resource(*kind, id))
            .collect();
        let items = self.table.get_many(&keys).await?;
        items
            .iter()
            .map(|i| {
                // Any other name reads as a user, as it always has.
                let kind = i.s(attr::TYPE).and_then(Kind::from_name);
                Ok((kind.unwrap_or(Kind::User), Self::from_item(i)?))
            })
            .collect()
    }
}
