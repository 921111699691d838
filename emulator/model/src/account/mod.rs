//! One Batch account: every pool, node, job, job schedule and task, and the operations on them.
//!
//! Operations validate first and mutate second. Work for the outside world is pushed to the
//! account's outbox as [`Effect`](crate::Effect)s; the node agent drains it after each
//! operation, carries the effects out and reports back (`node_provisioned`, `task_exited`,
//! `finish_*`). Each file holds the operations on one kind of thing; they are all methods of
//! [`Account`], defined in `state`.

mod auto_pools;
mod autoscale;
mod completion;
mod faults;
mod job_prep;
mod job_schedules;
mod jobs;
mod multi_instance;
mod node_users;
mod nodes;
mod pools;
mod recovery;
mod scheduler;
mod state;
mod tasks;
mod validation;

pub use job_prep::PrepGate;
pub use jobs::BuiltJob;
pub use pools::DeallocationOption;
pub use state::{Account, MAX_NODES_PER_POOL, MAX_TASKS_PER_COLLECTION};
pub use tasks::TaskAddOutcome;
