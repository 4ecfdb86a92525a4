//! The whole router: random requests on every route, the token endpoint
//! included, with random Bearer and Basic credentials.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use scim_lambda::tenant::TenantId;

use super::*;

// ---- 4. the router -------------------------------------------------------------

/// Bytes that print as a byte string when a failing case is shown.
#[derive(Clone)]
struct Raw(Vec<u8>);

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

#[derive(Debug, Clone)]
enum FuzzBody {
    Json(String),
    Bytes(Raw),
    /// A user of exactly this many bytes of JSON, made when sent.
    Large(usize),
}

/// Stands for the id of a user (or group) that exists, or existed, when the
/// case is sent: the seeded ones and those the fuzzer created.
const LIVE_USER: &str = "{user}";
const LIVE_GROUP: &str = "{group}";

#[derive(Debug, Clone)]
struct HttpCase {
    method: String,
    uri: String,
    headers: Vec<(&'static str, Raw)>,
    body: Option<FuzzBody>,
    /// Which live id replaces `{user}` and `{group}`.
    pick: prop::sample::Index,
}

/// Ids of the resources created so far, by resource type.
#[derive(Default)]
struct Live {
    users: Mutex<Vec<String>>,
    groups: Mutex<Vec<String>>,
}

impl Live {
    fn add(&self, endpoint: &str, id: String) {
        let list = if endpoint.ends_with("/Groups") {
            &self.groups
        } else {
            &self.users
        };
        list.lock().unwrap_or_else(PoisonError::into_inner).push(id);
    }

    /// `text` with the live-id markers replaced.
    fn resolve(&self, text: &str, pick: &prop::sample::Index) -> String {
        let one = |list: &Mutex<Vec<String>>| {
            let list = list.lock().unwrap_or_else(PoisonError::into_inner);
            if list.is_empty() {
                "no-such-id".to_string()
            } else {
                list[pick.index(list.len())].clone()
            }
        };
        let mut out = text.to_string();
        if out.contains(LIVE_USER) {
            out = out.replace(LIVE_USER, &one(&self.users));
        }
        if out.contains(LIVE_GROUP) {
            out = out.replace(LIVE_GROUP, &one(&self.groups));
        }
        out
    }
}

/// Percent-encodes every byte but the unreserved ones.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
                char::from(*b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Percent-encodes only what a URI's query cannot hold as it is (controls,
/// space, `"`, `#`, `<`, `>`); `%`, `+`, `&`, `=` and non-ASCII stay raw.
fn minimal_encode(s: &str, space: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' => space.to_string(),
            c if c.is_ascii_control() || matches!(c, '"' | '#' | '<' | '>') => {
                format!("%{:02X}", u32::from(c))
            }
            c => c.to_string(),
        })
        .collect()
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => select(&["GET", "POST", "PUT", "PATCH", "DELETE"][..]).prop_map(str::to_string),
        2 => select(&["HEAD", "OPTIONS", "TRACE", "CONNECT", "get", "Patch"][..]).prop_map(str::to_string),
        1 => "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}",
    ]
}

/// A path segment: a live id, a plausible one, any text percent-encoded,
/// or raw oddities. Never bytes that decode to invalid UTF-8: axum refuses
/// those in `{id}` with a plain-text 400 of its own (a known gap).
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(&[LIVE_USER, LIVE_GROUP][..]).prop_map(str::to_string),
        2 => select(&[
            "00000000-0000-0000-0000-000000000000",
            "User",
            "Group",
            "Users",
            ".search",
            USER_SCHEMA,
            ENTERPRISE_USER_SCHEMA,
            "..",
            ".",
            "%2F",
            "%00",
            "%",
            "%zz",
            "a%20b",
            "%E2%82%AC",
        ][..])
        .prop_map(str::to_string),
        3 => any_text().prop_map(|s| percent_encode(s.as_bytes())),
    ]
}

