//! A Bulk request of 1,000 operations, as an IdP's first push would send it:
//! 999 users and one group naming them all by bulkId. Each run goes into a
//! fresh store through the router in process, with the default request
//! timeout (25 s, under Lambda's 28 s): how long the request takes, against
//! that deadline, and how many DynamoDB requests it makes. Prints Markdown
//! and writes `target/bench/bulk.json`.

mod support;

use serde_json::{Value, json};
use support::{Bench, dynamodb_table, embedded_table, invoked_as_benchmark, median, write_json};

const RUNS: usize = 3;
const USERS: usize = 999;

fn request() -> Value {
    let mut ops: Vec<Value> = (0..USERS)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                   "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                            "userName": format!("bulk{i:04}@example.com"),
                            "emails": [{"value": format!("bulk{i:04}@example.com"), "type": "work"}]}})
        })
        .collect();
    let members: Vec<Value> = (0..USERS)
        .map(|i| json!({"value": format!("bulkId:u{i}")}))
        .collect();
    // First, so that every member is a forward reference.
    ops.insert(
        0,
        json!({"method": "POST", "path": "/Groups", "bulkId": "g",
               "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": "Everyone", "members": members}}),
    );
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
}

async fn run(label: &str, make: impl AsyncFn() -> Bench) -> Value {
    let (mut secs, mut requests) = (Vec::new(), 0);
    for _ in 0..RUNS {
        let b = make().await;
        let cost = b.send("POST", "/scim/v2/Bulk", Some(request())).await;
        assert_eq!(cost.status, 200, "{}", cost.body);
        let ops = cost.body["Operations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(ops.len(), USERS + 1);
        assert!(ops.iter().all(|o| o["status"] == "201"), "{}", cost.body);
        secs.push(cost.elapsed.as_secs_f64());
        requests = cost.requests.total();
    }
    let (m, lo, hi) = median(secs);
    println!(
        "| {label} | {m:.2} [{lo:.2}–{hi:.2}] | {:.0}% | {requests} |",
        m / 25.0 * 100.0
    );
    json!({"store": label, "median_s": m, "min_s": lo, "max_s": hi, "dynamodb_requests": requests})
}

#[tokio::main]
async fn main() {
    if !invoked_as_benchmark("bulk") {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    println!(
        "| store | seconds, median [min–max] | of the 25 s request timeout | DynamoDB requests |"
    );
    println!("|---|---|---|---|");
    let mut rows = vec![run("embedded", async || Bench::over(embedded_table(dir.path()))).await];
    if dynamodb_table().await.is_some() {
        rows.push(
            run("DynamoDB Local", async || {
                Bench::over(
                    dynamodb_table()
                        .await
                        .unwrap_or_else(|| panic!("no DynamoDB Local")),
                )
            })
            .await,
        );
    }
    write_json("bulk.json", &json!(rows));
}
