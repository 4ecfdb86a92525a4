//! The HTTP router both front doors serve: routes under the base path,
//! authentication (and read-only credentials kept to reads), the token
//! endpoint, request logging, body limit, panic safety net.

mod extract;
pub mod metrics;
mod paths;
pub mod response;
mod routes;
mod token;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::{Auth, Scope};
use crate::scim::ScimError;
use crate::service::Service;
use crate::tenant::Tenant;
use routes::{Groups, Users};

/// The service, reachable only through a tenant: a handler cannot use a
/// directory other than its request's.
pub struct Services(Service);

impl Services {
    pub fn new(service: Service) -> Self {
        Self(service)
    }

    /// The service over this tenant's directory.
    pub fn for_tenant(&self, tenant: &Tenant) -> Service {
        self.0.for_tenant(tenant)
    }

    pub fn limits(&self) -> crate::service::ServiceLimits {
        self.0.limits
    }

    /// The resource types and schemas every tenant's directory serves.
    pub fn schemas(&self) -> &crate::scim::schemas::Schemas {
        self.0.schemas()
    }
}

/// What every handler can reach.
pub struct Shared {
    pub services: Services,
    pub auth: Arc<Auth>,
    /// `/scim/v2` (no trailing slash; empty for the root).
    pub base_path: String,
    pub max_body_bytes: usize,
    pub cursors: crate::scim::cursor::CursorCodec,
    /// A request still running after this gets 503 with Retry-After.
    pub request_timeout: std::time::Duration,
    /// What the events poll needs.
    pub events: EventsPoll,
    /// `SCIM_METRICS_NAMESPACE`: with it, each request also writes an EMF
    /// line of per-directory metrics under this namespace.
    pub metrics_namespace: Option<String>,
}

/// The events poll's settings (RFC 8936, on a store that keeps a change
/// log): the events' configuration (`iss` is the request's base URL when
/// it names none), and how long a poll may wait.
#[derive(Debug, Clone)]
pub struct EventsPoll {
    pub config: crate::config::EventsConfig,
    pub long_poll: std::time::Duration,
}

/// The router's state: axum clones it for every middleware and handler of
/// every request, so it is one pointer.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The SCIM router, for the Lambda and the local front doors and for tests.
pub fn router(state: AppState) -> Router {
    let scim: Router<AppState> = Router::new()
        .route(
            "/ServiceProviderConfig",
            get(routes::service_provider_config),
        )
        // Not offered (ServiceProviderConfig says so for bulk): 501, as
        // RFC 7644 §3.11 and §3.12 ask, rather than a bare 404.
        .route("/Me", any(routes::not_implemented))
        .route("/Me/{*rest}", any(routes::not_implemented))
        .route("/Bulk", post(routes::bulk))
        .route("/ResourceTypes", get(routes::resource_types))
        .route("/ResourceTypes/{name}", get(routes::resource_type))
        .route("/Schemas", get(routes::schemas))
        .route("/Schemas/{urn}", get(routes::schema))
        .route("/.search", post(routes::search_all))
        .route("/Events", post(routes::poll_events))
        .route(token::TOKEN_PATH, post(token::token))
        .route("/Users/.search", post(routes::search::<Users>))
        .route("/Groups/.search", post(routes::search::<Groups>))
        .route(
            "/Users",
            get(routes::list::<Users>).post(routes::create::<Users>),
        )
        .route(
            "/Users/{id}",
            get(routes::get_one::<Users>)
                .put(routes::replace::<Users>)
                .patch(routes::patch::<Users>)
                .delete(routes::delete::<Users>),
        )
        .route(
            "/Groups",
            get(routes::list::<Groups>).post(routes::create::<Groups>),
        )
        .route(
            "/Groups/{id}",
            get(routes::get_one::<Groups>)
                .put(routes::replace::<Groups>)
                .patch(routes::patch::<Groups>)
                .delete(routes::delete::<Groups>),
        );
    // The same routes for the single-tenant directory at the base path and
    // for each tenant's under it.
    let tenants = Router::new().nest(extract::TENANT_SEGMENT, scim.clone());
    let scim = scim.merge(tenants);
    let app = if state.base_path.is_empty() {
        scim
    } else {
        Router::new().nest(&state.base_path, scim)
    };
    let base = state.base_path.clone();
    let routed = app
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .layer(middleware::from_fn(scope))
        .layer(CatchPanicLayer::custom(|_| {
            ScimError::internal().into_response()
        }))
        .with_state(state);
    // Paths are made canonical before the routes see them.
    Router::new().fallback_service(
        tower::ServiceBuilder::new()
            .map_request(move |req| paths::canonicalize(req, &base))
            .service(routed),
    )
}

