//! Tasks: add, add collection, replace, delete, terminate, reactivate; a task body validated
//! against its job, with the defaults the service echoes.

use super::state::{Account, MAX_TASKS_PER_COLLECTION};
use super::validation::{ci_eq, not_implemented, validate_container_settings};
use crate::effects::{failure_task_ended, Effect};
use crate::error::{BatchErrorCode as Code, DomainError};
use crate::ids::{validate_id, IdKey};
use crate::job::{Job, JobState};
use crate::task::{JobManager, Task, TaskState};
use crate::version::Version;
use batch_client::models::*;
use batch_client::BatchDuration;
use time::OffsetDateTime;

/// The per-task result of add task collection.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskAddOutcome {
    Added(Version),
    Failed(DomainError),
}

impl Account {
    /// Validates a task body against its job; returns the task with defaults filled in.
    pub(super) fn prepare_task(job: &Job, mut spec: BatchTaskCreateOptions) -> Result<BatchTaskCreateOptions, DomainError> {
        validate_id("id", &spec.id)?;
        // A container task may have an empty command line: the image CMD runs (§1.2).
        if spec.command_line.is_empty() && spec.container_settings.is_none() {
            return Err(DomainError::missing_property("commandLine"));
        }
        if let Some(cs) = &spec.container_settings {
            validate_container_settings(cs)?;
        }
        if let Some(d) = &spec.display_name {
            if d.chars().count() > 1024 {
                return Err(DomainError::invalid_property("displayName", d.clone(), "The displayName can contain at most 1024 characters"));
            }
        }
        if let Some(s) = spec.required_slots {
            if s < 1 {
                return Err(DomainError::invalid_property("requiredSlots", s.to_string(), "The value must be at least 1"));
            }
        }
        if let Some(r) = spec.constraints.as_ref().and_then(|c| c.max_task_retry_count) {
            if r < -1 {
                return Err(DomainError::invalid_property("maxTaskRetryCount", r.to_string(), "The value must be -1 or greater"));
            }
        }
        crate::resource_files::parse(spec.resource_files.as_deref())?;
        crate::output_files::parse(spec.output_files.as_deref())?;
        crate::app_packages::parse(spec.application_package_references.as_deref())?;
        let uses_dependencies = job.spec.uses_task_dependencies == Some(true);
        if let Some(d) = &spec.depends_on {
            crate::dependencies::parse_dependencies(d, uses_dependencies)?;
        }
        if let Some(c) = &spec.exit_conditions {
            let performs = job.spec.on_task_failure.as_deref().is_some_and(|f| ci_eq(f, "performexitoptionsjobaction"));
            crate::dependencies::parse_exit_conditions(c, uses_dependencies, performs)?;
        }
        if let Some(m) = spec.multi_instance_settings.as_deref() {
            crate::multi_instance::parse(m)?;
            // REST: requiredSlots "For multi-instance Tasks, this must be 1".
            // UNCONFIRMED: the code the service answers with.
            if let Some(s) = spec.required_slots.filter(|s| *s != 1) {
                return Err(DomainError::invalid_property("requiredSlots", s.to_string(), "For multi-instance Tasks, this must be 1"));
            }
            if job.spec.job_preparation_task.is_some() {
                return Err(not_implemented("Multi-instance tasks in a job with a job preparation task (multiInstanceSettings)"));
            }
        }
        let job_retries = job.spec.constraints.as_ref().and_then(|c| c.max_task_retry_count).unwrap_or(0);
        let c = spec.constraints.get_or_insert_with(Default::default);
        c.max_wall_clock_time.get_or_insert(BatchDuration::UNLIMITED);
        c.retention_time.get_or_insert(BatchDuration::from_secs(7 * 86_400));
        c.max_task_retry_count.get_or_insert(job_retries);
        spec.required_slots.get_or_insert(1);
        spec.user_identity.get_or_insert(UserIdentity {
            username: None,
            auto_user: Some(AutoUserSpecification { scope: Some("pool".into()), elevation_level: Some("nonadmin".into()) }),
        });
        if let Some(cs) = spec.container_settings.as_mut() {
            let wd = match cs.working_directory.as_deref() {
                Some(w) if w.eq_ignore_ascii_case("containerImageDefault") => "containerImageDefault",
                _ => "taskWorkingDirectory",
            };
            cs.working_directory = Some(wd.into());
        }
        Ok(spec)
    }

    /// A task cannot take the id of the job's preparation or release task.
    pub(super) fn check_not_prep_or_release_id(job: &Job, id: &str) -> Result<(), DomainError> {
        if job.spec.job_preparation_task.as_ref().and_then(|p| p.id.as_deref()).is_some_and(|p| p.eq_ignore_ascii_case(id)) {
            return Err(Code::TaskIdSameAsJobPreparationTask.into());
        }
        if job.spec.job_release_task.as_ref().and_then(|p| p.id.as_deref()).is_some_and(|p| p.eq_ignore_ascii_case(id)) {
            return Err(Code::TaskIdSameAsJobReleaseTask.into());
        }
        Ok(())
    }

