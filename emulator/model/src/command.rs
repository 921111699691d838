//! Every state change of an account as a value: the API's mutations and the node agent's
//! reports. Applying the same commands at the same times to a fresh account (with the same node
//! id seed) rebuilds the same state, which is what the emulator's journal relies on.

use crate::account::{Account, TaskAddOutcome};
use crate::effects::{TaskOutcome, Timer};
use crate::error::DomainError;
use crate::version::Version;
use batch_client::models::*;
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use time::OffsetDateTime;

/// One state change. Serialized with a `type` tag; new variants may be added, existing ones
/// must keep their shape (journals written by older builds must still load).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Command {
    CreatePool {
        spec: BatchPoolCreateOptions,
    },
    UpdatePool {
        pool_id: String,
        patch: BatchPoolUpdateOptions,
    },
    ReplacePoolProperties {
        pool_id: String,
        body: BatchPoolReplaceOptions,
    },
    ResizePool {
        pool_id: String,
        body: BatchPoolResizeOptions,
    },
    StopPoolResize {
        pool_id: String,
    },
    RemoveNodes {
        pool_id: String,
        body: BatchNodeRemoveOptions,
    },
    DeletePool {
        pool_id: String,
    },
    CreateJob {
        spec: BatchJobCreateOptions,
    },
    UpdateJob {
        job_id: String,
        patch: BatchJobUpdateOptions,
    },
    ReplaceJob {
        job_id: String,
        body: BatchJobUpdateOptions,
    },
    DeleteJob {
        job_id: String,
    },
    TerminateJob {
        job_id: String,
        reason: Option<String>,
    },
    DisableJob {
        job_id: String,
        body: BatchJobDisableOptions,
    },
    EnableJob {
        job_id: String,
    },
    CreateJobSchedule {
        spec: BatchJobScheduleCreateOptions,
    },
    UpdateJobSchedule {
        schedule_id: String,
        patch: BatchJobScheduleUpdateOptions,
        /// PUT: omitted properties are reset.
        replace: bool,
    },
    DisableJobSchedule {
        schedule_id: String,
    },
    EnableJobSchedule {
        schedule_id: String,
    },
    TerminateJobSchedule {
        schedule_id: String,
    },
    DeleteJobSchedule {
        schedule_id: String,
    },
    AddTask {
        job_id: String,
        spec: BatchTaskCreateOptions,
    },
    AddTaskCollection {
        job_id: String,
        tasks: Vec<BatchTaskCreateOptions>,
    },
    ReplaceTask {
        job_id: String,
        task_id: String,
        body: BatchTaskReplaceOptions,
    },
    DeleteTask {
        job_id: String,
        task_id: String,
    },
    TerminateTask {
        job_id: String,
        task_id: String,
    },
    ReactivateTask {
        job_id: String,
        task_id: String,
    },
    RebootNode {
        pool_id: String,
        node_id: String,
        option: Option<String>,
    },
    ReimageNode {
        pool_id: String,
        node_id: String,
        option: Option<String>,
    },
    DisableNodeScheduling {
        pool_id: String,
        node_id: String,
        option: Option<String>,
    },
    EnableNodeScheduling {
        pool_id: String,
        node_id: String,
    },
    CreateNodeUser {
        pool_id: String,
        node_id: String,
        body: serde_json::Value,
    },
    ReplaceNodeUser {
        pool_id: String,
        node_id: String,
        name: String,
        body: serde_json::Value,
    },
    DeleteNodeUser {
        pool_id: String,
        node_id: String,
        name: String,
    },
    // Reports of the node agent.
    NodeRestarted {
        pool_id: String,
        node_id: String,
    },
    NodeProvisioned {
        pool_id: String,
        node_id: String,
    },
    NodeReady {
        pool_id: String,
        node_id: String,
    },
    NodeRemoved {
        pool_id: String,
        node_id: String,
    },
    NodeUnusable {
        pool_id: String,
        node_id: String,
        errors: Vec<BatchNodeError>,
    },
    TaskExited {
        run_id: u64,
        outcome: TaskOutcome,
    },
    /// What an attempt used, reported just before it exits (journals before this build have
    /// none: their tasks have no usage).
    TaskUsage {
        run_id: u64,
        usage: crate::stats::Usage,
    },
    /// The attempt's process or container started (journals before this build have none: their
    /// tasks go from placed to exited directly).
    TaskStarted {
        run_id: u64,
        #[serde(with = "batch_client::timefmt::body")]
        start: OffsetDateTime,
    },
    FinishJobTransition {
        job_id: String,
    },
    RetentionExpired {
        job_id: String,
        task_id: String,
    },
    FinishJobDeletion {
        job_id: String,
    },
    JobWallClockExpired {
        job_id: String,
    },
    JobScheduleDue {
        schedule_id: String,
    },
    FinishPoolDeletion {
        pool_id: String,
    },
    /// The emulator restarted: nothing that was running still runs.
    Recover,
    /// Control API: a Spot/low-priority node is preempted.
    PreemptNode {
        pool_id: String,
        node_id: String,
    },
    /// Control API: a preempted node comes back.
    RecoverNode {
        pool_id: String,
        node_id: String,
    },
    /// Control API: a node turns `unusable` with `errors`.
    MakeNodeUnusable {
        pool_id: String,
        node_id: String,
        errors: Vec<BatchNodeError>,
    },
    /// Control API: the account is emptied.
    Reset,
    DeallocateNode {
        pool_id: String,
        node_id: String,
        option: Option<String>,
    },
    StartNode {
        pool_id: String,
        node_id: String,
    },
    EnableAutoScale {
        pool_id: String,
        formula: Option<String>,
        interval: Option<batch_client::BatchDuration>,
    },
    DisableAutoScale {
        pool_id: String,
    },
    /// An autoscale pool's evaluation timer fired.
    AutoScaleDue {
        pool_id: String,
    },
    /// An autoscale pool's sampling timer fired.
    SamplePool {
        pool_id: String,
        /// What each node used over the period, measured by the node agent when the timer fired.
        #[serde(default)]
        nodes: Vec<crate::stats::NodeMetrics>,
    },
}

