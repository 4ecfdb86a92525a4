//! Checking a parsed filter against a resource type's schema: every path
//! names an attribute, every operator suits its attribute's type.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::super::error::ScimError;
use super::super::schema::{Attr, AttrType};
use super::super::schemas::ResourceType;
use super::{AttrPath, CompareOp, Filter, Literal};

impl Filter {
    /// Checks every attribute path and operator against the schema. `within`
    /// is the complex attribute whose sub-attributes a `[...]` filter names.
    pub fn check(&self, rt: &ResourceType, within: Option<&Attr>) -> Result<(), ScimError> {
        match self {
            Self::And(a, b) | Self::Or(a, b) => {
                a.check(rt, within)?;
                b.check(rt, within)
            }
            Self::Not(a) => a.check(rt, within),
            Self::Present(p) => resolve_in(p, rt, within).map(|_| ()),
            Self::Compare(p, op, lit) => {
                let leaf = resolve_in(p, rt, within)?;
                check_operator(leaf, *op, lit, p)
            }
            Self::Complex(p, inner) => {
                if within.is_some() {
                    return Err(ScimError::invalid_filter(format!(
                        "'{p}': value filters cannot be nested"
                    )));
                }
                let r = p.resolve(rt).ok_or_else(|| unknown_attr(p))?;
                if r.sub.is_some() || r.attr.ty != AttrType::Complex {
                    return Err(ScimError::invalid_filter(format!(
                        "'{p}' is not a complex attribute and takes no [filter]"
                    )));
                }
                inner.check(rt, Some(r.attr))
            }
        }
    }
}

fn unknown_attr(p: &AttrPath) -> ScimError {
    ScimError::invalid_filter(format!("unknown attribute '{p}'"))
}

fn resolve_in<'s>(
    p: &AttrPath,
    rt: &'s ResourceType,
    within: Option<&'s Attr>,
) -> Result<&'s Attr, ScimError> {
    match within {
        Some(parent) => {
            if p.urn.is_some() || p.sub.is_some() {
                return Err(unknown_attr(p));
            }
            parent.sub(&p.name).ok_or_else(|| unknown_attr(p))
        }
        None => p
            .resolve(rt)
            .map(|r| r.leaf())
            .ok_or_else(|| unknown_attr(p)),
    }
}

fn check_operator(
    leaf: &Attr,
    op: CompareOp,
    lit: &Literal,
    p: &AttrPath,
) -> Result<(), ScimError> {
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let bad = |why: &str| {
        Err(ScimError::invalid_filter(format!(
            "'{p} {}': {why}",
            op.as_str()
        )))
    };
    match leaf.ty {
        AttrType::Boolean | AttrType::Binary if ordering => {
            bad("ordering is not defined for this attribute type")
        }
        AttrType::Complex => bad("a complex attribute needs a sub-attribute or a [filter]"),
        _ if substring && !matches!(lit, Literal::String(_)) => bad("needs a string value"),
        AttrType::DateTime if ordering || matches!(op, CompareOp::Eq) => match lit {
            Literal::String(s) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => Ok(()),
            Literal::Null if !ordering => Ok(()),
            _ => bad("needs an RFC 3339 date-time value"),
        },
        _ => Ok(()),
    }
}
