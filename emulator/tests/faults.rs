//! Fault injection through the control API (`/emulator/faults/...`, Batch's authentication):
//! throttling answered as the service throttles (429/503 with `Retry-After`), deterministic
//! shares, per operation, counted; latency; and the official Python SDK's retry policy
//! recovering from injected 503s.

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
