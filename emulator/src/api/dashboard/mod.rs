//! The dashboard, under `/emulator/dashboard/` (no Batch route starts so): a page embedded in
//! the binary that shows pools (with a heat map of their nodes by state), nodes with their
//! tasks and files, jobs and job schedules with task counts, a task with its properties and its
//! stdout/stderr streamed as they are written, and the recent API requests.
//!
//! It reads the account through the Batch API's own handlers (`api/batch/<Batch path>`, GET
//! only), so it shows exactly what a client would get, from the same state. The page and its
//! script hold no data and are served to anyone; every data request must carry the dashboard
//! token, an HMAC of the account key that the readiness banner prints in the dashboard's link
//! (`?token=`): whoever can read the banner or knows the key can look. Read-only unless the
//! emulator runs with `--dashboard-actions`: then it may also preempt, recover or make unusable
//! a node and reset the account, through the control API (POST `api/control/...`, same token;
//! a custom header, so another site's page cannot send it).

use super::{encode_segment, read_for_dashboard};
use crate::layout::NodeLayout;
use crate::state::AppState;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use batch_model::task::TaskState;
use serde_json::json;
use std::time::Duration;
use subtle::ConstantTimeEq as _;
use tokio::io::AsyncReadExt as _;

/// The dashboard's prefix.
pub const PREFIX: &str = "/emulator/dashboard/";

/// The api-version the dashboard's reads use: the newest this build serves.
const API_VERSION: &str = super::SUPPORTED_API_VERSIONS[0];

/// How often a streamed file is looked at for new bytes.
const STREAM_POLL: Duration = Duration::from_millis(150);

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// The dashboard token of an account key: what the page must send with every data request.
pub fn token(key: &[u8]) -> String {
    let mac = batch_client::auth::sign_with_key_bytes(key, "batch-emulator dashboard");
    mac.chars().filter(|c| c.is_ascii_alphanumeric()).take(32).collect()
}

/// The dashboard's address for a server at `url` (with its token).
pub fn link(url: &str, key: &[u8]) -> String {
    format!("{}{PREFIX}?token={}", url.trim_end_matches('/'), token(key))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn refused(status: StatusCode, code: &str, message: &str) -> Response {
    answer(status, json!({"code": code, "message": message}))
}

/// Whether the request carries the dashboard token (header `x-dashboard-token`, or `token` in
/// the query for a link opened directly).
fn authorized(state: &AppState, parts: &Parts) -> bool {
    let expected = token(state.account_key());
    let from_query = batch_client::auth::parse_query(parts.uri.query().unwrap_or("")).into_iter().find(|(n, _)| n == "token").map(|(_, v)| v);
    let given = parts.headers.get("x-dashboard-token").and_then(|v| v.to_str().ok()).map(str::to_string).or(from_query);
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(expected.as_bytes())))
}

