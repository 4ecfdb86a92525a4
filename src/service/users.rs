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
            .map(|e| (&GROUP_TYPE, e.group_id.as_str()))
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

    pub async fn create_user(&self, body: &Value, with_groups: bool) -> Result<View, ScimError> {
        let doc = resource::normalize(body, &USER_TYPE)?;
        let stored = self.create(&USER_TYPE, doc).await?;
        self.continue_cleanup().await;
        // A new user belongs to no group yet.
        Ok(View {
            stored,
            refs: with_groups.then(Vec::new),
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
        let stored = self
            .modify(&USER_TYPE, id, if_match, |_| Ok(doc.clone()))
            .await?;
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
