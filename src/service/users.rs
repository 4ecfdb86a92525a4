//! Users: the SCIM operations, and the read-only `groups` attribute computed
//! from membership edges on every read.

use serde_json::Value;

use super::{MAX_EMAILS, Outside, Retry, Service, View, check_if_match};
use crate::scim::Kind;
use crate::scim::ScimError;
use crate::scim::patch;
use crate::scim::resource::{self, Doc, Ref};
use crate::store::table::{Condition, MAX_TRANSACT_ITEMS, Write};
use crate::store::{DirError, Edge, Written};

/// Membership writes that fit in one transaction with a user's own write,
/// which may take the user, two `userName` guards (a rename) and two writes
/// an email.
const GROUP_WRITES_IN_ONE_TRANSACTION: usize = MAX_TRANSACT_ITEMS - 3 - 2 * MAX_EMAILS;

/// The writes that set a user's direct groups.
struct GroupWrites {
    adds: Vec<Edge>,
    removes: Vec<Edge>,
    /// Groups whose members change: their versions move.
    changed: Vec<String>,
    at: String,
    /// All of it as writes for one transaction.
    writes: Vec<Write>,
}

impl Service {
    /// A user's direct groups: 1 Query on the inverted edges, then
    /// BatchGetItems for the groups' names. Groups already deleted (edges not
    /// yet cleaned up) are left out.
    pub(super) async fn groups_of(&self, member_id: &str) -> Result<Vec<Ref>, ScimError> {
        let (edges, _) = self.dir.edges_of_member(member_id, usize::MAX).await?;
        if edges.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<(Kind, &str)> = edges
            .iter()
            .map(|e| (Kind::Group, e.group_id.as_str()))
            .collect();
        self.refs(&wanted).await
    }

