//! Requests that used to crash the emulator or make it work without bound, each answered now in
//! Batch's words, with the emulator still serving afterwards (issue 11's reproductions).

mod common;

#[path = "common/binary.rs"]
mod binary;

use batch_client::{BatchClient, Credentials};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn deeply_nested_filters_are_400_not_a_stack_overflow() {
    let emu = emulator(Runner::Fake).await;
    for filter in [format!("{}id eq 'x'{}", "(".repeat(2000), ")".repeat(2000)), format!("{}id eq 'x'", "not ".repeat(5000))] {
        let err = emu.client.get_json::<Value>("/jobs", &[("$filter", filter.as_str())]).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
        assert_eq!(err.code(), Some("InvalidQueryParameterValue"));
    }
    // Still serving.
    emu.client.get_json::<Value>("/jobs", &[("$filter", "(id eq 'x')")]).await.unwrap();
}

#[tokio::test]
async fn a_multi_byte_character_at_a_path_literal_is_answered_not_a_panic() {
    let emu = emulator(Runner::Fake).await;
    let addr = emu.running.url.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request =
        format!("GET /certificates(thumbprintAlgorithm\u{e9}sha1,thumbprint=a)?api-version=2025-06-01 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    emu.client.get_json::<Value>("/jobs", &[]).await.unwrap();
}

/// A range of 9e18 ids used to be expanded into a vector on every scheduling pass, under the
/// account lock, and again on every restart (the command is journalled).
#[tokio::test]
async fn a_huge_dependency_range_is_never_expanded() {
    let emu = binary::spawn(&[], &[]);
    let c = BatchClient::new(&emu.url, Credentials::SharedKey { account: emu.account.clone(), key: emu.key.clone() });
    c.create_pool(&pool_spec("p", 1, 1, "spread")).await.unwrap();
    let job = json!({"id": "j", "poolInfo": {"poolId": "p"}, "usesTaskDependencies": true});
    c.send_json(Method::POST, "/jobs", &job).await.unwrap();
    let huge = json!({"id": "waits", "commandLine": "/bin/true", "dependsOn": {"taskIdRanges": [{"start": 0, "end": 9_000_000_000_000_000_000u64}]}});
    c.send_json(Method::POST, "/jobs/j/tasks", &huge).await.unwrap();
    // Scheduling passes run (a task added and completed) while the dependent waits.
    c.create_task("j", &task_spec("other", "/bin/true")).await.unwrap();
    c.wait_for_task("j", "other", |s| s == "completed", Duration::from_secs(30)).await.unwrap();
    assert_eq!(c.get_task("j", "waits").await.unwrap().state.as_deref(), Some("active"));
    // A restart replays the command and comes up.
    let dir = emu.kill();
    let emu = binary::spawn_in(dir, &[], &[]);
    let c = BatchClient::new(&emu.url, Credentials::SharedKey { account: emu.account.clone(), key: emu.key.clone() });
    assert_eq!(c.get_task("j", "waits").await.unwrap().state.as_deref(), Some("active"));
}

/// A range the job's tasks cover is satisfied as before.
#[tokio::test]
async fn a_dependency_range_over_existing_tasks_is_satisfied() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 2, "spread").await;
    let job = json!({"id": "j", "poolInfo": {"poolId": "p"}, "usesTaskDependencies": true});
    emu.client.send_json(Method::POST, "/jobs", &job).await.unwrap();
    for id in ["1", "2", "3"] {
        emu.task("j", id, "exit 0").await;
    }
    let child = json!({"id": "child", "commandLine": "exit 0", "dependsOn": {"taskIdRanges": [{"start": 1, "end": 3}]}});
    emu.client.send_json(Method::POST, "/jobs/j/tasks", &child).await.unwrap();
    assert_eq!(emu.completed("j", "child").await.execution_info.unwrap().exit_code, Some(0));
}

