//! Tasks and their state machine: `active` → (`launching`) → `running` → `completed` (and
//! back to `active` on a retry or requeue).

use crate::ids::IdKey;
use crate::version::Version;
use batch_client::models::{BatchTaskCreateOptions, BatchTaskExecutionInfo};
use time::OffsetDateTime;

/// `state` of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TaskState {
    Active,
    Preparing,
    /// Placed on a node, its process or container not started yet: shown as `active` (the
    /// service's state until the node starts the task); `running` once the agent reports it.
    Launching,
    Running,
    Completed,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Active => "active",
            TaskState::Preparing => "preparing",
            TaskState::Launching => "active",
            TaskState::Running => "running",
            TaskState::Completed => "completed",
        }
    }
}

/// Where a task runs or ran.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Placement {
    pub pool_id: String,
    pub node_id: String,
}

/// What makes a task its job's manager task (otherwise it is an ordinary task of the job).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobManager {
    /// Its completion terminates the job (`terminateReason: JMComplete`).
    pub kill_job_on_completion: bool,
    /// It runs alone on its node: it takes every slot.
    pub run_exclusive: bool,
    /// It may run on a spot/low-priority node.
    pub allow_low_priority_node: bool,
}

/// A task of a job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Task {
    /// The create body with the service's defaults filled in.
    pub spec: BatchTaskCreateOptions,
    pub seq: u64,
    pub state: TaskState,
    pub state_transition_time: OffsetDateTime,
    pub previous_state: Option<(TaskState, OffsetDateTime)>,
    pub creation_time: OffsetDateTime,
    pub version: Version,
    pub execution_info: BatchTaskExecutionInfo,
    /// The node of the current or last attempt.
    pub placement: Option<Placement>,
    /// Identifies the current attempt; exit reports of older attempts are ignored.
    pub run_id: Option<u64>,
    /// The task directory was removed when the retention time passed.
    pub files_cleaned: bool,
    /// Set for the job manager task.
    pub job_manager: Option<JobManager>,
    /// The instances of a multi-instance task's current or last attempt (0 is the primary).
    #[serde(default)]
    pub subtasks: Vec<crate::multi_instance::Subtask>,
    /// What its attempts used so far (`stats`).
    #[serde(default)]
    pub stats: crate::stats::TaskStats,
}

impl Task {
    pub fn key(&self) -> IdKey {
        IdKey::of(&self.spec.id)
    }
    pub fn required_slots(&self) -> u32 {
        self.spec.required_slots.unwrap_or(1).max(1) as u32
    }
    /// The slots the task holds on a node with `per_node` slots: all of them for an exclusive
    /// job manager task.
    pub fn node_slots(&self, per_node: u32) -> u32 {
        match self.job_manager {
            Some(m) if m.run_exclusive => per_node.max(self.required_slots()),
            _ => self.required_slots(),
        }
    }
    /// Whether the task may run on a node (dedicated or not).
    pub fn may_run_on(&self, dedicated: bool) -> bool {
        dedicated || self.job_manager.is_none_or(|m| m.allow_low_priority_node)
    }
    pub fn max_task_retry_count(&self) -> i32 {
        self.spec.constraints.as_ref().and_then(|c| c.max_task_retry_count).unwrap_or(0)
    }
    pub fn set_state(&mut self, state: TaskState, now: OffsetDateTime) {
        if self.state != state {
            self.previous_state = Some((self.state, self.state_transition_time));
            self.state = state;
            self.state_transition_time = now;
        }
    }
    /// Whether the task completed with `result: success`.
    pub fn succeeded(&self) -> bool {
        self.state == TaskState::Completed && self.execution_info.result.as_deref() == Some("success")
    }
}
