//! The route handlers: discovery, and the resource endpoints (one generic
//! set of handlers for Users and Groups).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use super::extract::{BaseUrl, JsonBody, Params, PathParam, Preconditions, Scoped};
use super::response::{resource, scim_json};
use crate::scim::Kind;
use crate::scim::ScimError;
use crate::scim::discovery::{self, Features};
use crate::scim::list::{ListParams, list_response};
use crate::scim::projection::Projection;
use crate::scim::schemas::ResourceType;
use crate::service::{ListPage, Service, View, wants_refs};

type Result<T> = std::result::Result<T, ScimError>;

/// A resource kind served at an endpoint.
pub trait Endpoint: Send + Sync + 'static {
    const KIND: Kind;
}

pub struct Users;
impl Endpoint for Users {
    const KIND: Kind = Kind::User;
}

pub struct Groups;
impl Endpoint for Groups {
    const KIND: Kind = Kind::Group;
}

fn features(state: &AppState) -> Features {
    Features {
        max_results: state.services.limits().max_page_size,
        default_page_size: state.services.limits().default_page_size,
        max_payload_bytes: state.max_body_bytes,
        cursor_timeout_seconds: state.cursors.ttl_seconds,
        bulk_max_operations: state.services.limits().bulk_max_operations,
    }
}

/// Discovery endpoints take no filter (RFC 7644 §4: 403 if one is given).
fn refuse_filter(params: &Params) -> Result<()> {
    match params.get("filter") {
        Some(_) => Err(ScimError::forbidden(
            "the discovery endpoints do not support filtering",
        )),
        None => Ok(()),
    }
}

pub async fn service_provider_config(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    params: Params,
) -> Result<Response> {
    refuse_filter(&params)?;
    Ok(scim_json(
        StatusCode::OK,
        &discovery::service_provider_config(features(&state), &base),
    ))
}

pub async fn resource_types(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    params: Params,
) -> Result<Response> {
    refuse_filter(&params)?;
    let schemas = state.services.schemas();
    Ok(scim_json(
        StatusCode::OK,
        &discovery::resource_types(schemas, &base),
    ))
}

pub async fn resource_type(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    PathParam(name): PathParam,
    params: Params,
) -> Result<Response> {
    refuse_filter(&params)?;
    Ok(scim_json(
        StatusCode::OK,
        &discovery::resource_type(state.services.schemas(), &name, &base)?,
    ))
}

pub async fn schemas(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    params: Params,
) -> Result<Response> {
    refuse_filter(&params)?;
    let schemas = state.services.schemas();
    Ok(scim_json(
        StatusCode::OK,
        &discovery::schemas(schemas, &base),
    ))
}

pub async fn schema(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    PathParam(urn): PathParam,
    params: Params,
) -> Result<Response> {
    refuse_filter(&params)?;
    let schemas = state.services.schemas();
    Ok(scim_json(
        StatusCode::OK,
        &discovery::schema(schemas, &urn, &base)?,
    ))
}

fn projection<'s>(rt: &'s ResourceType, params: &Params) -> Result<Projection<'s>> {
    Projection::parse_bounded(
        params.get("attributes"),
        params.get("excludedAttributes"),
        rt,
    )
}

fn respond(
    rt: &ResourceType,
    status: StatusCode,
    v: &View,
    base: &str,
    p: &Projection<'_>,
) -> Response {
    let out = v.render(rt, base, p);
    let location = (status == StatusCode::CREATED)
        .then(|| format!("{base}{}/{}", rt.kind.endpoint(), v.stored.meta.id));
    resource(status, &out, &v.stored.meta.etag(), location.as_deref())
}

pub async fn create<K: Endpoint>(
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    params: Params,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let rt = service.resource_type(K::KIND);
    let p = projection(rt, &params)?;
    let with_refs = wants_refs(rt, &p);
    let v = service.create_resource(K::KIND, &json, with_refs).await?;
    Ok(respond(rt, StatusCode::CREATED, &v, &base, &p))
}

pub async fn get_one<K: Endpoint>(
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    PathParam(id): PathParam,
    params: Params,
    pre: Preconditions,
) -> Result<Response> {
    let rt = service.resource_type(K::KIND);
    let p = projection(rt, &params)?;
    let with_refs = wants_refs(rt, &p);
    let v = service.get_view(rt, &id, with_refs).await?;
    crate::service::check_if_match(pre.if_match.as_deref(), &v.stored.meta)?;
    let etag = v.stored.meta.etag();
    if pre
        .if_none_match
        .as_deref()
        .is_some_and(|h| crate::service::etag_listed(h, &etag))
    {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(value) = axum::http::HeaderValue::from_str(&etag) {
            resp.headers_mut().insert(axum::http::header::ETAG, value);
        }
        return Ok(resp);
    }
    Ok(respond(rt, StatusCode::OK, &v, &base, &p))
}

/// `If-None-Match` on a write (rare): `*` or the current entity tag means
/// the client wanted no write over this version, 412 (RFC 9110 §13.1.2).
async fn check_if_none_match(
    service: &Service,
    rt: &ResourceType,
    id: &str,
    pre: &Preconditions,
) -> Result<()> {
    let Some(header) = pre.if_none_match.as_deref() else {
        return Ok(());
    };
    let current = service.get_view(rt, id, false).await?;
    if crate::service::etag_listed(header, &current.stored.meta.etag()) {
        return Err(ScimError::precondition_failed(
            "If-None-Match names the current version",
        ));
    }
    Ok(())
}

