//! Job manager tasks and job `maxWallClockTime`, through the REST API. Time is a manual clock
//! the tests move forward: nothing here sleeps for a limit to pass.

mod common;

use batch_emulator::clock::ManualClock;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use time::OffsetDateTime;

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(OffsetDateTime::now_utc().replace_nanosecond(0).expect("whole second")))
}

async fn create_job(emu: &TestEmulator, body: Value) {
    emu.client.send_json(Method::POST, "/jobs", &body).await.expect("create job");
}

async fn job(emu: &TestEmulator, id: &str) -> Value {
    emu.client.get_json(&format!("/jobs/{id}"), &[]).await.unwrap()
}

async fn job_state_becomes(emu: &TestEmulator, id: &str, state: &str) -> Value {
    for _ in 0..4000 {
        let j = job(emu, id).await;
        if j["state"] == state {
            return j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("job {id} never became {state}: {}", job(emu, id).await);
}

async fn task(emu: &TestEmulator, job: &str, id: &str) -> Value {
    emu.client.get_json(&format!("/jobs/{job}/tasks/{id}"), &[]).await.unwrap()
}

#[tokio::test]
async fn a_job_past_its_max_wall_clock_time_is_terminated_with_max_wall_clock_time_expiry() {
    let clock = manual_clock();
    let emu = emulator_with_clock(Runner::Fake, clock.clone()).await;
    emu.pool("p", 1, 1, "spread").await;
    create_job(&emu, json!({"id": "j", "poolInfo": {"poolId": "p"}, "constraints": {"maxWallClockTime": "PT1H"}})).await;
    emu.task("j", "long", "hang").await;
    emu.task("j", "queued", "exit 0").await;
    eventually("the first task runs", || emu.state().read(|a| a.job("j").map(|j| j.tasks.running()).unwrap_or(0)) == 1).await;
    let echoed = job(&emu, "j").await;
    assert_eq!(echoed["constraints"]["maxWallClockTime"], "PT1H");

    // The deadline is creation + 1 h; just before it nothing happens.
    let created = batch_client::timefmt::parse_body(echoed["creationTime"].as_str().unwrap()).unwrap();
    // (The timer reaches the timer service through the node agent, asynchronously.)
    eventually("the job's timer is armed", || emu.state().timers().next() == Some(created + time::Duration::hours(1))).await;
    clock.advance(time::Duration::minutes(59));
    assert_eq!(job(&emu, "j").await["state"], "active");

    clock.advance(time::Duration::minutes(1));
    let j = job_state_becomes(&emu, "j", "completed").await;
    assert_eq!(j["executionInfo"]["terminateReason"], "MaxWallClockTimeExpiry");
    let long = task(&emu, "j", "long").await;
    assert_eq!(long["state"], "completed");
    assert_eq!(long["executionInfo"]["failureInfo"]["code"], "TaskEnded");
    // UNCONFIRMED (as for Terminate Job): a task that never started stays active.
    assert_eq!(task(&emu, "j", "queued").await["state"], "active");
}

#[tokio::test]
async fn changing_a_jobs_max_wall_clock_time_moves_its_deadline() {
    let clock = manual_clock();
    let emu = emulator_with_clock(Runner::Fake, clock.clone()).await;
    emu.pool("p", 1, 1, "spread").await;
    create_job(&emu, json!({"id": "j", "poolInfo": {"poolId": "p"}, "constraints": {"maxWallClockTime": "PT1H"}})).await;
    clock.advance(time::Duration::minutes(30));
    emu.client.send_json(Method::PATCH, "/jobs/j", &json!({"constraints": {"maxWallClockTime": "PT2H"}})).await.unwrap();
    emu.idle().await;
    assert_eq!(emu.state().timers().len(), 2);
    clock.advance(time::Duration::minutes(31));
    // The old deadline passed; its timer fired and found the job within its new limit.
    eventually("the first timer fired", || emu.state().timers().len() == 1).await;
    assert_eq!(job(&emu, "j").await["state"], "active");
    clock.advance(time::Duration::minutes(60));
    let j = job_state_becomes(&emu, "j", "completed").await;
    assert_eq!(j["executionInfo"]["terminateReason"], "MaxWallClockTimeExpiry");

    // A job without a limit arms no timer at all.
    eventually("the second timer fired", || emu.state().timers().is_empty()).await;
    create_job(&emu, json!({"id": "free", "poolInfo": {"poolId": "p"}})).await;
    emu.idle().await;
    assert!(emu.state().timers().is_empty());
}

#[tokio::test]
async fn a_job_manager_task_starts_with_the_job_and_its_completion_terminates_the_job() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 2, "spread").await;
    create_job(&emu, json!({"id": "j", "poolInfo": {"poolId": "p"}, "jobManagerTask": {"id": "manager", "commandLine": "exit 3"}})).await;
    let m = emu.completed("j", "manager").await;
    let info = m.execution_info.unwrap();
    assert_eq!((info.exit_code, info.result.as_deref()), (Some(3), Some("failure")));
    // killJobOnCompletion defaults to true: whatever the manager's result, the job ends.
    let j = job_state_becomes(&emu, "j", "completed").await;
    assert_eq!(j["executionInfo"]["terminateReason"], "JMComplete");
    // The service's defaults are echoed.
    let jm = &j["jobManagerTask"];
    assert_eq!((jm["killJobOnCompletion"].clone(), jm["runExclusive"].clone(), jm["allowLowPriorityNode"].clone()), (json!(true), json!(true), json!(true)));
    assert_eq!(jm["requiredSlots"], 1);
    assert_eq!(jm["constraints"]["maxTaskRetryCount"], 0);
    // It is one of the job's tasks, counted like any other.
    let counts: Value = emu.client.get_json("/jobs/j/taskcounts", &[]).await.unwrap();
    assert_eq!(counts["taskCounts"], json!({"active": 0, "running": 0, "completed": 1, "succeeded": 0, "failed": 1}));
    // Its id is taken.
    assert_batch_error(emu.client.create_task("j", &task_spec("manager", "exit 0")).await, 409, "JobCompleted");
}

