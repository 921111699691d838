//! The operation catalogue: one entry per row of `fixtures/reference/batch-operations.json`
//! (copied from `shared/reference/`). Routing, the 501 answer for what is not built, and the
//! README's coverage table all come from here. Generated once from the JSON; the test at the
//! bottom fails if the two drift apart.

/// A Batch data-plane operation, named after the azure-batch 15.x method (14.x name where 15.x
/// has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    ListApplications,
    GetApplication,
    ListPoolUsageMetrics,
    CreatePool,
    ListPools,
    DeletePool,
    PoolExists,
    GetPool,
    UpdatePool,
    DisablePoolAutoScale,
    EnablePoolAutoScale,
    EvaluatePoolAutoScale,
    ResizePool,
    StopPoolResize,
    ReplacePoolProperties,
    RemoveNodes,
    ListSupportedImages,
    ListPoolNodeCounts,
    DeleteJob,
    GetJob,
    UpdateJob,
    ReplaceJob,
    DisableJob,
    EnableJob,
    TerminateJob,
    CreateJob,
    ListJobs,
    ListJobsFromSchedule,
    ListJobPreparationAndReleaseTaskStatus,
    GetJobTaskCounts,
    JobScheduleExists,
    DeleteJobSchedule,
    GetJobSchedule,
    UpdateJobSchedule,
    ReplaceJobSchedule,
    DisableJobSchedule,
    EnableJobSchedule,
    TerminateJobSchedule,
    CreateJobSchedule,
    ListJobSchedules,
    CreateTask,
    ListTasks,
    CreateTaskCollection,
    DeleteTask,
    GetTask,
    ReplaceTask,
    ListSubtasks,
    TerminateTask,
    ReactivateTask,
    DeleteTaskFile,
    DownloadTaskFile,
    GetTaskFileProperties,
    ListTaskFiles,
    CreateNodeUser,
    DeleteNodeUser,
    ReplaceNodeUser,
    GetNode,
    RebootNode,
    StartNode,
    ReimageNode,
    DeallocateNode,
    DisableNodeScheduling,
    EnableNodeScheduling,
    GetNodeRemoteLoginSettings,
    UploadNodeLogs,
    ListNodes,
    GetNodeExtension,
    ListNodeExtensions,
    DeleteNodeFile,
    DownloadNodeFile,
    GetNodeFileProperties,
    ListNodeFiles,
    AddCertificate,
    ListCertificates,
    CancelCertificateDeletion,
    DeleteCertificate,
    GetCertificate,
    GetRemoteDesktop,
}

/// One catalogue row.
#[derive(Debug, Clone, Copy)]
pub struct OperationInfo {
    pub op: Operation,
    /// azure-batch 15.x method name (or the 14.x one when 15.x dropped the operation).
    pub name: &'static str,
    pub method: &'static str,
    /// Path template, `{param}` for path parameters.
    pub path: &'static str,
    pub group: &'static str,
    /// The status a successful call answers with.
    pub success_status: u16,
    /// azure-batch 14.x operation (`pool.add`), empty when 14.x lacks it.
    pub sdk14: &'static str,
    pub implemented: bool,
}

