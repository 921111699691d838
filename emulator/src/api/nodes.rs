//! Compute nodes: list, get, reboot, reimage, disable and enable scheduling.

use super::error::ApiError;
use super::operations::Operation;
use super::{encode_segment, list_body, Ctx, ListOptions};
use crate::state::AppState;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use batch_client::models::{BatchNode, BatchNodeDisableSchedulingOptions, BatchNodeRebootOptions, BatchNodeReimageOptions, BatchTaskInfo};
use batch_model::node::Node;
use batch_model::pool::Pool;
use batch_model::{Account, BatchErrorCode, Command, DomainError};
use serde_json::{json, Value};
use std::ops::Bound;

pub async fn handle(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    match ctx.op {
        Operation::ListNodes => list_nodes(state, ctx),
        Operation::GetNode => get_node(state, ctx),
        Operation::RebootNode => node_action(state, ctx, "reboot", StatusCode::ACCEPTED, |p, n, b: BatchNodeRebootOptions| Command::RebootNode {
            pool_id: p,
            node_id: n,
            option: b.node_reboot_option,
        }),
        Operation::ReimageNode => node_action(state, ctx, "reimage", StatusCode::ACCEPTED, |p, n, b: BatchNodeReimageOptions| Command::ReimageNode {
            pool_id: p,
            node_id: n,
            option: b.node_reimage_option,
        }),
        Operation::DisableNodeScheduling => node_action(state, ctx, "disablescheduling", StatusCode::OK, |p, n, b: BatchNodeDisableSchedulingOptions| {
            Command::DisableNodeScheduling { pool_id: p, node_id: n, option: b.node_disable_scheduling_option }
        }),
        Operation::EnableNodeScheduling => node_action(state, ctx, "enablescheduling", StatusCode::OK, |p, n, _: serde_json::Map<String, Value>| {
            Command::EnableNodeScheduling { pool_id: p, node_id: n }
        }),
        Operation::UploadNodeLogs => upload_node_logs(state, ctx),
        Operation::DeallocateNode => node_action(state, ctx, "deallocate", StatusCode::ACCEPTED, |p, n, b: serde_json::Map<String, Value>| {
            Command::DeallocateNode { pool_id: p, node_id: n, option: b.get("nodeDeallocateOption").and_then(Value::as_str).map(String::from) }
        }),
        Operation::StartNode => {
            node_action(state, ctx, "start", StatusCode::ACCEPTED, |p, n, _: serde_json::Map<String, Value>| Command::StartNode { pool_id: p, node_id: n })
        }
        Operation::CreateNodeUser => {
            let body: Value = ctx.json_or_default()?;
            let name = body.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            state.execute(Command::CreateNodeUser { pool_id: ctx.params[0].clone(), node_id: ctx.params[1].clone(), body })?;
            Ok(with_data_service_id(
                StatusCode::CREATED.into_response(),
                &format!("{}/users/{}", node_url(ctx, &ctx.params[0], &ctx.params[1]), encode_segment(&name)),
            ))
        }
        Operation::ReplaceNodeUser => {
            let body: Value = ctx.json_or_default()?;
            let (pool_id, node_id, name) = (ctx.params[0].clone(), ctx.params[1].clone(), ctx.params[2].clone());
            state.execute(Command::ReplaceNodeUser { pool_id, node_id, name, body })?;
            Ok(with_data_service_id(
                StatusCode::OK.into_response(),
                &format!("{}/users/{}", node_url(ctx, &ctx.params[0], &ctx.params[1]), encode_segment(&ctx.params[2])),
            ))
        }
        Operation::DeleteNodeUser => {
            state.execute(Command::DeleteNodeUser { pool_id: ctx.params[0].clone(), node_id: ctx.params[1].clone(), name: ctx.params[2].clone() })?;
            Ok(StatusCode::OK.into_response())
        }
        Operation::GetNodeRemoteLoginSettings => remote_login_settings(state, ctx).await,
        Operation::ListNodeExtensions => {
            // VM extensions are refused at pool creation: no node has any.
            state.read(|a| a.pool(&ctx.params[0]).and_then(|p| p.nodes.get(&ctx.params[1]).map(|_| ()).ok_or_else(|| BatchErrorCode::NodeNotFound.into())))?;
            Ok(list_body(ctx, "nodes/extensions", super::Page::empty(), None))
        }
        Operation::GetNodeExtension => {
            state.read(|a| a.pool(&ctx.params[0]).and_then(|p| p.nodes.get(&ctx.params[1]).map(|_| ()).ok_or_else(|| BatchErrorCode::NodeNotFound.into())))?;
            // UNCONFIRMED: the code for an extension a node does not have.
            Err(DomainError::new(BatchErrorCode::ResourceNotFound).with_value("ExtensionName", ctx.params[2].clone()).into())
        }
        Operation::GetRemoteDesktop => {
            state.read(|a| a.pool(&ctx.params[0]).and_then(|p| p.nodes.get(&ctx.params[1]).map(|_| ()).ok_or_else(|| BatchErrorCode::NodeNotFound.into())))?;
            // "This API can only be invoked on Pools created with a cloud service
            // configuration"; every emulated pool has a virtual machine configuration.
            // UNCONFIRMED: the code the service answers with.
            Err(DomainError::new(BatchErrorCode::OperationNotValidOnNode)
                .with_message("The operation is not supported on pools with a virtual machine configuration; use the remote login settings.")
                .into())
        }
        other => Err(ApiError::internal(format!("nodes::handle got {other:?}"))),
    }
}

