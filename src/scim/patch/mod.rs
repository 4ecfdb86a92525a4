//! PATCH (RFC 7644 §3.5.2): the PatchOp message, the PATCH path grammar
//! (`attr`, `attr.sub`, `urn:...:attr`, `attr[filter]`, `attr[filter].sub`),
//! and applying operations to a resource document.
//!
//! The rooms: `path` resolves a path to a target, `plain` and `filtered`
//! apply an operation to an attribute without and with a value filter,
//! `values` holds what both do to the values of an attribute.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::resource::{self, Doc, TopLevel};
use super::schema::{Attr, AttrType, Mutability};
use super::schemas::ResourceType;

mod filtered;
mod path;
mod plain;
mod values;

use filtered::apply_filtered;
use path::{Target, parse_path};
use plain::apply_plain;

/// One operation aimed at one attribute (or one of its sub-attributes), as
/// `plain` and `filtered` apply it; `path` is the text errors name.
#[derive(Debug, Clone, Copy)]
struct Change<'a> {
    op: Op,
    attr: &'a Attr,
    sub: Option<&'a Attr>,
    value: Option<&'a Value>,
    path: &'a str,
}

impl<'a> Change<'a> {
    /// The operation's value, which every `add` and `replace` needs.
    fn value(&self) -> Result<&'a Value, ScimError> {
        let path = self.path;
        self.value.ok_or_else(|| {
            ScimError::invalid_value(format!("'{path}': the operation needs a \"value\""))
        })
    }
}

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
/// Applies the operations in order to a copy of `doc` and returns the result,
/// re-validated. Nothing is applied if any operation fails.
pub fn apply(doc: &Doc, ops: &[Operation], rt: &ResourceType) -> Result<Doc, ScimError> {
    let mut out = doc.clone();
    for op in ops {
        apply_one(&mut out, op, rt)?;
    }
    // Re-validate the whole document: operations may have left values that
    // need canonical form (and `userName` must still be there).
    // Before, so that an emptied value is not checked as one; after, for
    // what the checks leave empty.
    drop_valueless_elements(&mut out, rt);
    let mut doc = resource::normalize(&Value::Object(out), rt)?;
    drop_valueless_elements(&mut doc, rt);
    Ok(doc)
}

/// Takes out the elements of multi-valued attributes that an operation left
/// without what they are about: a `value` (an email, a phone number after
/// Entra ID's `emails[type eq "work"].value` set to `""` or `null`), or, for
/// attributes without one (addresses), every part but `type`, `primary`
/// and `display`. An attribute left with no element goes too.
fn drop_valueless_elements(doc: &mut Doc, rt: &ResourceType) {
    let empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    };
    for attr in rt.schema.attributes.iter() {
        if !attr.multi_valued || attr.ty != AttrType::Complex {
            continue;
        }
        let has_value = attr.sub_attributes.iter().any(|s| s.name == "value");
        let Some(Value::Array(items)) = doc.get_mut(&*attr.name) else {
            continue;
        };
        items.retain(|item| {
            let Value::Object(e) = item else { return true };
            match has_value {
                true => !empty(e.get("value")),
                false => e.iter().any(|(k, v)| {
                    !matches!(k.as_str(), "type" | "primary" | "display") && !empty(Some(v))
                }),
            }
        });
        if items.is_empty() {
            doc.remove(&*attr.name);
        }
    }
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
            let change = Change {
                op,
                attr,
                sub: *sub,
                value,
                path,
            };
            let container = container(doc, *ext)?;
            match filter {
                None => apply_plain(container, &change),
                Some(f) => apply_filtered(container, f, &change),
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

#[cfg(test)]
mod robustness_tests;

#[cfg(test)]
mod tests;
