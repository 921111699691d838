//! Property test: no sequence of operations and agent reports drives the account into an
//! inconsistent state (slots over-committed, a running task not on its node, a queued task that
//! is not active, counts that do not add up).

use batch_client::models::*;
use batch_model::job::JobState;
use batch_model::node::NodeState;
use batch_model::task::TaskState;
use batch_model::{Account, Command, Effect, TaskOutcome};
use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone)]
enum Op {
    CreatePool {
        pool: u8,
        nodes: u8,
        slots: u8,
        pack: bool,
    },
    DeletePool {
        pool: u8,
    },
    Resize {
        pool: u8,
        nodes: u8,
    },
    CreateJob {
        job: u8,
        pool: u8,
        max_parallel: i8,
    },
    AddTask {
        job: u8,
        task: u8,
        slots: u8,
        retries: i8,
    },
    Exit {
        nth_run: u8,
        code: i32,
    },
    /// The agent reports that the nth run's process started.
    Start {
        nth_run: u8,
    },
    TerminateTask {
        job: u8,
        task: u8,
    },
    DeleteTask {
        job: u8,
        task: u8,
    },
    TerminateJob {
        job: u8,
    },
    DeleteJob {
        job: u8,
    },
    DisableJob {
        job: u8,
        mode: u8,
    },
    EnableJob {
        job: u8,
    },
    /// Reboot (0), reimage (1), disable (2) or enable (3) scheduling of the nth node of a pool,
    /// with option requeue/terminate/taskcompletion; or the control API's faults: preempt (4),
    /// recover (5), make unusable (6).
    OnNode {
        pool: u8,
        nth: u8,
        what: u8,
        option: u8,
    },
    /// Job schedule `s0` (every minute, jobs on pool `pool`): create (0), tick a minute on (1),
    /// disable (2), enable (3), terminate (4), delete (5).
    Schedule {
        pool: u8,
        what: u8,
    },
    /// A second passes and job 2's wall-clock timer fires.
    WallClock,
    /// The control API empties the account.
    Reset,
    Agent,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3u8, 0..4u8, 1..4u8, any::<bool>()).prop_map(|(pool, nodes, slots, pack)| { Op::CreatePool { pool, nodes, slots, pack } }),
        (0..3u8).prop_map(|pool| Op::DeletePool { pool }),
        (0..3u8, 0..5u8).prop_map(|(pool, nodes)| Op::Resize { pool, nodes }),
        (0..3u8, 0..3u8, -1..3i8).prop_map(|(job, pool, max_parallel)| Op::CreateJob { job, pool, max_parallel }),
        (0..3u8, 0..8u8, 1..4u8, -1..3i8).prop_map(|(job, task, slots, retries)| Op::AddTask { job, task, slots, retries }),
        (0..8u8, 0..3i32).prop_map(|(nth_run, code)| Op::Exit { nth_run, code }),
        (0..8u8).prop_map(|nth_run| Op::Start { nth_run }),
        (0..3u8, 0..8u8).prop_map(|(job, task)| Op::TerminateTask { job, task }),
        (0..3u8, 0..8u8).prop_map(|(job, task)| Op::DeleteTask { job, task }),
        (0..3u8).prop_map(|job| Op::TerminateJob { job }),
        (0..3u8).prop_map(|job| Op::DeleteJob { job }),
        (0..3u8, 0..3u8).prop_map(|(job, mode)| Op::DisableJob { job, mode }),
        (0..3u8).prop_map(|job| Op::EnableJob { job }),
        Just(Op::WallClock),
        (0..3u8, 0..6u8).prop_map(|(pool, what)| Op::Schedule { pool, what }),
        (0..3u8, 0..4u8, 0..7u8, 0..3u8).prop_map(|(pool, nth, what, option)| Op::OnNode { pool, nth, what, option }),
        Just(Op::Agent),
        Just(Op::Agent),
        Just(Op::Agent),
        (0..20u8).prop_map(|n| if n == 0 { Op::Reset } else { Op::Agent }),
        Just(Op::Agent),
    ]
}