/// Any path: under the base path or not, known endpoints or not.
fn any_path() -> impl Strategy<Value = String> {
    let fixed = select(
        &[
            "",
            "/",
            "/Users",
            "/Groups",
            "/Users/",
            "/Users/.search",
            "/Groups/.search",
            "/.search",
            "/Schemas",
            "/ResourceTypes",
            "/ResourceTypes/User",
            "/ResourceTypes/Group",
            "/ServiceProviderConfig",
            "/Me",
            "/Bulk",
            "/users",
        ][..],
    )
    .prop_map(str::to_string);
    let with_segment = (
        select(
            &[
                "/Users/",
                "/Groups/",
                "/Schemas/",
                "/ResourceTypes/",
                "/",
                "/Users/x/",
            ][..],
        ),
        segment(),
    )
        .prop_map(|(p, s)| format!("{p}{s}"));
    let segments = vec(segment(), 1..4).prop_map(|s| format!("/{}", s.join("/")));
    let under_base = prop_oneof![3 => fixed, 4 => with_segment, 1 => segments]
        .prop_map(|p| format!("/scim/v2{p}"));
    prop_oneof![
        12 => under_base,
        1 => select(&["/", "/scim", "/scim/v1/Users", "/scim/v2/../v2/Users", "//scim/v2/Users"][..]).prop_map(str::to_string),
    ]
}

/// A query parameter's value: shaped for some name, a filter, or anything.
fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => grammar_filter(),
        2 => select(&[
            "", "0", "1", "-1", "2", "10", "1001", "99999999999999999999", "abc", " 5 ",
            "ascending", "descending", "DESCENDING", "sideways",
            "userName", "displayName", "emails.value", "meta.lastModified", "nosuch",
            "userName,emails", "members", "groups", "name.givenName,id", ",,",
            ENTERPRISE_USER_SCHEMA,
        ][..])
        .prop_map(str::to_string),
        1 => any_text(),
        1 => "[A-Za-z0-9_-]{0,60}",
    ]
}

/// A known parameter with a value of about the right shape.
fn known_param() -> impl Strategy<Value = (String, String)> {
    let pick = |name: &'static str, values: &'static [&'static str]| {
        select(values).prop_map(move |v| (name.to_string(), v.to_string()))
    };
    prop_oneof![
        pick(
            "filter",
            &[
                r#"userName eq "seed-a""#,
                r#"displayName eq "seeds""#,
                r#"emails.value co "@""#,
                r#"emails[type eq "work"]"#,
                r#"meta.lastModified gt "2020-01-01T00:00:00Z""#,
                r#"members.value eq "x" or displayName sw "s""#,
                "externalId pr",
                r#"userName sw "seed" and not (active eq false)"#,
            ]
        ),
        grammar_filter().prop_map(|f| ("filter".to_string(), f)),
        pick(
            "attributes",
            &[
                "userName",
                "displayName,members",
                "emails.value,name",
                "groups",
                "nosuch",
                ""
            ]
        ),
        pick(
            "excludedAttributes",
            &[
                "members",
                "groups",
                "emails",
                "meta",
                "id",
                "name.givenName"
            ]
        ),
        pick(
            "count",
            &[
                "0",
                "1",
                "2",
                "10",
                "-1",
                "1001",
                "99999999999999999999",
                "x"
            ]
        ),
        pick(
            "startIndex",
            &["1", "2", "0", "-5", "99999999999999999999", "3"]
        ),
        pick("cursor", &["", "", "abc", "MXx4fDF8Mg"]),
        pick(
            "sortBy",
            &[
                "userName",
                "displayName",
                "meta.created",
                "emails.value",
                "nosuch",
                ""
            ]
        ),
        pick("sortOrder", &["ascending", "descending", "sideways"]),
    ]
}

/// A query string: known parameters with plausible values, parameters by
/// their names in any case (and unknown ones) with any values; encoded as a
/// form, with `%20`, or raw.
fn query() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        8 => word_in_any_case(&[
            "filter", "attributes", "excludedAttributes", "count", "startIndex", "cursor",
            "sortBy", "sortOrder",
        ]),
        1 => any_text(),
    ];
    let param = prop_oneof![3 => known_param(), 1 => (name, query_value())];
    (vec(param, 0..3), 0u8..4).prop_map(|(params, style)| {
        if params.is_empty() {
            return String::new();
        }
        let q = match style {
            0 => form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&params)
                .finish(),
            1 => params
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        percent_encode(k.as_bytes()),
                        percent_encode(v.as_bytes())
                    )
                })
                .collect::<Vec<_>>()
                .join("&"),
            // As they are, but for what a URI cannot hold, with spaces as
            // `%20` (so a `+` is literal) or as `+`.
            style => params
                .iter()
                .map(|(k, v)| {
                    let space = if style == 2 { "%20" } else { "+" };
                    format!("{}={}", minimal_encode(k, space), minimal_encode(v, space))
                })
                .collect::<Vec<_>>()
                .join("&"),
        };
        format!("?{q}")
    })
}

