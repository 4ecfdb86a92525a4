//! Equalities a key or index answers (`INDEXED`), and filters on
//! references, checked against the edges.

use std::collections::HashMap;

use super::super::Service;
use crate::scim::filter::Filter;
use crate::scim::resource::{self, Ref};
use crate::scim::schemas::ResourceType;
use crate::scim::{Kind, ScimError};
use crate::store::{Stored, keys};

/// How a key or index answers an equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The resource's own key.
    Id,
    /// The `userName` guard.
    UserName,
    /// `gsi2`.
    ExternalId,
    /// The email lookup items, on `gsi2`.
    Email,
    /// `gsi3`.
    DisplayName,
    /// The inverted edges, on `gsi2`.
    Member,
}

/// The equalities a key or index answers: (kind, or any; attribute;
/// sub-attribute; how), tried in this order.
pub const INDEXED: &[(Option<Kind>, &str, Option<&str>, Lookup)] = &[
    (None, "id", None, Lookup::Id),
    (Some(Kind::User), "userName", None, Lookup::UserName),
    (None, "externalId", None, Lookup::ExternalId),
    (Some(Kind::User), "emails", Some("value"), Lookup::Email),
    (Some(Kind::Group), "displayName", None, Lookup::DisplayName),
    (Some(Kind::Group), "members", Some("value"), Lookup::Member),
];

impl Service {
    /// The candidates an index answers for this filter, if one applies, and
    /// a reference every candidate is already known to hold (the member whose
    /// edges found them).
    pub(super) async fn indexed_candidates(
        &self,
        rt: &ResourceType,
        filter: &Filter,
    ) -> Result<Option<(Vec<Stored>, Option<Ref>)>, ScimError> {
        let mut applies = INDEXED
            .iter()
            .filter(|(kind, ..)| kind.is_none_or(|k| k == rt.kind))
            .filter_map(|(_, attr, sub, how)| {
                Some((*attr, filter.eq_lookup(rt, attr, *sub)?, *how))
            });
        let Some((attr, value, how)) = applies.next() else {
            return Ok(None);
        };
        if keys::check_key_value(attr, &value).is_err() {
            // An equality on a key no resource can have (too long for one).
            return Ok(Some((Vec::new(), None)));
        }
        let max = self.limits.max_filter_scan;
        let mut known = None;
        let (candidates, truncated) = match how {
            Lookup::Id => (
                self.dir.get(rt.kind, &value).await?.into_iter().collect(),
                false,
            ),
            Lookup::UserName => {
                let found = self.dir.find_by_user_name(rt.kind, &value).await?;
                (found.into_iter().collect(), false)
            }
            Lookup::ExternalId => self.dir.find_by_external_id(rt.kind, &value, max).await?,
            Lookup::Email => self.dir.find_by_email(rt.kind, &value, max).await?,
            Lookup::DisplayName => self.dir.find_by_display_name(&value, max).await?,
            Lookup::Member => {
                let (groups, member) = self.groups_with_member(&value, max).await?;
                known = member;
                (groups, false)
            }
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
    pub(super) async fn matching(
        &self,
        rt: &ResourceType,
        filter: &Filter,
        candidates: Vec<Stored>,
        known: Option<&Ref>,
    ) -> Result<Vec<Stored>, ScimError> {
        let refs_attr = rt.kind.refs_attribute();
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
    pub(super) async fn related(
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
        let is_group = rt.kind == Kind::Group;
        // The other ends that still exist: a group's members are users and
        // groups, a user's groups are groups.
        let mut wanted: Vec<(Kind, &str)> = Vec::new();
        for id in &ids {
            wanted.push((Kind::Group, id.as_str()));
            if is_group {
                wanted.push((Kind::User, id.as_str()));
            }
        }
        let alive: HashMap<String, Kind> = self
            .dir
            .get_many(&wanted)
            .await?
            .into_iter()
            .map(|(kind, s)| (s.meta.id, kind))
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
            let resource_type = alive.get(&other).copied().unwrap_or(Kind::User);
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
    pub(super) async fn groups_with_member(
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
        let member_kind = first.member_type;
        let mut wanted: Vec<(Kind, &str)> = edges
            .iter()
            .map(|e| (Kind::Group, e.group_id.as_str()))
            .collect();
        wanted.push((member_kind, member));
        let mut groups = Vec::with_capacity(edges.len());
        let mut found = None;
        for (kind, s) in self.dir.get_many(&wanted).await? {
            if s.meta.id == member && kind == member_kind {
                found = Some(super::super::groups::to_ref(kind, s));
            } else if kind == Kind::Group {
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