fn pool(id: &str, nodes: u8, slots: u8, pack: bool) -> BatchPoolCreateOptions {
    // Every other pool has a start task (waiting for success on odd node counts).
    let start_task = slots.is_multiple_of(2).then(|| serde_json::json!({"commandLine": "start", "waitForSuccess": nodes % 2 == 1, "maxTaskRetryCount": 1}));
    serde_json::from_value(serde_json::json!({
        "id": id, "vmSize": "x", "targetDedicatedNodes": nodes, "taskSlotsPerNode": slots, "startTask": start_task,
        // Packed pools have a Spot node too (one the control API can preempt).
        "targetLowPriorityNodes": if pack { 1 } else { 0 },
        "taskSchedulingPolicy": {"nodeFillType": if pack { "pack" } else { "spread" }},
        "virtualMachineConfiguration": {"imageReference": {}, "nodeAgentSKUId": "sku"}
    }))
    .unwrap()
}

/// Plays the node agent: completes every pending effect at once.
fn agent(acct: &mut Account, pending: &mut Vec<Effect>, runs: &mut Vec<u64>, journal: &mut Vec<(Command, OffsetDateTime)>, now: OffsetDateTime) {
    let mut effects: Vec<Effect> = std::mem::take(pending);
    effects.extend(acct.drain_effects());
    let mut apply = |acct: &mut Account, cmd: Command| {
        journal.push((cmd.clone(), now));
        let _ = acct.apply(cmd, now);
    };
    for e in effects {
        match e {
            Effect::ProvisionNode { pool_id, node_id, .. } => {
                apply(acct, Command::NodeProvisioned { pool_id: pool_id.clone(), node_id: node_id.clone() });
                apply(acct, Command::NodeReady { pool_id, node_id });
            }
            Effect::Launch(l) => runs.push(l.run_id),
            Effect::KillTask { run_id } => runs.retain(|r| *r != run_id),
            Effect::RemoveNode { pool_id, node_id } => apply(acct, Command::NodeRemoved { pool_id, node_id }),
            Effect::RestartNode { pool_id, node_id, .. } => {
                apply(acct, Command::NodeRestarted { pool_id: pool_id.clone(), node_id: node_id.clone() });
                apply(acct, Command::NodeReady { pool_id, node_id });
            }
            Effect::DeleteTaskDirectory { .. } | Effect::ForwardPorts { .. } | Effect::ConnectNode { .. } | Effect::At { .. } => {}
            Effect::DeleteJob { job_id, .. } => apply(acct, Command::FinishJobDeletion { job_id }),
            Effect::FinishJobTransition { job_id } => apply(acct, Command::FinishJobTransition { job_id }),
            Effect::DeletePool { pool_id, .. } => apply(acct, Command::FinishPoolDeletion { pool_id }),
        }
    }
}

