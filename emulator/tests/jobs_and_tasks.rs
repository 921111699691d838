//! Jobs and tasks through the REST API on the fake process runner: placement, slots, retries,
//! terminate, delete, disable/enable, add collection, task counts.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;

#[tokio::test]
async fn a_task_runs_on_a_node_and_completes_with_its_exit_code() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    let r = emu.client.create_task("j", &task_spec("ok", "echo hello world")).await.unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.header("location"), Some(format!("{}/jobs/j/tasks/ok", emu.running.url).as_str()));
    emu.task("j", "bad", "exit 4").await;
    let ok = emu.completed("j", "ok").await;
    let info = ok.execution_info.unwrap();
    assert_eq!((info.exit_code, info.result.as_deref(), info.retry_count), (Some(0), Some("success"), 0));
    assert!(info.failure_info.is_none());
    assert_eq!(ok.previous_state.as_deref(), Some("running"));
    let node = ok.node_info.unwrap();
    assert_eq!(node.pool_id.as_deref(), Some("p"));
    assert_eq!(node.task_root_directory.as_deref(), Some("workitems/j/job-1/ok"));
    assert_eq!(String::from_utf8(emu.client.get_task_file("j", "ok", "stdout.txt").await.unwrap()).unwrap(), "hello world\n");
    let bad = emu.completed("j", "bad").await.execution_info.unwrap();
    assert_eq!((bad.exit_code, bad.result.as_deref()), (Some(4), Some("failure")));
    let f = bad.failure_info.unwrap();
    assert_eq!((f.category.as_str(), f.code.as_deref()), ("usererror", Some("FailureExitCode")));
    let counts: Value = emu.client.get_json("/jobs/j/taskcounts", &[]).await.unwrap();
    assert_eq!(counts["taskCounts"], json!({"active": 0, "running": 0, "completed": 2, "succeeded": 1, "failed": 1}));
    assert_eq!(counts["taskSlotCounts"]["completed"], 2);
    // The node went back to idle and counted both runs.
    emu.idle().await;
    let n = &emu.client.list_nodes("p").await.unwrap()[0];
    assert_eq!((n.state.as_deref(), n.total_tasks_run, n.total_tasks_succeeded, n.running_tasks_count), (Some("idle"), Some(2), Some(1), Some(0)));
}

