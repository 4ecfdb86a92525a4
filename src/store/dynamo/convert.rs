//! Between the table interface and the SDK: items and keys as attribute
//! maps, conditions and the in-place version bump as expressions, writes
//! as transaction items, and SDK errors as store errors.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use crate::store::keys::{Key, PK, SK, attr};
use crate::store::table::{AttrValue, Claim, Condition, Item, StoreError, Write, unix_ms};

pub(super) fn to_av(v: &AttrValue) -> AttributeValue {
    match v {
        AttrValue::S(s) => AttributeValue::S(s.clone()),
        AttrValue::N(n) => AttributeValue::N(n.to_string()),
    }
}

pub(super) fn to_map(item: &Item) -> HashMap<String, AttributeValue> {
    item.0.iter().map(|(k, v)| (k.clone(), to_av(v))).collect()
}

pub(super) fn from_map(map: &HashMap<String, AttributeValue>) -> Item {
    let mut item = Item::default();
    for (k, v) in map {
        match v {
            AttributeValue::S(s) => {
                item.set_s(k, s.clone());
            }
            AttributeValue::N(n) => {
                if let Ok(n) = n.parse() {
                    item.set_n(k, n);
                }
            }
            // Attributes of other types are not ours (an application may add
            // its own); they are left alone.
            _ => {}
        }
    }
    item
}

pub(super) fn key_map(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_string(), AttributeValue::S(key.pk.clone())),
        (SK.to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

pub(super) type Expr = (
    Option<String>,
    Option<HashMap<String, String>>,
    Option<HashMap<String, AttributeValue>>,
);

pub(super) fn condition_expr(c: Condition) -> Expr {
    // No live claim: none, or one that lapsed before now.
    let unclaimed = "(attribute_not_exists(#cu) OR #cu < :now)";
    let claim_names = || HashMap::from([("#cu".to_string(), attr::CLAIMED_UNTIL.to_string())]);
    let now = || (":now".to_string(), AttributeValue::N(unix_ms().to_string()));
    let version = |v: i64| (":ver".to_string(), AttributeValue::N(v.to_string()));
    match c {
        Condition::None => (None, None, None),
        Condition::NotExists => (Some(format!("attribute_not_exists({PK})")), None, None),
        Condition::Exists => (
            Some(format!("attribute_exists({PK}) AND {unclaimed}")),
            Some(claim_names()),
            Some(HashMap::from([now()])),
        ),
        Condition::VersionIs(v) => {
            let mut names = claim_names();
            names.insert("#ver".into(), attr::VERSION.into());
            (
                Some(format!("#ver = :ver AND {unclaimed}")),
                Some(names),
                Some(HashMap::from([version(v), now()])),
            )
        }
        Condition::Claimed(v) => (
            Some("#ver = :ver".into()),
            Some(HashMap::from([("#ver".into(), attr::VERSION.into())])),
            Some(HashMap::from([version(v)])),
        ),
    }
}

/// An UpdateItem's update expression, condition, names and values.
pub(super) type UpdateParts = (
    String,
    Option<String>,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
);

/// The UpdateItem of a `Write::Touch` (the condition's names and values
/// merged in).
pub(super) fn touch_expr(last_modified: &str, condition: Condition, claim: Claim) -> UpdateParts {
    let (c, n, v) = match condition {
        Condition::None => condition_expr(Condition::Exists),
        c => condition_expr(c),
    };
    let mut names = n.unwrap_or_default();
    let mut values = v.unwrap_or_default();
    names.insert("#ver".into(), attr::VERSION.into());
    names.insert("#lm".into(), attr::LAST_MODIFIED.into());
    values.insert(":one".into(), AttributeValue::N("1".into()));
    values.insert(":lm".into(), AttributeValue::S(last_modified.to_string()));
    let update = match claim {
        Claim::Keep => "SET #lm = :lm ADD #ver :one".to_string(),
        Claim::Take(until) => {
            names.insert("#cu".into(), attr::CLAIMED_UNTIL.into());
            values.insert(":cu".into(), AttributeValue::N(until.to_string()));
            "SET #lm = :lm, #cu = :cu ADD #ver :one".to_string()
        }
        Claim::Release => {
            names.insert("#cu".into(), attr::CLAIMED_UNTIL.into());
            "SET #lm = :lm ADD #ver :one REMOVE #cu".to_string()
        }
    };
    (update, c, names, values)
}

/// The UpdateItem of a `Write::Touch` or `Write::Add`: update expression,
/// condition, names and values; `None` for other writes.
pub(super) fn update_parts(w: &Write) -> Option<UpdateParts> {
    match w {
        Write::Touch {
            last_modified,
            condition,
            claim,
            ..
        } => Some(touch_expr(last_modified, *condition, *claim)),
        Write::Add {
            attribute, delta, ..
        } => Some((
            "ADD #n :d".to_string(),
            None,
            HashMap::from([("#n".into(), (*attribute).into())]),
            HashMap::from([(":d".into(), AttributeValue::N(delta.to_string()))]),
        )),
        Write::Put { .. } | Write::Delete { .. } => None,
    }
}

/// Maps an SDK error (after the SDK's own retries) by its kind and code; the
/// full text goes to the log only. What a retry later may cure (throttling,
/// DynamoDB's internal errors, timeouts, lost connections) is `Busy`, which
/// the client gets as 503 with Retry-After.
pub(super) fn classify<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    op: &str,
    e: &SdkError<E, R>,
) -> StoreError {
    if matches!(
        e,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    ) {
        tracing::warn!(operation = op, error = ?e, "DynamoDB unreachable or slow");
        return StoreError::Busy;
    }
    match e.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed { index: 0 },
        Some(
            "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "TransactionConflictException"
            | "TransactionInProgressException"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "LimitExceededException",
        ) => {
            tracing::warn!(
                operation = op,
                code = e.code(),
                "DynamoDB asks to retry later"
            );
            StoreError::Busy
        }
        _ => {
            tracing::error!(operation = op, error = ?e, "DynamoDB request failed");
            StoreError::Backend(format!("{op}: {}", e.code().unwrap_or("unknown error")))
        }
    }
}

