//! Properties that used to be accepted and dropped, now acted on (the field ledger's applied
//! rows): the task's user identity and the pool's user accounts, `authenticationTokenSettings`
//! and the token it gives, `affinityInfo`, a patched pool start task, and nodes' `recentTasks`.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;

async fn env_of(emu: &TestEmulator, job: &str, task: &str) -> HashMap<String, String> {
    let out = String::from_utf8(emu.client.get_task_file(job, task, "stdout.txt").await.unwrap()).unwrap();
    out.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn add(emu: &TestEmulator, job: &str, task: Value) {
    emu.client.send_json(Method::POST, &format!("/jobs/{job}/tasks"), &task).await.unwrap();
}

#[tokio::test]
async fn the_task_user_identity_is_the_tasks_auto_user_or_named_account() {
    let emu = emulator(Runner::Local).await;
    let mut pool = serde_json::to_value(pool_spec("p", 1, 4, "spread")).unwrap();
    pool["userAccounts"] = json!([{"name": "runner", "password": "secret", "elevationLevel": "admin"}]);
    emu.client.send_json(Method::POST, "/pools", &pool).await.unwrap();
    emu.job("j", "p").await;
    let auto = |scope: &str, level: &str| json!({"autoUser": {"scope": scope, "elevationLevel": level}});
    add(&emu, "j", json!({"id": "default", "commandLine": "/usr/bin/env"})).await;
    add(&emu, "j", json!({"id": "pool-admin", "commandLine": "/usr/bin/env", "userIdentity": auto("pool", "admin")})).await;
    add(&emu, "j", json!({"id": "task-user", "commandLine": "/usr/bin/env", "userIdentity": auto("task", "nonadmin")})).await;
    add(&emu, "j", json!({"id": "named", "commandLine": "/usr/bin/env", "userIdentity": {"username": "runner"}})).await;
    add(&emu, "j", json!({"id": "stranger", "commandLine": "/usr/bin/env", "userIdentity": {"username": "nobody"}})).await;
    for (task, identity, user) in [
        ("default", "PoolNonAdmin", "_azbatch"),
        ("pool-admin", "PoolAdmin", "_azbatch"),
        ("task-user", "TaskNonAdmin", "_azbatch"),
        ("named", "runner", "runner"),
    ] {
        let done = emu.completed("j", task).await;
        assert_eq!(done.execution_info.unwrap().exit_code, Some(0), "{task}");
        let env = env_of(&emu, "j", task).await;
        assert_eq!(env["AZ_BATCH_TASK_USER_IDENTITY"], identity, "{task}");
        assert_eq!(env["AZ_BATCH_TASK_USER"], user, "{task}");
    }
    // A user the pool does not have: the task cannot launch.
    let done = emu.completed("j", "stranger").await;
    let info = done.execution_info.unwrap();
    assert_eq!(info.result.as_deref(), Some("failure"));
    let failure = info.failure_info.unwrap();
    assert_eq!(failure.code.as_deref(), Some("CommandLaunchFailed"));
    assert!(failure.details.iter().any(|d| d.value.as_deref().is_some_and(|v| v.contains("nobody"))), "{failure:?}");
}

#[tokio::test]
async fn an_authentication_token_grants_the_tasks_job_and_nothing_else() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 2, "spread").await;
    emu.job("j", "p").await;
    emu.job("other", "p").await;
    add(&emu, "j", json!({"id": "t", "commandLine": "/usr/bin/env", "authenticationTokenSettings": {"access": ["job"]}})).await;
    add(&emu, "j", json!({"id": "plain", "commandLine": "/usr/bin/env"})).await;
    emu.completed("j", "t").await;
    emu.completed("j", "plain").await;
    assert!(!env_of(&emu, "j", "plain").await.contains_key("AZ_BATCH_AUTHENTICATION_TOKEN"), "no token without the settings");
    let token = env_of(&emu, "j", "t").await["AZ_BATCH_AUTHENTICATION_TOKEN"].clone();
    let http = reqwest::Client::new();
    let call = |method: Method, path: &str, token: &str, body: Option<Value>| {
        let mut req = http
            .request(method, format!("{}{path}?api-version=2025-06-01", emu.running.url))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json; odata=minimalmetadata");
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        req.send()
    };
    // The job and its tasks: read them, add a task.
    assert_eq!(call(Method::GET, "/jobs/j", &token, None).await.unwrap().status(), 200);
    assert_eq!(call(Method::GET, "/jobs/j/tasks", &token, None).await.unwrap().status(), 200);
    let added = call(Method::POST, "/jobs/j/tasks", &token, Some(json!({"id": "child", "commandLine": "/bin/true"}))).await.unwrap();
    assert_eq!(added.status(), 201);
    // Anything else: 403.
    for path in ["/pools", "/jobs/other", "/jobs"] {
        let r = call(Method::GET, path, &token, None).await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "InsufficientAccountPermissions", "{path}");
    }
    // A token signed with another key is refused.
    let forged = format!("{}x", &token[..token.len() - 1]);
    let r = call(Method::GET, "/jobs/j", &forged, None).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "AuthenticationFailed");
}

