//! The local server's event delivery across a crash: killed (SIGKILL)
//! while it pushes SETs to a slow webhook, the built binary, started again
//! on the same store file, sends every change it had not saved as
//! delivered: each subject's events in commit order, what it sends again
//! with the same `jti` and body, and never more again than one batch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const TOKEN: &str = "events-crash-token-0123456789";
const KEY: &str = "event-signing-key-0123456789abcdef";
/// The most changes the delivery reads (and so may send again) at once.
const BATCH: usize = 100;
const USERS: usize = 60;
const MEMBERS: usize = 20;
/// How long the webhook takes to answer: slow enough that delivering the
/// conversation's events takes seconds, and a kill lands in the middle.
const RECEIVER_DELAY: Duration = Duration::from_millis(30);

/// One SET as it arrived: the request's content type, the compact JWS
/// as sent, and its claims (the payload, unverified).
#[derive(Clone)]
struct Set {
    content_type: String,
    jws: String,
    claims: Value,
}

impl Set {
    fn jti(&self) -> &str {
        self.claims["jti"].as_str().unwrap_or_default()
    }

    /// The change's position in the store's log (`sequence`).
    fn sequence(&self) -> u64 {
        self.claims["sequence"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}

/// A webhook receiver on loopback, on a runtime of its own: records each
/// SET as it arrives, answers 202 after [`RECEIVER_DELAY`].
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Set>>>,
    _runtime: tokio::runtime::Runtime,
}

fn receiver() -> Receiver {
    use axum::http::{HeaderMap, StatusCode, header};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let got: Arc<Mutex<Vec<Set>>> = Arc::default();
    let record = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, jws: String| async move {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let claims = claims_of(&jws);
            record.lock().unwrap_or_else(|e| e.into_inner()).push(Set {
                content_type,
                jws,
                claims,
            });
            tokio::time::sleep(RECEIVER_DELAY).await;
            StatusCode::ACCEPTED
        }),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url: format!("http://{addr}/hook"),
        got,
        _runtime: runtime,
    }
}

impl Receiver {
    /// What arrived so far, in the order it came.
    fn sets(&self) -> Vec<Set> {
        self.got.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `done` holds of what arrived, or `within` passes.
    fn wait_for(&self, within: Duration, done: impl Fn(&[Set]) -> bool) -> bool {
        let started = Instant::now();
        while started.elapsed() < within {
            if done(&self.sets()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        done(&self.sets())
    }
}

/// The built binary on the store file in `dir`, listening on `addr` and
/// pushing its events to `hook`. Killed when dropped, so that a failing
/// assertion leaves no process behind.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(dir: &Path, addr: SocketAddr, hook: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scim-lambda"))
            // Nothing from around the test run: no TABLE_NAME, no
            // AWS_LAMBDA_RUNTIME_API, no SCIM_TOKEN_SECRET_ID.
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SCIM_DB_PATH", dir.join("crash.redb"))
            .env("SCIM_TENANTS_FILE", dir.join("tenants.json"))
            .env("SCIM_TOKEN", TOKEN)
            // The same address each time: the events' issuer is the base
            // URL, and a SET sent again must be sent as it was.
            .env("SCIM_LISTEN_ADDR", addr.to_string())
            .env("SCIM_EVENT_WEBHOOK_URL", hook)
            .env("SCIM_EVENT_SIGNING_KEY", KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut out = BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("no stdout")));
        // Printed once it listens: "SCIM base URL: http://127.0.0.1:PORT/scim/v2".
        let mut first = String::new();
        let _ = out.read_line(&mut first);
        let listening = first.starts_with(&format!("SCIM base URL: http://{addr}/"));
        // Drained, so that the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let server = Self { child, addr };
        assert!(listening, "the server did not start: {first:?}");
        server
    }

