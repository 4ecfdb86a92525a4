//! The resource module: SCIM resources, their uniqueness guards, membership
//! edges and cleanup tasks as items of the single table. Every write of a
//! resource is one conditional write or one transaction; edges are written in
//! batches. Errors come back as questions the service maps to SCIM.

use std::time::Instant;

use serde_json::Value;

use super::keys::{self, DISPLAY_NAME_INDEX, Key, Keys, LOOKUP_INDEX, RESOURCE_SK, TYPE_INDEX};
use super::table::{
    self, Condition, Item, MAX_BATCH_WRITE_ITEMS, Query, Requests, StoreError, Table, Write,
};
use crate::scim::resource::{Doc, Meta};
use crate::scim::schema::ResourceType;
use crate::tenant::Tenant;

/// A resource as stored: its server-assigned parts and its document.
#[derive(Debug, Clone)]
pub struct Stored {
    pub meta: Meta,
    pub doc: Doc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirError {
    /// Another resource already holds this `userName` (any letter case).
    UserNameTaken,
    /// The resource changed (or went away) since it was read.
    VersionMismatch,
    Store(StoreError),
}

impl From<StoreError> for DirError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

const ATTR_DOC: &str = "doc";
const ATTR_ID: &str = "id";
const ATTR_TYPE: &str = "type";
const ATTR_CREATED: &str = "created";
const ATTR_MODIFIED: &str = "lastModified";
const ATTR_VERSION: &str = "version";
const ATTR_USER_NAME: &str = "userName";
const ATTR_GROUP: &str = "group";
const ATTR_MEMBER: &str = "member";
const ATTR_MEMBER_TYPE: &str = "memberType";
const ATTR_TARGET_TYPE: &str = "resourceType";

/// A membership edge: `member_id` (a User or a Group) is a direct member of
/// group `group_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub group_id: String,
    pub member_id: String,
    /// `User` or `Group`.
    pub member_type: &'static str,
}

impl Edge {
    fn to_item(&self, keys: &Keys) -> Item {
        let mut item = Item::new(keys.member_edge(&self.group_id, &self.member_id));
        item.set_s(LOOKUP_INDEX.pk, keys.member_of_partition(&self.member_id))
            .set_s(LOOKUP_INDEX.sk, self.group_id.clone())
            .set_s(ATTR_TYPE, "Membership")
            .set_s(ATTR_GROUP, self.group_id.clone())
            .set_s(ATTR_MEMBER, self.member_id.clone())
            .set_s(ATTR_MEMBER_TYPE, self.member_type);
        item
    }

    fn from_item(item: &Item) -> Option<Self> {
        Some(Self {
            group_id: item.s(ATTR_GROUP)?.to_string(),
            member_id: item.s(ATTR_MEMBER)?.to_string(),
            member_type: if item.s(ATTR_MEMBER_TYPE)? == "Group" {
                "Group"
            } else {
                "User"
            },
        })
    }
}

/// Edges of a deleted resource still to be removed.
#[derive(Debug, Clone)]
pub struct CleanupTask {
    key: Key,
    resource_type: String,
    id: String,
}

#[derive(Clone)]
pub struct Directory {
    table: Table,
    tenant: Tenant,
    keys: Keys,
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

    /// The guard items a resource's document needs (its `userName`, for users).
    fn guards(&self, rt: &ResourceType, doc: &Doc) -> Vec<Key> {
        match (rt.name, doc.get("userName").and_then(Value::as_str)) {
            ("User", Some(name)) => vec![self.keys.user_name_guard(name)],
            _ => Vec::new(),
        }
    }

    /// The lookup items a resource's document needs: one per distinct email
    /// of a user, so that `emails.value eq` is one Query on `gsi2`. They carry
    /// no condition; they change in the same transaction as the resource.
    fn lookups(&self, rt: &ResourceType, s: &Stored) -> Vec<Item> {
        if rt.name != "User" {
            return Vec::new();
        }
        let mut seen = std::collections::HashSet::new();
        let emails = s
            .doc
            .get("emails")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        emails
            .filter_map(|e| e.get("value").and_then(Value::as_str))
            .filter(|e| seen.insert(keys::fold(e)))
            .map(|e| {
                let mut item = Item::new(self.keys.email_lookup(&s.meta.id, e));
                item.set_s(LOOKUP_INDEX.pk, self.keys.email_partition(e))
                    .set_s(LOOKUP_INDEX.sk, s.meta.id.clone())
                    .set_s(ATTR_TYPE, "EmailLookup")
                    .set_s(ATTR_ID, s.meta.id.clone());
                item
            })
            .collect()
    }

