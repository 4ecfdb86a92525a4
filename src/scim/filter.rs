//! The SCIM filter grammar (RFC 7644 §3.4.2.2): parsed into an AST with a
//! length and depth limit, checked against a resource type's schema, evaluated
//! against a resource's JSON, and written back by `Display`.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ScimError;
use super::schema::{Attr, AttrType};
use super::schemas::ResourceType;

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

// ---- lexer -----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
    Num(serde_json::Number),
}

fn lex(input: &str) -> Result<Vec<(usize, Tok)>, ScimError> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((i, Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push((i, Tok::RParen));
                i += 1;
            }
            b'[' => {
                out.push((i, Tok::LBracket));
                i += 1;
            }
            b']' => {
                out.push((i, Tok::RBracket));
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                let mut escaped = false;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' if !escaped => escaped = true,
                        b'"' if !escaped => break,
                        _ => escaped = false,
                    }
                    i += 1;
                }
                if i >= bytes.len() {
                    return Err(ScimError::invalid_filter(format!(
                        "unterminated string starting at position {start}"
                    )));
                }
                let raw = &input[start..=i];
                let s: String = serde_json::from_str(raw).map_err(|_| {
                    ScimError::invalid_filter(format!("invalid string at position {start}"))
                })?;
                out.push((start, Tok::Str(s)));
                i += 1;
            }
            c if c.is_ascii_alphanumeric()
                || matches!(c, b'$' | b'_' | b'-')
                || (c == b'.' && matches!(out.last(), Some((_, Tok::RBracket)))) =>
            {
                // A run of word characters: an attribute path, a keyword, a
                // number, or an unquoted value (Entra ID: `externalId eq
                // jyoung`, ids such as `3f2a-...`, emails with `+` and `@`).
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'-' | b'$' | b'.' | b':' | b'@' | b'+'))
                {
                    i += 1;
                }
                let word = &input[start..i];
                let numeric = word.starts_with(|c: char| c.is_ascii_digit() || c == '-');
                match word.parse::<serde_json::Number>() {
                    Ok(n) if numeric => out.push((start, Tok::Num(n))),
                    _ => out.push((start, Tok::Word(word.to_string()))),
                }
            }
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "unexpected character at position {i}"
                )));
            }
        }
    }
    Ok(out)
}

// ---- parser ----------------------------------------------------------------

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(o, _)| *o)
    }
    fn err(&self, what: &str) -> ScimError {
        ScimError::invalid_filter(format!("{what} at position {}", self.offset()))
    }
    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }

    fn or(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut left = self.and(depth)?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut left = self.unary(depth)?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, ScimError> {
        if depth > MAX_DEPTH {
            return Err(self.err("filter nested too deeply"));
        }
        if self.peek_keyword("not") && matches!(self.toks.get(self.pos + 1), Some((_, Tok::LParen)))
        {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.group(depth + 1)?)));
        }
        if matches!(self.peek(), Some(Tok::LParen)) {
            return self.group(depth + 1);
        }
        self.attr_expr(depth)
    }

    fn group(&mut self, depth: usize) -> Result<Filter, ScimError> {
        if self.next() != Some(Tok::LParen) {
            return Err(self.err("expected '('"));
        }
        let inner = self.or(depth)?;
        if self.peek() != Some(&Tok::RParen) {
            return Err(self.err("expected ')'"));
        }
        self.pos += 1;
        Ok(inner)
    }

    fn attr_expr(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let at = self.offset();
        let Some(Tok::Word(word)) = self.next() else {
            self.pos = self.pos.saturating_sub(1);
            return Err(self.err("expected an attribute path"));
        };
        if word.eq_ignore_ascii_case("not") {
            return Err(self.err("expected '(' after 'not'"));
        }
        if word.eq_ignore_ascii_case("and") || word.eq_ignore_ascii_case("or") {
            self.pos = self.pos.saturating_sub(1);
            return Err(self.err("expected an attribute path"));
        }
        let path = AttrPath::parse(&word).ok_or_else(|| {
            ScimError::invalid_filter(format!("invalid attribute path '{word}' at position {at}"))
        })?;
        if matches!(self.peek(), Some(Tok::LBracket)) {
            self.pos += 1;
            let inner = self.or(depth + 1)?;
            if self.peek() != Some(&Tok::RBracket) {
                return Err(self.err("expected ']'"));
            }
            self.pos += 1;
            // `emails[type eq "work"].value eq "x"` (Entra ID): the value
            // filter and a comparison of one sub-attribute of the same value.
            if let Some(Tok::Word(w)) = self.peek() {
                if let Some(sub) = w.strip_prefix('.') {
                    let sub_at = self.offset();
                    let sub_path = AttrPath::parse(sub)
                        .filter(|p| p.sub.is_none())
                        .ok_or_else(|| {
                            ScimError::invalid_filter(format!(
                                "invalid sub-attribute '{w}' at position {sub_at}"
                            ))
                        })?;
                    self.pos += 1;
                    let (op, lit) = self.operator_and_value()?;
                    let cmp = match op {
                        None => Filter::Present(sub_path),
                        Some(op) => Filter::Compare(sub_path, op, lit),
                    };
                    return Ok(Filter::Complex(
                        path,
                        Box::new(Filter::And(Box::new(inner), Box::new(cmp))),
                    ));
                }
            }
            return Ok(Filter::Complex(path, Box::new(inner)));
        }
        match self.operator_and_value()? {
            (None, _) => Ok(Filter::Present(path)),
            (Some(op), lit) => Ok(Filter::Compare(path, op, lit)),
        }
    }

    /// `pr`, or an operator and a value.
    fn operator_and_value(&mut self) -> Result<(Option<CompareOp>, Literal), ScimError> {
        let op_at = self.offset();
        let Some(Tok::Word(op_word)) = self.next() else {
            return Err(ScimError::invalid_filter(format!(
                "expected an operator at position {op_at}"
            )));
        };
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok((None, Literal::Null));
        }
        let op = CompareOp::parse(&op_word).ok_or_else(|| {
            ScimError::invalid_filter(format!("unknown operator '{op_word}' at position {op_at}"))
        })?;
        let lit_at = self.offset();
        let lit = match self.next() {
            Some(Tok::Str(s)) => Literal::String(s),
            Some(Tok::Num(n)) => Literal::Number(n),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            // An unquoted value is a string (Entra ID: `externalId eq jyoung`).
            Some(Tok::Word(w)) if !w.starts_with('.') => Literal::String(w),
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "expected a value (string, number, true, false or null) at position {lit_at}"
                )));
            }
        };
        Ok((Some(op), lit))
    }
}

