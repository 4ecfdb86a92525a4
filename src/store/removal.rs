//! Removing a whole directory (a tenant): rounds that delete what the
//! indexes lead to, anchors last, and a whole-table sweep for stragglers.

use super::directory::{DirError, Directory};
use super::keys::{Key, RESOURCE_SK, TYPE_INDEX, attr};
use super::table::{Condition, Item, Query, Write};
use crate::scim::Kind;

/// What one round of removing a directory did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removal {
    /// Items deleted this round.
    pub deleted: usize,
    /// Nothing of the directory is left.
    pub done: bool,
}

/// Most anchors (cleanup tasks, groups, users) of each kind one removal
/// round reads.
const REMOVAL_PAGE: usize = 100;

impl Directory {
    /// Deletes the directory's items: one round, which stops once about
    /// `budget` items are deleted. Rounds can be run until `done`, by one
    /// process or by several in turn: each round finds what is left from the
    /// indexes, so a removal cut short anywhere resumes where it stopped.
    ///
    /// Every item hangs off an anchor that can be listed: a pending cleanup
    /// task (its resource's partition may still hold edges), a group
    /// (`gsi1`; its partition holds its edges) or a user (`gsi1`; its
    /// `userName` names its guard, its emails its lookup items, all written
    /// in the same transactions as the user). Anchors are deleted after
    /// everything that hangs off them, so that a round stopped half-way
    /// leaves them to be found again. Memory holds one Query page.
    pub async fn remove_some(&self, budget: usize) -> Result<Removal, DirError> {
        let mut round = Removal::default();
        // A user is about 4 items (itself, its guard, an email, an edge).
        let page_size = (budget / 4).clamp(1, REMOVAL_PAGE);
        // Deleted first, then the anchors.
        let mut dependents: Vec<Write> = Vec::new();
        let mut anchors: Vec<Write> = Vec::new();
        let delete = |k: Key| Write::delete(k, Condition::None);
        let tasks = Query::partition(None, self.keys.cleanup_partition(), page_size);
        let page = self.table.query(&tasks).await?;
        let mut found = !page.items.is_empty();
        for task in &page.items {
            if let (Some(ty), Some(id)) = (task.s(attr::TARGET_TYPE), task.s(attr::ID)) {
                // Any other name reads as a user, as it always has.
                let kind = Kind::from_name(ty).unwrap_or(Kind::User);
                let pk = self.keys.resource(kind, id).pk;
                if !self.purge_partition(&pk, budget, &mut round).await? {
                    return Ok(round);
                }
            }
            anchors.push(delete(task.key()));
        }
        for kind in [Kind::Group, Kind::User] {
            let q = Query::partition(Some(&TYPE_INDEX), self.keys.type_partition(kind), page_size);
            let page = self.table.query(&q).await?;
            found |= !page.items.is_empty();
            for item in &page.items {
                let key = item.key();
                if kind == Kind::Group {
                    if !self.purge_partition(&key.pk, budget, &mut round).await? {
                        return Ok(round);
                    }
                } else if let Ok(user) = Self::from_item(item) {
                    // The keys its own writes give it: its guard and email
                    // lookups.
                    dependents.extend(self.guards(kind, &user.doc).into_iter().map(delete));
                    let emails = self.lookups(kind, &user);
                    dependents.extend(emails.into_iter().map(|e| delete(e.key())));
                }
                anchors.push(delete(key));
            }
        }
        if !found {
            // Nothing left to count or to page through.
            for kind in [Kind::Group, Kind::User] {
                let shards = self.table.get_many(&self.keys.count_shards(kind)).await?;
                anchors.extend(shards.iter().map(Item::key).map(delete));
                let marks = self.keys.page_marks(kind);
                if !self.purge_partition(&marks, budget, &mut round).await? {
                    return Ok(round);
                }
            }
        }
        for writes in [dependents, anchors] {
            self.table.batch_write(&writes).await?;
            round.deleted += writes.len();
        }
        round.done = !found;
        Ok(round)
    }

    /// Whether the directory holds no resource and no pending cleanup (3
    /// Queries of one item).
    pub async fn is_empty(&self) -> Result<bool, DirError> {
        let probes = [
            Query::partition(None, self.keys.cleanup_partition(), 1),
            Query::partition(Some(&TYPE_INDEX), self.keys.type_partition(Kind::User), 1),
            Query::partition(Some(&TYPE_INDEX), self.keys.type_partition(Kind::Group), 1),
        ];
        for q in &probes {
            if !self.table.query(q).await?.items.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Deletes a partition's items but its `RESOURCE` item; `false` if the
    /// budget ran out first.
    async fn purge_partition(
        &self,
        pk: &str,
        budget: usize,
        round: &mut Removal,
    ) -> Result<bool, DirError> {
        let mut q = Query::partition(None, pk, usize::MAX);
        loop {
            let page = self.table.query(&q).await?;
            let deletes: Vec<Write> = page
                .items
                .iter()
                .map(Item::key)
                .filter(|k| k.sk != RESOURCE_SK)
                .map(|k| Write::delete(k, Condition::None))
                .collect();
            self.table.batch_write(&deletes).await?;
            round.deleted += deletes.len();
            match page.items.last() {
                Some(last) if page.more => {
                    if round.deleted >= budget {
                        return Ok(false);
                    }
                    q.start_after = Some(last.clone());
                }
                _ => return Ok(true),
            }
        }
    }

    /// Deletes whatever of the directory's items a whole-table Scan still
    /// finds (say, an edge written by a request racing its group's delete),
    /// one Scan page a round after `start_after`: returns the items deleted
    /// and where to go on from (`None` at the end). Reads the whole table.
    pub async fn sweep_some(
        &self,
        start_after: Option<&Key>,
    ) -> Result<(usize, Option<Key>), DirError> {
        let page = self.table.scan(start_after, usize::MAX).await?;
        let deletes: Vec<Write> = page
            .items
            .iter()
            .map(Item::key)
            .filter(|k| self.keys.owns(&k.pk))
            .map(|k| Write::delete(k, Condition::None))
            .collect();
        self.table.batch_write(&deletes).await?;
        let next = page.items.last().filter(|_| page.more).map(Item::key);
        Ok((deletes.len(), next))
    }
}
