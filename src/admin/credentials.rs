//! `credentials add|list|revoke|rotate`: a directory's credentials (the
//! single-tenant directory's, or a tenant's with `--tenant`), kept where
//! its token is: its Secrets Manager secret (`SCIM_TOKEN_SECRET_ID`, or
//! `<SCIM_TENANT_SECRET_PREFIX><tenant>`), else the local tenants file.
//! Secrets are printed once; only their digests are stored.

use clap::{Args, Subcommand};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Error, aws, secrets};
use crate::auth::{self, Credential, CredentialSet, Kind, Scope, TenantsFileDoc, unix_now};
use crate::config::Config;
use crate::tenant::{Tenant, TenantId};

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Adds a credential and prints its secret once.
    ///
    /// bearer: a token for `Authorization: Bearer` (Entra ID's "Secret
    /// Token", Okta's header token). basic: a username and password for
    /// HTTP Basic (Okta, ConnId). oauth-client: a client id and secret for
    /// the token endpoint <base>/oauth2/token (Entra ID's OAuth2 client
    /// credentials grant, ConnId's clientId/clientSecret); its secret
    /// expires after SCIM_CLIENT_SECRET_DAYS (730) unless --expires-days.
    Add(Add),
    /// Lists the directory's credentials (never their secrets).
    List(Which),
    /// Removes a credential: it opens nothing once running servers have
    /// read the change (at once locally; within SCIM_TOKEN_TTL_SECONDS on
    /// Lambda, which also bounds an OAuth client's access tokens).
    Revoke(Target),
    /// Gives a credential a new secret, printed once; the old one keeps
    /// working for --overlap-hours (24), then only the new one does.
    Rotate(Rotate),
}

#[derive(Debug, Args)]
pub struct Which {
    /// A tenant's directory instead of the single-tenant one.
    #[arg(long, value_name = "TENANT", value_parser = TenantId::parse)]
    tenant: Option<TenantId>,
}

#[derive(Debug, Args)]
pub struct Add {
    #[arg(long, value_enum)]
    kind: Kind,
    /// read-only may GET and POST .search; every write gets 403.
    #[arg(long, value_enum, default_value = "read-write")]
    scope: Scope,
    /// basic: the username (default: the credential's id).
    #[arg(long, value_name = "NAME")]
    username: Option<String>,
    /// Days until the credential expires (oauth-client: 365 to 1095).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u64).range(1..=36_500))]
    expires_days: Option<u64>,
    /// The deployment's SCIM base URL, for the token endpoint printed
    /// (default: the local server's).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    #[command(flatten)]
    which: Which,
}

#[derive(Debug, Args)]
pub struct Target {
    /// The credential's id (`credentials list` shows them).
    id: String,
    #[command(flatten)]
    which: Which,
}

#[derive(Debug, Args)]
pub struct Rotate {
    /// The credential's id.
    id: String,
    /// Hours the old secret keeps working (0: it stops at once), never
    /// past the credential's expiry.
    #[arg(long, value_name = "HOURS", default_value_t = 24, value_parser = clap::value_parser!(u64).range(0..=8_760))]
    overlap_hours: u64,
    #[command(flatten)]
    which: Which,
}

/// Where a directory's credentials are kept.
enum Store {
    Secret {
        client: aws_sdk_secretsmanager::Client,
        id: String,
    },
    File {
        path: std::path::PathBuf,
        tenant: Tenant,
    },
}

impl Store {
    async fn of(which: &Which, config: &Config) -> Result<Self, Error> {
        let secret = match (&which.tenant, &config.tenant_secret_prefix) {
            (Some(t), Some(prefix)) => Some(auth::tenant_secret_name(prefix, t)),
            (Some(_), None) => None,
            (None, _) => config.token_secret_id.clone(),
        };
        Ok(match secret {
            Some(id) => Self::Secret {
                client: crate::aws::secrets_manager(&aws().await),
                id,
            },
            None => Self::File {
                path: config.tenants_file.clone(),
                tenant: which.tenant.clone().map_or(Tenant::Default, Tenant::Named),
            },
        })
    }

    fn name(&self) -> String {
        match self {
            Self::Secret { id, .. } => format!("secret {id}"),
            Self::File { path, .. } => path.display().to_string(),
        }
    }

