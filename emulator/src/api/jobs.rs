//! Jobs: create, get, list (also a schedule's jobs), update, replace, delete, disable, enable, terminate, task counts.

use super::error::ApiError;
use super::operations::Operation;
use super::{check_read, created, empty, encode_segment, entity, list_body, to_json, updated, Ctx, ListOptions};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use batch_client::models::*;
use batch_model::job::Job;
use batch_model::{Account, Applied, Command, IdKey};
use serde_json::Value;
use std::ops::Bound;

pub async fn handle(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    match ctx.op {
        Operation::CreateJob => create_job(state, ctx),
        Operation::GetJob => get_job(state, ctx),
        Operation::ListJobs => list_jobs(state, ctx),
        Operation::ListJobsFromSchedule => list_jobs_from_schedule(state, ctx),
        Operation::UpdateJob => update_job(state, ctx),
        Operation::ReplaceJob => replace_job(state, ctx),
        Operation::DeleteJob => delete_job(state, ctx),
        Operation::DisableJob => disable_job(state, ctx),
        Operation::EnableJob => enable_job(state, ctx),
        Operation::TerminateJob => terminate_job(state, ctx),
        Operation::GetJobTaskCounts => get_job_task_counts(state, ctx),
        Operation::ListJobPreparationAndReleaseTaskStatus => list_job_preparation_and_release_task_status(state, ctx),
        other => Err(ApiError::internal(format!("jobs::handle got {other:?}"))),
    }
}

pub fn job_url(ctx: &Ctx, id: &str) -> String {
    ctx.url(&format!("/jobs/{}", encode_segment(id)))
}

fn to_wire(ctx: &Ctx, job: &Job) -> BatchJob {
    let mut spec = job.spec.clone();
    super::secrets::job(&mut spec);
    let stats = super::stats::wanted(ctx).then(|| super::stats::job(job_url(ctx, &job.spec.id), job, ctx.now));
    BatchJob {
        stats,
        odata_metadata: None,
        url: Some(job_url(ctx, &job.spec.id)),
        e_tag: Some(job.version.etag.clone()),
        last_modified: Some(job.version.last_modified),
        creation_time: Some(job.creation_time),
        state: Some(job.state.as_str().into()),
        state_transition_time: Some(job.state_transition_time),
        previous_state: job.previous_state.map(|(s, _)| s.as_str().into()),
        previous_state_transition_time: job.previous_state.map(|(_, t)| t),
        execution_info: Some(BatchJobExecutionInfo {
            start_time: job.start_time,
            end_time: job.end_time,
            pool_id: job.pool_id().map(String::from),
            scheduling_error: None,
            terminate_reason: if job.state == batch_model::job::JobState::Completed { job.terminate_reason.clone() } else { None },
        }),
        spec,
    }
}

fn create_job(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let spec: BatchJobCreateOptions = ctx.json()?;
    let id = spec.id.clone();
    let applied = state.execute(Command::CreateJob { spec })?;
    Ok(created(&job_url(ctx, &id), &applied.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?))
}

fn get_job(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    state.read(|a| {
        let job = a.job(&ctx.params[0])?;
        if let Some(not_modified) = check_read(ctx, &job.version)? {
            return Ok(not_modified);
        }
        let mut wire = to_wire(ctx, job);
        wire.odata_metadata = Some(ctx.metadata("jobs/@Element"));
        super::wire_entity(&wire, opts.select.as_deref(), Some(&job.version))
    })
}

fn list_jobs(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    let (items, next) = state.read(|a| {
        let start = opts.skip_token.as_deref().map_or(Bound::Unbounded, |t| Bound::Excluded(IdKey::of(t)));
        let iter = a.jobs.range((start, Bound::Unbounded)).map(|(k, j)| (k.to_string(), serde_json::to_value(to_wire(ctx, j)).unwrap_or(Value::Null)));
        opts.page(ctx, iter)
    });
    Ok(list_body(ctx, "jobs", items, next))
}

/// The jobs a schedule created (`GET /jobschedules/{id}/jobs`).
fn list_jobs_from_schedule(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    let (items, next) = state.read(|a| {
        let schedule = a.job_schedule(&ctx.params[0])?.key();
        let start = opts.skip_token.as_deref().map_or(Bound::Unbounded, |t| Bound::Excluded(IdKey::of(t)));
        let iter = a
            .jobs
            .range((start, Bound::Unbounded))
            .filter(|(_, j)| j.schedule.as_ref() == Some(&schedule))
            .map(|(k, j)| (k.to_string(), serde_json::to_value(to_wire(ctx, j)).unwrap_or(Value::Null)));
        Ok::<_, ApiError>(opts.page(ctx, iter))
    })?;
    Ok(list_body(ctx, "jobs", items, next))
}

