//! A group PATCH as a plan: its operations split into member changes and
//! the rest, the member changes reduced (over the current members, when a
//! change needs them) to the edges to write. Pure: no reads, no writes.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::scim::filter::{AttrPath, CompareOp, Filter, Literal};
use crate::scim::patch::{Op, Operation};
use crate::scim::resource::Ref;
use crate::scim::schemas::ResourceType;
use crate::scim::{Kind, ScimError};
use crate::store::Edge;

/// One change to a group's member set, in request order.
#[derive(Debug)]
pub(super) enum MemberChange {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveWhere(Filter),
    RemoveAll,
    Replace(Vec<String>),
}

/// The member ids in a `members` value: a list (or one) of `{"value": id}`
/// objects (other sub-attributes, like Entra ID's `"$ref": null`, are
/// ignored), or of bare ids.
pub(in crate::service) fn member_ids(
    value: Option<&Value>,
    path: &str,
) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(one) => vec![one],
    };
    items
        .into_iter()
        .map(|item| {
            let id = match item {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                    .and_then(|(_, v)| v.as_str()),
                _ => None,
            };
            let id = id.map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| {
                ScimError::invalid_value(format!("'{path}': every member needs a \"value\" id"))
            })?;
            // No resource has an id that long, and no key can hold one.
            crate::store::keys::check_key_value("members.value", id)?;
            Ok(id.to_string())
        })
        .collect()
}

/// The ids of a `value eq "a" or value eq "b"` filter, if it is only that.
pub(super) fn value_eq_ids(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::Compare(p, CompareOp::Eq, Literal::String(s))
            if p.urn.is_none() && p.sub.is_none() && p.name.eq_ignore_ascii_case("value") =>
        {
            Some(vec![s.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = value_eq_ids(a)?;
            ids.extend(value_eq_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// How a PATCH path (or a key of a path-less value) names a group's
/// `members`: in any letter case, with or without the schema URN.
pub(super) enum MembersPath<'a> {
    Whole,
    /// `members[<filter>]`, with whatever follows the `]`.
    Filtered {
        filter: &'a str,
        after: &'a str,
    },
    /// `members.<sub>`: not something a member change can do.
    Sub,
}

pub(super) fn members_path<'a>(groups: &ResourceType, p: &'a str) -> Option<MembersPath<'a>> {
    let open = p.find('[');
    let head = open.map_or(p, |i| &p[..i]);
    let r = AttrPath::parse(head)?.resolve(groups)?;
    if r.ext.is_some() || r.attr.name != "members" {
        return None;
    }
    Some(match (open, r.sub) {
        (_, Some(_)) => MembersPath::Sub,
        (None, None) => MembersPath::Whole,
        (Some(i), None) => {
            let rest = &p[i + 1..];
            match rest.rfind(']') {
                Some(close) => MembersPath::Filtered {
                    filter: &rest[..close],
                    after: &rest[close + 1..],
                },
                None => MembersPath::Filtered {
                    filter: rest,
                    after: "]",
                },
            }
        }
    })
}

pub(super) fn require_members_value<'a>(
    op: &'a Operation,
    p: &str,
) -> Result<Option<&'a Value>, ScimError> {
    match &op.value {
        None => Err(ScimError::invalid_value(format!(
            "'{p}': the operation needs a \"value\""
        ))),
        v => Ok(v.as_ref()),
    }
}

/// Splits PATCH operations into member changes and the rest.
pub(super) fn split(
    groups: &ResourceType,
    ops: Vec<Operation>,
) -> Result<(Vec<Operation>, Vec<MemberChange>), ScimError> {
    let mut other = Vec::new();
    let mut changes = Vec::new();
    for op in ops {
        match op.path.clone() {
            None => split_values(groups, op, &mut other, &mut changes)?,
            Some(p) => match members_path(groups, &p) {
                None => other.push(op),
                Some(path) => changes.push(member_change(groups, &op, &p, path)?),
            },
        }
    }
    Ok((other, changes))
}

