//! Groups: the SCIM operations, with members kept as edge items so that a
//! membership change of k members costs O(k) requests whatever the group's
//! size. PATCHes that change only members never rewrite the group item:
//! they bump its version in place.
//!
//! Rooms: this file (the operations, their reads and writes), `plan` (a
//! PATCH as member changes and edges to write).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::{Outside, Retry, Service, View, check_if_match, not_found, now};
use crate::scim::Kind;
use crate::scim::ScimError;
use crate::scim::patch::{self, Operation};
use crate::scim::resource::{self, Doc, Ref};
use crate::store::keys;
use crate::store::table::{Claim, Condition, Write};
use crate::store::{DirError, Edge, Stored, Written};

/// The edge writes, in the group's transaction when they fit, else in
/// batches under a claim on the group.
fn outside(writes: &[Write]) -> Outside<'_> {
    match writes.len() {
        0 => Outside::Nothing,
        n if n <= EDGES_IN_ONE_TRANSACTION => Outside::InTransaction(writes),
        _ => super::claim_from_now(),
    }
}

/// Edge writes that fit in one transaction with the group's own write.
const EDGES_IN_ONE_TRANSACTION: usize = crate::store::table::MAX_TRANSACT_ITEMS - 1;

/// Edge writes that fit in the transaction creating a group, with the
/// group and its type's count.
const EDGES_IN_ONE_CREATE: usize = EDGES_IN_ONE_TRANSACTION - 1;

mod plan;

pub(in crate::service) use plan::member_ids;
use plan::{MemberChange, Plan, check_filtered_removals, edge, plan_edges, split};

