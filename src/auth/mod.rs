//! Bearer tokens: who may open which directory, and the request-time
//! check. The single-tenant directory has one token (Secrets Manager on
//! Lambda, the environment or a generated one locally); each tenant has its
//! own (one secret a tenant on Lambda, the tenants file locally), and it
//! opens that tenant only. Presented tokens are compared as SHA-256 digests
//! in constant time, and never logged. Where the tokens come from is in
//! `secret` (Secrets Manager) and `tenants_file` (local runs).

mod secret;
mod tenants_file;

use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use self::secret::SecretToken;
pub use self::secret::{TenantSecrets, tenant_secret_name};
pub use self::tenants_file::{TenantEntry, TenantsFile, TenantsFileDoc};
use crate::scim::ScimError;
use crate::tenant::Tenant;

/// Who may use which directory.
pub struct Auth {
    /// The single-tenant directory's token; without one, the base path
    /// opens for no token.
    default: Option<Source>,
    tenants: Tenants,
}

enum Source {
    Static(Digest32),
    Secret(SecretToken),
}

/// Where tenants' tokens come from.
pub enum Tenants {
    /// No tenants: tenant paths open for no token.
    None,
    /// The tenants file (local runs).
    File(TenantsFile),
    /// One Secrets Manager secret a tenant, named `<prefix><tenant>`.
    Secrets(TenantSecrets),
}

type Digest32 = [u8; 32];

pub(crate) fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether a presented token matches: the SHA-256 digests are compared in
/// constant time, so the time taken depends on neither token's contents
/// nor length.
fn matches(presented: &Digest32, expected: &Digest32) -> bool {
    presented.ct_eq(expected).into()
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

/// A random 256-bit token, hex-encoded.
pub fn generate_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a token: {e}"))?;
    Ok(hex(&bytes))
}

impl Auth {
    /// A fixed token for the single-tenant directory.
    pub fn fixed(token: String) -> Self {
        Self {
            default: Some(Source::Static(digest(&token))),
            tenants: Tenants::None,
        }
    }

    /// The single-tenant directory's token from a Secrets Manager secret.
    pub fn secrets_manager(
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
        ttl: Duration,
    ) -> Self {
        Self {
            default: Some(Source::Secret(SecretToken::new(client, secret_id, ttl))),
            tenants: Tenants::None,
        }
    }

    /// No token opens the single-tenant directory (a deployment that serves
    /// tenants only).
    pub fn tenants_only() -> Self {
        Self {
            default: None,
            tenants: Tenants::None,
        }
    }

    /// Where tenants' tokens come from.
    pub fn with_tenants(mut self, tenants: Tenants) -> Self {
        self.tenants = tenants;
        self
    }

    /// Reads the single-tenant secret once (at start), so a misconfiguration
    /// shows up in the first log lines rather than on the first request.
    pub async fn warm(&self) -> Result<(), ScimError> {
        match &self.default {
            Some(Source::Secret(s)) => match s.current(Duration::ZERO).await? {
                Some(_) => Ok(()),
                None => {
                    tracing::error!("the token secret does not exist or holds no token");
                    Err(ScimError::unavailable())
                }
            },
            _ => Ok(()),
        }
    }

    /// Checks an `Authorization` header value for a tenant's directory.
    pub async fn check(&self, header: Option<&str>, tenant: &Tenant) -> Result<(), ScimError> {
        let presented = header
            .and_then(|h| {
                let (scheme, rest) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(ScimError::unauthorized)?;
        let presented = digest(presented);
        let accepted = match (tenant, &self.default, &self.tenants) {
            (Tenant::Default, None, _) => false,
            (Tenant::Default, Some(Source::Static(d)), _) => matches(&presented, d),
            (Tenant::Default, Some(Source::Secret(s)), _) => match s.accepts(&presented).await? {
                Some(ok) => ok,
                // The deployment's own secret is gone: a fault, not a
                // wrong token.
                None => {
                    tracing::error!("the token secret does not exist or holds no token");
                    return Err(ScimError::unavailable());
                }
            },
            (Tenant::Named(_), _, Tenants::None) => false,
            (Tenant::Named(t), _, Tenants::File(f)) => {
                f.digest_of(t)?.is_some_and(|d| matches(&presented, &d))
            }
            (Tenant::Named(t), _, Tenants::Secrets(s)) => {
                // An unknown tenant has no secret: refused like a wrong
                // token, so that tenant names cannot be probed.

                s.accepts(t, &presented).await?
            }
        };
        accepted.then_some(()).ok_or_else(ScimError::unauthorized)
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
