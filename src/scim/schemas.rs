//! The schemas one directory serves: its resource types with their
//! extensions, and every schema under `/Schemas`. Built once at start-up
//! from the built-in schemas and the operator's declarations, and carried
//! in the service and the router's state, so two directories with different
//! extensions can live in one process.

use std::sync::Arc;

use serde_json::{Value, json};

use super::kind::Kind;
use super::schema::{
    Attr, COMMON_ATTRIBUTES, ENTERPRISE_USER, GROUP, RESOURCE_TYPE_SCHEMA, Schema, USER,
};

/// A resource type: its endpoint, core schema and extensions.
#[derive(Debug)]
pub struct ResourceType {
    pub kind: Kind,
    pub description: &'static str,
    /// Core schemas are always built in; declarations only extend them.
    pub schema: &'static Schema,
    pub extensions: Vec<Arc<Schema>>,
    /// The URNs of the extensions every resource of this type must carry.
    pub required_extensions: Vec<String>,
}

impl ResourceType {
    /// The type's name (`User`, `Group`).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Whether every resource of this type must carry the extension.
    pub fn requires(&self, urn: &str) -> bool {
        self.required_extensions.iter().any(|r| r == urn)
    }

    /// The schema an attribute URN prefix names, if it is this type's core
    /// schema or one of its extensions (case-insensitive).
    pub fn schema_by_urn(&self, urn: &str) -> Option<&Schema> {
        std::iter::once(self.schema)
            .chain(self.extensions.iter().map(Arc::as_ref))
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The extension a URN names (case-insensitive).
    pub fn extension(&self, urn: &str) -> Option<&Schema> {
        self.extensions
            .iter()
            .map(Arc::as_ref)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Every schema URN this type knows: the core schema's, then its
    /// extensions'.
    pub fn urns(&self) -> impl Iterator<Item = &str> + '_ {
        std::iter::once(&*self.schema.id).chain(self.extensions.iter().map(|s| &*s.id))
    }

    /// A core or common attribute by name (case-insensitive).
    pub fn core_attr(&self, name: &str) -> Option<&Attr> {
        COMMON_ATTRIBUTES
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .or_else(|| self.schema.attr(name))
    }

    pub fn to_json(&self, base_url: &str) -> Value {
        let ext: Vec<Value> = self
            .extensions
            .iter()
            .map(|s| json!({"schema": s.id, "required": self.requires(&s.id)}))
            .collect();
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": self.name(),
            "name": self.name(),
            "endpoint": self.kind.endpoint(),
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": ext,
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.name()),
            }
        })
    }
}

/// A declared extension (`SCIM_SCHEMA_EXTENSIONS`): the schema, the
/// resource type it extends, and whether resources of that type must carry
/// it.
#[derive(Debug, Clone)]
pub struct Extension {
    pub resource_type: Kind,
    pub schema: Schema,
    pub required: bool,
}

/// The resource types of every kind and the schemas served under
/// `/Schemas`.
#[derive(Debug)]
pub struct Schemas {
    user: ResourceType,
    group: ResourceType,
    /// Every extension, the built-in one first, then the declared ones in
    /// the order of their declarations (as `/Schemas` lists them).
    extensions: Vec<Arc<Schema>>,
}

impl Schemas {
    /// The built-in schemas only: User with the Enterprise User extension,
    /// and Group.
    pub fn builtin() -> Self {
        Self::with_extensions(Vec::new())
    }

    /// The built-in schemas and the operator's declared extensions.
    pub fn with_extensions(declared: Vec<Extension>) -> Self {
        let mut user = resource_type(Kind::User, "User Account", &USER);
        let mut group = resource_type(Kind::Group, "Group", &GROUP);
        let enterprise = Arc::new(ENTERPRISE_USER.clone());
        user.extensions.push(Arc::clone(&enterprise));
        let mut extensions = vec![enterprise];
        for e in declared {
            let rt = match e.resource_type {
                Kind::User => &mut user,
                Kind::Group => &mut group,
            };
            if e.required {
                rt.required_extensions.push(e.schema.id.to_string());
            }
            let schema = Arc::new(e.schema);
            rt.extensions.push(Arc::clone(&schema));
            extensions.push(schema);
        }
        Self {
            user,
            group,
            extensions,
        }
    }

    /// The resource type of a kind.
    pub fn resource_type(&self, kind: Kind) -> &ResourceType {
        match kind {
            Kind::User => &self.user,
            Kind::Group => &self.group,
        }
    }

    /// Every resource type this service provider serves.
    pub fn resource_types(&self) -> [&ResourceType; 2] {
        Kind::ALL.map(|k| self.resource_type(k))
    }

    /// Every schema served under `/Schemas`.
    pub fn all(&self) -> impl Iterator<Item = &Schema> {
        [&USER, &GROUP]
            .into_iter()
            .chain(self.extensions.iter().map(Arc::as_ref))
    }
}

fn resource_type(kind: Kind, description: &'static str, schema: &'static Schema) -> ResourceType {
    ResourceType {
        kind,
        description,
        schema,
        extensions: Vec::new(),
        required_extensions: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_lookup_ignores_case() {
        let schemas = Schemas::builtin();
        let user = schemas.resource_type(Kind::User);
        assert_eq!(
            user.core_attr("USERNAME").map(|a| &*a.name),
            Some("userName")
        );
        assert_eq!(
            user.core_attr("externalid").map(|a| &*a.name),
            Some("externalId")
        );
        assert!(
            user.schema_by_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user")
                .is_some()
        );
    }
}
