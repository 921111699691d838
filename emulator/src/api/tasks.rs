//! Tasks: add, add collection, get, list, replace, delete, terminate, reactivate, subtasks.

use super::error::{error_body, ApiError};
use super::odata::{walk, Entity, KeyHint};
use super::operations::Operation;
use super::ListItem;
use super::{check_read, created, empty, encode_segment, json_response, list_body, to_json, updated, Ctx, ListOptions};
use crate::layout::NodeLayout;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use batch_client::models::*;
use batch_model::account::TaskAddOutcome;
use batch_model::task::Task;
use batch_model::task::TaskState;
use batch_model::{Applied, Command, IdKey};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeSet;
use std::ops::Bound;

/// Every state, for `state eq` filters (a launching task is shown, and filtered, as active).
const TASK_STATES: [TaskState; 5] = [TaskState::Active, TaskState::Preparing, TaskState::Launching, TaskState::Running, TaskState::Completed];

pub async fn handle(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    match ctx.op {
        Operation::CreateTask => create_task(state, ctx),
        Operation::CreateTaskCollection => create_task_collection(state, ctx),
        Operation::GetTask => get_task(state, ctx),
        Operation::ListTasks => list_tasks(state, ctx),
        Operation::ReplaceTask => replace_task(state, ctx),
        Operation::DeleteTask => delete_task(state, ctx),
        Operation::TerminateTask => terminate_task(state, ctx),
        Operation::ReactivateTask => reactivate_task(state, ctx),
        Operation::ListSubtasks => list_subtasks(state, ctx),
        other => Err(ApiError::internal(format!("tasks::handle got {other:?}"))),
    }
}

fn task_url(ctx: &Ctx, job_id: &str, task_id: &str) -> String {
    ctx.url(&format!("/jobs/{}/tasks/{}", encode_segment(job_id), encode_segment(task_id)))
}

fn to_wire(ctx: &Ctx, job_id: &str, task: &Task) -> BatchTask {
    let node_info = task.placement.as_ref().map(|p| {
        let rel = NodeLayout::task_relative(job_id, &task.spec.id);
        BatchNodeInfo {
            affinity_id: Some(batch_model::node::affinity_id(&p.node_id)),
            node_url: Some(super::nodes::node_url(ctx, &p.pool_id, &p.node_id)),
            pool_id: Some(p.pool_id.clone()),
            node_id: Some(p.node_id.clone()),
            task_root_directory: Some(rel.clone()),
            task_root_directory_url: Some(format!("{}/files/{}", super::nodes::node_url(ctx, &p.pool_id, &p.node_id), rel)),
        }
    });
    let mut spec = task.spec.clone();
    super::secrets::task(&mut spec);
    let stats = super::stats::wanted(ctx).then(|| super::stats::task(task_url(ctx, job_id, &task.spec.id), task, ctx.now));
    BatchTask {
        stats,
        odata_metadata: None,
        url: Some(task_url(ctx, job_id, &task.spec.id)),
        e_tag: Some(task.version.etag.clone()),
        last_modified: Some(task.version.last_modified),
        creation_time: Some(task.creation_time),
        state: Some(task.state.as_str().into()),
        state_transition_time: Some(task.state_transition_time),
        previous_state: task.previous_state.map(|(s, _)| s.as_str().into()),
        previous_state_transition_time: task.previous_state.map(|(_, t)| t),
        execution_info: Some(task.execution_info.clone()),
        node_info,
        spec,
    }
}

fn create_task(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let spec: BatchTaskCreateOptions = ctx.json()?;
    let task_id = spec.id.clone();
    let applied = state.execute(Command::AddTask { job_id: ctx.params[0].clone(), spec })?;
    let job_id = state.read(|a| a.job(&ctx.params[0]).map(|j| j.spec.id.clone())).unwrap_or_else(|_| ctx.params[0].clone());
    Ok(created(&task_url(ctx, &job_id, &task_id), &applied.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?))
}

