//! Pools: create, update, replace properties, resize, stop resize, remove nodes, delete, node
//! counts; and allocation (adding and removing nodes towards the targets).

use super::state::{Account, MAX_NODES_PER_POOL};
use super::validation::{ci_eq, is_empty_list, not_implemented, validate_container_configuration, validate_start_task, with_start_task_defaults};
use crate::effects::{failure_task_ended, Effect};
use crate::error::{BatchErrorCode as Code, DomainError};
use crate::ids::{validate_id, IdKey};
use crate::node::{node_id, node_ip, Node, NodeState, RunningTask};
use crate::pool::{fill_pool_defaults, AllocationState, Pool, PoolState};
use crate::version::Version;
use batch_client::models::*;
use batch_client::BatchDuration;
use std::collections::BTreeMap;
use time::OffsetDateTime;

impl Account {
    pub(super) fn validate_pool_spec(spec: &BatchPoolCreateOptions) -> Result<IdKey, DomainError> {
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
        Self::validate_auto_scale_spec(spec)?;
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
        crate::app_packages::parse_for_pool(spec.application_package_references.as_deref())?;
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
            auto_scale_run: None,
            samples: Default::default(),
            auto_scale_enabled_at: None,
        };
        self.pools.insert(key.clone(), pool);
        self.start_auto_scale(&key, now);
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
        // Containers on different nodes reach each other only at routable node addresses.
        let routable = containers.is_some() && pool.spec.enable_inter_node_communication == Some(true);
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
                        ip_address: if routable { self.node_network.node_ip(seq) } else { node_ip(seq) },
                        is_dedicated: dedicated,
                        running: Vec::new(),
                        total_tasks_run: 0,
                        total_tasks_succeeded: 0,
                        recent_tasks: Vec::new(),
                        leave_when_done: false,
                        endpoint_index: self.pools.get(key).map_or(0, |p| (0..).find(|i| !p.nodes.values().any(|n| n.endpoint_index == *i)).unwrap_or(0)),
                        start_task: self.pools.get(key).and_then(|p| p.spec.start_task.clone()),
                        application_packages: self.pools.get(key).and_then(|p| p.spec.application_package_references.clone()),
                        start_task_info: None,
                        start_task_run: None,
                        errors: Vec::new(),
                        pending_restart: None,
                        users: Default::default(),
                    };
                    self.push_port_forwards(key, &node);
                    self.node_spans.push(crate::stats::NodeSpan {
                        pool_id: pool_id.clone(),
                        vm_size: self.pools.get(key).map(|p| p.spec.vm_size.clone()).unwrap_or_default(),
                        node_id: node.id.clone(),
                        start: now,
                        end: None,
                    });
                    self.outbox.push(Effect::ProvisionNode {
                        pool_id: pool_id.clone(),
                        node_id: node.id.clone(),
                        containers: containers.clone(),
                        network: routable.then(|| node.ip_address.clone()),
                    });
                    if let Some(p) = self.pools.get_mut(key) {
                        p.nodes.insert(node.id.clone(), node);
                    }
                }
            } else if current > target {
                // Shrink: preempted nodes first, then idle ones, then the ones running the
                // fewest slots.
                let mut candidates: Vec<(bool, u32, String)> = self.pools[key]
                    .nodes
                    .values()
                    .filter(|n| n.is_dedicated == dedicated && n.state != NodeState::LeavingPool && !n.leave_when_done)
                    .map(|n| (n.state != NodeState::Preempted, n.running_slots(), n.id.clone()))
                    .collect();
                candidates.sort();
                let victims: Vec<String> = candidates.into_iter().take((current - target) as usize).map(|(_, _, id)| id).collect();
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
    pub(super) fn settle_allocation(&mut self, key: &IdKey, now: OffsetDateTime) {
        if let Some(pool) = self.pools.get_mut(key) {
            let busy = pool.nodes.values().any(|n| matches!(n.state, NodeState::Creating | NodeState::LeavingPool));
            if !busy && pool.allocation_state != AllocationState::Steady {
                pool.allocation_state = AllocationState::Steady;
                pool.allocation_state_transition_time = now;
            }
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
    pub fn finish_pool_deletion(&mut self, pool_id: &str, now: OffsetDateTime) {
        // A pool of the same id made after a reset is not the one being deleted.
        if self.pools.get(&IdKey::of(pool_id)).is_none_or(|p| p.state != PoolState::Deleting) {
            return;
        }
        if let Some(pool) = self.pools.remove(&IdKey::of(pool_id)) {
            for n in pool.nodes.keys() {
                self.end_node_span(n, now);
            }
        }
    }

    pub(super) fn active_pool_mut(&mut self, id: &str) -> Result<&mut Pool, DomainError> {
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
        crate::app_packages::parse_for_pool(patch.application_package_references.as_deref())?;
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
        // A new start task overwrites the old one; nodes that start, reboot or reimage from now
        // on run it (batch-rest-api.md, Update Pool).
        if let Some(v) = patch.start_task {
            s.start_task = Some(with_start_task_defaults(v))
        }
        if let Some(v) = patch.enable_inter_node_communication {
            s.enable_inter_node_communication = Some(v)
        }
        // Present: replaces the references (empty: removes them all); nodes that start,
        // reboot or reimage from now on install them (REST docs, Update Pool).
        if let Some(v) = patch.application_package_references {
            s.application_package_references = if v.is_empty() { None } else { Some(v) }
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
        // Older api-versions' properties (targetNodeCommunicationMode…) change when supplied.
        s.other.extend(patch.other);
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
        crate::app_packages::parse_for_pool(Some(&apps))?;
        let version = self.version(now);
        let pool = self.pool_mut(id)?;
        pool.spec.start_task = body.start_task.map(with_start_task_defaults);
        pool.spec.application_package_references = if apps.is_empty() { None } else { Some(apps) };
        pool.spec.metadata = if metadata.is_empty() { None } else { Some(metadata) };
        // 2024-02-01: "If omitted, the existing setting is default" (targetNodeCommunicationMode).
        pool.spec.other.remove("targetNodeCommunicationMode");
        pool.spec.other.extend(body.other);
        pool.version = version.clone();
        Ok(version)
    }

    /// Resize Pool.
    pub fn resize_pool(&mut self, id: &str, body: BatchPoolResizeOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let pool = self.active_pool_mut(id)?;
        if pool.spec.enable_auto_scale == Some(true) {
            // "To manually resize an autoscale-enabled pool, first disable automatic scaling."
            return Err(DomainError::new(Code::OperationInvalidForCurrentState).with_message("The pool has autoscale enabled: disable it before resizing."));
        }
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

    pub(super) fn resize_with(&mut self, key: &IdKey, option: DeallocationOption, now: OffsetDateTime) {
        // Shrinking honours the caller's deallocation option; growing needs none.
        let Some(pool) = self.pools.get(key) else {
            return;
        };
        let mut victims = Vec::new();
        for (dedicated, target) in [(true, pool.spec.target_dedicated_nodes.unwrap_or(0)), (false, pool.spec.target_low_priority_nodes.unwrap_or(0))] {
            let mut nodes: Vec<(bool, u32, String)> = pool
                .nodes
                .values()
                .filter(|n| n.is_dedicated == dedicated && n.state != NodeState::LeavingPool && !n.leave_when_done)
                .map(|n| (n.state != NodeState::Preempted, n.running_slots(), n.id.clone()))
                .collect();
            if nodes.len() as i32 > target {
                nodes.sort();
                let excess = nodes.len() - target.max(0) as usize;
                victims.extend(nodes.into_iter().take(excess).map(|(_, _, id)| id));
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
        if let Some(t) = body.resize_timeout {
            if t < BatchDuration::from_secs(300) {
                return Err(DomainError::invalid_property("resizeTimeout", t.to_string(), "The resize timeout must be at least 5 minutes"));
            }
            // UNCONFIRMED: the pool's resizeTimeout is "the timeout for the most recent resize
            // operation"; removing nodes is one.
            pool.spec.resize_timeout = Some(t);
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
                NodeState::Deallocated => c.deallocated += 1,
                NodeState::Preempted => c.preempted += 1,
            }
            c.total += 1;
        }
        out
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
    pub(super) fn parse(v: Option<&str>) -> Result<Self, DomainError> {
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
