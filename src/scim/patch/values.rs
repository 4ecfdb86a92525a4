//! What PATCH does to the values of one attribute, with or without a value
//! filter: setting a sub-attribute, pruning what is left empty, keeping one
//! primary value, and telling two values apart.

use serde_json::{Map, Value};

use super::super::schema::Attr;

/// Sets a sub-attribute of one complex value, or removes it for `None` (a
/// value normalized to nothing).
pub(super) fn set_sub(item: &mut Value, s: &Attr, v: Option<Value>) {
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
pub(super) fn prune(c: &mut Map<String, Value>, name: &str) {
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

/// Whether a value is marked `primary` (RFC 7643 §2.4 allows one at most).
pub(super) fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// Demotes the current primary value, before a new primary one is added.
pub(super) fn clear_primary(items: &mut [Value]) {
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
pub(super) fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}
