//! Use cases: create, read, list, replace, patch and delete resources, with
//! uniqueness and versions. Storage errors become SCIM errors here, in one place.

mod users;

pub use users::{ListQuery, ListResult, Service, ServiceLimits};

use crate::scim::ScimError;
use crate::store::{DirError, StoreError};

impl From<DirError> for ScimError {
    fn from(e: DirError) -> Self {
        match e {
            DirError::UserNameTaken => {
                ScimError::uniqueness("userName is already taken (compared case-insensitively)")
            }
            DirError::VersionMismatch => ScimError::precondition_failed(
                "the resource was changed by another request; read it again and retry",
            ),
            DirError::Store(s) => s.into(),
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ItemTooLarge { bytes } => ScimError::payload_too_large(format!(
                "the resource would take {bytes} bytes in storage; the limit is {} bytes",
                crate::store::table::MAX_ITEM_BYTES
            )),
            StoreError::TooManyWrites { .. } => ScimError::payload_too_large(
                "the request needs more writes than one transaction allows",
            ),
            StoreError::Busy => ScimError::unavailable(),
            StoreError::ConditionFailed { .. } | StoreError::Backend(_) => {
                tracing::error!(error = %e, "store request failed");
                ScimError::internal()
            }
        }
    }
}
