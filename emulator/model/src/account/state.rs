//! The account itself: its maps of pools, jobs and job schedules, its counters, the runs in
//! flight and the outbox of effects, and the lookups every operation starts from.

use crate::effects::Effect;
use crate::error::{BatchErrorCode as Code, DomainError};
use crate::ids::IdKey;
use crate::job::Job;
use crate::pool::Pool;
use crate::task::Task;
use crate::version::{Version, Versioner};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The most nodes one emulated pool may have (each is a directory tree on this machine).
pub const MAX_NODES_PER_POOL: i32 = 1000;
/// The most tasks one add-collection request may carry.
pub const MAX_TASKS_PER_COLLECTION: usize = 100;

/// What a run belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum RunTarget {
    Task(IdKey, IdKey),
    JobPrep {
        job: IdKey,
        node: String,
    },
    JobRelease {
        job: IdKey,
        node: String,
    },
    StartTask {
        pool: IdKey,
        node: String,
    },
    /// The coordination command line of one instance of a multi-instance task.
    Subtask(IdKey, IdKey, u32),
}

/// All state of one Batch account.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub pools: BTreeMap<IdKey, Pool>,
    pub jobs: BTreeMap<IdKey, Job>,
    pub schedules: BTreeMap<IdKey, crate::schedule::JobSchedule>,
    pub(super) versioner: Versioner,
    pub(super) node_seq: u64,
    pub(super) job_seq: u64,
    pub(super) task_seq: u64,
    pub(crate) run_seq: u64,
    /// Mixed into node ids so that emulator instances sharing a data dir never reuse one.
    pub(super) node_id_seed: u64,
    /// Where nodes of inter-node container pools get their addresses (a setting of this
    /// emulator, not state: set again at each start).
    #[serde(skip)]
    pub(super) node_network: crate::node::NodeNetwork,
    /// Runs in flight: run id → (job, task).
    pub(crate) runs: BTreeMap<u64, RunTarget>,
    /// Effects not yet drained (never part of a snapshot: it is taken with the outbox empty).
    #[serde(skip)]
    pub(crate) outbox: Vec<Effect>,
    /// Jobs that may have tasks waiting in their queue (a superset: the scheduler drops those
    /// whose queue turned out empty). Scheduling reads these, not every job, so each command
    /// costs the same with 10 jobs or 100,000 (and so does replaying a long journal).
    pub(super) queued: std::collections::BTreeSet<IdKey>,
    /// How long each node existed, for usage metrics (kept after its pool is deleted).
    #[serde(default)]
    pub node_spans: Vec<crate::stats::NodeSpan>,
}

impl Account {
    pub fn new() -> Self {
        Self::default()
    }

    /// An account whose node ids are derived from `seed` (pass a random value per instance).
    pub fn with_node_id_seed(seed: u64) -> Self {
        Self { node_id_seed: seed, ..Self::default() }
    }

    /// Sets where nodes of inter-node container pools get their addresses (nodes that exist
    /// keep theirs).
    pub fn set_node_network(&mut self, network: crate::node::NodeNetwork) {
        self.node_network = network;
    }

    /// The whole account as JSON, to start from instead of a journal's first records. Taken
    /// with the outbox drained (effects are never part of a snapshot).
    pub fn snapshot(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// An account from [`Account::snapshot`].
    pub fn from_snapshot(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Takes the effects produced since the last call.
    pub fn drain_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.outbox)
    }

    pub(crate) fn version(&mut self, now: OffsetDateTime) -> Version {
        self.versioner.next(now)
    }

    pub fn pool(&self, id: &str) -> Result<&Pool, DomainError> {
        self.pools.get(&IdKey::of(id)).ok_or_else(|| Code::PoolNotFound.into())
    }

    pub(super) fn pool_mut(&mut self, id: &str) -> Result<&mut Pool, DomainError> {
        self.pools.get_mut(&IdKey::of(id)).ok_or_else(|| Code::PoolNotFound.into())
    }

    pub fn job(&self, id: &str) -> Result<&Job, DomainError> {
        self.jobs.get(&IdKey::of(id)).ok_or_else(|| Code::JobNotFound.into())
    }

    pub(super) fn job_mut(&mut self, id: &str) -> Result<&mut Job, DomainError> {
        self.jobs.get_mut(&IdKey::of(id)).ok_or_else(|| Code::JobNotFound.into())
    }

    pub fn task(&self, job_id: &str, task_id: &str) -> Result<&Task, DomainError> {
        self.job(job_id)?.tasks.get(&IdKey::of(task_id)).ok_or_else(|| Code::TaskNotFound.into())
    }

    pub(super) fn task_mut(&mut self, job_id: &str, task_id: &str) -> Result<crate::task_table::TaskMut<'_>, DomainError> {
        self.jobs
            .get_mut(&IdKey::of(job_id))
            .ok_or(DomainError::new(Code::JobNotFound))?
            .tasks
            .get_mut(&IdKey::of(task_id))
            .ok_or_else(|| Code::TaskNotFound.into())
    }
}
