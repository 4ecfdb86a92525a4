//! The single-table model: keys, the table interface with its DynamoDB and
//! embedded (redb) drivers, and the resource module on top.

pub mod changes;
pub mod directory;
pub mod dynamo;
pub mod embedded;
pub mod keys;
pub mod removal;
pub mod table;

pub use directory::{CleanupTask, DirError, Directory, Edge, Stored, Written};
pub use removal::Removal;
pub use table::{Capacity, Requests, StoreError, Table};