#[tokio::test]
async fn an_exclusive_job_manager_has_its_node_to_itself_and_a_shared_one_does_not() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 2, "spread").await;
    create_job(&emu, json!({"id": "excl", "poolInfo": {"poolId": "p"}, "jobManagerTask": {"id": "m", "commandLine": "hang", "killJobOnCompletion": false}}))
        .await;
    eventually("the manager runs", || emu.state().read(|a| a.job("excl").map(|j| j.tasks.running()).unwrap_or(0)) == 1).await;
    // Scheduling happens as the task is added: had a slot been free, it would be running now.
    emu.task("excl", "worker", "exit 0").await;
    assert_eq!(task(&emu, "excl", "worker").await["state"], "active", "a task ran beside an exclusive job manager");
    let node = &emu.client.list_nodes("p").await.unwrap()[0];
    assert_eq!(node.running_task_slots_count, Some(2));
    // Once the manager ends (and, without killJobOnCompletion, the job goes on) the worker runs.
    emu.client.send_raw(Method::POST, "/jobs/excl/tasks/m/terminate", &[], &[], None).await.unwrap();
    emu.completed("excl", "worker").await;
    assert_eq!(job(&emu, "excl").await["state"], "active");

    create_job(&emu, json!({"id": "shared", "poolInfo": {"poolId": "p"}, "jobManagerTask": {"id": "m", "commandLine": "hang", "runExclusive": false}})).await;
    eventually("the manager runs", || emu.state().read(|a| a.job("shared").map(|j| j.tasks.running()).unwrap_or(0)) == 1).await;
    emu.task("shared", "worker", "exit 0").await;
    emu.completed("shared", "worker").await;
    // The manager still runs; ending it ends the job (killJobOnCompletion defaults to true).
    emu.client.send_raw(Method::POST, "/jobs/shared/tasks/m/terminate", &[], &[], None).await.unwrap();
    let j = job_state_becomes(&emu, "shared", "completed").await;
    assert_eq!(j["executionInfo"]["terminateReason"], "JMComplete");
}

#[tokio::test]
async fn a_job_manager_that_may_not_use_spot_nodes_waits_for_a_dedicated_one() {
    let emu = emulator(Runner::Fake).await;
    let mut spec = pool_spec("spot", 0, 1, "spread");
    spec.target_low_priority_nodes = Some(1);
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
    create_job(&emu, json!({"id": "j", "poolInfo": {"poolId": "spot"}, "jobManagerTask": {"id": "m", "commandLine": "exit 0", "allowLowPriorityNode": false}}))
        .await;
    emu.idle().await;
    assert_eq!(task(&emu, "j", "m").await["state"], "active");
    emu.client.send_json(Method::POST, "/pools/spot/resize", &json!({"targetDedicatedNodes": 1, "targetLowPriorityNodes": 1})).await.unwrap();
    let m = emu.completed("j", "m").await;
    let node = m.node_info.unwrap().node_id.unwrap();
    let nodes = emu.client.list_nodes("spot").await.unwrap();
    assert_eq!(nodes.iter().find(|n| n.id == node).and_then(|n| n.is_dedicated), Some(true));
}

