use super::{ContainerInfo, FailureInfo, StartTask};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// A compute node (`BatchNode`, 14.x `ComputeNode`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchNode {
    #[serde(rename = "odata.metadata", default, skip_serializing_if = "Option::is_none")]
    pub odata_metadata: Option<String>,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub state_transition_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub last_boot_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub allocation_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tasks_run: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_tasks_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_task_slots_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tasks_succeeded: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_tasks: Option<Vec<BatchTaskInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_task: Option<StartTask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_task_info: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_dedicated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_configuration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_agent_info: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine_info: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<BatchNodeError>>,
}

/// An entry of a node's `errors` (why it is `unusable`, for example).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchNodeError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_details: Vec<super::NameValuePair>,
}

/// An entry of a node's `recentTasks`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTaskInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    pub task_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_info: Option<super::BatchTaskExecutionInfo>,
}

/// An entry of a file listing (`BatchNodeFile`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchNodeFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub is_directory: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<FileProperties>,
}

/// `properties` of a [`BatchNodeFile`]; `contentLength` is a 64-bit integer sent as a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileProperties {
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub creation_time: Option<OffsetDateTime>,
    #[serde(with = "crate::timefmt::body")]
    pub last_modified: OffsetDateTime,
    pub content_length: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<String>,
}

/// Start-task execution state on a node (`startTaskInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartTaskInfo {
    pub state: String,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// Body of `POST …/nodes/{nodeId}/reboot` (optional).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchNodeRebootOptions {
    /// `requeue` (default), `terminate`, `taskcompletion` or `retaineddata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_reboot_option: Option<String>,
}

/// Body of `POST …/nodes/{nodeId}/reimage` (optional).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchNodeReimageOptions {
    /// `requeue` (default), `terminate`, `taskcompletion` or `retaineddata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_reimage_option: Option<String>,
}

/// Body of `POST …/nodes/{nodeId}/disablescheduling` (optional).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchNodeDisableSchedulingOptions {
    /// `requeue` (default), `terminate` or `taskcompletion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_disable_scheduling_option: Option<String>,
}
