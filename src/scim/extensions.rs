//! Operator-declared extension schemas: read from the JSON file named by
//! `SCIM_SCHEMA_EXTENSIONS`, in RFC 7643 §7's schema representation. The file
//! holds a list of `{"resourceType": "User" | "Group", "required": bool,
//! "schema": {"id": "urn:...", "name": ..., "attributes": [...]}}`.
//! Declared schemas are served under `/Schemas`, named in `/ResourceTypes`,
//! and validated, stored, returned, patched and filtered like the built-in
//! Enterprise User extension.

use std::borrow::Cow;

use serde_json::Value;

use super::kind::Kind;
use super::schema::{Attr, AttrType, Mutability, Names, Returned, Schema, Uniqueness};
use super::schemas::{Extension, Schemas};

fn owned(s: &str) -> Cow<'static, str> {
    Cow::Owned(s.to_string())
}

fn text<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}: \"{key}\" must be a string"))
}

fn flag(v: &Value, key: &str, at: &str) -> Result<bool, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("{at}: \"{key}\" must be true or false")),
    }
}

fn strings(v: &Value, key: &str, at: &str) -> Result<Names, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(Names::Builtin(&[])),
        Some(Value::Array(items)) => {
            let list = items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("{at}: \"{key}\" must list strings"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Names::Declared(list))
        }
        Some(_) => Err(format!("{at}: \"{key}\" must be a list")),
    }
}

fn choice<T: Copy>(
    v: &Value,
    key: &str,
    at: &str,
    default: T,
    options: &[(&str, T)],
) -> Result<T, String> {
    match v.get(key).and_then(Value::as_str) {
        None => Ok(default),
        Some(s) => options
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|(_, t)| *t)
            .ok_or_else(|| format!("{at}: \"{key}\" cannot be '{s}'")),
    }
}

/// One declared attribute, read as RFC 7643 §7 writes it; `nested` is set
/// for a sub-attribute, which cannot itself be complex.
fn attribute(v: &Value, at: &str, nested: bool) -> Result<Attr, String> {
    let name = text(v, "name", at)?;
    let at = format!("{at}.{name}");
    check_name(name, &at)?;
    let ty = attr_type(v, &at)?;
    let subs = sub_attributes(v, ty, &at, nested)?;
    let (mutability, returned, required) = access(v, &at)?;
    Ok(Attr {
        name: owned(name),
        ty,
        multi_valued: flag(v, "multiValued", &at)?,
        required,
        case_exact: flag(v, "caseExact", &at)?,
        mutability,
        returned,
        uniqueness: uniqueness(v, &at)?,
        canonical_values: strings(v, "canonicalValues", &at)?,
        reference_types: strings(v, "referenceTypes", &at)?,
        sub_attributes: subs,
        description: owned(v.get("description").and_then(Value::as_str).unwrap_or("")),
    })
}

/// A declared name must be one a filter or PATCH path can spell.
fn check_name(name: &str, at: &str) -> Result<(), String> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
    if !valid {
        return Err(format!("{at}: not a valid attribute name"));
    }
    Ok(())
}

/// The declared `type`, a string when none is given.
fn attr_type(v: &Value, at: &str) -> Result<AttrType, String> {
    choice(
        v,
        "type",
        at,
        AttrType::String,
        &[
            ("string", AttrType::String),
            ("boolean", AttrType::Boolean),
            ("decimal", AttrType::Decimal),
            ("integer", AttrType::Integer),
            ("dateTime", AttrType::DateTime),
            ("binary", AttrType::Binary),
            ("reference", AttrType::Reference),
            ("complex", AttrType::Complex),
        ],
    )
}

/// A complex attribute's sub-attributes, one level deep: only complex
/// attributes have them, and a complex one must.
fn sub_attributes(
    v: &Value,
    ty: AttrType,
    at: &str,
    nested: bool,
) -> Result<Cow<'static, [Attr]>, String> {
    match (ty, v.get("subAttributes")) {
        (AttrType::Complex, Some(Value::Array(items))) if !nested => {
            let list = items
                .iter()
                .map(|i| attribute(i, at, true))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Cow::Owned(list))
        }
        (AttrType::Complex, _) => Err(format!(
            "{at}: a complex attribute needs \"subAttributes\" (and cannot be nested)"
        )),
        (_, None | Some(Value::Null)) => Ok(Cow::Borrowed(&[])),
        (_, Some(_)) => Err(format!(
            "{at}: only complex attributes have \"subAttributes\""
        )),
    }
}

