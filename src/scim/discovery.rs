//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` bodies, built
//! from the same definitions the service validates against.

use serde_json::{Value, json};

use super::error::ScimError;
use super::list::list_response;
use super::schema::SPC_SCHEMA;
use super::schemas::Schemas;

/// What the service provider supports, as configured.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    pub max_results: usize,
    pub default_page_size: usize,
    pub max_payload_bytes: usize,
    pub cursor_timeout_seconds: u64,
    pub bulk_max_operations: usize,
}

pub fn service_provider_config(f: Features, base_url: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": f.bulk_max_operations,
            "maxPayloadSize": f.max_payload_bytes
        },
        "filter": {"supported": true, "maxResults": f.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": f.default_page_size,
            "maxPageSize": f.max_results,
            "cursorTimeout": f.cursor_timeout_seconds
        },
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "Authorization: Bearer with a token the operator gave out, or with an access token of the token endpoint",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }, {
            "type": "oauth2",
            "name": "OAuth 2.0 client credentials",
            "description": format!("Access tokens from {base_url}/oauth2/token (RFC 6749 section 4.4; client_secret_basic or client_secret_post)"),
            "specUri": "https://www.rfc-editor.org/info/rfc6749"
        }, {
            "type": "httpbasic",
            "name": "HTTP Basic",
            "description": "Authorization: Basic with a username and password the operator gave out",
            "specUri": "https://www.rfc-editor.org/info/rfc7617"
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        }
    })
}

pub fn resource_types(schemas: &Schemas, base_url: &str) -> Value {
    let all: Vec<Value> = schemas
        .resource_types()
        .iter()
        .map(|rt| rt.to_json(base_url))
        .collect();
    let n = all.len();
    list_response(all, Some(n), Some(1), None)
}

pub fn resource_type(schemas: &Schemas, name: &str, base_url: &str) -> Result<Value, ScimError> {
    schemas
        .resource_types()
        .iter()
        .find(|rt| rt.name().eq_ignore_ascii_case(name))
        .map(|rt| rt.to_json(base_url))
        .ok_or_else(|| ScimError::not_found(format!("no resource type '{name}'")))
}

/// A schema's representation. A resource type's core schema also lists the
/// common attributes `id` and `externalId` (RFC 7643 §3.1 keeps them out of
/// schemas, but Entra ID's gallery check looks there for every attribute
/// its mapping uses, `externalId` among them), with the characteristics
/// the RFC gives them.
fn schema_json(schemas: &Schemas, s: &crate::scim::schema::Schema, base_url: &str) -> Value {
    let mut out = s.to_json(base_url);
    let core = crate::scim::Kind::ALL
        .iter()
        .any(|k| schemas.resource_type(*k).schema.id == s.id);
    if let (true, Some(Value::Array(attrs))) = (core, out.get_mut("attributes")) {
        // `meta` stays out: clients that build models from /Schemas give
        // it the RFC's own type, which a declared complex would replace.
        let common = crate::scim::schema::COMMON_ATTRIBUTES
            .iter()
            .filter(|a| a.name != "meta")
            .map(|a| a.to_json());
        let own = std::mem::take(attrs);
        attrs.extend(common.chain(own));
    }
    out
}

pub fn schemas(schemas: &Schemas, base_url: &str) -> Value {
    let all: Vec<Value> = schemas
        .all()
        .map(|s| schema_json(schemas, s, base_url))
        .collect();
    let n = all.len();
    list_response(all, Some(n), Some(1), None)
}

pub fn schema(schemas: &Schemas, urn: &str, base_url: &str) -> Result<Value, ScimError> {
    schemas
        .all()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
        .map(|s| schema_json(schemas, s, base_url))
        .ok_or_else(|| ScimError::not_found(format!("no schema '{urn}'")))
}
