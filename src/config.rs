//! Configuration, read from the environment once at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Running inside AWS Lambda (`AWS_LAMBDA_RUNTIME_API` is set).
    pub on_lambda: bool,
    /// `SCIM_LISTEN_ADDR`: where the local front door listens.
    pub listen_addr: SocketAddr,
    /// `SCIM_BASE_PATH`: where SCIM lives under the host, `/scim/v2` by default.
    pub base_path: String,
    /// `SCIM_TOKEN`: the bearer token (local runs).
    pub token: Option<String>,
    /// `SCIM_TOKEN_SECRET_ID`: the Secrets Manager secret holding the token.
    pub token_secret_id: Option<String>,
    /// `SCIM_TOKEN_TTL_SECONDS`: how long a token read from Secrets Manager is used
    /// before it is read again.
    pub token_ttl: Duration,
    /// `SCIM_TENANT_SECRET_PREFIX`: tenants' tokens are the Secrets Manager
    /// secrets `<prefix><tenant>` (one a tenant).
    pub tenant_secret_prefix: Option<String>,
    /// `SCIM_TENANTS_FILE`: tenants' tokens for local runs, when no secret
    /// prefix is set (`./scim-tenants.json` by default).
    pub tenants_file: PathBuf,
    /// Whether `SCIM_TENANTS_FILE` was set: under the Lambda runtime, the
    /// tenants file is read only then (a local invocation), or on the
    /// embedded store.
    pub tenants_file_set: bool,
    /// `TABLE_NAME`: the DynamoDB table; without it, the embedded store.
    pub table_name: Option<String>,
    /// `SCIM_STORE=embedded`: the embedded store asked for by name, which
    /// is what lets the Lambda front door run on it (a local invocation);
    /// on Lambda without it, a missing `TABLE_NAME` stays an error.
    pub embedded_asked: bool,
    /// `SCIM_METRICS_NAMESPACE`: each request also writes a CloudWatch
    /// embedded metric format line under this namespace (the template sets
    /// it); without it, none.
    pub metrics_namespace: Option<String>,
    /// `SCIM_DB_PATH`: the embedded store's file.
    pub db_path: PathBuf,
    /// `SCIM_MAX_BODY_BYTES`: larger request bodies get 413.
    pub max_body_bytes: usize,
    /// What one request may ask of the service, and how the service
    /// behaves (declared here once, read from the environment once).
    pub limits: ServiceLimits,
    /// `SCIM_DB_CACHE_MB`: the embedded store's page cache.
    pub db_cache_bytes: usize,
    /// `SCIM_HEADER_READ_TIMEOUT_SECONDS`: the local front door closes a
    /// connection that has not sent a request's whole head this long after
    /// it opened or its last response went out (which bounds idle
    /// keep-alive connections too).
    pub header_read_timeout: Duration,
    /// `SCIM_IDLE_TIMEOUT_SECONDS`: the local front door closes a
    /// connection on which no byte moved for this long (a stalled upload, a
    /// client that stopped reading); at least the request timeout, so a
    /// request still being worked on is answered first.
    pub idle_timeout: Duration,
    /// `SCIM_MAX_CONNECTIONS`: connections the local front door serves at
    /// once; more wait in the listen backlog, holding no file descriptor.
    pub max_connections: usize,
    /// `SCIM_REQUEST_TIMEOUT_SECONDS`: a request still running after this is
    /// answered 503 with Retry-After (under API Gateway's 29 s, so the IdP
    /// gets a SCIM error rather than a gateway timeout).
    pub request_timeout: Duration,
    /// `SCIM_CURSOR_KEY`: the key cursors are signed with. Without it, a
    /// random key per process (cursors then work only within one process).
    pub cursor_key: Option<String>,
    /// `SCIM_CURSOR_KEY_SECRET_ID`: a Secrets Manager secret holding the
    /// cursor key, read once at start (instead of `SCIM_CURSOR_KEY`).
    pub cursor_key_secret_id: Option<String>,
    /// `SCIM_CURSOR_TTL_SECONDS`: how long a cursor stays valid.
    pub cursor_ttl_seconds: u64,
    /// `SCIM_SCHEMA_EXTENSIONS`: a JSON file declaring extension schemas.
    pub schema_extensions: Option<PathBuf>,
    /// `SCIM_HANDLER`: what the process serves on Lambda: `http` (the SCIM
    /// API, by default) or `stream` (the table's stream, into events).
    pub handler: Handler,
    /// Change events: where they go and what they say.
    pub events: EventsConfig,
    /// Credentials beyond the bearer token: the environment's, and the
    /// lifetimes of what the token endpoint and the commands give out.
    pub credentials: CredentialsConfig,
}

