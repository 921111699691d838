//! Autoscale pools on the manual clock: the formula at creation, periodic evaluations that follow
//! the pool's real task counts (sampled every 30 s, seen by formulas a minute later), evaluate
//! (the recorded service answers), enable and disable with their refusals, and resize refused
//! while autoscale is on.

mod common;

use batch_emulator::clock::ManualClock;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

fn autoscale_pool(id: &str, formula: &str, interval: Option<&str>) -> Value {
    let mut p = serde_json::to_value(pool_spec(id, 0, 1, "spread")).unwrap();
    let m = p.as_object_mut().unwrap();
    m.remove("targetDedicatedNodes");
    m.remove("targetLowPriorityNodes");
    m.insert("enableAutoScale".into(), json!(true));
    m.insert("autoScaleFormula".into(), json!(formula));
    if let Some(i) = interval {
        m.insert("autoScaleEvaluationInterval".into(), json!(i));
    }
    p
}

async fn fixture() -> (TestEmulator, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()));
    let emu = emulator_with_clock(Runner::Fake, clock.clone()).await;
    (emu, clock)
}

async fn pool(emu: &TestEmulator, id: &str) -> Value {
    emu.client.get_json(&format!("/pools/{id}"), &[]).await.unwrap()
}

async fn idle_nodes(emu: &TestEmulator, id: &str) -> usize {
    emu.client.list_nodes(id).await.unwrap().iter().filter(|n| n.state.as_deref() == Some("idle")).count()
}

