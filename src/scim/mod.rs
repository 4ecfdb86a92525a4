//! The SCIM protocol, free of HTTP frameworks and of AWS: schemas, resource
//! validation and rendering, filter and PATCH path grammars, list responses,
//! errors.

mod builtin;
pub mod bulk;
pub mod cursor;
pub mod discovery;
pub mod error;
pub mod events;
pub mod extensions;
pub mod filter;
pub mod kind;
pub mod list;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod schemas;

pub use error::{ScimError, ScimType};
pub use kind::Kind;
