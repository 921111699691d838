//! Jobs: add (with its job manager task), update, replace, delete, terminate, disable, enable,
//! the job wall clock, and the transitions that wait for the node agent.

use super::state::Account;
use super::validation::{ci_eq, fill_prep_and_release_defaults, validate_prep_and_release};
use crate::effects::{failure_task_ended, Effect, Timer};
use crate::error::{BatchErrorCode as Code, DomainError};
use crate::ids::{validate_id, IdKey};
use crate::job::{Job, JobState};
use crate::task::{JobManager, TaskState};
use crate::version::Version;
use batch_client::models::*;
use batch_client::BatchDuration;
use std::collections::BTreeMap;
use std::ops::Bound;
use time::OffsetDateTime;

/// A validated job, not yet added, and its manager task.
#[derive(Debug, Clone)]
pub struct BuiltJob {
    pub job: Job,
    pub manager: Option<(BatchTaskCreateOptions, JobManager)>,
}

impl Account {
    fn validate_job_settings(
        priority: Option<i32>,
        max_parallel: Option<i32>,
        on_all: Option<&str>,
        constraints: Option<&BatchJobConstraints>,
    ) -> Result<(), DomainError> {
        if let Some(p) = priority {
            if !(-1000..=1000).contains(&p) {
                return Err(DomainError::invalid_property("priority", p.to_string(), "The priority must be between -1000 and 1000"));
            }
        }
        if let Some(m) = max_parallel {
            if m != -1 && m < 1 {
                return Err(DomainError::invalid_property("maxParallelTasks", m.to_string(), "The value must be -1 or greater than 0"));
            }
        }
        if let Some(v) = on_all {
            if !ci_eq(v, "noaction") && !ci_eq(v, "terminatejob") {
                return Err(DomainError::invalid_property("onAllTasksComplete", v, "The value must be noaction or terminatejob"));
            }
        }
        if let Some(c) = constraints {
            if let Some(r) = c.max_task_retry_count {
                if r < -1 {
                    return Err(DomainError::invalid_property("maxTaskRetryCount", r.to_string(), "The value must be -1 or greater"));
                }
            }
        }
        Ok(())
    }

    /// Add Job.
    pub fn create_job(&mut self, spec: BatchJobCreateOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let key = validate_id("id", &spec.id)?;
        let built = Self::build_job(spec, now)?;
        if built.job.spec.pool_info.auto_pool_specification.as_ref().and_then(|v| super::auto_pools::parse_auto_pool(v).ok()).is_some_and(|a| a.per_schedule) {
            // "You may apply this option only to Job Schedules, not to Jobs." UNCONFIRMED: the code.
            return Err(DomainError::invalid_property(
                "poolLifetimeOption",
                "jobschedule",
                "A job's auto pool lives as long as the job: jobschedule is for job schedules",
            ));
        }
        if self.jobs.contains_key(&key) {
            return Err(Code::JobExists.into());
        }
        if self.schedules.contains_key(&key) {
            return Err(Code::JobScheduleWithSameIdExists.into());
        }
        Ok(self.insert_job(key, built, None, now))
    }

