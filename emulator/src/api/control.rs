//! The emulator's control API, under `/emulator/` (no Batch route starts so), with the same
//! authentication as the Batch API: reset and fault injection.
//!   POST   /emulator/reset                 empty the account; faults back to the flags'
//!   GET    /emulator/faults                the faults in force
//!   PUT    /emulator/faults/throttle       {status: 429|503, share?, operation?, remaining?, retryAfterSeconds?}
//!   PUT    /emulator/faults/latency        {milliseconds, operation?}
//!   PUT    /emulator/faults/image-pull     {count?, message?}: the next image pulls fail
//!   PUT    /emulator/faults/resource-file  {count?, status?, message?}: the next downloads fail
//!   DELETE /emulator/faults/{kind}         turn one off
//!   POST   /emulator/pools/{poolId}/nodes/{nodeId}/preempt   a Spot/low-priority node is preempted
//!   POST   /emulator/pools/{poolId}/nodes/{nodeId}/recover   a preempted node comes back
//!   POST   /emulator/pools/{poolId}/nodes/{nodeId}/unusable  {errors?: [BatchNodeError]}
//! A task token cannot use it. Node faults are refused as the Batch API refuses node operations
//! (`PoolNotFound`, `NodeNotFound`, `OperationNotValidOnNode`, Batch's error body).

use super::auth;
use crate::faults::{FailNext, Latency, Throttle};
use crate::state::AppState;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use batch_model::command::Command;
use serde_json::json;
use time::OffsetDateTime;

/// The prefix of the control API.
pub const PREFIX: &str = "/emulator/";

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

fn refused(status: StatusCode, message: impl Into<String>) -> Response {
    answer(status, json!({"code": if status == StatusCode::NOT_FOUND { "ResourceNotFound" } else { "InvalidRequestBody" }, "message": message.into()}))
}

/// Handles one control request (its path starts with [`PREFIX`]).
pub async fn handle(state: &AppState, parts: &axum::http::request::Parts, body: axum::body::Body) -> Response {
    let headers: Vec<(String, String)> = parts.headers.iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_string(), v.to_string()))).collect();
    let cfg = state.config();
    let request = auth::Request { method: parts.method.as_str(), headers: &headers, raw_path: parts.uri.path(), raw_query: parts.uri.query() };
    match auth::authenticate(&cfg.account, state.account_key(), cfg.loose, cfg.auth, &request, OffsetDateTime::now_utc()) {
        Ok(auth::Authenticated::TaskToken { .. }) => return refused(StatusCode::FORBIDDEN, "A task token cannot use the control API."),
        Ok(_) => {}
        Err(e) => return answer(StatusCode::FORBIDDEN, json!({"code": e.code.as_str(), "message": e.message()})),
    }
    serve(state, &parts.method, parts.uri.path().trim_start_matches(PREFIX), body).await
}

/// Carries out one control request, its caller authenticated (`path` below [`PREFIX`]).
pub async fn serve(state: &AppState, method: &Method, path: &str, body: axum::body::Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return refused(StatusCode::PAYLOAD_TOO_LARGE, "The body is too large.");
    };
    let faults = state.faults();
    let path = path.trim_end_matches('/');
    let segments: Vec<String> = path.split('/').map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method, segments.as_slice()) {
        (&Method::POST, ["reset"]) => {
            state.set_flag_faults();
            domain(state, Command::Reset)
        }
        (&Method::GET, ["faults"]) => answer(StatusCode::OK, in_force(faults)),
        (&Method::PUT, ["faults", kind]) => {
            let set = match *kind {
                "throttle" => parse::<Throttle>(&bytes, Throttle::validate).map(|t| faults.set_throttle(Some(t))),
                "latency" => parse::<Latency>(&bytes, |l| if l.milliseconds <= 60_000 { Ok(()) } else { Err("milliseconds: at most 60000".into()) })
                    .map(|l| faults.set_latency(Some(l))),
                "image-pull" => parse::<FailNext>(&bytes, FailNext::validate).map(|f| faults.set_image_pull_failure(Some(f))),
                "resource-file" => parse::<FailNext>(&bytes, FailNext::validate).map(|f| faults.set_resource_file_failure(Some(f))),
                _ => return not_found(method, path),
            };
            match set {
                Ok(()) => answer(StatusCode::OK, in_force(faults)),
                Err(e) => refused(StatusCode::BAD_REQUEST, e),
            }
        }
        (&Method::DELETE, ["faults", kind]) => {
            match *kind {
                "throttle" => faults.set_throttle(None),
                "latency" => faults.set_latency(None),
                "image-pull" => faults.set_image_pull_failure(None),
                "resource-file" => faults.set_resource_file_failure(None),
                _ => return not_found(method, path),
            }
            answer(StatusCode::OK, in_force(faults))
        }
        (&Method::POST, ["pools", pool_id, "nodes", node_id, action]) => {
            let (pool_id, node_id) = (pool_id.to_string(), node_id.to_string());
            let cmd = match *action {
                "preempt" => Command::PreemptNode { pool_id, node_id },
                "recover" => Command::RecoverNode { pool_id, node_id },
                "unusable" => {
                    let errors = if bytes.is_empty() {
                        Vec::new()
                    } else {
                        match serde_json::from_slice::<UnusableBody>(&bytes) {
                            Ok(b) => b.errors,
                            Err(e) => return refused(StatusCode::BAD_REQUEST, e.to_string()),
                        }
                    };
                    let errors = if errors.is_empty() { vec![default_node_error()] } else { errors };
                    Command::MakeNodeUnusable { pool_id, node_id, errors }
                }
                _ => return not_found(method, path),
            };
            domain(state, cmd)
        }
        _ => not_found(method, path),
    }
}

/// The body of `.../unusable`.
#[derive(serde::Deserialize)]
struct UnusableBody {
    #[serde(default)]
    errors: Vec<batch_client::models::BatchNodeError>,
}

/// UNCONFIRMED: the error of a node made unusable when the request names none.
fn default_node_error() -> batch_client::models::BatchNodeError {
    batch_client::models::BatchNodeError {
        code: Some("NodeUnusable".into()),
        message: Some("The node was made unusable through the batch-emulator control API.".into()),
        error_details: Vec::new(),
    }
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8], validate: impl FnOnce(&T) -> Result<(), String>) -> Result<T, String> {
    let t = serde_json::from_slice::<T>(bytes).map_err(|e| e.to_string())?;
    validate(&t)?;
    Ok(t)
}

fn in_force(faults: &crate::faults::Faults) -> serde_json::Value {
    json!({
        "throttle": faults.throttle(),
        "latency": faults.latency(),
        "imagePull": faults.image_pull_failure(),
        "resourceFile": faults.resource_file_failure(),
    })
}

fn not_found(method: &Method, path: &str) -> Response {
    refused(StatusCode::NOT_FOUND, format!("No control operation {method} {PREFIX}{path}"))
}

/// Applies a command of the domain: 202 on success (the effects follow), Batch's error otherwise.
fn domain(state: &AppState, cmd: Command) -> Response {
    match state.execute(cmd) {
        Ok(_) => answer(StatusCode::ACCEPTED, json!({})),
        Err(e) => {
            let body = super::error::error_body(&e, &state.public_url(), &uuid::Uuid::new_v4().to_string(), state.now());
            answer(super::error::status_of(e.code), body)
        }
    }
}