fn header_value(shaped: &'static [&'static str]) -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        4 => Just(None),
        4 => select(shaped).prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => vec(any::<u8>(), 0..40).prop_map(Some),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(&'static str, Raw)>> {
    let auth = prop_oneof![
        40 => Just(Some(format!("Bearer {TOKEN}").into_bytes())),
        1 => Just(None),
        1 => select(&["Bearer wrong", "Basic dGVzdA==", "Bearer", "bearer test-token-0123456789", "Bearer test-token-0123456789 "][..])
            .prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => vec(any::<u8>(), 0..40).prop_map(Some),
        4 => basic_header().prop_map(Some),
    ];
    let content_type = header_value(&[
        "application/scim+json",
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/scim+json; charset=latin1",
    ]);
    let if_match = header_value(&[
        "*",
        "W/\"1\"",
        "W/\"2\"",
        "\"1\"",
        "W/\"99999999999999999999\"",
        "W/",
        "",
        "W/\"1\", W/\"2\"",
    ]);
    let if_none_match = header_value(&["*", "W/\"1\"", "W/\"2\"", "garbage"]);
    let host = prop_oneof![
        8 => Just(Some(b"scim.example.test".to_vec())),
        1 => header_value(&["", "evil.example/<script>", "h:99999", "[::1]:8080", "a,b"]),
    ];
    let proto = header_value(&["https", "http", "ftp", "https, http"]);
    (auth, content_type, if_match, if_none_match, host, proto).prop_map(
        |(auth, ct, im, inm, host, proto)| {
            [
                ("authorization", auth),
                ("content-type", ct),
                ("if-match", im),
                ("if-none-match", inm),
                ("host", host),
                ("x-forwarded-proto", proto),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, Raw(v))))
            .collect()
        },
    )
}