/// A path-less operation: its value's `members` is a member change, the
/// rest of it an operation of its own.
pub(super) fn split_values(
    groups: &ResourceType,
    op: Operation,
    other: &mut Vec<Operation>,
    changes: &mut Vec<MemberChange>,
) -> Result<(), ScimError> {
    let Some(Value::Object(values)) = &op.value else {
        other.push(op);
        return Ok(());
    };
    let mut rest = Map::new();
    for (k, v) in values {
        match members_path(groups, k) {
            Some(MembersPath::Whole) => {
                let ids = member_ids(Some(v), k)?;
                changes.push(match op.op {
                    Op::Add => MemberChange::Add(ids),
                    Op::Replace => MemberChange::Replace(ids),
                    Op::Remove => {
                        return Err(ScimError::no_target(
                            "a \"remove\" operation needs a \"path\"",
                        ));
                    }
                });
            }
            Some(_) => return Err(immutable_member(k)),
            None => {
                rest.insert(k.clone(), v.clone());
            }
        }
    }
    if !rest.is_empty() {
        other.push(Operation {
            op: op.op,
            path: None,
            value: Some(Value::Object(rest)),
        });
    }
    Ok(())
}

pub(super) fn immutable_member(p: &str) -> ScimError {
    ScimError::mutability(format!(
        "'{p}': a member's value is immutable; members are added and removed whole"
    ))
}

/// The member change of an operation whose path names `members`.
pub(super) fn member_change(
    groups: &ResourceType,
    op: &Operation,
    p: &str,
    path: MembersPath<'_>,
) -> Result<MemberChange, ScimError> {
    Ok(match path {
        MembersPath::Sub => return Err(immutable_member(p)),
        MembersPath::Whole => match op.op {
            Op::Add => MemberChange::Add(member_ids(require_members_value(op, p)?, p)?),
            Op::Replace => MemberChange::Replace(member_ids(require_members_value(op, p)?, p)?),
            Op::Remove => match &op.value {
                None | Some(Value::Null) => MemberChange::RemoveAll,
                v => MemberChange::Remove(member_ids(v.as_ref(), p)?),
            },
        },
        MembersPath::Filtered { filter, after } => {
            if !after.is_empty() {
                return Err(ScimError::invalid_path(format!(
                    "'{p}': members are added and removed whole"
                )));
            }
            if op.op != Op::Remove {
                return Err(ScimError::invalid_path(format!(
                    "'{p}': use \"add\" with path \"members\" to add members"
                )));
            }
            let members_attr = groups
                .core_attr("members")
                .ok_or_else(ScimError::internal)?;
            let filter = Filter::parse_syntax(filter)
                .and_then(|f| f.check(groups, Some(members_attr)).map(|()| f))
                .map_err(|e| ScimError::invalid_path(format!("'{p}': {}", e.detail)))?;
            match value_eq_ids(&filter) {
                Some(ids) => MemberChange::Remove(ids),
                None => MemberChange::RemoveWhere(filter),
            }
        }
    })
}

impl MemberChange {
    /// Whether the change depends on the current member set: the request
    /// must then read the group and its edges and write under the version
    /// it read, so that no other membership write comes in between.
    pub(super) fn needs_current(&self) -> bool {
        matches!(
            self,
            Self::RemoveAll | Self::Replace(_) | Self::RemoveWhere(_)
        )
    }

    pub(super) fn named(&self) -> usize {
        match self {
            Self::Add(v) | Self::Remove(v) | Self::Replace(v) => v.len(),
            Self::RemoveWhere(_) | Self::RemoveAll => 0,
        }
    }
}

/// The member set changes of a request, reduced to edges to write.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// Drop every current member not re-added.
    pub(super) clear: bool,
    pub(super) adds: Vec<String>,
    pub(super) removes: HashSet<String>,
}

