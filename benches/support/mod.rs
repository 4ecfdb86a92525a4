//! What the in-process benchmarks share: a router over either driver, a
//! client that counts the DynamoDB requests (and, on DynamoDB, the capacity)
//! each SCIM request makes, fixtures written in bulk, and the figures'
//! formatting.

#![allow(dead_code)] // each benchmark uses its own part of this

#[path = "../../tests/support/exchange.rs"]
pub mod exchange;
#[path = "../../tests/support/stream_record.rs"]
mod stream_record;

#[allow(unused_imports)] // the events benchmark uses it
pub use stream_record::lambda_record;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use scim_lambda::auth::Auth;
use scim_lambda::config::Config;
use scim_lambda::scim::resource::Meta;
use scim_lambda::store::{Capacity, Directory, Requests, Stored, Table};
use serde_json::{Value, json};

pub const TOKEN: &str = "bench-token";

/// What one SCIM request cost.
pub struct Cost {
    pub status: u16,
    pub body: Value,
    pub requests: Requests,
    pub capacity: Option<Capacity>,
    pub elapsed: Duration,
}

pub struct Bench {
    pub router: Router,
    pub table: Table,
    pub dir: Directory,
}

impl Bench {
    /// A router as a deployment has it (default configuration, but a long
    /// delete budget and request timeout, so that deletes of the largest
    /// groups finish their cleanup inline).
    pub fn over(table: Table) -> Self {
        let mut config = Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
        config.limits.delete_cleanup_budget = Duration::from_secs(600);
        config.request_timeout = Duration::from_secs(3600);
        let router = scim_lambda::app_router(&config, table.clone(), Auth::fixed(TOKEN.into()))
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            router,
            dir: Directory::new(table.clone()),
            table,
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Cost {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "bench.local")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/scim+json")
            .body(
                body.map(|b| Body::from(b.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let (requests, capacity) = (self.table.requests(), self.table.consumed());
        let started = Instant::now();
        let (status, _, bytes) = exchange::exchange(&self.router, req).await;
        let elapsed = started.elapsed();
        Cost {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            requests: self.table.requests() - requests,
            capacity: self
                .table
                .consumed()
                .zip(capacity)
                .map(|(after, before)| after - before),
            elapsed,
        }
    }

    /// `n` users written straight to the table in batches (creating them by
    /// POST would be one transaction each).
    pub async fn import_users(&self, n: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        for chunk_start in (0..n).step_by(10_000) {
            let batch: Vec<Stored> = (chunk_start..(chunk_start + 10_000).min(n))
                .map(|i| {
                    let mut doc = serde_json::Map::new();
                    doc.insert(
                        "userName".into(),
                        json!(format!("user{i}-{}@bench.local", uuid::Uuid::new_v4())),
                    );
                    doc.insert("displayName".into(), json!(format!("User {i}")));
                    Stored {
                        meta: Meta {
                            id: uuid::Uuid::new_v4().to_string(),
                            created: "2026-01-01T00:00:00Z".into(),
                            last_modified: "2026-01-01T00:00:00Z".into(),
                            version: 1,
                        },
                        doc,
                    }
                })
                .collect();
            self.dir
                .import(scim_lambda::scim::Kind::User, &batch)
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
            ids.extend(batch.into_iter().map(|s| s.meta.id));
        }
        ids
    }

    /// A new group with no members; its id.
    pub async fn group(&self, name: &str) -> String {
        let c = self
            .send(
                "POST",
                "/scim/v2/Groups?excludedAttributes=members",
                Some(json!({"displayName": name})),
            )
            .await;
        assert_eq!(c.status, 201, "{}", c.body);
        c.body["id"].as_str().unwrap_or_default().to_string()
    }

    /// PATCH-adds members, as IdPs do.
    pub async fn add(&self, gid: &str, ids: &[String]) -> Cost {
        self.send(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}"),
            Some(add_members(ids)),
        )
        .await
    }

    /// Fills a group with `ids`, 10,000 (the per-request limit) at a time.
    pub async fn fill(&self, gid: &str, ids: &[String]) {
        for chunk in ids.chunks(10_000) {
            let c = self.add(gid, chunk).await;
            assert_eq!(c.status, 204, "{}", c.body);
        }
    }
}

pub fn add_members(ids: &[String]) -> Value {
    let values: Vec<Value> = ids.iter().map(|i| json!({"value": i})).collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": values}]})
}

pub fn remove_member(id: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]})
}

pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// "4 (1 GetItem, 3 Query)".
pub fn describe(r: &Requests) -> String {
    let mut parts = Vec::new();
    for (n, name) in [
        (r.get_item, "GetItem"),
        (r.query, "Query"),
        (r.put_or_delete_item, "PutItem/DeleteItem"),
        (r.update_item, "UpdateItem"),
        (r.transact_write_items, "TransactWriteItems"),
        (r.batch_get_item, "BatchGetItem"),
        (r.batch_write_item, "BatchWriteItem"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {name}"));
        }
    }
    format!("{} ({})", r.total(), parts.join(", "))
}

/// (median, min, max).
pub fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

pub fn embedded_table(dir: &std::path::Path) -> Table {
    let path = dir.join(format!("{}.redb", uuid::Uuid::new_v4()));
    let db = scim_lambda::store::embedded::Embedded::open(&path).unwrap_or_else(|e| panic!("{e}"));
    Table::new(Arc::new(db))
}

/// A fresh table in DynamoDB Local, when `AWS_ENDPOINT_URL_DYNAMODB` points
/// at it (scripts/bench starts it).
pub async fn dynamodb_table() -> Option<Table> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok()?;
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "benchmarks only talk to loopback, not {endpoint}"
    );
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let name = format!("scim-bench-{}", uuid::Uuid::new_v4());
    scim_lambda::store::dynamo::create_table(&client, &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Some(Table::new(Arc::new(
        scim_lambda::store::dynamo::Dynamo::new(client, name),
    )))
}

/// `cargo bench` passes --bench; `cargo test --all-targets` runs bench
/// targets too, and must not spend minutes on them.
pub fn invoked_as_benchmark(name: &str) -> bool {
    if std::env::args().any(|a| a == "--bench") {
        return true;
    }
    println!("{name} benchmark: run with scripts/bench (cargo bench --bench {name})");
    false
}

pub fn write_json(file: &str, value: &Value) {
    let _ = std::fs::create_dir_all("target/bench");
    let _ = std::fs::write(
        format!("target/bench/{file}"),
        serde_json::to_string_pretty(value).unwrap_or_default(),
    );
}
