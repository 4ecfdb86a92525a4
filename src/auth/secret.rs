//! Credentials in Secrets Manager, as the request path reads them: one
//! secret's credentials cached for the TTL and re-read early (at most every
//! 5 s) when a request presents a credential they do not accept; tenants'
//! secrets, one a tenant, each cached the same way, with a per-process
//! ration of reads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::RwLock;

use super::credential::{CredentialSet, Grant, Presented, Scope};
use super::unix_now;
use crate::scim::ScimError;
use crate::tenant::TenantId;

/// A token read from Secrets Manager is re-read at most this often when a
/// request presents a token that does not match the cached one, so that a
/// rotation is picked up at once without letting bad tokens hammer the API.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Most tenants whose secrets one process keeps cached. Past it the cache
/// starts over, so that requests naming many made-up tenants cannot grow
/// memory without bound.
const MAX_CACHED_TENANTS: usize = 10_000;

/// Most reads of tenants' secrets a process makes in a second.
const NEW_TENANT_READS_PER_SECOND: u32 = 5;

pub(super) struct SecretToken {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    ttl: Duration,
    /// The credentials (`None`: the secret does not exist or holds none)
    /// and when they were read.
    cache: RwLock<Option<(Option<Arc<CredentialSet>>, Instant)>>,
}

type Cached = Option<Arc<CredentialSet>>;

/// Whether the cached credentials accept `presented`.
fn grant_of(set: &Cached, presented: &Presented) -> Option<Grant> {
    set.as_ref()?.accept(presented, unix_now())
}

impl SecretToken {
    pub(super) fn new(
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
        ttl: Duration,
    ) -> Self {
        Self {
            client,
            secret_id,
            ttl,
            cache: RwLock::new(None),
        }
    }
    /// The current credentials; `None` if the secret does not exist, is
    /// scheduled for deletion, or holds none.
    async fn fetch(&self) -> Result<Cached, ScimError> {
        let out = match self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let gone = e.as_service_error().is_some_and(|s| {
                    s.is_resource_not_found_exception() || s.is_invalid_request_exception()
                });
                if gone {
                    return Ok(None);
                }
                tracing::error!(error = ?aws_sdk_secretsmanager::error::DisplayErrorContext(&e), "reading a token secret failed");
                return Err(ScimError::unavailable());
            }
        };
        Ok(out
            .secret_string()
            .and_then(CredentialSet::from_secret)
            .map(Arc::new))
    }

    /// The cached credentials, if read less than `max_age` ago.
    async fn peek(&self, max_age: Duration) -> Option<Cached> {
        match self.cache.read().await.as_ref() {
            Some((set, at)) if at.elapsed() < max_age => Some(set.clone()),
            _ => None,
        }
    }

    /// The cached credentials if younger than `max_age`, else fresh ones. If
    /// the fetch fails and some are cached, the cached ones are kept.
    pub(super) async fn current(&self, max_age: Duration) -> Result<Cached, ScimError> {
        if let Some(set) = self.peek(max_age).await {
            return Ok(set);
        }
        let mut cache = self.cache.write().await;
        if let Some((set, at)) = cache.as_ref() {
            // Another request refreshed it while this one waited.
            if at.elapsed() < max_age {
                return Ok(set.clone());
            }
        }
        match self.fetch().await {
            Ok(set) => {
                *cache = Some((set.clone(), Instant::now()));
                Ok(set)
            }
            Err(e) => match cache.as_ref() {
                Some((set, _)) => Ok(set.clone()),
                None => Err(e),
            },
        }
    }

    /// The grant of the secret's credential that accepts `presented`: from
    /// the cache, and if none does, once more from a fresh read (perhaps it
    /// was rotated since). `None` when the secret holds no credentials.
    pub(super) async fn accepts(
        &self,
        presented: &Presented,
    ) -> Result<Option<Option<Grant>>, ScimError> {
        let cached = self.current(self.ttl).await?;
        if let Some(g) = grant_of(&cached, presented) {
            return Ok(Some(Some(g)));
        }
        let fresh = self.current(MIN_REFRESH_INTERVAL.min(self.ttl)).await?;
        Ok(fresh.map(|set| set.accept(presented, unix_now())))
    }

    /// The scope of the live OAuth client `id`, from the cache (a revoked
    /// client's access tokens stop within the TTL).
    pub(super) async fn client_scope(&self, id: &str) -> Result<Option<Scope>, ScimError> {
        let set = self.current(self.ttl).await?;
        Ok(set.and_then(|s| s.has_client(id, unix_now())))
    }
}

