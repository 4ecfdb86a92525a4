//! Incoming resource bodies to canonical documents, and documents back to
//! RFC-shaped resources. Lenient on input (attribute names in any case,
//! booleans as strings, single values for multi-valued attributes, a bare id
//! for a complex reference, `null` as unassigned), strict on output.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::kind::Kind;
use super::schema::{Attr, AttrType, Mutability, Returned};
use super::schemas::ResourceType;

/// A resource's stored document: attributes by canonical name, extensions
/// under their schema URN; never `id`, `meta` or `schemas`.
pub type Doc = Map<String, Value>;

/// Where an attribute named at the top level of a body belongs.
pub(crate) enum TopLevel<'s> {
    /// A core or common attribute.
    Core(&'s Attr),
    /// An extension schema object (`"urn:...:User": {...}`).
    Extension(&'s super::schema::Schema),
    /// `schemas`, `id`, `meta` and other keys the client does not set.
    Ignored,
}

pub(crate) fn classify<'s>(key: &str, rt: &'s ResourceType) -> TopLevel<'s> {
    if key.eq_ignore_ascii_case("schemas") {
        return TopLevel::Ignored;
    }
    if let Some(s) = rt.extension(key) {
        return TopLevel::Extension(s);
    }
    match rt.core_attr(key) {
        Some(a) => TopLevel::Core(a),
        None => TopLevel::Ignored,
    }
}

/// Turns a POST/PUT body into a canonical document: validates types, drops
/// read-only and unknown attributes, checks required ones.
pub fn normalize(input: &Value, rt: &ResourceType) -> Result<Doc, ScimError> {
    let Value::Object(obj) = input else {
        return Err(ScimError::invalid_syntax(
            "the request body must be a JSON object",
        ));
    };
    let mut doc = Doc::new();
    for (key, value) in obj {
        match classify(key, rt) {
            TopLevel::Ignored => {
                tracing::debug!(attribute = %key, "ignoring unknown or read-only attribute");
            }
            TopLevel::Core(attr) => {
                if let Some(v) = normalize_attr(attr, value, &attr.name)? {
                    doc.insert(attr.name.to_string(), v);
                }
            }
            TopLevel::Extension(schema) => {
                let Value::Object(ext_in) = value else {
                    if value.is_null() {
                        continue;
                    }
                    return Err(ScimError::invalid_value(format!(
                        "'{}' must be an object",
                        schema.id
                    )));
                };
                let mut ext = Map::new();
                for (k, v) in ext_in {
                    if let Some(attr) = schema.attr(k) {
                        if let Some(v) = normalize_attr(attr, v, &attr.name)? {
                            ext.insert(attr.name.to_string(), v);
                        }
                    }
                }
                if !ext.is_empty() {
                    doc.insert(schema.id.to_string(), Value::Object(ext));
                }
            }
        }
    }
    check_required(&doc, rt)?;
    Ok(doc)
}

/// Fails when a required attribute has no value: of the core schema, of a
/// required extension, or of an extension the resource carries.
pub fn check_required(doc: &Doc, rt: &ResourceType) -> Result<(), ScimError> {
    let present = |v: Option<&Value>| match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    };
    for attr in rt.schema.attributes.iter().filter(|a| a.required) {
        if !present(doc.get(&*attr.name)) {
            return Err(ScimError::invalid_value(format!(
                "'{}' is required",
                attr.name
            )));
        }
    }
    for ext in &rt.extensions {
        let Some(obj) = doc.get(&*ext.id) else {
            if rt.requires(&ext.id) {
                return Err(ScimError::invalid_value(format!(
                    "the extension '{}' is required",
                    ext.id
                )));
            }
            continue;
        };
        for attr in ext.attributes.iter().filter(|a| a.required) {
            if !present(obj.get(&*attr.name)) {
                return Err(ScimError::invalid_value(format!(
                    "'{}:{}' is required",
                    ext.id, attr.name
                )));
            }
        }
    }
    Ok(())
}

