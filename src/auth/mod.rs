//! Credentials: who may open which directory, and the request-time check.
//! Each directory (the single-tenant one, and each tenant) has a set of
//! credentials (`credential`): bearer tokens, HTTP Basic pairs and OAuth
//! clients, read-write or read-only. The single-tenant directory's come
//! from Secrets Manager on Lambda, or from the environment and the local
//! file; each tenant's from its own secret, or its entry in the file; a
//! directory's credentials open that directory only. OAuth clients get
//! access tokens (`access_token`) at the token endpoint (`oauth`).
//! Presented secrets are compared as SHA-256 digests in constant time, and
//! never logged. Where the credentials come from is in `secret` (Secrets
//! Manager) and `tenants_file` (local runs).

mod access_token;
mod credential;
pub mod oauth;
mod secret;
mod tenants_file;

use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};

pub use self::access_token::{AccessTokens, Issued, MAX_LIFETIME, MIN_LIFETIME};
pub use self::credential::{
    Credential, CredentialSet, Grant, Kind, LEGACY_TOKEN_ID, Presented, Previous, Scope,
};
use self::secret::SecretToken;
pub use self::secret::{TenantSecrets, tenant_secret_name};
pub use self::tenants_file::{TenantEntry, TenantsFile, TenantsFileDoc};
use crate::scim::ScimError;
use crate::tenant::Tenant;

/// Who may use which directory.
pub struct Auth {
    /// The single-tenant directory's credentials; without any, the base
    /// path opens for none.
    default: Option<Source>,
    tenants: Tenants,
    tokens: AccessTokens,
}

enum Source {
    /// Fixed credentials (the environment); locally, with those the
    /// commands wrote to the file.
    Fixed(CredentialSet),
    Secret(SecretToken),
}

/// Where tenants' credentials come from.
pub enum Tenants {
    /// No tenants: tenant paths open for nothing.
    None,
    /// The tenants file (local runs).
    File(TenantsFile),
    /// One Secrets Manager secret a tenant, named `<prefix><tenant>`.
    Secrets(TenantSecrets),
}

/// What an accepted request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub scope: Scope,
}

type Digest32 = [u8; 32];

pub(crate) fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Digest32> {
    let s = s.trim();
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A random 256-bit token, hex-encoded.
pub fn generate_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a token: {e}"))?;
    Ok(hex(&bytes))
}

/// The credential an `Authorization` header presents.
enum Authorization<'a> {
    Bearer(&'a str),
    Basic { username: String, password: String },
}

/// `Bearer <token>`, or `Basic <base64 of username:password>` (RFC 7617);
/// schemes in any letter case. `None` for anything else.
fn authorization(header: Option<&str>) -> Option<Authorization<'_>> {
    let (scheme, rest) = header?.trim().split_once(' ')?;
    let rest = rest.trim();
    if rest.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Authorization::Bearer(rest));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let (username, password) = basic_pair(rest)?;
    Some(Authorization::Basic { username, password })
}

/// The username and password of a Basic credential (base64 of
/// `username:password`, split at the first colon); both non-empty.
pub(crate) fn basic_pair(encoded: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (u, p) = text.split_once(':')?;
    (!u.is_empty() && !p.is_empty()).then(|| (u.to_string(), p.to_string()))
}

/// A random key, for access tokens that need work only in this process.
/// Without randomness it is empty, and no access token is issued or
/// accepted (a key anyone could guess would open every directory).
pub fn random_key() -> Vec<u8> {
    let mut k = vec![0u8; 32];
    if getrandom::fill(&mut k).is_err() {
        tracing::error!("no randomness for the access token key: the token endpoint is off");
        return Vec::new();
    }
    k
}

impl Auth {
    fn with_default(default: Option<Source>) -> Self {
        Self {
            default,
            tenants: Tenants::None,
            tokens: AccessTokens::new(&random_key(), MIN_LIFETIME),
        }
    }

    /// A fixed token for the single-tenant directory.
    pub fn fixed(token: String) -> Self {
        Self::fixed_set(CredentialSet::token(&token))
    }

    /// Fixed credentials for the single-tenant directory.
    pub fn fixed_set(set: CredentialSet) -> Self {
        Self::with_default(Some(Source::Fixed(set)))
    }

    /// The single-tenant directory's credentials from a Secrets Manager
    /// secret.
    pub fn secrets_manager(
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
        ttl: Duration,
    ) -> Self {
        Self::with_default(Some(Source::Secret(SecretToken::new(
            client, secret_id, ttl,
        ))))
    }

    /// No credential opens the single-tenant directory (a deployment that
    /// serves tenants only).
    pub fn tenants_only() -> Self {
        Self::with_default(None)
    }

    /// Where tenants' credentials come from.
    pub fn with_tenants(mut self, tenants: Tenants) -> Self {
        self.tenants = tenants;
        self
    }

    /// How access tokens are signed, and how long they live.
    pub fn with_access_tokens(mut self, tokens: AccessTokens) -> Self {
        self.tokens = tokens;
        self
    }

    pub fn access_tokens(&self) -> &AccessTokens {
        &self.tokens
    }

    /// Reads the single-tenant secret once (at start), so a misconfiguration
    /// shows up in the first log lines rather than on the first request.
    pub async fn warm(&self) -> Result<(), ScimError> {
        match &self.default {
            Some(Source::Secret(s)) => match s.current(Duration::ZERO).await? {
                Some(_) => Ok(()),
                None => {
                    tracing::error!("the token secret does not exist or holds no credentials");
                    Err(ScimError::unavailable())
                }
            },
            _ => Ok(()),
        }
    }