#[tokio::test]
async fn a_fresh_task_echoes_the_service_defaults() {
    let emu = emulator(Runner::Fake).await;
    emu.job("j", "nopool").await;
    emu.task("j", "t", "exit 0").await;
    let t: Value = emu.client.get_json("/jobs/j/tasks/t", &[]).await.unwrap();
    assert_eq!(t["state"], "active");
    assert_eq!(t["executionInfo"], json!({"retryCount": 0, "requeueCount": 0}));
    assert_eq!(t["constraints"], json!({"maxWallClockTime": "P10675199DT2H48M5.4775807S", "retentionTime": "P7D", "maxTaskRetryCount": 0}));
    assert_eq!(t["requiredSlots"], 1);
    assert_eq!(t["userIdentity"], json!({"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}}));
    assert!(t.get("nodeInfo").is_none());
    let j: Value = emu.client.get_json("/jobs/j", &[]).await.unwrap();
    assert_eq!(j["priority"], 0);
    assert_eq!(j["maxParallelTasks"], -1);
    assert_eq!(j["onAllTasksComplete"], "noaction");
    assert_eq!(j["constraints"]["maxTaskRetryCount"], 0);
    assert!(j["odata.metadata"].as_str().unwrap().ends_with("#jobs/@Element"));
    // Task file APIs need a node.
    assert_batch_error(emu.client.send_raw(Method::GET, "/jobs/j/tasks/t/files", &[], &[], None).await, 409, "TaskFilesUnavailable");
}

async fn placement(emu: &TestEmulator, job: &str, tasks: &[&str]) -> HashMap<String, usize> {
    let mut per_node = HashMap::new();
    for t in tasks {
        let node = emu.client.get_task(job, t).await.unwrap().node_info.and_then(|n| n.node_id).unwrap();
        *per_node.entry(node).or_insert(0) += 1;
    }
    per_node
}

#[tokio::test]
async fn spread_places_one_task_per_node_and_pack_fills_a_node_first() {
    for (fill, expected_nodes) in [("spread", 2usize), ("pack", 1usize)] {
        let emu = emulator(Runner::Fake).await;
        emu.pool("p", 2, 2, fill).await;
        emu.job("j", "p").await;
        emu.task("j", "a", "hang").await;
        emu.task("j", "b", "hang").await;
        for t in ["a", "b"] {
            emu.client.wait_for_task("j", t, |s| s == "running", std::time::Duration::from_secs(10)).await.unwrap();
        }
        let per_node = placement(&emu, "j", &["a", "b"]).await;
        assert_eq!(per_node.len(), expected_nodes, "{fill}: {per_node:?}");
        let nodes = emu.client.list_nodes("p").await.unwrap();
        let running_slots: i32 = nodes.iter().map(|n| n.running_task_slots_count.unwrap()).sum();
        assert_eq!(running_slots, 2);
        assert!(nodes.iter().any(|n| n.state.as_deref() == Some("running")));
    }
}

#[tokio::test]
async fn slots_limit_what_runs_and_oversized_tasks_stay_active() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 2, "spread").await;
    emu.job("j", "p").await;
    let mut big = task_spec("big", "exit 0");
    big.required_slots = Some(3);
    emu.client.create_task("j", &big).await.unwrap();
    for t in ["h1", "h2", "h3"] {
        emu.task("j", t, "hang").await;
    }
    emu.client.wait_for_task("j", "h2", |s| s == "running", std::time::Duration::from_secs(10)).await.unwrap();
    let counts: Value = emu.client.get_json("/jobs/j/taskcounts", &[]).await.unwrap();
    assert_eq!(counts["taskCounts"]["running"], 2, "{counts}");
    assert_eq!(counts["taskCounts"]["active"], 2, "{counts}");
    assert_eq!(emu.client.get_task("j", "h3").await.unwrap().state.as_deref(), Some("active"));
    // Freeing a slot lets the next task in.
    let r = emu.client.send_raw(Method::POST, "/jobs/j/tasks/h1/terminate", &[], &[], None).await.unwrap();
    assert_eq!(r.status, 204);
    emu.client.wait_for_task("j", "h3", |s| s == "running", std::time::Duration::from_secs(10)).await.unwrap();
    // requiredSlots > taskSlotsPerNode is not validated; the task never runs.
    assert_eq!(emu.client.get_task("j", "big").await.unwrap().state.as_deref(), Some("active"));
}

#[tokio::test]
async fn terminating_a_running_task_completes_it_with_task_ended() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "t", "hang").await;
    emu.client.wait_for_task("j", "t", |s| s == "running", std::time::Duration::from_secs(10)).await.unwrap();
    emu.client.send_raw(Method::POST, "/jobs/j/tasks/t/terminate", &[], &[], None).await.unwrap();
    let t = emu.client.get_task("j", "t").await.unwrap();
    assert_eq!(t.state.as_deref(), Some("completed"), "completed when terminate returns");
    let info = t.execution_info.unwrap();
    assert_eq!(info.result.as_deref(), Some("failure"));
    assert_eq!(info.failure_info.unwrap().code.as_deref(), Some("TaskEnded"));
    assert_batch_error(emu.client.send_raw(Method::POST, "/jobs/j/tasks/t/terminate", &[], &[], None).await, 409, "TaskCompleted");
    emu.idle().await;
    assert_eq!(emu.client.list_nodes("p").await.unwrap()[0].state.as_deref(), Some("idle"));
}

#[tokio::test]
async fn retries_rerun_a_failing_task_and_reactivate_starts_over() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    let mut t = task_spec("t", "exit 2");
    t.constraints = Some(serde_json::from_value(json!({"maxTaskRetryCount": 2})).unwrap());
    emu.client.create_task("j", &t).await.unwrap();
    let done = emu.completed("j", "t").await.execution_info.unwrap();
    assert_eq!(done.retry_count, 2);
    assert!(done.last_retry_time.is_some());
    assert_eq!(done.exit_code, Some(2));
    assert_eq!(done.result.as_deref(), Some("failure"));
    // A task that never starts (missing program) is not retried.
    let mut t = task_spec("m", "missing");
    t.constraints = Some(serde_json::from_value(json!({"maxTaskRetryCount": 3})).unwrap());
    emu.client.create_task("j", &t).await.unwrap();
    let m = emu.completed("j", "m").await.execution_info.unwrap();
    assert_eq!(m.retry_count, 0);
    assert_eq!(m.failure_info.unwrap().code.as_deref(), Some("CommandProgramNotFound"));
    assert!(m.exit_code.is_none());
    // Reactivate: back to active, counters reset, runs again.
    let r = emu.client.send_raw(Method::POST, "/jobs/j/tasks/t/reactivate", &[], &[], None).await.unwrap();
    assert_eq!(r.status, 204);
    let again = emu.completed("j", "t").await.execution_info.unwrap();
    assert_eq!(again.retry_count, 2);
    emu.task("j", "ok", "exit 0").await;
    emu.completed("j", "ok").await;
    assert_batch_error(emu.client.send_raw(Method::POST, "/jobs/j/tasks/ok/reactivate", &[], &[], None).await, 409, "TaskSucceeded");
}

