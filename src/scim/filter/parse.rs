//! The filter parser: tokens into a `Filter` tree, `and` binding tighter
//! than `or`, nesting limited to `MAX_DEPTH`.

use super::super::error::ScimError;
use super::super::schemas::ResourceType;
use super::lex::{Tok, lex};
use super::{AttrPath, CompareOp, Filter, Literal, MAX_DEPTH, MAX_FILTER_LEN};

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
        Ok(f.without_single_value_filters())
    }

    /// `attr[sub eq value]` with one equality (or one `pr`) inside says
    /// what `attr.sub eq value` says: some value of `attr` has it. Written
    /// so, `members[value eq "<id>"]` is answered like `members.value eq`
    /// (an index lookup). With `and`/`or` inside, the same value must match
    /// both sides, so those stay as they are.
    fn without_single_value_filters(self) -> Self {
        let lift = |p: &AttrPath, inner: &AttrPath| {
            (inner.urn.is_none() && inner.sub.is_none() && p.sub.is_none()).then(|| AttrPath {
                urn: p.urn.clone(),
                name: p.name.clone(),
                sub: Some(inner.name.clone()),
            })
        };
        match self {
            Self::And(a, b) => Self::And(
                Box::new(a.without_single_value_filters()),
                Box::new(b.without_single_value_filters()),
            ),
            Self::Or(a, b) => Self::Or(
                Box::new(a.without_single_value_filters()),
                Box::new(b.without_single_value_filters()),
            ),
            Self::Not(a) => Self::Not(Box::new(a.without_single_value_filters())),
            Self::Complex(p, inner) => match *inner {
                Self::Compare(ref q, CompareOp::Eq, ref lit) => match lift(&p, q) {
                    Some(path) => Self::Compare(path, CompareOp::Eq, lit.clone()),
                    None => Self::Complex(p, inner),
                },
                Self::Present(ref q) => match lift(&p, q) {
                    Some(path) => Self::Present(path),
                    None => Self::Complex(p, inner),
                },
                other => Self::Complex(p, Box::new(other)),
            },
            other => other,
        }
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
}
