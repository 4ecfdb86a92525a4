//! The test harness: the whole router in-process over either store driver.

#[path = "../support/exchange.rs"]
mod exchange;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use scim_lambda::auth::{Auth, Tenants, TenantsFile, TenantsFileDoc};
use scim_lambda::config::Config;
use scim_lambda::store::{Requests, Table};
use scim_lambda::tenant::TenantId;
use serde_json::Value;

pub const TOKEN: &str = "test-token-0123456789";

pub struct Harness {
    pub router: Router,
    pub table: Table,
    pub _dir: Option<tempfile::TempDir>,
    /// The tenants file the router reads tenants' tokens from.
    pub tenants_file: std::path::PathBuf,
    _tenants_dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts the response is a SCIM error with this status and `scimType`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.header("content-type"), Some("application/scim+json"));
        assert_eq!(
            self.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(self.body["status"], status.to_string());
        assert_eq!(
            self.body.get("scimType").and_then(Value::as_str),
            scim_type,
            "body: {}",
            self.body
        );
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

/// The default configuration, except that a test's first write does not
/// look for leftover cleanup (so request counts are those of the operation).
pub fn config() -> Config {
    let mut c = Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
    c.limits.leftover_check_on_first_write = false;
    c
}

/// DynamoDB Local must be there when a DynamoDB test runs: these tests fail,
/// never skip, without it.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: run scripts/test, which starts DynamoDB Local"
        )
    });
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "tests only talk to loopback, not {endpoint}"
    );
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_dynamodb::Client::new(&aws)
}

impl Harness {
    pub fn with_table(table: Table, config: &Config, dir: Option<tempfile::TempDir>) -> Self {
        let tenants_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let tenants_file = tenants_dir.path().join("tenants.json");
        let auth = Auth::fixed(TOKEN.into())
            .with_tenants(Tenants::File(TenantsFile::new(tenants_file.clone())));
        let router =
            scim_lambda::app_router(config, table.clone(), auth).unwrap_or_else(|e| panic!("{e}"));
        Self {
            router,
            table,
            _dir: dir,
            tenants_file,
            _tenants_dir: tenants_dir,
        }
    }

    /// A harness over a router built elsewhere (its tenants file is unused).
    pub fn from_router(router: Router, table: Table) -> Self {
        let tenants_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        Self {
            router,
            table,
            _dir: None,
            tenants_file: tenants_dir.path().join("tenants.json"),
            _tenants_dir: tenants_dir,
        }
    }

    /// Adds a tenant as `tenant add` does; returns its token.
    pub fn add_tenant(&self, name: &str) -> String {
        let tenant = TenantId::parse(name).unwrap_or_else(|e| panic!("{e}"));
        let mut doc = TenantsFileDoc::read(&self.tenants_file).unwrap_or_else(|e| panic!("{e}"));
        let token = doc.add(&tenant).unwrap_or_else(|e| panic!("{e}"));
        doc.write(&self.tenants_file)
            .unwrap_or_else(|e| panic!("{e}"));
        token
    }

    /// Sends a request with this bearer token.
    pub async fn send_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        self.send_with(
            method,
            path,
            body.map(|b| b.to_string()),
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await
    }

    pub async fn embedded() -> Self {
        Self::embedded_with(&config()).await
    }

