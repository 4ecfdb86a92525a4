//! The small table interface both drivers implement, and the `Table` handle
//! the resource code uses (`handle`). The handle enforces DynamoDB's limits
//! for both drivers alike and counts the requests each operation makes.

mod handle;

pub use handle::{Requests, Stats, Table, count_requests, last_per_key};

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::keys::{IndexDef, Key, PK, SK};

/// DynamoDB's limits, enforced here for both drivers.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
pub const MAX_TRANSACT_ITEMS: usize = 100;
pub const MAX_BATCH_WRITE_ITEMS: usize = 25;
pub const MAX_BATCH_GET_KEYS: usize = 100;
pub const MAX_QUERY_PAGE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrValue {
    S(String),
    N(i64),
}

/// One item: attribute name to value. `pk` and `sk` are always present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item(pub BTreeMap<String, AttrValue>);

impl Item {
    pub fn new(key: Key) -> Self {
        let mut m = BTreeMap::new();
        m.insert(PK.into(), AttrValue::S(key.pk));
        m.insert(SK.into(), AttrValue::S(key.sk));
        Self(m)
    }
    pub fn set_s(&mut self, name: &str, v: impl Into<String>) -> &mut Self {
        self.0.insert(name.into(), AttrValue::S(v.into()));
        self
    }
    pub fn set_n(&mut self, name: &str, v: i64) -> &mut Self {
        self.0.insert(name.into(), AttrValue::N(v));
        self
    }
    pub fn s(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(AttrValue::S(s)) => Some(s),
            _ => None,
        }
    }
    pub fn n(&self, name: &str) -> Option<i64> {
        match self.0.get(name) {
            Some(AttrValue::N(n)) => Some(*n),
            _ => None,
        }
    }
    pub fn key(&self) -> Key {
        Key {
            pk: self.s(PK).unwrap_or_default().to_string(),
            sk: self.s(SK).unwrap_or_default().to_string(),
        }
    }
    /// The item's size as DynamoDB counts it: attribute names plus values
    /// (strings by UTF-8 length, numbers by about one byte per two digits).
    pub fn size(&self) -> usize {
        self.0
            .iter()
            .map(|(k, v)| {
                k.len()
                    + match v {
                        AttrValue::S(s) => s.len(),
                        AttrValue::N(n) => n.unsigned_abs().to_string().len().div_ceil(2) + 1,
                    }
            })
            .sum()
    }
}

/// The condition a write is made under. `Exists` and `VersionIs` also
/// require that no writer holds a live claim on the item (see [`Claim`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    None,
    /// No item with this key exists.
    NotExists,
    /// An item with this key exists.
    Exists,
    /// The item exists and its `version` attribute equals this.
    VersionIs(i64),
    /// The item's `version` equals this, whatever claim it holds: the
    /// writer that took the claim (at this version) finishing its work.
    Claimed(i64),
}

/// A claim on an item: a writer whose change takes more than one request
/// (batches of edges around a resource's own write) holds it from its first
/// write to its last, so that no other write of the resource comes in
/// between; it lapses at `claimedUntil` (milliseconds since the Unix epoch)
/// if the writer never finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Keep,
    Take(i64),
    Release,
}

/// Milliseconds since the Unix epoch, for claims.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Debug, Clone)]
pub enum Write {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    /// Adds one to `version` and sets `lastModified`, in place (an UpdateItem),
    /// so that concurrent writers need not read the item first.
    Touch {
        key: Key,
        last_modified: String,
        condition: Condition,
        claim: Claim,
    },
    /// Adds `delta` to the number `attribute`, making the item (and the
    /// number, from zero) if there is none: an UpdateItem with `ADD`, under
    /// no condition. For counters kept in the same commit as the change
    /// they count.
    Add {
        key: Key,
        attribute: &'static str,
        delta: i64,
    },
}

