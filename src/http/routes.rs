//! The route handlers: discovery, and the resource endpoints (one generic
//! set of handlers for Users and Groups).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use super::extract::{BaseUrl, JsonBody, Params, Preconditions};
use super::response::{resource, scim_json};
use crate::scim::ScimError;
use crate::scim::discovery::{self, Features};
use crate::scim::filter::Filter;
use crate::scim::list::{Paging, list_response};
use crate::scim::projection::Projection;
use crate::scim::resource::{refs_attribute, render};
use crate::scim::schema::{GROUP_TYPE, ResourceType, USER_TYPE};
use crate::service::{ListQuery, View};

type Result<T> = std::result::Result<T, ScimError>;

/// A resource type served at an endpoint.
pub trait Kind: Send + Sync + 'static {
    const RT: &'static ResourceType;
}

pub struct Users;
impl Kind for Users {
    const RT: &'static ResourceType = &USER_TYPE;
}

pub struct Groups;
impl Kind for Groups {
    const RT: &'static ResourceType = &GROUP_TYPE;
}

fn features(state: &AppState) -> Features {
    Features {
        max_results: state.service.limits.max_page_size,
        max_payload_bytes: state.max_body_bytes,
    }
}

pub async fn service_provider_config(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
) -> Response {
    scim_json(
        StatusCode::OK,
        &discovery::service_provider_config(features(&state), &base),
    )
}

pub async fn resource_types(BaseUrl(base): BaseUrl) -> Response {
    scim_json(StatusCode::OK, &discovery::resource_types(&base))
}

pub async fn resource_type(BaseUrl(base): BaseUrl, Path(name): Path<String>) -> Result<Response> {
    Ok(scim_json(
        StatusCode::OK,
        &discovery::resource_type(&name, &base)?,
    ))
}

pub async fn schemas(BaseUrl(base): BaseUrl) -> Response {
    scim_json(StatusCode::OK, &discovery::schemas(&base))
}

pub async fn schema(BaseUrl(base): BaseUrl, Path(urn): Path<String>) -> Result<Response> {
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
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    params: Params,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let p = projection(K::RT, &params);
    let with_refs = wants_refs(K::RT, &p);
    let v = if K::RT.name == GROUP_TYPE.name {
        state.service.create_group(&json, with_refs).await?
    } else {
        state.service.create_user(&json, with_refs).await?
    };
    Ok(respond(K::RT, StatusCode::CREATED, &v, &base, &p))
}

pub async fn get_one<K: Kind>(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    params: Params,
    pre: Preconditions,
) -> Result<Response> {
    let p = projection(K::RT, &params);
    let with_refs = wants_refs(K::RT, &p);
    let v = state.service.get_view(K::RT, &id, with_refs).await?;
    if pre.if_none_match.as_deref().is_some_and(|h| {
        h.split(',')
            .any(|t| t.trim() == "*" || t.trim() == v.stored.meta.etag())
    }) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(respond(K::RT, StatusCode::OK, &v, &base, &p))
}

pub async fn list<K: Kind>(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    params: Params,
) -> Result<Response> {
    let limits = state.service.limits;
    let paging = Paging::parse(
        params.get("startIndex"),
        params.get("count"),
        limits.default_page_size,
        limits.max_page_size,
    )?;
    let filter = params
        .get("filter")
        .map(|f| Filter::parse(f, K::RT))
        .transpose()?;
    let p = projection(K::RT, &params);
    let q = ListQuery {
        filter,
        paging,
        with_refs: wants_refs(K::RT, &p),
    };
    let result = state.service.list(K::RT, &q).await?;
    let resources = result
        .resources
        .iter()
        .map(|v| body(K::RT, v, &base, &p))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &list_response(resources, result.total, paging.start_index),
    ))
}

pub async fn replace<K: Kind>(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    params: Params,
    pre: Preconditions,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let p = projection(K::RT, &params);
    let with_refs = wants_refs(K::RT, &p);
    let if_match = pre.if_match.as_deref();
    let v = if K::RT.name == GROUP_TYPE.name {
        state
            .service
            .replace_group(&id, &json, if_match, with_refs)
            .await?
    } else {
        state
            .service
            .replace_user(&id, &json, if_match, with_refs)
            .await?
    };
    Ok(respond(K::RT, StatusCode::OK, &v, &base, &p))
}

/// PATCH answers 200 with the resource; for a group, 204 unless the client
/// names `attributes` or `excludedAttributes` (RFC 7644 §3.5.2 allows both),
/// so that a membership change never has to list a large group.
pub async fn patch<K: Kind>(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    params: Params,
    pre: Preconditions,
    JsonBody(json): JsonBody,
) -> Result<Response> {
    let p = projection(K::RT, &params);
    let with_refs = wants_refs(K::RT, &p);
    let if_match = pre.if_match.as_deref();
    if K::RT.name == GROUP_TYPE.name {
        let want = p.is_explicit().then_some(with_refs);
        return Ok(
            match state
                .service
                .patch_group(&id, &json, if_match, want)
                .await?
            {
                Some(v) => respond(K::RT, StatusCode::OK, &v, &base, &p),
                None => StatusCode::NO_CONTENT.into_response(),
            },
        );
    }
    let v = state
        .service
        .patch_user(&id, &json, if_match, with_refs)
        .await?;
    Ok(respond(K::RT, StatusCode::OK, &v, &base, &p))
}

pub async fn delete<K: Kind>(
    State(state): State<AppState>,
    Path(id): Path<String>,
    pre: Preconditions,
) -> Result<Response> {
    let if_match = pre.if_match.as_deref();
    if K::RT.name == GROUP_TYPE.name {
        state.service.delete_group(&id, if_match).await?;
    } else {
        state.service.delete_user(&id, if_match).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn not_found() -> ScimError {
    ScimError::not_found("no such endpoint")
}

pub async fn method_not_allowed() -> ScimError {
    ScimError::method_not_allowed("this endpoint does not support that method")
}
