//! Tenants: several directories on one deployment, each under
//! `/scim/v2/{tenant}` with its own token. A tenant id is a slug checked
//! here once; past this edge it is trusted (it becomes part of keys and
//! secret names).

use std::fmt;

/// The longest tenant id: a DNS label's length, so that an id fits in
/// host names, secret names and log fields alike.
pub const MAX_TENANT_ID_LEN: usize = 63;

/// Names a tenant may not take: the endpoints at the base path (in any
/// letter case, so that `/scim/v2/users/...` cannot be mistaken for
/// `/scim/v2/Users/...`), and `default`, which names the single-tenant
/// directory in logs.
const RESERVED: &[&str] = &[
    "users",
    "groups",
    "schemas",
    "resourcetypes",
    "serviceproviderconfig",
    "me",
    "bulk",
    "events",
    "oauth2",
    "default",
];

/// A valid tenant id: 1 to 63 of `a-z`, `0-9` and `-`, starting and ending
/// with a letter or digit, and not a reserved name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if s.is_empty() || s.len() > MAX_TENANT_ID_LEN {
            return Err(format!(
                "a tenant id has 1 to {MAX_TENANT_ID_LEN} characters"
            ));
        }
        if !s.chars().all(ok_char) || s.starts_with('-') || s.ends_with('-') {
            return Err(
                "a tenant id has only lowercase letters, digits and inner hyphens (a-z, 0-9, -)"
                    .into(),
            );
        }
        if RESERVED.contains(&s) {
            return Err(format!("'{s}' is reserved and cannot name a tenant"));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which directory a request is for: the single-tenant one at the base path,
/// or a named tenant's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Tenant {
    #[default]
    Default,
    Named(TenantId),
}

impl Tenant {
    pub fn id(&self) -> Option<&TenantId> {
        match self {
            Self::Default => None,
            Self::Named(t) => Some(t),
        }
    }

    /// The name logs use: `default` or the tenant id (never ambiguous, as
    /// `default` is reserved).
    pub fn log_name(&self) -> &str {
        match self {
            Self::Default => "default",
            Self::Named(t) => t.as_str(),
        }
    }

    /// The tenant's path under the base path: empty, or `/{tenant}`.
    pub fn path(&self) -> String {
        match self {
            Self::Default => String::new(),
            Self::Named(t) => format!("/{t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_label_like_ids() {
        for ok in ["a", "acme", "acme-corp", "0", "t1-2-3", &"a".repeat(63)] {
            assert_eq!(
                TenantId::parse(ok).map(|t| t.to_string()),
                Ok(ok.to_string())
            );
        }
    }

    #[test]
    fn refuses_ids_that_could_break_a_key_a_path_or_a_secret_name() {
        for bad in [
            "",
            "Acme",
            "acme corp",
            "acme#1",
            "acme/1",
            "-acme",
            "acme-",
            "acme.corp",
            "ácme",
            &"a".repeat(64),
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_the_names_of_endpoints_and_of_the_default_directory() {
        for reserved in [
            "users", "groups", "schemas", "me", "bulk", "events", "oauth2", "default",
        ] {
            assert!(TenantId::parse(reserved).is_err(), "{reserved}");
        }
    }
}
