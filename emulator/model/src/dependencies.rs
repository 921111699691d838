//! Task dependencies and exit conditions (node-and-container-semantics.md §5.5–5.6).
//!
//! A task with `dependsOn` runs only when every parent is completed and its dependency is
//! satisfied: by default a parent satisfies it when it exits 0; its `exitConditions` can say
//! otherwise (`dependencyAction: satisfy|block`). A blocked task stays `active` for ever.
//! `jobAction` (`none|disable|terminate`) is carried out only when the job's `onTaskFailure` is
//! `performexitoptionsjobaction`. Dependents are re-examined whenever a task completes, so
//! they start the moment their parents do, without polling.

use crate::error::{BatchErrorCode, DomainError};
use crate::task::{Task, TaskState};
use serde::Deserialize;
use serde_json::Value;

/// `dependsOn`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependencies {
    #[serde(default)]
    pub task_ids: Vec<String>,
    #[serde(default)]
    pub task_id_ranges: Vec<IdRange>,
}

/// `{start, end}`, inclusive, over integer task ids.
#[derive(Debug, Clone, Deserialize)]
pub struct IdRange {
    pub start: i64,
    pub end: i64,
}

/// `exitOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExitOptions {
    pub job_action: Option<String>,
    pub dependency_action: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct ExitCodeMapping {
    code: i32,
    #[serde(rename = "exitOptions")]
    exit_options: ExitOptions,
}

#[derive(Debug, Clone, Deserialize)]
struct ExitCodeRangeMapping {
    start: i32,
    end: i32,
    #[serde(rename = "exitOptions")]
    exit_options: ExitOptions,
}

/// `exitConditions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExitConditions {
    #[serde(default)]
    exit_codes: Vec<ExitCodeMapping>,
    #[serde(default)]
    exit_code_ranges: Vec<ExitCodeRangeMapping>,
    pre_processing_error: Option<ExitOptions>,
    file_upload_error: Option<ExitOptions>,
    default: Option<ExitOptions>,
}

fn invalid(name: &str, value: impl ToString, reason: &str) -> DomainError {
    DomainError::invalid_property(name, value.to_string(), reason)
}

/// Parses and checks `dependsOn` (the job must use task dependencies; at most 64,000
/// characters of ids; ranges ordered).
pub fn parse_dependencies(v: &Value, job_uses_dependencies: bool) -> Result<Dependencies, DomainError> {
    if !job_uses_dependencies {
        return Err(BatchErrorCode::TaskDependenciesNotSpecifiedOnJob.into());
    }
    let d: Dependencies = serde_json::from_value(v.clone()).map_err(|e| invalid("dependsOn", v, &e.to_string()))?;
    if d.task_ids.iter().map(String::len).sum::<usize>() > 64_000 {
        return Err(BatchErrorCode::TaskDependencyListTooLong.into());
    }
    for r in &d.task_id_ranges {
        if r.start < 0 || r.end < r.start {
            return Err(invalid("taskIdRanges", format!("{}-{}", r.start, r.end), "A range needs 0 <= start <= end"));
        }
    }
    Ok(d)
}