/// A SearchRequest body with random members.
fn search_body() -> impl Strategy<Value = Value> {
    let member = (
        word_in_any_case(&[
            "schemas",
            "filter",
            "attributes",
            "excludedAttributes",
            "count",
            "startIndex",
            "cursor",
            "sortBy",
            "sortOrder",
        ]),
        prop_oneof![
            3 => query_value().prop_map(Value::String),
            1 => json_leaf(),
            1 => Just(json!([SEARCH_REQUEST_SCHEMA])),
            1 => Just(json!(["userName", "emails"])),
        ],
    );
    vec(member, 0..5).prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Any body: JSON of every kind, bytes, text.
fn any_body() -> impl Strategy<Value = Option<FuzzBody>> {
    let json = prop_oneof![
        3 => resource_body(),
        3 => patch_body(),
        2 => search_body(),
        1 => json_value(),
    ];
    prop_oneof![
        2 => Just(None),
        6 => json.prop_map(|v| Some(FuzzBody::Json(v.to_string()))),
        1 => vec(any::<u8>(), 0..256).prop_map(|b| Some(FuzzBody::Bytes(Raw(b)))),
        1 => any_text().prop_map(|s| Some(FuzzBody::Json(s))),
        // Around the 1 MiB body limit.
        1 => select(&[1 << 20, (1 << 20) + 1, 3 << 20][..]).prop_map(|n| Some(FuzzBody::Large(n))),
    ]
}

fn json_body(v: impl Strategy<Value = Value>) -> impl Strategy<Value = Option<FuzzBody>> {
    v.prop_map(|v| Some(FuzzBody::Json(v.to_string())))
}

/// A user body, usually with a fresh `userName` so that creation can work.
fn user_body() -> impl Strategy<Value = Option<FuzzBody>> {
    json_body(
        (resource_body(), any::<u32>(), any::<bool>()).prop_map(|(mut body, n, fresh)| {
            if let (Value::Object(o), true) = (&mut body, fresh) {
                o.insert("userName".into(), Value::from(format!("user-{n}")));
            }
            body
        }),
    )
}

/// A group body, usually with a fresh `displayName` and live members.
fn group_body() -> impl Strategy<Value = Option<FuzzBody>> {
    let members = vec(
        select(&[LIVE_USER, LIVE_GROUP, "no-such-member"][..]).prop_map(|v| json!({"value": v})),
        0..3,
    );
    json_body(prop_oneof![
        3 => (any::<u32>(), members).prop_map(|(n, m)| json!({
            "schemas": [GROUP_SCHEMA], "displayName": format!("group-{n}"), "members": m
        })),
        1 => resource_body(),
    ])
}

/// A PatchOp for a group: membership changes, or any PatchOp.
fn group_patch_body() -> impl Strategy<Value = Option<FuzzBody>> {
    let member = select(&[LIVE_USER, LIVE_GROUP, "no-such-member"][..]);
    let op = prop_oneof![
        (word_in_any_case(&["add", "replace"]), member.clone()).prop_map(|(op, m)| json!(
            {"op": op, "path": "members", "value": [{"value": m}]}
        )),
        member.clone().prop_map(|m| json!(
            {"op": "remove", "path": format!("members[value eq \"{m}\"]")}
        )),
        member.prop_map(|m| json!(
            {"op": "Remove", "path": "members", "value": [{"value": m}]}
        )),
        any::<u32>().prop_map(|n| json!(
            {"op": "replace", "value": {"displayName": format!("renamed-{n}")}}
        )),
    ];
    json_body(prop_oneof![
        2 => vec(op, 1..4).prop_map(|ops| json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})),
        1 => patch_body(),
    ])
}

// ---- the token endpoint ------------------------------------------------------

/// What a client id, secret or username is made of: plausible ones, the
/// characters Basic and forms treat specially, empty, long, anything.
fn credential_part() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(&[
            "c1", "s1", "client", "test", "test-token-0123456789", "", ":", "a:b", "%3A",
            "c%201", "a+b", "\0", "é😀", " ", "Basic",
        ][..])
        .prop_map(str::to_string),
        1 => "[a-z]{1000,20000}",
        1 => any_text(),
    ]
}

/// An `Authorization: Basic` value: base64 of `id:secret`, base64 of any
/// bytes, a value that is no base64, or the scheme alone; sometimes huge.
fn basic_header() -> impl Strategy<Value = Vec<u8>> {
    let scheme = select(&["Basic ", "basic ", "BASIC ", "Basic  "][..]);
    let pair = (
        credential_part(),
        credential_part(),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(id, secret, colon)| {
            let text = if colon {
                format!("{id}:{secret}")
            } else {
                format!("{id}{secret}")
            };
            BASE64.encode(text)
        });
    let payload = prop_oneof![
        10 => pair,
        2 => vec(any::<u8>(), 0..64).prop_map(|b| BASE64.encode(b)),
        1 => select(&["Og==", "Og", "Og ==", "=", "!!!", "YzE6czE", "YzE6czE=="][..]).prop_map(str::to_string),
        1 => "[ -~]{0,64}",
        1 => select(&[100_000usize, 16_385][..]).prop_map(|n| "A".repeat(n)),
    ];
    prop_oneof![
        12 => (scheme, payload).prop_map(|(s, p)| format!("{s}{p}").into_bytes()),
        1 => Just(b"Basic".to_vec()),
    ]
}

/// The parameters a token request names (RFC 6749 §4.4, and of the grant
/// types not offered), and values for them.
const TOKEN_PARAMS: &[&str] = &[
    "grant_type",
    "client_id",
    "client_secret",
    "scope",
    "username",
    "password",
    "code",
    "redirect_uri",
    "refresh_token",
    "assertion",
    "",
];

