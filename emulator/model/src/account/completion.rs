//! How attempts end: exit reports, retries, requeues, terminations, retention of task
//! directories, exit conditions and job actions, job manager completion.

use super::state::{Account, RunTarget};
use super::validation::ci_eq;
use crate::effects::{failure_exit_code, failure_max_wall_clock, Effect, TaskOutcome, Timer};
use crate::ids::IdKey;
use crate::job::{Job, JobState};
use crate::node::NodeState;
use crate::task::{Task, TaskState};
use batch_client::models::*;
use batch_client::BatchDuration;
use time::OffsetDateTime;

impl Account {
    /// Frees the node slots of a running task (and settles the node's state).
    pub(super) fn release_node_slot(&mut self, job: &IdKey, task: &IdKey, now: OffsetDateTime) {
        let Some(p) = self.jobs.get(job).and_then(|j| j.tasks.get(task)).and_then(|t| t.placement.clone()) else {
            return;
        };
        // A multi-instance task holds a slot on each of its instances' nodes.
        let others = self.end_instances(job, task, now);
        for (pool_id, node_id) in std::iter::once((p.pool_id, p.node_id)).chain(others) {
            let pool_key = IdKey::of(&pool_id);
            let mut remove = false;
            if let Some(n) = self.pools.get_mut(&pool_key).and_then(|pl| pl.nodes.get_mut(&node_id)) {
                n.running.retain(|r| !(r.job == *job && r.task == *task));
                n.settle(now);
                if n.leave_when_done && n.running.is_empty() && n.state != NodeState::LeavingPool {
                    n.set_state(NodeState::LeavingPool, now);
                    remove = true;
                }
            }
            if remove {
                self.outbox.push(Effect::RemoveNode { pool_id, node_id });
            } else {
                self.restart_if_pending(&pool_key, &node_id, now);
            }
        }
    }

    /// Puts a running task back to `active` (node removed, pool deleted, job disabled).
    pub(crate) fn requeue_task(&mut self, job: &IdKey, task: &IdKey, counts_as_requeue: bool, now: OffsetDateTime) {
        self.release_node_slot(job, task, now);
        let Some(j) = self.jobs.get_mut(job) else {
            return;
        };
        let job_active = j.state == JobState::Active;
        let Some(mut t) = j.tasks.get_mut(task) else {
            return;
        };
        if let Some(run) = t.run_id.take() {
            self.runs.remove(&run);
            self.outbox.push(Effect::KillTask { run_id: run });
        }
        if counts_as_requeue {
            t.execution_info.requeue_count += 1;
            t.execution_info.last_requeue_time = Some(now);
        }
        t.set_state(TaskState::Active, now);
        let seq = t.seq;
        if job_active {
            j.queue.insert(seq, task.clone());
            self.queued.insert(job.clone());
        }
    }

    /// Ends a running attempt as completed with `failure` (terminate, timeout).
    pub(crate) fn end_running_task(&mut self, job: &IdKey, task: &IdKey, failure: FailureInfo, now: OffsetDateTime) {
        self.release_node_slot(job, task, now);
        let Some(mut t) = self.jobs.get_mut(job).and_then(|j| j.tasks.get_mut(task)) else {
            return;
        };
        let run = t.run_id.take();
        if let Some(start) = t.execution_info.start_time.filter(|_| t.state == TaskState::Running) {
            t.stats.wall_clock_ms = t.stats.wall_clock_ms.saturating_add(u64::try_from((now - start).whole_milliseconds()).unwrap_or(0));
        }
        t.execution_info.end_time = Some(now);
        t.execution_info.result = Some("failure".into());
        t.execution_info.failure_info = Some(failure);
        t.set_state(TaskState::Completed, now);
        drop(t);
        if let Some(run) = run {
            self.runs.remove(&run);
            self.outbox.push(Effect::KillTask { run_id: run });
        }
        self.on_task_completed(job, task, now);
    }