/// Parses and checks `exitConditions` against the job's settings.
pub fn parse_exit_conditions(v: &Value, job_uses_dependencies: bool, job_performs_actions: bool) -> Result<ExitConditions, DomainError> {
    let c: ExitConditions = serde_json::from_value(v.clone()).map_err(|e| invalid("exitConditions", v, &e.to_string()))?;
    let all = c
        .exit_codes
        .iter()
        .map(|m| &m.exit_options)
        .chain(c.exit_code_ranges.iter().map(|m| &m.exit_options))
        .chain(c.pre_processing_error.iter())
        .chain(c.file_upload_error.iter())
        .chain(c.default.iter());
    for o in all {
        if let Some(a) = &o.job_action {
            if !["none", "disable", "terminate"].iter().any(|k| k.eq_ignore_ascii_case(a)) {
                return Err(invalid("jobAction", a, "The value must be none, disable or terminate"));
            }
            if !job_performs_actions && !a.eq_ignore_ascii_case("none") {
                return Err(invalid("jobAction", a, "A job action needs the job's onTaskFailure to be performexitoptionsjobaction"));
            }
        }
        if let Some(d) = &o.dependency_action {
            if !["satisfy", "block"].iter().any(|k| k.eq_ignore_ascii_case(d)) {
                return Err(invalid("dependencyAction", d, "The value must be satisfy or block"));
            }
            if !job_uses_dependencies {
                return Err(invalid("dependencyAction", d, "A dependency action needs the job to use task dependencies"));
            }
        }
    }
    for r in &c.exit_code_ranges {
        if r.end < r.start {
            return Err(invalid("exitCodeRanges", format!("{}-{}", r.start, r.end), "A range needs start <= end"));
        }
    }
    Ok(c)
}

/// The exit options that apply to a completed task, with the service's defaults filled in:
/// exit 0 gets non-default behaviour only when listed; anything else falls back to `default`;
/// a task that never started uses `preProcessingError`; one whose output upload failed uses
/// `fileUploadError`, unless its exit code is listed ("if the exit code matched
/// exitCodes/exitCodeRanges, that action wins").
pub fn effective_exit_options(task: &Task) -> ExitOptions {
    let conditions: ExitConditions = task.spec.exit_conditions.as_ref().and_then(|v| serde_json::from_value((**v).clone()).ok()).unwrap_or_default();
    let info = &task.execution_info;
    let succeeded = info.result.as_deref() == Some("success");
    let upload_failed = info.failure_info.as_ref().and_then(|f| f.code.as_deref()).is_some_and(|c| c.starts_with("FileUpload"));
    let matched = match info.exit_code {
        Some(code) => conditions
            .exit_codes
            .iter()
            .find(|m| m.code == code)
            .map(|m| m.exit_options.clone())
            .or_else(|| conditions.exit_code_ranges.iter().find(|m| (m.start..=m.end).contains(&code)).map(|m| m.exit_options.clone()))
            .or_else(|| upload_failed.then(|| conditions.file_upload_error.clone()).flatten())
            .or_else(|| (!succeeded).then(|| conditions.default.clone()).flatten()),
        None => conditions.pre_processing_error.clone().or(conditions.default.clone()),
    };
    let mut o = matched.unwrap_or_default();
    o.job_action.get_or_insert_with(|| if succeeded { "none" } else { "terminate" }.into());
    o.dependency_action.get_or_insert_with(|| if succeeded { "satisfy" } else { "block" }.into());
    o
}

/// Whether a parent satisfies its dependents: completed, and its dependency action says so.
pub fn satisfies_dependents(parent: &Task) -> bool {
    parent.state == TaskState::Completed && effective_exit_options(parent).dependency_action.as_deref().is_some_and(|d| d.eq_ignore_ascii_case("satisfy"))
}

/// Whether every parent of a task is satisfied, `parent_ok` saying it of one id; `tasks` is the
/// number of tasks in the job. Ranges are never expanded past that: a range wider than the
/// job cannot be satisfied yet (some of its ids are no task), whatever numbers it names.
pub fn parents_satisfied(task: &Task, tasks: usize, parent_ok: impl Fn(&str) -> bool) -> bool {
    let Some(v) = &task.spec.depends_on else { return true };
    let d: Dependencies = serde_json::from_value((**v).clone()).unwrap_or_default();
    d.task_ids.iter().all(|id| parent_ok(id))
        && d.task_id_ranges.iter().all(|r| {
            let width = i128::from(r.end) - i128::from(r.start) + 1;
            width >= 1 && width <= tasks as i128 && (r.start..=r.end).all(|i| parent_ok(&i.to_string()))
        })
}
