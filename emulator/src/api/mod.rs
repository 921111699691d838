//! The REST edge: one fallback handler matches each request against the operation catalogue,
//! checks api-version and authentication, then calls the handler of the operation's resource
//! module. Handlers parse, call the domain, convert, and nothing else.

pub mod auth;
mod catalogue;
mod control;
pub mod dashboard;
pub mod error;
pub mod odata;
pub mod operations;
mod secrets;
mod stats;

mod account;
mod applications;
mod files;
mod job_schedules;
mod jobs;
mod nodes;
mod pools;
mod tasks;

use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use batch_client::timefmt;
use batch_model::{BatchErrorCode as Code, DomainError, Version};
use error::ApiError;
use operations::{route, Operation, RouteMatch};
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::OffsetDateTime;

/// Content type of every JSON response (live captures).
pub const JSON_CONTENT_TYPE: &str = "application/json;odata=minimalmetadata";

/// Largest request body accepted for add task collection (the service's limit is < 1 MB).
const MAX_COLLECTION_BODY: usize = 1024 * 1024;
/// Largest request body accepted elsewhere.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The api-versions accepted: every published stable data-plane version from 2018 on
/// (batch-rest-api.md §1) and the newer 2026-10-01 from the spec repository.
pub const SUPPORTED_API_VERSIONS: &[&str] = &[
    "2026-10-01",
    "2025-06-01",
    "2024-07-01.20.0",
    "2024-02-01.19.0",
    "2023-11-01.18.0",
    "2023-05-01.17.0",
    "2022-10-01.16.0",
    "2022-01-01.15.0",
    "2021-06-01.14.0",
    "2020-09-01.12.0",
    "2020-03-01.11.0",
    "2019-08-01.10.0",
    "2019-06-01.9.0",
    "2018-12-01.8.0",
];

/// What the emulator makes of a requested api-version.
#[derive(Debug, PartialEq, Eq)]
pub enum ApiVersion {
    Known,
    /// Well-formed and newer than every known one: served with the newest behaviour (a new SDK
    /// release must not break everyone's CI), unless `--strict-api-version`.
    Newer,
    Unknown,
}

/// Classifies an api-version: `YYYY-MM-DD` or `YYYY-MM-DD.major.minor`.
pub fn api_version(v: &str) -> ApiVersion {
    if SUPPORTED_API_VERSIONS.contains(&v) {
        return ApiVersion::Known;
    }
    let date = v.split('.').next().unwrap_or_default();
    let well_formed = time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]")).is_ok()
        && v.split('.').skip(1).all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && v.split('.').count() <= 3;
    // Dates compare as strings in this format.
    if well_formed && SUPPORTED_API_VERSIONS.iter().all(|k| date > k.split('.').next().unwrap_or_default()) {
        ApiVersion::Newer
    } else {
        ApiVersion::Unknown
    }
}

/// Each newer api-version is warned about once.
fn warn_newer_api_version(v: &str) {
    static WARNED: std::sync::Mutex<std::collections::BTreeSet<String>> = std::sync::Mutex::new(std::collections::BTreeSet::new());
    if WARNED.lock().unwrap_or_else(|e| e.into_inner()).insert(v.to_string()) {
        tracing::warn!(
            api_version = v,
            newest = SUPPORTED_API_VERSIONS[0],
            "serving an api-version newer than this build knows with the newest behaviour it has (--strict-api-version refuses it)"
        );
    }
}

/// The router: everything goes through [`dispatch`].
pub fn router(state: AppState) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// One request, matched and authenticated.
pub struct Ctx {
    pub op: Operation,
    /// Path parameters, percent-decoded, in template order.
    pub params: Vec<String>,
    pub method: Method,
    pub headers: HeaderMap,
    /// Query parameters, decoded, names as sent.
    pub query: Vec<(String, String)>,
    pub body: bytes::Bytes,
    /// `http://host:port` as the client addressed us.
    pub base_url: String,
    pub request_id: String,
    pub now: OffsetDateTime,
}

