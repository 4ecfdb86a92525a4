//! The route handlers: discovery and Users.

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
use crate::scim::resource::render;
use crate::service::ListQuery;
use crate::store::Stored;

type Result<T> = std::result::Result<T, ScimError>;

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

fn user_body(state: &AppState, s: &Stored, base: &str) -> Value {
    render(&s.doc, &s.meta, state.service.user_type(), base)
}

fn user_response(state: &AppState, status: StatusCode, s: &Stored, base: &str) -> Response {
    let body = user_body(state, s, base);
    let location = body["meta"]["location"].as_str().map(str::to_string);
    let created = status == StatusCode::CREATED;
    resource(
        status,
        &body,
        &s.meta.etag(),
        location.as_deref().filter(|_| created),
    )
}

pub async fn create_user(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody,
) -> Result<Response> {
    let s = state.service.create_user(&body).await?;
    Ok(user_response(&state, StatusCode::CREATED, &s, &base))
}

pub async fn get_user(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    pre: Preconditions,
) -> Result<Response> {
    let s = state.service.get_user(&id).await?;
    if pre.if_none_match.as_deref().is_some_and(|h| {
        h.split(',')
            .any(|t| t.trim() == "*" || t.trim() == s.meta.etag())
    }) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(user_response(&state, StatusCode::OK, &s, &base))
}

pub async fn list_users(
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
        .map(|f| Filter::parse(f, state.service.user_type()))
        .transpose()?;
    let result = state
        .service
        .list_users(&ListQuery { filter, paging })
        .await?;
    let resources = result
        .resources
        .iter()
        .map(|s| user_body(&state, s, &base))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &list_response(resources, result.total, paging.start_index),
    ))
}

pub async fn replace_user(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    pre: Preconditions,
    JsonBody(body): JsonBody,
) -> Result<Response> {
    let s = state
        .service
        .replace_user(&id, &body, pre.if_match.as_deref())
        .await?;
    Ok(user_response(&state, StatusCode::OK, &s, &base))
}

pub async fn patch_user(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    pre: Preconditions,
    JsonBody(body): JsonBody,
) -> Result<Response> {
    let s = state
        .service
        .patch_user(&id, &body, pre.if_match.as_deref())
        .await?;
    Ok(user_response(&state, StatusCode::OK, &s, &base))
}

pub async fn delete_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    pre: Preconditions,
) -> Result<Response> {
    state
        .service
        .delete_user(&id, pre.if_match.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn not_found() -> ScimError {
    ScimError::not_found("no such endpoint")
}

pub async fn method_not_allowed() -> ScimError {
    ScimError::method_not_allowed("this endpoint does not support that method")
}