    fn guard_item(rt: &ResourceType, key: Key, id: &str) -> Item {
        let mut guard = Item::new(key);
        guard
            .set_s(ATTR_ID, id)
            .set_s(ATTR_TYPE, format!("{}Guard", rt.name));
        guard
    }

    fn to_item(&self, rt: &ResourceType, s: &Stored) -> Result<Item, DirError> {
        let doc = serde_json::to_string(&s.doc).map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut item = Item::new(self.keys.resource(rt.name, &s.meta.id));
        item.set_s(TYPE_INDEX.pk, self.keys.type_partition(rt.name))
            .set_s(TYPE_INDEX.sk, s.meta.id.clone())
            .set_s(ATTR_TYPE, rt.name)
            .set_s(ATTR_ID, s.meta.id.clone())
            .set_s(ATTR_DOC, doc)
            .set_s(ATTR_CREATED, s.meta.created.clone())
            .set_s(ATTR_MODIFIED, s.meta.last_modified.clone())
            .set_n(
                ATTR_VERSION,
                i64::try_from(s.meta.version).unwrap_or(i64::MAX),
            );
        if let Some(ext) = s.doc.get("externalId").and_then(Value::as_str) {
            item.set_s(
                LOOKUP_INDEX.pk,
                self.keys.external_id_partition(rt.name, ext),
            )
            .set_s(LOOKUP_INDEX.sk, s.meta.id.clone());
        }
        if rt.name == "Group" {
            if let Some(name) = s.doc.get("displayName").and_then(Value::as_str) {
                item.set_s(
                    DISPLAY_NAME_INDEX.pk,
                    self.keys.display_name_partition(rt.name, name),
                )
                .set_s(DISPLAY_NAME_INDEX.sk, s.meta.id.clone());
            }
        }
        // A plain copy for applications that read the table directly.
        if let Some(name) = s.doc.get("userName").and_then(Value::as_str) {
            item.set_s(ATTR_USER_NAME, name);
        }
        Ok(item)
    }

