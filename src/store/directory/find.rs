//! Finding resources: by `userName` (its guard), by `externalId`, email or
//! `displayName` (GSIs), and by type in id order (`gsi1`), with counts.

use super::{DirError, Directory, Stored};
use crate::scim::Kind;
use crate::store::keys::{DISPLAY_NAME_INDEX, LOOKUP_INDEX, TYPE_INDEX, attr};
use crate::store::table::{Item, Query};

impl Directory {
    /// Users with this email (any letter case): Queries on `gsi2` for the
    /// lookup items, then BatchGetItems for the users.
    pub async fn find_by_email(
        &self,
        kind: Kind,
        email: &str,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        let q = Query::partition(Some(&LOOKUP_INDEX), self.keys.email_partition(email), limit);
        let (items, more) = self.collect_items(q, limit).await?;
        let ids: Vec<(Kind, &str)> = items
            .iter()
            .filter_map(|i| i.s(attr::ID))
            .map(|id| (kind, id))
            .collect();
        let mut users: Vec<Stored> = self
            .get_many(&ids)
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        users.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        Ok((users, more))
    }

    /// Groups with this `displayName` (any letter case): Queries on `gsi3`.
    pub async fn find_by_display_name(
        &self,
        display_name: &str,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        let pk = self.keys.display_name_partition(display_name);
        self.collect(
            Query::partition(Some(&DISPLAY_NAME_INDEX), pk, limit),
            limit,
        )
        .await
    }

    /// The user holding this `userName` (any letter case): 2 GetItems (guard,
    /// then user), both strongly consistent.
    pub async fn find_by_user_name(
        &self,
        kind: Kind,
        user_name: &str,
    ) -> Result<Option<Stored>, DirError> {
        let Some(guard) = self
            .table
            .get(&self.keys.user_name_guard(user_name))
            .await?
        else {
            return Ok(None);
        };
        match guard.s(attr::ID) {
            Some(id) => self.get(kind, id).await,
            None => Ok(None),
        }
    }

    /// Resources with this `externalId`: Queries on `gsi2`, at most `limit`.
    pub async fn find_by_external_id(
        &self,
        kind: Kind,
        external_id: &str,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        let pk = self.keys.external_id_partition(kind, external_id);
        self.collect(Query::partition(Some(&LOOKUP_INDEX), pk, limit), limit)
            .await
    }

    /// Resources of a type in id order, from the start: Queries on `gsi1`
    /// until `limit` are read. Returns them and whether more exist.
    pub async fn scan_type(
        &self,
        kind: Kind,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        self.scan_type_after(kind, None, limit).await
    }

    /// Like `scan_type`, starting after the resource with id `after`: the
    /// Query starts at that key (DynamoDB's ExclusiveStartKey), so the cost
    /// is that of the page, whatever its depth.
    pub async fn scan_type_after(
        &self,
        kind: Kind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        let mut q = Query::partition(
            Some(&TYPE_INDEX),
            self.keys.type_partition(kind),
            limit.max(1),
        );
        q.start_after = after.map(|id| {
            let mut item = Item::new(self.keys.resource(kind, id));
            item.set_s(TYPE_INDEX.pk, self.keys.type_partition(kind))
                .set_s(TYPE_INDEX.sk, id);
            item
        });
        self.collect(q, limit).await
    }

    pub(super) async fn collect(
        &self,
        q: Query,
        limit: usize,
    ) -> Result<(Vec<Stored>, bool), DirError> {
        let (items, more) = self.collect_items(q, limit).await?;
        let stored = items
            .iter()
            .map(Self::from_item)
            .collect::<Result<_, _>>()?;
        Ok((stored, more))
    }

    /// Items of a Query, paging on until `limit` are read; and whether more
    /// exist. One more than needed is asked for, so that "more" is exact on
    /// both drivers (DynamoDB returns a LastEvaluatedKey whenever it stops at
    /// the limit, even when nothing follows).
    pub(super) async fn collect_items(
        &self,
        mut q: Query,
        limit: usize,
    ) -> Result<(Vec<Item>, bool), DirError> {
        let mut out = Vec::new();
        loop {
            q.limit = (limit - out.len()).saturating_add(1);
            let page = self.table.query(&q).await?;
            for item in &page.items {
                if out.len() == limit {
                    return Ok((out, true));
                }
                out.push(item.clone());
            }
            match page.items.last() {
                Some(last) if page.more => q.start_after = Some(last.clone()),
                _ => return Ok((out, false)),
            }
        }
    }
}
