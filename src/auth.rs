//! Bearer tokens: where they come from, how long a fetched one is cached,
//! and the constant-time check. The single-tenant directory has one token
//! (Secrets Manager on Lambda, the environment or a generated one locally);
//! each tenant has its own (one secret a tenant on Lambda, the tenants file
//! locally), and it opens that tenant only. Tokens are never logged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::RwLock;

use crate::scim::ScimError;
use crate::tenant::{Tenant, TenantId};

/// A token read from Secrets Manager is re-read at most this often when a
/// request presents a token that does not match the cached one, so that a
/// rotation is picked up at once without letting bad tokens hammer the API.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Most tenants whose secrets one process keeps cached. Past it the cache
/// starts over, so that requests naming many made-up tenants cannot grow
/// memory without bound.
const MAX_CACHED_TENANTS: usize = 10_000;

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

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether a presented token matches: the SHA-256 digests are compared in
/// constant time, so the time taken depends on neither token's contents
/// nor length.
fn matches(presented: &Digest32, expected: &Digest32) -> bool {
    presented.ct_eq(expected).into()
}

fn hex(bytes: &[u8]) -> String {
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

struct SecretToken {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    ttl: Duration,
    /// The token's digest (`None`: the secret does not exist or holds no
    /// token) and when it was read.
    cache: RwLock<Option<(Option<Digest32>, Instant)>>,
}

/// A random 256-bit token, hex-encoded.
pub fn generate_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a token: {e}"))?;
    Ok(hex(&bytes))
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
    fn new(client: aws_sdk_secretsmanager::Client, secret_id: String, ttl: Duration) -> Self {
        Self {
            client,
            secret_id,
            ttl,
            cache: RwLock::new(None),
        }
    }

    /// The current token's digest; `None` if the secret does not exist, is
    /// scheduled for deletion, or holds no token.
    async fn fetch(&self) -> Result<Option<Digest32>, ScimError> {
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
            .and_then(token_from_secret)
            .map(|t| digest(&t)))
    }

    /// The cached digest, if one younger than `max_age` is cached.
    async fn peek(&self, max_age: Duration) -> Option<Option<Digest32>> {
        match self.cache.read().await.as_ref() {
            Some((token, at)) if at.elapsed() < max_age => Some(*token),
            _ => None,
        }
    }

    /// The cached digest if younger than `max_age`, else a fresh one. If the
    /// fetch fails and one is cached, the cached one is kept.
    async fn current(&self, max_age: Duration) -> Result<Option<Digest32>, ScimError> {
        if let Some(token) = self.peek(max_age).await {
            return Ok(token);
        }
        let mut cache = self.cache.write().await;
        if let Some((token, at)) = cache.as_ref() {
            // Another request refreshed it while this one waited.
            if at.elapsed() < max_age {
                return Ok(*token);
            }
        }
        match self.fetch().await {
            Ok(token) => {
                *cache = Some((token, Instant::now()));
                Ok(token)
            }
            Err(e) => match cache.as_ref() {
                Some((token, _)) => Ok(*token),
                None => Err(e),
            },
        }
    }

    /// Whether the presented token is the secret's: from the cache, and if
    /// not, once more from a fresh read (perhaps it was rotated since).
    async fn accepts(&self, presented: &Digest32) -> Result<Option<bool>, ScimError> {
        let cached = self.current(self.ttl).await?;
        if cached.is_some_and(|d| matches(presented, &d)) {
            return Ok(Some(true));
        }
        let fresh = self.current(MIN_REFRESH_INTERVAL.min(self.ttl)).await?;
        Ok(fresh.map(|d| matches(presented, &d)))
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

/// Most reads of tenants' secrets a process makes in a second.
const NEW_TENANT_READS_PER_SECOND: u32 = 5;

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

    /// Whether the presented token is the tenant's. Each secret read is a
    /// paid API call, and tenant names come from the request, so reads are
    /// rationed per process: a secret found absent is read again only after
    /// the TTL, a cached token again at most every 5 s (for a rotation), and
    /// no more than a few reads a second in all. Past the ration, a token
    /// the cache cannot confirm gets 503 with Retry-After, whatever the
    /// tenant, so that neither the bill nor the answers tell tenants apart.
    async fn accepts(&self, tenant: &TenantId, presented: &Digest32) -> Result<bool, ScimError> {
        let secret = self.secret(tenant).await;
        let max_age = match secret.peek(self.ttl).await {
            Some(Some(d)) if matches(presented, &d) => return Ok(true),
            // Perhaps rotated since it was read.
            Some(Some(_)) => MIN_REFRESH_INTERVAL.min(self.ttl),
            // No such secret, as of less than a TTL ago.
            Some(None) => return self.refuse(),
            None => self.ttl,
        };
        if secret.peek(max_age).await.is_none() && !self.ration.take() {
            tracing::warn!("tenant secret reads are over their ration");
            return Err(ScimError::unavailable());
        }
        if secret
            .current(max_age)
            .await?
            .is_some_and(|d| matches(presented, &d))
        {
            return Ok(true);
        }
        self.refuse()
    }

    fn refuse(&self) -> Result<bool, ScimError> {
        if self.ration.spent() {
            return Err(ScimError::unavailable());
        }
        Ok(false)
    }
}

