//! Scale curves on the embedded driver: time and DynamoDB requests of
//! PATCH-add-one-member, GET-without-members and a member's GET (with its
//! groups) as a group grows 10 → 1,000 → 100,000 members; a cursor page of
//! 100 users at the start and at the end of 100,000 users; and the time to
//! PATCH-add 10,000 members on both drivers (DynamoDB Local when
//! `AWS_ENDPOINT_URL_DYNAMODB` is set). Medians of several runs; prints
//! Markdown and writes `target/bench/scale.json`.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Bench, Cost, describe, encode, median, remove_member};

const RUNS: usize = 7;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn fmt((m, lo, hi): (f64, f64, f64)) -> String {
    format!("{m:.2} [{lo:.2}–{hi:.2}]")
}

/// Runs `op` RUNS times; the time figures and the requests of the last run
/// (they are the same each run).
async fn timed<F, Fut>(mut op: F) -> ((f64, f64, f64), String, Vec<f64>)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Cost>,
{
    let mut times = Vec::with_capacity(RUNS);
    let mut requests = String::new();
    for run in 0..RUNS {
        let c = op(run).await;
        assert!(c.status < 300, "{} {}", c.status, c.body);
        times.push(ms(c.elapsed));
        requests = describe(&c.requests);
    }
    (median(times.clone()), requests, times)
}

async fn group_curves(b: &Bench, sizes: &[usize]) -> (Vec<(String, Vec<String>)>, Value) {
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let users = b.import_users(largest + RUNS * sizes.len()).await;
    let mut rows: Vec<(String, Vec<String>)> = [
        "PATCH add 1 member (204)",
        "GET group, excludedAttributes=members",
        "GET a member user (with its groups)",
    ]
    .iter()
    .map(|s| (s.to_string(), Vec::new()))
    .collect();
    let mut raw = Vec::new();
    for (round, &size) in sizes.iter().enumerate() {
        let gid = b.group(&format!("g{size}")).await;
        b.fill(&gid, &users[..size]).await;
        let extra = &users[largest + round * RUNS..largest + (round + 1) * RUNS];
        let (add, add_req, add_raw) =
            timed(|run| b.add(&gid, std::slice::from_ref(&extra[run]))).await;
        for id in extra {
            b.send(
                "PATCH",
                &format!("/scim/v2/Groups/{gid}"),
                Some(remove_member(id)),
            )
            .await;
        }
        let path = format!("/scim/v2/Groups/{gid}?excludedAttributes=members");
        let (get, get_req, get_raw) = timed(|_| b.send("GET", &path, None)).await;
        let member = format!("/scim/v2/Users/{}", users[0]);
        let (user, user_req, user_raw) = timed(|_| b.send("GET", &member, None)).await;
        for (row, (t, r)) in rows
            .iter_mut()
            .zip([(add, add_req), (get, get_req), (user, user_req)])
        {
            row.1.push(format!("{} ms · {r}", fmt(t)));
        }
        raw.push(json!({"group_size": size, "add_ms": add_raw, "get_without_members_ms": get_raw, "member_get_ms": user_raw}));
        b.send("DELETE", &format!("/scim/v2/Groups/{gid}"), None)
            .await;
    }
    (rows, json!(raw))
}

/// A cursor page of 100 at the start, the second page and the last page of
/// `n` users; each page's cursor is reached by walking the pages.
async fn cursor_pages(b: &Bench, n: usize) -> (Vec<(String, String)>, Value) {
    b.import_users(n).await;
    let page = |cursor: &str| {
        format!(
            "/scim/v2/Users?count=100&excludedAttributes=groups&cursor={}",
            encode(cursor)
        )
    };
    let mut cursors = vec![String::new()];
    loop {
        let c = b
            .send(
                "GET",
                &page(cursors.last().map_or("", String::as_str)),
                None,
            )
            .await;
        match c.body["nextCursor"].as_str() {
            Some(next) => cursors.push(next.to_string()),
            None => break,
        }
    }
    let last = cursors.len() - 1;
    let mut rows = Vec::new();
    let mut raw = serde_json::Map::new();
    for (name, index) in [
        ("first page (offset 0, with the totalResults count)", 0),
        ("second page (offset 100)", 1),
        ("last page (offset ~n−100)", last),
    ] {
        let path = page(&cursors[index]);
        let (t, r, times) = timed(|_| b.send("GET", &path, None)).await;
        rows.push((name.to_string(), format!("{} ms · {r}", fmt(t))));
        raw.insert(name.into(), json!(times));
    }
    (rows, Value::Object(raw))
}