/// Answers 503 (with Retry-After) for a request that outlives the request
/// timeout, before API Gateway gives up on it with a bare 504. What the
/// request had written stays: a retried PUT, PATCH or DELETE converges, and
/// a retried POST of a user meets its own userName (409); a retried POST of
/// a group, whose displayName is not unique, can make a second group.
async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(
                timeout_s = state.request_timeout.as_secs(),
                "request cut at the request timeout"
            );
            ScimError::unavailable().into_response()
        }
    }
}

/// Works out once which directory the request is for, and puts it in the
/// request's extensions: its `Tenant` (for the log line, authentication,
/// the handlers and `meta.location`), or why it names none.
async fn scope(req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match extract::request_tenant(&mut parts).await {
        Ok(tenant) => {
            parts.extensions.insert(tenant);
        }
        Err(e) => {
            parts.extensions.insert(extract::NoDirectory(e));
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // One Authorization header, or none counts: two are refused, whatever
    // they hold.
    let mut all = req.headers().get_all(header::AUTHORIZATION).iter();
    let header = match (all.next(), all.next()) {
        (Some(v), None) => v.to_str().ok(),
        _ => None,
    };
    // A path naming an invalid tenant is a 404 whatever the token: a matter
    // of syntax only.
    if let Some(extract::NoDirectory(e)) = req.extensions().get() {
        return e.clone().into_response();
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    // The token endpoint authenticates its clients itself.
    if route
        .as_deref()
        .is_some_and(|r| r.ends_with(token::TOKEN_PATH))
    {
        // A token it gave out means a client of that directory asked.
        let mut resp = next.run(req).await;
        if resp.status().is_success() {
            resp.extensions_mut().insert(Authenticated);
        }
        return resp;
    }
    let tenant = extract::tenant(req.extensions());
    let mut result = state.auth.check(header, &tenant).await;
    if result.is_err() && req.extensions().get::<MatchedPath>().is_none() {
        // No endpoint has this path (the answer will be 404): a token that
        // opens the tenant its first segment names may learn that too.
        if let Some(t) = extract::tenant_of_unmatched(req.uri().path(), &state.base_path) {
            result = state.auth.check(header, &t).await;
        }
    }
    match result {
        Ok(access) if access.scope == Scope::ReadOnly && writes(req.method(), route.as_deref()) => {
            ScimError::forbidden("this credential is read-only: it may read and search, not write")
                .into_response()
        }
        Ok(_) => {
            let mut resp = next.run(req).await;
            resp.extensions_mut().insert(Authenticated);
            resp
        }
        Err(e) => e.into_response(),
    }
}

/// Marks a response to a request whose credential opened its directory:
/// only those are counted by directory in the metrics (anyone can name a
/// tenant in a path; a dimension value a name would cost).
#[derive(Clone, Copy)]
struct Authenticated;

/// Whether a request may change something: anything but GET and HEAD, and
/// a POST of a `.search`.
fn writes(method: &axum::http::Method, route: Option<&str>) -> bool {
    use axum::http::Method;
    let search = route.is_some_and(|r| r.ends_with("/.search"));
    !(*method == Method::GET || *method == Method::HEAD || (*method == Method::POST && search))
}

/// One line a request: tenant, method, route, status, latency, the DynamoDB
/// requests it made and (on Lambda) the request id. Never headers, bodies,
/// ids or other personal data. Counted by tenant, these lines are the
/// per-tenant request and DynamoDB request counts; with a metrics
/// namespace, an EMF line beside it makes them CloudWatch metrics.
async fn log_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let tenant = req.extensions().get::<Tenant>().cloned();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let request_id = req
        .extensions()
        .get::<lambda_http::Context>()
        .map(|c| c.request_id.clone());
    let (resp, dynamodb_requests) = crate::store::table::count_requests(next.run(req)).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        request_id = request_id.as_deref().unwrap_or("-"),
        // `-` is no tenant id: the path names an invalid one.
        tenant = tenant.as_ref().map_or("-", Tenant::log_name),
        method = %method,
        route = %route,
        status = resp.status().as_u16(),
        latency_ms,
        dynamodb_requests,
        "request"
    );
    if let Some(namespace) = &state.metrics_namespace {
        let authenticated = resp.extensions().get::<Authenticated>().is_some();
        metrics::RequestMetrics {
            directory: match (authenticated, &tenant) {
                (true, Some(t)) => t.log_name(),
                _ => "unauthenticated",
            },
            status: resp.status().as_u16(),
            latency_ms,
            dynamodb_requests,
        }
        .write(namespace);
    }
    resp
}
