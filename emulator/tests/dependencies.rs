//! Task dependencies and exit conditions: dependents wait for their parents and start the
//! moment they complete; a failed parent blocks unless `dependencyAction: satisfy`; ranges;
//! `jobAction` under `onTaskFailure: performexitoptionsjobaction`.

mod common;

use common::*;
use serde_json::{json, Value};

async fn job(emu: &TestEmulator, id: &str, extra: Value) {
    let mut body = json!({"id": id, "poolInfo": {"poolId": "p"}});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    emu.client.create_job(&serde_json::from_value(body).unwrap()).await.unwrap();
}

async fn task(emu: &TestEmulator, job: &str, body: Value) -> Result<batch_client::RawResponse, batch_client::ApiError> {
    emu.client.create_task(job, &serde_json::from_value(body).unwrap()).await
}

fn state(emu: &TestEmulator, job: &str, task: &str) -> String {
    emu.state().read(|a| a.task(job, task).map(|t| t.state.as_str().to_string()).unwrap_or_default())
}

#[tokio::test]
async fn a_dependent_waits_for_its_parent_and_starts_when_it_succeeds() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 2, "spread").await;
    job(&emu, "j", json!({"usesTaskDependencies": true})).await;
    task(&emu, "j", json!({"id": "child", "commandLine": "echo child", "dependsOn": {"taskIds": ["parent"]}})).await.unwrap();
    emu.idle().await;
    assert_eq!(state(&emu, "j", "child"), "active", "the parent does not exist yet");
    task(&emu, "j", json!({"id": "parent", "commandLine": "hang"})).await.unwrap();
    emu.client.wait_for_task("j", "parent", |s| s == "running", std::time::Duration::from_secs(10)).await.unwrap();
    assert_eq!(state(&emu, "j", "child"), "active", "the parent is still running");
    // A failed parent blocks by default.
    emu.client.send_raw(reqwest::Method::POST, "/jobs/j/tasks/parent/terminate", &[], &[], None).await.unwrap();
    emu.idle().await;
    assert_eq!(state(&emu, "j", "child"), "active", "a failed parent blocks its dependents");
    // A successful parent releases its child at once.
    task(&emu, "j", json!({"id": "p2", "commandLine": "exit 0"})).await.unwrap();
    task(&emu, "j", json!({"id": "c2", "commandLine": "echo ok", "dependsOn": {"taskIds": ["p2"]}})).await.unwrap();
    let c2 = emu.completed("j", "c2").await;
    let p2 = emu.client.get_task("j", "p2").await.unwrap();
    assert!(c2.execution_info.unwrap().start_time.unwrap() >= p2.execution_info.unwrap().end_time.unwrap(), "the child started after its parent ended");
}

#[tokio::test]
async fn dependency_action_satisfy_lets_a_failed_parent_release_its_dependents() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 2, "spread").await;
    job(&emu, "j", json!({"usesTaskDependencies": true})).await;
    task(
        &emu,
        "j",
        json!({"id": "soft", "commandLine": "exit 3", "exitConditions": {"exitCodes": [{"code": 3, "exitOptions": {"dependencyAction": "satisfy"}}]}}),
    )
    .await
    .unwrap();
    task(&emu, "j", json!({"id": "hard", "commandLine": "exit 4"})).await.unwrap();
    task(&emu, "j", json!({"id": "after-soft", "commandLine": "exit 0", "dependsOn": {"taskIds": ["soft"]}})).await.unwrap();
    task(&emu, "j", json!({"id": "after-hard", "commandLine": "exit 0", "dependsOn": {"taskIds": ["hard"]}})).await.unwrap();
    emu.completed("j", "after-soft").await;
    emu.completed("j", "hard").await;
    emu.idle().await;
    assert_eq!(state(&emu, "j", "after-hard"), "active");
}

#[tokio::test]
async fn id_ranges_wait_for_every_task_in_the_range() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 4, "spread").await;
    job(&emu, "j", json!({"usesTaskDependencies": true})).await;
    task(&emu, "j", json!({"id": "merge", "commandLine": "exit 0", "dependsOn": {"taskIdRanges": [{"start": 1, "end": 3}]}})).await.unwrap();
    for i in 1..=2 {
        task(&emu, "j", json!({"id": i.to_string(), "commandLine": "exit 0"})).await.unwrap();
    }
    emu.idle().await;
    assert_eq!(state(&emu, "j", "merge"), "active", "task 3 is missing");
    task(&emu, "j", json!({"id": "3", "commandLine": "exit 0"})).await.unwrap();
    emu.completed("j", "merge").await;
}

#[tokio::test]
async fn job_actions_run_only_when_the_job_performs_them() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 2, "spread").await;
    job(&emu, "term", json!({"onTaskFailure": "performexitoptionsjobaction"})).await;
    task(&emu, "term", json!({"id": "t", "commandLine": "exit 3"})).await.unwrap();
    emu.idle().await;
    let j = emu.client.get_job("term").await.unwrap();
    assert_eq!(j.state.as_deref(), Some("completed"));
    assert_eq!(j.execution_info.unwrap().terminate_reason.as_deref(), Some("TaskFailed"));

    job(&emu, "keep", json!({"onTaskFailure": "performexitoptionsjobaction"})).await;
    task(&emu, "keep", json!({"id": "t", "commandLine": "exit 3", "exitConditions": {"exitCodes": [{"code": 3, "exitOptions": {"jobAction": "none"}}]}}))
        .await
        .unwrap();
    task(&emu, "keep", json!({"id": "d", "commandLine": "exit 9", "exitConditions": {"default": {"jobAction": "disable"}}})).await.unwrap();
    emu.idle().await;
    assert_eq!(emu.client.get_job("keep").await.unwrap().state.as_deref(), Some("disabled"), "the default action of exit 9 disabled the job");

    job(&emu, "plain", json!({})).await;
    task(&emu, "plain", json!({"id": "t", "commandLine": "exit 3"})).await.unwrap();
    emu.idle().await;
    assert_eq!(emu.client.get_job("plain").await.unwrap().state.as_deref(), Some("active"), "noaction: a failed task changes nothing");
}

#[tokio::test]
async fn exit_conditions_and_dependencies_are_validated_against_the_job() {
    let emu = emulator(Runner::Fake).await;
    job(&emu, "plain", json!({})).await;
    let r = task(&emu, "plain", json!({"id": "a", "commandLine": "x", "exitConditions": {"default": {"jobAction": "terminate"}}})).await;
    assert_batch_error(r, 400, "InvalidPropertyValue");
    let r = task(&emu, "plain", json!({"id": "b", "commandLine": "x", "exitConditions": {"default": {"dependencyAction": "satisfy"}}})).await;
    assert_batch_error(r, 400, "InvalidPropertyValue");
    let r = task(&emu, "plain", json!({"id": "c", "commandLine": "x", "dependsOn": {"taskIds": ["a"]}})).await;
    assert_batch_error(r, 400, "TaskDependenciesNotSpecifiedOnJob");
    job(&emu, "deps", json!({"usesTaskDependencies": true})).await;
    let long: Vec<String> = (0..7000).map(|i| format!("task-{i:05}")).collect();
    let r = task(&emu, "deps", json!({"id": "d", "commandLine": "x", "dependsOn": {"taskIds": long}})).await;
    assert_batch_error(r, 400, "TaskDependencyListTooLong");
    let r = task(&emu, "deps", json!({"id": "e", "commandLine": "x", "dependsOn": {"taskIdRanges": [{"start": 5, "end": 2}]}})).await;
    assert_batch_error(r, 400, "InvalidPropertyValue");
}
