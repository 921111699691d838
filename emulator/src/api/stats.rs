//! `$expand=stats`: the statistics objects of tasks, jobs, job schedules and pools, computed
//! from what the node agent measured of real runs (`batch_model::stats`).
//! UNCONFIRMED: each object's `url` (the entity's own here). A pool's memory and disk space
//! figures come from the resource samples autoscale pools take (the nodes' average in each
//! sample; average and peak over the samples kept); other pools', and network figures, are 0.

use super::Ctx;
use batch_client::BatchDuration;
use batch_model::job::Job;
use batch_model::pool::Pool;
use batch_model::stats::{cores_of, NodeSpan, Usage};
use batch_model::task::{Task, TaskState};
use serde_json::{json, Value};
use time::OffsetDateTime;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Whether the request asks for statistics (`$expand=stats`).
pub fn wanted(ctx: &Ctx) -> bool {
    ctx.q("$expand").is_some_and(|e| e.split(',').any(|p| p.trim().eq_ignore_ascii_case("stats")))
}

fn duration_ms(ms: u64) -> Value {
    serde_json::to_value(BatchDuration::from_ticks(i64::try_from(ms).unwrap_or(i64::MAX / 10_000).saturating_mul(10_000))).unwrap_or(Value::Null)
}

fn t(x: OffsetDateTime) -> Value {
    Value::String(batch_client::timefmt::format_body(x))
}

fn ms_between(a: OffsetDateTime, b: OffsetDateTime) -> u64 {
    u64::try_from((b - a).whole_milliseconds()).unwrap_or(0)
}

/// A task's wall clock so far: its ended attempts, and the one running now.
fn wall_clock_ms(task: &Task, now: OffsetDateTime) -> u64 {
    let running = match (task.state, task.execution_info.start_time) {
        (TaskState::Running, Some(start)) => ms_between(start, now),
        _ => 0,
    };
    task.stats.wall_clock_ms.saturating_add(running)
}

/// "The elapsed time between the creation of the Task and the start of Task execution" (to
/// the most recent execution).
fn wait_ms(task: &Task) -> u64 {
    task.execution_info.start_time.map_or(0, |s| ms_between(task.creation_time, s))
}

/// The fields every task, job and schedule statistics object shares.
fn usage_fields(url: String, start: OffsetDateTime, now: OffsetDateTime, usage: &Usage, wall_ms: u64, wait: u64) -> serde_json::Map<String, Value> {
    let Value::Object(m) = json!({
        "url": url,
        "startTime": t(start),
        "lastUpdateTime": t(now),
        "userCPUTime": duration_ms(usage.user_cpu_ms),
        "kernelCPUTime": duration_ms(usage.kernel_cpu_ms),
        "wallClockTime": duration_ms(wall_ms),
        "readIOps": usage.read_ops.to_string(),
        "writeIOps": usage.write_ops.to_string(),
        "readIOGiB": usage.read_bytes as f64 / GIB,
        "writeIOGiB": usage.write_bytes as f64 / GIB,
        "waitTime": duration_ms(wait),
    }) else {
        unreachable!("a JSON object literal")
    };
    m
}

/// `BatchTaskStatistics`.
pub fn task(url: String, task: &Task, now: OffsetDateTime) -> Value {
    Value::Object(usage_fields(url, task.creation_time, now, &task.stats.usage, wall_clock_ms(task, now), wait_ms(task)))
}

/// Sums over tasks, for jobs and job schedules.
#[derive(Default)]
struct Totals {
    usage: Usage,
    wall_ms: u64,
    wait_ms: u64,
    succeeded: u64,
    failed: u64,
    retries: u64,
}

impl Totals {
    fn add_job(&mut self, job: &Job, now: OffsetDateTime) {
        for task in job.tasks.values() {
            self.usage.add(&task.stats.usage);
            self.wall_ms = self.wall_ms.saturating_add(wall_clock_ms(task, now));
            self.wait_ms = self.wait_ms.saturating_add(wait_ms(task));
            self.retries += u64::try_from(task.execution_info.retry_count).unwrap_or(0);
            if task.state == TaskState::Completed {
                match task.execution_info.result.as_deref() {
                    Some("success") => self.succeeded += 1,
                    _ => self.failed += 1,
                }
            }
        }
    }

