//! One Batch account: every pool, node, job and task, and the operations on them.
//!
//! Operations validate first and mutate second. Work for the outside world is pushed to
//! `outbox` as [`Effect`]s; the node agent drains it after each operation, carries the effects
//! out and reports back (`node_provisioned`, `task_exited`, `finish_*`).

use crate::error::{BatchErrorCode as Code, DomainError};
use crate::ids::{validate_id, IdKey};
use crate::job::{Job, JobState};
use crate::node::{node_id, node_ip, Node, NodeState, RecentTask, RunningTask};
use crate::pool::{fill_pool_defaults, AllocationState, NodeFillType, Pool, PoolState};
use crate::task::{JobManager, Placement, Task, TaskState};
use crate::version::{Version, Versioner};
use batch_client::models::*;
use batch_client::BatchDuration;
use std::collections::BTreeMap;
use std::ops::Bound;
use time::OffsetDateTime;

/// The most nodes one emulated pool may have (each is a directory tree on this machine).
pub const MAX_NODES_PER_POOL: i32 = 1000;
/// The most tasks one add-collection request may carry.
pub const MAX_TASKS_PER_COLLECTION: usize = 100;

/// A validated job, not yet added, and its manager task.
#[derive(Debug, Clone)]
pub struct BuiltJob {
    pub job: Job,
    pub manager: Option<(BatchTaskCreateOptions, JobManager)>,
}

/// Work the node agent must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Bring a new node up: create its directory tree, then call
    /// [`Account::node_provisioned`] and [`Account::node_ready`].
    ProvisionNode {
        pool_id: String,
        node_id: String,
        /// Set for container pools: the images to fetch before the node turns `idle`, and the
        /// registries to authenticate with.
        containers: Option<ContainerConfiguration>,
    },
    /// Forward each endpoint's frontend port (on the emulator's loopback address) to the node's
    /// backend port, until the node is removed.
    ForwardPorts { node_id: String, node_ip: String, endpoints: Vec<crate::endpoint::InboundEndpoint> },
    /// Run a task.
    Launch(Box<Launch>),
    /// Stop a running attempt; its exit report will be ignored.
    KillTask { run_id: u64 },
    /// Restart a node (a reimage first removes its directory tree and kept containers), call
    /// [`Account::node_restarted`], make sure of the pool's images (as
    /// [`Effect::ProvisionNode`] does), then call [`Account::node_ready`].
    RestartNode { pool_id: String, node_id: String, reimage: bool, containers: Option<ContainerConfiguration> },
    /// Remove a node's directory tree, then call [`Account::node_removed`].
    RemoveNode { pool_id: String, node_id: String },
    /// Apply `timer`'s command once the clock reaches `when` (retention, job wall-clock limits, job
    /// schedules). Timers are not journalled: they are armed again by [`Account::recover`].
    At { when: OffsetDateTime, timer: crate::command::Timer },
    /// Remove a task's directory on a node.
    DeleteTaskDirectory { pool_id: String, node_id: String, job_id: String, task_id: String },
    /// Remove a job's directories on the given nodes, then call [`Account::finish_job_deletion`].
    DeleteJob { job_id: String, nodes: Vec<(String, String)> },
    /// Call [`Account::finish_job_transition`] once the kills sent before it are done.
    FinishJobTransition { job_id: String },
    /// Remove the pool's nodes, then call [`Account::finish_pool_deletion`].
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
    /// The task's `userIdentity` (with the service's default filled in).
    pub user_identity: Option<UserIdentity>,
    /// The pool's `containerConfiguration` (set for container pools).
    pub pool_containers: Option<ContainerConfiguration>,
    pub max_wall_clock_time: Option<BatchDuration>,
    /// True when this attempt is a retry on a node that may hold the previous attempt's files.
    pub is_retry: bool,
    /// The id of the job's preparation task (its directory is `AZ_BATCH_JOB_PREP_DIR`).
    pub job_prep_id: Option<String>,
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
            TaskOutcome::TimedOut { exit_code, start, end, container_info } => {
                OutcomeSummary { exit_code, failure: Some(failure_max_wall_clock()), container_info, start, end }
            }
        }
    }
}

/// What a run belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunTarget {
    Task(IdKey, IdKey),
    JobPrep { job: IdKey, node: String },
    JobRelease { job: IdKey, node: String },
    StartTask { pool: IdKey, node: String },
}

/// The per-task result of add task collection.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskAddOutcome {
    Added(Version),
    Failed(DomainError),
}

/// All state of one Batch account.
#[derive(Debug, Default)]
pub struct Account {
    pub pools: BTreeMap<IdKey, Pool>,
    pub jobs: BTreeMap<IdKey, Job>,
    pub schedules: BTreeMap<IdKey, crate::schedule::JobSchedule>,
    versioner: Versioner,
    node_seq: u64,
    job_seq: u64,
    task_seq: u64,
    pub(crate) run_seq: u64,
    /// Mixed into node ids so that emulator instances sharing a data dir never reuse one.
    node_id_seed: u64,
    /// Runs in flight: run id → (job, task).
    pub(crate) runs: BTreeMap<u64, RunTarget>,
    pub(crate) outbox: Vec<Effect>,
}

fn ci_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
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

fn not_implemented(what: &str) -> DomainError {
    DomainError::new(Code::NotImplemented).with_message(format!("{what} is not emulated yet by batch-emulator {}.", env!("CARGO_PKG_VERSION")))
}

/// `containerConfiguration.type` is required (since 2023-05-01): `dockerCompatible` or
/// `criCompatible`; older api-versions sent `docker`.
fn validate_container_configuration(cc: &ContainerConfiguration) -> Result<(), DomainError> {
    match cc.kind.as_deref() {
        None => Err(DomainError::missing_property("type")),
        Some(t) if ["dockerCompatible", "criCompatible", "docker"].iter().any(|k| k.eq_ignore_ascii_case(t)) => {
            if cc.container_image_names.iter().flatten().any(|i| i.trim().is_empty()) {
                return Err(DomainError::invalid_property("containerImageNames", "", "An image name cannot be empty"));
            }
            Ok(())
        }
        Some(t) => Err(DomainError::invalid_property("type", t, "The value must be dockerCompatible or criCompatible")),
    }
}

/// A job's preparation and release tasks: ids, command lines, containers, the release task's
/// 15-minute limit, and no release task without a preparation task.
fn validate_prep_and_release(spec: &BatchJobCreateOptions) -> Result<(), DomainError> {
    if let Some(jp) = &spec.job_preparation_task {
        if let Some(id) = &jp.id {
            validate_id("id", id)?;
        }
        if jp.command_line.is_empty() && jp.container_settings.is_none() {
            return Err(DomainError::missing_property("commandLine"));
        }
        if let Some(cs) = &jp.container_settings {
            validate_container_settings(cs)?;
        }
        if !is_empty_list(&jp.resource_files) {
            return Err(not_implemented("Resource files (resourceFiles)"));
        }
        if let Some(r) = jp.constraints.as_ref().and_then(|c| c.max_task_retry_count) {
            if r < -1 {
                return Err(DomainError::invalid_property("maxTaskRetryCount", r.to_string(), "The value must be -1 or greater"));
            }
        }
    }
    if let Some(jr) = &spec.job_release_task {
        if spec.job_preparation_task.is_none() {
            // UNCONFIRMED: the error for a release task without a preparation task.
            return Err(DomainError::missing_property("jobPreparationTask"));
        }
        if let Some(id) = &jr.id {
            validate_id("id", id)?;
        }
        let prep_id = spec.job_preparation_task.as_ref().and_then(|p| p.id.clone()).unwrap_or_else(|| "jobpreparation".into());
        if jr.id.as_deref().unwrap_or("jobrelease").eq_ignore_ascii_case(&prep_id) {
            return Err(DomainError::invalid_property(
                "id",
                jr.id.clone().unwrap_or_default(),
                "The job release task id must differ from the job preparation task id",
            ));
        }
        if jr.command_line.is_empty() && jr.container_settings.is_none() {
            return Err(DomainError::missing_property("commandLine"));
        }
        if let Some(cs) = &jr.container_settings {
            validate_container_settings(cs)?;
        }
        if !is_empty_list(&jr.resource_files) {
            return Err(not_implemented("Resource files (resourceFiles)"));
        }
        if let Some(t) = jr.max_wall_clock_time {
            if t > BatchDuration::from_secs(15 * 60) {
                return Err(DomainError::invalid_property("maxWallClockTime", t.to_string(), "The job release task can run at most 15 minutes"));
            }
        }
    }
    Ok(())
}

