//! The kinds of resource this service provider serves. Every place that
//! treats users and groups differently matches on a `Kind`, so a new kind
//! is a compile error wherever it must be handled.

/// A resource kind: the resource type's name on the wire and in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    /// Every kind, in the order lists across kinds (a root `/.search`) take.
    pub const ALL: [Kind; 2] = [Kind::User, Kind::Group];

    /// The resource type's name (`meta.resourceType`, a member's `type`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    /// The kind a stored or sent name spells exactly, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The endpoint below the base URL.
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "/Users",
            Kind::Group => "/Groups",
        }
    }

    /// The read-only attribute that lists the other side of memberships.
    pub fn refs_attribute(self) -> &'static str {
        match self {
            Kind::User => "groups",
            Kind::Group => "members",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_exactly() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.name()), Some(k));
        }
        assert_eq!(Kind::from_name("user"), None);
        assert_eq!(Kind::from_name("Membership"), None);
    }
}
