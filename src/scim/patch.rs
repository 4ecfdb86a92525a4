//! PATCH (RFC 7644 §3.5.2): the PatchOp message, the PATCH path grammar
//! (`attr`, `attr.sub`, `urn:...:attr`, `attr[filter]`, `attr[filter].sub`),
//! and applying operations to a resource document.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{AttrPath, CompareOp, Filter, Literal};
use super::resource::{self, Doc, TopLevel};
use super::schema::{Attr, AttrType, Mutability, Schema};
use super::schemas::ResourceType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub op: Op,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Parses a PatchOp body. Lenient: `op` in any case (Entra ID sends `Add`),
/// `Operations` key in any case, a missing `schemas`.
pub fn parse_operations(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(
            "a PatchOp body must be a JSON object",
        ));
    };
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .map(|(_, v)| v)
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ScimError::invalid_syntax("a PatchOp needs a non-empty \"Operations\" list")
        })?;
    ops.iter()
        .enumerate()
        .map(|(i, o)| {
            let Value::Object(o) = o else {
                return Err(ScimError::invalid_syntax(format!(
                    "Operations[{i}] must be an object"
                )));
            };
            let field = |name: &str| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            };
            let op = match field("op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("add") => Op::Add,
                Some("replace") => Op::Replace,
                Some("remove") => Op::Remove,
                _ => {
                    return Err(ScimError::invalid_syntax(format!(
                        "Operations[{i}].op must be \"add\", \"replace\" or \"remove\""
                    )));
                }
            };
            let path = match field("path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(s.trim().to_string()),
                Some(_) => {
                    return Err(ScimError::invalid_path(format!(
                        "Operations[{i}].path must be a string"
                    )));
                }
            };
            let value = field("value").cloned();
            Ok(Operation { op, path, value })
        })
        .collect()
}

/// A PATCH path resolved against the resource type.
#[derive(Debug)]
enum Target<'s> {
    /// A whole extension object (`path: "urn:...:User"`).
    Extension(&'s Schema),
    Attribute {
        ext: Option<&'s str>,
        attr: &'s Attr,
        filter: Option<Filter>,
        sub: Option<&'s Attr>,
    },
}

fn parse_path<'s>(path: &str, rt: &'s ResourceType) -> Result<Target<'s>, ScimError> {
    if let Some(s) = rt.extension(path) {
        return Ok(Target::Extension(s));
    }
    let bad = || ScimError::invalid_path(format!("'{path}' is not a valid attribute path"));
    let (head, filter, after) = match path.find('[') {
        Some(open) => {
            let close = path.rfind(']').filter(|c| *c > open).ok_or_else(bad)?;
            let after = &path[close + 1..];
            let after = match after {
                "" => None,
                a => Some(a.strip_prefix('.').ok_or_else(bad)?),
            };
            let filter = Filter::parse_syntax(&path[open + 1..close])
                .map_err(|e| ScimError::invalid_path(format!("'{path}': {}", e.detail)))?;
            (&path[..open], Some(filter), after)
        }
        None => (path, None, None),
    };
    let ap = AttrPath::parse(head).ok_or_else(bad)?;
    if filter.is_some() && ap.sub.is_some() {
        return Err(bad());
    }
    let r = ap.resolve(rt).ok_or_else(|| {
        ScimError::invalid_path(format!("'{path}' names no attribute of a {}", rt.name()))
    })?;
    let sub = match (r.sub, after) {
        (Some(s), None) => Some(s),
        (None, Some(a)) => Some(r.attr.sub(a).ok_or_else(|| {
            ScimError::invalid_path(format!(
                "'{path}': '{}' has no sub-attribute '{a}'",
                r.attr.name
            ))
        })?),
        _ => None,
    };
    if let Some(f) = &filter {
        if r.attr.ty != AttrType::Complex {
            return Err(ScimError::invalid_path(format!(
                "'{path}': only complex attributes take a [filter]"
            )));
        }
        f.check(rt, Some(r.attr))
            .map_err(|e| ScimError::invalid_path(format!("'{path}': {}", e.detail)))?;
    }
    if r.attr.mutability == Mutability::ReadOnly
        || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
    {
        return Err(ScimError::mutability(format!("'{path}' is read-only")));
    }
    Ok(Target::Attribute {
        ext: r.ext,
        attr: r.attr,
        filter,
        sub,
    })
}

