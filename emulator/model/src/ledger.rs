//! The field ledger: for every writable property of every request body the emulator accepts
//! (both api-versions; `fixtures/reference/request-bodies.json` lists them, read from the
//! official SDKs), what the emulator does with it:
//!
//! * **applied**: the emulator acts on it (the row says where);
//! * **echoed**: stored and returned with no behaviour, only where the service's behaviour
//!   cannot be seen on one machine (the row says why; the README lists these);
//! * **refused**: answered 501 `NotImplemented` naming the feature (when the row's condition
//!   holds: set at all, `true`, or holding a value).
//!
//! The properties below an echoed or refused property are covered by it. A test walks the
//! reference models from every emulated operation's body and fails on a property without a row
//! (or a row without a property), so nothing new is accepted unclassified; another sends every
//! refused property through the REST API and expects the 501. The REST edge calls
//! [`refusal`] on each request body before the domain sees it.

use crate::error::{BatchErrorCode, DomainError};
use serde_json::Value;

/// What the emulator does with one property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Acted on; where.
    Applied(&'static str),
    /// Stored and returned only; why the service's behaviour cannot be seen locally.
    Echoed(&'static str),
    /// 501 naming `feature` when the value matches `when`.
    Refused { feature: &'static str, when: When },
}

/// Which values of a refused property are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Any value but `null`, `""`, `[]` or `{}`.
    Set,
    /// `true`.
    True,
    /// This string, or a list holding it (case-insensitively).
    Holds(&'static str),
}

/// One property of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The model's name in api-version 2025-06-01 (or 2024-02-01.19.0 for models it dropped).
    pub model: &'static str,
    /// The JSON name.
    pub property: &'static str,
    /// `string`, `int`, `number`, `bool`, `datetime`, `duration`, a model name, `[T]`, `{T}`.
    pub kind: &'static str,
    pub treatment: Treatment,
}

const fn a(model: &'static str, property: &'static str, kind: &'static str, place: &'static str) -> Row {
    Row { model, property, kind, treatment: Treatment::Applied(place) }
}
const fn e(model: &'static str, property: &'static str, kind: &'static str, why: &'static str) -> Row {
    Row { model, property, kind, treatment: Treatment::Echoed(why) }
}
const fn r(model: &'static str, property: &'static str, kind: &'static str, feature: &'static str, when: When) -> Row {
    Row { model, property, kind, treatment: Treatment::Refused { feature, when } }
}

/// The body model of each emulated operation that takes a body (azure-batch 15.x names).
pub const BODIES: &[(&str, &str)] = &[
    ("create_job", "BatchJobCreateOptions"),
    ("create_job_schedule", "BatchJobScheduleCreateOptions"),
    ("create_node_user", "BatchNodeUserCreateOptions"),
    ("create_pool", "BatchPoolCreateOptions"),
    ("create_task", "BatchTaskCreateOptions"),
    ("create_task_collection", "BatchTaskGroup"),
    ("disable_job", "BatchJobDisableOptions"),
    ("deallocate_node", "BatchNodeDeallocateOptions"),
    ("disable_node_scheduling", "BatchNodeDisableSchedulingOptions"),
    ("enable_pool_auto_scale", "BatchPoolEnableAutoScaleOptions"),
    ("evaluate_pool_auto_scale", "BatchPoolEvaluateAutoScaleOptions"),
    ("reboot_node", "BatchNodeRebootOptions"),
    ("reimage_node", "BatchNodeReimageOptions"),
    ("remove_nodes", "BatchNodeRemoveOptions"),
    ("replace_job", "BatchJob"),
    ("replace_job_schedule", "BatchJobSchedule"),
    ("replace_node_user", "BatchNodeUserReplaceOptions"),
    ("replace_pool_properties", "BatchPoolReplaceOptions"),
    ("replace_task", "BatchTask"),
    ("resize_pool", "BatchPoolResizeOptions"),
    ("terminate_job", "BatchJobTerminateOptions"),
    ("update_job", "BatchJobUpdateOptions"),
    ("update_job_schedule", "BatchJobScheduleUpdateOptions"),
    ("update_pool", "BatchPoolUpdateOptions"),
    ("upload_node_logs", "UploadBatchServiceLogsOptions"),
];

const STORED: &str = "stored and returned, which is all the service does with it";
const VM_HARDWARE: &str = "nodes are directories and processes on this machine: there is no VM, size, disk or OS image to choose";
const NO_VNET: &str = "there are no virtual networks, subnets or public IPs on one machine: nodes have loopback addresses";
const ALLOCATION_IS_INSTANT: &str = "nodes are allocated at once, so a resize never times out";
const NO_OS_UPGRADES: &str = "local nodes have no operating system of their own to upgrade";
const MOUNTS: &str = "Pool file system mounts (mountConfiguration)";
const CERTIFICATES: &str = "Certificates (certificateReferences)";
const PREEMPTION_APPLIED: &str = "a higher-priority job's task that finds no room requeues this job's running tasks";
const JOB_NETWORK: &str = "a job's subnet places its tasks' network traffic in a virtual network; there is none on one machine";

/// Models whose rows are another model's but for the properties named: the auto pool's
/// `BatchPoolSpecification` is `BatchPoolCreateOptions` without `id`. [`LEDGER`] holds their
/// rows under their own name.
pub const ALIASES: &[(&str, &str, &[&str])] = &[("BatchPoolSpecification", "BatchPoolCreateOptions", &["id"])];

/// Every row, by model, the aliases' included.
pub static LEDGER: std::sync::LazyLock<Vec<Row>> = std::sync::LazyLock::new(|| {
    let mut rows = ROWS.to_vec();
    for (alias, model, except) in ALIASES {
        rows.extend(ROWS.iter().filter(|r| r.model == *model && !except.contains(&r.property)).map(|r| Row { model: alias, ..*r }));
    }
    // By model, as written (a stable sort keeps each model's order).
    rows.sort_by_key(|r| r.model);
    rows
});

/// The rows written out (aliases are not).
static ROWS: &[Row] = &[
    a("AuthenticationTokenSettings", "access", "[string]", "AZ_BATCH_AUTHENTICATION_TOKEN: a token the emulator accepts for the task's job and its tasks"),
    a("AutoUserSpecification", "elevationLevel", "string", "AZ_BATCH_TASK_USER_IDENTITY; an admin container task runs as root"),
    a("AutoUserSpecification", "scope", "string", "AZ_BATCH_TASK_USER_IDENTITY (Pool… or Task…)"),
    a("BatchAffinityInfo", "affinityId", "string", "the scheduler prefers the node with that affinityId when it has a free slot"),
    a("BatchApplicationPackageReference", "applicationId", "string", "an application of the package store (--app-packages)"),
    a("BatchApplicationPackageReference", "version", "string", "that version (none: the application's default version)"),
    a("BatchAutoPoolSpecification", "autoPoolIdPrefix", "string", "the auto pool's id starts with it"),
    a("BatchAutoPoolSpecification", "keepAlive", "bool", "the auto pool stays after its job"),
    a("BatchAutoPoolSpecification", "pool", "BatchPoolSpecification", "the auto pool, created with its job"),
    a("BatchAutoPoolSpecification", "poolLifetimeOption", "string", "job: the pool goes with its job; jobschedule: with its schedule"),
    a("BatchContainerConfiguration", "containerImageNames", "[string]", "fetched by each node as it starts"),
    a("BatchContainerConfiguration", "containerRegistries", "[ContainerRegistryReference]", "credentials for fetching images"),
    a("BatchContainerConfiguration", "type", "string", "validated; every container pool runs on the Docker engine"),
    a("BatchInboundNatPool", "backendPort", "int", "the node port each frontend port forwards to"),
    a("BatchInboundNatPool", "frontendPortRangeEnd", "int", "each node's frontend port on 127.0.0.1"),
    a("BatchInboundNatPool", "frontendPortRangeStart", "int", "each node's frontend port on 127.0.0.1"),
    a("BatchInboundNatPool", "name", "string", "endpointConfiguration.inboundEndpoints of each node"),
    e(
        "BatchInboundNatPool",
        "networkSecurityGroupRules",
        "[NetworkSecurityGroupRule]",
        "validated as the service does; every connection comes from this machine, so rules on source addresses have nothing to tell apart",
    ),
    a("BatchInboundNatPool", "protocol", "string", "tcp endpoints are forwarded; udp ones are reported"),
    a("BatchJob", "allowTaskPreemption", "bool", PREEMPTION_APPLIED),
    a("BatchJob", "constraints", "BatchJobConstraints", "Replace Job"),
    a("BatchJob", "maxParallelTasks", "int", "the scheduler"),
    a("BatchJob", "metadata", "[BatchMetadataItem]", STORED),
    a("BatchJob", "onAllTasksComplete", "string", "terminates the job when its tasks are complete"),
    a("BatchJob", "poolInfo", "BatchPoolInfo", "the pool the job's tasks run on (changeable while disabled)"),
    a("BatchJob", "priority", "int", "the scheduler takes jobs by priority"),
    a("BatchJobConstraints", "maxTaskRetryCount", "int", "the default retry count of the job's tasks"),
    a("BatchJobConstraints", "maxWallClockTime", "duration", "a timer terminates the job (MaxWallClockTimeExpiry)"),
    a("BatchJobCreateOptions", "allowTaskPreemption", "bool", PREEMPTION_APPLIED),
    a("BatchJobCreateOptions", "commonEnvironmentSettings", "[EnvironmentSetting]", "every task's environment"),
    a("BatchJobCreateOptions", "constraints", "BatchJobConstraints", "Add Job"),
    a("BatchJobCreateOptions", "displayName", "string", STORED),
    a("BatchJobCreateOptions", "id", "string", "validated and unique"),
    a("BatchJobCreateOptions", "jobManagerTask", "BatchJobManagerTask", "added as the job's first task"),
    a("BatchJobCreateOptions", "jobPreparationTask", "BatchJobPreparationTask", "runs on each node before the job's first task there"),
    a("BatchJobCreateOptions", "jobReleaseTask", "BatchJobReleaseTask", "runs on each prepared node when the job ends"),
    a("BatchJobCreateOptions", "maxParallelTasks", "int", "the scheduler"),
    a("BatchJobCreateOptions", "metadata", "[BatchMetadataItem]", STORED),
    e("BatchJobCreateOptions", "networkConfiguration", "BatchJobNetworkConfiguration", JOB_NETWORK),
    a("BatchJobCreateOptions", "onAllTasksComplete", "string", "terminates the job when its tasks are complete"),
    a("BatchJobCreateOptions", "onTaskFailure", "string", "exit conditions' job actions"),
    a("BatchJobCreateOptions", "poolInfo", "BatchPoolInfo", "the pool the job's tasks run on"),
    a("BatchJobCreateOptions", "priority", "int", "the scheduler takes jobs by priority"),
    a("BatchJobCreateOptions", "usesTaskDependencies", "bool", "dependsOn is allowed and honoured"),
    a("BatchJobDisableOptions", "disableTasks", "string", "requeue, terminate or wait for running tasks"),
    a("BatchJobManagerTask", "allowLowPriorityNode", "bool", "the scheduler waits for a dedicated node when false"),
    a(
        "BatchJobManagerTask",
        "applicationPackageReferences",
        "[BatchApplicationPackageReference]",
        "installed on the node before the task runs (AZ_BATCH_APP_PACKAGE_*)",
    ),
    a("BatchJobManagerTask", "authenticationTokenSettings", "AuthenticationTokenSettings", "see AuthenticationTokenSettings"),
    a("BatchJobManagerTask", "commandLine", "string", "run without a shell"),
    a("BatchJobManagerTask", "constraints", "BatchTaskConstraints", "as a task's"),
    a("BatchJobManagerTask", "containerSettings", "BatchTaskContainerSettings", "runs in a container"),
    a("BatchJobManagerTask", "displayName", "string", STORED),
    a("BatchJobManagerTask", "environmentSettings", "[EnvironmentSetting]", "the task's environment"),
    a("BatchJobManagerTask", "id", "string", "the task's id"),
    a("BatchJobManagerTask", "killJobOnCompletion", "bool", "its completion terminates the job (JMComplete)"),
    a("BatchJobManagerTask", "outputFiles", "[OutputFile]", "uploaded after the command exits, before the task is completed"),
    a("BatchJobManagerTask", "requiredSlots", "int", "the scheduler"),
    a("BatchJobManagerTask", "resourceFiles", "[ResourceFile]", "downloaded into the working directory before the command line runs"),
    a("BatchJobManagerTask", "runExclusive", "bool", "takes every slot of its node"),
    a("BatchJobManagerTask", "userIdentity", "UserIdentity", "as a task's"),
    a("BatchJobPreparationTask", "commandLine", "string", "run without a shell"),
    a("BatchJobPreparationTask", "constraints", "BatchTaskConstraints", "retries and wall clock of the preparation task"),
    a("BatchJobPreparationTask", "containerSettings", "BatchTaskContainerSettings", "runs in a container"),
    a("BatchJobPreparationTask", "environmentSettings", "[EnvironmentSetting]", "its environment"),
    a("BatchJobPreparationTask", "id", "string", "its directory and AZ_BATCH_JOB_PREP_DIR"),
    a("BatchJobPreparationTask", "rerunOnNodeRebootAfterSuccess", "bool", "rerun after a node reboot"),
    a("BatchJobPreparationTask", "resourceFiles", "[ResourceFile]", "downloaded into the working directory before the command line runs"),
    a("BatchJobPreparationTask", "userIdentity", "UserIdentity", "as a task's"),
    a("BatchJobPreparationTask", "waitForSuccess", "bool", "the job's tasks wait for it on each node"),
    a("BatchJobReleaseTask", "commandLine", "string", "run without a shell"),
    a("BatchJobReleaseTask", "containerSettings", "BatchTaskContainerSettings", "runs in a container"),
    a("BatchJobReleaseTask", "environmentSettings", "[EnvironmentSetting]", "its environment"),
    a("BatchJobReleaseTask", "id", "string", "its directory"),
    a("BatchJobReleaseTask", "maxWallClockTime", "duration", "the release task is stopped after it (15 minutes at most)"),
    a("BatchJobReleaseTask", "resourceFiles", "[ResourceFile]", "downloaded into the working directory before the command line runs"),
    e(
        "BatchJobReleaseTask",
        "retentionTime",
        "duration",
        "the service may delete the directory after it; the emulator keeps it until the job is deleted, which that allows",
    ),
    a("BatchJobReleaseTask", "userIdentity", "UserIdentity", "as a task's"),
    a("BatchJobSchedule", "jobSpecification", "BatchJobSpecification", "Replace Job Schedule"),
    a("BatchJobSchedule", "metadata", "[BatchMetadataItem]", STORED),
    a("BatchJobSchedule", "schedule", "BatchJobScheduleConfiguration", "Replace Job Schedule"),
    a("BatchJobScheduleConfiguration", "doNotRunAfter", "datetime", "no job after it; the schedule completes"),
    a("BatchJobScheduleConfiguration", "doNotRunUntil", "datetime", "the first job's due time"),
    a("BatchJobScheduleConfiguration", "recurrenceInterval", "duration", "the next jobs' due times"),
    a("BatchJobScheduleConfiguration", "startWindow", "duration", "a job due longer ago is skipped"),
    a("BatchJobScheduleCreateOptions", "displayName", "string", STORED),
    a("BatchJobScheduleCreateOptions", "id", "string", "validated and unique; names its jobs"),
    a("BatchJobScheduleCreateOptions", "jobSpecification", "BatchJobSpecification", "each job it creates"),
    a("BatchJobScheduleCreateOptions", "metadata", "[BatchMetadataItem]", STORED),
    a("BatchJobScheduleCreateOptions", "schedule", "BatchJobScheduleConfiguration", "timers for the due times"),
    a("BatchJobScheduleUpdateOptions", "jobSpecification", "BatchJobSpecification", "jobs created after the update"),
    a("BatchJobScheduleUpdateOptions", "metadata", "[BatchMetadataItem]", STORED),
    a("BatchJobScheduleUpdateOptions", "schedule", "BatchJobScheduleConfiguration", "the next due time"),
    a("BatchJobSpecification", "allowTaskPreemption", "bool", PREEMPTION_APPLIED),
    a("BatchJobSpecification", "commonEnvironmentSettings", "[EnvironmentSetting]", "as a job's"),
    a("BatchJobSpecification", "constraints", "BatchJobConstraints", "as a job's"),
    a("BatchJobSpecification", "displayName", "string", STORED),
    a("BatchJobSpecification", "jobManagerTask", "BatchJobManagerTask", "as a job's"),
    a("BatchJobSpecification", "jobPreparationTask", "BatchJobPreparationTask", "as a job's"),
    a("BatchJobSpecification", "jobReleaseTask", "BatchJobReleaseTask", "as a job's"),
    a("BatchJobSpecification", "maxParallelTasks", "int", "as a job's"),
    a("BatchJobSpecification", "metadata", "[BatchMetadataItem]", STORED),
    e("BatchJobSpecification", "networkConfiguration", "BatchJobNetworkConfiguration", JOB_NETWORK),
    a("BatchJobSpecification", "onAllTasksComplete", "string", "as a job's"),
    a("BatchJobSpecification", "onTaskFailure", "string", "as a job's"),
    a("BatchJobSpecification", "poolInfo", "BatchPoolInfo", "as a job's"),
    a("BatchJobSpecification", "priority", "int", "as a job's"),
    a("BatchJobSpecification", "usesTaskDependencies", "bool", "as a job's"),
    a("BatchJobTerminateOptions", "terminateReason", "string", "the job's executionInfo.terminateReason"),
    a("BatchJobUpdateOptions", "allowTaskPreemption", "bool", PREEMPTION_APPLIED),
    a("BatchJobUpdateOptions", "constraints", "BatchJobConstraints", "Update Job"),
    a("BatchJobUpdateOptions", "maxParallelTasks", "int", "the scheduler"),
    a("BatchJobUpdateOptions", "metadata", "[BatchMetadataItem]", STORED),
    e("BatchJobUpdateOptions", "networkConfiguration", "BatchJobNetworkConfiguration", JOB_NETWORK),
    a("BatchJobUpdateOptions", "onAllTasksComplete", "string", "terminates the job when its tasks are complete"),
    a("BatchJobUpdateOptions", "poolInfo", "BatchPoolInfo", "changeable while the job is disabled"),
    a("BatchJobUpdateOptions", "priority", "int", "the scheduler takes jobs by priority"),
    a("BatchMetadataItem", "name", "string", STORED),
    a("BatchMetadataItem", "value", "string", STORED),
    a("BatchNodeDisableSchedulingOptions", "nodeDisableSchedulingOption", "string", "requeue, terminate or let running tasks complete"),
    a("BatchNodeRebootOptions", "nodeRebootOption", "string", "what happens to running tasks"),
    a("BatchNodeReimageOptions", "nodeReimageOption", "string", "what happens to running tasks"),
    a("BatchNodeRemoveOptions", "nodeDeallocationOption", "string", "what happens to running tasks"),
    a("BatchNodeRemoveOptions", "nodeList", "[string]", "the nodes removed"),
    e("BatchNodeRemoveOptions", "resizeTimeout", "duration", ALLOCATION_IS_INSTANT),
    r("BatchPoolCreateOptions", "applicationLicenses", "[string]", "Application licenses (applicationLicenses)", When::Set),
    a(
        "BatchPoolCreateOptions",
        "applicationPackageReferences",
        "[BatchApplicationPackageReference]",
        "checked against --app-packages; installed on each node for every task",
    ),
    a("BatchPoolCreateOptions", "autoScaleEvaluationInterval", "duration", "how often the formula runs (timer on the emulator's clock)"),
    a("BatchPoolCreateOptions", "autoScaleFormula", "string", "evaluated at creation and every interval; its targets resize the pool"),
    r("BatchPoolCreateOptions", "certificateReferences", "[CertificateReference]", CERTIFICATES, When::Set),
    r("BatchPoolCreateOptions", "cloudServiceConfiguration", "CloudServiceConfiguration", "cloudServiceConfiguration pools", When::Set),
    a("BatchPoolCreateOptions", "displayName", "string", STORED),
    a("BatchPoolCreateOptions", "enableAutoScale", "bool", "the pool's size follows its formula"),
    a(
        "BatchPoolCreateOptions",
        "enableInterNodeCommunication",
        "bool",
        "container pools: each node gets a routable address (a Docker network of its own) other nodes' containers reach",
    ),
    a("BatchPoolCreateOptions", "id", "string", "validated and unique"),
    a("BatchPoolCreateOptions", "metadata", "[BatchMetadataItem]", STORED),
    r("BatchPoolCreateOptions", "mountConfiguration", "[MountConfiguration]", MOUNTS, When::Set),
    a("BatchPoolCreateOptions", "networkConfiguration", "NetworkConfiguration", "see NetworkConfiguration"),
    e("BatchPoolCreateOptions", "resizeTimeout", "duration", ALLOCATION_IS_INSTANT),
    e("BatchPoolCreateOptions", "resourceTags", "{string}", "Azure resource tags: there is no Azure resource to tag"),
    a("BatchPoolCreateOptions", "startTask", "BatchStartTask", "runs on each node as it starts"),
    a("BatchPoolCreateOptions", "targetDedicatedNodes", "int", "dedicated nodes allocated"),
    a("BatchPoolCreateOptions", "targetLowPriorityNodes", "int", "spot nodes allocated"),
    e(
        "BatchPoolCreateOptions",
        "targetNodeCommunicationMode",
        "string",
        "how nodes reach the service (classic or simplified) is invisible: local nodes are the emulator's own",
    ),
    a("BatchPoolCreateOptions", "taskSchedulingPolicy", "BatchTaskSchedulingPolicy", "the scheduler"),
    a("BatchPoolCreateOptions", "taskSlotsPerNode", "int", "the scheduler"),
    e("BatchPoolCreateOptions", "upgradePolicy", "UpgradePolicy", NO_OS_UPGRADES),
    a("BatchPoolCreateOptions", "userAccounts", "[UserAccount]", "see UserAccount"),
    a("BatchPoolCreateOptions", "virtualMachineConfiguration", "VirtualMachineConfiguration", "see VirtualMachineConfiguration"),
    e("BatchPoolCreateOptions", "vmSize", "string", VM_HARDWARE),
    a("BatchPoolEndpointConfiguration", "inboundNATPools", "[BatchInboundNatPool]", "each node's inbound endpoints"),
    a("BatchPoolInfo", "autoPoolSpecification", "BatchAutoPoolSpecification", "a pool made for the job, deleted with it (executionInfo.poolId)"),
    a("BatchNodeDeallocateOptions", "nodeDeallocateOption", "string", "what happens to the node's running tasks"),
    a("BatchPoolEnableAutoScaleOptions", "autoScaleEvaluationInterval", "duration", "a new evaluation schedule from now"),
    a("BatchPoolEnableAutoScaleOptions", "autoScaleFormula", "string", "evaluated at once, then every interval"),
    a("BatchPoolEvaluateAutoScaleOptions", "autoScaleFormula", "string", "evaluated against the pool now, nothing applied"),
    a("BatchPoolInfo", "poolId", "string", "the pool the job's tasks run on"),
    a(
        "BatchPoolReplaceOptions",
        "applicationPackageReferences",
        "[BatchApplicationPackageReference]",
        "checked against --app-packages; nodes that start, reboot or reimage install them",
    ),
    r("BatchPoolReplaceOptions", "certificateReferences", "[CertificateReference]", CERTIFICATES, When::Set),
    a("BatchPoolReplaceOptions", "metadata", "[BatchMetadataItem]", STORED),
    a("BatchPoolReplaceOptions", "startTask", "BatchStartTask", "nodes that start, reboot or reimage afterwards run it"),
    e(
        "BatchPoolReplaceOptions",
        "targetNodeCommunicationMode",
        "string",
        "how nodes reach the service (classic or simplified) is invisible: local nodes are the emulator's own",
    ),
    a("BatchPoolResizeOptions", "nodeDeallocationOption", "string", "what happens to running tasks of removed nodes"),
    e("BatchPoolResizeOptions", "resizeTimeout", "duration", ALLOCATION_IS_INSTANT),
    a("BatchPoolResizeOptions", "targetDedicatedNodes", "int", "dedicated nodes added or removed"),
    a("BatchPoolResizeOptions", "targetLowPriorityNodes", "int", "spot nodes added or removed"),
    a(
        "BatchPoolUpdateOptions",
        "applicationPackageReferences",
        "[BatchApplicationPackageReference]",
        "checked against --app-packages; nodes that start, reboot or reimage install them",
    ),
    r("BatchPoolUpdateOptions", "certificateReferences", "[CertificateReference]", CERTIFICATES, When::Set),
    a("BatchPoolUpdateOptions", "displayName", "string", STORED),
    a(
        "BatchPoolUpdateOptions",
        "enableInterNodeCommunication",
        "bool",
        "container pools: each node gets a routable address (a Docker network of its own) other nodes' containers reach",
    ),
    a("BatchPoolUpdateOptions", "metadata", "[BatchMetadataItem]", STORED),
    r("BatchPoolUpdateOptions", "mountConfiguration", "[MountConfiguration]", MOUNTS, When::Set),
    a("BatchPoolUpdateOptions", "networkConfiguration", "NetworkConfiguration", "see NetworkConfiguration (a pool without nodes)"),
    a("BatchPoolUpdateOptions", "startTask", "BatchStartTask", "nodes that start, reboot or reimage afterwards run it"),
    e(
        "BatchPoolUpdateOptions",
        "targetNodeCommunicationMode",
        "string",
        "how nodes reach the service (classic or simplified) is invisible: local nodes are the emulator's own",
    ),
    a("BatchPoolUpdateOptions", "taskSchedulingPolicy", "BatchTaskSchedulingPolicy", "the scheduler"),
    a("BatchPoolUpdateOptions", "taskSlotsPerNode", "int", "the scheduler (a pool without nodes)"),
    e("BatchPoolUpdateOptions", "upgradePolicy", "UpgradePolicy", NO_OS_UPGRADES),
    a("BatchPoolUpdateOptions", "userAccounts", "[UserAccount]", "see UserAccount (a pool without nodes)"),
    a("BatchPoolUpdateOptions", "virtualMachineConfiguration", "VirtualMachineConfiguration", "see VirtualMachineConfiguration (a pool without nodes)"),
    e("BatchPoolUpdateOptions", "vmSize", "string", VM_HARDWARE),
    r("BatchPublicIpAddressConfiguration", "ipAddressIds", "[string]", "Public IP addresses (publicIPAddressConfiguration.ipAddressIds)", When::Set),
    r("BatchPublicIpAddressConfiguration", "ipFamilies", "[string]", "IPv6 node addresses (publicIPAddressConfiguration.ipFamilies)", When::Holds("IPv6")),
    e("BatchPublicIpAddressConfiguration", "ipTags", "[IPTag]", NO_VNET),
    e("BatchPublicIpAddressConfiguration", "provision", "string", NO_VNET),
    a("BatchStartTask", "commandLine", "string", "run without a shell in startup/wd"),
    a("BatchStartTask", "containerSettings", "BatchTaskContainerSettings", "runs in a container"),
    a("BatchStartTask", "environmentSettings", "[EnvironmentSetting]", "its environment"),
    a("BatchStartTask", "maxTaskRetryCount", "int", "retries of a nonzero exit"),
    a("BatchStartTask", "resourceFiles", "[ResourceFile]", "downloaded into startup/wd before the start task runs"),
    a("BatchStartTask", "userIdentity", "UserIdentity", "as a task's"),
    a("BatchStartTask", "waitForSuccess", "bool", "the node waits in waitingforstarttask"),
    a("BatchTask", "constraints", "BatchTaskConstraints", "Replace Task"),
    a("BatchTaskConstraints", "maxTaskRetryCount", "int", "retries of a nonzero exit"),
    a("BatchTaskConstraints", "maxWallClockTime", "duration", "the attempt is stopped after it"),
    a("BatchTaskConstraints", "retentionTime", "duration", "a timer removes a completed task's directory"),
    a("BatchTaskContainerSettings", "containerHostBatchBindMounts", "[ContainerHostBatchBindMountEntry]", "the node paths mounted"),
    a("BatchTaskContainerSettings", "containerRunOptions", "string", "parsed like docker create options"),
    a("BatchTaskContainerSettings", "imageName", "string", "the container's image"),
    a("BatchTaskContainerSettings", "registry", "ContainerRegistryReference", "credentials for the task's image"),
    a("BatchTaskContainerSettings", "workingDirectory", "string", "the container's WORKDIR"),
    a("BatchTaskCreateOptions", "affinityInfo", "BatchAffinityInfo", "see BatchAffinityInfo"),
    a(
        "BatchTaskCreateOptions",
        "applicationPackageReferences",
        "[BatchApplicationPackageReference]",
        "installed on the node before the task runs (AZ_BATCH_APP_PACKAGE_*)",
    ),
    a("BatchTaskCreateOptions", "authenticationTokenSettings", "AuthenticationTokenSettings", "see AuthenticationTokenSettings"),
    a("BatchTaskCreateOptions", "commandLine", "string", "run without a shell"),
    a("BatchTaskCreateOptions", "constraints", "BatchTaskConstraints", "see BatchTaskConstraints"),
    a("BatchTaskCreateOptions", "containerSettings", "BatchTaskContainerSettings", "runs in a container"),
    a("BatchTaskCreateOptions", "dependsOn", "BatchTaskDependencies", "the task waits for its parents"),
    a("BatchTaskCreateOptions", "displayName", "string", STORED),
    a("BatchTaskCreateOptions", "environmentSettings", "[EnvironmentSetting]", "the task's environment"),
    a("BatchTaskCreateOptions", "exitConditions", "ExitConditions", "job and dependency actions"),
    a("BatchTaskCreateOptions", "id", "string", "validated and unique in the job"),
    a("BatchTaskCreateOptions", "multiInstanceSettings", "MultiInstanceSettings", "see MultiInstanceSettings"),
    a("BatchTaskCreateOptions", "outputFiles", "[OutputFile]", "uploaded after the command exits, before the task is completed"),
    a("BatchTaskCreateOptions", "requiredSlots", "int", "the scheduler"),
    a("BatchTaskCreateOptions", "resourceFiles", "[ResourceFile]", "downloaded into the working directory before the command line runs"),
    a("BatchTaskCreateOptions", "userIdentity", "UserIdentity", "see UserIdentity"),
    a("BatchTaskDependencies", "taskIdRanges", "[BatchTaskIdRange]", "parents by id range"),
    a("BatchTaskDependencies", "taskIds", "[string]", "parents by id"),
    a("BatchTaskGroup", "value", "[BatchTaskCreateOptions]", "each task added on its own"),
    a("BatchTaskIdRange", "end", "int", "inclusive"),
    a("BatchTaskIdRange", "start", "int", "inclusive"),
    a("BatchTaskSchedulingPolicy", "jobDefaultOrder", "string", "jobs of one priority are taken oldest first, which none and creationtime both allow"),
    a("BatchTaskSchedulingPolicy", "nodeFillType", "string", "spread or pack"),
    a("ContainerHostBatchBindMountEntry", "isReadOnly", "bool", "a read-only bind mount"),
    a("ContainerHostBatchBindMountEntry", "source", "string", "which node path is mounted"),
    r("ContainerRegistryReference", "identityReference", "BatchNodeIdentityReference", "Managed identities (identityReference)", When::Set),
    a("ContainerRegistryReference", "password", "string", "sent to the registry (never returned: a secret)"),
    a("ContainerRegistryReference", "registryServer", "string", "which images the credentials are for"),
    a("ContainerRegistryReference", "username", "string", "sent to the registry"),
    a("EnvironmentSetting", "name", "string", "the variable"),
    a("EnvironmentSetting", "value", "string", "the variable"),
    a("ExitCodeMapping", "code", "int", "the exit code"),
    a("ExitCodeMapping", "exitOptions", "ExitOptions", "what that exit does"),
    a("ExitCodeRangeMapping", "end", "int", "inclusive"),
    a("ExitCodeRangeMapping", "exitOptions", "ExitOptions", "what those exits do"),
    a("ExitCodeRangeMapping", "start", "int", "inclusive"),
    a("ExitConditions", "default", "ExitOptions", "any other failure"),
    a("ExitConditions", "exitCodeRanges", "[ExitCodeRangeMapping]", "by exit code range"),
    a("ExitConditions", "exitCodes", "[ExitCodeMapping]", "by exit code"),
    a("ExitConditions", "fileUploadError", "ExitOptions", "a task whose output upload failed, unless its exit code is listed"),
    a("ExitConditions", "preProcessingError", "ExitOptions", "a task that cannot start"),
    a("ExitOptions", "dependencyAction", "string", "satisfy or block dependent tasks"),
    a("ExitOptions", "jobAction", "string", "none, disable or terminate the job"),
    e(
        "LinuxUserConfiguration",
        "sshPrivateKey",
        "string",
        "pool accounts do not log in over SSH (node users do); processes share one machine (kept, never returned: a secret)",
    ),
    a("LinuxUserConfiguration", "gid", "int", "a container task of this user runs as uid:gid"),
    a("LinuxUserConfiguration", "uid", "int", "a container task of this user runs as uid:gid"),
    a(
        "MultiInstanceSettings",
        "commonResourceFiles",
        "[ResourceFile]",
        "downloaded into the task directory on every instance's node before its coordination command",
    ),
    a(
        "MultiInstanceSettings",
        "coordinationCommandLine",
        "string",
        "runs on every instance's node; the task's command line runs on the primary once all succeeded",
    ),
    a("MultiInstanceSettings", "numberOfInstances", "int", "that many free nodes of an inter-node pool at once, one instance each"),
    a("BatchNodeUserCreateOptions", "expiryTime", "datetime", "the user cannot log in after it"),
    a("BatchNodeUserCreateOptions", "isAdmin", "bool", "accepted; a session runs as the emulator's own OS user either way, as every process task does"),
    a("BatchNodeUserCreateOptions", "name", "string", "the SSH login name on the node"),
    a("BatchNodeUserCreateOptions", "password", "string", "SSH password login (never returned: a secret)"),
    a("BatchNodeUserCreateOptions", "sshPublicKey", "string", "SSH public key login"),
    a("BatchNodeUserReplaceOptions", "expiryTime", "datetime", "replaces the user's expiry"),
    a("BatchNodeUserReplaceOptions", "password", "string", "replaces the user's password (omitted: removed)"),
    a("BatchNodeUserReplaceOptions", "sshPublicKey", "string", "replaces the user's key (omitted: removed)"),
    e("NetworkConfiguration", "dynamicVNetAssignmentScope", "string", NO_VNET),
    e("NetworkConfiguration", "enableAcceleratedNetworking", "bool", VM_HARDWARE),
    a("NetworkConfiguration", "endpointConfiguration", "BatchPoolEndpointConfiguration", "inbound endpoints forwarded on 127.0.0.1"),
    a("NetworkConfiguration", "publicIPAddressConfiguration", "BatchPublicIpAddressConfiguration", "see BatchPublicIpAddressConfiguration"),
    e("NetworkConfiguration", "subnetId", "string", NO_VNET),
    a("OutputFile", "destination", "OutputFileDestination", "see OutputFileDestination"),
    a("OutputFile", "filePattern", "string", "globbed in the working directory after the command exits ($VAR expanded)"),
    a("OutputFile", "uploadOptions", "OutputFileUploadConfiguration", "see OutputFileUploadConfiguration"),
    a("OutputFileBlobContainerDestination", "containerUrl", "string", "the container the files are uploaded to (Put Blob, or blocks for large files)"),
    r("OutputFileBlobContainerDestination", "identityReference", "BatchNodeIdentityReference", "Managed identities (identityReference)", When::Set),
    a("OutputFileBlobContainerDestination", "path", "string", "the blob name (one file) or the virtual directory (a pattern)"),
    a("OutputFileBlobContainerDestination", "uploadHeaders", "[OutputFileUploadHeader]", "sent with each upload"),
    a("OutputFileDestination", "container", "OutputFileBlobContainerDestination", "see OutputFileBlobContainerDestination"),
    a("OutputFileUploadConfiguration", "uploadCondition", "string", "tasksuccess, taskfailure or taskcompletion"),
    a("OutputFileUploadHeader", "name", "string", "a header of each upload"),
    a("OutputFileUploadHeader", "value", "string", "a header of each upload"),
    a("ResourceFile", "autoStorageContainerName", "string", "listed and downloaded from the linked storage (--auto-storage) through a SAS the emulator signs"),
    a("ResourceFile", "blobPrefix", "string", "only blobs whose names start with it are downloaded"),
    a("ResourceFile", "fileMode", "string", "the downloaded file's mode (default 0770)"),
    a("ResourceFile", "filePath", "string", "where the file, or the container's blobs, go under the working directory"),
    a("ResourceFile", "httpUrl", "string", "downloaded (streamed to disk) before the command line runs"),
    r("ResourceFile", "identityReference", "BatchNodeIdentityReference", "Managed identities (identityReference)", When::Set),
    a("ResourceFile", "storageContainerUrl", "string", "List Blobs through the URL, then each blob downloaded"),
    a("UploadBatchServiceLogsOptions", "containerUrl", "string", "the node agent's logs are uploaded under it"),
    a("UploadBatchServiceLogsOptions", "endTime", "datetime", "log files with a line up to it"),
    r("UploadBatchServiceLogsOptions", "identityReference", "BatchNodeIdentityReference", "Managed identities (identityReference)", When::Set),
    a("UploadBatchServiceLogsOptions", "startTime", "datetime", "log files with a line from it"),
    a("UserAccount", "elevationLevel", "string", "AZ_BATCH_TASK_USER_IDENTITY; an admin container task runs as root"),
    a("UserAccount", "linuxUserConfiguration", "LinuxUserConfiguration", "see LinuxUserConfiguration"),
    a("UserAccount", "name", "string", "tasks name it in userIdentity.username"),
    e("UserAccount", "password", "string", "pool accounts do not log in (node users do, over SSH) (kept, never returned: a secret)"),
    e("UserAccount", "windowsUserConfiguration", "WindowsUserConfiguration", "local nodes are Linux"),
    a("UserIdentity", "autoUser", "AutoUserSpecification", "see AutoUserSpecification"),
    a("UserIdentity", "username", "string", "one of the pool's userAccounts (else the task fails with UserError)"),
    a("VirtualMachineConfiguration", "containerConfiguration", "BatchContainerConfiguration", "a container pool on the Docker engine"),
    r("VirtualMachineConfiguration", "dataDisks", "[DataDisk]", "Data disks (virtualMachineConfiguration.dataDisks)", When::Set),
    e("VirtualMachineConfiguration", "diskEncryptionConfiguration", "DiskEncryptionConfiguration", VM_HARDWARE),
    r("VirtualMachineConfiguration", "extensions", "[VMExtension]", "VM extensions (virtualMachineConfiguration.extensions)", When::Set),
    e("VirtualMachineConfiguration", "imageReference", "BatchVmImageReference", VM_HARDWARE),
    e("VirtualMachineConfiguration", "licenseType", "string", VM_HARDWARE),
    e("VirtualMachineConfiguration", "nodeAgentSKUId", "string", VM_HARDWARE),
    e("VirtualMachineConfiguration", "nodePlacementConfiguration", "BatchNodePlacementConfiguration", VM_HARDWARE),
    e("VirtualMachineConfiguration", "osDisk", "BatchOsDisk", VM_HARDWARE),
    e("VirtualMachineConfiguration", "securityProfile", "SecurityProfile", VM_HARDWARE),
    e("VirtualMachineConfiguration", "serviceArtifactReference", "ServiceArtifactReference", VM_HARDWARE),
    e("VirtualMachineConfiguration", "windowsConfiguration", "WindowsConfiguration", "local nodes are Linux"),
];

/// Properties that are kept but never returned on a read (secrets): the REST edge removes them
/// from every entity it answers with.
pub static SECRETS: &[(&str, &str)] = &[("ContainerRegistryReference", "password"), ("UserAccount", "password"), ("LinuxUserConfiguration", "sshPrivateKey")];

/// Properties the service returns that the emulator leaves out, and why (found by replaying the
/// REST specification's examples and the recordings in `fixtures/recordings`).
pub static RESPONSE_GAPS: &[(&str, &str)] = &[
    (
        "BatchNode.endpointConfiguration (the default `SSHRule.0` endpoint, backend port 22)",
        "a node's SSH endpoint is on its own address and port (remote login settings), not behind a frontend port; the endpoints of a pool's inboundNATPools are reported and forwarded",
    ),
    (
        "BatchPool.certificateReferences (`[]` on api-versions before 2024-07-01)",
        "certificates are retired and refused; an empty list says nothing the missing property does not",
    ),
];

/// The row of one property.
pub fn row(model: &str, property: &str) -> Option<&'static Row> {
    LEDGER.iter().find(|r| r.model == model && r.property == property)
}

