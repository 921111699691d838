//! Reboot, reimage, disable and enable scheduling of a compute node, through the REST API on
//! the fake process runner: what happens to running tasks, to the node's disk, to its start
//! task and to job preparation tasks.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn node_id(emu: &TestEmulator, pool: &str) -> String {
    emu.client.list_nodes(pool).await.unwrap()[0].id.clone()
}

async fn node(emu: &TestEmulator, pool: &str, id: &str) -> Value {
    emu.client.get_json(&format!("/pools/{pool}/nodes/{id}"), &[]).await.unwrap()
}

async fn node_action(emu: &TestEmulator, pool: &str, id: &str, action: &str, body: Value) -> Result<batch_client::RawResponse, batch_client::ApiError> {
    emu.client.send_raw(Method::POST, &format!("/pools/{pool}/nodes/{id}/{action}"), &[], &[], Some(body.to_string().into_bytes())).await
}

async fn task(emu: &TestEmulator, job: &str, id: &str) -> Value {
    emu.client.get_json(&format!("/jobs/{job}/tasks/{id}"), &[]).await.unwrap()
}

fn running(emu: &TestEmulator, job: &str) -> usize {
    emu.state().read(|a| a.job(job).map(|j| j.tasks.running()).unwrap_or(0))
}

/// A pool of one node with a start task, and a job.
async fn setup(emu: &TestEmulator, slots: i32) -> String {
    let mut spec = pool_spec("p", 1, slots, "spread");
    spec.start_task = Some(serde_json::from_value(json!({"commandLine": "echo started", "waitForSuccess": true})).unwrap());
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
    emu.job("j", "p").await;
    node_id(emu, "p").await
}

#[tokio::test]
async fn a_reboot_requeues_running_tasks_and_the_node_starts_again_with_its_start_task() {
    let emu = emulator(Runner::Fake).await;
    let nid = setup(&emu, 1).await;
    let before = node(&emu, "p", &nid).await;
    emu.task("j", "long", "hang").await;
    eventually("the task runs", || running(&emu, "j") == 1).await;
    let r = node_action(&emu, "p", &nid, "reboot", json!({})).await.unwrap();
    assert_eq!(r.status, 202);
    assert_eq!(r.header("dataserviceid"), Some(format!("{}/pools/p/nodes/{nid}/reboot", emu.running.url).as_str()));
    // The task went back to active, counted as a requeue, and runs again once the node is up.
    eventually("the task runs again", || running(&emu, "j") == 1).await;
    let t = task(&emu, "j", "long").await;
    assert_eq!(t["executionInfo"]["requeueCount"], 1);
    assert_eq!(t["executionInfo"]["retryCount"], 0);
    let after = node(&emu, "p", &nid).await;
    assert_eq!(after["state"], "running");
    assert!(after["lastBootTime"].as_str() > before["lastBootTime"].as_str(), "{after}");
    assert_eq!(after["startTaskInfo"]["state"], "completed");
    assert!(after["startTaskInfo"]["startTime"].as_str() > before["startTaskInfo"]["startTime"].as_str());
}

