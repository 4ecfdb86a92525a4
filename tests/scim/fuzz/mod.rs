//! Bounded fuzzing with proptest, in the normal test run: the filter parser,
//! PATCH operations, the resource normalizer and the whole router get random
//! and grammar-shaped input for a fixed number of cases each. The properties:
//! nothing panics, nothing answers 5xx, every failure is a 400-class
//! `ScimError` with a `scimType` (over HTTP, an RFC 7644 §3.12 error body with
//! the response's status; at the token endpoint, an RFC 6749 §5.2 one), and
//! what parses once parses again to the same thing.
//!
//! Each target takes a few seconds in a debug build. `SCIM_FUZZ_CASES` sets
//! the number of cases of every target, for a longer run:
//!
//! ```text
//! SCIM_FUZZ_CASES=100000 cargo test --test scim fuzz
//! ```
//!
//! The seed is random on each run; a failure is shrunk and printed, never
//! persisted (no files are written into the tree).
//!
//! One file a target: `parser` (filters), `patching`, `normalizer` and
//! `router`; this one runs them and holds the vocabulary they share.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;
use scim_lambda::scim::Kind;
use scim_lambda::scim::error::{ERROR_SCHEMA, ScimError, ScimType};
use scim_lambda::scim::filter::{Filter, MAX_FILTER_LEN};
use scim_lambda::scim::patch;
use scim_lambda::scim::resource::{self, Doc};
use scim_lambda::scim::schema::{
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, SEARCH_REQUEST_SCHEMA, USER_SCHEMA,
};
use scim_lambda::scim::schemas::{ResourceType, Schemas};
use serde_json::{Map, Value, json};

use crate::common::{Harness, TOKEN};

mod normalizer;
mod parser;
mod patching;
mod router;

// What one target builds that others reuse.
use normalizer::*;
use parser::*;
use patching::*;

// ---- running ---------------------------------------------------------------

