//! PATCH path resolution: a path's text resolved against the resource type
//! into the extension or attribute (with its filter and sub-attribute) an
//! operation changes.

use super::super::error::ScimError;
use super::super::filter::{AttrPath, Filter};
use super::super::schema::{Attr, AttrType, Mutability, Schema};
use super::super::schemas::ResourceType;

/// A PATCH path resolved against the resource type.
#[derive(Debug)]
pub(super) enum Target<'s> {
    /// A whole extension object (`path: "urn:...:User"`).
    Extension(&'s Schema),
    Attribute {
        ext: Option<&'s str>,
        attr: &'s Attr,
        filter: Option<Filter>,
        sub: Option<&'s Attr>,
    },
}

/// Resolves a PATCH path, refusing unknown and read-only targets.
pub(super) fn parse_path<'s>(path: &str, rt: &'s ResourceType) -> Result<Target<'s>, ScimError> {
    if let Some(s) = rt.extension(path) {
        return Ok(Target::Extension(s));
    }
    let bad = || ScimError::invalid_path(format!("'{path}' is not a valid attribute path"));
    let (head, filter, after) = match path.find('[') {
        Some(open) => {
            let close = path.rfind(']').filter(|c| *c > open).ok_or_else(bad)?;
            let after = &path[close + 1..];
            let after = match after {
                "" => None,
                a => Some(a.strip_prefix('.').ok_or_else(bad)?),
            };
            let filter = Filter::parse_syntax(&path[open + 1..close])
                .map_err(|e| ScimError::invalid_path(format!("'{path}': {}", e.detail)))?;
            (&path[..open], Some(filter), after)
        }
        None => (path, None, None),
    };
    let ap = AttrPath::parse(head).ok_or_else(bad)?;
    if filter.is_some() && ap.sub.is_some() {
        return Err(bad());
    }
    let r = ap.resolve(rt).ok_or_else(|| {
        ScimError::invalid_path(format!("'{path}' names no attribute of a {}", rt.name()))
    })?;
    let sub = match (r.sub, after) {
        (Some(s), None) => Some(s),
        (None, Some(a)) => Some(r.attr.sub(a).ok_or_else(|| {
            ScimError::invalid_path(format!(
                "'{path}': '{}' has no sub-attribute '{a}'",
                r.attr.name
            ))
        })?),
        _ => None,
    };
    if let Some(f) = &filter {
        if r.attr.ty != AttrType::Complex {
            return Err(ScimError::invalid_path(format!(
                "'{path}': only complex attributes take a [filter]"
            )));
        }
        f.check(rt, Some(r.attr))
            .map_err(|e| ScimError::invalid_path(format!("'{path}': {}", e.detail)))?;
    }
    if r.attr.mutability == Mutability::ReadOnly
        || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
    {
        return Err(ScimError::mutability(format!("'{path}' is read-only")));
    }
    Ok(Target::Attribute {
        ext: r.ext,
        attr: r.attr,
        filter,
        sub,
    })
}
