//! A resource as items: the resource item with its index keys, the guard
//! items its `userName` needs, and the lookup items of its emails.

use serde_json::Value;

use super::{DirError, Directory, Stored, Written};
use crate::scim::Kind;
use crate::scim::resource::{Doc, Meta};
use crate::store::keys::{self, DISPLAY_NAME_INDEX, Key, LOOKUP_INDEX, TYPE_INDEX, attr};
use crate::store::table::{Item, StoreError};

impl Directory {
    /// The guard items a resource's document needs (its `userName`, for users).
    pub(in crate::store) fn guards(&self, kind: Kind, doc: &Doc) -> Vec<Key> {
        match (kind, doc.get("userName").and_then(Value::as_str)) {
            (Kind::User, Some(name)) => vec![self.keys.user_name_guard(name)],
            _ => Vec::new(),
        }
    }

    /// The lookup items a resource's document needs: one per distinct email
    /// of a user, so that `emails.value eq` is one Query on `gsi2`. They carry
    /// no condition; they change in the same transaction as the resource.
    pub(in crate::store) fn lookups(&self, kind: Kind, s: &Stored) -> Vec<Item> {
        if kind != Kind::User {
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
                    .set_s(attr::TYPE, "EmailLookup")
                    .set_s(attr::ID, s.meta.id.clone());
                item
            })
            .collect()
    }

    pub(in crate::store) fn guard_item(kind: Kind, key: Key, id: &str) -> Item {
        let mut guard = Item::new(key);
        guard
            .set_s(attr::ID, id)
            .set_s(attr::TYPE, format!("{}Guard", kind.name()));
        guard
    }

    pub(in crate::store) fn to_item(
        &self,
        kind: Kind,
        s: &Stored,
        op: Written,
    ) -> Result<Item, DirError> {
        let doc = serde_json::to_string(&s.doc).map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut item = Item::new(self.keys.resource(kind, &s.meta.id));
        item.set_s(TYPE_INDEX.pk, self.keys.type_partition(kind))
            .set_s(TYPE_INDEX.sk, s.meta.id.clone())
            .set_s(attr::TYPE, kind.name())
            .set_s(attr::ID, s.meta.id.clone())
            .set_s(attr::DOC, doc)
            .set_s(attr::CREATED, s.meta.created.clone())
            .set_s(attr::LAST_MODIFIED, s.meta.last_modified.clone())
            .set_s(attr::OPERATION, op.as_str())
            .set_n(
                attr::VERSION,
                i64::try_from(s.meta.version).unwrap_or(i64::MAX),
            );
        if let Some(ext) = s.doc.get("externalId").and_then(Value::as_str) {
            item.set_s(LOOKUP_INDEX.pk, self.keys.external_id_partition(kind, ext))
                .set_s(LOOKUP_INDEX.sk, s.meta.id.clone());
        }
        if kind == Kind::Group {
            if let Some(name) = s.doc.get("displayName").and_then(Value::as_str) {
                item.set_s(
                    DISPLAY_NAME_INDEX.pk,
                    self.keys.display_name_partition(name),
                )
                .set_s(DISPLAY_NAME_INDEX.sk, s.meta.id.clone());
            }
        }
        // A plain copy for applications that read the table directly.
        if let Some(name) = s.doc.get("userName").and_then(Value::as_str) {
            item.set_s(attr::USER_NAME, name);
        }
        Ok(item)
    }

    pub(in crate::store) fn from_item(item: &Item) -> Result<Stored, DirError> {
        let corrupt = || {
            DirError::Store(StoreError::Backend(
                "item without resource attributes".into(),
            ))
        };
        let doc: Doc = serde_json::from_str(item.s(attr::DOC).ok_or_else(corrupt)?)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Stored {
            meta: Meta {
                id: item.s(attr::ID).ok_or_else(corrupt)?.to_string(),
                created: item.s(attr::CREATED).unwrap_or_default().to_string(),
                last_modified: item.s(attr::LAST_MODIFIED).unwrap_or_default().to_string(),
                version: item
                    .n(attr::VERSION)
                    .and_then(|v| u64::try_from(v).ok())
                    .unwrap_or(0),
            },
            doc,
        })
    }

    pub(in crate::store) fn version(s: &Stored) -> i64 {
        i64::try_from(s.meta.version).unwrap_or(i64::MAX)
    }
}