    /// The group ids a POST/PUT body sets through the user's `groups`, when
    /// that is allowed (`SCIM_USER_GROUPS_WRITABLE`; the ConnId connector
    /// writes memberships this way). `None`: leave memberships alone.
    fn group_ids_written(&self, body: &Value) -> Result<Option<Vec<String>>, ScimError> {
        if !self.limits.user_groups_writable {
            return Ok(None);
        }
        let Some(value) = body
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("groups")))
            .map(|(_, v)| v)
        else {
            return Ok(None);
        };
        let mut ids = super::groups::member_ids(Some(value), "groups")?;
        ids.sort();
        ids.dedup();
        self.check_member_count(ids.len())?;
        Ok(Some(ids))
    }

    /// The groups with these ids (BatchGetItems); one that does not exist
    /// (or is the user itself) is a 400 `invalidValue` naming it.
    async fn existing_groups(&self, ids: &[String], user_id: &str) -> Result<Vec<Ref>, ScimError> {
        let wanted: Vec<(Kind, &str)> = ids.iter().map(|g| (Kind::Group, g.as_str())).collect();
        let found = self.refs(&wanted).await?;
        if let Some(missing) = ids
            .iter()
            .find(|g| !found.iter().any(|r| &r.id == *g) || g.as_str() == user_id)
        {
            return Err(ScimError::invalid_value(format!(
                "no Group with id '{missing}'"
            )));
        }
        Ok(found)
    }

    /// What makes the user's direct groups exactly `groups`, from its
    /// `current` edges: every wanted edge is put (puts are idempotent, so a
    /// lagging index cannot make one be skipped), edges to other groups are
    /// removed, and the groups whose members change get a new version.
    fn group_writes(&self, user_id: &str, current: &[Edge], groups: &[Ref]) -> GroupWrites {
        let edge = |g: &str| Edge {
            group_id: g.to_string(),
            member_id: user_id.to_string(),
            member_type: Kind::User,
        };
        let adds: Vec<Edge> = groups.iter().map(|g| edge(&g.id)).collect();
        let removes: Vec<Edge> = current
            .iter()
            .filter(|e| !groups.iter().any(|g| g.id == e.group_id))
            .cloned()
            .collect();
        let changed: Vec<String> = groups
            .iter()
            .map(|g| g.id.clone())
            .filter(|g| !current.iter().any(|e| &e.group_id == g))
            .chain(removes.iter().map(|e| e.group_id.clone()))
            .collect();
        let at = super::now();
        let mut writes = self.dir.edge_writes(&adds, &removes);
        writes.extend(
            changed
                .iter()
                .map(|g| self.dir.touch_write(Kind::Group, g, &at, Condition::Exists)),
        );
        GroupWrites {
            adds,
            removes,
            changed,
            at,
            writes,
        }
    }

    /// Makes a new user's direct groups exactly `groups`: edges in batches,
    /// then each changed group's version moved.
    async fn set_groups(&self, user_id: &str, groups: &[Ref]) -> Result<(), ScimError> {
        let (current, _) = self.dir.edges_of_member(user_id, usize::MAX).await?;
        let w = self.group_writes(user_id, &current, groups);
        self.write_group_writes_apart(&w).await
    }

    /// The edges in batches, then each changed group's version, one
    /// UpdateItem a group.
    async fn write_group_writes_apart(&self, w: &GroupWrites) -> Result<(), ScimError> {
        self.dir.write_edges(&w.adds, &w.removes).await?;
        for group in &w.changed {
            match self
                .dir
                .touch(Kind::Group, group, &w.at, Condition::Exists, &[])
                .await
            {
                // A group deleted meanwhile: nothing to version.
                Ok(()) | Err(DirError::VersionMismatch) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub async fn create_user(&self, body: &Value, with_groups: bool) -> Result<View, ScimError> {
        let rt = self.resource_type(Kind::User);
        let doc = resource::normalize(body, rt)?;
        let groups = match self.group_ids_written(body)? {
            Some(ids) => Some(self.existing_groups(&ids, "").await?),
            None => None,
        };
        let stored = self.create(rt, doc).await?;
        if let Some(groups) = &groups {
            self.set_groups(&stored.meta.id, groups).await?;
        }
        self.continue_cleanup().await;
        // A new user belongs to no group but those just written.
        Ok(View {
            stored,
            refs: with_groups.then(|| groups.unwrap_or_default()),
        })
    }

    pub async fn replace_user(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        with_groups: bool,
    ) -> Result<View, ScimError> {
        let rt = self.resource_type(Kind::User);
        let doc = resource::normalize(body, rt)?;
        if let Some(group_ids) = self.group_ids_written(body)? {
            return self
                .replace_user_and_groups(id, &doc, &group_ids, if_match, with_groups)
                .await;
        }
        let shown = self.groups_shown(id, with_groups).await?;
        let stored = self
            .modify(
                rt,
                id,
                if_match,
                None,
                Outside::Nothing,
                (Written::Replaced, |_: &Doc| Ok(doc.clone())),
            )
            .await?;
        self.continue_cleanup().await;
        Ok(View {
            stored,
            refs: shown,
        })
    }

    /// A PUT that also sets the user's groups. Each round reads the user,
    /// then its edges, and writes under the version it read, so that two
    /// such PUTs of one user end as one of them: with the user's write in
    /// one transaction when it fits, else with the user's write taking a
    /// claim on it, the edges and groups' versions in batches, and the
    /// claim's release (no other write of the user comes in between).
    async fn replace_user_and_groups(
        &self,
        id: &str,
        doc: &Doc,
        group_ids: &[String],
        if_match: Option<&str>,
        with_groups: bool,
    ) -> Result<View, ScimError> {
        let rt = self.resource_type(Kind::User);
        let replace = |_: &Doc| Ok(doc.clone());
        let mut retry = Retry::new();
        loop {
            let old = self.get(rt, id).await?;
            check_if_match(if_match, &old.meta)?;
            // Again each round: a group deleted meanwhile is no longer there.
            let groups = self.existing_groups(group_ids, id).await?;
            let (current, _) = self.dir.edges_of_member(id, usize::MAX).await?;
            let w = self.group_writes(id, &current, &groups);
            let with = if w.writes.len() <= GROUP_WRITES_IN_ONE_TRANSACTION {
                Outside::InTransaction(&w.writes)
            } else {
                super::claim_from_now()
            };
            let written = self
                .modify_round(rt, old, if_match, with, Written::Replaced, &replace)
                .await?;
            let stored = match (written, with) {
                (None, _) => {
                    if !retry.again(rt, id).await {
                        return Err(ScimError::unavailable());
                    }
                    continue;
                }
                (Some(claimed), Outside::Claiming(_)) => {
                    let batches = self.write_group_writes_apart(&w);
                    self.finish_claimed(Kind::User, claimed, batches).await?
                }
                (Some(stored), _) => stored,
            };
            self.continue_cleanup().await;
            // The groups just written, not a re-read of a lagging index.
            return Ok(View {
                stored,
                refs: with_groups.then_some(groups),
            });
        }
    }

    /// The user's groups, when the answer shows them, read before the user
    /// is written: a read that fails after the write would answer 503 for a
    /// change that was made. (A user's writes do not change its groups.)
    async fn groups_shown(
        &self,
        id: &str,
        with_groups: bool,
    ) -> Result<Option<Vec<Ref>>, ScimError> {
        // An id no key can hold is no user: the write answers 404.
        let valid = crate::store::keys::check_key_value("id", id).is_ok();
        Ok(match with_groups {
            true if valid => Some(self.groups_of(id).await?),
            true => Some(Vec::new()),
            false => None,
        })
    }

    pub async fn patch_user(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        with_groups: bool,
    ) -> Result<View, ScimError> {
        let rt = self.resource_type(Kind::User);
        let ops = self.patch_operations(body)?;
        let shown = self.groups_shown(id, with_groups).await?;
        let stored = self
            .modify(
                rt,
                id,
                if_match,
                None,
                Outside::Nothing,
                (Written::Patched, |old: &Doc| patch::apply(old, &ops, rt)),
            )
            .await?;
        self.continue_cleanup().await;
        Ok(View {
            stored,
            refs: shown,
        })
    }

    /// Deletes a user; its memberships go with it.
    pub async fn delete_user(&self, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
        let rt = self.resource_type(Kind::User);
        // Leftovers of earlier deletes first: this delete's own cleanup has
        // its own budget.
        self.continue_cleanup().await;
        self.delete(rt, id, if_match).await
    }
}
