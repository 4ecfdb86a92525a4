//! Applying an operation to the values of a multi-valued attribute that a
//! value filter selects (`emails[type eq "work"]`, `emails[type eq
//! "work"].value`).

use serde_json::{Map, Value};

use super::super::error::ScimError;
use super::super::filter::{CompareOp, Filter, Literal};
use super::super::resource;
use super::super::schema::Attr;
use super::values::{clear_primary, is_primary, set_sub};
use super::{Change, Op};

/// Takes the attribute's values out, changes the ones the filter selects (or
/// adds the one it describes), and puts back those still holding something,
/// whether the change succeeded or not.
pub(super) fn apply_filtered(
    c: &mut Map<String, Value>,
    filter: &Filter,
    change: &Change,
) -> Result<(), ScimError> {
    let name = &*change.attr.name;
    let mut items = take_values(c, name);
    let matched = matching(&items, filter, change.attr);
    let result = if matched.is_empty() {
        add_described(&mut items, filter, change)
    } else {
        change_matched(&mut items, &matched, change)
    };
    put_back(c, name, items);
    result
}

/// The attribute's values as a list (a single complex value counts as one).
fn take_values(c: &mut Map<String, Value>, name: &str) -> Vec<Value> {
    match c.remove(name) {
        Some(Value::Array(a)) => a,
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    }
}

/// The positions of the values the filter selects.
fn matching(items: &[Value], filter: &Filter, attr: &Attr) -> Vec<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(_, e)| filter.matches_element(e, attr))
        .map(|(i, _)| i)
        .collect()
}

/// The cleanup after a change: empty values are dropped, and the attribute
/// is dropped when none is left.
fn put_back(c: &mut Map<String, Value>, name: &str, mut items: Vec<Value>) {
    items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
    if !items.is_empty() {
        c.insert(name.to_string(), Value::Array(items));
    }
}

/// Entra ID adds or replaces `emails[type eq "work"].value` when no work
/// email exists yet: create the value the filter describes. Anything else
/// that matches nothing has no target.
fn add_described(
    items: &mut Vec<Value>,
    filter: &Filter,
    change: &Change,
) -> Result<(), ScimError> {
    let seed = match (change.op, change.sub) {
        (Op::Add | Op::Replace, Some(_)) => seed_from_filter(filter, change.attr),
        _ => None,
    };
    let Some(mut seed) = seed else {
        let path = change.path;
        return Err(ScimError::no_target(format!("'{path}' matched no value")));
    };
    if let Some(s) = change.sub {
        let v = resource::normalize_single(s, change.value()?, change.path)?;
        set_sub(&mut seed, s, v);
    }
    if is_primary(&seed) {
        clear_primary(items);
    }
    items.push(seed);
    Ok(())
}

/// Applies the operation to each selected value, by what is removed or set.
fn change_matched(
    items: &mut Vec<Value>,
    matched: &[usize],
    change: &Change,
) -> Result<(), ScimError> {
    match (change.op, change.sub) {
        (Op::Remove, None) => {
            let mut i = 0;
            items.retain(|_| {
                let keep = !matched.contains(&i);
                i += 1;
                keep
            });
        }
        (Op::Remove, Some(s)) => {
            for &i in matched {
                if let Some(Value::Object(o)) = items.get_mut(i) {
                    o.remove(&*s.name);
                }
            }
        }
        (_, Some(s)) => {
            let v = resource::normalize_single(s, change.value()?, change.path)?;
            for &i in matched {
                if let Some(item) = items.get_mut(i) {
                    set_sub(item, s, v.clone());
                }
            }
        }
        (_, None) => merge_into_matched(items, matched, change)?,
    }
    Ok(())
}

/// `add` or `replace` of whole selected values: `add` merges the given
/// sub-attributes in, `replace` makes them all the value holds.
fn merge_into_matched(
    items: &mut [Value],
    matched: &[usize],
    change: &Change,
) -> Result<(), ScimError> {
    let path = change.path;
    let v = resource::normalize_single(change.attr, change.value()?, path)?;
    let Some(Value::Object(new)) = v else {
        return Err(ScimError::invalid_value(format!(
            "'{path}' needs an object value"
        )));
    };
    for &i in matched {
        if let Some(Value::Object(o)) = items.get_mut(i) {
            if change.op == Op::Replace {
                o.clear();
            }
            o.extend(new.clone());
        }
    }
    Ok(())
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