/// The defaults the service echoes for preparation and release tasks (batch-rest-api.md §5.3).
fn fill_prep_and_release_defaults(spec: &mut BatchJobCreateOptions) {
    if let Some(jp) = spec.job_preparation_task.as_mut() {
        jp.id.get_or_insert_with(|| "jobpreparation".into());
        jp.wait_for_success.get_or_insert(true);
        jp.rerun_on_node_reboot_after_success.get_or_insert(true);
        let c = jp.constraints.get_or_insert_with(Default::default);
        c.max_wall_clock_time.get_or_insert(BatchDuration::UNLIMITED);
        c.retention_time.get_or_insert(BatchDuration::from_secs(7 * 86_400));
        c.max_task_retry_count.get_or_insert(0);
        jp.user_identity.get_or_insert(UserIdentity {
            username: None,
            auto_user: Some(AutoUserSpecification { scope: Some("pool".into()), elevation_level: Some("nonadmin".into()) }),
        });
    }
    if let Some(jr) = spec.job_release_task.as_mut() {
        jr.id.get_or_insert_with(|| "jobrelease".into());
        jr.max_wall_clock_time.get_or_insert(BatchDuration::from_secs(15 * 60));
        jr.retention_time.get_or_insert(BatchDuration::from_secs(7 * 86_400));
    }
}

/// A pool's start task: a command line (or a container image's CMD), valid container
/// settings and retry count.
fn validate_start_task(st: &StartTask) -> Result<(), DomainError> {
    if st.command_line.is_empty() && st.container_settings.is_none() {
        return Err(DomainError::missing_property("commandLine"));
    }
    if let Some(cs) = &st.container_settings {
        validate_container_settings(cs)?;
    }
    if let Some(r) = st.max_task_retry_count {
        if r < -1 {
            return Err(DomainError::invalid_property("maxTaskRetryCount", r.to_string(), "The value must be -1 or greater"));
        }
    }
    Ok(())
}

/// The defaults the service applies to a start task (waitForSuccess true, no retries).
fn with_start_task_defaults(mut st: StartTask) -> StartTask {
    st.wait_for_success.get_or_insert(true);
    st.max_task_retry_count.get_or_insert(0);
    if let Some(cs) = st.container_settings.as_mut() {
        cs.working_directory.get_or_insert_with(|| "taskWorkingDirectory".into());
    }
    st
}

/// `containerSettings` of a task: an image, a known working directory mode, known mount sources.
fn validate_container_settings(cs: &ContainerSettings) -> Result<(), DomainError> {
    if cs.image_name.trim().is_empty() {
        return Err(DomainError::missing_property("imageName"));
    }
    if let Some(w) = &cs.working_directory {
        if !w.eq_ignore_ascii_case("taskWorkingDirectory") && !w.eq_ignore_ascii_case("containerImageDefault") {
            return Err(DomainError::invalid_property("workingDirectory", w.clone(), "The value must be taskWorkingDirectory or containerImageDefault"));
        }
    }
    if let Some(m) = &cs.container_host_batch_bind_mounts {
        let Some(items) = m.as_array() else {
            return Err(DomainError::invalid_property("containerHostBatchBindMounts", m.to_string(), "The value must be a list"));
        };
        for item in items {
            let source = item.get("source").and_then(|s| s.as_str()).unwrap_or_default();
            if !["Shared", "Startup", "VfsMounts", "Task", "JobPrep", "Applications"].iter().any(|k| k.eq_ignore_ascii_case(source)) {
                return Err(DomainError::invalid_property("source", source, "The value must be Shared, Startup, VfsMounts, Task, JobPrep or Applications"));
            }
        }
    }
    Ok(())
}

fn is_empty_list<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(|v| v.is_empty())
}

impl Account {
    pub fn new() -> Self {
        Self::default()
    }

    /// An account whose node ids are derived from `seed` (pass a random value per instance).
    pub fn with_node_id_seed(seed: u64) -> Self {
        Self { node_id_seed: seed, ..Self::default() }
    }

