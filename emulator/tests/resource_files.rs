//! Resource files against a real Azurite: `httpUrl` (a blob's SAS URL), `storageContainerUrl`
//! with `blobPrefix` and `filePath`, `autoStorageContainerName` through the linked storage,
//! `fileMode`, start tasks, the documented failures (the command never runs, no retry,
//! `preProcessingError`), a hanging endpoint, and the validation of the entries.

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

async fn add(emu: &TestEmulator, job: &str, task: Value) {
    emu.client.send_json(reqwest::Method::POST, &format!("/jobs/{job}/tasks"), &task).await.expect("add task");
}

async fn stdout(emu: &TestEmulator, job: &str, task: &str) -> String {
    String::from_utf8(emu.client.get_task_file(job, task, "stdout.txt").await.expect("stdout")).expect("utf-8")
}

fn failure_code(t: &BatchTask) -> (String, String) {
    let f = t.execution_info.as_ref().and_then(|i| i.failure_info.clone()).expect("failureInfo");
    (f.category, f.code.unwrap_or_default())
}

#[tokio::test]
async fn http_urls_and_containers_are_downloaded_before_the_command_runs() {
    let az = azurite::start();
    az.create_container("input").await;
    az.put_blob("input", "data/one.txt", b"one\n").await;
    az.put_blob("input", "data/sub/two.txt", b"two\n").await;
    az.put_blob("input", "other/three.txt", b"three\n").await;
    az.create_container("linked").await;
    az.put_blob("linked", "model.bin", b"weights\n").await;
    let emu = emulator_for(&az).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    add(
        &emu,
        "j",
        json!({"id": "t", "commandLine": "/bin/sh -c 'cat in/x.txt got/data/one.txt got/data/sub/two.txt model.bin; stat -c %a in/x.txt got/data/one.txt; ls got; test ! -e got/other'",
            "resourceFiles": [
                {"httpUrl": az.blob_sas("input", "other/three.txt", "r"), "filePath": "in/x.txt", "fileMode": "0640"},
                {"storageContainerUrl": az.container_sas("input", "rl"), "blobPrefix": "data/", "filePath": "got"},
                {"autoStorageContainerName": "linked"}
            ]}),
    )
    .await;
    let t = emu.completed("j", "t").await;
    let info = t.execution_info.clone().unwrap();
    assert_eq!((info.exit_code, info.result.as_deref()), (Some(0), Some("success")), "{info:?}\n{}", stdout(&emu, "j", "t").await);
    assert_eq!(stdout(&emu, "j", "t").await, "three\none\ntwo\nweights\n640\n770\ndata\n");
    // The entries are echoed as sent.
    let got: Value = emu.client.get_json("/jobs/j/tasks/t", &[]).await.unwrap();
    assert_eq!(got["resourceFiles"][1]["blobPrefix"], "data/");
}

#[tokio::test]
async fn a_failed_download_completes_the_task_before_its_command_runs_and_is_not_retried() {
    let az = azurite::start();
    az.create_container("input").await;
    az.put_blob("input", "a.txt", b"a").await;
    let emu = emulator_for(&az).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    let cases = [
        ("missing", json!({"httpUrl": az.blob_sas("input", "nope.txt", "r"), "filePath": "x"}), "usererror", "BlobNotFound"),
        ("nolist", json!({"storageContainerUrl": az.container_sas("input", "r")}), "usererror", "ResourceContainerAccessDenied"),
        ("nocontainer", json!({"storageContainerUrl": az.container_sas("absent", "rl")}), "usererror", "ResourceContainerNotFound"),
        ("unsigned", json!({"httpUrl": format!("{}/a.txt", az.container_url("input")), "filePath": "x"}), "usererror", "BlobAccessDenied"),
        ("refused", json!({"httpUrl": "http://127.0.0.1:9/x", "filePath": "x"}), "servererror", "BlobDownloadMiscError"),
        ("autoabsent", json!({"autoStorageContainerName": "absent"}), "usererror", "ResourceContainerNotFound"),
    ];
    for (id, rf, _, _) in &cases {
        add(&emu, "j", json!({"id": id, "commandLine": "/bin/sh -c 'touch ../ran'", "constraints": {"maxTaskRetryCount": 3}, "resourceFiles": [rf]})).await;
    }
    for (id, _, category, code) in cases {
        let t = emu.completed("j", id).await;
        let info = t.execution_info.clone().unwrap();
        assert_eq!(failure_code(&t), (category.to_string(), code.to_string()), "{id}: {info:?}");
        assert_eq!((info.result.as_deref(), info.exit_code, info.retry_count), (Some("failure"), None, 0), "{id}: not retried, no exit code");
        assert!(info.start_time.is_some() && info.end_time.is_some(), "{id}");
        let details = format!("{:?}", info.failure_info);
        assert!(!details.contains("sig="), "{id}: the SAS is not shown: {details}");
        let files = emu.client.list_all::<Value>(&format!("/jobs/j/tasks/{id}/files"), &[("recursive", "true")]).await.unwrap();
        assert!(!files.iter().any(|f| f["name"] == "ran"), "{id}: the command never ran: {files:?}");
    }
}

