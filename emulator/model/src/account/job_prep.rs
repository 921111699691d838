//! Job preparation and release tasks (node-and-container-semantics.md §5.2–5.3).
//!
//! * The preparation task runs once per node per job, before that job's first task there; the
//!   task waits in `preparing`. With `waitForSuccess` (default) the job's tasks start on the node
//!   only after it exits 0; after its retries fail, the waiting tasks go back to `active` and the
//!   node takes no more tasks of that job. Without it, tasks start at once.
//! * The release task runs on every node where the preparation task ran and completed, when
//!   the job is terminated or deleted (not a second time on delete after terminate); the job
//!   stays `terminating` (or `deleting`) until every release task has ended, whatever its exit.

use super::state::{Account, RunTarget};
use crate::effects::{Effect, Launch, LaunchKind, OutcomeSummary, TaskOutcome};
use crate::ids::IdKey;
use crate::job::{JobState, NodePrep};
use crate::layout::task_root_directory;
use crate::task::TaskState;
use batch_client::models::*;
use batch_client::BatchDuration;
use time::OffsetDateTime;

/// Whether a task placed on a node may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrepGate {
    Ready,
    Wait,
}

fn running_info(now: OffsetDateTime, root: String, retry_count: Option<i32>) -> JobPrepReleaseExecutionInfo {
    JobPrepReleaseExecutionInfo {
        start_time: now,
        end_time: None,
        state: "running".into(),
        task_root_directory: Some(root),
        task_root_directory_url: None,
        exit_code: None,
        container_info: None,
        failure_info: None,
        retry_count,
        last_retry_time: None,
        result: None,
    }
}

impl Account {
    /// Nodes where this job's preparation task failed with `waitForSuccess`: they take no more
    /// of its tasks.
    pub fn prep_blocked_nodes(&self, job: &IdKey) -> Vec<String> {
        let Some(j) = self.jobs.get(job) else { return Vec::new() };
        let wait = j.spec.job_preparation_task.as_ref().and_then(|p| p.wait_for_success).unwrap_or(true);
        if !wait {
            return Vec::new();
        }
        j.prep.iter().filter(|(_, p)| p.prep.result.as_deref() == Some("failure")).map(|(n, _)| n.clone()).collect()
    }

    /// Decides whether a task placed on `node_id` can start, starting the preparation task
    /// there first when the job has one.
    pub(crate) fn prep_gate(&mut self, jk: &IdKey, pool_key: &IdKey, node_id: &str, now: OffsetDateTime) -> PrepGate {
        let Some(job) = self.jobs.get(jk) else { return PrepGate::Ready };
        let Some(jp) = &job.spec.job_preparation_task else { return PrepGate::Ready };
        let wait = jp.wait_for_success.unwrap_or(true);
        match job.prep.get(node_id) {
            None => {
                self.launch_prep(jk, pool_key, node_id, 0, now);
                if wait {
                    PrepGate::Wait
                } else {
                    PrepGate::Ready
                }
            }
            Some(p) if p.prep.state == "running" && wait => PrepGate::Wait,
            Some(_) => PrepGate::Ready,
        }
    }

    fn launch_prep(&mut self, jk: &IdKey, pool_key: &IdKey, node_id: &str, retry_count: i32, now: OffsetDateTime) {
        self.run_seq += 1;
        let run_id = self.run_seq;
        let Some(pool) = self.pools.get(pool_key) else { return };
        let Some(node) = pool.nodes.get(node_id) else { return };
        let Some(job) = self.jobs.get(jk) else { return };
        let Some(jp) = job.spec.job_preparation_task.clone() else { return };
        let jp_id = jp.id.clone().unwrap_or_else(|| "jobpreparation".into());
        let environment = job.environment_with(jp.environment_settings.as_ref());
        let launch = Launch {
            run_id,
            kind: LaunchKind::JobPreparation,
            pool_id: pool.spec.id.clone(),
            node_id: node_id.to_string(),
            node_ip: node.ip_address.clone(),
            is_dedicated: node.is_dedicated,
            job_id: job.spec.id.clone(),
            task_id: jp_id.clone(),
            command_line: jp.command_line.clone(),
            environment,
            container_settings: jp.container_settings.clone(),
            output_files: Vec::new(),
            application_packages: crate::app_packages::of(node.application_packages.as_ref()),
            resource_files: crate::resource_files::of(jp.resource_files.as_ref()),
            user: crate::users::resolve(jp.user_identity.as_ref(), pool.user_accounts()),
            token_job: None,
            pool_containers: pool.spec.virtual_machine_configuration.as_ref().and_then(|v| v.container_configuration.clone()),
            max_wall_clock_time: jp.constraints.as_ref().and_then(|c| c.max_wall_clock_time).filter(|d| !d.is_unlimited()),
            is_retry: false,
            job_prep_id: None,
            multi_instance: None,
        };
        let root = task_root_directory(&job.spec.id, &jp_id);
        let pool_id = pool.spec.id.clone();
        let Some(job) = self.jobs.get_mut(jk) else { return };
        let entry = job.prep.entry(node_id.to_string()).or_insert_with(|| NodePrep {
            pool_id,
            prep: running_info(now, root.clone(), Some(0)),
            prep_run: None,
            release: None,
            release_run: None,
        });
        let last_retry_time = entry.prep.last_retry_time;
        entry.prep = running_info(now, root, Some(retry_count));
        entry.prep.last_retry_time = last_retry_time;
        entry.prep_run = Some(run_id);
        self.runs.insert(run_id, RunTarget::JobPrep { job: jk.clone(), node: node_id.to_string() });
        self.outbox.push(Effect::Launch(Box::new(launch)));
    }

