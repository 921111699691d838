//! Job schedules: jobs created on a timetable (batch-rest-api.md §2.3, §5.3, and the
//! `BatchJobScheduleConfiguration` documentation).
//!
//! * The first job is due at `doNotRunUntil` (or at once); with `recurrenceInterval` the next
//!   ones every interval after that, else the schedule creates one job and completes when that
//!   job completes.
//! * At most one job of a schedule is active at a time: a job that falls due while the previous
//!   one still runs is created when that one completes, if that happens within `startWindow` of
//!   its due time (and within the same interval); otherwise that occurrence is skipped.
//! * No job is created after `doNotRunAfter`; the schedule completes once that time passed and
//!   none of its jobs is active.
//! * Jobs are named `<scheduleId>:job-<n>`; deleting a schedule deletes its jobs; terminating it
//!   terminates its active job (`terminateReason: TerminateJobSchedule`).
//!
//! Everything is driven by events: a timer at the next due time (or at the end of a start
//! window) and the completion or deletion of the schedule's job.

use super::state::Account;
use crate::effects::{Effect, Timer};
use crate::error::{BatchErrorCode as Code, DomainError};
use crate::ids::{validate_id, IdKey};
use crate::job::JobState;
use crate::schedule::{JobSchedule, ScheduleState};
use crate::version::Version;
use batch_client::models::*;
use batch_client::BatchDuration;
use time::OffsetDateTime;

fn finite(d: Option<BatchDuration>) -> Option<time::Duration> {
    let d = d.filter(|d| !d.is_unlimited())?;
    Some(time::Duration::nanoseconds(i64::try_from(i128::from(d.ticks()) * 100).ok()?))
}

fn validate_config(c: &BatchJobScheduleConfiguration) -> Result<(), DomainError> {
    for (name, d) in [("recurrenceInterval", c.recurrence_interval), ("startWindow", c.start_window)] {
        if let Some(d) = d.filter(|d| !d.is_unlimited()) {
            if d.ticks() < 60 * 10_000_000 {
                return Err(DomainError::invalid_property(name, d.to_string(), "The value must be at least one minute"));
            }
        }
    }
    Ok(())
}

/// A job specification checked as a job would be, returned with the service's defaults.
fn validate_job_specification(spec: BatchJobSpecification, now: OffsetDateTime) -> Result<BatchJobSpecification, DomainError> {
    let built = Account::build_job(BatchJobSpecification { id: String::new(), ..spec }, now)?;
    Ok(built.job.spec)
}

impl Account {
    pub fn job_schedule(&self, id: &str) -> Result<&JobSchedule, DomainError> {
        self.schedules.get(&IdKey::of(id)).ok_or_else(|| Code::JobScheduleNotFound.into())
    }

    /// Add Job Schedule.
    pub fn create_job_schedule(&mut self, mut spec: BatchJobScheduleCreateOptions, now: OffsetDateTime) -> Result<Version, DomainError> {
        let key = validate_id("id", &spec.id)?;
        let Some(config) = &spec.schedule else { return Err(DomainError::missing_property("schedule")) };
        validate_config(config)?;
        let Some(job_spec) = spec.job_specification.take() else { return Err(DomainError::missing_property("jobSpecification")) };
        spec.job_specification = Some(validate_job_specification(job_spec, now)?);
        if self.schedules.contains_key(&key) {
            return Err(Code::JobScheduleExists.into());
        }
        if self.jobs.contains_key(&key) {
            return Err(Code::JobWithSameIdExists.into());
        }
        let version = self.version(now);
        let first = config.do_not_run_until.unwrap_or(now);
        self.schedules.insert(
            key.clone(),
            JobSchedule {
                spec,
                state: ScheduleState::Active,
                state_transition_time: now,
                previous_state: None,
                creation_time: now,
                version: version.clone(),
                next_run_time: Some(first),
                last_run_time: None,
                jobs_created: 0,
                end_time: None,
                auto_pool_id: None,
            },
        );
        self.run_schedule(&key, now);
        Ok(version)
    }

    fn schedule_writable(s: &JobSchedule) -> Result<(), DomainError> {
        match s.state {
            ScheduleState::Deleting => Err(Code::JobScheduleBeingDeleted.into()),
            ScheduleState::Terminating => Err(Code::JobScheduleBeingTerminated.into()),
            ScheduleState::Completed => Err(Code::JobScheduleCompleted.into()),
            _ => Ok(()),
        }
    }

