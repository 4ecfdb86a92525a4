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
use crate::scim::cursor;
use crate::scim::discovery::{self, Features};
use crate::scim::filter::{AttrPath, Filter, Resolved};
use crate::scim::list::{ListParams, PageBudget, Paging, SortOrder, json_len, list_response};
use crate::scim::projection::Projection;
use crate::scim::resource::render;
use crate::scim::schemas::ResourceType;
use crate::service::{ListQuery, Position, Service, View};

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

/// Whether the response will show the type's references (so the service
/// computes them only then).
fn wants_refs(rt: &ResourceType, p: &Projection<'_>) -> bool {
    p.wants(rt.kind.refs_attribute())
}

fn body(rt: &ResourceType, v: &View, base: &str, p: &Projection<'_>) -> Value {
    let mut out = render(&v.stored.doc, &v.stored.meta, rt, base, v.refs.as_deref());
    p.apply(&mut out, rt);
    out
}

fn respond(
    rt: &ResourceType,
    status: StatusCode,
    v: &View,
    base: &str,
    p: &Projection<'_>,
) -> Response {
    let out = body(rt, v, base, p);
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

/// The most a list response's resources may take, under Lambda's 6 MB.
const MAX_LIST_BYTES: usize = 5_000_000;

/// The id of the last resource kept when a page is cut before `cut`.
fn resources_last_id(views: &[View], cut: usize) -> Option<String> {
    views
        .get(cut.checked_sub(1)?)
        .map(|v| v.stored.meta.id.clone())
}

/// Seconds since the Unix epoch, for cursor lifetimes.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What a whole list response may hold.
fn page_budget(state: &AppState) -> PageBudget {
    PageBudget {
        bytes: MAX_LIST_BYTES,
        refs: state.services.limits().max_list_members,
    }
}

/// A list's filter, sort and projection, checked against one resource type.
type Parsed<'s> = (
    Option<Filter>,
    Option<(Resolved<'s>, SortOrder)>,
    Projection<'s>,
);

fn parse_list<'s>(rt: &'s ResourceType, lp: &ListParams) -> Result<Parsed<'s>> {
    let filter = lp
        .filter
        .as_deref()
        .map(|f| Filter::parse(f, rt))
        .transpose()?;
    let sort = match &lp.sort_by {
        None => None,
        Some(by) => {
            let r = AttrPath::parse(by.trim())
                .and_then(|p| p.resolve(rt))
                .ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "sortBy '{by}' names no attribute of a {}",
                        rt.name()
                    ))
                })?;
            Some((r, lp.sort_order))
        }
    };
    let p = Projection::parse_bounded(
        lp.attributes.as_deref(),
        lp.excluded_attributes.as_deref(),
        rt,
    )?;
    Ok((filter, sort, p))
}

/// One resource type's part of a list response, rendered.
struct Page {
    resources: Vec<Value>,
    total: Option<usize>,
    /// Stopped short at the response's limits.
    cut: bool,
    /// With cursor paging: the id after which the next page starts.
    next_after: Option<String>,
}

/// Lists one type and renders what fits in `budget` (what the response has
/// left), taking it down. A page cut short lets the client page on (the
/// next cursor, or startIndex + itemsPerPage); the first resource of a
/// response is always sent, so paging always moves.
async fn list_page(
    service: &Service,
    rt: &ResourceType,
    base: &str,
    p: &Projection<'_>,
    mut q: ListQuery<'_>,
    budget: &mut PageBudget,
    response_empty: bool,
) -> Result<Page> {
    q.budget = *budget;
    let cursor_mode = matches!(q.position, Position::After { .. });
    let result = service.list(rt, &q).await?;
    let mut resources = Vec::with_capacity(result.resources.len());
    let mut page = Page {
        resources: Vec::new(),
        total: result.total,
        cut: result.cut,
        next_after: result.next_after,
    };
    for (i, v) in result.resources.iter().enumerate() {
        let r = body(rt, v, base, p);
        let bytes = json_len(&r);
        let refs = v.refs.as_ref().map_or(0, Vec::len);
        let first = response_empty && i == 0;
        if !first && (bytes > budget.bytes || refs > budget.refs) {
            page.cut = true;
            if cursor_mode {
                page.next_after = resources_last_id(&result.resources, i);
            }
            break;
        }
        budget.bytes = budget.bytes.saturating_sub(bytes);
        budget.refs = budget.refs.saturating_sub(refs);
        resources.push(r);
    }
    page.resources = resources;
    Ok(page)
}

