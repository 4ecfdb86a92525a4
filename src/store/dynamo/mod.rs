//! The DynamoDB driver (`aws-sdk-dynamodb`): each call is one request (or, for
//! `count`, one per 1 MB page); a transaction that loses a conflict with a
//! concurrent one is retried a few times before the caller is told to back off.
//!
//! Rooms: this file (the driver's requests), `convert` (items, expressions
//! and errors between the table interface and the SDK), `create` (the table).

mod convert;
mod create;

pub use create::{
    Shortfall, create_declared_table, create_streaming_table, create_table, declared_properties,
};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, DeleteRequest, KeysAndAttributes, PutRequest,
    ReturnConsumedCapacity, Select, WriteRequest,
};

use convert::{
    classify, condition_expr, from_map, key_map, lost_conflict, to_av, to_map, transact_item,
    update_parts,
};

use super::keys::{IndexDef, Key, PK, SK};
use super::table::{Capacity, Driver, Item, Page, Query, StoreError, Write};

const CONFLICT_RETRIES: u32 = 6;

pub struct Dynamo {
    client: Client,
    table: String,
    meter: Meter,
}

/// Capacity units DynamoDB reported for this driver's requests, kept in
/// thousandths of a unit so they add up atomically.
#[derive(Default)]
struct Meter {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
}

impl Meter {
    fn add<'a>(counter: &AtomicU64, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        let units: f64 = consumed
            .into_iter()
            .filter_map(ConsumedCapacity::capacity_units)
            .sum();
        counter.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
    }
    fn read(&self, consumed: Option<&ConsumedCapacity>) {
        Self::add(&self.read_milli, consumed);
    }
    fn write(&self, consumed: Option<&ConsumedCapacity>) {
        Self::add(&self.write_milli, consumed);
    }
}

impl Dynamo {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            meter: Meter::default(),
        }
    }
}
/// Jittered exponential backoff: 10 ms, 20 ms, ... each scaled by 0.5 to 1.5.
async fn backoff(attempt: u32) {
    let mut b = [0u8; 1];
    let jitter = getrandom::fill(&mut b)
        .map(|()| f64::from(b[0]) / 255.0)
        .unwrap_or(0.5)
        + 0.5;
    let ms = 10.0 * f64::from(1u32 << attempt.min(6)) * jitter;
    tokio::time::sleep(Duration::from_micros((ms * 1000.0) as u64)).await;
}

