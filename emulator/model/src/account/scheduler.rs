//! Placement: active tasks go to nodes with free slots (job priority, then age; spread or
//! pack; requiredSlots; job preparation first), and each placed task is launched.

use super::state::{Account, RunTarget};
use crate::effects::{Effect, Launch, LaunchKind};
use crate::ids::IdKey;
use crate::job::JobState;
use crate::node::{RecentTask, RunningTask};
use crate::pool::{NodeFillType, PoolState};
use crate::task::{Placement, TaskState};
use std::ops::Bound;
use time::OffsetDateTime;

impl Account {
    /// Places active tasks on nodes with free slots and emits a [`Launch`] for each.
    /// Jobs go by priority (then age), tasks by the order they were added.
    pub fn schedule(&mut self, now: OffsetDateTime) {
        let jobs_ref = &self.jobs;
        self.queued.retain(|k| jobs_ref.get(k).is_some_and(|j| !j.queue.is_empty()));
        let mut jobs: Vec<(i32, u64, IdKey)> =
            self.queued.iter().filter_map(|k| self.jobs.get(k)).filter(|j| j.state == JobState::Active).map(|j| (-j.priority(), j.seq, j.key())).collect();
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
            let priority = job.priority();
            // Looked at only when a task finds no room (it reads every job).
            let mut may_preempt: Option<bool> = None;
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
                if !free_anywhere && !*may_preempt.get_or_insert_with(|| self.has_preemptible_tasks(&pool_key, priority)) {
                    break;
                }
                let Some(job) = self.jobs.get(&jk) else { continue };
                let Some(task) = job.tasks.get(&tk) else { continue };
                if task.spec.depends_on.is_some() && !Self::dependencies_satisfied(job, task) {
                    continue;
                }
                if let Some(settings) = crate::multi_instance::of(task.spec.multi_instance_settings.as_deref()) {
                    // One instance per free node, all at once, on pools with inter-node
                    // communication and one slot per node; elsewhere it stays active.
                    let inter_node = pool.spec.enable_inter_node_communication == Some(true);
                    let Some(nodes) = inter_node.then(|| Self::instance_nodes(pool, task, settings.number_of_instances, slots_per_node, &blocked)).flatten()
                    else {
                        continue;
                    };
                    self.start_multi_instance(&jk, &tk, seq, &pool_key, nodes, now);
                    running += 1;
                    continue;
                }
                let need = task.node_slots(slots_per_node);
                // requiredSlots > taskSlotsPerNode is not validated: the task stays active
                // (node-and-container-semantics.md §5.8).
                let candidates = pool
                    .nodes
                    .values()
                    .filter(|n| n.accepts_tasks() && n.running_slots() + need <= slots_per_node && !blocked.contains(&n.id) && task.may_run_on(n.is_dedicated));
                // affinityInfo is a hint: its node when that node can take the task, else as usual.
                let affinity = task.spec.affinity_info.as_ref().and_then(|a| a.get("affinityId")).and_then(|v| v.as_str());
                let candidates: Vec<&crate::node::Node> = candidates.collect();
                let preferred = affinity.and_then(|a| candidates.iter().copied().find(|n| n.affinity_id() == a));
                let chosen = preferred.or_else(|| match fill {
                    NodeFillType::Spread => candidates.iter().copied().min_by_key(|n| n.running_slots()),
                    NodeFillType::Pack => candidates.iter().copied().max_by_key(|n| n.running_slots()),
                });
                let node_id = match chosen {
                    Some(node) => node.id.clone(),
                    None if *may_preempt.get_or_insert_with(|| self.has_preemptible_tasks(&pool_key, priority)) => {
                        let fits = (task.may_run_on(true), task.may_run_on(false));
                        match self.preempt_for(&pool_key, priority, need, fits, &blocked, now) {
                            Some(node_id) => node_id,
                            None => continue,
                        }
                    }
                    None => continue,
                };
                self.start_task_on(&jk, &tk, seq, &pool_key, &node_id, now);
                running += 1;
            }
        }
    }

    /// Checks that every job with waiting tasks is among those the scheduler reads (for tests).
    pub fn check_queued_index(&self) -> Result<(), String> {
        match self.jobs.values().find(|j| !j.queue.is_empty() && !self.queued.contains(&j.key())) {
            Some(j) => Err(format!("job {} has queued tasks the scheduler would not see", j.spec.id)),
            None => Ok(()),
        }
    }

    /// Whether a job of `priority` on this pool could preempt anything: some job of lower
    /// priority with `allowTaskPreemption` runs tasks there. Cheap (jobs, not tasks).
    fn has_preemptible_tasks(&self, pool_key: &IdKey, priority: i32) -> bool {
        self.jobs
            .values()
            .any(|j| j.spec.allow_task_preemption == Some(true) && j.priority() < priority && j.tasks.running() > 0 && j.pool_key().as_ref() == Some(pool_key))
    }

    /// Makes room for a task needing `need` slots by requeueing running tasks of lower-priority
    /// jobs that allow preemption (REST docs, `allowTaskPreemption`: "other high priority jobs
    /// ... will be able requeue tasks from this job"), on the node where that takes the fewest
    /// slots, lowest priority first. `fits` says whether the task may run on dedicated and on
    /// spot nodes. Returns the node, now with room.
    /// UNCONFIRMED: which tasks and which node the service picks; a preempted task counts as
    /// requeued.
    fn preempt_for(&mut self, pool_key: &IdKey, priority: i32, need: u32, fits: (bool, bool), blocked: &[String], now: OffsetDateTime) -> Option<String> {
        let pool = self.pools.get(pool_key)?;
        let slots_per_node = pool.task_slots_per_node();
        // (slots preempted, node, the (job, task) pairs to requeue)
        type Plan = (u32, String, Vec<(IdKey, IdKey)>);
        let mut best: Option<Plan> = None;
        for n in pool.nodes.values() {
            if !n.accepts_tasks() || blocked.contains(&n.id) || !(if n.is_dedicated { fits.0 } else { fits.1 }) {
                continue;
            }
            let mut victims: Vec<(i32, &RunningTask)> = n
                .running
                .iter()
                .filter_map(|r| {
                    let j = self.jobs.get(&r.job)?;
                    (j.spec.allow_task_preemption == Some(true) && j.priority() < priority).then(|| (j.priority(), r))
                })
                .collect();
            victims.sort_by_key(|(p, _)| *p);
            let (mut free, mut cost, mut chosen) = (slots_per_node.saturating_sub(n.running_slots()), 0, Vec::new());
            for (_, r) in victims {
                if free >= need {
                    break;
                }
                free += r.slots;
                cost += r.slots;
                chosen.push((r.job.clone(), r.task.clone()));
            }
            if free >= need && !chosen.is_empty() && best.as_ref().is_none_or(|b| cost < b.0) {
                best = Some((cost, n.id.clone(), chosen));
            }
        }
        let (_, node_id, victims) = best?;
        for (job, task) in victims {
            self.requeue_task(&job, &task, true, now);
        }
        let node = self.pools.get(pool_key)?.nodes.get(&node_id)?;
        (node.accepts_tasks() && node.running_slots() + need <= slots_per_node).then_some(node_id)
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
        if self.prep_gate(jk, pool_key, node_id, now) == super::job_prep::PrepGate::Wait {
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
        let Some(node_id) = self.jobs.get(jk).and_then(|j| j.tasks.get(tk)).and_then(|t| t.placement.as_ref()).map(|p| p.node_id.clone()) else { return };
        let Some(launch) = self.task_launch(jk, tk, &node_id, run_id, is_retry) else { return };
        if let Some(mut t) = self.jobs.get_mut(jk).and_then(|j| j.tasks.get_mut(tk)) {
            t.run_id = Some(run_id);
            t.set_state(TaskState::Launching, now);
        }
        self.runs.insert(run_id, RunTarget::Task(jk.clone(), tk.clone()));
        self.outbox.push(Effect::Launch(Box::new(launch)));
    }

    /// The launch of a task's command line on a node of its pool (the caller adjusts it for an
    /// instance of a multi-instance task).
    pub(crate) fn task_launch(&self, jk: &IdKey, tk: &IdKey, node_id: &str, run_id: u64, is_retry: bool) -> Option<Launch> {
        let job = self.jobs.get(jk)?;
        let task = job.tasks.get(tk)?;
        let p = task.placement.as_ref()?;
        let pool = self.pools.get(&IdKey::of(&p.pool_id))?;
        let node = pool.nodes.get(node_id)?;
        let environment = job.environment_with(task.spec.environment_settings.as_ref());
        Some(Launch {
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
            resource_files: crate::resource_files::of(task.spec.resource_files.as_ref()),
            output_files: crate::output_files::of(task.spec.output_files.as_ref()),
            application_packages: crate::app_packages::of(node.application_packages.as_ref())
                .into_iter()
                .chain(crate::app_packages::of(task.spec.application_package_references.as_ref()))
                .collect(),
            user: crate::users::resolve(task.spec.user_identity.as_ref(), pool.user_accounts()),
            token_job: task
                .spec
                .authentication_token_settings
                .as_ref()
                .and_then(|s| s.get("access"))
                .and_then(|a| a.as_array())
                .is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case("job"))))
                .then(|| job.spec.id.clone()),
            pool_containers: pool.spec.virtual_machine_configuration.as_ref().and_then(|v| v.container_configuration.clone()),
            max_wall_clock_time: task.spec.constraints.as_ref().and_then(|c| c.max_wall_clock_time).filter(|d| !d.is_unlimited()),
            is_retry,
            job_prep_id: job.spec.job_preparation_task.as_ref().and_then(|p| p.id.clone()),
            multi_instance: None,
        })
    }
}
