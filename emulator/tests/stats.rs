//! Statistics from real runs: `$expand=stats` on tasks, jobs, job schedules and pools, and
//! `list_pool_usage_metrics`, as the REST reference shapes them (64-bit counts as strings).

mod common;

use batch_emulator::clock::ManualClock;
use common::*;
use serde_json::{json, Value};
use std::sync::Arc;
use time::OffsetDateTime;

fn secs(v: &Value) -> f64 {
    batch_client::BatchDuration::parse(v.as_str().unwrap_or_else(|| panic!("a duration: {v}"))).unwrap().to_std().as_secs_f64()
}

fn count(v: &Value) -> u64 {
    v.as_str().unwrap_or_else(|| panic!("a 64-bit count as a string: {v}")).parse().unwrap()
}

#[tokio::test]
async fn tasks_jobs_and_pools_report_what_their_runs_used() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    // CPU work in the shell, then 3 MB written by a child (dd) the shell waits for.
    let work = "/bin/sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; dd if=/dev/zero of=out.bin bs=64k count=48 conv=fsync 2>/dev/null'";
    emu.task("j", "busy", work).await;
    let busy = emu.completed("j", "busy").await;
    assert_eq!(busy.execution_info.unwrap().exit_code, Some(0));
    let mut failing: batch_client::models::BatchTaskCreateOptions =
        serde_json::from_value(json!({"id": "failing", "commandLine": "/bin/sh -c 'exit 3'"})).unwrap();
    failing.constraints = Some(serde_json::from_value(json!({"maxTaskRetryCount": 2})).unwrap());
    emu.client.create_task("j", &failing).await.unwrap();
    emu.completed("j", "failing").await;

    // Without $expand there are none.
    let plain: Value = emu.client.get_json("/jobs/j/tasks/busy", &[]).await.unwrap();
    assert!(plain.get("stats").is_none());
    let task: Value = emu.client.get_json("/jobs/j/tasks/busy", &[("$expand", "stats")]).await.unwrap();
    let s = &task["stats"];
    assert!(secs(&s["userCPUTime"]) + secs(&s["kernelCPUTime"]) > 0.0, "the CPU the task used: {s}");
    assert!(secs(&s["wallClockTime"]) > 0.0, "{s}");
    assert!(count(&s["writeIOps"]) >= 48, "dd's 48 writes: {s}");
    assert!(s["writeIOGiB"].as_f64().unwrap() * 1024.0 * 1024.0 * 1024.0 >= 3.0 * 1024.0 * 1024.0, "3 MiB written: {s}");
    count(&s["readIOps"]);
    assert!(secs(&s["waitTime"]) >= 0.0);
    assert_eq!(s["startTime"], task["creationTime"]);

    // The job sums its tasks: one succeeded, one failed after 2 retries.
    let job: Value = emu.client.get_json("/jobs/j", &[("$expand", "stats")]).await.unwrap();
    let js = &job["stats"];
    assert_eq!((count(&js["numSucceededTasks"]), count(&js["numFailedTasks"]), count(&js["numTaskRetries"])), (1, 1, 2), "{js}");
    assert!(count(&js["writeIOps"]) >= count(&s["writeIOps"]));
    assert!(secs(&js["wallClockTime"]) >= secs(&s["wallClockTime"]));
    // Lists expand too.
    let tasks: Vec<Value> = emu.client.list_all("/jobs/j/tasks", &[("$expand", "stats")]).await.unwrap();
    assert!(tasks.iter().all(|t| t["stats"]["wallClockTime"].is_string()), "{tasks:?}");

    // The pool: core time of its node (2 cores of standard_d2s_v3) and what ran there.
    let pool: Value = emu.client.get_json("/pools/p", &[("$expand", "stats")]).await.unwrap();
    let ps = &pool["stats"];
    assert!(secs(&ps["usageStats"]["dedicatedCoreTime"]) > 0.0, "{ps}");
    assert!(count(&ps["resourceStats"]["diskWriteIOps"]) >= 48, "{ps}");
    let cpu = ps["resourceStats"]["avgCPUPercentage"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&cpu) && cpu > 0.0, "{ps}");
    let pools: Vec<Value> = emu.client.list_all("/pools", &[("$expand", "stats")]).await.unwrap();
    assert!(pools[0]["stats"]["usageStats"].is_object());
}

