//! Evaluating a checked filter against a resource document, or against one
//! value of a complex attribute.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::super::schema::{Attr, AttrType};
use super::super::schemas::ResourceType;
use super::{AttrPath, CompareOp, Filter, Literal};

impl Filter {
    /// Whether the resource document matches. The filter must have passed
    /// `check` for the same resource type.
    pub fn matches(&self, doc: &Value, rt: &ResourceType) -> bool {
        self.eval(&Scope::Resource(doc, rt))
    }

    /// Whether one value of the complex attribute `attr` matches this filter,
    /// whose paths name `attr`'s sub-attributes.
    pub fn matches_element(&self, element: &Value, attr: &Attr) -> bool {
        self.eval(&Scope::Element(element, attr))
    }

    fn eval(&self, scope: &Scope<'_>) -> bool {
        match self {
            Self::And(a, b) => a.eval(scope) && b.eval(scope),
            Self::Or(a, b) => a.eval(scope) || b.eval(scope),
            Self::Not(a) => !a.eval(scope),
            Self::Present(p) => scope.values(p).into_iter().any(|v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            }),
            Self::Compare(p, op, lit) => {
                let Some(leaf) = scope.leaf(p) else {
                    return false;
                };
                let values = scope.values(p);
                match (op, lit) {
                    (CompareOp::Eq, Literal::Null) => values.iter().all(|v| v.is_null()),
                    (CompareOp::Ne, Literal::Null) => values.iter().any(|v| !v.is_null()),
                    (CompareOp::Ne, _) => {
                        !values.iter().any(|v| compare(leaf, CompareOp::Eq, v, lit))
                    }
                    _ => values.iter().any(|v| compare(leaf, *op, v, lit)),
                }
            }
            Self::Complex(p, inner) => {
                let Scope::Resource(doc, rt) = scope else {
                    return false;
                };
                let Some(r) = p.resolve(rt) else {
                    return false;
                };
                match r.container(doc) {
                    Some(Value::Array(items)) => {
                        items.iter().any(|e| inner.eval(&Scope::Element(e, r.attr)))
                    }
                    Some(v @ Value::Object(_)) => inner.eval(&Scope::Element(v, r.attr)),
                    _ => false,
                }
            }
        }
    }
}

/// What a filter is evaluated against: a resource of a type, or (inside
/// `attr[...]`) one value of a complex attribute, whose paths name
/// sub-attributes.
enum Scope<'a> {
    Resource(&'a Value, &'a ResourceType),
    Element(&'a Value, &'a Attr),
}

impl<'a> Scope<'a> {
    fn leaf(&self, p: &AttrPath) -> Option<&'a Attr> {
        match self {
            Self::Resource(_, rt) => p.resolve(rt).map(|r| r.leaf()),
            Self::Element(_, parent) => parent.sub(&p.name),
        }
    }

    /// Every value the path reaches (multi-valued attributes fan out).
    fn values(&self, p: &AttrPath) -> Vec<&'a Value> {
        match self {
            Self::Element(e, parent) => parent
                .sub(&p.name)
                .and_then(|a| e.get(&*a.name))
                .into_iter()
                .collect(),
            Self::Resource(doc, rt) => {
                let Some(r) = p.resolve(rt) else {
                    return Vec::new();
                };
                let Some(v) = r.container(doc) else {
                    return Vec::new();
                };
                let items: Vec<&Value> = match v {
                    Value::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                let sub = r.sub.or_else(|| {
                    (r.attr.ty == AttrType::Complex)
                        .then(|| r.attr.sub("value"))
                        .flatten()
                });
                match sub {
                    Some(s) => items.into_iter().filter_map(|i| i.get(&*s.name)).collect(),
                    None => items,
                }
            }
        }
    }
}

fn compare(attr: &Attr, op: CompareOp, v: &Value, lit: &Literal) -> bool {
    // An unquoted number compared with a string attribute is its text
    // (`externalId eq 12345`).
    let text_lit;
    let lit = match (attr.ty, lit) {
        (AttrType::String | AttrType::Reference | AttrType::Binary, Literal::Number(n)) => {
            text_lit = Literal::String(n.to_string());
            &text_lit
        }
        _ => lit,
    };
    let ord = match (attr.ty, v, lit) {
        (AttrType::Boolean, Value::Bool(b), Literal::Bool(l)) => Some(b.cmp(l)),
        (AttrType::Integer | AttrType::Decimal, Value::Number(n), Literal::Number(l)) => {
            match (n.as_f64(), l.as_f64()) {
                (Some(a), Some(b)) => a.partial_cmp(&b),
                _ => None,
            }
        }
        (AttrType::DateTime, Value::String(s), Literal::String(l))
            if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) =>
        {
            match (
                OffsetDateTime::parse(s, &Rfc3339),
                OffsetDateTime::parse(l, &Rfc3339),
            ) {
                (Ok(a), Ok(b)) => Some(a.cmp(&b)),
                _ => None,
            }
        }
        (_, Value::String(s), Literal::String(l)) => {
            let (a, b) = if attr.case_exact {
                (s.clone(), l.clone())
            } else {
                (s.to_lowercase(), l.to_lowercase())
            };
            return match op {
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                _ => ordering_holds(op, a.cmp(&b)),
            };
        }
        _ => None,
    };
    ord.is_some_and(|o| ordering_holds(op, o))
}

fn ordering_holds(op: CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
