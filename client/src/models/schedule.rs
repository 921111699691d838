//! Job schedules (`BatchJobSchedule*`, 14.x `CloudJobSchedule`, `JobScheduleAddParameter`).

use super::{BatchJobCreateOptions, MetadataItem};
use crate::BatchDuration;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `jobSpecification`: a job create body without `id` (the schedule names its jobs).
pub type BatchJobSpecification = BatchJobCreateOptions;

/// `schedule` of a job schedule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobScheduleConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub do_not_run_until: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub do_not_run_after: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_window: Option<BatchDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence_interval: Option<BatchDuration>,
}

/// Body of `POST /jobschedules`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobScheduleCreateOptions {
    /// Required on create; may be absent in a `$select`ed read (serde default).
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Required on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<BatchJobScheduleConfiguration>,
    /// Required on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_specification: Option<BatchJobSpecification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataItem>>,
}

/// Body of `PATCH /jobschedules/{id}` (only supplied properties change) and of `PUT` (all
/// replaced: `schedule` and `jobSpecification` required, omitted `metadata` removed).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobScheduleUpdateOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<BatchJobScheduleConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_specification: Option<BatchJobSpecification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataItem>>,
}

/// `recentJob` of a schedule's `executionInfo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentBatchJob {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `executionInfo` of a job schedule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobScheduleExecutionInfo {
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub next_run_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_job: Option<RecentBatchJob>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub end_time: Option<OffsetDateTime>,
}

/// A job schedule as the service returns it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobSchedule {
    /// Resource usage statistics (only with `$expand=stats`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<serde_json::Value>,
    #[serde(rename = "odata.metadata", default, skip_serializing_if = "Option::is_none")]
    pub odata_metadata: Option<String>,
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(rename = "eTag", default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub last_modified: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub creation_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub state_transition_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub previous_state_transition_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<BatchJobScheduleConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_specification: Option<BatchJobSpecification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_info: Option<BatchJobScheduleExecutionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataItem>>,
}
