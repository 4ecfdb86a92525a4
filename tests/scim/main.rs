//! Whole-router tests: SCIM over HTTP semantics on both store drivers, the
//! Lambda front door, and the Secrets Manager token source.

mod auth;
mod bounds;
mod bulk;
mod common;
mod credentials;
mod discovery;
mod event_stream;
mod events;
mod extensions;
mod faults;
mod filters;
mod fuzz;
mod groups;
mod hostile;
mod idp;
mod lambda;
mod load;
mod oauth_clients;
mod paging;
mod query;
mod quirks;
mod races;
mod rfc_details;
mod secrets;
mod tenants;
mod transfer;
mod users;
