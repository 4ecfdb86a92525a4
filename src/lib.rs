//! scim-lambda: a SCIM 2.0 service provider (RFC 7643/7644) that runs on AWS
//! Lambda behind API Gateway, or locally, over one router and one table.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod admin;
pub mod auth;
pub mod aws;
pub mod config;
pub mod events;
pub mod http;
pub mod scim;
pub mod serve;
pub mod service;
pub mod store;
pub mod tenant;

use std::sync::Arc;

use axum::Router;

use crate::auth::Auth;
use crate::config::Config;
use crate::scim::schemas::Schemas;
use crate::service::Service;
use crate::store::{Directory, Table};

/// Where the bearer token of this run comes from, for the start-up message.
pub enum TokenOrigin {
    SecretsManager,
    Environment,
    /// No single-tenant token: only tenants are served.
    TenantsOnly,
    /// Generated at start; printed once so the operator can use it.
    Generated(String),
}

/// The assembled service: the router and what start-up should report.
pub struct App {
    pub router: Router,
    pub token: TokenOrigin,
    pub table: Table,
    pub schemas: Arc<Schemas>,
}

/// Opens the table: DynamoDB when `TABLE_NAME` is set, else the embedded file.
pub async fn open_table(
    config: &Config,
    aws: Option<&aws_config::SdkConfig>,
) -> Result<Table, String> {
    match (&config.table_name, aws) {
        (Some(name), Some(aws)) => {
            let client = aws::dynamodb(aws);
            Ok(Table::new(Arc::new(store::dynamo::Dynamo::new(
                client,
                name.clone(),
            ))))
        }
        (Some(_), None) => Err("TABLE_NAME is set but no AWS configuration was loaded".into()),
        (None, _) if config.on_lambda && !config.embedded_asked => Err(
            "TABLE_NAME must be set on Lambda (SCIM_STORE=embedded runs a local invocation on the embedded store)"
                .into(),
        ),
        (None, _) => {
            let db =
                store::embedded::Embedded::open_with_cache(&config.db_path, config.db_cache_bytes)
                    .map_err(|e| format!("cannot open {}: {e}", config.db_path.display()))?;
            Ok(Table::new(Arc::new(db)))
        }
    }
}

/// The router over a table, with the given authentication and the
/// configured schemas; an error if the declarations file cannot be used.
pub fn app_router(config: &Config, table: Table, auth: Auth) -> Result<Router, String> {
    let service = service(config, table, schemas(config)?);
    Ok(router_for(config, service, auth))
}

/// The built-in schemas and the extensions `SCIM_SCHEMA_EXTENSIONS` declares.
pub fn schemas(config: &Config) -> Result<Arc<Schemas>, String> {
    let declared = match &config.schema_extensions {
        Some(path) => scim::extensions::load(path)?,
        None => Vec::new(),
    };
    Ok(Arc::new(Schemas::with_extensions(declared)))
}

/// The service over a table, with the configured limits and these schemas.
pub fn service(config: &Config, table: Table, schemas: Arc<Schemas>) -> Service {
    let limits = config.limits;
    Service::new(Directory::new(table), limits, schemas)
}

/// The single-tenant directory's credentials from the environment (local
/// runs): the bearer token, and the Basic pair and OAuth client if set.
pub fn environment_credentials(config: &Config, token: &str) -> auth::CredentialSet {
    let mut set = auth::CredentialSet::token(token);
    let c = &config.credentials;
    if let Some((user, password)) = &c.basic {
        let mut basic = auth::Credential::new(
            "environment-basic".into(),
            auth::Kind::Basic,
            auth::Scope::ReadWrite,
            password,
            0,
        );
        basic.username = Some(user.clone());
        set.credentials.push(basic);
    }
    if let Some((id, secret)) = &c.oauth_client {
        set.credentials.push(auth::Credential::new(
            id.clone(),
            auth::Kind::OauthClient,
            auth::Scope::ReadWrite,
            secret,
            0,
        ));
    }
    set
}

/// Access tokens are signed with a key derived from the cursor key (so
/// every process of a deployment checks every other's), or with a random
/// per-process key when there is none.
fn access_tokens(config: &Config) -> auth::AccessTokens {
    let lifetime = config.credentials.access_token_lifetime;
    match &config.cursor_key {
        Some(k) => {
            use hmac::{Hmac, Mac};
            let derived = <Hmac<sha2::Sha256> as Mac>::new_from_slice(k.as_bytes())
                .map(|mut mac| {
                    mac.update(b"scim-lambda access tokens");
                    mac.finalize().into_bytes().to_vec()
                })
                .unwrap_or_default();
            auth::AccessTokens::new(&derived, lifetime)
        }
        None => auth::AccessTokens::new(&auth::random_key(), lifetime),
    }
}

/// 32 random bytes, for keys that need work only within one process.
fn random_key() -> Vec<u8> {
    let mut k = vec![0u8; 32];
    if getrandom::fill(&mut k).is_err() {
        tracing::warn!("no randomness for a key; what it signs is weakly protected");
    }
    k
}

/// Cursors are signed with `SCIM_CURSOR_KEY`, or a random per-process key.
fn cursor_codec(config: &Config) -> scim::cursor::CursorCodec {
    let key = match &config.cursor_key {
        Some(k) => k.as_bytes().to_vec(),
        None => random_key(),
    };
    scim::cursor::CursorCodec::new(key, config.cursor_ttl_seconds)
}