impl Ctx {
    /// A query parameter by name, case-insensitively (`timeout`/`timeOut`).
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A boolean query parameter (`recursive=true`).
    pub fn q_bool(&self, name: &str) -> Result<bool, ApiError> {
        match self.q(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(invalid_query(name, v).into()),
        }
    }

    /// Parses the JSON body. Malformed JSON is 400 `InvalidRequestBody`; a missing required
    /// property is 400 `MissingRequiredProperty` naming it; a property the field ledger refuses
    /// is 501 `NotImplemented` naming the feature, before anything else is looked at.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if let Some(model) = batch_model::ledger::body_model(self.op.name()) {
            if let Ok(mut raw) = serde_json::from_slice::<serde_json::Value>(&self.body) {
                if let Some(refused) = batch_model::ledger::refusal(model, &raw) {
                    return Err(refused.into());
                }
                // Lenient as the service: "1" for an integer, "true" for a boolean.
                batch_model::ledger::coerce(model, &mut raw);
                return serde_json::from_value(raw).map_err(body_error);
            }
        }
        parse_body(&self.body)
    }

    /// Parses an optional body: empty (14.x terminate sends `Content-Length: 0` with a JSON
    /// content type) means `T::default()`.
    pub fn json_or_default<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            Ok(T::default())
        } else {
            self.json()
        }
    }

    /// The absolute URL of a path on this account.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// `odata.metadata` for an entity set suffix (`pools/@Element`, `jobs`).
    pub fn metadata(&self, set: &str) -> String {
        format!("{}/$metadata#{set}", self.base_url)
    }
}

fn invalid_query(name: &str, value: &str) -> DomainError {
    DomainError::new(Code::InvalidQueryParameterValue).with_value("QueryParameterName", name).with_value("QueryParameterValue", value)
}

/// Parses a request body into a wire type, answering in Batch's words.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(DomainError::new(Code::InvalidRequestBody).with_value("Reason", "The request body is empty.").into());
    }
    serde_json::from_slice(body).map_err(body_error)
}

/// A body that does not fit its wire type, in Batch's words.
fn body_error(e: serde_json::Error) -> ApiError {
    let text = e.to_string();
    if let Some(rest) = text.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return DomainError::missing_property(name).into();
    }
    let reason = text.split(" at line ").next().unwrap_or(&text).to_string();
    DomainError::new(Code::InvalidRequestBody).with_value("Reason", reason).into()
}

/// Percent-decodes a path parameter.
fn decode_param(raw: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(raw).decode_utf8().map(|s| s.into_owned()).map_err(|_| DomainError::new(Code::InvalidUri).into())
}