/// Credentials the environment adds to the single-tenant directory (local
/// runs), and lifetimes.
#[derive(Debug, Clone)]
pub struct CredentialsConfig {
    /// `SCIM_BASIC_USER` and `SCIM_BASIC_PASSWORD`: an HTTP Basic pair.
    pub basic: Option<(String, String)>,
    /// `SCIM_OAUTH_CLIENT_ID` and `SCIM_OAUTH_CLIENT_SECRET`: an OAuth
    /// client of the token endpoint.
    pub oauth_client: Option<(String, String)>,
    /// `SCIM_ACCESS_TOKEN_SECONDS`: an access token's lifetime, 3600 to
    /// 21600 (1 to 6 hours; 3600 by default).
    pub access_token_lifetime: Duration,
    /// `SCIM_CLIENT_SECRET_DAYS`: how long an OAuth client's secret from
    /// `credentials add` or `rotate` lasts, 365 to 1095 (730 by default).
    pub client_secret_days: u64,
}

impl CredentialsConfig {
    fn from_env(env: &Env<'_>) -> Result<Self, String> {
        let pair = |a: &str, b: &str| match (env.var(a), env.var(b)) {
            (Some(x), Some(y)) => Ok(Some((x, y))),
            (None, None) => Ok(None),
            _ => Err(format!("{a} and {b} are set together")),
        };
        let basic = pair("SCIM_BASIC_USER", "SCIM_BASIC_PASSWORD")?;
        if basic.as_ref().is_some_and(|(u, _)| u.contains(':')) {
            return Err("SCIM_BASIC_USER cannot hold a colon (HTTP Basic splits at it)".into());
        }
        let seconds = env.number("SCIM_ACCESS_TOKEN_SECONDS", 3600)?;
        if !(3600..=21_600).contains(&seconds) {
            return Err(format!(
                "SCIM_ACCESS_TOKEN_SECONDS is 3600 to 21600 (1 to 6 hours), not {seconds}"
            ));
        }
        let days = env.number("SCIM_CLIENT_SECRET_DAYS", 730)?;
        if !(365..=1095).contains(&days) {
            return Err(format!(
                "SCIM_CLIENT_SECRET_DAYS is 365 to 1095 (1 to 3 years), not {days}"
            ));
        }
        Ok(Self {
            basic,
            oauth_client: pair("SCIM_OAUTH_CLIENT_ID", "SCIM_OAUTH_CLIENT_SECRET")?,
            access_token_lifetime: Duration::from_secs(seconds as u64),
            client_secret_days: days as u64,
        })
    }
}

/// The front door a Lambda function of this binary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Http,
    Stream,
}

/// Change events (see `events`).
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// `SCIM_EVENT_ISSUER`: the events' `iss` (the directory's base URL);
    /// locally, by default, the base URL the server prints.
    pub issuer: Option<String>,
    /// `SCIM_EVENT_AUDIENCE`: the events' `aud`; left out when unset.
    pub audience: Option<String>,
    /// `SCIM_EVENT_BUS_NAME`: the EventBridge bus the stream handler
    /// publishes to.
    pub bus_name: Option<String>,
    /// `SCIM_EVENT_SOURCE`: the entries' `source` (`scim-lambda`).
    pub source: String,
    /// `SCIM_EVENT_DEAD_LETTER_QUEUE_URL`: the SQS queue the stream handler
    /// sets aside what can never be published in (a record it cannot read,
    /// an entry the bus refuses for good).
    pub dead_letter_queue_url: Option<String>,
    /// `SCIM_EVENT_WEBHOOK_URL`: with the embedded store, the receiver each
    /// SET is pushed to (RFC 8935); `{tenant}` in it stands for the tenant.
    pub webhook_url: Option<String>,
    /// `SCIM_EVENT_SIGNING_KEY`: the HS256 key pushed (and polled) SETs are
    /// signed with; at least 32 bytes; needed with a webhook.
    pub signing_key: Option<String>,
    /// `SCIM_EVENT_RETENTION`: seconds the embedded store keeps events
    /// (delivered ones, with a webhook); 7 days by default.
    pub retention: Duration,
    /// `SCIM_EVENT_WEBHOOK_TIMEOUT_SECONDS`: how long the webhook has to
    /// answer one SET before it is sent again (10 s).
    pub webhook_timeout: Duration,
}