    async fn read(&self) -> Result<CredentialSet, Error> {
        match self {
            Self::Secret { client, id } => secrets::read_credentials(client, id)
                .await?
                .ok_or_else(|| format!("there is no secret {id}").into()),
            Self::File { path, tenant } => {
                let doc = TenantsFileDoc::read(path)?;
                match tenant {
                    Tenant::Default => Ok(doc.directory.unwrap_or_default()),
                    Tenant::Named(t) => doc
                        .tenants
                        .get(t.as_str())
                        .map(auth::TenantEntry::set)
                        .ok_or_else(|| format!("no tenant '{t}' in {}", path.display()).into()),
                }
            }
        }
    }

    async fn write(&self, set: &CredentialSet) -> Result<(), Error> {
        match self {
            Self::Secret { client, id } => Ok(secrets::write_credentials(client, id, set).await?),
            Self::File { path, tenant } => {
                let mut doc = TenantsFileDoc::read(path)?;
                match tenant {
                    Tenant::Default => doc.directory = Some(set.clone()),
                    Tenant::Named(t) => {
                        let entry = doc.tenants.entry(t.to_string()).or_default();
                        // The token, if it had one, is among the credentials now.
                        entry.token_sha256 = None;
                        entry.token = None;
                        entry.credentials = set.credentials.clone();
                    }
                }
                Ok(doc.write(path)?)
            }
        }
    }
}

impl CredentialsCommand {
    pub async fn run(self, config: &Config) -> Result<(), Error> {
        match self {
            Self::Add(args) => add(args, config).await,
            Self::List(which) => list(&which, config).await,
            Self::Revoke(args) => revoke(args, config).await,
            Self::Rotate(args) => rotate(args, config).await,
        }
    }
}

const DAY: u64 = 86_400;

/// A new credential id: 16 hex digits (an OAuth client's client_id).
fn new_id() -> Result<String, Error> {
    Ok(auth::generate_token()?[..16].to_string())
}

/// How long a new secret of this kind lasts, in days.
fn lifetime_days(kind: Kind, asked: Option<u64>, config: &Config) -> Result<Option<u64>, Error> {
    match (kind, asked) {
        (Kind::OauthClient, Some(d)) if !(365..=1095).contains(&d) => {
            Err("an OAuth client's secret lasts 365 to 1095 days (1 to 3 years)".into())
        }
        (Kind::OauthClient, d) => Ok(Some(d.unwrap_or(config.credentials.client_secret_days))),
        (_, d) => Ok(d),
    }
}

async fn add(args: Add, config: &Config) -> Result<(), Error> {
    let store = Store::of(&args.which, config).await?;
    let mut set = store.read().await?;
    let now = unix_now();
    let id = new_id()?;
    let secret = auth::generate_token()?;
    let mut c = Credential::new(id.clone(), args.kind, args.scope, &secret, now);
    c.expires = lifetime_days(args.kind, args.expires_days, config)?.map(|d| now + d * DAY);
    match (&args.username, args.kind) {
        (Some(u), Kind::Basic) if u.is_empty() || u.contains(':') => {
            return Err("a Basic username is not empty and has no colon".into());
        }
        (Some(_), Kind::Bearer | Kind::OauthClient) => {
            return Err("--username is for --kind basic".into());
        }
        (u, _) => c.username = u.clone(),
    }
    let taken = set.credentials.iter().any(|o| {
        o.kind == Kind::Basic
            && c.kind == Kind::Basic
            && o.username == c.username
            && o.username.is_some()
    });
    if taken {
        return Err("that Basic username is taken in this directory".into());
    }
    let expires = c.expires;
    set.credentials.push(c);
    store.write(&set).await?;
    let base = match args.base_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("http://{}{}", config.listen_addr, config.base_path),
    };
    let tenant_path = args
        .which
        .tenant
        .map(|t| format!("/{t}"))
        .unwrap_or_default();
    match args.kind {
        Kind::Bearer => println!("Bearer token:    {secret}"),
        Kind::Basic => {
            println!(
                "Username:        {}",
                args.username.as_deref().unwrap_or(&id)
            );
            println!("Password:        {secret}");
        }
        Kind::OauthClient => {
            println!("Token endpoint:  {base}{tenant_path}/oauth2/token");
            println!("Client ID:       {id}");
            println!("Client secret:   {secret}");
        }
    }
    eprintln!(
        "Credential {id} ({}, {}) added to {}{}. Its secret is shown only now.",
        args.kind.as_str(),
        args.scope.as_str(),
        store.name(),
        expires
            .map(|e| format!("; it expires {}", date(e)))
            .unwrap_or_default()
    );
    Ok(())
}

