//! Schema definitions (RFC 7643 §7, §8.7): the single source for `/Schemas`,
//! `/ResourceTypes`, validation of incoming resources, and filter/PATCH path
//! resolution. Attribute names are matched case-insensitively (RFC 7643 §2.1).

use std::borrow::Cow;

use serde_json::{Map, Value, json};

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
    const fn builtin(
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

// ---- common attributes (RFC 7643 §3.1) ------------------------------------

const META_SUBS: &[Attr] = &[
    Attr::string(
        "resourceType",
        "The name of the resource type of the resource.",
    )
    .case_exact()
    .read_only(),
    Attr::datetime(
        "created",
        "When the resource was added to the service provider.",
    )
    .read_only(),
    Attr::datetime("lastModified", "When the resource was last updated.").read_only(),
    Attr::reference("location", &["uri"], "The URI of the resource.")
        .case_exact()
        .read_only(),
    Attr::string("version", "The version (ETag) of the resource.")
        .case_exact()
        .read_only(),
];

/// `id`, `externalId` and `meta`, shared by every resource type.
pub const COMMON_ATTRIBUTES: &[Attr] = &[
    Attr::string(
        "id",
        "Unique identifier for the resource, assigned by the service provider.",
    )
    .case_exact()
    .read_only()
    .returned(Returned::Always)
    .unique(Uniqueness::Server),
    Attr::string(
        "externalId",
        "Identifier of the resource as defined by the provisioning client.",
    )
    .case_exact(),
    Attr::complex("meta", META_SUBS, "Resource metadata.").read_only(),
];

// ---- User (RFC 7643 §4.1, §8.7.1) ------------------------------------------

const NAME_SUBS: &[Attr] = &[
    Attr::string("formatted", "The full name, formatted for display."),
    Attr::string("familyName", "The family name of the User."),
    Attr::string("givenName", "The given name of the User."),
    Attr::string("middleName", "The middle name(s) of the User."),
    Attr::string("honorificPrefix", "The honorific prefix(es) of the User."),
    Attr::string("honorificSuffix", "The honorific suffix(es) of the User."),
];

const fn multi_subs_value(value: Attr, types: &'static [&'static str]) -> [Attr; 4] {
    [
        value,
        Attr::string(
            "display",
            "A human-readable name, primarily used for display purposes.",
        ),
        Attr::choice(
            "type",
            types,
            "A label indicating the attribute's function.",
        ),
        Attr::boolean("primary", "Whether this value is the preferred one."),
    ]
}

const EMAIL_SUBS: &[Attr] = &multi_subs_value(
    Attr::string("value", "Email address for the User."),
    &["work", "home", "other"],
);
const PHONE_SUBS: &[Attr] = &multi_subs_value(
    Attr::string("value", "Phone number of the User."),
    &["work", "home", "mobile", "fax", "pager", "other"],
);
const IMS_SUBS: &[Attr] = &multi_subs_value(
    Attr::string("value", "Instant messaging address for the User."),
    &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
);
const PHOTO_SUBS: &[Attr] = &multi_subs_value(
    Attr::reference("value", &["external"], "URL of a photo of the User.").case_exact(),
    &["photo", "thumbnail"],
);
const PLAIN_MULTI_SUBS: &[Attr] =
    &multi_subs_value(Attr::string("value", "The value of the entry."), &[]);
const CERT_SUBS: &[Attr] = &multi_subs_value(
    Attr::new(
        "value",
        AttrType::Binary,
        "The value of an X.509 certificate.",
    ),
    &[],
);