    /// Validates a job body (also a schedule's `jobSpecification`) and builds the job with the
    /// service's defaults filled in, without adding it. The id is not checked here.
    pub(crate) fn build_job(mut spec: BatchJobCreateOptions, now: OffsetDateTime) -> Result<BuiltJob, DomainError> {
        if spec.pool_info.pool_id.is_none() && spec.pool_info.auto_pool_specification.is_none() {
            return Err(DomainError::missing_property("poolInfo"));
        }
        if let Some(auto) = &spec.pool_info.auto_pool_specification {
            if spec.pool_info.pool_id.is_some() {
                // UNCONFIRMED: the code for a poolInfo with both.
                return Err(DomainError::invalid_property(
                    "poolInfo",
                    "poolId and autoPoolSpecification",
                    "Specify either poolId or autoPoolSpecification, not both",
                ));
            }
            super::auto_pools::parse_auto_pool(auto)?;
        }
        Self::validate_job_settings(spec.priority, spec.max_parallel_tasks, spec.on_all_tasks_complete.as_deref(), spec.constraints.as_ref())?;
        if let Some(v) = &spec.on_task_failure {
            if !ci_eq(v, "noaction") && !ci_eq(v, "performexitoptionsjobaction") {
                return Err(DomainError::invalid_property("onTaskFailure", v.clone(), "The value must be noaction or performexitoptionsjobaction"));
            }
        }
        validate_prep_and_release(&spec)?;
        // Defaults as the service echoes them (batch-rest-api.md §5.3).
        spec.uses_task_dependencies.get_or_insert(false);
        spec.priority.get_or_insert(0);
        spec.allow_task_preemption.get_or_insert(false);
        spec.max_parallel_tasks.get_or_insert(-1);
        spec.on_all_tasks_complete = Some(spec.on_all_tasks_complete.as_deref().unwrap_or("noaction").to_ascii_lowercase());
        spec.on_task_failure = Some(spec.on_task_failure.as_deref().unwrap_or("noaction").to_ascii_lowercase());
        fill_prep_and_release_defaults(&mut spec);
        let c = spec.constraints.get_or_insert_with(Default::default);
        c.max_wall_clock_time.get_or_insert(BatchDuration::UNLIMITED);
        c.max_task_retry_count.get_or_insert(0);
        let mut job = Job {
            spec,
            seq: 0,
            state: JobState::Active,
            state_transition_time: now,
            previous_state: None,
            creation_time: now,
            start_time: now,
            end_time: None,
            terminate_reason: None,
            version: Version { etag: String::new(), last_modified: now },
            tasks: Default::default(),
            queue: BTreeMap::new(),
            prep: BTreeMap::new(),
            schedule: None,
            auto_pool_id: None,
        };
        // The job manager task is an ordinary task of the job, validated as one, added first.
        let manager = match job.spec.job_manager_task.take() {
            Some(mut jm) => {
                let (task, settings) = job_manager_task(&mut jm);
                let task = Self::prepare_task(&job, task)?;
                // UNCONFIRMED: a job manager id equal to the preparation or release task id is
                // refused like such a task id (batch-rest-api.md §2 error codes).
                Self::check_not_prep_or_release_id(&job, &task.id)?;
                jm.constraints = task.constraints.clone();
                jm.user_identity = task.user_identity.clone();
                job.spec.job_manager_task = Some(jm);
                Some((task, settings))
            }
            None => None,
        };
        Ok(BuiltJob { job, manager })
    }

    /// Adds a built job (of a schedule when `schedule` is set) and starts its manager task.
    pub(crate) fn insert_job(&mut self, key: IdKey, built: BuiltJob, schedule: Option<IdKey>, now: OffsetDateTime) -> Version {
        let version = self.version(now);
        self.job_seq += 1;
        let job = Job { seq: self.job_seq, version: version.clone(), schedule, ..built.job };
        self.jobs.insert(key.clone(), job);
        self.create_auto_pool(&key, now);
        if let Some((task, settings)) = built.manager {
            self.insert_task(&key, task, Some(settings), now);
        }
        self.arm_job_wall_clock(&key);
        // A job with no tasks counts as all-complete (node-and-container-semantics.md §5.7).
        self.check_all_tasks_complete(&key, now);
        self.schedule(now);
        version
    }

    pub(super) fn job_writable(job: &Job) -> Result<(), DomainError> {
        match job.state {
            JobState::Deleting => Err(Code::JobBeingDeleted.into()),
            JobState::Terminating => Err(Code::JobBeingTerminated.into()),
            JobState::Completed => Err(Code::JobCompleted.into()),
            _ => Ok(()),
        }
    }