/// Runs a job write after checking the caller's conditions against the job's version.
fn conditional_write(state: &AppState, ctx: &Ctx, cmd: Command) -> Result<Applied, ApiError> {
    super::conditional_write(state, ctx, cmd, |a| Ok(a.job(&ctx.params[0])?.version.clone()))
}

fn update_job(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let patch: BatchJobUpdateOptions = ctx.json()?;
    let v = conditional_write(state, ctx, Command::UpdateJob { job_id: ctx.params[0].clone(), patch })?;
    Ok(updated(StatusCode::OK, &job_url(ctx, &ctx.params[0]), &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?))
}

fn replace_job(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: BatchJobUpdateOptions = ctx.json()?;
    let v = conditional_write(state, ctx, Command::ReplaceJob { job_id: ctx.params[0].clone(), body })?;
    Ok(updated(StatusCode::OK, &job_url(ctx, &ctx.params[0]), &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?))
}

fn delete_job(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    conditional_write(state, ctx, Command::DeleteJob { job_id: ctx.params[0].clone() })?;
    Ok(empty(StatusCode::ACCEPTED))
}

fn disable_job(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: BatchJobDisableOptions = ctx.json()?;
    let v = conditional_write(state, ctx, Command::DisableJob { job_id: ctx.params[0].clone(), body })?;
    Ok(updated(
        StatusCode::ACCEPTED,
        &format!("{}/disable", job_url(ctx, &ctx.params[0])),
        &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?,
    ))
}

fn enable_job(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let v = conditional_write(state, ctx, Command::EnableJob { job_id: ctx.params[0].clone() })?;
    Ok(updated(
        StatusCode::ACCEPTED,
        &format!("{}/enable", job_url(ctx, &ctx.params[0])),
        &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?,
    ))
}

fn terminate_job(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: BatchJobTerminateOptions = ctx.json_or_default()?;
    let v = conditional_write(state, ctx, Command::TerminateJob { job_id: ctx.params[0].clone(), reason: body.terminate_reason })?;
    Ok(updated(
        StatusCode::ACCEPTED,
        &format!("{}/terminate", job_url(ctx, &ctx.params[0])),
        &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?,
    ))
}

fn get_job_task_counts(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    state.read(|a| {
        let job = a.job(&ctx.params[0])?;
        let mut counts = Account::task_counts(job);
        counts.odata_metadata = Some(ctx.metadata("taskcounts/@Element"));
        Ok(entity(to_json(&counts)?, &job.version))
    })
}

fn list_job_preparation_and_release_task_status(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    let (items, next) = state.read(|a| {
        let job = a.job(&ctx.params[0])?;
        // UNCONFIRMED: the error for a job without a preparation task (batch-rest-api.md §2.2).
        if job.spec.job_preparation_task.is_none() {
            return Err(ApiError::from(batch_model::BatchErrorCode::JobPreparationTaskNotSpecified));
        }
        let start = opts.skip_token.clone().map_or(Bound::Unbounded, Bound::Excluded);
        let iter = job.prep.range((start, Bound::Unbounded)).map(|(node_id, p)| {
            let node_url = super::nodes::node_url(ctx, &p.pool_id, node_id);
            let with_url = |mut i: JobPrepReleaseExecutionInfo| {
                i.task_root_directory_url = i.task_root_directory.as_ref().map(|d| format!("{node_url}/files/{d}"));
                i
            };
            let item = BatchJobPreparationAndReleaseTaskStatus {
                pool_id: Some(p.pool_id.clone()),
                node_id: Some(node_id.clone()),
                node_url: Some(node_url.clone()),
                job_preparation_task_execution_info: Some(with_url(p.prep.clone())),
                job_release_task_execution_info: p.release.clone().map(|r| {
                    let mut r = with_url(r);
                    r.retry_count = None;
                    r
                }),
            };
            (node_id.clone(), serde_json::to_value(item).unwrap_or(Value::Null))
        });
        Ok(opts.page(ctx, iter))
    })?;
    Ok(list_body(ctx, "jobpreparationandreleasetaskstatuslist", items, next))
}
