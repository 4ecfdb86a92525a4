//! The DynamoDB capture path: the conversation's writes are read back from
//! the table's stream in DynamoDB Local (through the DynamoDB Streams SDK),
//! handed to the stream front door as Lambda hands records over, published
//! to moto's EventBridge, and read from an SQS queue a rule subscribes to
//! the bus. Faults (PutEvents failing as a whole or for some entries) are
//! injected between the front door and the real bus.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use scim_lambda::events::Issuer;
use scim_lambda::events::eventbridge::{Bus, Entry, Sink};
use scim_lambda::store::Table;
use serde_json::{Value, json};

#[path = "../support/stream_record.rs"]
mod stream_record;

use super::common::{Harness, config, dynamodb_client};
use super::events::{conversation, label};
use stream_record::lambda_record;

const SOURCE: &str = "scim-lambda";

fn endpoint(var: &str) -> String {
    let url = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run scripts/test, which starts the stand-ins")
    });
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "tests only talk to loopback, not {url}"
    );
    url
}

async fn aws() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A table of its own (streaming, as the template's) and the router over it.
pub async fn harness() -> (Harness, String) {
    let client = dynamodb_client().await;
    let name = format!("scim-events-{}", uuid::Uuid::new_v4());
    scim_lambda::store::dynamo::create_streaming_table(&client, &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let driver = scim_lambda::store::dynamo::Dynamo::new(client, name.clone());
    (
        Harness::with_table(Table::new(Arc::new(driver)), &config(), None),
        name,
    )
}

/// Every record of the table's stream, per shard, as Lambda would batch
/// them (at most 100 a batch).
pub async fn stream_batches(table: &str) -> Vec<aws_lambda_events::dynamodb::Event> {
    let aws = aws().await;
    let ddb = dynamodb_client().await;
    let arn = ddb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .table()
        .and_then(|t| t.latest_stream_arn())
        .unwrap_or_else(|| panic!("{table} has no stream"))
        .to_string();
    let conf = aws_sdk_dynamodbstreams::config::Builder::from(&aws)
        .endpoint_url(endpoint("AWS_ENDPOINT_URL_DYNAMODB"))
        .build();
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(conf);
    let desc = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mut batches = Vec::new();
    for shard in desc
        .stream_description()
        .map(|d| d.shards())
        .unwrap_or_default()
    {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().unwrap_or_default())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
            .shard_iterator()
            .map(str::to_string);
        while let Some(it) = iterator {
            let out = streams
                .get_records()
                .shard_iterator(it)
                .limit(100)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
            if out.records().is_empty() {
                break;
            }
            let records: Vec<Value> = out
                .records()
                .iter()
                .map(|r| lambda_record(r, &arn))
                .collect();
            let event = serde_json::from_value(json!({"Records": records}))
                .unwrap_or_else(|e| panic!("{e}"));
            batches.push(event);
            iterator = out.next_shard_iterator().map(str::to_string);
        }
    }
    batches
}

/// A bus of moto's with a rule sending everything of ours to a new queue.
async fn bus_to_queue() -> (Bus, aws_sdk_sqs::Client, String) {
    let aws = aws().await;
    endpoint("AWS_ENDPOINT_URL_EVENTBRIDGE");
    endpoint("AWS_ENDPOINT_URL_SQS");
    let eb = aws_sdk_eventbridge::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let name = format!("directory-{}", uuid::Uuid::new_v4().simple());
    eb.create_event_bus()
        .name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let queue = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let url = queue.queue_url().unwrap_or_default().to_string();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let arn = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    eb.put_rule()
        .name("to-queue")
        .event_bus_name(&name)
        .event_pattern(json!({"source": [SOURCE]}).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    eb.put_targets()
        .rule("to-queue")
        .event_bus_name(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    (Bus::new(eb, name, SOURCE.into()), sqs, url)
}

/// The EventBridge events the queue holds, until `want` came (or 20 s);
/// with `want` 0, what it holds now.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str, want: usize) -> Vec<Value> {
    let mut got = Vec::new();
    let start = Instant::now();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        for m in out.messages() {
            got.push(serde_json::from_str(m.body().unwrap_or_default()).unwrap_or(Value::Null));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
        }
        if out.messages().is_empty() {
            if got.len() >= want || start.elapsed() > Duration::from_secs(20) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn issuer() -> Issuer {
    Issuer {
        base_url: "https://abc123.execute-api.us-east-1.amazonaws.com/scim/v2".into(),
        audience: None,
        schemas: Arc::new(scim_lambda::scim::schemas::Schemas::builtin()),
    }
}

fn per_subject(events: &[Value]) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let mut m = std::collections::BTreeMap::<String, Vec<String>>::new();
    for e in events {
        if !seen.insert(e["detail"]["jti"].to_string()) {
            continue;
        }
        let (s, what) = label(&e["detail"]);
        m.entry(s).or_default().push(what);
    }
    m
}

#[tokio::test]
#[ignore = "needs DynamoDB Local and moto (scripts/test starts them)"]
async fn the_stream_front_door_publishes_every_change_to_the_bus_in_order() {
    let (h, table) = harness().await;
    let want = conversation(&h, "/scim/v2").await;
    let n: usize = want.values().map(Vec::len).sum();
    let (bus, sqs, url) = bus_to_queue().await;
    for batch in stream_batches(&table).await {
        let answer = scim_lambda::events::stream::handle(&batch, &issuer(), &bus).await;
        assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    }
    let got = drain(&sqs, &url, n).await;
    assert_eq!(got.len(), n, "{got:#?}");
    assert_eq!(per_subject(&got), want);
    for e in &got {
        assert_eq!(e["source"], SOURCE);
        let (_, what) = label(&e["detail"]);
        let ty = e["detail-type"].as_str().unwrap_or_default();
        let expected = match what.as_str() {
            "create:full" => "Created",
            "deactivate,patch:full" => "Deactivated",
            "activate,put:full" => "Reactivated",
            "patch:full" => "Patched",
            "delete" => "Deleted",
            "member+" => "Member Added",
            _ => "Member Removed",
        };
        assert!(ty.ends_with(expected), "{ty} for {what}");
    }
}

/// The real bus behind faults: the first `whole` calls fail outright, and
/// every entry whose detail contains `refuse` (while `refusing` is left)
/// is refused as a partial failure.
struct Faulty {
    bus: Bus,
    whole: AtomicUsize,
    refuse: String,
    refusing: AtomicUsize,
}

#[async_trait]
impl Sink for Faulty {
    async fn put(&self, entries: &[Entry]) -> Result<Vec<bool>, String> {
        if self
            .whole
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err("ThrottlingException: Rate exceeded".into());
        }
        let refused: Vec<bool> = entries
            .iter()
            .map(|e| {
                e.detail.contains(&self.refuse)
                    && self
                        .refusing
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok()
            })
            .collect();
        let passed: Vec<Entry> = entries
            .iter()
            .zip(&refused)
            .filter(|(_, r)| !**r)
            .map(|(e, _)| e.clone())
            .collect();
        if !passed.is_empty() {
            self.bus.put(&passed).await?;
        }
        Ok(refused.iter().map(|r| !r).collect())
    }
    fn source(&self) -> &str {
        self.bus.source()
    }
}

#[tokio::test]
#[ignore = "needs DynamoDB Local and moto (scripts/test starts them)"]
async fn throttling_and_partial_failures_are_retried_and_what_stays_failed_is_handed_back() {
    let (h, table) = harness().await;
    let want = conversation(&h, "/scim/v2").await;
    let n: usize = want.values().map(Vec::len).sum();
    let (bus, sqs, url) = bus_to_queue().await;
    let batches = stream_batches(&table).await;
    // Throttled twice and a deactivation refused three times: the
    // publisher's own retries get everything through.
    let sink = Faulty {
        bus,
        whole: AtomicUsize::new(2),
        refuse: "prov:deactivate".into(),
        refusing: AtomicUsize::new(3),
    };
    for batch in &batches {
        let answer = scim_lambda::events::stream::handle(batch, &issuer(), &sink).await;
        assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    }
    assert_eq!(per_subject(&drain(&sqs, &url, n).await), want);
    // Refused past the retries: the record is handed back to Lambda (the
    // batch from it is sent again), and the retry completes the sequence
    // without reordering or losing anything.
    let sink = Faulty {
        whole: AtomicUsize::new(0),
        refusing: AtomicUsize::new(1000),
        ..sink
    };
    let mut got = Vec::new();
    for batch in &batches {
        let answer = scim_lambda::events::stream::handle(batch, &issuer(), &sink).await;
        let failed = answer
            .batch_item_failures
            .first()
            .and_then(|f| f.item_identifier.clone());
        let Some(seq) = failed else { continue };
        let from = batch
            .records
            .iter()
            .position(|r| r.change.sequence_number.as_deref() == Some(&seq))
            .unwrap_or_else(|| panic!("{seq} is not in the batch"));
        let change = scim_lambda::events::stream::change_of(&batch.records[from])
            .unwrap_or_else(|e| panic!("{e}"));
        let doc = change
            .new
            .as_ref()
            .and_then(|i| i.s("doc"))
            .unwrap_or_default();
        assert!(
            doc.contains("\"active\":false"),
            "handed back the wrong record: {doc}"
        );
        got.extend(drain(&sqs, &url, 0).await);
        sink.refusing.store(0, Ordering::SeqCst);
        let mut retry = batch.clone();
        retry.records.drain(..from);
        let answer = scim_lambda::events::stream::handle(&retry, &issuer(), &sink).await;
        assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
        sink.refusing.store(1000, Ordering::SeqCst);
    }
    let rest = n.saturating_sub(got.len());
    got.extend(drain(&sqs, &url, rest).await);
    assert_eq!(per_subject(&got), want);
}

/// Records what the front door publishes, accepting everything.
#[derive(Default)]
pub struct Recording(pub std::sync::Mutex<Vec<Entry>>);

#[async_trait]
impl Sink for Recording {
    async fn put(&self, entries: &[Entry]) -> Result<Vec<bool>, String> {
        let mut got = self.0.lock().unwrap_or_else(|e| e.into_inner());
        got.extend(entries.iter().cloned());
        Ok(vec![true; entries.len()])
    }
    fn source(&self) -> &str {
        SOURCE
    }
}

#[tokio::test]
async fn the_sample_stream_event_becomes_a_deactivation_and_a_membership() {
    // The file `cargo lambda invoke` hands the stream front door locally.
    let path = format!(
        "{}/events/dynamodb-stream-deactivate-and-add-member.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let event: aws_lambda_events::dynamodb::Event =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let sink = Recording::default();
    let answer = scim_lambda::events::stream::handle(&event, &issuer(), &sink).await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    let got = sink.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let types: Vec<&str> = got.iter().map(|e| e.detail_type.as_str()).collect();
    // The userName guard's record makes no event.
    assert_eq!(types, ["User Deactivated", "Group Member Added"]);
    let claims: Value = serde_json::from_str(&got[0].detail).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claims["jti"], "c4ca4238a0b923820dcc509a6f75849b");
    assert_eq!(claims["sequence"], "111100000000000000000001");
    assert_eq!(claims["sub_id"]["externalId"], "bjensen");
    let patch = &claims["events"]["urn:ietf:params:scim:event:prov:patch:full"];
    assert_eq!(patch["version"], "W/\"2\"");
    assert_eq!(patch["data"]["active"], false);
}

#[tokio::test]
async fn a_record_that_cannot_be_read_is_handed_back_and_nothing_after_it_published() {
    let event = sample_without_the_users_document();
    let sink = Recording::default();
    let answer = scim_lambda::events::stream::handle(&event, &issuer(), &sink).await;
    let failed: Vec<_> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, [Some("111100000000000000000001".to_string())]);
    assert!(sink.0.lock().unwrap_or_else(|e| e.into_inner()).is_empty());
}

/// Records what is published and what is set aside.
#[derive(Default)]
struct Parking {
    published: Recording,
    parked: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl Sink for Parking {
    async fn put(&self, entries: &[Entry]) -> Result<Vec<bool>, String> {
        self.published.put(entries).await
    }
    fn source(&self) -> &str {
        SOURCE
    }
    async fn park(&self, what: &str, body: &str) -> Result<(), String> {
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        parked.push(format!("{what}: {body}"));
        Ok(())
    }
}

#[tokio::test]
async fn with_a_dead_letter_queue_an_unreadable_record_is_set_aside_and_the_rest_published() {
    let event = sample_without_the_users_document();
    let sink = Parking::default();
    let answer = scim_lambda::events::stream::handle(&event, &issuer(), &sink).await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    let parked = sink
        .parked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert_eq!(parked.len(), 1, "{parked:?}");
    // The whole record is kept, to be replayed by hand.
    assert!(
        parked[0].contains("c4ca4238a0b923820dcc509a6f75849b"),
        "{}",
        parked[0]
    );
    let published = sink
        .published
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let types: Vec<&str> = published.iter().map(|e| e.detail_type.as_str()).collect();
    assert_eq!(types, ["Group Member Added"]);
}

#[tokio::test]
#[ignore = "needs moto (scripts/test starts it)"]
async fn the_bus_sets_an_unreadable_record_aside_in_the_real_dead_letter_queue() {
    let (bus, sqs, url) = bus_to_queue().await;
    let dlq = sqs
        .create_queue()
        .queue_name(format!("dlq-{}", uuid::Uuid::new_v4().simple()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let dlq = dlq.queue_url().unwrap_or_default().to_string();
    let bus = bus.with_dead_letters(sqs.clone(), dlq.clone());
    let event = sample_without_the_users_document();
    let answer = scim_lambda::events::stream::handle(&event, &issuer(), &bus).await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    let published = drain(&sqs, &url, 1).await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["detail-type"], "Group Member Added");
    let out = sqs
        .receive_message()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let bodies: Vec<Value> = out
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap_or_default()).unwrap_or(Value::Null))
        .collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(
        bodies[0]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("unreadable stream record"))
    );
    let record: Value = serde_json::from_str(bodies[0]["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(record["eventID"], "c4ca4238a0b923820dcc509a6f75849b");
}

/// The sample stream batch, its first record (the user's) made unreadable:
/// its new image has lost the document.
fn sample_without_the_users_document() -> aws_lambda_events::dynamodb::Event {
    let path = format!(
        "{}/events/dynamodb-stream-deactivate-and-add-member.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    if let Some(image) = event["Records"][0]["dynamodb"]["NewImage"].as_object_mut() {
        image.remove("doc");
    }
    serde_json::from_value(event).unwrap_or_else(|e| panic!("{e}"))
}
