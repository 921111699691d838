//! Autoscale pools: the formula evaluated at creation and when enabled, then every
//! `autoScaleEvaluationInterval` through a timer, its targets applied through the resize
//! machinery with `$NodeDeallocationOption`; the pool's metrics sampled every 30 seconds; enable,
//! disable and evaluate. The formula language is [`crate::autoscale`].

use super::pools::DeallocationOption;
use super::state::Account;
use crate::autoscale::{self, FormulaError, Inputs};
use crate::effects::{Effect, Timer};
use crate::error::{BatchErrorCode as Code, DomainError};
use crate::ids::IdKey;
use crate::job::JobState;
use crate::node::NodeState;
use crate::pool::{AllocationState, AutoScaleRunRecord, Pool, PoolSample, MAX_SAMPLES};
use crate::version::Version;
use batch_client::BatchDuration;
use time::OffsetDateTime;

/// The documented default, minimum and maximum evaluation intervals.
pub const DEFAULT_INTERVAL: BatchDuration = BatchDuration::from_secs(15 * 60);
const MIN_INTERVAL: BatchDuration = BatchDuration::from_secs(5 * 60);
const MAX_INTERVAL: BatchDuration = BatchDuration::from_secs(168 * 3600);
/// "Batch limits EnableAutoScaleAsync calls to once every 30 seconds."
const ENABLE_RATE: time::Duration = time::Duration::seconds(30);
/// How long a sample takes to reach formulas ("It takes approximately one minute for samples to
/// propagate through the system"). UNCONFIRMED: the exact delay.
const SAMPLE_DELAY: time::Duration = time::Duration::seconds(60);

fn settings(message: &str) -> DomainError {
    DomainError::new(Code::InvalidAutoScalingSettings).with_message(message)
}

/// A formula's syntax error as a request error (400, the formula error's code and detail).
fn formula_refused(e: FormulaError) -> DomainError {
    let code = if e.code == "AutoScalingFormulaTooLong" { Code::AutoScalingFormulaTooLong } else { Code::AutoScalingFormulaSyntaxError };
    let mut err = DomainError::new(code);
    for (k, v) in e.values {
        err = err.with_value(&k, v);
    }
    err
}

/// Checks an evaluation interval against the documented range.
pub(super) fn check_interval(i: BatchDuration) -> Result<(), DomainError> {
    if i < MIN_INTERVAL || i > MAX_INTERVAL {
        return Err(settings("The autoscale evaluation interval must be between 5 minutes and 168 hours."));
    }
    Ok(())
}

/// Checks a formula's syntax (what a request can be refused for).
pub(super) fn check_formula(formula: &str) -> Result<(), DomainError> {
    autoscale::parse(formula).map(|_| ()).map_err(formula_refused)
}

/// A number in [0, 1) from the pool and the time: evaluations replay to the same result.
fn seeded_random(pool_id: &str, now: OffsetDateTime, n: &mut u64) -> f64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (pool_id, now.unix_timestamp_nanos(), *n).hash(&mut h);
    *n += 1;
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

impl Account {
    /// The autoscale settings of a pool body: with `enableAutoScale`, a formula that parses, an
    /// interval in range and no fixed targets ("This property must not be specified if
    /// enableAutoScale is set to true"); without it, no formula or interval.
    pub(super) fn validate_auto_scale_spec(spec: &batch_client::models::BatchPoolCreateOptions) -> Result<(), DomainError> {
        if spec.enable_auto_scale == Some(true) {
            if spec.target_dedicated_nodes.is_some() || spec.target_low_priority_nodes.is_some() {
                return Err(settings("targetDedicatedNodes and targetLowPriorityNodes must not be specified when enableAutoScale is true."));
            }
            let formula =
                spec.auto_scale_formula.as_deref().filter(|f| !f.trim().is_empty()).ok_or_else(|| DomainError::missing_property("autoScaleFormula"))?;
            check_formula(formula)?;
            if let Some(i) = spec.auto_scale_evaluation_interval {
                check_interval(i)?;
            }
        } else if spec.auto_scale_formula.is_some() || spec.auto_scale_evaluation_interval.is_some() {
            // UNCONFIRMED: the code for autoscale settings on a pool without autoscale.
            return Err(settings("autoScaleFormula and autoScaleEvaluationInterval need enableAutoScale set to true."));
        }
        Ok(())
    }

