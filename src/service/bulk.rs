//! Bulk: the operations of a `BulkRequest` run one by one, each exactly as
//! the same request alone (the same service call, so the same DynamoDB
//! requests, nothing half applied), in the request's order but for those
//! waiting on a `bulkId` that a later operation creates.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::{Service, wants_refs};
use crate::scim::bulk::{self, BulkOp, BulkRequest, Method, OpResult};
use crate::scim::projection::Projection;
use crate::scim::{Kind, ScimError};

/// What one operation left: its status, the resource and its version.
type Done = (u16, Option<(Kind, String)>, Option<String>);

/// Where a BulkRequest stands: each operation's entry once it has one,
/// the errors so far, the bulkIds declared, given an id, or failed.
struct Run<'r> {
    results: Vec<Option<OpResult>>,
    errors: usize,
    declared: HashSet<&'r str>,
    ids: HashMap<String, String>,
    broken: HashSet<String>,
}

impl<'r> Run<'r> {
    /// Enters what cannot run at all (an unreadable operation, a bulkId
    /// declared twice) and returns the rest, in the request's order.
    fn start(req: &'r BulkRequest) -> (Self, Vec<(usize, &'r BulkOp)>) {
        let mut run = Run {
            results: vec![None; req.operations.len()],
            errors: 0,
            declared: HashSet::new(),
            ids: HashMap::new(),
            broken: HashSet::new(),
        };
        let mut pending = Vec::new();
        for (i, op) in req.operations.iter().enumerate() {
            match op {
                Err(u) => {
                    let method = u.method.as_deref().unwrap_or("");
                    run.fail(i, method, u.bulk_id.as_ref(), u.error.clone());
                }
                Ok(op) => match op.bulk_id.as_deref() {
                    Some(b) if run.declared.contains(b) => {
                        let e =
                            ScimError::invalid_value(format!("bulkId '{b}' names two operations"));
                        run.errors += 1;
                        run.results[i] = Some(failed(op.method.as_str(), op.bulk_id.clone(), e));
                    }
                    b => {
                        run.declared.extend(b);
                        pending.push((i, op));
                    }
                },
            }
        }
        (run, pending)
    }

    /// Operation `i` failed: its entry, one error more, and its bulkId
    /// unusable by the operations that name it.
    fn fail(&mut self, i: usize, method: &str, bulk_id: Option<&String>, e: ScimError) {
        self.errors += 1;
        if let Some(b) = bulk_id {
            self.broken.insert(b.clone());
        }
        self.results[i] = Some(failed(method, bulk_id.cloned(), e));
    }

    /// Why an operation naming these bulkIds cannot run, if it cannot.
    fn blocked(&self, refs: &[String]) -> Option<ScimError> {
        refs.iter().find_map(|r| {
            if self.broken.contains(r) {
                Some(ScimError::conflict(format!(
                    "the operation of bulkId '{r}' failed, so this one cannot use it"
                )))
            } else if !self.declared.contains(r.as_str()) {
                Some(ScimError::invalid_value(format!(
                    "bulkId '{r}' names no operation of this request"
                )))
            } else {
                None
            }
        })
    }

    /// Each of these operations gets `e` as its entry, without counting
    /// as an error (nothing after them runs).
    fn leave(&mut self, ops: &[(usize, &BulkOp)], e: &ScimError) {
        for (i, op) in ops {
            self.results[*i] = Some(failed(op.method.as_str(), op.bulk_id.clone(), e.clone()));
        }
    }
}

impl Service {
    /// Runs a BulkRequest until its operations are done, `failOnErrors`
    /// errors have happened (the rest is not run, and not listed, as
    /// RFC 7644 §3.7.3 has it), or `deadline` has passed (the rest is
    /// listed with 503: not run, send it again).
    pub async fn bulk(&self, req: &BulkRequest, deadline: Instant) -> Vec<OpResult> {
        let (mut run, mut pending) = Run::start(req);
        let limit = req.fail_on_errors.unwrap_or(usize::MAX);
        'rounds: while !pending.is_empty() {
            let mut waiting = Vec::new();
            let mut ran = false;
            for (at, &(i, op)) in pending.iter().enumerate() {
                if run.errors >= limit {
                    break 'rounds;
                }
                if Instant::now() >= deadline {
                    run.leave(&pending[at..], &not_run());
                    run.leave(&waiting, &not_run());
                    break 'rounds;
                }
                let refs = bulk::references(op);
                if let Some(e) = run.blocked(&refs) {
                    run.fail(i, op.method.as_str(), op.bulk_id.as_ref(), e);
                    continue;
                }
                if !refs.iter().all(|r| run.ids.contains_key(r)) {
                    waiting.push((i, op));
                    continue;
                }
                ran = true;
                match self.bulk_op(&bulk::resolve(op, &run.ids)).await {
                    Ok((status, written, version)) => {
                        if let (Some(b), Some((_, id))) = (&op.bulk_id, &written) {
                            run.ids.insert(b.clone(), id.clone());
                        }
                        run.results[i] = Some(OpResult {
                            method: op.method.as_str().into(),
                            bulk_id: op.bulk_id.clone(),
                            written,
                            version,
                            status,
                            error: None,
                        });
                    }
                    Err(e) => run.fail(i, op.method.as_str(), op.bulk_id.as_ref(), e),
                }
            }
            if !ran && !waiting.is_empty() {
                // What still waits, waits on itself: a cycle of bulkIds.
                let cycle = ScimError::conflict(
                    "the bulkId references of this operation form a cycle, which is not resolved",
                );
                run.leave(&waiting, &cycle);
                break;
            }
            pending = waiting;
        }
        run.results.into_iter().flatten().collect()
    }

    /// One operation, by the same call its request alone makes, with what
    /// that request would ask for by default.
    async fn bulk_op(&self, op: &BulkOp) -> Result<Done, ScimError> {
        let (kind, id) = bulk::target(op)?;
        let refs = wants_refs(self.resource_type(kind), &Projection::default());
        let data = op.data.as_ref();
        let if_match = op.version.as_deref();
        let body = || data.ok_or_else(|| ScimError::invalid_value("this operation needs data"));
        let id = id.unwrap_or_default();
        let written = |v: &super::View| Some((kind, v.stored.meta.id.clone()));
        match op.method {
            Method::Post => {
                let v = self.create_resource(kind, body()?, refs).await?;
                Ok((201, written(&v), Some(v.stored.meta.etag())))
            }
            Method::Put => {
                let v = self
                    .replace_resource(kind, &id, body()?, if_match, refs)
                    .await?;
                Ok((200, written(&v), Some(v.stored.meta.etag())))
            }
            Method::Patch => {
                let want = match kind {
                    Kind::User => Some(refs),
                    Kind::Group => None,
                };
                match self
                    .patch_resource(kind, &id, body()?, if_match, want)
                    .await?
                {
                    Some(v) => Ok((200, written(&v), Some(v.stored.meta.etag()))),
                    None => Ok((204, Some((kind, id)), None)),
                }
            }
            Method::Delete => {
                self.delete_resource(kind, &id, if_match).await?;
                Ok((204, None, None))
            }
        }
    }
}

fn failed(method: &str, bulk_id: Option<String>, e: ScimError) -> OpResult {
    OpResult {
        method: method.to_string(),
        bulk_id,
        written: None,
        version: None,
        status: e.status,
        error: Some(e),
    }
}

fn not_run() -> ScimError {
    let mut e = ScimError::unavailable();
    e.detail = "not run: the request's time ran out before this operation; send it again".into();
    e
}
