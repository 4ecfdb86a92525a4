//! The embedded driver's change log: every change of a resource's item or
//! an edge is appended, in the same write transaction as the change
//! itself, so that a crash can lose neither. Consumers (the event delivery,
//! a poll) keep their positions and acknowledgements here too.

use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::backend;
use crate::store::changes::{Change, ChangeLog};
use crate::store::table::{Item, StoreError};

/// Position → the change, as JSON.
pub(super) const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
/// Consumer → the last position it has delivered.
const POSITIONS: TableDefinition<&str, u64> = TableDefinition::new("change_positions");
/// (directory, position) of the changes no poll has acknowledged: a poll
/// reads its own directory's range, whatever else the log holds.
pub(super) const PENDING: TableDefinition<(&str, u64), ()> = TableDefinition::new("change_pending");
/// The log's id.
const META: TableDefinition<&str, &str> = TableDefinition::new("change_meta");
/// The position the next change takes: kept, not derived from the last
/// entry, so that a log pruned empty never hands out a position (and a
/// `jti`) again.
pub(super) const NEXT: TableDefinition<&str, u64> = TableDefinition::new("change_next");
pub(super) const NEXT_KEY: &str = "next";

/// A change as the log keeps it (its id and sequence follow from the
/// log's id and the position).
#[derive(Serialize, Deserialize)]
pub(super) struct Logged {
    pub at_ms: i64,
    /// The directory it belongs to (`Tenant::log_name`).
    pub directory: String,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// Creates the log's tables and reads (or makes) its id.
pub(super) fn open(db: &Database) -> Result<String, StoreError> {
    let tx = db.begin_write().map_err(backend)?;
    tx.open_table(CHANGES).map_err(backend)?;
    tx.open_table(POSITIONS).map_err(backend)?;
    tx.open_table(PENDING).map_err(backend)?;
    tx.open_table(NEXT).map_err(backend)?;
    let id = {
        let mut meta = tx.open_table(META).map_err(backend)?;
        let existing = meta
            .get("log_id")
            .map_err(backend)?
            .map(|v| v.value().to_string());
        match existing {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                meta.insert("log_id", id.as_str()).map_err(backend)?;
                id
            }
        }
    };
    tx.commit().map_err(backend)?;
    Ok(id)
}

/// The change log of one store file.
pub struct Log {
    pub(super) db: Arc<Database>,
    pub(super) id: String,
}

impl Log {
    /// A short write transaction of its own (positions, acks, pruning),
    /// off the async threads: redb admits one writer at a time.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let tx = db.begin_write().map_err(backend)?;
            let out = f(&tx)?;
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
        .map_err(backend)?
    }

    fn change(&self, position: u64, bytes: &[u8]) -> Result<Change, StoreError> {
        let logged: Logged = serde_json::from_slice(bytes).map_err(backend)?;
        Ok(Change {
            id: format!("{}-{position}", self.id),
            sequence: position.to_string(),
            at_ms: logged.at_ms,
            old: logged.old,
            new: logged.new,
        })
    }
}

#[async_trait]
impl ChangeLog for Log {
    fn log_id(&self) -> &str {
        &self.id
    }

