//! Fault injection (the control API under `/emulator/faults/`, and the `--throttle-*` and
//! `--latency-ms` flags): answer a share of requests, or of one operation's, with 429 or 503
//! and `Retry-After`, as the service does when it throttles, add latency, and make the next
//! image pulls or resource-file downloads fail. (Faults of nodes are commands of the domain:
//! `Command::PreemptNode` and the like.) Shares are
//! applied deterministically (every request adds the share to a running sum; each whole unit
//! throttles one), so a test sees the same sequence every run.

use std::sync::Mutex;

/// Injected throttling.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttle {
    /// 429 or 503.
    pub status: u16,
    /// The share of matching requests answered so (0 to 1).
    #[serde(default = "one")]
    pub share: f64,
    /// Only this operation (its azure-batch 15.x name, e.g. `get_pool`); all when absent.
    #[serde(default)]
    pub operation: Option<String>,
    /// At most this many answers, then it turns itself off; unlimited when absent.
    #[serde(default)]
    pub remaining: Option<u64>,
    #[serde(default = "one_second")]
    pub retry_after_seconds: u64,
    #[serde(skip)]
    accumulated: f64,
}

/// Injected latency.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Latency {
    pub milliseconds: u64,
    #[serde(default)]
    pub operation: Option<String>,
}

fn one() -> f64 {
    1.0
}

fn one_second() -> u64 {
    1
}

impl Throttle {
    pub fn new(status: u16, share: f64, operation: Option<String>, remaining: Option<u64>, retry_after_seconds: u64) -> Self {
        Self { status, share, operation, remaining, retry_after_seconds, accumulated: 0.0 }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.status, 429 | 503) {
            return Err(format!("status {}: 429 or 503", self.status));
        }
        if !(0.0..=1.0).contains(&self.share) {
            return Err(format!("share {}: between 0 and 1", self.share));
        }
        Ok(())
    }
}

/// The next image pulls or resource-file downloads fail (`count` of them, 1 when absent).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailNext {
    #[serde(default = "one_count")]
    pub count: u64,
    /// Resource files: the storage status the download seems to get (404 → `BlobNotFound`,
    /// 403 → `BlobAccessDenied`, others → `BlobDownloadMiscError`); 500 when absent.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default = "injected")]
    pub message: String,
}

fn one_count() -> u64 {
    1
}

fn injected() -> String {
    "Failure injected by the batch-emulator control API.".into()
}

impl FailNext {
    pub fn validate(&self) -> Result<(), String> {
        match self.status {
            Some(s) if !(400..=599).contains(&s) => Err(format!("status {s}: between 400 and 599")),
            _ if self.count == 0 => Err("count: at least 1".into()),
            _ => Ok(()),
        }
    }
}

/// The faults in force.
#[derive(Debug, Default)]
pub struct Faults {
    throttle: Mutex<Option<Throttle>>,
    latency: Mutex<Option<Latency>>,
    image_pull: Mutex<Option<FailNext>>,
    resource_file: Mutex<Option<FailNext>>,
}

fn put<T>(slot: &Mutex<Option<T>>, value: Option<T>) {
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = value;
}

fn peek<T: Clone>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Takes one failure from `slot` (turning it off after its count).
fn take(slot: &Mutex<Option<FailNext>>) -> Option<FailNext> {
    let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    let f = guard.as_mut()?;
    let one = f.clone();
    f.count = f.count.saturating_sub(1);
    if f.count == 0 {
        *guard = None;
    }
    Some(one)
}

impl Faults {
    pub fn set_image_pull_failure(&self, f: Option<FailNext>) {
        put(&self.image_pull, f);
    }

    pub fn set_resource_file_failure(&self, f: Option<FailNext>) {
        put(&self.resource_file, f);
    }

    pub fn image_pull_failure(&self) -> Option<FailNext> {
        peek(&self.image_pull)
    }

    pub fn resource_file_failure(&self) -> Option<FailNext> {
        peek(&self.resource_file)
    }

    /// Whether this image pull fails: the message it fails with.
    pub fn take_image_pull_failure(&self) -> Option<String> {
        take(&self.image_pull).map(|f| f.message)
    }

    /// Whether this resource-file download fails: `(status, message)`.
    pub fn take_resource_file_failure(&self) -> Option<(u16, String)> {
        take(&self.resource_file).map(|f| (f.status.unwrap_or(500), f.message))
    }

    /// Turns every fault off.
    pub fn clear(&self) {
        self.set_throttle(None);
        self.set_latency(None);
        self.set_image_pull_failure(None);
        self.set_resource_file_failure(None);
    }

    pub fn set_throttle(&self, t: Option<Throttle>) {
        put(&self.throttle, t);
    }

    pub fn set_latency(&self, l: Option<Latency>) {
        put(&self.latency, l);
    }

    pub fn latency(&self) -> Option<Latency> {
        peek(&self.latency)
    }

    pub fn throttle(&self) -> Option<Throttle> {
        peek(&self.throttle)
    }

    pub fn latency_of(&self, operation: &str) -> Option<std::time::Duration> {
        let l = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        l.as_ref().filter(|l| l.operation.as_deref().is_none_or(|o| o == operation)).map(|l| std::time::Duration::from_millis(l.milliseconds))
    }

    /// Whether this request of `operation` is throttled: `(status, retry-after seconds)`.
    pub fn throttles(&self, operation: &str) -> Option<(u16, u64)> {
        let mut guard = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        let t = guard.as_mut()?;
        if t.operation.as_deref().is_some_and(|o| o != operation) {
            return None;
        }
        t.accumulated += t.share;
        if t.accumulated < 1.0 - 1e-9 {
            return None;
        }
        t.accumulated -= 1.0;
        let answer = (t.status, t.retry_after_seconds);
        if let Some(n) = t.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                *guard = None;
            }
        }
        Some(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_deterministic_and_counts_run_out() {
        let f = Faults::default();
        f.set_throttle(Some(Throttle::new(503, 0.5, None, None, 2)));
        let hits: Vec<bool> = (0..6).map(|_| f.throttles("get_pool").is_some()).collect();
        assert_eq!(hits, vec![false, true, false, true, false, true]);
        f.set_throttle(Some(Throttle::new(429, 1.0, Some("list_pools".into()), Some(2), 1)));
        assert_eq!(f.throttles("get_pool"), None);
        assert_eq!(f.throttles("list_pools"), Some((429, 1)));
        assert_eq!(f.throttles("list_pools"), Some((429, 1)));
        assert_eq!(f.throttles("list_pools"), None, "two, then off");
        assert!(f.throttle().is_none());
    }

    #[test]
    fn failures_are_taken_count_times() {
        let f = Faults::default();
        f.set_resource_file_failure(Some(FailNext { count: 2, status: Some(404), message: "gone".into() }));
        assert_eq!(f.take_resource_file_failure(), Some((404, "gone".into())));
        assert_eq!(f.take_resource_file_failure(), Some((404, "gone".into())));
        assert_eq!(f.take_resource_file_failure(), None);
        assert_eq!(f.take_image_pull_failure(), None);
    }
}