/// The URL of a node.
pub fn node_url(ctx: &Ctx, pool_id: &str, node_id: &str) -> String {
    ctx.url(&format!("/pools/{}/nodes/{}", encode_segment(pool_id), encode_segment(node_id)))
}

/// A node's image reference as the service reports it: with `exactVersion`, which differs from
/// `version` only when that is `latest` (REST docs, `BatchVmImageReference`). UNCONFIRMED: for
/// `latest` the emulator names its own version, as the image a local node runs is this machine.
fn with_exact_version(mut img: serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    if let Some(version) = img.get("version").and_then(Value::as_str) {
        let exact = if version.eq_ignore_ascii_case("latest") { env!("CARGO_PKG_VERSION").to_string() } else { version.to_string() };
        img.insert("exactVersion".into(), Value::String(exact));
    }
    img
}

fn to_wire(ctx: &Ctx, account: &Account, pool: &Pool, node: &Node) -> BatchNode {
    let recent = node
        .recent_tasks
        .iter()
        .rev()
        .map(|r| {
            // The task as it is now; a task deleted since was last seen completed.
            // UNCONFIRMED: what the service reports for a recent task that was deleted.
            let task = account.task(&r.job_id, &r.task_id).ok();
            BatchTaskInfo {
                task_url: Some(ctx.url(&format!("/jobs/{}/tasks/{}", encode_segment(&r.job_id), encode_segment(&r.task_id)))),
                job_id: Some(r.job_id.clone()),
                task_id: Some(r.task_id.clone()),
                task_state: task.map_or("completed", |t| t.state.as_str()).into(),
                execution_info: task.map(|t| t.execution_info.clone()),
            }
        })
        .collect::<Vec<_>>();
    BatchNode {
        odata_metadata: None,
        id: node.id.clone(),
        url: Some(node_url(ctx, &pool.spec.id, &node.id)),
        state: Some(node.state.as_str().into()),
        scheduling_state: Some(if node.scheduling_enabled { "enabled" } else { "disabled" }.into()),
        state_transition_time: Some(node.state_transition_time),
        last_boot_time: node.last_boot_time,
        allocation_time: Some(node.allocation_time),
        ip_address: Some(node.ip_address.clone()),
        affinity_id: Some(node.affinity_id()),
        vm_size: Some(pool.spec.vm_size.to_ascii_lowercase()),
        total_tasks_run: Some(node.total_tasks_run),
        running_tasks_count: Some(node.running.len() as i32),
        running_task_slots_count: Some(node.running_slots() as i32),
        total_tasks_succeeded: Some(node.total_tasks_succeeded),
        recent_tasks: if recent.is_empty() { None } else { Some(recent) },
        start_task: node.start_task.clone().map(|mut st| {
            super::secrets::start_task(Some(&mut st));
            st
        }),
        start_task_info: node.start_task_info.as_ref().and_then(|i| serde_json::to_value(i).ok()),
        is_dedicated: Some(node.is_dedicated),
        endpoint_configuration: {
            let nat = batch_model::endpoint::inbound_nat_pools(pool.spec.network_configuration.as_ref()).unwrap_or_default();
            let endpoints = batch_model::endpoint::node_endpoints(&nat, node.endpoint_index);
            (!endpoints.is_empty()).then(|| {
                serde_json::json!({"inboundEndpoints": endpoints.iter().map(|e| serde_json::json!({
                    "name": e.name,
                    "protocol": e.protocol,
                    // The frontend listens on the emulator's loopback address.
                    "publicIPAddress": "127.0.0.1",
                    "publicFQDN": "localhost",
                    "frontendPort": e.frontend_port,
                    "backendPort": e.backend_port,
                })).collect::<Vec<_>>()})
            })
        },
        node_agent_info: Some(serde_json::json!({
            "version": concat!("batch-emulator-", env!("CARGO_PKG_VERSION")),
            "lastUpdateTime": batch_client::timefmt::format_body(node.allocation_time),
        })),
        virtual_machine_info: pool
            .spec
            .virtual_machine_configuration
            .as_ref()
            .and_then(|v| v.image_reference.clone())
            .map(|img| serde_json::json!({ "imageReference": with_exact_version(img) })),
        errors: if node.errors.is_empty() { None } else { Some(node.errors.clone()) },
    }
}