    /// A preparation attempt ended.
    pub(crate) fn prep_exited(&mut self, jk: &IdKey, node_id: &str, run_id: u64, outcome: TaskOutcome, now: OffsetDateTime) {
        let Some(job) = self.jobs.get_mut(jk) else { return };
        let max_retries = job.spec.job_preparation_task.as_ref().and_then(|p| p.constraints.as_ref()).and_then(|c| c.max_task_retry_count).unwrap_or(0);
        let wait = job.spec.job_preparation_task.as_ref().and_then(|p| p.wait_for_success).unwrap_or(true);
        let Some(entry) = job.prep.get_mut(node_id) else { return };
        if entry.prep_run != Some(run_id) {
            return;
        }
        entry.prep_run = None;
        let OutcomeSummary { exit_code, failure, container_info, end, .. } = outcome.summary();
        let retry_count = entry.prep.retry_count.unwrap_or(0);
        entry.prep.exit_code = exit_code;
        entry.prep.container_info = container_info;
        if exit_code.is_some_and(|c| c != 0) && (max_retries == -1 || retry_count < max_retries) {
            entry.prep.last_retry_time = Some(now);
            let pool_key = IdKey::of(&entry.pool_id);
            self.launch_prep(jk, &pool_key, node_id, retry_count + 1, now);
            return;
        }
        entry.prep.state = "completed".into();
        entry.prep.end_time = Some(end);
        entry.prep.result = Some(if failure.is_none() { "success" } else { "failure" }.into());
        entry.prep.failure_info = failure.clone();
        let waiting: Vec<IdKey> = job
            .tasks
            .in_states(&[TaskState::Preparing], std::ops::Bound::Unbounded)
            .filter(|(_, t)| t.placement.as_ref().is_some_and(|p| p.node_id == node_id))
            .map(|(k, _)| k.clone())
            .collect();
        if !wait {
            return;
        }
        for tk in waiting {
            if failure.is_none() {
                self.emit_task_launch(jk, &tk, false, now);
            } else {
                // The node stays ineligible for this job; the task may go elsewhere.
                self.requeue_task(jk, &tk, false, now);
            }
        }
        self.schedule(now);
    }

    /// Starts the release task on every node where the preparation task completed and no
    /// release ran yet. Returns whether any started (the job then waits for them).
    pub(crate) fn launch_releases(&mut self, jk: &IdKey, now: OffsetDateTime) -> bool {
        let Some(job) = self.jobs.get(jk) else { return false };
        let Some(jr) = job.spec.job_release_task.clone() else { return false };
        let jr_id = jr.id.clone().unwrap_or_else(|| "jobrelease".into());
        let targets: Vec<(String, String)> =
            job.prep.iter().filter(|(_, p)| p.prep.state == "completed" && p.release.is_none()).map(|(n, p)| (n.clone(), p.pool_id.clone())).collect();
        let mut started = false;
        for (node_id, pool_id) in targets {
            let Some(pool) = self.pools.get(&IdKey::of(&pool_id)) else { continue };
            let Some(node) = pool.nodes.get(&node_id) else { continue };
            let Some(job) = self.jobs.get(jk) else { return started };
            self.run_seq += 1;
            let run_id = self.run_seq;
            let environment = job.environment_with(jr.environment_settings.as_ref());
            let launch = Launch {
                run_id,
                kind: LaunchKind::JobRelease,
                pool_id: pool_id.clone(),
                node_id: node_id.clone(),
                node_ip: node.ip_address.clone(),
                is_dedicated: node.is_dedicated,
                job_id: job.spec.id.clone(),
                task_id: jr_id.clone(),
                command_line: jr.command_line.clone(),
                environment,
                container_settings: jr.container_settings.clone(),
                output_files: Vec::new(),
                application_packages: crate::app_packages::of(node.application_packages.as_ref()),
                resource_files: crate::resource_files::of(jr.resource_files.as_ref()),
                user: crate::users::resolve(jr.user_identity.as_ref(), pool.user_accounts()),
                token_job: None,
                pool_containers: pool.spec.virtual_machine_configuration.as_ref().and_then(|v| v.container_configuration.clone()),
                max_wall_clock_time: Some(jr.max_wall_clock_time.unwrap_or(BatchDuration::from_secs(15 * 60))),
                is_retry: false,
                job_prep_id: job.spec.job_preparation_task.as_ref().and_then(|p| p.id.clone()),
                multi_instance: None,
            };
            let root = task_root_directory(&job.spec.id, &jr_id);
            if let Some(entry) = self.jobs.get_mut(jk).and_then(|j| j.prep.get_mut(&node_id)) {
                entry.release = Some(running_info(now, root, None));
                entry.release_run = Some(run_id);
            }
            self.runs.insert(run_id, RunTarget::JobRelease { job: jk.clone(), node: node_id });
            self.outbox.push(Effect::Launch(Box::new(launch)));
            started = true;
        }
        started
    }

