//! The closed set of Batch error codes the emulator answers with, spelled as Batch spells them.
//! The HTTP status of each lives in one exhaustive match in the emulator's `api::error`.

/// A Batch error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchErrorCode {
    // 400
    MissingRequiredQueryParameter,
    InvalidQueryParameterValue,
    OutOfRangeQueryParameterValue,
    UnsupportedRequestVersion,
    InvalidRequestBody,
    MissingRequiredProperty,
    InvalidPropertyValue,
    InvalidHeaderValue,
    InvalidUri,
    InvalidAuthenticationInfo,
    TaskDependenciesNotSpecifiedOnJob,
    TaskDependencyListTooLong,
    InvalidAutoScalingSettings,
    AutoScalingFormulaSyntaxError,
    AutoScalingFormulaTooLong,
    // 403
    AuthenticationFailed,
    InsufficientAccountPermissions,
    // 404
    ResourceNotFound,
    PoolNotFound,
    JobNotFound,
    TaskNotFound,
    NodeNotFound,
    NodeUserNotFound,
    FileNotFound,
    JobScheduleNotFound,
    ApplicationNotFound,
    // 405
    UnsupportedHttpVerb,
    // 409
    PoolExists,
    NodeUserExists,
    JobExists,
    TaskExists,
    TaskIdSameAsJobPreparationTask,
    TaskIdSameAsJobReleaseTask,
    JobPreparationTaskNotSpecified,
    PoolBeingDeleted,
    PoolBeingResized,
    JobBeingDeleted,
    JobBeingTerminated,
    JobCompleted,
    JobNotActive,
    TaskCompleted,
    TaskNotCompleted,
    TaskSucceeded,
    TaskFilesUnavailable,
    TaskFilesCleanedup,
    OperationInvalidForCurrentState,
    NodeStateUnusable,
    JobScheduleExists,
    JobWithSameIdExists,
    JobScheduleWithSameIdExists,
    JobScheduleBeingDeleted,
    JobScheduleBeingTerminated,
    JobScheduleCompleted,
    NodeBeingCreated,
    NodeBeingStarted,
    NodeBeingRebooted,
    NodeBeingReimaged,
    NodeAlreadyInTargetSchedulingState,
    OperationNotValidOnNode,
    InvalidApplicationPackageReferences,
    // 412
    ConditionNotMet,
    // 413
    RequestBodyTooLarge,
    // 416
    InvalidRange,
    // 500
    InternalError,
    // 503
    TooManyEnableAutoScaleRequests,
    /// Injected throttling (the emulator's fault injection).
    ServerBusy,
    TooManyRequests,
    // 501
    NotImplemented,
}

