//! Robustness: arbitrary text as filters, paths and projections never panics.

use super::*;
use crate::scim::Kind;
use crate::scim::filter::Filter;
use crate::scim::projection::Projection;
use crate::scim::schemas::Schemas;
use serde_json::json;

/// A small deterministic generator (xorshift), so failures reproduce.
fn strings(n: usize) -> Vec<String> {
    let alphabet: Vec<char> = "ab.:[]()\"\\ =-$_éü😀01urnemailsvaluetypeqorandnotprUSERurn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        .chars()
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            (0..len)
                .map(|i| {
                    let k = (state.rotate_left(i as u32 * 5) % alphabet.len() as u64) as usize;
                    alphabet[k]
                })
                .collect()
        })
        .collect()
}

#[test]
fn arbitrary_filters_paths_and_projections_never_panic() {
    let schemas = Schemas::builtin();
    let user_type = schemas.resource_type(Kind::User);
    let group_type = schemas.resource_type(Kind::Group);
    let doc = resource::normalize(
        &json!({"userName": "x", "emails": [{"value": "a", "type": "work"}]}),
        user_type,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for s in strings(20_000) {
        if let Ok(f) = Filter::parse(&s, user_type) {
            let _ = f.matches(&Value::Object(doc.clone()), user_type);
            let _ = f.to_string();
        }
        let ops = vec![Operation {
            op: Op::Add,
            path: Some(s.clone()),
            value: Some(json!("v")),
        }];
        let _ = apply(&doc, &ops, user_type);
        let ops = vec![Operation {
            op: Op::Remove,
            path: Some(s.clone()),
            value: None,
        }];
        let _ = apply(&doc, &ops, user_type);
        let mut out = json!({"id": "1", "userName": "x"});
        Projection::parse(Some(&s), Some(&s), group_type).apply(&mut out, group_type);
    }
}
