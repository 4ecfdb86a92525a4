//! Hostile input: every case of `tests/fixtures/hostile/requests.json`
//! (format: the README there) replayed through the whole router against a
//! directory holding a few real resources. Each case must get its RFC 7644
//! status and `scimType` in a SCIM error body (at the token endpoint, its
//! RFC 6749 §5.2 `error`), and no case may write to the table, change the
//! resources or create new ones.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use scim_lambda::store::Requests;
use serde_json::{Value, json};

use crate::common::{Harness, TOKEN, fixture, mismatch};

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const SCIM_JSON: &str = "application/scim+json";
/// The token endpoint's media type, on every answer of it.
const OAUTH_JSON: &str = "application/json;charset=UTF-8";
const BASE: &str = "/scim/v2";

/// A response as it came, bytes and all.
struct Raw {
    status: u16,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.bytes).map_err(|e| {
            format!(
                "the body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }
}

/// Sends a request exactly as given: any method, header bytes and body bytes.
async fn send_raw(
    h: &Harness,
    method: &str,
    uri: &str,
    headers: &[(String, Vec<u8>)],
    body: Vec<u8>,
) -> Result<Raw, String> {
    let method = Method::from_bytes(method.as_bytes()).map_err(|e| format!("method: {e}"))?;
    let mut req = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("{name}: {e}"))?;
        let value = HeaderValue::from_bytes(value).map_err(|e| format!("{name}: {e}"))?;
        req = req.header(name, value);
    }
    let req = req
        .body(Body::from(body))
        .map_err(|e| format!("request: {e}"))?;
    let (status, headers, bytes) = h.exchange(req).await;
    Ok(Raw {
        status,
        headers,
        bytes,
    })
}

