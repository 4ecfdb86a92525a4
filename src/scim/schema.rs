//! Schema definitions (RFC 7643 §7, §8.7): the single source for `/Schemas`,
//! `/ResourceTypes`, validation of incoming resources, and filter/PATCH path
//! resolution. Attribute names are matched case-insensitively (RFC 7643 §2.1).

use std::borrow::Cow;

use serde_json::{Map, Value, json};

pub use super::builtin::{COMMON_ATTRIBUTES, ENTERPRISE_USER, GROUP, USER};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Binary => "binary",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
            Self::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Default => "default",
            Self::Request => "request",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Server => "server",
            Self::Global => "global",
        }
    }
}

/// Names an attribute lists (canonical values, reference types): constants
/// in the built-in schemas, the declaration's own in a declared one.
#[derive(Debug, Clone)]
pub enum Names {
    Builtin(&'static [&'static str]),
    Declared(Vec<String>),
}

impl Names {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (builtin, declared): (&[&str], &[String]) = match self {
            Self::Builtin(b) => (b, &[]),
            Self::Declared(d) => (&[], d),
        };
        builtin
            .iter()
            .copied()
            .chain(declared.iter().map(String::as_str))
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Builtin(b) => b.len(),
            Self::Declared(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One attribute definition with its RFC 7643 §7 characteristics. Built-in
/// attributes borrow constants; a declared one owns what its file said.
#[derive(Debug, Clone)]
pub struct Attr {
    pub name: Cow<'static, str>,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: Names,
    pub reference_types: Names,
    pub sub_attributes: Cow<'static, [Attr]>,
    pub description: Cow<'static, str>,
}

impl Attr {
    /// Every list-valued characteristic is given here, once: a const fn
    /// cannot replace one afterwards (that would drop the old value, and
    /// destructors do not run at compile time).
    const fn of(
        name: &'static str,
        ty: AttrType,
        canonical: &'static [&'static str],
        references: &'static [&'static str],
        subs: &'static [Attr],
        description: &'static str,
    ) -> Self {
        Self {
            name: Cow::Borrowed(name),
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Names::Builtin(canonical),
            reference_types: Names::Builtin(references),
            sub_attributes: Cow::Borrowed(subs),
            description: Cow::Borrowed(description),
        }
    }
    pub(crate) const fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Self::of(name, ty, &[], &[], &[], description)
    }
    pub(crate) const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }
    /// A string attribute with canonical values.
    pub(crate) const fn choice(
        name: &'static str,
        values: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        Self::of(name, AttrType::String, values, &[], &[], description)
    }
    pub(crate) const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }
    pub(crate) const fn datetime(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::DateTime, description)
    }
    pub(crate) const fn reference(
        name: &'static str,
        types: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        Self::of(name, AttrType::Reference, &[], types, &[], description)
    }
    pub(crate) const fn complex(
        name: &'static str,
        subs: &'static [Attr],
        description: &'static str,
    ) -> Self {
        Self::of(name, AttrType::Complex, &[], &[], subs, description)
    }
    pub(crate) const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    pub(crate) const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub(crate) const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    pub(crate) const fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }
    pub(crate) const fn immutable(mut self) -> Self {
        self.mutability = Mutability::Immutable;
        self
    }
    pub(crate) const fn write_only(mut self) -> Self {
        self.mutability = Mutability::WriteOnly;
        self
    }
    pub(crate) const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    pub(crate) const fn unique(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }

    /// A sub-attribute by name, case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&Attr> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The RFC 7643 §7 representation of this attribute.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.ty.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if !self.canonical_values.is_empty() {
            let values: Vec<&str> = self.canonical_values.iter().collect();
            m.insert("canonicalValues".into(), json!(values));
        }
        if matches!(
            self.ty,
            AttrType::String | AttrType::Reference | AttrType::Binary
        ) {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        if self.ty != AttrType::Complex {
            m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        }
        if !self.reference_types.is_empty() {
            let types: Vec<&str> = self.reference_types.iter().collect();
            m.insert("referenceTypes".into(), json!(types));
        }
        if !self.sub_attributes.is_empty() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(Attr::to_json).collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(m)
    }
}

/// A schema: its URN, name and attributes.
#[derive(Debug, Clone)]
pub struct Schema {
    pub id: Cow<'static, str>,
    pub name: Cow<'static, str>,
    pub description: Cow<'static, str>,
    pub attributes: Cow<'static, [Attr]>,
}

impl Schema {
    /// A schema of constants, for the RFC's own (`builtin.rs`).
    pub(super) const fn builtin(
        id: &'static str,
        name: &'static str,
        description: &'static str,
        attributes: &'static [Attr],
    ) -> Self {
        Self {
            id: Cow::Borrowed(id),
            name: Cow::Borrowed(name),
            description: Cow::Borrowed(description),
            attributes: Cow::Borrowed(attributes),
        }
    }

    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn to_json(&self, base_url: &str) -> Value {
        let attrs: Vec<Value> = self.attributes.iter().map(Attr::to_json).collect();
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": attrs,
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            }
        })
    }
}
