//! Compute nodes: their lifecycle as the node agent reports it (provisioned, ready, unusable,
//! removed), start tasks, and the node operations (reboot, reimage, disable and enable
//! scheduling): batch-rest-api.md §2.3, node-and-container-semantics.md §5.1–5.2.
//!
//! Node operations:
//! * Running tasks are handled by the option: `requeue` (default) puts them back to `active`
//!   (counted in `requeueCount`, UNCONFIRMED: documented for pool shrink and job disable,
//!   "presumably" for node operations), `terminate` completes them with failure `TaskEnded`,
//!   `taskcompletion` (and `retaineddata` for reboot/reimage) lets them finish first.
//! * A reboot keeps the node's disk; a reimage wipes it. Either way the node goes
//!   `rebooting`/`reimaging` → `starting` → (start task) → `idle`, with the pool's current
//!   start task. Job preparation tasks rerun after a reboot when `rerunOnNodeRebootAfterSuccess`
//!   (default true) and always after a reimage; a node blocked by a failed preparation task is
//!   released only by a reimage.
//! * Disabling scheduling makes the node take no new tasks; it is `offline` once nothing runs.

use super::pools::DeallocationOption;
use super::state::{Account, RunTarget};
use crate::effects::{failure_task_ended, Effect, Launch, LaunchKind, OutcomeSummary, TaskOutcome};
use crate::error::{BatchErrorCode as Code, DomainError};
use crate::ids::IdKey;
use crate::node::{NodeState, Restart, RunningTask};
use batch_client::models::*;
use time::OffsetDateTime;

impl Account {
    /// Stops a node's start task if it runs.
    pub(crate) fn stop_start_task(&mut self, key: &IdKey, node_id: &str) {
        if let Some(run) = self.pools.get_mut(key).and_then(|p| p.nodes.get_mut(node_id)).and_then(|n| n.start_task_run.take()) {
            self.runs.remove(&run);
            self.outbox.push(Effect::KillTask { run_id: run });
        }
    }

    /// The agent created the node's directories: `creating` → `starting`.
    pub fn node_provisioned(&mut self, pool_id: &str, node_id: &str, now: OffsetDateTime) {
        if let Some(n) = self.pools.get_mut(&IdKey::of(pool_id)).and_then(|p| p.nodes.get_mut(node_id)) {
            if n.state == NodeState::Creating {
                n.set_state(NodeState::Starting, now);
                n.last_boot_time = Some(now);
            }
        }
        self.settle_allocation(&IdKey::of(pool_id), now);
    }

    /// The node finished starting: `starting` → `idle`, and tasks may land on it.
    pub fn node_ready(&mut self, pool_id: &str, node_id: &str, now: OffsetDateTime) {
        if let Some(n) = self.pools.get_mut(&IdKey::of(pool_id)).and_then(|p| p.nodes.get_mut(node_id)) {
            if n.state == NodeState::Creating {
                // Recovered after a restart between the two reports.
                n.set_state(NodeState::Starting, now);
            }
            if n.state == NodeState::Starting {
                match &n.start_task {
                    Some(st) => {
                        let wait = st.wait_for_success.unwrap_or(true);
                        n.set_state(if wait { NodeState::WaitingForStartTask } else { NodeState::Idle }, now);
                        n.settle(now);
                        self.launch_start_task(&IdKey::of(pool_id), node_id, now);
                    }
                    None => {
                        n.set_state(NodeState::Idle, now);
                        n.settle(now);
                    }
                }
            }
        }
        self.schedule(now);
    }