    /// A new autoscale pool: the formula runs at creation and sets the first targets; the
    /// timers are armed.
    pub(super) fn start_auto_scale(&mut self, key: &IdKey, now: OffsetDateTime) {
        let Some(p) = self.pools.get_mut(key) else { return };
        if p.spec.enable_auto_scale != Some(true) {
            return;
        }
        let interval = *p.spec.auto_scale_evaluation_interval.get_or_insert(DEFAULT_INTERVAL);
        p.spec.target_dedicated_nodes = Some(0);
        p.spec.target_low_priority_nodes = Some(0);
        self.run_auto_scale(key, now);
        self.arm_auto_scale(key, now + interval.to_std(), now);
    }

    /// Evaluates `formula` against a pool as it is now, without applying it.
    pub fn evaluate_formula(&self, pool: &Pool, formula: &str, now: OffsetDateTime) -> AutoScaleRunRecord {
        let visible: Vec<&PoolSample> = pool.samples.iter().filter(|s| s.at + SAMPLE_DELAY <= now).collect();
        let samples = |metric: &str| -> Vec<(OffsetDateTime, f64)> { visible.iter().filter_map(|s| s.value(metric).map(|v| (s.at, v))).collect() };
        let mut n = 0;
        let pool_id = pool.spec.id.clone();
        let mut random = || seeded_random(&pool_id, now, &mut n);
        let target_dedicated = f64::from(pool.spec.target_dedicated_nodes.unwrap_or(0));
        let target_low_priority = f64::from(pool.spec.target_low_priority_nodes.unwrap_or(0));
        let mut inputs = Inputs {
            now,
            current_dedicated: pool.current_nodes(true) as f64,
            current_low_priority: pool.current_nodes(false) as f64,
            target_dedicated,
            target_low_priority,
            samples: &samples,
            random: &mut random,
        };
        match autoscale::run(formula, &mut inputs) {
            Ok(outcome) => {
                let bad = [outcome.target_dedicated, outcome.target_low_priority].into_iter().find(|t| !t.is_finite());
                match bad {
                    Some(t) => AutoScaleRunRecord {
                        timestamp: now,
                        results: outcome.results(),
                        error: Some(FormulaError::at(Default::default(), &format!("The target number of nodes is not a number: {t}"))),
                        targets: None,
                    },
                    None => AutoScaleRunRecord {
                        timestamp: now,
                        results: outcome.results(),
                        error: None,
                        targets: Some((outcome.target_dedicated, outcome.target_low_priority, outcome.node_deallocation_option)),
                    },
                }
            }
            // The results then show the targets as they were (recorded from the service).
            Err(e) => AutoScaleRunRecord {
                timestamp: now,
                results: format!("$TargetDedicatedNodes={};$TargetLowPriorityNodes={};$NodeDeallocationOption=requeue", target_dedicated, target_low_priority),
                error: Some(e),
                targets: None,
            },
        }
    }

