//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5): which
//! attributes a response carries. `id` and `schemas` are always returned;
//! unknown names are ignored, as the RFC allows.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::AttrPath;
use super::schema::Returned;
use super::schemas::ResourceType;

/// One selected attribute: in an extension (by URN) or core, optionally a
/// sub-attribute. `name` empty means the whole extension.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selected<'s> {
    ext: Option<&'s str>,
    name: &'s str,
    sub: Option<&'s str>,
}

/// What a response carries, naming attributes with the resource type's
/// own strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection<'s> {
    include: Option<Vec<Selected<'s>>>,
    exclude: Vec<Selected<'s>>,
}

fn parse_list<'s>(list: &str, rt: &'s ResourceType) -> Vec<Selected<'s>> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .filter_map(|token| {
            if let Some(ext) = rt.extension(token) {
                return Some(Selected {
                    ext: Some(&ext.id),
                    name: "",
                    sub: None,
                });
            }
            let r = AttrPath::parse(token)?.resolve(rt)?;
            Some(Selected {
                ext: r.ext,
                name: &r.attr.name,
                sub: r.sub.map(|s| &*s.name),
            })
        })
        .collect()
}

/// Most names `attributes` and `excludedAttributes` may list together.
/// Each name is resolved against the schema and applied to every resource
/// of a page, so tens of thousands of them cost seconds a request; a User
/// with the enterprise extension has under 100 attribute paths.
pub const MAX_NAMES: usize = 300;

impl<'s> Projection<'s> {
    /// Like `parse`, refusing more than [`MAX_NAMES`] names. The error is
    /// `invalidValue`: RFC 7644 §3.12 defines `tooMany` for a filter that
    /// yields too many results, while this is a parameter's value the
    /// server will not take.
    pub fn parse_bounded(
        attributes: Option<&str>,
        excluded: Option<&str>,
        rt: &'s ResourceType,
    ) -> Result<Self, ScimError> {
        let names = |list: Option<&str>| {
            list.map_or(0, |l| l.split(',').filter(|t| !t.trim().is_empty()).count())
        };
        for (param, list) in [("attributes", attributes), ("excludedAttributes", excluded)] {
            if let Some(token) = list
                .into_iter()
                .flat_map(|l| l.split(','))
                .find(|t| t.contains('['))
            {
                return Err(ScimError::invalid_value(format!(
                    "{param} names attributes (name, name.subAttribute or a schema URN with them), \
                     not a filtered path such as '{}'; ask for the whole attribute and filter the \
                     response",
                    token.trim()
                )));
            }
        }
        let n = names(attributes).saturating_add(names(excluded));
        if n > MAX_NAMES {
            return Err(ScimError::invalid_value(format!(
                "attributes and excludedAttributes may name at most {MAX_NAMES} attributes together, not {n}"
            )));
        }
        Ok(Self::parse(attributes, excluded, rt))
    }

    pub fn parse(attributes: Option<&str>, excluded: Option<&str>, rt: &'s ResourceType) -> Self {
        Self {
            include: attributes.map(|a| parse_list(a, rt)),
            exclude: excluded.map(|e| parse_list(e, rt)).unwrap_or_default(),
        }
    }

    /// Whether the client named `attributes` or `excludedAttributes` at all.
    pub fn is_explicit(&self) -> bool {
        self.include.is_some() || !self.exclude.is_empty()
    }

    /// Whether the response will carry this core attribute (so the service
    /// can skip computing it).
    pub fn wants(&self, name: &str) -> bool {
        let named = |list: &[Selected]| list.iter().any(|s| s.ext.is_none() && s.name == name);
        let excluded = self
            .exclude
            .iter()
            .any(|s| s.ext.is_none() && s.name == name && s.sub.is_none());
        match &self.include {
            Some(list) => named(list) && !excluded,
            None => !excluded,
        }
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, resource: &mut Value, rt: &ResourceType) {
        let Value::Object(obj) = resource else {
            return;
        };
        if let Some(include) = &self.include {
            let mut out = Map::new();
            for (k, v) in obj.iter() {
                let always = k == "schemas"
                    || rt
                        .core_attr(k)
                        .is_some_and(|a| a.returned == Returned::Always);
                if always {
                    out.insert(k.clone(), v.clone());
                }
            }
            for sel in include {
                copy_selected(obj, &mut out, sel);
            }
            *obj = out;
        }
        for sel in &self.exclude {
            let always = sel.ext.is_none()
                && rt
                    .core_attr(sel.name)
                    .is_some_and(|a| a.returned == Returned::Always);
            if !always {
                remove_selected(obj, sel);
            }
        }
    }
}