/// Unix seconds as an RFC 3339 time.
fn date(unix: u64) -> String {
    OffsetDateTime::from_unix_timestamp(unix as i64)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

async fn list(which: &Which, config: &Config) -> Result<(), Error> {
    let store = Store::of(which, config).await?;
    let set = store.read().await?;
    let now = unix_now();
    println!(
        "ID                KIND          SCOPE       NAME              EXPIRES                OLD SECRET UNTIL"
    );
    for c in &set.credentials {
        let expires = match c.expires {
            Some(e) if e <= now => format!("expired {}", date(e)),
            Some(e) => date(e),
            None => "-".into(),
        };
        let previous = match &c.previous {
            Some(p) if p.until > now => date(p.until),
            _ => "-".into(),
        };
        let name = match c.kind {
            Kind::Basic => c.username.clone().unwrap_or_else(|| c.id.clone()),
            Kind::OauthClient => c.id.clone(),
            Kind::Bearer => "-".into(),
        };
        println!(
            "{:<17} {:<13} {:<11} {:<17} {:<22} {}",
            c.id,
            c.kind.as_str(),
            c.scope.as_str(),
            name,
            expires,
            previous
        );
    }
    Ok(())
}

async fn revoke(args: Target, config: &Config) -> Result<(), Error> {
    let store = Store::of(&args.which, config).await?;
    let mut set = store.read().await?;
    let before = set.credentials.len();
    set.credentials.retain(|c| c.id != args.id);
    if set.credentials.len() == before {
        return Err(format!("no credential '{}' in {}", args.id, store.name()).into());
    }
    store.write(&set).await?;
    eprintln!(
        "Credential {} revoked. Running servers refuse it once they read {} (Lambda: within SCIM_TOKEN_TTL_SECONDS).{}",
        args.id,
        store.name(),
        if set.credentials.is_empty() {
            " The directory has no credential left: nothing opens it."
        } else {
            ""
        }
    );
    Ok(())
}

async fn rotate(args: Rotate, config: &Config) -> Result<(), Error> {
    let store = Store::of(&args.which, config).await?;
    let mut set = store.read().await?;
    let now = unix_now();
    let until = now + args.overlap_hours.saturating_mul(3600);
    let secret = auth::generate_token()?;
    let Some(c) = set.get_mut(&args.id) else {
        return Err(format!("no credential '{}' in {}", args.id, store.name()).into());
    };
    if let Some(running) = c.overlap_until(now).filter(|_| args.overlap_hours > 0) {
        // One previous secret is kept: rotating again would end the one the
        // IdP may still hold.
        return Err(format!(
            "credential {}'s previous secret works until {}: rotating now would end it at once; \
             wait for that, or rotate with --overlap-hours 0 to end both old secrets now",
            args.id,
            date(running)
        )
        .into());
    }
    c.rotate(&secret, now, until);
    if c.kind == Kind::OauthClient {
        // A new client secret gets a lifetime of its own.
        c.expires = Some(now + config.credentials.client_secret_days * DAY);
    }
    let kind = c.kind;
    store.write(&set).await?;
    match kind {
        Kind::Bearer => println!("Bearer token:    {secret}"),
        Kind::Basic => println!("Password:        {secret}"),
        Kind::OauthClient => println!("Client secret:   {secret}"),
    }
    let overlap = match set.get_mut(&args.id).and_then(|c| c.overlap_until(now)) {
        Some(until) => format!("the old one works until {}", date(until)),
        None => "the old one stops at once".into(),
    };
    eprintln!(
        "Credential {} has a new secret, shown only now; {overlap}.",
        args.id
    );
    Ok(())
}