impl EventsConfig {
    fn from_env(env: &Env<'_>) -> Result<Self, String> {
        let c = Self {
            issuer: env.var("SCIM_EVENT_ISSUER"),
            audience: env.var("SCIM_EVENT_AUDIENCE"),
            bus_name: env.var("SCIM_EVENT_BUS_NAME"),
            source: env
                .var("SCIM_EVENT_SOURCE")
                .unwrap_or_else(|| "scim-lambda".into()),
            dead_letter_queue_url: env.var("SCIM_EVENT_DEAD_LETTER_QUEUE_URL"),
            webhook_url: env.var("SCIM_EVENT_WEBHOOK_URL"),
            signing_key: env.var("SCIM_EVENT_SIGNING_KEY"),
            retention: Duration::from_secs(
                env.number("SCIM_EVENT_RETENTION", 7 * 24 * 3600)? as u64
            ),
            webhook_timeout: Duration::from_secs(
                env.number("SCIM_EVENT_WEBHOOK_TIMEOUT_SECONDS", 10)?.max(1) as u64,
            ),
        };
        if let Some(k) = &c.signing_key {
            if k.len() < crate::events::sign::MIN_KEY_BYTES {
                return Err(format!(
                    "SCIM_EVENT_SIGNING_KEY must have at least {} bytes",
                    crate::events::sign::MIN_KEY_BYTES
                ));
            }
        }
        if c.webhook_url.is_some() && c.signing_key.is_none() {
            return Err(
                "SCIM_EVENT_WEBHOOK_URL needs SCIM_EVENT_SIGNING_KEY (the SETs are signed)".into(),
            );
        }
        if let Some(url) = &c.webhook_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "SCIM_EVENT_WEBHOOK_URL must be an http(s) URL, not '{url}'"
                ));
            }
        }
        Ok(c)
    }
}

/// What one request may ask of the service, and switches of its behaviour.
#[derive(Debug, Clone, Copy)]
pub struct ServiceLimits {
    /// `SCIM_MAX_FILTER_SCAN`: most resources examined to answer one
    /// filtered list.
    pub max_filter_scan: usize,
    /// `SCIM_DEFAULT_PAGE_SIZE` and `SCIM_MAX_PAGE_SIZE`: list page sizes.
    pub default_page_size: usize,
    pub max_page_size: usize,
    /// `SCIM_MAX_MEMBERS_PER_REQUEST`: most member values one request may
    /// add, remove or set (413 above).
    pub max_members_per_request: usize,
    /// `SCIM_MAX_MEMBERS_RETURNED`: most members a group response lists
    /// (400 `tooMany` above).
    pub max_members_returned: usize,
    /// `SCIM_MAX_LIST_MEMBERS`: most references (groups' members, users'
    /// groups) one list page lists: the page stops before the resource
    /// that would pass it.
    pub max_list_members: usize,
    /// `SCIM_DELETE_CLEANUP_SECONDS`: how long a DELETE spends removing
    /// edges before leaving the rest to later requests (at most the request
    /// timeout less 5 s).
    pub delete_cleanup_budget: Duration,
    /// `SCIM_USER_GROUPS_WRITABLE`: whether POST/PUT of a user may set its
    /// group memberships through its (RFC read-only) `groups` attribute.
    pub user_groups_writable: bool,
    /// `SCIM_LEFTOVER_CHECK_ON_FIRST_WRITE`: whether a process's first
    /// write request looks for cleanup left by
    /// earlier processes (1 Query), rather than waiting a minute. Nothing is
    /// looked up at start, so that a cold start makes no AWS call.
    pub leftover_check_on_first_write: bool,
    /// `SCIM_MAX_PATCH_OPERATIONS`: most operations one PATCH request may
    /// hold (413 above).
    pub max_patch_operations: usize,
    /// `SCIM_BULK_MAX_OPERATIONS`: most operations one BulkRequest may hold
    /// (`maxOperations`; 413 above). Its bytes are bounded by
    /// `SCIM_MAX_BODY_BYTES` (`maxPayloadSize`).
    pub bulk_max_operations: usize,
}

/// The environment as `Config::from_lookup` reads it: trimmed, empty as
/// unset, numbers and switches parsed with a message naming the variable.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn number(&self, name: &str, default: usize) -> Result<usize, String> {
        match self.var(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| format!("{name} must be a whole number, not '{v}'")),
        }
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.var(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(format!("{name} must be true or false, not '{other}'")),
        }
    }
}

