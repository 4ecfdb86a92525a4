//! `tenant add|list|remove`: a tenant's token created, listed or revoked,
//! and a removed tenant's items deleted in resumable rounds.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use super::{Error, aws, aws_if_needed, secrets};
use crate::auth::{self, TenantsFileDoc};
use crate::config::Config;
use crate::store::{DirError, Directory};
use crate::tenant::{Tenant, TenantId};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Adds a tenant: a fresh token, stored and printed once with the
    /// tenant's SCIM URL.
    ///
    /// The token goes to the secret <SCIM_TENANT_SECRET_PREFIX><TENANT>, or
    /// (its digest) to the tenants file. An id whose items from an earlier
    /// tenant are not all gone is refused.
    Add(Add),
    /// Lists the tenants that have a token.
    List,
    /// Revokes a tenant's token, then deletes all its items.
    ///
    /// Items go in rounds of about --batch until none is left; run it again
    /// to resume one cut short. With tokens in Secrets Manager, running
    /// functions may accept a cached token for SCIM_TOKEN_TTL_SECONDS after
    /// its secret is gone, and finish a request for
    /// SCIM_REQUEST_TIMEOUT_SECONDS, so the command waits that long before
    /// it deletes anything (unless --no-wait).
    Remove(Remove),
}

#[derive(Debug, Args)]
pub struct Add {
    /// The tenant id: 1 to 63 of a-z, 0-9 and inner -.
    #[arg(value_parser = TenantId::parse)]
    tenant: TenantId,
    /// The deployment's SCIM base URL, for the tenant URL printed
    /// (default: the local server's).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct Remove {
    /// The tenant id.
    #[arg(value_parser = TenantId::parse)]
    tenant: TenantId,
    /// About how many items a round deletes.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = positive)]
    batch: usize,
    /// Then Scan the whole table for the tenant's items no index leads to.
    #[arg(long)]
    sweep: bool,
    /// Delete at once, without waiting out the token cache.
    #[arg(long)]
    no_wait: bool,
}

fn positive(s: &str) -> Result<usize, String> {
    s.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| "a positive whole number is needed".into())
}

impl TenantCommand {
    pub async fn run(self, config: &Config) -> Result<(), Error> {
        match self {
            Self::Add(args) => add(args, config).await,
            Self::List => list(config).await,
            Self::Remove(args) => remove(args, config).await,
        }
    }
}

/// A fresh token for a new tenant, stored (its secret, or its digest in the
/// tenants file) and printed once with the tenant's SCIM URL.
async fn add(args: Add, config: &Config) -> Result<(), Error> {
    let tenant = args.tenant;
    let base = match args.base_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("http://{}{}", config.listen_addr, config.base_path),
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
        Err(e) => Err(format!("checking for items of '{tenant}' failed: {}", describe(&e)).into()),
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

/// The token first, so that nothing new is written meanwhile; then, once no
/// running function can still accept it, the items.
async fn remove(args: Remove, config: &Config) -> Result<(), Error> {
    let tenant = args.tenant;
    if config.tenant_secret_prefix.is_some() && config.table_name.is_none() {
        return Err(
            "SCIM_TENANT_SECRET_PREFIX is set but TABLE_NAME is not: set it to the stack's table"
                .into(),
        );
    }
    let aws = aws_if_needed(config).await;
    let grace = revoke(&tenant, config, aws.as_ref()).await?;
    eprintln!("Tenant {tenant}: token revoked.");
    if !args.no_wait && !grace.is_zero() {
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
    let mut total = remove_all(&dir, args.batch).await?;
    if args.sweep {
        total += sweep_all(&dir).await?;
        eprintln!("Swept the whole table.");
    }
    println!("Tenant {tenant} removed: {total} items deleted.");
    Ok(())
}

/// Revokes the tenant's token (its secret, or its tenants file entry); how
/// long a running function may still accept it.
async fn revoke(
    tenant: &TenantId,
    config: &Config,
    aws: Option<&aws_config::SdkConfig>,
) -> Result<Duration, Error> {
    match (&config.tenant_secret_prefix, aws) {
        (Some(prefix), Some(aws)) => {
            let client = crate::aws::secrets_manager(aws);
            secrets::delete_tenant_secret(&client, prefix, tenant).await?;
            // Running functions may hold the token for the TTL, and a
            // request they accepted may run for the request timeout.
            Ok(config.token_ttl + config.request_timeout)
        }
        _ => {
            let mut doc = TenantsFileDoc::read(&config.tenants_file)?;
            if doc.tenants.remove(tenant.as_str()).is_some() {
                doc.write(&config.tenants_file)?;
            }
            // A local server reads the file again on its next request.
            Ok(Duration::ZERO)
        }
    }
}

/// A directory error in words, for the operator (a client never sees it).
fn describe(e: &DirError) -> String {
    match e {
        DirError::UserNameTaken => "a userName is taken".into(),
        DirError::VersionMismatch | DirError::OtherChanged => "an item changed meanwhile".into(),
        DirError::Store(e) => e.to_string(),
    }
}

/// Removal rounds until the directory is empty; the items deleted.
pub async fn remove_all(dir: &Directory, batch: usize) -> Result<usize, Error> {
    let mut total = 0;
    let mut reported = Instant::now();
    loop {
        let round = dir.remove_some(batch).await.map_err(|e| {
            format!(
                "removal stopped ({}); run the command again to resume",
                describe(&e)
            )
        })?;
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
        let (n, next) = dir.sweep_some(after.as_ref()).await.map_err(|e| {
            format!(
                "the sweep stopped ({}); run the command again",
                describe(&e)
            )
        })?;
        total += n;
        match next {
            Some(k) => after = Some(k),
            None => return Ok(total),
        }
    }
}
