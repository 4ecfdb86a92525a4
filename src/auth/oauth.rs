//! The token endpoint's protocol, RFC 6749 §4.4 (client credentials): the
//! request's form read strictly, the client authenticated by HTTP Basic
//! (`client_secret_basic`) or by the form (`client_secret_post`), a missing
//! `grant_type` taken as `client_credentials` (the ConnId connector sends
//! none), the scope asked for; the answer, and the errors of §5.2.
//!
//! Lenient where identity providers are known to differ from the RFC:
//! Entra ID can send the client in the header and the form at once (taken
//! when both name the same client); HTTP clients commonly put the id and
//! secret into Basic without the form-encoding §2.3.1 asks for (both
//! readings are tried).

use serde_json::{Value, json};

use super::credential::Scope;

/// The most a token request's body may hold: a form of a few short fields.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// An RFC 6749 §5.2 error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    /// Answer with `WWW-Authenticate: Basic` (a client that failed to
    /// authenticate).
    pub challenge: bool,
    /// Seconds to wait before trying again (503).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            challenge: false,
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }

    pub fn too_large() -> Self {
        Self::new(
            413,
            "invalid_request",
            format!("a token request holds at most {MAX_REQUEST_BYTES} bytes"),
        )
    }

    /// The client is unknown, its secret wrong or expired, or it did not
    /// authenticate: 401 with a challenge, as §5.2 asks.
    pub fn invalid_client() -> Self {
        Self {
            challenge: true,
            ..Self::new(401, "invalid_client", "client authentication failed")
        }
    }

    pub fn unsupported_grant_type(grant: &str) -> Self {
        Self::new(
            400,
            "unsupported_grant_type",
            format!("grant_type '{grant}' is not offered; use client_credentials"),
        )
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_scope", description)
    }

    /// The credentials could not be read now.
    pub fn unavailable() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(503, "temporarily_unavailable", "retry the request later")
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}

/// A token request that passed every check but the client's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub client_id: String,
    pub client_secret: String,
    /// From HTTP Basic, the id and secret form-decoded, when that reads
    /// them otherwise (RFC 6749 §2.3.1 asks for it; many clients skip it).
    pub decoded: Option<(String, String)>,
    /// The scope asked for; the client's own when none.
    pub scope: Option<Scope>,
}

impl TokenRequest {
    /// The (id, secret) readings to try, the literal one first.
    pub fn readings(&self) -> impl Iterator<Item = (&str, &str)> {
        std::iter::once((self.client_id.as_str(), self.client_secret.as_str()))
            .chain(self.decoded.as_ref().map(|(i, s)| (i.as_str(), s.as_str())))
    }
}

/// The form's fields, each once; a field without a value counts as absent
/// (RFC 6749 §3.1).
fn form(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(body) {
        if fields.iter().any(|(seen, _)| *seen == k) {
            return Err(OAuthError::invalid_request(format!(
                "the parameter '{k}' is given more than once"
            )));
        }
        fields.push((k.into_owned(), v.into_owned()));
    }
    fields.retain(|(_, v)| !v.is_empty());
    Ok(fields)
}

/// One part of a Basic client credential, form-decoded as RFC 6749 §2.3.1
/// asks (`+` is a space, `%XX` a byte).
fn form_decoded(part: &str) -> Option<String> {
    let spaced = part.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The client id and secret of an `Authorization` header at the token
/// endpoint, as sent and form-decoded (if that differs); anything but a
/// well-formed Basic credential is a client that failed to authenticate.
fn basic_client(header: &str) -> Result<Basic, OAuthError> {
    let (scheme, rest) = header
        .trim()
        .split_once(' ')
        .ok_or_else(OAuthError::invalid_client)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client());
    }
    let (id, secret) = super::basic_pair(rest).ok_or_else(OAuthError::invalid_client)?;
    let decoded = match (form_decoded(&id), form_decoded(&secret)) {
        (Some(i), Some(s)) if (&i, &s) != (&id, &secret) => Some((i, s)),
        _ => None,
    };
    Ok(Basic {
        id,
        secret,
        decoded,
    })
}

struct Basic {
    id: String,
    secret: String,
    decoded: Option<(String, String)>,
}

impl Basic {
    /// Whether the form's `value` is this credential's part (`part` 0 the
    /// id, 1 the secret), in either reading.
    fn names(&self, part: usize, value: &str) -> bool {
        let (literal, decoded) = match part {
            0 => (&self.id, self.decoded.as_ref().map(|d| &d.0)),
            _ => (&self.secret, self.decoded.as_ref().map(|d| &d.1)),
        };
        literal == value || decoded.is_some_and(|d| d == value)
    }
}

