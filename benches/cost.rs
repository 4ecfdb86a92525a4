//! DynamoDB cost per SCIM operation: for each operation and query shape, the
//! DynamoDB requests by API and the capacity units DynamoDB reports
//! (`ReturnConsumedCapacity`), next to the minimum the single-table model
//! allows, on groups of 10 and of 100,000 members. Runs against DynamoDB
//! Local (`AWS_ENDPOINT_URL_DYNAMODB`; scripts/bench starts it); prints
//! Markdown and writes `target/bench/cost.json`.
//!
//! DynamoDB Local reports capacity as DynamoDB would bill it (per 4 KB read,
//! per 1 KB written, transactional writes twice); it does not emulate its
//! latency, so no times are given here.

mod support;

use scim_lambda::store::keys;
use scim_lambda::store::table::{Query, Table};
use serde_json::{Value, json};
use support::{Bench, Cost, describe, encode, remove_member};

/// A stated minimum: the number of requests, and why no fewer will do.
struct Minimum {
    requests: u64,
    why: String,
}

fn min(requests: u64, why: impl Into<String>) -> Minimum {
    Minimum {
        requests,
        why: why.into(),
    }
}

struct Row {
    operation: String,
    cells: Vec<Cost>,
    minimum: Vec<Minimum>,
}

fn cell(c: &Cost) -> String {
    let units = c
        .capacity
        .map(|u| format!(" · {:.1} RCU, {:.1} WCU", u.read, u.write))
        .unwrap_or_default();
    format!("{}{units}", describe(&c.requests))
}

fn at_minimum(cells: &[Cost], minimum: &[Minimum]) -> String {
    let ok = cells
        .iter()
        .zip(minimum)
        .all(|(c, m)| c.requests.total() == m.requests);
    (if ok { "yes" } else { "**no**" }).to_string()
}

/// How many Query pages (1 MB each, DynamoDB's cap) reading `limit` items of
/// a partition takes: the fewest Queries that can read them.
async fn pages(table: &Table, mut q: Query, limit: usize) -> u64 {
    let (mut n, mut read) = (0u64, 0usize);
    q.limit = limit;
    loop {
        n += 1;
        let page = table.query(&q).await.unwrap_or_else(|e| panic!("{e}"));
        read += page.items.len();
        match page.items.last() {
            Some(last) if page.more && read < limit => {
                q.start_after = Some(last.clone());
                q.limit = limit - read;
            }
            _ => return n,
        }
    }
}

fn edges_query(gid: &str) -> Query {
    let (pk, prefix) = keys::Keys::default().members_of(gid);
    let mut q = Query::partition(None, pk, 1);
    q.sk_prefix = Some(prefix.to_string());
    q
}

fn ok(c: Cost, what: &str) -> Cost {
    assert!(
        c.status < 300 || c.status == 400,
        "{what}: {} {}",
        c.status,
        c.body
    );
    c
}