/// `wall_clock_fired`: when job 2's wall-clock timer last fired.
fn check(acct: &Account, wall_clock_fired: Option<OffsetDateTime>) -> Result<(), TestCaseError> {
    for pool in acct.pools.values() {
        for node in pool.nodes.values() {
            if node.state == NodeState::WaitingForStartTask {
                prop_assert!(node.start_task_run.is_some(), "waiting for a start task that does not run");
            }
            prop_assert!(node.running_slots() <= pool.task_slots_per_node(), "node over-committed");
            if node.state == NodeState::Running {
                prop_assert!(!node.running.is_empty());
            }
            if matches!(node.state, NodeState::Rebooting | NodeState::Reimaging | NodeState::Offline | NodeState::Preempted | NodeState::Unusable) {
                prop_assert!(node.running.is_empty(), "a {} node runs tasks", node.state.as_str());
            }
            prop_assert!(node.state != NodeState::Idle || node.scheduling_enabled, "an idle node with scheduling disabled is not offline");
            for r in &node.running {
                let t = acct.jobs.get(&r.job).and_then(|j| j.tasks.get(&r.task));
                if t.is_some_and(|t| t.job_manager.is_some_and(|m| m.run_exclusive)) {
                    prop_assert_eq!(node.running.len(), 1, "an exclusive job manager task shares its node");
                }
                prop_assert!(
                    t.is_some_and(|t| matches!(t.state, TaskState::Running | TaskState::Launching | TaskState::Preparing)),
                    "a node holds a task that is not on it"
                );
            }
        }
    }
    for (key, schedule) in &acct.schedules {
        let open: Vec<&str> =
            acct.jobs.values().filter(|j| j.schedule.as_ref() == Some(key) && j.state != JobState::Completed).map(|j| j.spec.id.as_str()).collect();
        prop_assert!(open.len() <= 1, "schedule {} has several active jobs: {:?}", schedule.spec.id, open);
        if schedule.state == batch_model::schedule::ScheduleState::Completed {
            prop_assert!(open.is_empty(), "a completed schedule has an active job");
        }
    }
    // The scheduler sees every job with waiting tasks.
    if let Err(e) = acct.check_queued_index() {
        prop_assert!(false, "{}", e);
    }
    for job in acct.jobs.values() {
        if let Some(k) = &job.schedule {
            prop_assert!(acct.schedules.contains_key(k), "job {} outlived its schedule", job.spec.id);
        }
        // The state index and running totals agree with a fresh count of the tasks.
        if let Err(e) = job.tasks.check_index() {
            prop_assert!(false, "job {}: {}", job.spec.id, e);
        }
        let c = Account::task_counts(job).task_counts;
        prop_assert_eq!(c.completed, c.succeeded + c.failed);
        prop_assert_eq!((c.active + c.running + c.completed) as usize, job.tasks.len());
        for key in job.queue.values() {
            prop_assert!(job.tasks.get(key).is_some_and(|t| t.state == TaskState::Active), "queued task not active");
        }
        if let Some(max) = job.spec.max_parallel_tasks.filter(|m| *m > 0) {
            prop_assert!(c.running <= max);
        }
        for t in job.tasks.values() {
            if t.state == TaskState::Preparing {
                let p = t.placement.as_ref().expect("preparing task has a node");
                prop_assert!(job.prep.get(&p.node_id).is_some_and(|np| np.prep_run.is_some()), "a task waits for a preparation that does not run");
            }
            if matches!(t.state, TaskState::Running | TaskState::Launching) {
                let p = t.placement.as_ref().expect("running task has a node");
                let node = acct.pools.values().flat_map(|p| p.nodes.values()).find(|n| n.id == p.node_id);
                prop_assert!(node.is_some_and(|n| n.running.iter().any(|r| r.task == t.key() && r.job == job.key())), "running task missing from its node");
                prop_assert!(t.run_id.is_some());
                // Running means the agent reported the start: startTime is that moment.
                prop_assert!(t.state != TaskState::Running || t.execution_info.start_time.is_some(), "a running task without a startTime");
            } else {
                prop_assert!(t.run_id.is_none(), "only running tasks hold a run");
            }
            if t.state == TaskState::Completed {
                prop_assert!(t.execution_info.result.is_some());
            }
        }
        if let Some(d) = job.spec.constraints.as_ref().and_then(|c| c.max_wall_clock_time).filter(|d| !d.is_unlimited()) {
            // Past its limit (and its timer fired), a job is no longer active.
            let limit = job.creation_time + Duration::milliseconds(d.ticks() / 10_000);
            if job.state == JobState::Active && wall_clock_fired.is_some_and(|t| t >= limit) {
                prop_assert!(false, "job {} active past its maxWallClockTime", job.spec.id);
            }
        }
        if matches!(job.state, JobState::Completed) {
            prop_assert!(job.queue.is_empty());
            prop_assert!(job.prep.values().all(|p| p.release_run.is_none()), "a job completed while a release task runs");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn no_sequence_of_operations_breaks_the_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        let mut acct = Account::new();
        let mut now = datetime!(2026-01-01 00:00 UTC);
        let mut pending = Vec::new();
        let mut runs: Vec<u64> = Vec::new();
        let mut journal: Vec<(Command, OffsetDateTime)> = Vec::new();
        let mut wall_clock_fired = None;
        for op in ops {
            now += Duration::milliseconds(7);
            let cmd = match op {
                Op::CreatePool { pool: p, nodes, slots, pack } => Some(Command::CreatePool { spec: pool(&format!("p{p}"), nodes, slots, pack) }),
                Op::DeletePool { pool: p } => Some(Command::DeletePool { pool_id: format!("p{p}") }),
                Op::Resize { pool: p, nodes } => Some(Command::ResizePool {
                    pool_id: format!("p{p}"),
                    body: BatchPoolResizeOptions { target_dedicated_nodes: Some(i32::from(nodes)), ..Default::default() },
                }),
                Op::CreateJob { job, pool: p, max_parallel } => {
                    let mut spec = serde_json::json!({"id": format!("j{job}"), "poolInfo": {"poolId": format!("p{p}")}, "maxParallelTasks": if max_parallel == 0 { -1 } else { i32::from(max_parallel) }});
                    // Job 1 has preparation and release tasks (waiting on success when the pool id is even).
                    if job == 1 {
                        spec["jobPreparationTask"] = serde_json::json!({"commandLine": "prep", "waitForSuccess": p % 2 == 0, "constraints": {"maxTaskRetryCount": 1}});
                        spec["jobReleaseTask"] = serde_json::json!({"commandLine": "release"});
                    }
                    // Job 0 has the lowest priority and allows preemption: the others may requeue
                    // its running tasks when they find no room.
                    if job == 0 {
                        spec["priority"] = serde_json::json!(-10);
                        spec["allowTaskPreemption"] = serde_json::json!(true);
                    }
                    // Job 2 has a job manager task (exclusive on even pools) and a 3 s limit.
                    if job == 2 {
                        spec["jobManagerTask"] = serde_json::json!({"id": "t0", "commandLine": "manage", "runExclusive": p % 2 == 0, "killJobOnCompletion": max_parallel != 1});
                        spec["constraints"] = serde_json::json!({"maxWallClockTime": "PT3S"});
                    }
                    Some(Command::CreateJob { spec: serde_json::from_value(spec).unwrap() })
                }
                Op::AddTask { job, task, slots, retries } => Some(Command::AddTask {
                    job_id: format!("j{job}"),
                    spec: serde_json::from_value(serde_json::json!({"id": format!("t{task}"), "commandLine": "x", "requiredSlots": slots, "constraints": {"maxTaskRetryCount": retries}})).unwrap(),
                }),
                Op::Exit { nth_run, code } => (!runs.is_empty()).then(|| {
                    let run_id = runs.remove(usize::from(nth_run) % runs.len());
                    Command::TaskExited { run_id, outcome: TaskOutcome::Exited { exit_code: code, start: now, end: now, container_info: None } }
                }),
                Op::Start { nth_run } => (!runs.is_empty()).then(|| Command::TaskStarted { run_id: runs[usize::from(nth_run) % runs.len()], start: now }),
                Op::TerminateTask { job, task } => Some(Command::TerminateTask { job_id: format!("j{job}"), task_id: format!("t{task}") }),
                Op::DeleteTask { job, task } => Some(Command::DeleteTask { job_id: format!("j{job}"), task_id: format!("t{task}") }),
                Op::TerminateJob { job } => Some(Command::TerminateJob { job_id: format!("j{job}"), reason: None }),
                Op::DeleteJob { job } => Some(Command::DeleteJob { job_id: format!("j{job}") }),
                Op::DisableJob { job, mode } => Some(Command::DisableJob {
                    job_id: format!("j{job}"),
                    body: BatchJobDisableOptions { disable_tasks: Some(["requeue", "terminate", "wait"][usize::from(mode)].into()) },
                }),
                Op::EnableJob { job } => Some(Command::EnableJob { job_id: format!("j{job}") }),
                Op::OnNode { pool: p, nth, what, option } => {
                    let pool_id = format!("p{p}");
                    let node = acct.pools.get(&batch_model::IdKey::of(&pool_id)).and_then(|pl| pl.nodes.keys().nth(usize::from(nth)).cloned());
                    node.map(|node_id| {
                        let option = Some(["requeue", "terminate", "taskcompletion"][usize::from(option)].to_string());
                        match what {
                            0 => Command::RebootNode { pool_id, node_id, option },
                            1 => Command::ReimageNode { pool_id, node_id, option },
                            2 => Command::DisableNodeScheduling { pool_id, node_id, option },
                            3 => Command::EnableNodeScheduling { pool_id, node_id },
                            4 => Command::PreemptNode { pool_id, node_id },
                            5 => Command::RecoverNode { pool_id, node_id },
                            _ => Command::MakeNodeUnusable { pool_id, node_id, errors: Vec::new() },
                        }
                    })
                }
                Op::Schedule { pool: p, what } => {
                    let schedule_id = "s0".to_string();
                    Some(match what {
                        0 => Command::CreateJobSchedule {
                            spec: serde_json::from_value(serde_json::json!({
                                "id": "s0", "schedule": {"recurrenceInterval": "PT1M"}, "jobSpecification": {"poolInfo": {"poolId": format!("p{p}")}}
                            }))
                            .unwrap(),
                        },
                        1 => {
                            now += Duration::seconds(61);
                            Command::JobScheduleDue { schedule_id }
                        }
                        2 => Command::DisableJobSchedule { schedule_id },
                        3 => Command::EnableJobSchedule { schedule_id },
                        4 => Command::TerminateJobSchedule { schedule_id },
                        _ => Command::DeleteJobSchedule { schedule_id },
                    })
                }
                Op::WallClock => {
                    now += Duration::seconds(1);
                    wall_clock_fired = Some(now);
                    Some(Command::JobWallClockExpired { job_id: "j2".into() })
                }
                Op::Reset => Some(Command::Reset),
                Op::Agent => {
                    agent(&mut acct, &mut pending, &mut runs, &mut journal, now);
                    None
                }
            };
            if let Some(cmd) = cmd {
                // Journalled whether or not it is accepted, as the emulator does.
                journal.push((cmd.clone(), now));
                let _ = acct.apply(cmd, now);
            }
            pending.extend(acct.drain_effects());
            check(&acct, wall_clock_fired)?;
        }
        // Replaying the journal (through its serialized form) rebuilds the same state.
        let mut replayed = Account::new();
        for (cmd, at) in journal {
            let cmd: Command = serde_json::from_str(&serde_json::to_string(&cmd).unwrap()).unwrap();
            let _ = replayed.apply(cmd, at);
        }
        prop_assert_eq!(format!("{:?}", replayed.pools), format!("{:?}", acct.pools));
        prop_assert_eq!(format!("{:?}", replayed.jobs), format!("{:?}", acct.jobs));
        prop_assert_eq!(format!("{:?}", replayed.schedules), format!("{:?}", acct.schedules));
        // A snapshot restores exactly the same account.
        replayed.drain_effects();
        let restored = Account::from_snapshot(&replayed.snapshot().unwrap()).unwrap();
        prop_assert_eq!(format!("{:?}", restored), format!("{:?}", replayed));
        // Recovery after a restart keeps the invariants, and whatever runs afterwards was
        // launched afresh (nothing that ran before the restart is counted as still running).
        let _ = replayed.apply(Command::Recover, now);
        check(&replayed, None)?;
        let launched = replayed.drain_effects().into_iter().filter(|e| matches!(e, Effect::Launch(_))).count();
        let running = replayed.jobs.values().flat_map(|j| j.tasks.values()).filter(|t| matches!(t.state, TaskState::Running | TaskState::Launching)).count()
            + replayed.pools.values().flat_map(|p| p.nodes.values()).filter(|n| n.start_task_run.is_some()).count()
            + replayed.jobs.values().flat_map(|j| j.prep.values()).map(|p| usize::from(p.prep_run.is_some()) + usize::from(p.release_run.is_some())).sum::<usize>();
        prop_assert_eq!(launched, running);
    }
}

/// Found by the property test: scheduling disabled while the start task runs, then the start task
/// succeeds; the node must come up `offline`, not `idle`.
#[test]
fn a_node_disabled_while_its_start_task_runs_comes_up_offline() {
    let now = datetime!(2026-01-01 00:00 UTC);
    let mut acct = Account::new();
    acct.apply(Command::CreatePool { spec: pool("p", 1, 2, false) }, now).unwrap();
    let mut launches = Vec::new();
    for e in acct.drain_effects() {
        if let Effect::ProvisionNode { pool_id, node_id, .. } = e {
            acct.apply(Command::NodeProvisioned { pool_id: pool_id.clone(), node_id: node_id.clone() }, now).unwrap();
            acct.apply(Command::NodeReady { pool_id, node_id }, now).unwrap();
        }
    }
    for e in acct.drain_effects() {
        if let Effect::Launch(l) = e {
            launches.push(l.run_id);
        }
    }
    let node_id = acct.pools.values().next().unwrap().nodes.keys().next().unwrap().clone();
    assert_eq!(acct.pools.values().next().unwrap().nodes[&node_id].state, NodeState::WaitingForStartTask);
    acct.apply(Command::DisableNodeScheduling { pool_id: "p".into(), node_id: node_id.clone(), option: None }, now).unwrap();
    let outcome = TaskOutcome::Exited { exit_code: 0, start: now, end: now, container_info: None };
    acct.apply(Command::TaskExited { run_id: launches[0], outcome }, now).unwrap();
    let n = &acct.pools.values().next().unwrap().nodes[&node_id];
    assert_eq!((n.state, n.scheduling_enabled), (NodeState::Offline, false));
}
