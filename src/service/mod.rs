//! Use cases: create, read, list, replace, patch and delete users and groups,
//! membership, uniqueness and versions, and the cleanup of deleted
//! resources' edges. Storage errors become SCIM errors here, in one place.

mod bulk;
mod groups;
mod list;
mod resources;
mod retry;
mod transfer;
mod users;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use list::{INDEXED, ListPage, ListQuery, ListResult, Position};
pub(crate) use retry::Retry;
pub use transfer::{Exported, Imported, MEMBERS_A_LINE};

use crate::scim::projection::Projection;
use crate::scim::resource::{Doc, Meta, Ref, render};
use crate::scim::schemas::{ResourceType, Schemas};
use crate::scim::{Kind, ScimError, patch};
use crate::store::table::{Claim, Condition, Write};
use crate::store::{DirError, Directory, StoreError, Stored, Written, keys};
use crate::tenant::Tenant;

pub use crate::config::ServiceLimits;

/// A resource with its computed references (a user's groups, a group's
/// members) when they were asked for.
#[derive(Debug, Clone)]
pub struct View {
    pub stored: Stored,
    pub refs: Option<Vec<Ref>>,
}

impl View {
    /// The resource as the SCIM API returns it, projected.
    pub fn render(&self, rt: &ResourceType, base: &str, p: &Projection<'_>) -> Value {
        let mut out = render(
            &self.stored.doc,
            &self.stored.meta,
            rt,
            base,
            self.refs.as_deref(),
        );
        p.apply(&mut out, rt);
        out
    }
}

/// Whether a response will show the type's references (so the service
/// computes them only then).
pub fn wants_refs(rt: &ResourceType, p: &Projection<'_>) -> bool {
    p.wants(rt.kind.refs_attribute())
}

#[derive(Clone)]
pub struct Service {
    dir: Directory,
    pub limits: ServiceLimits,
    /// The resource types and schemas this directory serves.
    schemas: Arc<Schemas>,
    /// The cleanup state of this service's tenant.
    cleanup: Arc<CleanupState>,
    /// Every tenant's cleanup state in this process (tenants that have
    /// passed authentication only, so the map stays as small as the
    /// deployment's list of tenants).
    tenants: Arc<std::sync::Mutex<HashMap<Tenant, Arc<CleanupState>>>>,
}

/// Whether deleted resources' edges may still be waiting for removal, and
/// when that was last checked, shared by the requests of one process.
#[derive(Default)]
struct CleanupState {
    pending: AtomicBool,
    last_check_ms: AtomicU64,
    checked_once: AtomicBool,
    started: std::sync::OnceLock<Instant>,
}

/// How often a process looks for cleanup work left by others.
const CLEANUP_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// How long a write request spends on leftover cleanup work.
const CLEANUP_PIGGYBACK_BUDGET: Duration = Duration::from_millis(500);

/// The current time in RFC 3339, to the millisecond.
pub(crate) fn now() -> String {
    let t = OffsetDateTime::now_utc();
    t.replace_millisecond(t.millisecond())
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// `If-Match` holds when absent, `*`, or naming the current version;
/// otherwise 412.
/// What else a resource's write changes (a group's member edges).
#[derive(Clone, Copy)]
pub(crate) enum Outside<'a> {
    Nothing,
    /// Writes that go in the resource's own transaction.
    InTransaction(&'a [Write]),
    /// Writes made in batches outside its transaction, while the resource
    /// holds a claim until this time (milliseconds since the Unix epoch):
    /// the resource is written (its version moves) even if its document
    /// does not change, and no other write of it comes in until the claim
    /// is released.
    Claiming(i64),
}

impl<'a> Outside<'a> {
    fn in_transaction(self) -> &'a [Write] {
        match self {
            Self::InTransaction(w) => w,
            _ => &[],
        }
    }

    fn claim_until(self) -> Option<i64> {
        match self {
            Self::Claiming(until) => Some(until),
            _ => None,
        }
    }
}

/// A resource as a write in place (an UpdateItem) left it: its version
/// moved by one, `lastModified` set.
pub(crate) fn touched(s: Stored, at: String) -> Stored {
    Stored {
        meta: Meta {
            last_modified: at,
            version: s.meta.version + 1,
            ..s.meta
        },
        doc: s.doc,
    }
}

/// How long a claim holds before it lapses: past the request timeout
/// (25 s by default, when the request is stopped), so a claim outlives
/// only a writer that died.
const CLAIM_MILLIS: i64 = 30_000;

