//! PATCH operations over normalized documents.

use super::*;

// ---- 2. PATCH -----------------------------------------------------------------

/// A PATCH path: an attribute path, a value filter with or without a
/// sub-attribute, an extension URN, or garbage.
pub(super) fn patch_path() -> BoxedStrategy<String> {
    let filtered = (
        select(COMPLEX),
        grammar_filter(),
        prop_oneof![
            2 => Just(String::new()),
            1 => select(SUBS).prop_map(|s| format!(".{s}")),
            1 => Just(".".to_string()),
        ],
    )
        .prop_map(|(a, f, tail)| format!("{a}[{f}]{tail}"));
    let shaped =
        (select(COMPLEX), attr_expr(), select(SUBS), any::<u8>()).prop_map(|(a, f, s, form)| {
            match form % 4 {
                0 => format!("{a}[{f}]"),
                1 => format!("{a}[{f}].{s}"),
                2 => format!("{a}[{f}"),
                _ => format!("{a}]{f}[.{s}"),
            }
        });
    // Value filters that match (or just miss) the base documents' values.
    let value_filter = (
        select(&["emails", "phoneNumbers", "members", "addresses", "Emails"][..]),
        select(
            &[
                r#"type eq "work""#,
                r#"type eq "home""#,
                r#"value eq "u1""#,
                r#"value eq "b@home.example""#,
                "primary eq true",
                r#"type eq "work" and primary eq true"#,
                r#"type eq "mobile" or value co "@""#,
                "value pr",
                r#"not (type eq "work")"#,
                r#"type eq "fax""#,
            ][..],
        ),
        select(
            &[
                "",
                "",
                ".value",
                ".type",
                ".primary",
                ".display",
                ".locality",
            ][..],
        ),
    )
        .prop_map(|(a, f, tail)| format!("{a}[{f}]{tail}"));
    prop_oneof![
        6 => word_in_any_case(PATHS),
        4 => value_filter,
        3 => shaped,
        2 => filtered,
        2 => token_soup(),
        1 => any_text(),
        1 => select(&["", " ", "[", "]", "[]", "emails[]", "emails[].value", " emails "][..]).prop_map(str::to_string),
    ]
    .boxed()
}

/// One operation: `op` in any case (or wrong), a path (or none, or not a
/// string), a value (or none), with field names in any case.
pub(super) fn patch_operation() -> impl Strategy<Value = Value> {
    let op = prop_oneof![
        6 => word_in_any_case(&["add", "replace", "remove"]).prop_map(Value::String),
        1 => json_leaf(),
    ];
    let path_and_value = prop_oneof![
        // A path with a value of about the right shape.
        4 => plausible_attr().prop_map(|(p, v)| (Some(Value::String(p)), Some(v))),
        // No path: the value names the attributes.
        2 => vec(plausible_attr(), 0..4).prop_map(|kv| {
            (None, Some(Value::Object(kv.into_iter().collect())))
        }),
        4 => (
            prop_oneof![
                6 => patch_path().prop_map(|p| Some(Value::String(p))),
                1 => Just(None),
                1 => json_leaf().prop_map(Some),
            ],
            prop_oneof![3 => attr_value().prop_map(Some), 1 => Just(None)],
        ),
    ];
    (op, path_and_value, any::<bool>()).prop_map(|(op, (path, value), recased)| {
        let key = |k: &str| {
            if recased {
                k.to_ascii_uppercase()
            } else {
                k.to_string()
            }
        };
        let mut o = Map::new();
        o.insert(key("op"), op);
        if let Some(p) = path {
            o.insert(key("path"), p);
        }
        if let Some(v) = value {
            o.insert(key("value"), v);
        }
        Value::Object(o)
    })
}

/// A PatchOp body: usually well-formed around random operations, sometimes
/// not an object, without `Operations`, or with a non-list there.
pub(super) fn patch_body() -> BoxedStrategy<Value> {
    let ops = prop_oneof![
        8 => vec(patch_operation(), 1..4).prop_map(Value::Array),
        1 => Just(json!([])),
        1 => json_value(),
    ];
    let body = (word_in_any_case(&["Operations"]), ops, any::<bool>()).prop_map(
        |(key, ops, with_schemas)| {
            let mut o = Map::new();
            if with_schemas {
                o.insert("schemas".into(), json!([PATCH_OP_SCHEMA]));
            }
            o.insert(key, ops);
            Value::Object(o)
        },
    );
    prop_oneof![8 => body, 1 => json_value()].boxed()
}

/// Documents to patch when a random body does not normalize: a full user, a
/// bare one, a group with members.
pub(super) fn base_docs(schemas: &Schemas) -> Vec<(Doc, &ResourceType)> {
    let user = json!({
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "b@work.example", "type": "work", "primary": true},
            {"value": "b@home.example", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555", "type": "mobile"}],
        "active": true,
        "title": "Tour Guide",
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "m1"}}
    });
    let bare = json!({"userName": "x"});
    let group = json!({
        "displayName": "Tour Guides",
        "members": [{"value": "u1", "display": "U 1"}, {"value": "u2", "type": "User"}]
    });
    [
        (user, schemas.resource_type(Kind::User)),
        (bare, schemas.resource_type(Kind::User)),
        (group, schemas.resource_type(Kind::Group)),
    ]
    .into_iter()
    .map(|(body, rt)| {
        let doc = resource::normalize(&body, rt).unwrap_or_else(|e| panic!("{e}"));
        (doc, rt)
    })
    .collect()
}

#[test]
pub(super) fn patch_operations_never_panic_and_fail_as_client_errors() {
    let schemas = Schemas::builtin();
    let bases = base_docs(&schemas);
    let parsed = Tally::default();
    let applied = Tally::default();
    let strategy = || {
        (
            patch_body(),
            any::<prop::sample::Index>(),
            prop_oneof![3 => Just(None), 1 => resource_body().prop_map(Some)],
            any::<bool>(),
        )
    };
    fuzz(
        "patch_operations_never_panic_and_fail_as_client_errors",
        2000,
        strategy,
        |(body, base, random_base, group)| {
            let ops = match patch::parse_operations(&body) {
                Ok(ops) => {
                    parsed.ok();
                    ops
                }
                Err(e) => {
                    parsed.err();
                    return assert_client_error(&e);
                }
            };
            let rt = schemas.resource_type(if group { Kind::Group } else { Kind::User });
            let random = random_base.and_then(|b| resource::normalize(&b, rt).ok());
            let (doc, rt) = match random {
                Some(doc) => (doc, rt),
                None => bases[base.index(bases.len())].clone(),
            };
            match patch::apply(&doc, &ops, rt) {
                Ok(out) => {
                    applied.ok();
                    let required = resource::check_required(&out, rt);
                    prop_assert!(required.is_ok(), "{:?}", required.err());
                    let again = resource::normalize(&Value::Object(out.clone()), rt);
                    prop_assert_eq!(
                        again.as_ref().ok(),
                        Some(&out),
                        "{:?}",
                        again.as_ref().err()
                    );
                }
                Err(e) => {
                    applied.err();
                    assert_client_error(&e)?;
                }
            }
            Ok(())
        },
    );
    parsed.report("PatchOp bodies");
    applied.report("PATCH operations");
}