impl BatchErrorCode {
    /// The code as it appears in the `code` field.
    pub fn as_str(self) -> &'static str {
        use BatchErrorCode::*;
        match self {
            MissingRequiredQueryParameter => "MissingRequiredQueryParameter",
            InvalidQueryParameterValue => "InvalidQueryParameterValue",
            OutOfRangeQueryParameterValue => "OutOfRangeQueryParameterValue",
            UnsupportedRequestVersion => "UnsupportedRequestVersion",
            InvalidRequestBody => "InvalidRequestBody",
            MissingRequiredProperty => "MissingRequiredProperty",
            InvalidPropertyValue => "InvalidPropertyValue",
            InvalidHeaderValue => "InvalidHeaderValue",
            InvalidUri => "InvalidUri",
            InvalidAuthenticationInfo => "InvalidAuthenticationInfo",
            TaskDependenciesNotSpecifiedOnJob => "TaskDependenciesNotSpecifiedOnJob",
            TaskDependencyListTooLong => "TaskDependencyListTooLong",
            AuthenticationFailed => "AuthenticationFailed",
            InsufficientAccountPermissions => "InsufficientAccountPermissions",
            ResourceNotFound => "ResourceNotFound",
            PoolNotFound => "PoolNotFound",
            JobNotFound => "JobNotFound",
            TaskNotFound => "TaskNotFound",
            NodeNotFound => "NodeNotFound",
            NodeUserNotFound => "NodeUserNotFound",
            JobScheduleNotFound => "JobScheduleNotFound",
            ApplicationNotFound => "ApplicationNotFound",
            InvalidAutoScalingSettings => "InvalidAutoScalingSettings",
            AutoScalingFormulaSyntaxError => "AutoScalingFormulaSyntaxError",
            AutoScalingFormulaTooLong => "AutoScalingFormulaTooLong",
            TooManyEnableAutoScaleRequests => "TooManyEnableAutoScaleRequests",
            ServerBusy => "ServerBusy",
            TooManyRequests => "TooManyRequests",
            InvalidApplicationPackageReferences => "InvalidApplicationPackageReferences",
            JobScheduleExists => "JobScheduleExists",
            JobWithSameIdExists => "JobWithSameIdExists",
            JobScheduleWithSameIdExists => "JobScheduleWithSameIdExists",
            JobScheduleBeingDeleted => "JobScheduleBeingDeleted",
            JobScheduleBeingTerminated => "JobScheduleBeingTerminated",
            JobScheduleCompleted => "JobScheduleCompleted",
            FileNotFound => "FileNotFound",
            UnsupportedHttpVerb => "UnsupportedHttpVerb",
            PoolExists => "PoolExists",
            NodeUserExists => "NodeUserExists",
            JobExists => "JobExists",
            TaskExists => "TaskExists",
            TaskIdSameAsJobPreparationTask => "TaskIdSameAsJobPreparationTask",
            TaskIdSameAsJobReleaseTask => "TaskIdSameAsJobReleaseTask",
            JobPreparationTaskNotSpecified => "JobPreparationTaskNotSpecified",
            PoolBeingDeleted => "PoolBeingDeleted",
            PoolBeingResized => "PoolBeingResized",
            JobBeingDeleted => "JobBeingDeleted",
            JobBeingTerminated => "JobBeingTerminated",
            JobCompleted => "JobCompleted",
            JobNotActive => "JobNotActive",
            TaskCompleted => "TaskCompleted",
            TaskNotCompleted => "TaskNotCompleted",
            TaskSucceeded => "TaskSucceeded",
            TaskFilesUnavailable => "TaskFilesUnavailable",
            TaskFilesCleanedup => "TaskFilesCleanedup",
            OperationInvalidForCurrentState => "OperationInvalidForCurrentState",
            NodeStateUnusable => "NodeStateUnusable",
            NodeBeingCreated => "NodeBeingCreated",
            NodeBeingStarted => "NodeBeingStarted",
            NodeBeingRebooted => "NodeBeingRebooted",
            NodeBeingReimaged => "NodeBeingReimaged",
            NodeAlreadyInTargetSchedulingState => "NodeAlreadyInTargetSchedulingState",
            OperationNotValidOnNode => "OperationNotValidOnNode",
            ConditionNotMet => "ConditionNotMet",
            RequestBodyTooLarge => "RequestBodyTooLarge",
            InvalidRange => "InvalidRange",
            InternalError => "InternalError",
            NotImplemented => "NotImplemented",
        }
    }

    /// The service's default message for the code (first line of `message.value`).
    pub fn default_message(self) -> &'static str {
        use BatchErrorCode::*;
        match self {
            MissingRequiredQueryParameter => "A query parameter that's mandatory for this request is not specified.",
            InvalidQueryParameterValue => "Value for one of the query parameters specified in the request URI is invalid.",
            OutOfRangeQueryParameterValue => "One of the query parameters specified in the request URI is outside the permissible range.",
            UnsupportedRequestVersion => "The specified api version is not supported.",
            InvalidRequestBody => "The specified Request Body is not syntactically valid.",
            MissingRequiredProperty => "A required property was not specified in the request body.",
            InvalidPropertyValue => "The value provided for one of the properties in the request body is invalid.",
            InvalidHeaderValue => "The value for one of the HTTP headers is not in the correct format.",
            InvalidUri => "The requested URI does not represent any resource on the server.",
            InvalidAuthenticationInfo => "The authentication information was not provided in the correct format. Verify the value of Authorization header.",
            TaskDependenciesNotSpecifiedOnJob => "The task has dependencies but the job does not allow tasks with dependencies.",
            TaskDependencyListTooLong => "The task dependency list is too long.",
            AuthenticationFailed => {
                "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature."
            }
            // UNCONFIRMED: the message (batch-rest-api.md lists the code with 403).
            InsufficientAccountPermissions => "The account being accessed does not have sufficient permissions to execute this operation.",
            ResourceNotFound => "The specified resource does not exist.",
            PoolNotFound => "The specified pool does not exist.",
            JobNotFound => "The specified job does not exist.",
            TaskNotFound => "The specified task does not exist.",
            NodeNotFound => "The specified node does not exist.",
            // UNCONFIRMED: the two node user messages (the codes and statuses are documented).
            NodeUserNotFound => "The node user does not exist.",
            NodeUserExists => "The specified node user already exists.",
            JobScheduleNotFound => "The specified job schedule does not exist.",
            // UNCONFIRMED: the two messages (the codes and statuses are documented).
            ApplicationNotFound => "The specified application does not exist.",
            // UNCONFIRMED: these four messages (the codes and statuses are documented).
            InvalidAutoScalingSettings => "The specified autoscale settings are invalid.",
            AutoScalingFormulaSyntaxError => "The specified auto-scaling formula has syntax error",
            AutoScalingFormulaTooLong => "The specified auto-scaling formula is too long",
            TooManyEnableAutoScaleRequests => "Autoscale can be enabled on a pool at most once every 30 seconds.",
            // UNCONFIRMED: the messages of the service's throttling answers.
            ServerBusy => "The server is currently unable to receive requests. Please retry your request.",
            TooManyRequests => "The request was throttled. Please retry after the time given in Retry-After.",
            InvalidApplicationPackageReferences => "One or more of the specified application package references are invalid.",
            JobScheduleExists => "The specified job schedule already exists.",
            JobWithSameIdExists => "A job with the same id exists: jobs and job schedules share one namespace.",
            JobScheduleWithSameIdExists => "A job schedule with the same id exists: jobs and job schedules share one namespace.",
            JobScheduleBeingDeleted => "The specified job schedule has been marked for deletion and is being reclaimed.",
            JobScheduleBeingTerminated => "The specified job schedule is being terminated.",
            JobScheduleCompleted => "The specified job schedule is already in a completed state.",
            FileNotFound => "The specified file does not exist.",
            UnsupportedHttpVerb => "The resource doesn't support the specified HTTP verb.",
            PoolExists => "The specified pool already exists.",
            JobExists => "The specified job already exists.",
            TaskExists => "The specified task already exists.",
            TaskIdSameAsJobPreparationTask => "The task id is the same as that of the job preparation task.",
            TaskIdSameAsJobReleaseTask => "The task id is the same as that of the job release task.",
            JobPreparationTaskNotSpecified => "The specified job does not have a job preparation task.",
            PoolBeingDeleted => "The specified pool has been marked for deletion and is being reclaimed.",
            PoolBeingResized => "The specified pool is currently being resized.",
            JobBeingDeleted => "The specified job has been marked for deletion and is being garbage collected.",
            JobBeingTerminated => "The specified job is being terminated.",
            JobCompleted => "The specified job is already in a completed state.",
            JobNotActive => "The specified job is not in an active state.",
            TaskCompleted => "The specified task is already completed.",
            TaskNotCompleted => "The specified task is not in a completed state.",
            TaskSucceeded => "The specified task completed successfully and cannot be reactivated.",
            TaskFilesUnavailable => "The task files are not available: the task has not been scheduled on a node.",
            TaskFilesCleanedup => "The task files have been cleaned up: the retention time of the task has passed.",
            OperationInvalidForCurrentState => "The operation is not valid for the current state of the resource.",
            NodeStateUnusable => "The specified node is in an unusable state.",
            NodeBeingCreated => "The specified node is being created.",
            NodeBeingStarted => "The specified node is being started.",
            NodeBeingRebooted => "The specified node is being rebooted.",
            NodeBeingReimaged => "The specified node is being reimaged.",
            NodeAlreadyInTargetSchedulingState => "The specified node is already in the target scheduling state.",
            OperationNotValidOnNode => "The operation is not valid on the specified node in its current state.",
            ConditionNotMet => "The condition specified using HTTP conditional header(s) is not met.",
            RequestBodyTooLarge => "The request body is too large and exceeds the maximum permissible limit.",
            InvalidRange => "The range specified is invalid for the current size of the resource.",
            InternalError => "Server encountered an internal error. Please try again after some time.",
            NotImplemented => "The requested operation is not implemented by batch-emulator.",
        }
    }
}