    /// A release task ended; when none runs any more the job finishes terminating or deleting.
    pub(crate) fn release_exited(&mut self, jk: &IdKey, node_id: &str, run_id: u64, outcome: TaskOutcome, now: OffsetDateTime) {
        let Some(job) = self.jobs.get_mut(jk) else { return };
        let Some(entry) = job.prep.get_mut(node_id) else { return };
        if entry.release_run != Some(run_id) {
            return;
        }
        entry.release_run = None;
        let OutcomeSummary { exit_code, failure, container_info, end, .. } = outcome.summary();
        if let Some(info) = entry.release.as_mut() {
            info.state = "completed".into();
            info.end_time = Some(end);
            info.exit_code = exit_code;
            info.container_info = container_info;
            info.result = Some(if failure.is_none() { "success" } else { "failure" }.into());
            info.failure_info = failure;
        }
        self.after_release(jk, now);
    }

    /// Once no release task runs, a terminating job completes and a deleting job is removed.
    pub(crate) fn after_release(&mut self, jk: &IdKey, _now: OffsetDateTime) {
        let Some(job) = self.jobs.get(jk) else { return };
        if job.prep.values().any(|p| p.release_run.is_some()) {
            return;
        }
        let job_id = job.spec.id.clone();
        match job.state {
            JobState::Terminating => self.outbox.push(Effect::FinishJobTransition { job_id }),
            JobState::Deleting => {
                let nodes = self.job_nodes(jk);
                self.outbox.push(Effect::DeleteJob { job_id, nodes });
            }
            _ => {}
        }
    }

    /// Every (pool, node) that holds a directory of the job.
    pub(crate) fn job_nodes(&self, jk: &IdKey) -> Vec<(String, String)> {
        let Some(job) = self.jobs.get(jk) else { return Vec::new() };
        let mut nodes: Vec<(String, String)> =
            job.tasks.values().filter_map(|t| t.placement.as_ref().map(|p| (p.pool_id.clone(), p.node_id.clone()))).collect();
        nodes.extend(job.prep.iter().map(|(n, p)| (p.pool_id.clone(), n.clone())));
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// A node left its pool: its preparation and release runs stop, and jobs waiting for its
    /// release task move on.
    pub(crate) fn forget_node_for_jobs(&mut self, node_id: &str, now: OffsetDateTime) {
        let mut released = Vec::new();
        for (jk, job) in self.jobs.iter_mut() {
            if let Some(entry) = job.prep.remove(node_id) {
                for run in [entry.prep_run, entry.release_run].into_iter().flatten() {
                    self.runs.remove(&run);
                    self.outbox.push(Effect::KillTask { run_id: run });
                }
                if entry.release_run.is_some() {
                    released.push(jk.clone());
                }
            }
        }
        for jk in released {
            self.after_release(&jk, now);
        }
    }

    /// Relaunches the preparation and release tasks that were running before a restart.
    pub(crate) fn recover_prep_and_release(&mut self, now: OffsetDateTime) {
        let mut preps = Vec::new();
        let mut releases = Vec::new();
        for (jk, job) in &self.jobs {
            for (node, p) in &job.prep {
                if p.prep_run.is_some() {
                    preps.push((jk.clone(), IdKey::of(&p.pool_id), node.clone(), p.prep.retry_count.unwrap_or(0)));
                }
                if p.release_run.is_some() {
                    releases.push(jk.clone());
                }
            }
        }
        for (jk, pool, node, retries) in preps {
            if self.pools.get(&pool).is_some_and(|p| p.nodes.contains_key(&node)) {
                self.launch_prep(&jk, &pool, &node, retries, now);
            } else {
                self.forget_node_for_jobs(&node, now);
            }
        }
        releases.dedup();
        for jk in releases {
            if let Some(job) = self.jobs.get_mut(&jk) {
                for p in job.prep.values_mut() {
                    if p.release_run.take().is_some() {
                        p.release = None;
                    }
                }
            }
            if !self.launch_releases(&jk, now) {
                self.after_release(&jk, now);
            }
        }
    }
}
