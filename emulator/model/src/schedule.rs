//! A job schedule as stored (its operations are in `account::job_schedules`).

use crate::ids::IdKey;
use crate::version::Version;
use batch_client::models::{BatchJobScheduleConfiguration, BatchJobScheduleCreateOptions};
use time::OffsetDateTime;

/// `state` of a job schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ScheduleState {
    Active,
    Disabled,
    Terminating,
    Completed,
    Deleting,
}

impl ScheduleState {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleState::Active => "active",
            ScheduleState::Disabled => "disabled",
            ScheduleState::Terminating => "terminating",
            ScheduleState::Completed => "completed",
            ScheduleState::Deleting => "deleting",
        }
    }
}

/// A job schedule.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JobSchedule {
    /// The create body with `schedule` and `jobSpecification` present (defaults filled in).
    pub spec: BatchJobScheduleCreateOptions,
    pub state: ScheduleState,
    pub state_transition_time: OffsetDateTime,
    pub previous_state: Option<(ScheduleState, OffsetDateTime)>,
    pub creation_time: OffsetDateTime,
    pub version: Version,
    /// When the next job is due (`executionInfo.nextRunTime`).
    pub next_run_time: Option<OffsetDateTime>,
    /// The due time of the last job created.
    pub last_run_time: Option<OffsetDateTime>,
    /// Jobs created so far (the next is `<id>:job-<n + 1>`).
    pub jobs_created: u64,
    /// `executionInfo.endTime`.
    pub end_time: Option<OffsetDateTime>,
    /// The pool its first job made from an `autoPoolSpecification` with `poolLifetimeOption:
    /// jobschedule`.
    #[serde(default)]
    pub auto_pool_id: Option<String>,
}

impl JobSchedule {
    pub fn key(&self) -> IdKey {
        IdKey::of(&self.spec.id)
    }
    /// `executionInfo.recentJob`: the last job created.
    pub fn recent_job(&self) -> Option<String> {
        (self.jobs_created > 0).then(|| format!("{}:job-{}", self.spec.id, self.jobs_created))
    }
    pub fn config(&self) -> BatchJobScheduleConfiguration {
        self.spec.schedule.clone().unwrap_or_default()
    }
    pub(crate) fn set_state(&mut self, state: ScheduleState, now: OffsetDateTime) {
        if self.state != state {
            self.previous_state = Some((self.state, self.state_transition_time));
            self.state = state;
            self.state_transition_time = now;
        }
    }
}