/// Entry point of every request.
pub async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let now = state.now();
    let started = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let (method, path) = (parts.method.clone(), parts.uri.path().to_string());
    if path.starts_with(dashboard::PREFIX) || path == dashboard::PREFIX.trim_end_matches('/') {
        return dashboard::handle(&state, parts, body).await;
    }
    if path.starts_with(control::PREFIX) {
        let resp = control::handle(&state, &parts, body).await;
        state.recent().record(&request_id, now, &method, &path, "emulator_control", resp.status().as_u16(), started.elapsed(), "");
        return resp;
    }
    let operation = match route(method.as_str(), &path) {
        RouteMatch::Found(op, _) => op.info().name,
        _ => "unknown",
    };
    // Injected faults (`crate::faults`): latency first, then throttling as the service answers it.
    if let Some(delay) = state.faults().latency_of(operation) {
        tokio::time::sleep(delay).await;
    }
    if let Some((status, retry_after)) = state.faults().throttles(operation) {
        let code = if status == 429 { Code::TooManyRequests } else { Code::ServerBusy };
        let head = parts.method == Method::HEAD;
        let mut resp = error::render(&DomainError::new(code).into(), &state.public_url(), &request_id, now, head);
        let h = resp.headers_mut();
        h.insert("retry-after", HeaderValue::from(retry_after));
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert("request-id", v);
        }
        tracing::info!(target: "batch_emulator::requests", operation, status, request_id = %request_id, error_code = code.as_str(), "request (injected fault)");
        state.recent().record(&request_id, now, &method, &path, operation, status, started.elapsed(), code.as_str());
        return resp;
    }
    let scheme = state.config().scheme();
    let host = parts.headers.get("host").and_then(|h| h.to_str().ok()).map(|h| format!("{scheme}://{h}"));
    let base_url = host.unwrap_or_else(|| state.public_url());
    let head = parts.method == Method::HEAD;
    let echo_client_id = parts.headers.get("return-client-request-id").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let client_request_id = parts.headers.get("client-request-id").cloned();

    let result = handle(&state, parts, body, &base_url, &request_id, now, Access::Signed).await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => error::render(&e, &base_url, &request_id, now, head),
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("request-id", v);
    }
    h.insert("dataserviceversion", HeaderValue::from_static("3.0"));
    // One line per request (`--log-format json` turns these on).
    let client_id = client_request_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if echo_client_id {
        if let Some(v) = client_request_id {
            h.insert("client-request-id", v);
        }
    }
    let error_code = resp.extensions().get::<error::ErrorCode>().map(|c| c.0).unwrap_or("");
    tracing::info!(
        target: "batch_emulator::requests",
        operation,
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = %request_id,
        client_request_id = %client_id,
        error_code,
        "request"
    );
    state.recent().record(&request_id, now, &method, &path, operation, resp.status().as_u16(), started.elapsed(), error_code);
    resp
}

/// Who may make a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Authenticated as the Batch API authenticates (Shared Key, token, task token).
    Signed,
    /// The dashboard's reads, which it checked itself (its token, GET only).
    Dashboard,
}

/// A read of the Batch API made for the dashboard (`path_and_query` as a client would send it),
/// answered exactly as the API answers it.
async fn read_for_dashboard(state: &AppState, path_and_query: &str, range: Option<&HeaderValue>, base_url: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let now = state.now();
    let mut req = axum::http::Request::get(path_and_query);
    if let Some(r) = range {
        req = req.header("ocp-range", r);
    }
    let Ok(req) = req.body(Body::empty()) else {
        return error::render(&DomainError::new(Code::InvalidUri).into(), base_url, &request_id, now, false);
    };
    let (parts, body) = req.into_parts();
    match handle(state, parts, body, base_url, &request_id, now, Access::Dashboard).await {
        Ok(r) => r,
        Err(e) => error::render(&e, base_url, &request_id, now, false),
    }
}