impl Filter {
    /// Parses a filter and checks it against the resource type's schema.
    pub fn parse(input: &str, rt: &ResourceType) -> Result<Self, ScimError> {
        let f = Self::parse_syntax(input)?;
        f.check(rt, None)?;
        Ok(f)
    }

    /// Parses without schema checks (used for PATCH value filters, which are
    /// checked relative to their attribute).
    pub fn parse_syntax(input: &str) -> Result<Self, ScimError> {
        if input.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_filter(format!(
                "filter longer than {MAX_FILTER_LEN} characters"
            )));
        }
        let toks = lex(input)?;
        let mut p = Parser {
            toks,
            pos: 0,
            end: input.len(),
        };
        if p.toks.is_empty() {
            return Err(ScimError::invalid_filter("empty filter"));
        }
        let f = p.or(0)?;
        if p.pos < p.toks.len() {
            return Err(p.err("unexpected input"));
        }
        Ok(f)
    }

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
mod tests {
    use super::*;
    use crate::scim::Kind;
    use crate::scim::schemas::Schemas;
    use serde_json::json;

    fn parse(s: &str) -> Result<Filter, ScimError> {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        Filter::parse(s, user_type)
    }

    fn user() -> Value {
        json!({
            "userName": "Bjensen",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "name": {"familyName": "Jensen"},
            "meta": {"lastModified": "2026-03-01T10:00:00Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}
        })
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let f = parse(r#"userName eq "a" or userName eq "b" and active eq true"#).ok();
        assert!(matches!(f, Some(Filter::Or(_, ref r)) if matches!(**r, Filter::And(..))));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            r#"userName eq "bjensen""#,
            r#"(userName eq "a" or userName sw "b") and not (active eq false)"#,
            r#"emails[type eq "work" and value co "@example.com"]"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            r#"meta.lastModified gt "2026-01-01T00:00:00Z""#,
            "title pr",
        ] {
            let f = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            let again = parse(&f.to_string()).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(f, again, "{s}");
        }
    }

    #[test]
    fn user_name_matches_case_insensitively() {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        let f = parse(r#"userName eq "BJENSEN""#).unwrap_or_else(|e| panic!("{e}"));
        assert!(f.matches(&user(), user_type));
    }

    #[test]
    fn multi_valued_and_complex_filters_match_any_value() {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        let doc = user();
        for (s, want) in [
            (r#"emails.value eq "babs@jensen.org""#, true),
            (
                r#"emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (r#"emails[type eq "home" and primary eq true]"#, false),
            (r#"emails co "jensen.org""#, true),
            (r#"meta.lastModified gt "2026-01-01T00:00:00Z""#, true),
            (r#"meta.lastModified lt "2026-01-01T00:00:00+00:00""#, false),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
                true,
            ),
            (r#"title pr"#, false),
            (r#"not (title pr)"#, true),
            (r#"name.familyName ne "Jensen""#, false),
        ] {
            let f = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(f.matches(&doc, user_type), want, "{s}");
        }
    }

    #[test]
    fn rejects_unknown_attributes_and_bad_syntax_with_position() {
        for (s, needle) in [
            (r#"nosuch eq "x""#, "unknown attribute"),
            (r#"userName eq"#, "position 11"),
            (r#"userName zz "x""#, "unknown operator"),
            (r#"(userName eq "x""#, "expected ')'"),
            (r#"userName eq "x" extra"#, "position 16"),
            (r#"active gt true"#, "ordering"),
            (r#"emails eq "x" ]"#, "unexpected input"),
        ] {
            let err = parse(s).err().unwrap_or_else(|| panic!("{s} parsed"));
            assert_eq!(
                err.scim_type,
                Some(super::super::error::ScimType::InvalidFilter)
            );
            assert!(err.detail.contains(needle), "{s}: {}", err.detail);
        }
    }

    #[test]
    fn refuses_filters_nested_too_deeply() {
        let deep = format!("{}userName eq \"x\"{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
        assert!(parse(&"x".repeat(MAX_FILTER_LEN + 1)).is_err());
    }

    #[test]
    fn finds_indexable_equality_on_either_side_of_and() {
        let schemas = Schemas::builtin();
        let user_type = schemas.resource_type(Kind::User);
        let f = parse(r#"active eq true and userName eq "x""#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            f.eq_lookup(user_type, "userName", None).as_deref(),
            Some("x")
        );
        let f = parse(r#"active eq true or userName eq "x""#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.eq_lookup(user_type, "userName", None), None);
    }

    /// A deterministic generator of filter ASTs (xorshift), so that a
    /// failure reproduces.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[(self.next() % items.len() as u64) as usize]
        }
        fn literal(&mut self) -> Literal {
            match self.next() % 6 {
                0 => Literal::Null,
                1 => Literal::Bool(self.next() % 2 == 0),
                2 => Literal::Number(serde_json::Number::from((self.next() % 2000) as i64 - 1000)),
                3 => Literal::Number(
                    serde_json::Number::from_f64((self.next() % 1000) as f64 / 8.0)
                        .unwrap_or_else(|| 0.into()),
                ),
                _ => Literal::String(
                    self.pick(&[
                        "",
                        "plain",
                        "with \"quotes\"",
                        "back\\slash",
                        "ünïcødé 😀",
                        "a]b[c)d(",
                        "and or not",
                    ])
                    .to_string(),
                ),
            }
        }
        fn path(&mut self, inner: bool) -> AttrPath {
            let text = if inner {
                *self.pick(&["type", "value", "primary", "display"])
            } else {
                *self.pick(&[
                    "userName",
                    "title",
                    "emails.value",
                    "name.givenName",
                    "meta.created",
                    "active",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                ])
            };
            AttrPath::parse(text).unwrap_or_else(|| panic!("{text}"))
        }
        fn filter(&mut self, depth: usize, inner: bool) -> Filter {
            let leaf = depth == 0 || self.next() % 3 == 0;
            if leaf {
                return match self.next() % 4 {
                    0 => Filter::Present(self.path(inner)),
                    1 if !inner => {
                        let names: [&str; 3] = ["emails", "phoneNumbers", "addresses"];
                        let name = names[(self.next() % 3) as usize];
                        let p = AttrPath::parse(name).unwrap_or_else(|| panic!("{name}"));
                        Filter::Complex(p, Box::new(self.filter(depth.saturating_sub(1), true)))
                    }
                    _ => {
                        let op = *self.pick(&[
                            CompareOp::Eq,
                            CompareOp::Ne,
                            CompareOp::Co,
                            CompareOp::Sw,
                            CompareOp::Ew,
                            CompareOp::Gt,
                            CompareOp::Ge,
                            CompareOp::Lt,
                            CompareOp::Le,
                        ]);
                        Filter::Compare(self.path(inner), op, self.literal())
                    }
                };
            }
            match self.next() % 3 {
                0 => Filter::Not(Box::new(self.filter(depth - 1, inner))),
                1 => Filter::And(
                    Box::new(self.filter(depth - 1, inner)),
                    Box::new(self.filter(depth - 1, inner)),
                ),
                _ => Filter::Or(
                    Box::new(self.filter(depth - 1, inner)),
                    Box::new(self.filter(depth - 1, inner)),
                ),
            }
        }
    }

    #[test]
    fn any_generated_filter_written_back_parses_to_the_same_ast() {
        let mut g = Gen(0x2545_F491_4F6C_DD1D);
        for _ in 0..5000 {
            let f = g.filter(5, false);
            let text = f.to_string();
            match Filter::parse_syntax(&text) {
                Ok(again) => assert_eq!(again, f, "{text}"),
                Err(e) => panic!("{text}: {e}"),
            }
        }
    }
}
