//! Auto pools: a job whose `poolInfo` has an `autoPoolSpecification` gets a pool of its own,
//! created with the job from the specification's `pool` and deleted when the job completes or
//! is deleted, unless `keepAlive`. Its id is the `autoPoolIdPrefix` and a unique identifier
//! ("The Batch service assigns each auto Pool a unique identifier on creation"), reported in the
//! job's `executionInfo.poolId`. With `poolLifetimeOption: jobschedule` (on a schedule's job
//! specification only) the schedule's first job creates the pool, its later jobs run on it, and
//! it goes when the schedule completes or is deleted, unless `keepAlive`.

use super::state::Account;
use crate::error::DomainError;
use crate::ids::IdKey;
use batch_client::models::BatchPoolCreateOptions;
use serde_json::Value;
use time::OffsetDateTime;

/// A validated `autoPoolSpecification`.
pub(crate) struct AutoPoolSpec {
    pub prefix: Option<String>,
    /// `poolLifetimeOption: jobschedule`.
    pub per_schedule: bool,
    pub keep_alive: bool,
    pub pool: BatchPoolCreateOptions,
}

/// Validates an `autoPoolSpecification` (`poolLifetimeOption` and `pool` required; the prefix
/// at most 20 characters; the pool as a pool body). UNCONFIRMED: the codes of the refusals.
pub(crate) fn parse_auto_pool(v: &Value) -> Result<AutoPoolSpec, DomainError> {
    let lifetime = v.get("poolLifetimeOption").and_then(Value::as_str).ok_or_else(|| DomainError::missing_property("poolLifetimeOption"))?;
    let per_schedule = match lifetime.to_ascii_lowercase().as_str() {
        "job" => false,
        "jobschedule" => true,
        _ => return Err(DomainError::invalid_property("poolLifetimeOption", lifetime, "The value must be job or jobschedule")),
    };
    let prefix = match v.get("autoPoolIdPrefix") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.chars().count() <= 20 && crate::ids::is_valid_id(p) => Some(p.clone()),
        Some(p) => {
            return Err(DomainError::invalid_property("autoPoolIdPrefix", p.to_string(), "The prefix is at most 20 letters, digits, hyphens and underscores"))
        }
    };
    let keep_alive = v.get("keepAlive").and_then(Value::as_bool).unwrap_or(false);
    let mut pool_body = v.get("pool").filter(|p| p.is_object()).cloned().ok_or_else(|| DomainError::missing_property("pool"))?;
    pool_body["id"] = Value::String("autopool".into());
    let pool: BatchPoolCreateOptions =
        serde_json::from_value(pool_body).map_err(|e| DomainError::invalid_property("pool", "autoPoolSpecification.pool", e.to_string()))?;
    Account::validate_pool_spec(&pool)?;
    Ok(AutoPoolSpec { prefix, per_schedule, keep_alive, pool })
}

impl Account {
    /// The id of a job's auto pool: its prefix, `_`, and a GUID made from the account's seed,
    /// the job and the time, so a replayed journal makes the same one. UNCONFIRMED: the shape
    /// of the id the service assigns.
    fn auto_pool_id(&self, prefix: Option<&str>, job_id: &str, now: OffsetDateTime) -> String {
        use std::hash::{Hash, Hasher};
        let part = |salt: u8| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (self.node_id_seed, job_id, now.unix_timestamp_nanos(), salt).hash(&mut h);
            h.finish()
        };
        let (a, b) = (part(1), part(2));
        let guid = format!("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48, b & 0xffff_ffff_ffff);
        match prefix {
            Some(p) => format!("{p}_{guid}"),
            None => guid,
        }
    }

    /// Creates a new job's auto pool, when it has one (or, for a schedule's pool, finds the one
    /// its schedule made), and records it on the job.
    pub(super) fn create_auto_pool(&mut self, job: &IdKey, now: OffsetDateTime) {
        let Some(j) = self.jobs.get(job) else { return };
        let Some(spec) = j.spec.pool_info.auto_pool_specification.as_ref().and_then(|v| parse_auto_pool(v).ok()) else { return };
        let schedule = j.schedule.clone().filter(|_| spec.per_schedule);
        if let Some(existing) = schedule.as_ref().and_then(|s| self.schedules.get(s)).and_then(|s| s.auto_pool_id.clone()) {
            if let Some(j) = self.jobs.get_mut(job) {
                j.auto_pool_id = Some(existing);
            }
            return;
        }
        let owner = match &schedule {
            Some(s) => self.schedules.get(s).map(|s| s.spec.id.clone()).unwrap_or_default(),
            None => j.spec.id.clone(),
        };
        let id = self.auto_pool_id(spec.prefix.as_deref(), &owner, now);
        let mut pool = spec.pool;
        pool.id = id.clone();
        if self.create_pool(pool, now).is_ok() {
            if let Some(s) = schedule.as_ref().and_then(|s| self.schedules.get_mut(s)) {
                s.auto_pool_id = Some(id.clone());
            }
            if let Some(j) = self.jobs.get_mut(job) {
                j.auto_pool_id = Some(id);
            }
        }
    }

    /// A schedule with an auto pool of its own completed or went: its pool goes, unless
    /// `keepAlive`.
    pub(super) fn release_schedule_auto_pool(&mut self, schedule: &IdKey, now: OffsetDateTime) {
        let Some(s) = self.schedules.get_mut(schedule) else { return };
        let Some(pool_id) = s.auto_pool_id.take() else { return };
        let keep_alive = s
            .spec
            .job_specification
            .as_ref()
            .and_then(|j| j.pool_info.auto_pool_specification.as_ref())
            .and_then(|v| parse_auto_pool(v).ok())
            .is_some_and(|a| a.keep_alive);
        if !keep_alive {
            let _ = self.delete_pool(&pool_id, now);
        }
    }

    /// A job with an auto pool completed or went: its pool goes too, unless `keepAlive`.
    pub(super) fn release_auto_pool(&mut self, job: &crate::job::Job, now: OffsetDateTime) {
        let (Some(pool_id), Some(spec)) = (&job.auto_pool_id, &job.spec.pool_info.auto_pool_specification) else { return };
        self.drop_auto_pool(&pool_id.clone(), &spec.clone(), now);
    }

    /// Deletes a job's auto pool made from `spec`, unless `keepAlive` (a schedule's pool
    /// outlives each of its jobs).
    pub(super) fn drop_auto_pool(&mut self, pool_id: &str, spec: &Value, now: OffsetDateTime) {
        let Ok(spec) = parse_auto_pool(spec) else { return };
        if !spec.keep_alive && !spec.per_schedule {
            let _ = self.delete_pool(pool_id, now);
        }
    }
}