#[tokio::test]
async fn job_schedules_sum_their_jobs() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    let body = json!({"id": "s", "schedule": {"recurrenceInterval": "PT1H"}, "jobSpecification": {"poolInfo": {"poolId": "p"},
        "jobManagerTask": {"id": "jm", "commandLine": "/bin/sh -c 'sleep 0.2'"}}});
    emu.client.send_json(reqwest::Method::POST, "/jobschedules", &body).await.unwrap();
    let schedule: Value = emu.client.get_json("/jobschedules/s", &[]).await.unwrap();
    let job = schedule["executionInfo"]["recentJob"]["id"].as_str().unwrap().to_string();
    emu.completed(&job, "jm").await;
    let schedule: Value = emu.client.get_json("/jobschedules/s", &[("$expand", "stats")]).await.unwrap();
    assert_eq!(count(&schedule["stats"]["numSucceededTasks"]), 1, "{schedule}");
    assert!(secs(&schedule["stats"]["wallClockTime"]) > 0.0);
}

#[tokio::test]
async fn usage_metrics_give_core_hours_per_pool_per_half_hour() {
    // Start on an interval boundary, so the arithmetic is exact.
    let t0 = OffsetDateTime::from_unix_timestamp((OffsetDateTime::now_utc().unix_timestamp() / 1800 - 2) * 1800).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let emu = emulator_with_clock(Runner::Fake, clock.clone()).await;
    emu.pool("p", 2, 1, "spread").await;
    clock.advance(time::Duration::minutes(45));
    // The last complete interval by default: 2 nodes × 2 cores × 0.5 h.
    let metrics: Vec<Value> = emu.client.list_all("/poolusagemetrics", &[]).await.unwrap();
    assert_eq!(metrics.len(), 1, "{metrics:?}");
    let m = &metrics[0];
    assert_eq!(m["poolId"], "p");
    assert_eq!(m["vmSize"], "standard_d2s_v3");
    assert_eq!(m["startTime"], json!(batch_client::timefmt::format_body(t0)));
    assert_eq!(m["endTime"], json!(batch_client::timefmt::format_body(t0 + time::Duration::minutes(30))));
    assert!((m["totalCoreHours"].as_f64().unwrap() - 2.0).abs() < 1e-6, "{m}");
    // The pool shrinks to 1 node 50 minutes in: [30, 60) has 2 nodes × 20 min + 1 node × 10 min,
    // and [60, 90) 1 node × 30 min.
    clock.advance(time::Duration::minutes(5));
    emu.client.send_json(reqwest::Method::POST, "/pools/p/resize", &json!({"targetDedicatedNodes": 1})).await.unwrap();
    emu.idle().await;
    clock.advance(time::Duration::minutes(40));
    let from = batch_client::timefmt::format_body(t0);
    let metrics: Vec<Value> = emu.client.list_all("/poolusagemetrics", &[("starttime", &from)]).await.unwrap();
    assert_eq!(metrics.len(), 3, "{metrics:?}");
    let expected = (2.0 * 20.0 + 1.0 * 10.0) / 60.0 * 2.0;
    assert!((metrics[1]["totalCoreHours"].as_f64().unwrap() - expected).abs() < 1e-6, "{metrics:?}");
    assert!((metrics[2]["totalCoreHours"].as_f64().unwrap() - 1.0).abs() < 1e-6, "{metrics:?}");
    // A filter on the pool, and a bad time.
    let none: Vec<Value> = emu.client.list_all("/poolusagemetrics", &[("starttime", &from), ("$filter", "poolId eq 'other'")]).await.unwrap();
    assert!(none.is_empty());
    assert_batch_error(emu.client.list_all::<Value>("/poolusagemetrics", &[("starttime", "yesterday")]).await, 400, "InvalidQueryParameterValue");
}

/// A container task's statistics come from the engine's samples while it runs.
#[tokio::test]
async fn container_tasks_report_what_they_used() {
    ensure_fixture_images();
    let emu = emulator(Runner::Docker).await;
    let mut spec = pool_spec("p", 1, 1, "spread");
    spec.virtual_machine_configuration.as_mut().unwrap().container_configuration =
        Some(serde_json::from_value(json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/plain:1"]})).unwrap());
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
    emu.job("j", "p").await;
    // About three seconds of CPU work in the container (several engine samples).
    let task = serde_json::from_value(json!({"id": "c", "commandLine": "sh -c 'i=0; while [ $i -lt 1500000 ]; do i=$((i+1)); done'",
        "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm"}}))
    .unwrap();
    emu.client.create_task("j", &task).await.unwrap();
    let done = emu.client.wait_for_task("j", "c", |s| s == "completed", std::time::Duration::from_secs(60)).await.unwrap();
    assert_eq!(done.execution_info.unwrap().exit_code, Some(0));
    let t: Value = emu.client.get_json("/jobs/j/tasks/c", &[("$expand", "stats")]).await.unwrap();
    let s = &t["stats"];
    assert!(secs(&s["userCPUTime"]) + secs(&s["kernelCPUTime"]) > 0.5, "{s}");
    assert!(secs(&s["wallClockTime"]) > 0.5, "{s}");
}