    fn from_item(item: &Item) -> Result<Stored, DirError> {
        let corrupt = || {
            DirError::Store(StoreError::Backend(
                "item without resource attributes".into(),
            ))
        };
        let doc: Doc = serde_json::from_str(item.s(ATTR_DOC).ok_or_else(corrupt)?)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Stored {
            meta: Meta {
                id: item.s(ATTR_ID).ok_or_else(corrupt)?.to_string(),
                created: item.s(ATTR_CREATED).unwrap_or_default().to_string(),
                last_modified: item.s(ATTR_MODIFIED).unwrap_or_default().to_string(),
                version: item
                    .n(ATTR_VERSION)
                    .and_then(|v| u64::try_from(v).ok())
                    .unwrap_or(0),
            },
            doc,
        })
    }

    fn version(s: &Stored) -> i64 {
        i64::try_from(s.meta.version).unwrap_or(i64::MAX)
    }

    /// 1 GetItem.
    pub async fn get(&self, rt: &ResourceType, id: &str) -> Result<Option<Stored>, DirError> {
        let item = self.table.get(&self.keys.resource(rt.name, id)).await?;
        item.as_ref().map(Self::from_item).transpose()
    }

    /// 1 PutItem, or 1 TransactWriteItems with the guard items.
    pub async fn create(
        &self,
        rt: &ResourceType,
        s: &Stored,
        with: &[Write],
    ) -> Result<(), DirError> {
        let mut writes = vec![Write::put(self.to_item(rt, s)?, Condition::NotExists)];
        for g in self.guards(rt, &s.doc) {
            writes.push(Write::put(
                Self::guard_item(rt, g, &s.meta.id),
                Condition::NotExists,
            ));
        }
        writes.extend(
            self.lookups(rt, s)
                .into_iter()
                .map(|i| Write::put(i, Condition::None)),
        );
        writes.extend_from_slice(with);
        match self.table.write_all(&writes).await {
            Err(e) if e.failed_write().is_some_and(|i| i > 0) => Err(DirError::UserNameTaken),
            other => Ok(other?),
        }
    }

    /// Replaces `old` with `new` if `old` is still current: 1 PutItem, or 1
    /// TransactWriteItems when a guard moves (rename).
    pub async fn replace(
        &self,
        rt: &ResourceType,
        old: &Stored,
        new: &Stored,
        with: &[Write],
    ) -> Result<(), DirError> {
        let mut writes = vec![Write::put(
            self.to_item(rt, new)?,
            Condition::VersionIs(Self::version(old)),
        )];
        let before = self.guards(rt, &old.doc);
        let after = self.guards(rt, &new.doc);
        for g in before.iter().filter(|g| !after.contains(g)) {
            writes.push(Write::delete(g.clone(), Condition::None));
        }
        let first_new_guard = writes.len();
        for g in after.into_iter().filter(|g| !before.contains(g)) {
            writes.push(Write::put(
                Self::guard_item(rt, g, &new.meta.id),
                Condition::NotExists,
            ));
        }
        let (old_lookups, new_lookups) = (self.lookups(rt, old), self.lookups(rt, new));
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
                Some(i) if i >= first_with => Err(DirError::VersionMismatch),
                Some(i) if i >= first_new_guard => Err(DirError::UserNameTaken),
                _ => Err(e.into()),
            },
            Ok(()) => Ok(()),
        }
    }

    /// Deletes `old`, with its guards, and records a cleanup task for its
    /// edges: 1 TransactWriteItems. The delete holds only if `old` is still
    /// current when `pinned` (If-Match), or when other items hang off its
    /// document (a user's guard and email lookups are found from the
    /// document read: a changed one would leave some behind); otherwise it
    /// needs only the resource to exist, so that a stream of other writes
    /// cannot keep it from going.
    pub async fn delete(
        &self,
        rt: &ResourceType,
        old: &Stored,
        at: &str,
        pinned: bool,
    ) -> Result<CleanupTask, DirError> {
        let dependents: Vec<Key> = self
            .guards(rt, &old.doc)
            .into_iter()
            .chain(self.lookups(rt, old).iter().map(Item::key))
            .collect();
        let condition = if pinned || !dependents.is_empty() {
            Condition::VersionIs(Self::version(old))
        } else {
            Condition::Exists
        };
        let mut writes = vec![Write::delete(
            self.keys.resource(rt.name, &old.meta.id),
            condition,
        )];
        writes.extend(
            dependents
                .into_iter()
                .map(|k| Write::delete(k, Condition::None)),
        );
        let task = CleanupTask {
            key: self.keys.cleanup_task(at, rt.name, &old.meta.id),
            resource_type: rt.name.to_string(),
            id: old.meta.id.clone(),
        };
        let mut item = Item::new(task.key.clone());
        item.set_s(ATTR_TARGET_TYPE, rt.name)
            .set_s(ATTR_ID, old.meta.id.clone());
        writes.push(Write::put(item, Condition::None));
        match self.table.write_all(&writes).await {
            Err(e) if e.failed_write() == Some(0) => Err(DirError::VersionMismatch),
            Err(e) => Err(e.into()),
            Ok(()) => Ok(task),
        }
    }

    /// Writes resources and their guard items without conditions, in
    /// BatchWriteItems: for bulk loading into a table where they cannot
    /// clash (migrations, tests, benchmarks), never for requests.
    pub async fn import(&self, rt: &ResourceType, resources: &[Stored]) -> Result<(), DirError> {
        let mut writes = Vec::with_capacity(resources.len() * 2);
        for s in resources {
            writes.push(Write::put(self.to_item(rt, s)?, Condition::None));
            for g in self.guards(rt, &s.doc) {
                writes.push(Write::put(
                    Self::guard_item(rt, g, &s.meta.id),
                    Condition::None,
                ));
            }
            writes.extend(
                self.lookups(rt, s)
                    .into_iter()
                    .map(|i| Write::put(i, Condition::None)),
            );
        }
        Ok(self.table.batch_write(&writes).await?)
    }

    /// The write that bumps `version` and `lastModified` of a resource in
    /// place, under `condition`, to go in a transaction with others.
    pub fn touch_write(
        &self,
        rt: &ResourceType,
        id: &str,
        at: &str,
        condition: Condition,
    ) -> Write {
        Write::Touch {
            key: self.keys.resource(rt.name, id),
            last_modified: at.to_string(),
            condition,
        }
    }

    /// Bumps `version` and `lastModified` of a resource in place (1
    /// UpdateItem), under `condition`.
    pub async fn touch(
        &self,
        rt: &ResourceType,
        id: &str,
        at: &str,
        condition: Condition,
        with: &[Write],
    ) -> Result<(), DirError> {
        let mut writes = vec![self.touch_write(rt, id, at, condition)];
        writes.extend_from_slice(with);
        match self.table.write_all(&writes).await {
            Err(e) if e.is_condition_failed() => Err(DirError::VersionMismatch),
            other => Ok(other?),
        }
    }

    /// Resources by (type, id), those that exist: BatchGetItems.
    pub async fn get_many(
        &self,
        refs: &[(&ResourceType, &str)],
    ) -> Result<Vec<(String, Stored)>, DirError> {
        let keys: Vec<Key> = refs
            .iter()
            .map(|(rt, id)| self.keys.resource(rt.name, id))
            .collect();
        let items = self.table.get_many(&keys).await?;
        items
            .iter()
            .map(|i| {
                Ok((
                    i.s(ATTR_TYPE).unwrap_or_default().to_string(),
                    Self::from_item(i)?,
                ))
            })
            .collect()
    }

    /// Users with this email (any letter case): Queries on `gsi2` for the
    /// lookup items, then BatchGetItems for the users.
    pub async fn find_by_email(
        &self,
        rt: &ResourceType,
        email: &str,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        let q = Query::partition(Some(&LOOKUP_INDEX), self.keys.email_partition(email), limit);
        let (items, more) = self.collect_items(q, limit).await?;
        let ids: Vec<(&ResourceType, &str)> = items
            .iter()
            .filter_map(|i| i.s(ATTR_ID))
            .map(|id| (rt, id))
            .collect();
        let mut users: Vec<Stored> = self
            .get_many(&ids)
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        users.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        Ok((users, more))
    }

    /// Groups with this `displayName` (any letter case): Queries on `gsi3`.
    pub async fn find_by_display_name(
        &self,
        rt: &ResourceType,
        display_name: &str,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        let pk = self.keys.display_name_partition(rt.name, display_name);
        self.collect(
            Query::partition(Some(&DISPLAY_NAME_INDEX), pk, limit),
            limit,
        )
        .await
    }

    /// A group's member edges (strongly consistent Queries on its partition),
    /// at most `limit`; and whether more exist.
    pub async fn edges_of_group(
        &self,
        group_id: &str,
        limit: usize,
    ) -> Result<(Vec<Edge>, bool), DirError> {
        let (items, more) = self
            .collect_items(group_edges(&self.keys, group_id, limit), limit)
            .await?;
        Ok((items.iter().filter_map(Edge::from_item).collect(), more))
    }

    /// The edges whose member is `member_id` (Queries on `gsi2`).
    pub async fn edges_of_member(
        &self,
        member_id: &str,
        limit: usize,
    ) -> Result<(Vec<Edge>, bool), DirError> {
        let (items, more) = self
            .collect_items(member_edges(&self.keys, member_id, limit), limit)
            .await?;
        Ok((items.iter().filter_map(Edge::from_item).collect(), more))
    }

    /// Which of these (group id, member id) edges exist: BatchGetItems.
    pub async fn existing_edges(&self, pairs: &[(String, String)]) -> Result<Vec<Edge>, DirError> {
        let keys: Vec<Key> = pairs
            .iter()
            .map(|(g, m)| self.keys.member_edge(g, m))
            .collect();
        let items = self.table.get_many(&keys).await?;
        Ok(items.iter().filter_map(Edge::from_item).collect())
    }

    /// Writes and removes edges: BatchWriteItems, several in flight.
    pub async fn write_edges(&self, add: &[Edge], remove: &[Edge]) -> Result<(), DirError> {
        Ok(self
            .table
            .batch_write(&self.edge_writes(add, remove))
            .await?)
    }

    /// The writes that add and remove these edges, to go with a resource's
    /// own write in one transaction (`create`, `replace`, `touch`).
    /// One write an edge: a member both removed and added (a clear, then a
    /// re-add) is put; one named twice is written once, since a
    /// transaction may not write an item twice.
    pub fn edge_writes(&self, add: &[Edge], remove: &[Edge]) -> Vec<Write> {
        table::last_per_key(
            edge_deletes(&self.keys, remove).chain(
                add.iter()
                    .map(|e| Write::put(e.to_item(&self.keys), Condition::None)),
            ),
        )
    }

    /// Pending cleanup tasks, oldest first.
    pub async fn cleanup_tasks(&self, limit: usize) -> Result<Vec<CleanupTask>, DirError> {
        let q = Query::partition(None, self.keys.cleanup_partition(), limit.max(1));
        let page = self.table.query(&q).await?;
        Ok(page
            .items
            .iter()
            .filter_map(|i| {
                Some(CleanupTask {
                    key: i.key(),
                    resource_type: i.s(ATTR_TARGET_TYPE)?.to_string(),
                    id: i.s(ATTR_ID)?.to_string(),
                })
            })
            .collect())
    }

    /// Removes a deleted resource's edges, a page at a time, until none are
    /// left (then the task goes too: `true`) or `deadline` passes (`false`).
    pub async fn cleanup(&self, task: &CleanupTask, deadline: Instant) -> Result<bool, DirError> {
        // Each side (the resource as a member; a group as the holder of
        // members) is read a full Query page (1 MB) a round, on from where
        // the last round stopped, until its end.
        let mut sides = vec![Some(member_edges(&self.keys, &task.id, usize::MAX))];
        if task.resource_type == "Group" {
            sides.push(Some(group_edges(&self.keys, &task.id, usize::MAX)));
        }
        // Deletes carried to the next round so that every BatchWriteItem
        // but the last is full.
        let mut pending: Vec<Write> = Vec::new();
        loop {
            if Instant::now() >= deadline {
                self.table.batch_write(&pending).await?;
                return Ok(false);
            }
            for side in &mut sides {
                let Some(q) = side.as_mut() else { continue };
                let page = self.table.query(q).await?;
                let edges: Vec<Edge> = page.items.iter().filter_map(Edge::from_item).collect();
                pending.extend(edge_deletes(&self.keys, &edges));
                match page.items.last() {
                    Some(last) if page.more => q.start_after = Some(last.clone()),
                    _ => *side = None,
                }
            }
            let full = pending.len() / MAX_BATCH_WRITE_ITEMS * MAX_BATCH_WRITE_ITEMS;
            let rest = pending.split_off(full);
            self.table.batch_write(&pending).await?;
            pending = rest;
            if sides.iter().all(Option::is_none) {
                // The task goes last, in the last (partial) batch, once every
                // other edge is gone. An edge added by a request racing this
                // delete can outlive it; reads never show it, as its other
                // end is gone.
                pending.push(Write::delete(task.key.clone(), Condition::None));
                self.table.batch_write(&pending).await?;
                return Ok(true);
            }
        }
    }

    /// The user holding this `userName` (any letter case): 2 GetItems (guard,
    /// then user), both strongly consistent.
    pub async fn find_by_user_name(
        &self,
        rt: &ResourceType,
        user_name: &str,
    ) -> Result<Option<Stored>, DirError> {
        let Some(guard) = self
            .table
            .get(&self.keys.user_name_guard(user_name))
            .await?
        else {
            return Ok(None);
        };
        match guard.s(ATTR_ID) {
            Some(id) => self.get(rt, id).await,
            None => Ok(None),
        }
    }

    /// Resources with this `externalId`: Queries on `gsi2`, at most `limit`.
    pub async fn find_by_external_id(
        &self,
        rt: &ResourceType,
        external_id: &str,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        let pk = self.keys.external_id_partition(rt.name, external_id);
        self.collect(Query::partition(Some(&LOOKUP_INDEX), pk, limit), limit)
            .await
    }

    /// Resources of a type in id order, from the start: Queries on `gsi1`
    /// until `limit` are read. Returns them and whether more exist.
    pub async fn scan_type(
        &self,
        rt: &ResourceType,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        self.scan_type_after(rt, None, limit).await
    }

    /// Like `scan_type`, starting after the resource with id `after`: the
    /// Query starts at that key (DynamoDB's ExclusiveStartKey), so the cost
    /// is that of the page, whatever its depth.
    pub async fn scan_type_after(
        &self,
        rt: &ResourceType,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        let mut q = Query::partition(
            Some(&TYPE_INDEX),
            self.keys.type_partition(rt.name),
            limit.max(1),
        );
        q.start_after = after.map(|id| {
            let mut item = Item::new(self.keys.resource(rt.name, id));
            item.set_s(TYPE_INDEX.pk, self.keys.type_partition(rt.name))
                .set_s(TYPE_INDEX.sk, id);
            item
        });
        self.collect(q, limit).await
    }

    async fn collect(&self, q: Query, limit: usize) -> Result<(Vec<Stored>, bool), DirError> {
        let (items, more) = self.collect_items(q, limit).await?;
        let stored = items
            .iter()
            .map(Self::from_item)
            .collect::<Result<_, _>>()?;
        Ok((stored, more))
    }

    /// Items of a Query, paging on until `limit` are read; and whether more
    /// exist. One more than needed is asked for, so that "more" is exact on
    /// both drivers (DynamoDB returns a LastEvaluatedKey whenever it stops at
    /// the limit, even when nothing follows).
    async fn collect_items(
        &self,
        mut q: Query,
        limit: usize,
    ) -> Result<(Vec<Item>, bool), DirError> {
        let mut out = Vec::new();
        loop {
            q.limit = (limit - out.len()).saturating_add(1);
            let page = self.table.query(&q).await?;
            for item in &page.items {
                if out.len() == limit {
                    return Ok((out, true));
                }
                out.push(item.clone());
            }
            match page.items.last() {
                Some(last) if page.more => q.start_after = Some(last.clone()),
                _ => return Ok((out, false)),
            }
        }
    }

    /// How many resources of a type exist (Select=COUNT Queries on `gsi1`).
    pub async fn count(&self, rt: &ResourceType) -> Result<usize, DirError> {
        Ok(self
            .table
            .count(Some(&TYPE_INDEX), &self.keys.type_partition(rt.name))
            .await?)
    }
}

