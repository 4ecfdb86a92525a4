//! Index paging at depth: the first page of 100 users against the page at
//! `startIndex = n − 199` (each after the page before it, as an Okta import
//! reads them), with and without the users' groups, and a whole Okta-style
//! import (`startIndex=1, 101, …`, count=100, with groups) against n/100
//! times the first page. The users of the two measured pages are in 3
//! groups each. The embedded store holds `SCIM_BENCH_USERS`
//! users (1,000,000 by default), DynamoDB Local (when
//! `AWS_ENDPOINT_URL_DYNAMODB` is set) `SCIM_BENCH_DYNAMODB_USERS`
//! (100,000).
//! Medians of several runs; prints Markdown and writes
//! `target/bench/paging.json`.

mod support;

use std::time::{Duration, Instant};

use scim_lambda::scim::Kind;
use scim_lambda::store::{Edge, Requests};
use serde_json::{Value, json};
use support::{Bench, describe, median};

const RUNS: usize = 5;
const IMPORT_RUNS: usize = 3;
const COUNT: usize = 100;

fn users_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn page(start: usize, query: &str) -> String {
    format!("/scim/v2/Users?startIndex={start}&count={COUNT}{query}")
}

/// The page at `start`, read RUNS times after the page before it was read
/// (when there is one): its times and the requests of the last run.
async fn measure(b: &Bench, start: usize, query: &str) -> (Vec<f64>, Requests) {
    let mut times = Vec::with_capacity(RUNS);
    let mut requests = Requests::default();
    if start > COUNT {
        let before = b.send("GET", &page(start - COUNT, query), None).await;
        assert_eq!(before.status, 200, "{}", before.body);
        println!(
            "(the page before it, a jump nobody prepared: {:.0} ms · {})\n",
            ms(before.elapsed),
            describe(&before.requests)
        );
    }
    for _ in 0..RUNS {
        let c = b.send("GET", &page(start, query), None).await;
        assert_eq!(c.status, 200, "{}", c.body);
        assert_eq!(
            c.body["Resources"].as_array().map(Vec::len),
            Some(COUNT),
            "page at {start}"
        );
        times.push(ms(c.elapsed));
        requests = c.requests;
    }
    (times, requests)
}

/// A whole import: every page, each after the one before; the time, the
/// requests and the users read.
async fn import(b: &Bench) -> (Duration, Requests, usize) {
    let started = Instant::now();
    let before = b.table.requests();
    let (mut start, mut read) = (1, 0);
    loop {
        let c = b.send("GET", &page(start, ""), None).await;
        assert_eq!(c.status, 200, "{}", c.body);
        let got = c.body["Resources"].as_array().map_or(0, Vec::len);
        read += got;
        start += got;
        let total = c.body["totalResults"].as_u64().unwrap_or(0) as usize;
        if got == 0 || start > total {
            return (started.elapsed(), b.table.requests() - before, read);
        }
    }
}

fn cell(times: &[f64], r: &Requests) -> String {
    let (m, lo, hi) = median(times.to_vec());
    format!("{m:.2} [{lo:.2}–{hi:.2}] ms · {}", describe(r))
}

async fn run(name: &str, b: &Bench, n: usize, imports: usize) -> Value {
    let started = Instant::now();
    let mut ids = b.import_users(n).await;
    ids.sort();
    let loaded = started.elapsed();
    // The users of the first and the last page in 3 groups each.
    let mut edges = Vec::new();
    for g in 0..3 {
        let gid = b.group(&format!("Paging {g}")).await;
        for id in ids[..COUNT].iter().chain(&ids[n - 2 * COUNT..n - COUNT]) {
            edges.push(Edge {
                group_id: gid.clone(),
                member_id: id.clone(),
                member_type: Kind::User,
            });
        }
    }
    b.dir
        .write_edges(&edges, &[])
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    println!(
        "\n## Index pages of {COUNT} among {n} users ({name}, {RUNS} runs, loaded in {:.0} s)\n",
        loaded.as_secs_f64()
    );
    let deep = n - 2 * COUNT + 1;
    println!(
        "| page | first (startIndex=1) | near the end (startIndex={deep}) | near/first time |"
    );
    println!("|---|---|---|---|");
    let mut raw = serde_json::Map::new();
    for (label, query) in [
        ("excludedAttributes=groups", "&excludedAttributes=groups"),
        ("with groups (3 each)", ""),
    ] {
        let (first, first_req) = measure(b, 1, query).await;
        let (last, last_req) = measure(b, deep, query).await;
        let ratio = median(last.clone()).0 / median(first.clone()).0;
        println!(
            "| {label} | {} | {} | {ratio:.2} |",
            cell(&first, &first_req),
            cell(&last, &last_req)
        );
        raw.insert(
            label.into(),
            json!({"first_ms": first, "last_ms": last, "first_requests": describe(&first_req), "last_requests": describe(&last_req)}),
        );
    }
    if imports > 0 {
        let (one, one_req) = measure(b, 1, "").await;
        let one_ms = median(one).0;
        let mut times = Vec::new();
        let mut requests = Requests::default();
        for _ in 0..imports {
            let (t, r, read) = import(b).await;
            assert_eq!(read, n, "the import read every user once");
            times.push(t.as_secs_f64());
            requests = r;
        }
        let pages = n.div_ceil(COUNT);
        let (m, lo, hi) = median(times.clone());
        let expect_s = one_ms * pages as f64 / 1000.0;
        println!(
            "\nWhole import, {pages} pages with groups ({imports} runs): {m:.1} s [{lo:.1}–{hi:.1}], \
             {} requests ({}); {pages} × the first page: {expect_s:.1} s, {} requests; ratio {:.2}",
            requests.total(),
            describe(&requests),
            one_req.total() * pages as u64,
            m / expect_s
        );
        raw.insert(
            "import".into(),
            json!({"seconds": times, "requests": describe(&requests), "requests_total": requests.total(), "first_page_ms": one_ms, "pages": pages}),
        );
    }
    Value::Object(raw)
}

#[tokio::main]
async fn main() {
    if !support::invoked_as_benchmark("paging") {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let imports = users_from_env("SCIM_BENCH_IMPORT_RUNS", IMPORT_RUNS);
    let n = users_from_env("SCIM_BENCH_USERS", 1_000_000);
    let mut raw = serde_json::Map::new();
    let b = Bench::over(support::embedded_table(dir.path()));
    raw.insert(
        "embedded".into(),
        run("embedded (redb)", &b, n, imports).await,
    );
    drop(b);
    if let Some(table) = support::dynamodb_table().await {
        let n = users_from_env("SCIM_BENCH_DYNAMODB_USERS", 100_000);
        let b = Bench::over(table);
        raw.insert(
            "dynamodb_local".into(),
            run("DynamoDB Local", &b, n, imports.min(1)).await,
        );
    }
    support::write_json("paging.json", &Value::Object(raw));
}
