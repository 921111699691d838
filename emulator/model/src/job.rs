//! Jobs and their state machine.

use crate::ids::IdKey;
use crate::task_table::TaskTable;
use crate::version::Version;
use batch_client::models::BatchJobCreateOptions;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// `state` of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum JobState {
    Active,
    Disabling,
    Disabled,
    Enabling,
    Terminating,
    Completed,
    Deleting,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Active => "active",
            JobState::Disabling => "disabling",
            JobState::Disabled => "disabled",
            JobState::Enabling => "enabling",
            JobState::Terminating => "terminating",
            JobState::Completed => "completed",
            JobState::Deleting => "deleting",
        }
    }
}

/// The job preparation and release tasks of one job on one node.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NodePrep {
    pub pool_id: String,
    pub prep: batch_client::models::JobPrepReleaseExecutionInfo,
    pub prep_run: Option<u64>,
    pub release: Option<batch_client::models::JobPrepReleaseExecutionInfo>,
    pub release_run: Option<u64>,
}

/// A job and its tasks.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Job {
    pub spec: BatchJobCreateOptions,
    pub seq: u64,
    pub state: JobState,
    pub state_transition_time: OffsetDateTime,
    pub previous_state: Option<(JobState, OffsetDateTime)>,
    pub creation_time: OffsetDateTime,
    pub start_time: OffsetDateTime,
    pub end_time: Option<OffsetDateTime>,
    pub terminate_reason: Option<String>,
    pub version: Version,
    pub tasks: TaskTable,
    /// Active tasks waiting for a node, in the order they were added.
    pub queue: BTreeMap<u64, IdKey>,
    /// Preparation and release state per node id.
    pub prep: BTreeMap<String, NodePrep>,
    /// The job schedule that created the job.
    pub schedule: Option<IdKey>,
    /// The pool made for the job from its `autoPoolSpecification`.
    #[serde(default)]
    pub auto_pool_id: Option<String>,
}

impl Job {
    pub fn key(&self) -> IdKey {
        IdKey::of(&self.spec.id)
    }
    /// The pool the job runs on: its own auto pool, or the one `poolInfo` names.
    pub fn pool_key(&self) -> Option<IdKey> {
        self.pool_id().map(IdKey::of)
    }
    /// `executionInfo.poolId`.
    pub fn pool_id(&self) -> Option<&str> {
        self.auto_pool_id.as_deref().or(self.spec.pool_info.pool_id.as_deref())
    }
    pub fn priority(&self) -> i32 {
        self.spec.priority.unwrap_or(0)
    }
    /// A task's environment: the job's `commonEnvironmentSettings`, then the task's own
    /// `environmentSettings` (a later setting of the same name wins).
    pub fn environment_with(&self, task_settings: Option<&Vec<batch_client::models::EnvironmentSetting>>) -> Vec<(String, String)> {
        let mut environment: Vec<(String, String)> = Vec::new();
        for e in self.spec.common_environment_settings.iter().flatten().chain(task_settings.into_iter().flatten()) {
            environment.retain(|(n, _)| *n != e.name);
            environment.push((e.name.clone(), e.value.clone().unwrap_or_default()));
        }
        environment
    }
    pub fn set_state(&mut self, state: JobState, now: OffsetDateTime) {
        if self.state != state {
            self.previous_state = Some((self.state, self.state_transition_time));
            self.state = state;
            self.state_transition_time = now;
        }
    }
}
