//! Request parts parsed at the edge: the JSON body (size-limited), the base
//! URL for `meta.location`, query parameters, and `If-Match`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde_json::Value;

use super::AppState;
use crate::scim::ScimError;
use crate::service::Service;
use crate::tenant::{Tenant, TenantId};

/// A request body parsed as JSON. Any content type is accepted
/// (`application/scim+json`, `application/json`, or none).
pub struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::payload_too_large(format!(
                    "the request body is larger than {} bytes",
                    state.max_body_bytes
                ))
            } else {
                ScimError::invalid_syntax("the request body could not be read")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ScimError::invalid_syntax("the request needs a JSON body"));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
    }
}

/// `https://host/scim/v2` (or `https://host/scim/v2/{tenant}`): the absolute
/// base for `meta.location`, from the request's `X-Forwarded-Proto` (API
/// Gateway sets it) and `Host`.
pub struct BaseUrl(pub String);

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = ScimError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header_str = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.split(',').next().unwrap_or("").trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let proto = header_str("x-forwarded-proto")
            .filter(|p| p == "http" || p == "https")
            .unwrap_or_else(|| "http".into());
        let host = header_str(header::HOST.as_str())
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .filter(|h| {
                h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c))
            })
            .unwrap_or_else(|| "localhost".into());
        let tenant = tenant(&parts.extensions);
        Ok(BaseUrl(format!(
            "{proto}://{host}{}{}",
            state.base_path,
            tenant.path()
        )))
    }
}

/// Query parameters, names matched case-insensitively.
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Form-encoding clients send a space as `+` (and a `+` as `%2B`);
        // clients that percent-encode spaces as `%20`, or send values as
        // they are (Rauthy: `a+b@example.com`), mean a `+` literally.
        let raw = parts.uri.query().unwrap_or("");
        let plus_is_literal = raw.contains("%20") || raw.contains(' ');
        let q = if plus_is_literal {
            raw.replace('+', "%2B")
        } else {
            raw.to_string()
        };
        Ok(Params(
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

/// `If-Match` / `If-None-Match` header values.
pub struct Preconditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Preconditions {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Every line of the header, as one list (RFC 9110 §5.3); a value
        // that is not text becomes an entity tag that matches nothing, so an
        // If-Match with it fails rather than being ignored.
        let get = |h: header::HeaderName| {
            let values: Vec<&str> = parts
                .headers
                .get_all(h)
                .iter()
                .map(|v| v.to_str().unwrap_or("\"unreadable\""))
                .collect();
            (!values.is_empty()).then(|| values.join(", "))
        };
        Ok(Self {
            if_match: get(header::IF_MATCH),
            if_none_match: get(header::IF_NONE_MATCH),
        })
    }
}

/// The name of the tenant segment in tenant routes.
pub const TENANT_PARAM: &str = "tenant";
/// The tenant segment as it appears in a route.
pub const TENANT_SEGMENT: &str = "/{tenant}";

/// A path parameter other than the tenant (an id, a schema URN, a resource
/// type name). One that is not valid UTF-8 once percent-decoded names
/// nothing here: 404, as a SCIM error like every other answer.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let undecodable = || ScimError::not_found("no resource has that (undecodable) name");
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| undecodable())?;
        params
            .iter()
            .filter(|(name, _)| *name != TENANT_PARAM)
            .last()
            .map(|(_, value)| Self(value.to_string()))
            .ok_or_else(undecodable)
    }
}

/// The tenant a request names: `Default` at the base path, or the valid
/// tenant id of `{base}/{tenant}/...`. An invalid one names no directory:
/// 404, before authentication (it is a matter of syntax only).
pub async fn request_tenant(parts: &mut Parts) -> Result<Tenant, ScimError> {
    let tenant_route = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|m| m.as_str().contains(TENANT_SEGMENT));
    if !tenant_route {
        return Ok(Tenant::Default);
    }
    let no_tenant = |why: &str| ScimError::not_found(format!("no such tenant: {why}"));
    let params = axum::extract::RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| no_tenant("the path is not UTF-8"))?;
    let raw = params
        .iter()
        .find(|(name, _)| *name == TENANT_PARAM)
        .map(|(_, value)| value)
        .ok_or_else(|| no_tenant("the path names none"))?;
    TenantId::parse(raw)
        .map(Tenant::Named)
        .map_err(|e| no_tenant(&e))
}

/// Why a request names no directory (an invalid tenant id), when it does not.
#[derive(Clone)]
pub struct NoDirectory(pub ScimError);

/// The request's tenant, as `scope` found it.
pub fn tenant(extensions: &axum::http::Extensions) -> Tenant {
    extensions.get::<Tenant>().cloned().unwrap_or_default()
}

/// For a path no endpoint matched, the tenant its first segment under the
/// base path would name, if that is a valid tenant id.
pub fn tenant_of_unmatched(path: &str, base_path: &str) -> Option<Tenant> {
    let rest = path.strip_prefix(base_path)?.strip_prefix('/')?;
    let segment = rest.split('/').next()?;
    TenantId::parse(segment).ok().map(Tenant::Named)
}

/// The service over the request's tenant's directory.
pub struct Scoped(pub Service);

impl FromRequestParts<AppState> for Scoped {
    type Rejection = ScimError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(state.services.for_tenant(&tenant(&parts.extensions))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_segment_names_the_tenant_parameter() {
        assert_eq!(TENANT_SEGMENT, format!("/{{{TENANT_PARAM}}}"));
    }
}
