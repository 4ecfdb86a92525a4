//! Membership edges: a group's members in its own partition, a member's
//! groups through the inverted index (`gsi2`).

use super::{DirError, Directory};
use crate::scim::Kind;
use crate::store::keys::{Key, Keys, LOOKUP_INDEX, attr};
use crate::store::table::{self, Condition, Item, Query, Write};

/// A membership edge: `member_id` (a User or a Group) is a direct member of
/// group `group_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub group_id: String,
    pub member_id: String,
    pub member_type: Kind,
}

impl Edge {
    pub(super) fn to_item(&self, keys: &Keys) -> Item {
        let mut item = Item::new(keys.member_edge(&self.group_id, &self.member_id));
        item.set_s(LOOKUP_INDEX.pk, keys.member_of_partition())
            .set_s(
                LOOKUP_INDEX.sk,
                Keys::member_of_sort(&self.member_id, &self.group_id),
            )
            .set_s(attr::TYPE, "Membership")
            .set_s(attr::GROUP, self.group_id.clone())
            .set_s(attr::MEMBER, self.member_id.clone())
            .set_s(attr::MEMBER_TYPE, self.member_type.name());
        item
    }

    pub(in crate::store) fn from_item(item: &Item) -> Option<Self> {
        Some(Self {
            group_id: item.s(attr::GROUP)?.to_string(),
            member_id: item.s(attr::MEMBER)?.to_string(),
            // Any other name reads as a user, as it always has.
            member_type: Kind::from_name(item.s(attr::MEMBER_TYPE)?).unwrap_or(Kind::User),
        })
    }
}

impl Directory {
    /// A group's member edges (strongly consistent Queries on its partition),
    /// at most `limit`; and whether more exist.
    pub async fn edges_of_group(
        &self,
        group_id: &str,
        limit: usize,
    ) -> Result<(Vec<Edge>, bool), DirError> {
        self.edges_of_group_after(group_id, None, limit).await
    }

    /// A group's member edges after member `after`, in member id order, at
    /// most `limit` (strongly consistent Queries that start at that key,
    /// so every page costs the same); and whether more exist.
    pub async fn edges_of_group_after(
        &self,
        group_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Edge>, bool), DirError> {
        let mut q = group_edges(&self.keys, group_id, limit);
        q.start_after = after.map(|m| Item::new(self.keys.member_edge(group_id, m)));
        let (items, more) = self.collect_items(q, limit).await?;
        Ok((items.iter().filter_map(Edge::from_item).collect(), more))
    }

    /// The edges whose member is `member_id` (Queries on `gsi2`).
    pub async fn edges_of_member(
        &self,
        member_id: &str,
        limit: usize,
    ) -> Result<(Vec<Edge>, bool), DirError> {
        let (items, more) = self
            .collect_items(member_edges(&self.keys, member_id, limit), limit)
            .await?;
        Ok((items.iter().filter_map(Edge::from_item).collect(), more))
    }

    /// The edges whose members' ids run from `first` to `last`, in member
    /// order, at most `limit` (Queries on `gsi2`, 1 MB a page): the groups
    /// of a page of users read in id order, at once. And whether more
    /// exist.
    pub async fn edges_of_members_between(
        &self,
        first: &str,
        last: &str,
        limit: usize,
    ) -> Result<(Vec<Edge>, bool), DirError> {
        let mut q = Query::partition(
            Some(&LOOKUP_INDEX),
            self.keys.member_of_partition(),
            limit.max(1),
        );
        q.sk_between = Some(Keys::member_of_range(first, last));
        let (items, more) = self.collect_items(q, limit).await?;
        Ok((items.iter().filter_map(Edge::from_item).collect(), more))
    }

    /// Which of these (group id, member id) edges exist: BatchGetItems.
    pub async fn existing_edges(&self, pairs: &[(String, String)]) -> Result<Vec<Edge>, DirError> {
        let keys: Vec<Key> = pairs
            .iter()
            .map(|(g, m)| self.keys.member_edge(g, m))
            .collect();
        let items = self.table.get_many(&keys).await?;
        Ok(items.iter().filter_map(Edge::from_item).collect())
    }

    /// Writes and removes edges: BatchWriteItems, several in flight.
    pub async fn write_edges(&self, add: &[Edge], remove: &[Edge]) -> Result<(), DirError> {
        Ok(self
            .table
            .batch_write(&self.edge_writes(add, remove))
            .await?)
    }

    /// The writes that add and remove these edges, to go with a resource's
    /// own write in one transaction (`create`, `replace`, `touch`).
    /// One write an edge: a member both removed and added (a clear, then a
    /// re-add) is put; one named twice is written once, since a
    /// transaction may not write an item twice.
    pub fn edge_writes(&self, add: &[Edge], remove: &[Edge]) -> Vec<Write> {
        table::last_per_key(
            edge_deletes(&self.keys, remove).chain(
                add.iter()
                    .map(|e| Write::put(e.to_item(&self.keys), Condition::None)),
            ),
        )
    }
}

pub(super) fn edge_deletes<'a>(
    keys: &'a Keys,
    edges: &'a [Edge],
) -> impl Iterator<Item = Write> + 'a {
    edges
        .iter()
        .map(|e| Write::delete(keys.member_edge(&e.group_id, &e.member_id), Condition::None))
}

/// The Query for a group's member edges (its own partition).
pub(super) fn group_edges(keys: &Keys, group_id: &str, limit: usize) -> Query {
    let (pk, prefix) = keys.members_of(group_id);
    let mut q = Query::partition(None, pk, limit.max(1));
    q.sk_prefix = Some(prefix.to_string());
    q
}

/// The Query for the edges whose member is `member_id` (`gsi2`).
pub(super) fn member_edges(keys: &Keys, member_id: &str, limit: usize) -> Query {
    let mut q = Query::partition(
        Some(&LOOKUP_INDEX),
        keys.member_of_partition(),
        limit.max(1),
    );
    q.sk_prefix = Some(Keys::member_of_prefix(member_id));
    q
}
