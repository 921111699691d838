//! Scenarios of elastic pools: autoscale and auto pools. Each names the document or recording it
//! checks.

use crate::{check, Ctx, Failure, Scenario};
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::{json, Value};

type R = Result<(), Failure>;

/// The elastic pool scenarios, in a stable order.
pub fn all() -> Vec<Scenario> {
    fn evaluate(c: &Ctx) -> BoxFuture<'_, R> {
        Box::pin(autoscale_evaluate_answers_as_recorded(c))
    }
    fn auto_pool(c: &Ctx) -> BoxFuture<'_, R> {
        Box::pin(auto_pool_lives_as_long_as_its_job(c))
    }
    vec![
        Scenario {
            name: "autoscale_evaluate_answers_as_recorded",
            area: "pools",
            source: "recordings azure-sdk-for-js batch-rest autoscale_operations (evaluate, invalid formula); batch-automatic-scaling.md",
            run: evaluate,
        },
        Scenario {
            name: "auto_pool_lives_as_long_as_its_job",
            area: "pools",
            source: "REST docs BatchAutoPoolSpecification (poolLifetimeOption job, keepAlive false), BatchJobExecutionInfo.poolId",
            run: auto_pool,
        },
    ]
}

async fn auto_pool_lives_as_long_as_its_job(ctx: &Ctx) -> R {
    let mut pool = serde_json::to_value(ctx.pool_spec("unused", 1)).map_err(|e| Failure(e.to_string()))?;
    pool.as_object_mut().map(|p| p.remove("id"));
    let id = ctx.id("job");
    let body =
        json!({"id": id, "poolInfo": {"autoPoolSpecification": {"autoPoolIdPrefix": "conf", "poolLifetimeOption": "job", "keepAlive": false, "pool": pool}}});
    ctx.client.send_json(Method::POST, "/jobs", &body).await?;
    ctx.remember_job(&id);
    let job: Value = ctx.client.get_json(&format!("/jobs/{id}"), &[]).await?;
    let pool_id = job["executionInfo"]["poolId"].as_str().unwrap_or_default().to_string();
    check!(pool_id.starts_with("conf"), "executionInfo.poolId {pool_id:?}");
    ctx.add_task(&id, json!({"id": "t", "commandLine": "/bin/sh -c 'echo on the auto pool'"})).await?;
    let t = ctx.completed(&id, "t").await?;
    check!(t.node_info.as_ref().and_then(|n| n.pool_id.as_deref()) == Some(pool_id.as_str()), "{:?}", t.node_info);
    ctx.client.send_raw(Method::POST, &format!("/jobs/{id}/terminate"), &[], &[], None).await?;
    let deadline = std::time::Instant::now() + ctx.target.patience();
    loop {
        match ctx.client.get_json::<Value>(&format!("/pools/{pool_id}"), &[]).await {
            Err(_) => return Ok(()),
            Ok(p) if p["state"] == "deleting" => return Ok(()),
            Ok(p) => check!(std::time::Instant::now() < deadline, "the auto pool outlived its job: {}", p["state"]),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn autoscale_evaluate_answers_as_recorded(ctx: &Ctx) -> R {
    let mut spec = ctx.pool_spec("pool", 0);
    spec.target_dedicated_nodes = None;
    spec.enable_auto_scale = Some(true);
    spec.auto_scale_formula = Some("$TargetDedicatedNodes = 0".into());
    spec.auto_scale_evaluation_interval = Some(batch_client::BatchDuration::from_secs(5 * 60));
    ctx.create_pool(&spec).await?;
    let pool: Value = ctx.client.get_json(&format!("/pools/{}", spec.id), &[]).await?;
    check!(pool["enableAutoScale"] == true && pool["autoScaleEvaluationInterval"] == "PT5M", "{pool}");
    check!(pool["autoScaleRun"]["results"] == "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue", "{pool}");
    let evaluate = |formula: &str| {
        let (c, path, formula) = (ctx.client.clone(), format!("/pools/{}/evaluateautoscale", spec.id), formula.to_string());
        async move { c.send_json(Method::POST, &path, &json!({"autoScaleFormula": formula})).await }
    };
    let run: Value = serde_json::from_slice(&evaluate("$TargetDedicatedNodes=3").await?.body).map_err(|e| Failure(e.to_string()))?;
    check!(run["results"] == "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue" && run.get("error").is_none(), "{run}");
    let run: Value = serde_json::from_slice(&evaluate("$something_useless").await?.body).map_err(|e| Failure(e.to_string()))?;
    check!(run["error"]["code"] == "AutoScalingFormulaEvaluationError", "{run}");
    check!(run["error"]["values"][0]["value"] == "Line 1, Col 1: Undefined symbol: $something_useless", "{run}");
    let resized = ctx.client.send_json(Method::POST, &format!("/pools/{}/resize", spec.id), &json!({"targetDedicatedNodes": 1})).await;
    check!(resized.as_ref().err().and_then(|e| e.status()).map(|s| s.as_u16()) == Some(409), "a resize of an autoscale pool is refused: {resized:?}");
    Ok(())
}
