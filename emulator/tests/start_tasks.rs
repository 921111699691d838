//! Pool start tasks: they run when a node starts, `waitForSuccess` gates `idle` through
//! `waitingforstarttask`, retries, `starttaskfailed`, `startTaskInfo`, and the startup
//! directory as working directory.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn pool_with_start_task(emu: &TestEmulator, id: &str, nodes: i32, start_task: Value) {
    let mut spec = pool_spec(id, nodes, 1, "spread");
    spec.start_task = Some(serde_json::from_value(start_task).unwrap());
    emu.client.create_pool(&spec).await.unwrap();
}

async fn node_json(emu: &TestEmulator, pool: &str) -> Value {
    let nodes: Vec<Value> = emu.client.list_all(&format!("/pools/{pool}/nodes"), &[]).await.unwrap();
    nodes.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_start_task_runs_in_the_startup_directory_before_the_node_turns_idle() {
    let emu = emulator(Runner::Local).await;
    let script = "env > env.txt; echo prepared > $AZ_BATCH_NODE_SHARED_DIR/marker; echo started";
    pool_with_start_task(
        &emu,
        "p",
        1,
        json!({"commandLine": format!("/bin/sh -c '{script}'"), "environmentSettings": [{"name": "FROM_START", "value": "yes"}]}),
    )
    .await;
    emu.idle().await;
    let n = node_json(&emu, "p").await;
    assert_eq!(n["state"], "idle");
    assert_eq!(n["startTask"]["waitForSuccess"], true, "defaults are echoed");
    assert_eq!(n["startTask"]["maxTaskRetryCount"], 0);
    let info = &n["startTaskInfo"];
    assert_eq!(
        (info["state"].as_str(), info["exitCode"].as_i64(), info["result"].as_str(), info["retryCount"].as_i64()),
        (Some("completed"), Some(0), Some("success"), Some(0))
    );
    let node = n["id"].as_str().unwrap();
    let root = emu.state().layout().root(node);
    assert_eq!(std::fs::read_to_string(root.join("startup/stdout.txt")).unwrap(), "started\n");
    let env = std::fs::read_to_string(root.join("startup/wd/env.txt")).unwrap();
    assert!(env.contains(&format!("AZ_BATCH_TASK_WORKING_DIR={}\n", root.join("startup/wd").display())), "{env}");
    assert!(env.contains(&format!("AZ_BATCH_TASK_DIR={}\n", root.join("startup").display())));
    assert!(env.contains("FROM_START=yes\n"));
    assert!(!env.contains("AZ_BATCH_TASK_ID="), "a start task has no task id");
    // Job tasks see what the start task prepared.
    emu.job("j", "p").await;
    emu.task("j", "t", "/bin/cat ../../../../../shared/marker").await;
    let t = emu.completed("j", "t").await;
    assert_eq!(t.execution_info.unwrap().exit_code, Some(0));
    assert_eq!(emu.client.get_task_file("j", "t", "stdout.txt").await.unwrap(), b"prepared\n");
    // Its output is readable through the node file API.
    let out = emu.client.send_raw(reqwest::Method::GET, &format!("/pools/p/nodes/{node}/files/startup%2Fstdout.txt"), &[], &[], None).await.unwrap();
    assert_eq!(out.body, b"started\n");
}

#[tokio::test]
async fn a_failing_start_task_is_retried_then_the_node_is_starttaskfailed_and_gets_no_tasks() {
    let emu = emulator(Runner::Local).await;
    pool_with_start_task(
        &emu,
        "p",
        1,
        json!({"commandLine": "/bin/sh -c 'echo attempt >> $AZ_BATCH_NODE_SHARED_DIR/attempts; exit 3'", "maxTaskRetryCount": 2}),
    )
    .await;
    emu.idle().await;
    let n = node_json(&emu, "p").await;
    assert_eq!(n["state"], "starttaskfailed");
    let info = &n["startTaskInfo"];
    assert_eq!(info["retryCount"], 2);
    assert_eq!(info["exitCode"], 3);
    assert_eq!(info["result"], "failure");
    assert_eq!(info["failureInfo"]["code"], "FailureExitCode");
    let root = emu.state().layout().root(n["id"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(root.join("shared/attempts")).unwrap().lines().count(), 3, "one run plus two retries");
    let counts: Vec<Value> = emu.client.list_all("/nodecounts", &[]).await.unwrap();
    assert_eq!(counts[0]["dedicated"]["startTaskFailed"], 1);
    emu.job("j", "p").await;
    emu.task("j", "t", "/bin/true").await;
    emu.idle().await;
    assert_eq!(emu.client.get_task("j", "t").await.unwrap().state.as_deref(), Some("active"), "no task lands on a starttaskfailed node");
}

#[tokio::test]
async fn without_wait_for_success_the_node_takes_tasks_while_the_start_task_runs() {
    let emu = emulator(Runner::Local).await;
    pool_with_start_task(&emu, "p", 1, json!({"commandLine": "/bin/sh -c 'sleep 30'", "waitForSuccess": false})).await;
    emu.job("j", "p").await;
    emu.task("j", "t", "/bin/echo ran").await;
    let t = emu.completed("j", "t").await;
    assert_eq!(t.execution_info.unwrap().exit_code, Some(0));
    let n = node_json(&emu, "p").await;
    assert_eq!(n["startTaskInfo"]["state"], "running");
    assert_eq!(n["runningTasksCount"], 0, "the start task uses no task slot");
    // Deleting the pool stops the start task.
    emu.client.delete_pool("p").await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), emu.state().run_until_idle()).await.unwrap();
    assert_batch_error(emu.client.get_pool("p").await, 404, "PoolNotFound");
}

#[tokio::test]
async fn a_start_task_with_a_bad_body_gets_the_services_answer() {
    let emu = emulator(Runner::Fake).await;
    let mut spec = pool_spec("p", 0, 1, "spread");
    spec.start_task = Some(serde_json::from_value(json!({"commandLine": ""})).unwrap());
    assert_batch_error(emu.client.create_pool(&spec).await, 400, "MissingRequiredProperty");
    spec.start_task = Some(serde_json::from_value(json!({"commandLine": "x", "maxTaskRetryCount": -2})).unwrap());
    assert_batch_error(emu.client.create_pool(&spec).await, 400, "InvalidPropertyValue");
    // updateproperties replaces the start task as a whole.
    spec.start_task = None;
    emu.client.create_pool(&spec).await.unwrap();
    emu.client
        .send_json(
            reqwest::Method::POST,
            "/pools/p/updateproperties",
            &json!({"startTask": {"commandLine": "/bin/true"}, "applicationPackageReferences": [], "metadata": []}),
        )
        .await
        .unwrap();
    let p = emu.client.get_pool("p").await.unwrap();
    let st = p.spec.start_task.unwrap();
    assert_eq!((st.command_line.as_str(), st.wait_for_success), ("/bin/true", Some(true)));
}
