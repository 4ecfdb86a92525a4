//! Users: the SCIM operations, and the read-only `groups` attribute computed
//! from membership edges on every read.

use serde_json::Value;

use super::{Outside, Service, View};
use crate::scim::ScimError;
use crate::scim::patch;
use crate::scim::resource::{self, Ref};
use crate::scim::schema::{GROUP_TYPE, USER_TYPE};

impl Service {
    /// A user's direct groups: 1 Query on the inverted edges, then
    /// BatchGetItems for the groups' names. Groups already deleted (edges not
    /// yet cleaned up) are left out.
    pub(super) async fn groups_of(&self, member_id: &str) -> Result<Vec<Ref>, ScimError> {
        let (edges, _) = self.dir.edges_of_member(member_id, usize::MAX).await?;
        if edges.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<(&crate::scim::schema::ResourceType, &str)> = edges
            .iter()
            .map(|e| (&*GROUP_TYPE, e.group_id.as_str()))
            .collect();
        self.refs(&wanted).await
    }

    /// The group ids a POST/PUT body sets through the user's `groups`, when
    /// that is allowed (`SCIM_USER_GROUPS_WRITABLE`; the ConnId connector
    /// writes memberships this way). `None`: leave memberships alone.
    async fn groups_written(
        &self,
        body: &Value,
        user_id: &str,
    ) -> Result<Option<Vec<Ref>>, ScimError> {
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
        let wanted: Vec<(&crate::scim::schema::ResourceType, &str)> =
            ids.iter().map(|g| (&*GROUP_TYPE, g.as_str())).collect();
        let found = self.refs(&wanted).await?;
        if let Some(missing) = ids
            .iter()
            .find(|g| !found.iter().any(|r| &r.id == *g) || g.as_str() == user_id)
        {
            return Err(ScimError::invalid_value(format!(
                "no Group with id '{missing}'"
            )));
        }
        Ok(Some(found))
    }

    /// Makes the user's direct groups exactly `groups`. Every wanted edge is
    /// written (puts are idempotent, so a lagging index cannot make one be
    /// skipped); edges to other groups, as the inverted index shows them,
    /// are removed; the groups whose members changed get a new version.
    async fn set_groups(&self, user_id: &str, groups: &[Ref]) -> Result<(), ScimError> {
        let (current, _) = self.dir.edges_of_member(user_id, usize::MAX).await?;
        let edge = |g: &str| crate::store::Edge {
            group_id: g.to_string(),
            member_id: user_id.to_string(),
            member_type: "User",
        };
        let adds: Vec<_> = groups.iter().map(|g| edge(&g.id)).collect();
        let removes: Vec<_> = current
            .iter()
            .filter(|e| !groups.iter().any(|g| g.id == e.group_id))
            .cloned()
            .collect();
        self.dir.write_edges(&adds, &removes).await?;
        let changed = groups
            .iter()
            .map(|g| g.id.as_str())
            .filter(|g| !current.iter().any(|e| e.group_id == *g))
            .chain(removes.iter().map(|e| e.group_id.as_str()));
        let at = super::now();
        for group in changed {
            match self
                .dir
                .touch(
                    &GROUP_TYPE,
                    group,
                    &at,
                    crate::store::table::Condition::Exists,
                    &[],
                )
                .await
            {
                // A group deleted meanwhile: nothing to version.
                Ok(()) | Err(crate::store::DirError::VersionMismatch) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub async fn create_user(&self, body: &Value, with_groups: bool) -> Result<View, ScimError> {
        let doc = resource::normalize(body, &USER_TYPE)?;
        let groups = self.groups_written(body, "").await?;
        let stored = self.create(&USER_TYPE, doc).await?;
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
        let doc = resource::normalize(body, &USER_TYPE)?;
        let groups = self.groups_written(body, id).await?;
        let shown = match &groups {
            // The groups just written, not a re-read of a lagging index.
            Some(written) => with_groups.then(|| written.clone()),
            None => self.groups_shown(id, with_groups).await?,
        };
        let stored = self
            .modify(&USER_TYPE, id, if_match, None, Outside::Nothing, |_| {
                Ok(doc.clone())
            })
            .await?;
        if let Some(groups) = &groups {
            self.set_groups(id, groups).await?;
        }
        self.continue_cleanup().await;
        Ok(View {
            stored,
            refs: shown,
        })
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
        let ops = patch::parse_operations(body)?;
        let shown = self.groups_shown(id, with_groups).await?;
        let stored = self
            .modify(&USER_TYPE, id, if_match, None, Outside::Nothing, |old| {
                patch::apply(old, &ops, &USER_TYPE)
            })
            .await?;
        self.continue_cleanup().await;
        Ok(View {
            stored,
            refs: shown,
        })
    }

    /// Deletes a user; its memberships go with it.
    pub async fn delete_user(&self, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
        // Leftovers of earlier deletes first: this delete's own cleanup has
        // its own budget.
        self.continue_cleanup().await;
        self.delete(&USER_TYPE, id, if_match).await
    }
}
