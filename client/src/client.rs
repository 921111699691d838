//! The HTTP client: Shared Key or bearer auth, paging over `odata.nextLink`, retry with
//! backoff that honours `Retry-After`.

use crate::auth::{authorization_header, SignableRequest};
use crate::models::{BatchError, ListPage};
use crate::timefmt;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;
use time::OffsetDateTime;

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Shared Key: account name and base64 key.
    SharedKey { account: String, key: String },
    /// A Microsoft Entra ID access token.
    Bearer(String),
    /// No `Authorization` header (for an emulator started with `--loose`).
    None,
}

/// Retry settings: statuses 429, 500, 503 and 504 are retried with exponential backoff; a
/// `Retry-After` header (seconds) replaces the computed delay.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 3, initial_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(30) }
    }
}

/// A response as received: status, headers and body bytes.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header value as a string, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The body parsed as a Batch error, if it is one.
    pub fn batch_error(&self) -> Option<BatchError> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A failed call: transport failure, a Batch error response, or an unreadable body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("HTTP {status}: {code}", code = .error.as_ref().map(|e| e.code.as_str()).unwrap_or("<no Batch error body>"))]
    Service { status: StatusCode, error: Option<BatchError>, response: Box<RawResponse> },
    #[error("cannot decode response body: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("bad request: {0}")]
    Request(String),
}

impl ApiError {
    /// The Batch error code of a service error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Service { error: Some(e), .. } => Some(e.code.as_str()),
            _ => None,
        }
    }
    /// The HTTP status of a service error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Service { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A typed client for one Batch account endpoint.
#[derive(Debug, Clone)]
pub struct BatchClient {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    api_version: String,
    retry: RetryPolicy,
}