    /// Runs the pool's formula now: records the run and, when it succeeded, resizes towards its
    /// targets (rounded down, at least 0, at most the emulator's limit). UNCONFIRMED: rounding
    /// down; doAzureParallel's formulas add 0.5 before assigning, which points that way.
    pub(super) fn run_auto_scale(&mut self, key: &IdKey, now: OffsetDateTime) {
        let Some(pool) = self.pools.get(key) else { return };
        let Some(formula) = pool.spec.auto_scale_formula.clone().filter(|_| pool.spec.enable_auto_scale == Some(true)) else { return };
        let run = self.evaluate_formula(pool, &formula, now);
        let targets = run.targets.clone();
        let Some(pool) = self.pools.get_mut(key) else { return };
        pool.auto_scale_run = Some(run);
        if let Some((dedicated, low, option)) = targets {
            let clamp = |t: f64| t.floor().clamp(0.0, f64::from(super::MAX_NODES_PER_POOL)) as i32;
            let (dedicated, low) = (clamp(dedicated), clamp(low));
            let low = low.min(super::MAX_NODES_PER_POOL - dedicated);
            let changed = pool.spec.target_dedicated_nodes != Some(dedicated) || pool.spec.target_low_priority_nodes != Some(low);
            pool.spec.target_dedicated_nodes = Some(dedicated);
            pool.spec.target_low_priority_nodes = Some(low);
            if changed {
                pool.allocation_state = AllocationState::Resizing;
                pool.allocation_state_transition_time = now;
                let option = DeallocationOption::parse(Some(&option)).unwrap_or(DeallocationOption::Requeue);
                self.resize_with(key, option, now);
            }
        }
    }

    /// Arms the pool's evaluation and sampling timers.
    pub(super) fn arm_auto_scale(&mut self, key: &IdKey, evaluate_at: OffsetDateTime, now: OffsetDateTime) {
        let Some(pool) = self.pools.get(key) else { return };
        if pool.spec.enable_auto_scale != Some(true) {
            return;
        }
        let pool_id = pool.spec.id.clone();
        self.outbox.push(Effect::At { when: evaluate_at, timer: Timer::AutoScale { pool_id: pool_id.clone() } });
        self.outbox.push(Effect::At { when: now + crate::autoscale::SAMPLE_PERIOD, timer: Timer::PoolSample { pool_id } });
    }

    /// The evaluation timer fired: evaluate, apply, and arm the next one (a timer from before a
    /// change of interval finds it not due and does nothing).
    pub(crate) fn auto_scale_due(&mut self, pool_id: &str, now: OffsetDateTime) {
        let key = IdKey::of(pool_id);
        let Some(pool) = self.pools.get(&key) else { return };
        if pool.spec.enable_auto_scale != Some(true) {
            return;
        }
        let interval = pool.spec.auto_scale_evaluation_interval.unwrap_or(DEFAULT_INTERVAL).to_std();
        let last = pool.auto_scale_run.as_ref().map(|r| r.timestamp);
        let due = last.is_none_or(|t| now >= t + interval);
        if due {
            self.run_auto_scale(&key, now);
            let pool_id = pool_id.to_string();
            self.outbox.push(Effect::At { when: now + interval, timer: Timer::AutoScale { pool_id } });
        }
    }

    /// The sampling timer fired: record what the pool's jobs and nodes are doing now (with the
    /// nodes' resource use the agent measured, averaged), and arm the next sample.
    pub(crate) fn sample_pool(&mut self, pool_id: &str, nodes: &[crate::stats::NodeMetrics], now: OffsetDateTime) {
        let key = IdKey::of(pool_id);
        let Some(pool) = self.pools.get(&key) else { return };
        if pool.spec.enable_auto_scale != Some(true) {
            return;
        }
        if pool.samples.back().is_some_and(|s| now < s.at + crate::autoscale::SAMPLE_PERIOD) {
            return;
        }
        let (mut active, mut running, mut succeeded, mut failed) = (0.0, 0.0, 0.0, 0.0);
        for job in self.jobs.values().filter(|j| j.pool_id().is_some_and(|p| p.eq_ignore_ascii_case(pool_id))) {
            if !matches!(job.state, JobState::Active | JobState::Disabling | JobState::Disabled | JobState::Terminating) {
                continue;
            }
            let c = Self::task_counts(job).task_counts;
            active += f64::from(c.active);
            running += f64::from(c.running);
            succeeded += f64::from(c.succeeded);
            failed += f64::from(c.failed);
        }
        let sample = PoolSample {
            at: now,
            active_tasks: active,
            running_tasks: running,
            succeeded_tasks: succeeded,
            failed_tasks: failed,
            dedicated_nodes: pool.current_nodes(true) as f64,
            low_priority_nodes: pool.current_nodes(false) as f64,
            node_count: pool.nodes.values().filter(|n| n.state != NodeState::LeavingPool).count() as f64,
            preempted_nodes: pool.nodes.values().filter(|n| n.state == NodeState::Preempted).count() as f64,
            resources: crate::stats::NodeMetrics::average(nodes),
        };
        let Some(pool) = self.pools.get_mut(&key) else { return };
        pool.samples.push_back(sample);
        while pool.samples.len() > MAX_SAMPLES {
            pool.samples.pop_front();
        }
        self.outbox.push(Effect::At { when: now + crate::autoscale::SAMPLE_PERIOD, timer: Timer::PoolSample { pool_id: pool_id.to_string() } });
    }

