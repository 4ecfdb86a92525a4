//! Users: the SCIM operations over the directory.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::scim::ScimError;
use crate::scim::filter::Filter;
use crate::scim::list::Paging;
use crate::scim::patch;
use crate::scim::resource::{self, Doc, Meta};
use crate::scim::schema::{ResourceType, USER_TYPE};
use crate::store::keys;
use crate::store::{DirError, Directory, Stored};

/// How many times a write that lost a race with another write is redone
/// (when the client did not pin a version with `If-Match`).
const WRITE_RETRIES: usize = 5;

#[derive(Debug, Clone, Copy)]
pub struct ServiceLimits {
    /// Most resources examined to answer one filtered list.
    pub max_filter_scan: usize,
    pub default_page_size: usize,
    pub max_page_size: usize,
}

/// A list request, parsed.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub paging: Paging,
}

#[derive(Debug)]
pub struct ListResult {
    pub resources: Vec<Stored>,
    pub total: usize,
}

#[derive(Clone)]
pub struct Service {
    dir: Directory,
    pub limits: ServiceLimits,
}

/// The current time in RFC 3339, to the millisecond.
fn now() -> String {
    let t = OffsetDateTime::now_utc();
    t.replace_millisecond(t.millisecond())
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// `If-Match` holds when absent, `*`, or naming the current version;
/// otherwise 412.
fn check_if_match(if_match: Option<&str>, meta: &Meta) -> Result<(), ScimError> {
    let Some(header) = if_match else {
        return Ok(());
    };
    let current = meta.etag();
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    if header
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == strip(&current))
    {
        return Ok(());
    }
    Err(ScimError::precondition_failed(format!(
        "If-Match does not match the current version {current}"
    )))
}

fn check_keys(doc: &Doc) -> Result<(), ScimError> {
    for attr in ["userName", "externalId"] {
        if let Some(v) = doc.get(attr).and_then(Value::as_str) {
            keys::check_key_value(attr, v)?;
        }
    }
    Ok(())
}

impl Service {
    pub fn new(dir: Directory, limits: ServiceLimits) -> Self {
        Self { dir, limits }
    }

    pub fn directory(&self) -> &Directory {
        &self.dir
    }

    pub fn user_type(&self) -> &'static ResourceType {
        &USER_TYPE
    }

    pub async fn create_user(&self, body: &Value) -> Result<Stored, ScimError> {
        let rt = &USER_TYPE;
        let doc = resource::normalize(body, rt)?;
        check_keys(&doc)?;
        let ts = now();
        let stored = Stored {
            meta: Meta {
                id: uuid::Uuid::new_v4().to_string(),
                created: ts.clone(),
                last_modified: ts,
                version: 1,
            },
            doc,
        };
        self.dir.create(rt, &stored).await?;
        Ok(stored)
    }

    pub async fn get_user(&self, id: &str) -> Result<Stored, ScimError> {
        self.dir
            .get(&USER_TYPE, id)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("no User with id '{id}'")))
    }

    /// Reads, changes and conditionally writes a user; redoes the whole
    /// round if another write came in between (unless `If-Match` pinned the
    /// version, in which case the client is told with 412).
    async fn modify(
        &self,
        id: &str,
        if_match: Option<&str>,
        change: impl Fn(&Doc) -> Result<Doc, ScimError>,
    ) -> Result<Stored, ScimError> {
        let rt = &USER_TYPE;
        for _ in 0..WRITE_RETRIES {
            let old = self.get_user(id).await?;
            check_if_match(if_match, &old.meta)?;
            let doc = change(&old.doc)?;
            resource::check_immutable(&old.doc, &doc, rt)?;
            check_keys(&doc)?;
            let new = Stored {
                meta: Meta {
                    id: old.meta.id.clone(),
                    created: old.meta.created.clone(),
                    last_modified: now(),
                    version: old.meta.version + 1,
                },
                doc,
            };
            match self.dir.replace(rt, &old, &new).await {
                Ok(()) => return Ok(new),
                Err(DirError::VersionMismatch) if if_match.is_none() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ScimError::unavailable())
    }

    pub async fn replace_user(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Stored, ScimError> {
        let doc = resource::normalize(body, &USER_TYPE)?;
        self.modify(id, if_match, |_| Ok(doc.clone())).await
    }

    pub async fn patch_user(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Stored, ScimError> {
        let ops = patch::parse_operations(body)?;
        self.modify(id, if_match, |old| patch::apply(old, &ops, &USER_TYPE))
            .await
    }

    pub async fn delete_user(&self, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
        for _ in 0..WRITE_RETRIES {
            let old = self.get_user(id).await?;
            check_if_match(if_match, &old.meta)?;
            match self.dir.delete(&USER_TYPE, &old).await {
                Ok(()) => return Ok(()),
                Err(DirError::VersionMismatch) if if_match.is_none() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ScimError::unavailable())
    }

    /// Lists users: filters with an `eq` on `id`, `userName` or `externalId`
    /// (alone or in an `and`) are answered by key or GSI; others examine the
    /// type's partition, at most `max_filter_scan` resources, else `tooMany`.
    pub async fn list_users(&self, q: &ListQuery) -> Result<ListResult, ScimError> {
        let rt = &USER_TYPE;
        let Some(filter) = &q.filter else {
            return self.list_all(rt, q.paging).await;
        };
        let max = self.limits.max_filter_scan;
        let (candidates, truncated) = if let Some(id) = filter.eq_lookup(rt, "id", None) {
            (self.dir.get(rt, id).await?.into_iter().collect(), false)
        } else if let Some(name) = filter.eq_lookup(rt, "userName", None) {
            (
                self.dir
                    .find_by_user_name(rt, name)
                    .await?
                    .into_iter()
                    .collect(),
                false,
            )
        } else if let Some(ext) = filter.eq_lookup(rt, "externalId", None) {
            self.dir.find_by_external_id(rt, ext, max).await?
        } else {
            self.dir.scan_type(rt, max).await?
        };
        if truncated {
            return Err(ScimError::too_many(format!(
                "the filter would examine more than {max} resources; narrow it with an eq on userName, externalId or id"
            )));
        }
        let matching: Vec<Stored> = candidates
            .into_iter()
            .filter(|s| filter.matches(&resource::render(&s.doc, &s.meta, rt, ""), rt))
            .collect();
        let total = matching.len();
        let resources = matching
            .into_iter()
            .skip(q.paging.start_index - 1)
            .take(q.paging.count)
            .collect();
        Ok(ListResult { resources, total })
    }

    async fn list_all(&self, rt: &ResourceType, paging: Paging) -> Result<ListResult, ScimError> {
        let total = self.dir.count(rt).await?;
        if paging.count == 0 || paging.start_index > total {
            return Ok(ListResult {
                resources: Vec::new(),
                total,
            });
        }
        let want = (paging.start_index - 1).saturating_add(paging.count);
        let (all, _) = self.dir.scan_type(rt, want).await?;
        let resources = all.into_iter().skip(paging.start_index - 1).collect();
        Ok(ListResult { resources, total })
    }
}