    /// Starts (or restarts) a node's start task.
    pub(super) fn launch_start_task(&mut self, pool_key: &IdKey, node_id: &str, now: OffsetDateTime) {
        self.run_seq += 1;
        let run_id = self.run_seq;
        let Some(pool) = self.pools.get_mut(pool_key) else { return };
        let pool_id = pool.spec.id.clone();
        let pool_containers = pool.spec.virtual_machine_configuration.as_ref().and_then(|v| v.container_configuration.clone());
        let accounts = pool.user_accounts().to_vec();
        let Some(n) = pool.nodes.get_mut(node_id) else { return };
        let Some(st) = n.start_task.clone() else { return };
        let retry_count = n.start_task_info.as_ref().map_or(0, |i| if i.state == "running" { i.retry_count } else { 0 });
        let last_retry_time = n.start_task_info.as_ref().and_then(|i| i.last_retry_time);
        n.start_task_info = Some(StartTaskInfo { state: "running".into(), start_time: Some(now), retry_count, last_retry_time, ..Default::default() });
        n.start_task_run = Some(run_id);
        self.runs.insert(run_id, RunTarget::StartTask { pool: pool_key.clone(), node: node_id.to_string() });
        let environment = st.environment_settings.iter().flatten().map(|e| (e.name.clone(), e.value.clone().unwrap_or_default())).collect();
        self.outbox.push(Effect::Launch(Box::new(Launch {
            run_id,
            kind: LaunchKind::StartTask,
            pool_id,
            node_id: node_id.to_string(),
            node_ip: n.ip_address.clone(),
            is_dedicated: n.is_dedicated,
            job_id: String::new(),
            task_id: String::new(),
            command_line: st.command_line.clone(),
            environment,
            container_settings: st.container_settings.clone(),
            output_files: Vec::new(),
            application_packages: crate::app_packages::of(n.application_packages.as_ref()),
            resource_files: crate::resource_files::of(st.resource_files.as_ref()),
            user: crate::users::resolve(st.user_identity.as_ref(), &accounts),
            token_job: None,
            pool_containers,
            max_wall_clock_time: None,
            is_retry: false,
            job_prep_id: None,
            multi_instance: None,
        })));
    }

    /// A start task attempt ended: success makes a waiting node `idle`; a nonzero exit is
    /// retried up to `maxTaskRetryCount`; a final failure makes a waiting node
    /// `starttaskfailed` (node-and-container-semantics.md §5.1).
    pub(super) fn start_task_exited(&mut self, pool_key: &IdKey, node_id: &str, run_id: u64, outcome: TaskOutcome, now: OffsetDateTime) {
        let Some(n) = self.pools.get_mut(pool_key).and_then(|p| p.nodes.get_mut(node_id)) else { return };
        if n.start_task_run != Some(run_id) {
            return;
        }
        n.start_task_run = None;
        let max_retries = n.start_task.as_ref().and_then(|s| s.max_task_retry_count).unwrap_or(0);
        let mut info = n.start_task_info.clone().unwrap_or_default();
        let OutcomeSummary { exit_code, failure, container_info, start, end } = outcome.summary();
        info.start_time = Some(start);
        info.exit_code = exit_code;
        info.container_info = container_info;
        let retryable = exit_code.is_some_and(|c| c != 0);
        if retryable && (max_retries == -1 || info.retry_count < max_retries) {
            info.retry_count += 1;
            info.last_retry_time = Some(now);
            n.start_task_info = Some(info);
            self.launch_start_task(pool_key, node_id, now);
            return;
        }
        info.state = "completed".into();
        info.end_time = Some(end);
        info.result = Some(if failure.is_none() { "success" } else { "failure" }.into());
        info.failure_info = failure.clone();
        n.start_task_info = Some(info);
        if n.state == NodeState::WaitingForStartTask {
            n.set_state(if failure.is_none() { NodeState::Idle } else { NodeState::StartTaskFailed }, now);
            // A node whose scheduling was disabled meanwhile comes up `offline`.
            n.settle(now);
        }
        self.schedule(now);
    }

    /// The agent could not bring the node up (image prefetch failed, no container engine):
    /// it turns `unusable` with `errors`, and the service does not recover it by itself.
    pub fn node_unusable(&mut self, pool_id: &str, node_id: &str, errors: Vec<BatchNodeError>, now: OffsetDateTime) {
        if let Some(n) = self.pools.get_mut(&IdKey::of(pool_id)).and_then(|p| p.nodes.get_mut(node_id)) {
            if matches!(n.state, NodeState::Creating | NodeState::Starting) {
                n.set_state(NodeState::Unusable, now);
                n.errors = errors;
            }
        }
        self.settle_allocation(&IdKey::of(pool_id), now);
    }