/// Applies the operations in order to a copy of `doc` and returns the result,
/// re-validated. Nothing is applied if any operation fails.
pub fn apply(doc: &Doc, ops: &[Operation], rt: &ResourceType) -> Result<Doc, ScimError> {
    let mut out = doc.clone();
    for op in ops {
        apply_one(&mut out, op, rt)?;
    }
    // Re-validate the whole document: operations may have left values that
    // need canonical form (and `userName` must still be there).
    resource::normalize(&Value::Object(out), rt)
}

fn apply_one(doc: &mut Doc, op: &Operation, rt: &ResourceType) -> Result<(), ScimError> {
    match (&op.path, op.op) {
        (None, Op::Remove) => Err(ScimError::no_target(
            "a \"remove\" operation needs a \"path\"",
        )),
        (None, _) => {
            let Some(Value::Object(values)) = &op.value else {
                return Err(ScimError::invalid_value(
                    "an operation without \"path\" needs an object \"value\"",
                ));
            };
            for (key, value) in values {
                // Keys may themselves be paths: "name.givenName" or
                // "urn:...:User:manager" (Entra ID sends both).
                let target = match resource::classify(key, rt) {
                    TopLevel::Extension(s) => Target::Extension(s),
                    TopLevel::Ignored if key.eq_ignore_ascii_case("schemas") => continue,
                    TopLevel::Core(a) if a.mutability == Mutability::ReadOnly => continue,
                    _ => match parse_path(key, rt) {
                        Ok(t) => t,
                        // Unknown attributes are ignored, as on POST and PUT.
                        Err(e) if e.scim_type == Some(super::error::ScimType::InvalidPath) => {
                            continue;
                        }
                        Err(e) => return Err(e),
                    },
                };
                apply_target(doc, op.op, &target, Some(value), key)?;
            }
            Ok(())
        }
        (Some(path), _) => {
            let target = parse_path(path, rt)?;
            apply_target(doc, op.op, &target, op.value.as_ref(), path)
        }
    }
}

fn apply_target(
    doc: &mut Doc,
    op: Op,
    target: &Target,
    value: Option<&Value>,
    path: &str,
) -> Result<(), ScimError> {
    match target {
        Target::Extension(schema) => {
            if op == Op::Remove {
                doc.remove(&*schema.id);
                return Ok(());
            }
            let Some(Value::Object(values)) = value else {
                return Err(ScimError::invalid_value(format!(
                    "'{path}' needs an object value"
                )));
            };
            for (k, v) in values {
                if let Some(attr) = schema.attr(k) {
                    let t = Target::Attribute {
                        ext: Some(&*schema.id),
                        attr,
                        filter: None,
                        sub: None,
                    };
                    apply_target(doc, op, &t, Some(v), path)?;
                }
            }
            Ok(())
        }
        Target::Attribute {
            ext,
            attr,
            filter,
            sub,
        } => {
            let container = container(doc, *ext)?;
            match filter {
                None => apply_plain(container, op, attr, *sub, value, path),
                Some(f) => apply_filtered(container, op, attr, f, *sub, value, path),
            }?;
            if let Some(urn) = ext {
                if doc
                    .get(*urn)
                    .and_then(Value::as_object)
                    .is_some_and(Map::is_empty)
                {
                    doc.remove(*urn);
                }
            }
            Ok(())
        }
    }
}

fn container<'a>(
    doc: &'a mut Doc,
    ext: Option<&str>,
) -> Result<&'a mut Map<String, Value>, ScimError> {
    let Some(urn) = ext else {
        return Ok(doc);
    };
    let slot = doc
        .entry(urn.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().ok_or_else(ScimError::internal)
}

fn require_value<'a>(value: Option<&'a Value>, path: &str) -> Result<&'a Value, ScimError> {
    value.ok_or_else(|| {
        ScimError::invalid_value(format!("'{path}': the operation needs a \"value\""))
    })
}