/// What one round of removing a directory did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removal {
    /// Items deleted this round.
    pub deleted: usize,
    /// Nothing of the directory is left.
    pub done: bool,
}

/// Most anchors (cleanup tasks, groups, users) of each kind one removal
/// round reads.
const REMOVAL_PAGE: usize = 100;

impl Directory {
    /// Deletes the directory's items: one round, which stops once about
    /// `budget` items are deleted. Rounds can be run until `done`, by one
    /// process or by several in turn: each round finds what is left from the
    /// indexes, so a removal cut short anywhere resumes where it stopped.
    ///
    /// Every item hangs off an anchor that can be listed: a pending cleanup
    /// task (its resource's partition may still hold edges), a group
    /// (`gsi1`; its partition holds its edges) or a user (`gsi1`; its
    /// `userName` names its guard, its emails its lookup items, all written
    /// in the same transactions as the user). Anchors are deleted after
    /// everything that hangs off them, so that a round stopped half-way
    /// leaves them to be found again. Memory holds one Query page.
    pub async fn remove_some(&self, budget: usize) -> Result<Removal, DirError> {
        let mut round = Removal::default();
        // A user is about 4 items (itself, its guard, an email, an edge).
        let page_size = (budget / 4).clamp(1, REMOVAL_PAGE);
        // Deleted first, then the anchors.
        let mut dependents: Vec<Write> = Vec::new();
        let mut anchors: Vec<Write> = Vec::new();
        let delete = |k: Key| Write::delete(k, Condition::None);
        let tasks = Query::partition(None, self.keys.cleanup_partition(), page_size);
        let page = self.table.query(&tasks).await?;
        let mut found = !page.items.is_empty();
        for task in &page.items {
            if let (Some(ty), Some(id)) = (task.s(ATTR_TARGET_TYPE), task.s(ATTR_ID)) {
                let pk = self.keys.resource(ty, id).pk;
                if !self.purge_partition(&pk, budget, &mut round).await? {
                    return Ok(round);
                }
            }
            anchors.push(delete(task.key()));
        }
        for rt in ["Group", "User"] {
            let q = Query::partition(Some(&TYPE_INDEX), self.keys.type_partition(rt), page_size);
            let page = self.table.query(&q).await?;
            found |= !page.items.is_empty();
            for item in &page.items {
                let key = item.key();
                if rt == "Group" {
                    if !self.purge_partition(&key.pk, budget, &mut round).await? {
                        return Ok(round);
                    }
                } else if let Ok(user) = Self::from_item(item) {
                    // The keys its own writes give it: its guard and email
                    // lookups.
                    let rt = &crate::scim::schema::USER_TYPE;
                    dependents.extend(self.guards(rt, &user.doc).into_iter().map(delete));
                    let emails = self.lookups(rt, &user);
                    dependents.extend(emails.into_iter().map(|e| delete(e.key())));
                }
                anchors.push(delete(key));
            }
        }
        for writes in [dependents, anchors] {
            self.table.batch_write(&writes).await?;
            round.deleted += writes.len();
        }
        round.done = !found;
        Ok(round)
    }