async fn user_rows(b: &Bench) -> Vec<Row> {
    // The first write of a process also looks for leftover cleanup work.
    b.send(
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "warm-up"})),
    )
    .await;
    b.import_users(1_000).await;
    let mut rows = Vec::new();
    let mut row = |operation: &str, c: Cost, m: Minimum| {
        rows.push(Row {
            operation: operation.to_string(),
            cells: vec![ok(c, operation)],
            minimum: vec![m],
        });
    };
    let body = json!({"userName": "cost@example.com", "externalId": "cost-1",
        "displayName": "Cost", "emails": [{"value": "cost@example.com", "primary": true}]});
    let c = b.send("POST", "/scim/v2/Users", Some(body.clone())).await;
    let id = c.body["id"].as_str().unwrap_or_default().to_string();
    row(
        "POST /Users (with 1 email)",
        c,
        min(
            1,
            "1 TransactWriteItems: the user, its userName guard, its email lookup item and its type's count shard, all or none",
        ),
    );
    let user = format!("/scim/v2/Users/{id}");
    let gid = b.group("Home").await;
    b.add(&gid, std::slice::from_ref(&id)).await;

    row(
        "GET /Users/{id}?excludedAttributes=groups",
        b.send("GET", &format!("{user}?excludedAttributes=groups"), None)
            .await,
        min(1, "1 GetItem"),
    );
    row(
        "GET /Users/{id} (member of 1 group)",
        b.send("GET", &user, None).await,
        min(
            3,
            "GetItem; Query of its edges (gsi2); BatchGetItem of its groups, whose displayName is not copied onto edges so that a rename is one write",
        ),
    );
    let mut put = body.clone();
    put["displayName"] = json!("Cost Two");
    row(
        "PUT /Users/{id} (same userName)",
        b.send(
            "PUT",
            &format!("{user}?excludedAttributes=groups"),
            Some(put),
        )
        .await,
        min(
            2,
            "GetItem (version, keys to release); PutItem conditional on the version",
        ),
    );
    let patch = |path: &str, value: Value| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": path, "value": value}]})
    };
    row(
        "PATCH /Users/{id} (replace displayName)",
        b.send(
            "PATCH",
            &format!("{user}?excludedAttributes=groups"),
            Some(patch("displayName", json!("Three"))),
        )
        .await,
        min(2, "GetItem; PutItem conditional on the version"),
    );
    row(
        "PATCH /Users/{id} (replace userName)",
        b.send(
            "PATCH",
            &format!("{user}?excludedAttributes=groups"),
            Some(patch("userName", json!("cost2@example.com"))),
        )
        .await,
        min(
            2,
            "GetItem; 1 TransactWriteItems: the user, the old guard out, the new guard in",
        ),
    );
    let list = |q: String| format!("/scim/v2/Users?excludedAttributes=groups&{q}");
    let filter = |f: String| list(format!("filter={}", encode(&f)));
    row(
        "GET /Users?filter=id eq",
        b.send("GET", &filter(format!("id eq \"{id}\"")), None)
            .await,
        min(1, "1 GetItem"),
    );
    row(
        "GET /Users?filter=userName eq",
        b.send(
            "GET",
            &filter("userName eq \"COST2@example.com\"".into()),
            None,
        )
        .await,
        min(
            2,
            "GetItem of the userName guard (any case), GetItem of the user it names",
        ),
    );
    row(
        "GET /Users?filter=externalId eq",
        b.send("GET", &filter("externalId eq \"cost-1\"".into()), None)
            .await,
        min(1, "1 Query (gsi2)"),
    );
    row(
        "GET /Users?filter=emails.value eq",
        b.send(
            "GET",
            &filter("emails.value eq \"Cost@Example.com\"".into()),
            None,
        )
        .await,
        min(
            2,
            "Query of the email lookup items (gsi2); BatchGetItem of the users",
        ),
    );
    let scan_pages = pages(
        &b.table,
        Query::partition(
            Some(&keys::TYPE_INDEX),
            keys::Keys::default().type_partition(scim_lambda::scim::Kind::User),
            1,
        ),
        usize::MAX,
    )
    .await;
    row(
        "GET /Users?filter=displayName co (1,002 users, no index)",
        b.send("GET", &filter("displayName co \"99\"".into()), None)
            .await,
        min(
            scan_pages,
            format!("{scan_pages} Query: every user read once, 1 MB a page (gsi1)"),
        ),
    );
    row(
        "GET /Users?startIndex=1&count=100",
        b.send("GET", &list("startIndex=1&count=100".into()), None)
            .await,
        min(
            3,
            "BatchGetItem of the type's count shards (moved in each create's and delete's transaction) for totalResults; Query for the page; PutItem of the next page's mark",
        ),
    );
    // Okta's import: each page after the one before it.
    for start in (101..=801).step_by(100) {
        b.send("GET", &list(format!("startIndex={start}&count=100")), None)
            .await;
    }
    row(
        "GET /Users?startIndex=901&count=100 (after the page before it)",
        b.send("GET", &list("startIndex=901&count=100".into()), None)
            .await,
        min(
            3,
            "BatchGetItem of the count shards and this page's mark; Query for the page from the mark's key; PutItem of the next page's mark",
        ),
    );
    let first = b.send("GET", &list("count=100&cursor=".into()), None).await;
    let next = first.body["nextCursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    row(
        "GET /Users?count=100&cursor= (first page)",
        first,
        min(
            2,
            "BatchGetItem of the count shards for totalResults, Query for the page",
        ),
    );
    row(
        "GET /Users?count=100&cursor=… (next page)",
        b.send(
            "GET",
            &list(format!("count=100&cursor={}", encode(&next))),
            None,
        )
        .await,
        min(1, "1 Query, starting at the cursor's key"),
    );
    row(
        "POST /Users/.search (userName eq)",
        b.send(
            "POST",
            "/scim/v2/Users/.search",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName eq \"cost2@example.com\"", "excludedAttributes": ["groups"]}),
            ),
        )
        .await,
        min(2, "as GET with the filter"),
    );
    row(
        "DELETE /Users/{id} (member of 1 group)",
        b.send("DELETE", &user, None).await,
        min(
            4,
            "GetItem (version, keys); 1 TransactWriteItems: user, guards, count shard, cleanup task; Query of its edges (gsi2); BatchWriteItem: the edges and the task",
        ),
    );
    rows
}

