//! Fault injection (the control API under `/emulator/faults/`, and the `--throttle-*` and
//! `--latency-ms` flags): answer a share of requests, or of one operation's, with 429 or 503
//! and `Retry-After`, as the service does when it throttles, and add latency. Shares are
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

/// The faults in force.
#[derive(Debug, Default)]
pub struct Faults {
    throttle: Mutex<Option<Throttle>>,
    latency: Mutex<Option<Latency>>,
}

impl Faults {
    pub fn set_throttle(&self, t: Option<Throttle>) {
        *self.throttle.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }

    pub fn set_latency(&self, l: Option<Latency>) {
        *self.latency.lock().unwrap_or_else(|e| e.into_inner()) = l;
    }

    pub fn latency(&self) -> Option<Latency> {
        self.latency.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn throttle(&self) -> Option<Throttle> {
        self.throttle.lock().unwrap_or_else(|e| e.into_inner()).clone()
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
}