#[tokio::test]
async fn max_parallel_tasks_caps_a_job() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 3, "spread").await;
    let mut limited = job_spec("limited", "p");
    limited.max_parallel_tasks = Some(1);
    emu.client.create_job(&limited).await.unwrap();
    emu.task("limited", "a", "hang").await;
    emu.task("limited", "b", "hang").await;
    // Placement happens when the task is added; `running` once its process has started.
    eventually("a runs", || task_state(&emu, "limited", "a") == "running").await;
    assert_eq!(task_state(&emu, "limited", "b"), "active");
    assert!(emu.state().read(|a| a.task("limited", "b").unwrap().placement.is_none()), "b was never placed");
    emu.client.send_raw(Method::POST, "/jobs/limited/tasks/a/terminate", &[], &[], None).await.unwrap();
    eventually("b runs", || task_state(&emu, "limited", "b") == "running").await;
}

#[tokio::test]
async fn the_higher_priority_job_gets_the_next_free_slot() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("blocker", "p").await;
    emu.task("blocker", "b", "hang").await;
    let mut low = job_spec("low", "p");
    low.priority = Some(-5);
    let mut high = job_spec("high", "p");
    high.priority = Some(500);
    emu.client.create_job(&low).await.unwrap();
    emu.task("low", "l1", "hang").await;
    emu.client.create_job(&high).await.unwrap();
    emu.task("high", "h1", "hang").await;
    assert_eq!((task_state(&emu, "low", "l1"), task_state(&emu, "high", "h1")), ("active".into(), "active".into()));
    emu.client.send_raw(Method::POST, "/jobs/blocker/tasks/b/terminate", &[], &[], None).await.unwrap();
    eventually("h1 runs", || task_state(&emu, "high", "h1") == "running").await;
    assert_eq!(task_state(&emu, "low", "l1"), "active");
}

fn task_state(emu: &TestEmulator, job: &str, task: &str) -> String {
    emu.state().read(|a| a.task(job, task).map(|t| t.state.as_str().to_string()).unwrap_or_default())
}

#[tokio::test]
async fn add_collection_reports_per_task_results_and_limits() {
    let emu = emulator(Runner::Fake).await;
    emu.job("j", "nopool").await;
    emu.task("j", "dup", "exit 0").await;
    let body = json!({"value": [
        {"id": "a", "commandLine": "exit 0"},
        {"id": "dup", "commandLine": "exit 0"},
        {"id": "bad id", "commandLine": "exit 0"},
        {"id": "b", "commandLine": ""}
    ]});
    let r = emu.client.send_json(Method::POST, "/jobs/j/addtaskcollection", &body).await.unwrap();
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let by_id: HashMap<&str, &Value> = v["value"].as_array().unwrap().iter().map(|r| (r["taskId"].as_str().unwrap(), r)).collect();
    assert_eq!(by_id["a"]["status"], "Success");
    assert!(by_id["a"]["eTag"].as_str().unwrap().starts_with("0x"));
    assert_eq!(by_id["dup"]["status"], "clienterror");
    assert_eq!(by_id["dup"]["error"]["code"], "TaskExists");
    assert_eq!(by_id["bad id"]["error"]["code"], "InvalidPropertyValue");
    assert_eq!(by_id["b"]["error"]["code"], "MissingRequiredProperty");
    let tasks: Vec<Value> = emu.client.list_all("/jobs/j/tasks", &[]).await.unwrap();
    assert_eq!(tasks.len(), 2, "only the valid new task was added");
    let many = json!({"value": (0..101).map(|i| json!({"id": format!("t{i}"), "commandLine": "exit 0"})).collect::<Vec<_>>()});
    assert_batch_error(emu.client.send_json(Method::POST, "/jobs/j/addtaskcollection", &many).await, 400, "InvalidPropertyValue");
    let huge = json!({"value": [{"id": "h", "commandLine": "x".repeat(1_100_000)}]});
    assert_batch_error(emu.client.send_json(Method::POST, "/jobs/j/addtaskcollection", &huge).await, 413, "RequestBodyTooLarge");
}

