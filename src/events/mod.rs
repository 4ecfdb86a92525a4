//! Change events: what the application behind the directory learns of
//! every committed change, as RFC 9967 SETs.
//!
//! Both capture paths hand over the same [`Change`] (an item before and
//! after one write): the DynamoDB stream through the stream front door
//! (`stream`, publishing to EventBridge with `eventbridge`), the embedded
//! driver's change log through the local delivery (`webhook`) or a poll
//! (`poll`). [`event_of`] is the one mapping from a change to an event, and
//! [`Issuer::claims`] the one way an event becomes a SET.
//!
//! Order: the changes of one item come in commit order on both paths (a
//! stream shard orders records per item; the log is one sequence). So a
//! resource's own events are ordered, and so are the adds and removes of
//! one membership; events of different items (a group's rename and a
//! member's add) are not ordered with each other on DynamoDB. Every event
//! carries the resource's `version` (resources) and the change's
//! `sequence` (comparable, as integers, between events of one item).

pub mod eventbridge;
pub mod local;
pub mod poll;
pub mod sign;
pub mod stream;
pub mod webhook;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::scim::Kind;
use crate::scim::events::{Activity, Detail, Happened, changed_attributes, events_claim, sub_id};
use crate::scim::resource::Doc;
use crate::scim::resource::render;
use crate::scim::schemas::Schemas;
use crate::store::changes::{Change, Delta, Version, delta};
use crate::store::{StoreError, Stored, Written};
use crate::tenant::Tenant;

/// One change event: what happened to which resource of which directory.
#[derive(Debug, Clone)]
pub struct ChangeEvent {
    pub tenant: Tenant,
    pub kind: Kind,
    pub id: String,
    pub happened: Happened,
    pub activity: Activity,
    /// The resource after the change (before it, for a delete).
    pub resource: Option<Stored>,
    /// The attributes the change set (all of them, for a create).
    pub changed: Vec<String>,
    /// The change's id: the SET's `jti` and `txn`, stable across retries.
    pub change_id: String,
    pub sequence: String,
    pub at_ms: i64,
}

/// The event a change makes, if any (which writes make one is
/// [`makes_event`](crate::store::changes::makes_event)'s to say).
pub fn event_of(change: &Change) -> Result<Option<ChangeEvent>, StoreError> {
    let Some((tenant, delta)) = delta(change)? else {
        return Ok(None);
    };
    let event = |kind, id, happened, activity, resource, changed| ChangeEvent {
        tenant: tenant.clone(),
        kind,
        id,
        happened,
        activity,
        resource,
        changed,
        change_id: change.id.clone(),
        sequence: change.sequence.clone(),
        at_ms: change.at_ms,
    };
    Ok(match delta {
        Delta::Member { edge, added } => {
            let (member_id, member_kind) = (edge.member_id, edge.member_type);
            let happened = if added {
                Happened::MemberAdded {
                    member_id,
                    member_kind,
                }
            } else {
                Happened::MemberRemoved {
                    member_id,
                    member_kind,
                }
            };
            Some(event(
                Kind::Group,
                edge.group_id,
                happened,
                Activity::Unchanged,
                None,
                Vec::new(),
            ))
        }
        Delta::Resource {
            kind,
            id,
            before,
            after,
        } => {
            let empty = Doc::new();
            let changed = changed_attributes(
                before.as_ref().map_or(&empty, |v| &v.stored.doc),
                after.as_ref().map_or(&empty, |v| &v.stored.doc),
            );
            resource_happened(kind, before.as_deref(), after.as_deref())
                .map(|(h, a)| event(kind, id, h, a, after.or(before).map(|v| v.stored), changed))
        }
    })
}

fn resource_happened(
    kind: Kind,
    before: Option<&Version>,
    after: Option<&Version>,
) -> Option<(Happened, Activity)> {
    match (before, after) {
        (None, Some(_)) => Some((Happened::Created, Activity::Unchanged)),
        (Some(_), None) => Some((Happened::Deleted, Activity::Unchanged)),
        (Some(b), Some(a)) => {
            let activity = match kind {
                Kind::User => {
                    Activity::between(b.stored.doc.get("active"), a.stored.doc.get("active"))
                }
                Kind::Group => Activity::Unchanged,
            };
            let happened = match a.written {
                Written::Patched => Happened::Patched,
                Written::Created | Written::Replaced => Happened::Replaced,
            };
            Some((happened, activity))
        }
        (None, None) => None,
    }
}

