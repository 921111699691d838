//! Auto pools: a job with `poolInfo.autoPoolSpecification` (`poolLifetimeOption: job`) gets its
//! own pool, named by `executionInfo.poolId`, runs there, and the pool goes when the job
//! completes or is deleted unless `keepAlive`; the refusals.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn auto_job(id: &str, extra: Value) -> Value {
    let mut spec = json!({"poolLifetimeOption": "job", "autoPoolIdPrefix": "ap",
        "pool": {"vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1,
            "virtualMachineConfiguration": {"imageReference": {"publisher": "canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts"}, "nodeAgentSKUId": "batch.node.ubuntu 22.04"}}});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"id": id, "poolInfo": {"autoPoolSpecification": spec}})
}

async fn pool_of(emu: &TestEmulator, job: &str) -> String {
    let j: Value = emu.client.get_json(&format!("/jobs/{job}"), &[]).await.unwrap();
    j["executionInfo"]["poolId"].as_str().expect("executionInfo.poolId").to_string()
}

/// Waits until the pool is gone (deleting, then 404).
async fn until_gone(emu: &TestEmulator, pool: &str) {
    for _ in 0..2000 {
        if emu.client.get_json::<Value>(&format!("/pools/{pool}"), &[]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("pool {pool} is still there");
}

#[tokio::test]
async fn a_job_runs_on_its_own_pool_which_goes_with_it() {
    let emu = emulator(Runner::Fake).await;
    emu.client.send_json(Method::POST, "/jobs", &auto_job("j", json!({}))).await.unwrap();
    let pool = pool_of(&emu, "j").await;
    assert!(pool.starts_with("ap_") && pool.len() == 3 + 36, "{pool}");
    // The job echoes its poolInfo as given.
    let j: Value = emu.client.get_json("/jobs/j", &[]).await.unwrap();
    assert_eq!(j["poolInfo"]["autoPoolSpecification"]["autoPoolIdPrefix"], "ap");
    assert!(j["poolInfo"].get("poolId").is_none(), "{j}");
    emu.idle().await;
    assert_eq!(emu.client.list_nodes(&pool).await.unwrap().len(), 1);
    emu.task("j", "t", "exit 0").await;
    let t = emu.completed("j", "t").await;
    assert_eq!(t.node_info.and_then(|n| n.pool_id).as_deref(), Some(pool.as_str()));
    emu.client.send_raw(Method::POST, "/jobs/j/terminate", &[], &[], None).await.unwrap();
    until_gone(&emu, &pool).await;
    // Deleting an active job deletes its pool too.
    emu.client.send_json(Method::POST, "/jobs", &auto_job("k", json!({}))).await.unwrap();
    let pool = pool_of(&emu, "k").await;
    emu.client.send_raw(Method::DELETE, "/jobs/k", &[], &[], None).await.unwrap();
    until_gone(&emu, &pool).await;
}

#[tokio::test]
async fn keep_alive_keeps_the_pool() {
    let emu = emulator(Runner::Fake).await;
    emu.client.send_json(Method::POST, "/jobs", &auto_job("j", json!({"keepAlive": true, "autoPoolIdPrefix": null}))).await.unwrap();
    let pool = pool_of(&emu, "j").await;
    assert_eq!(pool.len(), 36, "no prefix: the identifier alone ({pool})");
    emu.client.send_raw(Method::POST, "/jobs/j/terminate", &[], &[], None).await.unwrap();
    emu.idle().await;
    let p: Value = emu.client.get_json(&format!("/pools/{pool}"), &[]).await.unwrap();
    assert_eq!(p["state"], "active");
}

#[tokio::test]
async fn auto_pool_specifications_are_validated() {
    let emu = emulator(Runner::Fake).await;
    let post = |body: Value| {
        let c = emu.client.clone();
        async move { c.send_json(Method::POST, "/jobs", &body).await }
    };
    let mut both = auto_job("a", json!({}));
    both["poolInfo"]["poolId"] = json!("p");
    assert_batch_error(post(both).await, 400, "InvalidPropertyValue");
    let mut no_lifetime = auto_job("a", json!({}));
    no_lifetime["poolInfo"]["autoPoolSpecification"].as_object_mut().unwrap().remove("poolLifetimeOption");
    assert_batch_error(post(no_lifetime).await, 400, "MissingRequiredProperty");
    // "You may apply this option only to Job Schedules, not to Jobs."
    assert_batch_error(post(auto_job("a", json!({"poolLifetimeOption": "jobschedule"}))).await, 400, "InvalidPropertyValue");
    assert_batch_error(post(auto_job("a", json!({"poolLifetimeOption": "forever"}))).await, 400, "InvalidPropertyValue");
    assert_batch_error(post(auto_job("a", json!({"autoPoolIdPrefix": "a-prefix-longer-than-twenty"}))).await, 400, "InvalidPropertyValue");
    let mut no_size = auto_job("a", json!({}));
    no_size["poolInfo"]["autoPoolSpecification"]["pool"].as_object_mut().unwrap().remove("vmSize");
    assert_batch_error(post(no_size).await, 400, "MissingRequiredProperty");
    assert!(emu.client.list_all::<Value>("/pools", &[]).await.unwrap().is_empty(), "a refused job makes no pool");
}

/// `poolLifetimeOption: jobschedule`: the schedule's first job makes the pool, the next ones run
/// on it, and it goes when the schedule is deleted.
#[tokio::test]
async fn a_schedules_pool_serves_all_its_jobs_and_goes_with_it() {
    let emu = emulator(Runner::Fake).await;
    let spec = auto_job("unused", json!({"poolLifetimeOption": "jobschedule"}));
    let body = json!({"id": "s", "schedule": {"recurrenceInterval": "PT1M"}, "jobSpecification": {"poolInfo": spec["poolInfo"]}});
    emu.client.send_json(Method::POST, "/jobschedules", &body).await.unwrap();
    let pool = pool_of(&emu, "s:job-1").await;
    assert!(pool.starts_with("ap_"), "{pool}");
    // The first job ends; the schedule's pool stays for the next.
    emu.client.send_raw(Method::POST, "/jobs/s:job-1/terminate", &[], &[], None).await.unwrap();
    emu.idle().await;
    let p: Value = emu.client.get_json(&format!("/pools/{pool}"), &[]).await.unwrap();
    assert_eq!(p["state"], "active");
    emu.client.send_raw(Method::DELETE, "/jobschedules/s", &[], &[], None).await.unwrap();
    until_gone(&emu, &pool).await;
}

/// A disabled job moves to an auto pool of its own (Update Job with `autoPoolSpecification`),
/// runs its tasks there, and back to a named pool: the auto pool goes.
#[tokio::test]
async fn a_disabled_job_moves_to_an_auto_pool_and_back() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("fixed", 1, 1, "spread").await;
    emu.job("j", "fixed").await;
    let spec = auto_job("unused", json!({}))["poolInfo"].clone();
    let patch = |body: Value| {
        let c = emu.client.clone();
        async move { c.send_json(Method::PATCH, "/jobs/j", &body).await }
    };
    // Not while the job is active.
    assert_batch_error(patch(json!({"poolInfo": spec})).await, 409, "OperationInvalidForCurrentState");
    emu.client.send_json(Method::POST, "/jobs/j/disable", &json!({"disableTasks": "requeue"})).await.unwrap();
    emu.idle().await;
    patch(json!({"poolInfo": spec})).await.unwrap();
    let pool = pool_of(&emu, "j").await;
    assert!(pool.starts_with("ap_"), "{pool}");
    emu.client.send_raw(Method::POST, "/jobs/j/enable", &[], &[], None).await.unwrap();
    emu.idle().await;
    emu.task("j", "t", "exit 0").await;
    let t = emu.completed("j", "t").await;
    assert_eq!(t.node_info.and_then(|n| n.pool_id).as_deref(), Some(pool.as_str()));
    // Back to the named pool: the auto pool goes.
    emu.client.send_json(Method::POST, "/jobs/j/disable", &json!({"disableTasks": "requeue"})).await.unwrap();
    emu.idle().await;
    patch(json!({"poolInfo": {"poolId": "fixed"}})).await.unwrap();
    until_gone(&emu, &pool).await;
    let j: Value = emu.client.get_json("/jobs/j", &[]).await.unwrap();
    assert_eq!(j["executionInfo"]["poolId"], "fixed");
    // jobschedule is refused on a job's update too.
    let schedule_spec = auto_job("unused", json!({"poolLifetimeOption": "jobschedule"}))["poolInfo"].clone();
    assert_batch_error(patch(json!({"poolInfo": schedule_spec})).await, 400, "InvalidPropertyValue");
}
