//! Multi-instance tasks on the account ([`crate::multi_instance`]): placing all instances at
//! once, launching their coordination command lines, and the primary's application command
//! once every instance has coordinated.

use super::state::{Account, RunTarget};
use crate::effects::{Effect, TaskOutcome};
use crate::ids::IdKey;
use crate::multi_instance::{InstanceLaunch, Subtask, SubtaskState};
use crate::node::{Node, RecentTask, RunningTask};
use crate::pool::Pool;
use crate::task::{Placement, Task, TaskState};
use time::OffsetDateTime;

impl Account {
    /// `count` free nodes for the instances of `task`, the one its `affinityInfo` names first
    /// (it becomes the master), or `None` while there are not that many. A node is free when
    /// it accepts tasks and runs nothing; the pool must have one slot per node
    /// (Learn: with more, a multi-instance task stays `active`).
    pub(super) fn instance_nodes(pool: &Pool, task: &Task, count: u32, slots_per_node: u32, blocked: &[String]) -> Option<Vec<String>> {
        if slots_per_node != 1 {
            return None;
        }
        let mut free: Vec<&Node> =
            pool.nodes.values().filter(|n| n.accepts_tasks() && n.running.is_empty() && !blocked.contains(&n.id) && task.may_run_on(n.is_dedicated)).collect();
        if free.len() < count as usize {
            return None;
        }
        let affinity = task.spec.affinity_info.as_ref().and_then(|a| a.get("affinityId")).and_then(|v| v.as_str());
        if let Some(i) = affinity.and_then(|a| free.iter().position(|n| n.affinity_id() == a)) {
            let preferred = free.remove(i);
            free.insert(0, preferred);
        }
        Some(free.into_iter().take(count as usize).map(|n| n.id.clone()).collect())
    }

    /// Places every instance (the primary on `nodes[0]`, the master) and launches their
    /// coordination command lines.
    pub(super) fn start_multi_instance(&mut self, jk: &IdKey, tk: &IdKey, seq: u64, pool_key: &IdKey, nodes: Vec<String>, now: OffsetDateTime) {
        let version = self.version(now);
        let Some(pool) = self.pools.get_mut(pool_key) else { return };
        let pool_id = pool.spec.id.clone();
        let Some(job) = self.jobs.get_mut(jk) else { return };
        job.queue.remove(&seq);
        let job_id = job.spec.id.clone();
        let Some(mut task) = job.tasks.get_mut(tk) else { return };
        let task_id = task.spec.id.clone();
        let mut subtasks = Vec::new();
        for (i, node_id) in nodes.iter().enumerate() {
            let Some(node) = pool.nodes.get_mut(node_id) else { continue };
            node.running.push(RunningTask { job: jk.clone(), task: tk.clone(), slots: 1 });
            node.total_tasks_run += 1;
            node.recent_tasks.push(RecentTask { job_id: job_id.clone(), task_id: task_id.clone() });
            if node.recent_tasks.len() > 10 {
                node.recent_tasks.remove(0);
            }
            node.settle(now);
            subtasks.push(Subtask {
                id: i as u32,
                pool_id: pool_id.clone(),
                node_id: node_id.clone(),
                node_ip: node.ip_address.clone(),
                state: SubtaskState::Running,
                state_transition_time: now,
                previous_state: None,
                run_id: None,
                start_time: None,
                end_time: None,
                exit_code: None,
                failure_info: None,
                coordinated: false,
            });
        }
        // A retry on the same master may find the previous attempt's files.
        let is_retry = task.execution_info.retry_count > 0 && task.placement.as_ref().is_some_and(|p| p.node_id == nodes[0]);
        task.placement = Some(Placement { pool_id, node_id: nodes[0].clone() });
        task.execution_info.end_time = None;
        task.execution_info.exit_code = None;
        task.version = version;
        task.subtasks = subtasks;
        task.set_state(TaskState::Launching, now);
        drop(task);
        let hosts: Vec<String> = self.jobs[jk].tasks.get(tk).map(|t| t.subtasks.iter().map(|s| s.node_ip.clone()).collect()).unwrap_or_default();
        let settings = self.jobs[jk].tasks.get(tk).and_then(|t| crate::multi_instance::of(t.spec.multi_instance_settings.as_deref()));
        let Some(settings) = settings else { return };
        for (i, node_id) in nodes.iter().enumerate() {
            self.run_seq += 1;
            let run_id = self.run_seq;
            let Some(mut launch) = self.task_launch(jk, tk, node_id, run_id, is_retry && i == 0) else { continue };
            launch.command_line = settings.coordination_command_line.clone();
            launch.resource_files = settings.common_resource_files.clone();
            launch.output_files = Vec::new();
            launch.multi_instance = Some(InstanceLaunch { subtask_id: i as u32, hosts: hosts.clone(), coordination: true });
            if let Some(mut t) = self.jobs.get_mut(jk).and_then(|j| j.tasks.get_mut(tk)) {
                if let Some(s) = t.subtasks.get_mut(i) {
                    s.run_id = Some(run_id);
                }
            }
            self.runs.insert(run_id, RunTarget::Subtask(jk.clone(), tk.clone(), i as u32));
            self.outbox.push(Effect::Launch(Box::new(launch)));
        }
    }

