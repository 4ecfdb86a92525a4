//! Committed changes of the table, as both drivers report them: the item
//! before and after one write (DynamoDB's stream record with
//! NEW_AND_OLD_IMAGES; the embedded driver's change log, written in the
//! same commit). [`delta`] reads one change back as what happened to a
//! directory, the one mapping both capture paths share.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::directory::{Directory, Edge, Stored, Written};
use super::keys::{self, Changed, Key, attr};
use super::table::{Item, StoreError};
use crate::scim::Kind;
use crate::tenant::Tenant;

/// One committed write of one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Unique and stable per change: a change delivered again carries the
    /// same id (DynamoDB's `eventID`; the log's own id and position).
    pub id: String,
    /// Orders the changes of one item (DynamoDB's `SequenceNumber`, a
    /// decimal; the log's position).
    pub sequence: String,
    /// When it was committed, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// Whether a write of the item at `key`, from `old` to `new`, makes an
/// event: a resource's own item created, deleted or with another document
/// (not a version bump for its members, not a claim taken or released),
/// or an edge added or removed. Guards, lookups and cleanup tasks make
/// none. The one place that decides it, for both capture paths.
pub fn makes_event(key: &Key, old: Option<&Item>, new: Option<&Item>) -> bool {
    match (keys::changed(key), old, new) {
        (None, _, _) => false,
        (Some((_, Changed::Resource { .. })), Some(o), Some(n)) => o.s(attr::DOC) != n.s(attr::DOC),
        (Some((_, Changed::Member { .. })), Some(_), Some(_)) => false,
        (Some(_), o, n) => o.is_some() != n.is_some(),
    }
}

/// A resource as stored, with the operation that wrote it.
#[derive(Debug, Clone)]
pub struct Version {
    pub stored: Stored,
    pub written: Written,
}

/// What one change did to a directory.
#[derive(Debug, Clone)]
pub enum Delta {
    Resource {
        kind: Kind,
        id: String,
        before: Option<Box<Version>>,
        after: Option<Box<Version>>,
    },
    Member {
        edge: Edge,
        added: bool,
    },
}

/// What a change did, with its directory; `None` for a write that makes no
/// event (see [`makes_event`]).
pub fn delta(change: &Change) -> Result<Option<(Tenant, Delta)>, StoreError> {
    let Some(item) = change.new.as_ref().or(change.old.as_ref()) else {
        return Ok(None);
    };
    let key = item.key();
    if !makes_event(&key, change.old.as_ref(), change.new.as_ref()) {
        return Ok(None);
    }
    let Some((tenant, what)) = keys::changed(&key) else {
        return Ok(None);
    };
    let delta = match what {
        Changed::Resource { kind, id } => Delta::Resource {
            kind,
            id,
            before: change.old.as_ref().map(version).transpose()?.map(Box::new),
            after: change.new.as_ref().map(version).transpose()?.map(Box::new),
        },
        Changed::Member { .. } => {
            let (added, item) = match (&change.old, &change.new) {
                (None, Some(new)) => (true, new),
                (Some(old), _) => (false, old),
                (None, None) => return Ok(None),
            };
            let edge = Edge::from_item(item)
                .ok_or_else(|| StoreError::Backend("an edge without its attributes".into()))?;
            Delta::Member { edge, added }
        }
    };
    Ok(Some((tenant, delta)))
}

fn version(item: &Item) -> Result<Version, StoreError> {
    let stored = Directory::from_item(item)
        .map_err(|_| StoreError::Backend("a resource item without its attributes".into()))?;
    // Items written before operations were recorded read as replaced.
    let written = item
        .s(attr::OPERATION)
        .and_then(Written::parse)
        .unwrap_or(Written::Replaced);
    Ok(Version { stored, written })
}

/// A driver's own record of changes (the embedded driver keeps one; on
/// DynamoDB the table's stream is the record, read by AWS).
#[async_trait]
pub trait ChangeLog: Send + Sync {
    /// The log's id, unique per store file: part of every change id.
    fn log_id(&self) -> &str;
    /// Up to `limit` changes after position `after` (from the start when
    /// `None`), oldest first, with their positions.
    async fn read_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Change)>, StoreError>;
    /// A consumer's saved position (how far it has delivered).
    async fn position(&self, consumer: &str) -> Result<Option<u64>, StoreError>;
    async fn save_position(&self, consumer: &str, position: u64) -> Result<(), StoreError>;
    /// Up to `limit` changes of one directory (`Tenant::log_name`) no poll
    /// has acknowledged, oldest first, with their positions.
    async fn pending(
        &self,
        directory: &str,
        limit: usize,
    ) -> Result<Vec<(u64, Change)>, StoreError>;
    /// Marks changes of one directory acknowledged (by a poll); positions
    /// of other directories' changes are left as they are.
    async fn acknowledge(&self, directory: &str, positions: &[u64]) -> Result<(), StoreError>;
    /// Forgets changes committed before `before_ms`, at positions up to
    /// `up_to`; returns how many.
    async fn prune(&self, before_ms: i64, up_to: u64) -> Result<usize, StoreError>;
}
