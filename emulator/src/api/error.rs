//! Batch's error body and the one exhaustive map from error code to HTTP status.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use batch_model::{BatchErrorCode, DomainError};
use time::OffsetDateTime;

/// A failed request: a Batch error, rendered with the request's id and time.
#[derive(Debug)]
pub struct ApiError {
    pub error: DomainError,
    /// Internal detail for the log only; never sent to the client.
    pub detail: Option<String>,
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        Self { error, detail: None }
    }
}

impl From<BatchErrorCode> for ApiError {
    fn from(code: BatchErrorCode) -> Self {
        Self { error: DomainError::new(code), detail: None }
    }
}

impl ApiError {
    /// 500 `InternalError` with the detail kept for the log.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self { error: DomainError::new(BatchErrorCode::InternalError), detail: Some(detail.into()) }
    }
}

/// The HTTP status of each code. No `_` arm: a new code cannot ship without its status.
pub fn status_of(code: BatchErrorCode) -> StatusCode {
    use BatchErrorCode::*;
    match code {
        MissingRequiredQueryParameter
        | InvalidQueryParameterValue
        | OutOfRangeQueryParameterValue
        | UnsupportedRequestVersion
        | InvalidRequestBody
        | MissingRequiredProperty
        | InvalidPropertyValue
        | InvalidHeaderValue
        | InvalidUri
        | InvalidAuthenticationInfo
        | TaskDependenciesNotSpecifiedOnJob
        | TaskDependencyListTooLong
        | InvalidAutoScalingSettings
        | AutoScalingFormulaSyntaxError
        | AutoScalingFormulaTooLong => StatusCode::BAD_REQUEST,
        TooManyEnableAutoScaleRequests | ServerBusy => StatusCode::SERVICE_UNAVAILABLE,
        TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        AuthenticationFailed | InsufficientAccountPermissions => StatusCode::FORBIDDEN,
        ResourceNotFound | PoolNotFound | JobNotFound | TaskNotFound | NodeNotFound | NodeUserNotFound | FileNotFound | JobScheduleNotFound
        | ApplicationNotFound => StatusCode::NOT_FOUND,
        UnsupportedHttpVerb => StatusCode::METHOD_NOT_ALLOWED,
        PoolExists
        | NodeUserExists
        | InvalidApplicationPackageReferences
        | JobExists
        | TaskExists
        | TaskIdSameAsJobPreparationTask
        | TaskIdSameAsJobReleaseTask
        | JobPreparationTaskNotSpecified
        | PoolBeingDeleted
        | PoolBeingResized
        | JobBeingDeleted
        | JobBeingTerminated
        | JobCompleted
        | JobNotActive
        | TaskCompleted
        | TaskNotCompleted
        | TaskSucceeded
        | TaskFilesUnavailable
        | TaskFilesCleanedup
        | NodeBeingCreated
        | NodeBeingStarted
        | NodeBeingRebooted
        | NodeBeingReimaged
        | NodeAlreadyInTargetSchedulingState
        | OperationNotValidOnNode
        | JobScheduleExists
        | JobWithSameIdExists
        | JobScheduleWithSameIdExists
        | JobScheduleBeingDeleted
        | JobScheduleBeingTerminated
        | JobScheduleCompleted
        | OperationInvalidForCurrentState
        | NodeStateUnusable => StatusCode::CONFLICT,
        ConditionNotMet => StatusCode::PRECONDITION_FAILED,
        RequestBodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        InvalidRange => StatusCode::RANGE_NOT_SATISFIABLE,
        InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        NotImplemented => StatusCode::NOT_IMPLEMENTED,
    }
}

/// `odata.metadata` of an error body.
pub fn error_metadata(base_url: &str) -> String {
    format!("{base_url}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element")
}

/// The error body exactly as the service writes it.
pub fn error_body(e: &DomainError, base_url: &str, request_id: &str, now: OffsetDateTime) -> serde_json::Value {
    let mut body = serde_json::json!({
        "odata.metadata": error_metadata(base_url),
        "code": e.code.as_str(),
        "message": {
            "lang": "en-US",
            "value": format!("{}\nRequestId:{request_id}\nTime:{}", e.message(), batch_client::timefmt::format_body(now)),
        },
    });
    if !e.values.is_empty() {
        body["values"] = e.values.iter().map(|(k, v)| serde_json::json!({"key": k, "value": v})).collect();
    }
    body
}

/// Renders an error for a request. The caller adds `request-id` and the other common headers.
pub fn render(err: &ApiError, base_url: &str, request_id: &str, now: OffsetDateTime, head_only: bool) -> Response {
    if let Some(d) = &err.detail {
        tracing::error!(request_id, detail = %d, "internal error");
    }
    let status = status_of(err.error.code);
    let body = if head_only { Vec::new() } else { error_body(&err.error, base_url, request_id, now).to_string().into_bytes() };
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert("content-type", HeaderValue::from_static(super::JSON_CONTENT_TYPE));
    resp.extensions_mut().insert(ErrorCode(err.error.code.as_str()));
    resp
}

/// The Batch error code of an error response (for the request log line).
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn error_body_has_the_service_shape() {
        let e = DomainError::missing_property("vmSize");
        let body = error_body(&e, "http://127.0.0.1:1", "rid", datetime!(2026-01-02 03:04:05.5 UTC));
        assert_eq!(body["code"], "MissingRequiredProperty");
        assert_eq!(body["message"]["lang"], "en-US");
        assert_eq!(body["message"]["value"], "A required property was not specified in the request body.\nRequestId:rid\nTime:2026-01-02T03:04:05.5000000Z");
        assert_eq!(body["values"][0]["key"], "PropertyName");
        assert_eq!(body["values"][0]["value"], "vmSize");
        assert!(body["odata.metadata"].as_str().unwrap().ends_with("Container.errors/@Element"));
        assert_eq!(status_of(BatchErrorCode::AuthenticationFailed), StatusCode::FORBIDDEN);
        assert_eq!(status_of(BatchErrorCode::ConditionNotMet), StatusCode::PRECONDITION_FAILED);
    }
}
