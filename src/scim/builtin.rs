//! The built-in schemas as constants: the common attributes (RFC 7643 §3.1),
//! User (§4.1), Enterprise User (§4.3) and Group (§4.2), with the
//! characteristics of §8.7.1. Reached through `scim::schema`.

use super::schema::{
    Attr, AttrType, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Returned, Schema, USER_SCHEMA, Uniqueness,
};

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