    /// Update Job Schedule (PATCH); with `replace` (PUT) `schedule` and `jobSpecification` are
    /// required and omitted `metadata` is removed. A changed job specification applies to jobs
    /// created from now on; a changed schedule moves the next due time.
    pub fn update_job_schedule(&mut self, id: &str, patch: BatchJobScheduleUpdateOptions, replace: bool, now: OffsetDateTime) -> Result<Version, DomainError> {
        let s = self.job_schedule(id)?;
        Self::schedule_writable(s)?;
        if replace && patch.schedule.is_none() {
            return Err(DomainError::missing_property("schedule"));
        }
        if replace && patch.job_specification.is_none() {
            return Err(DomainError::missing_property("jobSpecification"));
        }
        if let Some(c) = &patch.schedule {
            validate_config(c)?;
        }
        let job_spec = patch.job_specification.map(|j| validate_job_specification(j, now)).transpose()?;
        let version = self.version(now);
        let key = IdKey::of(id);
        let Some(s) = self.schedules.get_mut(&key) else { return Err(Code::JobScheduleNotFound.into()) };
        if let Some(j) = job_spec {
            s.spec.job_specification = Some(j);
        }
        if patch.metadata.is_some() || replace {
            s.spec.metadata = patch.metadata.filter(|m| !m.is_empty() || !replace);
        }
        if let Some(c) = patch.schedule {
            // UNCONFIRMED: the next due time follows the new schedule from the last job's due
            // time (or from doNotRunUntil/now when no job was created yet).
            s.next_run_time = match (s.last_run_time, finite(c.recurrence_interval)) {
                (None, _) => Some(c.do_not_run_until.unwrap_or(now)),
                (Some(last), Some(i)) => Some(c.do_not_run_until.map_or(last + i, |u| u.max(last + i))),
                (Some(_), None) => None,
            };
            s.spec.schedule = Some(c);
        }
        s.version = version.clone();
        self.run_schedule(&key, now);
        Ok(version)
    }

    /// Disable Job Schedule: no job is created until it is enabled (its active job runs on).
    pub fn disable_job_schedule(&mut self, id: &str, now: OffsetDateTime) -> Result<Version, DomainError> {
        Self::schedule_writable(self.job_schedule(id)?)?;
        let version = self.version(now);
        if let Some(s) = self.schedules.get_mut(&IdKey::of(id)) {
            s.set_state(ScheduleState::Disabled, now);
            s.version = version.clone();
        }
        Ok(version)
    }

    /// Enable Job Schedule: due times missed while disabled are handled like late ones.
    pub fn enable_job_schedule(&mut self, id: &str, now: OffsetDateTime) -> Result<Version, DomainError> {
        Self::schedule_writable(self.job_schedule(id)?)?;
        let version = self.version(now);
        let key = IdKey::of(id);
        if let Some(s) = self.schedules.get_mut(&key) {
            s.set_state(ScheduleState::Active, now);
            s.version = version.clone();
        }
        self.run_schedule(&key, now);
        Ok(version)
    }