    /// The agent removed a node that was leaving the pool.
    pub fn node_removed(&mut self, pool_id: &str, node_id: &str, now: OffsetDateTime) {
        let key = IdKey::of(pool_id);
        if let Some(p) = self.pools.get_mut(&key) {
            p.nodes.remove(node_id);
        }
        self.end_node_span(node_id, now);
        self.settle_allocation(&key, now);
    }

    /// The node left: its span ends now. Spans ended more than 180 days ago are dropped (the
    /// longest a usage metrics query looks back). UNCONFIRMED: the service's retention.
    pub(super) fn end_node_span(&mut self, node_id: &str, now: OffsetDateTime) {
        if let Some(s) = self.node_spans.iter_mut().rev().find(|s| s.node_id == node_id && s.end.is_none()) {
            s.end = Some(now);
        }
        let horizon = now - time::Duration::days(180);
        self.node_spans.retain(|s| s.end.is_none_or(|e| e >= horizon));
    }
}

impl Account {
    /// The node an operation addresses, after the checks every node operation shares.
    pub(super) fn node_for_operation(&self, pool_id: &str, node_id: &str) -> Result<(IdKey, NodeState, Option<Restart>), DomainError> {
        let key = IdKey::of(pool_id);
        let pool = self.pools.get(&key).ok_or(DomainError::new(Code::PoolNotFound))?;
        let node = pool.nodes.get(node_id).ok_or(DomainError::new(Code::NodeNotFound))?;
        if pool.state == crate::pool::PoolState::Deleting {
            return Err(Code::PoolBeingDeleted.into());
        }
        Ok((key, node.state, node.pending_restart))
    }

    /// Reboot Node (`nodeRebootOption`) and Reimage Node (`nodeReimageOption`).
    pub fn restart_node(&mut self, pool_id: &str, node_id: &str, kind: Restart, option: Option<&str>, now: OffsetDateTime) -> Result<(), DomainError> {
        let (key, state, pending) = self.node_for_operation(pool_id, node_id)?;
        let property = match kind {
            Restart::Reboot => "nodeRebootOption",
            Restart::Reimage => "nodeReimageOption",
            Restart::Deallocate => "nodeDeallocateOption",
        };
        let option = DeallocationOption::parse_property(option, property, true)?;
        match (state, pending) {
            (NodeState::Creating, _) => return Err(Code::NodeBeingCreated.into()),
            (NodeState::Starting, _) => return Err(Code::NodeBeingStarted.into()),
            (NodeState::Rebooting, _) | (_, Some(Restart::Reboot)) => return Err(Code::NodeBeingRebooted.into()),
            (NodeState::Reimaging, _) | (_, Some(Restart::Reimage)) => return Err(Code::NodeBeingReimaged.into()),
            // UNCONFIRMED: the code for an operation on a node that is (being) deallocated.
            (NodeState::Deallocated, _) | (_, Some(Restart::Deallocate)) => return Err(Code::OperationNotValidOnNode.into()),
            // UNCONFIRMED: the code for a node that is leaving its pool.
            (NodeState::LeavingPool, _) => return Err(Code::OperationNotValidOnNode.into()),
            // UNCONFIRMED: a preempted node has no VM to restart until Batch recovers it.
            (NodeState::Preempted, _) => return Err(Code::OperationNotValidOnNode.into()),
            _ => {}
        }
        if self.handle_running_tasks(&key, node_id, option, now) {
            self.begin_restart(&key, node_id, kind, now);
        } else if let Some(n) = self.pools.get_mut(&key).and_then(|p| p.nodes.get_mut(node_id)) {
            n.pending_restart = Some(kind);
        }
        Ok(())
    }

    /// Requeues or terminates the node's running tasks as `option` says; whether the node is
    /// free now (`taskcompletion` leaves them running).
    fn handle_running_tasks(&mut self, key: &IdKey, node_id: &str, option: DeallocationOption, now: OffsetDateTime) -> bool {
        let running: Vec<RunningTask> = self.pools.get(key).and_then(|p| p.nodes.get(node_id)).map(|n| n.running.clone()).unwrap_or_default();
        match option {
            DeallocationOption::Requeue => {
                for r in &running {
                    self.requeue_task(&r.job, &r.task, true, now);
                }
                true
            }
            DeallocationOption::Terminate => {
                for r in &running {
                    self.end_running_task(&r.job, &r.task, failure_task_ended(), now);
                }
                true
            }
            DeallocationOption::TaskCompletion | DeallocationOption::RetainedData => running.is_empty(),
        }
    }