/// Expands a fixture string: `{name}` placeholders first, then
/// `<<repeat N TEXT>>` (TEXT N times) and `<<xHH>>` (the byte 0xHH).
fn expand(s: &str, vars: &HashMap<&str, String>) -> Result<Vec<u8>, String> {
    let mut text = s.to_string();
    for (k, v) in vars {
        text = text.replace(&format!("{{{k}}}"), v);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(open) = rest.find("<<") {
        out.extend_from_slice(&rest.as_bytes()[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find(">>")
            .ok_or_else(|| format!("unclosed << in {s:.80}"))?;
        let directive = &after[..close];
        if let Some(hex) = directive.strip_prefix('x') {
            out.push(u8::from_str_radix(hex, 16).map_err(|e| format!("<<{directive}>>: {e}"))?);
        } else if let Some(spec) = directive.strip_prefix("repeat ") {
            let (n, unit) = spec
                .split_once(' ')
                .ok_or_else(|| format!("<<{directive}>> needs a count and a text"))?;
            let n: usize = n.parse().map_err(|e| format!("<<{directive}>>: {e}"))?;
            out.extend_from_slice(unit.repeat(n).as_bytes());
        } else {
            return Err(format!("unknown directive <<{directive}>>"));
        }
        rest = &after[close + 2..];
    }
    out.extend_from_slice(rest.as_bytes());
    Ok(out)
}

/// [`expand`], for places that must stay text (paths, expected values).
fn expand_str(s: &str, vars: &HashMap<&str, String>) -> Result<String, String> {
    String::from_utf8(expand(s, vars)?).map_err(|e| format!("not UTF-8 after expansion: {e}"))
}

/// Percent-encodes every byte but RFC 3986's unreserved ones.
fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The same value with every string expanded (for expected bodies).
fn expand_json(v: &Value, vars: &HashMap<&str, String>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(expand_str(s, vars)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| expand_json(x, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), expand_json(x, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// The methods an `Allow` header names.
fn method_set(list: &str) -> std::collections::BTreeSet<String> {
    list.split(',').map(|m| m.trim().to_string()).collect()
}

/// The write requests (any kind) among these counters.
fn writes(r: Requests) -> u64 {
    r.put_or_delete_item + r.update_item + r.transact_write_items + r.batch_write_item
}

/// The request a case describes: method, URI, headers and body.
struct Built {
    method: String,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fn build(case: &Value, vars: &HashMap<&str, String>) -> Result<Built, String> {
    let method = case["method"].as_str().ok_or("no method")?.to_string();
    let path = case["path"].as_str().ok_or("no path")?;
    let mut uri = format!("{BASE}{}", expand_str(path, vars)?);
    for (i, pair) in case["query"].as_array().into_iter().flatten().enumerate() {
        let (Some(k), Some(v)) = (pair[0].as_str(), pair[1].as_str()) else {
            return Err(format!("query[{i}] must be [name, value]"));
        };
        let sep = if i == 0 && !uri.contains('?') {
            '?'
        } else {
            '&'
        };
        uri = format!(
            "{uri}{sep}{}={}",
            encode(&expand(k, vars)?),
            encode(&expand(v, vars)?)
        );
    }
    let body = match &case["body"] {
        Value::Null => None,
        Value::String(raw) => Some(expand(raw, vars)?),
        json => Some(expand(&json.to_string(), vars)?),
    };
    // Defaults first; the case's own headers replace them (a null value
    // removes one) or, for a name given twice in the case, add to them.
    let mut headers: Vec<(String, Option<Vec<u8>>)> = vec![
        ("host".into(), Some(b"scim.example.test".to_vec())),
        (
            "authorization".into(),
            Some(format!("Bearer {TOKEN}").into_bytes()),
        ),
    ];
    if body.is_some() {
        headers.push(("content-type".into(), Some(SCIM_JSON.as_bytes().to_vec())));
    }
    let mut named: Vec<String> = Vec::new();
    for (i, pair) in case["headers"].as_array().into_iter().flatten().enumerate() {
        let name = pair[0]
            .as_str()
            .ok_or_else(|| format!("headers[{i}] needs a name"))?
            .to_ascii_lowercase();
        let value = match &pair[1] {
            Value::Null => None,
            Value::String(v) => Some(expand(v, vars)?),
            _ => return Err(format!("headers[{i}] value must be a string or null")),
        };
        if !named.contains(&name) {
            headers.retain(|(n, _)| *n != name);
            named.push(name.clone());
        }
        headers.push((name, value));
    }
    Ok(Built {
        method,
        uri,
        headers: headers
            .into_iter()
            .filter_map(|(n, v)| v.map(|v| (n, v)))
            .collect(),
        body: body.unwrap_or_default(),
    })
}

/// Replays one case; the reasons it fails, if it does.
async fn replay(h: &Harness, case: &Value, vars: &HashMap<&str, String>) -> Result<(), String> {
    let req = build(case, vars)?;
    let expect = &case["expect"];
    let want_status = expect["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or("expect.status must be a number")?;
    // A token endpoint case names the OAuth `error` instead of a scimType.
    let want_oauth = match expect.get("error") {
        None => None,
        Some(Value::String(e)) if expect.get("scimType").is_none() => Some(e.as_str()),
        Some(_) => return Err("expect.error must be a string, and without a scimType".into()),
    };
    let want_type = match expect.get("scimType") {
        None if want_status >= 400 && want_oauth.is_none() => {
            return Err("an error case must give expect.scimType (null when none)".into());
        }
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => return Err("expect.scimType must be a string or null".into()),
    };
    let before = h.requests();
    let resp = send_raw(h, &req.method, &req.uri, &req.headers, req.body).await?;
    let wrote = writes(h.requests()) - writes(before);
    let mut problems = Vec::new();
    // 501 (an endpoint not offered) is the only 5xx a case may expect.
    if resp.status >= 500 && !(resp.status == 501 && want_status == 501) {
        problems.push(format!("server error {}", resp.status));
    }
    if resp.status != want_status {
        problems.push(format!("status {}, expected {want_status}", resp.status));
    }
    if wrote > 0 && case["writes"] != Value::Bool(true) {
        problems.push(format!("{wrote} write request(s) reached the table"));
    }
    if let Some(want_error) = want_oauth {
        problems.extend(oauth_problems(&resp, want_error));
    } else if resp.status >= 400 {
        if resp.header("content-type") != Some(SCIM_JSON) {
            problems.push(format!(
                "Content-Type {:?}, expected {SCIM_JSON}",
                resp.header("content-type")
            ));
        }
        match resp.json() {
            Err(e) => problems.push(e),
            Ok(body) => {
                if body["schemas"] != json!([ERROR_SCHEMA]) {
                    problems.push(format!(
                        "schemas {}, expected [{ERROR_SCHEMA}]",
                        body["schemas"]
                    ));
                }
                if body["status"] != Value::String(resp.status.to_string()) {
                    problems.push(format!("body status {}", body["status"]));
                }
                let got_type = body.get("scimType").and_then(Value::as_str);
                if body.get("scimType").is_some_and(|t| !t.is_string()) || got_type != want_type {
                    problems.push(format!(
                        "scimType {:?}, expected {want_type:?} (detail: {})",
                        body.get("scimType"),
                        body["detail"]
                    ));
                }
                if body["detail"].as_str().is_none_or(str::is_empty) {
                    problems.push("no detail".into());
                }
            }
        }
    } else if !resp.bytes.is_empty() && resp.header("content-type") != Some(SCIM_JSON) {
        problems.push(format!(
            "Content-Type {:?} on a {} body",
            resp.header("content-type"),
            resp.status
        ));
    }
    if let Some(want_body) = expect.get("body") {
        let want_body = expand_json(want_body, vars)?;
        match resp.json() {
            Ok(body) => problems.extend(mismatch(&want_body, &body, "")),
            Err(e) => problems.push(e),
        }
    }
    for (name, want) in expect["headers"].as_object().into_iter().flatten() {
        let want = want.as_str().map(|w| expand_str(w, vars)).transpose()?;
        let got = resp.header(name);
        // `Allow` is a set of methods: its order carries no meaning.
        let same = if name.eq_ignore_ascii_case("allow") {
            got.map(method_set) == want.as_deref().map(method_set)
        } else {
            got == want.as_deref()
        };
        if !same {
            problems.push(format!("header {name}: {got:?}, expected {want:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// What is wrong with an answer of the token endpoint that should be the
/// RFC 6749 §5.2 error `want`: never cached (§5.1), JSON with the error and a
/// description, and on a 401 the Basic challenge §5.2 asks for.
fn oauth_problems(resp: &Raw, want: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, value) in [
        ("content-type", OAUTH_JSON),
        ("cache-control", "no-store"),
        ("pragma", "no-cache"),
    ] {
        if resp.header(name) != Some(value) {
            problems.push(format!("{name} {:?}, expected {value}", resp.header(name)));
        }
    }
    let challenge = (resp.status == 401).then_some("Basic realm=\"scim\"");
    if resp.header("www-authenticate") != challenge {
        problems.push(format!(
            "WWW-Authenticate {:?} on a {}, expected {challenge:?}",
            resp.header("www-authenticate"),
            resp.status
        ));
    }
    match resp.json() {
        Err(e) => problems.push(e),
        Ok(body) => {
            if body["error"] != want {
                problems.push(format!(
                    "error {}, expected {want} (error_description: {})",
                    body["error"], body["error_description"]
                ));
            }
            if body["error_description"].as_str().is_none_or(str::is_empty) {
                problems.push("no error_description".into());
            }
        }
    }
    problems
}

/// Creates a resource: its id, and the body POST answered.
async fn create(h: &Harness, path: &str, body: Value) -> (String, Value) {
    let r = h.send("POST", &format!("{BASE}{path}"), Some(body)).await;
    assert_eq!(r.status, 201, "creating {path}: {}", r.body);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    (id, r.body)
}

/// The watched resources as GET shows them (with their members and groups),
/// and the totals of both types.
async fn snapshot(h: &Harness, paths: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for p in paths {
        let r = h.send("GET", p, None).await;
        out.push(json!({"path": p, "status": r.status, "etag": r.header("etag"), "body": r.body}));
    }
    for list in ["/Users", "/Groups"] {
        let r = h.send("GET", &format!("{BASE}{list}?count=0"), None).await;
        out.push(json!({"list": list, "totalResults": r.body["totalResults"]}));
    }
    out
}

async fn every_hostile_request_gets_its_scim_error_and_changes_nothing(h: Harness) {
    let corpus = fixture("hostile/requests.json");
    let cases = corpus["cases"]
        .as_array()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| panic!("requests.json: no cases"));

    let (user_id, user) = create(
        &h,
        "/Users",
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "hostile.target@example.com",
            "externalId": "ext-hostile-1",
            "name": {"givenName": "Hos", "familyName": "Tile"},
            "displayName": "Hos Tile",
            "active": true,
            "emails": [{"value": "hostile.target@example.com", "type": "work", "primary": true}]
        }),
    )
    .await;
    let (other_id, _) = create(
        &h,
        "/Users",
        json!({"userName": "hostile.bystander@example.com", "active": false}),
    )
    .await;
    let (group_id, group) = create(
        &h,
        "/Groups",
        json!({
            "displayName": "Hostile Targets",
            "externalId": "ext-hostile-group",
            "members": [{"value": user_id}]
        }),
    )
    .await;
    let (empty_group_id, _) = create(&h, "/Groups", json!({"displayName": "Hostile Empty"})).await;
    let first_page = h
        .send("GET", &format!("{BASE}/Users?cursor=&count=1"), None)
        .await;
    let cursor = first_page.body["nextCursor"]
        .as_str()
        .unwrap_or_else(|| panic!("no nextCursor: {}", first_page.body))
        .to_string();

    let vars: HashMap<&str, String> = HashMap::from([
        ("user_id", user_id.clone()),
        ("other_id", other_id.clone()),
        ("group_id", group_id.clone()),
        ("empty_group_id", empty_group_id.clone()),
        (
            "user_name",
            user["userName"].as_str().unwrap_or("").to_string(),
        ),
        (
            "group_name",
            group["displayName"].as_str().unwrap_or("").to_string(),
        ),
        (
            "user_etag",
            user["meta"]["version"].as_str().unwrap_or("").to_string(),
        ),
        (
            "group_etag",
            group["meta"]["version"].as_str().unwrap_or("").to_string(),
        ),
        ("cursor", cursor),
    ]);
    let watched: Vec<String> = [
        format!("/Users/{user_id}"),
        format!("/Users/{other_id}"),
        format!("/Groups/{group_id}"),
        format!("/Groups/{empty_group_id}"),
    ]
    .into_iter()
    .map(|p| format!("{BASE}{p}"))
    .collect();
    let before = snapshot(&h, &watched).await;

    let mut seen = std::collections::HashSet::new();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap_or("?");
        assert!(
            seen.insert(name.to_string()),
            "case name '{name}' is used twice"
        );
        if let Err(why) = replay(&h, case, &vars).await {
            failures.push(format!("#{i} '{name}': {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    let after = snapshot(&h, &watched).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a, b, "the corpus changed a resource or a total");
    }
}

crate::on_both_drivers!(every_hostile_request_gets_its_scim_error_and_changes_nothing);