impl Write {
    pub fn key(&self) -> Key {
        match self {
            Self::Put { item, .. } => item.key(),
            Self::Delete { key, .. } | Self::Touch { key, .. } | Self::Add { key, .. } => {
                key.clone()
            }
        }
    }
    pub fn condition(&self) -> Condition {
        match self {
            Self::Put { condition, .. }
            | Self::Delete { condition, .. }
            | Self::Touch { condition, .. } => *condition,
            Self::Add { .. } => Condition::None,
        }
    }
    /// Whether this write updates an item in place (an UpdateItem, which a
    /// BatchWriteItem cannot carry).
    pub fn is_update(&self) -> bool {
        matches!(self, Self::Touch { .. } | Self::Add { .. })
    }
    pub fn put(item: Item, condition: Condition) -> Self {
        Self::Put { item, condition }
    }
    pub fn delete(key: Key, condition: Condition) -> Self {
        Self::Delete { key, condition }
    }
}

/// A Query: one partition of the table or of a GSI, in sort key order.
#[derive(Debug, Clone)]
pub struct Query {
    pub index: Option<&'static IndexDef>,
    pub pk: String,
    pub sk_prefix: Option<String>,
    /// Sort keys from the first to the second, both included (instead of
    /// a prefix: a Query has one sort key condition).
    pub sk_between: Option<(String, String)>,
    /// Continue after this item (as DynamoDB's `ExclusiveStartKey`).
    pub start_after: Option<Item>,
    pub limit: usize,
}

impl Query {
    pub fn partition(
        index: Option<&'static IndexDef>,
        pk: impl Into<String>,
        limit: usize,
    ) -> Self {
        Self {
            index,
            pk: pk.into(),
            sk_prefix: None,
            sk_between: None,
            start_after: None,
            limit,
        }
    }
}

/// One page of a Query: at most `limit` items and at most 1 MB.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// More items may follow the last one.
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The condition of write number `index` (0-based) did not hold.
    ConditionFailed { index: usize },
    /// An item is over DynamoDB's 400 KB limit.
    ItemTooLarge { bytes: usize },
    /// A transaction of more than 100 writes.
    TooManyWrites { count: usize },
    /// Throttled, or a transaction kept conflicting: try again later.
    Busy,
    /// Anything else; the text is for logs, never for clients.
    Backend(String),
}

