//! Job preparation and release tasks: once per node before the job's first task there,
//! `waitForSuccess`, retries and blocked nodes; release on terminate and delete on every node
//! that ran the preparation; their status list; their environment.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

async fn job_with(emu: &TestEmulator, id: &str, pool: &str, extra: Value) {
    let mut body = json!({"id": id, "poolInfo": {"poolId": pool}});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    emu.client.create_job(&serde_json::from_value(body).unwrap()).await.unwrap();
}

async fn status(emu: &TestEmulator, job: &str) -> Vec<Value> {
    emu.client.list_all(&format!("/jobs/{job}/jobpreparationandreleasetaskstatus"), &[]).await.unwrap()
}

#[tokio::test]
async fn preparation_runs_once_per_node_before_tasks_and_release_runs_on_terminate() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 2, 1, "spread").await;
    job_with(
        &emu,
        "j",
        "p",
        json!({
            "jobPreparationTask": {"commandLine": "/bin/sh -c 'echo prepared-$AZ_BATCH_NODE_ID > prep.txt; echo x >> $AZ_BATCH_NODE_SHARED_DIR/prep-count'"},
            "jobReleaseTask": {"commandLine": "/bin/sh -c 'cat $AZ_BATCH_JOB_PREP_WORKING_DIR/prep.txt > $AZ_BATCH_NODE_SHARED_DIR/released; echo $AZ_BATCH_TASK_ID'"}
        }),
    )
    .await;
    let job: Value = emu.client.get_json("/jobs/j", &[]).await.unwrap();
    assert_eq!(job["jobPreparationTask"]["id"], "jobpreparation", "defaults are echoed");
    assert_eq!(job["jobPreparationTask"]["waitForSuccess"], true);
    assert_eq!(job["jobReleaseTask"]["maxWallClockTime"], "PT15M");
    for i in 0..4 {
        emu.task("j", &format!("t{i}"), "/bin/sh -c 'cat $AZ_BATCH_JOB_PREP_WORKING_DIR/prep.txt'").await;
    }
    for i in 0..4 {
        let t = emu.completed("j", &format!("t{i}")).await;
        let node = t.node_info.unwrap().node_id.unwrap();
        assert_eq!(t.execution_info.unwrap().exit_code, Some(0));
        let out = String::from_utf8(emu.client.get_task_file("j", &format!("t{i}"), "stdout.txt").await.unwrap()).unwrap();
        assert_eq!(out, format!("prepared-{node}\n"), "the task ran after its node's preparation");
    }
    let s = status(&emu, "j").await;
    assert_eq!(s.len(), 2, "one entry per node that ran the preparation task");
    for entry in &s {
        let info = &entry["jobPreparationTaskExecutionInfo"];
        assert_eq!((info["state"].as_str(), info["result"].as_str(), info["exitCode"].as_i64()), (Some("completed"), Some("success"), Some(0)));
        assert_eq!(info["taskRootDirectory"], "workitems/j/job-1/jobpreparation");
        assert!(entry.get("jobReleaseTaskExecutionInfo").is_none());
        let root = emu.state().layout().root(entry["nodeId"].as_str().unwrap());
        assert_eq!(std::fs::read_to_string(root.join("shared/prep-count")).unwrap(), "x\n", "once per node");
    }
    emu.client.send_raw(Method::POST, "/jobs/j/terminate", &[], &[], None).await.unwrap();
    emu.idle().await;
    let job = emu.client.get_job("j").await.unwrap();
    assert_eq!(job.state.as_deref(), Some("completed"));
    for entry in status(&emu, "j").await {
        let node = entry["nodeId"].as_str().unwrap();
        let rel = &entry["jobReleaseTaskExecutionInfo"];
        assert_eq!((rel["state"].as_str(), rel["result"].as_str()), (Some("completed"), Some("success")), "{entry}");
        let root = emu.state().layout().root(node);
        assert_eq!(std::fs::read_to_string(root.join("shared/released")).unwrap(), format!("prepared-{node}\n"));
        let out = std::fs::read_to_string(root.join("workitems/j/job-1/jobrelease/stdout.txt")).unwrap();
        assert_eq!(out, "jobrelease\n");
    }
}