    /// Asks the agent to clean the task's directory (and kept container) once its
    /// `retentionTime` after completion has passed (node-and-container-semantics.md §5.9).
    pub(super) fn schedule_retention(&mut self, job: &IdKey, task: &IdKey) {
        let Some(j) = self.jobs.get(job) else { return };
        let Some(t) = j.tasks.get(task) else { return };
        let (Some(end), Some(_)) = (t.execution_info.end_time, t.placement.as_ref()) else { return };
        if t.files_cleaned {
            return;
        }
        let retention = t.spec.constraints.as_ref().and_then(|c| c.retention_time).unwrap_or(BatchDuration::from_secs(7 * 86_400));
        if retention.is_unlimited() {
            return;
        }
        let until = end + time::Duration::nanoseconds(i64::try_from(i128::from(retention.ticks()) * 100).unwrap_or(i64::MAX));
        let timer = Timer::RetentionExpired { job_id: j.spec.id.clone(), task_id: t.spec.id.clone() };
        self.outbox.push(Effect::At { when: until, timer });
    }

    /// The agent's timer for a task's retention fired: if the task is still the completed one
    /// it was set for, its directory is cleaned up.
    pub fn retention_expired(&mut self, job_id: &str, task_id: &str, now: OffsetDateTime) {
        let Ok(t) = self.task(job_id, task_id) else { return };
        let Some(end) = t.execution_info.end_time else { return };
        if t.state != TaskState::Completed || t.files_cleaned {
            return;
        }
        let retention = t.spec.constraints.as_ref().and_then(|c| c.retention_time).unwrap_or(BatchDuration::from_secs(7 * 86_400));
        let until = end + time::Duration::nanoseconds(i64::try_from(i128::from(retention.ticks()) * 100).unwrap_or(i64::MAX));
        if now < until {
            return;
        }
        let Some(p) = t.placement.clone() else { return };
        let (job_id, task_id) = (self.job(job_id).map(|j| j.spec.id.clone()).unwrap_or_default(), t.spec.id.clone());
        if let Ok(mut t) = self.task_mut(&job_id, &task_id) {
            t.files_cleaned = true;
        }
        self.outbox.push(Effect::DeleteTaskDirectory { pool_id: p.pool_id, node_id: p.node_id, job_id, task_id });
    }

    /// Whether every parent of a task is completed and satisfies it.
    pub(super) fn dependencies_satisfied(job: &Job, task: &Task) -> bool {
        crate::dependencies::parents_satisfied(task, job.tasks.len(), |id| job.tasks.get(&IdKey::of(id)).is_some_and(crate::dependencies::satisfies_dependents))
    }

    /// The task's `exitOptions.jobAction`, when the job performs them.
    fn apply_job_action(&mut self, job: &IdKey, task: &IdKey, now: OffsetDateTime) {
        let Some(j) = self.jobs.get(job) else { return };
        if !j.spec.on_task_failure.as_deref().is_some_and(|f| ci_eq(f, "performexitoptionsjobaction")) || j.state != JobState::Active {
            return;
        }
        let Some(t) = j.tasks.get(task) else { return };
        let action = crate::dependencies::effective_exit_options(t).job_action.unwrap_or_default().to_ascii_lowercase();
        match action.as_str() {
            "terminate" => self.begin_termination(job, "TaskFailed".into(), now),
            "disable" => {
                // Disable Job with requeue (node-and-container-semantics.md §5.5).
                let id = j.spec.id.clone();
                let _ = self.disable_job(&id, BatchJobDisableOptions { disable_tasks: Some("requeue".into()) }, now);
            }
            _ => {}
        }
    }

