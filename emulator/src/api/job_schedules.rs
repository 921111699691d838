//! Job schedules: create, get, exists, list, update, replace, delete, disable, enable,
//! terminate.

use super::error::ApiError;
use super::operations::Operation;
use super::{check_read, created, empty, encode_segment, list_body, updated, Ctx, ListOptions};
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use batch_client::models::*;
use batch_model::schedule::JobSchedule;
use batch_model::{Applied, Command, IdKey};
use serde_json::Value;
use std::ops::Bound;

pub async fn handle(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    match ctx.op {
        Operation::CreateJobSchedule => create(state, ctx),
        Operation::GetJobSchedule => get(state, ctx),
        Operation::JobScheduleExists => exists(state, ctx),
        Operation::ListJobSchedules => list(state, ctx),
        Operation::UpdateJobSchedule => update(state, ctx, false),
        Operation::ReplaceJobSchedule => update(state, ctx, true),
        Operation::DeleteJobSchedule => {
            conditional_write(state, ctx, Command::DeleteJobSchedule { schedule_id: ctx.params[0].clone() })?;
            Ok(empty(StatusCode::ACCEPTED))
        }
        Operation::DisableJobSchedule => {
            action(state, ctx, "disable", StatusCode::NO_CONTENT, Command::DisableJobSchedule { schedule_id: ctx.params[0].clone() })
        }
        Operation::EnableJobSchedule => action(state, ctx, "enable", StatusCode::NO_CONTENT, Command::EnableJobSchedule { schedule_id: ctx.params[0].clone() }),
        Operation::TerminateJobSchedule => {
            action(state, ctx, "terminate", StatusCode::ACCEPTED, Command::TerminateJobSchedule { schedule_id: ctx.params[0].clone() })
        }
        other => Err(ApiError::internal(format!("job_schedules::handle got {other:?}"))),
    }
}

pub fn schedule_url(ctx: &Ctx, id: &str) -> String {
    ctx.url(&format!("/jobschedules/{}", encode_segment(id)))
}

fn to_wire(ctx: &Ctx, s: &JobSchedule) -> BatchJobSchedule {
    BatchJobSchedule {
        stats: None,
        odata_metadata: None,
        id: s.spec.id.clone(),
        display_name: s.spec.display_name.clone(),
        url: Some(schedule_url(ctx, &s.spec.id)),
        e_tag: Some(s.version.etag.clone()),
        last_modified: Some(s.version.last_modified),
        creation_time: Some(s.creation_time),
        state: Some(s.state.as_str().into()),
        state_transition_time: Some(s.state_transition_time),
        previous_state: s.previous_state.map(|(p, _)| p.as_str().into()),
        previous_state_transition_time: s.previous_state.map(|(_, t)| t),
        schedule: s.spec.schedule.clone(),
        job_specification: s.spec.job_specification.clone().map(|mut j| {
            super::secrets::job(&mut j);
            j
        }),
        execution_info: Some(BatchJobScheduleExecutionInfo {
            next_run_time: s.next_run_time,
            recent_job: s.recent_job().map(|id| RecentBatchJob { url: Some(super::jobs::job_url(ctx, &id)), id: Some(id) }),
            end_time: s.end_time,
        }),
        metadata: s.spec.metadata.clone(),
    }
}

fn create(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let spec: BatchJobScheduleCreateOptions = ctx.json()?;
    let id = spec.id.clone();
    let applied = state.execute(Command::CreateJobSchedule { spec })?;
    Ok(created(&schedule_url(ctx, &id), &applied.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?))
}

fn get(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    state.read(|a| {
        let s = a.job_schedule(&ctx.params[0])?;
        if let Some(not_modified) = check_read(ctx, &s.version)? {
            return Ok(not_modified);
        }
        let mut wire = with_stats(ctx, a, s);
        wire.odata_metadata = Some(ctx.metadata("jobschedules/@Element"));
        super::wire_entity(&wire, opts.select.as_deref(), Some(&s.version))
    })
}

fn exists(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    state.read(|a| {
        let s = a.job_schedule(&ctx.params[0])?;
        if let Some(not_modified) = check_read(ctx, &s.version)? {
            return Ok(not_modified);
        }
        let mut r = empty(StatusCode::OK);
        super::set_version(&mut r, &s.version);
        Ok(r)
    })
}

fn list(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    let (items, next) = state.read(|a| {
        let start = opts.skip_token.as_deref().map_or(Bound::Unbounded, |t| Bound::Excluded(IdKey::of(t)));
        let iter =
            a.schedules.range((start, Bound::Unbounded)).map(|(k, s)| (k.to_string(), serde_json::to_value(with_stats(ctx, a, s)).unwrap_or(Value::Null)));
        opts.page(ctx, iter)
    });
    Ok(list_body(ctx, "jobschedules", items, next))
}

/// The schedule as the service shows it, with its statistics when `$expand=stats` asks.
fn with_stats(ctx: &Ctx, a: &batch_model::Account, s: &JobSchedule) -> BatchJobSchedule {
    let mut wire = to_wire(ctx, s);
    if super::stats::wanted(ctx) {
        let url = wire.url.clone().unwrap_or_default();
        let key = s.key();
        let jobs = a.jobs.values().filter(move |j| j.schedule.as_ref() == Some(&key));
        wire.stats = Some(super::stats::schedule(url, s.creation_time, jobs, ctx.now));
    }
    wire
}

fn conditional_write(state: &AppState, ctx: &Ctx, cmd: Command) -> Result<Applied, ApiError> {
    super::conditional_write(state, ctx, cmd, |a| Ok(a.job_schedule(&ctx.params[0])?.version.clone()))
}

fn update(state: &AppState, ctx: &Ctx, replace: bool) -> Result<Response, ApiError> {
    let patch: BatchJobScheduleUpdateOptions = ctx.json()?;
    let v = conditional_write(state, ctx, Command::UpdateJobSchedule { schedule_id: ctx.params[0].clone(), patch, replace })?;
    Ok(updated(StatusCode::OK, &schedule_url(ctx, &ctx.params[0]), &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?))
}

fn action(state: &AppState, ctx: &Ctx, name: &str, status: StatusCode, cmd: Command) -> Result<Response, ApiError> {
    let v = conditional_write(state, ctx, cmd)?;
    Ok(updated(
        status,
        &format!("{}/{name}", schedule_url(ctx, &ctx.params[0])),
        &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?,
    ))
}