#[async_trait]
impl Driver for Dynamo {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("GetItem", &e))?;
        self.meter.read(out.consumed_capacity());
        Ok(out.item().map(from_map))
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        let (pk_name, sk_name) = match q.index {
            Some(ix) => (ix.pk, ix.sk),
            None => (PK, SK),
        };
        let mut names = HashMap::from([("#pk".to_string(), pk_name.to_string())]);
        let mut values = HashMap::from([(":pk".to_string(), AttributeValue::S(q.pk.clone()))]);
        let mut cond = "#pk = :pk".to_string();
        if let Some((lo, hi)) = &q.sk_between {
            names.insert("#sk".into(), sk_name.into());
            values.insert(":lo".into(), AttributeValue::S(lo.clone()));
            values.insert(":hi".into(), AttributeValue::S(hi.clone()));
            cond.push_str(" AND #sk BETWEEN :lo AND :hi");
        } else if let Some(prefix) = &q.sk_prefix {
            names.insert("#sk".into(), sk_name.into());
            values.insert(":prefix".into(), AttributeValue::S(prefix.clone()));
            cond.push_str(" AND begins_with(#sk, :prefix)");
        }
        let start = q.start_after.as_ref().map(|item| {
            let mut m = key_map(&item.key());
            if let Some(ix) = q.index {
                for a in [ix.pk, ix.sk] {
                    if let Some(v) = item.0.get(a) {
                        m.insert(a.to_string(), to_av(v));
                    }
                }
            }
            m
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(|ix| ix.name.to_string()))
            .key_condition_expression(cond)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(start)
            .limit(i32::try_from(q.limit.max(1)).unwrap_or(i32::MAX))
            // Strong reads where DynamoDB offers them (not on a GSI).
            .set_consistent_read(q.index.is_none().then_some(true))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("Query", &e))?;
        self.meter.read(out.consumed_capacity());
        Ok(Page {
            items: out.items().iter().map(from_map).collect(),
            more: out.last_evaluated_key().is_some(),
        })
    }

    async fn scan(&self, start_after: Option<&Key>, limit: usize) -> Result<Page, StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .set_exclusive_start_key(start_after.map(key_map))
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("Scan", &e))?;
        self.meter.read(out.consumed_capacity());
        Ok(Page {
            items: out.items().iter().map(from_map).collect(),
            more: out.last_evaluated_key().is_some(),
        })
    }

    async fn count(
        &self,
        index: Option<&'static IndexDef>,
        pk: &str,
    ) -> Result<(usize, u64), StoreError> {
        let pk_name = index.map_or(PK, |ix| ix.pk);
        let mut start = None;
        let (mut total, mut requests) = (0usize, 0u64);
        loop {
            requests += 1;
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(|ix| ix.name.to_string()))
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| classify("Query", &e))?;
            self.meter.read(out.consumed_capacity());
            total += usize::try_from(out.count()).unwrap_or(0);
            match out.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => return Ok((total, requests)),
            }
        }
    }

    async fn write(&self, w: &Write) -> Result<(), StoreError> {
        for attempt in 0..CONFLICT_RETRIES {
            let result = match w {
                Write::Put { item, condition } => {
                    let (c, n, v) = condition_expr(*condition);
                    self.client
                        .put_item()
                        .table_name(&self.table)
                        .set_item(Some(to_map(item)))
                        .set_condition_expression(c)
                        .set_expression_attribute_names(n)
                        .set_expression_attribute_values(v)
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                        .await
                        .map(|out| self.meter.write(out.consumed_capacity()))
                        .map_err(|e| (classify("PutItem", &e), lost_conflict(&e)))
                }
                Write::Delete { key, condition } => {
                    let (c, n, v) = condition_expr(*condition);
                    self.client
                        .delete_item()
                        .table_name(&self.table)
                        .set_key(Some(key_map(key)))
                        .set_condition_expression(c)
                        .set_expression_attribute_names(n)
                        .set_expression_attribute_values(v)
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                        .await
                        .map(|out| self.meter.write(out.consumed_capacity()))
                        .map_err(|e| (classify("DeleteItem", &e), lost_conflict(&e)))
                }
                Write::Touch { key, .. } | Write::Add { key, .. } => {
                    let Some((update, c, n, v)) = update_parts(w) else {
                        return Err(StoreError::Backend("not an update".into()));
                    };
                    self.client
                        .update_item()
                        .table_name(&self.table)
                        .set_key(Some(key_map(key)))
                        .update_expression(update)
                        .set_condition_expression(c)
                        .set_expression_attribute_names(Some(n))
                        .set_expression_attribute_values(Some(v))
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                        .await
                        .map(|out| self.meter.write(out.consumed_capacity()))
                        .map_err(|e| (classify("UpdateItem", &e), lost_conflict(&e)))
                }
            };
            match result {
                Err((_, true)) if attempt + 1 < CONFLICT_RETRIES => backoff(attempt).await,
                Err((e, _)) => return Err(e),
                Ok(()) => return Ok(()),
            }
        }
        Err(StoreError::Busy)
    }

    async fn transact(&self, ws: &[Write]) -> Result<(), StoreError> {
        let items = ws
            .iter()
            .map(|w| transact_item(w, &self.table))
            .collect::<Result<Vec<_>, _>>()?;
        // The SDK gives each call a client token and keeps it across its own
        // retries (so a lost answer cannot apply a transaction twice). This
        // loop sends again only what DynamoDB cancelled, which applied
        // nothing, so a new call and token are right.
        for attempt in 0..CONFLICT_RETRIES {
            let err = match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
            {
                Ok(out) => {
                    Meter::add(&self.meter.write_milli, out.consumed_capacity());
                    return Ok(());
                }
                Err(e) => e,
            };
            // Cancelled for a conflict with another transaction, or for
            // throttling of one of its items: the SDK does not retry a
            // cancellation, so this loop does.
            let (outcome, again) = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    let reasons = c.cancellation_reasons();
                    match reasons
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"))
                    {
                        Some(index) => (StoreError::ConditionFailed { index }, false),
                        None if reasons.iter().any(|r| {
                            matches!(
                                r.code(),
                                Some(
                                    "TransactionConflict"
                                        | "ThrottlingError"
                                        | "ProvisionedThroughputExceeded"
                                )
                            )
                        }) =>
                        {
                            (StoreError::Busy, true)
                        }
                        None => (classify("TransactWriteItems", &err), false),
                    }
                }
                _ => (classify("TransactWriteItems", &err), lost_conflict(&err)),
            };
            match outcome {
                StoreError::Busy if again && attempt + 1 < CONFLICT_RETRIES => {
                    backoff(attempt).await;
                }
                other => return Err(other),
            }
        }
        Err(StoreError::Busy)
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.get_many_impl(keys).await
    }

    async fn batch_write(&self, ws: &[Write]) -> Result<(), StoreError> {
        self.batch_write_impl(ws).await
    }

    fn consumed(&self) -> Option<Capacity> {
        let units = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1000.0;
        Some(Capacity {
            read: units(&self.meter.read_milli),
            write: units(&self.meter.write_milli),
        })
    }
}

