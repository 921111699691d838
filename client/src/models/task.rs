use super::{BatchErrorDetail, BatchErrorMessage, ContainerInfo, ContainerSettings, EnvironmentSetting, FailureInfo, UserIdentity};
use crate::BatchDuration;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// `constraints` of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTaskConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wall_clock_time: Option<BatchDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_time: Option<BatchDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_task_retry_count: Option<i32>,
}

/// Body of `POST /jobs/{job}/tasks` (`BatchTaskCreateOptions`, 14.x `TaskAddParameter`).
///
/// The emulator keeps one per stored task, so the rarely used large members are boxed: an
/// absent one costs 8 bytes instead of up to 216 (measured by the benchmark's memory figure).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTaskCreateOptions {
    /// Required on create; may be absent in a `$select`ed read (serde default).
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Required on create; may be absent in a `$select`ed read (serde default).
    #[serde(default)]
    pub command_line: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_settings: Option<Box<ContainerSettings>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_conditions: Option<Box<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_files: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_files: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_settings: Option<Vec<EnvironmentSetting>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity_info: Option<Box<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<BatchTaskConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_slots: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<UserIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_instance_settings: Option<Box<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Box<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_package_references: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_token_settings: Option<Box<Value>>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `executionInfo` of a task. A fresh task has exactly `{"retryCount":0,"requeueCount":0}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTaskExecutionInfo {
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub start_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub end_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_info: Option<ContainerInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_info: Option<FailureInfo>,
    pub retry_count: i32,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub last_retry_time: Option<OffsetDateTime>,
    pub requeue_count: i32,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub last_requeue_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// `nodeInfo` of a task that ran.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchNodeInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_root_directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_root_directory_url: Option<String>,
}

/// A task as returned by get/list (`BatchTask`, 14.x `CloudTask`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTask {
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
    pub execution_info: Option<BatchTaskExecutionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_info: Option<BatchNodeInfo>,
    #[serde(flatten)]
    pub spec: BatchTaskCreateOptions,
}

/// Body of `PUT /jobs/{job}/tasks/{task}`: only `constraints` is updatable.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTaskReplaceOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<BatchTaskConstraints>,
}

/// Body of `POST /jobs/{job}/addtaskcollection`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BatchTaskGroup {
    pub value: Vec<BatchTaskCreateOptions>,
}

/// One result of add task collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTaskCreateResult {
    /// `Success`, `ClientError` or `ServerError` as the live service spells them.
    pub status: String,
    pub task_id: String,
    #[serde(rename = "eTag", default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub last_modified: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskAddError>,
}

/// The `error` of a failed add-collection entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAddError {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<BatchErrorMessage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<BatchErrorDetail>,
}

/// Body of the add task collection response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BatchTaskCreateResults {
    #[serde(rename = "odata.metadata", default, skip_serializing_if = "Option::is_none")]
    pub odata_metadata: Option<String>,
    pub value: Vec<BatchTaskCreateResult>,
}
