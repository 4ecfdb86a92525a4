//! The operations every resource kind has, each a match on the kind: a
//! route calls the operation, and the compiler finds every place a new kind
//! must be handled.

use serde_json::Value;

use super::{Service, View};
use crate::scim::{Kind, ScimError};

impl Service {
    /// POST: a new resource, with its references when `with_refs`.
    pub async fn create_resource(
        &self,
        kind: Kind,
        body: &Value,
        with_refs: bool,
    ) -> Result<View, ScimError> {
        match kind {
            Kind::User => self.create_user(body, with_refs).await,
            Kind::Group => self.create_group(body, with_refs).await,
        }
    }

    /// PUT: the resource replaced.
    pub async fn replace_resource(
        &self,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        with_refs: bool,
    ) -> Result<View, ScimError> {
        match kind {
            Kind::User => self.replace_user(id, body, if_match, with_refs).await,
            Kind::Group => self.replace_group(id, body, if_match, with_refs).await,
        }
    }

    /// PATCH: the resource when `want` asks for it (`Some(with_refs)`).
    pub async fn patch_resource(
        &self,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        want: Option<bool>,
    ) -> Result<Option<View>, ScimError> {
        match kind {
            Kind::User => {
                let with_refs = want.unwrap_or(false);
                let v = self.patch_user(id, body, if_match, with_refs).await?;
                Ok(want.map(|_| v))
            }
            Kind::Group => self.patch_group(id, body, if_match, want).await,
        }
    }

    /// DELETE: the resource and its memberships.
    pub async fn delete_resource(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimError> {
        match kind {
            Kind::User => self.delete_user(id, if_match).await,
            Kind::Group => self.delete_group(id, if_match).await,
        }
    }
}
