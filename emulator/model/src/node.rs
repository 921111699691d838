//! Compute nodes: `creating` → `starting` → `idle` ⇄ `running`, plus the states the service
//! reports while a node leaves the pool.

use crate::ids::IdKey;
use time::OffsetDateTime;

/// `state` of a node (spec values, all lower-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NodeState {
    Creating,
    Starting,
    WaitingForStartTask,
    StartTaskFailed,
    Idle,
    Running,
    LeavingPool,
    Unusable,
    Offline,
    Rebooting,
    Reimaging,
    Deallocated,
    /// A Spot/low-priority node taken back by Azure (only by the control API here).
    Preempted,
}

/// A reboot or a reimage of a node, or its deallocation (the VM stopped, its disk kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Restart {
    Reboot,
    Reimage,
    Deallocate,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Creating => "creating",
            NodeState::Starting => "starting",
            NodeState::WaitingForStartTask => "waitingforstarttask",
            NodeState::StartTaskFailed => "starttaskfailed",
            NodeState::Idle => "idle",
            NodeState::Running => "running",
            NodeState::LeavingPool => "leavingpool",
            NodeState::Unusable => "unusable",
            NodeState::Offline => "offline",
            NodeState::Rebooting => "rebooting",
            NodeState::Reimaging => "reimaging",
            NodeState::Deallocated => "deallocated",
            NodeState::Preempted => "preempted",
        }
    }
}

/// A task running on a node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunningTask {
    pub job: IdKey,
    pub task: IdKey,
    pub slots: u32,
}

/// An entry of `recentTasks`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecentTask {
    pub job_id: String,
    pub task_id: String,
}

/// A compute node of a pool.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Node {
    pub id: String,
    pub state: NodeState,
    /// Whether the scheduler may place tasks here (`schedulingState`).
    pub scheduling_enabled: bool,
    pub state_transition_time: OffsetDateTime,
    pub allocation_time: OffsetDateTime,
    pub last_boot_time: Option<OffsetDateTime>,
    pub ip_address: String,
    pub is_dedicated: bool,
    pub running: Vec<RunningTask>,
    pub total_tasks_run: i32,
    pub total_tasks_succeeded: i32,
    pub recent_tasks: Vec<RecentTask>,
    /// Set when the node leaves the pool after its running tasks finish
    /// (`nodeDeallocationOption` `taskcompletion`/`retaineddata`).
    pub leave_when_done: bool,
    /// The node's index among its pool's nodes: which frontend port of each inbound NAT pool
    /// reaches it.
    pub endpoint_index: u32,
    /// The pool's start task as it was when the node started (a changed pool start task
    /// applies after a reboot or reimage).
    pub start_task: Option<batch_client::models::StartTask>,
    /// The pool's application packages as they were when the node started (a changed list
    /// applies after a reboot or reimage, as for the start task).
    #[serde(default)]
    pub application_packages: Option<Vec<serde_json::Value>>,
    /// `startTaskInfo`.
    pub start_task_info: Option<batch_client::models::StartTaskInfo>,
    /// The run of the start task in progress.
    pub start_task_run: Option<u64>,
    /// Why the node is `unusable` (`errors`).
    pub errors: Vec<batch_client::models::BatchNodeError>,
    /// A reboot or reimage waiting for the running tasks to end (`taskcompletion`).
    pub pending_restart: Option<Restart>,
    /// Node users by name (`create_node_user`); a reimage removes them.
    #[serde(default)]
    pub users: std::collections::BTreeMap<String, NodeUser>,
}

/// A user account on a node (REST `BatchNodeUserCreateOptions`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NodeUser {
    pub name: String,
    pub is_admin: bool,
    pub expiry_time: OffsetDateTime,
    /// Secrets: never returned (there is no operation that reads users back).
    pub password: Option<String>,
    pub ssh_public_key: Option<String>,
}

/// A node's `affinityId`: what a task's `affinityInfo` names to prefer that node.
/// UNCONFIRMED: the service's value is opaque; `TVM:<node id>` has its shape.
pub fn affinity_id(node_id: &str) -> String {
    format!("TVM:{node_id}")
}

impl Node {
    /// This node's `affinityId`.
    pub fn affinity_id(&self) -> String {
        affinity_id(&self.id)
    }