const ADDRESS_SUBS: &[Attr] = &[
    Attr::string(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    Attr::string("streetAddress", "The full street address component."),
    Attr::string("locality", "The city or locality component."),
    Attr::string("region", "The state or region component."),
    Attr::string("postalCode", "The zip code or postal code component."),
    Attr::string("country", "The country name component."),
    Attr::choice(
        "type",
        &["work", "home", "other"],
        "A label indicating the attribute's function.",
    ),
    Attr::boolean("primary", "Whether this address is the preferred one."),
];

const GROUP_REF_SUBS: &[Attr] = &[
    Attr::string("value", "The identifier of the User's group.").read_only(),
    Attr::reference("$ref", &["User", "Group"], "The URI of the Group.").read_only(),
    Attr::string("display", "A human-readable name of the group.").read_only(),
    Attr::choice(
        "type",
        &["direct", "indirect"],
        "Membership: direct or indirect.",
    )
    .read_only(),
];

const USER_ATTRS: &[Attr] = &[
    Attr::string(
        "userName",
        "Unique identifier for the User, used to authenticate.",
    )
    .required()
    .unique(Uniqueness::Server),
    Attr::complex("name", NAME_SUBS, "The components of the user's real name."),
    Attr::string("displayName", "The name of the User, suitable for display."),
    Attr::string("nickName", "The casual way to address the user."),
    Attr::reference(
        "profileUrl",
        &["external"],
        "A URI to the User's online profile.",
    ),
    Attr::string("title", "The user's title, such as \"Vice President\"."),
    Attr::string(
        "userType",
        "The relationship between the organization and the user.",
    ),
    Attr::string(
        "preferredLanguage",
        "The User's preferred written or spoken language.",
    ),
    Attr::string("locale", "The User's default location for localization."),
    Attr::string(
        "timezone",
        "The User's time zone in IANA Time Zone database format.",
    ),
    Attr::boolean("active", "The User's administrative status."),
    Attr::string(
        "password",
        "The User's cleartext password (never stored or returned).",
    )
    .write_only()
    .returned(Returned::Never),
    Attr::complex("emails", EMAIL_SUBS, "Email addresses for the user.").multi(),
    Attr::complex("phoneNumbers", PHONE_SUBS, "Phone numbers for the User.").multi(),
    Attr::complex("ims", IMS_SUBS, "Instant messaging addresses for the User.").multi(),
    Attr::complex("photos", PHOTO_SUBS, "URLs of photos of the User.").multi(),
    Attr::complex(
        "addresses",
        ADDRESS_SUBS,
        "A physical mailing address for this User.",
    )
    .multi(),
    Attr::complex("groups", GROUP_REF_SUBS, "The groups the user belongs to.")
        .multi()
        .read_only(),
    Attr::complex(
        "entitlements",
        PLAIN_MULTI_SUBS,
        "Entitlements of the User.",
    )
    .multi(),
    Attr::complex("roles", PLAIN_MULTI_SUBS, "Roles of the User.").multi(),
    Attr::complex(
        "x509Certificates",
        CERT_SUBS,
        "X.509 certificates of the User.",
    )
    .multi(),
];

pub static USER: Schema = Schema::builtin(USER_SCHEMA, "User", "User Account", USER_ATTRS);

// ---- Enterprise User (RFC 7643 §4.3) ---------------------------------------

const MANAGER_SUBS: &[Attr] = &[
    Attr::string(
        "value",
        "The id of the SCIM resource representing the User's manager.",
    ),
    Attr::reference("$ref", &["User"], "The URI of the manager's User resource."),
    Attr::string("displayName", "The displayName of the User's manager.").read_only(),
];

const ENTERPRISE_ATTRS: &[Attr] = &[
    Attr::string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person.",
    ),
    Attr::string("costCenter", "Identifies the name of a cost center."),
    Attr::string("organization", "Identifies the name of an organization."),
    Attr::string("division", "Identifies the name of a division."),
    Attr::string("department", "Identifies the name of a department."),
    Attr::complex("manager", MANAGER_SUBS, "The User's manager."),
];

pub static ENTERPRISE_USER: Schema = Schema::builtin(
    ENTERPRISE_USER_SCHEMA,
    "EnterpriseUser",
    "Enterprise User",
    ENTERPRISE_ATTRS,
);

// ---- Group (RFC 7643 §4.2, §8.7.1) ------------------------------------------

const MEMBER_SUBS: &[Attr] = &[
    Attr::string("value", "Identifier of the member of this Group.")
        .case_exact()
        .immutable(),
    Attr::reference(
        "$ref",
        &["User", "Group"],
        "The URI of the member resource.",
    )
    .case_exact()
    .immutable(),
    Attr::choice(
        "type",
        &["User", "Group"],
        "The type of the member: User or Group.",
    )
    .immutable(),
    Attr::string("display", "A human-readable name of the member.").read_only(),
];

const GROUP_ATTRS: &[Attr] = &[
    Attr::string("displayName", "A human-readable name for the Group.").required(),
    Attr::complex("members", MEMBER_SUBS, "A list of members of the Group.").multi(),
];

pub static GROUP: Schema = Schema::builtin(GROUP_SCHEMA, "Group", "Group", GROUP_ATTRS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_schema_describes_every_rfc_attribute_with_characteristics() {
        let json = USER.to_json("http://h/scim/v2");
        let attrs = json["attributes"].as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = attrs.iter().filter_map(|a| a["name"].as_str()).collect();
        for n in [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            assert!(names.contains(&n), "missing {n}");
        }
        let user_name = &attrs[0];
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["required"], true);
        let emails = attrs
            .iter()
            .find(|a| a["name"] == "emails")
            .cloned()
            .unwrap_or_default();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"].as_array().map(Vec::len), Some(4));
    }
}