/// Every catalogued operation.
pub static CATALOGUE: &[OperationInfo] = &[
    OperationInfo {
        op: Operation::ListApplications,
        name: "list_applications",
        method: "GET",
        path: "/applications",
        group: "applications",
        success_status: 200,
        sdk14: "application.list",
        implemented: false,
    },
    OperationInfo {
        op: Operation::GetApplication,
        name: "get_application",
        method: "GET",
        path: "/applications/{applicationId}",
        group: "applications",
        success_status: 200,
        sdk14: "application.get",
        implemented: false,
    },
    OperationInfo {
        op: Operation::ListPoolUsageMetrics,
        name: "list_pool_usage_metrics",
        method: "GET",
        path: "/poolusagemetrics",
        group: "pools",
        success_status: 200,
        sdk14: "pool.list_usage_metrics",
        implemented: false,
    },
    OperationInfo {
        op: Operation::CreatePool,
        name: "create_pool",
        method: "POST",
        path: "/pools",
        group: "pools",
        success_status: 201,
        sdk14: "pool.add",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ListPools,
        name: "list_pools",
        method: "GET",
        path: "/pools",
        group: "pools",
        success_status: 200,
        sdk14: "pool.list",
        implemented: true,
    },
    OperationInfo {
        op: Operation::DeletePool,
        name: "delete_pool",
        method: "DELETE",
        path: "/pools/{poolId}",
        group: "pools",
        success_status: 202,
        sdk14: "pool.delete",
        implemented: true,
    },
    OperationInfo {
        op: Operation::PoolExists,
        name: "pool_exists",
        method: "HEAD",
        path: "/pools/{poolId}",
        group: "pools",
        success_status: 200,
        sdk14: "pool.exists",
        implemented: true,
    },
    OperationInfo {
        op: Operation::GetPool,
        name: "get_pool",
        method: "GET",
        path: "/pools/{poolId}",
        group: "pools",
        success_status: 200,
        sdk14: "pool.get",
        implemented: true,
    },
    OperationInfo {
        op: Operation::UpdatePool,
        name: "update_pool",
        method: "PATCH",
        path: "/pools/{poolId}",
        group: "pools",
        success_status: 200,
        sdk14: "pool.patch",
        implemented: true,
    },
    OperationInfo {
        op: Operation::DisablePoolAutoScale,
        name: "disable_pool_auto_scale",
        method: "POST",
        path: "/pools/{poolId}/disableautoscale",
        group: "pools",
        success_status: 200,
        sdk14: "pool.disable_auto_scale",
        implemented: false,
    },
    OperationInfo {
        op: Operation::EnablePoolAutoScale,
        name: "enable_pool_auto_scale",
        method: "POST",
        path: "/pools/{poolId}/enableautoscale",
        group: "pools",
        success_status: 200,
        sdk14: "pool.enable_auto_scale",
        implemented: false,
    },
    OperationInfo {
        op: Operation::EvaluatePoolAutoScale,
        name: "evaluate_pool_auto_scale",
        method: "POST",
        path: "/pools/{poolId}/evaluateautoscale",
        group: "pools",
        success_status: 200,
        sdk14: "pool.evaluate_auto_scale",
        implemented: false,
    },
    OperationInfo {
        op: Operation::ResizePool,
        name: "resize_pool",
        method: "POST",
        path: "/pools/{poolId}/resize",
        group: "pools",
        success_status: 202,
        sdk14: "pool.resize",
        implemented: true,
    },
    OperationInfo {
        op: Operation::StopPoolResize,
        name: "stop_pool_resize",
        method: "POST",
        path: "/pools/{poolId}/stopresize",
        group: "pools",
        success_status: 202,
        sdk14: "pool.stop_resize",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ReplacePoolProperties,
        name: "replace_pool_properties",
        method: "POST",
        path: "/pools/{poolId}/updateproperties",
        group: "pools",
        success_status: 204,
        sdk14: "pool.update_properties",
        implemented: true,
    },
    OperationInfo {
        op: Operation::RemoveNodes,
        name: "remove_nodes",
        method: "POST",
        path: "/pools/{poolId}/removenodes",
        group: "pools",
        success_status: 202,
        sdk14: "pool.remove_nodes",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ListSupportedImages,
        name: "list_supported_images",
        method: "GET",
        path: "/supportedimages",
        group: "pools",
        success_status: 200,
        sdk14: "account.list_supported_images",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ListPoolNodeCounts,
        name: "list_pool_node_counts",
        method: "GET",
        path: "/nodecounts",
        group: "pools",
        success_status: 200,
        sdk14: "account.list_pool_node_counts",
        implemented: true,
    },
    OperationInfo {
        op: Operation::DeleteJob,
        name: "delete_job",
        method: "DELETE",
        path: "/jobs/{jobId}",
        group: "jobs",
        success_status: 202,
        sdk14: "job.delete",
        implemented: true,
    },
    OperationInfo {
        op: Operation::GetJob,
        name: "get_job",
        method: "GET",
        path: "/jobs/{jobId}",
        group: "jobs",
        success_status: 200,
        sdk14: "job.get",
        implemented: true,
    },
    OperationInfo {
        op: Operation::UpdateJob,
        name: "update_job",
        method: "PATCH",
        path: "/jobs/{jobId}",
        group: "jobs",
        success_status: 200,
        sdk14: "job.patch",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ReplaceJob,
        name: "replace_job",
        method: "PUT",
        path: "/jobs/{jobId}",
        group: "jobs",
        success_status: 200,
        sdk14: "job.update",
        implemented: true,
    },
    OperationInfo {
        op: Operation::DisableJob,
        name: "disable_job",
        method: "POST",
        path: "/jobs/{jobId}/disable",
        group: "jobs",
        success_status: 202,
        sdk14: "job.disable",
        implemented: true,
    },
    OperationInfo {
        op: Operation::EnableJob,
        name: "enable_job",
        method: "POST",
        path: "/jobs/{jobId}/enable",
        group: "jobs",
        success_status: 202,
        sdk14: "job.enable",
        implemented: true,
    },
    OperationInfo {
        op: Operation::TerminateJob,
        name: "terminate_job",
        method: "POST",
        path: "/jobs/{jobId}/terminate",
        group: "jobs",
        success_status: 202,
        sdk14: "job.terminate",
        implemented: true,
    },
    OperationInfo {
        op: Operation::CreateJob,
        name: "create_job",
        method: "POST",
        path: "/jobs",
        group: "jobs",
        success_status: 201,
        sdk14: "job.add",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ListJobs,
        name: "list_jobs",
        method: "GET",
        path: "/jobs",
        group: "jobs",
        success_status: 200,
        sdk14: "job.list",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ListJobsFromSchedule,
        name: "list_jobs_from_schedule",
        method: "GET",
        path: "/jobschedules/{jobScheduleId}/jobs",
        group: "jobs",
        success_status: 200,
        sdk14: "job.list_from_job_schedule",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ListJobPreparationAndReleaseTaskStatus,
        name: "list_job_preparation_and_release_task_status",
        method: "GET",
        path: "/jobs/{jobId}/jobpreparationandreleasetaskstatus",
        group: "jobs",
        success_status: 200,
        sdk14: "job.list_preparation_and_release_task_status",
        implemented: true,
    },
    OperationInfo {
        op: Operation::GetJobTaskCounts,
        name: "get_job_task_counts",
        method: "GET",
        path: "/jobs/{jobId}/taskcounts",
        group: "jobs",
        success_status: 200,
        sdk14: "job.get_task_counts",
        implemented: true,
    },
    OperationInfo {
        op: Operation::JobScheduleExists,
        name: "job_schedule_exists",
        method: "HEAD",
        path: "/jobschedules/{jobScheduleId}",
        group: "jobschedules",
        success_status: 200,
        sdk14: "job_schedule.exists",
        implemented: true,
    },
    OperationInfo {
        op: Operation::DeleteJobSchedule,
        name: "delete_job_schedule",
        method: "DELETE",
        path: "/jobschedules/{jobScheduleId}",
        group: "jobschedules",
        success_status: 202,
        sdk14: "job_schedule.delete",
        implemented: true,
    },
    OperationInfo {
        op: Operation::GetJobSchedule,
        name: "get_job_schedule",
        method: "GET",
        path: "/jobschedules/{jobScheduleId}",
        group: "jobschedules",
        success_status: 200,
        sdk14: "job_schedule.get",
        implemented: true,
    },
    OperationInfo {
        op: Operation::UpdateJobSchedule,
        name: "update_job_schedule",
        method: "PATCH",
        path: "/jobschedules/{jobScheduleId}",
        group: "jobschedules",
        success_status: 200,
        sdk14: "job_schedule.patch",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ReplaceJobSchedule,
        name: "replace_job_schedule",
        method: "PUT",
        path: "/jobschedules/{jobScheduleId}",
        group: "jobschedules",
        success_status: 200,
        sdk14: "job_schedule.update",
        implemented: true,
    },
    OperationInfo {
        op: Operation::DisableJobSchedule,
        name: "disable_job_schedule",
        method: "POST",
        path: "/jobschedules/{jobScheduleId}/disable",
        group: "jobschedules",
        success_status: 204,
        sdk14: "job_schedule.disable",
        implemented: true,
    },
    OperationInfo {
        op: Operation::EnableJobSchedule,
        name: "enable_job_schedule",
        method: "POST",
        path: "/jobschedules/{jobScheduleId}/enable",
        group: "jobschedules",
        success_status: 204,
        sdk14: "job_schedule.enable",
        implemented: true,
    },
    OperationInfo {
        op: Operation::TerminateJobSchedule,
        name: "terminate_job_schedule",
        method: "POST",
        path: "/jobschedules/{jobScheduleId}/terminate",
        group: "jobschedules",
        success_status: 202,
        sdk14: "job_schedule.terminate",
        implemented: true,
    },
    OperationInfo {
        op: Operation::CreateJobSchedule,
        name: "create_job_schedule",
        method: "POST",
        path: "/jobschedules",
        group: "jobschedules",
        success_status: 201,
        sdk14: "job_schedule.add",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ListJobSchedules,
        name: "list_job_schedules",
        method: "GET",
        path: "/jobschedules",
        group: "jobschedules",
        success_status: 200,
        sdk14: "job_schedule.list",
        implemented: true,
    },
    OperationInfo {
        op: Operation::CreateTask,
        name: "create_task",
        method: "POST",
        path: "/jobs/{jobId}/tasks",
        group: "tasks",
        success_status: 201,
        sdk14: "task.add",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ListTasks,
        name: "list_tasks",
        method: "GET",
        path: "/jobs/{jobId}/tasks",
        group: "tasks",
        success_status: 200,
        sdk14: "task.list",
        implemented: true,
    },
    OperationInfo {
        op: Operation::CreateTaskCollection,
        name: "create_task_collection",
        method: "POST",
        path: "/jobs/{jobId}/addtaskcollection",
        group: "tasks",
        success_status: 200,
        sdk14: "task.add_collection",
        implemented: true,
    },
    OperationInfo {
        op: Operation::DeleteTask,
        name: "delete_task",
        method: "DELETE",
        path: "/jobs/{jobId}/tasks/{taskId}",
        group: "tasks",
        success_status: 200,
        sdk14: "task.delete",
        implemented: true,
    },
    OperationInfo {
        op: Operation::GetTask,
        name: "get_task",
        method: "GET",
        path: "/jobs/{jobId}/tasks/{taskId}",
        group: "tasks",
        success_status: 200,
        sdk14: "task.get",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ReplaceTask,
        name: "replace_task",
        method: "PUT",
        path: "/jobs/{jobId}/tasks/{taskId}",
        group: "tasks",
        success_status: 200,
        sdk14: "task.update",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ListSubtasks,
        name: "list_subtasks",
        method: "GET",
        path: "/jobs/{jobId}/tasks/{taskId}/subtasksinfo",
        group: "tasks",
        success_status: 200,
        sdk14: "task.list_subtasks",
        implemented: true,
    },
    OperationInfo {
        op: Operation::TerminateTask,
        name: "terminate_task",
        method: "POST",
        path: "/jobs/{jobId}/tasks/{taskId}/terminate",
        group: "tasks",
        success_status: 204,
        sdk14: "task.terminate",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ReactivateTask,
        name: "reactivate_task",
        method: "POST",
        path: "/jobs/{jobId}/tasks/{taskId}/reactivate",
        group: "tasks",
        success_status: 204,
        sdk14: "task.reactivate",
        implemented: true,
    },
    OperationInfo {
        op: Operation::DeleteTaskFile,
        name: "delete_task_file",
        method: "DELETE",
        path: "/jobs/{jobId}/tasks/{taskId}/files/{filePath}",
        group: "files",
        success_status: 200,
        sdk14: "file.delete_from_task",
        implemented: true,
    },
    OperationInfo {
        op: Operation::DownloadTaskFile,
        name: "download_task_file",
        method: "GET",
        path: "/jobs/{jobId}/tasks/{taskId}/files/{filePath}",
        group: "files",
        success_status: 200,
        sdk14: "file.get_from_task",
        implemented: true,
    },
    OperationInfo {
        op: Operation::GetTaskFileProperties,
        name: "get_task_file_properties",
        method: "HEAD",
        path: "/jobs/{jobId}/tasks/{taskId}/files/{filePath}",
        group: "files",
        success_status: 200,
        sdk14: "file.get_properties_from_task",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ListTaskFiles,
        name: "list_task_files",
        method: "GET",
        path: "/jobs/{jobId}/tasks/{taskId}/files",
        group: "files",
        success_status: 200,
        sdk14: "file.list_from_task",
        implemented: true,
    },
    OperationInfo {
        op: Operation::CreateNodeUser,
        name: "create_node_user",
        method: "POST",
        path: "/pools/{poolId}/nodes/{nodeId}/users",
        group: "nodes",
        success_status: 201,
        sdk14: "compute_node.add_user",
        implemented: false,
    },
    OperationInfo {
        op: Operation::DeleteNodeUser,
        name: "delete_node_user",
        method: "DELETE",
        path: "/pools/{poolId}/nodes/{nodeId}/users/{userName}",
        group: "nodes",
        success_status: 200,
        sdk14: "compute_node.delete_user",
        implemented: false,
    },
    OperationInfo {
        op: Operation::ReplaceNodeUser,
        name: "replace_node_user",
        method: "PUT",
        path: "/pools/{poolId}/nodes/{nodeId}/users/{userName}",
        group: "nodes",
        success_status: 200,
        sdk14: "compute_node.update_user",
        implemented: false,
    },
    OperationInfo {
        op: Operation::GetNode,
        name: "get_node",
        method: "GET",
        path: "/pools/{poolId}/nodes/{nodeId}",
        group: "nodes",
        success_status: 200,
        sdk14: "compute_node.get",
        implemented: true,
    },
    OperationInfo {
        op: Operation::RebootNode,
        name: "reboot_node",
        method: "POST",
        path: "/pools/{poolId}/nodes/{nodeId}/reboot",
        group: "nodes",
        success_status: 202,
        sdk14: "compute_node.reboot",
        implemented: true,
    },
    OperationInfo {
        op: Operation::StartNode,
        name: "start_node",
        method: "POST",
        path: "/pools/{poolId}/nodes/{nodeId}/start",
        group: "nodes",
        success_status: 202,
        sdk14: "",
        implemented: false,
    },
    OperationInfo {
        op: Operation::ReimageNode,
        name: "reimage_node",
        method: "POST",
        path: "/pools/{poolId}/nodes/{nodeId}/reimage",
        group: "nodes",
        success_status: 202,
        sdk14: "compute_node.reimage",
        implemented: true,
    },
    OperationInfo {
        op: Operation::DeallocateNode,
        name: "deallocate_node",
        method: "POST",
        path: "/pools/{poolId}/nodes/{nodeId}/deallocate",
        group: "nodes",
        success_status: 202,
        sdk14: "",
        implemented: false,
    },
    OperationInfo {
        op: Operation::DisableNodeScheduling,
        name: "disable_node_scheduling",
        method: "POST",
        path: "/pools/{poolId}/nodes/{nodeId}/disablescheduling",
        group: "nodes",
        success_status: 200,
        sdk14: "compute_node.disable_scheduling",
        implemented: true,
    },
    OperationInfo {
        op: Operation::EnableNodeScheduling,
        name: "enable_node_scheduling",
        method: "POST",
        path: "/pools/{poolId}/nodes/{nodeId}/enablescheduling",
        group: "nodes",
        success_status: 200,
        sdk14: "compute_node.enable_scheduling",
        implemented: true,
    },
    OperationInfo {
        op: Operation::GetNodeRemoteLoginSettings,
        name: "get_node_remote_login_settings",
        method: "GET",
        path: "/pools/{poolId}/nodes/{nodeId}/remoteloginsettings",
        group: "nodes",
        success_status: 200,
        sdk14: "compute_node.get_remote_login_settings",
        implemented: false,
    },
    OperationInfo {
        op: Operation::UploadNodeLogs,
        name: "upload_node_logs",
        method: "POST",
        path: "/pools/{poolId}/nodes/{nodeId}/uploadbatchservicelogs",
        group: "nodes",
        success_status: 200,
        sdk14: "compute_node.upload_batch_service_logs",
        implemented: false,
    },
    OperationInfo {
        op: Operation::ListNodes,
        name: "list_nodes",
        method: "GET",
        path: "/pools/{poolId}/nodes",
        group: "nodes",
        success_status: 200,
        sdk14: "compute_node.list",
        implemented: true,
    },
    OperationInfo {
        op: Operation::GetNodeExtension,
        name: "get_node_extension",
        method: "GET",
        path: "/pools/{poolId}/nodes/{nodeId}/extensions/{extensionName}",
        group: "nodes",
        success_status: 200,
        sdk14: "compute_node_extension.get",
        implemented: false,
    },
    OperationInfo {
        op: Operation::ListNodeExtensions,
        name: "list_node_extensions",
        method: "GET",
        path: "/pools/{poolId}/nodes/{nodeId}/extensions",
        group: "nodes",
        success_status: 200,
        sdk14: "compute_node_extension.list",
        implemented: false,
    },
    OperationInfo {
        op: Operation::DeleteNodeFile,
        name: "delete_node_file",
        method: "DELETE",
        path: "/pools/{poolId}/nodes/{nodeId}/files/{filePath}",
        group: "files",
        success_status: 200,
        sdk14: "file.delete_from_compute_node",
        implemented: true,
    },
    OperationInfo {
        op: Operation::DownloadNodeFile,
        name: "download_node_file",
        method: "GET",
        path: "/pools/{poolId}/nodes/{nodeId}/files/{filePath}",
        group: "files",
        success_status: 200,
        sdk14: "file.get_from_compute_node",
        implemented: true,
    },
    OperationInfo {
        op: Operation::GetNodeFileProperties,
        name: "get_node_file_properties",
        method: "HEAD",
        path: "/pools/{poolId}/nodes/{nodeId}/files/{filePath}",
        group: "files",
        success_status: 200,
        sdk14: "file.get_properties_from_compute_node",
        implemented: true,
    },
    OperationInfo {
        op: Operation::ListNodeFiles,
        name: "list_node_files",
        method: "GET",
        path: "/pools/{poolId}/nodes/{nodeId}/files",
        group: "files",
        success_status: 200,
        sdk14: "file.list_from_compute_node",
        implemented: true,
    },
    OperationInfo {
        op: Operation::AddCertificate,
        name: "add_certificate",
        method: "POST",
        path: "/certificates",
        group: "certificates (deprecated; not in SDK 15.1.0)",
        success_status: 201,
        sdk14: "certificate.add",
        implemented: false,
    },
    OperationInfo {
        op: Operation::ListCertificates,
        name: "list_certificates",
        method: "GET",
        path: "/certificates",
        group: "certificates (deprecated; not in SDK 15.1.0)",
        success_status: 200,
        sdk14: "certificate.list",
        implemented: false,
    },
    OperationInfo {
        op: Operation::CancelCertificateDeletion,
        name: "cancel_certificate_deletion",
        method: "POST",
        path: "/certificates(thumbprintAlgorithm={thumbprintAlgorithm},thumbprint={thumbprint})/canceldelete",
        group: "certificates (deprecated; not in SDK 15.1.0)",
        success_status: 204,
        sdk14: "certificate.cancel_deletion",
        implemented: false,
    },
    OperationInfo {
        op: Operation::DeleteCertificate,
        name: "delete_certificate",
        method: "DELETE",
        path: "/certificates(thumbprintAlgorithm={thumbprintAlgorithm},thumbprint={thumbprint})",
        group: "certificates (deprecated; not in SDK 15.1.0)",
        success_status: 202,
        sdk14: "certificate.delete",
        implemented: false,
    },
    OperationInfo {
        op: Operation::GetCertificate,
        name: "get_certificate",
        method: "GET",
        path: "/certificates(thumbprintAlgorithm={thumbprintAlgorithm},thumbprint={thumbprint})",
        group: "certificates (deprecated; not in SDK 15.1.0)",
        success_status: 200,
        sdk14: "certificate.get",
        implemented: false,
    },
    OperationInfo {
        op: Operation::GetRemoteDesktop,
        name: "get_remote_desktop",
        method: "GET",
        path: "/pools/{poolId}/nodes/{nodeId}/rdp",
        group: "nodes",
        success_status: 200,
        sdk14: "compute_node.get_remote_desktop",
        implemented: false,
    },
];

