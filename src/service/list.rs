//! Lists for every resource type: filters, sorting, index paging and
//! cursor paging. Filters with an `eq` that a key or index answers (alone or
//! on one side of an `and`, see [`INDEXED`]) use it; others examine the
//! type's partition, at most `max_filter_scan` resources a request.

use std::cmp::Ordering;
use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Service, View};
use crate::scim::ScimError;
use crate::scim::filter::{Filter, Resolved};
use crate::scim::list::{Paging, SortOrder};
use crate::scim::resource::{self, Ref, refs_attribute};
use crate::scim::schema::{AttrType, GROUP_TYPE, ResourceType, USER_TYPE};
use crate::store::{Stored, keys};

/// How a list pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// RFC 7644 index paging.
    Index(Paging),
    /// RFC 9865 cursor paging: resources after this id (`None`: from the
    /// start), at most `count`.
    After { after: Option<String>, count: usize },
}

/// A list request, parsed and checked against its resource type.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort: Option<(Resolved, SortOrder)>,
    pub position: Position,
    /// Compute each resource's references (a user's groups, a group's members).
    pub with_refs: bool,
}

#[derive(Debug)]
pub struct ListResult {
    pub resources: Vec<View>,
    /// Unknown for a cursor page of a filter that examines the partition.
    pub total: Option<usize>,
    /// With cursor paging: the id after which the next page starts.
    pub next_after: Option<String>,
}

/// The equalities a key or index answers: (resource type, or any; attribute;
/// sub-attribute).
pub const INDEXED: &[(Option<&str>, &str, Option<&str>)] = &[
    (None, "id", None),
    (None, "externalId", None),
    (Some("User"), "userName", None),
    (Some("User"), "emails", Some("value")),
    (Some("Group"), "displayName", None),
    (Some("Group"), "members", Some("value")),
];

/// Reference computations kept in flight at once for one list.
const REFS_CONCURRENCY: usize = 8;

/// The value a resource sorts by: for a multi-valued attribute, its primary
/// value or else its first (RFC 7644 §3.4.2.3).
fn sort_value<'a>(doc: &'a Value, by: &Resolved) -> Option<&'a Value> {
    let v = by.container(doc)?;
    let v = match v {
        Value::Array(items) => items
            .iter()
            .find(|i| i.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?,
        other => other,
    };
    let sub = by.sub.or_else(|| {
        (by.attr.ty == AttrType::Complex)
            .then(|| by.attr.sub("value"))
            .flatten()
    });
    match sub {
        Some(s) => v.get(s.name),
        None => Some(v),
    }
}

fn compare_values(by: &Resolved, a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let leaf = by.sub.unwrap_or(by.attr);
    match (a, b) {
        (None, None) => Ordering::Equal,
        // Resources without a value come last.
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Value::String(x)), Some(Value::String(y))) => match leaf.ty {
            AttrType::DateTime => match (
                OffsetDateTime::parse(x, &Rfc3339),
                OffsetDateTime::parse(y, &Rfc3339),
            ) {
                (Ok(p), Ok(q)) => p.cmp(&q),
                _ => x.cmp(y),
            },
            _ if leaf.case_exact => x.cmp(y),
            _ => x.to_lowercase().cmp(&y.to_lowercase()),
        },
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

