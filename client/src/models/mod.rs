//! Wire types of the Batch REST API (2025-06-01 names, camelCase JSON, omitted nulls).
//!
//! No behaviour lives here. Fields the emulator does not interpret yet are kept as
//! [`serde_json::Value`] so they round-trip (the service echoes what it was given); typed fields
//! are the ones something reads.

mod common;
mod job;
mod node;
mod pool;
mod schedule;
mod task;

pub use common::*;
pub use job::*;
pub use node::*;
pub use pool::*;
pub use schedule::*;
pub use task::*;
