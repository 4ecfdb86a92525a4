//! Cleanup of a deleted resource's edges: the task written with the
//! delete, and its work, a Query page at a time.

use std::time::Instant;

use super::edges::{Edge, edge_deletes, group_edges, member_edges};
use super::{DirError, Directory};
use crate::scim::Kind;
use crate::store::keys::{Key, attr};
use crate::store::table::{Condition, MAX_BATCH_WRITE_ITEMS, Query, Write};

/// Edges of a deleted resource still to be removed.
#[derive(Debug, Clone)]
pub struct CleanupTask {
    pub(super) key: Key,
    pub(super) kind: Kind,
    pub(super) id: String,
}

impl Directory {
    /// Pending cleanup tasks, oldest first.
    pub async fn cleanup_tasks(&self, limit: usize) -> Result<Vec<CleanupTask>, DirError> {
        let q = Query::partition(None, self.keys.cleanup_partition(), limit.max(1));
        let page = self.table.query(&q).await?;
        Ok(page
            .items
            .iter()
            .filter_map(|i| {
                Some(CleanupTask {
                    key: i.key(),
                    // Any other name reads as a user, as it always has.
                    kind: Kind::from_name(i.s(attr::TARGET_TYPE)?).unwrap_or(Kind::User),
                    id: i.s(attr::ID)?.to_string(),
                })
            })
            .collect())
    }

    /// Removes a deleted resource's edges, a page at a time, until none are
    /// left (then the task goes too: `true`) or `deadline` passes (`false`).
    pub async fn cleanup(&self, task: &CleanupTask, deadline: Instant) -> Result<bool, DirError> {
        // Each side (the resource as a member; a group as the holder of
        // members) is read a full Query page (1 MB) a round, on from where
        // the last round stopped, until its end.
        let mut sides = vec![Some(member_edges(&self.keys, &task.id, usize::MAX))];
        if task.kind == Kind::Group {
            sides.push(Some(group_edges(&self.keys, &task.id, usize::MAX)));
        }
        // Deletes carried to the next round so that every BatchWriteItem
        // but the last is full.
        let mut pending: Vec<Write> = Vec::new();
        loop {
            if Instant::now() >= deadline {
                self.table.batch_write(&pending).await?;
                return Ok(false);
            }
            for side in &mut sides {
                let Some(q) = side.as_mut() else { continue };
                let page = self.table.query(q).await?;
                let edges: Vec<Edge> = page.items.iter().filter_map(Edge::from_item).collect();
                pending.extend(edge_deletes(&self.keys, &edges));
                match page.items.last() {
                    Some(last) if page.more => q.start_after = Some(last.clone()),
                    _ => *side = None,
                }
            }
            let full = pending.len() / MAX_BATCH_WRITE_ITEMS * MAX_BATCH_WRITE_ITEMS;
            let rest = pending.split_off(full);
            self.table.batch_write(&pending).await?;
            pending = rest;
            if sides.iter().all(Option::is_none) {
                // The task goes last, in the last (partial) batch, once every
                // other edge is gone. An edge added by a request racing this
                // delete can outlive it; reads never show it, as its other
                // end is gone.
                pending.push(Write::delete(task.key.clone(), Condition::None));
                self.table.batch_write(&pending).await?;
                return Ok(true);
            }
        }
    }
}
