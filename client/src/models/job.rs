use super::{EnvironmentSetting, MetadataItem};
use crate::BatchDuration;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// `poolInfo` of a job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPoolInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_pool_specification: Option<Value>,
}

/// `constraints` of a job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wall_clock_time: Option<BatchDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_task_retry_count: Option<i32>,
}

/// A job's `jobPreparationTask`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobPreparationTask {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Required on create; may be absent in a `$select`ed read (serde default).
    #[serde(default)]
    pub command_line: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_settings: Option<super::ContainerSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_files: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_settings: Option<Vec<EnvironmentSetting>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<super::BatchTaskConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_success: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<super::UserIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_on_node_reboot_after_success: Option<bool>,
}

/// A job's `jobReleaseTask`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobReleaseTask {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Required on create; may be absent in a `$select`ed read (serde default).
    #[serde(default)]
    pub command_line: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_settings: Option<super::ContainerSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_files: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_settings: Option<Vec<EnvironmentSetting>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wall_clock_time: Option<BatchDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_time: Option<BatchDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<super::UserIdentity>,
}

/// Execution of a job preparation or release task on one node
/// (`jobPreparationTaskExecutionInfo` / `jobReleaseTaskExecutionInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobPrepReleaseExecutionInfo {
    #[serde(with = "crate::timefmt::body")]
    pub start_time: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub end_time: Option<OffsetDateTime>,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_root_directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_root_directory_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_info: Option<super::ContainerInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_info: Option<super::FailureInfo>,
    /// Preparation only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub last_retry_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// An item of `GET /jobs/{job}/jobpreparationandreleasetaskstatus`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobPreparationAndReleaseTaskStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_preparation_task_execution_info: Option<JobPrepReleaseExecutionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_release_task_execution_info: Option<JobPrepReleaseExecutionInfo>,
}

/// `jobManagerTask` of a job (`BatchJobManagerTask`, 14.x `JobManagerTask`): a task the service
/// starts when the job is created, before the job's other tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobManagerTask {
    /// Required.
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Required.
    #[serde(default)]
    pub command_line: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_settings: Option<Box<super::ContainerSettings>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_files: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_files: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_settings: Option<Vec<EnvironmentSetting>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<super::BatchTaskConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_slots: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_job_on_completion: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<super::UserIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_exclusive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_package_references: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_token_settings: Option<Box<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_low_priority_node: Option<bool>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Body of `POST /jobs` (`BatchJobCreateOptions`, 14.x `JobAddParameter`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobCreateOptions {
    /// Required on create; may be absent in a `$select`ed read (serde default), and is absent
    /// in a schedule's `jobSpecification`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses_task_dependencies: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_task_preemption: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel_tasks: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<BatchJobConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_manager_task: Option<BatchJobManagerTask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_preparation_task: Option<BatchJobPreparationTask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_release_task: Option<BatchJobReleaseTask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_environment_settings: Option<Vec<EnvironmentSetting>>,
    /// Required on create; may be absent in a `$select`ed read (serde default).
    #[serde(default)]
    pub pool_info: BatchPoolInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_all_tasks_complete: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_task_failure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataItem>>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `executionInfo` of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobExecutionInfo {
    #[serde(with = "crate::timefmt::body")]
    pub start_time: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub end_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_error: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate_reason: Option<String>,
}

/// A job as returned by get/list (`BatchJob`, 14.x `CloudJob`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJob {
    /// Resource usage statistics (only with `$expand=stats`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<serde_json::Value>,
    #[serde(rename = "odata.metadata", default, skip_serializing_if = "Option::is_none")]
    pub odata_metadata: Option<String>,
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
    pub execution_info: Option<BatchJobExecutionInfo>,
    #[serde(flatten)]
    pub spec: BatchJobCreateOptions,
}

/// Body of `PATCH /jobs/{id}`: only supplied properties change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobUpdateOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_task_preemption: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel_tasks: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<BatchJobConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_info: Option<BatchPoolInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_all_tasks_complete: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<Value>,
}

/// Body of `POST /jobs/{id}/disable`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobDisableOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_tasks: Option<String>,
}

/// Body of `POST /jobs/{id}/terminate` (optional).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJobTerminateOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate_reason: Option<String>,
}

/// Body of `GET /jobs/{id}/taskcounts`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTaskCountsResult {
    #[serde(rename = "odata.metadata", default, skip_serializing_if = "Option::is_none")]
    pub odata_metadata: Option<String>,
    pub task_counts: BatchTaskCounts,
    pub task_slot_counts: BatchTaskSlotCounts,
}

/// Task counts by state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BatchTaskCounts {
    pub active: i32,
    pub running: i32,
    pub completed: i32,
    pub succeeded: i32,
    pub failed: i32,
}

/// Task slot counts by state.
pub type BatchTaskSlotCounts = BatchTaskCounts;
