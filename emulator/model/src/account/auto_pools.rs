//! Auto pools: a job whose `poolInfo` has an `autoPoolSpecification` gets a pool of its own,
//! created with the job from the specification's `pool` and deleted when the job completes or
//! is deleted, unless `keepAlive`. Its id is the `autoPoolIdPrefix` and a unique identifier
//! ("The Batch service assigns each auto Pool a unique identifier on creation"), reported in the
//! job's `executionInfo.poolId`. Pools that live as long as a job schedule
//! (`poolLifetimeOption: jobschedule`) are not emulated yet (501).

use super::state::Account;
use super::validation::not_implemented;
use crate::error::DomainError;
use crate::ids::IdKey;
use batch_client::models::BatchPoolCreateOptions;
use serde_json::Value;
use time::OffsetDateTime;

/// A validated `autoPoolSpecification`.
pub(crate) struct AutoPoolSpec {
    pub prefix: Option<String>,
    pub keep_alive: bool,
    pub pool: BatchPoolCreateOptions,
}

/// Validates an `autoPoolSpecification` (`poolLifetimeOption` and `pool` required; the prefix
/// at most 20 characters; the pool as a pool body). UNCONFIRMED: the codes of the refusals.
pub(crate) fn parse_auto_pool(v: &Value) -> Result<AutoPoolSpec, DomainError> {
    let lifetime = v.get("poolLifetimeOption").and_then(Value::as_str).ok_or_else(|| DomainError::missing_property("poolLifetimeOption"))?;
    match lifetime.to_ascii_lowercase().as_str() {
        "job" => {}
        "jobschedule" => return Err(not_implemented("Auto pools that live as long as their job schedule (poolLifetimeOption jobschedule)")),
        _ => return Err(DomainError::invalid_property("poolLifetimeOption", lifetime, "The value must be job or jobschedule")),
    }
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
    Ok(AutoPoolSpec { prefix, keep_alive, pool })
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

    /// Creates a new job's auto pool, when it has one, and records it on the job.
    pub(super) fn create_auto_pool(&mut self, job: &IdKey, now: OffsetDateTime) {
        let Some(j) = self.jobs.get(job) else { return };
        let Some(spec) = j.spec.pool_info.auto_pool_specification.as_ref().and_then(|v| parse_auto_pool(v).ok()) else { return };
        let id = self.auto_pool_id(spec.prefix.as_deref(), &j.spec.id, now);
        let mut pool = spec.pool;
        pool.id = id.clone();
        if self.create_pool(pool, now).is_ok() {
            if let Some(j) = self.jobs.get_mut(job) {
                j.auto_pool_id = Some(id);
            }
        }
    }

    /// A job with an auto pool completed or went: its pool goes too, unless `keepAlive`.
    pub(super) fn release_auto_pool(&mut self, job: &crate::job::Job, now: OffsetDateTime) {
        let Some(pool_id) = &job.auto_pool_id else { return };
        let keep_alive = job.spec.pool_info.auto_pool_specification.as_ref().and_then(|v| parse_auto_pool(v).ok()).is_some_and(|s| s.keep_alive);
        if !keep_alive {
            let _ = self.delete_pool(pool_id, now);
        }
    }
}
