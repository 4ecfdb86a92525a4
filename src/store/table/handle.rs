//! The `Table` handle the resource code uses, over either driver: it
//! enforces DynamoDB's limits before anything is sent, splits batches,
//! and counts the requests each operation makes (in all, and per request
//! for the log line).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{
    Capacity, Condition, Driver, IndexDef, Item, Key, MAX_BATCH_GET_KEYS, Page, Query, StoreError,
    Write, batches, check_writes,
};

/// How many batch requests one operation keeps in flight at once.
const BATCH_CONCURRENCY: usize = 16;

/// Requests made, by kind, since the table handle was opened.
#[derive(Debug, Default)]
pub struct Stats {
    pub get_item: AtomicU64,
    pub query: AtomicU64,
    pub put_or_delete_item: AtomicU64,
    pub update_item: AtomicU64,
    pub transact_write_items: AtomicU64,
    pub batch_get_item: AtomicU64,
    pub batch_write_item: AtomicU64,
    pub scan: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requests {
    pub get_item: u64,
    pub query: u64,
    pub put_or_delete_item: u64,
    pub update_item: u64,
    pub transact_write_items: u64,
    pub batch_get_item: u64,
    pub batch_write_item: u64,
    pub scan: u64,
}

impl Requests {
    pub fn total(&self) -> u64 {
        self.get_item
            + self.query
            + self.put_or_delete_item
            + self.update_item
            + self.transact_write_items
            + self.batch_get_item
            + self.batch_write_item
            + self.scan
    }
}

impl std::ops::Sub for Requests {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self {
            get_item: self.get_item - o.get_item,
            query: self.query - o.query,
            put_or_delete_item: self.put_or_delete_item - o.put_or_delete_item,
            update_item: self.update_item - o.update_item,
            transact_write_items: self.transact_write_items - o.transact_write_items,
            batch_get_item: self.batch_get_item - o.batch_get_item,
            batch_write_item: self.batch_write_item - o.batch_write_item,
            scan: self.scan - o.scan,
        }
    }
}

/// One write a key, the last given for it (in the place of the first):
/// neither a batch nor a transaction may write an item twice.
pub fn last_per_key(writes: impl IntoIterator<Item = Write>) -> Vec<Write> {
    let mut out: Vec<Write> = Vec::new();
    let mut at: std::collections::HashMap<Key, usize> = std::collections::HashMap::new();
    for w in writes {
        match at.get(&w.key()) {
            Some(&i) => out[i] = w,
            None => {
                at.insert(w.key(), out.len());
                out.push(w);
            }
        }
    }
    out
}

tokio::task_local! {
    static REQUEST_TALLY: std::cell::Cell<u64>;
}

/// Runs `f` and counts the DynamoDB requests it makes through any table
/// handle (for the per-request log line).
pub async fn count_requests<F: std::future::Future>(f: F) -> (F::Output, u64) {
    REQUEST_TALLY
        .scope(std::cell::Cell::new(0), async {
            let out = f.await;
            (out, REQUEST_TALLY.with(std::cell::Cell::get))
        })
        .await
}

/// The handle resource code uses, over either driver.
#[derive(Clone)]
pub struct Table {
    driver: Arc<dyn Driver>,
    stats: Arc<Stats>,
}

impl Table {
    pub fn new(driver: Arc<dyn Driver>) -> Self {
        Self {
            driver,
            stats: Arc::default(),
        }
    }

    /// Capacity units consumed through this table's driver, if it reports
    /// them.
    pub fn consumed(&self) -> Option<Capacity> {
        self.driver.consumed()
    }

    /// The driver's change log, where it keeps one.
    pub fn change_log(&self) -> Option<Arc<dyn crate::store::changes::ChangeLog>> {
        self.driver.change_log()
    }