    /// Whether the directory holds no resource and no pending cleanup (3
    /// Queries of one item).
    pub async fn is_empty(&self) -> Result<bool, DirError> {
        let probes = [
            Query::partition(None, self.keys.cleanup_partition(), 1),
            Query::partition(Some(&TYPE_INDEX), self.keys.type_partition("User"), 1),
            Query::partition(Some(&TYPE_INDEX), self.keys.type_partition("Group"), 1),
        ];
        for q in &probes {
            if !self.table.query(q).await?.items.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Deletes a partition's items but its `RESOURCE` item; `false` if the
    /// budget ran out first.
    async fn purge_partition(
        &self,
        pk: &str,
        budget: usize,
        round: &mut Removal,
    ) -> Result<bool, DirError> {
        let mut q = Query::partition(None, pk, usize::MAX);
        loop {
            let page = self.table.query(&q).await?;
            let deletes: Vec<Write> = page
                .items
                .iter()
                .map(Item::key)
                .filter(|k| k.sk != RESOURCE_SK)
                .map(|k| Write::delete(k, Condition::None))
                .collect();
            self.table.batch_write(&deletes).await?;
            round.deleted += deletes.len();
            match page.items.last() {
                Some(last) if page.more => {
                    if round.deleted >= budget {
                        return Ok(false);
                    }
                    q.start_after = Some(last.clone());
                }
                _ => return Ok(true),
            }
        }
    }

    /// Deletes whatever of the directory's items a whole-table Scan still
    /// finds (say, an edge written by a request racing its group's delete),
    /// one Scan page a round after `start_after`: returns the items deleted
    /// and where to go on from (`None` at the end). Reads the whole table.
    pub async fn sweep_some(
        &self,
        start_after: Option<&Key>,
    ) -> Result<(usize, Option<Key>), DirError> {
        let page = self.table.scan(start_after, usize::MAX).await?;
        let deletes: Vec<Write> = page
            .items
            .iter()
            .map(Item::key)
            .filter(|k| self.keys.owns(&k.pk))
            .map(|k| Write::delete(k, Condition::None))
            .collect();
        self.table.batch_write(&deletes).await?;
        let next = page.items.last().filter(|_| page.more).map(Item::key);
        Ok((deletes.len(), next))
    }
}

fn edge_deletes<'a>(keys: &'a Keys, edges: &'a [Edge]) -> impl Iterator<Item = Write> + 'a {
    edges
        .iter()
        .map(|e| Write::delete(keys.member_edge(&e.group_id, &e.member_id), Condition::None))
}

/// The Query for a group's member edges (its own partition).
fn group_edges(keys: &Keys, group_id: &str, limit: usize) -> Query {
    let (pk, prefix) = keys.members_of(group_id);
    let mut q = Query::partition(None, pk, limit.max(1));
    q.sk_prefix = Some(prefix.to_string());
    q
}

/// The Query for the edges whose member is `member_id` (`gsi2`).
fn member_edges(keys: &Keys, member_id: &str, limit: usize) -> Query {
    Query::partition(
        Some(&LOOKUP_INDEX),
        keys.member_of_partition(member_id),
        limit.max(1),
    )
}