async fn group_rows(b: &Bench, sizes: &[usize]) -> Vec<Row> {
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let users = b.import_users(largest + 20).await;
    let spare = &users[largest..];
    let names = [
        "POST /Groups (no members)",
        "POST /Groups (10 members)",
        "GET /Groups/{id}?excludedAttributes=members",
        "GET /Groups/{id} (with members)",
        "PATCH add 1 member (204)",
        "PATCH remove 1 member (204)",
        "PATCH replace displayName",
        "GET /Groups?filter=displayName eq",
        "GET /Groups?filter=members.value eq",
        "GET /Users/{id} of a member (with groups)",
        "DELETE /Groups/{id}",
    ];
    let mut rows: Vec<Row> = names
        .iter()
        .map(|n| Row {
            operation: n.to_string(),
            cells: Vec::new(),
            minimum: Vec::new(),
        })
        .collect();
    for (round, &size) in sizes.iter().enumerate() {
        let mut put = |i: usize, c: Cost, m: Minimum| {
            rows[i].cells.push(ok(c, names[i]));
            rows[i].minimum.push(m);
        };
        let name = format!("Group of {size}");
        let c = b
            .send(
                "POST",
                "/scim/v2/Groups?excludedAttributes=members",
                Some(json!({"displayName": name})),
            )
            .await;
        let gid = c.body["id"].as_str().unwrap_or_default().to_string();
        put(
            0,
            c,
            min(
                1,
                "1 TransactWriteItems: the group and its type's count shard",
            ),
        );
        b.fill(&gid, &users[..size]).await;
        let ten: Vec<Value> = spare[..10].iter().map(|i| json!({"value": i})).collect();
        let c = b
            .send(
                "POST",
                "/scim/v2/Groups?excludedAttributes=members",
                Some(json!({"displayName": format!("Ten {round}"), "members": ten})),
            )
            .await;
        let ten_id = c.body["id"].as_str().unwrap_or_default().to_string();
        put(
            1,
            c,
            min(
                2,
                "BatchGetItem of the members (they must exist); 1 TransactWriteItems: the group and its edges, all or none",
            ),
        );
        let path = format!("/scim/v2/Groups/{gid}");
        put(
            2,
            b.send("GET", &format!("{path}?excludedAttributes=members"), None)
                .await,
            min(1, "1 GetItem"),
        );
        let cap = 10_000;
        let c = b.send("GET", &path, None).await;
        let m = if size <= cap {
            let p = pages(&b.table, edges_query(&gid), usize::MAX).await;
            min(
                1 + p + (size as u64).div_ceil(100),
                format!(
                    "GetItem; {p} Query of its edges; 1 BatchGetItem per 100 members (display names)"
                ),
            )
        } else {
            let p = pages(&b.table, edges_query(&gid), cap + 1).await;
            min(
                1 + p,
                format!(
                    "400 tooMany once {} edges are read: GetItem; {p} Query",
                    cap + 1
                ),
            )
        };
        put(3, c, m);
        let extra = &spare[10];
        put(
            4,
            b.add(&gid, std::slice::from_ref(extra)).await,
            min(
                2,
                "BatchGetItem of the member (it must exist); 1 TransactWriteItems: the edge and the group's version, conditional on its existence",
            ),
        );
        put(
            5,
            b.send("PATCH", &path, Some(remove_member(extra))).await,
            min(1, "1 TransactWriteItems: the edge and the group's version"),
        );
        let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": format!("{name}!")}]});
        put(
            6,
            b.send("PATCH", &path, Some(rename)).await,
            min(2, "GetItem; PutItem conditional on the version"),
        );
        let groups_where = |f: String| {
            format!(
                "/scim/v2/Groups?excludedAttributes=members&filter={}",
                encode(&f)
            )
        };
        put(
            7,
            b.send(
                "GET",
                &groups_where(format!("displayName eq \"{name}!\"")),
                None,
            )
            .await,
            min(1, "1 Query (gsi3)"),
        );
        put(
            8,
            b.send(
                "GET",
                &groups_where(format!("members.value eq \"{}\"", users[0])),
                None,
            )
            .await,
            min(
                2,
                "Query of the member's edges (gsi2); BatchGetItem of its groups and itself",
            ),
        );
        put(
            9,
            b.send("GET", &format!("/scim/v2/Users/{}", users[0]), None)
                .await,
            min(3, "GetItem; Query of its edges; BatchGetItem of its groups"),
        );
        let p = pages(&b.table, edges_query(&gid), usize::MAX).await;
        let writes = (size as u64 + 1).div_ceil(25);
        let c = b.send("DELETE", &path, None).await;
        put(
            10,
            c,
            min(
                3 + p + writes,
                format!(
                    "GetItem; 1 TransactWriteItems: group, count shard and cleanup task; 1 Query of its own memberships (gsi2); {p} Query of its edges; {writes} BatchWriteItem/DeleteItem: the edges and the task, 25 a request"
                ),
            ),
        );
        // The ten-member group goes too, so the next round starts clean.
        b.send("DELETE", &format!("/scim/v2/Groups/{ten_id}"), None)
            .await;
    }
    rows
}

