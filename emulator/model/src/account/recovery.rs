//! Recovery after an emulator restart: nothing runs any more, and every transition that waited
//! for the node agent is asked for again.

use super::state::Account;
use crate::effects::Effect;
use crate::ids::IdKey;
use crate::job::JobState;
use crate::node::NodeState;
use crate::pool::PoolState;
use crate::task::TaskState;
use std::ops::Bound;
use time::OffsetDateTime;

impl Account {
    /// After a restart nothing runs any more: running tasks go back to `active` (an internal
    /// requeue that counts against nothing, as when a node recovers), and every transition that
    /// waited for the agent is asked for again.
    pub fn recover(&mut self, now: OffsetDateTime) {
        self.runs.clear();
        let mut restart_start_tasks: Vec<(IdKey, String)> = Vec::new();
        let job_keys: Vec<IdKey> = self.jobs.keys().cloned().collect();
        for jk in &job_keys {
            let running: Vec<IdKey> = self.jobs[jk].tasks.in_states(&crate::task_table::ON_A_NODE, Bound::Unbounded).map(|(k, _)| k.clone()).collect();
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
                        self.queued.insert(jk.clone());
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
                if crate::node::is_network_address(&n.ip_address) && !matches!(n.state, NodeState::Creating | NodeState::Starting | NodeState::LeavingPool) {
                    self.outbox.push(Effect::ConnectNode { pool_id: pool_id.clone(), node_id: n.id.clone(), address: n.ip_address.clone() });
                }
                if n.start_task_info.as_ref().is_some_and(|i| i.state == "running") {
                    restart_start_tasks.push((pool.key(), n.id.clone()));
                }
                match n.state {
                    NodeState::Creating | NodeState::Starting => self.outbox.push(Effect::ProvisionNode {
                        pool_id: pool_id.clone(),
                        node_id: n.id.clone(),
                        containers: containers.clone(),
                        network: crate::node::is_network_address(&n.ip_address).then(|| n.ip_address.clone()),
                    }),
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
        // Autoscale pools evaluate and sample again (an evaluation that fell due while the
        // emulator was down runs at once).
        let autoscale: Vec<(IdKey, OffsetDateTime)> = self
            .pools
            .values()
            .filter(|p| p.state == PoolState::Active && p.spec.enable_auto_scale == Some(true))
            .map(|p| {
                let interval = p.spec.auto_scale_evaluation_interval.unwrap_or(super::autoscale::DEFAULT_INTERVAL).to_std();
                (p.key(), p.auto_scale_run.as_ref().map_or(now, |r| (r.timestamp + interval).max(now)))
            })
            .collect();
        for (key, due) in autoscale {
            self.arm_auto_scale(&key, due, now);
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
}