async fn handle(
    state: &AppState,
    parts: axum::http::request::Parts,
    body: Body,
    base_url: &str,
    request_id: &str,
    now: OffsetDateTime,
    access: Access,
) -> Result<Response, ApiError> {
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().map(str::to_string);
    let (op, raw_params) = match route(parts.method.as_str(), &raw_path) {
        RouteMatch::Found(op, params) => (op, params),
        RouteMatch::WrongMethod => return Err(Code::UnsupportedHttpVerb.into()),
        // UNCONFIRMED: the service's answer for a path that names no resource.
        RouteMatch::NotFound => return Err(Code::InvalidUri.into()),
    };
    let query = batch_client::auth::parse_query(raw_query.as_deref().unwrap_or(""));
    match query.iter().find(|(n, _)| n.eq_ignore_ascii_case("api-version")).map(|(_, v)| v.as_str()) {
        None | Some("") => {
            return Err(DomainError::new(Code::MissingRequiredQueryParameter).with_value("QueryParameterName", "api-version").into());
        }
        Some(v) => match api_version(v) {
            ApiVersion::Known => {}
            ApiVersion::Newer if !state.config().strict_api_version => warn_newer_api_version(v),
            ApiVersion::Newer | ApiVersion::Unknown => {
                return Err(DomainError::new(Code::UnsupportedRequestVersion)
                    .with_value("QueryParameterName", "api-version")
                    .with_value("QueryParameterValue", v)
                    .into());
            }
        },
    }
    let header_pairs: Vec<(String, String)> =
        parts.headers.iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_string(), v.to_string()))).collect();
    let cfg = state.config();
    // The real time, not the emulator's clock: clients date their requests with theirs.
    let request = auth::Request { method: parts.method.as_str(), headers: &header_pairs, raw_path: &raw_path, raw_query: raw_query.as_deref() };
    let authenticated = match access {
        Access::Signed => auth::authenticate(&cfg.account, state.account_key(), cfg.loose, cfg.auth, &request, OffsetDateTime::now_utc())?,
        Access::Dashboard => auth::Authenticated::SharedKey,
    };
    // A name given twice would be signed as one value and read as another.
    // UNCONFIRMED: the service's code for a repeated query parameter.
    for (i, (name, _)) in query.iter().enumerate() {
        if query[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(invalid_query(name, "").with_value("Reason", format!("The query parameter {name} is given more than once.")).into());
        }
    }

    if !op.is_implemented() {
        let info = op.info();
        return Err(DomainError::new(Code::NotImplemented)
            .with_message(format!(
                "The operation {} ({} {}) is not implemented by batch-emulator {}.",
                info.name,
                info.method,
                info.path,
                env!("CARGO_PKG_VERSION")
            ))
            .with_value("OperationName", info.name)
            .into());
    }

    let limit = if op == Operation::CreateTaskCollection { MAX_COLLECTION_BODY } else { MAX_BODY };
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return Err(Code::RequestBodyTooLarge.into()),
    };
    let params = raw_params.iter().map(|p| decode_param(p)).collect::<Result<Vec<_>, _>>()?;
    if let auth::Authenticated::TaskToken { job_id } = &authenticated {
        // A task token grants the operations on its job: the job itself and everything below it.
        let on_its_job = op.info().path.starts_with("/jobs/{jobId}") && params.first().is_some_and(|j| j.eq_ignore_ascii_case(job_id));
        if !on_its_job {
            return Err(DomainError::new(Code::InsufficientAccountPermissions)
                .with_message(format!("The task authentication token grants access to job {job_id} only."))
                .into());
        }
    }
    let ctx =
        Ctx { op, params, method: parts.method, headers: parts.headers, query, body, base_url: base_url.to_string(), request_id: request_id.to_string(), now };
    use Operation::*;
    match op {
        CreatePool
        | ListPools
        | DeletePool
        | PoolExists
        | GetPool
        | UpdatePool
        | ResizePool
        | StopPoolResize
        | ReplacePoolProperties
        | RemoveNodes
        | EnablePoolAutoScale
        | DisablePoolAutoScale
        | EvaluatePoolAutoScale => pools::handle(state, &ctx).await,
        ListSupportedImages | ListPoolNodeCounts | ListPoolUsageMetrics => account::handle(state, &ctx).await,
        ListApplications | GetApplication => applications::handle(state, &ctx).await,
        CreateJob
        | ListJobs
        | GetJob
        | UpdateJob
        | ReplaceJob
        | DeleteJob
        | DisableJob
        | EnableJob
        | TerminateJob
        | GetJobTaskCounts
        | ListJobPreparationAndReleaseTaskStatus
        | ListJobsFromSchedule => jobs::handle(state, &ctx).await,
        CreateJobSchedule | GetJobSchedule | JobScheduleExists | ListJobSchedules | UpdateJobSchedule | ReplaceJobSchedule | DeleteJobSchedule
        | DisableJobSchedule | EnableJobSchedule | TerminateJobSchedule => job_schedules::handle(state, &ctx).await,
        CreateTask | CreateTaskCollection | ListTasks | GetTask | ReplaceTask | DeleteTask | TerminateTask | ReactivateTask | ListSubtasks => {
            tasks::handle(state, &ctx).await
        }
        ListNodes
        | GetNode
        | RebootNode
        | ReimageNode
        | DisableNodeScheduling
        | EnableNodeScheduling
        | UploadNodeLogs
        | DeallocateNode
        | StartNode
        | CreateNodeUser
        | ReplaceNodeUser
        | DeleteNodeUser
        | GetNodeRemoteLoginSettings
        | ListNodeExtensions
        | GetNodeExtension
        | GetRemoteDesktop => nodes::handle(state, &ctx).await,
        ListTaskFiles
        | DownloadTaskFile
        | GetTaskFileProperties
        | DeleteTaskFile
        | ListNodeFiles
        | DownloadNodeFile
        | GetNodeFileProperties
        | DeleteNodeFile => files::handle(state, &ctx).await,
        other => Err(ApiError::internal(format!("{} is marked implemented but has no handler", other.name()))),
    }
}