#[tokio::test]
async fn a_failed_preparation_keeps_the_jobs_tasks_off_that_node() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    job_with(&emu, "j", "p", json!({"jobPreparationTask": {"commandLine": "/bin/sh -c 'exit 4'", "constraints": {"maxTaskRetryCount": 1}}})).await;
    emu.task("j", "t", "/bin/true").await;
    emu.idle().await;
    let t = emu.client.get_task("j", "t").await.unwrap();
    assert_eq!(t.state.as_deref(), Some("active"), "the task went back to active");
    let s = status(&emu, "j").await;
    let info = &s[0]["jobPreparationTaskExecutionInfo"];
    assert_eq!((info["result"].as_str(), info["exitCode"].as_i64(), info["retryCount"].as_i64()), (Some("failure"), Some(4), Some(1)));
    assert_eq!(info["failureInfo"]["code"], "FailureExitCode");
    // Another job's tasks still run on the node.
    emu.job("other", "p").await;
    emu.task("other", "t", "/bin/true").await;
    assert_eq!(emu.completed("other", "t").await.execution_info.unwrap().exit_code, Some(0));
    assert_eq!(emu.client.get_task("j", "t").await.unwrap().state.as_deref(), Some("active"));
}

#[tokio::test]
async fn without_wait_for_success_tasks_run_even_if_preparation_fails() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    job_with(&emu, "j", "p", json!({"jobPreparationTask": {"commandLine": "/bin/sh -c 'exit 1'", "waitForSuccess": false}})).await;
    emu.task("j", "t", "/bin/true").await;
    assert_eq!(emu.completed("j", "t").await.execution_info.unwrap().exit_code, Some(0));
}

#[tokio::test]
async fn deleting_an_active_job_runs_the_release_task_then_removes_the_job() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    job_with(
        &emu,
        "j",
        "p",
        json!({"jobPreparationTask": {"commandLine": "/bin/true"}, "jobReleaseTask": {"id": "cleanup", "commandLine": "/bin/sh -c 'touch $AZ_BATCH_NODE_SHARED_DIR/cleaned'"}}),
    )
    .await;
    emu.task("j", "t", "/bin/true").await;
    emu.completed("j", "t").await;
    emu.client.send_raw(Method::DELETE, "/jobs/j", &[], &[], None).await.unwrap();
    emu.idle().await;
    assert_batch_error(emu.client.get_job("j").await, 404, "JobNotFound");
    let node = emu.client.list_nodes("p").await.unwrap()[0].id.clone();
    assert!(emu.state().layout().root(&node).join("shared/cleaned").exists(), "the release task ran before the job went");
    assert!(!emu.state().layout().job_dir(&node, "j").exists());
}

#[tokio::test]
async fn preparation_and_release_settings_get_the_services_answers() {
    let emu = emulator(Runner::Fake).await;
    let bad = |extra: Value| {
        let mut body = json!({"id": "x", "poolInfo": {"poolId": "p"}});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value::<batch_client::models::BatchJobCreateOptions>(body).unwrap()
    };
    assert_batch_error(emu.client.create_job(&bad(json!({"jobReleaseTask": {"commandLine": "x"}}))).await, 400, "MissingRequiredProperty");
    assert_batch_error(
        emu.client
            .create_job(&bad(json!({"jobPreparationTask": {"commandLine": "x"}, "jobReleaseTask": {"commandLine": "x", "maxWallClockTime": "PT1H"}})))
            .await,
        400,
        "InvalidPropertyValue",
    );
    assert_batch_error(emu.client.create_job(&bad(json!({"jobPreparationTask": {"commandLine": ""}}))).await, 400, "MissingRequiredProperty");
    job_with(&emu, "j", "p", json!({"jobPreparationTask": {"commandLine": "x"}, "jobReleaseTask": {"commandLine": "y"}})).await;
    assert_batch_error(emu.client.create_task("j", &task_spec("JobPreparation", "x")).await, 409, "TaskIdSameAsJobPreparationTask");
    assert_batch_error(emu.client.create_task("j", &task_spec("jobrelease", "x")).await, 409, "TaskIdSameAsJobReleaseTask");
    emu.job("plain", "p").await;
    assert_batch_error(
        emu.client.send_raw(Method::GET, "/jobs/plain/jobpreparationandreleasetaskstatus", &[], &[], None).await,
        409,
        "JobPreparationTaskNotSpecified",
    );
    let s: Vec<Value> = emu.client.list_all("/jobs/j/jobpreparationandreleasetaskstatus", &[]).await.unwrap();
    assert!(s.is_empty(), "no node ran the preparation task yet");
    let _ = Duration::ZERO;
}