    async fn read_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Change)>, StoreError> {
        let tx = self.db.begin_read().map_err(backend)?;
        let t = tx.open_table(CHANGES).map_err(backend)?;
        let range = match after {
            Some(a) => t.range(a.saturating_add(1)..),
            None => t.range::<u64>(..),
        }
        .map_err(backend)?;
        let mut out = Vec::new();
        for entry in range.take(limit) {
            let (k, v) = entry.map_err(backend)?;
            out.push((k.value(), self.change(k.value(), v.value())?));
        }
        Ok(out)
    }

    async fn position(&self, consumer: &str) -> Result<Option<u64>, StoreError> {
        let tx = self.db.begin_read().map_err(backend)?;
        let t = tx.open_table(POSITIONS).map_err(backend)?;
        Ok(t.get(consumer).map_err(backend)?.map(|v| v.value()))
    }

    async fn save_position(&self, consumer: &str, position: u64) -> Result<(), StoreError> {
        let consumer = consumer.to_string();
        self.write(move |tx| {
            let mut t = tx.open_table(POSITIONS).map_err(backend)?;
            t.insert(consumer.as_str(), position).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn pending(
        &self,
        directory: &str,
        limit: usize,
    ) -> Result<Vec<(u64, Change)>, StoreError> {
        let tx = self.db.begin_read().map_err(backend)?;
        let pending = tx.open_table(PENDING).map_err(backend)?;
        let changes = tx.open_table(CHANGES).map_err(backend)?;
        let mut out = Vec::new();
        for entry in pending
            .range((directory, 0)..=(directory, u64::MAX))
            .map_err(backend)?
            .take(limit)
        {
            let position = entry.map_err(backend)?.0.value().1;
            if let Some(v) = changes.get(position).map_err(backend)? {
                out.push((position, self.change(position, v.value())?));
            }
        }
        Ok(out)
    }

    async fn acknowledge(&self, directory: &str, positions: &[u64]) -> Result<(), StoreError> {
        let (directory, positions) = (directory.to_string(), positions.to_vec());
        self.write(move |tx| {
            let mut t = tx.open_table(PENDING).map_err(backend)?;
            for p in positions {
                t.remove((directory.as_str(), p)).map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn prune(&self, before_ms: i64, up_to: u64) -> Result<usize, StoreError> {
        // In rounds, each a short transaction of its own, so that the
        // writer of SCIM requests never waits long behind it.
        let mut total = 0;
        loop {
            let n = self.prune_round(before_ms, up_to).await?;
            total += n;
            if n < PRUNE_ROUND {
                return Ok(total);
            }
        }
    }
}

/// The most changes one pruning transaction forgets.
const PRUNE_ROUND: usize = 1000;

/// Just the commit time and directory of a logged change.
#[derive(Deserialize)]
struct At {
    at_ms: i64,
    directory: String,
}

impl Log {
    async fn prune_round(&self, before_ms: i64, up_to: u64) -> Result<usize, StoreError> {
        self.write(move |tx| {
            let mut changes = tx.open_table(CHANGES).map_err(backend)?;
            let mut pending = tx.open_table(PENDING).map_err(backend)?;
            let mut old = Vec::new();
            for entry in changes.iter().map_err(backend)?.take(PRUNE_ROUND) {
                let (k, v) = entry.map_err(backend)?;
                let logged: At = serde_json::from_slice(v.value()).map_err(backend)?;
                if logged.at_ms >= before_ms || k.value() > up_to {
                    break;
                }
                old.push((k.value(), logged.directory));
            }
            for (p, directory) in &old {
                changes.remove(*p).map_err(backend)?;
                pending.remove((directory.as_str(), *p)).map_err(backend)?;
            }
            Ok(old.len())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::Kind;
    use crate::store::embedded::Embedded;
    use crate::store::keys::Keys;
    use crate::store::table::{Condition, Driver, Write};

    #[tokio::test]
    async fn a_log_pruned_empty_never_gives_a_position_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.redb");
        let put = |id: &str| {
            let mut item = Item::new(Keys::default().resource(Kind::User, id));
            item.set_s("doc", "{}");
            Write::put(item, Condition::None)
        };
        {
            let db = Embedded::open(&path).unwrap();
            db.write(&put("a")).await.unwrap();
            db.write(&put("b")).await.unwrap();
            let log = db.change_log().unwrap();
            assert_eq!(log.prune(i64::MAX, u64::MAX).await.unwrap(), 2);
        }
        // Reopened, with nothing left in the log: the next change is the
        // third, so a consumer at position 2 sees it and its id is new.
        let db = Embedded::open(&path).unwrap();
        db.write(&put("c")).await.unwrap();
        let log = db.change_log().unwrap();
        let got = log.read_after(Some(2), 10).await.unwrap();
        assert_eq!(got.iter().map(|(p, _)| *p).collect::<Vec<_>>(), vec![3]);
        assert!(got[0].1.id.ends_with("-3"));
    }

    #[tokio::test]
    async fn pruning_forgets_in_rounds_until_the_retention_and_the_position() {
        let dir = tempfile::tempdir().unwrap();
        let db = Embedded::open(&dir.path().join("rounds.redb")).unwrap();
        let writes: Vec<Write> = (0..2500)
            .map(|i| {
                let mut item = Item::new(Keys::default().resource(Kind::User, &i.to_string()));
                item.set_s("doc", "{}");
                Write::put(item, Condition::None)
            })
            .collect();
        db.batch_write(&writes).await.unwrap();
        let log = db.change_log().unwrap();
        // Not past the retention: nothing goes.
        assert_eq!(log.prune(0, u64::MAX).await.unwrap(), 0);
        assert_eq!(log.pending("default", 5000).await.unwrap().len(), 2500);
        assert!(log.pending("acme", 10).await.unwrap().is_empty());
        // Up to a consumer's position only, then everything, in rounds;
        // what is forgotten is no longer pending either.
        assert_eq!(log.prune(i64::MAX, 1200).await.unwrap(), 1200);
        let pending = log.pending("default", 5000).await.unwrap();
        assert_eq!(pending.first().map(|(p, _)| *p), Some(1201));
        assert_eq!(pending.len(), 1300);
        assert_eq!(log.prune(i64::MAX, u64::MAX).await.unwrap(), 1300);
        assert!(log.read_after(None, 10).await.unwrap().is_empty());
    }
}