// ---------------------------------------------------------------- responses

fn set(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

pub(crate) fn set_version(resp: &mut Response, v: &Version) {
    set(resp, "etag", &v.etag);
    set(resp, "last-modified", &timefmt::format_http(v.last_modified));
}

/// 200 with an entity body, `ETag` and `Last-Modified`.
pub fn entity(value: Value, version: &Version) -> Response {
    let mut r = json_response(StatusCode::OK, &value);
    set_version(&mut r, version);
    r
}

/// 200 with a wire entity, `$select`ed when asked (else written straight from the struct, with
/// no intermediate `Value`), and its `ETag`/`Last-Modified` when it has a version.
pub fn wire_entity<T: serde::Serialize>(wire: &T, select: Option<&[String]>, version: Option<&Version>) -> Result<Response, ApiError> {
    let body = match select {
        None => serde_json::to_vec(wire),
        Some(fields) => serde_json::to_vec(&odata::select(to_json(wire)?, Some(fields))),
    }
    .map_err(|e| ApiError::internal(format!("serialize: {e}")))?;
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert("content-type", HeaderValue::from_static(JSON_CONTENT_TYPE));
    if let Some(v) = version {
        set_version(&mut r, v);
    }
    Ok(r)
}

/// A JSON body with Batch's content type.
pub fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut r = (status, value.to_string()).into_response();
    r.headers_mut().insert("content-type", HeaderValue::from_static(JSON_CONTENT_TYPE));
    r
}

/// 201 Created: empty body, `Location`, `DataServiceId`, `ETag`, `Last-Modified`.
pub fn created(url: &str, version: &Version) -> Response {
    let mut r = StatusCode::CREATED.into_response();
    set(&mut r, "location", url);
    set(&mut r, "dataserviceid", url);
    set_version(&mut r, version);
    r
}

/// An update or action answer (200, 202 or 204): empty body, `DataServiceId`, `ETag`,
/// `Last-Modified`.
pub fn updated(status: StatusCode, data_service_id: &str, version: &Version) -> Response {
    let mut r = status.into_response();
    set(&mut r, "dataserviceid", data_service_id);
    set_version(&mut r, version);
    if status == StatusCode::NO_CONTENT {
        r.headers_mut().insert("content-length", HeaderValue::from_static("0"));
    }
    r
}

/// A bare status with an empty body (deletes).
pub fn empty(status: StatusCode) -> Response {
    status.into_response()
}

// ------------------------------------------------------- conditional requests

fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(|t| t.trim().trim_matches('"')).any(|t| t == "*" || t == etag)
}

/// Checks `If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since` before a
/// write; a failed condition is 412 `ConditionNotMet`.
pub fn check_write(ctx: &Ctx, v: &Version) -> Result<(), ApiError> {
    let fail = || ApiError::from(Code::ConditionNotMet);
    if let Some(h) = ctx.header("if-match") {
        if !etag_matches(h, &v.etag) {
            return Err(fail());
        }
    }
    if let Some(h) = ctx.header("if-none-match") {
        if etag_matches(h, &v.etag) {
            return Err(fail());
        }
    }
    let lm = v.last_modified.replace_nanosecond(0).unwrap_or(v.last_modified);
    if let Some(t) = date_header(ctx, "if-modified-since")? {
        if lm <= t {
            return Err(fail());
        }
    }
    if let Some(t) = date_header(ctx, "if-unmodified-since")? {
        if lm > t {
            return Err(fail());
        }
    }
    Ok(())
}

