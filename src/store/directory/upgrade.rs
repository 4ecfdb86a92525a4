//! Bringing a directory written by an earlier release up to this one: its
//! kept counts set to what its type index holds, and its membership edges
//! given the index keys this release reads them by. For the operator's
//! `upgrade` command, while no identity provider writes to the directory.

use std::collections::HashSet;

use super::counts::count_add;
use super::edges::Edge;
use super::{DirError, Directory};
use crate::scim::Kind;
use crate::store::keys::{Key, LOOKUP_INDEX, attr};
use crate::store::table::{Condition, Write};

impl Directory {
    /// Sets a type's count to what its index holds (Select=COUNT Queries on
    /// `gsi1`, then 1 UpdateItem). Returns the count.
    pub async fn recount(&self, kind: Kind) -> Result<usize, DirError> {
        let counted = self.counted(kind).await?;
        let shards = self.table.get_many(&self.keys.count_shards(kind)).await?;
        let kept: i64 = shards.iter().filter_map(|i| i.n(attr::COUNT)).sum();
        let delta = i64::try_from(counted).unwrap_or(i64::MAX) - kept;
        // A shard is written even at zero: it says the count is kept.
        if delta != 0 || shards.is_empty() {
            let w = count_add(self.keys.count_shard(kind, 0), delta);
            self.table.write_all(&[w]).await?;
        }
        Ok(counted)
    }

    /// Rewrites the edges of the directory whose `gsi2` keys are not this
    /// release's, one Scan page of the whole table a round after
    /// `start_after` (BatchGetItems of their ends, BatchWriteItems): an
    /// edge whose group or member is gone (its cleanup, under the older
    /// keys, could not find it) is deleted instead. Returns the edges
    /// rewritten or deleted and where to go on from (`None` at the end).
    pub async fn reindex_edges_some(
        &self,
        start_after: Option<&Key>,
    ) -> Result<(usize, Option<Key>), DirError> {
        let page = self.table.scan(start_after, usize::MAX).await?;
        let partition = self.keys.member_of_partition();
        let older: Vec<Edge> = page
            .items
            .iter()
            .filter(|i| self.keys.owns(&i.key().pk))
            .filter(|i| i.s(attr::TYPE) == Some("Membership"))
            .filter(|i| i.s(LOOKUP_INDEX.pk) != Some(partition.as_str()))
            .filter_map(Edge::from_item)
            .collect();
        let ends: Vec<(Kind, &str)> = older
            .iter()
            .flat_map(|e| {
                [
                    (Kind::Group, e.group_id.as_str()),
                    (e.member_type, e.member_id.as_str()),
                ]
            })
            .collect();
        let alive: HashSet<(Kind, String)> = self
            .get_many(&ends)
            .await?
            .into_iter()
            .map(|(kind, s)| (kind, s.meta.id))
            .collect();
        let writes: Vec<Write> = older
            .iter()
            .map(|e| {
                let both = alive.contains(&(Kind::Group, e.group_id.clone()))
                    && alive.contains(&(e.member_type, e.member_id.clone()));
                match both {
                    true => Write::put(e.to_item(&self.keys), Condition::None),
                    false => Write::delete(
                        self.keys.member_edge(&e.group_id, &e.member_id),
                        Condition::None,
                    ),
                }
            })
            .collect();
        self.table.batch_write(&writes).await?;
        let next = page.items.last().filter(|_| page.more).map(|i| i.key());
        Ok((writes.len(), next))
    }
}