/// The most a SET's claims take with the resource in full; above it the
/// event is sent as a notice (EventBridge takes 256 KB an entry).
pub const MAX_FULL_BYTES: usize = 200 * 1024;

/// Makes SETs of events: the directory's base URL (`iss`, and the base of
/// the resource's `meta.location`), the audience, and the schemas the
/// resources are rendered with.
#[derive(Clone)]
pub struct Issuer {
    pub base_url: String,
    pub audience: Option<String>,
    pub schemas: Arc<Schemas>,
}

impl Issuer {
    /// From the configuration: `SCIM_EVENT_ISSUER`, else `default_base`
    /// (the base URL the local server prints, or a request's).
    pub fn new(
        config: &crate::config::EventsConfig,
        schemas: Arc<Schemas>,
        default_base: &str,
    ) -> Self {
        Self {
            base_url: config
                .issuer
                .clone()
                .unwrap_or_else(|| default_base.to_string()),
            audience: config.audience.clone(),
            schemas,
        }
    }

    /// The directory's own base URL: a tenant's is below the base.
    pub fn base_of(&self, tenant: &Tenant) -> String {
        format!("{}{}", self.base_url.trim_end_matches('/'), tenant.path())
    }

    /// The SET's claims (RFC 8417, RFC 9967) as JSON, the same on every
    /// delivery of the same change: serialised once, as every channel sends
    /// it (the JWS payload, the EventBridge detail). Besides the registered
    /// claims: `tenant` (null for the single-tenant directory) and
    /// `sequence`.
    pub fn claims(&self, ev: &ChangeEvent) -> String {
        let full = self.claims_as(ev, true).to_string();
        if full.len() <= MAX_FULL_BYTES {
            return full;
        }
        self.claims_as(ev, false).to_string()
    }

    fn claims_as(&self, ev: &ChangeEvent, full: bool) -> Value {
        let base = self.base_of(&ev.tenant);
        let rt = self.schemas.resource_type(ev.kind);
        let shown = match ev.happened {
            Happened::Created | Happened::Replaced | Happened::Patched => ev.resource.as_ref(),
            _ => None,
        };
        let rendered = shown.map(|s| render(&s.doc, &s.meta, rt, &base, None));
        let version = ev.resource.as_ref().and_then(|s| match ev.happened {
            Happened::MemberAdded { .. } | Happened::MemberRemoved { .. } => None,
            _ => Some(s.meta.etag()),
        });
        let external_id = ev
            .resource
            .as_ref()
            .and_then(|s| s.doc.get("externalId"))
            .and_then(Value::as_str);
        let mut m = Map::new();
        m.insert("iss".into(), json!(base));
        if let Some(aud) = &self.audience {
            m.insert("aud".into(), json!(aud));
        }
        m.insert("iat".into(), json!(ev.at_ms.div_euclid(1000)));
        m.insert("jti".into(), json!(ev.change_id));
        m.insert("txn".into(), json!(ev.change_id));
        m.insert("sub_id".into(), sub_id(ev.kind, &ev.id, external_id));
        m.insert(
            "events".into(),
            events_claim(
                &ev.happened,
                ev.activity,
                rendered.as_ref(),
                version.as_deref(),
                &base,
                if full {
                    Detail::Full
                } else {
                    Detail::Notice(&ev.changed)
                },
            ),
        );
        m.insert("tenant".into(), json!(ev.tenant.id().map(|t| t.as_str())));
        m.insert("sequence".into(), json!(ev.sequence));
        Value::Object(m)
    }
}

/// A short name of what happened, for EventBridge's `detail-type` and for
/// logs: `User Created`, `User Deactivated`, `Group Member Added`, ...
pub fn detail_type(ev: &ChangeEvent) -> String {
    let what = match (&ev.happened, ev.activity) {
        (Happened::Created, _) => "Created",
        (_, Activity::Deactivated) => "Deactivated",
        (_, Activity::Activated) => "Reactivated",
        (Happened::Replaced, _) => "Replaced",
        (Happened::Patched, _) => "Patched",
        (Happened::Deleted, _) => "Deleted",
        (Happened::MemberAdded { .. }, _) => "Member Added",
        (Happened::MemberRemoved { .. }, _) => "Member Removed",
    };
    format!("{} {what}", ev.kind.name())
}