/// The name of a tenant's token secret.
pub fn tenant_secret_name(prefix: &str, tenant: &TenantId) -> String {
    format!("{prefix}{tenant}")
}

/// Tenants' tokens on a laptop: a JSON file,
/// `{"tenants": {"acme": {"token_sha256": "<hex>"}}}` (or `"token":
/// "<plain>"` for one written by hand). `tenant add` writes it; it is read
/// again whenever it changes, so a running server sees new tenants at once.
pub struct TenantsFile {
    path: PathBuf,
    cache: std::sync::RwLock<(Option<SystemTime>, HashMap<TenantId, Digest32>)>,
}

/// The tenants file as stored.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct TenantsFileDoc {
    #[serde(default)]
    pub tenants: std::collections::BTreeMap<String, TenantEntry>,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct TenantEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl TenantsFileDoc {
    /// Reads the file; a missing file has no tenants.
    pub fn read(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a tenants file: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the file whole (a temporary file renamed over it), readable
    /// by its owner only.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("tmp");
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp).map_err(fail)?;
            f.write_all(text.as_bytes()).map_err(fail)?;
            f.sync_all().map_err(fail)?;
        }
        std::fs::rename(&tmp, path).map_err(fail)
    }

    /// The digests of the valid tenants' tokens.
    fn digests(&self) -> HashMap<TenantId, Digest32> {
        self.tenants
            .iter()
            .filter_map(|(name, entry)| {
                let tenant = TenantId::parse(name).ok()?;
                let d = match (&entry.token_sha256, &entry.token) {
                    (Some(h), _) => from_hex(h)?,
                    (None, Some(t)) if !t.trim().is_empty() => digest(t.trim()),
                    _ => return None,
                };
                Some((tenant, d))
            })
            .collect()
    }

    /// Adds a tenant with a fresh token (returned); refuses one that exists.
    pub fn add(&mut self, tenant: &TenantId) -> Result<String, String> {
        if self.tenants.contains_key(tenant.as_str()) {
            return Err(format!("tenant '{tenant}' already exists"));
        }
        let token = generate_token()?;
        self.set_token(tenant, &token);
        Ok(token)
    }

    /// Gives a tenant this token (only its digest is kept).
    pub fn set_token(&mut self, tenant: &TenantId, token: &str) {
        self.tenants.insert(
            tenant.to_string(),
            TenantEntry {
                token_sha256: Some(hex(&digest(token))),
                token: None,
            },
        );
    }
}

impl TenantsFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            cache: std::sync::RwLock::new((None, HashMap::new())),
        }
    }

    /// The tenant's token digest, reading the file again if it changed.
    fn digest_of(&self, tenant: &TenantId) -> Result<Option<Digest32>, ScimError> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        // A file changed within the last 2 s is read again whatever its
        // time says: two writes within one tick of a coarse clock (or of a
        // filesystem's timestamps) would look alike.
        let settled = modified
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(2));
        if let Ok(cache) = self.cache.read() {
            if cache.0 == modified && settled {
                return Ok(cache.1.get(tenant).copied());
            }
        }
        let digests = match TenantsFileDoc::read(&self.path) {
            Ok(doc) => doc.digests(),
            Err(e) => {
                tracing::error!(error = %e, "the tenants file cannot be read");
                return Err(ScimError::unavailable());
            }
        };
        let found = digests.get(tenant).copied();
        if let Ok(mut cache) = self.cache.write() {
            *cache = (modified, digests);
        }
        Ok(found)
    }
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

