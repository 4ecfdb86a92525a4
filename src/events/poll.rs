//! Poll delivery for the embedded store (RFC 8936): a directory's client
//! POSTs `{"ack": [...], "setErrs": {...}, "maxEvents": n,
//! "returnImmediately": bool}` and gets `{"sets": {jti: SET},
//! "moreAvailable": bool}`: the oldest SETs of its own directory that no
//! poll has acknowledged, in order. Unacknowledged SETs come again in the
//! next poll, until the retention (`SCIM_EVENT_RETENTION`) ends, when every
//! event older than it is forgotten, acknowledged or not. A poll reads only
//! its own directory's unacknowledged changes (an index the store keeps
//! beside the log), so it costs the same however much is retained.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::sign::{hs256, unsecured};
use super::{Issuer, event_of};
use crate::scim::ScimError;
use crate::store::changes::ChangeLog;
use crate::tenant::Tenant;

/// The most SETs one poll returns.
pub const MAX_EVENTS: usize = 1000;
/// How long a poll without `returnImmediately` waits for a first SET (at
/// most; less when the request timeout is shorter).
pub const LONG_POLL: Duration = Duration::from_secs(10);

/// A poll request, checked.
struct Request {
    ack: Vec<String>,
    errs: Vec<(String, Value)>,
    max_events: usize,
    return_immediately: bool,
}

fn parse(body: &Value) -> Result<Request, ScimError> {
    let bad = |m: &str| ScimError::invalid_syntax(m.to_string());
    let obj = body
        .as_object()
        .ok_or_else(|| bad("a poll request is a JSON object"))?;
    let strings = |v: Option<&Value>| -> Result<Vec<String>, ScimError> {
        match v {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|j| {
                    j.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad("'ack' lists jti strings"))
                })
                .collect(),
            Some(_) => Err(bad("'ack' is an array of jti strings")),
        }
    };
    let errs = match obj.get("setErrs") {
        None => Vec::new(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(_) => return Err(bad("'setErrs' is an object of jti to error")),
    };
    let max_events = match obj.get("maxEvents") {
        None => MAX_EVENTS,
        Some(v) => v
            .as_u64()
            .map(|n| usize::try_from(n).unwrap_or(MAX_EVENTS).min(MAX_EVENTS))
            .ok_or_else(|| bad("'maxEvents' is a non-negative integer"))?,
    };
    let return_immediately = match obj.get("returnImmediately") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad("'returnImmediately' is true or false"))?,
    };
    Ok(Request {
        ack: strings(obj.get("ack"))?,
        errs,
        max_events,
        return_immediately,
    })
}

/// Answers one poll of `tenant`'s events.
pub async fn poll(
    log: &dyn ChangeLog,
    issuer: &Issuer,
    key: Option<&[u8]>,
    tenant: &Tenant,
    body: &Value,
    long_poll: Duration,
) -> Result<Value, ScimError> {
    let req = parse(body)?;
    for (jti, err) in &req.errs {
        tracing::warn!(jti = %jti, error = %err, "a poll client could not process a SET");
    }
    let acked: Vec<&str> = req
        .ack
        .iter()
        .map(String::as_str)
        .chain(req.errs.iter().map(|(j, _)| j.as_str()))
        .collect();
    acknowledge(log, tenant, &acked).await?;
    let deadline = Instant::now()
        + if req.return_immediately {
            Duration::ZERO
        } else {
            long_poll
        };
    loop {
        let (sets, more) = pending(log, issuer, key, tenant, req.max_events).await?;
        if !sets.is_empty() || req.max_events == 0 || Instant::now() >= deadline {
            return Ok(json!({"sets": sets, "moreAvailable": more}));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The position a jti of this log names, if it does.
fn position_of(log: &dyn ChangeLog, jti: &str) -> Option<u64> {
    jti.strip_prefix(log.log_id())?
        .strip_prefix('-')?
        .parse()
        .ok()
}

/// Acknowledges the jtis of `tenant`'s own events; others are ignored
/// (a directory cannot acknowledge another's events: they are not in its
/// range of pending changes).
async fn acknowledge(log: &dyn ChangeLog, tenant: &Tenant, jtis: &[&str]) -> Result<(), ScimError> {
    let positions: Vec<u64> = jtis.iter().filter_map(|j| position_of(log, j)).collect();
    log.acknowledge(tenant.log_name(), &positions)
        .await
        .map_err(store)
}

/// The oldest unacknowledged SETs of `tenant`, at most `max`, and whether
/// more wait: one range of the directory's pending changes.
async fn pending(
    log: &dyn ChangeLog,
    issuer: &Issuer,
    key: Option<&[u8]>,
    tenant: &Tenant,
    max: usize,
) -> Result<(Map<String, Value>, bool), ScimError> {
    let page = log
        .pending(tenant.log_name(), max.saturating_add(1))
        .await
        .map_err(store)?;
    let more = page.len() > max;
    let mut sets = Map::new();
    // Changes that make no SET (one that cannot be read is logged) are
    // acknowledged at once, so that they never hold a poll up.
    let mut passed = Vec::new();
    for (position, change) in page.iter().take(max) {
        match event_of(change) {
            Ok(Some(ev)) => {
                let claims = issuer.claims(&ev);
                let set = match key {
                    Some(k) => hs256(&claims, k),
                    None => unsecured(&claims),
                };
                sets.insert(ev.change_id.clone(), Value::String(set));
            }
            Ok(None) => passed.push(*position),
            Err(e) => {
                tracing::error!(position, error = %e, "a logged change cannot be read; not polled");
                passed.push(*position);
            }
        }
    }
    if !passed.is_empty() {
        log.acknowledge(tenant.log_name(), &passed)
            .await
            .map_err(store)?;
    }
    Ok((sets, more))
}

fn store(e: crate::store::StoreError) -> ScimError {
    tracing::error!(error = %e, "the change log failed");
    ScimError::internal()
}
