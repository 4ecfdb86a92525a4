//! Unit tests of the filter grammar: parsing, checking, matching, and the
//! round trip through `Display`.

use super::*;
use crate::scim::Kind;
use crate::scim::error::ScimError;
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
            Some(crate::scim::error::ScimType::InvalidFilter)
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

#[test]
fn a_value_filter_of_one_equality_reads_as_the_sub_attribute_path() {
    assert_eq!(
        parse(r#"emails[value eq "a@b.c"]"#),
        parse(r#"emails.value eq "a@b.c""#)
    );
    assert_eq!(
        parse(r#"groups[value eq "g1"]"#),
        parse(r#"groups.value eq "g1""#)
    );
    assert_eq!(parse("emails[value pr]"), parse("emails.value pr"));
    assert_eq!(
        parse(r#"userName eq "x" and groups[value eq "g1"]"#),
        parse(r#"userName eq "x" and groups.value eq "g1""#)
    );
    // Two conditions on one value, or another operator, keep the brackets.
    assert!(matches!(
        parse(r#"emails[type eq "work" and value co "@"]"#),
        Ok(Filter::Complex(..))
    ));
    assert!(matches!(
        parse(r#"emails[type ne "work"]"#),
        Ok(Filter::Complex(..))
    ));
    let u = user();
    let schemas = Schemas::builtin();
    let rt = schemas.resource_type(Kind::User);
    for f in [
        r#"emails[value eq "babs@jensen.org"]"#,
        r#"emails[type eq "home"]"#,
    ] {
        assert!(parse(f).is_ok_and(|f| f.matches(&u, rt)), "{f}");
    }
    assert!(!parse(r#"emails[value eq "nobody@x"]"#).is_ok_and(|f| f.matches(&u, rt)));
}
