//! The operator's writes to Secrets Manager: a directory's credentials read
//! and written back whole (each write a new version, `AWSCURRENT`; the one
//! before stays as `AWSPREVIOUS`), a token rotated into a secret, and
//! tenants' secrets created, deleted and listed. The request path only
//! reads secrets (`auth::secret`), so none of this is built into its checks.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};

use crate::auth::{
    Credential, CredentialSet, Kind, LEGACY_TOKEN_ID, Scope, generate_token, tenant_secret_name,
    unix_now,
};
use crate::tenant::TenantId;

/// The credentials in the secret's current version; `None` if there is no
/// such secret.
pub async fn read_credentials(
    client: &Client,
    secret_id: &str,
) -> Result<Option<CredentialSet>, String> {
    match client
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage("AWSCURRENT")
        .send()
        .await
    {
        Ok(out) => CredentialSet::from_secret_strictly(out.secret_string().unwrap_or(""))
            .map(Some)
            .map_err(|e| format!("{secret_id}: {e}")),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(format!(
            "reading {secret_id} failed: {}",
            DisplayErrorContext(&e)
        )),
    }
}

/// Stores the credentials as the secret's new current version.
pub async fn write_credentials(
    client: &Client,
    secret_id: &str,
    set: &CredentialSet,
) -> Result<(), String> {
    put(client, secret_id, &set.to_json()).await
}

async fn put(client: &Client, secret_id: &str, value: &str) -> Result<(), String> {
    client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(value)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "storing the new value of {secret_id} failed: {}",
                DisplayErrorContext(&e)
            )
        })
}

/// Stores a fresh random token as the secret's current value and returns
/// it; the old token stops working within the cache lifetime. A secret
/// holding a bare token gets the bare new one (PutSecretValue; the previous
/// value becomes `AWSPREVIOUS`); a secret holding credentials keeps them,
/// with the bearer credential `token` given the new token's digest.
pub async fn rotate_token(client: &Client, secret_id: &str) -> Result<String, String> {
    let token = generate_token()?;
    let current = client
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage("AWSCURRENT")
        .send()
        .await;
    let current = match current {
        Ok(out) => out.secret_string().map(str::to_string),
        // PutSecretValue says what is wrong with a secret that is not there.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            None
        }
        // Writing without knowing what is there could drop credentials.
        Err(e) => {
            return Err(format!(
                "reading {secret_id} failed: {}",
                DisplayErrorContext(&e)
            ));
        }
    };
    let Some(document) = current.filter(|s| CredentialSet::is_document(s)) else {
        put(client, secret_id, &token).await?;
        return Ok(token);
    };
    let mut set =
        CredentialSet::from_secret_strictly(&document).map_err(|e| format!("{secret_id}: {e}"))?;
    let now = unix_now();
    set.credentials.retain(|c| c.id != LEGACY_TOKEN_ID);
    set.credentials.push(Credential::new(
        LEGACY_TOKEN_ID.into(),
        Kind::Bearer,
        Scope::ReadWrite,
        &token,
        now,
    ));
    write_credentials(client, secret_id, &set).await?;
    Ok(token)
}

/// Stores a fresh random token as a new tenant's secret (CreateSecret; its
/// digest only, as the read-write bearer credential `token`) and returns
/// it; refuses a tenant whose secret exists.
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
        .description(format!("Credentials of SCIM tenant {tenant}"))
        .secret_string(CredentialSet::token(&token).to_json())
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