const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes one path segment (so a file path `wd/out.txt` becomes `wd%2Fout.txt`, as
/// both official SDKs send it).
pub fn encode_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

impl BatchClient {
    /// A client for `endpoint` (e.g. `http://127.0.0.1:8080`).
    pub fn new(endpoint: &str, credentials: Credentials) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: endpoint.trim_end_matches('/').to_string(),
            credentials,
            api_version: crate::API_VERSION.to_string(),
            retry: RetryPolicy::default(),
        }
    }

    /// Uses another api-version (e.g. `2024-02-01.19.0`, what azure-batch 14.x sends).
    pub fn with_api_version(mut self, v: &str) -> Self {
        self.api_version = v.to_string();
        self
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.base
    }

    /// Sends one request, signed, with retries. `path` is already encoded; `query` pairs are
    /// encoded here; `api-version` is added unless `query` has one.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, ApiError> {
        let mut qs: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", encode_segment(k).replace("%24", "$"), encode_segment(v))).collect();
        if !query.iter().any(|(k, _)| *k == "api-version") {
            qs.push(format!("api-version={}", self.api_version));
        }
        let url = format!("{}{}?{}", self.base, path, qs.join("&"));
        self.send_url(method, &url, headers, body).await
    }

    /// Sends a request to an absolute URL (used to follow `odata.nextLink` verbatim).
    pub async fn send_url(&self, method: Method, url: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Result<RawResponse, ApiError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| ApiError::Request(e.to_string()))?;
        let mut attempt = 0;
        loop {
            let mut hdrs: Vec<(String, String)> = headers.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            hdrs.push(("ocp-date".into(), timefmt::format_http(OffsetDateTime::now_utc())));
            hdrs.push(("client-request-id".into(), uuid::Uuid::new_v4().to_string()));
            if let Some(b) = &body {
                hdrs.push(("Content-Length".into(), b.len().to_string()));
                if !hdrs.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
                    hdrs.push(("Content-Type".into(), "application/json; odata=minimalmetadata".into()));
                }
            } else if method != Method::GET && method != Method::HEAD {
                hdrs.push(("Content-Length".into(), "0".into()));
            }
            match &self.credentials {
                Credentials::SharedKey { account, key } => {
                    let req = SignableRequest { method: method.as_str(), headers: &hdrs, raw_path: parsed.path(), raw_query: parsed.query() };
                    let auth = authorization_header(account, key, &req).map_err(|e| ApiError::Request(e.to_string()))?;
                    hdrs.push(("Authorization".into(), auth));
                }
                Credentials::Bearer(t) => hdrs.push(("Authorization".into(), format!("Bearer {t}"))),
                Credentials::None => {}
            }
            let mut rb = self.http.request(method.clone(), parsed.clone());
            for (n, v) in &hdrs {
                rb = rb.header(n, v);
            }
            if let Some(b) = &body {
                rb = rb.body(b.clone());
            }
            let resp = rb.send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await?.to_vec();
            let retryable = matches!(status.as_u16(), 429 | 500 | 503 | 504);
            if retryable && attempt < self.retry.max_retries {
                let backoff = headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .unwrap_or_else(|| (self.retry.initial_backoff * 2u32.pow(attempt)).min(self.retry.max_backoff));
                attempt += 1;
                tokio::time::sleep(backoff).await;
                continue;
            }
            let raw = RawResponse { status, headers, body: bytes };
            if !status.is_success() {
                return Err(ApiError::Service { status, error: raw.batch_error(), response: Box::new(raw) });
            }
            return Ok(raw);
        }
    }

    /// GET and decode a JSON entity.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, ApiError> {
        let r = self.send_raw(Method::GET, path, query, &[], None).await?;
        Ok(serde_json::from_slice(&r.body)?)
    }

    /// Sends a JSON body.
    pub async fn send_json<B: Serialize>(&self, method: Method, path: &str, body: &B) -> Result<RawResponse, ApiError> {
        let bytes = serde_json::to_vec(body)?;
        self.send_raw(method, path, &[], &[], Some(bytes)).await
    }

    /// Every item of a list operation, following `odata.nextLink` verbatim (as 14.x does).
    pub async fn list_all<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<T>, ApiError> {
        let mut page: ListPage<T> = self.get_json(path, query).await?;
        let mut out = std::mem::take(&mut page.value);
        while let Some(next) = page.next_link.take() {
            let r = self.send_url(Method::GET, &next, &[], None).await?;
            page = serde_json::from_slice(&r.body)?;
            out.append(&mut page.value);
        }
        Ok(out)
    }

    // ---- Typed operations used by the tests and the conformance suite ----

    pub async fn create_pool(&self, pool: &crate::models::BatchPoolCreateOptions) -> Result<RawResponse, ApiError> {
        self.send_json(Method::POST, "/pools", pool).await
    }
    pub async fn get_pool(&self, pool_id: &str) -> Result<crate::models::BatchPool, ApiError> {
        self.get_json(&format!("/pools/{}", encode_segment(pool_id)), &[]).await
    }
    pub async fn delete_pool(&self, pool_id: &str) -> Result<RawResponse, ApiError> {
        self.send_raw(Method::DELETE, &format!("/pools/{}", encode_segment(pool_id)), &[], &[], None).await
    }
    pub async fn list_nodes(&self, pool_id: &str) -> Result<Vec<crate::models::BatchNode>, ApiError> {
        self.list_all(&format!("/pools/{}/nodes", encode_segment(pool_id)), &[]).await
    }
    pub async fn create_job(&self, job: &crate::models::BatchJobCreateOptions) -> Result<RawResponse, ApiError> {
        self.send_json(Method::POST, "/jobs", job).await
    }
    pub async fn get_job(&self, job_id: &str) -> Result<crate::models::BatchJob, ApiError> {
        self.get_json(&format!("/jobs/{}", encode_segment(job_id)), &[]).await
    }
    pub async fn create_task(&self, job_id: &str, task: &crate::models::BatchTaskCreateOptions) -> Result<RawResponse, ApiError> {
        self.send_json(Method::POST, &format!("/jobs/{}/tasks", encode_segment(job_id)), task).await
    }
    pub async fn get_task(&self, job_id: &str, task_id: &str) -> Result<crate::models::BatchTask, ApiError> {
        self.get_json(&format!("/jobs/{}/tasks/{}", encode_segment(job_id), encode_segment(task_id)), &[]).await
    }
    pub async fn list_tasks(&self, job_id: &str, query: &[(&str, &str)]) -> Result<Vec<crate::models::BatchTask>, ApiError> {
        self.list_all(&format!("/jobs/{}/tasks", encode_segment(job_id)), query).await
    }
    /// Reads a task file (`file_path` relative to the task directory, e.g. `stdout.txt`).
    pub async fn get_task_file(&self, job_id: &str, task_id: &str, file_path: &str) -> Result<Vec<u8>, ApiError> {
        let path = format!("/jobs/{}/tasks/{}/files/{}", encode_segment(job_id), encode_segment(task_id), encode_segment(file_path));
        Ok(self.send_raw(Method::GET, &path, &[], &[], None).await?.body)
    }

    /// Polls a task until `done(state)` or the timeout; the error names the last state seen.
    pub async fn wait_for_task(
        &self,
        job_id: &str,
        task_id: &str,
        done: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Result<crate::models::BatchTask, ApiError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut delay = Duration::from_millis(5);
        loop {
            let t = self.get_task(job_id, task_id).await?;
            let state = t.state.clone().unwrap_or_default();
            if done(&state) {
                return Ok(t);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ApiError::Request(format!("task {job_id}/{task_id} still {state:?} after {timeout:?}")));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(200));
        }
    }
}