/// Renders a list's page as a `ListResponse`.
fn list_json(page: ListPage) -> Value {
    list_response(
        page.resources,
        page.total,
        page.start_index,
        page.next_cursor,
    )
}

fn list_params_from_query(state: &AppState, params: &Params) -> Result<ListParams> {
    let limits = state.services.limits();
    ListParams::from_query(
        |n| params.get(n),
        limits.default_page_size,
        limits.max_page_size,
    )
}

fn list_params_from_search(state: &AppState, body: &Value) -> Result<ListParams> {
    let limits = state.services.limits();
    ListParams::from_search(body, limits.default_page_size, limits.max_page_size)
}

pub async fn list<K: Endpoint>(
    State(state): State<AppState>,
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    params: Params,
) -> Result<Response> {
    let rt = service.resource_type(K::KIND);
    let lp = list_params_from_query(&state, &params)?;
    Ok(scim_json(
        StatusCode::OK,
        &list_json(service.list_page(rt, &base, &lp, &state.cursors).await?),
    ))
}

/// POST `/{type}/.search` (RFC 7644 §3.4.3): a list whose parameters come
/// in the body.
pub async fn search<K: Endpoint>(
    State(state): State<AppState>,
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let rt = service.resource_type(K::KIND);
    let lp = list_params_from_search(&state, &json)?;
    Ok(scim_json(
        StatusCode::OK,
        &list_json(service.list_page(rt, &base, &lp, &state.cursors).await?),
    ))
}

/// POST `/.search` at the root: every resource type the filter applies to.
pub async fn search_all(
    State(state): State<AppState>,
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let lp = list_params_from_search(&state, &json)?;
    let page = service.search_all(&base, &lp).await?;
    Ok(scim_json(StatusCode::OK, &list_json(page)))
}

pub async fn replace<K: Endpoint>(
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    PathParam(id): PathParam,
    params: Params,
    pre: Preconditions,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let rt = service.resource_type(K::KIND);
    check_if_none_match(&service, rt, &id, &pre).await?;
    let p = projection(rt, &params)?;
    let with_refs = wants_refs(rt, &p);
    let if_match = pre.if_match.as_deref();
    let v = service
        .replace_resource(K::KIND, &id, &json, if_match, with_refs)
        .await?;
    Ok(respond(rt, StatusCode::OK, &v, &base, &p))
}

/// PATCH answers 200 with the resource; for a group, 204 unless the client
/// names `attributes` or `excludedAttributes` (RFC 7644 §3.5.2 allows both),
/// so that a membership change never has to list a large group.
pub async fn patch<K: Endpoint>(
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    PathParam(id): PathParam,
    params: Params,
    pre: Preconditions,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let rt = service.resource_type(K::KIND);
    check_if_none_match(&service, rt, &id, &pre).await?;
    let p = projection(rt, &params)?;
    let with_refs = wants_refs(rt, &p);
    let if_match = pre.if_match.as_deref();
    let want = match K::KIND {
        Kind::User => Some(with_refs),
        Kind::Group => p.is_explicit().then_some(with_refs),
    };
    Ok(
        match service
            .patch_resource(K::KIND, &id, &json, if_match, want)
            .await?
        {
            Some(v) => respond(rt, StatusCode::OK, &v, &base, &p),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

pub async fn delete<K: Endpoint>(
    Scoped(service): Scoped,
    PathParam(id): PathParam,
    pre: Preconditions,
) -> Result<Response> {
    let rt = service.resource_type(K::KIND);
    check_if_none_match(&service, rt, &id, &pre).await?;
    let if_match = pre.if_match.as_deref();
    service.delete_resource(K::KIND, &id, if_match).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// POST `/Bulk` (RFC 7644 §3.7): 200 with a BulkResponse whatever the
/// operations' own statuses; it stops 3 s before the request's timeout,
/// listing what it did not run as 503.
pub async fn bulk(
    State(state): State<AppState>,
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let req = crate::scim::bulk::parse(&json, service.limits.bulk_max_operations)?;
    let budget = state
        .request_timeout
        .saturating_sub(std::time::Duration::from_secs(3));
    let results = service.bulk(&req, std::time::Instant::now() + budget).await;
    Ok(scim_json(
        StatusCode::OK,
        &crate::scim::bulk::response(&results, &base),
    ))
}

/// POST `/Events`: the RFC 8936 poll of this directory's change events,
/// where the store keeps a change log and no webhook takes them.
pub async fn poll_events(
    State(state): State<AppState>,
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let Some(log) = service.change_log() else {
        return Err(ScimError::not_implemented(
            "on DynamoDB, change events go to the stack's EventBridge bus",
        ));
    };
    let events = &state.events;
    if events.config.webhook_url.is_some() {
        return Err(ScimError::not_implemented(
            "change events are pushed to the configured webhook",
        ));
    }
    let tenant = service.tenant();
    let root = base.strip_suffix(&tenant.path()).unwrap_or(&base);
    let issuer = crate::events::Issuer::new(&events.config, service.schemas_arc(), root);
    let key = events.config.signing_key.as_ref().map(String::as_bytes);
    let answer =
        crate::events::poll::poll(log.as_ref(), &issuer, key, tenant, &json, events.long_poll)
            .await?;
    Ok(axum::Json(answer).into_response())
}

pub async fn not_implemented() -> ScimError {
    ScimError::not_implemented("this service provider does not offer this endpoint")
}

pub async fn not_found() -> ScimError {
    ScimError::not_found("no such endpoint")
}

pub async fn method_not_allowed() -> ScimError {
    ScimError::method_not_allowed("this endpoint does not support that method")
}