#[tokio::test]
async fn pre_processing_errors_take_the_exit_conditions_pre_processing_action() {
    let az = azurite::start();
    let emu = emulator_for(&az).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.client
        .send_json(reqwest::Method::POST, "/jobs", &json!({"id": "j", "poolInfo": {"poolId": "p"}, "onTaskFailure": "performexitoptionsjobaction"}))
        .await
        .unwrap();
    add(
        &emu,
        "j",
        json!({"id": "t", "commandLine": "/bin/true", "resourceFiles": [{"storageContainerUrl": az.container_sas("absent", "rl")}],
            "exitConditions": {"preProcessingError": {"jobAction": "terminate"}, "default": {"jobAction": "none"}}}),
    )
    .await;
    emu.completed("j", "t").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let job = loop {
        let job = emu.client.get_job("j").await.unwrap();
        if job.state.as_deref() == Some("completed") {
            break job;
        }
        assert!(tokio::time::Instant::now() < deadline, "the job terminates: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(job.execution_info.and_then(|i| i.terminate_reason).as_deref(), Some("TaskFailed"));
}

#[tokio::test]
async fn start_task_resource_files_land_in_startup_wd() {
    let az = azurite::start();
    az.create_container("tools").await;
    az.put_blob("tools", "setup.sh", b"echo installed > $AZ_BATCH_NODE_SHARED_DIR/marker\n").await;
    let emu = emulator_for(&az).await;
    let mut spec = serde_json::to_value(pool_spec("p", 1, 1, "spread")).unwrap();
    spec["startTask"] =
        json!({"commandLine": "/bin/sh setup.sh", "waitForSuccess": true, "resourceFiles": [{"storageContainerUrl": az.container_sas("tools", "rl")}]});
    emu.client.send_json(reqwest::Method::POST, "/pools", &spec).await.unwrap();
    emu.idle().await;
    let nodes = emu.client.list_nodes("p").await.unwrap();
    assert_eq!(nodes[0].state.as_deref(), Some("idle"), "{nodes:?}");
    let node = nodes[0].id.clone();
    let marker = emu.client.send_raw(reqwest::Method::GET, &format!("/pools/p/nodes/{node}/files/shared%2Fmarker"), &[], &[], None).await.unwrap();
    assert_eq!(marker.body, b"installed\n");
    let script = emu.client.send_raw(reqwest::Method::GET, &format!("/pools/p/nodes/{node}/files/startup%2Fwd%2Fsetup.sh"), &[], &[], None).await.unwrap();
    assert!(script.body.starts_with(b"echo installed"));
}

#[tokio::test]
async fn a_hanging_endpoint_fails_only_its_task_after_the_storage_timeout() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let emu = emulator_configured(Runner::Local, Arc::new(SystemClock), |c| c.storage_timeout = 1).await;
    emu.pool("p", 1, 2, "spread").await;
    emu.job("j", "p").await;
    add(&emu, "j", json!({"id": "slow", "commandLine": "/bin/true", "resourceFiles": [{"httpUrl": format!("http://{addr}/x"), "filePath": "x"}]})).await;
    // Meanwhile the API answers and other tasks run.
    emu.task("j", "fast", "/bin/true").await;
    let fast = emu.completed("j", "fast").await;
    assert_eq!(fast.execution_info.unwrap().exit_code, Some(0));
    let t = emu.completed("j", "slow").await;
    assert_eq!(failure_code(&t), ("servererror".to_string(), "BlobDownloadTimedOut".to_string()));
}

#[tokio::test]
async fn entries_are_validated_when_the_task_is_added() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    let post = |rf: Value| {
        let c = emu.client.clone();
        async move { c.send_json(reqwest::Method::POST, "/jobs/j/tasks", &json!({"id": "t", "commandLine": "x", "resourceFiles": [rf]})).await }
    };
    assert_batch_error(post(json!({"httpUrl": "https://h/x"})).await, 400, "MissingRequiredProperty");
    assert_batch_error(post(json!({"filePath": "x"})).await, 400, "InvalidPropertyValue");
    assert_batch_error(post(json!({"httpUrl": "https://h/x", "autoStorageContainerName": "c", "filePath": "x"})).await, 400, "InvalidPropertyValue");
    let e = assert_batch_error(post(json!({"httpUrl": "https://h/x", "filePath": "../../etc/x"})).await, 400, "InvalidPropertyValue");
    assert!(format!("{e:?}").contains("filePath"), "{e:?}");
    assert_batch_error(post(json!({"httpUrl": "https://h/x", "filePath": "x", "fileMode": "rwx"})).await, 400, "InvalidPropertyValue");
    assert_batch_error(post(json!({"httpUrl": "https://h/x", "filePath": "x", "identityReference": {"resourceId": "/x"}})).await, 501, "NotImplemented");
    // Start, preparation and release tasks validate theirs too.
    let r = emu
        .client
        .send_json(
            reqwest::Method::POST,
            "/jobs",
            &json!({"id": "j2", "poolInfo": {"poolId": "p"}, "jobPreparationTask": {"commandLine": "x", "resourceFiles": [{"httpUrl": "https://h/x", "filePath": "/abs"}]}}),
        )
        .await;
    assert_batch_error(r, 400, "InvalidPropertyValue");
}

