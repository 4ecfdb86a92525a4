//! The operator's commands: `rotate-token`, and `tenant add|remove|list`.
//! Tenants' tokens live in Secrets Manager when `SCIM_TENANT_SECRET_PREFIX`
//! is set (one secret a tenant), else in the local tenants file.

use std::time::{Duration, Instant};

pub mod secrets;
mod tenants_file;

use crate::auth::{self, TenantsFileDoc};
use crate::config::Config;
use crate::store::Directory;
use crate::tenant::{Tenant, TenantId};

type Error = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "usage:
  scim-lambda                                   run the service
  scim-lambda rotate-token [--secret-id ID | --tenant TENANT]
  scim-lambda tenant add TENANT [--base-url URL]
  scim-lambda tenant remove TENANT [--batch N] [--sweep] [--no-wait]
  scim-lambda tenant list";

/// Runs the command named by `args` (everything after the program name).
pub async fn run(args: &[String], config: &Config) -> Result<(), Error> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["rotate-token", rest @ ..] => rotate_token(rest, config).await,
        ["tenant", "add", tenant, rest @ ..] => add(tenant, rest, config).await,
        ["tenant", "remove", tenant, rest @ ..] => remove(tenant, rest, config).await,
        ["tenant", "list"] => list(config).await,
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown command '{}'\n{USAGE}", words.join(" ")).into()),
    }
}

async fn aws() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The AWS configuration, when the table or the tenants' tokens are in AWS.
async fn aws_if_needed(config: &Config) -> Option<aws_config::SdkConfig> {
    match config.table_name.is_some() || config.tenant_secret_prefix.is_some() {
        true => Some(aws().await),
        false => None,
    }
}

fn tenant_id(s: &str) -> Result<TenantId, Error> {
    TenantId::parse(s).map_err(|e| format!("'{s}': {e}").into())
}

/// `rotate-token [--secret-id ID | --tenant TENANT]`: a new 256-bit token,
/// printed once to paste into the IdP. Stored in the single-tenant secret
/// (`--secret-id`, else `SCIM_TOKEN_SECRET_ID`), in a tenant's secret or
/// tenants file entry, or, with neither, only printed (for `SCIM_TOKEN`).
async fn rotate_token(args: &[&str], config: &Config) -> Result<(), Error> {
    let (secret_id, tenant) = match args {
        ["--secret-id", id] => (Some(id.to_string()), None),
        ["--tenant", t] => (None, Some(tenant_id(t)?)),
        [] => (config.token_secret_id.clone(), None),
        _ => return Err(USAGE.into()),
    };
    if let Some(tenant) = tenant {
        let token = match &config.tenant_secret_prefix {
            Some(prefix) => {
                let client = crate::aws::secrets_manager(&aws().await);
                let name = auth::tenant_secret_name(prefix, &tenant);
                secrets::rotate_token(&client, &name).await?
            }
            None => {
                let mut doc = TenantsFileDoc::read(&config.tenants_file)?;
                if !doc.tenants.contains_key(tenant.as_str()) {
                    return Err(format!(
                        "no tenant '{tenant}' in {}",
                        config.tenants_file.display()
                    )
                    .into());
                }
                let token = auth::generate_token()?;
                doc.set_token(&tenant, &token);
                doc.write(&config.tenants_file)?;
                token
            }
        };
        println!("{token}");
        eprintln!("New token of tenant {tenant}. Paste it into the tenant's IdP now.");
        return Ok(());
    }
    let Some(secret_id) = secret_id else {
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

/// `tenant add TENANT [--base-url URL]`: a fresh token for a new tenant,
/// stored (its secret, or its digest in the tenants file) and printed once
/// with the tenant's SCIM URL.
async fn add(tenant: &str, args: &[&str], config: &Config) -> Result<(), Error> {
    let tenant = tenant_id(tenant)?;
    let base = match args {
        ["--base-url", url] => url.trim_end_matches('/').to_string(),
        [] => format!("http://{}{}", config.listen_addr, config.base_path),
        _ => return Err(USAGE.into()),
    };
    let aws = aws_if_needed(config).await;
    check_no_leftovers(&tenant, config, aws.as_ref()).await?;
    let (token, stored) = match (&config.tenant_secret_prefix, &aws) {
        (Some(prefix), Some(aws)) => {
            let client = crate::aws::secrets_manager(aws);
            let token = secrets::create_tenant_secret(&client, prefix, &tenant).await?;
            (
                token,
                format!("secret {}", auth::tenant_secret_name(prefix, &tenant)),
            )
        }
        _ => {
            let mut doc = TenantsFileDoc::read(&config.tenants_file)?;
            let token = doc.add(&tenant)?;
            doc.write(&config.tenants_file)?;
            (
                token,
                format!("{} (its digest)", config.tenants_file.display()),
            )
        }
    };
    println!("Tenant URL:    {base}/{tenant}");
    println!("Bearer token:  {token}");
    eprintln!("Tenant {tenant} added; its token is in {stored}. It is shown only now.");
    Ok(())
}

/// Refuses to add a tenant whose id still has items (a removal cut short):
/// the new tenant would inherit them. Skipped, with a warning, when the
/// table cannot be opened (a local server holds the embedded file).
async fn check_no_leftovers(
    tenant: &TenantId,
    config: &Config,
    aws: Option<&aws_config::SdkConfig>,
) -> Result<(), Error> {
    let table = match crate::open_table(config, aws).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("Not checked for items left by an earlier tenant {tenant}: {e}");
            return Ok(());
        }
    };
    let dir = Directory::of(table, &Tenant::Named(tenant.clone()));
    match dir.is_empty().await {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "tenant id '{tenant}' still has items from an earlier tenant: finish its removal first (scim-lambda tenant remove {tenant})"
        )
        .into()),
        Err(e) => Err(format!("checking for items of '{tenant}' failed: {e:?}").into()),
    }
}