fn copy_selected(from: &Map<String, Value>, to: &mut Map<String, Value>, sel: &Selected) {
    let (src, dst) = match sel.ext {
        Some(urn) => {
            let Some(Value::Object(src)) = from.get(urn) else {
                return;
            };
            if sel.name.is_empty() {
                to.insert(urn.to_string(), Value::Object(src.clone()));
                return;
            }
            let dst = to
                .entry(urn.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(dst) = dst else {
                return;
            };
            (src, dst)
        }
        None => (from, to),
    };
    let Some(value) = src.get(sel.name) else {
        return;
    };
    let picked = match sel.sub {
        None => value.clone(),
        Some(sub) => match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .filter_map(|i| i.get(sub).map(|v| pick(sub, v)))
                    .collect(),
            ),
            Value::Object(o) => match o.get(sub) {
                Some(v) => merge_into(dst.get(sel.name), pick(sub, v)),
                None => return,
            },
            _ => return,
        },
    };
    dst.insert(sel.name.to_string(), picked);
}

fn pick(sub: &str, v: &Value) -> Value {
    let mut m = Map::new();
    m.insert(sub.to_string(), v.clone());
    Value::Object(m)
}

/// `name.givenName` and `name.familyName` both selected: one `name` object.
fn merge_into(existing: Option<&Value>, new: Value) -> Value {
    match (existing, new) {
        (Some(Value::Object(old)), Value::Object(new)) => {
            let mut m = old.clone();
            m.extend(new);
            Value::Object(m)
        }
        (_, new) => new,
    }
}

fn remove_selected(obj: &mut Map<String, Value>, sel: &Selected) {
    let target = match sel.ext {
        Some(urn) if sel.name.is_empty() => {
            obj.remove(urn);
            return;
        }
        Some(urn) => match obj.get_mut(urn) {
            Some(Value::Object(o)) => o,
            _ => return,
        },
        None => obj,
    };
    match sel.sub {
        None => {
            target.remove(sel.name);
        }
        Some(sub) => match target.get_mut(sel.name) {
            Some(Value::Array(items)) => {
                for i in items.iter_mut() {
                    if let Value::Object(o) = i {
                        o.remove(sub);
                    }
                }
            }
            Some(Value::Object(o)) => {
                o.remove(sub);
            }
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::Kind;
    use crate::scim::schemas::Schemas;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u1",
            "userName": "a",
            "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@x", "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "D", "costCenter": "C"},
            "meta": {"resourceType": "User"}
        })
    }

    #[test]
    fn attributes_keep_only_the_named_ones_plus_id_and_schemas() {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        let mut u = user();
        Projection::parse(
            Some("userName,name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            None,
            user_type,
        )
        .apply(&mut u, user_type);
        assert_eq!(
            u,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "u1",
                "userName": "a",
                "name": {"givenName": "A"},
                "emails": [{"value": "a@x"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "D"}
            })
        );
    }

    #[test]
    fn excluded_attributes_drop_those_but_never_id() {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        let mut u = user();
        Projection::parse(None, Some("emails,id,name.familyName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"), user_type)
            .apply(&mut u, user_type);
        assert_eq!(u["id"], "u1");
        assert!(u.get("emails").is_none());
        assert_eq!(u["name"], json!({"givenName": "A"}));
        assert!(
            u.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
                .is_none()
        );
    }

    #[test]
    fn tells_whether_members_are_wanted() {
        let schemas = Schemas::builtin();
        let group_type = schemas.resource_type(Kind::Group);
        assert!(Projection::default().wants("members"));
        assert!(!Projection::parse(None, Some("members"), group_type).wants("members"));
        assert!(!Projection::parse(Some("displayName"), None, group_type).wants("members"));
        assert!(Projection::parse(Some("members.value"), None, group_type).wants("members"));
    }
}
