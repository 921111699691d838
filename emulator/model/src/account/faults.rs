//! The faults the control API injects into the account (commands like any other, so a journal
//! replays them): a Spot/low-priority node preempted and later recovered, a node turned
//! `unusable` with a given error, and the whole account reset to empty.
//!
//! * Preempted: the node's running tasks go back to `active` and rerun when a node is free
//!   ("Tasks which were running on the Compute Node when it was preempted will be rescheduled
//!   when another Compute Node becomes available", `BatchNodeState.preempted`). The task's
//!   `retryCount` and `requeueCount` do not move: the service counts in `requeueCount` only
//!   requeues a user asked for. The node stays in the pool (`currentLowPriorityNodes` counts
//!   preempted nodes) until it is recovered: it then comes up again as a fresh VM (start task,
//!   empty disk). UNCONFIRMED: the service recovers when capacity returns, under the same id.
//! * Unusable: the node's running tasks go back to `active` (UNCONFIRMED: the service's
//!   recovery of tasks on a node that turned unusable), the node keeps its disk, and a reboot
//!   or reimage (or removing it) is the way out, as for a node that could not start.

use super::state::Account;
use crate::effects::Effect;
use crate::error::{BatchErrorCode as Code, DomainError};
use crate::ids::IdKey;
use crate::node::{NodeState, Restart, RunningTask};
use batch_client::models::BatchNodeError;
use time::OffsetDateTime;

impl Account {
    /// Preempts a Spot/low-priority node.
    pub fn preempt_node(&mut self, pool_id: &str, node_id: &str, now: OffsetDateTime) -> Result<(), DomainError> {
        let (key, state, _) = self.node_for_operation(pool_id, node_id)?;
        if self.pools[&key].nodes[node_id].is_dedicated {
            return Err(DomainError::new(Code::OperationNotValidOnNode).with_message("Only a Spot/low-priority node can be preempted."));
        }
        if matches!(state, NodeState::Preempted | NodeState::LeavingPool) {
            return Err(Code::OperationNotValidOnNode.into());
        }
        self.take_node_down(&key, node_id, now);
        // The VM is gone: what jobs prepared there and the node's users go with it.
        self.forget_node_for_jobs(node_id, now);
        if let Some(n) = self.pools.get_mut(&key).and_then(|p| p.nodes.get_mut(node_id)) {
            n.users.clear();
            n.set_state(NodeState::Preempted, now);
        }
        self.schedule(now);
        Ok(())
    }

    /// Brings a preempted node back, as a fresh VM.
    pub fn recover_node(&mut self, pool_id: &str, node_id: &str, now: OffsetDateTime) -> Result<(), DomainError> {
        let (key, state, _) = self.node_for_operation(pool_id, node_id)?;
        if state != NodeState::Preempted {
            return Err(DomainError::new(Code::OperationNotValidOnNode).with_message("Only a preempted node can be recovered."));
        }
        self.begin_restart(&key, node_id, Restart::Reimage, now);
        Ok(())
    }

    /// Turns a node `unusable` with `errors`.
    pub fn make_node_unusable(&mut self, pool_id: &str, node_id: &str, errors: Vec<BatchNodeError>, now: OffsetDateTime) -> Result<(), DomainError> {
        let (key, state, _) = self.node_for_operation(pool_id, node_id)?;
        if matches!(state, NodeState::LeavingPool | NodeState::Preempted | NodeState::Deallocated) {
            return Err(Code::OperationNotValidOnNode.into());
        }
        self.take_node_down(&key, node_id, now);
        if let Some(n) = self.pools.get_mut(&key).and_then(|p| p.nodes.get_mut(node_id)) {
            n.errors = errors;
            n.set_state(NodeState::Unusable, now);
        }
        self.settle_allocation(&key, now);
        self.schedule(now);
        Ok(())
    }