fn apply_plain(
    c: &mut Map<String, Value>,
    op: Op,
    attr: &Attr,
    sub: Option<&Attr>,
    value: Option<&Value>,
    path: &str,
) -> Result<(), ScimError> {
    let name = &*attr.name;
    match (op, sub) {
        (Op::Remove, None) => {
            match (value, attr.multi_valued, c.get_mut(name)) {
                // `remove` with a value list on a multi-valued attribute
                // removes just those values (Entra ID, for members).
                (Some(v), true, Some(Value::Array(items))) if !v.is_null() => {
                    let doomed = resource::normalize_attr(attr, v, path)?.unwrap_or(Value::Null);
                    let doomed = doomed.as_array().cloned().unwrap_or_default();
                    items.retain(|item| !doomed.iter().any(|d| same_value(item, d)));
                    if items.is_empty() {
                        c.remove(name);
                    }
                }
                _ => {
                    c.remove(name);
                }
            }
        }
        (Op::Remove, Some(s)) => {
            match c.get_mut(name) {
                Some(Value::Array(items)) => {
                    for item in items.iter_mut() {
                        if let Value::Object(o) = item {
                            o.remove(&*s.name);
                        }
                    }
                }
                Some(Value::Object(o)) => {
                    o.remove(&*s.name);
                }
                _ => {}
            }
            prune(c, name);
        }
        (_, None) => {
            let v = require_value(value, path)?;
            let new = resource::normalize_attr(attr, v, path)?;
            match (op, new) {
                (Op::Add, None) => {}
                (_, None) => {
                    c.remove(name);
                }
                (_, Some(Value::Array(new_items))) => {
                    let mut items = match (op, c.remove(name)) {
                        (Op::Add, Some(Value::Array(old))) => old,
                        _ => Vec::new(),
                    };
                    for item in new_items {
                        if is_primary(&item) {
                            clear_primary(&mut items);
                        }
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    }
                    c.insert(name.to_string(), Value::Array(items));
                }
                // A complex single-valued attribute: the given sub-attributes
                // replace theirs, the others stay (RFC 7644 §3.5.2.1, §3.5.2.3).
                (_, Some(Value::Object(new_obj))) => match c.get_mut(name) {
                    Some(Value::Object(old)) => old.extend(new_obj),
                    _ => {
                        c.insert(name.to_string(), Value::Object(new_obj));
                    }
                },
                (_, Some(scalar)) => {
                    c.insert(name.to_string(), scalar);
                }
            }
        }
        (_, Some(s)) => {
            let v = require_value(value, path)?;
            let new = resource::normalize_single(s, v, path)?;
            match c.get_mut(name) {
                Some(Value::Array(items)) => {
                    for item in items.iter_mut() {
                        set_sub(item, s, new.clone());
                    }
                }
                Some(obj @ Value::Object(_)) => set_sub(obj, s, new),
                _ => {
                    if let Some(new) = new {
                        let mut o = Map::new();
                        o.insert(s.name.to_string(), new);
                        let v = if attr.multi_valued {
                            Value::Array(vec![Value::Object(o)])
                        } else {
                            Value::Object(o)
                        };
                        c.insert(name.to_string(), v);
                    }
                }
            }
            prune(c, name);
        }
    }
    Ok(())
}

fn apply_filtered(
    c: &mut Map<String, Value>,
    op: Op,
    attr: &Attr,
    filter: &Filter,
    sub: Option<&Attr>,
    value: Option<&Value>,
    path: &str,
) -> Result<(), ScimError> {
    let name = &*attr.name;
    let mut items = match c.remove(name) {
        Some(Value::Array(a)) => a,
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    let matched: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, e)| filter.matches_element(e, attr))
        .map(|(i, _)| i)
        .collect();
    let result = (|| {
        if matched.is_empty() {
            // Entra ID adds or replaces `emails[type eq "work"].value` when no
            // work email exists yet: create the value the filter describes.
            let seed = match (op, sub) {
                (Op::Add | Op::Replace, Some(_)) => seed_from_filter(filter, attr),
                _ => None,
            };
            let Some(mut seed) = seed else {
                return Err(ScimError::no_target(format!("'{path}' matched no value")));
            };
            if let Some(s) = sub {
                let v = resource::normalize_single(s, require_value(value, path)?, path)?;
                set_sub(&mut seed, s, v);
            }
            if is_primary(&seed) {
                clear_primary(&mut items);
            }
            items.push(seed);
            return Ok(());
        }
        match (op, sub) {
            (Op::Remove, None) => {
                let mut i = 0;
                items.retain(|_| {
                    let keep = !matched.contains(&i);
                    i += 1;
                    keep
                });
            }
            (Op::Remove, Some(s)) => {
                for &i in &matched {
                    if let Some(Value::Object(o)) = items.get_mut(i) {
                        o.remove(&*s.name);
                    }
                }
            }
            (_, Some(s)) => {
                let v = resource::normalize_single(s, require_value(value, path)?, path)?;
                for &i in &matched {
                    if let Some(item) = items.get_mut(i) {
                        set_sub(item, s, v.clone());
                    }
                }
            }
            (_, None) => {
                let v = resource::normalize_single(attr, require_value(value, path)?, path)?;
                let Some(Value::Object(new)) = v else {
                    return Err(ScimError::invalid_value(format!(
                        "'{path}' needs an object value"
                    )));
                };
                for &i in &matched {
                    if let Some(Value::Object(o)) = items.get_mut(i) {
                        if op == Op::Replace {
                            o.clear();
                        }
                        o.extend(new.clone());
                    }
                }
            }
        }
        Ok(())
    })();
    items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
    if !items.is_empty() {
        c.insert(name.to_string(), Value::Array(items));
    }
    result
}