    fn job_accepts_tasks(job: &Job) -> Result<(), DomainError> {
        match job.state {
            JobState::Completed => Err(Code::JobCompleted.into()),
            JobState::Terminating => Err(Code::JobBeingTerminated.into()),
            JobState::Deleting => Err(Code::JobBeingDeleted.into()),
            _ => Ok(()),
        }
    }

    pub(super) fn insert_task(&mut self, job_key: &IdKey, spec: BatchTaskCreateOptions, job_manager: Option<JobManager>, now: OffsetDateTime) -> Version {
        let version = self.version(now);
        self.task_seq += 1;
        let seq = self.task_seq;
        let key = IdKey::of(&spec.id);
        let task = Task {
            spec,
            seq,
            state: TaskState::Active,
            state_transition_time: now,
            previous_state: None,
            creation_time: now,
            version: version.clone(),
            execution_info: BatchTaskExecutionInfo::default(),
            placement: None,
            run_id: None,
            files_cleaned: false,
            job_manager,
            subtasks: Vec::new(),
            stats: Default::default(),
        };
        if let Some(job) = self.jobs.get_mut(job_key) {
            if matches!(job.state, JobState::Active) {
                job.queue.insert(seq, key.clone());
                self.queued.insert(job_key.clone());
            }
            job.tasks.insert(key, task);
        }
        version
    }

    /// Add Task.
    pub fn add_task(&mut self, job_id: &str, spec: BatchTaskCreateOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let job = self.job(job_id)?;
        Self::job_accepts_tasks(job)?;
        let spec = Self::prepare_task(job, spec)?;
        Self::check_not_prep_or_release_id(job, &spec.id)?;
        if job.tasks.contains_key(&IdKey::of(&spec.id)) {
            return Err(Code::TaskExists.into());
        }
        let key = job.key();
        let v = self.insert_task(&key, spec, None, now);
        self.schedule(now);
        Ok(v)
    }

    /// Add Task Collection: each task is accepted or refused on its own.
    pub fn add_task_collection(
        &mut self,
        job_id: &str,
        tasks: Vec<BatchTaskCreateOptions>,
        now: OffsetDateTime,
    ) -> Result<Vec<(String, TaskAddOutcome)>, DomainError> {
        let job = self.job(job_id)?;
        Self::job_accepts_tasks(job)?;
        if tasks.len() > MAX_TASKS_PER_COLLECTION {
            return Err(DomainError::invalid_property("value", tasks.len().to_string(), "The maximum number of tasks in a collection is 100"));
        }
        // UNCONFIRMED: a duplicate id inside one request is refused as a whole
        // (batch-rest-api.md §5.6 says "Ids must be unique").
        let mut seen = std::collections::BTreeSet::new();
        for t in &tasks {
            if !seen.insert(IdKey::of(&t.id)) {
                return Err(DomainError::invalid_property("id", t.id.clone(), "The task ids in a collection must be unique"));
            }
        }
        let key = job.key();
        let mut results = Vec::with_capacity(tasks.len());
        for spec in tasks {
            let id = spec.id.clone();
            let job = self.jobs.get(&key).ok_or(DomainError::new(Code::JobNotFound))?;
            let outcome = match Self::prepare_task(job, spec) {
                Err(e) => TaskAddOutcome::Failed(e),
                Ok(_) if Self::check_not_prep_or_release_id(job, &id).is_err() => {
                    TaskAddOutcome::Failed(Self::check_not_prep_or_release_id(job, &id).err().unwrap_or_else(|| Code::TaskExists.into()))
                }
                Ok(_) if job.tasks.contains_key(&IdKey::of(&id)) => TaskAddOutcome::Failed(Code::TaskExists.into()),
                Ok(spec) => TaskAddOutcome::Added(self.insert_task(&key, spec, None, now)),
            };
            results.push((id, outcome));
        }
        self.schedule(now);
        Ok(results)
    }

    /// Replace Task (PUT): only `constraints` can change.
    pub fn replace_task(&mut self, job_id: &str, task_id: &str, body: BatchTaskReplaceOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let task = self.task(job_id, task_id)?;
        if task.state == TaskState::Completed {
            return Err(Code::TaskCompleted.into());
        }
        let job_retries = self.job(job_id)?.spec.constraints.as_ref().and_then(|c| c.max_task_retry_count).unwrap_or(0);
        let mut c = body.constraints.unwrap_or_default();
        if let Some(r) = c.max_task_retry_count {
            if r < -1 {
                return Err(DomainError::invalid_property("maxTaskRetryCount", r.to_string(), "The value must be -1 or greater"));
            }
        }
        c.max_wall_clock_time.get_or_insert(BatchDuration::UNLIMITED);
        c.retention_time.get_or_insert(BatchDuration::from_secs(7 * 86_400));
        c.max_task_retry_count.get_or_insert(job_retries);
        let version = self.version(now);
        let mut task = self.task_mut(job_id, task_id)?;
        task.spec.constraints = Some(c);
        task.version = version.clone();
        Ok(version)
    }

