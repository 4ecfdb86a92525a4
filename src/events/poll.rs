//! Poll delivery for the embedded store (RFC 8936): a directory's client
//! POSTs `{"ack": [...], "setErrs": {...}, "maxEvents": n,
//! "returnImmediately": bool}` and gets `{"sets": {jti: SET},
//! "moreAvailable": bool}`: the oldest SETs of its own directory that no
//! poll has acknowledged, in order. Unacknowledged SETs come again in the
//! next poll, until the retention (`SCIM_EVENT_RETENTION`) ends, when every
//! event older than it is forgotten, acknowledged or not. Each poll reads
//! the retained log from its start: its cost grows with what is retained.

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
/// How many changes one pass reads from the log at a time.
const PAGE: usize = 500;

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
/// (a directory cannot acknowledge another's events).
async fn acknowledge(log: &dyn ChangeLog, tenant: &Tenant, jtis: &[&str]) -> Result<(), ScimError> {
    let mut own = Vec::new();
    for jti in jtis {
        let Some(p) = position_of(log, jti) else {
            continue;
        };
        let found = log.read_after(p.checked_sub(1), 1).await.map_err(store)?;
        let ours = found.first().is_some_and(|(at, change)| {
            *at == p && matches!(event_of(change), Ok(Some(ev)) if ev.tenant == *tenant)
        });
        if ours {
            own.push(p);
        }
    }
    log.acknowledge(&own).await.map_err(store)
}

/// The oldest unacknowledged SETs of `tenant`, at most `max`, and whether
/// more wait.
async fn pending(
    log: &dyn ChangeLog,
    issuer: &Issuer,
    key: Option<&[u8]>,
    tenant: &Tenant,
    max: usize,
) -> Result<(Map<String, Value>, bool), ScimError> {
    let mut sets = Map::new();
    let mut after = None;
    loop {
        let page = log.read_after(after, PAGE).await.map_err(store)?;
        let Some(&(last, _)) = page.last() else {
            return Ok((sets, false));
        };
        for (p, change) in &page {
            let Ok(Some(ev)) = event_of(change) else {
                continue;
            };
            if ev.tenant != *tenant || log.is_acknowledged(*p).await.map_err(store)? {
                continue;
            }
            if sets.len() == max {
                return Ok((sets, true));
            }
            let claims = issuer.claims(&ev);
            let set = match key {
                Some(k) => hs256(&claims, k),
                None => unsecured(&claims),
            };
            sets.insert(ev.change_id.clone(), Value::String(set));
        }
        after = Some(last);
    }
}

fn store(e: crate::store::StoreError) -> ScimError {
    tracing::error!(error = %e, "the change log failed");
    ScimError::internal()
}