const TOKEN_VALUES: &[&str] = &[
    "client_credentials",
    "client_credentials",
    "CLIENT_CREDENTIALS",
    "password",
    "authorization_code",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "read-write",
    "read-only",
    "read-only read-write",
    "admin",
    "c1",
    "s1",
    "",
    "\0",
    "%00",
    "%ZZ",
    "%",
    "+",
    "=",
    "&",
    "é😀",
    "Bearer test-token-0123456789",
];

/// A token request's fields: each of the four a client sends at most once,
/// mostly with a value shaped for it, and a few more of any names (so
/// repeats too, from so small an alphabet).
fn token_fields() -> impl Strategy<Value = Vec<(String, String)>> {
    let value = || {
        prop_oneof![
            6 => select(TOKEN_VALUES).prop_map(str::to_string),
            1 => credential_part(),
        ]
    };
    // Form clients less often: with a Basic one, they mostly differ from it.
    let shaped = |name: &'static str, p: f64, own: BoxedStrategy<String>| {
        prop::option::weighted(p, prop_oneof![4 => own, 1 => value()])
            .prop_map(move |v| v.map(|v| (name.to_string(), v)))
    };
    let words = |w: &'static [&'static str]| select(w).prop_map(str::to_string).boxed();
    let grant = words(&[
        "client_credentials",
        "client_credentials",
        "client_credentials",
        "password",
        "authorization_code",
        "CLIENT_CREDENTIALS",
        "",
    ]);
    let scope = words(&[
        "read-write",
        "read-only",
        " read-only ",
        "read-only read-write",
        "READ-ONLY",
        "admin",
        "",
    ]);
    let name = prop_oneof![8 => select(TOKEN_PARAMS).prop_map(str::to_string), 1 => any_text()];
    let more = prop_oneof![3 => Just(vec![]), 1 => vec((name, value()), 1..4)];
    (
        shaped("grant_type", 0.6, grant),
        shaped("client_id", 0.3, credential_part().boxed()),
        shaped("client_secret", 0.3, credential_part().boxed()),
        shaped("scope", 0.5, scope),
        more,
    )
        .prop_map(|(g, i, s, sc, more)| [g, i, s, sc].into_iter().flatten().chain(more).collect())
}

/// A token request's body: a form of [`token_fields`], encoded as a form
/// should be, escaped throughout, or raw; sometimes with any bytes after it,
/// or padded to around the 16 KiB limit; or JSON, or nothing.
fn token_body() -> impl Strategy<Value = Option<FuzzBody>> {
    let form = (token_fields(), 0u8..3).prop_map(|(pairs, style)| match style {
        0 => form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish()
            .into_bytes(),
        1 => pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    percent_encode(k.as_bytes()),
                    percent_encode(v.as_bytes())
                )
            })
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes(),
        _ => pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes(),
    });
    let tail = prop_oneof![
        12 => Just(Vec::new()),
        1 => vec(any::<u8>(), 0..64),
        1 => select(&[16 * 1024 - 64, 16 * 1024, 16 * 1024 + 1, 1 << 20][..])
            .prop_map(|n| format!("&pad={}", "a".repeat(n)).into_bytes()),
    ];
    prop_oneof![
        10 => (form, tail).prop_map(|(mut f, t)| {
            f.extend(t);
            Some(FuzzBody::Bytes(Raw(f)))
        }),
        1 => Just(None),
        1 => json_body(json_value()),
        1 => select(&[16 * 1024, 16 * 1024 + 1][..]).prop_map(|n| Some(FuzzBody::Large(n))),
    ]
}