/// What a group's write does to its document.
#[derive(Clone, Copy)]
enum GroupDoc<'a> {
    /// Unchanged: the version moves in place (UpdateItem).
    Same,
    Patch(&'a [Operation]),
    Replace(&'a Doc),
}

/// The members a request resolved, as an answer lists them.
fn in_id_order(found: HashMap<String, Ref>) -> Vec<Ref> {
    let mut refs: Vec<Ref> = found.into_values().collect();
    refs.sort_by(|a, b| a.id.cmp(&b.id));
    refs
}

/// A reference to a resource read back from the table (by its stored type).
pub(super) fn to_ref(kind: Kind, s: Stored) -> Ref {
    Ref {
        display: display_of(kind, &s),
        id: s.meta.id,
        resource_type: kind,
    }
}

fn display_of(kind: Kind, s: &Stored) -> Option<String> {
    let field = |k: &str| s.doc.get(k).and_then(Value::as_str).map(str::to_string);
    match kind {
        Kind::User => field("displayName").or_else(|| field("userName")),
        Kind::Group => field("displayName"),
    }
}

impl Service {
    pub(super) fn check_member_count(&self, n: usize) -> Result<(), ScimError> {
        let max = self.limits.max_members_per_request;
        if n > max {
            return Err(ScimError::payload_too_large(format!(
                "the request names {n} members; at most {max} per request: split it into several PATCH requests"
            )));
        }
        Ok(())
    }

    /// Finds each id among users and groups: BatchGetItems. An id that is
    /// neither is a 400 `invalidValue` naming it.
    async fn resolve_members(
        &self,
        group_id: &str,
        ids: &[String],
    ) -> Result<HashMap<String, Ref>, ScimError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        if ids.iter().any(|i| i == group_id) {
            return Err(ScimError::invalid_value(format!(
                "group '{group_id}' cannot be a member of itself"
            )));
        }
        let mut wanted: Vec<(Kind, &str)> = Vec::with_capacity(ids.len() * 2);
        for id in ids {
            wanted.push((Kind::User, id));
            wanted.push((Kind::Group, id));
        }
        let found: HashMap<String, Ref> = self
            .dir
            .get_many(&wanted)
            .await?
            .into_iter()
            .map(|(ty, s)| {
                let r = to_ref(ty, s);
                (r.id.clone(), r)
            })
            .collect();
        let missing: Vec<&str> = ids
            .iter()
            .filter(|i| !found.contains_key(*i))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let shown: Vec<&str> = missing.iter().take(10).copied().collect();
            let more = missing.len().saturating_sub(shown.len());
            return Err(ScimError::invalid_value(format!(
                "no User or Group with id {}{}",
                shown
                    .iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if more > 0 {
                    format!(" (and {more} more)")
                } else {
                    String::new()
                }
            )));
        }
        Ok(found)
    }

    /// A group's members, with display names: its edges (Queries on its
    /// partition) and BatchGetItems. Over the configured cap, 400 `tooMany`.
    pub(super) async fn members_of(&self, group_id: &str) -> Result<Vec<Ref>, ScimError> {
        let cap = self.limits.max_members_returned;
        let (edges, more) = self.dir.edges_of_group(group_id, cap).await?;
        if more {
            return Err(ScimError::too_many(format!(
                "the group has more than {cap} members, too many to return at once; \
                 request it with excludedAttributes=members, and find a member's groups \
                 with filter=members.value eq \"<id>\""
            )));
        }
        let wanted: Vec<(Kind, &str)> = edges
            .iter()
            .map(|e| (e.member_type, e.member_id.as_str()))
            .collect();
        self.refs(&wanted).await
    }

    fn split_members(doc: &mut Doc) -> Result<Vec<String>, ScimError> {
        let value = doc.remove("members");
        member_ids(value.as_ref(), "members")
    }

    pub async fn create_group(&self, body: &Value, with_members: bool) -> Result<View, ScimError> {
        let rt = self.resource_type(Kind::Group);
        let mut doc = resource::normalize(body, rt)?;
        let ids = Self::split_members(&mut doc)?;
        self.check_member_count(ids.len())?;
        let found = self.resolve_members("", &ids).await?;
        let stored = Self::prepare(rt, doc)?;
        let edges: Vec<Edge> = found.values().map(|r| edge(&stored.meta.id, r)).collect();
        let writes = self.dir.edge_writes(&edges, &[]);
        if writes.len() <= EDGES_IN_ONE_CREATE {
            self.dir.create(Kind::Group, &stored, &writes).await?;
        } else {
            self.create_large_group(&stored, &edges).await?;
        }
        self.continue_cleanup().await;
        let refs = with_members.then(|| in_id_order(found));
        Ok(View { stored, refs })
    }

    /// A group with more members than one transaction holds: edges first,
    /// in batches. They are invisible until the group exists, so a failure
    /// half-way leaves no group with half its members.
    async fn create_large_group(&self, stored: &Stored, edges: &[Edge]) -> Result<(), ScimError> {
        self.dir.write_edges(edges, &[]).await?;
        if let Err(e) = self.dir.create(Kind::Group, stored, &[]).await {
            if let Err(undo) = self.dir.write_edges(&[], edges).await {
                tracing::warn!(error = ?undo, "taking back edges of a group not created failed");
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// PUT: the document and the whole member set are replaced. Each round
    /// reads the group, then its edges, and writes under the version it
    /// read: a membership write that came in between makes the round be
    /// redone over the edges as they are then.
    pub async fn replace_group(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        with_members: bool,
    ) -> Result<View, ScimError> {
        let rt = self.resource_type(Kind::Group);
        let mut doc = resource::normalize(body, rt)?;
        let ids = Self::split_members(&mut doc)?;
        self.check_member_count(ids.len())?;
        let found = self.resolve_members(id, &ids).await?;
        let plan = Plan {
            clear: true,
            adds: ids,
            removes: HashSet::new(),
        };
        let mut retry = Retry::new();
        let stored = loop {
            let group = self.get(rt, id).await?;
            check_if_match(if_match, &group.meta)?;
            let current = self.dir.edges_of_group(id, usize::MAX).await?.0;
            let (adds, removes) = plan_edges(id, &plan, &found, Some(&current));
            let change = GroupDoc::Replace(&doc);
            if let Some(s) = self
                .write_group(group, change, &adds, &removes, if_match)
                .await?
            {
                break s;
            }
            if !retry.again(rt, id).await {
                return Err(ScimError::unavailable());
            }
        };
        self.continue_cleanup().await;
        // The members just written (no read after the write, which could
        // fail and answer 503 for a change that was made).
        let refs = with_members.then(|| in_id_order(found));
        Ok(View { stored, refs })
    }

    /// Writes a group read at `old`'s version, with its edge changes:
    /// the group, or `None` when another write came in between (and no
    /// `If-Match` pinned the version). Up to 99 edge changes go in the
    /// group's own transaction: all or nothing. More go in batches between
    /// the group's write, which takes a claim on it, and the claim's
    /// release: no other write of the group comes in between, so the result
    /// is the same as the transaction's.
    async fn write_group(
        &self,
        old: Stored,
        change: GroupDoc<'_>,
        adds: &[Edge],
        removes: &[Edge],
        if_match: Option<&str>,
    ) -> Result<Option<Stored>, ScimError> {
        let rt = self.resource_type(Kind::Group);
        let writes = self.dir.edge_writes(adds, removes);
        let with = outside(&writes);
        let written = match change {
            GroupDoc::Same => self.touch_group(old, with, if_match).await?,
            GroupDoc::Patch(ops) => {
                let apply = |d: &Doc| patch::apply(d, ops, rt);
                self.modify_round(rt, old, if_match, with, Written::Patched, &apply)
                    .await?
            }
            GroupDoc::Replace(doc) => {
                let replace = |_: &Doc| Ok(doc.clone());
                self.modify_round(rt, old, if_match, with, Written::Replaced, &replace)
                    .await?
            }
        };
        match (written, with) {
            (Some(claimed), Outside::Claiming(_)) => {
                let batches = async { Ok(self.dir.write_edges(adds, removes).await?) };
                Ok(Some(
                    self.finish_claimed(Kind::Group, claimed, batches).await?,
                ))
            }
            (written, _) => Ok(written),
        }
    }

    /// Moves a group's version in place, under the version it was read at
    /// (taking a claim on it when its edges are written in batches).
    async fn touch_group(
        &self,
        old: Stored,
        with: Outside<'_>,
        if_match: Option<&str>,
    ) -> Result<Option<Stored>, ScimError> {
        check_if_match(if_match, &old.meta)?;
        let at = now();
        let condition = Condition::VersionIs(i64::try_from(old.meta.version).unwrap_or(i64::MAX));
        let id = &old.meta.id;
        let claim = match with.claim_until() {
            Some(until) => Claim::Take(until),
            None => Claim::Keep,
        };
        let touched = self
            .dir
            .touch_claiming(
                Kind::Group,
                id,
                &at,
                condition,
                claim,
                with.in_transaction(),
            )
            .await;
        match touched {
            Ok(()) => Ok(Some(super::touched(old, at))),
            Err(DirError::VersionMismatch) if if_match.is_none() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// PATCH. Returns the group when `want` asks for it (`Some(with_members)`).
    /// Adding and removing named members without If-Match does not read the
    /// group: BatchGetItem (the added members) and one TransactWriteItems,
    /// for up to 99 of them; more take a claim on the group, with one
    /// GetItem and two UpdateItems around their BatchWriteItems: O(members
    /// named), never O(group size). Anything else reads the group and
    /// writes under the version it read, redoing the round if another write
    /// came in between.
    pub async fn patch_group(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        want: Option<bool>,
    ) -> Result<Option<View>, ScimError> {
        let rt = self.resource_type(Kind::Group);
        let (other, changes) = split(rt, self.patch_operations(body)?)?;
        self.check_member_count(changes.iter().map(MemberChange::named).sum())?;
        check_filtered_removals(&changes)?;
        if keys::check_key_value("id", id).is_err() {
            return Err(not_found(rt, "(too long)"));
        }
        // Small sets of named members need no read of the group: their
        // edges go in one transaction with the group's version.
        let named: usize = changes.iter().map(MemberChange::named).sum();
        let blind = other.is_empty()
            && if_match.is_none()
            && named <= EDGES_IN_ONE_TRANSACTION
            && !changes.iter().any(MemberChange::needs_current);
        let view = if blind {
            self.patch_members_blind(id, &changes, want).await?
        } else {
            self.patch_group_read(id, &other, &changes, if_match, want)
                .await?
        };
        self.continue_cleanup().await;
        Ok(view)
    }

    /// Named members added and removed without reading the group, at most
    /// 99: their edges and the group's version in one transaction,
    /// conditional on the group existing (and holding no claim: a write in
    /// batches in progress is waited out).
    async fn patch_members_blind(
        &self,
        id: &str,
        changes: &[MemberChange],
        want: Option<bool>,
    ) -> Result<Option<View>, ScimError> {
        let rt = self.resource_type(Kind::Group);
        let plan = Plan::build(rt, changes, None)?;
        let found = match self.resolve_members(id, &plan.adds).await {
            Ok(found) => found,
            Err(e) => return Err(self.unless_missing(id, e).await),
        };
        let (adds, removes) = plan_edges(id, &plan, &found, None);
        let writes = self.dir.edge_writes(&adds, &removes);
        let mut retry = Retry::new();
        loop {
            let touched = self
                .dir
                .touch(Kind::Group, id, &now(), Condition::Exists, &writes)
                .await;
            match touched {
                Ok(()) => break,
                Err(DirError::VersionMismatch) => {
                    // Gone, or claimed by a write in batches.
                    if self.dir.get(Kind::Group, id).await?.is_none() {
                        return Err(not_found(rt, id));
                    }
                    if !retry.again(rt, id).await {
                        return Err(ScimError::unavailable());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        match want {
            None => Ok(None),
            Some(with_members) => Ok(Some(self.settled_view(id, with_members).await?)),
        }
    }

    /// A PATCH that reads the group first (If-Match, other attributes, or a
    /// change of the whole member set), round after round until its write
    /// lands on the version it read. When the answer lists members, the
    /// round reads the edges too, so the answer is the state written.
    async fn patch_group_read(
        &self,
        id: &str,
        other: &[Operation],
        changes: &[MemberChange],
        if_match: Option<&str>,
        want: Option<bool>,
    ) -> Result<Option<View>, ScimError> {
        let rt = self.resource_type(Kind::Group);
        let reads_edges = changes.iter().any(MemberChange::needs_current) || want == Some(true);
        let change = match other {
            [] => GroupDoc::Same,
            ops => GroupDoc::Patch(ops),
        };
        let mut found = HashMap::new();
        let mut retry = Retry::new();
        loop {
            let group = self.get(rt, id).await?;
            check_if_match(if_match, &group.meta)?;
            let current = match reads_edges {
                true => Some(self.dir.edges_of_group(id, usize::MAX).await?.0),
                false => None,
            };
            let plan = Plan::build(rt, changes, current.as_deref())?;
            let unresolved: Vec<String> = plan
                .adds
                .iter()
                .filter(|a| !found.contains_key(*a))
                .cloned()
                .collect();
            found.extend(self.resolve_members(id, &unresolved).await?);
            let (adds, removes) = plan_edges(id, &plan, &found, current.as_deref());
            if let Some(stored) = self
                .write_group(group, change, &adds, &removes, if_match)
                .await?
            {
                let refs = match (want, current) {
                    (Some(true), Some(current)) => {
                        let members = plan.result(&current, &found);
                        Some(self.refs_of(&members).await?)
                    }
                    _ => None,
                };
                return Ok(want.map(|_| View { stored, refs }));
            }
            if !retry.again(rt, id).await {
                return Err(ScimError::unavailable());
            }
        }
    }

    /// References, with display names, to these members (id and type).
    async fn refs_of(&self, members: &[(String, Kind)]) -> Result<Vec<Ref>, ScimError> {
        let wanted: Vec<(Kind, &str)> = members.iter().map(|(id, ty)| (*ty, id.as_str())).collect();
        self.refs(&wanted).await
    }

    /// The group and its members as one stored state: read again while the
    /// group's version moved between reading it and reading its edges.
    async fn settled_view(&self, id: &str, with_members: bool) -> Result<View, ScimError> {
        let rt = self.resource_type(Kind::Group);
        let mut stored = self.get(rt, id).await?;
        if !with_members {
            return Ok(View { stored, refs: None });
        }
        let mut retry = Retry::new();
        loop {
            let refs = self.members_of(id).await?;
            let again = self.get(rt, id).await?;
            if again.meta.version == stored.meta.version || !retry.again(rt, id).await {
                // (Past the retries, the members as last read, with the
                // version read just before them: the change is made, and
                // the answer must not be a 503.)
                return Ok(View {
                    stored,
                    refs: Some(refs),
                });
            }
            stored = again;
        }
    }

    /// A PATCH that did not read its group found a fault in the request:
    /// if the group does not exist, that is the answer (404), as it is when
    /// the group was read first.
    async fn unless_missing(&self, id: &str, e: ScimError) -> ScimError {
        let rt = self.resource_type(Kind::Group);
        if e.status >= 500 {
            return e;
        }
        match self.get(rt, id).await {
            Err(missing) if missing.status == 404 => missing,
            _ => e,
        }
    }

    /// Deletes a group; its member edges, and its own memberships, go with it.
    pub async fn delete_group(&self, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
        let rt = self.resource_type(Kind::Group);
        // Leftovers of earlier deletes first: this delete's own cleanup has
        // its own budget.
        self.continue_cleanup().await;
        self.delete(rt, id, if_match).await
    }
}
