use super::{ContainerSettings, EnvironmentSetting, MetadataItem, UserIdentity};
use crate::BatchDuration;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Body of `POST /pools` (`BatchPoolCreateOptions`, 14.x `PoolAddParameter`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPoolCreateOptions {
    /// Required on create; may be absent in a `$select`ed read (serde default).
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Required on create; may be absent in a `$select`ed read (serde default).
    #[serde(default)]
    pub vm_size: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine_configuration: Option<VirtualMachineConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_timeout: Option<BatchDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_dedicated_nodes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_low_priority_nodes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_auto_scale: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scale_formula: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scale_evaluation_interval: Option<BatchDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_inter_node_communication: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_task: Option<StartTask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_package_references: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_slots_per_node: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_scheduling_policy: Option<TaskSchedulingPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_accounts: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_configuration: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_policy: Option<Value>,
    /// Older-api properties (`certificateReferences`, `resourceTags`,
    /// `targetNodeCommunicationMode`, `cloudServiceConfiguration` …), kept and echoed.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `virtualMachineConfiguration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_reference: Option<Map<String, Value>>,
    #[serde(rename = "nodeAgentSKUId", default, skip_serializing_if = "Option::is_none")]
    pub node_agent_sku_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_configuration: Option<ContainerConfiguration>,
    /// dataDisks, windowsConfiguration, extensions, osDisk, … (echoed as given).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `containerConfiguration` of a pool.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerConfiguration {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_image_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_registries: Option<Vec<Value>>,
}

/// `taskSchedulingPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSchedulingPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_fill_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_default_order: Option<String>,
}

/// A pool's `startTask`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartTask {
    /// Required on create; may be absent in a `$select`ed read (serde default).
    #[serde(default)]
    pub command_line: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_settings: Option<ContainerSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_files: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_settings: Option<Vec<EnvironmentSetting>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<UserIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_task_retry_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_success: Option<bool>,
}

/// A pool as returned by get/list (`BatchPool`, 14.x `CloudPool`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPool {
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
    pub allocation_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub allocation_state_transition_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_dedicated_nodes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_low_priority_nodes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_errors: Option<Vec<Value>>,
    /// The last autoscale evaluation: `{timestamp, results, error?}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scale_run: Option<Value>,
    /// `classic` or `simplified`: how the pool's nodes talk to the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_node_communication_mode: Option<String>,
    #[serde(flatten)]
    pub spec: BatchPoolCreateOptions,
}

/// Body of `PATCH /pools/{id}`: only supplied properties change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPoolUpdateOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_inter_node_communication: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_task: Option<StartTask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_package_references: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_machine_configuration: Option<VirtualMachineConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_slots_per_node: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_scheduling_policy: Option<TaskSchedulingPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_accounts: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_configuration: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_policy: Option<Value>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Body of `POST /pools/{id}/updateproperties`: a full replace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPoolReplaceOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_task: Option<StartTask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_package_references: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataItem>>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Body of `POST /pools/{id}/resize`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPoolResizeOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_dedicated_nodes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_low_priority_nodes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_timeout: Option<BatchDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_deallocation_option: Option<String>,
}

/// Body of `POST /pools/{id}/removenodes`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchNodeRemoveOptions {
    /// Required on create; may be absent in a `$select`ed read (serde default).
    #[serde(default)]
    pub node_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_timeout: Option<BatchDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_deallocation_option: Option<String>,
}

/// An item of `GET /nodecounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPoolNodeCounts {
    pub pool_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated: Option<BatchNodeCounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_priority: Option<BatchNodeCounts>,
}

/// Node counts per state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchNodeCounts {
    pub creating: i32,
    pub idle: i32,
    pub offline: i32,
    pub preempted: i32,
    pub rebooting: i32,
    pub reimaging: i32,
    pub running: i32,
    pub starting: i32,
    pub start_task_failed: i32,
    pub leaving_pool: i32,
    pub unknown: i32,
    pub unusable: i32,
    pub waiting_for_start_task: i32,
    #[serde(default)]
    pub deallocated: i32,
    #[serde(default)]
    pub deallocating: i32,
    #[serde(rename = "upgradingOS", default)]
    pub upgrading_os: i32,
    pub total: i32,
}

/// An item of `GET /supportedimages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchSupportedImage {
    #[serde(rename = "nodeAgentSKUId")]
    pub node_agent_sku_id: String,
    pub image_reference: Value,
    pub os_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timefmt::body_opt")]
    pub batch_support_end_of_life: Option<OffsetDateTime>,
    pub verification_type: String,
}
