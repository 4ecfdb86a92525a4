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

impl Service {
    /// Runs a BulkRequest until its operations are done, `failOnErrors`
    /// errors have happened (the rest is not run, and not listed, as
    /// RFC 7644 §3.7.3 has it), or `deadline` has passed (the rest is
    /// listed with 503: not run, send it again).
    pub async fn bulk(&self, req: &BulkRequest, deadline: Instant) -> Vec<OpResult> {
        let n = req.operations.len();
        let mut results: Vec<Option<OpResult>> = vec![None; n];
        let mut errors = 0usize;
        // Which operation declares each bulkId (the first; a second is refused).
        let mut declared: HashMap<&str, usize> = HashMap::new();
        let mut pending: Vec<usize> = Vec::new();
        for (i, op) in req.operations.iter().enumerate() {
            match op {
                Err(u) => {
                    results[i] = Some(failed(
                        u.method.as_deref().unwrap_or(""),
                        u.bulk_id.clone(),
                        u.error.clone(),
                    ));
                    errors += 1;
                }
                Ok(op) => match op.bulk_id.as_deref() {
                    Some(b) if declared.contains_key(b) => {
                        let e =
                            ScimError::invalid_value(format!("bulkId '{b}' names two operations"));
                        results[i] = Some(failed(op.method.as_str(), op.bulk_id.clone(), e));
                        errors += 1;
                    }
                    b => {
                        if let Some(b) = b {
                            declared.insert(b, i);
                        }
                        pending.push(i);
                    }
                },
            }
        }
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut broken: HashSet<String> = req
            .operations
            .iter()
            .filter_map(|o| o.as_ref().err().and_then(|u| u.bulk_id.clone()))
            .collect();
        let limit = req.fail_on_errors.unwrap_or(usize::MAX);
        'rounds: while !pending.is_empty() {
            let mut waiting: Vec<usize> = Vec::new();
            let mut ran = false;
            for (at, &i) in pending.iter().enumerate() {
                if errors >= limit {
                    break 'rounds;
                }
                let Ok(op) = &req.operations[i] else { continue };
                if Instant::now() >= deadline {
                    for &j in &pending[at..] {
                        if let Ok(op) = &req.operations[j] {
                            results[j] =
                                Some(failed(op.method.as_str(), op.bulk_id.clone(), not_run()));
                        }
                    }
                    for &j in &waiting {
                        if let Ok(op) = &req.operations[j] {
                            results[j] =
                                Some(failed(op.method.as_str(), op.bulk_id.clone(), not_run()));
                        }
                    }
                    break 'rounds;
                }
                let refs = bulk::references(op);
                let blocked = refs.iter().find_map(|r| {
                    if broken.contains(r) {
                        Some(ScimError::conflict(format!(
                            "the operation of bulkId '{r}' failed, so this one cannot use it"
                        )))
                    } else if !declared.contains_key(r.as_str()) {
                        Some(ScimError::invalid_value(format!(
                            "bulkId '{r}' names no operation of this request"
                        )))
                    } else {
                        None
                    }
                });
                let outcome = match blocked {
                    Some(e) => Err(e),
                    None if refs.iter().all(|r| ids.contains_key(r)) => {
                        ran = true;
                        self.bulk_op(&bulk::resolve(op, &ids)).await
                    }
                    None => {
                        waiting.push(i);
                        continue;
                    }
                };
                results[i] = Some(self.record(op, outcome, &mut ids, &mut broken, &mut errors));
            }
            if !ran && !waiting.is_empty() {
                // What still waits, waits on itself: a cycle of bulkIds.
                for &i in &waiting {
                    let Ok(op) = &req.operations[i] else { continue };
                    let e = ScimError::conflict(
                        "the bulkId references of this operation form a cycle, which is not resolved",
                    );
                    results[i] = Some(failed(op.method.as_str(), op.bulk_id.clone(), e));
                }
                break;
            }
            pending = waiting;
        }
        results.into_iter().flatten().collect()
    }

    /// The operation's entry, and what it tells later ones.
    fn record(
        &self,
        op: &BulkOp,
        outcome: Result<Done, ScimError>,
        ids: &mut HashMap<String, String>,
        broken: &mut HashSet<String>,
        errors: &mut usize,
    ) -> OpResult {
        match outcome {
            Ok((status, written, version)) => {
                if let (Some(b), Some((_, id))) = (&op.bulk_id, &written) {
                    ids.insert(b.clone(), id.clone());
                }
                OpResult {
                    method: op.method.as_str().into(),
                    bulk_id: op.bulk_id.clone(),
                    written,
                    version,
                    status,
                    error: None,
                }
            }
            Err(e) => {
                *errors += 1;
                if let Some(b) = &op.bulk_id {
                    broken.insert(b.clone());
                }
                failed(op.method.as_str(), op.bulk_id.clone(), e)
            }
        }
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