fn print(title: &str, headers: &[String], rows: &[Row]) {
    println!("## {title}\n");
    println!(
        "| operation | {} | minimum the model allows | at minimum |",
        headers.join(" | ")
    );
    println!("|---|{}---|---|", "---|".repeat(headers.len()));
    for r in rows {
        let cells: Vec<String> = r.cells.iter().map(cell).collect();
        let minimum: Vec<String> = r.minimum.iter().map(|m| m.requests.to_string()).collect();
        let mut why: Vec<&str> = r.minimum.iter().map(|m| m.why.as_str()).collect();
        why.dedup();
        println!(
            "| {} | {} | {}: {} | {} |",
            r.operation,
            cells.join(" | "),
            minimum.join(" / "),
            why.join(" / "),
            at_minimum(&r.cells, &r.minimum)
        );
    }
    println!();
}

fn to_json(rows: &[Row]) -> Value {
    json!(rows
        .iter()
        .map(|r| json!({
            "operation": r.operation,
            "measured": r.cells.iter().map(|c| json!({
                "status": c.status,
                "requests": describe(&c.requests),
                "total": c.requests.total(),
                "read_units": c.capacity.map(|u| u.read),
                "write_units": c.capacity.map(|u| u.write),
            })).collect::<Vec<_>>(),
            "minimum": r.minimum.iter().map(|m| json!({"requests": m.requests, "why": m.why})).collect::<Vec<_>>(),
        }))
        .collect::<Vec<_>>())
}

#[tokio::main]
async fn main() {
    if !support::invoked_as_benchmark("cost") {
        return;
    }
    let Some(table) = support::dynamodb_table().await else {
        eprintln!(
            "the cost benchmark needs DynamoDB Local: set AWS_ENDPOINT_URL_DYNAMODB (scripts/bench does)"
        );
        std::process::exit(2);
    };
    let sizes: Vec<usize> = std::env::var("BENCH_LARGE_GROUP")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(vec![10, 100_000], |n| vec![10, n]);
    let b = Bench::over(table);
    let users = user_rows(&b).await;
    let groups = group_rows(&b, &sizes).await;
    print(
        "DynamoDB cost per Users operation (DynamoDB Local, ReturnConsumedCapacity)",
        &["requests · capacity".to_string()],
        &users,
    );
    print(
        "DynamoDB cost per Groups operation (DynamoDB Local, ReturnConsumedCapacity)",
        &sizes
            .iter()
            .map(|s| format!("group of {s}"))
            .collect::<Vec<_>>(),
        &groups,
    );
    support::write_json(
        "cost.json",
        &json!({"users": to_json(&users), "groups": to_json(&groups), "group_sizes": sizes}),
    );
}