/// A container task sees its resource files in its container's working directory, and what it
/// writes there is uploaded as output files (both transfers happen on the node, outside the
/// container). Needs the Docker engine and the fixture images: fails loudly without them.
#[tokio::test]
async fn container_tasks_see_their_resource_files_and_upload_their_outputs() {
    ensure_fixture_images();
    let az = azurite::start();
    az.create_container("taskio").await;
    az.put_blob("taskio", "in.txt", b"from storage\n").await;
    let conn = az.connection_string();
    let emu = emulator_configured(Runner::Docker, Arc::new(SystemClock), move |c| c.auto_storage = conn).await;
    let mut pool = serde_json::to_value(pool_spec("p", 1, 1, "spread")).unwrap();
    pool["virtualMachineConfiguration"]["containerConfiguration"] =
        json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/plain:1"]});
    emu.client.send_json(reqwest::Method::POST, "/pools", &pool).await.unwrap();
    emu.idle().await;
    emu.job("j", "p").await;
    add(
        &emu,
        "j",
        json!({"id": "t", "commandLine": "/bin/sh -c 'pwd; cat in.txt; tr a-z A-Z < in.txt > out.txt'",
            "containerSettings": {"imageName": "batch-emulator-fixture/plain:1"},
            "resourceFiles": [{"httpUrl": az.blob_sas("taskio", "in.txt", "r"), "filePath": "in.txt"}],
            "outputFiles": [{"filePattern": "out.txt", "destination": {"container": {"containerUrl": az.container_sas("taskio", "w"), "path": "results/out.txt"}},
                "uploadOptions": {"uploadCondition": "tasksuccess"}}]}),
    )
    .await;
    let t = emu.completed("j", "t").await;
    let info = t.execution_info.clone().unwrap();
    assert_eq!((info.exit_code, info.result.as_deref()), (Some(0), Some("success")), "{info:?}");
    let out = stdout(&emu, "j", "t").await;
    assert!(out.ends_with("/wd\nfrom storage\n"), "{out}");
    assert_eq!(az.get_blob("taskio", "results/out.txt").await.unwrap().0, b"FROM STORAGE\n");
}
