//! Change events: how fast the local webhook path delivers, what the
//! stream front door costs per 1,000 changes, and the lag from a SCIM
//! write's answer to its event's publication on DynamoDB Local.
//!
//! - Webhook: n users created by POST on the embedded store, then the
//!   delivery pushes every event to a loopback receiver answering 202.
//! - Cost: 1,000 creations on DynamoDB Local; the stream is read as
//!   Lambda reads it (GetRecords of up to 100, Lambda's batch here) and
//!   handed to the front door, whose PutEvents calls are counted.
//! - Lag: users created one at a time while a reader polls the stream 4
//!   times a second (as Lambda polls a shard) and publishes.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use scim_lambda::events::Issuer;
use scim_lambda::events::eventbridge::{Entry, Sink};
use serde_json::{Value, json};
use support::{Bench, median};

const RUNS: usize = 3;

fn user(i: usize) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("user{i}-{}", uuid::Uuid::new_v4())})
}

fn issuer() -> Issuer {
    Issuer {
        base_url: "http://127.0.0.1/scim/v2".into(),
        audience: None,
        schemas: Arc::new(scim_lambda::scim::schemas::Schemas::builtin()),
    }
}

/// `n` users created by POST, one after another.
async fn create_users(bench: &Bench, n: usize) {
    for i in 0..n {
        let c = bench.send("POST", "/scim/v2/Users", Some(user(i))).await;
        assert_eq!(c.status, 201, "{}", c.body);
    }
}