    fn into_json(self, url: String, start: OffsetDateTime, now: OffsetDateTime) -> Value {
        let mut m = usage_fields(url, start, now, &self.usage, self.wall_ms, self.wait_ms);
        m.insert("numSucceededTasks".into(), self.succeeded.to_string().into());
        m.insert("numFailedTasks".into(), self.failed.to_string().into());
        m.insert("numTaskRetries".into(), self.retries.to_string().into());
        Value::Object(m)
    }
}

/// `BatchJobStatistics`: the sums over the job's tasks.
pub fn job(url: String, job: &Job, now: OffsetDateTime) -> Value {
    let mut totals = Totals::default();
    totals.add_job(job, now);
    totals.into_json(url, job.creation_time, now)
}

/// `BatchJobScheduleStatistics`: the sums over the jobs the schedule created that still exist.
pub fn schedule<'a>(url: String, created: OffsetDateTime, jobs: impl Iterator<Item = &'a Job>, now: OffsetDateTime) -> Value {
    let mut totals = Totals::default();
    for j in jobs {
        totals.add_job(j, now);
    }
    totals.into_json(url, created, now)
}

/// `BatchPoolStatistics`: core time of its dedicated nodes (`usageStats`) and what the tasks
/// that ran on its nodes used (`resourceStats`).
pub fn pool<'a>(url: String, pool: &Pool, spans: &[NodeSpan], tasks: impl Iterator<Item = &'a Task>, now: OffsetDateTime) -> Value {
    let cores = u64::from(cores_of(&pool.spec.vm_size));
    let mine = spans.iter().filter(|s| s.pool_id == pool.spec.id && s.start >= pool.creation_time);
    let dedicated: std::collections::HashSet<&str> = pool.nodes.values().filter(|n| n.is_dedicated).map(|n| n.id.as_str()).collect();
    let (mut core_ms, mut node_ms) = (0u64, 0u64);
    for s in mine {
        let ms = ms_between(s.start, s.end.unwrap_or(now));
        node_ms = node_ms.saturating_add(ms);
        // UNCONFIRMED: a node that left is counted as dedicated (spans keep no priority).
        if s.end.is_some() || dedicated.contains(s.node_id.as_str()) {
            core_ms = core_ms.saturating_add(ms.saturating_mul(cores));
        }
    }
    let mut usage = Usage::default();
    for task in tasks.filter(|t| t.placement.as_ref().is_some_and(|p| p.pool_id == pool.spec.id)) {
        usage.add(&task.stats.usage);
    }
    let cpu_ms = usage.user_cpu_ms.saturating_add(usage.kernel_cpu_ms);
    let sampled: Vec<&batch_model::stats::NodeMetrics> = pool.samples.iter().filter_map(|s| s.resources.as_ref()).collect();
    let avg = |f: fn(&batch_model::stats::NodeMetrics) -> f64| {
        if sampled.is_empty() {
            0.0
        } else {
            sampled.iter().map(|m| f(m)).sum::<f64>() / sampled.len() as f64 / GIB
        }
    };
    let peak = |f: fn(&batch_model::stats::NodeMetrics) -> f64| sampled.iter().map(|m| f(m)).fold(0.0, f64::max) / GIB;
    let avg_cpu = if node_ms == 0 { 0.0 } else { cpu_ms as f64 * 100.0 / (node_ms as f64 * cores as f64) };
    json!({
        "url": url,
        "startTime": t(pool.creation_time),
        "lastUpdateTime": t(now),
        "usageStats": {"startTime": t(pool.creation_time), "lastUpdateTime": t(now), "dedicatedCoreTime": duration_ms(core_ms)},
        "resourceStats": {
            "startTime": t(pool.creation_time),
            "lastUpdateTime": t(now),
            "avgCPUPercentage": avg_cpu.min(100.0),
            "avgMemoryGiB": avg(|m| m.memory_bytes),
            "peakMemoryGiB": peak(|m| m.memory_bytes),
            "avgDiskGiB": avg(|m| m.disk_bytes),
            "peakDiskGiB": peak(|m| m.disk_bytes),
            "diskReadIOps": usage.read_ops.to_string(),
            "diskWriteIOps": usage.write_ops.to_string(),
            "diskReadGiB": usage.read_bytes as f64 / GIB,
            "diskWriteGiB": usage.write_bytes as f64 / GIB,
            "networkReadGiB": 0.0,
            "networkWriteGiB": 0.0,
        },
    })
}