/// Waits (real time) until the pool has `n` idle nodes.
async fn until_idle_nodes(emu: &TestEmulator, id: &str, n: usize) {
    for _ in 0..2000 {
        if idle_nodes(emu, id).await == n && emu.client.list_nodes(id).await.unwrap().len() == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("pool {id}: {} idle nodes, expected {n}; {}", idle_nodes(emu, id).await, pool(emu, id).await);
}

#[tokio::test]
async fn the_formula_sets_the_size_at_creation_and_evaluate_answers_as_the_service() {
    let (emu, _clock) = fixture().await;
    emu.client.send_json(Method::POST, "/pools", &autoscale_pool("p", "$TargetDedicatedNodes = 2;", None)).await.unwrap();
    until_idle_nodes(&emu, "p", 2).await;
    let p = pool(&emu, "p").await;
    assert_eq!((p["enableAutoScale"].as_bool(), p["autoScaleEvaluationInterval"].as_str()), (Some(true), Some("PT15M")), "{p}");
    assert_eq!(p["autoScaleRun"]["results"], "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue");
    assert_eq!(p["targetDedicatedNodes"], 2);
    // Evaluate: nothing applied; the answers recorded from the service.
    let run: Value = serde_json::from_slice(
        &emu.client.send_json(Method::POST, "/pools/p/evaluateautoscale", &json!({"autoScaleFormula": "$TargetDedicatedNodes=3"})).await.unwrap().body,
    )
    .unwrap();
    assert_eq!(run["results"], "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue");
    assert!(run["odata.metadata"].as_str().unwrap().ends_with("$metadata#Microsoft.Azure.Batch.Protocol.Entities.AutoScaleRun"));
    assert!(run.get("error").is_none());
    let run: Value = serde_json::from_slice(
        &emu.client.send_json(Method::POST, "/pools/p/evaluateautoscale", &json!({"autoScaleFormula": "$something_useless"})).await.unwrap().body,
    )
    .unwrap();
    assert_eq!(run["results"], "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue");
    assert_eq!(
        run["error"],
        json!({"code": "AutoScalingFormulaEvaluationError", "message": "The specified auto-scaling formula has evaluation error",
            "values": [{"name": "Message", "value": "Line 1, Col 1: Undefined symbol: $something_useless"}]})
    );
    assert_eq!(pool(&emu, "p").await["targetDedicatedNodes"], 2, "evaluate applies nothing");
    // Resize is refused while autoscale is on.
    let r = emu.client.send_json(Method::POST, "/pools/p/resize", &json!({"targetDedicatedNodes": 5})).await;
    assert_batch_error(r, 409, "OperationInvalidForCurrentState");
}

#[tokio::test]
async fn periodic_evaluations_follow_the_pools_pending_tasks() {
    let (emu, clock) = fixture().await;
    // The documented pending-tasks formula, with a 5-minute interval.
    let formula = "startingNumberOfVMs = 1; maxNumberofVMs = 4; pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second); pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second)); $TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples); $NodeDeallocationOption = taskcompletion;";
    emu.client.send_json(Method::POST, "/pools", &autoscale_pool("p", formula, Some("PT5M"))).await.unwrap();
    until_idle_nodes(&emu, "p", 1).await;
    emu.job("j", "p").await;
    for i in 0..6 {
        emu.task("j", &format!("t{i}"), "hang").await;
    }
    // Samples every 30 s; after 5 minutes the evaluation sees 6 pending tasks for 3 minutes.
    for _ in 0..10 {
        clock.advance(Duration::seconds(30));
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    // Four nodes, busy with the pending tasks.
    for _ in 0..2000 {
        if emu.client.list_nodes("p").await.unwrap().len() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let p = pool(&emu, "p").await;
    assert_eq!(p["currentDedicatedNodes"], 4, "{p}");
    assert_eq!(p["targetDedicatedNodes"], 4, "{p}");
    let results = p["autoScaleRun"]["results"].as_str().unwrap().to_string();
    assert!(results.starts_with("$TargetDedicatedNodes=4;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;"), "{results}");
    assert!(results.contains("pendingTaskSamples=6"), "{results}");
}

#[tokio::test]
async fn enable_and_disable_with_their_refusals() {
    let (emu, clock) = fixture().await;
    emu.pool("fixed", 1, 1, "spread").await;
    let enable = |body: Value| {
        let c = emu.client.clone();
        async move { c.send_json(Method::POST, "/pools/fixed/enableautoscale", &body).await }
    };
    assert_batch_error(enable(json!({})).await, 400, "MissingRequiredProperty");
    assert_batch_error(
        enable(json!({"autoScaleFormula": "$TargetDedicatedNodes = (", "autoScaleEvaluationInterval": "PT5M"})).await,
        400,
        "AutoScalingFormulaSyntaxError",
    );
    assert_batch_error(
        enable(json!({"autoScaleFormula": "$TargetDedicatedNodes = 2", "autoScaleEvaluationInterval": "PT1M"})).await,
        400,
        "InvalidAutoScalingSettings",
    );
    let r = enable(json!({"autoScaleFormula": "$TargetDedicatedNodes = 2", "autoScaleEvaluationInterval": "PT6M"})).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.headers.get("etag").is_some());
    until_idle_nodes(&emu, "fixed", 2).await;
    // At most once every 30 seconds.
    assert_batch_error(enable(json!({"autoScaleFormula": "$TargetDedicatedNodes = 3"})).await, 503, "TooManyEnableAutoScaleRequests");
    clock.advance(Duration::seconds(31));
    enable(json!({"autoScaleFormula": "$TargetDedicatedNodes = 3"})).await.unwrap();
    until_idle_nodes(&emu, "fixed", 3).await;
    assert_eq!(pool(&emu, "fixed").await["autoScaleEvaluationInterval"], "PT6M", "the interval is kept when not given");
    // Disable keeps the size; resize works again.
    emu.client.send_raw(Method::POST, "/pools/fixed/disableautoscale", &[], &[], None).await.unwrap();
    let p = pool(&emu, "fixed").await;
    assert_eq!((p["enableAutoScale"].as_bool(), p["targetDedicatedNodes"].as_i64()), (Some(false), Some(3)), "{p}");
    emu.client.send_json(Method::POST, "/pools/fixed/resize", &json!({"targetDedicatedNodes": 1})).await.unwrap();
    until_idle_nodes(&emu, "fixed", 1).await;
    // Evaluate needs autoscale on.
    let r = emu.client.send_json(Method::POST, "/pools/fixed/evaluateautoscale", &json!({"autoScaleFormula": "$TargetDedicatedNodes=1"})).await;
    assert_batch_error(r, 409, "OperationInvalidForCurrentState");
}

#[tokio::test]
async fn create_refuses_settings_that_do_not_go_together() {
    let (emu, _clock) = fixture().await;
    let mut with_target = autoscale_pool("a", "$TargetDedicatedNodes = 1", None);
    with_target["targetDedicatedNodes"] = json!(1);
    assert_batch_error(emu.client.send_json(Method::POST, "/pools", &with_target).await, 400, "InvalidAutoScalingSettings");
    let mut no_formula = autoscale_pool("a", "", None);
    no_formula.as_object_mut().unwrap().remove("autoScaleFormula");
    assert_batch_error(emu.client.send_json(Method::POST, "/pools", &no_formula).await, 400, "MissingRequiredProperty");
    assert_batch_error(emu.client.send_json(Method::POST, "/pools", &autoscale_pool("a", "$x = ;", None)).await, 400, "AutoScalingFormulaSyntaxError");
    assert_batch_error(emu.client.send_json(Method::POST, "/pools", &autoscale_pool("a", &"x=1;".repeat(3000), None)).await, 400, "AutoScalingFormulaTooLong");
    assert_batch_error(
        emu.client.send_json(Method::POST, "/pools", &autoscale_pool("a", "$TargetDedicatedNodes = 1", Some("PT200H"))).await,
        400,
        "InvalidAutoScalingSettings",
    );
    // A formula that parses but fails to evaluate still makes the pool; the run says why.
    emu.client.send_json(Method::POST, "/pools", &autoscale_pool("b", "$TargetDedicatedNodes = $nope", None)).await.unwrap();
    let p = pool(&emu, "b").await;
    assert_eq!(p["autoScaleRun"]["error"]["code"], "AutoScalingFormulaEvaluationError", "{p}");
    assert_eq!(p["targetDedicatedNodes"], 0);
}

/// `$CPUPercent`, `$MemoryBytes` and the disk metrics are sampled from the node's real
/// processes: a busy task shows in them.
#[tokio::test]
async fn resource_metrics_come_from_the_nodes_processes() {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()));
    let emu = emulator_with_clock(Runner::Local, clock.clone()).await;
    emu.client.send_json(Method::POST, "/pools", &autoscale_pool("p", "$TargetDedicatedNodes = 1;", Some("PT5M"))).await.unwrap();
    until_idle_nodes(&emu, "p", 1).await;
    emu.job("j", "p").await;
    // Busy for a few real seconds, writing as it goes.
    emu.task("j", "busy", "/bin/sh -c 'i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done'").await;
    emu.client.wait_for_task("j", "busy", |s| s == "running", std::time::Duration::from_secs(20)).await.unwrap();
    // A baseline sample, then one after a real second of work; formulas see samples a minute late.
    for pause in [0u64, 1000, 0, 0, 0] {
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        clock.advance(Duration::seconds(30));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let run: Value = serde_json::from_slice(
        &emu.client
            .send_json(
                Method::POST,
                "/pools/p/evaluateautoscale",
                &json!({"autoScaleFormula": "cpu = max($CPUPercent.GetSample(TimeInterval_Minute * 5)); mem = max($MemoryBytes.GetSample(TimeInterval_Minute * 5)); n = $CPUPercent.Count(); $TargetDedicatedNodes = 1;"}),
            )
            .await
            .unwrap()
            .body,
    )
    .unwrap();
    let results = run["results"].as_str().unwrap_or_default().to_string();
    let var = |name: &str| -> f64 {
        results.split(';').find_map(|p| p.strip_prefix(&format!("{name}="))).unwrap_or_else(|| panic!("{name} in {run}")).parse().unwrap()
    };
    assert!(var("cpu") > 10.0, "the busy task's CPU: {run}");
    assert!(var("mem") > 0.0, "its memory: {run}");
    assert!(var("n") >= 3.0, "{run}");
    // The pool's statistics take memory and disk space from the same samples.
    let stats: Value = serde_json::from_slice(&emu.client.send_raw(Method::GET, "/pools/p", &[("$expand", "stats")], &[], None).await.unwrap().body).unwrap();
    let r = &stats["stats"]["resourceStats"];
    assert!(r["avgMemoryGiB"].as_f64().unwrap() > 0.0 && r["peakMemoryGiB"].as_f64().unwrap() >= r["avgMemoryGiB"].as_f64().unwrap(), "{r}");
    assert!(r["peakDiskGiB"].as_f64().unwrap() > 0.0, "{r}");
    emu.client.send_raw(Method::POST, "/jobs/j/tasks/busy/terminate", &[], &[], None).await.unwrap();
}
