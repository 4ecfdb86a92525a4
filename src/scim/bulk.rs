//! Bulk (RFC 7644 §3.7): the `BulkRequest` parsed into operations, the
//! `bulkId:` references inside them, and the `BulkResponse`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Kind, ScimError};

pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// What a `bulkId:` reference starts with, in `data` values and in `path`.
const REFERENCE: &str = "bulkId:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// One operation as sent: `path` is `/Users`, `/Groups/<id>` and so on,
/// possibly naming `bulkId:<x>` for the id.
#[derive(Debug, Clone)]
pub struct BulkOp {
    pub method: Method,
    pub bulk_id: Option<String>,
    pub version: Option<String>,
    pub path: String,
    pub data: Option<Value>,
}

/// An operation the service could not read: what of it is known, for its
/// entry in the response, and why.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub method: Option<String>,
    pub bulk_id: Option<String>,
    pub error: ScimError,
}

#[derive(Debug, Clone)]
pub struct BulkRequest {
    /// Errors after which the rest is not run (`failOnErrors`); none:
    /// every operation runs.
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<Result<BulkOp, Unreadable>>,
}

/// Reads a `BulkRequest`. The request as a whole is refused only when it
/// is not one (400) or holds more than `max_operations` (413); a single
/// operation that cannot be read gets its own error in the response.
pub fn parse(body: &Value, max_operations: usize) -> Result<BulkRequest, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(
            "a BulkRequest must be a JSON object",
        ));
    };
    if let Some(schemas) = obj.get("schemas") {
        let named = schemas
            .as_array()
            .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(BULK_REQUEST)));
        if !named {
            return Err(ScimError::invalid_syntax(format!(
                "a BulkRequest's schemas must name {BULK_REQUEST}"
            )));
        }
    }
    let ops = match obj.get("Operations").or_else(|| obj.get("operations")) {
        Some(Value::Array(ops)) => ops,
        _ => {
            return Err(ScimError::invalid_syntax(
                "a BulkRequest needs an \"Operations\" array",
            ));
        }
    };
    if ops.len() > max_operations {
        return Err(ScimError::payload_too_large(format!(
            "a BulkRequest may hold at most {max_operations} operations (maxOperations), not {}",
            ops.len()
        )));
    }
    let fail_on_errors = match obj.get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(ScimError::invalid_value(
                    "failOnErrors must be an integer of at least 1",
                ));
            }
        },
    };
    Ok(BulkRequest {
        fail_on_errors,
        operations: ops.iter().map(parse_op).collect(),
    })
}

fn parse_op(v: &Value) -> Result<BulkOp, Unreadable> {
    let text = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_string);
    let (method_text, bulk_id) = (text("method"), text("bulkId"));
    let fail = |error: ScimError| Unreadable {
        method: method_text.clone(),
        bulk_id: bulk_id.clone(),
        error,
    };
    if !v.is_object() {
        return Err(fail(ScimError::invalid_syntax(
            "an operation must be a JSON object",
        )));
    }
    let method = method_text
        .as_deref()
        .and_then(Method::parse)
        .ok_or_else(|| {
            fail(ScimError::invalid_value(
                "method must be POST, PUT, PATCH or DELETE",
            ))
        })?;
    let path =
        text("path").ok_or_else(|| fail(ScimError::invalid_value("an operation needs a path")))?;
    let data = v.get("data").filter(|d| !d.is_null()).cloned();
    if method != Method::Delete && data.is_none() {
        return Err(fail(ScimError::invalid_value(format!(
            "a {} operation needs data",
            method.as_str()
        ))));
    }
    if method == Method::Post && bulk_id.as_deref().is_none_or(str::is_empty) {
        return Err(fail(ScimError::invalid_value(
            "a POST operation needs a bulkId",
        )));
    }
    Ok(BulkOp {
        method,
        bulk_id,
        version: text("version"),
        path,
        data,
    })
}

