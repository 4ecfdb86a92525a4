//! Lists with filters and index paging, for every resource type. Filters
//! with an `eq` that a key or index answers (alone or on one side of an
//! `and`) use it; others examine the type's partition, bounded.

use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt};

use super::{Service, View};
use crate::scim::ScimError;
use crate::scim::filter::Filter;
use crate::scim::list::Paging;
use crate::scim::resource::{self, Ref, refs_attribute};
use crate::scim::schema::{GROUP_TYPE, ResourceType, USER_TYPE};
use crate::store::{Stored, keys};

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
        // References can be filtered on only as `<attr>.value eq "<id>"`;
        // those are checked against the edges themselves.
        let ref_ids = filter.value_eqs(rt, refs_attr).ok_or_else(|| {
            ScimError::invalid_filter(format!(
                "filters on '{refs_attr}' are answered only as '{refs_attr}.value eq \"<id>\"'"
            ))
        })?;
        let lookup = |attr: &str, sub: Option<&str>| {
            filter
                .eq_lookup(rt, attr, sub)
                .filter(|v| keys::check_key_value(attr, v).is_ok())
        };
        let is_group = rt.name == GROUP_TYPE.name;
        let (candidates, truncated) = if let Some(id) = lookup("id", None) {
            (self.dir.get(rt, id).await?.into_iter().collect(), false)
        } else if let (false, Some(name)) = (is_group, lookup("userName", None)) {
            (
                self.dir
                    .find_by_user_name(rt, name)
                    .await?
                    .into_iter()
                    .collect(),
                false,
            )
        } else if let Some(ext) = lookup("externalId", None) {
            self.dir.find_by_external_id(rt, ext, max).await?
        } else if let (true, Some(name)) = (is_group, lookup("displayName", None)) {
            self.dir.find_by_display_name(rt, name, max).await?
        } else if let (true, Some(member)) = (is_group, lookup("members", Some("value"))) {
            self.groups_with_member(member, max).await?
        } else if filter.eq_lookup(rt, "id", None).is_some()
            || filter.eq_lookup(rt, "userName", None).is_some()
            || filter.eq_lookup(rt, "externalId", None).is_some()
        {
            // An equality on a key no resource can have (too long for one).
            (Vec::new(), false)
        } else {
            self.dir.scan_type(rt, max).await?
        };
        if truncated {
            return Err(ScimError::too_many(format!(
                "the filter would examine more than {max} resources; narrow it with an eq on an indexed attribute"
            )));
        }
        let related = self.related(rt, &candidates, &ref_ids).await?;
        let matching: Vec<Stored> = candidates
            .into_iter()
            .filter(|s| {
                let refs = related.get(&s.meta.id).map(Vec::as_slice);
                let doc = resource::render(&s.doc, &s.meta, rt, "", refs.or(Some(&[])));
                filter.matches(&doc, rt)
            })
            .collect::<Vec<Stored>>();
        let total = matching.len();
        let page = matching
            .into_iter()
            .skip(paging.start_index - 1)
            .take(paging.count)
            .collect();
        Ok((page, total))
    }

    /// For each candidate, which of `ids` it is related to by an existing
    /// edge whose other end exists: a group's members, a user's groups.
    async fn related(
        &self,
        rt: &ResourceType,
        candidates: &[Stored],
        ids: &[String],
    ) -> Result<HashMap<String, Vec<Ref>>, ScimError> {
        let mut out: HashMap<String, Vec<Ref>> = HashMap::new();
        let ids: Vec<&String> = ids
            .iter()
            .filter(|i| keys::check_key_value("value", i).is_ok())
            .collect();
        if ids.is_empty() || candidates.is_empty() {
            return Ok(out);
        }
        let is_group = rt.name == GROUP_TYPE.name;
        // The other ends that still exist.
        let mut wanted: Vec<(&ResourceType, &str)> = Vec::new();
        for id in &ids {
            wanted.push((&GROUP_TYPE, id.as_str()));
            if is_group {
                wanted.push((&USER_TYPE, id.as_str()));
            }
        }
        let alive: HashMap<String, &'static str> = self
            .dir
            .get_many(&wanted)
            .await?
            .into_iter()
            .map(|(ty, s)| (s.meta.id, if ty == "Group" { "Group" } else { "User" }))
            .collect();
        let pairs: Vec<(String, String)> = candidates
            .iter()
            .flat_map(|c| {
                ids.iter()
                    .filter(|i| alive.contains_key(i.as_str()))
                    .map(move |i| (c.meta.id.clone(), (*i).clone()))
            })
            .collect();
        let edge_keys: Vec<(String, String)> = pairs
            .iter()
            .map(|(c, i)| {
                if is_group {
                    (c.clone(), i.clone())
                } else {
                    (i.clone(), c.clone())
                }
            })
            .collect();
        for edge in self.dir.existing_edges(&edge_keys).await? {
            let (candidate, other) = if is_group {
                (edge.group_id, edge.member_id)
            } else {
                (edge.member_id, edge.group_id)
            };
            let resource_type = alive.get(&other).copied().unwrap_or("User");
            out.entry(candidate).or_default().push(Ref {
                id: other,
                resource_type,
                display: None,
            });
        }
        Ok(out)
    }

    /// Groups that have `member` as a direct member: its inverted edges, then
    /// BatchGetItems. Nothing when the member itself no longer exists (its
    /// edges may not be cleaned up yet).
    async fn groups_with_member(
        &self,
        member: &str,
        max: usize,
    ) -> Result<(Vec<Stored>, bool), ScimError> {
        let (edges, more) = self.dir.edges_of_member(member, max).await?;
        if more {
            return Err(ScimError::too_many(format!(
                "the member belongs to more than {max} groups"
            )));
        }
        let Some(first) = edges.first() else {
            return Ok((Vec::new(), false));
        };
        let member_rt: &ResourceType = if first.member_type == "Group" {
            &GROUP_TYPE
        } else {
            &USER_TYPE
        };
        if self.dir.get(member_rt, member).await?.is_none() {
            return Ok((Vec::new(), false));
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
        Ok((groups, false))
    }
}