/// The element an `eq`-only filter describes (`type eq "work" and primary eq
/// true` → `{"type": "work", "primary": true}`), if it is that simple.
fn seed_from_filter(f: &Filter, attr: &Attr) -> Option<Value> {
    fn walk(f: &Filter, attr: &Attr, out: &mut Map<String, Value>) -> Option<()> {
        match f {
            Filter::And(a, b) => {
                walk(a, attr, out)?;
                walk(b, attr, out)
            }
            Filter::Compare(p, CompareOp::Eq, lit) => {
                let s = attr.sub(&p.name)?;
                let v = match lit {
                    Literal::String(s) => Value::String(s.clone()),
                    Literal::Number(n) => Value::Number(n.clone()),
                    Literal::Bool(b) => Value::Bool(*b),
                    Literal::Null => return None,
                };
                out.insert(s.name.to_string(), v);
                Some(())
            }
            _ => None,
        }
    }
    let mut out = Map::new();
    walk(f, attr, &mut out)?;
    Some(Value::Object(out))
}

fn set_sub(item: &mut Value, s: &Attr, v: Option<Value>) {
    if let Value::Object(o) = item {
        match v {
            Some(v) => {
                o.insert(s.name.to_string(), v);
            }
            None => {
                o.remove(&*s.name);
            }
        }
    }
}