/// A token request's headers: mostly a form's media type and a Basic
/// client, sometimes none, a Bearer token, both twice, or any bytes.
fn token_headers() -> impl Strategy<Value = Vec<(&'static str, Raw)>> {
    let form = b"application/x-www-form-urlencoded".to_vec();
    let content_type = prop_oneof![
        12 => Just(vec![form.clone()]),
        1 => Just(vec![form.clone(), form]),
        4 => header_value(&[
            "application/x-www-form-urlencoded; charset=UTF-8",
            "Application/X-WWW-Form-URLEncoded",
            "application/json",
            "application/scim+json",
            "multipart/form-data; boundary=x",
            "text/plain",
            "",
            "application/x-www-form-urlencodedx",
        ])
        .prop_map(|v| v.into_iter().collect()),
    ];
    let authorization = prop_oneof![
        3 => Just(vec![]),
        8 => basic_header().prop_map(|b| vec![b]),
        1 => (basic_header(), basic_header()).prop_map(|(a, b)| vec![a, b]),
        1 => Just(vec![format!("Bearer {TOKEN}").into_bytes()]),
        1 => vec(any::<u8>(), 0..40).prop_map(|b| vec![b]),
    ];
    (content_type, authorization).prop_map(|(ct, auth)| {
        let mut headers = vec![("host", Raw(b"scim.example.test".to_vec()))];
        headers.extend(ct.into_iter().map(|v| ("content-type", Raw(v))));
        headers.extend(auth.into_iter().map(|v| ("authorization", Raw(v))));
        headers
    })
}

/// A request to the token endpoint of the single-tenant directory, of a
/// tenant that has no directory, or of an invalid tenant (a SCIM 404); by
/// POST mostly, sometimes by a method it does not take (a SCIM 405).
fn token_case() -> impl Strategy<Value = HttpCase> {
    let path = prop_oneof![
        8 => Just("/scim/v2/oauth2/token"),
        2 => Just("/scim/v2/acme/oauth2/token"),
        1 => select(&[
            "/scim/v2/Bad_Tenant/oauth2/token",
            "/scim/v2/users/oauth2/token",
            "/scim/v2/oauth2/token/",
        ][..]),
    ];
    let method = prop_oneof![
        12 => Just("POST"),
        1 => select(&["GET", "PUT", "HEAD", "DELETE", "post"][..]),
    ];
    let query = prop_oneof![
        6 => Just(""),
        1 => Just("?grant_type=client_credentials&client_id=c1&client_secret=s1"),
    ];
    (
        method,
        path,
        query,
        token_headers(),
        token_body(),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(method, path, query, headers, body, pick)| HttpCase {
            method: method.to_string(),
            uri: format!("{path}{query}"),
            headers,
            body,
            pick,
        })
}

/// Whether a request reaches the token endpoint's own handler (a POST to
/// `<base>/oauth2/token` of the single-tenant directory or of a valid
/// tenant), which answers in OAuth's terms rather than SCIM's.
fn at_token_endpoint(method: &str, path: &str) -> bool {
    let Some(rest) = path
        .strip_prefix("/scim/v2")
        .and_then(|p| p.strip_suffix("/oauth2/token"))
    else {
        return false;
    };
    method == "POST"
        && (rest.is_empty()
            || rest
                .strip_prefix('/')
                .is_some_and(|t| TenantId::parse(t).is_ok()))
}

/// The token endpoint's answer in a harness with no OAuth client: never a
/// token, always an RFC 6749 §5.2 error of the right status, never cached,
/// and a Basic challenge on 401.
fn token_answer_is_an_oauth_error(a: &Answer) -> Result<String, TestCaseError> {
    let text = String::from_utf8_lossy(&a.body);
    let header = |name: &str| a.headers.get(name).and_then(|v| v.to_str().ok());
    prop_assert_ne!(
        a.status,
        200,
        "a token with no client to give it to: {}",
        text
    );
    prop_assert_eq!(
        header("cache-control"),
        Some("no-store"),
        "{} {}",
        a.status,
        text
    );
    prop_assert_eq!(header("pragma"), Some("no-cache"), "{} {}", a.status, text);
    prop_assert_eq!(
        header("content-type"),
        Some("application/json;charset=UTF-8"),
        "{} {}",
        a.status,
        text
    );
    let body: Value = serde_json::from_slice(&a.body)
        .map_err(|e| TestCaseError::fail(format!("{} not JSON ({e}): {text}", a.status)))?;
    let error = body["error"].as_str().unwrap_or_default().to_string();
    prop_assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "no error_description: {}",
        text
    );
    let fits = match a.status {
        400 => {
            ["invalid_request", "unsupported_grant_type", "invalid_scope"].contains(&error.as_str())
        }
        401 => error == "invalid_client",
        413 => error == "invalid_request",
        _ => false,
    };
    prop_assert!(fits, "{} with error {:?}: {}", a.status, error, text);
    let challenge = (a.status == 401).then_some("Basic realm=\"scim\"");
    prop_assert_eq!(
        header("www-authenticate"),
        challenge,
        "{} {}",
        a.status,
        text
    );
    Ok(error)
}

