//! The resource normalizer (its documents feed the PATCH and router targets too).

use super::*;

// ---- 3. the resource normalizer (used by 2 and 4 too) -----------------------

pub(super) fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => Just(Value::Null),
        2 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => select(&[0i64, 1, -1, i64::MIN, i64::MAX][..]).prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        1 => select(&[0.5f64, -0.0, 1e300, -1e-300, f64::MAX, f64::MIN_POSITIVE][..])
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        5 => select(SHAPED_STRINGS).prop_map(|s| Value::String(s.into())),
        2 => any_text().prop_map(Value::String),
    ]
}

pub(super) fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![6 => word_in_any_case(KEYS), 1 => any_text()]
}

/// Any JSON value, with object keys mostly from the schemas.
pub(super) fn json_value() -> BoxedStrategy<Value> {
    json_leaf()
        .prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..5).prop_map(Value::Array),
                vec((json_key(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            ]
        })
        .boxed()
}

/// Values shaped like a multi-valued attribute's elements.
pub(super) fn element() -> impl Strategy<Value = Value> {
    (
        prop_oneof![json_leaf(), select(SHAPED_STRINGS).prop_map(Value::from)],
        select(
            &[
                "work", "home", "other", "Work", "", "direct", "User", "Group",
            ][..],
        ),
        prop_oneof![
            Just(Value::Null),
            Just(json!(true)),
            Just(json!(false)),
            Just(json!("true"))
        ],
        any::<u8>(),
    )
        .prop_map(|(value, ty, primary, keep)| {
            let mut o = Map::new();
            if keep & 1 == 1 {
                o.insert("value".into(), value);
            }
            if keep & 2 == 2 {
                o.insert("type".into(), Value::from(ty));
            }
            if keep & 4 == 4 {
                o.insert("primary".into(), primary);
            }
            if keep & 8 == 8 {
                o.insert("display".into(), Value::from("d"));
            }
            Value::Object(o)
        })
}

/// A value for an attribute: any JSON, or shaped like what IdPs send.
pub(super) fn attr_value() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => json_value(),
        2 => vec(element(), 0..4).prop_map(Value::Array),
        1 => element(),
        1 => Just(json!({"givenName": "Barbara", "familyName": "Jensen"})),
        1 => Just(json!({"employeeNumber": 42, "manager": "boss-id", "department": null})),
    ]
    .boxed()
}

/// An attribute with a value of about the right shape, as IdPs send them
/// (a key in another case, a boolean as a string, a number for a string).
pub(super) fn plausible_attr() -> impl Strategy<Value = (String, Value)> {
    let text = prop_oneof![
        3 => select(SHAPED_STRINGS).prop_map(Value::from),
        1 => any_text().prop_map(Value::from),
        1 => any::<i32>().prop_map(Value::from),
    ];
    let elements = vec(element(), 0..4).prop_map(Value::Array);
    prop_oneof![
        (
            select(
                &[
                    "userName",
                    "displayName",
                    "title",
                    "nickName",
                    "externalId",
                    "locale",
                    "profileUrl",
                    "name.givenName",
                ][..]
            ),
            text.clone()
        )
            .prop_map(|(k, v)| (k.to_string(), v)),
        select(vec![
            json!(true),
            json!("False"),
            json!("TRUE"),
            json!(null)
        ])
        .prop_map(|v| ("active".to_string(), v)),
        (
            select(
                &[
                    "emails",
                    "phoneNumbers",
                    "members",
                    "roles",
                    "x509Certificates",
                    "groups"
                ][..]
            ),
            elements
        )
            .prop_map(|(k, v)| (k.to_string(), v)),
        (text.clone(), text.clone())
            .prop_map(|(g, f)| ("name".to_string(), json!({"givenName": g, "familyName": f}))),
        (text.clone(), any::<bool>()).prop_map(|(l, p)| (
            "addresses".to_string(),
            json!([{"locality": l, "country": "NL", "primary": p}])
        )),
        (text.clone(), text).prop_map(|(n, m)| (
            ENTERPRISE_USER_SCHEMA.to_string(),
            json!({"employeeNumber": n, "manager": m, "department": "R&D"})
        )),
        select(
            &[
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            ][..]
        )
        .prop_map(|k| (k.to_string(), json!("m1"))),
    ]
}

/// A resource body: mostly an object of schema attributes, usually with the
/// required one, sometimes any JSON at all.
pub(super) fn resource_body() -> BoxedStrategy<Value> {
    let attribute = prop_oneof![
        2 => plausible_attr(),
        1 => (json_key(), attr_value()),
    ];
    let object = (
        vec(attribute, 0..10),
        prop_oneof![
            1 => Just(None),
            3 => (
                select(&["userName", "displayName", "USERNAME"][..]),
                select(SHAPED_STRINGS)
            )
                .prop_map(|(k, v)| Some((k, v.to_string()))),
            1 => (select(&["userName", "displayName"][..]), any_text()).prop_map(|(k, v)| Some((k, v))),
        ],
    )
        .prop_map(|(kv, required)| {
            let mut o: Map<String, Value> = kv.into_iter().collect();
            if let Some((k, v)) = required {
                o.insert(k.into(), Value::from(v));
            }
            Value::Object(o)
        });
    prop_oneof![6 => object, 1 => json_value()].boxed()
}

pub(super) fn check_normalize(
    body: &Value,
    rt: &ResourceType,
    tally: &Tally,
) -> Result<(), TestCaseError> {
    match resource::normalize(body, rt) {
        Ok(doc) => {
            tally.ok();
            let again = resource::normalize(&Value::Object(doc.clone()), rt);
            prop_assert_eq!(
                again.as_ref().ok(),
                Some(&doc),
                "{:?}",
                again.as_ref().err()
            );
        }
        Err(e) => {
            tally.err();
            assert_client_error(&e)?;
        }
    }
    Ok(())
}

#[test]
pub(super) fn resource_normalizer_never_panics_and_is_idempotent() {
    let schemas = Schemas::builtin();
    let user = Tally::default();
    let group = Tally::default();
    fuzz(
        "resource_normalizer_never_panics_and_is_idempotent",
        2000,
        resource_body,
        |body| {
            check_normalize(&body, schemas.resource_type(Kind::User), &user)?;
            check_normalize(&body, schemas.resource_type(Kind::Group), &group)
        },
    );
    user.report("User bodies");
    group.report("Group bodies");
}
