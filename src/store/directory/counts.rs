//! What index paging reads besides the page: a type's count, kept in
//! shards moved in the same commit as each create and delete, and the
//! page marks that let the next page's Query start where the last ended.

use super::{DirError, Directory};
use crate::scim::Kind;
use crate::store::keys::{Key, TYPE_INDEX, attr};
use crate::store::table::{Condition, Item, Write};

/// How long a page mark is used: the time between two pages of one
/// client's sequence, with room to spare.
pub const MARK_SECONDS: i64 = 15 * 60;

/// A type's count and, when asked for, where an index page begins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageStart {
    pub total: usize,
    /// The id after which the page begins, if a page before it said so.
    pub after: Option<String>,
}

impl Directory {
    /// The write that moves the count of `kind` by `delta` for resource
    /// `id`, to go in the transaction that creates or deletes it.
    pub(super) fn count_write(&self, kind: Kind, id: &str, delta: i64) -> Write {
        count_add(self.keys.count_shard_of(kind, id), delta)
    }

    /// How many resources of a type exist: 1 BatchGetItem of its shards.
    pub async fn count(&self, kind: Kind) -> Result<usize, DirError> {
        Ok(self.page_start(kind, None).await?.total)
    }

    /// The type's count and the mark of the unfiltered index page at
    /// (`count`, `start_index`), if given: 1 BatchGetItem for both. A
    /// directory with no shard at all (one written by a release that kept
    /// no counts, until `upgrade` runs; or one never written) is counted
    /// on its type index instead (Select=COUNT Queries).
    pub async fn page_start(
        &self,
        kind: Kind,
        mark: Option<(usize, usize)>,
    ) -> Result<PageStart, DirError> {
        let mut keys = self.keys.count_shards(kind);
        let mark_key = mark.map(|(count, start)| self.keys.page_mark(kind, count, start));
        keys.extend(mark_key.clone());
        let now = now_seconds();
        let mut out = PageStart::default();
        let mut total = 0i64;
        let mut shards = 0;
        for item in self.table.get_many(&keys).await? {
            if Some(item.key()) == mark_key {
                if item.n(attr::EXPIRES).is_some_and(|at| at > now) {
                    out.after = item.s(attr::AFTER).map(str::to_string);
                }
            } else {
                shards += 1;
                total = total.saturating_add(item.n(attr::COUNT).unwrap_or(0));
            }
        }
        out.total = match shards {
            0 => self.counted(kind).await?,
            _ => usize::try_from(total).unwrap_or(0),
        };
        Ok(out)
    }

    /// The resources of a type on its index (Select=COUNT Queries on
    /// `gsi1`, one per MB).
    pub(super) async fn counted(&self, kind: Kind) -> Result<usize, DirError> {
        Ok(self
            .table
            .count(Some(&TYPE_INDEX), &self.keys.type_partition(kind))
            .await?)
    }

    /// Marks where the unfiltered index page at `start_index` of walks of
    /// `count` a page begins: after the resource `after` (1 PutItem).
    pub async fn mark_page(
        &self,
        kind: Kind,
        count: usize,
        start_index: usize,
        after: &str,
    ) -> Result<(), DirError> {
        let mut item = Item::new(self.keys.page_mark(kind, count, start_index));
        item.set_s(attr::AFTER, after)
            .set_n(attr::EXPIRES, now_seconds() + MARK_SECONDS);
        Ok(self
            .table
            .write_all(&[Write::put(item, Condition::None)])
            .await?)
    }

    /// Moves the count shards by these deltas (1 UpdateItem a shard): for
    /// resources written without their count (bulk imports).
    pub(super) async fn add_counts(
        &self,
        kind: Kind,
        ids: &[&str],
        delta: i64,
    ) -> Result<(), DirError> {
        let mut by_shard: Vec<(Key, i64)> = Vec::new();
        for id in ids {
            let key = self.keys.count_shard_of(kind, id);
            match by_shard.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += delta,
                None => by_shard.push((key, delta)),
            }
        }
        for (key, delta) in by_shard {
            self.table.write_all(&[count_add(key, delta)]).await?;
        }
        Ok(())
    }
}

/// The write that moves the count shard `key` by `delta`.
pub(super) fn count_add(key: Key, delta: i64) -> Write {
    Write::Add {
        key,
        attribute: attr::COUNT,
        delta,
    }
}

fn now_seconds() -> i64 {
    crate::store::table::unix_ms().div_euclid(1000)
}
