//! The emulator's control API (`/emulator/`, signed like any Batch request): reset the account,
//! preempt, recover or make unusable a node, inject throttling, latency and failed pulls or
//! downloads. Only batch-emulator answers these; a real account answers 400 or 404.

use crate::client::{ApiError, BatchClient, RawResponse};
use reqwest::Method;
use serde_json::{json, Value};

impl BatchClient {
    /// Sends a control request (`path` below `/emulator/`).
    pub async fn emulator_control(&self, method: Method, path: &str, body: Option<&Value>) -> Result<RawResponse, ApiError> {
        let body = body.map(serde_json::to_vec).transpose()?;
        self.send_raw(method, &format!("/emulator/{}", path.trim_start_matches('/')), &[], &[], body).await
    }

    /// Empties the account (pools, nodes, jobs, job schedules); faults go back to the flags'.
    pub async fn emulator_reset(&self) -> Result<(), ApiError> {
        self.emulator_control(Method::POST, "reset", None).await.map(|_| ())
    }

    /// Preempts a Spot/low-priority node: its running tasks rerun on another node.
    pub async fn emulator_preempt_node(&self, pool_id: &str, node_id: &str) -> Result<(), ApiError> {
        self.node_fault(pool_id, node_id, "preempt", None).await
    }

    /// Brings a preempted node back.
    pub async fn emulator_recover_node(&self, pool_id: &str, node_id: &str) -> Result<(), ApiError> {
        self.node_fault(pool_id, node_id, "recover", None).await
    }

    /// Turns a node `unusable` with these errors (`BatchNodeError`s; one generic error when
    /// empty).
    pub async fn emulator_make_node_unusable(&self, pool_id: &str, node_id: &str, errors: &[crate::models::BatchNodeError]) -> Result<(), ApiError> {
        self.node_fault(pool_id, node_id, "unusable", Some(&json!({ "errors": errors }))).await
    }

    /// Sets a fault: `throttle`, `latency`, `image-pull` or `resource-file`, with its settings
    /// (see the README's "Fault injection").
    pub async fn emulator_set_fault(&self, kind: &str, settings: &Value) -> Result<(), ApiError> {
        self.emulator_control(Method::PUT, &format!("faults/{kind}"), Some(settings)).await.map(|_| ())
    }

    /// Turns a fault off.
    pub async fn emulator_clear_fault(&self, kind: &str) -> Result<(), ApiError> {
        self.emulator_control(Method::DELETE, &format!("faults/{kind}"), None).await.map(|_| ())
    }

    async fn node_fault(&self, pool_id: &str, node_id: &str, action: &str, body: Option<&Value>) -> Result<(), ApiError> {
        let path = format!("pools/{}/nodes/{}/{action}", crate::encode_segment(pool_id), crate::encode_segment(node_id));
        self.emulator_control(Method::POST, &path, body).await.map(|_| ())
    }
}