    /// Update Job (PATCH).
    pub fn update_job(&mut self, id: &str, patch: BatchJobUpdateOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let job = self.job(id)?;
        Self::job_writable(job)?;
        Self::validate_job_settings(patch.priority, patch.max_parallel_tasks, patch.on_all_tasks_complete.as_deref(), patch.constraints.as_ref())?;
        if let Some(pi) = &patch.pool_info {
            self.validate_pool_info_change(job, pi)?;
        }
        let version = self.version(now);
        let key = IdKey::of(id);
        let job = self.job_mut(id)?;
        let s = &mut job.spec;
        if let Some(v) = patch.priority {
            s.priority = Some(v)
        }
        if let Some(v) = patch.allow_task_preemption {
            s.allow_task_preemption = Some(v)
        }
        if let Some(v) = patch.max_parallel_tasks {
            s.max_parallel_tasks = Some(v)
        }
        if let Some(mut v) = patch.constraints {
            v.max_wall_clock_time.get_or_insert(BatchDuration::UNLIMITED);
            v.max_task_retry_count.get_or_insert(0);
            s.constraints = Some(v);
        }
        // Moving between pools and auto pools: the old auto pool goes (unless keepAlive), a new
        // specification makes a new one.
        let moved = patch.pool_info.as_ref().is_some_and(|v| *v != s.pool_info);
        let old_auto = if moved { s.pool_info.auto_pool_specification.clone().zip(job.auto_pool_id.clone()) } else { None };
        if let Some(v) = patch.pool_info {
            s.pool_info = v
        }
        if let Some(v) = patch.on_all_tasks_complete {
            s.on_all_tasks_complete = Some(v.to_ascii_lowercase())
        }
        if let Some(v) = patch.metadata {
            s.metadata = Some(v)
        }
        if let Some(v) = patch.network_configuration {
            s.network_configuration = Some(v)
        }
        job.version = version.clone();
        if moved {
            job.auto_pool_id = None;
            if let Some((spec, pool_id)) = old_auto {
                self.drop_auto_pool(&pool_id, &spec, now);
            }
            self.create_auto_pool(&key, now);
        }
        self.arm_job_wall_clock(&key);
        self.check_all_tasks_complete(&key, now);
        self.schedule(now);
        Ok(version)
    }

    /// Arms the timer of the job's `constraints.maxWallClockTime` (counted from job creation).
    pub(super) fn arm_job_wall_clock(&mut self, key: &IdKey) {
        let Some(job) = self.jobs.get(key) else { return };
        if matches!(job.state, JobState::Terminating | JobState::Completed | JobState::Deleting) {
            return;
        }
        if let Some(when) = job_deadline(job) {
            self.outbox.push(Effect::At { when, timer: Timer::JobWallClock { job_id: job.spec.id.clone() } });
        }
    }

    /// The timer of a job's `maxWallClockTime` fired: a job still running past its limit (the
    /// limit may have changed since the timer was armed) is terminated with
    /// `MaxWallClockTimeExpiry` (node-and-container-semantics.md §5.7).
    pub fn job_wall_clock_expired(&mut self, job_id: &str, now: OffsetDateTime) {
        let Ok(job) = self.job(job_id) else { return };
        if !matches!(job.state, JobState::Active | JobState::Disabling | JobState::Disabled | JobState::Enabling) {
            return;
        }
        if job_deadline(job).is_some_and(|d| d <= now) {
            let key = job.key();
            self.begin_termination(&key, "MaxWallClockTimeExpiry".into(), now);
        }
    }

    fn validate_pool_info_change(&self, job: &Job, pi: &BatchPoolInfo) -> Result<(), DomainError> {
        if let Some(v) = &pi.auto_pool_specification {
            // A job moves to a new auto pool of its own (Update/Replace Job on a disabled job).
            if pi.pool_id.is_some() {
                // UNCONFIRMED: the code ("specify either poolId or autoPoolSpecification, but not both").
                return Err(DomainError::invalid_property(
                    "poolInfo",
                    "poolId and autoPoolSpecification",
                    "Specify either poolId or autoPoolSpecification, but not both",
                ));
            }
            if super::auto_pools::parse_auto_pool(v)?.per_schedule {
                return Err(DomainError::invalid_property(
                    "poolLifetimeOption",
                    "jobschedule",
                    "A job's auto pool lives as long as the job: jobschedule is for job schedules",
                ));
            }
            if job.state != JobState::Disabled && job.spec.pool_info.auto_pool_specification.as_ref() != Some(v) {
                return Err(
                    DomainError::new(Code::OperationInvalidForCurrentState).with_message("The poolInfo of a job can only be changed when the job is disabled.")
                );
            }
            return Ok(());
        }
        if pi.pool_id.is_none() {
            return Err(DomainError::missing_property("poolId"));
        }
        if job.state != JobState::Disabled && pi.pool_id.as_deref().map(IdKey::of) != job.pool_key() {
            // The pool of a job can only change while it is disabled (REST docs, Update Job).
            return Err(
                DomainError::new(Code::OperationInvalidForCurrentState).with_message("The poolInfo of a job can only be changed when the job is disabled.")
            );
        }
        Ok(())
    }