/// Whether a request presents no credential that opens the single-tenant
/// directory (no Authorization header, or only Basic ones: it has no Basic
/// pairs), so that nothing it asks may succeed.
fn opens_nothing(case: &HttpCase) -> bool {
    case.headers
        .iter()
        .filter(|(name, _)| *name == "authorization")
        .all(|(_, v)| v.0.len() >= 5 && v.0[..5].eq_ignore_ascii_case(b"basic"))
}

/// A SCIM request to a real endpoint with the method and the kind of body
/// it takes, or any method, path and body.
fn scim_case() -> impl Strategy<Value = HttpCase> {
    let to = |method: &'static str, path: &'static str| {
        (Just(method.to_string()), Just(path.to_string()))
    };
    let request = prop_oneof![
        2 => (to("GET", "/scim/v2/Users"), Just(None)),
        2 => (to("GET", "/scim/v2/Groups"), Just(None)),
        3 => (to("POST", "/scim/v2/Users"), user_body()),
        2 => (to("POST", "/scim/v2/Groups"), group_body()),
        1 => (to("POST", "/scim/v2/Users/.search"), json_body(search_body())),
        1 => (to("POST", "/scim/v2/Groups/.search"), json_body(search_body())),
        1 => (to("POST", "/scim/v2/.search"), json_body(search_body())),
        2 => (to("GET", "/scim/v2/Users/{user}"), Just(None)),
        2 => (to("GET", "/scim/v2/Groups/{group}"), Just(None)),
        2 => (to("PUT", "/scim/v2/Users/{user}"), user_body()),
        1 => (to("PUT", "/scim/v2/Groups/{group}"), group_body()),
        3 => (to("PATCH", "/scim/v2/Users/{user}"), json_body(patch_body())),
        3 => (to("PATCH", "/scim/v2/Groups/{group}"), group_patch_body()),
        1 => (to("DELETE", "/scim/v2/Users/{user}"), Just(None)),
        1 => (to("DELETE", "/scim/v2/Groups/{group}"), Just(None)),
        1 => (
            (
                Just("GET".to_string()),
                select(&[
                    "/scim/v2/Schemas",
                    "/scim/v2/ResourceTypes",
                    "/scim/v2/ResourceTypes/User",
                    "/scim/v2/ServiceProviderConfig",
                    "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
                ][..])
                .prop_map(str::to_string)
            ),
            Just(None)
        ),
        6 => ((method(), any_path()), any_body()),
    ];
    (request, query(), headers(), any::<prop::sample::Index>()).prop_map(
        |(((method, path), body), query, headers, pick)| HttpCase {
            method,
            uri: format!("{path}{query}"),
            headers,
            body,
            pick,
        },
    )
}

