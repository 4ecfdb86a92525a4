//! Load on the local front door: 64 clients, each on its own HTTP/1.1
//! connection over loopback, run mixed operations for a bounded time
//! (`SCIM_LOAD_SECONDS`, 30 by default), then race each other for
//! contested names and ETags. No answer may be a 5xx; every race has exactly
//! one winner; the directory's invariants hold afterwards.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use scim_lambda::store::Directory;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::common::{Harness, TOKEN};
use crate::races::etag_version;

const CLIENTS: usize = 64;
const RACES: usize = 10;

/// One client: one keep-alive connection.
struct Client(SendRequest<Full<Bytes>>);

struct Answer {
    status: u16,
    body: Value,
    etag: Option<String>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(conn);
        Self(sender)
    }

    async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Answer {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/scim+json");
        if let Some(etag) = if_match {
            req = req.header("if-match", etag);
        }
        let req = req
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .unwrap_or_else(|e| panic!("{e}"));
        // A connection just made may not be ready for its first request.
        self.0
            .ready()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
        let resp = self
            .0
            .send_request(req)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
        let status = resp.status().as_u16();
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            etag,
        }
    }
}

#[derive(Default)]
struct Tally {
    requests: u64,
    by_status: BTreeMap<u16, u64>,
    unexpected: Vec<String>,
}

impl Tally {
    fn expect(&mut self, what: &str, a: &Answer, ok: &[u16]) -> bool {
        self.requests += 1;
        *self.by_status.entry(a.status).or_default() += 1;
        let fine = ok.contains(&a.status);
        if !fine && self.unexpected.len() < 20 {
            self.unexpected
                .push(format!("{what}: {} {}", a.status, a.body));
        }
        fine
    }
}

/// Mixed operations on the client's own users and group until `until`.
async fn mixed(c: &mut Client, n: usize, until: Instant) -> Tally {
    let mut t = Tally::default();
    let mut users: Vec<String> = Vec::new();
    let r = c
        .call(
            "POST",
            "/scim/v2/Groups",
            Some(json!({"displayName": format!("load-{n}")})),
            None,
        )
        .await;
    t.expect("create group", &r, &[201]);
    let gid = r.body["id"].as_str().unwrap_or_default().to_string();
    let mut i = 0usize;
    while Instant::now() < until {
        i += 1;
        let r = c
            .call(
                "POST",
                "/scim/v2/Users",
                Some(json!({"userName": format!("load-{n}-{i}@example.com"),
                    "emails": [{"value": format!("load-{n}-{i}@example.com")}]})),
                None,
            )
            .await;
        if !t.expect("create user", &r, &[201]) {
            continue;
        }
        let id = r.body["id"].as_str().unwrap_or_default().to_string();
        let user = format!("/scim/v2/Users/{id}");
        let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": format!("L{i}")}]});
        let r = c.call("PATCH", &user, Some(patch), None).await;
        t.expect("patch user", &r, &[200]);
        let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]});
        let r = c
            .call("PATCH", &format!("/scim/v2/Groups/{gid}"), Some(add), None)
            .await;
        t.expect("add member", &r, &[204]);
        let r = c.call("GET", &user, None, None).await;
        t.expect("get user", &r, &[200]);
        if r.status == 200 && r.body["groups"][0]["value"] != gid.as_str() {
            t.unexpected
                .push(format!("user {id} does not show its group"));
        }
        let r = c
            .call(
                "GET",
                &format!(
                    "/scim/v2/Users?count=20&excludedAttributes=groups&filter=userName%20sw%20%22load-{n}-%22"
                ),
                None,
                None,
            )
            .await;
        t.expect("list", &r, &[200]);
        users.push(id);
        if users.len() > 5 {
            let old = users.remove(0);
            let r = c
                .call("DELETE", &format!("/scim/v2/Users/{old}"), None, None)
                .await;
            t.expect("delete user", &r, &[204]);
        }
    }
    t
}