/// Runs a list or search for one resource type and renders its `ListResponse`.
async fn run_list(
    state: &AppState,
    service: &Service,
    rt: &ResourceType,
    base: &str,
    lp: &ListParams,
) -> Result<Value> {
    // A cursor belongs to one query: the type, the filter and the sort,
    // and for a tenant, the tenant.
    let mut query = vec![
        rt.name(),
        lp.filter.as_deref().unwrap_or(""),
        lp.sort_by.as_deref().unwrap_or(""),
    ];
    if let Some(t) = service.tenant().id() {
        query.push(t.as_str());
    }
    let query_id = cursor::fingerprint(&query);
    let now = unix_now();
    let count = lp.paging.count;
    let position = match lp.cursor.as_deref() {
        None => Position::Index(lp.paging),
        Some("") => Position::After { after: None, count },
        Some(c) => Position::After {
            after: Some(state.cursors.decode(c, &query_id, count, now)?.after),
            count,
        },
    };
    let cursor_mode = lp.cursor.is_some();
    let mut budget = page_budget(state);
    let page = type_page(service, rt, base, lp, position, &mut budget, true).await?;
    let next = page
        .next_after
        .map(|a| state.cursors.encode(&a, &query_id, count, now))
        .transpose()?;
    let start = (!cursor_mode).then_some(lp.paging.start_index);
    Ok(list_response(page.resources, page.total, start, next))
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
        &run_list(&state, &service, rt, &base, &lp).await?,
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
        &run_list(&state, &service, rt, &base, &lp).await?,
    ))
}

/// POST `/.search` at the root: every resource type the filter applies to,
/// Users first, index paging over the whole. A filter naming attributes a
/// type does not have leaves that type out.
pub async fn search_all(
    State(state): State<AppState>,
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let lp = list_params_from_search(&state, &json)?;
    if lp.cursor.is_some() || lp.sort_by.is_some() {
        return Err(ScimError::invalid_value(
            "cursor and sortBy are available per resource type (POST /Users/.search, /Groups/.search)",
        ));
    }
    // Reaching a window deep in a type reads the type from its start (no
    // index skips), so the window is bounded like a non-indexed filter's scan.
    let window_end = (lp.paging.start_index - 1).saturating_add(lp.paging.count);
    if window_end > state.services.limits().max_filter_scan {
        return Err(ScimError::too_many(format!(
            "a root search reaches at most {} resources; page through /Users/.search and /Groups/.search",
            state.services.limits().max_filter_scan
        )));
    }
    // The window over all types: whole types before it are skipped by
    // their totals, then each type gives what is left of the window from
    // its offset. Once the response is cut, later types only count, so
    // startIndex + itemsPerPage is exactly where the next page starts.
    let mut skip = lp.paging.start_index - 1;
    let mut want = lp.paging.count;
    let mut budget = page_budget(&state);
    let mut resources = Vec::new();
    let mut total = 0usize;
    let mut cut = false;
    let mut first_error = None;
    let mut answered = false;
    for rt in service.schemas().resource_types() {
        let paging = Paging {
            start_index: skip + 1,
            count: if cut { 0 } else { want },
        };
        let position = Position::Index(paging);
        match type_page(
            &service,
            rt,
            &base,
            &lp,
            position,
            &mut budget,
            resources.is_empty(),
        )
        .await
        {
            Ok(page) => {
                answered = true;
                let type_total = page.total.unwrap_or(0);
                total += type_total;
                skip = skip.saturating_sub(type_total);
                want = want.saturating_sub(page.resources.len());
                cut |= page.cut;
                resources.extend(page.resources);
            }
            Err(e) if e.scim_type == Some(crate::scim::ScimType::InvalidFilter) => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if !answered {
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    Ok(scim_json(
        StatusCode::OK,
        &list_response(resources, Some(total), Some(lp.paging.start_index), None),
    ))
}

/// One type's page of a list, or its part of a root search's window.
async fn type_page(
    service: &Service,
    rt: &ResourceType,
    base: &str,
    lp: &ListParams,
    position: Position,
    budget: &mut PageBudget,
    response_empty: bool,
) -> Result<Page> {
    let (filter, sort, p) = parse_list(rt, lp)?;
    let q = ListQuery {
        filter,
        sort,
        position,
        with_refs: wants_refs(rt, &p),
        budget: *budget,
    };
    list_page(service, rt, base, &p, q, budget, response_empty).await
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