/// Any request: to a SCIM endpoint, or to the token endpoint.
fn http_case() -> impl Strategy<Value = HttpCase> {
    prop_oneof![4 => scim_case(), 1 => token_case()]
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// Sends a request as it is (the harness's `send_with` insists on JSON
/// answers); `None` when the case does not make an HTTP request at all.
async fn send_raw(h: &Harness, live: &Live, case: &HttpCase) -> Option<Answer> {
    let method = Method::from_bytes(case.method.as_bytes()).ok()?;
    let uri = live.resolve(&case.uri, &case.pick);
    let mut req = Request::builder().method(method).uri(uri.as_str());
    for (name, value) in &case.headers {
        if let Ok(v) = HeaderValue::from_bytes(&value.0) {
            req = req.header(*name, v);
        }
    }
    let body = match &case.body {
        None => Body::empty(),
        Some(FuzzBody::Json(s)) => Body::from(live.resolve(s, &case.pick)),
        Some(FuzzBody::Bytes(b)) => Body::from(b.0.clone()),
        Some(FuzzBody::Large(n)) => {
            let frame = r#"{"userName":""}"#;
            let name = "x".repeat(n.saturating_sub(frame.len()));
            Body::from(format!(r#"{{"userName":"{name}"}}"#))
        }
    };
    let req = req.body(body).ok()?;
    let (status, headers, body) = h.exchange(req).await;
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Some(Answer {
        status,
        headers,
        content_type,
        body,
    })
}

/// A few resources to aim ids at.
async fn seed(h: &Harness, live: &Live) {
    for (path, body) in [
        (
            "/scim/v2/Users",
            json!({"userName": "seed-a", "emails": [{"value": "a@x.example", "type": "work"}]}),
        ),
        (
            "/scim/v2/Users",
            json!({"userName": "seed-b", ENTERPRISE_USER_SCHEMA: {"department": "R&D"}}),
        ),
        ("/scim/v2/Groups", json!({"displayName": "seeds"})),
        ("/scim/v2/Groups", json!({"displayName": "more seeds"})),
    ] {
        let r = h.send("POST", path, Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{}", r.body));
        live.add(path, id.to_string());
    }
}

#[test]
fn router_never_answers_5xx_and_every_4xx_is_a_scim_or_oauth_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let h = rt.block_on(Harness::embedded());
    let live = Live::default();
    rt.block_on(seed(&h, &live));
    let statuses: [AtomicUsize; 6] = Default::default();
    let unsent = AtomicUsize::new(0);
    let token_errors: Mutex<BTreeMap<(u16, String), usize>> = Mutex::default();
    fuzz(
        "router_never_answers_5xx_and_every_4xx_is_a_scim_or_oauth_error",
        1000,
        http_case,
        |case| {
            let Some(a) = rt.block_on(send_raw(&h, &live, &case)) else {
                unsent.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            };
            statuses[usize::from(a.status / 100).min(5)].fetch_add(1, Ordering::Relaxed);
            let text = String::from_utf8_lossy(&a.body);
            if a.status == 201 && case.method == "POST" {
                if let Some(id) = serde_json::from_slice::<Value>(&a.body)
                    .ok()
                    .and_then(|b| b["id"].as_str().map(str::to_string))
                {
                    live.add(case.uri.split('?').next().unwrap_or(""), id);
                }
            }
            // 501 is the one 5xx allowed: /Me is not offered.
            let path = case.uri.split('?').next().unwrap_or("");
            let not_offered = path.starts_with("/scim/v2/Me");
            prop_assert!(
                a.status < 500 || (a.status == 501 && not_offered),
                "{} {}",
                a.status,
                text
            );
            if opens_nothing(&case) {
                prop_assert!(a.status >= 400, "no credential, yet {} {}", a.status, text);
            }
            if at_token_endpoint(&case.method, path) {
                let error = token_answer_is_an_oauth_error(&a)?;
                *token_errors
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry((a.status, error))
                    .or_default() += 1;
            } else if a.status >= 400 {
                prop_assert_eq!(
                    a.content_type.as_deref(),
                    Some("application/scim+json"),
                    "{} {}",
                    a.status,
                    text
                );
                // A HEAD answer has no body (RFC 9110 §9.3.2).
                if case.method != "HEAD" {
                    let body: Value = serde_json::from_slice(&a.body).map_err(|e| {
                        TestCaseError::fail(format!("{} not JSON ({e}): {text}", a.status))
                    })?;
                    prop_assert_eq!(&body["schemas"][0], ERROR_SCHEMA, "{}", text);
                    prop_assert_eq!(&body["status"], &a.status.to_string(), "{}", text);
                }
            }
            Ok(())
        },
    );
    eprintln!(
        "router answers: {} 2xx, {} 3xx, {} 4xx, {} 5xx; {} cases not sendable",
        statuses[2].load(Ordering::Relaxed),
        statuses[3].load(Ordering::Relaxed),
        statuses[4].load(Ordering::Relaxed),
        statuses[5].load(Ordering::Relaxed),
        unsent.load(Ordering::Relaxed)
    );
    eprintln!(
        "token endpoint answers: {:?}",
        token_errors.lock().unwrap_or_else(PoisonError::into_inner)
    );
}
