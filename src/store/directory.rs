//! The resource module: SCIM resources as items of the single table, with
//! their uniqueness guards. Every write here is one conditional write or one
//! transaction; errors come back as questions the service maps to SCIM.

use serde_json::Value;

use super::keys::{self, EXTERNAL_ID_INDEX, Key, TYPE_INDEX};
use super::table::{Condition, Item, Query, Requests, StoreError, Table, Write};
use crate::scim::resource::{Doc, Meta};
use crate::scim::schema::ResourceType;

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

#[derive(Clone)]
pub struct Directory {
    table: Table,
}

impl Directory {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Requests made to the table so far.
    pub fn requests(&self) -> Requests {
        self.table.requests()
    }

    /// The guard items a resource's document needs (its `userName`, for users).
    fn guards(rt: &ResourceType, doc: &Doc) -> Vec<Key> {
        match (rt.name, doc.get("userName").and_then(Value::as_str)) {
            ("User", Some(name)) => vec![keys::user_name_guard(name)],
            _ => Vec::new(),
        }
    }

    fn to_item(rt: &ResourceType, s: &Stored) -> Result<Item, DirError> {
        let doc = serde_json::to_string(&s.doc).map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut item = Item::new(keys::resource(rt.name, &s.meta.id));
        item.set_s(TYPE_INDEX.pk, keys::type_partition(rt.name))
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
                EXTERNAL_ID_INDEX.pk,
                keys::external_id_partition(rt.name, ext),
            )
            .set_s(EXTERNAL_ID_INDEX.sk, s.meta.id.clone());
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
        let item = self.table.get(&keys::resource(rt.name, id)).await?;
        item.as_ref().map(Self::from_item).transpose()
    }

    /// 1 PutItem, or 1 TransactWriteItems with the guard items.
    pub async fn create(&self, rt: &ResourceType, s: &Stored) -> Result<(), DirError> {
        let mut writes = vec![Write::put(Self::to_item(rt, s)?, Condition::NotExists)];
        for g in Self::guards(rt, &s.doc) {
            let mut guard = Item::new(g);
            guard
                .set_s(ATTR_ID, s.meta.id.clone())
                .set_s(ATTR_TYPE, format!("{}Guard", rt.name));
            writes.push(Write::put(guard, Condition::NotExists));
        }
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
    ) -> Result<(), DirError> {
        let mut writes = vec![Write::put(
            Self::to_item(rt, new)?,
            Condition::VersionIs(Self::version(old)),
        )];
        let before = Self::guards(rt, &old.doc);
        let after = Self::guards(rt, &new.doc);
        for g in before.iter().filter(|g| !after.contains(g)) {
            writes.push(Write::delete(g.clone(), Condition::None));
        }
        let first_new_guard = writes.len();
        for g in after.into_iter().filter(|g| !before.contains(g)) {
            let mut guard = Item::new(g);
            guard
                .set_s(ATTR_ID, new.meta.id.clone())
                .set_s(ATTR_TYPE, format!("{}Guard", rt.name));
            writes.push(Write::put(guard, Condition::NotExists));
        }
        match self.table.write_all(&writes).await {
            Err(e) => match e.failed_write() {
                Some(0) => Err(DirError::VersionMismatch),
                Some(i) if i >= first_new_guard => Err(DirError::UserNameTaken),
                _ => Err(e.into()),
            },
            Ok(()) => Ok(()),
        }
    }

    /// Deletes `old` if it is still current, with its guards: 1 DeleteItem or
    /// 1 TransactWriteItems.
    pub async fn delete(&self, rt: &ResourceType, old: &Stored) -> Result<(), DirError> {
        let mut writes = vec![Write::delete(
            keys::resource(rt.name, &old.meta.id),
            Condition::VersionIs(Self::version(old)),
        )];
        for g in Self::guards(rt, &old.doc) {
            writes.push(Write::delete(g, Condition::None));
        }
        match self.table.write_all(&writes).await {
            Err(e) if e.failed_write() == Some(0) => Err(DirError::VersionMismatch),
            other => Ok(other?),
        }
    }

    /// The user holding this `userName` (any letter case): 2 GetItems (guard,
    /// then user), both strongly consistent.
    pub async fn find_by_user_name(
        &self,
        rt: &ResourceType,
        user_name: &str,
    ) -> Result<Option<Stored>, DirError> {
        let Some(guard) = self.table.get(&keys::user_name_guard(user_name)).await? else {
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
        let pk = keys::external_id_partition(rt.name, external_id);
        self.collect(Query::partition(Some(&EXTERNAL_ID_INDEX), pk, limit), limit)
            .await
    }

    /// Resources of a type in id order, from the start: Queries on `gsi1`
    /// until `limit` are read. Returns them and whether more exist.
    pub async fn scan_type(
        &self,
        rt: &ResourceType,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        let q = Query::partition(
            Some(&TYPE_INDEX),
            keys::type_partition(rt.name),
            limit.max(1),
        );
        self.collect(q, limit).await
    }

    async fn collect(&self, mut q: Query, limit: usize) -> Result<(Vec<Stored>, bool), DirError> {
        let mut out = Vec::new();
        loop {
            q.limit = (limit - out.len()).max(1);
            let page = self.table.query(&q).await?;
            for item in &page.items {
                if out.len() == limit {
                    return Ok((out, true));
                }
                out.push(Self::from_item(item)?);
            }
            if !page.more {
                return Ok((out, false));
            }
            if out.len() >= limit {
                return Ok((out, true));
            }
            q.start_after = page.items.last().cloned();
        }
    }

    /// How many resources of a type exist (Select=COUNT Queries on `gsi1`).
    pub async fn count(&self, rt: &ResourceType) -> Result<usize, DirError> {
        Ok(self
            .table
            .count(Some(&TYPE_INDEX), &keys::type_partition(rt.name))
            .await?)
    }
}