    /// The node goes down: its start task stops, its preparation state is dropped as the
    /// restart kind says, and the agent restarts it (a reimage wipes its disk).
    pub(crate) fn begin_restart(&mut self, key: &IdKey, node_id: &str, kind: Restart, now: OffsetDateTime) {
        self.stop_start_task(key, node_id);
        match kind {
            Restart::Reimage => self.forget_node_for_jobs(node_id, now),
            Restart::Reboot | Restart::Deallocate => self.forget_prep_after_reboot(node_id, now),
        }
        let Some(pool) = self.pools.get_mut(key) else { return };
        // A reimage is a fresh disk: the node's users go with it. UNCONFIRMED.
        if kind == Restart::Reimage {
            if let Some(n) = pool.nodes.get_mut(node_id) {
                n.users.clear();
            }
        }
        let pool_id = pool.spec.id.clone();
        let start_task = pool.spec.start_task.clone();
        let application_packages = pool.spec.application_package_references.clone();
        let containers = pool.spec.virtual_machine_configuration.as_ref().and_then(|v| v.container_configuration.clone());
        let Some(n) = pool.nodes.get_mut(node_id) else { return };
        n.pending_restart = None;
        if kind == Restart::Deallocate {
            // Nothing runs on it any more (its tasks were requeued, terminated or finished);
            // it waits, `deallocated`, for Start Node. UNCONFIRMED: `deallocating` is not
            // observable here (there is no VM to stop).
            n.set_state(NodeState::Deallocated, now);
            return;
        }
        // A changed pool start task applies from the next boot (§5.1).
        n.start_task = start_task;
        n.application_packages = application_packages;
        n.start_task_info = None;
        // Whatever made the node unusable is looked at again as it starts.
        n.errors.clear();
        n.set_state(if kind == Restart::Reboot { NodeState::Rebooting } else { NodeState::Reimaging }, now);
        self.outbox.push(Effect::RestartNode { pool_id, node_id: node_id.to_string(), reimage: kind == Restart::Reimage, containers });
    }

    /// After a reboot a preparation task that succeeded reruns before the job's next task there
    /// when `rerunOnNodeRebootAfterSuccess` (default true); one that was running reruns; a failed
    /// one keeps the node blocked for that job (only a reimage clears it).
    /// UNCONFIRMED: a release task running during the reboot is not rerun (the job moves on).
    fn forget_prep_after_reboot(&mut self, node_id: &str, now: OffsetDateTime) {
        // The entries that survive a reboot, put back after the node is forgotten.
        let keep: Vec<(IdKey, crate::job::NodePrep)> = self
            .jobs
            .iter()
            .filter_map(|(jk, job)| {
                let p = job.prep.get(node_id)?;
                let rerun = job.spec.job_preparation_task.as_ref().and_then(|jp| jp.rerun_on_node_reboot_after_success).unwrap_or(true);
                let running = p.prep_run.is_some() || p.release_run.is_some();
                let kept = !running && (p.prep.result.as_deref() == Some("failure") || !rerun);
                kept.then(|| (jk.clone(), p.clone()))
            })
            .collect();
        self.forget_node_for_jobs(node_id, now);
        for (jk, p) in keep {
            if let Some(job) = self.jobs.get_mut(&jk) {
                job.prep.insert(node_id.to_string(), p);
            }
        }
    }

    /// The agent restarted the node: it is `starting` again, and goes on like a new node
    /// ([`Account::node_ready`] runs the start task first).
    pub fn node_restarted(&mut self, pool_id: &str, node_id: &str, now: OffsetDateTime) {
        if let Some(n) = self.pools.get_mut(&IdKey::of(pool_id)).and_then(|p| p.nodes.get_mut(node_id)) {
            if matches!(n.state, NodeState::Rebooting | NodeState::Reimaging) {
                n.set_state(NodeState::Starting, now);
                n.last_boot_time = Some(now);
            }
        }
    }

