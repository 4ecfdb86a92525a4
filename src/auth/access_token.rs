//! Access tokens of the token endpoint: JWTs (RFC 9068's `at+jwt`) signed
//! with HS256 under a key of the deployment's, naming the directory they
//! open (`aud`), the OAuth client (`sub`) and the scope. Checked without a
//! table read: the signature, the lifetime and the directory here; that the
//! client still exists against its directory's cached credentials.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::credential::{Grant, Scope};
use crate::scim::ScimError;
use crate::tenant::Tenant;

/// The shortest and longest lifetime an access token may be given (Entra
/// ID's gallery asks for 60 minutes to 6 hours).
pub const MIN_LIFETIME: Duration = Duration::from_secs(3600);
pub const MAX_LIFETIME: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    /// The directory: `default`, or the tenant's id.
    aud: String,
    /// The OAuth client (its credential's id).
    sub: String,
    scope: String,
    iat: u64,
    exp: u64,
    jti: String,
}

/// What a valid access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHolder {
    pub client: String,
    pub scope: Scope,
}

/// Issues and checks access tokens.
pub struct AccessTokens {
    key: Vec<u8>,
    lifetime: Duration,
}

/// A new access token and its lifetime in seconds.
pub struct Issued {
    pub token: String,
    pub expires_in: u64,
}

impl AccessTokens {
    pub fn new(key: &[u8], lifetime: Duration) -> Self {
        Self {
            key: key.to_vec(),
            lifetime,
        }
    }

    pub fn issue(
        &self,
        tenant: &Tenant,
        grant: &Grant,
        issuer: &str,
        now: u64,
    ) -> Result<Issued, ScimError> {
        let expires_in = self.lifetime.as_secs();
        let claims = Claims {
            iss: issuer.to_string(),
            aud: tenant.log_name().to_string(),
            sub: grant.credential.clone(),
            scope: grant.scope.as_str().to_string(),
            iat: now,
            exp: now + expires_in,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        let signed = EncodingKey::from_secret(&self.key)
            .and_then(|key| jsonwebtoken::encode(&header, &claims, &key));
        let token = signed.map_err(|e| {
            tracing::error!(error = %e, "signing an access token failed");
            ScimError::internal()
        })?;
        Ok(Issued { token, expires_in })
    }

    /// The holder of a token that this deployment signed for `tenant`'s
    /// directory and that has not expired; `None` for anything else.
    pub fn verify(&self, token: &str, tenant: &Tenant) -> Option<TokenHolder> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_audience(&[tenant.log_name()]);
        v.set_required_spec_claims(&["exp", "aud", "sub"]);
        let key = DecodingKey::from_secret(&self.key).ok()?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &v).ok()?;
        Some(TokenHolder {
            client: data.claims.sub,
            scope: Scope::parse(&data.claims.scope)?,
        })
    }
}

/// Whether a bearer value has a JWT's shape (three base64url parts), so
/// that only such values are checked as access tokens.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::TenantId;

    fn grant(scope: Scope) -> Grant {
        Grant {
            credential: "client-1".into(),
            scope,
        }
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    #[test]
    fn a_token_opens_its_own_directory_only_and_only_until_it_expires() {
        let tokens = AccessTokens::new(b"k".repeat(32).as_slice(), MIN_LIFETIME);
        let acme = Tenant::Named(TenantId::parse("acme").unwrap());
        let t = tokens
            .issue(
                &acme,
                &grant(Scope::ReadOnly),
                "https://x/scim/v2/acme",
                now(),
            )
            .unwrap();
        assert!(looks_like_jwt(&t.token));
        assert_eq!(t.expires_in, 3600);
        assert_eq!(
            tokens.verify(&t.token, &acme),
            Some(TokenHolder {
                client: "client-1".into(),
                scope: Scope::ReadOnly
            })
        );
        assert_eq!(tokens.verify(&t.token, &Tenant::Default), None);
        let globex = Tenant::Named(TenantId::parse("globex").unwrap());
        assert_eq!(tokens.verify(&t.token, &globex), None);
        // Another deployment's key.
        let other = AccessTokens::new(b"o".repeat(32).as_slice(), MIN_LIFETIME);
        assert_eq!(other.verify(&t.token, &acme), None);
        // Expired.
        let old = tokens
            .issue(&acme, &grant(Scope::ReadWrite), "i", now() - 7200)
            .unwrap();
        assert_eq!(tokens.verify(&old.token, &acme), None);
        // Tampered.
        let mut bytes = t.token.clone().into_bytes();
        let mid = bytes.len() / 2;
        bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            tokens.verify(&String::from_utf8(bytes).unwrap(), &acme),
            None
        );
    }
}