impl Timer {
    /// The command to apply when the timer fires.
    pub fn command(self) -> Command {
        match self {
            Timer::RetentionExpired { job_id, task_id } => Command::RetentionExpired { job_id, task_id },
            Timer::JobWallClock { job_id } => Command::JobWallClockExpired { job_id },
            Timer::ScheduleDue { schedule_id } => Command::JobScheduleDue { schedule_id },
            Timer::AutoScale { pool_id } => Command::AutoScaleDue { pool_id },
            Timer::PoolSample { pool_id } => Command::SamplePool { pool_id, nodes: Vec::new() },
        }
    }
}

/// What an applied command produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The new version of the entity written.
    Version(Version),
    /// Per-task results of add task collection.
    TaskResults(Vec<(String, TaskAddOutcome)>),
    Done,
}

impl Applied {
    /// The version, for commands that write one entity.
    pub fn version(self) -> Option<Version> {
        match self {
            Applied::Version(v) => Some(v),
            _ => None,
        }
    }
}

impl Account {
    /// Applies one command at `now`.
    pub fn apply(&mut self, cmd: Command, now: OffsetDateTime) -> Result<Applied, DomainError> {
        let cmd = match self.apply_pool_request(cmd, now) {
            ControlFlow::Break(result) => return result,
            ControlFlow::Continue(other) => other,
        };
        let cmd = match self.apply_job_request(cmd, now) {
            ControlFlow::Break(result) => return result,
            ControlFlow::Continue(other) => other,
        };
        self.apply_report(cmd, now);
        Ok(Applied::Done)
    }

