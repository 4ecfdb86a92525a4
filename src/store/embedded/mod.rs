//! The embedded driver: the single table in a redb file, for local runs.
//! Items live in one redb table keyed by (pk, sk); each GSI is a redb table
//! keyed by (index pk, index sk, pk, sk). A write transaction of redb makes
//! conditional writes and transactions atomic, as DynamoDB's are.
//!
//! Rooms: this file (opening, reads and the driver), `write` (the one
//! writer of items and its group commits), `changes` (the change log,
//! appended to by that writer; its consumers' positions and
//! acknowledgements, written in short transactions of their own).

mod changes;
mod write;

pub use changes::Log;

use std::path::Path;
use std::sync::{Arc, mpsc};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, TableDefinition};
use tokio::sync::oneshot;

use super::changes::ChangeLog;
use super::keys::{INDEXES, IndexDef, Key};
use super::table::{Driver, Item, MAX_QUERY_PAGE_BYTES, Page, Query, StoreError, Write};
use write::write_loop;

const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");

fn index_table(
    index: &IndexDef,
) -> TableDefinition<'static, (&'static str, &'static str, &'static str, &'static str), ()> {
    TableDefinition::new(index.name)
}

pub struct Embedded {
    db: Arc<Database>,
    writer: Option<Writer>,
    log: Arc<Log>,
}

/// The one thread that writes. redb admits one write transaction at a time
/// and each commit waits for fsync, so the thread commits every write that
/// queued up meanwhile in one transaction (group commit): under concurrent
/// load one fsync serves many requests, and each still answers only after
/// its own writes are durable.
struct Writer {
    jobs: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
}

struct Job {
    writes: Vec<Write>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// How many writes one group commit takes at most: enough to amortise fsync
/// over every connection's request, small enough to keep the wait short.
const MAX_GROUP_WRITES: usize = 1024;

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn decode(bytes: &[u8]) -> Result<Item, StoreError> {
    serde_json::from_slice(bytes).map_err(backend)
}

/// The page cache of [`Embedded::open`]: redb's own default is 1 GiB,
/// which a long scan fills, far past what a small process should hold.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

impl Embedded {
    /// Opens (or creates) the store file and its tables, with the default
    /// page cache.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the store file and its tables, with a page cache
    /// of at most `cache_bytes`.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(backend)?;
        let tx = db.begin_write().map_err(backend)?;
        tx.open_table(ITEMS).map_err(backend)?;
        for index in INDEXES {
            tx.open_table(index_table(index)).map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        let log_id = changes::open(&db)?;
        let db = Arc::new(db);
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("redb-writer".into())
            .spawn({
                let db = Arc::clone(&db);
                move || write_loop(&db, &queue)
            })
            .map_err(backend)?;
        Ok(Self {
            log: Arc::new(Log {
                db: Arc::clone(&db),
                id: log_id,
            }),
            db,
            writer: Some(Writer { jobs, thread }),
        })
    }

    /// Reads run in place: redb readers take a snapshot and never wait for
    /// the writer, and their pages come from its cache, so a hop to the
    /// blocking pool would cost more than the read.
    fn read<T>(&self, f: impl FnOnce(&Database) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&self.db)
    }

    /// Hands writes to the writer thread and waits until they are durable
    /// (or refused as a whole).
    async fn submit(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let writer = self
            .writer
            .as_ref()
            .ok_or_else(|| StoreError::Backend("the store is closed".into()))?;
        writer
            .jobs
            .send(Job { writes, done })
            .map_err(|_| StoreError::Backend("the store's writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the store's writer has stopped".into()))?
    }
}

impl Drop for Embedded {
    /// Waits for the writer to finish what is queued and let go of the file,
    /// so the same file can be opened again at once.
    fn drop(&mut self) {
        if let Some(Writer { jobs, thread }) = self.writer.take() {
            drop(jobs);
            let _ = thread.join();
        }
    }
}