#[tokio::test]
async fn terminate_and_delete_jobs() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 2, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "run", "hang").await;
    emu.client.wait_for_task("j", "run", |s| s == "running", std::time::Duration::from_secs(10)).await.unwrap();
    // 14.x sends an empty body with a JSON content type.
    let r = emu
        .client
        .send_raw(Method::POST, "/jobs/j/terminate", &[], &[("Content-Type", "application/json; odata=minimalmetadata; charset=utf-8")], Some(Vec::new()))
        .await
        .unwrap();
    assert_eq!(r.status, 202);
    let j = emu.client.get_job("j").await.unwrap();
    assert!(matches!(j.state.as_deref(), Some("terminating") | Some("completed")));
    emu.idle().await;
    let j = emu.client.get_job("j").await.unwrap();
    assert_eq!(j.state.as_deref(), Some("completed"));
    assert_eq!(j.execution_info.unwrap().terminate_reason.as_deref(), Some("UserTerminate"));
    let t = emu.client.get_task("j", "run").await.unwrap();
    assert_eq!(t.execution_info.unwrap().failure_info.unwrap().code.as_deref(), Some("TaskEnded"));
    assert_batch_error(emu.client.create_task("j", &task_spec("late", "exit 0")).await, 409, "JobCompleted");
    assert_batch_error(emu.client.send_raw(Method::POST, "/jobs/j/terminate", &[], &[], None).await, 409, "JobCompleted");

    emu.job("d", "p").await;
    emu.task("d", "run", "hang").await;
    emu.client.wait_for_task("d", "run", |s| s == "running", std::time::Duration::from_secs(10)).await.unwrap();
    let node = emu.client.get_task("d", "run").await.unwrap().node_info.unwrap().node_id.unwrap();
    let job_dir = emu.state().layout().job_dir(&node, "d");
    eventually("the task directory exists", || job_dir.join("job-1/run/stdout.txt").exists()).await;
    assert_eq!(emu.client.send_raw(Method::DELETE, "/jobs/d", &[], &[], None).await.unwrap().status, 202);
    emu.idle().await;
    assert_batch_error(emu.client.get_job("d").await, 404, "JobNotFound");
    assert!(!job_dir.exists(), "the job's directories are removed");
    assert_eq!(emu.client.list_nodes("p").await.unwrap()[0].running_tasks_count, Some(0));
}

#[tokio::test]
async fn on_all_tasks_complete_terminates_the_job() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    // A job created with no tasks counts as all-complete.
    let mut empty = job_spec("empty", "p");
    empty.on_all_tasks_complete = Some("terminatejob".into());
    emu.client.create_job(&empty).await.unwrap();
    emu.idle().await;
    let j = emu.client.get_job("empty").await.unwrap();
    assert_eq!(j.state.as_deref(), Some("completed"));
    assert_eq!(j.execution_info.unwrap().terminate_reason.as_deref(), Some("AllTasksComplete"));
    // Set after the tasks were added, it fires when the last one completes.
    emu.job("j", "p").await;
    emu.task("j", "a", "exit 0").await;
    emu.task("j", "b", "exit 1").await;
    emu.client.send_json(Method::PATCH, "/jobs/j", &json!({"onAllTasksComplete": "terminatejob"})).await.unwrap();
    emu.idle().await;
    let j = emu.client.get_job("j").await.unwrap();
    assert_eq!(j.state.as_deref(), Some("completed"));
    assert_eq!(j.execution_info.unwrap().terminate_reason.as_deref(), Some("AllTasksComplete"));
}

#[tokio::test]
async fn disable_requeues_running_tasks_and_enable_runs_them_again() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "t", "hang").await;
    emu.client.wait_for_task("j", "t", |s| s == "running", std::time::Duration::from_secs(10)).await.unwrap();
    assert_batch_error(emu.client.send_json(Method::POST, "/jobs/j/disable", &json!({})).await, 400, "MissingRequiredProperty");
    let r = emu.client.send_json(Method::POST, "/jobs/j/disable", &json!({"disableTasks": "requeue"})).await.unwrap();
    assert_eq!(r.status, 202);
    emu.idle().await;
    assert_eq!(emu.client.get_job("j").await.unwrap().state.as_deref(), Some("disabled"));
    let t = emu.client.get_task("j", "t").await.unwrap();
    assert_eq!(t.state.as_deref(), Some("active"));
    assert_eq!(t.execution_info.unwrap().requeue_count, 1);
    emu.client.send_raw(Method::POST, "/jobs/j/enable", &[], &[], None).await.unwrap();
    emu.client.wait_for_task("j", "t", |s| s == "running", std::time::Duration::from_secs(10)).await.unwrap();
    assert_eq!(emu.client.get_job("j").await.unwrap().state.as_deref(), Some("active"));
}

