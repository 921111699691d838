//! What the domain asks of the outside world (the node agent, the timer service) and what the
//! agent reports back: effects, launches, timers and task outcomes. The account pushes effects
//! to its outbox; the emulator carries them out. Nothing here imports the account.

use batch_client::models::*;
use batch_client::BatchDuration;
use time::OffsetDateTime;

/// Work the node agent must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Bring a new node up: create its directory tree, then call
    /// [`crate::Account::node_provisioned`] and [`crate::Account::node_ready`].
    ProvisionNode {
        pool_id: String,
        node_id: String,
        /// Set for container pools: the images to fetch before the node turns `idle`, and the
        /// registries to authenticate with.
        containers: Option<ContainerConfiguration>,
        /// Set for nodes of container pools with inter-node communication: the node's address
        /// ([`crate::node::NodeNetwork`]), to be made reachable before the node turns `idle`.
        network: Option<String>,
    },
    /// Make an existing node's address ([`crate::node::NodeNetwork`]) reachable again (after a
    /// restart).
    ConnectNode { pool_id: String, node_id: String, address: String },
    /// Forward each endpoint's frontend port (on the emulator's loopback address) to the node's
    /// backend port, until the node is removed.
    ForwardPorts { node_id: String, node_ip: String, endpoints: Vec<crate::endpoint::InboundEndpoint> },
    /// Run a task.
    Launch(Box<Launch>),
    /// Stop a running attempt; its exit report will be ignored.
    KillTask { run_id: u64 },
    /// Restart a node (a reimage first removes its directory tree and kept containers), call
    /// [`crate::Account::node_restarted`], make sure of the pool's images (as
    /// [`Effect::ProvisionNode`] does), then call [`crate::Account::node_ready`].
    RestartNode { pool_id: String, node_id: String, reimage: bool, containers: Option<ContainerConfiguration> },
    /// Remove a node's directory tree, then call [`crate::Account::node_removed`].
    RemoveNode { pool_id: String, node_id: String },
    /// Apply `timer`'s command once the clock reaches `when` (retention, job wall-clock limits, job
    /// schedules). Timers are not journalled: they are armed again by [`crate::Account::recover`].
    At { when: OffsetDateTime, timer: Timer },
    /// Remove a task's directory on a node.
    DeleteTaskDirectory { pool_id: String, node_id: String, job_id: String, task_id: String },
    /// Remove a job's directories on the given nodes, then call [`crate::Account::finish_job_deletion`].
    DeleteJob { job_id: String, nodes: Vec<(String, String)> },
    /// Call [`crate::Account::finish_job_transition`] once the kills sent before it are done.
    FinishJobTransition { job_id: String },
    /// Remove the pool's nodes, then call [`crate::Account::finish_pool_deletion`].
    DeletePool { pool_id: String, nodes: Vec<String> },
}

/// What kind of task a [`Launch`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchKind {
    Task,
    /// The pool's start task on one node (runs in `startup/`, uses no task slot).
    StartTask,
    /// A job's preparation task on one node.
    JobPreparation,
    /// A job's release task on one node.
    JobRelease,
}

/// Everything the node agent needs to run one attempt of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub run_id: u64,
    pub kind: LaunchKind,
    pub pool_id: String,
    pub node_id: String,
    pub node_ip: String,
    pub is_dedicated: bool,
    pub job_id: String,
    pub task_id: String,
    pub command_line: String,
    /// Job `commonEnvironmentSettings`, then task `environmentSettings` (later wins).
    pub environment: Vec<(String, String)>,
    pub container_settings: Option<ContainerSettings>,
    /// The node's pool packages, then the task's own: installed before the command runs.
    pub application_packages: Vec<crate::app_packages::PackageRef>,
    /// Uploaded after the command exits, before the attempt is reported.
    pub output_files: Vec<crate::output_files::OutputFile>,
    /// Downloaded into the working directory before the command line runs.
    pub resource_files: Vec<crate::resource_files::ResourceFile>,
    /// Who the task runs as: its `userIdentity` resolved against the pool's `userAccounts`, or
    /// why it cannot run (a named user the pool does not have).
    pub user: Result<crate::users::TaskUser, String>,
    /// The job an `AZ_BATCH_AUTHENTICATION_TOKEN` grants access to, when the task's
    /// `authenticationTokenSettings.access` asks for `job`.
    pub token_job: Option<String>,
    /// The pool's `containerConfiguration` (set for container pools).
    pub pool_containers: Option<ContainerConfiguration>,
    pub max_wall_clock_time: Option<BatchDuration>,
    /// True when this attempt is a retry on a node that may hold the previous attempt's files.
    pub is_retry: bool,
    /// The id of the job's preparation task (its directory is `AZ_BATCH_JOB_PREP_DIR`).
    pub job_prep_id: Option<String>,
    /// Set for an instance of a multi-instance task: its coordination command line (resource
    /// files, the common ones, go to the task directory) or the primary's application command
    /// (its output follows the coordination command's in the same files).
    pub multi_instance: Option<crate::multi_instance::InstanceLaunch>,
}