/// Validates and canonicalizes one attribute's value. `None` means the
/// attribute ends up unassigned (null, empty, or not writable by clients).
pub fn normalize_attr(attr: &Attr, value: &Value, path: &str) -> Result<Option<Value>, ScimError> {
    if attr.mutability == Mutability::ReadOnly {
        return Ok(None);
    }
    // A password is accepted (IdPs send one) but never stored: this service
    // does not authenticate users.
    if attr.returned == Returned::Never {
        return Ok(None);
    }
    if value.is_null() {
        return Ok(None);
    }
    if attr.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Array(a) => a.iter().collect(),
            single => vec![single],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = normalize_single(attr, item, path)? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        let primaries = out
            .iter()
            .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
            .count();
        if primaries > 1 {
            return Err(ScimError::invalid_value(format!(
                "'{path}' has more than one value with \"primary\": true"
            )));
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    normalize_single(attr, value, path)
}

/// One value of an attribute (an element, for multi-valued ones).
pub fn normalize_single(
    attr: &Attr,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.ty == AttrType::Complex {
        let obj = match value {
            Value::Object(o) => o.clone(),
            // A one-element list for a single-valued complex attribute (older
            // Entra ID sends the manager as `[{"value": id}]`).
            Value::Array(items) if !attr.multi_valued && items.len() <= 1 => {
                return match items.first() {
                    Some(one) => normalize_single(attr, one, path),
                    None => Ok(None),
                };
            }
            // A bare value for a complex attribute with a `value` sub-attribute:
            // Entra ID sends the manager as a plain id string.
            scalar if attr.sub("value").is_some() && !scalar.is_array() => {
                let mut m = Map::new();
                m.insert("value".into(), scalar.clone());
                m
            }
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "'{path}' must be an object"
                )));
            }
        };
        let mut out = Map::new();
        for (k, v) in &obj {
            let Some(sub) = attr.sub(k) else {
                continue;
            };
            if let Some(v) = normalize_single(sub, v, &format!("{path}.{}", sub.name))? {
                if sub.mutability != Mutability::ReadOnly {
                    out.insert(sub.name.to_string(), v);
                }
            }
        }
        return Ok((!out.is_empty()).then_some(Value::Object(out)));
    }
    scalar(attr, value, path).map(Some)
}

fn scalar(attr: &Attr, value: &Value, path: &str) -> Result<Value, ScimError> {
    let wrong = || {
        ScimError::invalid_value(format!(
            "'{path}' must be a {}{}",
            attr.ty.as_str(),
            if attr.multi_valued {
                " (or a list of them)"
            } else {
                ""
            }
        ))
    };
    match attr.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(_) => Ok(value.clone()),
            // Numbers arrive for string attributes (employeeNumber, postalCode).
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(wrong()),
        },
        AttrType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            // Entra ID sends "True"/"False".
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong()),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(value.clone()),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| wrong()),
            _ => Err(wrong()),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => Ok(value.clone()),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(wrong),
            _ => Err(wrong()),
        },
        AttrType::DateTime => match value {
            Value::String(s)
                if time::OffsetDateTime::parse(
                    s,
                    &time::format_description::well_known::Rfc3339,
                )
                .is_ok() =>
            {
                Ok(value.clone())
            }
            _ => Err(ScimError::invalid_value(format!(
                "'{path}' must be an RFC 3339 date-time"
            ))),
        },
        AttrType::Complex => Err(wrong()),
    }
}

