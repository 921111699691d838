//! Output files against a real Azurite: patterns (`../std*.txt`, `**`, one file), `path` as
//! blob name or virtual directory, upload conditions, `uploadHeaders`, large files in blocks,
//! the upload logs, the documented failures and `fileUploadError`, and validation.

#[path = "common/azurite.rs"]
mod azurite;
mod common;

use batch_client::models::BatchTask;
use batch_emulator::clock::SystemClock;
use common::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn emulator_for(az: &azurite::Azurite) -> TestEmulator {
    let conn = az.connection_string();
    emulator_configured(Runner::Local, Arc::new(SystemClock), move |c| c.auto_storage = conn).await
}

fn output(pattern: &str, container_url: &str, path: Option<&str>, condition: &str) -> Value {
    let mut c = json!({"containerUrl": container_url});
    if let Some(p) = path {
        c["path"] = json!(p);
    }
    json!({"filePattern": pattern, "destination": {"container": c}, "uploadOptions": {"uploadCondition": condition}})
}

async fn add(emu: &TestEmulator, job: &str, task: Value) {
    emu.client.send_json(reqwest::Method::POST, &format!("/jobs/{job}/tasks"), &task).await.expect("add task");
}

fn failure(t: &BatchTask) -> (String, String) {
    let f = t.execution_info.as_ref().and_then(|i| i.failure_info.clone()).expect("failureInfo");
    (f.category, f.code.unwrap_or_default())
}

async fn task_files(emu: &TestEmulator, job: &str, task: &str) -> Vec<String> {
    let files: Vec<Value> = emu.client.list_all(&format!("/jobs/{job}/tasks/{task}/files"), &[("recursive", "true")]).await.unwrap();
    files.iter().filter_map(|f| f["name"].as_str().map(String::from)).collect()
}

#[tokio::test]
async fn matched_files_are_uploaded_before_the_task_completes() {
    let az = azurite::start();
    az.create_container("out").await;
    let emu = emulator_for(&az).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    let sas = az.container_sas("out", "w");
    add(
        &emu,
        "j",
        json!({"id": "t1", "commandLine": "/bin/sh -c 'echo result > out.txt; mkdir -p sub/deep; echo a > sub/a.txt; echo b > sub/deep/b.txt; echo c > sub/c.log; echo .h > .h.txt; head -c 9437184 /dev/urandom > big.bin; echo to-stdout'",
            "outputFiles": [
                output("../std*.txt", &sas, Some("t1"), "taskcompletion"),
                output("out.txt", &sas, Some("results/final.txt"), "tasksuccess"),
                output("out.txt", &sas, Some("never/out.txt"), "taskfailure"),
                output("**/*.txt", &sas, Some("all"), "taskcompletion"),
                output("big.bin", &sas, None, "taskcompletion"),
                output("nothing-*.csv", &sas, None, "taskcompletion"),
            ]}),
    )
    .await;
    // Headers go with the upload.
    let mut with_headers = output("out.txt", &sas, Some("typed.txt"), "taskcompletion");
    with_headers["destination"]["container"]["uploadHeaders"] = json!([{"name": "x-ms-blob-content-type", "value": "text/csv"}]);
    add(&emu, "j", json!({"id": "t2", "commandLine": "/bin/sh -c 'echo typed > out.txt'", "outputFiles": [with_headers]})).await;
    let t = emu.completed("j", "t1").await;
    let info = t.execution_info.clone().unwrap();
    assert_eq!((info.exit_code, info.result.as_deref()), (Some(0), Some("success")), "{info:?}");
    emu.completed("j", "t2").await;
    // `completed` comes after the uploads: everything is there now.
    let names = az.list("out").await;
    assert_eq!(
        names,
        ["all/out.txt", "all/sub/a.txt", "all/sub/deep/b.txt", "big.bin", "results/final.txt", "t1/stderr.txt", "t1/stdout.txt", "typed.txt"],
        "no leading-dot file, nothing for taskfailure, nothing for an unmatched pattern"
    );
    assert_eq!(az.get_blob("out", "results/final.txt").await.unwrap().0, b"result\n");
    assert_eq!(az.get_blob("out", "t1/stdout.txt").await.unwrap().0, b"to-stdout\n");
    let big = az.get_blob("out", "big.bin").await.unwrap().0;
    let local = emu.client.get_task_file("j", "t1", "wd/big.bin").await.unwrap();
    assert_eq!((big.len(), big == local), (9_437_184, true), "a large file goes in blocks, whole");
    let (_, headers) = az.get_blob("out", "typed.txt").await.unwrap();
    assert_eq!(headers.get("content-type").and_then(|v| v.to_str().ok()), Some("text/csv"));
    // The upload logs, in the task directory.
    let files = task_files(&emu, "j", "t1").await;
    assert!(files.contains(&"fileuploadout.txt".to_string()) && files.contains(&"fileuploaderr.txt".to_string()), "{files:?}");
    let log = String::from_utf8(emu.client.get_task_file("j", "t1", "fileuploadout.txt").await.unwrap()).unwrap();
    assert!(log.contains("results/final.txt") && log.contains("nothing-*.csv: no file matched"), "{log}");
}

