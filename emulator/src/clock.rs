//! Time as a dependency: the system clock in production, a manual clock in tests. Timers wait
//! through the clock ([`Clock::sleep_until`]), so a test that advances a [`ManualClock`] fires
//! every timer that became due (retention, job wall-clock limits, job schedules) without
//! sleeping.

use futures::future::BoxFuture;
use time::OffsetDateTime;
use tokio::sync::watch;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
    /// Resolves once `now() >= t` (it may resolve earlier; callers check `now()` again).
    fn sleep_until(&self, t: OffsetDateTime) -> BoxFuture<'static, ()>;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
    fn sleep_until(&self, t: OffsetDateTime) -> BoxFuture<'static, ()> {
        // Long waits are cut into days so a far deadline never overflows the timer wheel.
        let wait = (t - self.now()).clamp(time::Duration::ZERO, time::Duration::days(1)).unsigned_abs();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(watch::Sender<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(watch::Sender::new(start))
    }
    pub fn advance(&self, d: time::Duration) {
        self.0.send_modify(|t| *t += d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.borrow()
    }
    fn sleep_until(&self, t: OffsetDateTime) -> BoxFuture<'static, ()> {
        let mut rx = self.0.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|now| *now >= t).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_when_advanced_past_their_time() {
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let sleeper = tokio::spawn(clock.sleep_until(OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1)));
        clock.advance(time::Duration::minutes(59));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(time::Duration::minutes(1));
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper).await.expect("woken").expect("joined");
    }
}