/// Where a Query's sort keys begin, and whether a sort key is still within
/// its prefix or range.
struct SortRange<'q> {
    start: &'q str,
    upto: Option<&'q str>,
}

impl<'q> SortRange<'q> {
    fn of(q: &'q Query) -> Self {
        match &q.sk_between {
            Some((lo, hi)) => Self {
                start: lo,
                upto: Some(hi),
            },
            None => Self {
                start: q.sk_prefix.as_deref().unwrap_or(""),
                upto: None,
            },
        }
    }

    fn within(&self, sk: &str) -> bool {
        match self.upto {
            Some(hi) => sk <= hi,
            None => sk.starts_with(self.start),
        }
    }
}

/// A Query page being filled, up to its limit and 1 MB.
struct Filling {
    page: Page,
    bytes: usize,
    limit: usize,
}

impl Filling {
    /// Takes the item, or says the page is full (and that more follow).
    fn push(&mut self, item: Item) -> bool {
        let size = item.size();
        let full = !self.page.items.is_empty() && self.bytes + size > MAX_QUERY_PAGE_BYTES;
        if self.page.items.len() >= self.limit || full {
            self.page.more = true;
            return false;
        }
        self.bytes += size;
        self.page.items.push(item);
        true
    }
}

type ItemsTable = redb::ReadOnlyTable<(&'static str, &'static str), &'static [u8]>;

/// One page of a Query: the items after `start_after`, within the sort key
/// prefix or range, up to the limit and 1 MB.
fn query_page(db: &Database, q: &Query) -> Result<Page, StoreError> {
    let tx = db.begin_read().map_err(backend)?;
    let items = tx.open_table(ITEMS).map_err(backend)?;
    let range = SortRange::of(q);
    let mut fill = Filling {
        page: Page::default(),
        bytes: 0,
        limit: q.limit,
    };
    match q.index {
        None => query_items(&items, q, &range, &mut fill)?,
        Some(ix) => {
            let t = tx.open_table(index_table(ix)).map_err(backend)?;
            query_index(&items, &t, ix, q, &range, &mut fill)?;
        }
    }
    Ok(fill.page)
}

/// A Query page of the table itself, in sort key order.
fn query_items(
    items: &ItemsTable,
    q: &Query,
    range: &SortRange<'_>,
    fill: &mut Filling,
) -> Result<(), StoreError> {
    let start = q
        .start_after
        .as_ref()
        .map(|i| i.key().sk)
        .unwrap_or_else(|| range.start.to_string());
    for entry in items
        .range((q.pk.as_str(), start.as_str())..)
        .map_err(backend)?
    {
        let (k, v) = entry.map_err(backend)?;
        let (pk, sk) = k.value();
        if pk != q.pk || !range.within(sk) {
            break;
        }
        if q.start_after.as_ref().is_some_and(|a| a.key().sk == sk) {
            continue;
        }
        if !fill.push(decode(v.value())?) {
            break;
        }
    }
    Ok(())
}

/// A Query page of a GSI, in index sort key order (then the item's key).
fn query_index(
    items: &ItemsTable,
    index: &redb::ReadOnlyTable<(&str, &str, &str, &str), ()>,
    ix: &IndexDef,
    q: &Query,
    range: &SortRange<'_>,
    fill: &mut Filling,
) -> Result<(), StoreError> {
    let after = q.start_after.as_ref().map(|i| {
        let k = i.key();
        (i.s(ix.sk).unwrap_or_default().to_string(), k.pk, k.sk)
    });
    let (s1, s2, s3) = after
        .clone()
        .unwrap_or_else(|| (range.start.to_string(), String::new(), String::new()));
    for entry in index
        .range((q.pk.as_str(), s1.as_str(), s2.as_str(), s3.as_str())..)
        .map_err(backend)?
    {
        let (k, _) = entry.map_err(backend)?;
        let (ipk, isk, pk, sk) = k.value();
        if ipk != q.pk || !range.within(isk) {
            break;
        }
        if after
            .as_ref()
            .is_some_and(|(a1, a2, a3)| a1 == isk && a2 == pk && a3 == sk)
        {
            continue;
        }
        let Some(v) = items.get((pk, sk)).map_err(backend)? else {
            continue;
        };
        if !fill.push(decode(v.value())?) {
            break;
        }
    }
    Ok(())
}