#[tokio::test]
async fn task_dependencies_need_the_job_flag() {
    let emu = emulator(Runner::Fake).await;
    emu.job("j", "p").await;
    let mut t = task_spec("t", "exit 0");
    t.depends_on = Some(Box::new(json!({"taskIds": ["a"]})));
    assert_batch_error(emu.client.create_task("j", &t).await, 400, "TaskDependenciesNotSpecifiedOnJob");
}

#[tokio::test]
async fn replace_task_changes_constraints_only() {
    let emu = emulator(Runner::Fake).await;
    emu.job("j", "nopool").await;
    emu.task("j", "t", "exit 0").await;
    let r = emu.client.send_json(Method::PUT, "/jobs/j/tasks/t", &json!({"constraints": {"maxTaskRetryCount": 5, "retentionTime": "PT1H"}})).await.unwrap();
    assert_eq!(r.status, 200);
    let t: Value = emu.client.get_json("/jobs/j/tasks/t", &[]).await.unwrap();
    assert_eq!(t["constraints"], json!({"maxWallClockTime": "P10675199DT2H48M5.4775807S", "retentionTime": "PT1H", "maxTaskRetryCount": 5}));
    assert_eq!(emu.client.send_raw(Method::DELETE, "/jobs/j/tasks/t", &[], &[], None).await.unwrap().status, 200);
    assert_batch_error(emu.client.get_task("j", "t").await, 404, "TaskNotFound");
}

/// Filtered task lists read an index chosen from the filter (`id eq`, `state eq`,
/// `startswith(id, …)`); whatever index is read, the answer (over several pages) equals the
/// filter evaluated on every task's JSON.
#[tokio::test]
async fn filtered_task_lists_answer_the_same_whatever_index_they_read() {
    use batch_emulator::api::odata::{matches, parse_filter};
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 2, "spread").await;
    emu.job("j", "p").await;
    for i in 0..9 {
        emu.task("j", &format!("Done-{i}"), &format!("exit {}", i % 3)).await;
    }
    for i in 0..9 {
        emu.completed("j", &format!("Done-{i}")).await;
    }
    for i in 0..2 {
        emu.task("j", &format!("hang-{i}"), "hang").await;
    }
    let running = || emu.state().read(|a| a.job("j").map(|j| j.tasks.running()).unwrap_or(0));
    eventually("both hang tasks running", || running() == 2).await;
    for i in 0..7 {
        emu.task("j", &format!("wait-{i}"), "exit 0").await;
    }
    let everything: Vec<Value> = emu.client.list_all("/jobs/j/tasks", &[]).await.unwrap();
    assert_eq!(everything.len(), 18);
    let filters = [
        "id eq 'done-4'",
        "id eq 'DONE-4' or id eq 'hang-1' or id eq 'nope'",
        "state eq 'completed'",
        "state eq 'Active' or state eq 'running'",
        "state eq 'completed' and executionInfo/exitCode eq 2",
        "state eq 'completed' and executionInfo/result eq 'failure'",
        "startswith(id, 'done-') and executionInfo/exitCode ne 0",
        "startswith(id,'W') eq true",
        "startswith(id, 'hang') and state eq 'running'",
        "state ne 'completed'",
        "executionInfo/exitCode eq 1",
        "nodeInfo/poolId eq 'p' and state eq 'completed'",
        "state eq 'nonsense'",
    ];
    for f in filters {
        let expr = parse_filter(f).unwrap();
        let want: Vec<&str> = everything.iter().filter(|t| matches(&expr, *t)).map(|t| t["id"].as_str().unwrap()).collect();
        let got: Vec<Value> = emu.client.list_all("/jobs/j/tasks", &[("$filter", f), ("maxresults", "2")]).await.unwrap();
        let got: Vec<&str> = got.iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(got, want, "{f}");
    }
    // Spot checks that the expectations themselves are not empty by accident.
    let count = |f: &str| everything.iter().filter(|t| matches(&parse_filter(f).unwrap(), *t)).count();
    assert_eq!((count("state eq 'completed'"), count("state eq 'running'"), count("state eq 'active'")), (9, 2, 7));
    assert_eq!(count("executionInfo/exitCode eq 2"), 3);
}