    /// Delete Task: stops it if running and removes its directory.
    pub fn delete_task(&mut self, job_id: &str, task_id: &str, now: OffsetDateTime) -> Result<(), DomainError> {
        let task = self.task(job_id, task_id)?;
        let jk = IdKey::of(job_id);
        let tk = task.key();
        let placement = task.placement.clone();
        let instance_nodes: Vec<(String, String)> = task.subtasks.iter().filter(|s| s.id != 0).map(|s| (s.pool_id.clone(), s.node_id.clone())).collect();
        let real_task_id = task.spec.id.clone();
        let real_job_id = self.job(job_id)?.spec.id.clone();
        if matches!(task.state, TaskState::Running | TaskState::Launching | TaskState::Preparing) {
            self.release_node_slot(&jk, &tk, now);
        }
        let job = self.jobs.get_mut(&jk).ok_or(DomainError::new(Code::JobNotFound))?;
        if let Some(task) = job.tasks.remove(&tk) {
            job.queue.remove(&task.seq);
            if let Some(run) = task.run_id {
                self.runs.remove(&run);
                self.outbox.push(Effect::KillTask { run_id: run });
            }
        }
        for (pool_id, node_id) in placement.map(|p| (p.pool_id, p.node_id)).into_iter().chain(instance_nodes) {
            self.outbox.push(Effect::DeleteTaskDirectory { pool_id, node_id, job_id: real_job_id.clone(), task_id: real_task_id.clone() });
        }
        self.check_all_tasks_complete(&jk, now);
        self.schedule(now);
        Ok(())
    }

    /// Terminate Task: the task is `completed` when the call returns.
    pub fn terminate_task(&mut self, job_id: &str, task_id: &str, now: OffsetDateTime) -> Result<Version, DomainError> {
        let task = self.task(job_id, task_id)?;
        if task.state == TaskState::Completed {
            return Err(Code::TaskCompleted.into());
        }
        let jk = IdKey::of(job_id);
        let tk = task.key();
        match task.state {
            TaskState::Running | TaskState::Launching | TaskState::Preparing => self.end_running_task(&jk, &tk, failure_task_ended(), now),
            _ => {
                // UNCONFIRMED: an active task that is terminated completes with TaskEnded.
                let job = self.jobs.get_mut(&jk).ok_or(DomainError::new(Code::JobNotFound))?;
                if let Some(mut t) = job.tasks.get_mut(&tk) {
                    job.queue.remove(&t.seq);
                    t.execution_info.result = Some("failure".into());
                    t.execution_info.failure_info = Some(failure_task_ended());
                    t.execution_info.end_time = Some(now);
                    t.set_state(TaskState::Completed, now);
                }
                self.on_task_completed(&jk, &tk, now);
            }
        }
        let version = self.version(now);
        self.task_mut(job_id, task_id)?.version = version.clone();
        self.schedule(now);
        Ok(version)
    }

    /// Reactivate Task: a completed, failed task goes back to `active` with its retry count
    /// reset and its exit information cleared.
    pub fn reactivate_task(&mut self, job_id: &str, task_id: &str, now: OffsetDateTime) -> Result<Version, DomainError> {
        let job = self.job(job_id)?;
        Self::job_writable(job)?;
        let job_active = job.state == JobState::Active;
        let task = self.task(job_id, task_id)?;
        if task.state != TaskState::Completed {
            return Err(Code::TaskNotCompleted.into());
        }
        if task.succeeded() {
            return Err(Code::TaskSucceeded.into());
        }
        let version = self.version(now);
        let jk = IdKey::of(job_id);
        let mut task = self.task_mut(job_id, task_id)?;
        let requeue_count = task.execution_info.requeue_count;
        let last_requeue_time = task.execution_info.last_requeue_time;
        task.execution_info = BatchTaskExecutionInfo { requeue_count, last_requeue_time, ..Default::default() };
        task.files_cleaned = false;
        task.set_state(TaskState::Active, now);
        task.version = version.clone();
        let (seq, tk) = (task.seq, task.key());
        drop(task);
        if job_active {
            if let Some(j) = self.jobs.get_mut(&jk) {
                j.queue.insert(seq, tk);
                self.queued.insert(jk.clone());
            }
        }
        self.schedule(now);
        Ok(version)
    }
}