/// The number of cases: `SCIM_FUZZ_CASES` if set, else the target's default.
fn cases(default: u32) -> u32 {
    std::env::var("SCIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Generating a case walks a deep tree of strategies, and in a debug build
/// each level takes a large stack frame; the router's futures, polled on the
/// same thread, add theirs: more than a test thread's 2 MiB.
const FUZZ_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Runs one target, on a thread with a large stack, with a random seed and
/// no failure persistence, and says how long it took (visible with
/// `--nocapture`). The strategy is built on that thread, as boxed strategies
/// cannot move between threads.
fn fuzz<S: Strategy>(
    name: &str,
    default_cases: u32,
    strategy: impl FnOnce() -> S + Send,
    test: impl Fn(S::Value) -> Result<(), TestCaseError> + Send,
) {
    let outcome = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name(name.to_string())
            .stack_size(FUZZ_STACK_BYTES)
            .spawn_scoped(scope, move || {
                let config = ProptestConfig {
                    cases: cases(default_cases),
                    failure_persistence: None,
                    ..ProptestConfig::default()
                };
                let n = config.cases;
                let mut runner = TestRunner::new(config);
                let started = Instant::now();
                let result = runner.run(&strategy(), test);
                eprintln!("{name}: {n} cases in {:.2?}", started.elapsed());
                result.map_err(|e| e.to_string())
            })
            .unwrap_or_else(|e| panic!("{e}"))
            .join()
    });
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(failure)) => panic!("{name}: {failure}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Counts outcomes, so a run shows that the strategies reach both branches.
#[derive(Default)]
struct Tally(AtomicUsize, AtomicUsize);

impl Tally {
    fn ok(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn err(&self) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
    fn report(&self, what: &str) {
        eprintln!(
            "{what}: {} accepted, {} refused",
            self.0.load(Ordering::Relaxed),
            self.1.load(Ordering::Relaxed)
        );
    }
}

/// A failure a client caused: 400-class with a `scimType`.
fn assert_client_error(e: &ScimError) -> Result<(), TestCaseError> {
    prop_assert!((400..500).contains(&e.status), "not a 4xx: {e}");
    prop_assert!(e.scim_type.is_some(), "no scimType: {e}");
    Ok(())
}

// ---- shared vocabulary ----------------------------------------------------

/// Attribute paths as filters and PATCH paths name them: valid ones of both
/// resource types, in odd case, with URN prefixes, and broken ones.
const PATHS: &[&str] = &[
    "userName",
    "USERNAME",
    "id",
    "externalId",
    "displayName",
    "title",
    "active",
    "nickName",
    "emails",
    "emails.value",
    "Emails.Type",
    "emails.primary",
    "name",
    "name.givenName",
    "name.familyName",
    "meta",
    "meta.created",
    "meta.lastModified",
    "meta.resourceType",
    "members",
    "members.value",
    "members.display",
    "groups",
    "groups.display",
    "phoneNumbers",
    "phoneNumbers.type",
    "addresses",
    "addresses.locality",
    "x509Certificates.value",
    "roles",
    "password",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
    "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:x:y",
    "urn:",
    "urn:a",
    "nosuch",
    "a.b.c",
    "$ref",
    "_x",
    "-x",
    "1abc",
    "emails..value",
    "value",
    "type",
    "primary",
    "display",
];

/// Sub-attribute names, as a value filter names them.
const SUBS: &[&str] = &[
    "value",
    "type",
    "primary",
    "display",
    "$ref",
    "givenName",
    "nosuch",
    "Value",
];

/// The complex attributes that take a value filter (and some that do not).
const COMPLEX: &[&str] = &[
    "emails",
    "phoneNumbers",
    "addresses",
    "members",
    "groups",
    "name",
    "roles",
    "userName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
];

const OPERATORS: &[&str] = &[
    "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Ne", "pr", "PR", "zz",
];

/// Literal tokens: quoted strings with escapes (valid and not), numbers at
/// the edges of JSON's range, keywords, and unquoted values.
const LITERALS: &[&str] = &[
    r#""bjensen""#,
    r#""""#,
    r#""with \"quotes\"""#,
    r#""back\\slash""#,
    r#""\u00e9\ud83d\ude00""#,
    r#""\ud800""#,
    r#""\x""#,
    r#""\""#,
    r#""unterminated"#,
    r#""é😀 and or not ( ) [ ]""#,
    r#""2026-01-01T00:00:00Z""#,
    r#""2026-13-01""#,
    r#""\/""#,
    "true",
    "False",
    "null",
    "NULL",
    "0",
    "-1",
    "-0",
    "1.5",
    "1e400",
    "1E5",
    "1e-7",
    "007",
    "12345678901234567890123",
    "-9223372036854775809",
    "jyoung",
    "a+b@example.com",
    "3f2a-11",
    "urn:x:y",
    ".x",
    "-",
];

/// Strings shaped like what attribute values are parsed from.
const SHAPED_STRINGS: &[&str] = &[
    "",
    " ",
    "bjensen",
    "true",
    "False",
    "TRUE",
    "maybe",
    "12",
    " 12 ",
    "-3",
    "1.5",
    "1e400",
    "NaN",
    "inf",
    "9223372036854775808",
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00+01:00",
    "2026-02-30T00:00:00Z",
    "work",
    "home",
    "b@work.example",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "é😀",
    "\u{0}",
];

/// Keys a resource body may carry: every attribute name of both types and the
/// enterprise extension, sub-attribute names, URNs, and server-set ones.
const KEYS: &[&str] = &[
    "schemas",
    "id",
    "externalId",
    "meta",
    "userName",
    "name",
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    "members",
    "value",
    "display",
    "type",
    "primary",
    "$ref",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
    "created",
    "lastModified",
    "version",
    ENTERPRISE_USER_SCHEMA,
    USER_SCHEMA,
    GROUP_SCHEMA,
    "name.givenName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
];

/// `s` with the ASCII case of each letter flipped where `bits` has a 1.
fn recase(s: &str, bits: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if bits >> (i % 64) & 1 == 1 {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}

/// A word from the list, mostly as written, sometimes in random case.
fn word_in_any_case(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    (
        select(words),
        prop_oneof![3 => Just(0u64), 1 => any::<u64>()],
    )
        .prop_map(|(w, bits)| recase(w, bits))
}

/// Any string: any unicode, control characters included, sometimes long.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => vec(any::<char>(), 0..64).prop_map(|c| c.into_iter().collect::<String>()),
        1 => vec(any::<char>(), 0..5000).prop_map(|c| c.into_iter().collect::<String>()),
        2 => any::<String>(),
    ]
}
