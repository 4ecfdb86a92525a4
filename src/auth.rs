//! The bearer token: where it comes from (Secrets Manager on Lambda, the
//! environment or a generated one locally), how long a fetched one is cached,
//! and the constant-time check. The token is never logged.

use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;
use tokio::sync::RwLock;

use crate::scim::ScimError;

/// A token read from Secrets Manager is re-read at most this often when a
/// request presents a token that does not match the cached one, so that a
/// rotation is picked up at once without letting bad tokens hammer the API.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

pub struct Auth {
    source: Source,
}

enum Source {
    Static(String),
    Secret(SecretToken),
}

struct SecretToken {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    ttl: Duration,
    cache: RwLock<Option<(String, Instant)>>,
}

/// A random 256-bit token, hex-encoded.
pub fn generate_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Stores a fresh random token as the secret's current value
/// (PutSecretValue; the previous value becomes `AWSPREVIOUS`) and returns it.
pub async fn rotate_token(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<String, String> {
    let token = generate_token()?;
    client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(&token)
        .send()
        .await
        .map_err(|e| {
            format!(
                "storing the new token in {secret_id} failed: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(token)
}

/// The token in a secret string: the string itself, or the `token` field of
/// a JSON object.
fn token_from_secret(s: &str) -> Option<String> {
    let s = s.trim();
    let token = match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Object(o)) => o.get("token")?.as_str()?.trim().to_string(),
        _ => s.to_string(),
    };
    (!token.is_empty()).then_some(token)
}

impl SecretToken {
    async fn fetch(&self) -> Result<String, ScimError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .map_err(|e| {
                tracing::error!(error = ?aws_sdk_secretsmanager::error::DisplayErrorContext(&e), "reading the token secret failed");
                ScimError::unavailable()
            })?;
        out.secret_string()
            .and_then(token_from_secret)
            .ok_or_else(|| {
                tracing::error!("the token secret holds no usable token");
                ScimError::unavailable()
            })
    }

    /// The cached token if younger than `max_age`, else a fresh one. If the
    /// fetch fails and a token is cached, the cached one is kept.
    async fn current(&self, max_age: Duration) -> Result<String, ScimError> {
        if let Some((token, at)) = self.cache.read().await.as_ref() {
            if at.elapsed() < max_age {
                return Ok(token.clone());
            }
        }
        let mut cache = self.cache.write().await;
        if let Some((token, at)) = cache.as_ref() {
            // Another request refreshed it while this one waited.
            if at.elapsed() < max_age {
                return Ok(token.clone());
            }
        }
        match self.fetch().await {
            Ok(token) => {
                *cache = Some((token.clone(), Instant::now()));
                Ok(token)
            }
            Err(e) => match cache.as_ref() {
                Some((token, _)) => Ok(token.clone()),
                None => Err(e),
            },
        }
    }
}

/// Compares the SHA-256 digests of the two in constant time: the time
/// taken depends on neither the tokens' contents nor their lengths.
fn equal(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

impl Auth {
    pub fn fixed(token: String) -> Self {
        Self {
            source: Source::Static(token),
        }
    }

    pub fn secrets_manager(
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
        ttl: Duration,
    ) -> Self {
        Self {
            source: Source::Secret(SecretToken {
                client,
                secret_id,
                ttl,
                cache: RwLock::new(None),
            }),
        }
    }

    /// Reads the secret once (at start), so a misconfiguration shows up in
    /// the first log lines rather than on the first request.
    pub async fn warm(&self) -> Result<(), ScimError> {
        match &self.source {
            Source::Static(_) => Ok(()),
            Source::Secret(s) => s.current(Duration::ZERO).await.map(|_| ()),
        }
    }

    /// Checks an `Authorization` header value.
    pub async fn check(&self, header: Option<&str>) -> Result<(), ScimError> {
        let presented = header
            .and_then(|h| {
                let (scheme, rest) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(ScimError::unauthorized)?;
        match &self.source {
            Source::Static(t) => equal(presented, t)
                .then_some(())
                .ok_or_else(ScimError::unauthorized),
            Source::Secret(s) => {
                if equal(presented, &s.current(s.ttl).await?) {
                    return Ok(());
                }
                // Perhaps the secret was rotated since it was cached.
                let fresh = s.current(MIN_REFRESH_INTERVAL.min(s.ttl)).await?;
                equal(presented, &fresh)
                    .then_some(())
                    .ok_or_else(ScimError::unauthorized)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepts_only_the_exact_bearer_token() {
        let auth = Auth::fixed("s3cret".into());
        assert!(auth.check(Some("Bearer s3cret")).await.is_ok());
        assert!(auth.check(Some("bearer s3cret")).await.is_ok());
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer s3cre"),
            Some("Basic s3cret"),
            Some("Bearer s3cret2"),
        ] {
            assert_eq!(
                auth.check(bad).await.map_err(|e| e.status),
                Err(401),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reads_the_token_from_a_plain_or_json_secret() {
        assert_eq!(token_from_secret(" abc \n"), Some("abc".into()));
        assert_eq!(token_from_secret(r#"{"token": "xyz"}"#), Some("xyz".into()));
        assert_eq!(token_from_secret(r#"{"other": "xyz"}"#), None);
        assert_eq!(token_from_secret(""), None);
    }

    #[test]
    fn generated_tokens_are_long_and_different() {
        let (a, b) = (generate_token(), generate_token());
        assert_eq!(a.as_ref().map(String::len), Ok(64));
        assert_ne!(a, b);
    }
}