    /// Replace Job (PUT): omitted updatable properties return to their defaults.
    pub fn replace_job(&mut self, id: &str, body: BatchJobUpdateOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let job = self.job(id)?;
        Self::job_writable(job)?;
        let Some(pool_info) = body.pool_info.clone() else {
            return Err(DomainError::missing_property("poolInfo"));
        };
        self.validate_pool_info_change(job, &pool_info)?;
        let patch = BatchJobUpdateOptions {
            priority: Some(body.priority.unwrap_or(0)),
            allow_task_preemption: Some(body.allow_task_preemption.unwrap_or(false)),
            max_parallel_tasks: Some(body.max_parallel_tasks.unwrap_or(-1)),
            constraints: Some(body.constraints.unwrap_or_default()),
            pool_info: Some(pool_info),
            on_all_tasks_complete: Some(body.on_all_tasks_complete.unwrap_or_else(|| "noaction".into())),
            metadata: Some(body.metadata.unwrap_or_default()),
            network_configuration: None,
        };
        let v = self.update_job(id, patch, now)?;
        if let Ok(job) = self.job_mut(id) {
            if job.spec.metadata.as_ref().is_some_and(|m| m.is_empty()) {
                job.spec.metadata = None;
            }
        }
        Ok(v)
    }

    /// Delete Job: `deleting` at once; running tasks are stopped; gone once the agent removed
    /// its directories.
    pub fn delete_job(&mut self, id: &str, now: OffsetDateTime) -> Result<(), DomainError> {
        let job = self.job(id)?;
        if job.state == JobState::Deleting {
            return Err(Code::JobBeingDeleted.into());
        }
        let key = job.key();
        let job_id = job.spec.id.clone();
        let job = self.job_mut(id)?;
        job.set_state(JobState::Deleting, now);
        job.queue.clear();
        // Running tasks end (and stop) while the job's directories are removed.
        self.stop_running_tasks(&key, failure_task_ended(), now);
        // Release tasks run first (not again after a terminate); the directories go after.
        if !self.launch_releases(&key, now) && !self.jobs.get(&key).is_some_and(|j| j.prep.values().any(|p| p.release_run.is_some())) {
            let nodes = self.job_nodes(&key);
            self.outbox.push(Effect::DeleteJob { job_id, nodes });
        }
        Ok(())
    }

    /// The agent removed a deleted job's directories.
    pub fn finish_job_deletion(&mut self, job_id: &str, now: OffsetDateTime) {
        // A job of the same id made after a reset is not the one being deleted.
        if self.jobs.get(&IdKey::of(job_id)).is_none_or(|j| j.state != JobState::Deleting) {
            return;
        }
        let Some(job) = self.jobs.remove(&IdKey::of(job_id)) else { return };
        if job.state != JobState::Completed {
            self.release_auto_pool(&job, now);
        }
        if let Some(schedule) = job.schedule {
            self.schedule_job_ended(&schedule, now);
        }
    }

    /// Ends every running task of a job with `failure` (terminate, delete).
    fn stop_running_tasks(&mut self, job: &IdKey, failure: FailureInfo, now: OffsetDateTime) {
        let running: Vec<IdKey> = match self.jobs.get(job) {
            Some(j) => j.tasks.in_states(&crate::task_table::ON_A_NODE, Bound::Unbounded).map(|(k, _)| k.clone()).collect(),
            None => return,
        };
        for t in running {
            self.end_running_task(job, &t, failure.clone(), now);
        }
    }

