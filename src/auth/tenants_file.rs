//! The local credentials file (the tenants file), as the request path
//! reads it: each tenant's credentials, and those the commands gave the
//! single-tenant directory, read again whenever the file changes. The
//! operator's writes to it are beside the commands (`admin::tenants_file`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::credential::{Credential, CredentialSet, Kind, LEGACY_TOKEN_ID, Scope};
use super::{digest, from_hex, hex};
use crate::scim::ScimError;
use crate::tenant::{Tenant, TenantId};

/// Credentials on a laptop: a JSON file, `{"tenants": {"acme":
/// {"credentials": [...]}}, "directory": {"credentials": [...]}}`, where a
/// tenant's entry may instead hold one token's digest (`"token_sha256":
/// "<hex>"`, as earlier releases wrote) or, written by hand, the token
/// itself (`"token": "<plain>"`). The commands write it; it is read again
/// whenever it changes, so a running server sees new credentials at once.
pub struct TenantsFile {
    path: PathBuf,
    cache: std::sync::RwLock<(Option<SystemTime>, Sets)>,
}

type Sets = HashMap<Tenant, Arc<CredentialSet>>;

/// The tenants file as stored.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct TenantsFileDoc {
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantEntry>,
    /// The single-tenant directory's credentials (beside those of the
    /// environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<CredentialSet>,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct TenantEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<Credential>,
}

impl TenantEntry {
    /// The entry's credentials: its token (if it has one, as the bearer
    /// credential `token`) and the rest.
    pub fn set(&self) -> CredentialSet {
        let token = match (&self.token_sha256, &self.token) {
            (Some(h), _) => from_hex(h).map(|d| hex(&d)),
            (None, Some(t)) if !t.trim().is_empty() => Some(hex(&digest(t.trim()))),
            _ => None,
        };
        let legacy = token.map(|secret_sha256| Credential {
            secret_sha256,
            ..Credential::new(
                LEGACY_TOKEN_ID.into(),
                Kind::Bearer,
                Scope::ReadWrite,
                "",
                0,
            )
        });
        CredentialSet {
            credentials: legacy
                .into_iter()
                .chain(self.credentials.iter().cloned())
                .collect(),
        }
    }
}

impl TenantsFileDoc {
    /// Reads the file; a missing file has no tenants.
    pub fn read(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            // Where, not what: the text may hold secrets.
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                format!(
                    "{} is not a tenants file (line {}, column {})",
                    path.display(),
                    e.line(),
                    e.column()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// The credentials of each valid tenant, and of the single-tenant
    /// directory.
    fn sets(&self) -> Sets {
        let tenants = self.tenants.iter().filter_map(|(name, entry)| {
            let tenant = TenantId::parse(name).ok()?;
            Some((Tenant::Named(tenant), Arc::new(entry.set())))
        });
        let directory = self
            .directory
            .clone()
            .map(|set| (Tenant::Default, Arc::new(set)));
        tenants.chain(directory).collect()
    }
}

impl TenantsFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            cache: std::sync::RwLock::new((None, HashMap::new())),
        }
    }
    /// The directory's credentials, reading the file again if it changed.
    pub(super) fn set_of(&self, tenant: &Tenant) -> Result<Option<Arc<CredentialSet>>, ScimError> {
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
                return Ok(cache.1.get(tenant).cloned());
            }
        }
        let sets = match TenantsFileDoc::read(&self.path) {
            Ok(doc) => doc.sets(),
            Err(e) => {
                tracing::error!(error = %e, "the tenants file cannot be read");
                return Err(ScimError::unavailable());
            }
        };
        let found = sets.get(tenant).cloned();
        if let Ok(mut cache) = self.cache.write() {
            *cache = (modified, sets);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Auth, Tenants, hex};
    use crate::tenant::Tenant;

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
                    .map(|_| ())
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
    async fn a_broken_file_leaves_the_single_tenant_directory_its_own_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenants.json");
        std::fs::write(
            &path,
            r#"{"tenants": {"acme": {"token": "secret-in-a-broken-file"#,
        )
        .unwrap();
        let auth = Auth::fixed("single".into()).with_tenants(Tenants::File(TenantsFile::new(path)));
        let status = |h: &'static str, t: Tenant| {
            let auth = &auth;
            async move {
                auth.check(Some(h), &t)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.status)
            }
        };
        assert_eq!(status("Bearer single", Tenant::Default).await, Ok(()));
        assert_eq!(status("Bearer wrong", Tenant::Default).await, Err(401));
        // A tenant's directory cannot be answered for: a fault, not a 401.
        assert_eq!(status("Bearer x", named("acme")).await, Err(503));
        let e = TenantsFileDoc::read(&dir.path().join("tenants.json")).unwrap_err();
        assert!(e.contains("line 1") && !e.contains("secret-in"), "{e}");
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
}
