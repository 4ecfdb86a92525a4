//! The operator's writes to Secrets Manager: a token rotated into a secret,
//! and tenants' secrets created, deleted and listed. The request path only
//! reads secrets (`auth::secret`), so none of this is built into its checks.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};

use crate::auth::{generate_token, tenant_secret_name};
use crate::tenant::TenantId;

/// Stores a fresh random token as the secret's current value
/// (PutSecretValue; the previous value becomes `AWSPREVIOUS`) and returns it.
pub async fn rotate_token(client: &Client, secret_id: &str) -> Result<String, String> {
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
                DisplayErrorContext(&e)
            )
        })?;
    Ok(token)
}

/// Stores a fresh random token as a new tenant's secret (CreateSecret) and
/// returns it; refuses a tenant whose secret exists.
pub async fn create_tenant_secret(
    client: &Client,
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
                format!("creating the secret {name} failed: {}", DisplayErrorContext(&e))
            }
        })?;
    Ok(token)
}

/// Deletes a tenant's secret at once (no recovery window: its tokens stop
/// working within the cache lifetime). A secret already gone is fine, so
/// that a removal can be run again.
pub async fn delete_tenant_secret(
    client: &Client,
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
            DisplayErrorContext(&e)
        )),
    }
}

/// The tenants that have a secret under the prefix (ListSecrets, by name).
pub async fn list_tenant_secrets(client: &Client, prefix: &str) -> Result<Vec<String>, String> {
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
                    DisplayErrorContext(&e)
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