    /// Checks an `Authorization` header value for a tenant's directory.
    pub async fn check(&self, header: Option<&str>, tenant: &Tenant) -> Result<Access, ScimError> {
        let grant = match authorization(header).ok_or_else(ScimError::unauthorized)? {
            Authorization::Bearer(token) => {
                let holder = access_token::looks_like_jwt(token)
                    .then(|| self.tokens.verify(token, tenant))
                    .flatten();
                if let Some(holder) = holder {
                    // Signed for this directory: its client must still be
                    // there (revoked: within the cache's lifetime).
                    let live = self.client_scope(tenant, &holder.client).await?;
                    let scope = live.ok_or_else(ScimError::unauthorized)?;
                    return Ok(Access {
                        scope: narrower(holder.scope, scope),
                    });
                }
                self.accept(tenant, &Presented::bearer(token)).await?
            }
            Authorization::Basic { username, password } => {
                self.accept(tenant, &Presented::basic(&username, &password))
                    .await?
            }
        };
        grant
            .map(|g| Access { scope: g.scope })
            .ok_or_else(ScimError::unauthorized)
    }

    /// The grant of the OAuth client `id` with this secret, for the token
    /// endpoint.
    pub async fn client(
        &self,
        tenant: &Tenant,
        id: &str,
        secret: &str,
    ) -> Result<Option<Grant>, ScimError> {
        self.accept(tenant, &Presented::client(id, secret)).await
    }

    /// The grant of the directory's credential that accepts `presented`.
    async fn accept(
        &self,
        tenant: &Tenant,
        presented: &Presented,
    ) -> Result<Option<Grant>, ScimError> {
        let now = unix_now();
        match (tenant, &self.default, &self.tenants) {
            (Tenant::Default, None, _) => Ok(None),
            (Tenant::Default, Some(Source::Fixed(set)), tenants) => {
                if let Some(g) = set.accept(presented, now) {
                    return Ok(Some(g));
                }
                Ok(file_set(tenants).and_then(|s| s.accept(presented, now)))
            }
            (Tenant::Default, Some(Source::Secret(s)), _) => match s.accepts(presented).await? {
                Some(grant) => Ok(grant),
                // The deployment's own secret is gone: a fault, not a
                // wrong credential.
                None => {
                    tracing::error!("the token secret does not exist or holds no credentials");
                    Err(ScimError::unavailable())
                }
            },
            (Tenant::Named(_), _, Tenants::None) => Ok(None),
            (Tenant::Named(_), _, Tenants::File(f)) => {
                Ok(f.set_of(tenant)?.and_then(|s| s.accept(presented, now)))
            }
            // An unknown tenant has no secret: refused like a wrong
            // credential, so that tenant names cannot be probed.
            (Tenant::Named(t), _, Tenants::Secrets(s)) => s.accepts(t, presented).await,
        }
    }

    /// The scope of the directory's live OAuth client `id`.
    async fn client_scope(&self, tenant: &Tenant, id: &str) -> Result<Option<Scope>, ScimError> {
        let now = unix_now();
        match (tenant, &self.default, &self.tenants) {
            (Tenant::Default, None, _) | (Tenant::Named(_), _, Tenants::None) => Ok(None),
            (Tenant::Default, Some(Source::Fixed(set)), tenants) => match set.has_client(id, now) {
                Some(scope) => Ok(Some(scope)),
                None => Ok(file_set(tenants).and_then(|s| s.has_client(id, now))),
            },
            (Tenant::Default, Some(Source::Secret(s)), _) => s.client_scope(id).await,
            (Tenant::Named(_), _, Tenants::File(f)) => {
                Ok(f.set_of(tenant)?.and_then(|s| s.has_client(id, now)))
            }
            (Tenant::Named(t), _, Tenants::Secrets(s)) => s.client_scope(t, id).await,
        }
    }
}

/// The single-tenant directory's credentials in the local file, beside the
/// environment's. A file that cannot be read adds none (it is logged):
/// the environment's credentials keep their answers.
fn file_set(tenants: &Tenants) -> Option<std::sync::Arc<CredentialSet>> {
    match tenants {
        Tenants::File(f) => f.set_of(&Tenant::Default).ok().flatten(),
        _ => None,
    }
}

/// The narrower of two scopes.
fn narrower(a: Scope, b: Scope) -> Scope {
    if a == Scope::ReadOnly || b == Scope::ReadOnly {
        Scope::ReadOnly
    } else {
        Scope::ReadWrite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepts_only_the_exact_bearer_token() {
        let auth = Auth::fixed("s3cret".into());
        assert!(
            auth.check(Some("Bearer s3cret"), &Tenant::Default)
                .await
                .is_ok()
        );
        assert!(
            auth.check(Some("bearer s3cret"), &Tenant::Default)
                .await
                .is_ok()
        );
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer s3cre"),
            Some("Basic s3cret"),
            Some("Bearer s3cret2"),
        ] {
            assert_eq!(
                auth.check(bad, &Tenant::Default)
                    .await
                    .map_err(|e| e.status),
                Err(401),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn generated_tokens_are_long_and_different() {
        let (a, b) = (generate_token(), generate_token());
        assert_eq!(a.as_ref().map(String::len), Ok(64));
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn without_a_single_tenant_token_the_base_path_opens_for_none() {
        let auth = Auth::tenants_only();
        assert_eq!(
            auth.check(Some("Bearer anything"), &Tenant::Default)
                .await
                .map_err(|e| e.status),
            Err(401)
        );
    }
}