#[async_trait]
impl Driver for Embedded {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.read(|db| {
            let tx = db.begin_read().map_err(backend)?;
            let t = tx.open_table(ITEMS).map_err(backend)?;
            let got = t.get((key.pk.as_str(), key.sk.as_str())).map_err(backend)?;
            got.map(|v| decode(v.value())).transpose()
        })
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        self.read(|db| query_page(db, q))
    }

    async fn scan(&self, start_after: Option<&Key>, limit: usize) -> Result<Page, StoreError> {
        self.read(|db| {
            let tx = db.begin_read().map_err(backend)?;
            let items = tx.open_table(ITEMS).map_err(backend)?;
            let range = match start_after {
                Some(k) => items.range((k.pk.as_str(), k.sk.as_str())..),
                None => items.range::<(&str, &str)>(..),
            }
            .map_err(backend)?;
            let mut page = Page::default();
            let mut bytes = 0usize;
            for entry in range {
                let (k, v) = entry.map_err(backend)?;
                let (pk, sk) = k.value();
                if start_after.is_some_and(|a| a.pk == pk && a.sk == sk) {
                    continue;
                }
                let item = decode(v.value())?;
                let size = item.size();
                if page.items.len() >= limit
                    || (!page.items.is_empty() && bytes + size > MAX_QUERY_PAGE_BYTES)
                {
                    page.more = true;
                    break;
                }
                bytes += size;
                page.items.push(item);
            }
            Ok(page)
        })
    }

    async fn count(
        &self,
        index: Option<&'static IndexDef>,
        pk: &str,
    ) -> Result<(usize, u64), StoreError> {
        self.read(|db| {
            let tx = db.begin_read().map_err(backend)?;
            let n = match index {
                None => {
                    let t = tx.open_table(ITEMS).map_err(backend)?;
                    let mut n = 0;
                    for e in t.range((pk, "")..).map_err(backend)? {
                        if e.map_err(backend)?.0.value().0 != pk {
                            break;
                        }
                        n += 1;
                    }
                    n
                }
                Some(ix) => {
                    let t = tx.open_table(index_table(ix)).map_err(backend)?;
                    let mut n = 0;
                    for e in t.range((pk, "", "", "")..).map_err(backend)? {
                        if e.map_err(backend)?.0.value().0 != pk {
                            break;
                        }
                        n += 1;
                    }
                    n
                }
            };
            Ok((n, 1))
        })
    }

    async fn write(&self, w: &Write) -> Result<(), StoreError> {
        self.submit(vec![w.clone()]).await
    }

    async fn transact(&self, ws: &[Write]) -> Result<(), StoreError> {
        self.submit(ws.to_vec()).await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.read(|db| {
            let tx = db.begin_read().map_err(backend)?;
            let t = tx.open_table(ITEMS).map_err(backend)?;
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                if let Some(v) = t.get((key.pk.as_str(), key.sk.as_str())).map_err(backend)? {
                    out.push(decode(v.value())?);
                }
            }
            Ok(out)
        })
    }

    async fn batch_write(&self, ws: &[Write]) -> Result<(), StoreError> {
        // Unconditional writes of distinct keys: applied together like one
        // BatchWriteItem.
        self.submit(ws.to_vec()).await
    }

    fn change_log(&self) -> Option<Arc<dyn ChangeLog>> {
        Some(Arc::clone(&self.log) as Arc<dyn ChangeLog>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys::{self, TYPE_INDEX};
    use crate::store::table::Condition;

    fn open() -> (tempfile::TempDir, Embedded) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let e = Embedded::open(&dir.path().join("t.redb")).unwrap_or_else(|e| panic!("{e}"));
        (dir, e)
    }

    #[tokio::test]
    async fn query_pages_stop_at_one_megabyte() {
        let (_d, db) = open();
        for i in 0..30 {
            let mut item = Item::new(
                keys::Keys::default().resource(crate::scim::Kind::User, &format!("{i:03}")),
            );
            item.set_s(TYPE_INDEX.pk, "User")
                .set_s(TYPE_INDEX.sk, format!("{i:03}"));
            item.set_s("doc", "x".repeat(100 * 1024));
            db.write(&Write::put(item, Condition::None))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let q = Query::partition(Some(&TYPE_INDEX), "User", 1000);
        let page = db.query(&q).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(page.more);
        assert!(page.items.len() < 30);
        let bytes: usize = page.items.iter().map(Item::size).sum();
        assert!(bytes <= MAX_QUERY_PAGE_BYTES, "{bytes}");
        // Paging on from the last item continues exactly where the page ended.
        let mut q2 = q.clone();
        q2.start_after = page.items.last().cloned();
        let rest = db.query(&q2).await.unwrap_or_else(|e| panic!("{e}"));
        let next = format!("{:03}", page.items.len());
        assert_eq!(
            rest.items.first().and_then(|i| i.s(TYPE_INDEX.sk)),
            Some(next.as_str())
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_transactions_commit_together_yet_each_all_or_none() {
        let (_d, db) = open();
        let db = Arc::new(db);
        // Each transaction claims one shared key and puts its own item: one
        // claim wins, and the losers' own items must not be written even
        // though they are committed in a group with the winner.
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let db = Arc::clone(&db);
                tokio::spawn(async move {
                    let own = Item::new(
                        keys::Keys::default().resource(crate::scim::Kind::User, &format!("own{i}")),
                    );
                    let shared = Item::new(
                        keys::Keys::default().resource(crate::scim::Kind::User, "shared"),
                    );
                    let r = db
                        .transact(&[
                            Write::put(own.clone(), Condition::NotExists),
                            Write::put(shared, Condition::NotExists),
                        ])
                        .await;
                    (r, own.key())
                })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            let (r, own) = task.await.unwrap_or_else(|e| panic!("{e}"));
            let stored = db.get(&own).await.unwrap_or_else(|e| panic!("{e}"));
            match r {
                Ok(()) => {
                    won += 1;
                    assert!(stored.is_some());
                }
                Err(e) => {
                    assert_eq!(e, StoreError::ConditionFailed { index: 1 });
                    assert_eq!(stored, None);
                }
            }
        }
        assert_eq!(won, 1);
    }

    #[tokio::test]
    async fn the_file_opens_again_as_soon_as_the_store_is_dropped() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("again.redb");
        let item = Item::new(keys::Keys::default().resource(crate::scim::Kind::User, "kept"));
        {
            let db = Embedded::open(&path).unwrap_or_else(|e| panic!("{e}"));
            db.write(&Write::put(item.clone(), Condition::None))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let db = Embedded::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(db.get(&item.key()).await, Ok(Some(item)));
    }

    #[tokio::test]
    async fn a_failed_condition_applies_nothing() {
        let (_d, db) = open();
        let a = Item::new(keys::Keys::default().resource(crate::scim::Kind::User, "a"));
        let b = Item::new(keys::Keys::default().resource(crate::scim::Kind::User, "b"));
        db.write(&Write::put(b.clone(), Condition::None))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let r = db
            .transact(&[
                Write::put(a.clone(), Condition::NotExists),
                Write::put(b, Condition::NotExists),
            ])
            .await;
        assert_eq!(r, Err(StoreError::ConditionFailed { index: 1 }));
        assert_eq!(db.get(&a.key()).await, Ok(None));
    }
}