/// Which resource an operation's path names: its kind and, but for a POST,
/// its id. Endpoints are matched in any letter case.
pub fn target(op: &BulkOp) -> Result<(Kind, Option<String>), ScimError> {
    let bad = || {
        ScimError::invalid_path(format!(
            "'{}' is not a path this {} takes (/Users or /Groups{})",
            op.path,
            op.method.as_str(),
            if op.method == Method::Post {
                ""
            } else {
                "/<id>"
            }
        ))
    };
    let rest = op.path.strip_prefix('/').ok_or_else(bad)?;
    let (endpoint, id) = match rest.split_once('/') {
        Some((e, id)) => (e, Some(id)),
        None => (rest, None),
    };
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.endpoint()[1..].eq_ignore_ascii_case(endpoint))
        .ok_or_else(bad)?;
    match (op.method, id) {
        (Method::Post, None) => Ok((kind, None)),
        (Method::Post, Some(_)) | (_, None) => Err(bad()),
        (_, Some(id)) if id.is_empty() || id.contains('/') => Err(bad()),
        (_, Some(id)) => Ok((kind, Some(id.to_string()))),
    }
}

/// Whether a character may be part of a bulkId after `bulkId:` (the RFC
/// leaves its alphabet open; these are URI's unreserved characters).
fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// Each `bulkId:<x>` in a text (a value, a path, or a filter inside one,
/// as in `members[value eq "bulkId:x"]`): where it starts and ends, and `x`.
fn occurrences(text: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(REFERENCE) {
        let start = from + at;
        let id_start = start + REFERENCE.len();
        let len = text[id_start..]
            .find(|c: char| !id_char(c))
            .unwrap_or(text.len() - id_start);
        if len > 0 {
            out.push((start, id_start + len, &text[id_start..id_start + len]));
        }
        from = id_start + len;
    }
    out
}

fn replaced(text: &str, ids: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end, id) in occurrences(text) {
        if let Some(real) = ids.get(id) {
            out.push_str(&text[last..start]);
            out.push_str(real);
            last = end;
        }
    }
    out.push_str(&text[last..]);
    out
}

fn each_text<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| each_text(i, out)),
        Value::Object(m) => m.values().for_each(|i| each_text(i, out)),
        _ => {}
    }
}

/// The bulkIds an operation refers to, in its path and anywhere in its data.
pub fn references(op: &BulkOp) -> Vec<String> {
    let mut texts = vec![op.path.as_str()];
    if let Some(data) = &op.data {
        each_text(data, &mut texts);
    }
    let mut out: Vec<String> = texts
        .into_iter()
        .flat_map(occurrences)
        .map(|(_, _, id)| id.to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The operation with each `bulkId:<x>` replaced by the id `x` was given.
pub fn resolve(op: &BulkOp, ids: &HashMap<String, String>) -> BulkOp {
    fn walk(v: &mut Value, ids: &HashMap<String, String>) {
        match v {
            Value::String(s) => *s = replaced(s, ids),
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, ids)),
            Value::Object(m) => m.values_mut().for_each(|i| walk(i, ids)),
            _ => {}
        }
    }
    let mut out = op.clone();
    out.path = replaced(&op.path, ids);
    if let Some(data) = &mut out.data {
        walk(data, ids);
    }
    out
}

/// One entry of the `BulkResponse`.
#[derive(Debug, Clone)]
pub struct OpResult {
    pub method: String,
    pub bulk_id: Option<String>,
    /// The resource written, for its `location`.
    pub written: Option<(Kind, String)>,
    pub version: Option<String>,
    pub status: u16,
    pub error: Option<ScimError>,
}

