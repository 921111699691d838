//! Pools: specification (as created, with the service's defaults filled in) and state.

use crate::ids::IdKey;
use crate::node::Node;
use crate::version::Version;
use batch_client::models::{BatchPoolCreateOptions, TaskSchedulingPolicy};
use batch_client::BatchDuration;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// `state` of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PoolState {
    Active,
    Deleting,
}

impl PoolState {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolState::Active => "active",
            PoolState::Deleting => "deleting",
        }
    }
}

/// `allocationState` of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AllocationState {
    Steady,
    Resizing,
    Stopping,
}

impl AllocationState {
    pub fn as_str(self) -> &'static str {
        match self {
            AllocationState::Steady => "steady",
            AllocationState::Resizing => "resizing",
            AllocationState::Stopping => "stopping",
        }
    }
}

/// How tasks are spread over a pool's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NodeFillType {
    Spread,
    Pack,
}

/// A pool.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pool {
    /// The create body with defaults filled in; what get/list echo.
    pub spec: BatchPoolCreateOptions,
    pub state: PoolState,
    pub state_transition_time: OffsetDateTime,
    pub allocation_state: AllocationState,
    pub allocation_state_transition_time: OffsetDateTime,
    pub creation_time: OffsetDateTime,
    pub version: Version,
    /// Nodes by id.
    pub nodes: BTreeMap<String, Node>,
    /// The last autoscale evaluation (`autoScaleRun`).
    #[serde(default)]
    pub auto_scale_run: Option<AutoScaleRunRecord>,
    /// The metrics of an autoscale pool, one sample every 30 seconds, oldest first.
    #[serde(default)]
    pub samples: std::collections::VecDeque<PoolSample>,
    /// When autoscale was last enabled (enable is refused within 30 seconds of it).
    #[serde(default)]
    pub auto_scale_enabled_at: Option<OffsetDateTime>,
}

/// Samples kept per pool: a day of them.
pub const MAX_SAMPLES: usize = 2 * 60 * 24;

/// One autoscale evaluation: `autoScaleRun` (`timestamp`, `results`, `error`), and the
/// targets it decided when it succeeded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AutoScaleRunRecord {
    pub timestamp: OffsetDateTime,
    pub results: String,
    pub error: Option<crate::autoscale::FormulaError>,
    pub targets: Option<(f64, f64, String)>,
}

impl AutoScaleRunRecord {
    /// The wire `AutoScaleRun`.
    pub fn to_wire(&self) -> serde_json::Value {
        let mut v = serde_json::json!({"timestamp": batch_client::timefmt::format_body(self.timestamp), "results": self.results});
        if let Some(e) = &self.error {
            let values: Vec<serde_json::Value> = e.values.iter().map(|(n, v)| serde_json::json!({"name": n, "value": v})).collect();
            v["error"] = serde_json::json!({"code": e.code, "message": e.message, "values": values});
        }
        v
    }
}

/// What an autoscale pool's metrics were at one moment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PoolSample {
    pub at: OffsetDateTime,
    pub active_tasks: f64,
    pub running_tasks: f64,
    pub succeeded_tasks: f64,
    pub failed_tasks: f64,
    pub dedicated_nodes: f64,
    pub low_priority_nodes: f64,
    pub node_count: f64,
    /// Preempted Spot/low-priority nodes (journals before this build: none).
    #[serde(default)]
    pub preempted_nodes: f64,
    /// The nodes' average resource use over the period (journals before this build: none).
    #[serde(default)]
    pub resources: Option<crate::stats::NodeMetrics>,
}

impl PoolSample {
    /// A metric's value in this sample; `None` for resource metrics of a sample without them
    /// (their history has a gap there).
    pub fn value(&self, metric: &str) -> Option<f64> {
        Some(match metric {
            "$ActiveTasks" => self.active_tasks,
            "$RunningTasks" => self.running_tasks,
            "$PendingTasks" => self.active_tasks + self.running_tasks,
            "$SucceededTasks" => self.succeeded_tasks,
            "$FailedTasks" => self.failed_tasks,
            "$SampleNodeCount" => self.node_count,
            "$PreemptedNodeCount" => self.preempted_nodes,
            other => return self.resources.as_ref().and_then(|r| r.value(other)),
        })
    }
}

impl Pool {
    /// The pool's named `userAccounts`.
    pub fn user_accounts(&self) -> &[serde_json::Value] {
        self.spec.user_accounts.as_deref().unwrap_or_default()
    }

    pub fn key(&self) -> IdKey {
        IdKey::of(&self.spec.id)
    }
    pub fn task_slots_per_node(&self) -> u32 {
        self.spec.task_slots_per_node.unwrap_or(1).max(1) as u32
    }
    pub fn node_fill_type(&self) -> NodeFillType {
        match self.spec.task_scheduling_policy.as_ref().and_then(|p| p.node_fill_type.as_deref()) {
            Some(s) if s.eq_ignore_ascii_case("pack") => NodeFillType::Pack,
            _ => NodeFillType::Spread,
        }
    }
    pub fn is_container_pool(&self) -> bool {
        self.spec.virtual_machine_configuration.as_ref().is_some_and(|v| v.container_configuration.is_some())
    }
    /// Nodes that count towards `currentDedicatedNodes` / `currentLowPriorityNodes`.
    pub fn current_nodes(&self, dedicated: bool) -> i32 {
        self.nodes.values().filter(|n| n.is_dedicated == dedicated).count() as i32
    }
}

/// Fills in what the service echoes for omitted properties (recording
/// `cli-ext_linux-pool-job-task-lifecycle`: resizeTimeout PT15M, targets 0, autoscale false,
/// inter-node communication false, taskSlotsPerNode 1, nodeFillType `Spread`, image version
/// `latest`).
pub fn fill_pool_defaults(spec: &mut BatchPoolCreateOptions) {
    spec.resize_timeout.get_or_insert(BatchDuration::from_secs(15 * 60));
    spec.target_dedicated_nodes.get_or_insert(0);
    spec.target_low_priority_nodes.get_or_insert(0);
    spec.enable_auto_scale.get_or_insert(false);
    spec.enable_inter_node_communication.get_or_insert(false);
    spec.task_slots_per_node.get_or_insert(1);
    let policy = spec.task_scheduling_policy.get_or_insert_with(TaskSchedulingPolicy::default);
    // UNCONFIRMED: the live service echoes "Spread" capitalised (batch-rest-api.md §5.5); we echo
    // what the service echoed, whatever case the client sent.
    let fill = match policy.node_fill_type.as_deref() {
        Some(s) if s.eq_ignore_ascii_case("pack") => "Pack",
        _ => "Spread",
    };
    policy.node_fill_type = Some(fill.to_string());
    if let Some(vm) = spec.virtual_machine_configuration.as_mut() {
        if let Some(img) = vm.image_reference.as_mut() {
            if !img.contains_key("virtualMachineImageId") && !img.contains_key("sharedGalleryImageId") && !img.contains_key("communityGalleryImageId") {
                img.entry("version").or_insert_with(|| serde_json::Value::String("latest".into()));
            }
        }
    }
}
