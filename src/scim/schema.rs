//! Schema definitions (RFC 7643 §7, §8.7): the single source for `/Schemas`,
//! `/ResourceTypes`, validation of incoming resources, and filter/PATCH path
//! resolution. Attribute names are matched case-insensitively (RFC 7643 §2.1).

use std::sync::{LazyLock, OnceLock};

use serde_json::{Map, Value, json};

use super::kind::Kind;

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

/// One attribute definition with its RFC 7643 §7 characteristics.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [Attr],
    pub description: &'static str,
}

impl Attr {
    pub(crate) const fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Self {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            description,
        }
    }
    pub(crate) const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
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
        let mut a = Self::new(name, AttrType::Reference, description);
        a.reference_types = types;
        a
    }
    pub(crate) const fn complex(
        name: &'static str,
        subs: &'static [Attr],
        description: &'static str,
    ) -> Self {
        let mut a = Self::new(name, AttrType::Complex, description);
        a.sub_attributes = subs;
        a
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
    pub(crate) const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    /// A sub-attribute by name, case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&'static Attr> {
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
            m.insert("canonicalValues".into(), json!(self.canonical_values));
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
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        if !self.sub_attributes.is_empty() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(Attr::to_json).collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(m)
    }
}

/// A schema: its URN, name and attributes.
#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attr],
}

impl Schema {
    pub fn attr(&self, name: &str) -> Option<&'static Attr> {
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
        Attr::string("type", "A label indicating the attribute's function.").canonical(types),
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
    Attr::string("type", "A label indicating the attribute's function.")
        .canonical(&["work", "home", "other"]),
    Attr::boolean("primary", "Whether this address is the preferred one."),
];

const GROUP_REF_SUBS: &[Attr] = &[
    Attr::string("value", "The identifier of the User's group.").read_only(),
    Attr::reference("$ref", &["User", "Group"], "The URI of the Group.").read_only(),
    Attr::string("display", "A human-readable name of the group.").read_only(),
    Attr::string("type", "Membership: direct or indirect.")
        .canonical(&["direct", "indirect"])
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

pub static USER: Schema = Schema {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRS,
};

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

pub static ENTERPRISE_USER: Schema = Schema {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRS,
};

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
    Attr::string("type", "The type of the member: User or Group.")
        .canonical(&["User", "Group"])
        .immutable(),
    Attr::string("display", "A human-readable name of the member.").read_only(),
];

const GROUP_ATTRS: &[Attr] = &[
    Attr::string("displayName", "A human-readable name for the Group.").required(),
    Attr::complex("members", MEMBER_SUBS, "A list of members of the Group.").multi(),
];

pub static GROUP: Schema = Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRS,
};

/// A resource type: its endpoint, core schema and extensions.
#[derive(Debug)]
pub struct ResourceType {
    pub kind: Kind,
    pub description: &'static str,
    pub schema: &'static Schema,
    pub extensions: &'static [&'static Schema],
    /// The extensions every resource of this type must carry.
    pub required_extensions: &'static [&'static str],
}

impl ResourceType {
    /// The type's name (`User`, `Group`).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The schema an attribute URN prefix names, if it is this type's core
    /// schema or one of its extensions (case-insensitive).
    pub fn schema_by_urn(&self, urn: &str) -> Option<&'static Schema> {
        std::iter::once(self.schema)
            .chain(self.extensions.iter().copied())
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Every schema URN this type knows, longest first, so that prefix matching
    /// picks the most specific.
    pub fn urns(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.schema.id).chain(self.extensions.iter().map(|s| s.id))
    }

    /// A core or common attribute by name (case-insensitive).
    pub fn core_attr(&self, name: &str) -> Option<&'static Attr> {
        COMMON_ATTRIBUTES
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .or_else(|| self.schema.attr(name))
    }

    pub fn to_json(&self, base_url: &str) -> Value {
        let ext: Vec<Value> = self
            .extensions
            .iter()
            .map(|s| json!({"schema": s.id, "required": self.required_extensions.contains(&s.id)}))
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

/// Extension schemas an operator declared (`SCIM_SCHEMA_EXTENSIONS`), by the
/// resource type they extend. Installed once, before the first request.
static CUSTOM: OnceLock<Vec<Extension>> = OnceLock::new();

/// A declared extension: the schema, the resource type it extends, and
/// whether resources of that type must carry it.
#[derive(Debug, Clone, Copy)]
pub struct Extension {
    pub resource_type: Kind,
    pub schema: &'static Schema,
    pub required: bool,
}

/// Installs the operator's extension schemas. Only the first call counts,
/// and it must come before anything reads a resource type.
pub fn install_extensions(extensions: Vec<Extension>) -> Result<(), String> {
    CUSTOM
        .set(extensions)
        .map_err(|_| "extension schemas were already installed".to_string())
}

fn custom_for(resource_type: Kind) -> impl Iterator<Item = &'static Extension> {
    CUSTOM
        .get()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(move |e| e.resource_type == resource_type)
}

fn build(
    kind: Kind,
    description: &'static str,
    schema: &'static Schema,
    builtin: &[&'static Schema],
) -> ResourceType {
    let mut extensions: Vec<&'static Schema> = builtin.to_vec();
    let mut required = Vec::new();
    for e in custom_for(kind) {
        extensions.push(e.schema);
        if e.required {
            required.push(e.schema.id);
        }
    }
    ResourceType {
        kind,
        description,
        schema,
        extensions: Box::leak(extensions.into_boxed_slice()),
        required_extensions: Box::leak(required.into_boxed_slice()),
    }
}

pub static USER_TYPE: LazyLock<ResourceType> =
    LazyLock::new(|| build(Kind::User, "User Account", &USER, &[&ENTERPRISE_USER]));

pub static GROUP_TYPE: LazyLock<ResourceType> =
    LazyLock::new(|| build(Kind::Group, "Group", &GROUP, &[]));

/// The resource type of a kind.
pub fn resource_type(kind: Kind) -> &'static ResourceType {
    match kind {
        Kind::User => &USER_TYPE,
        Kind::Group => &GROUP_TYPE,
    }
}

/// Every resource type this service provider serves.
pub fn resource_types() -> [&'static ResourceType; 2] {
    Kind::ALL.map(resource_type)
}

/// Every schema this service provider serves under `/Schemas`.
pub fn schemas() -> Vec<&'static Schema> {
    let mut all: Vec<&'static Schema> = vec![&USER, &GROUP, &ENTERPRISE_USER];
    all.extend(CUSTOM.get().into_iter().flatten().map(|e| e.schema));
    all
}

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

    #[test]
    fn attribute_lookup_ignores_case() {
        assert_eq!(
            USER_TYPE.core_attr("USERNAME").map(|a| a.name),
            Some("userName")
        );
        assert_eq!(
            USER_TYPE.core_attr("externalid").map(|a| a.name),
            Some("externalId")
        );
        assert!(
            USER_TYPE
                .schema_by_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user")
                .is_some()
        );
    }
}
