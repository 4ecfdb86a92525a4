//! Removing a tenant: the time and DynamoDB requests `tenant remove` spends
//! on a tenant of n users and a group of n members, beside another tenant
//! that must keep every item. Both drivers.

mod support;

use std::time::Instant;

use scim_lambda::scim::resource::Meta;
use scim_lambda::store::{Directory, Edge, Stored, Table};
use scim_lambda::tenant::{Tenant, TenantId};
use serde_json::json;
use support::{describe, median};

const RUNS: usize = 3;

fn tenant(name: &str) -> Tenant {
    Tenant::Named(TenantId::parse(name).unwrap_or_else(|e| panic!("{e}")))
}

fn stored(i: usize, doc: serde_json::Value) -> Stored {
    Stored {
        meta: Meta {
            id: uuid::Uuid::new_v4().to_string(),
            created: "2026-01-01T00:00:00Z".into(),
            last_modified: "2026-01-01T00:00:00Z".into(),
            version: i as u64 + 1,
        },
        doc: doc.as_object().cloned().unwrap_or_default(),
    }
}

/// n users (each with an email) and one group holding them all.
async fn populate(dir: &Directory, n: usize) {
    for start in (0..n).step_by(5_000) {
        let users: Vec<Stored> = (start..(start + 5_000).min(n))
            .map(|i| {
                stored(
                    0,
                    json!({"userName": format!("user{i}"), "emails": [{"value": format!("user{i}@bench.local")}]}),
                )
            })
            .collect();
        dir.import(scim_lambda::scim::Kind::User, &users)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let group = stored(0, json!({"displayName": format!("Group {start}")}));
        dir.import(scim_lambda::scim::Kind::Group, std::slice::from_ref(&group))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let edges: Vec<Edge> = users
            .iter()
            .map(|u| Edge {
                group_id: group.meta.id.clone(),
                member_id: u.meta.id.clone(),
                member_type: scim_lambda::scim::Kind::User,
            })
            .collect();
        dir.write_edges(&edges, &[])
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    }
}

/// Every item of the table, as (pk, sk), sorted.
async fn keys(table: &Table) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = table
            .scan(after.as_ref(), usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        out.extend(page.items.iter().map(|i| (i.key().pk, i.key().sk)));
        match page.items.last() {
            Some(last) if page.more => after = Some(last.key()),
            _ => break,
        }
    }
    out.sort();
    out
}

/// One run: populate two tenants, remove one; (seconds, items deleted,
/// requests) after checking that all and only its items went.
async fn run(table: Table, n: usize) -> (f64, usize, String) {
    let gone = Directory::of(table.clone(), &tenant("gone"));
    let kept = Directory::of(table.clone(), &tenant("kept"));
    populate(&gone, n).await;
    populate(&kept, n / 10).await;
    let before = keys(&table).await;
    let requests = table.requests();
    let started = Instant::now();
    let deleted = scim_lambda::admin::remove_all(&gone, 1000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seconds = started.elapsed().as_secs_f64();
    let made = table.requests() - requests;
    let after = keys(&table).await;
    let want: Vec<_> = before
        .into_iter()
        .filter(|(pk, _)| !pk.starts_with("T#gone#"))
        .collect();
    assert_eq!(after, want, "not exactly the removed tenant's items went");
    (seconds, deleted, describe(&made))
}

#[tokio::main]
async fn main() {
    if !support::invoked_as_benchmark("tenants") {
        return;
    }
    let n = 10_000;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut rows = Vec::new();
    let mut raw = serde_json::Map::new();
    for driver in ["embedded (redb)", "DynamoDB Local"] {
        let mut times = Vec::new();
        let mut last = (0, String::new());
        for _ in 0..RUNS {
            let table = if driver.starts_with("embedded") {
                support::embedded_table(dir.path())
            } else {
                match support::dynamodb_table().await {
                    Some(t) => t,
                    None => break,
                }
            };
            let (s, deleted, requests) = run(table, n).await;
            times.push(s);
            last = (deleted, requests);
        }
        if times.is_empty() {
            continue;
        }
        raw.insert(driver.into(), json!(times));
        rows.push((driver, median(times), last));
    }
    println!(
        "\n## Removing a tenant of {n} users (1 email each) in groups of 5,000 members, beside a tenant of {} ({RUNS} runs)\n",
        n / 10
    );
    println!("| driver | median s [min–max] | items deleted | DynamoDB requests |");
    println!("|---|---|---|---|");
    for (driver, (m, lo, hi), (deleted, requests)) in &rows {
        println!("| {driver} | {m:.2} [{lo:.2}–{hi:.2}] | {deleted} | {requests} |");
    }
    support::write_json("tenants.json", &json!({"users": n, "removal_seconds": raw}));
}
