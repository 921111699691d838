//! What the dashboard shows beyond the account: the recent API requests (status, latency), and
//! what the node agent is doing on each node (pulling an image, downloading resource files).
//! Both are bounded and kept in memory only.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use time::OffsetDateTime;

/// How many requests [`RecentRequests`] keeps.
pub const KEPT: usize = 500;

/// One answered request.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    pub request_id: String,
    #[serde(with = "batch_client::timefmt::body")]
    pub time: OffsetDateTime,
    pub method: String,
    pub path: String,
    pub operation: String,
    pub status: u16,
    pub latency_ms: f64,
    pub error_code: String,
}

/// The last [`KEPT`] requests, newest last.
#[derive(Debug, Default)]
pub struct RecentRequests(Mutex<VecDeque<RequestRecord>>);

impl RecentRequests {
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        request_id: &str,
        time: OffsetDateTime,
        method: &impl ToString,
        path: &str,
        operation: &str,
        status: u16,
        latency: Duration,
        error_code: &str,
    ) {
        let r = RequestRecord {
            request_id: request_id.into(),
            time,
            method: method.to_string(),
            path: path.into(),
            operation: operation.into(),
            status,
            latency_ms: (latency.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
            error_code: error_code.into(),
        };
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() == KEPT {
            q.pop_front();
        }
        q.push_back(r);
    }

    /// Newest first.
    pub fn list(&self) -> Vec<RequestRecord> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).iter().rev().cloned().collect()
    }
}

/// What the agent is busy with on each node, by node id (a line such as "pulling image x:
/// 3 of 5 layers").
#[derive(Debug, Default)]
pub struct NodeActivity(Mutex<BTreeMap<String, String>>);

impl NodeActivity {
    pub fn set(&self, node_id: &str, what: impl Into<String>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(node_id.into(), what.into());
    }

    pub fn clear(&self, node_id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(node_id);
    }

    pub fn all(&self) -> BTreeMap<String, String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_requests_are_kept() {
        let r = RecentRequests::default();
        for i in 0..KEPT + 3 {
            r.record(&i.to_string(), OffsetDateTime::UNIX_EPOCH, &"GET", "/pools", "list_pools", 200, Duration::from_millis(1), "");
        }
        let l = r.list();
        assert_eq!(l.len(), KEPT);
        assert_eq!(l[0].request_id, (KEPT + 2).to_string());
        assert_eq!(l[KEPT - 1].request_id, "3");
    }
}