#[tokio::test]
async fn reboot_options_terminate_and_taskcompletion() {
    let emu = emulator(Runner::Fake).await;
    let nid = setup(&emu, 1).await;
    emu.task("j", "a", "hang").await;
    eventually("a runs", || running(&emu, "j") == 1).await;
    node_action(&emu, "p", &nid, "reboot", json!({"nodeRebootOption": "terminate"})).await.unwrap();
    let a = emu.completed("j", "a").await;
    let f = a.execution_info.unwrap().failure_info.unwrap();
    assert_eq!(f.code.as_deref(), Some("TaskEnded"));
    emu.idle().await;
    assert_eq!(node(&emu, "p", &nid).await["state"], "idle");

    // taskcompletion: the running task finishes first; meanwhile no new task lands there.
    emu.task("j", "b", "hang").await;
    eventually("b runs", || running(&emu, "j") == 1).await;
    node_action(&emu, "p", &nid, "reboot", json!({"nodeRebootOption": "TaskCompletion"})).await.unwrap();
    emu.task("j", "c", "exit 0").await;
    assert_eq!(task(&emu, "j", "c").await["state"], "active");
    assert_eq!(node(&emu, "p", &nid).await["state"], "running");
    // A second restart while one is pending is refused.
    assert_batch_error(node_action(&emu, "p", &nid, "reimage", json!({})).await, 409, "NodeBeingRebooted");
    emu.client.send_raw(Method::POST, "/jobs/j/tasks/b/terminate", &[], &[], None).await.unwrap();
    emu.completed("j", "c").await;
    assert!(node(&emu, "p", &nid).await["lastBootTime"].is_string());
}

#[tokio::test]
async fn a_reimage_wipes_the_node_disk_and_a_reboot_keeps_it() {
    let emu = emulator(Runner::Fake).await;
    let nid = setup(&emu, 1).await;
    emu.task("j", "out", "echo kept").await;
    emu.completed("j", "out").await;
    node_action(&emu, "p", &nid, "reboot", json!({})).await.unwrap();
    emu.idle().await;
    assert_eq!(node(&emu, "p", &nid).await["state"], "idle");
    assert_eq!(emu.client.get_task_file("j", "out", "stdout.txt").await.unwrap(), b"kept\n");
    let r = node_action(&emu, "p", &nid, "reimage", json!({"nodeReimageOption": "requeue"})).await.unwrap();
    assert_eq!(r.status, 202);
    emu.idle().await;
    assert_eq!(node(&emu, "p", &nid).await["state"], "idle");
    assert_batch_error(emu.client.get_task_file("j", "out", "stdout.txt").await, 404, "FileNotFound");
    // The node's skeleton is back (a new task runs there).
    emu.task("j", "again", "echo fresh").await;
    emu.completed("j", "again").await;
    assert_eq!(emu.client.get_task_file("j", "again", "stdout.txt").await.unwrap(), b"fresh\n");
}

#[tokio::test]
async fn disabling_scheduling_takes_the_node_offline_until_it_is_enabled() {
    let emu = emulator(Runner::Fake).await;
    let nid = setup(&emu, 2).await;
    emu.task("j", "long", "hang").await;
    eventually("it runs", || running(&emu, "j") == 1).await;
    let r = node_action(&emu, "p", &nid, "disablescheduling", json!({})).await.unwrap();
    assert_eq!(r.status, 200);
    let n = node(&emu, "p", &nid).await;
    assert_eq!((n["state"].as_str(), n["schedulingState"].as_str()), (Some("offline"), Some("disabled")));
    assert_eq!(task(&emu, "j", "long").await["executionInfo"]["requeueCount"], 1);
    emu.task("j", "short", "exit 0").await;
    assert_eq!(task(&emu, "j", "short").await["state"], "active");
    assert_batch_error(node_action(&emu, "p", &nid, "disablescheduling", json!({})).await, 409, "NodeAlreadyInTargetSchedulingState");
    let counts: Value = emu.client.get_json("/nodecounts", &[]).await.unwrap();
    assert_eq!(counts["value"][0]["dedicated"]["offline"], 1);

    let r = node_action(&emu, "p", &nid, "enablescheduling", json!({})).await.unwrap();
    assert_eq!(r.status, 200);
    emu.completed("j", "short").await;
    eventually("the requeued task runs again", || running(&emu, "j") == 1).await;
    let n = node(&emu, "p", &nid).await;
    assert_eq!((n["state"].as_str(), n["schedulingState"].as_str()), (Some("running"), Some("enabled")));

    // taskcompletion: the running task goes on; the node is offline once it ends.
    node_action(&emu, "p", &nid, "disablescheduling", json!({"nodeDisableSchedulingOption": "taskcompletion"})).await.unwrap();
    assert_eq!(node(&emu, "p", &nid).await["state"], "running");
    emu.client.send_raw(Method::POST, "/jobs/j/tasks/long/terminate", &[], &[], None).await.unwrap();
    assert_eq!(node(&emu, "p", &nid).await["state"], "offline");
}

