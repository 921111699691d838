//! Pools: create, get, exists, list, update, replace properties, resize, stop resize, remove
//! nodes, delete.

use super::error::ApiError;
use super::operations::Operation;
use super::{check_read, created, empty, encode_segment, list_body, updated, Ctx, ListOptions};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use batch_client::models::*;
use batch_model::pool::Pool;
use batch_model::{Applied, Command, IdKey};
use serde_json::Value;
use std::ops::Bound;

pub async fn handle(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    match ctx.op {
        Operation::CreatePool => create_pool(state, ctx),
        Operation::GetPool => get_pool(state, ctx),
        Operation::PoolExists => pool_exists(state, ctx),
        Operation::ListPools => list_pools(state, ctx),
        Operation::UpdatePool => update_pool(state, ctx),
        Operation::ReplacePoolProperties => replace_pool_properties(state, ctx),
        Operation::ResizePool => resize_pool(state, ctx),
        Operation::StopPoolResize => stop_pool_resize(state, ctx),
        Operation::RemoveNodes => remove_nodes(state, ctx),
        Operation::DeletePool => delete_pool(state, ctx),
        Operation::EnablePoolAutoScale => enable_auto_scale(state, ctx),
        Operation::DisablePoolAutoScale => {
            let v = state.execute(Command::DisableAutoScale { pool_id: ctx.params[0].clone() })?;
            Ok(updated(
                StatusCode::OK,
                &format!("{}/disableautoscale", pool_url(ctx, &ctx.params[0])),
                &v.version().ok_or_else(|| ApiError::internal("no version"))?,
            ))
        }
        Operation::EvaluatePoolAutoScale => evaluate_auto_scale(state, ctx),
        other => Err(ApiError::internal(format!("pools::handle got {other:?}"))),
    }
}

/// `{autoScaleFormula, autoScaleEvaluationInterval}` of enable and evaluate.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutoScaleBody {
    auto_scale_formula: Option<String>,
    auto_scale_evaluation_interval: Option<batch_client::BatchDuration>,
}

fn enable_auto_scale(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: AutoScaleBody = ctx.json()?;
    let cmd = Command::EnableAutoScale { pool_id: ctx.params[0].clone(), formula: body.auto_scale_formula, interval: body.auto_scale_evaluation_interval };
    let v = state.execute(cmd)?;
    Ok(updated(StatusCode::OK, &format!("{}/enableautoscale", pool_url(ctx, &ctx.params[0])), &v.version().ok_or_else(|| ApiError::internal("no version"))?))
}

/// Evaluate an automatic scaling formula: the `AutoScaleRun` the formula gives on the pool now,
/// nothing applied; the pool must have autoscale enabled ("You can't evaluate an autoscale
/// formula on non-autoscale-enabled pool"). A formula that fails, to parse or to evaluate, is
/// reported in the run's `error` with status 200, as recorded from the service.
fn evaluate_auto_scale(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: AutoScaleBody = ctx.json()?;
    let formula = body.auto_scale_formula.ok_or_else(|| batch_model::DomainError::missing_property("autoScaleFormula"))?;
    let now = state.now();
    let run = state.read(|a| -> Result<_, ApiError> {
        let pool = a.pool(&ctx.params[0])?;
        if pool.spec.enable_auto_scale != Some(true) {
            // UNCONFIRMED: the code for a pool without autoscale.
            return Err(batch_model::DomainError::new(batch_model::BatchErrorCode::OperationInvalidForCurrentState)
                .with_message("Autoscale is not enabled on the pool: enable it before evaluating a formula.")
                .into());
        }
        Ok(a.evaluate_formula(pool, &formula, now))
    })?;
    let mut body = run.to_wire();
    body["odata.metadata"] = serde_json::json!(ctx.metadata("Microsoft.Azure.Batch.Protocol.Entities.AutoScaleRun"));
    let mut r = super::json_response(StatusCode::OK, &body);
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("{}/evaluateautoscale", pool_url(ctx, &ctx.params[0]))) {
        r.headers_mut().insert("dataserviceid", v);
    }
    Ok(r)
}

fn pool_url(ctx: &Ctx, id: &str) -> String {
    ctx.url(&format!("/pools/{}", encode_segment(id)))
}

/// The wire form of a pool.
pub fn to_wire(ctx: &Ctx, pool: &Pool) -> BatchPool {
    let mut spec = pool.spec.clone();
    super::secrets::pool(&mut spec);
    BatchPool {
        stats: None,
        odata_metadata: None,
        url: Some(pool_url(ctx, &pool.spec.id)),
        e_tag: Some(pool.version.etag.clone()),
        last_modified: Some(pool.version.last_modified),
        creation_time: Some(pool.creation_time),
        state: Some(pool.state.as_str().into()),
        state_transition_time: Some(pool.state_transition_time),
        allocation_state: Some(pool.allocation_state.as_str().into()),
        allocation_state_transition_time: Some(pool.allocation_state_transition_time),
        current_dedicated_nodes: Some(pool.current_nodes(true)),
        current_low_priority_nodes: Some(pool.current_nodes(false)),
        resize_errors: None,
        auto_scale_run: pool.auto_scale_run.as_ref().map(|r| r.to_wire()),
        // Present once the pool has nodes (Pools_GetPool examples, 2025-06-01). UNCONFIRMED:
        // `simplified`, the only mode since classic communication was retired (March 2026).
        current_node_communication_mode: (!pool.nodes.is_empty()).then(|| "simplified".to_string()),
        spec,
    }
}

