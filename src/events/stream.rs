//! The stream front door: a batch of the table's stream records, as Lambda
//! hands it over, becomes change events on the bus. Records are taken in
//! order. A record that cannot be read (and an entry the bus refuses for
//! good) is set aside in the dead-letter queue whole, and the records after
//! it go on. The first one that cannot be published now (and everything
//! after it, which Lambda sends again) is reported in `batchItemFailures`,
//! so Lambda retries from there and, after its retries, sends the batch's
//! description to the dead-letter queue. Nothing is dropped silently.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::Value;

use super::eventbridge::{Entry, Sink, publish};
use super::{Issuer, detail_type, event_of};
use crate::store::changes::Change;
use crate::store::table::{AttrValue, Item};

/// Publishes a batch's events; answers which record to retry from.
pub async fn handle(event: &Event, issuer: &Issuer, sink: &dyn Sink) -> DynamoDbEventResponse {
    handle_until(event, issuer, sink, None).await
}

/// [`handle`] within a Lambda invocation's deadline: what cannot be begun
/// in time is handed back.
pub async fn handle_until(
    event: &Event,
    issuer: &Issuer,
    sink: &dyn Sink,
    deadline: Option<std::time::SystemTime>,
) -> DynamoDbEventResponse {
    let mut entries = Vec::new();
    // For each entry, the record it came from.
    let mut from = Vec::new();
    let mut unreadable = None;
    for (i, record) in event.records.iter().enumerate() {
        let ev = change_of(record).and_then(|c| event_of(&c).map_err(|e| e.to_string()));
        match ev {
            Ok(None) => {}
            Ok(Some(ev)) => {
                entries.push(Entry {
                    detail_type: detail_type(&ev),
                    detail: issuer.claims(&ev),
                    subject: format!("{}/{}/{}", ev.tenant.log_name(), ev.kind.name(), ev.id),
                    at_ms: ev.at_ms,
                });
                from.push(i);
            }
            Err(e) => {
                tracing::error!(event_id = %record.event_id, error = %e, "a stream record cannot be read");
                let raw = serde_json::to_string(record).unwrap_or_default();
                if let Err(why) = sink
                    .park(&format!("unreadable stream record: {e}"), &raw)
                    .await
                {
                    // Handed back: Lambda's retries, then its own
                    // dead-letter message.
                    tracing::error!(event_id = %record.event_id, error = %why, "the record is handed back");
                    unreadable = Some(i);
                    break;
                }
            }
        }
    }
    let published = publish(sink, &entries, deadline).await;
    let failed = match (published, unreadable) {
        (Err(entry), _) => Some(from[entry]),
        (Ok(()), stop) => stop,
    };
    let mut response = DynamoDbEventResponse::default();
    if let Some(i) = failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = event.records[i].change.sequence_number.clone();
        response.batch_item_failures.push(failure);
    }
    response
}

/// A stream record as a change: its images as items.
pub fn change_of(record: &EventRecord) -> Result<Change, String> {
    let image = |i: &serde_dynamo::Item| -> Result<Option<Item>, String> {
        let json = serde_json::to_value(i).map_err(|e| e.to_string())?;
        item_of(&json)
    };
    Ok(Change {
        id: record.event_id.clone(),
        sequence: record.change.sequence_number.clone().unwrap_or_default(),
        at_ms: record
            .change
            .approximate_creation_date_time
            .timestamp_millis(),
        old: image(&record.change.old_image)?,
        new: image(&record.change.new_image)?,
    })
}

/// An image in DynamoDB's JSON (`{"pk": {"S": "…"}, "version": {"N": "3"}}`)
/// as an item; `None` when empty (the image a record does not have).
fn item_of(image: &Value) -> Result<Option<Item>, String> {
    let Some(map) = image.as_object() else {
        return Ok(None);
    };
    if map.is_empty() {
        return Ok(None);
    }
    let mut item = Item::default();
    for (name, v) in map {
        let value = if let Some(s) = v.get("S").and_then(Value::as_str) {
            AttrValue::S(s.to_string())
        } else if let Some(n) = v.get("N").and_then(Value::as_str) {
            AttrValue::N(
                n.parse()
                    .map_err(|_| format!("'{name}' is not an integer"))?,
            )
        } else {
            // The table holds strings and numbers only.
            continue;
        };
        item.0.insert(name.clone(), value);
    }
    Ok(Some(item))
}