    /// An instance's coordination command line started: the primary's start is the task's.
    pub(super) fn subtask_started(&mut self, jk: &IdKey, tk: &IdKey, id: u32, run_id: u64, start: OffsetDateTime, now: OffsetDateTime) {
        let version = self.version(now);
        let Some(mut t) = self.jobs.get_mut(jk).and_then(|j| j.tasks.get_mut(tk)) else { return };
        let Some(s) = t.subtasks.get_mut(id as usize).filter(|s| s.run_id == Some(run_id)) else { return };
        s.start_time = Some(start);
        if id == 0 && t.state == TaskState::Launching {
            t.execution_info.start_time = Some(start);
            t.version = version;
            t.set_state(TaskState::Running, now);
        }
    }

    /// An instance's coordination command line ended. Success: once every instance has
    /// coordinated, the primary runs the task's command line. Anything else fails the attempt
    /// as that outcome (retried as a whole, as the task's own exit would be).
    pub(super) fn subtask_exited(&mut self, jk: &IdKey, tk: &IdKey, id: u32, run_id: u64, outcome: TaskOutcome, now: OffsetDateTime) {
        let Some(mut t) = self.jobs.get_mut(jk).and_then(|j| j.tasks.get_mut(tk)) else { return };
        let Some(s) = t.subtasks.get_mut(id as usize).filter(|s| s.run_id == Some(run_id)) else { return };
        s.run_id = None;
        let (start, exit_code, failure) = match &outcome {
            TaskOutcome::Exited { exit_code, start, .. } => (*start, Some(*exit_code), None),
            TaskOutcome::UploadFailed { exit_code, start, failure, .. } => (*start, Some(*exit_code), Some(failure.clone())),
            TaskOutcome::FailedToStart { failure, start, .. } => (*start, None, Some(failure.clone())),
            TaskOutcome::TimedOut { exit_code, start, .. } => (*start, *exit_code, Some(crate::effects::failure_max_wall_clock())),
        };
        s.start_time.get_or_insert(start);
        s.exit_code = exit_code;
        s.failure_info = failure.clone();
        let ok = exit_code == Some(0) && failure.is_none();
        s.coordinated = ok;
        if !ok {
            // The attempt ends now, as if the primary had ended this way.
            s.end_time = Some(now);
            s.set_state(SubtaskState::Completed, now);
            let attempt = t.run_id.unwrap_or_else(|| {
                self.run_seq += 1;
                self.run_seq
            });
            t.run_id = Some(attempt);
            drop(t);
            self.runs.insert(attempt, RunTarget::Task(jk.clone(), tk.clone()));
            return self.task_exited(attempt, outcome, now);
        }
        if !t.subtasks.iter().all(|s| s.coordinated) || t.run_id.is_some() {
            return;
        }
        drop(t);
        self.launch_application(jk, tk);
    }

    /// The primary runs the task's command line (its resource and output files, on the master).
    fn launch_application(&mut self, jk: &IdKey, tk: &IdKey) {
        self.run_seq += 1;
        let run_id = self.run_seq;
        let Some(t) = self.jobs.get(jk).and_then(|j| j.tasks.get(tk)) else { return };
        let hosts: Vec<String> = t.subtasks.iter().map(|s| s.node_ip.clone()).collect();
        let Some(master) = t.subtasks.first().map(|s| s.node_id.clone()) else { return };
        let Some(mut launch) = self.task_launch(jk, tk, &master, run_id, false) else { return };
        launch.multi_instance = Some(InstanceLaunch { subtask_id: 0, hosts, coordination: false });
        if let Some(mut t) = self.jobs.get_mut(jk).and_then(|j| j.tasks.get_mut(tk)) {
            t.run_id = Some(run_id);
        }
        self.runs.insert(run_id, RunTarget::Task(jk.clone(), tk.clone()));
        self.outbox.push(Effect::Launch(Box::new(launch)));
    }

    /// When a multi-instance attempt ends (however it ends): each instance's node slot is
    /// freed, coordination commands still running are stopped, and every instance is
    /// `completed`. Returns the instances' nodes other than the master's.
    /// UNCONFIRMED: a subtask's `exitCode` is its coordination command line's; background
    /// processes a coordination command left are not stopped.
    pub(super) fn end_instances(&mut self, job: &IdKey, task: &IdKey, now: OffsetDateTime) -> Vec<(String, String)> {
        let Some(mut t) = self.jobs.get_mut(job).and_then(|j| j.tasks.get_mut(task)) else { return Vec::new() };
        if t.subtasks.is_empty() {
            return Vec::new();
        }
        let mut kills = Vec::new();
        let mut nodes = Vec::new();
        for s in t.subtasks.iter_mut() {
            if let Some(run) = s.run_id.take() {
                kills.push(run);
            }
            if s.state != SubtaskState::Completed {
                s.end_time = Some(now);
                s.set_state(SubtaskState::Completed, now);
            }
            if s.id != 0 {
                nodes.push((s.pool_id.clone(), s.node_id.clone()));
            }
        }
        drop(t);
        for run in kills {
            self.runs.remove(&run);
            self.outbox.push(Effect::KillTask { run_id: run });
        }
        nodes
    }
}
