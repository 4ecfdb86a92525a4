//! A DynamoDB stream record, as the Streams API returns it, in the shape
//! of Lambda's DynamoDB event: what the stream front door is handed on
//! Lambda. Shared by the events tests and benchmark.

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record};
use serde_json::{Map, Value, json};

/// An attribute value in DynamoDB's JSON, as Lambda writes stream images.
fn attr_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        _ => json!({"NULL": true}),
    }
}

fn image_json(image: Option<&std::collections::HashMap<String, AttributeValue>>) -> Value {
    let m: Map<String, Value> = image
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), attr_json(v)))
        .collect();
    Value::Object(m)
}

/// A stream record in the shape of Lambda's DynamoDB event.
pub fn lambda_record(r: &Record, arn: &str) -> Value {
    let d = r.dynamodb();
    let mut change = json!({
        "ApproximateCreationDateTime": d.and_then(|d| d.approximate_creation_date_time()).map_or(0, |t| t.secs()),
        "Keys": image_json(d.and_then(|d| d.keys())),
        "SequenceNumber": d.and_then(|d| d.sequence_number()),
        "SizeBytes": d.and_then(|d| d.size_bytes()).unwrap_or(0),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let Some(new) = d.and_then(|d| d.new_image()) {
        change["NewImage"] = image_json(Some(new));
    }
    if let Some(old) = d.and_then(|d| d.old_image()) {
        change["OldImage"] = image_json(Some(old));
    }
    json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|n| n.as_str().to_string()),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": change,
        "eventSourceARN": arn,
    })
}