    pub fn running_slots(&self) -> u32 {
        self.running.iter().map(|r| r.slots).sum()
    }
    /// Whether new tasks may be placed on the node.
    pub fn accepts_tasks(&self) -> bool {
        self.scheduling_enabled && !self.leave_when_done && self.pending_restart.is_none() && matches!(self.state, NodeState::Idle | NodeState::Running)
    }
    pub fn set_state(&mut self, state: NodeState, now: OffsetDateTime) {
        if self.state != state {
            self.state = state;
            self.state_transition_time = now;
        }
    }
    /// `idle`, `running` or `offline` (scheduling disabled and nothing running) depending on
    /// what runs, for a node that is up (call it whenever a node comes up or a task leaves it).
    pub fn settle(&mut self, now: OffsetDateTime) {
        if matches!(self.state, NodeState::Idle | NodeState::Running | NodeState::Offline) {
            let s = match (self.running.is_empty(), self.scheduling_enabled) {
                (false, _) => NodeState::Running,
                (true, true) => NodeState::Idle,
                (true, false) => NodeState::Offline,
            };
            self.set_state(s, now);
        }
    }
}

/// Node ids look like the service's (`tvmps_<64 hex>_d`, `_p` for spot/low-priority).
/// UNCONFIRMED: the `_p` suffix (batch-rest-api.md §5.2).
pub fn node_id(seq: u64, dedicated: bool) -> String {
    let mut hex = String::with_capacity(64);
    let mut x = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    for _ in 0..4 {
        // splitmix64
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        hex.push_str(&format!("{z:016x}"));
    }
    format!("tvmps_{hex}_{}", if dedicated { 'd' } else { 'p' })
}

/// Each emulated node gets its own loopback address, reported as `ipAddress`.
pub fn node_ip(seq: u64) -> String {
    let n = seq % (250 * 254);
    format!("127.0.{}.{}", 1 + n / 254, 1 + n % 254)
}

/// Where the nodes of container pools with inter-node communication get their addresses: a
/// container's loopback is its own, so a loopback node address cannot reach another node's
/// published ports. Each such node gets the gateway address of a `/30` of this range instead;
/// the agent realises it as a Docker network of its own (the engine puts the gateway address
/// on the host), which processes on the host and containers on any node reach alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeNetwork {
    /// The range's first address.
    pub base: core::net::Ipv4Addr,
    /// Its prefix length (at most 30).
    pub prefix: u8,
}

impl Default for NodeNetwork {
    fn default() -> Self {
        Self { base: core::net::Ipv4Addr::new(10, 199, 0, 0), prefix: 16 }
    }
}

impl NodeNetwork {
    /// `a.b.c.d/n`, with at least one `/30` in it.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (ip, prefix) = s.split_once('/').ok_or_else(|| format!("{s}: expected an IPv4 range such as 10.199.0.0/16"))?;
        let base: core::net::Ipv4Addr = ip.parse().map_err(|e| format!("{s}: {e}"))?;
        let prefix: u8 = prefix.parse().map_err(|e| format!("{s}: {e}"))?;
        if prefix > 30 {
            return Err(format!("{s}: the range must hold at least one /30 (a prefix of 30 or less)"));
        }
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
        Ok(Self { base: core::net::Ipv4Addr::from(u32::from(base) & mask), prefix })
    }

    /// The address of the node with sequence number `seq`: the gateway (first host address)
    /// of the range's `seq`-th `/30`, wrapping around.
    pub fn node_ip(&self, seq: u64) -> String {
        let subnets = 1u64 << (30 - self.prefix);
        let n = (seq % subnets) as u32;
        core::net::Ipv4Addr::from(u32::from(self.base) + n * 4 + 1).to_string()
    }
}

/// Whether a node address is one of [`NodeNetwork`]'s (not loopback): the agent must realise it.
pub fn is_network_address(ip: &str) -> bool {
    ip.parse::<core::net::Ipv4Addr>().is_ok_and(|a| !a.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_networks_give_each_node_the_gateway_of_its_own_slash_30() {
        let n = NodeNetwork::parse("10.199.7.9/24").unwrap();
        assert_eq!(n.base, core::net::Ipv4Addr::new(10, 199, 7, 0));
        assert_eq!(n.node_ip(0), "10.199.7.1");
        assert_eq!(n.node_ip(1), "10.199.7.5");
        assert_eq!(n.node_ip(63), "10.199.7.253");
        assert_eq!(n.node_ip(64), "10.199.7.1", "wraps around the range");
        assert_eq!(NodeNetwork::parse("10.0.0.0/30").unwrap().node_ip(5), "10.0.0.1");
        assert_eq!(NodeNetwork::default().node_ip(1), "10.199.0.5");
        for bad in ["10.0.0.0", "10.0.0.0/31", "10.0.0/16", "x/8", "10.0.0.0/x"] {
            assert!(NodeNetwork::parse(bad).is_err(), "{bad}");
        }
        assert!(is_network_address("10.199.0.5"));
        assert!(!is_network_address("127.0.1.2"));
    }
}