    /// Terminate Job Schedule: its active job is terminated (`TerminateJobSchedule`); the
    /// schedule is `terminating` until that job completed, then `completed`.
    pub fn terminate_job_schedule(&mut self, id: &str, now: OffsetDateTime) -> Result<Version, DomainError> {
        Self::schedule_writable(self.job_schedule(id)?)?;
        let version = self.version(now);
        let key = IdKey::of(id);
        if let Some(s) = self.schedules.get_mut(&key) {
            s.set_state(ScheduleState::Terminating, now);
            s.next_run_time = None;
            s.version = version.clone();
        }
        let active: Vec<IdKey> = self
            .jobs
            .iter()
            .filter(|(_, j)| {
                j.schedule.as_ref() == Some(&key) && matches!(j.state, JobState::Active | JobState::Disabling | JobState::Disabled | JobState::Enabling)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for jk in active {
            self.begin_termination(&jk, "TerminateJobSchedule".into(), now);
        }
        self.settle_schedule(&key, now);
        Ok(version)
    }

    /// Delete Job Schedule: its jobs (and their tasks) are deleted, then the schedule goes.
    pub fn delete_job_schedule(&mut self, id: &str, now: OffsetDateTime) -> Result<(), DomainError> {
        let s = self.job_schedule(id)?;
        if s.state == ScheduleState::Deleting {
            return Err(Code::JobScheduleBeingDeleted.into());
        }
        let key = s.key();
        if let Some(s) = self.schedules.get_mut(&key) {
            s.set_state(ScheduleState::Deleting, now);
            s.next_run_time = None;
        }
        let jobs: Vec<String> =
            self.jobs.values().filter(|j| j.schedule.as_ref() == Some(&key) && j.state != JobState::Deleting).map(|j| j.spec.id.clone()).collect();
        for job_id in jobs {
            let _ = self.delete_job(&job_id, now);
        }
        self.settle_schedule(&key, now);
        Ok(())
    }

    fn schedule_has_active_job(&self, key: &IdKey) -> bool {
        self.jobs.values().any(|j| j.schedule.as_ref() == Some(key) && j.state != JobState::Completed)
    }

    /// A job of a schedule completed or was deleted: the schedule may create the next one,
    /// finish terminating, or go.
    pub(crate) fn schedule_job_ended(&mut self, key: &IdKey, now: OffsetDateTime) {
        self.run_schedule(key, now);
        self.settle_schedule(key, now);
    }

    /// Completes a terminating schedule without an active job; removes a deleted one once its
    /// jobs are gone.
    fn settle_schedule(&mut self, key: &IdKey, now: OffsetDateTime) {
        let Some(s) = self.schedules.get(key) else { return };
        match s.state {
            ScheduleState::Terminating if !self.schedule_has_active_job(key) => self.complete_schedule(key, now),
            ScheduleState::Deleting if !self.jobs.values().any(|j| j.schedule.as_ref() == Some(key)) => {
                self.release_schedule_auto_pool(key, now);
                self.schedules.remove(key);
            }
            _ => {}
        }
    }

    fn complete_schedule(&mut self, key: &IdKey, now: OffsetDateTime) {
        if let Some(s) = self.schedules.get_mut(key) {
            s.set_state(ScheduleState::Completed, now);
            s.next_run_time = None;
            s.end_time = Some(now);
        }
        self.release_schedule_auto_pool(key, now);
    }

    /// Evaluates an active schedule at `now`: creates the job that is due, skips due times
    /// whose start window passed, arms the timer of what comes next, and completes the schedule
    /// when no job is left to create and none is active.
    pub(crate) fn run_schedule(&mut self, key: &IdKey, now: OffsetDateTime) {
        // Each pass either returns or moves `next_run_time` forward (or clears it).
        for _ in 0..64 {
            let Some(s) = self.schedules.get(key) else { return };
            if s.state != ScheduleState::Active {
                return;
            }
            let config = s.config();
            let active = self.schedule_has_active_job(key);
            let past_deadline = config.do_not_run_after.is_some_and(|d| now > d);
            let next = if past_deadline { None } else { s.next_run_time };
            let Some(due) = next else {
                if !active {
                    self.complete_schedule(key, now);
                } else if let Some(s) = self.schedules.get_mut(key) {
                    s.next_run_time = None;
                }
                return;
            };
            let schedule_id = s.spec.id.clone();
            if due > now {
                // The schedule completes as soon as doNotRunAfter passes with no job active.
                if let Some(deadline) = config.do_not_run_after.filter(|d| *d < due) {
                    let timer = Timer::ScheduleDue { schedule_id: schedule_id.clone() };
                    self.outbox.push(Effect::At { when: deadline + time::Duration::nanoseconds(100), timer });
                }
                self.outbox.push(Effect::At { when: due, timer: Timer::ScheduleDue { schedule_id } });
                return;
            }
            let interval = finite(config.recurrence_interval);
            // A due time does not carry over into the next interval (startWindow doc).
            let window = match (finite(config.start_window), interval) {
                (Some(w), Some(i)) => Some(w.min(i)),
                (w, i) => w.or(i),
            };
            let window_end = window.map(|w| due + w);
            if window_end.is_some_and(|end| now > end) {
                // Missed: the latest due time not after `now`, or the end of a one-off schedule.
                let later = interval.and_then(|i| {
                    let steps = ((now - due).whole_nanoseconds() / i.whole_nanoseconds().max(1)).max(1);
                    i.checked_mul(i32::try_from(steps).ok()?).and_then(|d| due.checked_add(d))
                });
                if let Some(s) = self.schedules.get_mut(key) {
                    s.next_run_time = later;
                }
                continue;
            }
            if active {
                // Waits for the active job; the timer skips this due time if it never ends.
                if let Some(end) = window_end {
                    self.outbox.push(Effect::At { when: end + time::Duration::nanoseconds(100), timer: Timer::ScheduleDue { schedule_id } });
                }
                return;
            }
            self.create_scheduled_job(key, due, interval, now);
        }
    }

    fn create_scheduled_job(&mut self, key: &IdKey, due: OffsetDateTime, interval: Option<time::Duration>, now: OffsetDateTime) {
        let Some(s) = self.schedules.get_mut(key) else { return };
        s.jobs_created += 1;
        s.last_run_time = Some(due);
        s.next_run_time = interval.map(|i| due + i);
        let Some(job_id) = s.recent_job() else { return };
        let spec = BatchJobSpecification { id: job_id.clone(), ..s.spec.job_specification.clone().unwrap_or_default() };
        // The specification was valid when it was stored and nothing it refers to is checked
        // at creation, so this does not fail; if it did, this due time would be skipped.
        if let Ok(built) = Self::build_job(spec, now) {
            self.insert_job(IdKey::of(&job_id), built, Some(key.clone()), now);
        }
    }

    /// After a restart: timers of every schedule are armed again, late ones handled at once.
    pub(crate) fn recover_schedules(&mut self, now: OffsetDateTime) {
        let keys: Vec<IdKey> = self.schedules.keys().cloned().collect();
        for k in keys {
            self.schedule_job_ended(&k, now);
        }
    }
}