impl StoreError {
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, Self::ConditionFailed { .. })
    }
    /// Which write's condition failed, looking inside transactions.
    pub fn failed_write(&self) -> Option<usize> {
        match self {
            Self::ConditionFailed { index } => Some(*index),
            _ => None,
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ConditionFailed { index } => write!(f, "condition of write {index} failed"),
            Self::ItemTooLarge { bytes } => {
                write!(f, "item of {bytes} bytes is over {MAX_ITEM_BYTES}")
            }
            Self::TooManyWrites { count } => {
                write!(
                    f,
                    "{count} writes in one transaction, over {MAX_TRANSACT_ITEMS}"
                )
            }
            Self::Busy => f.write_str("throttled or conflicting"),
            Self::Backend(e) => write!(f, "backend: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// What a driver does. Each call is one request to the backing store, except
/// `count`, which reports how many it made.
#[async_trait]
pub trait Driver: Send + Sync {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    async fn query(&self, q: &Query) -> Result<Page, StoreError>;
    /// Counts a partition; returns (items, requests made).
    async fn count(
        &self,
        index: Option<&'static IndexDef>,
        pk: &str,
    ) -> Result<(usize, u64), StoreError>;
    /// One conditional write.
    async fn write(&self, w: &Write) -> Result<(), StoreError>;
    /// 2 to 100 writes, all or none.
    async fn transact(&self, ws: &[Write]) -> Result<(), StoreError>;
    /// Up to 100 keys; the items that exist, in any order.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;
    /// Up to 25 unconditional puts and deletes of distinct keys, each applied
    /// (not all-or-none); returns once every one is applied.
    async fn batch_write(&self, ws: &[Write]) -> Result<(), StoreError>;
    /// One page (at most `limit` items and 1 MB) of the whole table in key
    /// order, after `start_after` (a Scan: for tenant sweeps and checks,
    /// never for a SCIM request).
    async fn scan(&self, start_after: Option<&Key>, limit: usize) -> Result<Page, StoreError>;
    /// Capacity units consumed since the driver was made, where the backend
    /// reports them (DynamoDB does; the embedded store has no such thing).
    fn consumed(&self) -> Option<Capacity> {
        None
    }
    /// The driver's own record of changes, if it keeps one (the embedded
    /// driver does; DynamoDB's is the table's stream).
    fn change_log(&self) -> Option<std::sync::Arc<dyn super::changes::ChangeLog>> {
        None
    }
}

/// Read and write capacity units, as DynamoDB reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Capacity {
    pub read: f64,
    pub write: f64,
}

impl std::ops::Sub for Capacity {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self {
            read: self.read - o.read,
            write: self.write - o.write,
        }
    }
}

/// DynamoDB's write limits, checked before anything is sent.
pub fn check_writes(writes: &[Write]) -> Result<(), StoreError> {
    if writes.len() > MAX_TRANSACT_ITEMS {
        return Err(StoreError::TooManyWrites {
            count: writes.len(),
        });
    }
    // DynamoDB refuses two writes of one item in a request; so does the
    // embedded driver, through this check.
    let mut seen = std::collections::HashSet::new();
    if !writes.iter().all(|w| seen.insert(w.key())) {
        return Err(StoreError::Backend(
            "two writes of the same item in one request".into(),
        ));
    }
    for w in writes {
        if let Write::Put { item, .. } = w {
            let bytes = item.size();
            if bytes > MAX_ITEM_BYTES {
                return Err(StoreError::ItemTooLarge { bytes });
            }
        }
    }
    Ok(())
}

/// Splits writes into BatchWriteItem-sized chunks.
pub fn batches(writes: &[Write]) -> impl Iterator<Item = &[Write]> {
    writes.chunks(MAX_BATCH_WRITE_ITEMS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys;

    fn item_of(bytes: usize) -> Item {
        let mut i = Item::new(keys::Keys::default().resource(crate::scim::Kind::User, "x"));
        i.set_s("doc", "a".repeat(bytes));
        i
    }

    #[test]
    fn refuses_items_over_400_kb() {
        let small = Write::put(item_of(1000), Condition::None);
        assert_eq!(check_writes(&[small]), Ok(()));
        let big = Write::put(item_of(MAX_ITEM_BYTES), Condition::None);
        assert!(matches!(
            check_writes(&[big]),
            Err(StoreError::ItemTooLarge { .. })
        ));
    }

    #[test]
    fn refuses_transactions_over_100_writes() {
        let ws: Vec<Write> = (0..=MAX_TRANSACT_ITEMS)
            .map(|i| {
                Write::delete(
                    keys::Keys::default().resource(crate::scim::Kind::User, &i.to_string()),
                    Condition::None,
                )
            })
            .collect();
        assert_eq!(
            check_writes(&ws),
            Err(StoreError::TooManyWrites { count: 101 })
        );
        assert_eq!(check_writes(&ws[..100]), Ok(()));
    }

    #[test]
    fn refuses_two_writes_of_one_item() {
        let k = keys::Keys::default().resource(crate::scim::Kind::User, "x");
        let ws = [
            Write::delete(k.clone(), Condition::None),
            Write::delete(k, Condition::None),
        ];
        assert!(matches!(check_writes(&ws), Err(StoreError::Backend(_))));
    }

    #[test]
    fn batches_hold_at_most_25_writes() {
        let ws: Vec<Write> = (0..60)
            .map(|i| {
                Write::delete(
                    keys::Keys::default().resource(crate::scim::Kind::User, &i.to_string()),
                    Condition::None,
                )
            })
            .collect();
        let sizes: Vec<usize> = batches(&ws).map(<[Write]>::len).collect();
        assert_eq!(sizes, vec![25, 25, 10]);
    }

    #[test]
    fn item_size_counts_names_and_values() {
        let mut i = Item::default();
        i.set_s("ab", "cde").set_n("n", 12345);
        assert_eq!(i.size(), 2 + 3 + 1 + 4);
    }
}