    pub(super) fn on_task_completed(&mut self, job: &IdKey, task: &IdKey, now: OffsetDateTime) {
        // A job manager task with killJobOnCompletion ends its job, whatever its result
        // (node-and-container-semantics.md §5.7).
        let kills_job = self.jobs.get(job).and_then(|j| j.tasks.get(task)).and_then(|t| t.job_manager).is_some_and(|m| m.kill_job_on_completion);
        if kills_job && self.jobs.get(job).is_some_and(|j| matches!(j.state, JobState::Active | JobState::Disabling | JobState::Disabled | JobState::Enabling))
        {
            self.schedule_retention(job, task);
            self.begin_termination(job, "JMComplete".into(), now);
            return;
        }
        self.apply_job_action(job, task, now);
        self.schedule_retention(job, task);
        self.check_all_tasks_complete(job, now);
        if let Some(j) = self.jobs.get(job) {
            if j.state == JobState::Disabling {
                let id = j.spec.id.clone();
                self.finish_job_transition(&id, now);
            }
        }
    }

    /// The node agent's report that an attempt's process or container has started: the task
    /// turns `running` and `executionInfo.startTime` is that moment. A report for a run that is
    /// no longer the task's (killed, requeued) changes nothing.
    pub fn task_started(&mut self, run_id: u64, start: OffsetDateTime, now: OffsetDateTime) {
        let (jk, tk) = match self.runs.get(&run_id).cloned() {
            Some(RunTarget::Task(jk, tk)) => (jk, tk),
            Some(RunTarget::Subtask(jk, tk, id)) => return self.subtask_started(&jk, &tk, id, run_id, start, now),
            _ => return,
        };
        let version = self.version(now);
        let Some(mut t) = self.jobs.get_mut(&jk).and_then(|j| j.tasks.get_mut(&tk)) else { return };
        if t.run_id != Some(run_id) || t.state != TaskState::Launching {
            return;
        }
        t.execution_info.start_time = Some(start);
        t.version = version;
        t.set_state(TaskState::Running, now);
    }

    /// The node agent's measure of what an attempt used (a subtask's counts toward its task).
    pub fn task_usage(&mut self, run_id: u64, usage: crate::stats::Usage) {
        let (jk, tk) = match self.runs.get(&run_id) {
            Some(RunTarget::Task(jk, tk) | RunTarget::Subtask(jk, tk, _)) => (jk.clone(), tk.clone()),
            _ => return,
        };
        if let Some(mut t) = self.jobs.get_mut(&jk).and_then(|j| j.tasks.get_mut(&tk)) {
            t.stats.usage.add(&usage);
        }
    }