/// A claim from now, for a change that writes in batches.
pub(crate) fn claim_from_now() -> Outside<'static> {
    Outside::Claiming(crate::store::table::unix_ms().saturating_add(CLAIM_MILLIS))
}

/// Whether an `If-Match` / `If-None-Match` list names this entity tag (or
/// is `*`), compared weakly.
pub fn etag_listed(header: &str, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    header
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == strip(etag))
}

pub fn check_if_match(if_match: Option<&str>, meta: &Meta) -> Result<(), ScimError> {
    let Some(header) = if_match else {
        return Ok(());
    };
    let current = meta.etag();
    if etag_listed(header, &current) {
        return Ok(());
    }
    Err(ScimError::precondition_failed(format!(
        "If-Match does not match the current version {current}"
    )))
}

/// Most distinct emails a user may have: each is a lookup item written in
/// the user's transactions, which hold at most 100 items.
pub const MAX_EMAILS: usize = 40;

/// Values that become part of a key must fit in one.
fn check_keys(rt: &ResourceType, doc: &Doc) -> Result<(), ScimError> {
    let emails: Vec<&str> = doc
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("value").and_then(Value::as_str))
        .collect();
    if emails.len() > MAX_EMAILS {
        return Err(ScimError::invalid_value(format!(
            "at most {MAX_EMAILS} emails per user"
        )));
    }
    for e in emails {
        keys::check_key_value("emails.value", e)?;
    }
    let keyed: &[&str] = match rt.kind {
        Kind::Group => &["externalId", "displayName"],
        Kind::User => &["userName", "externalId"],
    };
    for attr in keyed {
        if let Some(v) = doc.get(*attr).and_then(Value::as_str) {
            keys::check_key_value(attr, v)?;
        }
    }
    Ok(())
}

fn not_found(rt: &ResourceType, id: &str) -> ScimError {
    ScimError::not_found(format!("no {} with id '{id}'", rt.name()))
}

impl Service {
    pub fn new(dir: Directory, limits: ServiceLimits, schemas: Arc<Schemas>) -> Self {
        let cleanup: Arc<CleanupState> = Arc::default();
        let tenants = HashMap::from([(dir.tenant().clone(), Arc::clone(&cleanup))]);
        Self {
            dir,
            limits,
            schemas,
            cleanup,
            tenants: Arc::new(std::sync::Mutex::new(tenants)),
        }
    }

