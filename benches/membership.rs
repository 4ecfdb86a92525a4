//! Membership at scale: the DynamoDB requests each group operation makes on
//! a group of 10 and of 100,000 members (counted in the table handle, the
//! same on both drivers), and the time to PATCH-add 10,000 members, on the
//! embedded driver and, when `AWS_ENDPOINT_URL_DYNAMODB` points at DynamoDB
//! Local, on DynamoDB. Run by `scripts/bench`; prints Markdown tables and
//! writes `target/bench/membership.json`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use scim_lambda::auth::Auth;
use scim_lambda::config::Config;
use scim_lambda::scim::resource::Meta;
use scim_lambda::scim::schema::USER_TYPE;
use scim_lambda::store::{Directory, Requests, Stored, Table};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "bench-token";
const RUNS: usize = 5;

struct Bench {
    router: Router,
    table: Table,
    dir: Directory,
}

impl Bench {
    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
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
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|e| match e {});
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn counted(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Requests) {
        let before = self.table.requests();
        let (status, _) = self.send(method, path, body).await;
        (status, self.table.requests() - before)
    }

    async fn import_users(&self, n: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        for chunk_start in (0..n).step_by(10_000) {
            let batch: Vec<Stored> = (chunk_start..(chunk_start + 10_000).min(n))
                .map(|i| {
                    let mut doc = serde_json::Map::new();
                    doc.insert(
                        "userName".into(),
                        json!(format!("user{i}-{}@bench.local", uuid::Uuid::new_v4())),
                    );
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
                .import(&USER_TYPE, &batch)
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
            ids.extend(batch.into_iter().map(|s| s.meta.id));
        }
        ids
    }

    async fn group(&self, name: &str) -> String {
        let (status, body) = self
            .send(
                "POST",
                "/scim/v2/Groups?excludedAttributes=members",
                Some(json!({"displayName": name})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap_or_default().to_string()
    }

    async fn add(&self, gid: &str, ids: &[String]) -> (u16, Requests) {
        let values: Vec<Value> = ids.iter().map(|i| json!({"value": i})).collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": values}]});
        self.counted("PATCH", &format!("/scim/v2/Groups/{gid}"), Some(body))
            .await
    }
}

fn router_over(table: Table) -> Bench {
    let mut config = Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
    config.delete_cleanup_budget = std::time::Duration::from_secs(25);
    let router = scim_lambda::app_router(&config, table.clone(), Auth::fixed(TOKEN.into()));
    Bench {
        router,
        dir: Directory::new(table.clone()),
        table,
    }
}

fn describe(r: &Requests) -> String {
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

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Requests per operation on groups of `sizes` members.
async fn costs(b: &Bench, sizes: &[usize]) -> Vec<(String, Vec<String>)> {
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let users = b.import_users(largest + 4).await;
    let mut rows: Vec<(String, Vec<String>)> = [
        "PATCH add 1 member (204)",
        "PATCH remove 1 member (204)",
        "GET group, excludedAttributes=members",
        "GET group with members",
        "GET user (with its groups)",
        "GET /Groups?filter=members.value eq",
        "DELETE group (all edges removed inline)",
    ]
    .iter()
    .map(|s| (s.to_string(), Vec::new()))
    .collect();
    for &size in sizes {
        let gid = b.group(&format!("g{size}")).await;
        for chunk in users[..size].chunks(10_000) {
            let (status, _) = b.add(&gid, chunk).await;
            assert_eq!(status, 204);
        }
        let extra = &users[largest + 1];
        let path = format!("/scim/v2/Groups/{gid}");
        let (_, r) = b.add(&gid, std::slice::from_ref(extra)).await;
        rows[0].1.push(describe(&r));
        let rm = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{extra}\"]")}]});
        let (_, r) = b.counted("PATCH", &path, Some(rm)).await;
        rows[1].1.push(describe(&r));
        let (_, r) = b
            .counted("GET", &format!("{path}?excludedAttributes=members"), None)
            .await;
        rows[2].1.push(describe(&r));
        let (status, r) = b.counted("GET", &path, None).await;
        rows[3].1.push(if status == 200 {
            describe(&r)
        } else {
            format!("{status} tooMany after {}", describe(&r))
        });
        let (_, r) = b
            .counted("GET", &format!("/scim/v2/Users/{}", users[0]), None)
            .await;
        rows[4].1.push(describe(&r));
        let filter: String = form_urlencoded::byte_serialize(
            format!("members.value eq \"{}\"", users[0]).as_bytes(),
        )
        .collect();
        let (_, r) = b
            .counted(
                "GET",
                &format!("/scim/v2/Groups?excludedAttributes=members&filter={filter}"),
                None,
            )
            .await;
        rows[5].1.push(describe(&r));
        let started = Instant::now();
        let (status, r) = b.counted("DELETE", &path, None).await;
        assert_eq!(status, 204);
        rows[6].1.push(format!(
            "{} in {:.2} s",
            describe(&r),
            started.elapsed().as_secs_f64()
        ));
    }
    rows
}

/// Seconds to PATCH-add 10,000 members to an empty group, per run.
async fn add_10k(b: &Bench) -> Vec<f64> {
    let users = b.import_users(10_000).await;
    let mut times = Vec::new();
    for run in 0..RUNS {
        let gid = b.group(&format!("add10k-{run}")).await;
        let started = Instant::now();
        let (status, _) = b.add(&gid, &users).await;
        times.push(started.elapsed().as_secs_f64());
        assert_eq!(status, 204);
    }
    times
}

async fn dynamodb_table() -> Option<Table> {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok()?;
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

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this
    // target too, and must not spend minutes on it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("membership benchmark: run with scripts/bench (cargo bench --bench membership)");
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let embedded = || {
        let path = dir.path().join(format!("{}.redb", uuid::Uuid::new_v4()));
        let db =
            scim_lambda::store::embedded::Embedded::open(&path).unwrap_or_else(|e| panic!("{e}"));
        Table::new(Arc::new(db))
    };
    let sizes = [10, 100_000];
    println!(
        "## DynamoDB requests per group operation (embedded driver; same count on DynamoDB)\n"
    );
    let rows = costs(&router_over(embedded()), &sizes).await;
    println!(
        "| operation | group of {} | group of {} |",
        sizes[0], sizes[1]
    );
    println!("|---|---|---|");
    for (op, cells) in &rows {
        println!("| {op} | {} |", cells.join(" | "));
    }
    let mut timings = serde_json::Map::new();
    let mut table_rows = Vec::new();
    let t = add_10k(&router_over(embedded())).await;
    table_rows.push(("embedded (redb)", median(t.clone())));
    timings.insert("embedded".into(), json!(t));
    if let Some(table) = dynamodb_table().await {
        let t = add_10k(&router_over(table)).await;
        table_rows.push(("DynamoDB Local", median(t.clone())));
        timings.insert("dynamodb_local".into(), json!(t));
    }
    println!("\n## PATCH-add 10,000 members to an empty group ({RUNS} runs)\n");
    println!("| driver | median s | min s | max s |");
    println!("|---|---|---|---|");
    for (name, (m, lo, hi)) in &table_rows {
        println!("| {name} | {m:.2} | {lo:.2} | {hi:.2} |");
    }
    let out = json!({"requests": rows.iter().map(|(op, c)| json!({"operation": op, "by_size": c})).collect::<Vec<_>>(),
        "group_sizes": sizes, "add_10k_seconds": timings});
    let _ = std::fs::create_dir_all("target/bench");
    let _ = std::fs::write(
        "target/bench/membership.json",
        serde_json::to_string_pretty(&out).unwrap_or_default(),
    );
}
