//! Replays every IdP conversation in `tests/fixtures/idp/<idp>/*.json`
//! through the whole router, on both drivers (format: the README there).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Harness, TOKEN, mismatch};

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

async fn replay(h: &Harness, file: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let conv: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let steps = conv["steps"].as_array().ok_or("no steps")?;
    let mut vars: HashMap<String, String> = HashMap::new();
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
    Ok(steps.len())
}

async fn every_idp_conversation_replays(d: crate::common::Driver) {
    let files = conversations();
    assert!(!files.is_empty(), "no conversations found");
    let mut failures = Vec::new();
    let mut steps = 0;
    for file in &files {
        let h = d.harness(&crate::common::config()).await;
        match replay(&h, file).await {
            Ok(n) => steps += n,
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