impl ServiceLimits {
    fn from_env(
        env: &Env<'_>,
        max_page_size: usize,
        request_timeout: Duration,
    ) -> Result<Self, String> {
        Ok(Self {
            max_filter_scan: env.number("SCIM_MAX_FILTER_SCAN", 10_000)?.max(1),
            // A list without `count` (a full reconcile, as the ConnId connector
            // does) gets everything up to the maximum page size.
            default_page_size: env
                .number("SCIM_DEFAULT_PAGE_SIZE", 1000)?
                .min(max_page_size),
            max_page_size,
            max_members_per_request: env.number("SCIM_MAX_MEMBERS_PER_REQUEST", 10_000)?.max(1),
            max_members_returned: env.number("SCIM_MAX_MEMBERS_RETURNED", 10_000)?,
            max_list_members: env.number("SCIM_MAX_LIST_MEMBERS", 20_000)?,
            delete_cleanup_budget: Duration::from_secs(
                env.number("SCIM_DELETE_CLEANUP_SECONDS", 20)? as u64,
            )
            .min(request_timeout.saturating_sub(Duration::from_secs(5))),
            leftover_check_on_first_write: env
                .boolean("SCIM_LEFTOVER_CHECK_ON_FIRST_WRITE", true)?,
            user_groups_writable: env.boolean("SCIM_USER_GROUPS_WRITABLE", false)?,
            max_patch_operations: env.number("SCIM_MAX_PATCH_OPERATIONS", 1000)?.max(1),
            bulk_max_operations: env.number("SCIM_BULK_MAX_OPERATIONS", 1000)?.max(1),
        })
    }
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let env = Env(&get);
        let var = |name: &str| env.var(name);
        let number = |name: &str, default: usize| env.number(name, default);
        let listen_addr = match var("SCIM_LISTEN_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v
                .parse()
                .map_err(|_| format!("SCIM_LISTEN_ADDR must be host:port, not '{v}'"))?,
        };
        let max_page_size = number("SCIM_MAX_PAGE_SIZE", 1000)?.max(1);
        let request_timeout =
            Duration::from_secs(number("SCIM_REQUEST_TIMEOUT_SECONDS", 25)?.max(1) as u64);
        Ok(Self {
            on_lambda: var("AWS_LAMBDA_RUNTIME_API").is_some(),
            listen_addr,
            base_path: normalize_base_path(
                &var("SCIM_BASE_PATH").unwrap_or_else(|| "/scim/v2".into()),
            ),
            token: var("SCIM_TOKEN"),
            token_secret_id: var("SCIM_TOKEN_SECRET_ID"),
            token_ttl: Duration::from_secs(number("SCIM_TOKEN_TTL_SECONDS", 300)? as u64),
            tenant_secret_prefix: var("SCIM_TENANT_SECRET_PREFIX"),
            tenants_file: PathBuf::from(
                var("SCIM_TENANTS_FILE").unwrap_or_else(|| "./scim-tenants.json".into()),
            ),
            tenants_file_set: var("SCIM_TENANTS_FILE").is_some(),
            table_name: var("TABLE_NAME"),
            metrics_namespace: var("SCIM_METRICS_NAMESPACE"),
            embedded_asked: store_choice(
                var("SCIM_STORE").as_deref(),
                var("TABLE_NAME").is_some(),
            )?,
            db_path: PathBuf::from(
                var("SCIM_DB_PATH").unwrap_or_else(|| "./scim-data.redb".into()),
            ),
            max_body_bytes: number("SCIM_MAX_BODY_BYTES", 1024 * 1024)?,
            db_cache_bytes: number("SCIM_DB_CACHE_MB", 64)?.saturating_mul(1 << 20),
            header_read_timeout: Duration::from_secs(
                number("SCIM_HEADER_READ_TIMEOUT_SECONDS", 10)?.max(1) as u64,
            ),
            idle_timeout: Duration::from_secs(number("SCIM_IDLE_TIMEOUT_SECONDS", 60)? as u64)
                .max(request_timeout + Duration::from_secs(1)),
            max_connections: number("SCIM_MAX_CONNECTIONS", 512)?.max(1),
            request_timeout,
            cursor_key: var("SCIM_CURSOR_KEY"),
            cursor_key_secret_id: var("SCIM_CURSOR_KEY_SECRET_ID"),
            cursor_ttl_seconds: number("SCIM_CURSOR_TTL_SECONDS", 3600)? as u64,
            schema_extensions: var("SCIM_SCHEMA_EXTENSIONS").map(PathBuf::from),
            limits: ServiceLimits::from_env(&env, max_page_size, request_timeout)?,
            handler: match var("SCIM_HANDLER").as_deref() {
                None | Some("http") => Handler::Http,
                Some("stream") => Handler::Stream,
                Some(other) => {
                    return Err(format!("SCIM_HANDLER is http or stream, not '{other}'"));
                }
            },
            events: EventsConfig::from_env(&env)?,
            credentials: CredentialsConfig::from_env(&env)?,
        })
    }
}

