//! The dashboard (`/emulator/dashboard/`): its data API reads through the Batch API's handlers
//! with its own token and nothing else, streams a task's output as it is written, lists the
//! recent requests; and, in headless Chromium (Debian's `chromium`, driven by playwright-core
//! from `tests/js`), shows a running task's stdout live and the heat map following a node's
//! state (`tests/js/dashboard.cjs`).

mod common;

#[path = "common/binary.rs"]
mod binary;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn dashboard(emu: &TestEmulator, path: &str) -> String {
    format!("{}/emulator/dashboard/{path}", emu.running.url)
}

#[tokio::test]
async fn the_data_api_needs_the_token_reads_as_the_batch_api_and_streams_output() {
    let emu = emulator(Runner::Local).await;
    let token = batch_emulator::api::dashboard::token(emu.state().account_key());
    let http = reqwest::Client::new();
    // The page is served to anyone, locked down; the data is not.
    let page = http.get(dashboard(&emu, "")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert!(page.text().await.unwrap().contains("app.js"));
    let redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = redirect.get(format!("{}/emulator/dashboard", emu.running.url)).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (308, "/emulator/dashboard/"));
    for t in [None, Some("wrong")] {
        let mut req = http.get(dashboard(&emu, "api/batch/pools"));
        if let Some(t) = t {
            req = req.header("x-dashboard-token", t);
        }
        assert_eq!(req.send().await.unwrap().status(), 401);
    }
    let get = |path: &str| http.get(dashboard(&emu, path)).header("x-dashboard-token", &token).send();
    // Read-only: nothing but GET (the control actions need --dashboard-actions).
    for path in ["api/batch/pools", "api/control/reset"] {
        let post = http.post(dashboard(&emu, path)).header("x-dashboard-token", &token).body("{}").send().await.unwrap();
        assert_eq!(post.status(), 405, "{path}");
    }

    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "t", "/bin/sh -c 'echo a; sleep 1; echo b; echo oops >&2'").await;
    // The Batch API's own answers: a list, a filter, an error.
    let pools: Value = get("api/batch/pools").await.unwrap().json().await.unwrap();
    assert_eq!(pools["value"][0]["id"], "p", "{pools}");
    let missing = get("api/batch/pools/nope").await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.unwrap()["code"], "PoolNotFound");
    // The control API is not reachable through it.
    let control = get("api/batch/emulator/faults").await.unwrap();
    assert_ne!(control.status(), 200);
    // stdout as it is written, until the task completes.
    emu.client.wait_for_task("j", "t", |s| s == "running", Duration::from_secs(20)).await.unwrap();
    let t0 = Instant::now();
    let mut stream = get("api/stream/jobs/j/tasks/t/stdout.txt").await.unwrap();
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.unwrap().expect("a first chunk");
    assert!(first.starts_with(b"a\n"), "{first:?}");
    let mut all = first.to_vec();
    while let Some(c) = stream.chunk().await.unwrap() {
        all.extend_from_slice(&c);
    }
    assert_eq!(String::from_utf8_lossy(&all), "a\nb\n");
    assert!(t0.elapsed() < Duration::from_secs(15), "the stream ends with the task");
    let task = emu.completed("j", "t").await;
    assert_eq!(task.state.as_deref(), Some("completed"));
    // The query goes through as sent: a filter that matches the task, and one that does not.
    for (state, expected) in [("completed", 1), ("active", 0)] {
        let filtered: Value = get(&format!("api/batch/jobs/j/tasks?$filter=state%20eq%20%27{state}%27&$select=id,state")).await.unwrap().json().await.unwrap();
        assert_eq!(filtered["value"].as_array().map(Vec::len), Some(expected), "{state}: {filtered}");
    }
    let err = get("api/stream/jobs/j/tasks/t/stderr.txt").await.unwrap().text().await.unwrap();
    assert_eq!(err, "oops\n");
    // Only the two output files stream; an unknown task has nothing to stream.
    assert_eq!(get("api/stream/jobs/j/tasks/t/..%2Fsecret").await.unwrap().status(), 404);
    assert_eq!(get("api/stream/jobs/j/tasks/nope/stdout.txt").await.unwrap().status(), 404);
    // The recent requests: the client's, newest first, not the dashboard's own reads.
    let recent: Value = get("api/requests").await.unwrap().json().await.unwrap();
    let ops: Vec<&str> = recent["value"].as_array().unwrap().iter().map(|r| r["operation"].as_str().unwrap()).collect();
    assert!(ops.contains(&"create_task") && ops.contains(&"create_pool"), "{ops:?}");
    let create = recent["value"].as_array().unwrap().iter().find(|r| r["operation"] == "create_task").unwrap();
    assert_eq!((create["status"].as_u64(), create["method"].as_str()), (Some(201), Some("POST")), "{create}");
    assert!(create["latencyMs"].as_f64().is_some() && create["requestId"].as_str().is_some_and(|s| !s.is_empty()), "{create}");
    assert!(!ops.contains(&"list_pools"), "the dashboard's reads are not the client's requests: {ops:?}");
    let activity: Value = get("api/activity").await.unwrap().json().await.unwrap();
    assert_eq!(activity, json!({}), "nothing is being pulled or downloaded now");
}