/// A pool's package references must name applications and versions of the store (or an
/// application with a default version): else 409 `InvalidApplicationPackageReferences`, as
/// documented. A malformed list is left to the domain to answer. UNCONFIRMED: the `values`
/// (here `ApplicationId` and `Reason`).
fn check_packages(state: &AppState, refs: Option<&Vec<Value>>) -> Result<(), ApiError> {
    let Ok(refs) = batch_model::app_packages::parse(refs.map(|r| r.as_slice())) else { return Ok(()) };
    let dir = state.config().app_packages.as_deref();
    for r in refs {
        if let Err(reason) = crate::applications::resolve(dir, &r.application_id, r.version.as_deref()) {
            return Err(batch_model::DomainError::new(batch_model::BatchErrorCode::InvalidApplicationPackageReferences)
                .with_value("ApplicationId", &r.application_id)
                .with_value("Reason", reason)
                .into());
        }
    }
    Ok(())
}

fn create_pool(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let spec: BatchPoolCreateOptions = ctx.json()?;
    check_packages(state, spec.application_package_references.as_ref())?;
    let id = spec.id.clone();
    let applied = state.execute(Command::CreatePool { spec })?;
    Ok(created(&pool_url(ctx, &id), &applied.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?))
}

fn get_pool(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    state.read(|a| {
        let pool = a.pool(&ctx.params[0])?;
        if let Some(not_modified) = check_read(ctx, &pool.version)? {
            return Ok(not_modified);
        }
        let mut wire = with_stats(ctx, a, pool);
        wire.odata_metadata = Some(ctx.metadata("pools/@Element"));
        super::wire_entity(&wire, opts.select.as_deref(), Some(&pool.version))
    })
}

fn pool_exists(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    state.read(|a| {
        let pool = a.pool(&ctx.params[0])?;
        if let Some(not_modified) = check_read(ctx, &pool.version)? {
            return Ok(not_modified);
        }
        let mut r = empty(StatusCode::OK);
        let v = &pool.version;
        super::set_version(&mut r, v);
        Ok(r)
    })
}

fn list_pools(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    let (items, next) = state.read(|a| {
        let start = opts.skip_token.as_deref().map_or(Bound::Unbounded, |t| Bound::Excluded(IdKey::of(t)));
        let iter = a.pools.range((start, Bound::Unbounded)).map(|(k, p)| (k.to_string(), serde_json::to_value(with_stats(ctx, a, p)).unwrap_or(Value::Null)));
        opts.page(ctx, iter)
    });
    Ok(list_body(ctx, "pools", items, next))
}

/// The pool as the service shows it, with its statistics when `$expand=stats` asks.
fn with_stats(ctx: &Ctx, a: &batch_model::Account, pool: &Pool) -> BatchPool {
    let mut wire = to_wire(ctx, pool);
    if super::stats::wanted(ctx) {
        let url = wire.url.clone().unwrap_or_default();
        let tasks = a.jobs.values().flat_map(|j| j.tasks.values());
        wire.stats = Some(super::stats::pool(url, pool, &a.node_spans, tasks, ctx.now));
    }
    wire
}

/// Runs a pool write after checking the caller's conditions against the current version.
fn conditional_write(state: &AppState, ctx: &Ctx, cmd: Command) -> Result<Applied, ApiError> {
    super::conditional_write(state, ctx, cmd, |a| Ok(a.pool(&ctx.params[0])?.version.clone()))
}

fn update_pool(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let patch: BatchPoolUpdateOptions = ctx.json()?;
    check_packages(state, patch.application_package_references.as_ref())?;
    let v = conditional_write(state, ctx, Command::UpdatePool { pool_id: ctx.params[0].clone(), patch })?;
    Ok(updated(StatusCode::OK, &pool_url(ctx, &ctx.params[0]), &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?))
}

fn replace_pool_properties(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: BatchPoolReplaceOptions = ctx.json()?;
    check_packages(state, body.application_package_references.as_ref())?;
    let v = state.execute(Command::ReplacePoolProperties { pool_id: ctx.params[0].clone(), body })?;
    Ok(updated(
        StatusCode::NO_CONTENT,
        &format!("{}/updateproperties", pool_url(ctx, &ctx.params[0])),
        &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?,
    ))
}

fn resize_pool(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: BatchPoolResizeOptions = ctx.json()?;
    let v = conditional_write(state, ctx, Command::ResizePool { pool_id: ctx.params[0].clone(), body })?;
    Ok(updated(
        StatusCode::ACCEPTED,
        &format!("{}/resize", pool_url(ctx, &ctx.params[0])),
        &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?,
    ))
}

fn stop_pool_resize(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let v = conditional_write(state, ctx, Command::StopPoolResize { pool_id: ctx.params[0].clone() })?;
    Ok(updated(
        StatusCode::ACCEPTED,
        &format!("{}/stopresize", pool_url(ctx, &ctx.params[0])),
        &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?,
    ))
}

fn remove_nodes(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: BatchNodeRemoveOptions = ctx.json()?;
    let v = conditional_write(state, ctx, Command::RemoveNodes { pool_id: ctx.params[0].clone(), body })?;
    Ok(updated(
        StatusCode::ACCEPTED,
        &format!("{}/removenodes", pool_url(ctx, &ctx.params[0])),
        &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?,
    ))
}

fn delete_pool(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    conditional_write(state, ctx, Command::DeletePool { pool_id: ctx.params[0].clone() })?;
    Ok(empty(StatusCode::ACCEPTED))
}
