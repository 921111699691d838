//! Fault injection through the control API (`/emulator/...`, Batch's authentication):
//! throttling answered as the service throttles (429/503 with `Retry-After`), deterministic
//! shares, per operation, counted; latency; the official Python SDK's retry policy recovering
//! from injected 503s; Spot nodes preempted (their tasks rerun elsewhere) and recovered; nodes
//! made unusable; failed image pulls and resource-file downloads; reset to empty.

mod common;

#[path = "common/binary.rs"]
mod binary;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn control(c: &batch_client::BatchClient, method: Method, path: &str, body: Value) -> batch_client::RawResponse {
    c.send_raw(method, path, &[], &[], Some(serde_json::to_vec(&body).unwrap())).await.unwrap_or_else(|e| panic!("{path}: {e:?}"))
}

#[tokio::test]
async fn throttling_and_latency_are_injected_as_asked() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 0, 1, "spread").await;
    // Unsigned requests are refused, as on the Batch API.
    let anon = reqwest::Client::new().get(format!("{}/emulator/faults", emu.running.url)).send().await.unwrap();
    assert_eq!(anon.status(), 403);
    // A client that does not retry sees every answer.
    let raw = emu.client.clone().with_retry(batch_client::RetryPolicy { max_retries: 0, ..Default::default() });
    // Every other request answered 503 with Retry-After, then cleared.
    control(&emu.client, Method::PUT, "/emulator/faults/throttle", json!({"status": 503, "share": 0.5, "retryAfterSeconds": 2})).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        match raw.send_raw(Method::GET, "/pools/p", &[], &[], None).await {
            Ok(r) => statuses.push(r.status.as_u16()),
            Err(batch_client::ApiError::Service { status, error, response }) => {
                assert_eq!(error.unwrap().code, "ServerBusy");
                assert_eq!(response.headers.get("retry-after").unwrap(), "2");
                statuses.push(status.as_u16());
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(statuses, vec![200, 503, 200, 503]);
    control(&emu.client, Method::DELETE, "/emulator/faults/throttle", json!({})).await;
    // 429 for one operation only, twice.
    control(&emu.client, Method::PUT, "/emulator/faults/throttle", json!({"status": 429, "operation": "list_pools", "remaining": 2})).await;
    raw.send_raw(Method::GET, "/pools/p", &[], &[], None).await.expect("get_pool is not throttled");
    for _ in 0..2 {
        assert_batch_error(raw.send_raw(Method::GET, "/pools", &[], &[], None).await, 429, "TooManyRequests");
    }
    raw.send_raw(Method::GET, "/pools", &[], &[], None).await.expect("the two are used up");
    let faults: Value = serde_json::from_slice(&control(&emu.client, Method::GET, "/emulator/faults", json!(null)).await.body).unwrap();
    assert_eq!(faults["throttle"], Value::Null, "{faults}");
    // Latency.
    control(&emu.client, Method::PUT, "/emulator/faults/latency", json!({"milliseconds": 300, "operation": "get_pool"})).await;
    let t0 = Instant::now();
    emu.client.send_raw(Method::GET, "/pools/p", &[], &[], None).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(300));
    control(&emu.client, Method::DELETE, "/emulator/faults/latency", json!({})).await;
    // Bad settings are refused.
    let bad = raw.send_raw(Method::PUT, "/emulator/faults/throttle", &[], &[], Some(br#"{"status": 500}"#.to_vec())).await;
    assert!(matches!(&bad, Err(batch_client::ApiError::Service { status, .. }) if status.as_u16() == 400), "{bad:?}");
}

/// The official Python SDK's retry policy recovers from injected 503s (Retry-After honoured).
#[tokio::test]
async fn the_python_sdk_retries_through_injected_503s() {
    let out = std::process::Command::new("bash").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/setup-venvs.sh")).output().expect("setup-venvs.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let emu = binary::spawn(&[], &[]);
    let c = batch_client::BatchClient::new(&emu.url, batch_client::Credentials::SharedKey { account: emu.account.clone(), key: emu.key.clone() });
    control(&c, Method::PUT, "/emulator/faults/throttle", json!({"status": 503, "remaining": 2, "retryAfterSeconds": 1})).await;
    let script = "import sys\nfrom azure.batch import BatchClient\nfrom azure.core.credentials import AzureNamedKeyCredential\n\
        c = BatchClient(sys.argv[1], AzureNamedKeyCredential(sys.argv[2], sys.argv[3]))\nprint('pools', len(list(c.list_pools())))\n";
    let t0 = Instant::now();
    let out = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv-sdk15/bin/python"))
        .args(["-c", script, &emu.url, &emu.account, &emu.key])
        .output()
        .expect("python");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pools 0");
    assert!(t0.elapsed() >= Duration::from_secs(2), "two Retry-After waits of 1 s");
    let faults: Value = serde_json::from_slice(&control(&c, Method::GET, "/emulator/faults", json!(null)).await.body).unwrap();
    assert_eq!(faults["throttle"], Value::Null, "both 503s were answered: {faults}");
}

async fn node(c: &batch_client::BatchClient, pool: &str, node: &str) -> Value {
    serde_json::from_slice(&c.send_raw(Method::GET, &format!("/pools/{pool}/nodes/{node}"), &[], &[], None).await.unwrap().body).unwrap()
}

async fn wait_node_state(c: &batch_client::BatchClient, pool: &str, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = node(c, pool, id).await;
        if n["state"] == state {
            return n;
        }
        assert!(Instant::now() < deadline, "node {id} never {state}: {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn task_json(c: &batch_client::BatchClient, job: &str, task: &str) -> Value {
    serde_json::from_slice(&c.send_raw(Method::GET, &format!("/jobs/{job}/tasks/{task}"), &[], &[], None).await.unwrap().body).unwrap()
}

/// A preempted Spot node's running task goes back to `active` and reruns on another node (its
/// retry and requeue counts unchanged); the node stays `preempted` (counted in the pool and in
/// the node counts) until recovered. A node made unusable shows the given error, its task
/// reruns, and a reboot brings it back.
#[tokio::test]
async fn preempted_tasks_rerun_and_unusable_nodes_recover_by_reboot() {
    let emu = emulator(Runner::Local).await;
    let c = &emu.client;
    let mut pool = serde_json::to_value(pool_spec("spot", 0, 1, "spread")).unwrap();
    pool["targetLowPriorityNodes"] = json!(2);
    c.send_json(Method::POST, "/pools", &pool).await.unwrap();
    emu.idle().await;
    emu.job("j", "spot").await;
    emu.task("j", "t", "/bin/sh -c 'sleep 1; echo done'").await;
    let running = c.wait_for_task("j", "t", |s| s == "running", Duration::from_secs(20)).await.unwrap();
    let first = running.node_info.as_ref().and_then(|n| n.node_id.clone()).expect("a node");
    let path = format!("/emulator/pools/spot/nodes/{first}/preempt");
    assert_eq!(control(c, Method::POST, &path, json!(null)).await.status.as_u16(), 202);
    assert_eq!(node(c, "spot", &first).await["state"], "preempted");
    let done = emu.completed("j", "t").await;
    let t = task_json(c, "j", "t").await;
    assert_eq!(t["executionInfo"]["exitCode"], 0, "{t}");
    assert_eq!((t["executionInfo"]["retryCount"].as_i64(), t["executionInfo"]["requeueCount"].as_i64()), (Some(0), Some(0)), "{t}");
    let second = done.node_info.as_ref().and_then(|n| n.node_id.clone()).expect("a node");
    assert_ne!(second, first, "the task reran on the other node");
    let out = c.send_raw(Method::GET, "/jobs/j/tasks/t/files/stdout.txt", &[], &[], None).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.body), "done\n");
    // The preempted node is counted, and cannot be preempted again or rebooted.
    let p: Value = serde_json::from_slice(&c.send_raw(Method::GET, "/pools/spot", &[], &[], None).await.unwrap().body).unwrap();
    assert_eq!(p["currentLowPriorityNodes"], 2, "{p}");
    let counts: Value = serde_json::from_slice(&c.send_raw(Method::GET, "/nodecounts", &[], &[], None).await.unwrap().body).unwrap();
    assert_eq!(counts["value"][0]["lowPriority"]["preempted"], 1, "{counts}");
    assert_batch_error(c.emulator_preempt_node("spot", &first).await, 409, "OperationNotValidOnNode");
    assert_batch_error(c.send_raw(Method::POST, &format!("/pools/spot/nodes/{first}/reboot"), &[], &[], None).await, 409, "OperationNotValidOnNode");
    assert_batch_error(c.send_raw(Method::POST, "/emulator/pools/spot/nodes/nope/preempt", &[], &[], None).await, 404, "NodeNotFound");
    // Recovered (through the client's typed call), it comes back as a fresh node.
    c.emulator_recover_node("spot", &first).await.unwrap();
    wait_node_state(c, "spot", &first, "idle").await;
    // Unusable with the given error, while running a task: the task reruns on the other node.
    emu.task("j", "u", "/bin/sh -c 'sleep 1; echo again'").await;
    let running = c.wait_for_task("j", "u", |s| s == "running", Duration::from_secs(20)).await.unwrap();
    let broken = running.node_info.as_ref().and_then(|n| n.node_id.clone()).expect("a node");
    let error = json!({"code": "DiskFull", "message": "No space left on the temporary disk.", "errorDetails": [{"name": "Disk", "value": "/mnt"}]});
    c.emulator_make_node_unusable("spot", &broken, &[serde_json::from_value(error.clone()).unwrap()]).await.unwrap();
    let n = node(c, "spot", &broken).await;
    assert_eq!((n["state"].as_str(), n["errors"][0].clone()), (Some("unusable"), error), "{n}");
    let done = emu.completed("j", "u").await;
    assert_ne!(done.node_info.as_ref().and_then(|n| n.node_id.clone()).as_deref(), Some(broken.as_str()));
    c.send_raw(Method::POST, &format!("/pools/spot/nodes/{broken}/reboot"), &[], &[], None).await.unwrap();
    let n = wait_node_state(c, "spot", &broken, "idle").await;
    assert!(n.get("errors").is_none_or(|e| e.as_array().is_some_and(|a| a.is_empty())), "{n}");
}

/// The next resource-file download fails as asked; a reset empties the account (and a pool of
/// the same id can be made at once) and turns injected faults off.
#[tokio::test]
async fn failed_downloads_and_reset() {
    let emu = emulator(Runner::Local).await;
    let c = &emu.client;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    control(c, Method::PUT, "/emulator/faults/resource-file", json!({"status": 404, "message": "gone"})).await;
    let task = json!({"id": "rf", "commandLine": "/bin/true", "resourceFiles": [{"httpUrl": "http://127.0.0.1:9/x", "filePath": "x"}]});
    c.send_json(Method::POST, "/jobs/j/tasks", &task).await.unwrap();
    emu.completed("j", "rf").await;
    let t = task_json(c, "j", "rf").await;
    assert_eq!(t["executionInfo"]["failureInfo"]["code"], "BlobNotFound", "{t}");
    assert_eq!(t["executionInfo"]["failureInfo"]["category"], "usererror", "{t}");
    // Used up: the next download is attempted for real (and fails on its own: nothing listens).
    let faults: Value = serde_json::from_slice(&control(c, Method::GET, "/emulator/faults", json!(null)).await.body).unwrap();
    assert_eq!(faults["resourceFile"], Value::Null, "{faults}");
    // Reset.
    emu.task("j", "long", "/bin/sleep 30").await;
    c.wait_for_task("j", "long", |s| s == "running", Duration::from_secs(20)).await.unwrap();
    c.emulator_set_fault("latency", &json!({"milliseconds": 5})).await.unwrap();
    assert_eq!(control(c, Method::POST, "/emulator/reset", json!(null)).await.status.as_u16(), 202);
    for list in ["/pools", "/jobs", "/jobschedules"] {
        let v: Value = serde_json::from_slice(&c.send_raw(Method::GET, list, &[], &[], None).await.unwrap().body).unwrap();
        assert_eq!(v["value"], json!([]), "{list}: {v}");
    }
    let faults: Value = serde_json::from_slice(&control(c, Method::GET, "/emulator/faults", json!(null)).await.body).unwrap();
    assert_eq!(faults["latency"], Value::Null, "{faults}");
    emu.pool("p", 1, 1, "spread").await;
    emu.idle().await;
    assert_eq!(c.list_nodes("p").await.unwrap().len(), 1, "the new pool keeps its node once the old one's are removed");
}

/// The next image pull fails: the container pool's node turns `unusable` with the pull's error.
#[tokio::test]
async fn a_failed_image_pull_makes_the_node_unusable() {
    ensure_fixture_images();
    let emu = emulator(Runner::Docker).await;
    let c = &emu.client;
    c.emulator_set_fault("image-pull", &json!({"message": "registry unreachable"})).await.unwrap();
    let mut pool = serde_json::to_value(pool_spec("p", 1, 1, "spread")).unwrap();
    pool["virtualMachineConfiguration"]["containerConfiguration"] =
        json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/plain:1"]});
    c.send_json(Method::POST, "/pools", &pool).await.unwrap();
    emu.idle().await;
    let nodes = c.list_nodes("p").await.unwrap();
    let n = node(c, "p", nodes[0].id.as_str()).await;
    assert_eq!(n["state"], "unusable", "{n}");
    assert_eq!(n["errors"][0]["code"], "ContainerInvalidImage", "{n}");
    assert!(n["errors"][0]["errorDetails"].to_string().contains("registry unreachable"), "{n}");
    // One failure only: a reboot pulls again and the node comes up.
    c.send_raw(Method::POST, &format!("/pools/p/nodes/{}/reboot", nodes[0].id.as_str()), &[], &[], None).await.unwrap();
    wait_node_state(c, "p", nodes[0].id.as_str(), "idle").await;
}

/// `--fail-resource-files N` from the start: the first task with resource files fails its
/// download; a reset counts the flag's failures afresh.
#[tokio::test]
async fn the_fail_flags_set_failures_from_the_start() {
    let emu = emulator_configured(Runner::Local, std::sync::Arc::new(batch_emulator::clock::SystemClock), |c| c.fail_resource_files = Some(1)).await;
    let c = &emu.client;
    let faults: Value = serde_json::from_slice(&control(c, Method::GET, "/emulator/faults", json!(null)).await.body).unwrap();
    assert_eq!(faults["resourceFile"]["count"], 1, "{faults}");
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    let task = json!({"id": "rf", "commandLine": "/bin/true", "resourceFiles": [{"httpUrl": "http://127.0.0.1:9/x", "filePath": "x"}]});
    c.send_json(Method::POST, "/jobs/j/tasks", &task).await.unwrap();
    emu.completed("j", "rf").await;
    let t = task_json(c, "j", "rf").await;
    assert_eq!(t["executionInfo"]["failureInfo"]["code"], "BlobDownloadMiscError", "{t}");
    assert!(t["executionInfo"]["failureInfo"].to_string().contains("injected"), "{t}");
    c.emulator_reset().await.unwrap();
    let faults: Value = serde_json::from_slice(&control(c, Method::GET, "/emulator/faults", json!(null)).await.body).unwrap();
    assert_eq!(faults["resourceFile"]["count"], 1, "the flag's failure is back after a reset: {faults}");
}