/// Reboot, reimage, disable or enable scheduling: 202 or 200 with `DataServiceId`.
fn node_action<B: serde::de::DeserializeOwned + Default>(
    state: &AppState,
    ctx: &Ctx,
    action: &str,
    status: StatusCode,
    command: impl FnOnce(String, String, B) -> Command,
) -> Result<Response, ApiError> {
    let body: B = ctx.json_or_default()?;
    state.execute(command(ctx.params[0].clone(), ctx.params[1].clone(), body))?;
    let mut r = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{}/{action}", node_url(ctx, &ctx.params[0], &ctx.params[1]))) {
        r.headers_mut().insert("dataserviceid", v);
    }
    Ok(r)
}

fn with_data_service_id(mut r: Response, id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert("dataserviceid", v);
    }
    r
}

/// Remote login settings: where to SSH to the node: its own SSH endpoint on the node's
/// address (`crate::ssh`), where its node users log in.
async fn remote_login_settings(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let (pool_id, node_id, address, nat) = state.read(|a| {
        let pool = a.pool(&ctx.params[0])?;
        let node = pool.nodes.get(&ctx.params[1]).ok_or(DomainError::new(BatchErrorCode::NodeNotFound))?;
        // With an inbound NAT pool for port 22, logins go through its frontend, as on the service.
        let nat = batch_model::endpoint::inbound_nat_pools(pool.spec.network_configuration.as_ref()).unwrap_or_default();
        let ssh_frontend = batch_model::endpoint::node_endpoints(&nat, node.endpoint_index)
            .into_iter()
            .find(|e| e.backend_port == 22 && e.protocol == "tcp")
            .map(|e| e.frontend_port);
        Ok::<_, ApiError>((pool.spec.id.clone(), node.id.clone(), node.ip_address.clone(), ssh_frontend))
    })?;
    // A node whose address is not up (an unusable container node) has no endpoint yet.
    // UNCONFIRMED: the service's answer for a node that cannot be logged in to.
    let port = crate::ssh::endpoint(state, &pool_id, &node_id, &address).await.map_err(|e| {
        ApiError::from(DomainError::new(BatchErrorCode::OperationNotValidOnNode).with_value("Reason", format!("the node's SSH endpoint cannot start: {e}")))
    })?;
    let body = match nat {
        Some(frontend) => json!({"remoteLoginIPAddress": "127.0.0.1", "remoteLoginPort": frontend}),
        None => json!({"remoteLoginIPAddress": address, "remoteLoginPort": port}),
    };
    Ok(super::json_response(StatusCode::OK, &body))
}