    /// Takes the effects produced since the last call.
    pub fn drain_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.outbox)
    }

    pub(crate) fn version(&mut self, now: OffsetDateTime) -> Version {
        self.versioner.next(now)
    }

    // ------------------------------------------------------------------ pools

    pub fn pool(&self, id: &str) -> Result<&Pool, DomainError> {
        self.pools.get(&IdKey::of(id)).ok_or_else(|| Code::PoolNotFound.into())
    }

    fn pool_mut(&mut self, id: &str) -> Result<&mut Pool, DomainError> {
        self.pools.get_mut(&IdKey::of(id)).ok_or_else(|| Code::PoolNotFound.into())
    }

    fn validate_pool_spec(spec: &BatchPoolCreateOptions) -> Result<IdKey, DomainError> {
        let key = validate_id("id", &spec.id)?;
        if spec.vm_size.trim().is_empty() {
            return Err(DomainError::missing_property("vmSize"));
        }
        if let Some(d) = &spec.display_name {
            if d.chars().count() > 1024 {
                return Err(DomainError::invalid_property("displayName", d.clone(), "The displayName can contain at most 1024 characters"));
            }
        }
        match &spec.virtual_machine_configuration {
            None if !spec.other.contains_key("cloudServiceConfiguration") => return Err(DomainError::missing_property("virtualMachineConfiguration")),
            None => return Err(not_implemented("cloudServiceConfiguration pools")),
            Some(vm) => {
                if vm.image_reference.is_none() {
                    return Err(DomainError::missing_property("imageReference"));
                }
                if vm.node_agent_sku_id.as_deref().is_none_or(|s| s.is_empty()) {
                    return Err(DomainError::missing_property("nodeAgentSKUId"));
                }
                if let Some(cc) = &vm.container_configuration {
                    validate_container_configuration(cc)?;
                }
            }
        }
        if spec.enable_auto_scale == Some(true) {
            return Err(not_implemented("Autoscale pools (enableAutoScale)"));
        }
        for (name, v) in [("targetDedicatedNodes", spec.target_dedicated_nodes), ("targetLowPriorityNodes", spec.target_low_priority_nodes)] {
            if let Some(n) = v {
                if n < 0 {
                    return Err(DomainError::invalid_property(name, n.to_string(), "The value must be greater than or equal to 0"));
                }
            }
        }
        let total = spec.target_dedicated_nodes.unwrap_or(0).saturating_add(spec.target_low_priority_nodes.unwrap_or(0));
        if total > MAX_NODES_PER_POOL {
            return Err(DomainError::invalid_property(
                "targetDedicatedNodes",
                total.to_string(),
                format!("batch-emulator supports at most {MAX_NODES_PER_POOL} nodes per pool"),
            ));
        }
        if let Some(s) = spec.task_slots_per_node {
            if !(1..=256).contains(&s) {
                return Err(DomainError::invalid_property("taskSlotsPerNode", s.to_string(), "The value must be between 1 and 256"));
            }
        }
        if let Some(t) = spec.resize_timeout {
            if t < BatchDuration::from_secs(300) {
                return Err(DomainError::invalid_property("resizeTimeout", t.to_string(), "The resize timeout must be at least 5 minutes"));
            }
        }
        crate::endpoint::inbound_nat_pools(spec.network_configuration.as_ref())?;
        if let Some(p) = &spec.task_scheduling_policy {
            if let Some(f) = &p.node_fill_type {
                if !ci_eq(f, "spread") && !ci_eq(f, "pack") {
                    return Err(DomainError::invalid_property("nodeFillType", f.clone(), "The value must be spread or pack"));
                }
            }
        }
        if let Some(st) = &spec.start_task {
            validate_start_task(st)?;
        }
        if !is_empty_list(&spec.application_package_references) {
            return Err(not_implemented("Application packages (applicationPackageReferences)"));
        }
        if !is_empty_list(&spec.mount_configuration) {
            return Err(not_implemented("Pool file system mounts (mountConfiguration)"));
        }
        Ok(key)
    }

    /// Create Pool. The pool starts `resizing` towards its targets at once.
    pub fn create_pool(&mut self, mut spec: BatchPoolCreateOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let key = Self::validate_pool_spec(&spec)?;
        if self.pools.contains_key(&key) {
            return Err(Code::PoolExists.into());
        }
        fill_pool_defaults(&mut spec);
        spec.start_task = spec.start_task.map(with_start_task_defaults);
        let version = self.version(now);
        let pool = Pool {
            spec,
            state: PoolState::Active,
            state_transition_time: now,
            allocation_state: AllocationState::Resizing,
            allocation_state_transition_time: now,
            creation_time: now,
            version: version.clone(),
            nodes: BTreeMap::new(),
        };
        self.pools.insert(key.clone(), pool);
        self.allocate_towards_target(&key, now);
        Ok(version)
    }

    /// Adds or removes nodes until the pool's node count matches its targets.
    fn allocate_towards_target(&mut self, key: &IdKey, now: OffsetDateTime) {
        let Some(pool) = self.pools.get(key) else {
            return;
        };
        let targets = [(true, pool.spec.target_dedicated_nodes.unwrap_or(0)), (false, pool.spec.target_low_priority_nodes.unwrap_or(0))];
        let pool_id = pool.spec.id.clone();
        let containers = pool.spec.virtual_machine_configuration.as_ref().and_then(|v| v.container_configuration.clone());
        for (dedicated, target) in targets {
            let current =
                self.pools[key].nodes.values().filter(|n| n.is_dedicated == dedicated && n.state != NodeState::LeavingPool && !n.leave_when_done).count()
                    as i32;
            if current < target {
                for _ in current..target {
                    self.node_seq += 1;
                    let seq = self.node_seq;
                    let node = Node {
                        id: node_id(seq.wrapping_add(self.node_id_seed), dedicated),
                        state: NodeState::Creating,
                        scheduling_enabled: true,
                        state_transition_time: now,
                        allocation_time: now,
                        last_boot_time: None,
                        ip_address: node_ip(seq),
                        is_dedicated: dedicated,
                        running: Vec::new(),
                        total_tasks_run: 0,
                        total_tasks_succeeded: 0,
                        recent_tasks: Vec::new(),
                        leave_when_done: false,
                        endpoint_index: self.pools.get(key).map_or(0, |p| (0..).find(|i| !p.nodes.values().any(|n| n.endpoint_index == *i)).unwrap_or(0)),
                        start_task: self.pools.get(key).and_then(|p| p.spec.start_task.clone()),
                        start_task_info: None,
                        start_task_run: None,
                        errors: Vec::new(),
                        pending_restart: None,
                    };
                    self.push_port_forwards(key, &node);
                    self.outbox.push(Effect::ProvisionNode { pool_id: pool_id.clone(), node_id: node.id.clone(), containers: containers.clone() });
                    if let Some(p) = self.pools.get_mut(key) {
                        p.nodes.insert(node.id.clone(), node);
                    }
                }
            } else if current > target {
                // Shrink: idle nodes first, then the ones running the fewest slots.
                let mut candidates: Vec<(u32, String)> = self.pools[key]
                    .nodes
                    .values()
                    .filter(|n| n.is_dedicated == dedicated && n.state != NodeState::LeavingPool && !n.leave_when_done)
                    .map(|n| (n.running_slots(), n.id.clone()))
                    .collect();
                candidates.sort();
                let victims: Vec<String> = candidates.into_iter().take((current - target) as usize).map(|(_, id)| id).collect();
                self.remove_nodes_from_pool(key, &victims, DeallocationOption::Requeue, now);
            }
        }
        self.settle_allocation(key, now);
    }

    /// Asks the agent to forward each inbound endpoint of the node (loopback frontend port →
    /// the node's backend port).
    fn push_port_forwards(&mut self, key: &IdKey, node: &Node) {
        let Some(pool) = self.pools.get(key) else { return };
        let nat = crate::endpoint::inbound_nat_pools(pool.spec.network_configuration.as_ref()).unwrap_or_default();
        let endpoints = crate::endpoint::node_endpoints(&nat, node.endpoint_index);
        if !endpoints.is_empty() {
            self.outbox.push(Effect::ForwardPorts { node_id: node.id.clone(), node_ip: node.ip_address.clone(), endpoints });
        }
    }

    /// Moves the pool to `steady` when no node is still being created or removed.
    fn settle_allocation(&mut self, key: &IdKey, now: OffsetDateTime) {
        if let Some(pool) = self.pools.get_mut(key) {
            let busy = pool.nodes.values().any(|n| matches!(n.state, NodeState::Creating | NodeState::LeavingPool));
            if !busy && pool.allocation_state != AllocationState::Steady {
                pool.allocation_state = AllocationState::Steady;
                pool.allocation_state_transition_time = now;
            }
        }
    }

    /// Stops a node's start task if it runs.
    pub(crate) fn stop_start_task(&mut self, key: &IdKey, node_id: &str) {
        if let Some(run) = self.pools.get_mut(key).and_then(|p| p.nodes.get_mut(node_id)).and_then(|n| n.start_task_run.take()) {
            self.runs.remove(&run);
            self.outbox.push(Effect::KillTask { run_id: run });
        }
    }

    fn remove_nodes_from_pool(&mut self, key: &IdKey, node_ids: &[String], option: DeallocationOption, now: OffsetDateTime) {
        let pool_id = match self.pools.get(key) {
            Some(p) => p.spec.id.clone(),
            None => return,
        };
        for nid in node_ids {
            self.stop_start_task(key, nid);
            self.forget_node_for_jobs(nid, now);
            let running: Vec<RunningTask> = match self.pools.get(key).and_then(|p| p.nodes.get(nid)) {
                Some(n) => n.running.clone(),
                None => continue,
            };
            match option {
                DeallocationOption::Requeue | DeallocationOption::Terminate => {
                    for r in &running {
                        if option == DeallocationOption::Requeue {
                            self.requeue_task(&r.job, &r.task, true, now);
                        } else {
                            self.end_running_task(&r.job, &r.task, failure_task_ended(), now);
                        }
                    }
                    if let Some(n) = self.pools.get_mut(key).and_then(|p| p.nodes.get_mut(nid)) {
                        n.set_state(NodeState::LeavingPool, now);
                    }
                    self.outbox.push(Effect::RemoveNode { pool_id: pool_id.clone(), node_id: nid.clone() });
                }
                DeallocationOption::TaskCompletion | DeallocationOption::RetainedData => {
                    if let Some(n) = self.pools.get_mut(key).and_then(|p| p.nodes.get_mut(nid)) {
                        n.leave_when_done = true;
                        if n.running.is_empty() {
                            n.set_state(NodeState::LeavingPool, now);
                            self.outbox.push(Effect::RemoveNode { pool_id: pool_id.clone(), node_id: nid.clone() });
                        }
                    }
                }
            }
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
    fn launch_start_task(&mut self, pool_key: &IdKey, node_id: &str, now: OffsetDateTime) {
        self.run_seq += 1;
        let run_id = self.run_seq;
        let Some(pool) = self.pools.get_mut(pool_key) else { return };
        let pool_id = pool.spec.id.clone();
        let pool_containers = pool.spec.virtual_machine_configuration.as_ref().and_then(|v| v.container_configuration.clone());
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
            user_identity: st.user_identity.clone(),
            pool_containers,
            max_wall_clock_time: None,
            is_retry: false,
            job_prep_id: None,
        })));
    }

    /// A start task attempt ended: success makes a waiting node `idle`; a nonzero exit is
    /// retried up to `maxTaskRetryCount`; a final failure makes a waiting node
    /// `starttaskfailed` (node-and-container-semantics.md §5.1).
    fn start_task_exited(&mut self, pool_key: &IdKey, node_id: &str, run_id: u64, outcome: TaskOutcome, now: OffsetDateTime) {
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
        self.settle_allocation(&key, now);
    }

    /// Delete Pool: the pool turns `deleting` at once, its running tasks are requeued, and it
    /// disappears once the agent removed its nodes.
    pub fn delete_pool(&mut self, id: &str, now: OffsetDateTime) -> Result<(), DomainError> {
        let key = IdKey::of(id);
        let pool = self.pools.get(&key).ok_or(DomainError::new(Code::PoolNotFound))?;
        if pool.state == PoolState::Deleting {
            return Err(Code::PoolBeingDeleted.into());
        }
        let running: Vec<RunningTask> = pool.nodes.values().flat_map(|n| n.running.clone()).collect();
        let node_ids: Vec<String> = pool.nodes.keys().cloned().collect();
        for r in running {
            self.requeue_task(&r.job, &r.task, false, now);
        }
        for n in &node_ids {
            self.stop_start_task(&key, n);
            self.forget_node_for_jobs(n, now);
        }
        let pool = self.pools.get_mut(&key).ok_or(DomainError::new(Code::PoolNotFound))?;
        pool.state = PoolState::Deleting;
        pool.state_transition_time = now;
        let nodes: Vec<String> = pool.nodes.keys().cloned().collect();
        for n in pool.nodes.values_mut() {
            n.set_state(NodeState::LeavingPool, now);
        }
        let pool_id = pool.spec.id.clone();
        self.outbox.push(Effect::DeletePool { pool_id, nodes });
        Ok(())
    }

    /// The agent removed every node of a deleted pool.
    pub fn finish_pool_deletion(&mut self, pool_id: &str) {
        self.pools.remove(&IdKey::of(pool_id));
    }

    fn active_pool_mut(&mut self, id: &str) -> Result<&mut Pool, DomainError> {
        let pool = self.pool_mut(id)?;
        if pool.state == PoolState::Deleting {
            return Err(Code::PoolBeingDeleted.into());
        }
        Ok(pool)
    }

    /// Update Pool (PATCH): only supplied properties change.
    pub fn update_pool(&mut self, id: &str, patch: BatchPoolUpdateOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let pool = self.active_pool_mut(id)?;
        if let Some(st) = &patch.start_task {
            validate_start_task(st)?;
        }
        if !is_empty_list(&patch.application_package_references) {
            return Err(not_implemented("Application packages (applicationPackageReferences)"));
        }
        let has_nodes = !pool.nodes.is_empty();
        let zero_node_only = [
            ("vmSize", patch.vm_size.is_some()),
            ("virtualMachineConfiguration", patch.virtual_machine_configuration.is_some()),
            ("taskSlotsPerNode", patch.task_slots_per_node.is_some()),
            ("networkConfiguration", patch.network_configuration.is_some()),
            ("userAccounts", patch.user_accounts.is_some()),
            ("mountConfiguration", patch.mount_configuration.is_some()),
            ("enableInterNodeCommunication", patch.enable_inter_node_communication.is_some()),
        ];
        if has_nodes {
            if let Some((name, _)) = zero_node_only.iter().find(|(_, set)| *set) {
                return Err(DomainError::new(Code::OperationInvalidForCurrentState)
                    .with_message(format!("The property {name} can only be updated when the pool has no compute nodes.")));
            }
        }
        if let Some(s) = patch.task_slots_per_node {
            if !(1..=256).contains(&s) {
                return Err(DomainError::invalid_property("taskSlotsPerNode", s.to_string(), "The value must be between 1 and 256"));
            }
        }
        if let Some(cc) = patch.virtual_machine_configuration.as_ref().and_then(|v| v.container_configuration.as_ref()) {
            validate_container_configuration(cc)?;
        }
        crate::endpoint::inbound_nat_pools(patch.network_configuration.as_ref())?;
        let s = &mut pool.spec;
        if let Some(v) = patch.display_name {
            s.display_name = Some(v)
        }
        if let Some(v) = patch.vm_size {
            s.vm_size = v
        }
        if let Some(v) = patch.enable_inter_node_communication {
            s.enable_inter_node_communication = Some(v)
        }
        if let Some(v) = patch.metadata {
            s.metadata = Some(v)
        }
        if let Some(v) = patch.virtual_machine_configuration {
            s.virtual_machine_configuration = Some(v)
        }
        if let Some(v) = patch.task_slots_per_node {
            s.task_slots_per_node = Some(v)
        }
        if let Some(v) = patch.task_scheduling_policy {
            s.task_scheduling_policy = Some(v)
        }
        if let Some(v) = patch.network_configuration {
            s.network_configuration = Some(v)
        }
        if let Some(v) = patch.user_accounts {
            s.user_accounts = Some(v)
        }
        if let Some(v) = patch.mount_configuration {
            s.mount_configuration = Some(v)
        }
        if let Some(v) = patch.upgrade_policy {
            s.upgrade_policy = Some(v)
        }
        fill_pool_defaults(s);
        let version = self.version(now);
        self.pool_mut(id)?.version = version.clone();
        Ok(version)
    }

    /// Replace Pool Properties (`updateproperties`): startTask, applicationPackageReferences
    /// and metadata are replaced as a whole.
    pub fn replace_pool_properties(&mut self, id: &str, body: BatchPoolReplaceOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        self.active_pool_mut(id)?;
        if let Some(st) = &body.start_task {
            validate_start_task(st)?;
        }
        let Some(apps) = body.application_package_references else {
            return Err(DomainError::missing_property("applicationPackageReferences"));
        };
        let Some(metadata) = body.metadata else {
            return Err(DomainError::missing_property("metadata"));
        };
        if !apps.is_empty() {
            return Err(not_implemented("Application packages (applicationPackageReferences)"));
        }
        let version = self.version(now);
        let pool = self.pool_mut(id)?;
        pool.spec.start_task = body.start_task.map(with_start_task_defaults);
        pool.spec.application_package_references = None;
        pool.spec.metadata = if metadata.is_empty() { None } else { Some(metadata) };
        pool.version = version.clone();
        Ok(version)
    }

    /// Resize Pool.
    pub fn resize_pool(&mut self, id: &str, body: BatchPoolResizeOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let pool = self.active_pool_mut(id)?;
        if pool.allocation_state != AllocationState::Steady {
            return Err(DomainError::new(Code::PoolBeingResized));
        }
        let option = DeallocationOption::parse(body.node_deallocation_option.as_deref())?;
        for (name, v) in [("targetDedicatedNodes", body.target_dedicated_nodes), ("targetLowPriorityNodes", body.target_low_priority_nodes)] {
            if let Some(n) = v {
                if n < 0 {
                    return Err(DomainError::invalid_property(name, n.to_string(), "The value must be greater than or equal to 0"));
                }
            }
        }
        let dedicated = body.target_dedicated_nodes.unwrap_or(pool.spec.target_dedicated_nodes.unwrap_or(0));
        let low = body.target_low_priority_nodes.unwrap_or(pool.spec.target_low_priority_nodes.unwrap_or(0));
        if dedicated.saturating_add(low) > MAX_NODES_PER_POOL {
            return Err(DomainError::invalid_property(
                "targetDedicatedNodes",
                dedicated.to_string(),
                format!("batch-emulator supports at most {MAX_NODES_PER_POOL} nodes per pool"),
            ));
        }
        if let Some(t) = body.resize_timeout {
            if t < BatchDuration::from_secs(300) {
                return Err(DomainError::invalid_property("resizeTimeout", t.to_string(), "The resize timeout must be at least 5 minutes"));
            }
            pool.spec.resize_timeout = Some(t);
        }
        pool.spec.target_dedicated_nodes = Some(dedicated);
        pool.spec.target_low_priority_nodes = Some(low);
        pool.allocation_state = AllocationState::Resizing;
        pool.allocation_state_transition_time = now;
        let key = pool.key();
        let version = self.version(now);
        self.pools.get_mut(&key).ok_or(DomainError::new(Code::PoolNotFound))?.version = version.clone();
        self.resize_with(&key, option, now);
        Ok(version)
    }

    fn resize_with(&mut self, key: &IdKey, option: DeallocationOption, now: OffsetDateTime) {
        // Shrinking honours the caller's deallocation option; growing needs none.
        let Some(pool) = self.pools.get(key) else {
            return;
        };
        let mut victims = Vec::new();
        for (dedicated, target) in [(true, pool.spec.target_dedicated_nodes.unwrap_or(0)), (false, pool.spec.target_low_priority_nodes.unwrap_or(0))] {
            let mut nodes: Vec<(u32, String)> = pool
                .nodes
                .values()
                .filter(|n| n.is_dedicated == dedicated && n.state != NodeState::LeavingPool && !n.leave_when_done)
                .map(|n| (n.running_slots(), n.id.clone()))
                .collect();
            if nodes.len() as i32 > target {
                nodes.sort();
                let excess = nodes.len() - target.max(0) as usize;
                victims.extend(nodes.into_iter().take(excess).map(|(_, id)| id));
            }
        }
        if !victims.is_empty() {
            self.remove_nodes_from_pool(key, &victims, option, now);
        }
        self.allocate_towards_target(key, now);
    }

    /// Stop Pool Resize: `stopping`, then `steady` with the targets set to what exists.
    pub fn stop_pool_resize(&mut self, id: &str, now: OffsetDateTime) -> Result<Version, DomainError> {
        let pool = self.active_pool_mut(id)?;
        if pool.allocation_state == AllocationState::Steady {
            // UNCONFIRMED: the service answers 409 when there is no resize to stop.
            return Err(DomainError::new(Code::OperationInvalidForCurrentState).with_message("The pool is not resizing."));
        }
        pool.allocation_state = AllocationState::Stopping;
        pool.allocation_state_transition_time = now;
        let ded = pool.nodes.values().filter(|n| n.is_dedicated && n.state != NodeState::LeavingPool).count() as i32;
        let low = pool.nodes.values().filter(|n| !n.is_dedicated && n.state != NodeState::LeavingPool).count() as i32;
        pool.spec.target_dedicated_nodes = Some(ded);
        pool.spec.target_low_priority_nodes = Some(low);
        let key = pool.key();
        let version = self.version(now);
        self.pools.get_mut(&key).ok_or(DomainError::new(Code::PoolNotFound))?.version = version.clone();
        self.settle_allocation(&key, now);
        Ok(version)
    }

    /// Remove Nodes.
    pub fn remove_nodes(&mut self, id: &str, body: BatchNodeRemoveOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let pool = self.active_pool_mut(id)?;
        if pool.allocation_state != AllocationState::Steady {
            return Err(DomainError::new(Code::PoolBeingResized));
        }
        if body.node_list.is_empty() {
            return Err(DomainError::missing_property("nodeList"));
        }
        if body.node_list.len() > 100 {
            return Err(DomainError::invalid_property("nodeList", body.node_list.len().to_string(), "At most 100 nodes can be removed in one request"));
        }
        let option = DeallocationOption::parse(body.node_deallocation_option.as_deref())?;
        for n in &body.node_list {
            if !pool.nodes.contains_key(n) {
                return Err(DomainError::new(Code::NodeNotFound).with_value("NodeId", n.clone()));
            }
        }
        pool.allocation_state = AllocationState::Resizing;
        pool.allocation_state_transition_time = now;
        let mut ded = pool.spec.target_dedicated_nodes.unwrap_or(0);
        let mut low = pool.spec.target_low_priority_nodes.unwrap_or(0);
        for n in &body.node_list {
            if pool.nodes[n].is_dedicated {
                ded -= 1
            } else {
                low -= 1
            }
        }
        pool.spec.target_dedicated_nodes = Some(ded.max(0));
        pool.spec.target_low_priority_nodes = Some(low.max(0));
        let key = pool.key();
        let version = self.version(now);
        self.pools.get_mut(&key).ok_or(DomainError::new(Code::PoolNotFound))?.version = version.clone();
        self.remove_nodes_from_pool(&key, &body.node_list, option, now);
        self.settle_allocation(&key, now);
        Ok(version)
    }

    /// Node counts of one pool, by state (`/nodecounts`).
    pub fn node_counts(pool: &Pool) -> BatchPoolNodeCounts {
        let mut out = BatchPoolNodeCounts { pool_id: pool.spec.id.clone(), dedicated: Some(Default::default()), low_priority: Some(Default::default()) };
        for n in pool.nodes.values() {
            let Some(c) = (if n.is_dedicated { out.dedicated.as_mut() } else { out.low_priority.as_mut() }) else {
                continue;
            };
            match n.state {
                NodeState::Creating => c.creating += 1,
                NodeState::Starting => c.starting += 1,
                NodeState::WaitingForStartTask => c.waiting_for_start_task += 1,
                NodeState::StartTaskFailed => c.start_task_failed += 1,
                NodeState::Idle => c.idle += 1,
                NodeState::Running => c.running += 1,
                NodeState::LeavingPool => c.leaving_pool += 1,
                NodeState::Unusable => c.unusable += 1,
                NodeState::Offline => c.offline += 1,
                NodeState::Rebooting => c.rebooting += 1,
                NodeState::Reimaging => c.reimaging += 1,
            }
            c.total += 1;
        }
        out
    }

    // ------------------------------------------------------------------- jobs

    pub fn job(&self, id: &str) -> Result<&Job, DomainError> {
        self.jobs.get(&IdKey::of(id)).ok_or_else(|| Code::JobNotFound.into())
    }

    fn job_mut(&mut self, id: &str) -> Result<&mut Job, DomainError> {
        self.jobs.get_mut(&IdKey::of(id)).ok_or_else(|| Code::JobNotFound.into())
    }

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
        if spec.pool_info.auto_pool_specification.is_some() {
            return Err(not_implemented("Auto pools (poolInfo.autoPoolSpecification)"));
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
        if let Some((task, settings)) = built.manager {
            self.insert_task(&key, task, Some(settings), now);
        }
        self.arm_job_wall_clock(&key);
        // A job with no tasks counts as all-complete (node-and-container-semantics.md §5.7).
        self.check_all_tasks_complete(&key, now);
        self.schedule(now);
        version
    }

    fn job_writable(job: &Job) -> Result<(), DomainError> {
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
        self.arm_job_wall_clock(&key);
        self.check_all_tasks_complete(&key, now);
        self.schedule(now);
        Ok(version)
    }

    /// Arms the timer of the job's `constraints.maxWallClockTime` (counted from job creation).
    fn arm_job_wall_clock(&mut self, key: &IdKey) {
        let Some(job) = self.jobs.get(key) else { return };
        if matches!(job.state, JobState::Terminating | JobState::Completed | JobState::Deleting) {
            return;
        }
        if let Some(when) = job_deadline(job) {
            self.outbox.push(Effect::At { when, timer: crate::command::Timer::JobWallClock { job_id: job.spec.id.clone() } });
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
        if pi.auto_pool_specification.is_some() {
            return Err(not_implemented("Auto pools (poolInfo.autoPoolSpecification)"));
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
        if let Some(schedule) = self.jobs.remove(&IdKey::of(job_id)).and_then(|j| j.schedule) {
            self.schedule_job_ended(&schedule, now);
        }
    }

    /// Ends every running task of a job with `failure` (terminate, delete).
    fn stop_running_tasks(&mut self, job: &IdKey, failure: FailureInfo, now: OffsetDateTime) {
        let running: Vec<IdKey> = match self.jobs.get(job) {
            Some(j) => j.tasks.in_states(&[TaskState::Preparing, TaskState::Running], Bound::Unbounded).map(|(k, _)| k.clone()).collect(),
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
        let running: Vec<IdKey> = job.tasks.in_states(&[TaskState::Preparing, TaskState::Running], Bound::Unbounded).map(|(k, _)| k.clone()).collect();
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
                if let Some(schedule) = job.schedule.clone() {
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
        let running = (t.tasks_in(TaskState::Preparing) + t.tasks_in(TaskState::Running), t.slots_in(TaskState::Preparing) + t.slots_in(TaskState::Running));
        let active = (t.tasks_in(TaskState::Active), t.slots_in(TaskState::Active));
        BatchTaskCountsResult { odata_metadata: None, task_counts: counts(|c| c.0, running, active), task_slot_counts: counts(|c| c.1, running, active) }
    }

    fn check_all_tasks_complete(&mut self, key: &IdKey, now: OffsetDateTime) {
        let Some(job) = self.jobs.get(key) else {
            return;
        };
        if job.state == JobState::Active && job.spec.on_all_tasks_complete.as_deref() == Some("terminatejob") && job.tasks.all_completed() {
            self.begin_termination(key, "AllTasksComplete".into(), now);
        }
    }

    // ------------------------------------------------------------------ tasks

    pub fn task(&self, job_id: &str, task_id: &str) -> Result<&Task, DomainError> {
        self.job(job_id)?.tasks.get(&IdKey::of(task_id)).ok_or_else(|| Code::TaskNotFound.into())
    }

    /// Validates a task body against its job; returns the task with defaults filled in.
    fn prepare_task(job: &Job, mut spec: BatchTaskCreateOptions) -> Result<BatchTaskCreateOptions, DomainError> {
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
        let uses_dependencies = job.spec.uses_task_dependencies == Some(true);
        if let Some(d) = &spec.depends_on {
            crate::dependencies::parse_dependencies(d, uses_dependencies)?;
        }
        if let Some(c) = &spec.exit_conditions {
            let performs = job.spec.on_task_failure.as_deref().is_some_and(|f| ci_eq(f, "performexitoptionsjobaction"));
            crate::dependencies::parse_exit_conditions(c, uses_dependencies, performs)?;
        }
        for (what, set) in [
            ("Resource files (resourceFiles)", !is_empty_list(&spec.resource_files)),
            ("Output files (outputFiles)", !is_empty_list(&spec.output_files)),
            ("Multi-instance tasks (multiInstanceSettings)", spec.multi_instance_settings.is_some()),
            ("Application packages (applicationPackageReferences)", !is_empty_list(&spec.application_package_references)),
        ] {
            if set {
                return Err(not_implemented(what));
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
    fn check_not_prep_or_release_id(job: &Job, id: &str) -> Result<(), DomainError> {
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

    fn insert_task(&mut self, job_key: &IdKey, spec: BatchTaskCreateOptions, job_manager: Option<JobManager>, now: OffsetDateTime) -> Version {
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
        };
        if let Some(job) = self.jobs.get_mut(job_key) {
            if matches!(job.state, JobState::Active) {
                job.queue.insert(seq, key.clone());
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

    fn task_mut(&mut self, job_id: &str, task_id: &str) -> Result<crate::task_table::TaskMut<'_>, DomainError> {
        self.jobs
            .get_mut(&IdKey::of(job_id))
            .ok_or(DomainError::new(Code::JobNotFound))?
            .tasks
            .get_mut(&IdKey::of(task_id))
            .ok_or_else(|| Code::TaskNotFound.into())
    }

    /// Delete Task: stops it if running and removes its directory.
    pub fn delete_task(&mut self, job_id: &str, task_id: &str, now: OffsetDateTime) -> Result<(), DomainError> {
        let task = self.task(job_id, task_id)?;
        let jk = IdKey::of(job_id);
        let tk = task.key();
        let placement = task.placement.clone();
        let real_task_id = task.spec.id.clone();
        let real_job_id = self.job(job_id)?.spec.id.clone();
        if matches!(task.state, TaskState::Running | TaskState::Preparing) {
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
        if let Some(p) = placement {
            self.outbox.push(Effect::DeleteTaskDirectory { pool_id: p.pool_id, node_id: p.node_id, job_id: real_job_id, task_id: real_task_id });
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
            TaskState::Running | TaskState::Preparing => self.end_running_task(&jk, &tk, failure_task_ended(), now),
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
            }
        }
        self.schedule(now);
        Ok(version)
    }

    /// After a restart nothing runs any more: running tasks go back to `active` (an internal
    /// requeue that counts against nothing, as when a node recovers), and every transition that
    /// waited for the agent is asked for again.
    pub fn recover(&mut self, now: OffsetDateTime) {
        self.runs.clear();
        let mut restart_start_tasks: Vec<(IdKey, String)> = Vec::new();
        let job_keys: Vec<IdKey> = self.jobs.keys().cloned().collect();
        for jk in &job_keys {
            let running: Vec<IdKey> =
                self.jobs[jk].tasks.in_states(&[TaskState::Preparing, TaskState::Running], Bound::Unbounded).map(|(k, _)| k.clone()).collect();
            for tk in running {
                self.release_node_slot(jk, &tk, now);
                let Some(job) = self.jobs.get_mut(jk) else {
                    continue;
                };
                let active = job.state == JobState::Active;
                if let Some(mut t) = job.tasks.get_mut(&tk) {
                    t.run_id = None;
                    t.set_state(TaskState::Active, now);
                    if active {
                        job.queue.insert(t.seq, tk.clone());
                    }
                }
            }
            let job = &self.jobs[jk];
            let job_id = job.spec.id.clone();
            match job.state {
                JobState::Deleting => {
                    let mut nodes: Vec<(String, String)> =
                        job.tasks.values().filter_map(|t| t.placement.as_ref().map(|p| (p.pool_id.clone(), p.node_id.clone()))).collect();
                    nodes.sort();
                    nodes.dedup();
                    self.outbox.push(Effect::DeleteJob { job_id, nodes });
                }
                JobState::Terminating | JobState::Disabling | JobState::Enabling => self.outbox.push(Effect::FinishJobTransition { job_id }),
                _ => {}
            }
        }
        for pool in self.pools.values() {
            let pool_id = pool.spec.id.clone();
            let containers = pool.spec.virtual_machine_configuration.as_ref().and_then(|v| v.container_configuration.clone());
            if pool.state == PoolState::Deleting {
                self.outbox.push(Effect::DeletePool { pool_id, nodes: pool.nodes.keys().cloned().collect() });
                continue;
            }
            for n in pool.nodes.values() {
                if n.state != NodeState::LeavingPool {
                    let nat = crate::endpoint::inbound_nat_pools(pool.spec.network_configuration.as_ref()).unwrap_or_default();
                    let endpoints = crate::endpoint::node_endpoints(&nat, n.endpoint_index);
                    if !endpoints.is_empty() {
                        self.outbox.push(Effect::ForwardPorts { node_id: n.id.clone(), node_ip: n.ip_address.clone(), endpoints });
                    }
                }
                if n.start_task_info.as_ref().is_some_and(|i| i.state == "running") {
                    restart_start_tasks.push((pool.key(), n.id.clone()));
                }
                match n.state {
                    NodeState::Creating | NodeState::Starting => {
                        self.outbox.push(Effect::ProvisionNode { pool_id: pool_id.clone(), node_id: n.id.clone(), containers: containers.clone() })
                    }
                    NodeState::LeavingPool => self.outbox.push(Effect::RemoveNode { pool_id: pool_id.clone(), node_id: n.id.clone() }),
                    NodeState::Rebooting | NodeState::Reimaging => self.outbox.push(Effect::RestartNode {
                        pool_id: pool_id.clone(),
                        node_id: n.id.clone(),
                        reimage: n.state == NodeState::Reimaging,
                        containers: containers.clone(),
                    }),
                    _ => {}
                }
            }
        }
        self.recover_prep_and_release(now);
        self.recover_schedules(now);
        // Job wall-clock timers are armed again (one that passed fires at once).
        let job_keys: Vec<IdKey> = self.jobs.keys().cloned().collect();
        for jk in &job_keys {
            self.arm_job_wall_clock(jk);
        }
        // Retention timers of completed tasks are armed again.
        let completed: Vec<(IdKey, IdKey)> =
            self.jobs.values().flat_map(|j| j.tasks.keys_in(TaskState::Completed).map(move |k| (j.key(), k.clone()))).collect();
        for (jk, tk) in completed {
            self.schedule_retention(&jk, &tk);
        }
        // A start task that was running runs again, as after a node reboot.
        for (pool, node) in restart_start_tasks {
            if let Some(n) = self.pools.get_mut(&pool).and_then(|p| p.nodes.get_mut(&node)) {
                n.start_task_run = None;
            }
            self.launch_start_task(&pool, &node, now);
        }
        self.schedule(now);
    }

    // --------------------------------------------------------------- running

    /// Frees the node slots of a running task (and settles the node's state).
    fn release_node_slot(&mut self, job: &IdKey, task: &IdKey, now: OffsetDateTime) {
        let Some(p) = self.jobs.get(job).and_then(|j| j.tasks.get(task)).and_then(|t| t.placement.clone()) else {
            return;
        };
        let pool_key = IdKey::of(&p.pool_id);
        let mut remove = false;
        if let Some(n) = self.pools.get_mut(&pool_key).and_then(|pl| pl.nodes.get_mut(&p.node_id)) {
            n.running.retain(|r| !(r.job == *job && r.task == *task));
            n.settle(now);
            if n.leave_when_done && n.running.is_empty() && n.state != NodeState::LeavingPool {
                n.set_state(NodeState::LeavingPool, now);
                remove = true;
            }
        }
        if remove {
            self.outbox.push(Effect::RemoveNode { pool_id: p.pool_id, node_id: p.node_id });
        } else {
            self.restart_if_pending(&pool_key, &p.node_id, now);
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
        }
    }

    /// Ends a running attempt as completed with `failure` (terminate, timeout).
    pub(crate) fn end_running_task(&mut self, job: &IdKey, task: &IdKey, failure: FailureInfo, now: OffsetDateTime) {
        self.release_node_slot(job, task, now);
        let Some(mut t) = self.jobs.get_mut(job).and_then(|j| j.tasks.get_mut(task)) else {
            return;
        };
        let run = t.run_id.take();
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
    fn schedule_retention(&mut self, job: &IdKey, task: &IdKey) {
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
        let timer = crate::command::Timer::RetentionExpired { job_id: j.spec.id.clone(), task_id: t.spec.id.clone() };
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
    fn dependencies_satisfied(job: &Job, task: &Task) -> bool {
        crate::dependencies::parent_ids(task).iter().all(|id| job.tasks.get(&IdKey::of(id)).is_some_and(crate::dependencies::satisfies_dependents))
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

    fn on_task_completed(&mut self, job: &IdKey, task: &IdKey, now: OffsetDateTime) {
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

    /// The node agent's report that an attempt ended.
    pub fn task_exited(&mut self, run_id: u64, outcome: TaskOutcome, now: OffsetDateTime) {
        let (jk, tk) = match self.runs.remove(&run_id) {
            Some(RunTarget::Task(jk, tk)) => (jk, tk),
            Some(RunTarget::StartTask { pool, node }) => return self.start_task_exited(&pool, &node, run_id, outcome, now),
            Some(RunTarget::JobPrep { job, node }) => return self.prep_exited(&job, &node, run_id, outcome, now),
            Some(RunTarget::JobRelease { job, node }) => return self.release_exited(&job, &node, run_id, outcome, now),
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
        let info = &mut t.execution_info;
        let succeeded;
        match outcome {
            TaskOutcome::Exited { exit_code, start, end, container_info } => {
                info.start_time = Some(start);
                info.container_info = container_info;
                info.exit_code = Some(exit_code);
                succeeded = exit_code == 0;
                // Only a nonzero exit is retried (node-and-container-semantics.md §5.4).
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
                info.start_time = Some(start);
                info.container_info = container_info;
                info.end_time = Some(end);
                info.exit_code = None;
                info.result = Some("failure".into());
                info.failure_info = Some(failure);
                succeeded = false;
            }
            TaskOutcome::TimedOut { exit_code, start, end, container_info } => {
                info.start_time = Some(start);
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

    /// Places active tasks on nodes with free slots and emits a [`Launch`] for each.
    /// Jobs go by priority (then age), tasks by the order they were added.
    pub fn schedule(&mut self, now: OffsetDateTime) {
        let mut jobs: Vec<(i32, u64, IdKey)> =
            self.jobs.values().filter(|j| j.state == JobState::Active && !j.queue.is_empty()).map(|j| (-j.priority(), j.seq, j.key())).collect();
        jobs.sort();
        for (_, _, jk) in jobs {
            let Some(job) = self.jobs.get(&jk) else {
                continue;
            };
            let Some(pool_key) = job.pool_key() else {
                continue;
            };
            let Some(pool) = self.pools.get(&pool_key) else {
                continue;
            };
            if pool.state != PoolState::Active {
                continue;
            }
            let slots_per_node = pool.task_slots_per_node();
            let fill = pool.node_fill_type();
            let max_parallel = job.spec.max_parallel_tasks.unwrap_or(-1);
            let blocked = self.prep_blocked_nodes(&jk);
            let mut running = job.tasks.running() as i64;
            // Walks the queue lazily: most calls stop at the first task (no free slot).
            let mut after = Bound::Unbounded;
            while let Some((seq, tk)) = self.jobs.get(&jk).and_then(|j| j.queue.range((after, Bound::Unbounded)).next()).map(|(s, k)| (*s, k.clone())) {
                after = Bound::Excluded(seq);
                if max_parallel > 0 && running >= i64::from(max_parallel) {
                    break;
                }
                let Some(pool) = self.pools.get(&pool_key) else {
                    break;
                };
                let free_anywhere = pool.nodes.values().any(|n| n.accepts_tasks() && n.running_slots() < slots_per_node);
                if !free_anywhere {
                    break;
                }
                let Some(job) = self.jobs.get(&jk) else { continue };
                let Some(task) = job.tasks.get(&tk) else { continue };
                if task.spec.depends_on.is_some() && !Self::dependencies_satisfied(job, task) {
                    continue;
                }
                let need = task.node_slots(slots_per_node);
                // requiredSlots > taskSlotsPerNode is not validated: the task stays active
                // (node-and-container-semantics.md §5.8).
                let candidates = pool
                    .nodes
                    .values()
                    .filter(|n| n.accepts_tasks() && n.running_slots() + need <= slots_per_node && !blocked.contains(&n.id) && task.may_run_on(n.is_dedicated));
                let chosen = match fill {
                    NodeFillType::Spread => candidates.min_by_key(|n| n.running_slots()),
                    NodeFillType::Pack => candidates.max_by_key(|n| n.running_slots()),
                };
                let Some(node) = chosen else { continue };
                let node_id = node.id.clone();
                self.start_task_on(&jk, &tk, seq, &pool_key, &node_id, now);
                running += 1;
            }
        }
    }

    fn start_task_on(&mut self, jk: &IdKey, tk: &IdKey, seq: u64, pool_key: &IdKey, node_id: &str, now: OffsetDateTime) {
        let version = self.version(now);
        let Some(pool) = self.pools.get_mut(pool_key) else { return };
        let pool_id = pool.spec.id.clone();
        let node_slots_per_pool = pool.task_slots_per_node();
        let Some(node) = pool.nodes.get_mut(node_id) else { return };
        let Some(job) = self.jobs.get_mut(jk) else { return };
        job.queue.remove(&seq);
        let job_id = job.spec.id.clone();
        let Some(mut task) = job.tasks.get_mut(tk) else { return };
        let is_retry = task.execution_info.retry_count > 0 && task.placement.as_ref().is_some_and(|p| p.node_id == node_id);
        task.placement = Some(Placement { pool_id: pool_id.clone(), node_id: node_id.to_string() });
        task.execution_info.start_time = Some(now);
        task.execution_info.end_time = None;
        task.execution_info.exit_code = None;
        task.version = version;
        let (slots, task_id) = (task.node_slots(node_slots_per_pool), task.spec.id.clone());
        drop(task);
        node.running.push(RunningTask { job: jk.clone(), task: tk.clone(), slots });
        node.total_tasks_run += 1;
        node.recent_tasks.push(RecentTask { job_id, task_id });
        if node.recent_tasks.len() > 10 {
            node.recent_tasks.remove(0);
        }
        node.settle(now);
        // A job preparation task runs first on each node; the task waits in `preparing`.
        if self.prep_gate(jk, pool_key, node_id, now) == crate::jobprep::PrepGate::Wait {
            if let Some(mut t) = self.jobs.get_mut(jk).and_then(|j| j.tasks.get_mut(tk)) {
                t.set_state(TaskState::Preparing, now);
            }
            return;
        }
        self.emit_task_launch(jk, tk, is_retry, now);
    }

    /// Starts a placed task's process or container.
    pub(crate) fn emit_task_launch(&mut self, jk: &IdKey, tk: &IdKey, is_retry: bool, now: OffsetDateTime) {
        self.run_seq += 1;
        let run_id = self.run_seq;
        let Some(job) = self.jobs.get(jk) else { return };
        let Some(task) = job.tasks.get(tk) else { return };
        let Some(p) = task.placement.clone() else { return };
        let Some(pool) = self.pools.get(&IdKey::of(&p.pool_id)) else { return };
        let Some(node) = pool.nodes.get(&p.node_id) else { return };
        let mut environment: Vec<(String, String)> = Vec::new();
        for e in job.spec.common_environment_settings.iter().flatten().chain(task.spec.environment_settings.iter().flatten()) {
            environment.retain(|(n, _)| *n != e.name);
            environment.push((e.name.clone(), e.value.clone().unwrap_or_default()));
        }
        let launch = Launch {
            run_id,
            kind: LaunchKind::Task,
            pool_id: pool.spec.id.clone(),
            node_id: node.id.clone(),
            node_ip: node.ip_address.clone(),
            is_dedicated: node.is_dedicated,
            job_id: job.spec.id.clone(),
            task_id: task.spec.id.clone(),
            command_line: task.spec.command_line.clone(),
            environment,
            container_settings: task.spec.container_settings.as_deref().cloned(),
            user_identity: task.spec.user_identity.clone(),
            pool_containers: pool.spec.virtual_machine_configuration.as_ref().and_then(|v| v.container_configuration.clone()),
            max_wall_clock_time: task.spec.constraints.as_ref().and_then(|c| c.max_wall_clock_time).filter(|d| !d.is_unlimited()),
            is_retry,
            job_prep_id: job.spec.job_preparation_task.as_ref().and_then(|p| p.id.clone()),
        };
        if let Some(mut t) = self.jobs.get_mut(jk).and_then(|j| j.tasks.get_mut(tk)) {
            t.run_id = Some(run_id);
            t.set_state(TaskState::Running, now);
        }
        self.runs.insert(run_id, RunTarget::Task(jk.clone(), tk.clone()));
        self.outbox.push(Effect::Launch(Box::new(launch)));
    }
}

/// `nodeDeallocationOption`: what happens to running tasks of a node that leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeallocationOption {
    Requeue,
    Terminate,
    TaskCompletion,
    RetainedData,
}

impl DeallocationOption {
    fn parse(v: Option<&str>) -> Result<Self, DomainError> {
        Self::parse_property(v, "nodeDeallocationOption", true)
    }

    /// The same choice under another property name (`nodeRebootOption`, `nodeReimageOption`,
    /// `nodeDisableSchedulingOption`, which has no `retaineddata`).
    pub(crate) fn parse_property(v: Option<&str>, property: &str, retained_data: bool) -> Result<Self, DomainError> {
        match v.map(str::to_ascii_lowercase).as_deref() {
            None | Some("requeue") => Ok(Self::Requeue),
            Some("terminate") => Ok(Self::Terminate),
            Some("taskcompletion") => Ok(Self::TaskCompletion),
            Some("retaineddata") if retained_data => Ok(Self::RetainedData),
            Some(_) => Err(DomainError::invalid_property(
                property,
                v.unwrap_or_default(),
                if retained_data {
                    "The value must be requeue, terminate, taskcompletion or retaineddata"
                } else {
                    "The value must be requeue, terminate or taskcompletion"
                },
            )),
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