    /// The node agent's report that an attempt ended.
    pub fn task_exited(&mut self, run_id: u64, outcome: TaskOutcome, now: OffsetDateTime) {
        let (jk, tk) = match self.runs.remove(&run_id) {
            Some(RunTarget::Task(jk, tk)) => (jk, tk),
            Some(RunTarget::StartTask { pool, node }) => return self.start_task_exited(&pool, &node, run_id, outcome, now),
            Some(RunTarget::JobPrep { job, node }) => return self.prep_exited(&job, &node, run_id, outcome, now),
            Some(RunTarget::JobRelease { job, node }) => return self.release_exited(&job, &node, run_id, outcome, now),
            Some(RunTarget::Subtask(job, task, id)) => return self.subtask_exited(&job, &task, id, run_id, outcome, now),
            None => return,
        };
        self.release_node_slot(&jk, &tk, now);
        let version = self.version(now);
        let Some(job) = self.jobs.get_mut(&jk) else {
            return;
        };
        let job_active = job.state == JobState::Active;
        let Some(mut t) = job.tasks.get_mut(&tk) else {
            return;
        };
        if t.run_id != Some(run_id) {
            return;
        }
        t.run_id = None;
        t.version = version;
        let max_retries = t.max_task_retry_count();
        // The agent reported the start (startTime set then); an attempt that never reported it
        // (a launch failure, or a journal from before the report existed) starts at the outcome's.
        let reported_start = t.state == TaskState::Running;
        // Wall clock time counts every attempt (REST `BatchTaskStatistics.wallClockTime`).
        let (outcome_start, outcome_end) = outcome.times();
        let began = t.execution_info.start_time.filter(|_| reported_start).unwrap_or(outcome_start);
        t.stats.wall_clock_ms = t.stats.wall_clock_ms.saturating_add(u64::try_from((outcome_end - began).whole_milliseconds()).unwrap_or(0));
        let info = &mut t.execution_info;
        let succeeded;
        // Only a nonzero exit is retried (node-and-container-semantics.md §5.4), whatever its
        // uploads did: the next attempt uploads again. UNCONFIRMED: that uploads follow every
        // attempt, not only the last.
        let outcome = match outcome {
            TaskOutcome::UploadFailed { exit_code, start, end, container_info, .. }
                if exit_code != 0 && (max_retries == -1 || info.retry_count < max_retries) =>
            {
                TaskOutcome::Exited { exit_code, start, end, container_info }
            }
            o => o,
        };
        match outcome {
            TaskOutcome::UploadFailed { exit_code, failure, start, end, container_info } => {
                // The command ran; an output file could not be uploaded (a failure however it exited).
                if !reported_start {
                    info.start_time = Some(start);
                }
                info.container_info = container_info;
                info.exit_code = Some(exit_code);
                info.end_time = Some(end);
                info.result = Some("failure".into());
                info.failure_info = Some(failure);
                succeeded = false;
            }
            TaskOutcome::Exited { exit_code, start, end, container_info } => {
                if !reported_start {
                    info.start_time = Some(start);
                }
                info.container_info = container_info;
                info.exit_code = Some(exit_code);
                succeeded = exit_code == 0;
                if !succeeded && (max_retries == -1 || info.retry_count < max_retries) {
                    info.retry_count += 1;
                    info.last_retry_time = Some(now);
                    info.end_time = None;
                    info.result = None;
                    info.failure_info = None;
                    t.set_state(TaskState::Active, now);
                    let seq = t.seq;
                    drop(t);
                    if job_active {
                        job.queue.insert(seq, tk.clone());
                        self.queued.insert(jk.clone());
                    }
                    self.note_node_result(&jk, &tk, false);
                    self.schedule(now);
                    return;
                }
                info.end_time = Some(end);
                info.result = Some(if succeeded { "success" } else { "failure" }.into());
                info.failure_info = if succeeded { None } else { Some(failure_exit_code()) };
            }
            TaskOutcome::FailedToStart { failure, start, end, container_info } => {
                if !reported_start {
                    info.start_time = Some(start);
                }
                info.container_info = container_info;
                info.end_time = Some(end);
                info.exit_code = None;
                info.result = Some("failure".into());
                info.failure_info = Some(failure);
                succeeded = false;
            }
            TaskOutcome::TimedOut { exit_code, start, end, container_info } => {
                if !reported_start {
                    info.start_time = Some(start);
                }
                info.container_info = container_info;
                info.end_time = Some(end);
                info.exit_code = exit_code;
                info.result = Some("failure".into());
                info.failure_info = Some(failure_max_wall_clock());
                succeeded = false;
            }
        }
        t.set_state(TaskState::Completed, now);
        drop(t);
        self.note_node_result(&jk, &tk, succeeded);
        self.on_task_completed(&jk, &tk, now);
        self.schedule(now);
    }

    fn note_node_result(&mut self, job: &IdKey, task: &IdKey, succeeded: bool) {
        let Some(p) = self.jobs.get(job).and_then(|j| j.tasks.get(task)).and_then(|t| t.placement.clone()) else {
            return;
        };
        if let Some(n) = self.pools.get_mut(&IdKey::of(&p.pool_id)).and_then(|pl| pl.nodes.get_mut(&p.node_id)) {
            if succeeded {
                n.total_tasks_succeeded += 1;
            }
        }
    }
}