#[tokio::test]
async fn bad_node_operations_get_batch_errors() {
    let emu = emulator(Runner::Fake).await;
    let nid = setup(&emu, 1).await;
    assert_batch_error(node_action(&emu, "p", "tvmps_nope_d", "reboot", json!({})).await, 404, "NodeNotFound");
    assert_batch_error(node_action(&emu, "nope", &nid, "reboot", json!({})).await, 404, "PoolNotFound");
    let e = assert_batch_error(node_action(&emu, "p", &nid, "reboot", json!({"nodeRebootOption": "explode"})).await, 400, "InvalidPropertyValue");
    assert!(format!("{e:?}").contains("nodeRebootOption"), "{e:?}");
    let e = assert_batch_error(
        node_action(&emu, "p", &nid, "disablescheduling", json!({"nodeDisableSchedulingOption": "retaineddata"})).await,
        400,
        "InvalidPropertyValue",
    );
    assert!(format!("{e:?}").contains("nodeDisableSchedulingOption"), "{e:?}");
    assert_batch_error(node_action(&emu, "p", &nid, "enablescheduling", json!({})).await, 409, "NodeAlreadyInTargetSchedulingState");
    // Nothing was half-applied.
    let n = node(&emu, "p", &nid).await;
    assert_eq!((n["state"].as_str(), n["schedulingState"].as_str()), (Some("idle"), Some("enabled")));
}

#[tokio::test]
async fn job_preparation_reruns_after_a_reboot_unless_told_not_to_and_always_after_a_reimage() {
    let emu = emulator(Runner::Fake).await;
    let nid = setup(&emu, 1).await;
    for (job, rerun) in [("rerun", true), ("once", false)] {
        let body = json!({"id": job, "poolInfo": {"poolId": "p"}, "jobPreparationTask": {"commandLine": "echo prep", "rerunOnNodeRebootAfterSuccess": rerun}});
        emu.client.send_json(Method::POST, "/jobs", &body).await.unwrap();
        emu.task(job, "t1", "exit 0").await;
        emu.completed(job, "t1").await;
    }
    let prep_start = |job: &'static str| {
        let emu = &emu;
        async move {
            let v: Value = emu.client.get_json(&format!("/jobs/{job}/jobpreparationandreleasetaskstatus"), &[]).await.unwrap();
            v["value"][0]["jobPreparationTaskExecutionInfo"]["startTime"].as_str().map(String::from)
        }
    };
    let (rerun0, once0) = (prep_start("rerun").await.unwrap(), prep_start("once").await.unwrap());
    node_action(&emu, "p", &nid, "reboot", json!({})).await.unwrap();
    emu.idle().await;
    for job in ["rerun", "once"] {
        emu.task(job, "t2", "exit 0").await;
        emu.completed(job, "t2").await;
    }
    let (rerun1, once1) = (prep_start("rerun").await.unwrap(), prep_start("once").await.unwrap());
    assert!(rerun1 > rerun0, "the preparation task did not rerun after the reboot");
    assert_eq!(once1, once0, "rerunOnNodeRebootAfterSuccess=false reran it");
    node_action(&emu, "p", &nid, "reimage", json!({})).await.unwrap();
    emu.idle().await;
    emu.task("once", "t3", "exit 0").await;
    emu.completed("once", "t3").await;
    assert!(prep_start("once").await.unwrap() > once1, "a reimage must rerun the preparation task");
}