/// Handles one dashboard request (its path starts with [`PREFIX`], or is the prefix without
/// its slash).
pub async fn handle(state: &AppState, parts: Parts, body: Body) -> Response {
    let path = parts.uri.path();
    if !path.starts_with(PREFIX) {
        let location = match parts.uri.query() {
            Some(q) => format!("{PREFIX}?{q}"),
            None => PREFIX.to_string(),
        };
        return (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response();
    }
    let rest = &path[PREFIX.len()..];
    // With `--dashboard-actions`, the control API's node faults and reset, on its token.
    if let Some(control) = rest.strip_prefix("api/control/").filter(|_| parts.method == Method::POST) {
        if !state.config().dashboard_actions {
            return refused(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "The dashboard is read-only (start the emulator with --dashboard-actions).");
        }
        if !authorized(state, &parts) {
            return refused(StatusCode::UNAUTHORIZED, "AuthenticationFailed", "The dashboard token is missing or wrong: open the link the emulator printed.");
        }
        let action = control == "reset" || (control.starts_with("pools/") && ["/preempt", "/recover", "/unusable"].iter().any(|a| control.ends_with(a)));
        if !action {
            return refused(StatusCode::NOT_FOUND, "ResourceNotFound", "The dashboard can preempt, recover or make unusable a node, and reset.");
        }
        let (method, path) = (parts.method.clone(), control.to_string());
        return super::control::serve(state, &method, &path, body).await;
    }
    if parts.method != Method::GET {
        return refused(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "The dashboard is read-only.");
    }
    match rest {
        "" | "index.html" => return asset("text/html; charset=utf-8", INDEX),
        "app.js" => return asset("text/javascript; charset=utf-8", SCRIPT),
        "app.css" => return asset("text/css; charset=utf-8", STYLE),
        _ => {}
    }
    let Some(api) = rest.strip_prefix("api/") else {
        return refused(StatusCode::NOT_FOUND, "ResourceNotFound", "No such page.");
    };
    if !authorized(state, &parts) {
        return refused(StatusCode::UNAUTHORIZED, "AuthenticationFailed", "The dashboard token is missing or wrong: open the link the emulator printed.");
    }
    let base_url = state.public_url();
    match api {
        "info" => answer(
            StatusCode::OK,
            json!({
                "account": state.config().account,
                "url": base_url,
                "version": env!("CARGO_PKG_VERSION"),
                "apiVersion": API_VERSION,
                "actions": state.config().dashboard_actions,
            }),
        ),
        "requests" => answer(StatusCode::OK, json!({"value": state.recent().list()})),
        "activity" => answer(StatusCode::OK, json!(state.activity().all())),
        _ if api.starts_with("batch/") => {
            // The Batch path as the client sent it (still percent-encoded), and its query with
            // the dashboard's api-version in place of the token.
            let batch_path = &path[PREFIX.len() + "api/batch".len()..];
            let mut query: Vec<(String, String)> =
                batch_client::auth::parse_query(parts.uri.query().unwrap_or("")).into_iter().filter(|(n, _)| n != "token" && n != "api-version").collect();
            query.push(("api-version".into(), API_VERSION.into()));
            let q: Vec<String> = query.iter().map(|(n, v)| format!("{}={}", encode_segment(n), encode_segment(v))).collect();
            read_for_dashboard(state, &format!("{batch_path}?{}", q.join("&")), parts.headers.get("ocp-range"), &base_url).await
        }
        _ if api.starts_with("stream/") => stream(state, &api["stream/".len()..]).await,
        _ => refused(StatusCode::NOT_FOUND, "ResourceNotFound", "No such dashboard data."),
    }
}

/// `stream/jobs/{jobId}/tasks/{taskId}/{stdout.txt|stderr.txt}`: the file as it is written,
/// from its start, until the attempt ends (the task completes, is retried or requeued); the
/// page then opens the next attempt's.
async fn stream(state: &AppState, path: &str) -> Response {
    let segments: Vec<String> = path.split('/').map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
    let [jobs, job_id, tasks, task_id, name] = segments.as_slice() else {
        return refused(StatusCode::NOT_FOUND, "ResourceNotFound", "No such stream.");
    };
    if jobs != "jobs" || tasks != "tasks" || !matches!(name.as_str(), "stdout.txt" | "stderr.txt") {
        return refused(StatusCode::NOT_FOUND, "ResourceNotFound", "No such stream.");
    }
    // The attempt streamed: its node, and its run (a retry on the same node is a new attempt).
    let placed = state.read(|a| {
        let task = a.task(job_id, task_id).ok()?;
        let p = task.placement.as_ref()?;
        Some((p.node_id.clone(), task.run_id, NodeLayout::task_relative(&a.job(job_id).ok()?.spec.id, &task.spec.id)))
    });
    let Some((node_id, run_id, task_dir)) = placed else {
        return refused(StatusCode::NOT_FOUND, "TaskFilesUnavailable", "The task has not run on a node yet.");
    };
    let root = state.layout().root(&node_id);
    let name_owned = name.clone();
    // Opened beneath the node root, as the file API opens files: a symlink the task put there
    // cannot lead out of its directory.
    let opened = tokio::task::spawn_blocking(move || {
        let anchor = cap_std::fs::Dir::open_ambient_dir(&root, cap_std::ambient_authority())?;
        anchor.open_dir(&task_dir)?.open(&name_owned).map(|f| f.into_std())
    })
    .await;
    let Ok(Ok(file)) = opened else {
        return refused(StatusCode::NOT_FOUND, "FileNotFound", "The file does not exist (yet).");
    };
    let file = tokio::fs::File::from_std(file);
    let (state, job_id, task_id) = (state.clone(), job_id.clone(), task_id.clone());
    let body = futures::stream::unfold((file, false), move |(mut file, ended)| {
        let (state, job_id, task_id, node_id) = (state.clone(), job_id.clone(), task_id.clone(), node_id.clone());
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut ended = ended;
            loop {
                match file.read(&mut buf).await {
                    Ok(n) if n > 0 => {
                        buf.truncate(n);
                        return Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), (file, ended)));
                    }
                    Ok(_) if ended => return None,
                    Ok(_) => {}
                    Err(_) => return None,
                }
                // Nothing new: is the attempt over? (One more read after it is, for the last bytes.)
                ended = state.read(|a| {
                    a.task(&job_id, &task_id)
                        .map_or(true, |t| t.state == TaskState::Completed || t.run_id != run_id || t.placement.as_ref().is_none_or(|p| p.node_id != node_id))
                });
                if !ended {
                    tokio::time::sleep(STREAM_POLL).await;
                }
            }
        }
    });
    let mut r = Body::from_stream(body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_stable_and_depends_on_the_key() {
        let a = token(b"key one");
        assert_eq!(a, token(b"key one"));
        assert_ne!(a, token(b"key two"));
        assert!(a.len() >= 30 && a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_eq!(link("http://127.0.0.1:1/", b"key one"), format!("http://127.0.0.1:1/emulator/dashboard/?token={a}"));
    }
}
