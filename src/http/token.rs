//! POST `<base>/oauth2/token`: the OAuth 2.0 token endpoint of each
//! directory (client credentials, RFC 6749 §4.4). Its answers are OAuth's,
//! not SCIM's: JSON with `error` and `error_description` (§5.2), and never
//! cached (`Cache-Control: no-store`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use super::extract::{BaseUrl, tenant};
use crate::auth::oauth::{self, MAX_REQUEST_BYTES, OAuthError};

/// The token endpoint's path under a directory's base.
pub const TOKEN_PATH: &str = "/oauth2/token";

fn answer(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = answer(status, &self.to_json());
        if self.challenge {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"scim\""),
            );
        }
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// One header's value, if it is there once and readable.
fn single(req: &Request, name: header::HeaderName) -> Result<Option<&str>, OAuthError> {
    let mut all = req.headers().get_all(&name).iter();
    match (all.next(), all.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v
            .to_str()
            .map(Some)
            .map_err(|_| OAuthError::invalid_request(format!("{name} is not readable"))),
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(format!(
            "{name} is given more than once"
        ))),
    }
}

pub async fn token(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    req: Request,
) -> Result<Response, OAuthError> {
    let tenant = tenant(req.extensions());
    let content_type = single(&req, header::CONTENT_TYPE)?.map(str::to_string);
    let authorization = single(&req, header::AUTHORIZATION)?.map(str::to_string);
    let body: Body = req.into_body();
    let bytes = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| OAuthError::too_large())?;
    let asked = oauth::parse(content_type.as_deref(), authorization.as_deref(), &bytes)?;
    let mut granted = None;
    for (id, secret) in asked.readings() {
        granted = state
            .auth
            .client(&tenant, id, secret)
            .await
            .map_err(|_| OAuthError::unavailable())?;
        if granted.is_some() {
            break;
        }
    }
    let grant = granted.ok_or_else(OAuthError::invalid_client)?;
    let scope = match asked.scope {
        Some(s) if !s.within(grant.scope) => {
            return Err(OAuthError::invalid_scope(format!(
                "this client is {}",
                grant.scope.as_str()
            )));
        }
        Some(s) => s,
        None => grant.scope,
    };
    let grant = crate::auth::Grant { scope, ..grant };
    let issued = state
        .auth
        .access_tokens()
        .issue(&tenant, &grant, &base, crate::auth::unix_now())
        .map_err(|_| OAuthError::unavailable())?;
    Ok(answer(
        StatusCode::OK,
        &oauth::token_response(&issued.token, issued.expires_in, scope),
    ))
}