/// Whether `SCIM_STORE` names the embedded store; `dynamodb` needs
/// `TABLE_NAME`, `embedded` refuses it (one store a run, never a guess).
fn store_choice(v: Option<&str>, table: bool) -> Result<bool, String> {
    match (v, table) {
        (None, _) => Ok(false),
        (Some("embedded"), false) => Ok(true),
        (Some("embedded"), true) => {
            Err("SCIM_STORE=embedded and TABLE_NAME are both set: unset one".into())
        }
        (Some("dynamodb"), true) => Ok(false),
        (Some("dynamodb"), false) => Err("SCIM_STORE=dynamodb needs TABLE_NAME".into()),
        (Some(other), _) => Err(format!("SCIM_STORE is embedded or dynamodb, not '{other}'")),
    }
}

/// `scim/v2/` → `/scim/v2`; `/` → `` (SCIM at the root).
pub fn normalize_base_path(p: &str) -> String {
    let trimmed = p.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_serve_scim_v2_on_loopback_8080_with_the_embedded_store() {
        let c = from(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.base_path, "/scim/v2");
        assert!(c.table_name.is_none() && !c.on_lambda);
        assert_eq!(c.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn deletes_leave_room_under_the_request_timeout() {
        let c = from(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.request_timeout, Duration::from_secs(25));
        assert_eq!(c.limits.delete_cleanup_budget, Duration::from_secs(20));
        let c = from(&[
            ("SCIM_REQUEST_TIMEOUT_SECONDS", "10"),
            ("SCIM_DELETE_CLEANUP_SECONDS", "20"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.limits.delete_cleanup_budget, Duration::from_secs(5));
    }

    #[test]
    fn idle_connections_outlast_the_request_timeout() {
        let c = from(&[
            ("SCIM_REQUEST_TIMEOUT_SECONDS", "10"),
            ("SCIM_IDLE_TIMEOUT_SECONDS", "2"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.idle_timeout, Duration::from_secs(11));
        let c = from(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.header_read_timeout, Duration::from_secs(10));
        assert_eq!((c.max_connections, c.db_cache_bytes), (512, 64 << 20));
    }

    #[test]
    fn rejects_malformed_numbers_and_addresses() {
        assert!(from(&[("SCIM_MAX_BODY_BYTES", "lots")]).is_err());
        assert!(from(&[("SCIM_LISTEN_ADDR", "nowhere")]).is_err());
        assert_eq!(
            from(&[("SCIM_BASE_PATH", "api/scim/")]).map(|c| c.base_path),
            Ok("/api/scim".into())
        );
    }

    #[test]
    fn a_webhook_needs_a_signing_key_of_32_bytes() {
        let url = ("SCIM_EVENT_WEBHOOK_URL", "http://127.0.0.1:9/hook");
        assert!(from(&[url]).is_err());
        assert!(from(&[url, ("SCIM_EVENT_SIGNING_KEY", "short")]).is_err());
        let key = ("SCIM_EVENT_SIGNING_KEY", "0123456789abcdef0123456789abcdef");
        let c = from(&[url, key]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.events.webhook_url.as_deref(), Some(url.1));
        assert!(from(&[("SCIM_EVENT_WEBHOOK_URL", "ftp://x"), key]).is_err());
        assert!(from(&[("SCIM_HANDLER", "queue")]).is_err());
        assert_eq!(
            from(&[("SCIM_HANDLER", "stream")]).map(|c| c.handler),
            Ok(Handler::Stream)
        );
    }

    #[test]
    fn the_embedded_store_is_chosen_by_name_and_never_beside_a_table() {
        let c = from(&[("SCIM_STORE", "embedded")]).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.embedded_asked && c.table_name.is_none());
        assert!(!from(&[]).is_ok_and(|c| c.embedded_asked));
        let table = ("TABLE_NAME", "scim");
        assert!(from(&[("SCIM_STORE", "embedded"), table]).is_err());
        assert!(from(&[("SCIM_STORE", "dynamodb")]).is_err());
        assert!(from(&[("SCIM_STORE", "dynamodb"), table]).is_ok_and(|c| !c.embedded_asked));
        assert!(from(&[("SCIM_STORE", "redb")]).is_err());
    }
}