#[tokio::test]
async fn a_failed_upload_fails_the_task_and_file_upload_error_applies() {
    let az = azurite::start();
    az.create_container("readonly").await;
    let emu = emulator_for(&az).await;
    emu.pool("p", 1, 2, "spread").await;
    emu.client
        .send_json(reqwest::Method::POST, "/jobs", &json!({"id": "j", "poolInfo": {"poolId": "p"}, "onTaskFailure": "performexitoptionsjobaction"}))
        .await
        .unwrap();
    let cmd = "/bin/sh -c 'echo x > out.txt'";
    add(
        &emu,
        "j",
        json!({"id": "missing", "commandLine": cmd, "constraints": {"maxTaskRetryCount": 2}, "outputFiles": [output("out.txt", &az.container_sas("absent", "w"), None, "taskcompletion")],
            "exitConditions": {"default": {"jobAction": "none"}, "fileUploadError": {"jobAction": "none"}}}),
    )
    .await;
    add(
        &emu,
        "j",
        json!({"id": "denied", "commandLine": cmd, "outputFiles": [output("out.txt", &az.container_sas("readonly", "r"), None, "taskcompletion")],
            "exitConditions": {"default": {"jobAction": "none"}, "fileUploadError": {"jobAction": "none"}}}),
    )
    .await;
    let t = emu.completed("j", "missing").await;
    let info = t.execution_info.clone().unwrap();
    assert_eq!(failure(&t), ("usererror".into(), "FileUploadContainerNotFound".into()));
    assert_eq!((info.exit_code, info.result.as_deref(), info.retry_count), (Some(0), Some("failure"), 0), "not retried: {info:?}");
    assert!(!format!("{:?}", info.failure_info).contains("sig="), "the SAS is not shown");
    let err = String::from_utf8(emu.client.get_task_file("j", "missing", "fileuploaderr.txt").await.unwrap()).unwrap();
    assert!(err.contains("out.txt"), "{err}");
    let t = emu.completed("j", "denied").await;
    assert_eq!(failure(&t), ("usererror".into(), "FileUploadAccessDenied".into()));
    assert_eq!(emu.client.get_job("j").await.unwrap().state.as_deref(), Some("active"), "fileUploadError said none");

    // fileUploadError terminates the job; a listed exit code would have won.
    add(
        &emu,
        "j",
        json!({"id": "terminates", "commandLine": cmd, "outputFiles": [output("out.txt", &az.container_sas("absent", "w"), None, "taskcompletion")],
            "exitConditions": {"default": {"jobAction": "none"}, "fileUploadError": {"jobAction": "terminate"}}}),
    )
    .await;
    emu.completed("j", "terminates").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let job = emu.client.get_job("j").await.unwrap();
        if job.state.as_deref() == Some("completed") {
            assert_eq!(job.execution_info.and_then(|i| i.terminate_reason).as_deref(), Some("TaskFailed"));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the job terminates: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_task_that_never_ran_uploads_nothing() {
    let az = azurite::start();
    az.create_container("out").await;
    let emu = emulator_for(&az).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    add(
        &emu,
        "j",
        json!({"id": "t", "commandLine": "/bin/true", "resourceFiles": [{"httpUrl": az.blob_sas("out", "missing", "r"), "filePath": "x"}],
            "outputFiles": [output("../std*.txt", &az.container_sas("out", "w"), None, "taskcompletion")]}),
    )
    .await;
    let t = emu.completed("j", "t").await;
    assert_eq!(failure(&t).1, "BlobNotFound");
    assert!(az.list("out").await.is_empty());
    assert!(!task_files(&emu, "j", "t").await.iter().any(|f| f.starts_with("fileupload")), "no upload was attempted");
}

#[tokio::test]
async fn entries_are_validated_when_the_task_is_added() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    let post = |of: Value| {
        let c = emu.client.clone();
        async move { c.send_json(reqwest::Method::POST, "/jobs/j/tasks", &json!({"id": "t", "commandLine": "x", "outputFiles": [of]})).await }
    };
    let good = output("*.txt", "https://a.blob.core.windows.net/c?sig=x", None, "tasksuccess");
    let mut no_condition = good.clone();
    no_condition.as_object_mut().unwrap().remove("uploadOptions");
    assert_batch_error(post(no_condition).await, 400, "MissingRequiredProperty");
    let mut bad_condition = good.clone();
    bad_condition["uploadOptions"]["uploadCondition"] = json!("sometimes");
    assert_batch_error(post(bad_condition).await, 400, "InvalidPropertyValue");
    let mut no_url = good.clone();
    no_url["destination"]["container"].as_object_mut().unwrap().remove("containerUrl");
    assert_batch_error(post(no_url).await, 400, "MissingRequiredProperty");
    let mut identity = good.clone();
    identity["destination"]["container"]["identityReference"] = json!({"resourceId": "/x"});
    assert_batch_error(post(identity).await, 501, "NotImplemented");
    post(good).await.expect("a valid entry is taken");
}

/// Upload Batch service logs: the node agent's own logs (what it did for that node, with
/// times) go to the container under `<pool>/<node>/<unique id>/`; the answer counts them.
#[tokio::test]
async fn node_logs_are_uploaded_to_the_container() {
    let az = azurite::start();
    az.create_container("logs").await;
    let emu = emulator_for(&az).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "t", "/bin/true").await;
    emu.completed("j", "t").await;
    let node = emu.client.list_nodes("p").await.unwrap()[0].id.clone();
    let path = format!("/pools/p/nodes/{node}/uploadbatchservicelogs");
    let body = json!({"containerUrl": az.container_sas("logs", "w"), "startTime": "2020-01-01T00:00:00Z"});
    let r: Value = emu.client.send_json(reqwest::Method::POST, &path, &body).await.map(|r| serde_json::from_slice(&r.body).unwrap()).unwrap();
    let dir = r["virtualDirectoryName"].as_str().unwrap().to_string();
    assert!(dir.starts_with(&format!("p/{node}/")), "{r}");
    assert_eq!(r["numberOfFilesUploaded"], 2, "{r}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let names = loop {
        let names = az.list("logs").await;
        if names.len() == 2 || tokio::time::Instant::now() > deadline {
            break names;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(names, [format!("{dir}/agent.log"), format!("{dir}/task-runner.log")]);
    let runner = String::from_utf8(az.get_blob("logs", &format!("{dir}/task-runner.log")).await.unwrap().0).unwrap();
    assert!(runner.contains("j/t starting") && runner.contains("exited with code 0"), "{runner}");
    // Nothing logged in a range in the future; a missing start time; an unknown node.
    let later = json!({"containerUrl": az.container_sas("logs", "w"), "startTime": "2999-01-01T00:00:00Z"});
    let r: Value = emu.client.send_json(reqwest::Method::POST, &path, &later).await.map(|r| serde_json::from_slice(&r.body).unwrap()).unwrap();
    assert_eq!(r["numberOfFilesUploaded"], 0);
    assert_batch_error(
        emu.client.send_json(reqwest::Method::POST, &path, &json!({"containerUrl": az.container_sas("logs", "w")})).await,
        400,
        "MissingRequiredProperty",
    );
    assert_batch_error(emu.client.send_json(reqwest::Method::POST, "/pools/p/nodes/nope/uploadbatchservicelogs", &body).await, 404, "NodeNotFound");
}