fn create_task_collection(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let group: BatchTaskGroup = ctx.json()?;
    let applied = state.execute(Command::AddTaskCollection { job_id: ctx.params[0].clone(), tasks: group.value })?;
    let Applied::TaskResults(results) = applied else {
        return Err(ApiError::internal("add task collection produced no results"));
    };
    let job_id = state.read(|a| a.job(&ctx.params[0]).map(|j| j.spec.id.clone())).unwrap_or_else(|_| ctx.params[0].clone());
    let value: Vec<BatchTaskCreateResult> = results
        .into_iter()
        .map(|(task_id, outcome)| match outcome {
            // The live service spells the statuses PascalCase (recording); the SDKs compare
            // case-insensitively except 15.x create_tasks, which only matters for errors.
            TaskAddOutcome::Added(v) => BatchTaskCreateResult {
                status: "Success".into(),
                location: Some(task_url(ctx, &job_id, &task_id)),
                task_id,
                e_tag: Some(v.etag),
                last_modified: Some(v.last_modified),
                error: None,
            },
            TaskAddOutcome::Failed(e) => {
                let body = error_body(&e, &ctx.base_url, &ctx.request_id, ctx.now);
                // UNCONFIRMED: the service sends "ClientError"; 15.x create_tasks compares the
                // lower-case spec value, so we send the spec casing for errors
                // (official-sdk-wire-notes.md, "Enum casing").
                BatchTaskCreateResult {
                    status: "clienterror".into(),
                    task_id,
                    e_tag: None,
                    last_modified: None,
                    location: None,
                    error: Some(TaskAddError {
                        code: e.code.as_str().into(),
                        message: serde_json::from_value(body["message"].clone()).ok(),
                        values: e.values.iter().map(|(k, v)| BatchErrorDetail { key: Some(k.clone()), value: Some(v.clone()) }).collect(),
                    }),
                }
            }
        })
        .collect();
    let body = BatchTaskCreateResults { odata_metadata: Some(ctx.metadata("taskaddresult")), value };
    Ok(json_response(StatusCode::OK, &to_json(&body)?))
}

fn get_task(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    state.read(|a| {
        let job = a.job(&ctx.params[0])?;
        let task = a.task(&ctx.params[0], &ctx.params[1])?;
        if let Some(not_modified) = check_read(ctx, &task.version)? {
            return Ok(not_modified);
        }
        let mut wire = to_wire(ctx, &job.spec.id, task);
        wire.odata_metadata = Some(ctx.metadata("tasks/@Element"));
        super::wire_entity(&wire, opts.select.as_deref(), Some(&task.version))
    })
}

fn list_tasks(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let opts = ListOptions::from(ctx)?;
    let (items, next) = state.read(|a| {
        let job = a.job(&ctx.params[0])?;
        let start = opts.skip_token.as_deref().map_or(Bound::Unbounded, |t| Bound::Excluded(IdKey::of(t)));
        let after_start = |k: &IdKey| match &start {
            Bound::Excluded(s) => k > s,
            _ => true,
        };
        // The filter picks the index to read; the whole filter is still evaluated on each
        // candidate, so the index only decides how much is read.
        let candidates: Box<dyn Iterator<Item = &Task>> = match opts.key_hint() {
            KeyHint::All => Box::new(job.tasks.range(start.clone()).map(|(_, t)| t)),
            KeyHint::Ids(ids) => {
                let keys: BTreeSet<IdKey> = ids.iter().map(|i| IdKey::of(i)).filter(|k| after_start(k)).collect();
                Box::new(keys.into_iter().filter_map(|k| job.tasks.get(&k)))
            }
            KeyHint::IdPrefix(prefix) => {
                let prefix = IdKey::of(&prefix);
                let from = match &start {
                    Bound::Excluded(s) if *s >= prefix => Bound::Excluded(s.clone()),
                    _ => Bound::Included(prefix.clone()),
                };
                Box::new(job.tasks.range(from).take_while(move |(k, _)| k.as_str().starts_with(prefix.as_str())).map(|(_, t)| t))
            }
            KeyHint::States(names) => {
                let states: Vec<TaskState> = TASK_STATES.into_iter().filter(|s| names.iter().any(|n| n.eq_ignore_ascii_case(s.as_str()))).collect();
                Box::new(job.tasks.in_states(&states, start.clone()).map(|(_, t)| t))
            }
        };
        let items = candidates.map(|t| (t.key().to_string(), TaskView { ctx, job_id: &job.spec.id, task: t, full: OnceCell::new() }));
        Ok::<_, ApiError>(opts.page(ctx, items))
    })?;
    Ok(list_body(ctx, "tasks", items, next))
}

/// A stored task as a list filter sees it: `id`, `state` and `executionInfo` are read from the
/// domain object; anything else builds the wire form once.
struct TaskView<'a> {
    ctx: &'a Ctx,
    job_id: &'a str,
    task: &'a Task,
    full: OnceCell<Value>,
}

impl TaskView<'_> {
    fn full(&self) -> &Value {
        self.full.get_or_init(|| serde_json::to_value(to_wire(self.ctx, self.job_id, self.task)).unwrap_or(Value::Null))
    }
}

impl Entity for TaskView<'_> {
    fn property(&self, path: &[String]) -> Option<Cow<'_, Value>> {
        match path.first().map(String::as_str) {
            Some("id") if path.len() == 1 => Some(Cow::Owned(Value::String(self.task.spec.id.clone()))),
            Some("state") if path.len() == 1 => Some(Cow::Owned(Value::String(self.task.state.as_str().into()))),
            Some("executionInfo") if self.full.get().is_none() => {
                let info = serde_json::to_value(&self.task.execution_info).ok()?;
                walk(&info, &path[1..]).cloned().map(Cow::Owned)
            }
            _ => walk(self.full(), path).map(Cow::Borrowed),
        }
    }
}