/// Seconds to PATCH-add 10,000 members to an empty group, per run.
async fn add_10k(b: &Bench) -> Vec<f64> {
    let users = b.import_users(10_000).await;
    let mut times = Vec::new();
    for run in 0..5 {
        let gid = b.group(&format!("add10k-{run}")).await;
        let c = b.add(&gid, &users).await;
        assert_eq!(c.status, 204, "{}", c.body);
        times.push(c.elapsed.as_secs_f64());
    }
    times
}

/// The most work one PATCH may ask of a group of 10,000 members: the
/// 1,000 operations allowed, 10 of them removals by a filter on the
/// members' type (each evaluated over every member), the other 990 adding
/// 10 members each (9,900 named, under the 10,000 a request may name).
/// Seconds per run, each on a fresh group of 10,000.
async fn largest_patch(b: &Bench) -> Vec<f64> {
    let users = b.import_users(10_000 + 9_900).await;
    let (members, added) = users.split_at(10_000);
    let mut ops: Vec<Value> = (0..10)
        .map(|_| json!({"op": "remove", "path": "members[type eq \"User\"]"}))
        .collect();
    ops.extend(added.chunks(10).map(|c| {
        let values: Vec<Value> = c.iter().map(|i| json!({"value": i})).collect();
        json!({"op": "add", "path": "members", "value": values})
    }));
    let body =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let mut times = Vec::new();
    for run in 0..5 {
        let gid = b.group(&format!("largest-{run}")).await;
        b.fill(&gid, members).await;
        let c = b
            .send(
                "PATCH",
                &format!("/scim/v2/Groups/{gid}"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(c.status, 204, "{}", c.body);
        times.push(c.elapsed.as_secs_f64());
    }
    times
}

#[tokio::main]
async fn main() {
    if !support::invoked_as_benchmark("scale") {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sizes = [10, 1_000, 100_000];
    let (rows, groups_raw) =
        group_curves(&Bench::over(support::embedded_table(dir.path())), &sizes).await;
    println!(
        "## Scale: group operations as the group grows (embedded driver, {RUNS} runs, ms median [min–max] · DynamoDB requests)\n"
    );
    let headers: Vec<String> = sizes.iter().map(|s| format!("group of {s}")).collect();
    println!("| operation | {} |", headers.join(" | "));
    println!("|---|{}", "---|".repeat(sizes.len()));
    for (op, cells) in &rows {
        println!("| {op} | {} |", cells.join(" | "));
    }

    let n = 100_000;
    let (pages, pages_raw) =
        cursor_pages(&Bench::over(support::embedded_table(dir.path())), n).await;
    println!("\n## Scale: a cursor page of 100 among {n} users (embedded driver, {RUNS} runs)\n");
    println!("| page | ms median [min–max] · DynamoDB requests |");
    println!("|---|---|");
    for (name, cell) in &pages {
        println!("| {name} | {cell} |");
    }

    let mut add_raw = serde_json::Map::new();
    let mut add_rows = Vec::new();
    let t = add_10k(&Bench::over(support::embedded_table(dir.path()))).await;
    add_rows.push(("embedded (redb)", median(t.clone())));
    add_raw.insert("embedded".into(), json!(t));
    if let Some(table) = support::dynamodb_table().await {
        let t = add_10k(&Bench::over(table)).await;
        add_rows.push(("DynamoDB Local", median(t.clone())));
        add_raw.insert("dynamodb_local".into(), json!(t));
    }
    println!("\n## PATCH-add 10,000 members to an empty group (5 runs)\n");
    println!("| driver | median s | min s | max s |");
    println!("|---|---|---|---|");
    for (name, (m, lo, hi)) in &add_rows {
        println!("| {name} | {m:.2} | {lo:.2} | {hi:.2} |");
    }
    let mut largest_raw = serde_json::Map::new();
    let mut largest_rows = Vec::new();
    let t = largest_patch(&Bench::over(support::embedded_table(dir.path()))).await;
    largest_rows.push(("embedded (redb)", median(t.clone())));
    largest_raw.insert("embedded".into(), json!(t));
    if let Some(table) = support::dynamodb_table().await {
        let t = largest_patch(&Bench::over(table)).await;
        largest_rows.push(("DynamoDB Local", median(t.clone())));
        largest_raw.insert("dynamodb_local".into(), json!(t));
    }
    println!(
        "\n## The largest PATCH allowed, on a group of 10,000: 1,000 operations, 10 filtered removals, 9,900 members added (5 runs)\n"
    );
    println!("| driver | median s | min s | max s |");
    println!("|---|---|---|---|");
    for (name, (m, lo, hi)) in &largest_rows {
        println!("| {name} | {m:.2} | {lo:.2} | {hi:.2} |");
    }
    support::write_json(
        "scale.json",
        &json!({"groups": groups_raw, "cursor_pages_ms": pages_raw, "users": n,
            "add_10k_seconds": add_raw, "largest_patch_seconds": largest_raw}),
    );
}