#[tokio::test]
async fn affinity_info_places_the_task_on_the_named_node_when_it_has_room() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 3, 1, "spread").await;
    emu.job("j", "p").await;
    let nodes: Vec<Value> = emu.client.list_all("/pools/p/nodes", &[]).await.unwrap();
    let last = nodes.last().unwrap();
    let affinity = last["affinityId"].as_str().unwrap().to_string();
    add(&emu, "j", json!({"id": "t", "commandLine": "exit 0", "affinityInfo": {"affinityId": affinity}})).await;
    let done = emu.completed("j", "t").await;
    let node_info = done.node_info.unwrap();
    assert_eq!(node_info.node_id.as_deref(), last["id"].as_str());
    assert_eq!(node_info.affinity_id.as_deref(), Some(affinity.as_str()));
}

#[tokio::test]
async fn a_patched_start_task_runs_on_nodes_that_start_afterwards() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 0, 1, "spread").await;
    let patch = json!({"startTask": {"commandLine": "echo patched"}});
    emu.client.send_json(Method::PATCH, "/pools/p", &patch).await.unwrap();
    let pool: Value = emu.client.get_json("/pools/p", &[]).await.unwrap();
    assert_eq!(pool["startTask"]["commandLine"], "echo patched");
    assert_eq!(pool["startTask"]["waitForSuccess"], true, "the service's defaults are filled in");
    assert_eq!(pool["startTask"]["maxTaskRetryCount"], 0);
    emu.client.send_json(Method::POST, "/pools/p/resize", &json!({"targetDedicatedNodes": 1})).await.unwrap();
    emu.idle().await;
    let nodes: Vec<Value> = emu.client.list_all("/pools/p/nodes", &[]).await.unwrap();
    assert_eq!(nodes[0]["startTask"]["commandLine"], "echo patched");
    assert_eq!(nodes[0]["startTaskInfo"]["state"], "completed");
    assert_eq!(nodes[0]["startTaskInfo"]["exitCode"], 0);
    assert_eq!(nodes[0]["state"], "idle");
}

#[tokio::test]
async fn recent_tasks_report_each_tasks_current_state() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 2, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "done", "exit 0").await;
    emu.task("j", "busy", "hang").await;
    emu.completed("j", "done").await;
    eventually("busy runs", || emu.state().read(|a| a.task("j", "busy").is_ok_and(|t| t.state == batch_model::task::TaskState::Running))).await;
    let nodes: Vec<Value> = emu.client.list_all("/pools/p/nodes", &[]).await.unwrap();
    let recent = nodes[0]["recentTasks"].as_array().unwrap();
    let state = |id: &str| recent.iter().find(|r| r["taskId"] == id).map(|r| r["taskState"].clone());
    assert_eq!(state("done"), Some(json!("completed")));
    assert_eq!(state("busy"), Some(json!("running")));
    let done = recent.iter().find(|r| r["taskId"] == "done").unwrap();
    assert_eq!(done["executionInfo"]["exitCode"], 0);
}
