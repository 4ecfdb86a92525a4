//! Users: the SCIM operations, and the read-only `groups` attribute computed
//! from membership edges on every read.

use serde_json::Value;

use super::{Service, View};
use crate::scim::ScimError;
use crate::scim::patch;
use crate::scim::resource::{self, Ref};
use crate::scim::schema::{GROUP_TYPE, USER_TYPE};
use crate::store::Stored;

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
        let mut refs: Vec<Ref> = self
            .dir
            .get_many(&wanted)
            .await?
            .into_iter()
            .map(|(ty, g)| super::groups::to_ref(&ty, g))
            .collect();
        refs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(refs)
    }

    /// A user with its `groups`, when wanted.
    pub(super) async fn user_view(
        &self,
        stored: Stored,
        with_groups: bool,
    ) -> Result<View, ScimError> {
        let refs = if with_groups {
            Some(self.groups_of(&stored.meta.id).await?)
        } else {
            None
        };
        Ok(View { stored, refs })
    }

    /// The group ids a POST/PUT body sets through the user's `groups`, when
    /// that is allowed (`SCIM_USER_GROUPS_WRITABLE`; the ConnId connector
    /// writes memberships this way). `None`: leave memberships alone.
    async fn groups_written(
        &self,
        body: &Value,
        user_id: &str,
    ) -> Result<Option<Vec<String>>, ScimError> {
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
        let ids = super::groups::member_ids(Some(value), "groups")?;
        self.check_member_count(ids.len())?;
        let wanted: Vec<(&crate::scim::schema::ResourceType, &str)> =
            ids.iter().map(|g| (&*GROUP_TYPE, g.as_str())).collect();
        let found: std::collections::HashSet<String> = self
            .dir
            .get_many(&wanted)
            .await?
            .into_iter()
            .map(|(_, g)| g.meta.id)
            .collect();
        if let Some(missing) = ids
            .iter()
            .find(|g| !found.contains(*g) || g.as_str() == user_id)
        {
            return Err(ScimError::invalid_value(format!(
                "no Group with id '{missing}'"
            )));
        }
        Ok(Some(ids))
    }

    /// Makes the user's direct groups exactly `ids`.
    async fn set_groups(&self, user_id: &str, ids: &[String]) -> Result<(), ScimError> {
        let (current, _) = self.dir.edges_of_member(user_id, usize::MAX).await?;
        let edge = |g: &str| crate::store::Edge {
            group_id: g.to_string(),
            member_id: user_id.to_string(),
            member_type: "User",
        };
        let adds: Vec<_> = ids
            .iter()
            .filter(|g| !current.iter().any(|e| &e.group_id == *g))
            .map(|g| edge(g))
            .collect();
        let removes: Vec<_> = current
            .into_iter()
            .filter(|e| !ids.contains(&e.group_id))
            .collect();
        Ok(self.dir.write_edges(&adds, &removes).await?)
    }

    pub async fn create_user(&self, body: &Value, with_groups: bool) -> Result<View, ScimError> {
        let doc = resource::normalize(body, &USER_TYPE)?;
        let groups = self.groups_written(body, "").await?;
        let stored = self.create(&USER_TYPE, doc).await?;
        if let Some(ids) = &groups {
            self.set_groups(&stored.meta.id, ids).await?;
        }
        self.continue_cleanup().await;
        match groups {
            Some(_) => self.user_view(stored, with_groups).await,
            // A new user belongs to no group yet.
            None => Ok(View {
                stored,
                refs: with_groups.then(Vec::new),
            }),
        }
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
        let stored = self
            .modify(&USER_TYPE, id, if_match, |_| Ok(doc.clone()))
            .await?;
        if let Some(ids) = &groups {
            self.set_groups(id, ids).await?;
        }
        self.continue_cleanup().await;
        self.user_view(stored, with_groups).await
    }

    pub async fn patch_user(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        with_groups: bool,
    ) -> Result<View, ScimError> {
        let ops = patch::parse_operations(body)?;
        let stored = self
            .modify(&USER_TYPE, id, if_match, |old| {
                patch::apply(old, &ops, &USER_TYPE)
            })
            .await?;
        self.continue_cleanup().await;
        self.user_view(stored, with_groups).await
    }

    /// Deletes a user; its memberships go with it.
    pub async fn delete_user(&self, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
        // Leftovers of earlier deletes first: this delete's own cleanup has
        // its own budget.
        self.continue_cleanup().await;
        self.delete(&USER_TYPE, id, if_match).await
    }
}