impl TaskOutcome {
    /// When the attempt started and ended.
    pub fn times(&self) -> (OffsetDateTime, OffsetDateTime) {
        match self {
            TaskOutcome::Exited { start, end, .. }
            | TaskOutcome::FailedToStart { start, end, .. }
            | TaskOutcome::UploadFailed { start, end, .. }
            | TaskOutcome::TimedOut { start, end, .. } => (*start, *end),
        }
    }
}

/// How an attempt ended, as the node agent saw it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum TaskOutcome {
    /// The process ran and exited.
    Exited {
        exit_code: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_info: Option<ContainerInfo>,
        #[serde(with = "batch_client::timefmt::body")]
        start: OffsetDateTime,
        #[serde(with = "batch_client::timefmt::body")]
        end: OffsetDateTime,
    },
    /// The process never started (program not found, launch failure…); never retried.
    FailedToStart {
        failure: FailureInfo,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_info: Option<ContainerInfo>,
        #[serde(with = "batch_client::timefmt::body")]
        start: OffsetDateTime,
        #[serde(with = "batch_client::timefmt::body")]
        end: OffsetDateTime,
    },
    /// The process exited, and an output file it should have uploaded could not be.
    UploadFailed {
        exit_code: i32,
        failure: FailureInfo,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_info: Option<ContainerInfo>,
        #[serde(with = "batch_client::timefmt::body")]
        start: OffsetDateTime,
        #[serde(with = "batch_client::timefmt::body")]
        end: OffsetDateTime,
    },
    /// Stopped because it ran longer than `maxWallClockTime`.
    TimedOut {
        exit_code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container_info: Option<ContainerInfo>,
        #[serde(with = "batch_client::timefmt::body")]
        start: OffsetDateTime,
        #[serde(with = "batch_client::timefmt::body")]
        end: OffsetDateTime,
    },
}

/// What an ended attempt comes to for start, preparation and release tasks.
pub(crate) struct OutcomeSummary {
    pub exit_code: Option<i32>,
    pub failure: Option<FailureInfo>,
    pub container_info: Option<ContainerInfo>,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

impl TaskOutcome {
    /// The exit code, the failure (nonzero exit, launch failure or timeout), and the times.
    pub(crate) fn summary(self) -> OutcomeSummary {
        match self {
            TaskOutcome::Exited { exit_code, start, end, container_info } => {
                OutcomeSummary { exit_code: Some(exit_code), failure: (exit_code != 0).then(failure_exit_code), container_info, start, end }
            }
            TaskOutcome::FailedToStart { failure, start, end, container_info } => {
                OutcomeSummary { exit_code: None, failure: Some(failure), container_info, start, end }
            }
            TaskOutcome::UploadFailed { exit_code, failure, start, end, container_info } => {
                OutcomeSummary { exit_code: Some(exit_code), failure: Some(failure), container_info, start, end }
            }
            TaskOutcome::TimedOut { exit_code, start, end, container_info } => {
                OutcomeSummary { exit_code, failure: Some(failure_max_wall_clock()), container_info, start, end }
            }
        }
    }
}

fn failure(category: &str, code: &str, message: &str, details: &[(&str, &str)]) -> FailureInfo {
    FailureInfo {
        category: category.to_string(),
        code: Some(code.to_string()),
        message: Some(message.to_string()),
        details: details.iter().map(|(n, v)| NameValuePair { name: Some(n.to_string()), value: Some(v.to_string()) }).collect(),
    }
}

/// The failureInfo of a nonzero exit (wire notes, "Task exit ≠ 0").
pub fn failure_exit_code() -> FailureInfo {
    failure(
        "usererror",
        "FailureExitCode",
        "The task exited with an exit code representing a failure",
        &[("Message", "The task process exited with an unexpected exit code"), ("AdditionalErrorCode", "FailureExitCode")],
    )
}

/// The failureInfo of a task ended by Terminate Task / Terminate Job.
pub fn failure_task_ended() -> FailureInfo {
    failure("usererror", "TaskEnded", "The task was ended by user request", &[])
}

/// The failureInfo of a task stopped by its `maxWallClockTime`.
pub fn failure_max_wall_clock() -> FailureInfo {
    // UNCONFIRMED: category for timeouts (node-and-container-semantics.md §6 TaskEnded row).
    failure("usererror", "TaskEnded", "The task was ended by user request", &[("Message", "The maximum execution time configured on the task was exceeded")])
}

/// A deadline the domain asked for ([`crate::Effect::At`]); when the clock reaches it, the
/// emulator applies `Timer::command`. Kept small: an emulator holds one per retained task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// A completed task's retention time passed.
    RetentionExpired { job_id: String, task_id: String },
    /// A job's `maxWallClockTime` may have run out.
    JobWallClock { job_id: String },
    /// A job schedule may have a job due (or a start window ending).
    ScheduleDue { schedule_id: String },
    /// An autoscale pool's evaluation may be due.
    AutoScale { pool_id: String },
    /// An autoscale pool's metrics are to be sampled.
    PoolSample { pool_id: String },
}