/// Whether the request's media type is a form.
fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .is_some_and(|m| m.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Reads a token request: its media type, its form, the client's
/// authentication, the grant type and the scope.
pub fn parse(
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<TokenRequest, OAuthError> {
    if !is_form(content_type) {
        return Err(OAuthError::invalid_request(
            "a token request is a form: Content-Type: application/x-www-form-urlencoded",
        ));
    }
    let fields = form(body)?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (client_id, client_secret, decoded) = match authorization {
        Some(header) => {
            let basic = basic_client(header)?;
            let differs =
                |part: usize, name: &str| field(name).is_some_and(|v| !basic.names(part, v));
            if differs(0, "client_id") || differs(1, "client_secret") {
                return Err(OAuthError::invalid_request(
                    "the form names another client than HTTP Basic does",
                ));
            }
            (basic.id, basic.secret, basic.decoded)
        }
        None => match (field("client_id"), field("client_secret")) {
            (Some(id), Some(secret)) => (id.to_string(), secret.to_string(), None),
            _ => return Err(OAuthError::invalid_client()),
        },
    };
    match field("grant_type") {
        None | Some("client_credentials") => {}
        Some(other) => return Err(OAuthError::unsupported_grant_type(other)),
    }
    let scope = match field("scope") {
        None => None,
        Some(s) => {
            let mut words = s.split_whitespace();
            match (words.next().and_then(Scope::parse), words.next()) {
                (Some(scope), None) => Some(scope),
                _ => {
                    return Err(OAuthError::invalid_scope(
                        "scope is read-write or read-only",
                    ));
                }
            }
        }
    };
    Ok(TokenRequest {
        client_id,
        client_secret,
        decoded,
        scope,
    })
}

/// The answer to a granted token request (RFC 6749 §5.1).
pub fn token_response(access_token: &str, expires_in: u64, scope: Scope) -> Value {
    json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn basic(id: &str, secret: &str) -> String {
        let pair = format!("{id}:{secret}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    fn err(r: Result<TokenRequest, OAuthError>) -> (u16, &'static str) {
        r.map(|_| (200, "")).unwrap_or_else(|e| (e.status, e.error))
    }

    #[test]
    fn takes_the_client_from_basic_or_from_the_form_and_a_missing_grant_as_client_credentials() {
        let want = TokenRequest {
            client_id: "c1".into(),
            client_secret: "s e+cret".into(),
            decoded: None,
            scope: None,
        };
        let h = basic("c1", "s+e%2Bcret");
        let from_basic = parse(FORM, Some(&h), b"grant_type=client_credentials");
        let readings = |r: &TokenRequest| -> Vec<(String, String)> {
            r.readings().map(|(i, s)| (i.into(), s.into())).collect()
        };
        assert_eq!(
            from_basic.as_ref().map(readings),
            Ok(vec![
                ("c1".into(), "s+e%2Bcret".into()),
                ("c1".into(), "s e+cret".into())
            ])
        );
        // Entra ID's "both": the header and the form name the same client.
        let both = parse(FORM, Some(&h), b"client_id=c1&client_secret=s+e%2Bcret");
        assert_eq!(both.map(|r| r.client_id), Ok("c1".into()));
        assert_eq!(
            parse(FORM, None, b"client_id=c1&client_secret=s+e%2Bcret"),
            Ok(want.clone())
        );
        // ConnId: no grant_type, a leading `&`; a charset on the media type.
        assert_eq!(
            parse(
                Some("application/x-www-form-urlencoded; charset=UTF-8"),
                None,
                b"&client_id=c1&client_secret=s+e%2Bcret"
            ),
            Ok(want)
        );
        let scoped = parse(FORM, Some(&basic("c", "s")), b"scope=read-only");
        assert_eq!(scoped.map(|r| r.scope), Ok(Some(Scope::ReadOnly)));
    }

    #[test]
    fn refuses_what_rfc_6749_refuses() {
        let h = basic("c", "s");
        type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a [u8], (u16, &'a str));
        let cases: Vec<Case<'_>> = vec![
            (
                Some("application/json"),
                Some(&h),
                b"{}",
                (400, "invalid_request"),
            ),
            (
                None,
                Some(&h),
                b"grant_type=client_credentials",
                (400, "invalid_request"),
            ),
            (
                FORM,
                Some(&h),
                b"grant_type=a&grant_type=b",
                (400, "invalid_request"),
            ),
            (
                FORM,
                Some(&h),
                b"client_secret=other",
                (400, "invalid_request"),
            ),
            (FORM, Some(&h), b"client_id=other", (400, "invalid_request")),
            (FORM, None, b"client_id=c", (401, "invalid_client")),
            (
                FORM,
                None,
                b"grant_type=client_credentials",
                (401, "invalid_client"),
            ),
            (FORM, Some("Basic !!!"), b"", (401, "invalid_client")),
            (FORM, Some("Basic Yw=="), b"", (401, "invalid_client")),
            (FORM, Some("Bearer x"), b"", (401, "invalid_client")),
            (
                FORM,
                Some(&h),
                b"grant_type=password",
                (400, "unsupported_grant_type"),
            ),
            (FORM, Some(&h), b"scope=admin", (400, "invalid_scope")),
            (
                FORM,
                Some(&h),
                b"scope=read-only+read-write",
                (400, "invalid_scope"),
            ),
        ];
        for (ct, auth, body, want) in cases {
            assert_eq!(
                err(parse(ct, auth, body)),
                want,
                "{ct:?} {auth:?} {}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(OAuthError::invalid_client().challenge);
    }
}