    /// SIGKILL, and the process reaped (so its store file is free).
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// One request on a connection of its own: the status and the body.
    fn call(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let body = body.to_string();
        let mut s = TcpStream::connect(self.addr).unwrap_or_else(|e| panic!("{e}"));
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap_or_else(|e| panic!("{e}"));
        write!(
            s,
            "{method} /scim/v2{path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut answer = String::new();
        s.read_to_string(&mut answer)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    /// Sends a request that must succeed; returns the answer's `id`.
    fn change(&self, method: &str, path: &str, body: Value) -> String {
        let (status, answer) = self.call(method, path, &body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
        answer["id"].as_str().unwrap_or_default().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback address no one listens on (for the moment).
fn free_port() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    probe.local_addr().unwrap_or_else(|e| panic!("{e}"))
}

/// The events expected, per subject (`/Users/<id>`, `/Groups/<id>`, or
/// `/Groups/<id> <member>` for a membership) in commit order.
type PerSubject = BTreeMap<String, Vec<String>>;

/// Users created then renamed, and a group created with some of them: the
/// events those changes must yield.
fn make_changes(server: &Server) -> PerSubject {
    let user = "urn:ietf:params:scim:schemas:core:2.0:User";
    let mut want = PerSubject::new();
    let ids: Vec<String> = (0..USERS)
        .map(|i| {
            let body = json!({"schemas": [user], "userName": format!("crash-{i}@example.com")});
            server.change("POST", "/Users", body)
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let ops = json!([{"op": "replace", "path": "displayName", "value": format!("Crash {i}")}]);
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        server.change("PATCH", &format!("/Users/{id}"), body);
        want.insert(
            format!("/Users/{id}"),
            vec!["create".into(), "patch".into()],
        );
    }
    let members: Vec<Value> = ids[..MEMBERS]
        .iter()
        .map(|id| json!({"value": id}))
        .collect();
    let group = server.change(
        "POST",
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Crash", "members": members}),
    );
    want.insert(format!("/Groups/{group}"), vec!["create".into()]);
    for id in &ids[..MEMBERS] {
        want.insert(format!("/Groups/{group} {id}"), vec!["member+".into()]);
    }
    want
}

/// The claims of a compact JWS (its middle part), unverified.
fn claims_of(jws: &str) -> Value {
    let payload = jws.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// The subject of a SET and what happened to it, as [`make_changes`]
/// spells them.
fn subject_and_event(claims: &Value) -> (String, String) {
    let uri = claims["sub_id"]["uri"].as_str().unwrap_or_default();
    let events = &claims["events"];
    let prov = |name: &str| &events[format!("urn:ietf:params:scim:event:prov:{name}")];
    let patch = prov("patch:full");
    let op = &patch["data"]["Operations"][0];
    if uri.starts_with("/Groups/") && op["op"] == "add" && op["path"] == "members" {
        let member = op["value"][0]["value"].as_str().unwrap_or_default();
        return (format!("{uri} {member}"), "member+".into());
    }
    let happened = if !prov("create:full").is_null() {
        "create"
    } else if !patch.is_null() {
        "patch"
    } else {
        "other"
    };
    (uri.to_string(), happened.to_string())
}

/// Each change's first delivery, in the order they came.
fn first_deliveries(sets: &[Set]) -> Vec<&Set> {
    let mut seen = HashSet::new();
    sets.iter().filter(|s| seen.insert(s.jti())).collect()
}

fn per_subject(sets: &[&Set]) -> PerSubject {
    let mut got = PerSubject::new();
    for s in sets {
        let (subject, happened) = subject_and_event(&s.claims);
        got.entry(subject).or_default().push(happened);
    }
    got
}

fn assert_in_log_order<'a>(sets: impl IntoIterator<Item = &'a Set>, what: &str) {
    let positions: Vec<u64> = sets.into_iter().map(Set::sequence).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "{what} out of commit order: {positions:?}"
    );
}

/// What the restarted server sent again is what the killed one sent from
/// the first change it had not saved as delivered on: each as it was
/// (same `jti`, same bytes), and at most one batch of them.
fn assert_sent_again_as_the_unsaved_tail(before: &[Set], after: &[Set]) {
    assert_eq!(
        first_deliveries(before).len(),
        before.len(),
        "a change sent twice before the kill"
    );
    assert_in_log_order(after, "what the restarted server sent");
    let resumed_from = after.first().map_or(u64::MAX, Set::sequence);
    let as_sent: HashMap<&str, &Set> = before.iter().map(|s| (s.jti(), s)).collect();
    let again: Vec<&Set> = after
        .iter()
        .filter(|s| as_sent.contains_key(s.jti()))
        .collect();
    let unsaved_tail = before
        .iter()
        .filter(|s| s.sequence() >= resumed_from)
        .count();
    assert_eq!(
        again.len(),
        unsaved_tail,
        "sent again from position {resumed_from}, not the tail of what was sent before"
    );
    for s in &again {
        let first = as_sent.get(s.jti()).map(|f| f.jws.as_str());
        assert_eq!(
            first,
            Some(s.jws.as_str()),
            "{} sent again otherwise",
            s.jti()
        );
    }
    assert!(
        again.len() <= BATCH,
        "{} SETs sent again, more than one batch",
        again.len()
    );
}

#[test]
fn a_server_killed_mid_delivery_sends_every_change_after_restart_in_order() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let hook = receiver();
    let addr = free_port();
    let mut server = Server::start(dir.path(), addr, &hook.url);
    let want = make_changes(&server);
    let n: usize = want.values().map(Vec::len).sum();

    // Killed while some, not all, of the changes have been delivered.
    let some = hook.wait_for(Duration::from_secs(30), |got| got.len() >= 20);
    assert!(some, "only {} SETs arrived in 30 s", hook.sets().len());
    server.kill();
    // A SET the dead process had written may still wait, unread, in the
    // receiver's socket: time to record it before the restart.
    std::thread::sleep(Duration::from_millis(300));
    let before_kill = hook.sets().len();
    assert!(
        first_deliveries(&hook.sets()).len() < n,
        "all {n} changes were delivered before the kill; nothing was interrupted"
    );

    let server = Server::start(dir.path(), addr, &hook.url);
    let all_arrived = hook.wait_for(Duration::from_secs(60), |got| {
        first_deliveries(got).len() >= n
    });
    drop(server);
    let sets = hook.sets();
    let first = first_deliveries(&sets);
    assert!(
        all_arrived,
        "{} of {n} changes arrived ({} SETs before the kill)",
        first.len(),
        before_kill
    );

    // Every change, each subject's in commit order; and overall in the
    // log's order, which is one sequence.
    assert_eq!(per_subject(&first), want);
    assert_in_log_order(first, "first deliveries");
    assert!(
        sets.iter()
            .all(|s| s.content_type == "application/secevent+jwt")
    );
    let (before, after) = sets.split_at(before_kill);
    assert_sent_again_as_the_unsaved_tail(before, after);
}