/// Stores a fresh random token as a new tenant's secret (CreateSecret) and
/// returns it; refuses a tenant whose secret exists.
pub async fn create_tenant_secret(
    client: &aws_sdk_secretsmanager::Client,
    prefix: &str,
    tenant: &TenantId,
) -> Result<String, String> {
    let token = generate_token()?;
    let name = tenant_secret_name(prefix, tenant);
    client
        .create_secret()
        .name(&name)
        .description(format!("Bearer token of SCIM tenant {tenant}"))
        .secret_string(&token)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_exists_exception())
            {
                format!("tenant '{tenant}' already exists (secret {name}); rotate its token with `rotate-token --tenant {tenant}`")
            } else {
                format!(
                    "creating the secret {name} failed: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                )
            }
        })?;
    Ok(token)
}

/// Deletes a tenant's secret at once (no recovery window: its tokens stop
/// working within the cache lifetime). A secret already gone is fine, so
/// that a removal can be run again.
pub async fn delete_tenant_secret(
    client: &aws_sdk_secretsmanager::Client,
    prefix: &str,
    tenant: &TenantId,
) -> Result<(), String> {
    let name = tenant_secret_name(prefix, tenant);
    match client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(format!(
            "deleting the secret {name} failed: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
        )),
    }
}

/// The tenants that have a secret under the prefix (ListSecrets, by name).
pub async fn list_tenant_secrets(
    client: &aws_sdk_secretsmanager::Client,
    prefix: &str,
) -> Result<Vec<String>, String> {
    use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
    let mut names = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .list_secrets()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(prefix)
                    .build(),
            )
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "listing the secrets under {prefix} failed: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                )
            })?;
        names.extend(
            out.secret_list()
                .iter()
                .filter_map(|s| s.name()?.strip_prefix(prefix))
                .filter(|t| TenantId::parse(t).is_ok())
                .map(str::to_string),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    names.sort();
    Ok(names)
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

    fn named(t: &str) -> Tenant {
        Tenant::Named(TenantId::parse(t).unwrap())
    }

    #[tokio::test]
    async fn a_tenants_token_opens_that_tenant_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenants.json");
        let mut doc = TenantsFileDoc::default();
        let acme = doc.add(&TenantId::parse("acme").unwrap()).unwrap();
        let globex = doc.add(&TenantId::parse("globex").unwrap()).unwrap();
        doc.write(&path).unwrap();
        let auth = Auth::fixed("single".into())
            .with_tenants(Tenants::File(TenantsFile::new(path.clone())));
        let check = |token: String, tenant: Tenant| {
            let auth = &auth;
            async move {
                auth.check(Some(&format!("Bearer {token}")), &tenant)
                    .await
                    .map_err(|e| e.status)
            }
        };
        assert_eq!(check(acme.clone(), named("acme")).await, Ok(()));
        assert_eq!(check(globex.clone(), named("globex")).await, Ok(()));
        assert_eq!(check(acme.clone(), named("globex")).await, Err(401));
        assert_eq!(check(globex.clone(), named("acme")).await, Err(401));
        assert_eq!(check(acme.clone(), Tenant::Default).await, Err(401));
        assert_eq!(check("single".into(), named("acme")).await, Err(401));
        assert_eq!(check(acme.clone(), named("initech")).await, Err(401));
        assert_eq!(check("single".into(), Tenant::Default).await, Ok(()));
        // Only digests are written down.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&acme) && text.contains(&hex(&digest(&acme))));
    }

    #[tokio::test]
    async fn a_running_server_sees_tenants_added_and_removed_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenants.json");
        let auth = Auth::tenants_only().with_tenants(Tenants::File(TenantsFile::new(path.clone())));
        let acme = TenantId::parse("acme").unwrap();
        let mut doc = TenantsFileDoc::read(&path).unwrap();
        let token = doc.add(&acme).unwrap();
        let bearer = format!("Bearer {token}");
        assert_eq!(
            auth.check(Some(&bearer), &named("acme"))
                .await
                .map_err(|e| e.status),
            Err(401)
        );
        doc.write(&path).unwrap();
        assert!(auth.check(Some(&bearer), &named("acme")).await.is_ok());
        // A file written by hand may hold the token itself.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, r#"{"tenants": {"acme": {"token": "by-hand"}}}"#).unwrap();
        assert!(
            auth.check(Some("Bearer by-hand"), &named("acme"))
                .await
                .is_ok()
        );
        assert_eq!(
            auth.check(Some(&bearer), &named("acme"))
                .await
                .map_err(|e| e.status),
            Err(401)
        );
        assert!(doc.add(&acme).is_err(), "a tenant is added once");
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
