//! The emulator's control API, under `/emulator/` (no Batch route starts so), with the same
//! authentication as the Batch API: fault injection.
//!   GET    /emulator/faults            the faults in force
//!   PUT    /emulator/faults/throttle   {status: 429|503, share?, operation?, remaining?, retryAfterSeconds?}
//!   DELETE /emulator/faults/throttle
//!   PUT    /emulator/faults/latency    {milliseconds, operation?}
//!   DELETE /emulator/faults/latency
//! A task token cannot use it.

use super::auth;
use crate::faults::{Latency, Throttle};
use crate::state::AppState;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
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
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return refused(StatusCode::PAYLOAD_TOO_LARGE, "The body is too large.");
    };
    let faults = state.faults();
    let path = parts.uri.path().trim_start_matches(PREFIX).trim_end_matches('/');
    match (&parts.method, path) {
        (&Method::GET, "faults") => answer(StatusCode::OK, json!({"throttle": faults.throttle(), "latency": faults.latency()})),
        (&Method::PUT, "faults/throttle") => match serde_json::from_slice::<Throttle>(&bytes).map_err(|e| e.to_string()).and_then(|t| t.validate().map(|()| t))
        {
            Ok(t) => {
                faults.set_throttle(Some(t));
                answer(StatusCode::OK, json!({"throttle": faults.throttle()}))
            }
            Err(e) => refused(StatusCode::BAD_REQUEST, e),
        },
        (&Method::DELETE, "faults/throttle") => {
            faults.set_throttle(None);
            answer(StatusCode::OK, json!({}))
        }
        (&Method::PUT, "faults/latency") => match serde_json::from_slice::<Latency>(&bytes) {
            Ok(l) if l.milliseconds <= 60_000 => {
                faults.set_latency(Some(l));
                answer(StatusCode::OK, json!({"latency": faults.latency()}))
            }
            Ok(_) => refused(StatusCode::BAD_REQUEST, "milliseconds: at most 60000"),
            Err(e) => refused(StatusCode::BAD_REQUEST, e.to_string()),
        },
        (&Method::DELETE, "faults/latency") => {
            faults.set_latency(None);
            answer(StatusCode::OK, json!({}))
        }
        _ => refused(StatusCode::NOT_FOUND, format!("No control operation {} {}", parts.method, parts.uri.path())),
    }
}