/// Applies a command after checking the caller's conditional headers against the current
/// version of the entity the request names (under the same lock as the write).
pub fn conditional_write(
    state: &AppState,
    ctx: &Ctx,
    cmd: batch_model::Command,
    version_of: impl FnOnce(&batch_model::Account) -> Result<Version, DomainError>,
) -> Result<batch_model::Applied, ApiError> {
    Ok(state.execute_if(cmd, |a| check_write(ctx, &version_of(a)?).map_err(|e| e.error))?)
}

/// Checks conditions on a read: `If-None-Match` matching or `If-Modified-Since` not passed
/// gives 304 (returned as `Ok(Some(..))`); `If-Match`/`If-Unmodified-Since` failing is 412.
pub fn check_read(ctx: &Ctx, v: &Version) -> Result<Option<Response>, ApiError> {
    if let Some(h) = ctx.header("if-match") {
        if !etag_matches(h, &v.etag) {
            return Err(Code::ConditionNotMet.into());
        }
    }
    let lm = v.last_modified.replace_nanosecond(0).unwrap_or(v.last_modified);
    if let Some(t) = date_header(ctx, "if-unmodified-since")? {
        if lm > t {
            return Err(Code::ConditionNotMet.into());
        }
    }
    let not_modified = ctx.header("if-none-match").is_some_and(|h| etag_matches(h, &v.etag)) || date_header(ctx, "if-modified-since")?.is_some_and(|t| lm <= t);
    if not_modified {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        set_version(&mut r, v);
        return Ok(Some(r));
    }
    Ok(None)
}

fn date_header(ctx: &Ctx, name: &'static str) -> Result<Option<OffsetDateTime>, ApiError> {
    match ctx.header(name) {
        None => Ok(None),
        Some(v) => timefmt::parse_http(v)
            .map(Some)
            .ok_or_else(|| DomainError::new(Code::InvalidHeaderValue).with_value("HeaderName", name).with_value("HeaderValue", v).into()),
    }
}

// --------------------------------------------------------------------- lists

/// An entity a list pages over: the filter reads it through [`odata::Entity`], and only the
/// entities on the page are turned into JSON.
pub trait ListItem: odata::Entity + Sized {
    fn into_json(self) -> Value;
    /// Appends the item's JSON (no `$select`) to `out`; views of domain objects write their
    /// wire form directly instead of building a `Value` first.
    fn write_json(self, out: &mut Vec<u8>) {
        let _ = serde_json::to_writer(out, &self.into_json());
    }
}

impl ListItem for Value {
    fn into_json(self) -> Value {
        self
    }
}

/// One page of a list, already serialized as a JSON array.
pub struct Page(Vec<u8>);

impl Page {
    pub fn empty() -> Self {
        Page(b"[]".to_vec())
    }
}

/// `$filter`, `$select`, `maxresults` and the continuation token of a list request.
pub struct ListOptions {
    pub filter: Option<odata::Expr>,
    pub select: Option<Vec<String>>,
    pub max_results: usize,
    pub skip_token: Option<String>,
}