/// The Azure CLI sends integer flags as JSON strings (`--target-dedicated-nodes 1` → `"1"`);
/// Batch's OData reader converts them, and so does the emulator.
#[tokio::test]
async fn numbers_and_booleans_sent_as_strings_are_converted_as_the_service_does() {
    let emu = emulator(Runner::Fake).await;
    let mut pool = serde_json::to_value(pool_spec("p", 0, 1, "spread")).unwrap();
    pool["targetDedicatedNodes"] = json!("1");
    pool["taskSlotsPerNode"] = json!("2");
    pool["enableInterNodeCommunication"] = json!("false");
    emu.client.send_json(Method::POST, "/pools", &pool).await.unwrap();
    emu.idle().await;
    let got: Value = emu.client.get_json("/pools/p", &[]).await.unwrap();
    assert_eq!((got["targetDedicatedNodes"].clone(), got["taskSlotsPerNode"].clone(), got["currentDedicatedNodes"].clone()), (json!(1), json!(2), json!(1)));
    let job = json!({"id": "j", "poolInfo": {"poolId": "p"}, "priority": "100", "constraints": {"maxTaskRetryCount": "2"}});
    emu.client.send_json(Method::POST, "/jobs", &job).await.unwrap();
    assert_eq!(emu.client.get_json::<Value>("/jobs/j", &[]).await.unwrap()["priority"], 100);
    emu.client.send_json(Method::POST, "/jobs/j/tasks", &json!({"id": "t", "commandLine": "exit 1", "constraints": {"maxTaskRetryCount": "1"}})).await.unwrap();
    assert_eq!(emu.completed("j", "t").await.execution_info.unwrap().retry_count, 1);
    // What does not convert is still a bad body.
    let e = emu.client.send_json(Method::POST, "/jobs", &json!({"id": "k", "poolInfo": {"poolId": "p"}, "priority": "high"})).await.unwrap_err();
    assert_eq!((e.status().map(|s| s.as_u16()), e.code()), (Some(400), Some("InvalidRequestBody")));
}

/// A task that swaps a directory for a symlink to `/etc` in a loop used to get the host's
/// `/etc/passwd` served now and then (the file API checked a path, then opened it). Every
/// access now resolves beneath the task directory.
#[tokio::test]
async fn a_symlink_swapped_in_during_a_read_never_leads_out_of_the_task_directory() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    // A tight loop (Python, not a shell spawning mv and ln) so the swap hits the window.
    // The real directory stays a moment each round (a tenth of a millisecond) so reads see it
    // even on a loaded machine; the swaps still come thousands of times a second.
    let swapper = r#"/bin/sh -c 'mkdir -p d; echo inside > d/passwd; printf "import os, time\nfor i in range(3000000):\n os.rename(\"d\", \"real\")\n os.symlink(\"/etc\", \"d\")\n os.remove(\"d\")\n os.rename(\"real\", \"d\")\n time.sleep(0.0001)\n" > swap.py; exec python3 swap.py'"#;
    emu.task("j", "t", swapper).await;
    let st = emu.state().clone();
    eventually("the swapper runs", move || st.read(|a| a.task("j", "t").is_ok_and(|t| t.state == batch_model::task::TaskState::Running))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut inside, mut missing) = (0, 0);
    for _ in 0..1500 {
        match emu.client.get_task_file("j", "t", "wd/d/passwd").await {
            Ok(body) => {
                let text = String::from_utf8_lossy(&body);
                assert_eq!(text, "inside\n", "a file from outside the task directory was served");
                inside += 1;
            }
            Err(e) => {
                assert_eq!(e.code(), Some("FileNotFound"));
                missing += 1;
            }
        }
    }
    // Both happened: the swap was live while the reads ran, and nothing else was ever served.
    assert!(inside > 0 && missing > 0, "served {inside}, missing {missing}");
    emu.client.send_raw(Method::POST, "/jobs/j/tasks/t/terminate", &[], &[], None).await.unwrap();
}