impl Dynamo {
    async fn get_many_impl(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let bad = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend(e.to_string());
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys.iter().map(key_map).collect()))
            .consistent_read(true)
            .build()
            .map_err(bad)?;
        let mut out = Vec::with_capacity(keys.len());
        for attempt in 0..CONFLICT_RETRIES * 2 {
            let resp = self
                .client
                .batch_get_item()
                .request_items(&self.table, pending.clone())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", &e))?;
            Meter::add(&self.meter.read_milli, resp.consumed_capacity());
            if let Some(items) = resp.responses().and_then(|r| r.get(&self.table)) {
                out.extend(items.iter().map(from_map));
            }
            match resp.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                Some(rest) if !rest.keys().is_empty() => {
                    pending = rest.clone();
                    backoff(attempt).await;
                }
                _ => return Ok(out),
            }
        }
        Err(StoreError::Busy)
    }

    async fn batch_write_impl(&self, ws: &[Write]) -> Result<(), StoreError> {
        let bad = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend(e.to_string());
        let mut pending = Vec::with_capacity(ws.len());
        for w in ws {
            pending.push(match w {
                Write::Put { item, .. } => WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(to_map(item)))
                            .build()
                            .map_err(bad)?,
                    )
                    .build(),
                Write::Delete { key, .. } => WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(key_map(key)))
                            .build()
                            .map_err(bad)?,
                    )
                    .build(),
                Write::Touch { .. } | Write::Add { .. } => {
                    return Err(StoreError::Backend("BatchWriteItem cannot update".into()));
                }
            });
        }
        for attempt in 0..CONFLICT_RETRIES * 2 {
            let resp = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending.clone())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            // (The SDK has retried a throttled request already; items left
            // unprocessed, DynamoDB's partial throttling, are retried here.)
            let resp = resp.map_err(|e| classify("BatchWriteItem", &e))?;
            Meter::add(&self.meter.write_milli, resp.consumed_capacity());
            match resp.unprocessed_items().and_then(|u| u.get(&self.table)) {
                Some(rest) if !rest.is_empty() => {
                    pending = rest.clone();
                    backoff(attempt).await;
                }
                _ => return Ok(()),
            }
        }
        Err(StoreError::Busy)
    }
}