fn list_nodes(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    let (items, next) = state.read(|a| {
        let pool = a.pool(&ctx.params[0])?;
        let start = opts.skip_token.clone().map_or(Bound::Unbounded, Bound::Excluded);
        let iter = pool.nodes.range((start, Bound::Unbounded)).map(|(k, n)| (k.clone(), serde_json::to_value(to_wire(ctx, a, pool, n)).unwrap_or(Value::Null)));
        Ok::<_, ApiError>(opts.page(ctx, iter))
    })?;
    Ok(list_body(ctx, "nodes", items, next))
}

/// Upload Batch service logs: the node agent's own logs (`crate::node_logs`) holding a line in
/// `[startTime, endTime]` go, whole, to `<containerUrl>/<pool>/<node>/<unique id>/`. The answer
/// names the directory and how many files will be uploaded; the upload itself runs after it,
/// so a slow storage endpoint never holds the API. UNCONFIRMED: the directory's exact shape
/// (documented: "built based poolId, nodeId and a unique identifier") and the odata.metadata.
fn upload_node_logs(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: serde_json::Map<String, Value> = ctx.json()?;
    let node_id = state.read(|a| {
        let pool = a.pool(&ctx.params[0])?;
        pool.nodes.get(&ctx.params[1]).map(|n| n.id.clone()).ok_or(DomainError::new(BatchErrorCode::NodeNotFound))
    })?;
    let text = |name: &str| body.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let container = text("containerUrl").ok_or_else(|| DomainError::missing_property("containerUrl"))?;
    let container = url::Url::parse(container)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| DomainError::invalid_property("containerUrl", container, "The value must be an absolute http or https URL"))?;
    let time = |name: &str| -> Result<Option<time::OffsetDateTime>, DomainError> {
        text(name)
            .map(|t| batch_client::timefmt::parse_body(t).ok_or_else(|| DomainError::invalid_property(name, t, "The value must be a date and time")))
            .transpose()
    };
    let start = time("startTime")?.ok_or_else(|| DomainError::missing_property("startTime"))?;
    let end = time("endTime")?;
    let files = crate::node_logs::files_in_range(state.layout(), &node_id, start, end);
    let directory = format!("{}/{node_id}/{}", ctx.params[0], uuid::Uuid::new_v4());
    let (count, dir) = (files.len(), directory.clone());
    let timeout = std::time::Duration::from_secs(state.config().storage_timeout);
    tokio::spawn(async move {
        let client = crate::blob::BlobClient::new(std::time::Duration::from_secs(10), timeout);
        for f in files {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let blob = crate::blob::blob_url(&container, &format!("{dir}/{name}"));
            if let Err(e) = client.upload_from(&blob, &f, &[]).await {
                tracing::warn!(file = %f.display(), error = %e, "cannot upload a node log");
            }
        }
    });
    let result = json!({
        "odata.metadata": ctx.metadata("Microsoft.Azure.Batch.Protocol.Entities.UploadBatchServiceLogsResult"),
        "virtualDirectoryName": directory,
        "numberOfFilesUploaded": count,
    });
    Ok(super::json_response(StatusCode::OK, &result))
}

fn get_node(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    state.read(|a| {
        let pool = a.pool(&ctx.params[0])?;
        let node = pool.nodes.get(&ctx.params[1]).ok_or(DomainError::new(BatchErrorCode::NodeNotFound))?;
        let mut wire = to_wire(ctx, a, pool, node);
        wire.odata_metadata = Some(ctx.metadata("nodes/@Element"));
        super::wire_entity(&wire, opts.select.as_deref(), None)
    })
}