/// `tenant list`: the tenants that have a token.
async fn list(config: &Config) -> Result<(), Error> {
    let names: Vec<String> = match &config.tenant_secret_prefix {
        Some(prefix) => {
            let client = crate::aws::secrets_manager(&aws().await);
            secrets::list_tenant_secrets(&client, prefix).await?
        }
        None => TenantsFileDoc::read(&config.tenants_file)?
            .tenants
            .into_keys()
            .collect(),
    };
    for n in names {
        println!("{n}");
    }
    Ok(())
}

/// `tenant remove TENANT [--batch N] [--sweep] [--no-wait]`: revokes the
/// tenant's token, then deletes its items in rounds of about N (1,000 by
/// default) until none is left. Run it again to resume one cut short.
/// With `--sweep`, a Scan of the whole table then deletes anything of the
/// tenant the indexes did not lead to. With tokens in Secrets Manager,
/// running functions may accept a cached token for `SCIM_TOKEN_TTL_SECONDS`
/// after its secret is gone, and finish a request for
/// `SCIM_REQUEST_TIMEOUT_SECONDS`, so the command waits that long before it
/// deletes anything (unless `--no-wait`).
async fn remove(tenant: &str, args: &[&str], config: &Config) -> Result<(), Error> {
    let tenant = tenant_id(tenant)?;
    let mut batch = 1000usize;
    let (mut sweep, mut wait) = (false, true);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--batch" => {
                batch = rest
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--batch takes a positive whole number")?;
            }
            "--sweep" => sweep = true,
            "--no-wait" => wait = false,
            _ => return Err(USAGE.into()),
        }
    }
    if config.tenant_secret_prefix.is_some() && config.table_name.is_none() {
        return Err(
            "SCIM_TENANT_SECRET_PREFIX is set but TABLE_NAME is not: set it to the stack's table"
                .into(),
        );
    }
    let aws = aws_if_needed(config).await;
    // The token first, so that nothing new is written meanwhile.
    let grace = match (&config.tenant_secret_prefix, &aws) {
        (Some(prefix), Some(aws)) => {
            let client = crate::aws::secrets_manager(aws);
            secrets::delete_tenant_secret(&client, prefix, &tenant).await?;
            // Running functions may hold the token for the TTL, and a
            // request they accepted may run for the request timeout.
            config.token_ttl + config.request_timeout
        }
        _ => {
            let mut doc = TenantsFileDoc::read(&config.tenants_file)?;
            if doc.tenants.remove(tenant.as_str()).is_some() {
                doc.write(&config.tenants_file)?;
            }
            // A local server reads the file again on its next request.
            Duration::ZERO
        }
    };
    eprintln!("Tenant {tenant}: token revoked.");
    if wait && !grace.is_zero() {
        eprintln!(
            "Waiting {} s (SCIM_TOKEN_TTL_SECONDS and SCIM_REQUEST_TIMEOUT_SECONDS, as deployed), \
             until no running function can still accept the token, so that nothing is written \
             while the items are deleted (--no-wait skips this).",
            grace.as_secs()
        );
        tokio::time::sleep(grace).await;
    }
    let table = crate::open_table(config, aws.as_ref()).await.map_err(|e| {
        format!("{e} (the embedded store admits one process: stop the local server first)")
    })?;
    let dir = Directory::of(table, &Tenant::Named(tenant.clone()));
    let mut total = remove_all(&dir, batch).await?;
    if sweep {
        total += sweep_all(&dir).await?;
        eprintln!("Swept the whole table.");
    }
    println!("Tenant {tenant} removed: {total} items deleted.");
    Ok(())
}

/// Removal rounds until the directory is empty; the items deleted.
pub async fn remove_all(dir: &Directory, batch: usize) -> Result<usize, Error> {
    let mut total = 0;
    let mut reported = Instant::now();
    loop {
        let round = dir
            .remove_some(batch)
            .await
            .map_err(|e| format!("removal stopped ({e:?}); run the command again to resume"))?;
        total += round.deleted;
        if round.done {
            return Ok(total);
        }
        if reported.elapsed() >= Duration::from_secs(2) {
            eprintln!("  {total} items deleted so far");
            reported = Instant::now();
        }
    }
}

/// Sweeps the whole table, one Scan page at a time; the items deleted.
pub async fn sweep_all(dir: &Directory) -> Result<usize, Error> {
    let (mut total, mut after) = (0, None);
    loop {
        let (n, next) = dir
            .sweep_some(after.as_ref())
            .await
            .map_err(|e| format!("the sweep stopped ({e:?}); run the command again"))?;
        total += n;
        match next {
            Some(k) => after = Some(k),
            None => return Ok(total),
        }
    }
}