/// The router over a service, with the given authentication (its access
/// tokens signed and timed as the configuration says).
pub fn router_for(config: &Config, service: Service, auth: Auth) -> Router {
    let auth = auth.with_access_tokens(access_tokens(config));
    http::router(http::AppState::new(http::Shared {
        services: http::Services::new(service),
        auth: Arc::new(auth),
        base_path: config.base_path.clone(),
        max_body_bytes: config.max_body_bytes,
        cursors: cursor_codec(config),
        request_timeout: config.request_timeout,
        metrics_namespace: config.metrics_namespace.clone(),
        events: http::EventsPoll {
            config: config.events.clone(),
            // Answered before the request's own timeout cuts it.
            long_poll: events::poll::LONG_POLL.min(
                config
                    .request_timeout
                    .saturating_sub(std::time::Duration::from_secs(2)),
            ),
        },
    }))
}

impl App {
    /// Builds everything from the configuration: AWS clients only when the
    /// configuration asks for an AWS service.
    pub async fn build(config: &Config) -> Result<Self, String> {
        // First, so that a bad declarations file fails before any AWS call.
        let schemas = schemas(config)?;
        let needs_aws = config.table_name.is_some()
            || config.token_secret_id.is_some()
            || config.tenant_secret_prefix.is_some()
            || config.cursor_key_secret_id.is_some();
        let aws = if needs_aws {
            Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
        } else {
            None
        };
        let (auth, token) = match (&config.token_secret_id, &config.token, &aws) {
            (Some(id), _, Some(aws)) => {
                let client = aws::secrets_manager(aws);
                let auth = Auth::secrets_manager(client, id.clone(), config.token_ttl);
                if let Err(e) = auth.warm().await {
                    tracing::warn!(detail = %e.detail, "the token secret could not be read at start; will retry per request");
                }
                (auth, TokenOrigin::SecretsManager)
            }
            (_, Some(t), _) => (
                Auth::fixed_set(environment_credentials(config, t)),
                TokenOrigin::Environment,
            ),
            _ if config.tenant_secret_prefix.is_some() => {
                (Auth::tenants_only(), TokenOrigin::TenantsOnly)
            }
            _ if config.on_lambda => {
                return Err(
                    "on Lambda, SCIM_TOKEN_SECRET_ID (or SCIM_TOKEN), or SCIM_TENANT_SECRET_PREFIX, must be set"
                        .into(),
                );
            }
            _ => {
                let t = auth::generate_token()?;
                (
                    Auth::fixed_set(environment_credentials(config, &t)),
                    TokenOrigin::Generated(t),
                )
            }
        };
        let auth = auth.with_tenants(match (&config.tenant_secret_prefix, &aws) {
            (Some(prefix), Some(aws)) => auth::Tenants::Secrets(auth::TenantSecrets::new(
                aws::secrets_manager(aws),
                prefix.clone(),
                config.token_ttl,
            )),
            // A local invocation (on the embedded store, or with a tenants
            // file named) reads the local tenants file, as the local server
            // does; a deployed function never has one.
            _ if config.on_lambda && !config.embedded_asked && !config.tenants_file_set => {
                auth::Tenants::None
            }
            _ => auth::Tenants::File(auth::TenantsFile::new(config.tenants_file.clone())),
        });
        let mut config = config.clone();
        if let (Some(id), Some(aws)) = (&config.cursor_key_secret_id, &aws) {
            let client = aws::secrets_manager(aws);
            let key = client
                .get_secret_value()
                .secret_id(id)
                .version_stage("AWSCURRENT")
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "reading the cursor key secret failed: {}",
                        aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                    )
                })?;
            config.cursor_key = key.secret_string().map(str::to_string);
        }
        let config = &config;
        let table = open_table(config, aws.as_ref()).await?;
        let service = service(config, table.clone(), Arc::clone(&schemas));
        Ok(Self {
            router: router_for(config, service, auth),
            token,
            table,
            schemas,
        })
    }
}

/// The stream front door (`SCIM_HANDLER=stream`): batches of the table's
/// stream records, as Lambda hands them over, become events on the bus.
pub async fn run_stream(config: &Config) -> Result<(), lambda_http::Error> {
    use aws_lambda_events::dynamodb::Event;
    use lambda_http::lambda_runtime::{LambdaEvent, run, service_fn};
    let schemas = schemas(config)?;
    let bus = config
        .events
        .bus_name
        .clone()
        .ok_or("SCIM_HANDLER=stream needs SCIM_EVENT_BUS_NAME")?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut sink =
        events::eventbridge::Bus::new(aws::eventbridge(&aws), bus, config.events.source.clone());
    if let Some(url) = &config.events.dead_letter_queue_url {
        sink = sink.with_dead_letters(aws::sqs(&aws), url.clone());
    }
    let base = config.events.issuer.clone().ok_or(
        "SCIM_HANDLER=stream needs SCIM_EVENT_ISSUER (the API's base URL, the events' iss)",
    )?;
    let issuer = events::Issuer::new(&config.events, schemas, &base);
    let (sink, issuer) = (&sink, &issuer);
    run(service_fn(move |ev: LambdaEvent<Event>| async move {
        let deadline = ev.context.deadline();
        Ok::<_, lambda_http::Error>(
            events::stream::handle_until(&ev.payload, issuer, sink, Some(deadline)).await,
        )
    }))
    .await
}

pub use events::local::deliver_events;
