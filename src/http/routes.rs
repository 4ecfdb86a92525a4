//! The route handlers: discovery, and the resource endpoints (one generic
//! set of handlers for Users and Groups).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use super::extract::{BaseUrl, JsonBody, Params, PathParam, Preconditions, Scoped};
use super::response::{resource, scim_json};
use crate::scim::ScimError;
use crate::scim::cursor;
use crate::scim::discovery::{self, Features};
use crate::scim::filter::{AttrPath, Filter};
use crate::scim::list::{ListParams, Paging, list_response};
use crate::scim::projection::Projection;
use crate::scim::resource::{refs_attribute, render};
use crate::scim::schema::{self, GROUP_TYPE, ResourceType, USER_TYPE};
use crate::service::{ListQuery, Position, Service, View};

type Result<T> = std::result::Result<T, ScimError>;

/// A resource type served at an endpoint.
pub trait Kind: Send + Sync + 'static {
    fn rt() -> &'static ResourceType;
}

pub struct Users;
impl Kind for Users {
    fn rt() -> &'static ResourceType {
        &USER_TYPE
    }
}

pub struct Groups;
impl Kind for Groups {
    fn rt() -> &'static ResourceType {
        &GROUP_TYPE
    }
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

pub async fn resource_types(BaseUrl(base): BaseUrl, params: Params) -> Result<Response> {
    refuse_filter(&params)?;
    Ok(scim_json(StatusCode::OK, &discovery::resource_types(&base)))
}

pub async fn resource_type(
    BaseUrl(base): BaseUrl,
    PathParam(name): PathParam,
    params: Params,
) -> Result<Response> {
    refuse_filter(&params)?;
    Ok(scim_json(
        StatusCode::OK,
        &discovery::resource_type(&name, &base)?,
    ))
}

pub async fn schemas(BaseUrl(base): BaseUrl, params: Params) -> Result<Response> {
    refuse_filter(&params)?;
    Ok(scim_json(StatusCode::OK, &discovery::schemas(&base)))
}

pub async fn schema(
    BaseUrl(base): BaseUrl,
    PathParam(urn): PathParam,
    params: Params,
) -> Result<Response> {
    refuse_filter(&params)?;
    Ok(scim_json(StatusCode::OK, &discovery::schema(&urn, &base)?))
}

fn projection(rt: &ResourceType, params: &Params) -> Projection {
    Projection::parse(
        params.get("attributes"),
        params.get("excludedAttributes"),
        rt,
    )
}

/// Whether the response will show the type's references (so the service
/// computes them only then).
fn wants_refs(rt: &ResourceType, p: &Projection) -> bool {
    refs_attribute(rt).is_some_and(|a| p.wants(a))
}

fn body(rt: &ResourceType, v: &View, base: &str, p: &Projection) -> Value {
    let mut out = render(&v.stored.doc, &v.stored.meta, rt, base, v.refs.as_deref());
    p.apply(&mut out, rt);
    out
}

fn respond(
    rt: &ResourceType,
    status: StatusCode,
    v: &View,
    base: &str,
    p: &Projection,
) -> Response {
    let out = body(rt, v, base, p);
    let location = (status == StatusCode::CREATED)
        .then(|| format!("{base}{}/{}", rt.endpoint, v.stored.meta.id));
    resource(status, &out, &v.stored.meta.etag(), location.as_deref())
}

pub async fn create<K: Kind>(
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    params: Params,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let p = projection(K::rt(), &params);
    let with_refs = wants_refs(K::rt(), &p);
    let v = if K::rt().name == GROUP_TYPE.name {
        service.create_group(&json, with_refs).await?
    } else {
        service.create_user(&json, with_refs).await?
    };
    Ok(respond(K::rt(), StatusCode::CREATED, &v, &base, &p))
}

pub async fn get_one<K: Kind>(
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    PathParam(id): PathParam,
    params: Params,
    pre: Preconditions,
) -> Result<Response> {
    let p = projection(K::rt(), &params);
    let with_refs = wants_refs(K::rt(), &p);
    let v = service.get_view(K::rt(), &id, with_refs).await?;
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
    Ok(respond(K::rt(), StatusCode::OK, &v, &base, &p))
}