    /// A request on pools and nodes; any other command is handed back.
    fn apply_pool_request(&mut self, cmd: Command, now: OffsetDateTime) -> ControlFlow<Result<Applied, DomainError>, Command> {
        use crate::node::Restart;
        use Applied::{Done, Version as V};
        ControlFlow::Break(match cmd {
            Command::CreatePool { spec } => self.create_pool(spec, now).map(V),
            Command::UpdatePool { pool_id, patch } => self.update_pool(&pool_id, patch, now).map(V),
            Command::ReplacePoolProperties { pool_id, body } => self.replace_pool_properties(&pool_id, body, now).map(V),
            Command::ResizePool { pool_id, body } => self.resize_pool(&pool_id, body, now).map(V),
            Command::StopPoolResize { pool_id } => self.stop_pool_resize(&pool_id, now).map(V),
            Command::RemoveNodes { pool_id, body } => self.remove_nodes(&pool_id, body, now).map(V),
            Command::DeletePool { pool_id } => self.delete_pool(&pool_id, now).map(|()| Done),
            Command::RebootNode { pool_id, node_id, option } => self.restart_node(&pool_id, &node_id, Restart::Reboot, option.as_deref(), now).map(|()| Done),
            Command::ReimageNode { pool_id, node_id, option } => self.restart_node(&pool_id, &node_id, Restart::Reimage, option.as_deref(), now).map(|()| Done),
            Command::DisableNodeScheduling { pool_id, node_id, option } => {
                self.disable_node_scheduling(&pool_id, &node_id, option.as_deref(), now).map(|()| Done)
            }
            Command::EnableNodeScheduling { pool_id, node_id } => self.enable_node_scheduling(&pool_id, &node_id, now).map(|()| Done),
            Command::CreateNodeUser { pool_id, node_id, body } => self.create_node_user(&pool_id, &node_id, body, now).map(|()| Done),
            Command::ReplaceNodeUser { pool_id, node_id, name, body } => self.replace_node_user(&pool_id, &node_id, &name, body, now).map(|()| Done),
            Command::DeleteNodeUser { pool_id, node_id, name } => self.delete_node_user(&pool_id, &node_id, &name).map(|()| Done),
            Command::DeallocateNode { pool_id, node_id, option } => self.deallocate_node(&pool_id, &node_id, option.as_deref(), now).map(|()| Done),
            Command::StartNode { pool_id, node_id } => self.start_node(&pool_id, &node_id, now).map(|()| Done),
            Command::PreemptNode { pool_id, node_id } => self.preempt_node(&pool_id, &node_id, now).map(|()| Done),
            Command::RecoverNode { pool_id, node_id } => self.recover_node(&pool_id, &node_id, now).map(|()| Done),
            Command::MakeNodeUnusable { pool_id, node_id, errors } => self.make_node_unusable(&pool_id, &node_id, errors, now).map(|()| Done),
            Command::Reset => {
                self.reset();
                Ok(Done)
            }
            Command::EnableAutoScale { pool_id, formula, interval } => self.enable_auto_scale(&pool_id, formula, interval, now).map(V),
            Command::DisableAutoScale { pool_id } => self.disable_auto_scale(&pool_id, now).map(V),
            Command::AutoScaleDue { pool_id } => {
                self.auto_scale_due(&pool_id, now);
                Ok(Done)
            }
            Command::SamplePool { pool_id, nodes } => {
                self.sample_pool(&pool_id, &nodes, now);
                Ok(Done)
            }
            other => return ControlFlow::Continue(other),
        })
    }

