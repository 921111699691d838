//! Scenarios of autoscale pools. Each names the document or recording it checks.

use crate::{check, Ctx, Failure, Scenario};
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::{json, Value};

type R = Result<(), Failure>;

/// The autoscale scenarios, in a stable order.
pub fn all() -> Vec<Scenario> {
    fn w(c: &Ctx) -> BoxFuture<'_, R> {
        Box::pin(autoscale_evaluate_answers_as_recorded(c))
    }
    vec![Scenario {
        name: "autoscale_evaluate_answers_as_recorded",
        area: "pools",
        source: "recordings azure-sdk-for-js batch-rest autoscale_operations (evaluate, invalid formula); batch-automatic-scaling.md",
        run: w,
    }]
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
