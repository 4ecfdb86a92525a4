//! Replays every IdP conversation in `tests/fixtures/idp/<idp>/*.json`
//! through the whole router, on both drivers (format: the README there),
//! and reads back the change events each one yields: from a poll on the
//! embedded store, and from the table's stream through the stream front
//! door on DynamoDB.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::{Driver, Harness, TOKEN, mismatch};
use crate::event_stream::{Recording, harness, issuer, stream_batches};
use crate::events::{claims_of, label, per_subject};

/// What a replay learned: the values it captured, and `random`.
type Vars = HashMap<String, String>;

fn conversations() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/idp");
    let mut files = Vec::new();
    for idp in std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .flatten()
    {
        if idp.path().is_dir() {
            for f in std::fs::read_dir(idp.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if f.path().extension().is_some_and(|e| e == "json") {
                    files.push(f.path());
                }
            }
        }
    }
    files.sort();
    files
}

fn substitute(s: &str, vars: &HashMap<String, String>) -> String {
    let mut out = s.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

fn substitute_json(v: &Value, vars: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(substitute(s, vars)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute_json(x, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (substitute(k, vars), substitute_json(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

async fn replay(h: &Harness, file: &Path) -> Result<(usize, Vars), String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let conv: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let steps = conv["steps"].as_array().ok_or("no steps")?;
    let mut vars = Vars::new();
    // One fresh value per replay, so that names never collide across runs.
    vars.insert("random".into(), uuid::Uuid::new_v4().to_string());
    for (n, step) in steps.iter().enumerate() {
        let name = step["name"].as_str().unwrap_or("?");
        let fail = |why: String| format!("step {} '{name}': {why}", n + 1);
        let req = &step["request"];
        let method = req["method"]
            .as_str()
            .ok_or_else(|| fail("no method".into()))?;
        let path = format!(
            "/scim/v2{}",
            substitute(req["path"].as_str().unwrap_or(""), &vars)
        );
        let mut headers: Vec<(String, String)> = req["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                (
                    k.to_lowercase(),
                    substitute(v.as_str().unwrap_or(""), &vars),
                )
            })
            .collect();
        if !headers.iter().any(|(k, _)| k == "authorization") {
            headers.push(("authorization".into(), format!("Bearer {TOKEN}")));
        }
        let body = match &req["body"] {
            Value::Null => None,
            Value::String(raw) => Some(substitute(raw, &vars)),
            other => Some(substitute_json(other, &vars).to_string()),
        };
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let resp = h.send_with(method, &path, body, &header_refs).await;
        let expect = &step["expect"];
        if let Some(status) = expect["status"].as_u64() {
            if u64::from(resp.status) != status {
                return Err(fail(format!(
                    "{method} {path}: status {}, expected {status}; body {}",
                    resp.status, resp.body
                )));
            }
        }
        for (k, v) in expect["headers"].as_object().into_iter().flatten() {
            let want = v.as_str().unwrap_or("");
            let got = resp.header(&k.to_lowercase()).unwrap_or("");
            if !got.starts_with(&substitute(want, &vars)) {
                return Err(fail(format!("header {k} is '{got}', expected '{want}'")));
            }
        }
        if !expect["body"].is_null() {
            let want = substitute_json(&expect["body"], &vars);
            if let Some(why) = mismatch(&want, &resp.body, "") {
                return Err(fail(format!("{method} {path}: {why}; body {}", resp.body)));
            }
        }
        for ptr in expect["absent"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if resp.body.pointer(&substitute(ptr, &vars)).is_some() {
                return Err(fail(format!("{ptr} should be absent; body {}", resp.body)));
            }
        }
        for (var, ptr) in step["capture"].as_object().into_iter().flatten() {
            let ptr = ptr.as_str().unwrap_or("");
            let value = resp
                .body
                .pointer(ptr)
                .ok_or_else(|| fail(format!("nothing at {ptr} to capture; body {}", resp.body)))?;
            let value = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            vars.insert(var.clone(), value);
        }
    }
    Ok((steps.len(), vars))
}

async fn every_idp_conversation_replays(d: crate::common::Driver) {
    let files = conversations();
    assert!(!files.is_empty(), "no conversations found");
    let mut failures = Vec::new();
    let mut steps = 0;
    for file in &files {
        let h = d.harness(&crate::common::config()).await;
        match replay(&h, file).await {
            Ok((n, _)) => steps += n,
            Err(e) => failures.push(format!(
                "{}: {e}",
                file.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap_or(file)
                    .display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} conversations failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
    assert!(steps > 0);
}

crate::on_both_drivers_with_config!(every_idp_conversation_replays);

/// A conversation replayed on one driver: the router, what the replay
/// learned, and on DynamoDB the table whose stream holds its changes.
struct Replayed {
    h: Harness,
    vars: Vars,
    table: Option<String>,
}

/// Replays `tests/fixtures/idp/<file>` on a store of its own.
async fn replayed(d: Driver, file: &str) -> Replayed {
    let (h, table) = match d {
        Driver::Embedded => (Harness::embedded().await, None),
        Driver::DynamoDb => {
            let (h, table) = harness().await;
            (h, Some(table))
        }
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/idp")
        .join(file);
    let (_, vars) = replay(&h, &path)
        .await
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    Replayed { h, vars, table }
}

/// Every SET of the default directory, polled a few at a time, each batch
/// acknowledged by the next poll, until a poll has none left.
async fn poll_all(h: &Harness) -> Vec<Value> {
    let mut got = Vec::new();
    let mut ack: Vec<String> = Vec::new();
    for _ in 0..100 {
        let r = h
            .send(
                "POST",
                "/scim/v2/Events",
                Some(json!({"ack": ack, "maxEvents": 4, "returnImmediately": true})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let sets = r.body["sets"].as_object().cloned().unwrap_or_default();
        if sets.is_empty() {
            assert_eq!(r.body["moreAvailable"], false, "{}", r.body);
            return got;
        }
        ack = sets.keys().cloned().collect();
        got.extend(
            sets.values()
                .map(|s| claims_of(s.as_str().unwrap_or_default())),
        );
    }
    panic!("the poll never ran dry after {} SETs", got.len());
}

/// The claims of every event the stream front door publishes from the
/// table's stream, batch by batch as Lambda would hand them over.
async fn streamed(table: &str) -> Vec<Value> {
    let sink = Recording::default();
    for batch in stream_batches(table).await {
        let answer = scim_lambda::events::stream::handle(&batch, &issuer(), &sink).await;
        assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    }
    let entries = sink.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    entries
        .iter()
        .map(|e| {
            serde_json::from_str(&e.detail).unwrap_or_else(|err| panic!("{err}: {}", e.detail))
        })
        .collect()
}

/// A subject as the expectations spell it, with the replay's values in.
fn expand(subject: &str, vars: &Vars) -> String {
    let s = substitute(subject, vars);
    assert!(!s.contains("${"), "the replay learned no value for {s}");
    s
}

/// The events a replay yields are `want`: one SET a line, as (subject,
/// short names), in the order the conversation made them. Per subject the
/// order is the commit order on both drivers. The embedded log is one
/// sequence, so there the resources' own events (not their memberships,
/// which one request may write in any order) also keep the conversation's
/// order across subjects; a DynamoDB stream orders only each item's own
/// records.
async fn assert_events(r: &Replayed, want: &[(&str, &str)]) {
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(s, e)| (expand(s, &r.vars), (*e).to_string()))
        .collect();
    let claims = match &r.table {
        None => poll_all(&r.h).await,
        Some(table) => streamed(table).await,
    };
    let got: Vec<(String, String)> = claims.iter().map(label).collect();
    assert_eq!(
        per_subject(&got),
        per_subject(&want),
        "events per subject; read: {got:#?}"
    );
    assert_eq!(got.len(), want.len(), "how many; read: {got:#?}");
    if r.table.is_some() {
        return;
    }
    let own = |labels: &[(String, String)]| -> Vec<(String, String)> {
        labels
            .iter()
            .filter(|(s, _)| !s.contains(' '))
            .cloned()
            .collect()
    };
    assert_eq!(own(&got), own(&want), "the resources' own events in order");
}

async fn entra_user_lifecycle_yields_its_event_sequence(d: Driver) {
    let r = replayed(d, "entra/user-lifecycle.json").await;
    let u = "/Users/${userId}";
    let m = "/Users/${managerId}";
    assert_events(
        &r,
        &[
            (u, "create:full"),
            // Add to an existing work email, per-path Replace, path-less
            // Replace with dotted keys, Add of a home email.
            (u, "patch:full"),
            (u, "patch:full"),
            (u, "patch:full"),
            (u, "patch:full"),
            (m, "create:full"),
            // The manager set, then removed.
            (u, "patch:full"),
            (u, "patch:full"),
            // active "False", "True", "False": strings, read as booleans.
            (u, "deactivate,patch:full"),
            (u, "activate,patch:full"),
            (u, "deactivate,patch:full"),
            (u, "delete"),
            (m, "delete"),
        ],
    )
    .await;
}

async fn entra_group_lifecycle_yields_its_event_sequence(d: Driver) {
    let r = replayed(d, "entra/group-lifecycle.json").await;
    let g = "/Groups/${groupId}";
    assert_events(
        &r,
        &[
            ("/Users/${member1Id}", "create:full"),
            ("/Users/${member2Id}", "create:full"),
            // Created with no members.
            (g, "create:full"),
            // Add of two members: edges only, the group's document is as it was.
            ("/Groups/${groupId} ${member1Id}", "member+"),
            ("/Groups/${groupId} ${member2Id}", "member+"),
            ("/Groups/${groupId} ${member1Id}", "member-"),
            // The Add of a member already there and the PATCH of a missing
            // group change nothing; the rename does.
            (g, "patch:full"),
            // The delete removes the remaining member's edge.
            (g, "delete"),
            ("/Groups/${groupId} ${member2Id}", "member-"),
            ("/Users/${member1Id}", "delete"),
            ("/Users/${member2Id}", "delete"),
        ],
    )
    .await;
}

async fn entra_quirks_yield_their_event_sequence(d: Driver) {
    let r = replayed(d, "entra/quirks.json").await;
    let j = "/Users/${jyoungId}";
    let m = "/Users/${managerId}";
    assert_events(
        &r,
        &[
            (j, "create:full"),
            (m, "create:full"),
            // The manager set; then the Add of nickName. The duplicate
            // create (409) writes nothing.
            (j, "patch:full"),
            (j, "patch:full"),
            (j, "delete"),
            (m, "delete"),
        ],
    )
    .await;
}

async fn entra_rfc_dialect_yields_its_event_sequence(d: Driver) {
    let r = replayed(d, "entra/rfc-dialect.json").await;
    let u = "/Users/${userId}";
    let m = "/Users/${member2Id}";
    let g = "/Groups/${groupId}";
    assert_events(
        &r,
        &[
            (u, "create:full"),
            (m, "create:full"),
            (u, "deactivate,patch:full"),
            (u, "activate,patch:full"),
            // Filtered email plus dotted keys; nickName; a home email.
            (u, "patch:full"),
            (u, "patch:full"),
            (u, "patch:full"),
            (g, "create:full"),
            ("/Groups/${groupId} ${userId}", "member+"),
            ("/Groups/${groupId} ${member2Id}", "member+"),
            ("/Groups/${groupId} ${userId}", "member-"),
            (g, "patch:full"),
            (g, "delete"),
            ("/Groups/${groupId} ${member2Id}", "member-"),
            (u, "delete"),
            (m, "delete"),
        ],
    )
    .await;
}

async fn okta_user_lifecycle_yields_its_event_sequence(d: Driver) {
    let r = replayed(d, "okta/user-lifecycle.json").await;
    let u = "/Users/${userId}";
    assert_events(
        &r,
        &[
            (u, "create:full"),
            // The profile push.
            (u, "put:full"),
            // Path-less replace of {active}; the duplicate create writes
            // nothing.
            (u, "deactivate,patch:full"),
            (u, "activate,patch:full"),
        ],
    )
    .await;
}

async fn okta_group_push_yields_its_event_sequence(d: Driver) {
    let r = replayed(d, "okta/group-push.json").await;
    let g = "/Groups/${groupId}";
    assert_events(
        &r,
        &[
            ("/Users/${aliceId}", "create:full"),
            ("/Users/${bobId}", "create:full"),
            (g, "create:full"),
            ("/Groups/${groupId} ${aliceId}", "member+"),
            ("/Groups/${groupId} ${bobId}", "member+"),
            // The rename, whose value also carries the group's own id.
            (g, "patch:full"),
            ("/Groups/${groupId} ${aliceId}", "member-"),
            (g, "delete"),
            ("/Groups/${groupId} ${bobId}", "member-"),
        ],
    )
    .await;
}

async fn okta_paging_yields_its_event_sequence(d: Driver) {
    let mut r = replayed(d, "okta/paging.json").await;
    // The conversation captures no ids: look the five users up by name.
    let random = r.vars.get("random").cloned().unwrap_or_default();
    for n in 1..=5 {
        let found = r
            .h
            .send(
                "GET",
                &format!(
                    "/scim/v2/Users?filter=userName%20eq%20%22okta.page{n}.{random}%40example.com%22"
                ),
                None,
            )
            .await;
        let id = found.body["Resources"][0]["id"]
            .as_str()
            .unwrap_or_default();
        assert!(!id.is_empty(), "{}", found.body);
        r.vars.insert(format!("page{n}"), id.to_string());
    }
    // The import's three pages are reads: no events.
    assert_events(
        &r,
        &[
            ("/Users/${page1}", "create:full"),
            ("/Users/${page2}", "create:full"),
            ("/Users/${page3}", "create:full"),
            ("/Users/${page4}", "create:full"),
            ("/Users/${page5}", "create:full"),
        ],
    )
    .await;
}

async fn rauthy_client_sync_yields_its_event_sequence(d: Driver) {
    let r = replayed(d, "rauthy/client-sync.json").await;
    let a = "/Users/${aliceId}";
    let b = "/Users/${bobId}";
    let g1 = "/Groups/${g1Id}";
    let g2 = "/Groups/${g2Id}";
    assert_events(
        &r,
        &[
            (a, "create:full"),
            (g1, "create:full"),
            ("/Groups/${g1Id} ${aliceId}", "member+"),
            // Alice's update: a new givenName and roles.
            (a, "put:full"),
            (b, "create:full"),
            // Bob linked: externalId set by a PUT.
            (b, "put:full"),
            (g2, "create:full"),
            // Support linked: the same displayName, a new externalId.
            (g2, "patch:full"),
            ("/Groups/${g2Id} ${bobId}", "member+"),
            // The rename to platform.
            (g1, "patch:full"),
            ("/Groups/${g1Id} ${aliceId}", "member-"),
            // Support unmanaged: externalId null.
            (g2, "patch:full"),
            // Platform has no members left when it is deleted.
            (g1, "delete"),
            // Alice unmanaged by PUT, Bob by PATCH remove of externalId.
            (a, "put:full"),
            (b, "patch:full"),
            // Bob's delete takes his membership of support with it.
            (b, "delete"),
            ("/Groups/${g2Id} ${bobId}", "member-"),
        ],
    )
    .await;
}

async fn rauthy_quirks_yield_their_event_sequence(d: Driver) {
    let r = replayed(d, "rauthy/quirks.json").await;
    // The three malformed bodies (400) write nothing.
    assert_events(
        &r,
        &[
            ("/Users/${plusId}", "create:full"),
            ("/Groups/${qAId}", "create:full"),
            ("/Groups/${qBId}", "create:full"),
            ("/Groups/${qCId}", "create:full"),
        ],
    )
    .await;
}

async fn connid_connector_yields_its_event_sequence(d: Driver) {
    let r = replayed(d, "connid/connector.json").await;
    let g = "/Groups/${g1}";
    assert_events(
        &r,
        &[
            ("/Users/${u1}", "create:full"),
            // The PUT that carries only what it writes.
            ("/Users/${u1}", "put:full"),
            ("/Users/${u2}", "create:full"),
            ("/Users/${u3}", "create:full"),
            ("/Users/${u4}", "create:full"),
            (g, "create:full"),
            ("/Groups/${g1} ${u1}", "member+"),
            // The path-less replace of the whole group keeps its
            // displayName and adds the three missing members.
            ("/Groups/${g1} ${u2}", "member+"),
            ("/Groups/${g1} ${u3}", "member+"),
            ("/Groups/${g1} ${u4}", "member+"),
            ("/Groups/${g1} ${u1}", "member-"),
            ("/Groups/${g1} ${u2}", "member-"),
            ("/Groups/${g1} ${u3}", "member-"),
            ("/Groups/${g1} ${u4}", "member-"),
            (g, "delete"),
            ("/Users/${u1}", "delete"),
            ("/Users/${u2}", "delete"),
            ("/Users/${u3}", "delete"),
            ("/Users/${u4}", "delete"),
        ],
    )
    .await;
}

/// Runs each conversation's expectation on both drivers: `embedded::name`
/// always, `dynamodb::name` against DynamoDB Local.
macro_rules! on_both_drivers_events {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::Driver::Embedded).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                #[ignore = "needs DynamoDB Local (scripts/test starts it)"]
                async fn $name() {
                    super::$name($crate::common::Driver::DynamoDb).await
                }
            )*
        }
    };
}

on_both_drivers_events!(
    entra_user_lifecycle_yields_its_event_sequence,
    entra_group_lifecycle_yields_its_event_sequence,
    entra_quirks_yield_their_event_sequence,
    entra_rfc_dialect_yields_its_event_sequence,
    okta_user_lifecycle_yields_its_event_sequence,
    okta_group_push_yields_its_event_sequence,
    okta_paging_yields_its_event_sequence,
    rauthy_client_sync_yields_its_event_sequence,
    rauthy_quirks_yield_their_event_sequence,
    connid_connector_yields_its_event_sequence,
);