/// A rejected operation: a code, an optional message overriding the default, and `values`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", code.as_str(), self.message())]
pub struct DomainError {
    pub code: BatchErrorCode,
    pub message: Option<String>,
    pub values: Vec<(String, String)>,
}

impl DomainError {
    pub fn new(code: BatchErrorCode) -> Self {
        Self { code, message: None, values: Vec::new() }
    }
    /// The message text (the override or the code's default).
    pub fn message(&self) -> &str {
        self.message.as_deref().unwrap_or_else(|| self.code.default_message())
    }
    pub fn with_message(mut self, m: impl Into<String>) -> Self {
        self.message = Some(m.into());
        self
    }
    pub fn with_value(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.push((key.into(), value.into()));
        self
    }
    /// 400 `MissingRequiredProperty` naming the property.
    pub fn missing_property(name: &str) -> Self {
        Self::new(BatchErrorCode::MissingRequiredProperty).with_value("PropertyName", name)
    }
    /// 400 `InvalidPropertyValue` naming the property, its value and why.
    pub fn invalid_property(name: &str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(BatchErrorCode::InvalidPropertyValue).with_value("PropertyName", name).with_value("PropertyValue", value).with_value("Reason", reason)
    }
}

impl From<BatchErrorCode> for DomainError {
    fn from(code: BatchErrorCode) -> Self {
        Self::new(code)
    }
}