/// A write that lost to a concurrent transaction on the same item: worth
/// trying again at once (the SDK does not retry these).
pub(super) fn lost_conflict<E: ProvideErrorMetadata>(e: &E) -> bool {
    // (Not TransactionInProgressException: the SDK retries that one itself,
    // with the same client token.)
    e.code() == Some("TransactionConflictException")
}

pub(super) fn transact_item(w: &Write, table: &str) -> Result<TransactWriteItem, StoreError> {
    let bad = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend(e.to_string());
    Ok(match w {
        Write::Put { item, condition } => {
            let (c, n, v) = condition_expr(*condition);
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(table)
                        .set_item(Some(to_map(item)))
                        .set_condition_expression(c)
                        .set_expression_attribute_names(n)
                        .set_expression_attribute_values(v)
                        .build()
                        .map_err(bad)?,
                )
                .build()
        }
        Write::Touch { key, .. } | Write::Add { key, .. } => {
            let (update, c, n, v) =
                update_parts(w).ok_or_else(|| StoreError::Backend("not an update".into()))?;
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(table)
                        .set_key(Some(key_map(key)))
                        .update_expression(update)
                        .set_condition_expression(c)
                        .set_expression_attribute_names(Some(n))
                        .set_expression_attribute_values(Some(v))
                        .build()
                        .map_err(bad)?,
                )
                .build()
        }
        Write::Delete { key, condition } => {
            let (c, n, v) = condition_expr(*condition);
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(table)
                        .set_key(Some(key_map(key)))
                        .set_condition_expression(c)
                        .set_expression_attribute_names(n)
                        .set_expression_attribute_values(v)
                        .build()
                        .map_err(bad)?,
                )
                .build()
        }
    })
}