/// `If-None-Match` on a write (rare): `*` or the current entity tag means
/// the client wanted no write over this version, 412 (RFC 9110 §13.1.2).
async fn check_if_none_match(
    service: &Service,
    rt: &'static ResourceType,
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

/// Runs a list or search for one resource type and renders its `ListResponse`.
async fn run_list(
    state: &AppState,
    service: &Service,
    rt: &'static ResourceType,
    base: &str,
    lp: &ListParams,
) -> Result<Value> {
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
                        rt.name
                    ))
                })?;
            Some((r, lp.sort_order))
        }
    };
    let p = Projection::parse(
        lp.attributes.as_deref(),
        lp.excluded_attributes.as_deref(),
        rt,
    );
    // A cursor belongs to one query: the type, the filter and the sort,
    // and for a tenant, the tenant.
    let mut query = vec![
        rt.name,
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
    let q = ListQuery {
        filter,
        sort,
        position,
        with_refs: wants_refs(rt, &p),
    };
    let result = service.list(rt, &q).await?;
    // A page is cut short before it outgrows a Lambda response (6 MB): the
    // client pages on (the next cursor, or startIndex + itemsPerPage).
    let mut resources = Vec::with_capacity(result.resources.len());
    let mut bytes = 0usize;
    let mut next_after = result.next_after;
    for (i, v) in result.resources.iter().enumerate() {
        let r = body(rt, v, base, &p);
        bytes += serde_json::to_vec(&r).map(|b| b.len()).unwrap_or(0);
        if bytes > MAX_LIST_BYTES && i > 0 {
            if cursor_mode {
                next_after = resources_last_id(&result.resources, i);
            }
            break;
        }
        resources.push(r);
    }
    let next = next_after
        .map(|a| state.cursors.encode(&a, &query_id, count, now))
        .transpose()?;
    let start = (!cursor_mode).then_some(lp.paging.start_index);
    Ok(list_response(resources, result.total, start, next))
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

pub async fn list<K: Kind>(
    State(state): State<AppState>,
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    params: Params,
) -> Result<Response> {
    let lp = list_params_from_query(&state, &params)?;
    Ok(scim_json(
        StatusCode::OK,
        &run_list(&state, &service, K::rt(), &base, &lp).await?,
    ))
}

/// POST `/{type}/.search` (RFC 7644 §3.4.3): a list whose parameters come
/// in the body.
pub async fn search<K: Kind>(
    State(state): State<AppState>,
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let lp = list_params_from_search(&state, &json)?;
    Ok(scim_json(
        StatusCode::OK,
        &run_list(&state, &service, K::rt(), &base, &lp).await?,
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
    // Every type is read from its start up to the window's end, so the
    // window is bounded like a non-indexed filter's scan.
    let window_end = (lp.paging.start_index - 1).saturating_add(lp.paging.count);
    if window_end > state.services.limits().max_filter_scan {
        return Err(ScimError::too_many(format!(
            "a root search reaches at most {} resources; page through /Users/.search and /Groups/.search",
            state.services.limits().max_filter_scan
        )));
    }
    let per_type = ListParams {
        paging: Paging {
            start_index: 1,
            count: (lp.paging.start_index - 1).saturating_add(lp.paging.count),
        },
        ..lp.clone()
    };
    let mut all = Vec::new();
    let mut total = 0usize;
    let mut first_error = None;
    let mut answered = false;
    for rt in schema::resource_types() {
        match run_list(&state, &service, rt, &base, &per_type).await {
            Ok(v) => {
                answered = true;
                total += v["totalResults"]
                    .as_u64()
                    .and_then(|t| usize::try_from(t).ok())
                    .unwrap_or(0);
                if let Some(items) = v["Resources"].as_array() {
                    all.extend(items.iter().cloned());
                }
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
    let page: Vec<Value> = all
        .into_iter()
        .skip(lp.paging.start_index - 1)
        .take(lp.paging.count)
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &list_response(page, Some(total), Some(lp.paging.start_index), None),
    ))
}

pub async fn replace<K: Kind>(
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    PathParam(id): PathParam,
    params: Params,
    pre: Preconditions,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    check_if_none_match(&service, K::rt(), &id, &pre).await?;
    let p = projection(K::rt(), &params);
    let with_refs = wants_refs(K::rt(), &p);
    let if_match = pre.if_match.as_deref();
    let v = if K::rt().name == GROUP_TYPE.name {
        service
            .replace_group(&id, &json, if_match, with_refs)
            .await?
    } else {
        service
            .replace_user(&id, &json, if_match, with_refs)
            .await?
    };
    Ok(respond(K::rt(), StatusCode::OK, &v, &base, &p))
}

/// PATCH answers 200 with the resource; for a group, 204 unless the client
/// names `attributes` or `excludedAttributes` (RFC 7644 §3.5.2 allows both),
/// so that a membership change never has to list a large group.
pub async fn patch<K: Kind>(
    Scoped(service): Scoped,
    BaseUrl(base): BaseUrl,
    PathParam(id): PathParam,
    params: Params,
    pre: Preconditions,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    check_if_none_match(&service, K::rt(), &id, &pre).await?;
    let p = projection(K::rt(), &params);
    let with_refs = wants_refs(K::rt(), &p);
    let if_match = pre.if_match.as_deref();
    if K::rt().name == GROUP_TYPE.name {
        let want = p.is_explicit().then_some(with_refs);
        return Ok(
            match service.patch_group(&id, &json, if_match, want).await? {
                Some(v) => respond(K::rt(), StatusCode::OK, &v, &base, &p),
                None => StatusCode::NO_CONTENT.into_response(),
            },
        );
    }
    let v = service.patch_user(&id, &json, if_match, with_refs).await?;
    Ok(respond(K::rt(), StatusCode::OK, &v, &base, &p))
}

pub async fn delete<K: Kind>(
    Scoped(service): Scoped,
    PathParam(id): PathParam,
    pre: Preconditions,
) -> Result<Response> {
    check_if_none_match(&service, K::rt(), &id, &pre).await?;
    let if_match = pre.if_match.as_deref();
    if K::rt().name == GROUP_TYPE.name {
        service.delete_group(&id, if_match).await?;
    } else {
        service.delete_user(&id, if_match).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
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
