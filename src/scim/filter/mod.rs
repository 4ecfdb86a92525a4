//! The SCIM filter grammar (RFC 7644 §3.4.2.2): parsed into an AST with a
//! length and depth limit, checked against a resource type's schema, evaluated
//! against a resource's JSON, and written back by `Display`.
//!
//! The rooms: `lex` and `parse` turn text into the tree, `check` holds it
//! against a schema, `eval` runs it against a document; the tree, its paths,
//! what the store asks of it and `Display` are here.

use std::fmt;

use serde_json::Value;

use super::schema::{Attr, AttrType};
use super::schemas::ResourceType;

mod check;
mod eval;
mod lex;
mod parse;

/// Filters longer than this are refused before parsing.
pub const MAX_FILTER_LEN: usize = 4096;
/// Nesting deeper than this (parentheses, `not`, `[...]`) is refused.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    Compare(AttrPath, CompareOp, Literal),
    /// `attr[filter]`: some value of the multi-valued complex `attr` matches.
    Complex(AttrPath, Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
    Null,
}

/// `[urn ":"] name ["." sub]`, as written (resolution against a schema is
/// separate, so the same path type serves filters and PATCH paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Splits an attribute path token. A URN prefix ends at the last `:`
    /// (attribute names never contain one; URNs may contain dots, e.g. `2.0`).
    pub fn parse(token: &str) -> Option<Self> {
        let (urn, rest) = if token.len() > 4
            && token
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            let idx = token.rfind(':')?;
            (Some(token[..idx].to_string()), &token[idx + 1..])
        } else {
            (None, token)
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let valid = |s: &str| {
            let mut chars = s.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '$' || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(name) || sub.is_some_and(|s| !valid(s)) {
            return None;
        }
        Some(Self {
            urn,
            name: name.to_string(),
            sub: sub.map(str::to_string),
        })
    }

    /// Resolves the path against a resource type: which schema's attribute
    /// (`None` schema = core or common), and its sub-attribute if any.
    pub fn resolve<'s>(&self, rt: &'s ResourceType) -> Option<Resolved<'s>> {
        let (ext, attr) = match &self.urn {
            // Unqualified names are core attributes; failing that, an
            // extension's (Entra ID filters and patches `manager` bare).
            None => match rt.core_attr(&self.name) {
                Some(a) => (None, a),
                None => rt
                    .extensions
                    .iter()
                    .find_map(|s| s.attr(&self.name).map(|a| (Some(&*s.id), a)))?,
            },
            Some(urn) => {
                let schema = rt.schema_by_urn(urn)?;
                let attr = schema.attr(&self.name)?;
                if std::ptr::eq(schema, rt.schema) {
                    (None, attr)
                } else {
                    (Some(&*schema.id), attr)
                }
            }
        };
        let sub = match &self.sub {
            None => None,
            Some(s) => Some(attr.sub(s)?),
        };
        Some(Resolved { ext, attr, sub })
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// An attribute path resolved against a schema, borrowing its definitions.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'s> {
    /// The extension schema URN holding the attribute, `None` for core/common.
    pub ext: Option<&'s str>,
    pub attr: &'s Attr,
    pub sub: Option<&'s Attr>,
}

impl<'s> Resolved<'s> {
    /// The attribute whose value is compared: the sub-attribute if named, else
    /// the `value` sub-attribute of a complex attribute, else the attribute.
    fn leaf(&self) -> &'s Attr {
        self.sub
            .or_else(|| {
                (self.attr.ty == AttrType::Complex)
                    .then(|| self.attr.sub("value"))
                    .flatten()
            })
            .unwrap_or(self.attr)
    }

    /// The attribute's value in a resource document (canonical names).
    pub fn container<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        match self.ext {
            Some(urn) => doc.get(urn)?.get(&*self.attr.name),
            None => doc.get(&*self.attr.name),
        }
    }
}

/// What the store asks of a filter: which values an index can answer.
impl Filter {
    /// The string values of every `<attr>.value eq "..."` in the filter, or
    /// `None` if the filter names `attr` in any other way.
    pub fn value_eqs(&self, rt: &ResourceType, attr: &str) -> Option<Vec<String>> {
        match self {
            Self::And(a, b) | Self::Or(a, b) => {
                let mut v = a.value_eqs(rt, attr)?;
                v.extend(b.value_eqs(rt, attr)?);
                Some(v)
            }
            Self::Not(a) => a.value_eqs(rt, attr),
            Self::Compare(p, CompareOp::Eq, Literal::String(s))
                if p.resolve(rt).is_some_and(|r| {
                    r.ext.is_none()
                        && r.attr.name == attr
                        && r.sub.is_none_or(|s| s.name == "value")
                }) =>
            {
                Some(vec![s.clone()])
            }
            f if f.mentions(rt, attr) => None,
            _ => Some(Vec::new()),
        }
    }

    /// Whether any path of the filter names this core attribute.
    pub fn mentions(&self, rt: &ResourceType, attr: &str) -> bool {
        match self {
            Self::And(a, b) | Self::Or(a, b) => a.mentions(rt, attr) || b.mentions(rt, attr),
            Self::Not(a) => a.mentions(rt, attr),
            Self::Present(p) | Self::Compare(p, _, _) | Self::Complex(p, _) => p
                .resolve(rt)
                .is_some_and(|r| r.ext.is_none() && r.attr.name == attr),
        }
    }

    /// If this filter is, or has on one side of an `and`, an `eq` on the given
    /// core attribute, its string value: what an index lookup can answer.
    pub fn eq_lookup(&self, rt: &ResourceType, attr: &str, sub: Option<&str>) -> Option<String> {
        match self {
            Self::Compare(p, CompareOp::Eq, lit @ (Literal::String(_) | Literal::Number(_))) => {
                let s = match lit {
                    Literal::Number(n) => n.to_string(),
                    Literal::String(s) => s.clone(),
                    _ => return None,
                };
                let r = p.resolve(rt)?;
                let sub_matches = match (r.sub, sub) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.name == b,
                    // A complex attribute compared whole means its `value`.
                    (None, Some("value")) => r.attr.ty == AttrType::Complex,
                    _ => false,
                };
                (r.ext.is_none() && r.attr.name == attr && sub_matches).then_some(s)
            }
            Self::And(a, b) => a
                .eq_lookup(rt, attr, sub)
                .or_else(|| b.eq_lookup(rt, attr, sub)),
            _ => None,
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => write!(f, "{}", Value::String(s.clone())),
            Self::Number(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Null => f.write_str("null"),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parentheses only where the grammar needs them ("and" binds tighter
        // than "or"; both group to the left), so that a long chain is written
        // back as flat as it came and parses again to the same tree.
        let child = |f: &mut fmt::Formatter<'_>, c: &Filter, wrap: bool| {
            if wrap {
                write!(f, "({c})")
            } else {
                write!(f, "{c}")
            }
        };
        match self {
            Self::And(a, b) => {
                child(f, a, matches!(**a, Filter::Or(..)))?;
                f.write_str(" and ")?;
                child(f, b, matches!(**b, Filter::And(..) | Filter::Or(..)))
            }
            Self::Or(a, b) => {
                child(f, a, false)?;
                f.write_str(" or ")?;
                child(f, b, matches!(**b, Filter::Or(..)))
            }
            Self::Not(a) => write!(f, "not ({a})"),
            Self::Present(p) => write!(f, "{p} pr"),
            Self::Compare(p, op, lit) => write!(f, "{p} {} {lit}", op.as_str()),
            Self::Complex(p, inner) => write!(f, "{p}[{inner}]"),
        }
    }
}

#[cfg(test)]
mod tests;