/// Events per second from the embedded change log to a loopback webhook.
async fn webhook_rate(n: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bench = Bench::over(support::embedded_table(dir.path()));
    create_users(&bench, n).await;
    let got = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback({
        let got = Arc::clone(&got);
        move || async move {
            got.fetch_add(1, Ordering::SeqCst);
            axum::http::StatusCode::ACCEPTED
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}/hook",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut config =
        scim_lambda::config::Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
    config.events.webhook_url = Some(url);
    config.events.signing_key = Some("bench-signing-key-0123456789abcdef".into());
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let table = bench.table.clone();
    let started = Instant::now();
    let task = tokio::spawn(async move {
        let stop = async move {
            let _ = stop_rx.changed().await;
        };
        scim_lambda::deliver_events(&config, &table, issuer(), stop).await;
    });
    while got.load(Ordering::SeqCst) < n {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let _ = task.await;
    n as f64 / seconds
}

/// Counts PutEvents calls and entries, and when each subject was published.
#[derive(Default)]
struct Counting {
    calls: AtomicUsize,
    entries: AtomicUsize,
    published: Mutex<Vec<(String, Instant)>>,
}

#[async_trait]
impl Sink for Counting {
    async fn put(&self, entries: &[Entry]) -> Result<Vec<bool>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.entries.fetch_add(entries.len(), Ordering::SeqCst);
        let now = Instant::now();
        let mut p = self.published.lock().unwrap_or_else(|e| e.into_inner());
        p.extend(entries.iter().map(|e| (e.subject.clone(), now)));
        Ok(vec![true; entries.len()])
    }
    fn source(&self) -> &str {
        "scim-lambda"
    }
}

/// A streaming table in DynamoDB Local, its stream's ARN and a streams client.
async fn streaming_table() -> Option<(Bench, String, aws_sdk_dynamodbstreams::Client)> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok()?;
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "loopback only, not {endpoint}"
    );
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let name = format!("scim-bench-events-{}", uuid::Uuid::new_v4());
    scim_lambda::store::dynamo::create_streaming_table(&client, &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let arn = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .table()
        .and_then(|t| t.latest_stream_arn())
        .map(str::to_string)?;
    let conf = aws_sdk_dynamodbstreams::config::Builder::from(&aws)
        .endpoint_url(endpoint)
        .build();
    let driver = scim_lambda::store::dynamo::Dynamo::new(client, name);
    let table = scim_lambda::store::Table::new(Arc::new(driver));
    Some((
        Bench::over(table),
        arn,
        aws_sdk_dynamodbstreams::Client::from_conf(conf),
    ))
}

/// Reads the stream from its start, as Lambda does (batches of up to 100),
/// handing each batch to the front door; stops after `idle` polls that
/// found nothing. Returns GetRecords calls made.
async fn read_stream(
    streams: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
    sink: &Counting,
    pause: Duration,
    idle: usize,
) -> usize {
    let desc = streams
        .describe_stream()
        .stream_arn(arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let shard = desc
        .stream_description()
        .and_then(|d| d.shards().first())
        .and_then(|s| s.shard_id())
        .unwrap_or_default()
        .to_string();
    let mut it = streams
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .shard_iterator()
        .map(str::to_string);
    let (mut calls, mut empty) = (0, 0);
    while let Some(i) = it {
        let out = streams
            .get_records()
            .shard_iterator(i)
            .limit(100)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        calls += 1;
        if out.records().is_empty() {
            empty += 1;
            if empty >= idle {
                break;
            }
            tokio::time::sleep(pause).await;
        } else {
            empty = 0;
            let records: Vec<Value> = out
                .records()
                .iter()
                .map(|r| support::lambda_record(r, arn))
                .collect();
            let event = serde_json::from_value(json!({"Records": records}))
                .unwrap_or_else(|e| panic!("{e}"));
            let answer = scim_lambda::events::stream::handle(&event, &issuer(), sink).await;
            assert!(answer.batch_item_failures.is_empty());
        }
        it = out.next_shard_iterator().map(str::to_string);
    }
    calls
}

#[tokio::main]
async fn main() {
    if !support::invoked_as_benchmark("events") {
        return;
    }
    let n = 2000;
    let rates: Vec<f64> = {
        let mut v = Vec::new();
        for _ in 0..RUNS {
            v.push(webhook_rate(n).await);
        }
        v
    };
    let (rate, lo, hi) = median(rates.clone());
    println!("\n## Change events\n");
    println!("| figure | median [min–max] over {RUNS} runs |\n|---|---|");
    println!(
        "| events per second, embedded change log to a loopback webhook ({n} creations, one signed SET a POST) | {rate:.0} [{lo:.0}–{hi:.0}] |"
    );
    let mut raw = json!({"webhook_events_per_second": rates});
    if let Some((bench, arn, streams)) = streaming_table().await {
        create_users(&bench, 1000).await;
        let sink = Counting::default();
        let reads = read_stream(&streams, &arn, &sink, Duration::from_millis(10), 1).await;
        let (calls, entries) = (
            sink.calls.load(Ordering::SeqCst),
            sink.entries.load(Ordering::SeqCst),
        );
        println!(
            "| per 1,000 user creations on DynamoDB Local: events, PutEvents calls, GetRecords calls (batches of 100) | {entries} events, {calls} PutEvents, {reads} GetRecords |"
        );
        raw["per_1000_changes"] =
            json!({"events": entries, "put_events_calls": calls, "get_records_calls": reads});
        // Lag: one creation every 50 ms while the stream is polled 4 times
        // a second, from each answer to its event's PutEvents.
        let (bench, arn, streams) = streaming_table()
            .await
            .unwrap_or_else(|| panic!("no table"));
        let sink = Arc::new(Counting::default());
        let reader = {
            let (sink, arn, streams) = (Arc::clone(&sink), arn.clone(), streams.clone());
            tokio::spawn(async move {
                read_stream(&streams, &arn, &sink, Duration::from_millis(250), 12).await
            })
        };
        let mut answered = Vec::new();
        for i in 0..200 {
            let c = bench.send("POST", "/scim/v2/Users", Some(user(i))).await;
            answered.push((
                c.body["id"].as_str().unwrap_or_default().to_string(),
                Instant::now(),
            ));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = reader.await;
        let published = sink
            .published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let lags: Vec<f64> = answered
            .iter()
            .filter_map(|(id, at)| {
                let (_, p) = published.iter().find(|(s, _)| s.ends_with(id.as_str()))?;
                Some(p.saturating_duration_since(*at).as_secs_f64() * 1000.0)
            })
            .collect();
        let mut sorted = lags.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let p95 = sorted.get(sorted.len() * 95 / 100).copied().unwrap_or(0.0);
        let (m, lo, hi) = median(lags.clone());
        println!(
            "| commit-to-publish lag on DynamoDB Local, ms ({} of 200 creations published; stream polled every 250 ms) | median {m:.0}, p95 {p95:.0} [{lo:.0}–{hi:.0}] |",
            lags.len()
        );
        raw["lag_ms"] = json!(lags);
    }
    support::write_json("events.json", &raw);
}