impl ListOptions {
    pub fn from(ctx: &Ctx) -> Result<Self, ApiError> {
        let filter = match ctx.q("$filter") {
            None | Some("") => None,
            Some(f) => Some(odata::parse_filter(f).map_err(|reason| invalid_query("$filter", f).with_value("Reason", reason))?),
        };
        let select = ctx.q("$select").filter(|s| !s.is_empty()).map(|s| s.split(',').map(|p| p.trim().to_string()).collect());
        let max_results = match ctx.q("maxresults") {
            None => 1000,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=1000).contains(&n) => n as usize,
                Ok(_) => {
                    return Err(DomainError::new(Code::OutOfRangeQueryParameterValue)
                        .with_value("QueryParameterName", "maxresults")
                        .with_value("QueryParameterValue", v)
                        .into())
                }
                Err(_) => return Err(invalid_query("maxresults", v).into()),
            },
        };
        let skip_token = ctx.q("$skiptoken").filter(|s| !s.is_empty()).map(String::from);
        Ok(Self { filter, select, max_results, skip_token })
    }

    /// Builds one page from entities in key order (already positioned after the token):
    /// filters, selects, and returns the page and the next link if more may follow.
    pub fn page<I: ListItem>(&self, ctx: &Ctx, items: impl Iterator<Item = (String, I)>) -> (Page, Option<String>) {
        let mut out = Vec::with_capacity(1024);
        out.push(b'[');
        let mut count = 0;
        let mut last_key = None;
        let mut more = false;
        for (key, value) in items {
            if let Some(f) = &self.filter {
                if !odata::matches(f, &value) {
                    continue;
                }
            }
            if count == self.max_results {
                more = true;
                break;
            }
            if count > 0 {
                out.push(b',');
            }
            match self.select.as_deref() {
                None => value.write_json(&mut out),
                Some(fields) => {
                    let _ = serde_json::to_writer(&mut out, &odata::select(value.into_json(), Some(fields)));
                }
            }
            count += 1;
            last_key = Some(key);
        }
        out.push(b']');
        let next = if more { last_key.map(|k| self.next_link(ctx, &k)) } else { None };
        (Page(out), next)
    }

    /// Which entities the filter can possibly match, as far as an index can tell.
    pub fn key_hint(&self) -> odata::KeyHint {
        self.filter.as_ref().map_or(odata::KeyHint::All, odata::key_hint)
    }

    /// An absolute next link carrying everything needed to continue (14.x follows it verbatim).
    fn next_link(&self, ctx: &Ctx, last_key: &str) -> String {
        let enc = |s: &str| encode_segment(s);
        let mut q: Vec<String> = ctx
            .query
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("$skiptoken") && !n.eq_ignore_ascii_case("timeout"))
            .map(|(n, v)| format!("{}={}", n, enc(v)))
            .collect();
        q.push(format!("$skiptoken={}", enc(last_key)));
        format!("{}{}?{}", ctx.base_url, request_path(ctx), q.join("&"))
    }
}

/// The request path rebuilt from the operation template and its (re-encoded) parameters.
fn request_path(ctx: &Ctx) -> String {
    let mut out = String::new();
    let mut params = ctx.params.iter();
    let mut rest = ctx.op.info().path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map(|c| open + c + 1).unwrap_or(rest.len());
        if let Some(p) = params.next() {
            out.push_str(&encode_segment(p));
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// Percent-encodes a path segment the way the SDKs do (`/` becomes `%2F`).
pub fn encode_segment(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// A list response body: `odata.metadata`, `value`, and `odata.nextLink` when more follow.
pub fn list_body(ctx: &Ctx, set: &str, items: Page, next: Option<String>) -> Response {
    let mut body = Vec::with_capacity(items.0.len() + 256);
    body.extend_from_slice(b"{\"odata.metadata\":");
    let _ = serde_json::to_writer(&mut body, &ctx.metadata(set));
    body.extend_from_slice(b",\"value\":");
    body.extend_from_slice(&items.0);
    if let Some(n) = next {
        body.extend_from_slice(b",\"odata.nextLink\":");
        let _ = serde_json::to_writer(&mut body, &n);
    }
    body.push(b'}');
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert("content-type", HeaderValue::from_static(JSON_CONTENT_TYPE));
    r
}

/// Serializes a wire value (never fails for our types; a failure is an internal error).
pub fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(format!("serialize: {e}")))
}