    /// Deallocate Node (2025-06-01): its running tasks follow `nodeDeallocateOption` (requeue,
    /// terminate, taskcompletion, retaineddata; default requeue), then it is `deallocated`: it
    /// runs nothing and takes no tasks until Start Node.
    pub fn deallocate_node(&mut self, pool_id: &str, node_id: &str, option: Option<&str>, now: OffsetDateTime) -> Result<(), DomainError> {
        self.restart_node(pool_id, node_id, Restart::Deallocate, option, now)
    }

    /// Start Node: a `deallocated` node boots again (`starting`, its start task, then `idle`),
    /// as after a reboot. UNCONFIRMED: the code for a node that is not deallocated.
    pub fn start_node(&mut self, pool_id: &str, node_id: &str, now: OffsetDateTime) -> Result<(), DomainError> {
        let (key, state, _) = self.node_for_operation(pool_id, node_id)?;
        if state != NodeState::Deallocated {
            return Err(DomainError::new(Code::OperationNotValidOnNode).with_message("Only a deallocated node can be started."));
        }
        self.begin_restart(&key, node_id, Restart::Reboot, now);
        if let Some(n) = self.pools.get_mut(&key).and_then(|p| p.nodes.get_mut(node_id)) {
            n.set_state(NodeState::Starting, now);
            n.last_boot_time = Some(now);
        }
        Ok(())
    }

    /// A task left a node with a pending restart: the restart begins once nothing runs.
    pub(crate) fn restart_if_pending(&mut self, key: &IdKey, node_id: &str, now: OffsetDateTime) {
        let pending = self.pools.get(key).and_then(|p| p.nodes.get(node_id)).filter(|n| n.running.is_empty()).and_then(|n| n.pending_restart);
        if let Some(kind) = pending {
            self.begin_restart(key, node_id, kind, now);
        }
    }

    /// Disable Node Scheduling (`nodeDisableSchedulingOption`).
    pub fn disable_node_scheduling(&mut self, pool_id: &str, node_id: &str, option: Option<&str>, now: OffsetDateTime) -> Result<(), DomainError> {
        let (key, state, _) = self.node_for_operation(pool_id, node_id)?;
        let option = DeallocationOption::parse_property(option, "nodeDisableSchedulingOption", false)?;
        Self::check_scheduling_change(state)?;
        if self.pools.get(&key).and_then(|p| p.nodes.get(node_id)).is_some_and(|n| !n.scheduling_enabled) {
            return Err(Code::NodeAlreadyInTargetSchedulingState.into());
        }
        if let Some(n) = self.pools.get_mut(&key).and_then(|p| p.nodes.get_mut(node_id)) {
            n.scheduling_enabled = false;
        }
        self.handle_running_tasks(&key, node_id, option, now);
        if let Some(n) = self.pools.get_mut(&key).and_then(|p| p.nodes.get_mut(node_id)) {
            n.settle(now);
        }
        self.schedule(now);
        Ok(())
    }

    /// Enable Node Scheduling.
    /// UNCONFIRMED: enabling an enabled node answers `NodeAlreadyInTargetSchedulingState` like the
    /// opposite case (batch-rest-api.md §2.3 names the code for disable).
    pub fn enable_node_scheduling(&mut self, pool_id: &str, node_id: &str, now: OffsetDateTime) -> Result<(), DomainError> {
        let (key, state, _) = self.node_for_operation(pool_id, node_id)?;
        Self::check_scheduling_change(state)?;
        let Some(n) = self.pools.get_mut(&key).and_then(|p| p.nodes.get_mut(node_id)) else { return Ok(()) };
        if n.scheduling_enabled {
            return Err(Code::NodeAlreadyInTargetSchedulingState.into());
        }
        n.scheduling_enabled = true;
        n.settle(now);
        self.schedule(now);
        Ok(())
    }

    fn check_scheduling_change(state: NodeState) -> Result<(), DomainError> {
        match state {
            NodeState::Creating => Err(Code::NodeBeingCreated.into()),
            NodeState::LeavingPool => Err(Code::OperationNotValidOnNode.into()),
            _ => Ok(()),
        }
    }
}