impl Plan {
    /// The changes in request order, over the current members when a
    /// change needs them (`current` is then `Some`). A filtered removal
    /// that matches no member is a 400 `noTarget`.
    pub(super) fn build(
        groups: &ResourceType,
        changes: &[MemberChange],
        current: Option<&[Edge]>,
    ) -> Result<Self, ScimError> {
        let mut plan = Plan::default();
        for change in changes {
            match change {
                MemberChange::Add(ids) => {
                    for i in ids {
                        plan.removes.remove(i);
                        plan.adds.push(i.clone());
                    }
                }
                MemberChange::Remove(ids) => {
                    plan.adds.retain(|a| !ids.contains(a));
                    plan.removes.extend(ids.iter().cloned());
                }
                MemberChange::RemoveAll => {
                    plan = Plan {
                        clear: true,
                        ..Plan::default()
                    }
                }
                MemberChange::Replace(ids) => {
                    plan = Plan {
                        clear: true,
                        adds: ids.clone(),
                        removes: HashSet::new(),
                    }
                }
                MemberChange::RemoveWhere(filter) => {
                    let matched = matching_members(groups, filter, current.unwrap_or_default())?;
                    if matched.is_empty() && !plan.clear {
                        return Err(ScimError::no_target(format!(
                            "members[{filter}] matched no member"
                        )));
                    }
                    plan.adds.retain(|a| !matched.contains(a));
                    plan.removes.extend(matched);
                }
            }
        }
        let mut seen = HashSet::new();
        plan.adds.retain(|a| seen.insert(a.clone()));
        Ok(plan)
    }

    /// The members once the plan is applied to `current`: id and type.
    pub(super) fn result(
        &self,
        current: &[Edge],
        found: &HashMap<String, Ref>,
    ) -> Vec<(String, Kind)> {
        let added: HashSet<&str> = self.adds.iter().map(String::as_str).collect();
        let kept = current
            .iter()
            .filter(|e| !self.clear && !self.removes.contains(&e.member_id))
            .filter(|e| !added.contains(e.member_id.as_str()))
            .map(|e| (e.member_id.clone(), e.member_type));
        let new = self
            .adds
            .iter()
            .filter_map(|a| found.get(a))
            .map(|r| (r.id.clone(), r.resource_type));
        kept.chain(new).collect()
    }
}

/// The current members a `members[<filter>]` names: evaluated over every
/// member (O(group size), as it must be).
pub(super) fn matching_members(
    groups: &ResourceType,
    filter: &Filter,
    current: &[Edge],
) -> Result<Vec<String>, ScimError> {
    let members_attr = groups
        .core_attr("members")
        .ok_or_else(ScimError::internal)?;
    Ok(current
        .iter()
        .filter(|e| {
            let v = serde_json::json!({"value": e.member_id, "type": e.member_type.name()});
            filter.matches_element(&v, members_attr)
        })
        .map(|e| e.member_id.clone())
        .collect())
}

/// Most `members[<filter>]` removals (other than by `value`) one PATCH may
/// hold: each is evaluated over every current member.
pub(super) const MAX_FILTERED_REMOVALS: usize = 10;

pub(super) fn check_filtered_removals(changes: &[MemberChange]) -> Result<(), ScimError> {
    let n = changes
        .iter()
        .filter(|c| matches!(c, MemberChange::RemoveWhere(_)))
        .count();
    if n > MAX_FILTERED_REMOVALS {
        return Err(ScimError::payload_too_large(format!(
            "the PATCH removes members by {n} filters; at most {MAX_FILTERED_REMOVALS} per request \
             (a removal by members[value eq \"<id>\"] has no such limit)"
        )));
    }
    Ok(())
}

/// The edges a plan writes: puts for the added members, deletes for the
/// removed ones (and, when clearing, for every current member not re-added).
pub(super) fn plan_edges(
    id: &str,
    plan: &Plan,
    found: &HashMap<String, Ref>,
    current: Option<&[Edge]>,
) -> (Vec<Edge>, Vec<Edge>) {
    let adds: Vec<Edge> = plan
        .adds
        .iter()
        .filter_map(|a| found.get(a))
        .map(|r| edge(id, r))
        .collect();
    let added: HashSet<&str> = plan.adds.iter().map(String::as_str).collect();
    let mut removes: Vec<Edge> = plan
        .removes
        .iter()
        .filter(|r| !added.contains(r.as_str()))
        .map(|r| Edge {
            group_id: id.to_string(),
            member_id: r.clone(),
            // Only the key matters for a delete.
            member_type: Kind::User,
        })
        .collect();
    if plan.clear {
        removes.extend(
            current
                .unwrap_or_default()
                .iter()
                .filter(|e| !added.contains(e.member_id.as_str()))
                .cloned(),
        );
    }
    (adds, removes)
}