/// Fails when an immutable attribute that had a value is given a different one.
pub fn check_immutable(old: &Doc, new: &Doc, rt: &ResourceType) -> Result<(), ScimError> {
    let scopes = std::iter::once((None, rt.schema))
        .chain(rt.extensions.iter().map(|s| (Some(&*s.id), &**s)));
    for (ext, schema) in scopes {
        let get = |d: &Doc, name: &str| -> Option<Value> {
            match ext {
                None => d.get(name).cloned(),
                Some(urn) => d.get(urn).and_then(|e| e.get(name)).cloned(),
            }
        };
        for attr in schema
            .attributes
            .iter()
            .filter(|a| a.mutability == Mutability::Immutable)
        {
            if let (Some(before), after) = (get(old, &attr.name), get(new, &attr.name)) {
                if after.as_ref() != Some(&before) {
                    return Err(ScimError::mutability(format!(
                        "'{}' is immutable and cannot be changed",
                        attr.name
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Server-assigned parts of a resource.
#[derive(Debug, Clone)]
pub struct Meta {
    pub id: String,
    pub created: String,
    pub last_modified: String,
    pub version: u64,
}

impl Meta {
    /// The weak ETag that changes on every write.
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

/// A reference from one resource to another: a user's group, or a group's
/// member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub id: String,
    pub resource_type: Kind,
    pub display: Option<String>,
}

fn render_ref(rt: &ResourceType, r: &Ref, base_url: &str) -> Value {
    let mut m = Map::new();
    m.insert("value".into(), Value::String(r.id.clone()));
    m.insert(
        "$ref".into(),
        Value::String(format!("{base_url}{}/{}", r.resource_type.endpoint(), r.id)),
    );
    if let Some(d) = &r.display {
        m.insert("display".into(), Value::String(d.clone()));
    }
    // A user's groups are `direct` (indirect ones are not computed); a
    // group's members are typed by what they are.
    let ty = match rt.kind {
        Kind::User => "direct",
        Kind::Group => r.resource_type.name(),
    };
    m.insert("type".into(), Value::String(ty.into()));
    Value::Object(m)
}

/// The RFC-shaped resource: `schemas`, `id`, the document's attributes
/// (without `returned: never` ones), its references when computed, and a
/// complete `meta`.
pub fn render(
    doc: &Doc,
    meta: &Meta,
    rt: &ResourceType,
    base_url: &str,
    refs: Option<&[Ref]>,
) -> Value {
    let mut out = Map::new();
    let mut schemas = vec![Value::String(rt.schema.id.to_string())];
    for ext in &rt.extensions {
        if doc.contains_key(&*ext.id) {
            schemas.push(Value::String(ext.id.to_string()));
        }
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::String(meta.id.clone()));
    if let Some(ext) = doc.get("externalId") {
        out.insert("externalId".into(), ext.clone());
    }
    for (k, v) in doc {
        let never = rt
            .core_attr(k)
            .is_some_and(|a| a.returned == Returned::Never);
        if !never {
            out.insert(k.clone(), v.clone());
        }
    }
    if let Some(refs) = refs {
        let attr = rt.kind.refs_attribute();
        if !refs.is_empty() {
            let items = refs.iter().map(|r| render_ref(rt, r, base_url)).collect();
            out.insert(attr.into(), Value::Array(items));
        }
    }
    let mut m = Map::new();
    m.insert("resourceType".into(), Value::String(rt.name().into()));
    m.insert("created".into(), Value::String(meta.created.clone()));
    m.insert(
        "lastModified".into(),
        Value::String(meta.last_modified.clone()),
    );
    m.insert(
        "location".into(),
        Value::String(format!("{base_url}{}/{}", rt.kind.endpoint(), meta.id)),
    );
    m.insert("version".into(), Value::String(meta.etag()));
    out.insert("meta".into(), Value::Object(m));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::Kind;
    use crate::scim::schema::ENTERPRISE_USER_SCHEMA;
    use crate::scim::schemas::Schemas;
    use serde_json::json;

    #[test]
    fn canonicalizes_names_and_coerces_idp_quirks() {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        let doc = normalize(
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "USERNAME": "a@example.com",
                "Active": "False",
                "emails": {"Value": "a@example.com", "type": "work", "primary": "true"},
                "id": "client-chosen",
                "groups": [{"value": "g1"}],
                "password": "secret",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "employeeNumber": 42, "manager": "mgr-id"
                }
            }),
            user_type,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc["userName"], "a@example.com");
        assert_eq!(doc["active"], false);
        assert_eq!(
            doc["emails"],
            json!([{"value": "a@example.com", "type": "work", "primary": true}])
        );
        assert!(
            !doc.contains_key("id") && !doc.contains_key("groups") && !doc.contains_key("password")
        );
        assert_eq!(doc[ENTERPRISE_USER_SCHEMA]["employeeNumber"], "42");
        assert_eq!(
            doc[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"value": "mgr-id"})
        );
    }

    #[test]
    fn rejects_wrong_types_missing_user_name_and_two_primaries() {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        for body in [
            json!({"userName": "a", "active": "maybe"}),
            json!({"userName": "a", "name": "not an object"}),
            json!({"active": true}),
            json!({"userName": "  "}),
            json!({"userName": "a", "emails": [{"value": "x", "primary": true}, {"value": "y", "primary": true}]}),
            json!(["not", "an", "object"]),
        ] {
            assert!(normalize(&body, user_type).is_err(), "{body}");
        }
    }

    #[test]
    fn render_adds_meta_and_extension_schema() {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        let doc = normalize(
            &json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}}),
            user_type,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let meta = Meta {
            id: "u1".into(),
            created: "c".into(),
            last_modified: "m".into(),
            version: 3,
        };
        let out = render(&doc, &meta, user_type, "https://h/scim/v2", None);
        assert_eq!(out["schemas"][1], ENTERPRISE_USER_SCHEMA);
        assert_eq!(out["meta"]["location"], "https://h/scim/v2/Users/u1");
        assert_eq!(out["meta"]["version"], "W/\"3\"");
    }
}

#[cfg(test)]
mod immutability_tests {
    use super::*;
    use crate::scim::schema::Schema;
    use crate::scim::schemas::{Extension, Schemas};
    use serde_json::json;

    const BADGE_URN: &str = "urn:example:params:scim:schemas:extension:badge:2.0:User";
    const BADGE_ATTRS: &[Attr] = &[Attr::string("badge", "A badge number set once.").immutable()];

    /// Users with an extension whose one attribute is immutable.
    fn badged() -> Schemas {
        Schemas::with_extensions(vec![Extension {
            resource_type: Kind::User,
            schema: Schema {
                id: BADGE_URN.into(),
                name: "Badge".into(),
                description: "test extension".into(),
                attributes: BADGE_ATTRS.into(),
            },
            required: false,
        }])
    }

    fn doc(users: &ResourceType, badge: Option<&str>) -> Doc {
        let mut body = json!({"userName": "a"});
        if let Some(b) = badge {
            body[BADGE_URN] = json!({"badge": b});
        }
        normalize(&body, users).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn immutable_attributes_may_be_set_once_but_not_changed() {
        let schemas = badged();
        let users = schemas.resource_type(Kind::User);
        let doc = |badge| doc(users, badge);
        assert!(check_immutable(&doc(None), &doc(Some("7")), users).is_ok());
        assert!(check_immutable(&doc(Some("7")), &doc(Some("7")), users).is_ok());
        let err = check_immutable(&doc(Some("7")), &doc(Some("8")), users).err();
        assert_eq!(
            err.and_then(|e| e.scim_type),
            Some(crate::scim::ScimType::Mutability)
        );
    }
}
