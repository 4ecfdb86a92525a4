//! The filter grammar, table-driven: each case is parsed against the User
//! schema and evaluated on three users, B(jensen), J(smith) and A(non), or
//! must be refused with `invalidFilter` (and, where given, a detail naming
//! the position).

use scim_lambda::scim::Kind;
use scim_lambda::scim::filter::Filter;
use scim_lambda::scim::resource::{Meta, normalize, render};
use scim_lambda::scim::schemas::Schemas;
use serde_json::{Value, json};

fn users() -> Vec<(char, Value)> {
    let schemas = Schemas::builtin();
    let user_type = schemas.resource_type(Kind::User);
    let mk = |key: char, id: &str, body: Value, created: &str, modified: &str| {
        let doc = normalize(&body, user_type).unwrap_or_else(|e| panic!("{e}"));
        let meta = Meta {
            id: id.into(),
            created: created.into(),
            last_modified: modified.into(),
            version: 3,
        };
        (
            key,
            render(&doc, &meta, user_type, "https://h/scim/v2", None),
        )
    };
    vec![
        mk(
            'B',
            "2819c223",
            json!({
                "userName": "bjensen@example.com", "externalId": "701984",
                "name": {"familyName": "Jensen", "givenName": "Barbara"},
                "title": "Tour Guide", "active": true, "userType": "Employee",
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                           {"value": "babs@jensen.org", "type": "home"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "26118915"}}
            }),
            "2010-01-23T04:56:22Z",
            "2011-05-13T04:42:34Z",
        ),
        mk(
            'J',
            "5d48a0a8",
            json!({
                "userName": "JSmith@Example.com", "externalId": "AB-1",
                "name": {"familyName": "Smith", "givenName": "John"},
                "title": "Manager", "active": false, "userType": "Contractor",
                "emails": [{"value": "john@example.org", "type": "work"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales", "costCenter": "4130"}
            }),
            "2020-06-01T00:00:00Z",
            "2026-03-01T12:00:00Z",
        ),
        mk(
            'A',
            "a0000001",
            json!({
                "userName": "anon", "active": true, "nickName": "",
                "phoneNumbers": [{"value": "555-1234", "type": "mobile"}]
            }),
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00+00:00",
        ),
    ]
}

/// (filter, expected): the keys of the users it matches, or `!` followed by
/// a piece of the error detail.
const CASES: &[(&str, &str)] = &[
    // eq, case rules
    (r#"userName eq "bjensen@example.com""#, "B"),
    (r#"userName eq "BJENSEN@EXAMPLE.COM""#, "B"),
    (r#"userName eq "jsmith@example.com""#, "J"),
    (r#"USERNAME eq "anon""#, "A"),
    (r#"userName EQ "anon""#, "A"),
    (r#"externalId eq "701984""#, "B"),
    (r#"externalId eq "ab-1""#, ""),
    (r#"externalId eq "AB-1""#, "J"),
    (r#"id eq "2819c223""#, "B"),
    (r#"id eq "2819C223""#, ""),
    (r#"title eq "tour guide""#, "B"),
    (r#"userType eq "Employee""#, "B"),
    (r#"name.familyName eq "jensen""#, "B"),
    (r#"name.givenName eq "John""#, "J"),
    (r#"name.middleName eq "x""#, ""),
    (r#"meta.resourceType eq "User""#, "BJA"),
    (
        r#"meta.location eq "https://h/scim/v2/Users/2819c223""#,
        "B",
    ),
    (r#"meta.version eq "W/\"3\"""#, "BJA"),
    // ne
    (r#"userName ne "anon""#, "BJ"),
    (r#"title ne "Manager""#, "BA"),
    (r#"title ne "nothing""#, "BJA"),
    (r#"externalId ne "701984""#, "JA"),
    // co, sw, ew
    (r#"userName co "example""#, "BJ"),
    (r#"userName co "EXAMPLE""#, "BJ"),
    (r#"userName co "non""#, "A"),
    (r#"userName sw "j""#, "J"),
    (r#"userName sw "JS""#, "J"),
    (r#"userName ew ".com""#, "BJ"),
    (r#"userName ew "ON""#, "A"),
    (r#"title co "ou""#, "B"),
    (r#"title sw "Man""#, "J"),
    (r#"title ew "er""#, "J"),
    (r#"externalId sw "AB""#, "J"),
    (r#"externalId sw "ab""#, ""),
    (r#"name.familyName co "mit""#, "J"),
    (r#"userName co """#, "BJA"),
    // pr
    (r#"title pr"#, "BJ"),
    (r#"name pr"#, "BJ"),
    (r#"name.familyName pr"#, "BJ"),
    (r#"emails pr"#, "BJ"),
    (r#"phoneNumbers pr"#, "A"),
    (r#"nickName pr"#, ""),
    (r#"externalId pr"#, "BJ"),
    (r#"id pr"#, "BJA"),
    (r#"meta.created pr"#, "BJA"),
    (
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr"#,
        "BJ",
    ),
    (
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr"#,
        "B",
    ),
    (
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter pr"#,
        "J",
    ),
    (r#"x509Certificates pr"#, ""),
    // booleans
    (r#"active eq true"#, "BA"),
    (r#"active eq false"#, "J"),
    (r#"active ne true"#, "J"),
    (r#"active eq TRUE"#, "BA"),
    (r#"active pr"#, "BJA"),
    // null
    (r#"title eq null"#, "A"),
    (r#"title ne null"#, "BJ"),
    (r#"externalId eq null"#, "A"),
    // dates
    (r#"meta.created gt "2015-01-01T00:00:00Z""#, "JA"),
    (r#"meta.created ge "2020-06-01T00:00:00Z""#, "JA"),
    (r#"meta.created gt "2020-06-01T00:00:00Z""#, "A"),
    (r#"meta.created lt "2020-06-01T00:00:00Z""#, "B"),
    (r#"meta.created le "2020-06-01T00:00:00Z""#, "BJ"),
    (r#"meta.created eq "2010-01-23T04:56:22Z""#, "B"),
    (r#"meta.created eq "2010-01-23T05:56:22+01:00""#, "B"),
    (r#"meta.lastModified gt "2026-01-01T00:00:00Z""#, "J"),
    (r#"meta.lastModified ge "2026-01-01T00:00:00Z""#, "JA"),
    (r#"meta.lastModified lt "2012-01-01T00:00:00Z""#, "B"),
    (r#"meta.lastModified gt "2025-12-31T23:00:00-02:00""#, "J"),
    (r#"meta.created co "2010""#, "B"),
    // string ordering
    (r#"userName gt "c""#, "J"),
    (r#"userName lt "c""#, "BA"),
    (r#"userName ge "anon""#, "BJA"),
    (r#"userName le "anon""#, "A"),
    (r#"title gt "n""#, "B"),
    (r#"externalId gt "A""#, "J"),
    (r#"externalId lt "A""#, "B"),
    // multi-valued
    (r#"emails.value eq "babs@jensen.org""#, "B"),
    (r#"emails.value eq "BABS@JENSEN.ORG""#, "B"),
    (r#"emails.value co "example""#, "BJ"),
    (r#"emails.value ew ".org""#, "BJ"),
    (r#"emails.type eq "home""#, "B"),
    (r#"emails.type eq "work""#, "BJ"),
    (r#"emails.primary eq true"#, "B"),
    (r#"emails co "jensen""#, "B"),
    (r#"emails eq "john@example.org""#, "J"),
    // ne is the complement of eq: a user without emails has none equal.
    (r#"emails.value ne "john@example.org""#, "BA"),
    (r#"phoneNumbers.value sw "555""#, "A"),
    (r#"phoneNumbers.type eq "mobile""#, "A"),
    (r#"emails.display pr"#, ""),
    // complex value filters
    (r#"emails[type eq "work"]"#, "BJ"),
    (r#"emails[type eq "work" and value co "@example.com"]"#, "B"),
    (r#"emails[type eq "work" and value co "@example.org"]"#, "J"),
    (r#"emails[type eq "home" and value co "@example.com"]"#, ""),
    (r#"emails[type eq "home" or primary eq true]"#, "B"),
    (r#"emails[not (type eq "work")]"#, "B"),
    (r#"emails[value pr]"#, "BJ"),
    (r#"emails[primary eq true]"#, "B"),
    (r#"emails[TYPE eq "WORK"]"#, "BJ"),
    (r#"phoneNumbers[type eq "mobile" and value sw "555"]"#, "A"),
    (r#"emails[type eq "work"] and userName sw "b""#, "B"),
    (
        r#"emails[type eq "home"] or phoneNumbers[type eq "mobile"]"#,
        "BA",
    ),
    (r#"not (emails[type eq "work"])"#, "A"),
    // URN paths
    (
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
        "B",
    ),
    (
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales""#,
        "J",
    ),
    (
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department sw "Tour""#,
        "B",
    ),
    (
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
        "B",
    ),
    (
        r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:costCenter eq "4130""#,
        "J",
    ),
    (
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "anon""#,
        "A",
    ),
    (
        r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "Smith""#,
        "J",
    ),
    // logic and precedence
    (r#"userName sw "b" or userName sw "j""#, "BJ"),
    (r#"userName sw "b" and active eq true"#, "B"),
    (r#"userName sw "j" and active eq true"#, ""),
    (r#"title pr and active eq false"#, "J"),
    (
        r#"active eq true or title eq "Manager" and userName sw "x""#,
        "BA",
    ),
    (
        r#"(active eq true or title eq "Manager") and userName sw "b""#,
        "B",
    ),
    (
        r#"active eq true and (title pr or userName eq "anon")"#,
        "BA",
    ),
    (r#"not (active eq true)"#, "J"),
    (r#"not (title pr)"#, "A"),
    (r#"not (not (title pr))"#, "BJ"),
    (r#"not (userName sw "b" or userName sw "j")"#, "A"),
    (
        r#"userName sw "b" or userName sw "j" or userName eq "anon""#,
        "BJA",
    ),
    (r#"userName sw "b" and title pr and active eq true"#, "B"),
    (r#"((userName sw "b"))"#, "B"),
    (r#"(userName sw "b") or (userName sw "a")"#, "BA"),
    (r#"title pr and not (title eq "Manager")"#, "B"),
    (r#"  userName   eq   "anon"  "#, "A"),
    (r#"userName eq "a\"b""#, ""),
    (r#"userName eq "\u0061non""#, "A"),
    (r#"not (emails pr) and active eq true"#, "A"),
    (
        r#"meta.created gt "2011-01-01T00:00:00Z" and meta.created lt "2021-01-01T00:00:00Z""#,
        "J",
    ),
    (r#"name.familyName pr or phoneNumbers pr"#, "BJA"),
    // malformed or unknown → invalidFilter
    (r#"userName eq"#, "!position 11"),
    (r#"userName"#, "!position 8"),
    (r#"eq "x""#, "!operator"),
    (r#"userName xx "x""#, "!unknown operator 'xx' at position 9"),
    (
        r#"userName eq "x"#,
        "!unterminated string starting at position 12",
    ),
    // An unquoted value is a string (Entra ID sends `externalId eq jyoung`).
    (r#"userName eq anon"#, "A"),
    (r#"(userName eq "x""#, "!expected ')'"),
    (r#"userName eq "x")"#, "!position 15"),
    (r#"userName eq "x" and"#, "!position 19"),
    (r#"userName eq "x" or or title pr"#, "!position 19"),
    (
        r#"and title pr"#,
        "!expected an attribute path at position 0",
    ),
    (r#"nosuch eq "x""#, "!unknown attribute 'nosuch'"),
    (r#"name.nosuch eq "x""#, "!unknown attribute"),
    (r#"urn:x:y:z eq "1""#, "!unknown attribute"),
    (
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nosuch pr"#,
        "!unknown attribute",
    ),
    (r#"emails[type eq "work""#, "!expected ']'"),
    (r#"emails[nosuch eq "x"]"#, "!unknown attribute"),
    // A value filter then one sub-attribute compared (Entra ID).
    (r#"emails[type eq "work"].value eq "john@example.org""#, "J"),
    (r#"emails[type eq "home"].value co "jensen""#, "B"),
    (
        r#"emails[type eq "work"].nosuch eq "x""#,
        "!unknown attribute",
    ),
    (r#"title[value eq "x"]"#, "!complex"),
    (r#"emails[type[value eq "x"]]"#, "!nested"),
    (r#"name eq "x""#, "!sub-attribute"),
    (r#"active gt true"#, "!ordering"),
    (r#"active lt false"#, "!ordering"),
    (r#"title co 5"#, "!string"),
    (r#"title sw true"#, "!string"),
    (r#"meta.created gt "yesterday""#, "!date-time"),
    (r#"meta.created eq 5"#, "!date-time"),
    (r#"not title pr"#, "!expected '(' after 'not' at position 4"),
    (r#""#, "!empty"),
    (r#"   "#, "!empty"),
    (
        r#"userName eq "x" # comment"#,
        "!unexpected character at position 16",
    ),
    (r#"userName eq 'x'"#, "!position 12"),
    (r#"user name eq "x""#, "!position 5"),
    // Unquoted values: numbers compare as text with string attributes; ids
    // and emails need no quotes either.
    (r#"userName eq 1.2.3"#, ""),
    (r#"externalId eq 701984"#, "B"),
    (r#"externalId ne 701984"#, "JA"),
    (r#"id eq 2819c223"#, "B"),
    (r#"userName eq bjensen@example.com"#, "B"),
    (r#"emails.value eq babs@jensen.org"#, "B"),
    (r#"externalId eq AB-1 or externalId eq 701984"#, "BJ"),
    (r#"()"#, "!position 1"),
];

fn expected_keys(s: &str) -> Vec<char> {
    let mut v: Vec<char> = s.chars().collect();
    v.sort_unstable();
    v
}

#[test]
fn filter_table_has_at_least_150_cases() {
    assert!(CASES.len() >= 150, "{} cases", CASES.len());
}

#[test]
fn every_filter_case_parses_and_evaluates_as_tabled() {
    let users = users();
    let schemas = Schemas::builtin();
    let user_type = schemas.resource_type(Kind::User);
    let mut failures = Vec::new();
    for (filter, want) in CASES {
        match (Filter::parse(filter, user_type), want.strip_prefix('!')) {
            (Ok(f), None) => {
                let mut got: Vec<char> = users
                    .iter()
                    .filter(|(_, u)| f.matches(u, user_type))
                    .map(|(k, _)| *k)
                    .collect();
                got.sort_unstable();
                if got != expected_keys(want) {
                    failures.push(format!("{filter}: matched {got:?}, want {want:?}"));
                }
                // Written back and parsed again, it is the same filter.
                match Filter::parse(&f.to_string(), user_type) {
                    Ok(again) if again == f => {}
                    other => failures.push(format!(
                        "{filter}: Display gave {f} which parsed to {other:?}"
                    )),
                }
            }
            (Ok(f), Some(_)) => failures.push(format!("{filter}: parsed as {f}, want an error")),
            (Err(e), Some(needle)) => {
                if e.scim_type != Some(scim_lambda::scim::ScimType::InvalidFilter)
                    || e.status != 400
                    || !e.detail.contains(needle)
                {
                    failures.push(format!(
                        "{filter}: error {e}, want invalidFilter mentioning {needle:?}"
                    ));
                }
            }
            (Err(e), None) => failures.push(format!("{filter}: refused ({e}), want {want:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}