/// Drops an attribute left empty by a sub-attribute removal.
fn prune(c: &mut Map<String, Value>, name: &str) {
    let empty = match c.get_mut(name) {
        Some(Value::Array(items)) => {
            items.retain(|i| i.as_object().is_none_or(|o| !o.is_empty()));
            items.is_empty()
        }
        Some(Value::Object(o)) => o.is_empty(),
        _ => false,
    };
    if empty {
        c.remove(name);
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

fn clear_primary(items: &mut [Value]) {
    for i in items {
        if let Value::Object(o) = i {
            if o.get("primary") == Some(&Value::Bool(true)) {
                o.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

/// Two values of a multi-valued attribute are the same value when their
/// `value` sub-attributes are equal (or, without one, when they are equal).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::Kind;
    use crate::scim::error::ScimType;
    use crate::scim::schema::ENTERPRISE_USER_SCHEMA;
    use crate::scim::schemas::Schemas;
    use serde_json::json;

    fn base() -> Doc {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        resource::normalize(
            &json!({
                "userName": "bjensen",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [
                    {"value": "b@work.example", "type": "work", "primary": true},
                    {"value": "b@home.example", "type": "home"}
                ],
                "active": true
            }),
            user_type,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn patch(doc: &Doc, body: Value) -> Result<Doc, ScimError> {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        apply(doc, &parse_operations(&body)?, user_type)
    }

    #[test]
    fn replaces_a_filtered_sub_attribute() {
        let out = patch(&base(), json!({"Operations": [
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@work.example"}
        ]}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out["emails"][0]["value"], "new@work.example");
        assert_eq!(out["emails"][1]["value"], "b@home.example");
    }

    #[test]
    fn adds_a_filtered_email_that_does_not_exist_yet() {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        let doc = resource::normalize(&json!({"userName": "x"}), user_type)
            .unwrap_or_else(|e| panic!("{e}"));
        let out = patch(
            &doc,
            json!({"Operations": [
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@work.example"}
            ]}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            out["emails"],
            json!([{"type": "work", "value": "x@work.example"}])
        );
    }

    #[test]
    fn replace_without_path_takes_dotted_and_urn_keys() {
        let out = patch(
            &base(),
            json!({"Operations": [{"op": "Replace", "value": {
                "name.givenName": "Babs",
                "active": "False",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "boss-id",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Tour"
            }}]}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out["name"]["givenName"], "Babs");
        assert_eq!(out["name"]["familyName"], "Jensen");
        assert_eq!(out["active"], false);
        assert_eq!(out[ENTERPRISE_USER_SCHEMA]["manager"]["value"], "boss-id");
        assert_eq!(out[ENTERPRISE_USER_SCHEMA]["department"], "Tour");
    }

    #[test]
    fn removes_values_and_reports_no_target_for_unmatched_filters() {
        let out = patch(
            &base(),
            json!({"Operations": [
                {"op": "remove", "path": "emails[type eq \"home\"]"}
            ]}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out["emails"].as_array().map(Vec::len), Some(1));
        let err = patch(
            &base(),
            json!({"Operations": [
                {"op": "remove", "path": "emails[type eq \"other\"]"}
            ]}),
        )
        .err();
        assert_eq!(err.and_then(|e| e.scim_type), Some(ScimType::NoTarget));
        let err = patch(&base(), json!({"Operations": [{"op": "remove"}]})).err();
        assert_eq!(err.and_then(|e| e.scim_type), Some(ScimType::NoTarget));
    }

    #[test]
    fn rejects_bad_paths_read_only_targets_and_removing_user_name() {
        for (body, want) in [
            (
                json!({"Operations": [{"op": "add", "path": "nosuch", "value": 1}]}),
                ScimType::InvalidPath,
            ),
            (
                json!({"Operations": [{"op": "add", "path": "emails[type eq", "value": 1}]}),
                ScimType::InvalidPath,
            ),
            (
                json!({"Operations": [{"op": "replace", "path": "id", "value": "x"}]}),
                ScimType::Mutability,
            ),
            (
                json!({"Operations": [{"op": "remove", "path": "userName"}]}),
                ScimType::InvalidValue,
            ),
            (
                json!({"Operations": [{"op": "jump", "path": "userName"}]}),
                ScimType::InvalidSyntax,
            ),
            (json!({"Operations": []}), ScimType::InvalidSyntax),
            (
                json!({"Operations": [{"op": "add", "path": "uéé", "value": 1}]}),
                ScimType::InvalidPath,
            ),
            (
                json!({"Operations": [{"op": "add", "path": "urn:é:x", "value": 1}]}),
                ScimType::InvalidPath,
            ),
        ] {
            let err = patch(&base(), body.clone()).err();
            assert_eq!(err.and_then(|e| e.scim_type), Some(want), "{body}");
        }
    }

    #[test]
    fn adding_a_primary_email_demotes_the_old_primary() {
        let out = patch(&base(), json!({"Operations": [
            {"op": "add", "path": "emails", "value": [{"value": "c@x.example", "primary": true}]}
        ]}))
        .unwrap_or_else(|e| panic!("{e}"));
        let primaries: Vec<&Value> = out["emails"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| is_primary(e))
            .collect();
        assert_eq!(primaries.len(), 1);
        assert_eq!(primaries[0]["value"], "c@x.example");
    }

    #[test]
    fn removing_the_manager_by_urn_path_clears_it() {
        let doc = patch(&base(), json!({"Operations": [{"op": "add", "path":
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "m1"}}]}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc[ENTERPRISE_USER_SCHEMA]["manager"]["value"], "m1");
        let doc = patch(
            &doc,
            json!({"Operations": [{"op": "remove", "path":
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(doc.get(ENTERPRISE_USER_SCHEMA).is_none());
    }
}

#[cfg(test)]
mod robustness_tests {
    use super::*;
    use crate::scim::Kind;
    use crate::scim::projection::Projection;
    use crate::scim::schemas::Schemas;
    use serde_json::json;

    /// A small deterministic generator (xorshift), so failures reproduce.
    fn strings(n: usize) -> Vec<String> {
        let alphabet: Vec<char> = "ab.:[]()\"\\ =-$_éü😀01urnemailsvaluetypeqorandnotprUSERurn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            .chars()
            .collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let len = (state % 40) as usize;
                (0..len)
                    .map(|i| {
                        let k = (state.rotate_left(i as u32 * 5) % alphabet.len() as u64) as usize;
                        alphabet[k]
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn arbitrary_filters_paths_and_projections_never_panic() {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        let group_type = schemas.resource_type(Kind::Group);
        let doc = resource::normalize(
            &json!({"userName": "x", "emails": [{"value": "a", "type": "work"}]}),
            user_type,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for s in strings(20_000) {
            if let Ok(f) = Filter::parse(&s, user_type) {
                let _ = f.matches(&Value::Object(doc.clone()), user_type);
                let _ = f.to_string();
            }
            let ops = vec![Operation {
                op: Op::Add,
                path: Some(s.clone()),
                value: Some(json!("v")),
            }];
            let _ = apply(&doc, &ops, user_type);
            let ops = vec![Operation {
                op: Op::Remove,
                path: Some(s.clone()),
                value: None,
            }];
            let _ = apply(&doc, &ops, user_type);
            let mut out = json!({"id": "1", "userName": "x"});
            Projection::parse(Some(&s), Some(&s), group_type).apply(&mut out, group_type);
        }
    }
}
