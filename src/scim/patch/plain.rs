//! Applying an operation to an attribute named without a value filter
//! (`emails`, `name.givenName`): the whole attribute, or one sub-attribute of
//! every value it has.

use serde_json::{Map, Value};

use super::super::error::ScimError;
use super::super::resource;
use super::super::schema::Attr;
use super::values::{clear_primary, is_primary, prune, same_value, set_sub};
use super::{Change, Op};

/// Applies one operation to `attr` (or its sub-attribute `sub`) in the
/// container `c`, choosing the step by what is removed or set.
pub(super) fn apply_plain(c: &mut Map<String, Value>, change: &Change) -> Result<(), ScimError> {
    let (attr, path) = (change.attr, change.path);
    match (change.op, change.sub) {
        (Op::Remove, None) => remove_attr(c, attr, change.value, path),
        (Op::Remove, Some(s)) => {
            remove_sub(c, &attr.name, s);
            Ok(())
        }
        (op, None) => set_attr(c, op, attr, change.value()?, path),
        (_, Some(s)) => set_sub_of_every_value(c, attr, s, change.value()?, path),
    }
}

/// `remove` of a whole attribute; with a value list on a multi-valued
/// attribute it removes just those values (Entra ID, for members).
fn remove_attr(
    c: &mut Map<String, Value>,
    attr: &Attr,
    value: Option<&Value>,
    path: &str,
) -> Result<(), ScimError> {
    let name = &*attr.name;
    match (value, attr.multi_valued, c.get_mut(name)) {
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
    Ok(())
}

/// `remove` of one sub-attribute, from every value of the attribute.
fn remove_sub(c: &mut Map<String, Value>, name: &str, s: &Attr) {
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

/// `add` or `replace` of a whole attribute, by the shape of its new value.
fn set_attr(
    c: &mut Map<String, Value>,
    op: Op,
    attr: &Attr,
    v: &Value,
    path: &str,
) -> Result<(), ScimError> {
    let name = &*attr.name;
    match (op, resource::normalize_attr(attr, v, path)?) {
        (Op::Add, None) => {}
        (_, None) => {
            c.remove(name);
        }
        (_, Some(Value::Array(new_items))) => set_values(c, op, name, new_items),
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
    Ok(())
}

/// The values of a multi-valued attribute after `add` (the old ones and the
/// new) or `replace` (the new ones): no value twice, one primary at most.
fn set_values(c: &mut Map<String, Value>, op: Op, name: &str, new_items: Vec<Value>) {
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

/// `add` or `replace` of one sub-attribute: set on every value the attribute
/// has, or on a new value when it has none.
fn set_sub_of_every_value(
    c: &mut Map<String, Value>,
    attr: &Attr,
    s: &Attr,
    v: &Value,
    path: &str,
) -> Result<(), ScimError> {
    let name = &*attr.name;
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
                c.insert(name.to_string(), value_with_sub(attr, s, new));
            }
        }
    }
    prune(c, name);
    Ok(())
}

/// A first value holding just one sub-attribute, in a list if the attribute
/// is multi-valued.
fn value_with_sub(attr: &Attr, s: &Attr, new: Value) -> Value {
    let mut o = Map::new();
    o.insert(s.name.to_string(), new);
    if attr.multi_valued {
        Value::Array(vec![Value::Object(o)])
    } else {
        Value::Object(o)
    }
}