    pub async fn embedded_with(config: &Config) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = scim_lambda::store::embedded::Embedded::open(&dir.path().join("scim.redb"))
            .unwrap_or_else(|e| panic!("{e}"));
        Self::with_table(Table::new(Arc::new(db)), config, Some(dir))
    }

    pub async fn dynamodb() -> Self {
        Self::dynamodb_with(&config()).await
    }

    pub async fn dynamodb_with(config: &Config) -> Self {
        let client = dynamodb_client().await;
        let name = format!("scim-test-{}", uuid::Uuid::new_v4());
        scim_lambda::store::dynamo::create_table(&client, &name)
            .await
            .unwrap_or_else(|e| panic!("creating {name} in DynamoDB Local: {e}"));
        let driver = scim_lambda::store::dynamo::Dynamo::new(client, name);
        Self::with_table(Table::new(Arc::new(driver)), config, None)
    }

    pub fn requests(&self) -> Requests {
        self.table.requests()
    }

    /// Sends a request with the test token.
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.send_as(TOKEN, method, path, body).await
    }

    /// Sends a request with exactly these headers (plus Host) and a raw body.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap_or_else(|e| panic!("{e}")))
            .uri(path)
            .header("host", "scim.example.test");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() {
            req = req.header("content-type", "application/scim+json");
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap_or_else(|e| panic!("{e}"));
        let (status, headers, bytes) = self.exchange(req).await;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Sends a request as built and reads the whole answer: status,
    /// headers and body bytes, whatever they hold.
    pub async fn exchange(&self, req: Request<Body>) -> (u16, HeaderMap, Vec<u8>) {
        exchange::exchange(&self.router, req).await
    }

    /// Creates a user and returns the response body.
    pub async fn create_user(&self, body: Value) -> Value {
        let r = self.send("POST", "/scim/v2/Users", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    }
}

/// A query parameter's value, form-encoded.
pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A group created through the router with these members (sent with
/// `"$ref": null`, as Entra ID sends them); its id.
pub async fn new_group(h: &Harness, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members
        .iter()
        .map(|m| serde_json::json!({"value": m, "$ref": null}))
        .collect();
    let r = h
        .send(
            "POST",
            "/scim/v2/Groups",
            Some(serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
                "members": members
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap_or_default().to_string()
}

/// The ids of a list response's resources, in order.
pub fn ids(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

pub fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Runs each scenario on both drivers: `embedded::name` always, and
/// `dynamodb::name` (ignored by a bare `cargo test`; `scripts/test` runs it
/// with `--include-ignored` against DynamoDB Local).
#[macro_export]
macro_rules! on_both_drivers {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Harness::embedded().await).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs DynamoDB Local; scripts/test runs it"]
                async fn $name() {
                    super::$name($crate::common::Harness::dynamodb().await).await
                }
            )*
        }
    };
}

/// Which store a scenario runs on, for scenarios that need their own
/// configuration.
#[derive(Debug, Clone, Copy)]
pub enum Driver {
    Embedded,
    DynamoDb,
}

impl Driver {
    pub async fn harness(self, config: &Config) -> Harness {
        match self {
            Self::Embedded => Harness::embedded_with(config).await,
            Self::DynamoDb => Harness::dynamodb_with(config).await,
        }
    }
}

/// Like `on_both_drivers!`, for scenarios that take a `Driver` and build
/// their own harness.
#[macro_export]
macro_rules! on_both_drivers_with_config {
    ($($name:ident),* $(,)?) => {
        mod embedded_configured {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Driver::Embedded).await
                }
            )*
        }
        mod dynamodb_configured {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs DynamoDB Local; scripts/test runs it"]
                async fn $name() {
                    super::$name($crate::common::Driver::DynamoDb).await
                }
            )*
        }
    };
}

/// Users written straight to the table in batches (a fast fixture: creating
/// thousands through POST would be one transaction each). `doc` gives the
/// i-th user's attributes and creation time.
pub async fn import_users(
    table: &Table,
    n: usize,
    doc: impl Fn(usize) -> (serde_json::Map<String, Value>, String),
) -> Vec<String> {
    use scim_lambda::scim::resource::Meta;
    use scim_lambda::store::{Directory, Stored};
    let users: Vec<Stored> = (0..n)
        .map(|i| {
            let (doc, created) = doc(i);
            Stored {
                meta: Meta {
                    id: uuid::Uuid::new_v4().to_string(),
                    created,
                    last_modified: "2026-01-01T00:00:00Z".into(),
                    version: 1,
                },
                doc,
            }
        })
        .collect();
    Directory::new(table.clone())
        .import(scim_lambda::scim::Kind::User, &users)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    users.into_iter().map(|s| s.meta.id).collect()
}

/// Partial match: expected objects' members must match, arrays element by
/// element with equal length, other values exactly. Returns the first
/// difference.
pub fn mismatch(expected: &Value, actual: &Value, at: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, ev)| match a.get(k) {
            Some(av) => mismatch(ev, av, &format!("{at}/{k}")),
            None => Some(format!("{at}/{k} is missing")),
        }),
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!(
                    "{at} has {} elements, expected {}",
                    a.len(),
                    e.len()
                ));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (ev, av))| mismatch(ev, av, &format!("{at}/{i}")))
        }
        (e, a) if e == a => None,
        (e, a) => Some(format!("{at} is {a}, expected {e}")),
    }
}

#[test]
fn partial_matching_finds_differences() {
    let actual = serde_json::json!({"a": 1, "b": [{"x": 1, "y": 2}], "c": "s"});
    assert_eq!(
        mismatch(&serde_json::json!({"a": 1, "b": [{"x": 1}]}), &actual, ""),
        None
    );
    assert!(mismatch(&serde_json::json!({"a": 2}), &actual, "").is_some());
    assert!(mismatch(&serde_json::json!({"b": []}), &actual, "").is_some());
    assert!(mismatch(&serde_json::json!({"d": null}), &actual, "").is_some());
}