    /// Terminate Job: `terminating` at once, running tasks ended, then `completed`.
    pub fn terminate_job(&mut self, id: &str, reason: Option<String>, now: OffsetDateTime) -> Result<Version, DomainError> {
        let job = self.job(id)?;
        match job.state {
            JobState::Deleting => return Err(Code::JobBeingDeleted.into()),
            JobState::Terminating => return Err(Code::JobBeingTerminated.into()),
            JobState::Completed => return Err(Code::JobCompleted.into()),
            _ => {}
        }
        let key = job.key();
        self.begin_termination(&key, reason.unwrap_or_else(|| "UserTerminate".into()), now);
        let version = self.version(now);
        self.job_mut(id)?.version = version.clone();
        Ok(version)
    }

    pub(crate) fn begin_termination(&mut self, key: &IdKey, reason: String, now: OffsetDateTime) {
        self.stop_running_tasks(key, failure_task_ended(), now);
        if let Some(job) = self.jobs.get_mut(key) {
            job.set_state(JobState::Terminating, now);
            job.terminate_reason = Some(reason);
            // UNCONFIRMED: tasks that never started stay `active` in a completed job
            // (node-and-container-semantics.md §5.7 says only running tasks are terminated).
            job.queue.clear();
            let job_id = job.spec.id.clone();
            // With a release task the job stays `terminating` until every release has ended.
            if !self.launch_releases(key, now) {
                self.outbox.push(Effect::FinishJobTransition { job_id });
            }
        }
    }

    /// Disable Job: `disabling`, then `disabled` once running tasks are handled.
    pub fn disable_job(&mut self, id: &str, body: BatchJobDisableOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let job = self.job(id)?;
        let Some(opt) = body.disable_tasks else {
            return Err(DomainError::missing_property("disableTasks"));
        };
        if !matches!(job.state, JobState::Active | JobState::Disabling | JobState::Disabled) {
            return Err(Code::JobNotActive.into());
        }
        let key = job.key();
        let running: Vec<IdKey> = job.tasks.in_states(&crate::task_table::ON_A_NODE, Bound::Unbounded).map(|(k, _)| k.clone()).collect();
        match opt.to_ascii_lowercase().as_str() {
            "requeue" => {
                for t in running {
                    self.requeue_task(&key, &t, true, now);
                }
            }
            "terminate" => {
                for t in running {
                    self.end_running_task(&key, &t, failure_task_ended(), now);
                }
            }
            "wait" => {}
            _ => return Err(DomainError::invalid_property("disableTasks", opt, "The value must be requeue, terminate or wait")),
        }
        let version = self.version(now);
        let job = self.job_mut(id)?;
        job.set_state(JobState::Disabling, now);
        job.version = version.clone();
        let job_id = job.spec.id.clone();
        self.outbox.push(Effect::FinishJobTransition { job_id });
        Ok(version)
    }

    /// Enable Job: `enabling`, then `active`.
    pub fn enable_job(&mut self, id: &str, now: OffsetDateTime) -> Result<Version, DomainError> {
        let job = self.job(id)?;
        if !matches!(job.state, JobState::Disabled | JobState::Disabling | JobState::Enabling | JobState::Active) {
            return Err(Code::JobNotActive.into());
        }
        let version = self.version(now);
        let job = self.job_mut(id)?;
        if job.state != JobState::Active {
            job.set_state(JobState::Enabling, now);
            let job_id = job.spec.id.clone();
            self.outbox.push(Effect::FinishJobTransition { job_id });
        }
        let job = self.job_mut(id)?;
        job.version = version.clone();
        Ok(version)
    }

    /// Completes a transitional job state (`terminating`, `disabling`, `enabling`).
    pub fn finish_job_transition(&mut self, job_id: &str, now: OffsetDateTime) {
        let key = IdKey::of(job_id);
        let Some(job) = self.jobs.get_mut(&key) else {
            return;
        };
        match job.state {
            // A release task still running keeps the job terminating.
            JobState::Terminating if job.prep.values().any(|p| p.release_run.is_some()) => {}
            JobState::Terminating => {
                job.set_state(JobState::Completed, now);
                job.end_time = Some(now);
                let (schedule, job) = (job.schedule.clone(), job.clone());
                self.release_auto_pool(&job, now);
                if let Some(schedule) = schedule {
                    self.schedule_job_ended(&schedule, now);
                }
            }
            // `wait`: stays disabling until its running tasks finish.
            JobState::Disabling if job.tasks.running() == 0 => {
                job.set_state(JobState::Disabled, now);
            }
            JobState::Enabling => {
                job.set_state(JobState::Active, now);
                // Requeue what was left active while disabled.
                let active: Vec<(u64, IdKey)> = job.tasks.in_states(&[TaskState::Active], Bound::Unbounded).map(|(k, t)| (t.seq, k.clone())).collect();
                job.queue.extend(active);
                self.queued.insert(key.clone());
                self.schedule(now);
            }
            _ => {}
        }
    }

