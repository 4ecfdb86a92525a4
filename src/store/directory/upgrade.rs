//! Bringing a directory written by an earlier release up to this one: its
//! kept counts set to what its type index holds, and its membership edges
//! given the index keys this release reads them by. For the operator's
//! `upgrade` command, while no identity provider writes to the directory.

use super::edges::Edge;
use super::{DirError, Directory};
use crate::scim::Kind;
use crate::store::keys::{Key, LOOKUP_INDEX, TYPE_INDEX, attr};
use crate::store::table::{Condition, Write};

impl Directory {
    /// Sets a type's count to what its index holds (Select=COUNT Queries on
    /// `gsi1`, then 1 UpdateItem). Returns the count.
    pub async fn recount(&self, kind: Kind) -> Result<usize, DirError> {
        let counted = self
            .table
            .count(Some(&TYPE_INDEX), &self.keys.type_partition(kind))
            .await?;
        let kept = self.count(kind).await?;
        let delta = i64::try_from(counted).unwrap_or(i64::MAX) - i64::try_from(kept).unwrap_or(0);
        if delta != 0 {
            let w = Write::Add {
                key: self.keys.count_shard(kind, 0),
                attribute: attr::COUNT,
                delta,
            };
            self.table.write_all(&[w]).await?;
        }
        Ok(counted)
    }

    /// Rewrites the edges of the directory whose `gsi2` keys are not this
    /// release's, one Scan page of the whole table a round after
    /// `start_after` (BatchWriteItems): returns the edges rewritten and
    /// where to go on from (`None` at the end).
    pub async fn reindex_edges_some(
        &self,
        start_after: Option<&Key>,
    ) -> Result<(usize, Option<Key>), DirError> {
        let page = self.table.scan(start_after, usize::MAX).await?;
        let partition = self.keys.member_of_partition();
        let writes: Vec<Write> = page
            .items
            .iter()
            .filter(|i| self.keys.owns(&i.key().pk))
            .filter(|i| i.s(attr::TYPE) == Some("Membership"))
            .filter(|i| i.s(LOOKUP_INDEX.pk) != Some(partition.as_str()))
            .filter_map(Edge::from_item)
            .map(|e| Write::put(e.to_item(&self.keys), Condition::None))
            .collect();
        self.table.batch_write(&writes).await?;
        let next = page.items.last().filter(|_| page.more).map(|i| i.key());
        Ok((writes.len(), next))
    }
}