/// The body model of an operation (azure-batch 15.x name), if it takes a body.
pub fn body_model(operation: &str) -> Option<&'static str> {
    BODIES.iter().find(|(op, _)| *op == operation).map(|(_, m)| *m)
}

/// The model named in a kind (`[ResourceFile]` → `ResourceFile`), if it is one.
pub fn model_of(kind: &str) -> Option<&str> {
    let inner = kind.trim_start_matches(['[', '{']).trim_end_matches([']', '}']);
    inner.starts_with(|c: char| c.is_ascii_uppercase()).then_some(inner)
}

fn matches(when: When, v: &Value) -> bool {
    match when {
        When::Set => match v {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        },
        When::True => v.as_bool() == Some(true),
        When::Holds(s) => match v {
            serde_json::Value::String(x) => x.eq_ignore_ascii_case(s),
            other => other.as_array().is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(s)))),
        },
    }
}

/// The 501 for the first refused property in `body` (a value of `model`), if any. Properties
/// the ledger does not know (older api-versions' extras, read-only ones sent back) are left to
/// the domain.
pub fn refusal(model: &str, body: &Value) -> Option<DomainError> {
    let Value::Object(map) = body else { return None };
    for (name, value) in map {
        let Some(row) = row(model, name) else { continue };
        match row.treatment {
            Treatment::Refused { feature, when } if matches(when, value) => {
                return Some(
                    DomainError::new(BatchErrorCode::NotImplemented)
                        .with_message(format!("{feature} is not emulated yet by batch-emulator {}.", env!("CARGO_PKG_VERSION"))),
                );
            }
            Treatment::Applied(_) => {
                if let Some(child) = model_of(row.kind) {
                    let items: Vec<&Value> = match value {
                        Value::Array(items) => items.iter().collect(),
                        Value::Object(_) if row.kind.starts_with('{') => value.as_object().into_iter().flat_map(|o| o.values()).collect(),
                        other => vec![other],
                    };
                    if let Some(e) = items.into_iter().find_map(|v| refusal(child, v)) {
                        return Some(e);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Converts primitive values sent as strings to the property's declared type, as Batch's OData
/// reader does (the Azure CLI sends every integer flag as a JSON string: `"1"`): `int` and
/// `number` from numeric strings, `bool` from `"true"`/`"false"`. A string that does not
/// convert is left alone (and refused by the wire type as a bad body).
pub fn coerce(model: &str, body: &mut Value) {
    let Value::Object(map) = body else { return };
    for (name, value) in map.iter_mut() {
        let Some(row) = row(model, name) else { continue };
        coerce_kind(row.kind, value);
    }
}

fn coerce_kind(kind: &str, value: &mut Value) {
    if let Some(inner) = kind.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
        if let Value::Array(items) = value {
            items.iter_mut().for_each(|v| coerce_kind(inner, v));
        }
        return;
    }
    if let Some(inner) = kind.strip_prefix('{').and_then(|k| k.strip_suffix('}')) {
        if let Value::Object(items) = value {
            items.values_mut().for_each(|v| coerce_kind(inner, v));
        }
        return;
    }
    let Value::String(s) = value else {
        if let Some(child) = model_of(kind) {
            coerce(child, value);
        }
        return;
    };
    let t = s.trim();
    let converted = match kind {
        "int" => t.parse::<i64>().ok().map(Value::from),
        "number" => t.parse::<f64>().ok().and_then(|f| serde_json::Number::from_f64(f).map(Value::Number)),
        "bool" if t.eq_ignore_ascii_case("true") => Some(Value::Bool(true)),
        "bool" if t.eq_ignore_ascii_case("false") => Some(Value::Bool(false)),
        _ => None,
    };
    if let Some(v) = converted {
        *value = v;
    }
}

/// The README's list of echoed properties and of response properties left out, generated from
/// the ledger.
pub fn echoed_markdown() -> String {
    let mut out = String::from("| property | why it is only stored and returned |\n|---|---|\n");
    for row in LEDGER.iter() {
        if let Treatment::Echoed(why) = row.treatment {
            out.push_str(&format!("| `{}.{}` | {why} |\n", row.model, row.property));
        }
    }
    out.push_str("\nReturned by the service, left out here:\n\n| property | why |\n|---|---|\n");
    for (property, why) in RESPONSE_GAPS {
        out.push_str(&format!("| {property} | {why} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refused_properties_are_found_at_any_depth() {
        let identity = json!({"httpUrl": "http://h/f", "filePath": "f", "identityReference": {"resourceId": "/i"}});
        let pool = json!({"id": "p", "startTask": {"commandLine": "x", "resourceFiles": [{"httpUrl": "http://h/f", "filePath": "f"}, identity]}});
        assert!(refusal("BatchPoolCreateOptions", &pool).unwrap().message.unwrap().contains("Managed identities"));
        assert!(refusal("BatchPoolCreateOptions", &json!({"startTask": {"commandLine": "x", "resourceFiles": [{"httpUrl": "http://h/f"}]}})).is_none());
        let ipv6 = json!({"networkConfiguration": {"publicIPAddressConfiguration": {"ipFamilies": ["IPv4", "ipv6"]}}});
        assert!(refusal("BatchPoolUpdateOptions", &ipv6).is_some());
        assert!(refusal("BatchPoolUpdateOptions", &json!({"networkConfiguration": {"publicIPAddressConfiguration": {"ipFamilies": ["IPv4"]}}})).is_none());
        assert!(refusal("BatchPoolCreateOptions", &json!({"enableAutoScale": false})).is_none());
        let identity = json!({"destination": {"container": {"identityReference": {"resourceId": "/i"}}}});
        assert!(refusal("BatchTaskGroup", &json!({"value": [{"id": "a"}, {"id": "b", "outputFiles": [{}, identity]}]})).is_some());
    }

    #[test]
    fn primitive_strings_become_their_declared_types() {
        let mut pool = json!({"id": "p", "targetDedicatedNodes": "2", "taskSlotsPerNode": " 4 ", "enableInterNodeCommunication": "True",
            "startTask": {"commandLine": "x", "maxTaskRetryCount": "-1", "waitForSuccess": "false"}, "displayName": "7"});
        coerce("BatchPoolCreateOptions", &mut pool);
        assert_eq!(pool["targetDedicatedNodes"], json!(2));
        assert_eq!(pool["taskSlotsPerNode"], json!(4));
        assert_eq!(pool["enableInterNodeCommunication"], json!(true));
        assert_eq!(pool["startTask"]["maxTaskRetryCount"], json!(-1));
        assert_eq!(pool["startTask"]["waitForSuccess"], json!(false));
        assert_eq!(pool["displayName"], json!("7"), "a string property stays a string");
        let mut bad = json!({"targetDedicatedNodes": "two"});
        coerce("BatchPoolCreateOptions", &mut bad);
        assert_eq!(bad["targetDedicatedNodes"], json!("two"));
        let mut tasks = json!({"value": [{"id": "a", "requiredSlots": "2", "constraints": {"maxTaskRetryCount": "3"}}]});
        coerce("BatchTaskGroup", &mut tasks);
        assert_eq!(tasks["value"][0]["constraints"]["maxTaskRetryCount"], json!(3));
    }

    #[test]
    fn every_row_is_unique_and_names_a_known_kind() {
        for (i, row) in LEDGER.iter().enumerate() {
            assert!(!LEDGER[..i].iter().any(|r| r.model == row.model && r.property == row.property), "{}.{} twice", row.model, row.property);
        }
    }
}