/// The `BulkResponse` of these results, locations under `base_url`.
pub fn response(results: &[OpResult], base_url: &str) -> Value {
    let ops: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("method".into(), json!(r.method));
            if let Some(b) = &r.bulk_id {
                m.insert("bulkId".into(), json!(b));
            }
            if let Some((kind, id)) = &r.written {
                m.insert(
                    "location".into(),
                    json!(format!("{base_url}{}/{id}", kind.endpoint())),
                );
            }
            if let Some(v) = &r.version {
                m.insert("version".into(), json!(v));
            }
            m.insert("status".into(), json!(r.status.to_string()));
            if let Some(e) = &r.error {
                m.insert("response".into(), e.to_json());
            }
            Value::Object(m)
        })
        .collect();
    json!({"schemas": [BULK_RESPONSE], "Operations": ops})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(v: Value) -> BulkOp {
        parse_op(&v).unwrap_or_else(|e| panic!("{:?}", e.error))
    }

    #[test]
    fn references_are_found_in_the_path_and_anywhere_in_data_and_resolved() {
        let o = op(
            json!({"method": "PATCH", "path": "/Groups/bulkId:g", "data": {
            "Operations": [{"op": "add", "path": "members",
                "value": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}, {"value": "bulkId:u1"}]},
                {"op": "remove", "path": "members[value eq \"bulkId:u3\"]"}]}}),
        );
        assert_eq!(references(&o), vec!["g", "u1", "u2", "u3"]);
        let ids: HashMap<String, String> = [("g", "G"), ("u1", "U1"), ("u2", "U2"), ("u3", "U3")]
            .map(|(a, b)| (a.into(), b.into()))
            .into();
        let r = resolve(&o, &ids);
        assert_eq!(r.path, "/Groups/G");
        assert_eq!(
            r.data
                .as_ref()
                .map(|d| d["Operations"][0]["value"][1]["value"].clone()),
            Some(json!("U2"))
        );
        assert_eq!(
            r.data.as_ref().map(|d| d["Operations"][1]["path"].clone()),
            Some(json!("members[value eq \"U3\"]"))
        );
        assert!(references(&r).is_empty());
        // Only a whole reference counts; "bulkId:" alone is text.
        assert!(occurrences("bulkId: and bulkId:").is_empty());
    }

    #[test]
    fn paths_name_a_kind_and_an_id_as_the_method_needs() {
        let t = |m: &str, p: &str| {
            let o = op(json!({"method": m, "path": p, "bulkId": "b", "data": {}}));
            target(&o).map_err(|e| e.status)
        };
        assert_eq!(t("POST", "/Users"), Ok((Kind::User, None)));
        assert_eq!(t("post", "/groups"), Ok((Kind::Group, None)));
        assert_eq!(t("PUT", "/Users/abc"), Ok((Kind::User, Some("abc".into()))));
        assert_eq!(t("POST", "/Users/abc"), Err(400));
        assert_eq!(t("DELETE", "/Groups"), Err(400));
        assert_eq!(t("PATCH", "/Devices/x"), Err(400));
        assert_eq!(t("PATCH", "Users/x"), Err(400));
        assert_eq!(t("PATCH", "/Users/x/y"), Err(400));
    }

    #[test]
    fn a_request_is_refused_whole_only_when_it_is_not_one_or_too_long() {
        let ok = json!({"schemas": [BULK_REQUEST], "Operations": [
            {"method": "POST", "path": "/Users", "data": {}},
            {"method": "FETCH", "path": "/Users"},
            {"method": "DELETE", "path": "/Users/x"}]});
        let r = parse(&ok, 10).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            r.operations[0]
                .as_ref()
                .is_err_and(|e| e.error.detail.contains("bulkId"))
        );
        assert!(r.operations[1].is_err());
        assert!(r.operations[2].is_ok());
        assert_eq!(parse(&ok, 2).map_err(|e| e.status).err(), Some(413));
        assert_eq!(parse(&json!([]), 10).map_err(|e| e.status).err(), Some(400));
        assert_eq!(
            parse(&json!({"schemas": ["urn:x"], "Operations": []}), 10)
                .map_err(|e| e.status)
                .err(),
            Some(400)
        );
        assert_eq!(
            parse(&json!({"Operations": [], "failOnErrors": 0}), 10)
                .map_err(|e| e.status)
                .err(),
            Some(400)
        );
        assert_eq!(
            parse(&json!({"Operations": [], "failOnErrors": 2}), 10)
                .ok()
                .and_then(|r| r.fail_on_errors),
            Some(2)
        );
    }
}