impl ListItem for TaskView<'_> {
    fn into_json(self) -> Value {
        match self.full.into_inner() {
            Some(v) => v,
            None => serde_json::to_value(to_wire(self.ctx, self.job_id, self.task)).unwrap_or(Value::Null),
        }
    }
    fn write_json(self, out: &mut Vec<u8>) {
        let _ = match self.full.get() {
            Some(v) => serde_json::to_writer(out, v),
            None => serde_json::to_writer(out, &to_wire(self.ctx, self.job_id, self.task)),
        };
    }
}

/// Runs a task write after checking the caller's conditions against the task's version.
fn conditional_write(state: &AppState, ctx: &Ctx, cmd: Command) -> Result<Applied, ApiError> {
    super::conditional_write(state, ctx, cmd, |a| Ok(a.task(&ctx.params[0], &ctx.params[1])?.version.clone()))
}

fn replace_task(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: BatchTaskReplaceOptions = ctx.json()?;
    let v = conditional_write(state, ctx, Command::ReplaceTask { job_id: ctx.params[0].clone(), task_id: ctx.params[1].clone(), body })?;
    Ok(updated(StatusCode::OK, &task_url(ctx, &ctx.params[0], &ctx.params[1]), &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?))
}

fn delete_task(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    conditional_write(state, ctx, Command::DeleteTask { job_id: ctx.params[0].clone(), task_id: ctx.params[1].clone() })?;
    Ok(empty(StatusCode::OK))
}

fn terminate_task(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let v = conditional_write(state, ctx, Command::TerminateTask { job_id: ctx.params[0].clone(), task_id: ctx.params[1].clone() })?;
    Ok(updated(
        StatusCode::NO_CONTENT,
        &format!("{}/terminate", task_url(ctx, &ctx.params[0], &ctx.params[1])),
        &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?,
    ))
}

fn reactivate_task(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let v = conditional_write(state, ctx, Command::ReactivateTask { job_id: ctx.params[0].clone(), task_id: ctx.params[1].clone() })?;
    Ok(updated(
        StatusCode::NO_CONTENT,
        &format!("{}/reactivate", task_url(ctx, &ctx.params[0], &ctx.params[1])),
        &v.version().ok_or_else(|| ApiError::internal("the command wrote no version"))?,
    ))
}

fn list_subtasks(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    // A task that is not multi-instance has none: an empty list (batch-rest-api.md §2.4).
    // The primary is the task itself; its subtasks are 1..numberOfInstances-1.
    let job_id = ctx.params[0].clone();
    let subtasks = state.read(|a| a.task(&job_id, &ctx.params[1]).map(|t| (t.spec.id.clone(), t.subtasks.clone())))?;
    let (task_id, subtasks) = subtasks;
    let items = subtasks.into_iter().filter(|s| s.id != 0).map(|s| (format!("{:010}", s.id), subtask_json(ctx, &job_id, &task_id, &s)));
    let (page, next) = super::ListOptions::from(ctx)?.page(ctx, items);
    Ok(list_body(ctx, "subtaskinformation", page, next))
}

/// A subtask as the service shows it (`BatchSubtask`).
fn subtask_json(ctx: &Ctx, job_id: &str, task_id: &str, s: &batch_model::multi_instance::Subtask) -> serde_json::Value {
    use batch_client::timefmt::format_body as t;
    let rel = NodeLayout::task_relative(job_id, task_id);
    let node_url = super::nodes::node_url(ctx, &s.pool_id, &s.node_id);
    let mut v = serde_json::json!({
        "id": s.id,
        "nodeInfo": {
            "affinityId": batch_model::node::affinity_id(&s.node_id),
            "nodeUrl": node_url,
            "poolId": s.pool_id,
            "nodeId": s.node_id,
            "taskRootDirectory": rel,
            "taskRootDirectoryUrl": format!("{node_url}/files/{rel}"),
        },
        "state": s.state.as_str(),
        "stateTransitionTime": t(s.state_transition_time),
    });
    let o = v.as_object_mut().expect("an object");
    let mut put = |k: &str, x: Option<serde_json::Value>| {
        if let Some(x) = x {
            o.insert(k.into(), x);
        }
    };
    put("startTime", s.start_time.map(|x| t(x).into()));
    put("endTime", s.end_time.map(|x| t(x).into()));
    put("exitCode", s.exit_code.map(Into::into));
    put("failureInfo", s.failure_info.as_ref().and_then(|f| serde_json::to_value(f).ok()));
    put("previousState", s.previous_state.map(|(p, _)| p.as_str().into()));
    put("previousStateTransitionTime", s.previous_state.map(|(_, x)| t(x).into()));
    put("result", s.result().map(Into::into));
    v
}