impl Operation {
    /// The catalogue row of this operation.
    pub fn info(self) -> &'static OperationInfo {
        CATALOGUE.iter().find(|i| i.op == self).unwrap_or(&CATALOGUE[0])
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
    pub fn is_implemented(self) -> bool {
        self.info().implemented
    }
}

/// The result of matching a request line against the catalogue.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch {
    /// The operation and its path parameters, still percent-encoded, in template order.
    Found(Operation, Vec<String>),
    /// The path names a resource but not with this method.
    WrongMethod,
    NotFound,
}

/// Matches one raw (still percent-encoded) path segment against a template segment that may
/// hold literals around `{param}` parts (`certificates(thumbprintAlgorithm={a},thumbprint={t})`).
fn match_segment(template: &str, segment: &str, params: &mut Vec<String>) -> bool {
    let mut t = template;
    let mut s = segment;
    loop {
        match t.find('{') {
            None => return t.eq_ignore_ascii_case(s),
            Some(open) => {
                let (lit, rest) = t.split_at(open);
                // `get`: a multi-byte character may straddle the literal's length.
                match s.get(..lit.len()) {
                    Some(head) if head.eq_ignore_ascii_case(lit) => s = &s[lit.len()..],
                    _ => return false,
                }
                let Some(close) = rest.find('}') else {
                    return false;
                };
                t = &rest[close + 1..];
                // The parameter runs to the next literal (or the end of the segment).
                let end = match t.find('{') {
                    _ if t.is_empty() => s.len(),
                    Some(0) => return false,
                    Some(next) => match s.find(&t[..next]) {
                        Some(i) => i,
                        None => return false,
                    },
                    None => match s.rfind(t) {
                        Some(i) => i,
                        None => return false,
                    },
                };
                if end == 0 {
                    return false;
                }
                params.push(s[..end].to_string());
                s = &s[end..];
            }
        }
    }
}

