//! The Batch domain: pools, compute nodes, jobs and tasks, their validation and state machines.
//!
//! This crate is a separate workspace member so the compiler enforces what may not be imported
//! here: no axum, hyper, bollard, `tokio::process` or `std::fs` (none is a dependency). Time
//! (`now`) comes in as an argument. Work that needs the outside world (start a process, make
//! a node directory, kill a task) leaves as an [`Effect`] in the account's outbox; the
//! emulator's node agent carries it out and reports back through methods here.
//!
//! Every mutating operation validates first and mutates second, so a rejected request changes
//! nothing.

pub mod account;
pub mod app_packages;
pub mod autoscale;
pub mod command;
pub mod dependencies;
pub mod effects;
pub mod endpoint;
pub mod error;
pub mod ids;
pub mod job;
pub mod layout;
pub mod ledger;
pub mod multi_instance;
pub mod node;
pub mod output_files;
pub mod pool;
pub mod resource_files;
pub mod schedule;
pub mod stats;
pub mod task;
pub mod task_table;
pub mod users;
pub mod version;

pub use account::Account;
pub use command::{Applied, Command};
pub use effects::{Effect, Launch, LaunchKind, TaskOutcome, Timer};
pub use error::{BatchErrorCode, DomainError};
pub use ids::IdKey;
pub use version::{Version, Versioner};