pub(super) fn edge(group_id: &str, member: &Ref) -> Edge {
    Edge {
        group_id: group_id.to_string(),
        member_id: member.id.clone(),
        member_type: member.resource_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schemas::Schemas;
    use crate::scim::{patch, resource};
    use serde_json::json;

    fn split(ops: Vec<Operation>) -> Result<(Vec<Operation>, Vec<MemberChange>), ScimError> {
        super::split(Schemas::builtin().resource_type(Kind::Group), ops)
    }

    fn ops(v: Value) -> Vec<Operation> {
        patch::parse_operations(&json!({"Operations": v})).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn splits_member_operations_from_the_rest() {
        let (other, changes) = split(ops(json!([
            {"op": "Add", "path": "members", "value": [{"value": "u1", "$ref": null}, {"value": "u2"}]},
            {"op": "Remove", "path": "members[value eq \"u3\"]"},
            {"op": "Remove", "path": "members", "value": [{"value": "u4"}]},
            {"op": "remove", "path": "members"},
            {"op": "replace", "value": {"displayName": "New", "members": [{"value": "u5"}]}},
            {"op": "replace", "path": "externalId", "value": "e"}
        ])))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(other.len(), 2);
        assert!(matches!(&changes[0], MemberChange::Add(v) if v == &["u1", "u2"]));
        assert!(matches!(&changes[1], MemberChange::Remove(v) if v == &["u3"]));
        assert!(matches!(&changes[2], MemberChange::Remove(v) if v == &["u4"]));
        assert!(matches!(&changes[3], MemberChange::RemoveAll));
        assert!(matches!(&changes[4], MemberChange::Replace(v) if v == &["u5"]));
    }

    #[test]
    fn odd_member_paths_are_errors_not_panics() {
        for p in [
            "memberé[value eq \"x\"]",
            "members[",
            "members[]",
            "members]",
            "urn:é:members",
            "members[value eq \"x\"",
            "é",
        ] {
            for op in ["add", "remove", "replace"] {
                let r = split(ops(
                    json!([{"op": op, "path": p, "value": [{"value": "x"}]}]),
                ));
                if let Ok((other, _)) = r {
                    // Not a members path: left to the generic PATCH, which refuses it.
                    let schemas = Schemas::builtin();
                    let groups = schemas.resource_type(Kind::Group);
                    let doc = resource::normalize(&json!({"displayName": "g"}), groups)
                        .unwrap_or_else(|e| panic!("{e}"));
                    assert!(patch::apply(&doc, &other, groups).is_err(), "{op} {p}");
                }
            }
        }
    }

    #[test]
    fn knows_members_by_its_schema_urn_too() {
        let (other, changes) = split(ops(json!([
            {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members", "value": [{"value": "u1"}]},
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:MEMBERS[value eq \"u2\"]"},
            {"op": "add", "value": {"urn:ietf:params:scim:schemas:core:2.0:Group:members": [{"value": "u3"}]}}
        ])))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(other.is_empty());
        assert!(matches!(&changes[0], MemberChange::Add(v) if v == &["u1"]));
        assert!(matches!(&changes[1], MemberChange::Remove(v) if v == &["u2"]));
        assert!(matches!(&changes[2], MemberChange::Add(v) if v == &["u3"]));
    }

    #[test]
    fn refuses_member_paths_it_cannot_apply() {
        for bad in [
            json!([{"op": "add", "path": "members[value eq \"x\"]", "value": [{"value": "x"}]}]),
            json!([{"op": "remove", "path": "members[value eq \"x\"].display"}]),
            json!([{"op": "remove", "path": "members[nosuch eq \"x\"]"}]),
            json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}]),
            json!([{"op": "remove", "value": {"members": [{"value": "u1"}]}}]),
            json!([{"op": "replace", "path": "members"}]),
            json!([{"op": "add", "path": "members"}]),
        ] {
            assert!(split(ops(bad.clone())).is_err(), "{bad}");
        }
    }
}