#[tokio::test]
async fn a_restarted_container_node_fetches_its_images_again() {
    // Without a container engine the fetch fails: the restarted node is unusable again (with the
    // reason), not idle. UNCONFIRMED: a reboot also makes sure of the images (the node agent
    // starts anew); a reimage certainly does (fresh disk).
    let emu = emulator(Runner::Fake).await;
    let mut spec = pool_spec("c", 1, 1, "spread");
    spec.virtual_machine_configuration.as_mut().unwrap().container_configuration =
        Some(serde_json::from_value(json!({"type": "dockerCompatible", "containerImageNames": ["busybox"]})).unwrap());
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
    let nid = node_id(&emu, "c").await;
    assert_eq!(node(&emu, "c", &nid).await["state"], "unusable");
    node_action(&emu, "c", &nid, "reimage", json!({})).await.unwrap();
    emu.idle().await;
    let n = node(&emu, "c", &nid).await;
    assert_eq!(n["state"], "unusable", "{n}");
    assert_eq!(n["errors"][0]["code"], "ContainerEngineUnavailable");
    node_action(&emu, "c", &nid, "reboot", json!({})).await.unwrap();
    emu.idle().await;
    let n = node(&emu, "c", &nid).await;
    assert_eq!((n["state"].as_str(), n["errors"][0]["code"].as_str()), (Some("unusable"), Some("ContainerEngineUnavailable")), "{n}");
}

/// Deallocate Node and Start Node (api-version 2025-06-01): the running task follows the
/// option (requeue by default), the node is `deallocated` and takes no task; Start boots it
/// again through its start task, and the task runs there.
#[tokio::test]
async fn deallocate_stops_the_node_and_start_boots_it_again() {
    let emu = emulator(Runner::Fake).await;
    let nid = setup(&emu, 1).await;
    emu.task("j", "long", "hang").await;
    eventually("the task runs", || running(&emu, "j") == 1).await;
    let r = node_action(&emu, "p", &nid, "deallocate", json!({})).await.unwrap();
    assert_eq!(r.status, 202);
    assert_eq!(r.header("dataserviceid"), Some(format!("{}/pools/p/nodes/{nid}/deallocate", emu.running.url).as_str()));
    emu.idle().await;
    assert_eq!(node(&emu, "p", &nid).await["state"], "deallocated");
    assert_eq!(running(&emu, "j"), 0, "nothing runs on a deallocated node");
    let t = task(&emu, "j", "long").await;
    assert_eq!((t["state"].as_str(), t["executionInfo"]["requeueCount"].as_i64()), (Some("active"), Some(1)));
    let counts: Vec<Value> = emu.client.list_all("/nodecounts", &[]).await.unwrap();
    assert_eq!(counts[0]["dedicated"]["deallocated"], 1);
    // Other node operations wait for Start; Start on a node that is not deallocated is refused.
    assert_batch_error(node_action(&emu, "p", &nid, "reboot", json!({})).await, 409, "OperationNotValidOnNode");
    assert_batch_error(node_action(&emu, "p", &nid, "deallocate", json!({"nodeDeallocateOption": "sometimes"})).await, 400, "InvalidPropertyValue");
    node_action(&emu, "p", &nid, "start", json!({})).await.unwrap();
    eventually("the task runs again", || running(&emu, "j") == 1).await;
    let n = node(&emu, "p", &nid).await;
    assert_eq!((n["state"].as_str(), n["startTaskInfo"]["state"].as_str()), (Some("running"), Some("completed")), "{n}");
    assert_batch_error(node_action(&emu, "p", &nid, "start", json!({})).await, 409, "OperationNotValidOnNode");
    // terminate: the task completes as ended.
    node_action(&emu, "p", &nid, "deallocate", json!({"nodeDeallocateOption": "terminate"})).await.unwrap();
    emu.idle().await;
    let t = task(&emu, "j", "long").await;
    assert_eq!((t["state"].as_str(), t["executionInfo"]["failureInfo"]["code"].as_str()), (Some("completed"), Some("TaskEnded")));
}