    /// A request on jobs, job schedules and tasks; any other command is handed back.
    fn apply_job_request(&mut self, cmd: Command, now: OffsetDateTime) -> ControlFlow<Result<Applied, DomainError>, Command> {
        use Applied::{Done, Version as V};
        ControlFlow::Break(match cmd {
            Command::CreateJob { spec } => self.create_job(spec, now).map(V),
            Command::UpdateJob { job_id, patch } => self.update_job(&job_id, patch, now).map(V),
            Command::ReplaceJob { job_id, body } => self.replace_job(&job_id, body, now).map(V),
            Command::DeleteJob { job_id } => self.delete_job(&job_id, now).map(|()| Done),
            Command::TerminateJob { job_id, reason } => self.terminate_job(&job_id, reason, now).map(V),
            Command::DisableJob { job_id, body } => self.disable_job(&job_id, body, now).map(V),
            Command::EnableJob { job_id } => self.enable_job(&job_id, now).map(V),
            Command::CreateJobSchedule { spec } => self.create_job_schedule(spec, now).map(V),
            Command::UpdateJobSchedule { schedule_id, patch, replace } => self.update_job_schedule(&schedule_id, patch, replace, now).map(V),
            Command::DisableJobSchedule { schedule_id } => self.disable_job_schedule(&schedule_id, now).map(V),
            Command::EnableJobSchedule { schedule_id } => self.enable_job_schedule(&schedule_id, now).map(V),
            Command::TerminateJobSchedule { schedule_id } => self.terminate_job_schedule(&schedule_id, now).map(V),
            Command::DeleteJobSchedule { schedule_id } => self.delete_job_schedule(&schedule_id, now).map(|()| Done),
            Command::AddTask { job_id, spec } => self.add_task(&job_id, spec, now).map(V),
            Command::AddTaskCollection { job_id, tasks } => self.add_task_collection(&job_id, tasks, now).map(Applied::TaskResults),
            Command::ReplaceTask { job_id, task_id, body } => self.replace_task(&job_id, &task_id, body, now).map(V),
            Command::DeleteTask { job_id, task_id } => self.delete_task(&job_id, &task_id, now).map(|()| Done),
            Command::TerminateTask { job_id, task_id } => self.terminate_task(&job_id, &task_id, now).map(V),
            Command::ReactivateTask { job_id, task_id } => self.reactivate_task(&job_id, &task_id, now).map(V),
            other => return ControlFlow::Continue(other),
        })
    }

    /// A report of the node agent or the timer service: never refused. (Requests are applied
    /// before this is reached.)
    fn apply_report(&mut self, cmd: Command, now: OffsetDateTime) {
        match cmd {
            Command::NodeRestarted { pool_id, node_id } => self.node_restarted(&pool_id, &node_id, now),
            Command::NodeProvisioned { pool_id, node_id } => self.node_provisioned(&pool_id, &node_id, now),
            Command::NodeReady { pool_id, node_id } => self.node_ready(&pool_id, &node_id, now),
            Command::NodeUnusable { pool_id, node_id, errors } => self.node_unusable(&pool_id, &node_id, errors, now),
            Command::NodeRemoved { pool_id, node_id } => self.node_removed(&pool_id, &node_id, now),
            Command::TaskExited { run_id, outcome } => self.task_exited(run_id, outcome, now),
            Command::TaskUsage { run_id, usage } => self.task_usage(run_id, usage),
            Command::TaskStarted { run_id, start } => self.task_started(run_id, start, now),
            Command::JobScheduleDue { schedule_id } => self.schedule_job_ended(&crate::IdKey::of(&schedule_id), now),
            Command::JobWallClockExpired { job_id } => self.job_wall_clock_expired(&job_id, now),
            Command::RetentionExpired { job_id, task_id } => self.retention_expired(&job_id, &task_id, now),
            Command::FinishJobTransition { job_id } => self.finish_job_transition(&job_id, now),
            Command::FinishJobDeletion { job_id } => self.finish_job_deletion(&job_id, now),
            Command::FinishPoolDeletion { pool_id } => self.finish_pool_deletion(&pool_id, now),
            Command::Recover => self.recover(now),
            _ => {}
        }
    }
}