    /// Stops what runs on a node: its start task, and its tasks, which go back to `active`.
    fn take_node_down(&mut self, key: &IdKey, node_id: &str, now: OffsetDateTime) {
        self.stop_start_task(key, node_id);
        let Some(n) = self.pools.get_mut(key).and_then(|p| p.nodes.get_mut(node_id)) else { return };
        n.pending_restart = None;
        let running: Vec<RunningTask> = n.running.clone();
        for r in &running {
            self.requeue_task(&r.job, &r.task, false, now);
        }
    }

    /// Empties the account: every run is stopped and every node removed; pools, jobs, job
    /// schedules and usage records are gone. Counters carry on, so nothing made afterwards
    /// (a node id, an ETag) repeats one from before.
    pub fn reset(&mut self) {
        for run in std::mem::take(&mut self.runs).into_keys() {
            self.outbox.push(Effect::KillTask { run_id: run });
        }
        for pool in std::mem::take(&mut self.pools).into_values() {
            let pool_id = pool.spec.id.clone();
            for node_id in pool.nodes.into_keys() {
                self.outbox.push(Effect::RemoveNode { pool_id: pool_id.clone(), node_id });
            }
        }
        self.jobs.clear();
        self.schedules.clear();
        self.queued.clear();
        self.node_spans.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use time::macros::datetime;

    /// A pool of two Spot nodes, both idle.
    fn spot_pool(acct: &mut Account, now: OffsetDateTime) -> Vec<String> {
        let spec = serde_json::from_value(serde_json::json!({
            "id": "p", "vmSize": "x", "targetLowPriorityNodes": 2,
            "virtualMachineConfiguration": {"imageReference": {}, "nodeAgentSKUId": "sku"}
        }))
        .unwrap();
        acct.apply(Command::CreatePool { spec }, now).unwrap();
        let mut ids = Vec::new();
        for e in acct.drain_effects() {
            if let Effect::ProvisionNode { pool_id, node_id, .. } = e {
                acct.node_provisioned(&pool_id, &node_id, now);
                acct.node_ready(&pool_id, &node_id, now);
                ids.push(node_id);
            }
        }
        ids
    }

    #[test]
    fn a_preempted_node_counts_in_the_pool_and_in_preempted_node_count_until_recovered() {
        let now = datetime!(2026-01-01 00:00 UTC);
        let mut acct = Account::new();
        let ids = spot_pool(&mut acct, now);
        acct.apply(Command::PreemptNode { pool_id: "p".into(), node_id: ids[0].clone() }, now).unwrap();
        let again = acct.apply(Command::PreemptNode { pool_id: "p".into(), node_id: ids[0].clone() }, now);
        assert_eq!(again.unwrap_err().code, Code::OperationNotValidOnNode);
        let pool = acct.pool("p").unwrap();
        assert_eq!(pool.nodes[&ids[0]].state, NodeState::Preempted);
        assert_eq!(pool.current_nodes(false), 2, "currentLowPriorityNodes counts preempted nodes");
        // (Sampled as an autoscale pool is.)
        acct.pools.get_mut(&IdKey::of("p")).unwrap().spec.enable_auto_scale = Some(true);
        acct.sample_pool("p", &[], now);
        assert_eq!(acct.pool("p").unwrap().samples.back().and_then(|s| s.value("$PreemptedNodeCount")), Some(1.0));
        acct.apply(Command::RecoverNode { pool_id: "p".into(), node_id: ids[0].clone() }, now).unwrap();
        assert_eq!(acct.pool("p").unwrap().nodes[&ids[0]].state, NodeState::Reimaging);
        assert!(acct.drain_effects().iter().any(|e| matches!(e, Effect::RestartNode { reimage: true, .. })));
        // Only a Spot node is preempted; a reset empties the account.
        let unknown = acct.apply(Command::PreemptNode { pool_id: "p".into(), node_id: "nope".into() }, now);
        assert_eq!(unknown.unwrap_err().code, Code::NodeNotFound);
        acct.apply(Command::Reset, now).unwrap();
        assert!(acct.pools.is_empty());
        assert_eq!(acct.drain_effects().iter().filter(|e| matches!(e, Effect::RemoveNode { .. })).count(), 2);
    }
}