/// Every client tries the same thing at once; the answers, by status.
async fn race(
    c: &mut Client,
    barrier: &Barrier,
    method: &str,
    path: &str,
    body: Value,
    if_match: Option<&str>,
) -> u16 {
    barrier.wait().await;
    c.call(method, path, Some(body), if_match).await.status
}

/// Member set races: in each round an eighth of the clients PUT a group
/// with one member each while the others each add a user of their own.
/// The PUT of the highest version must be what the group held then: the
/// group ends with its member and one added user for each write after it.
async fn member_set_races(
    h: &Harness,
    addr: SocketAddr,
    clients: &mut Vec<Client>,
    barrier: &Arc<Barrier>,
) {
    let setup = &mut Client::connect(addr).await;
    let mut people = Vec::new();
    for n in 0..CLIENTS {
        let body = json!({"userName": format!("set-{n}@example.com")});
        let r = h.send("POST", "/scim/v2/Users", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        people.push(r.body["id"].as_str().unwrap_or_default().to_string());
    }
    let people = Arc::new(people);
    for round in 0..RACES {
        let r = setup
            .call(
                "POST",
                "/scim/v2/Groups",
                Some(json!({"displayName": format!("set-{round}")})),
                None,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let path = format!(
            "/scim/v2/Groups/{}",
            r.body["id"].as_str().unwrap_or_default()
        );
        let tasks: Vec<_> = clients
            .drain(..)
            .enumerate()
            .map(|(n, mut c)| {
                let (barrier, path, people) = (Arc::clone(barrier), path.clone(), Arc::clone(&people));
                tokio::spawn(async move {
                    let putter = n % 8 == 0;
                    let (method, body) = if putter {
                        let member = &people[n % 16];
                        ("PUT", json!({"displayName": "set", "members": [{"value": member}]}))
                    } else {
                        ("PATCH", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": [{"value": people[n]}]}]}))
                    };
                    barrier.wait().await;
                    let a = c.call(method, &path, Some(body), None).await;
                    (putter, a, c)
                })
            })
            .collect();
        let mut last_put: Option<(u64, Value)> = None;
        for task in tasks {
            let (putter, a, c) = task.await.unwrap_or_else(|e| panic!("{e}"));
            clients.push(c);
            assert_eq!(
                a.status,
                if putter { 200 } else { 204 },
                "round {round}: {}",
                a.body
            );
            if putter {
                let v = etag_version(a.etag.as_deref());
                if last_put.as_ref().is_none_or(|(lv, _)| v > *lv) {
                    last_put = Some((v, a.body["members"].clone()));
                }
            }
        }
        let Some((put_version, put_members)) = last_put else {
            panic!("round {round}: no PUT answered");
        };
        let g = setup.call("GET", &path, None, None).await;
        let later = etag_version(g.etag.as_deref()) - put_version;
        let held = g.body["members"].as_array().map_or(0, Vec::len) as u64;
        let put_member = &put_members[0]["value"];
        let holds_it = g.body["members"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| &m["value"] == put_member);
        assert!(
            holds_it && held == 1 + later,
            "round {round}: the last PUT (version {put_version}) set {put_members}; {later} writes came after it; the group holds {}",
            g.body["members"]
        );
    }
}

async fn under_load_no_5xx_one_winner_per_race_and_invariants_hold(h: Harness) {
    let seconds: u64 = std::env::var("SCIM_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let router = h.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });

    // A user every client will PATCH with the same ETag.
    let mut setup = Client::connect(addr).await;
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                let mut c = Client::connect(addr).await;
                let t = mixed(&mut c, n, until).await;
                let mut races = Vec::new();
                for round in 0..RACES {
                    // The same name in a different letter case from each.
                    let name = format!("Race-{round}@Example.com");
                    let name = if n % 2 == 0 {
                        name.to_lowercase()
                    } else {
                        name.to_uppercase()
                    };
                    let created = race(
                        &mut c,
                        &barrier,
                        "POST",
                        "/scim/v2/Users",
                        json!({"userName": name}),
                        None,
                    )
                    .await;
                    races.push(("create", round, created));
                }
                (t, races, c)
            })
        })
        .collect();
    let mut tally = Tally::default();
    let mut clients = Vec::new();
    let mut wins: BTreeMap<(&str, usize), BTreeMap<u16, usize>> = BTreeMap::new();
    for task in tasks {
        let (t, races, c) = task.await.unwrap_or_else(|e| panic!("{e}"));
        tally.requests += t.requests;
        for (s, k) in t.by_status {
            *tally.by_status.entry(s).or_default() += k;
        }
        tally.unexpected.extend(t.unexpected);
        for (kind, round, status) in races {
            *wins
                .entry((kind, round))
                .or_default()
                .entry(status)
                .or_default() += 1;
        }
        clients.push(c);
    }
    let mixed_seconds = started.elapsed().as_secs_f64();

    // If-Match races: every client PATCHes one user with the same ETag.
    for round in 0..RACES {
        let r = setup
            .call(
                "POST",
                "/scim/v2/Users",
                Some(json!({"userName": format!("etag-{round}@example.com")})),
                None,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let path = format!(
            "/scim/v2/Users/{}",
            r.body["id"].as_str().unwrap_or_default()
        );
        let etag = r.etag.unwrap_or_default();
        let tasks: Vec<_> = clients
            .drain(..)
            .enumerate()
            .map(|(n, mut c)| {
                let (barrier, path, etag) = (Arc::clone(&barrier), path.clone(), etag.clone());
                tokio::spawn(async move {
                    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "displayName", "value": format!("client {n}")}]});
                    let s = race(&mut c, &barrier, "PATCH", &path, patch, Some(&etag)).await;
                    (s, c)
                })
            })
            .collect();
        for task in tasks {
            let (s, c) = task.await.unwrap_or_else(|e| panic!("{e}"));
            *wins
                .entry(("if-match", round))
                .or_default()
                .entry(s)
                .or_default() += 1;
            clients.push(c);
        }
    }
    member_set_races(&h, addr, &mut clients, &barrier).await;
    println!(
        "load: {CLIENTS} clients, {} requests in {mixed_seconds:.1} s of mixed operations, by status {:?}; {} races",
        tally.requests,
        tally.by_status,
        wins.len()
    );
    assert!(
        tally.unexpected.is_empty(),
        "unexpected answers: {:?}",
        tally.unexpected
    );
    assert!(
        tally.by_status.keys().all(|s| *s < 500),
        "{:?}",
        tally.by_status
    );
    for ((kind, round), by_status) in &wins {
        let want = match *kind {
            "create" => BTreeMap::from([(201, 1), (409, CLIENTS - 1)]),
            _ => BTreeMap::from([(200, 1), (412, CLIENTS - 1)]),
        };
        assert_eq!(by_status, &want, "{kind} race {round}");
    }

    // Invariants: every user holds its userName's guard, every member edge
    // joins two existing resources once cleanup has run.
    let dir = Directory::new(h.table.clone());
    for task in dir.cleanup_tasks(1_000).await.unwrap_or_default() {
        let done = dir
            .cleanup(&task, Instant::now() + Duration::from_secs(60))
            .await;
        assert_eq!(done, Ok(true));
    }
    let (users, _) = dir
        .scan_type(scim_lambda::scim::Kind::User, usize::MAX)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    for u in &users {
        let name = u.doc["userName"].as_str().unwrap_or_default();
        let found = dir
            .find_by_user_name(scim_lambda::scim::Kind::User, name)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            found.map(|f| f.meta.id),
            Some(u.meta.id.clone()),
            "guard of {name}"
        );
    }
    let ids: std::collections::BTreeSet<&str> = users.iter().map(|u| u.meta.id.as_str()).collect();
    let (groups, _) = dir
        .scan_type(scim_lambda::scim::Kind::Group, usize::MAX)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    for g in &groups {
        let (edges, _) = dir
            .edges_of_group(&g.meta.id, usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        for e in edges {
            assert!(
                ids.contains(e.member_id.as_str()),
                "group {} keeps deleted member {}",
                g.meta.id,
                e.member_id
            );
        }
    }
}

crate::on_both_drivers!(under_load_no_5xx_one_winner_per_race_and_invariants_hold);
