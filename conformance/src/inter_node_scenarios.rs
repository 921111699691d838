//! Scenarios of inter-node pools: multi-instance tasks. Each names the document it checks.

use crate::{check, Ctx, Failure, Scenario};
use futures::future::BoxFuture;
use serde_json::{json, Value};

type R = Result<(), Failure>;

/// The inter-node scenarios, in a stable order.
pub fn all() -> Vec<Scenario> {
    fn multi_instance(c: &Ctx) -> BoxFuture<'_, R> {
        Box::pin(multi_instance_task_runs_on_every_instance(c))
    }
    vec![Scenario {
        name: "multi_instance_task_runs_on_every_instance",
        area: "tasks",
        source: "Learn batch-mpi.md (coordination on every instance, application on the primary, subtasks listed), REST MultiInstanceSettings, BatchSubtask",
        run: multi_instance,
    }]
}

/// Two instances: the coordination command runs on both nodes, the application command on the
/// primary with the hosts of both, and the other instance is subtask 1.
async fn multi_instance_task_runs_on_every_instance(ctx: &Ctx) -> R {
    let mut spec = ctx.pool_spec("mpi", 2);
    spec.enable_inter_node_communication = Some(true);
    spec.task_slots_per_node = Some(1);
    let nodes = ctx.create_pool(&spec).await?;
    let job = ctx.create_job("mpi", &spec.id, json!({})).await?;
    ctx.add_task(
        &job,
        json!({"id": "mi", "commandLine": "/bin/sh -c 'echo hosts=$AZ_BATCH_HOST_LIST master=$AZ_BATCH_IS_CURRENT_NODE_MASTER'",
            "multiInstanceSettings": {"numberOfInstances": 2, "coordinationCommandLine": "/bin/sh -c 'echo coordinated on $AZ_BATCH_NODE_ID'"}}),
    )
    .await?;
    let t = ctx.completed(&job, "mi").await?;
    let info = t.execution_info.clone().unwrap_or_default();
    check!(info.exit_code == Some(0) && info.result.as_deref() == Some("success"), "{info:?}");
    let out = String::from_utf8_lossy(&ctx.client.get_task_file(&job, "mi", "stdout.txt").await?).to_string();
    let ips: Vec<String> = nodes.iter().filter_map(|n| n.ip_address.clone()).collect();
    check!(out.contains("master=true") && ips.iter().all(|ip| out.contains(ip.as_str())), "stdout: {out:?}, node addresses {ips:?}");
    let subs: Value = ctx.client.get_json(&format!("/jobs/{job}/tasks/mi/subtasksinfo"), &[]).await?;
    let subs = subs["value"].as_array().cloned().unwrap_or_default();
    check!(subs.len() == 1 && subs[0]["id"] == 1 && subs[0]["state"] == "completed" && subs[0]["exitCode"] == 0, "subtasks: {subs:?}");
    let primary = t.node_info.and_then(|n| n.node_id).unwrap_or_default();
    check!(subs[0]["nodeInfo"]["nodeId"].as_str().is_some_and(|n| n != primary), "the subtask ran on the primary's node: {subs:?}");
    Ok(())
}
