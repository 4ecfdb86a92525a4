//! Lenient paths: an endpoint named in any letter case (`/users`, as
//! Microsoft's reference collection sends it) and a trailing slash before
//! the query (`/Users/?filter=…`) reach the canonical route. The request's
//! path is rewritten before routing; what the service writes (`Location`,
//! `meta.location`) is built from the canonical names, so it stays
//! canonical.

use axum::extract::Request;
use axum::http::Uri;

/// The endpoints whose names are matched in any case. None can name a
/// tenant (their lowercase forms are reserved), so the first segment after
/// the base path, or after a tenant, is one of these or a tenant's id.
const ENDPOINTS: &[&str] = &[
    "Users",
    "Groups",
    "Schemas",
    "ResourceTypes",
    "ServiceProviderConfig",
    "Bulk",
];

/// The canonical form of `path` under `base` (`/scim/v2`, or empty), or
/// `None` when it is canonical already (or not under the base path).
pub fn canonical(path: &str, base: &str) -> Option<String> {
    let rest = path.strip_prefix(base)?;
    if !rest.is_empty() && !rest.starts_with('/') {
        return None;
    }
    let trimmed = rest.strip_suffix('/').unwrap_or(rest);
    let mut segments: Vec<String> = trimmed.split('/').map(str::to_string).collect();
    // segments[0] is empty (the text before the first slash). Only paths to
    // these endpoints change: the token endpoint, the events poll and
    // unknown paths are left exactly as sent.
    let (at, name) = [1, 2].into_iter().find_map(|i| {
        let seg = segments.get(i)?;
        let name = ENDPOINTS.iter().find(|e| e.eq_ignore_ascii_case(seg))?;
        Some((i, *name))
    })?;
    segments[at] = name.to_string();
    let out = format!("{base}{}", segments.join("/"));
    (out != path).then_some(out)
}

/// Rewrites the request's path to its canonical form, keeping the query.
pub fn canonicalize(mut req: Request, base: &str) -> Request {
    let Some(path) = canonical(req.uri().path(), base) else {
        return req;
    };
    let with_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = with_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn endpoints_in_any_case_and_a_trailing_slash_become_canonical() {
        let b = "/scim/v2";
        assert_eq!(
            canonical("/scim/v2/users", b).as_deref(),
            Some("/scim/v2/Users")
        );
        assert_eq!(
            canonical("/scim/v2/GROUPS/abc", b).as_deref(),
            Some("/scim/v2/Groups/abc")
        );
        assert_eq!(
            canonical("/scim/v2/Users/", b).as_deref(),
            Some("/scim/v2/Users")
        );
        assert_eq!(
            canonical("/scim/v2/acme/users/x/", b).as_deref(),
            Some("/scim/v2/acme/Users/x")
        );
        assert_eq!(
            canonical("/scim/v2/schemas", b).as_deref(),
            Some("/scim/v2/Schemas")
        );
        // Other paths are left as sent, a trailing slash and all.
        assert_eq!(canonical("/scim/v2/", b), None);
        assert_eq!(canonical("/scim/v2/oauth2/token/", b), None);
        assert_eq!(canonical("/scim/v2/acme/oauth2/token/", b), None);
        // Ids keep their case; canonical paths and other prefixes are left.
        assert_eq!(canonical("/scim/v2/Users/AbC", b), None);
        assert_eq!(canonical("/scim/v2/acme/Users", b), None);
        assert_eq!(canonical("/scim/v2users", b), None);
        assert_eq!(canonical("/other/users", b), None);
        assert_eq!(canonical("/users", ""), Some("/Users".into()));
        assert_eq!(canonical("/", ""), None);
        assert_eq!(canonical("/acme/", ""), None);
        // Only one segment is an endpoint: a group named like one is an id.
        assert_eq!(canonical("/scim/v2/Groups/users", b), None);
    }
}