/// With `--dashboard-actions` the dashboard may make a node unusable, preempt and recover one,
/// and reset the account (on its token), and nothing else of the control API.
#[tokio::test]
async fn with_actions_the_dashboard_injects_node_faults_and_resets() {
    let emu = emulator_configured(Runner::Fake, std::sync::Arc::new(batch_emulator::clock::SystemClock), |c| c.dashboard_actions = true).await;
    let token = batch_emulator::api::dashboard::token(emu.state().account_key());
    let http = reqwest::Client::new();
    let post = |path: &str, token: &str| http.post(dashboard(&emu, path)).header("x-dashboard-token", token).body("{}").send();
    emu.pool("p", 1, 1, "spread").await;
    let node = emu.client.list_nodes("p").await.unwrap()[0].id.clone();
    let unusable = format!("api/control/pools/p/nodes/{node}/unusable");
    assert_eq!(post(&unusable, "wrong").await.unwrap().status(), 401);
    assert_eq!(post(&unusable, &token).await.unwrap().status(), 202);
    let n = emu.client.list_nodes("p").await.unwrap().remove(0);
    assert_eq!(n.state.as_deref(), Some("unusable"));
    // A dedicated node is not preempted: Batch's answer comes back.
    let preempt = post(&format!("api/control/pools/p/nodes/{node}/preempt"), &token).await.unwrap();
    assert_eq!(preempt.status(), 409);
    assert_eq!(preempt.json::<Value>().await.unwrap()["code"], "OperationNotValidOnNode");
    // Only node faults and reset: not throttling.
    assert_eq!(post("api/control/faults/throttle", &token).await.unwrap().status(), 404);
    let info: Value = http.get(dashboard(&emu, "api/info")).header("x-dashboard-token", &token).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["actions"], true);
    assert_eq!(post("api/control/reset", &token).await.unwrap().status(), 202);
    let pools: Vec<Value> = emu.client.list_all("/pools", &[]).await.unwrap();
    assert!(pools.is_empty(), "{pools:?}");
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// The dashboard in a real browser: live stdout, the heat map, filters, files, requests.
#[test]
fn headless_chromium_shows_live_stdout_and_the_heat_map() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(std::path::Path::new(&chromium).exists(), "no Chromium at {chromium}: install Debian's chromium (scripts/test does) or set CHROMIUM");
    let out = std::process::Command::new("bash").arg(repo().join("tests/js/setup.sh")).output().expect("run tests/js/setup.sh");
    assert!(out.status.success(), "tests/js/setup.sh failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let emu = binary::spawn(&["--dashboard-actions"], &[]);
    let link = emu.banner.iter().find_map(|l| l.trim().strip_prefix("dashboard: ")).expect("the banner links the dashboard").to_string();
    let out = std::process::Command::new("node")
        .arg(repo().join("tests/js/dashboard.cjs"))
        .args([&emu.url, &emu.account, &emu.key, &link])
        .env("CHROMIUM", &chromium)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("dashboard: OK"), "dashboard.cjs failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// While a resource file downloads, the dashboard shows it as the node's activity (and the
/// activity goes when the download is done).
#[tokio::test]
async fn a_download_in_progress_is_the_nodes_activity() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emu = emulator(Runner::Local).await;
    let token = batch_emulator::api::dashboard::token(emu.state().account_key());
    // A web server that sends half a file, then waits to be let go.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").await.unwrap();
        s.flush().await.unwrap();
        let _ = released.await;
        s.write_all(b"cde").await.unwrap();
    });
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    let task =
        json!({"id": "t", "commandLine": "/bin/cat in.txt", "resourceFiles": [{"httpUrl": format!("http://127.0.0.1:{port}/in.txt"), "filePath": "in.txt"}]});
    emu.client.send_json(reqwest::Method::POST, "/jobs/j/tasks", &task).await.unwrap();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let activity = loop {
        let a: Value = http.get(dashboard(&emu, "api/activity")).header("x-dashboard-token", &token).send().await.unwrap().json().await.unwrap();
        if let Some((_, what)) = a.as_object().and_then(|o| o.iter().next()) {
            break what.as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no activity shown while the download hangs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(activity.starts_with("downloading resource files for task j/t: 0 of 1 files"), "{activity}");
    release.send(()).unwrap();
    server.await.unwrap();
    let t = emu.completed("j", "t").await;
    assert_eq!(t.execution_info.as_ref().and_then(|i| i.exit_code), Some(0), "{t:?}");
    assert_eq!(emu.client.get_task_file("j", "t", "stdout.txt").await.unwrap(), b"abcde");
    let a: Value = http.get(dashboard(&emu, "api/activity")).header("x-dashboard-token", &token).send().await.unwrap().json().await.unwrap();
    assert_eq!(a, json!({}));
}