impl Service {
    pub async fn list(
        &self,
        rt: &'static ResourceType,
        q: &ListQuery,
    ) -> Result<ListResult, ScimError> {
        let (stored, total, next_after) = match &q.position {
            Position::Index(paging) => {
                let (page, total) = self.index_page(rt, q, *paging).await?;
                (page, Some(total), None)
            }
            Position::After { after, count } => {
                if q.sort.is_some() {
                    return Err(ScimError::invalid_value(
                        "sortBy is not available with cursor paging; cursor pages come in id order",
                    ));
                }
                self.cursor_page(rt, q.filter.as_ref(), after.as_deref(), *count)
                    .await?
            }
        };
        let views: Vec<_> = stored
            .into_iter()
            .map(|s| Box::pin(self.view(rt, s, q.with_refs)))
            .collect();
        let resources = futures_util::stream::iter(views)
            .buffered(REFS_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(ListResult {
            resources,
            total,
            next_after,
        })
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

    /// A resource with its references when wanted: a user's `groups`, a
    /// group's `members`.
    pub(super) async fn view(
        &self,
        rt: &ResourceType,
        stored: Stored,
        with_refs: bool,
    ) -> Result<View, ScimError> {
        let refs = match (with_refs, rt.name == GROUP_TYPE.name) {
            (false, _) => None,
            (true, true) => Some(self.members_of(&stored.meta.id).await?),
            (true, false) => Some(self.groups_of(&stored.meta.id).await?),
        };
        Ok(View { stored, refs })
    }

    fn too_many(&self) -> ScimError {
        ScimError::too_many(format!(
            "the request would examine more than {} resources; narrow the filter with an eq on an indexed attribute",
            self.limits.max_filter_scan
        ))
    }

    /// Index paging: unfiltered and unsorted lists count the type and read
    /// only up to the page; others gather every match (bounded), sort, slice.
    async fn index_page(
        &self,
        rt: &'static ResourceType,
        q: &ListQuery,
        paging: Paging,
    ) -> Result<(Vec<Stored>, usize), ScimError> {
        if q.filter.is_none() && q.sort.is_none() {
            let total = self.dir.count(rt).await?;
            if paging.count == 0 || paging.start_index > total {
                return Ok((Vec::new(), total));
            }
            let want = (paging.start_index - 1).saturating_add(paging.count);
            let (all, _) = self.dir.scan_type(rt, want).await?;
            return Ok((
                all.into_iter().skip(paging.start_index - 1).collect(),
                total,
            ));
        }
        let mut matching = match &q.filter {
            Some(f) => match self.indexed_candidates(rt, f).await? {
                Some((c, known)) => self.matching(rt, f, c, known.as_ref()).await?,
                None => {
                    let (all, more) = self.dir.scan_type(rt, self.limits.max_filter_scan).await?;
                    if more {
                        return Err(self.too_many());
                    }
                    self.matching(rt, f, all, None).await?
                }
            },
            None => {
                let (all, more) = self.dir.scan_type(rt, self.limits.max_filter_scan).await?;
                if more {
                    return Err(self.too_many());
                }
                all
            }
        };
        if let Some((by, order)) = &q.sort {
            let docs: Vec<Value> = matching
                .iter()
                .map(|s| resource::render(&s.doc, &s.meta, rt, "", None))
                .collect();
            let mut idx: Vec<usize> = (0..matching.len()).collect();
            idx.sort_by(|&a, &b| {
                let o = compare_values(by, sort_value(&docs[a], by), sort_value(&docs[b], by));
                if *order == SortOrder::Descending {
                    o.reverse()
                } else {
                    o
                }
            });
            let mut slots: Vec<Option<Stored>> = matching.into_iter().map(Some).collect();
            matching = idx.into_iter().filter_map(|i| slots[i].take()).collect();
        }
        let total = matching.len();
        let page = matching
            .into_iter()
            .skip(paging.start_index - 1)
            .take(paging.count)
            .collect();
        Ok((page, total))
    }

    /// Cursor paging: the resources after `after` in id order. Unfiltered, it
    /// reads just the page from the type index; an indexed filter gathers
    /// its (few) matches; any other filter examines the partition from the
    /// cursor on, until the page is full or `max_filter_scan` were examined.
    async fn cursor_page(
        &self,
        rt: &'static ResourceType,
        filter: Option<&Filter>,
        after: Option<&str>,
        count: usize,
    ) -> Result<(Vec<Stored>, Option<usize>, Option<String>), ScimError> {
        let Some(f) = filter else {
            // totalResults only on the first page: counting reads the whole
            // type index, which would make every page cost O(all).
            let total = match after {
                None => Some(self.dir.count(rt).await?),
                Some(_) => None,
            };
            if count == 0 {
                return Ok((Vec::new(), total, None));
            }
            let (page, more) = self.dir.scan_type_after(rt, after, count).await?;
            let next = more
                .then(|| page.last().map(|s| s.meta.id.clone()))
                .flatten();
            return Ok((page, total, next));
        };
        if let Some((candidates, known)) = self.indexed_candidates(rt, f).await? {
            let matching = self.matching(rt, f, candidates, known.as_ref()).await?;
            let total = matching.len();
            let rest: Vec<Stored> = matching
                .into_iter()
                .filter(|s| after.is_none_or(|a| s.meta.id.as_str() > a))
                .collect();
            let more = rest.len() > count;
            let page: Vec<Stored> = rest.into_iter().take(count).collect();
            let next = more
                .then(|| page.last().map(|s| s.meta.id.clone()))
                .flatten();
            return Ok((page, Some(total), next));
        }
        if count == 0 {
            return Err(ScimError::too_many(
                "count=0 would have to examine every resource for this filter",
            ));
        }
        let mut page = Vec::new();
        let mut position = after.map(str::to_string);
        let mut examined = 0usize;
        let chunk = count.clamp(50, 1000);
        loop {
            let (batch, more) = self
                .dir
                .scan_type_after(rt, position.as_deref(), chunk)
                .await?;
            examined += batch.len();
            let last_examined = batch.last().map(|s| s.meta.id.clone());
            let batch_len = batch.len();
            let matched = self.matching(rt, f, batch, None).await?;
            for s in matched {
                if page.len() == count {
                    break;
                }
                page.push(s);
            }
            if page.len() == count {
                // The next page starts after the last one returned; what
                // followed it in this batch is examined again then.
                let next = page.last().map(|s| s.meta.id.clone());
                let any_left = more || next != last_examined;
                return Ok((page, None, next.filter(|_| any_left)));
            }
            if !more || batch_len == 0 {
                return Ok((page, None, None));
            }
            position = last_examined;
            if examined >= self.limits.max_filter_scan {
                // A short page: the client goes on from where this stopped.
                return Ok((page, None, position));
            }
        }
    }

    /// The candidates an index answers for this filter, if one applies, and
    /// a reference every candidate is already known to hold (the member whose
    /// edges found them).
    async fn indexed_candidates(
        &self,
        rt: &'static ResourceType,
        filter: &Filter,
    ) -> Result<Option<(Vec<Stored>, Option<Ref>)>, ScimError> {
        let max = self.limits.max_filter_scan;
        let lookup = |attr: &str, sub: Option<&str>| {
            filter
                .eq_lookup(rt, attr, sub)
                .filter(|v| keys::check_key_value(attr, v).is_ok())
        };
        let is_group = rt.name == GROUP_TYPE.name;
        let mut known = None;
        let (candidates, truncated) = if let Some(id) = lookup("id", None) {
            (self.dir.get(rt, &id).await?.into_iter().collect(), false)
        } else if let (false, Some(name)) = (is_group, lookup("userName", None)) {
            (
                self.dir
                    .find_by_user_name(rt, &name)
                    .await?
                    .into_iter()
                    .collect(),
                false,
            )
        } else if let Some(ext) = lookup("externalId", None) {
            self.dir.find_by_external_id(rt, &ext, max).await?
        } else if let (false, Some(email)) = (is_group, lookup("emails", Some("value"))) {
            self.dir.find_by_email(rt, &email, max).await?
        } else if let (true, Some(name)) = (is_group, lookup("displayName", None)) {
            self.dir.find_by_display_name(rt, &name, max).await?
        } else if let (true, Some(member)) = (is_group, lookup("members", Some("value"))) {
            let (groups, member) = self.groups_with_member(&member, max).await?;
            known = member;
            (groups, false)
        } else if INDEXED
            .iter()
            .filter(|(ty, _, _)| ty.is_none_or(|t| t == rt.name))
            .any(|(_, attr, sub)| filter.eq_lookup(rt, attr, *sub).is_some())
        {
            // An equality on a key no resource can have (too long for one).
            (Vec::new(), false)
        } else {
            return Ok(None);
        };
        if truncated {
            return Err(self.too_many());
        }
        let mut candidates: Vec<Stored> = candidates;
        candidates.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        Ok(Some((candidates, known)))
    }

    /// The candidates the filter matches. References can be filtered on only
    /// as `<attr>.value eq "<id>"`; those are checked against the edges.
    async fn matching(
        &self,
        rt: &ResourceType,
        filter: &Filter,
        candidates: Vec<Stored>,
        known: Option<&Ref>,
    ) -> Result<Vec<Stored>, ScimError> {
        let refs_attr = refs_attribute(rt).unwrap_or("");
        let ref_ids = filter.value_eqs(rt, refs_attr).ok_or_else(|| {
            ScimError::invalid_filter(format!(
                "filters on '{refs_attr}' are answered only as '{refs_attr}.value eq \"<id>\"'"
            ))
        })?;
        let related = self.related(rt, &candidates, &ref_ids, known).await?;
        Ok(candidates
            .into_iter()
            .filter(|s| {
                let refs = related.get(&s.meta.id).map(Vec::as_slice);
                let doc = resource::render(&s.doc, &s.meta, rt, "", refs.or(Some(&[])));
                filter.matches(&doc, rt)
            })
            .collect())
    }

    /// For each candidate, which of `ids` it is related to by an existing
    /// edge whose other end exists: a group's members, a user's groups.
    /// `known` is related to every candidate already (no need to look).
    async fn related(
        &self,
        rt: &ResourceType,
        candidates: &[Stored],
        ids: &[String],
        known: Option<&Ref>,
    ) -> Result<HashMap<String, Vec<Ref>>, ScimError> {
        let mut out: HashMap<String, Vec<Ref>> = HashMap::new();
        if let Some(known) = known.filter(|k| ids.contains(&k.id)) {
            for c in candidates {
                out.entry(c.meta.id.clone())
                    .or_default()
                    .push(known.clone());
            }
        }
        let ids: Vec<&String> = ids
            .iter()
            .filter(|i| keys::check_key_value("value", i).is_ok())
            .filter(|i| known.is_none_or(|k| &k.id != *i))
            .collect();
        if ids.is_empty() || candidates.is_empty() {
            return Ok(out);
        }
        let is_group = rt.name == GROUP_TYPE.name;
        // The other ends that still exist.
        let mut wanted: Vec<(&ResourceType, &str)> = Vec::new();
        for id in &ids {
            wanted.push((&*GROUP_TYPE, id.as_str()));
            if is_group {
                wanted.push((&*USER_TYPE, id.as_str()));
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

    /// Groups that have `member` as a direct member, and the member: its
    /// inverted edges, then BatchGetItems for the groups and the member
    /// itself. Nothing when the member no longer exists (its edges may not
    /// be cleaned up yet).
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
        let mut wanted: Vec<(&ResourceType, &str)> = edges
            .iter()
            .map(|e| (&*GROUP_TYPE, e.group_id.as_str()))
            .collect();
        wanted.push((member_rt, member));
        let mut groups = Vec::with_capacity(edges.len());
        let mut found = None;
        for (ty, s) in self.dir.get_many(&wanted).await? {
            if s.meta.id == member && ty == member_rt.name {
                found = Some(super::groups::to_ref(&ty, s));
            } else if ty == GROUP_TYPE.name {
                groups.push(s);
            }
        }
        if found.is_none() {
            return Ok((Vec::new(), None));
        }
        groups.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        Ok((groups, found))
    }
}
