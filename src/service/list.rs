//! Lists with filters and index paging, for every resource type. Filters
//! with an `eq` that a key or index answers (alone or on one side of an
//! `and`) use it; others examine the type's partition, bounded.

use futures_util::{StreamExt, TryStreamExt};

use super::{Service, View};
use crate::scim::ScimError;
use crate::scim::filter::Filter;
use crate::scim::list::Paging;
use crate::scim::resource::{self, Ref, refs_attribute};
use crate::scim::schema::{GROUP_TYPE, ResourceType, USER_TYPE};
use crate::store::Stored;

/// A list request, parsed.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub paging: Paging,
    /// Compute each resource's references (a user's groups, a group's members).
    pub with_refs: bool,
}

#[derive(Debug)]
pub struct ListResult {
    pub resources: Vec<View>,
    pub total: usize,
}

/// Reference computations kept in flight at once for one list.
const REFS_CONCURRENCY: usize = 8;

impl Service {
    pub async fn list(
        &self,
        rt: &'static ResourceType,
        q: &ListQuery,
    ) -> Result<ListResult, ScimError> {
        let page = match &q.filter {
            None => self.list_all(rt, q.paging).await?,
            Some(f) => self.list_filtered(rt, f, q.paging).await?,
        };
        let (stored, total) = page;
        let views: Vec<_> = stored
            .into_iter()
            .map(|s| Box::pin(self.view(rt, s, q.with_refs)))
            .collect();
        let resources = futures_util::stream::iter(views)
            .buffered(REFS_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(ListResult { resources, total })
    }

    /// A resource by id, with its references when wanted.
    pub async fn get_view(
        &self,
        rt: &ResourceType,
        id: &str,
        with_refs: bool,
    ) -> Result<View, ScimError> {
        let stored = self.get(rt, id).await?;
        self.view(rt, stored, with_refs).await
    }

    /// A resource with its references when wanted.
    pub(super) async fn view(
        &self,
        rt: &ResourceType,
        s: Stored,
        with_refs: bool,
    ) -> Result<View, ScimError> {
        if rt.name == GROUP_TYPE.name {
            self.group_view(s, with_refs).await
        } else {
            self.user_view(s, with_refs).await
        }
    }

    async fn list_all(
        &self,
        rt: &ResourceType,
        paging: Paging,
    ) -> Result<(Vec<Stored>, usize), ScimError> {
        let total = self.dir.count(rt).await?;
        if paging.count == 0 || paging.start_index > total {
            return Ok((Vec::new(), total));
        }
        let want = (paging.start_index - 1).saturating_add(paging.count);
        let (all, _) = self.dir.scan_type(rt, want).await?;
        Ok((
            all.into_iter().skip(paging.start_index - 1).collect(),
            total,
        ))
    }

    async fn list_filtered(
        &self,
        rt: &'static ResourceType,
        filter: &Filter,
        paging: Paging,
    ) -> Result<(Vec<Stored>, usize), ScimError> {
        let max = self.limits.max_filter_scan;
        let refs_attr = refs_attribute(rt).unwrap_or("");
        // What an index tells about the references of each candidate, for
        // evaluating the filter (a `members.value eq` lookup knows one member).
        let mut known_refs: Option<Vec<Ref>> = None;
        let (candidates, truncated) = if let Some(id) = filter.eq_lookup(rt, "id", None) {
            (self.dir.get(rt, id).await?.into_iter().collect(), false)
        } else if let (true, Some(name)) = (
            rt.name == USER_TYPE.name,
            filter.eq_lookup(rt, "userName", None),
        ) {
            (
                self.dir
                    .find_by_user_name(rt, name)
                    .await?
                    .into_iter()
                    .collect(),
                false,
            )
        } else if let Some(ext) = filter.eq_lookup(rt, "externalId", None) {
            self.dir.find_by_external_id(rt, ext, max).await?
        } else if let (true, Some(name)) = (
            rt.name == GROUP_TYPE.name,
            filter.eq_lookup(rt, "displayName", None),
        ) {
            self.dir.find_by_display_name(rt, name, max).await?
        } else if let (true, Some(member)) = (
            rt.name == GROUP_TYPE.name,
            filter.eq_lookup(rt, "members", Some("value")),
        ) {
            let (groups, member_ref) = self.groups_with_member(member, max).await?;
            known_refs = member_ref.map(|r| vec![r]);
            (groups, false)
        } else {
            if filter.mentions(rt, refs_attr) {
                return Err(ScimError::invalid_filter(format!(
                    "filters on '{refs_attr}' are answered only as '{refs_attr}.value eq \"<id>\"' (optionally in an 'and')"
                )));
            }
            self.dir.scan_type(rt, max).await?
        };
        if truncated {
            return Err(ScimError::too_many(format!(
                "the filter would examine more than {max} resources; narrow it with an eq on an indexed attribute"
            )));
        }
        let matching: Vec<Stored> = candidates
            .into_iter()
            .filter(|s| {
                let doc = resource::render(&s.doc, &s.meta, rt, "", known_refs.as_deref());
                filter.matches(&doc, rt)
            })
            .collect();
        let total = matching.len();
        let page = matching
            .into_iter()
            .skip(paging.start_index - 1)
            .take(paging.count)
            .collect();
        Ok((page, total))
    }

    /// Groups that have `member` as a direct member: its inverted edges, then
    /// BatchGetItems. Nothing when the member itself no longer exists (its
    /// edges may not be cleaned up yet).
    async fn groups_with_member(
        &self,
        member: &str,
        max: usize,
    ) -> Result<(Vec<Stored>, Option<Ref>), ScimError> {
        let (edges, more) = self.dir.edges_of_member(member, max).await?;
        if more {
            return Err(ScimError::too_many(format!(
                "the member belongs to more than {max} groups"
            )));
        }
        let Some(first) = edges.first() else {
            return Ok((Vec::new(), None));
        };
        let member_rt: &ResourceType = if first.member_type == "Group" {
            &GROUP_TYPE
        } else {
            &USER_TYPE
        };
        if self.dir.get(member_rt, member).await?.is_none() {
            return Ok((Vec::new(), None));
        }
        let wanted: Vec<(&ResourceType, &str)> = edges
            .iter()
            .map(|e| (&GROUP_TYPE as &ResourceType, e.group_id.as_str()))
            .collect();
        let mut groups: Vec<Stored> = self
            .dir
            .get_many(&wanted)
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        groups.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        let r = Ref {
            id: member.to_string(),
            resource_type: member_rt.name,
            display: None,
        };
        Ok((groups, Some(r)))
    }
}