/// Finds the operation for a method and raw path. Literal path parts match case-insensitively.
pub fn route(method: &str, raw_path: &str) -> RouteMatch {
    let segments: Vec<&str> = raw_path.trim_start_matches('/').split('/').collect();
    let mut path_matched = false;
    for info in CATALOGUE {
        let tsegs: Vec<&str> = info.path.trim_start_matches('/').split('/').collect();
        if tsegs.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        if tsegs.iter().zip(&segments).all(|(t, s)| match_segment(t, s, &mut params)) {
            if info.method.eq_ignore_ascii_case(method) {
                return RouteMatch::Found(info.op, params);
            }
            path_matched = true;
        }
    }
    if path_matched {
        RouteMatch::WrongMethod
    } else {
        RouteMatch::NotFound
    }
}

/// The README's coverage table, generated from the catalogue.
pub fn coverage_markdown() -> String {
    let implemented = CATALOGUE.iter().filter(|i| i.implemented).count();
    let mut out = format!(
        "{implemented} of {} catalogued operations are emulated; the others answer 501 `NotImplemented` naming the operation.\n\n\
         | group | operation (azure-batch 15.x) | 14.x | method and path | emulated |\n|---|---|---|---|---|\n",
        CATALOGUE.len()
    );
    let mut rows: Vec<&OperationInfo> = CATALOGUE.iter().collect();
    rows.sort_by_key(|i| (i.group, i.path, i.method));
    for i in rows {
        out.push_str(&format!(
            "| {} | `{}` | {} | `{} {}` | {} |\n",
            i.group,
            i.name,
            if i.sdk14.is_empty() { "–".to_string() } else { format!("`{}`", i.sdk14) },
            i.method,
            i.path,
            if i.implemented { "yes" } else { "not yet (501)" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table is generated: run with `UPDATE_README=1` to rewrite it.
    #[test]
    fn readme_coverage_table_matches_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let (start, end) = ("<!-- coverage:start -->\n", "<!-- coverage:end -->");
        let a = readme.find(start).expect("coverage start marker") + start.len();
        let b = readme.find(end).expect("coverage end marker");
        let table = coverage_markdown();
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(path, format!("{}{}{}", &readme[..a], table, &readme[b..])).expect("write README");
        } else {
            assert_eq!(readme[a..b], table, "README coverage table is stale: run `UPDATE_README=1 cargo test -p batch-emulator readme_coverage`");
        }
    }

    #[test]
    fn every_row_of_the_reference_has_exactly_one_entry_and_route() {
        let json: serde_json::Value = serde_json::from_str(include_str!("../../../fixtures/reference/batch-operations.json")).unwrap();
        let rows = json["operations"].as_array().unwrap();
        assert_eq!(rows.len(), CATALOGUE.len());
        for row in rows {
            let method = row["method"].as_str().unwrap();
            let path = row["path"].as_str().unwrap();
            let matching: Vec<_> = CATALOGUE.iter().filter(|i| i.method == method && i.path == path).collect();
            assert_eq!(matching.len(), 1, "{method} {path}");
            let sample = path.replace("{", "x").replace("}", "");
            let sample = if path.contains("thumbprint=") {
                "/certificates(thumbprintAlgorithm=sha1,thumbprint=abc)".to_string() + path.split(')').nth(1).unwrap_or("")
            } else {
                sample
            };
            match route(method, &sample) {
                RouteMatch::Found(op, _) => assert_eq!(op, matching[0].op, "{method} {sample}"),
                other => panic!("{method} {sample}: {other:?}"),
            }
        }
    }

    proptest::proptest! {
        /// Any path, any method: an answer, never a panic.
        #[test]
        fn routing_never_panics(method in "[A-Z]{0,7}", path in "(/[\\PC]{0,30}){0,6}") {
            let _ = route(&method, &path);
        }
    }

    #[test]
    fn request_lines_from_the_rest_docs_route_to_their_operations() {
        let cases = [
            ("POST", "/pools", Operation::CreatePool, vec![]),
            ("GET", "/pools/mypool", Operation::GetPool, vec!["mypool"]),
            ("HEAD", "/pools/mypool", Operation::PoolExists, vec!["mypool"]),
            ("POST", "/jobs/j1/addtaskcollection", Operation::CreateTaskCollection, vec!["j1"]),
            ("GET", "/jobs/j1/tasks/t1/files/wd%2Fout.txt", Operation::DownloadTaskFile, vec!["j1", "t1", "wd%2Fout.txt"]),
            ("GET", "/pools/p/nodes/tvmps_1_d/files/startup%2Fstdout.txt", Operation::DownloadNodeFile, vec!["p", "tvmps_1_d", "startup%2Fstdout.txt"]),
            ("GET", "/certificates(thumbprintAlgorithm=sha1,thumbprint=0123abc)", Operation::GetCertificate, vec!["sha1", "0123abc"]),
            ("GET", "/jobs/j1/taskcounts", Operation::GetJobTaskCounts, vec!["j1"]),
            ("GET", "/nodecounts", Operation::ListPoolNodeCounts, vec![]),
        ];
        for (m, p, op, params) in cases {
            assert_eq!(route(m, p), RouteMatch::Found(op, params.into_iter().map(String::from).collect()), "{m} {p}");
        }
        assert_eq!(route("PUT", "/pools"), RouteMatch::WrongMethod);
        // A multi-byte character at a literal's boundary used to panic (byte slicing).
        assert_eq!(route("GET", "/certificates(thumbprintAlgorith\u{e9}=sha1,thumbprint=a)"), RouteMatch::NotFound);
        assert_eq!(route("GET", "/certificates(thumbprintAlgorithm\u{e9}sha1,thumbprint=a)"), RouteMatch::NotFound);
        assert_eq!(route("GET", "/nothing/here"), RouteMatch::NotFound);
        assert_eq!(route("GET", "/pools/p/extra/deep/path/x"), RouteMatch::NotFound);
    }
}