    pub fn requests(&self) -> Requests {
        let s = &self.stats;
        Requests {
            get_item: s.get_item.load(Ordering::Relaxed),
            query: s.query.load(Ordering::Relaxed),
            put_or_delete_item: s.put_or_delete_item.load(Ordering::Relaxed),
            update_item: s.update_item.load(Ordering::Relaxed),
            transact_write_items: s.transact_write_items.load(Ordering::Relaxed),
            batch_get_item: s.batch_get_item.load(Ordering::Relaxed),
            batch_write_item: s.batch_write_item.load(Ordering::Relaxed),
            scan: s.scan.load(Ordering::Relaxed),
        }
    }

    fn bump(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
        // Inside `count_requests`, the request's own tally too.
        let _ = REQUEST_TALLY.try_with(|t| t.set(t.get() + n));
    }

    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        Self::bump(&self.stats.get_item, 1);
        self.driver.get(key).await
    }

    pub async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        Self::bump(&self.stats.query, 1);
        self.driver.query(q).await
    }

    /// One Scan page of the whole table (see [`Driver::scan`]).
    pub async fn scan(&self, start_after: Option<&Key>, limit: usize) -> Result<Page, StoreError> {
        Self::bump(&self.stats.scan, 1);
        self.driver.scan(start_after, limit.max(1)).await
    }

    pub async fn count(
        &self,
        index: Option<&'static IndexDef>,
        pk: &str,
    ) -> Result<usize, StoreError> {
        let (n, requests) = self.driver.count(index, pk).await?;
        Self::bump(&self.stats.query, requests);
        Ok(n)
    }

    /// Writes all or none: one conditional PutItem/DeleteItem for a single
    /// write, one TransactWriteItems for more.
    pub async fn write_all(&self, writes: &[Write]) -> Result<(), StoreError> {
        check_writes(writes)?;
        match writes {
            [] => Ok(()),
            [one] => {
                let counter = if one.is_update() {
                    &self.stats.update_item
                } else {
                    &self.stats.put_or_delete_item
                };
                Self::bump(counter, 1);
                self.driver.write(one).await
            }
            many => {
                Self::bump(&self.stats.transact_write_items, 1);
                self.driver.transact(many).await
            }
        }
    }

    /// Reads many items: BatchGetItem requests of up to 100 keys, several in
    /// flight at once. Duplicate keys are read once.
    pub async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        use futures_util::{StreamExt, TryStreamExt};
        let mut unique: Vec<Key> = Vec::with_capacity(keys.len());
        let mut seen = std::collections::HashSet::new();
        for k in keys {
            if seen.insert((k.pk.as_str(), k.sk.as_str())) {
                unique.push(k.clone());
            }
        }
        let requests: Vec<_> = unique
            .chunks(MAX_BATCH_GET_KEYS)
            .map(|c| {
                let (driver, chunk) = (Arc::clone(&self.driver), c.to_vec());
                async move { driver.get_many(&chunk).await }
            })
            .collect();
        Self::bump(&self.stats.batch_get_item, requests.len() as u64);
        let pages: Vec<Vec<Item>> = futures_util::stream::iter(requests)
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// Applies unconditional puts and deletes: BatchWriteItem requests of up
    /// to 25, several in flight at once. For one key, the last write wins.
    /// Not atomic: on error, some writes may have been applied.
    pub async fn batch_write(&self, writes: &[Write]) -> Result<(), StoreError> {
        use futures_util::{StreamExt, TryStreamExt};
        for w in writes {
            if w.is_update() || w.condition() != Condition::None {
                return Err(StoreError::Backend(
                    "a batch takes only unconditional puts and deletes".into(),
                ));
            }
        }
        let unique = last_per_key(writes.iter().cloned());
        for w in &unique {
            check_writes(std::slice::from_ref(w))?;
        }
        // (Distinct keys by construction, so each chunk passes the check.)
        let requests: Vec<_> = batches(&unique)
            .map(|c| {
                let (driver, chunk) = (Arc::clone(&self.driver), c.to_vec());
                async move { driver.batch_write(&chunk).await }
            })
            .collect();
        Self::bump(&self.stats.batch_write_item, requests.len() as u64);
        futures_util::stream::iter(requests)
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}