#[tokio::test]
async fn a_bad_job_manager_task_refuses_the_whole_job() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    let r = emu.client.send_json(Method::POST, "/jobs", &json!({"id": "j", "poolInfo": {"poolId": "p"}, "jobManagerTask": {"id": "m"}})).await;
    let e = assert_batch_error(r, 400, "MissingRequiredProperty");
    assert!(format!("{e:?}").contains("commandLine"), "{e:?}");
    let r = emu
        .client
        .send_json(Method::POST, "/jobs", &json!({"id": "j", "poolInfo": {"poolId": "p"}, "jobManagerTask": {"id": "bad id", "commandLine": "x"}}))
        .await;
    assert_batch_error(r, 400, "InvalidPropertyValue");
    assert_batch_error(emu.client.get_job("j").await, 404, "JobNotFound");
}

#[tokio::test]
async fn a_completed_tasks_files_go_when_its_default_retention_of_seven_days_passes() {
    let clock = manual_clock();
    let emu = emulator_with_clock(Runner::Fake, clock.clone()).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "t", "echo kept").await;
    emu.completed("j", "t").await;
    emu.idle().await;
    clock.advance(time::Duration::days(7) - time::Duration::seconds(1));
    assert_eq!(emu.client.get_task_file("j", "t", "stdout.txt").await.unwrap(), b"kept\n");
    clock.advance(time::Duration::seconds(1));
    eventually("the retention timer fired", || emu.state().timers().is_empty()).await;
    emu.idle().await;
    assert_batch_error(emu.client.get_task_file("j", "t", "stdout.txt").await, 409, "TaskFilesCleanedup");
    let dir = emu.dir.path().join("data");
    let left: Vec<_> = walk(&dir).into_iter().filter(|p| p.ends_with("stdout.txt")).collect();
    assert!(left.is_empty(), "task files left on disk: {left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `allowTaskPreemption`: a higher-priority job's task that finds no room requeues the running
/// tasks of a job that allows it; a job that does not allow it is left alone.
#[tokio::test]
async fn a_higher_priority_job_preempts_only_jobs_that_allow_it() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    let job = |id: &str, priority: i32, preemptible: bool| serde_json::json!({"id": id, "poolInfo": {"poolId": "p"}, "priority": priority, "allowTaskPreemption": preemptible});
    let running = |job: &'static str, task: &'static str| {
        let st = emu.state().clone();
        move || st.read(|a| a.task(job, task).is_ok_and(|t| t.state == batch_model::task::TaskState::Running))
    };
    // A job that does not allow preemption keeps its slot.
    emu.client.send_json(reqwest::Method::POST, "/jobs", &job("steady", 0, false)).await.unwrap();
    emu.task("steady", "s", "hang").await;
    eventually("s runs", running("steady", "s")).await;
    emu.client.send_json(reqwest::Method::POST, "/jobs", &job("urgent", 100, false)).await.unwrap();
    emu.task("urgent", "u1", "exit 0").await;
    // Scheduling is decided when the task is added: it found no room and nothing to preempt.
    assert_eq!(emu.client.get_task("urgent", "u1").await.unwrap().state.as_deref(), Some("active"), "nothing to preempt");
    emu.client.send_raw(reqwest::Method::POST, "/jobs/steady/tasks/s/terminate", &[], &[], None).await.unwrap();
    emu.completed("urgent", "u1").await;
    // A job that allows it gives its slot up and its task runs again afterwards.
    emu.client.send_json(reqwest::Method::POST, "/jobs", &job("batch", 0, true)).await.unwrap();
    emu.task("batch", "b", "hang").await;
    eventually("b runs", running("batch", "b")).await;
    emu.task("urgent", "u2", "exit 0").await;
    let u2 = emu.completed("urgent", "u2").await;
    assert_eq!(u2.execution_info.unwrap().exit_code, Some(0));
    let b = emu.client.get_task("batch", "b").await.unwrap();
    assert_eq!(b.execution_info.as_ref().map(|i| i.requeue_count), Some(1), "{b:?}");
    eventually("b runs again", running("batch", "b")).await;
}
