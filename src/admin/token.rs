//! `rotate-token`: a new token for the single-tenant directory or for one
//! tenant, stored where the service reads it and printed once.

use clap::Args;

use super::{Error, aws, secrets};
use crate::auth::{self, TenantsFileDoc};
use crate::config::Config;
use crate::tenant::TenantId;

#[derive(Debug, Args)]
pub struct RotateToken {
    /// The secret to store the token in (default: SCIM_TOKEN_SECRET_ID).
    #[arg(long, value_name = "ID", conflicts_with = "tenant")]
    secret_id: Option<String>,
    /// A tenant's token instead: its secret, or its tenants file entry.
    #[arg(long, value_name = "TENANT", value_parser = TenantId::parse)]
    tenant: Option<TenantId>,
}

impl RotateToken {
    pub async fn run(self, config: &Config) -> Result<(), Error> {
        if let Some(tenant) = self.tenant {
            return rotate_tenant(&tenant, config).await;
        }
        let Some(secret_id) = self.secret_id.or_else(|| config.token_secret_id.clone()) else {
            let token = auth::generate_token()?;
            println!("{token}");
            eprintln!(
                "No secret given: set SCIM_TOKEN to this token for local runs, and paste it into the IdP."
            );
            return Ok(());
        };
        let client = crate::aws::secrets_manager(&aws().await);
        let token = secrets::rotate_token(&client, &secret_id).await?;
        println!("{token}");
        eprintln!(
            "Stored in {secret_id}. Paste it into the IdP now: running functions accept it at once \
             (a token they do not know makes them re-read the secret) and drop the old one within \
             SCIM_TOKEN_TTL_SECONDS (300 s by default)."
        );
        Ok(())
    }
}

/// A tenant's new token: in its secret, else in its tenants file entry
/// (which must exist: rotating is not adding).
async fn rotate_tenant(tenant: &TenantId, config: &Config) -> Result<(), Error> {
    let token = match &config.tenant_secret_prefix {
        Some(prefix) => {
            let client = crate::aws::secrets_manager(&aws().await);
            let name = auth::tenant_secret_name(prefix, tenant);
            secrets::rotate_token(&client, &name).await?
        }
        None => {
            let mut doc = TenantsFileDoc::read(&config.tenants_file)?;
            if !doc.tenants.contains_key(tenant.as_str()) {
                return Err(
                    format!("no tenant '{tenant}' in {}", config.tenants_file.display()).into(),
                );
            }
            let token = auth::generate_token()?;
            doc.set_token(tenant, &token);
            doc.write(&config.tenants_file)?;
            token
        }
    };
    println!("{token}");
    eprintln!("New token of tenant {tenant}. Paste it into the tenant's IdP now.");
    Ok(())
}