/// `mutability`, `returned` and `required` together, because they limit each
/// other: a writeOnly attribute is never returned, and a required one must be
/// writable and kept.
fn access(v: &Value, at: &str) -> Result<(Mutability, Returned, bool), String> {
    let mutability = choice(
        v,
        "mutability",
        at,
        Mutability::ReadWrite,
        &[
            ("readWrite", Mutability::ReadWrite),
            ("readOnly", Mutability::ReadOnly),
            ("immutable", Mutability::Immutable),
            ("writeOnly", Mutability::WriteOnly),
        ],
    )?;
    let returned = choice(
        v,
        "returned",
        at,
        Returned::Default,
        &[
            ("default", Returned::Default),
            ("always", Returned::Always),
            ("never", Returned::Never),
            ("request", Returned::Request),
        ],
    )?;
    let required = flag(v, "required", at)?;
    // RFC 7643 §7: a writeOnly attribute is never returned.
    let returned = if mutability == Mutability::WriteOnly {
        Returned::Never
    } else {
        returned
    };
    if required && (mutability == Mutability::ReadOnly || returned == Returned::Never) {
        return Err(format!(
            "{at}: a required attribute must be writable and kept"
        ));
    }
    Ok((mutability, returned, required))
}

/// The declared `uniqueness`, none when none is given.
fn uniqueness(v: &Value, at: &str) -> Result<Uniqueness, String> {
    choice(
        v,
        "uniqueness",
        at,
        Uniqueness::None,
        &[
            ("none", Uniqueness::None),
            ("server", Uniqueness::Server),
            ("global", Uniqueness::Global),
        ],
    )
}

/// Parses a declarations file's text.
pub fn parse(text_in: &str) -> Result<Vec<Extension>, String> {
    let root: Value = serde_json::from_str(text_in).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Array(decls) = root else {
        return Err("the file must hold a list of declarations".into());
    };
    let mut out: Vec<Extension> = Vec::new();
    for (i, d) in decls.iter().enumerate() {
        let at = format!("declaration {i}");
        let named = text(d, "resourceType", &at)?;
        let Some(resource_type) = Kind::from_name(named) else {
            return Err(format!(
                "{at}: resourceType must be User or Group, not '{named}'"
            ));
        };
        let s = d
            .get("schema")
            .ok_or_else(|| format!("{at}: no \"schema\""))?;
        let id = text(s, "id", &at)?;
        if !id.to_ascii_lowercase().starts_with("urn:") {
            return Err(format!("{at}: the schema id must be a URN"));
        }
        let taken = Schemas::builtin()
            .all()
            .any(|k| k.id.eq_ignore_ascii_case(id))
            || out.iter().any(|e| e.schema.id.eq_ignore_ascii_case(id));
        if taken {
            return Err(format!(
                "{at}: schema {id} is declared twice or is built in"
            ));
        }
        let attrs = s
            .get("attributes")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{at}: the schema needs \"attributes\""))?
            .iter()
            .map(|a| attribute(a, id, false))
            .collect::<Result<Vec<_>, _>>()?;
        let schema = Schema {
            id: owned(id),
            name: owned(s.get("name").and_then(Value::as_str).unwrap_or(id)),
            description: owned(s.get("description").and_then(Value::as_str).unwrap_or("")),
            attributes: Cow::Owned(attrs),
        };
        out.push(Extension {
            resource_type,
            schema,
            required: flag(d, "required", &at)?,
        });
    }
    Ok(out)
}

/// Reads a declarations file.
pub fn load(path: &std::path::Path) -> Result<Vec<Extension>, String> {
    let text_in = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text_in).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_typed_extension() {
        let decls = parse(r#"[{"resourceType": "User", "required": true, "schema": {
            "id": "urn:example:params:scim:schemas:extension:acme:2.0:User", "name": "Acme",
            "attributes": [
                {"name": "badge", "type": "integer", "required": true},
                {"name": "clearance", "type": "complex", "subAttributes": [{"name": "level", "type": "string", "canonicalValues": ["low", "high"]}]},
                {"name": "hired", "type": "dateTime", "mutability": "immutable"}
            ]}}]"#)
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decls.len(), 1);
        let s = &decls[0].schema;
        assert!(decls[0].required);
        assert_eq!(s.attr("BADGE").map(|a| a.ty), Some(AttrType::Integer));
        assert_eq!(
            s.attr("clearance")
                .and_then(|a| a.sub("level"))
                .map(|a| a.canonical_values.len()),
            Some(2)
        );
        assert_eq!(
            s.attr("hired").map(|a| a.mutability),
            Some(Mutability::Immutable)
        );
    }

    #[test]
    fn refuses_malformed_declarations() {
        for bad in [
            "{}",
            r#"[{"resourceType": "Printer", "schema": {"id": "urn:x", "attributes": []}}]"#,
            r#"[{"resourceType": "User", "schema": {"id": "not-a-urn", "attributes": []}}]"#,
            r#"[{"resourceType": "User", "schema": {"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": []}}]"#,
            r#"[{"resourceType": "User", "schema": {"id": "urn:x", "attributes": [{"name": "a", "type": "color"}]}}]"#,
            r#"[{"resourceType": "User", "schema": {"id": "urn:x", "attributes": [{"name": "a b", "type": "string"}]}}]"#,
            r#"[{"resourceType": "User", "schema": {"id": "urn:x", "attributes": [{"name": "c", "type": "complex"}]}}]"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