    /// The resource types and schemas this service validates against.
    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }

    /// The same, shared (for what renders resources outside a request).
    pub fn schemas_arc(&self) -> Arc<Schemas> {
        Arc::clone(&self.schemas)
    }

    /// The resource type of a kind.
    pub fn resource_type(&self, kind: Kind) -> &ResourceType {
        self.schemas.resource_type(kind)
    }

    /// Whose directory this service serves.
    pub fn tenant(&self) -> &Tenant {
        self.dir.tenant()
    }

    /// The store's change log, where its driver keeps one (the embedded
    /// store; DynamoDB's changes are in the table's stream).
    pub fn change_log(&self) -> Option<Arc<dyn crate::store::changes::ChangeLog>> {
        self.dir.table().change_log()
    }

    /// The same service over another tenant's directory (the table, limits
    /// and per-process state are shared).
    pub fn for_tenant(&self, tenant: &Tenant) -> Self {
        let cleanup = match self.tenants.lock() {
            Ok(mut m) => Arc::clone(m.entry(tenant.clone()).or_default()),
            // A panic elsewhere poisoned the map: a fresh state costs at
            // most one extra leftover check.
            Err(_) => Arc::default(),
        };
        Self {
            dir: self.dir.for_tenant(tenant),
            limits: self.limits,
            schemas: Arc::clone(&self.schemas),
            cleanup,
            tenants: Arc::clone(&self.tenants),
        }
    }

    /// Releases the claim a resource took at `claimed`'s version (1
    /// UpdateItem): the resource as it then is. A claim that lapsed and was
    /// taken over is a 503 (the change was made, over a later one; a retry
    /// makes it again).
    async fn release_claim(&self, kind: Kind, claimed: Stored) -> Result<Stored, ScimError> {
        let at = now();
        let version = i64::try_from(claimed.meta.version).unwrap_or(i64::MAX);
        let condition = Condition::Claimed(version);
        let id = &claimed.meta.id;
        match self
            .dir
            .touch_claiming(kind, id, &at, condition, Claim::Release, &[])
            .await
        {
            Ok(()) => Ok(touched(claimed, at)),
            Err(DirError::VersionMismatch) => {
                tracing::warn!(resource_type = kind.name(), id = %id, "a claim lapsed before its writer finished");
                Err(ScimError::unavailable())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Writes in batches under a claim `claimed` holds, then releases it;
    /// if the batches fail, the claim is released all the same (what was
    /// written stays; a retry of the request finishes it).
    async fn finish_claimed(
        &self,
        kind: Kind,
        claimed: Stored,
        batches: impl std::future::Future<Output = Result<(), ScimError>>,
    ) -> Result<Stored, ScimError> {
        let written = batches.await;
        let released = self.release_claim(kind, claimed).await;
        written?;
        released
    }

    /// A PatchOp body's operations: at most `max_patch_operations`, so that
    /// one request cannot ask for unbounded work (413 above).
    fn patch_operations(&self, body: &Value) -> Result<Vec<patch::Operation>, ScimError> {
        let ops = patch::parse_operations(body)?;
        let max = self.limits.max_patch_operations;
        if ops.len() > max {
            return Err(ScimError::payload_too_large(format!(
                "the PATCH holds {} operations; at most {max} per request: split it into several requests",
                ops.len()
            )));
        }
        Ok(ops)
    }

    /// References to the resources that exist among `wanted` (BatchGetItems),
    /// with display names, in id order.
    pub(super) async fn refs(&self, wanted: &[(Kind, &str)]) -> Result<Vec<Ref>, ScimError> {
        let mut refs: Vec<Ref> = self
            .dir
            .get_many(wanted)
            .await?
            .into_iter()
            .map(|(kind, s)| groups::to_ref(kind, s))
            .collect();
        refs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(refs)
    }

    async fn get(&self, rt: &ResourceType, id: &str) -> Result<Stored, ScimError> {
        if keys::check_key_value("id", id).is_err() {
            // No resource has such an id, and no key could hold it.
            return Err(not_found(rt, "(too long)"));
        }
        self.dir
            .get(rt.kind, id)
            .await?
            .ok_or_else(|| not_found(rt, id))
    }

    /// A new resource (fresh id, version 1) from a canonical document.
    fn prepare(rt: &ResourceType, doc: Doc) -> Result<Stored, ScimError> {
        check_keys(rt, &doc)?;
        let ts = now();
        Ok(Stored {
            meta: Meta {
                id: uuid::Uuid::new_v4().to_string(),
                created: ts.clone(),
                last_modified: ts,
                version: 1,
            },
            doc,
        })
    }

    /// Creates a resource from a canonical document: 1 write (with guards).
    async fn create(&self, rt: &ResourceType, doc: Doc) -> Result<Stored, ScimError> {
        let stored = Self::prepare(rt, doc)?;
        self.dir.create(rt.kind, &stored, &[]).await?;
        Ok(stored)
    }

    /// Reads, changes and conditionally writes a resource; redoes the whole
    /// round if another write came in between (unless `If-Match` pinned the
    /// version, in which case the client is told with 412). `read` is the
    /// resource as the caller has just read it, if it has, for the first
    /// round; `with` are writes (edges) that go in the same transaction.
    async fn modify(
        &self,
        rt: &ResourceType,
        id: &str,
        if_match: Option<&str>,
        mut read: Option<Stored>,
        with: Outside<'_>,
        (op, change): (Written, impl Fn(&Doc) -> Result<Doc, ScimError>),
    ) -> Result<Stored, ScimError> {
        let mut retry = Retry::new();
        loop {
            let old = match read.take() {
                Some(old) => old,
                None => self.get(rt, id).await?,
            };
            if let Some(new) = self
                .modify_round(rt, old, if_match, with, op, &change)
                .await?
            {
                return Ok(new);
            }
            if !retry.again(rt, id).await {
                return Err(ScimError::unavailable());
            }
        }
    }

    /// One round of [`Service::modify`] over `old` as read: the resource as
    /// written, or `None` when another write came in between (and no
    /// `If-Match` pinned the version).
    async fn modify_round(
        &self,
        rt: &ResourceType,
        old: Stored,
        if_match: Option<&str>,
        with: Outside<'_>,
        op: Written,
        change: &impl Fn(&Doc) -> Result<Doc, ScimError>,
    ) -> Result<Option<Stored>, ScimError> {
        check_if_match(if_match, &old.meta)?;
        let doc = change(&old.doc)?;
        crate::scim::resource::check_immutable(&old.doc, &doc, rt)?;
        check_keys(rt, &doc)?;
        if doc == old.doc && matches!(with, Outside::Nothing) {
            // Nothing changes: no write, and the version stays.
            return Ok(Some(old));
        }
        let new = Stored {
            meta: Meta {
                id: old.meta.id.clone(),
                created: old.meta.created.clone(),
                last_modified: now(),
                version: old.meta.version + 1,
            },
            doc,
        };
        match self
            .dir
            .replace(
                rt.kind,
                &old,
                &new,
                op,
                with.in_transaction(),
                with.claim_until(),
            )
            .await
        {
            Ok(()) => Ok(Some(new)),
            Err(DirError::VersionMismatch) if if_match.is_none() => Ok(None),
            // The resource's own version held: If-Match is checked again
            // with the next round's read.
            Err(DirError::OtherChanged) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a resource and then removes its edges for up to the delete
    /// budget; what is left is finished by later requests. Reads never show
    /// edges whose ends are gone, so the leftovers are invisible meanwhile.
    async fn delete(
        &self,
        rt: &ResourceType,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimError> {
        let mut retry = Retry::new();
        loop {
            let old = self.get(rt, id).await?;
            check_if_match(if_match, &old.meta)?;
            match self
                .dir
                .delete(rt.kind, &old, &now(), if_match.is_some())
                .await
            {
                Ok(task) => {
                    let deadline = Instant::now() + self.limits.delete_cleanup_budget;
                    match self.dir.cleanup(&task, deadline).await {
                        Ok(true) => {}
                        Ok(false) => self.cleanup.pending.store(true, Ordering::Relaxed),
                        Err(e) => {
                            tracing::warn!(error = ?e, "edge cleanup after delete failed; left for later");
                            self.cleanup.pending.store(true, Ordering::Relaxed);
                        }
                    }
                    return Ok(());
                }
                Err(DirError::VersionMismatch) if if_match.is_none() => {
                    if !retry.again(rt, id).await {
                        return Err(ScimError::unavailable());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Works on cleanup left by earlier deletes (of this process or any
    /// other), for a short budget. Called after each write request, so that
    /// on Lambda, where nothing runs between invocations, the work is done by
    /// the traffic itself; a process looks for others' leftovers once a minute.
    pub async fn continue_cleanup(&self) {
        let state = &self.cleanup;
        let started = *state.started.get_or_init(Instant::now);
        let now_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = state.last_check_ms.load(Ordering::Relaxed);
        let first = !state.checked_once.swap(true, Ordering::Relaxed);
        let due = (first && self.limits.leftover_check_on_first_write)
            || now_ms.saturating_sub(last) >= CLEANUP_CHECK_INTERVAL.as_millis() as u64;
        if !state.pending.load(Ordering::Relaxed) && !due {
            return;
        }
        state.last_check_ms.store(now_ms, Ordering::Relaxed);
        match self.run_cleanup(CLEANUP_PIGGYBACK_BUDGET).await {
            Ok(done) => state.pending.store(!done, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "edge cleanup failed; will retry"),
        }
    }

    /// Runs pending cleanup tasks for up to `budget`; `true` when none is left.
    pub async fn run_cleanup(&self, budget: Duration) -> Result<bool, ScimError> {
        let deadline = Instant::now() + budget;
        loop {
            let tasks = self.dir.cleanup_tasks(10).await?;
            if tasks.is_empty() {
                return Ok(true);
            }
            for task in &tasks {
                if !self.dir.cleanup(task, deadline).await? {
                    return Ok(false);
                }
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
    }
}

impl From<DirError> for ScimError {
    fn from(e: DirError) -> Self {
        match e {
            DirError::UserNameTaken => {
                ScimError::uniqueness("userName is already taken (compared case-insensitively)")
            }
            DirError::VersionMismatch => ScimError::precondition_failed(
                "the resource was changed by another request; read it again and retry",
            ),
            DirError::OtherChanged => ScimError::unavailable(),
            DirError::Store(s) => s.into(),
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ItemTooLarge { bytes } => ScimError::payload_too_large(format!(
                "the resource would take {bytes} bytes in storage; the limit is {} bytes",
                crate::store::table::MAX_ITEM_BYTES
            )),
            StoreError::TooManyWrites { .. } => ScimError::payload_too_large(
                "the request needs more writes than one transaction allows",
            ),
            StoreError::Busy => ScimError::unavailable(),
            StoreError::ConditionFailed { .. } | StoreError::Backend(_) => {
                tracing::error!(error = %e, "store request failed");
                ScimError::internal()
            }
        }
    }
}