/// Tenants' tokens on Lambda: the secret `<prefix><tenant>` holds tenant
/// `<tenant>`'s token (plain, or as the `token` field of a JSON object).
/// Each is cached for the TTL like the single-tenant token.
pub struct TenantSecrets {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
    ttl: Duration,
    cache: RwLock<HashMap<TenantId, Arc<SecretToken>>>,
    ration: Ration,
}

/// A fixed-window ration of events per second.
struct Ration {
    per_second: u32,
    window: std::sync::Mutex<(Instant, u32)>,
}

impl Ration {
    fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window: std::sync::Mutex::new((Instant::now(), 0)),
        }
    }

    /// Whether this second's ration is used up.
    fn spent(&self) -> bool {
        self.window
            .lock()
            .map(|w| w.0.elapsed() < Duration::from_secs(1) && w.1 >= self.per_second)
            .unwrap_or(true)
    }

    /// Takes one from this second's ration, if any is left.
    fn take(&self) -> bool {
        let Ok(mut w) = self.window.lock() else {
            return false;
        };
        if w.0.elapsed() >= Duration::from_secs(1) {
            *w = (Instant::now(), 0);
        }
        if w.1 >= self.per_second {
            return false;
        }
        w.1 += 1;
        true
    }
}

impl TenantSecrets {
    pub fn new(client: aws_sdk_secretsmanager::Client, prefix: String, ttl: Duration) -> Self {
        Self {
            client,
            prefix,
            ttl,
            cache: RwLock::default(),
            ration: Ration::new(NEW_TENANT_READS_PER_SECOND),
        }
    }

    /// The tenant's secret as this process holds it (nothing is read here).
    async fn secret(&self, tenant: &TenantId) -> Arc<SecretToken> {
        if let Some(s) = self.cache.read().await.get(tenant) {
            return Arc::clone(s);
        }
        let mut cache = self.cache.write().await;
        if cache.len() >= MAX_CACHED_TENANTS && !cache.contains_key(tenant) {
            cache.clear();
        }
        let entry = cache.entry(tenant.clone()).or_insert_with(|| {
            Arc::new(SecretToken::new(
                self.client.clone(),
                tenant_secret_name(&self.prefix, tenant),
                self.ttl,
            ))
        });
        Arc::clone(entry)
    }

    /// The grant of the tenant's credential that accepts `presented`. Each
    /// secret read is a paid API call, and tenant names come from the
    /// request, so reads are rationed per process: a secret found absent is
    /// read again only after the TTL, cached credentials again at most every
    /// 5 s (for a rotation), and no more than a few reads a second in all.
    /// Past the ration, a credential the cache cannot confirm gets 503 with
    /// Retry-After, whatever the tenant, so that neither the bill nor the
    /// answers tell tenants apart.
    pub(super) async fn accepts(
        &self,
        tenant: &TenantId,
        presented: &Presented,
    ) -> Result<Option<Grant>, ScimError> {
        let secret = self.secret(tenant).await;
        let max_age = match secret.peek(self.ttl).await {
            Some(Some(set)) => match set.accept(presented, unix_now()) {
                Some(g) => return Ok(Some(g)),
                // Perhaps rotated since it was read.
                None => MIN_REFRESH_INTERVAL.min(self.ttl),
            },
            // No such secret, as of less than a TTL ago.
            Some(None) => return self.refuse(),
            None => self.ttl,
        };
        if secret.peek(max_age).await.is_none() && !self.ration.take() {
            tracing::warn!("tenant secret reads are over their ration");
            return Err(ScimError::unavailable());
        }
        if let Some(g) = grant_of(&secret.current(max_age).await?, presented) {
            return Ok(Some(g));
        }
        self.refuse()
    }

    /// The scope of the tenant's live OAuth client `id`, from the cache
    /// (read once, rationed, if this process has not read it yet).
    pub(super) async fn client_scope(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Scope>, ScimError> {
        let secret = self.secret(tenant).await;
        if secret.peek(self.ttl).await.is_none() && !self.ration.take() {
            return Err(ScimError::unavailable());
        }
        secret.client_scope(id).await
    }

    fn refuse(&self) -> Result<Option<Grant>, ScimError> {
        if self.ration.spent() {
            return Err(ScimError::unavailable());
        }
        Ok(None)
    }
}

/// The name of a tenant's token secret.
pub fn tenant_secret_name(prefix: &str, tenant: &TenantId) -> String {
    format!("{prefix}{tenant}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ration_allows_so_many_a_second() {
        let r = Ration::new(3);
        assert_eq!((0..5).filter(|_| r.take()).count(), 3);
        if let Ok(mut w) = r.window.lock() {
            w.0 -= Duration::from_secs(1);
        }
        assert!(r.take(), "a new second, a new ration");
    }
}