    /// Task counts of a job (`taskcounts`).
    pub fn task_counts(job: &Job) -> BatchTaskCountsResult {
        let t = job.tasks.totals();
        let completed = (t.tasks_in(TaskState::Completed) as i32, t.slots_in(TaskState::Completed) as i32);
        let succeeded = (t.succeeded_tasks as i32, t.succeeded_slots as i32);
        let counts = |pick: fn((i32, i32)) -> i32, running: (usize, i64), active: (usize, i64)| BatchTaskCounts {
            active: pick((active.0 as i32, active.1 as i32)),
            running: pick((running.0 as i32, running.1 as i32)),
            completed: pick(completed),
            succeeded: pick(succeeded),
            failed: pick(completed) - pick(succeeded),
        };
        // A launching task is counted as it is shown: active, until its process starts.
        let running = (t.tasks_in(TaskState::Preparing) + t.tasks_in(TaskState::Running), t.slots_in(TaskState::Preparing) + t.slots_in(TaskState::Running));
        let active = (t.tasks_in(TaskState::Active) + t.tasks_in(TaskState::Launching), t.slots_in(TaskState::Active) + t.slots_in(TaskState::Launching));
        BatchTaskCountsResult { odata_metadata: None, task_counts: counts(|c| c.0, running, active), task_slot_counts: counts(|c| c.1, running, active) }
    }

    pub(super) fn check_all_tasks_complete(&mut self, key: &IdKey, now: OffsetDateTime) {
        let Some(job) = self.jobs.get(key) else {
            return;
        };
        if job.state == JobState::Active && job.spec.on_all_tasks_complete.as_deref() == Some("terminatejob") && job.tasks.all_completed() {
            self.begin_termination(key, "AllTasksComplete".into(), now);
        }
    }
}

/// When a job's `constraints.maxWallClockTime` runs out (none when unlimited).
fn job_deadline(job: &Job) -> Option<OffsetDateTime> {
    let limit = job.spec.constraints.as_ref().and_then(|c| c.max_wall_clock_time).filter(|d| !d.is_unlimited())?;
    let nanos = i64::try_from(i128::from(limit.ticks()) * 100).ok()?;
    job.creation_time.checked_add(time::Duration::nanoseconds(nanos))
}

/// The ordinary task a `jobManagerTask` runs as, and what makes it the manager; fills the
/// manager's defaults in the job's echo (batch-rest-api.md §5.3: requiredSlots 1,
/// killJobOnCompletion, runExclusive and allowLowPriorityNode true).
fn job_manager_task(jm: &mut batch_client::models::BatchJobManagerTask) -> (BatchTaskCreateOptions, JobManager) {
    let settings = JobManager {
        kill_job_on_completion: *jm.kill_job_on_completion.get_or_insert(true),
        run_exclusive: *jm.run_exclusive.get_or_insert(true),
        allow_low_priority_node: *jm.allow_low_priority_node.get_or_insert(true),
    };
    jm.required_slots.get_or_insert(1);
    let task = BatchTaskCreateOptions {
        id: jm.id.clone(),
        display_name: jm.display_name.clone(),
        command_line: jm.command_line.clone(),
        container_settings: jm.container_settings.clone(),
        resource_files: jm.resource_files.clone(),
        output_files: jm.output_files.clone(),
        environment_settings: jm.environment_settings.clone(),
        constraints: jm.constraints.clone(),
        required_slots: jm.required_slots,
        user_identity: jm.user_identity.clone(),
        application_package_references: jm.application_package_references.clone(),
        authentication_token_settings: jm.authentication_token_settings.clone(),
        ..Default::default()
    };
    (task, settings)
}
