//! The operator's writes to the local tenants file: a tenant added, a token
//! set, the file written back. The request path only reads the file
//! (`auth::tenants_file`); these methods live here so that it carries none
//! of them.

use std::path::Path;

use crate::auth::{LEGACY_TOKEN_ID, TenantsFileDoc, digest, generate_token, hex};
use crate::tenant::TenantId;

impl TenantsFileDoc {
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
        let entry = self.tenants.entry(tenant.to_string()).or_default();
        entry.token_sha256 = Some(hex(&digest(token)));
        entry.token = None;
        // The token it had, whichever way it was kept, is replaced.
        entry.credentials.retain(|c| c.id != LEGACY_TOKEN_ID);
    }
}