    /// Enable Automatic Scaling: on a pool without it, a formula is required; on one with it, a
    /// formula, an interval or both change (at least one). Not while a resize runs, and at most
    /// once every 30 seconds. The formula is evaluated at once; a new interval starts a new
    /// schedule from now.
    pub fn enable_auto_scale(
        &mut self,
        pool_id: &str,
        formula: Option<String>,
        interval: Option<BatchDuration>,
        now: OffsetDateTime,
    ) -> Result<Version, DomainError> {
        let pool = self.active_pool_mut(pool_id)?;
        let enabled = pool.spec.enable_auto_scale == Some(true);
        if !enabled && formula.is_none() {
            return Err(DomainError::missing_property("autoScaleFormula"));
        }
        if enabled && formula.is_none() && interval.is_none() {
            return Err(settings("Specify an autoscale formula, an evaluation interval, or both."));
        }
        if let Some(i) = interval {
            check_interval(i)?;
        }
        if let Some(f) = &formula {
            check_formula(f)?;
        }
        if pool.allocation_state != AllocationState::Steady && !enabled {
            // UNCONFIRMED: the code (the docs say only that it is rejected during a resize).
            return Err(DomainError::new(Code::OperationInvalidForCurrentState).with_message("Autoscale cannot be enabled while the pool is resizing."));
        }
        if pool.auto_scale_enabled_at.is_some_and(|t| now < t + ENABLE_RATE) {
            return Err(DomainError::new(Code::TooManyEnableAutoScaleRequests));
        }
        pool.spec.enable_auto_scale = Some(true);
        if let Some(f) = formula {
            pool.spec.auto_scale_formula = Some(f);
        }
        if interval.is_some() || !enabled {
            pool.spec.auto_scale_evaluation_interval = Some(interval.unwrap_or(DEFAULT_INTERVAL));
        }
        pool.auto_scale_enabled_at = Some(now);
        let key = pool.key();
        let version = self.version(now);
        self.pools.get_mut(&key).ok_or(DomainError::new(Code::PoolNotFound))?.version = version.clone();
        self.run_auto_scale(&key, now);
        let next = now + self.pools.get(&key).and_then(|p| p.spec.auto_scale_evaluation_interval).unwrap_or(DEFAULT_INTERVAL).to_std();
        self.arm_auto_scale(&key, next, now);
        Ok(version)
    }

    /// Disable Automatic Scaling: the pool keeps its current size and targets.
    pub fn disable_auto_scale(&mut self, pool_id: &str, now: OffsetDateTime) -> Result<Version, DomainError> {
        let pool = self.active_pool_mut(pool_id)?;
        pool.spec.enable_auto_scale = Some(false);
        pool.spec.auto_scale_formula = None;
        pool.spec.auto_scale_evaluation_interval = None;
        pool.samples.clear();
        let key = pool.key();
        let version = self.version(now);
        self.pools.get_mut(&key).ok_or(DomainError::new(Code::PoolNotFound))?.version = version.clone();
        Ok(version)
    }
}
