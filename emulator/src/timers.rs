//! The deadlines the domain asked for ([`Effect::At`]): a map ordered by time. One task of the
//! node agent (`agent::timers::run`) sleeps (through the [`Clock`](crate::clock::Clock)) until
//! the earliest one. 100,000 retained tasks cost 100,000 map entries, not 100,000 sleeping tasks.
//!
//! [`Effect::At`]: batch_model::Effect::At

use batch_model::Timer;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use time::OffsetDateTime;
use tokio::sync::Notify;

#[derive(Default)]
pub struct Timers {
    due: Mutex<BTreeMap<(OffsetDateTime, u64), Timer>>,
    seq: AtomicU64,
    wake: Notify,
}

impl Timers {
    /// Applies the timer's command once the clock reaches `when`.
    pub fn at(&self, when: OffsetDateTime, timer: Timer) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
        let earliest = due.first_key_value().is_none_or(|((t, _), _)| when < *t);
        due.insert((when, seq), timer);
        drop(due);
        if earliest {
            self.wake.notify_one();
        }
    }

    /// Resolves when a timer earlier than all others was armed.
    pub async fn earlier_armed(&self) {
        self.wake.notified().await
    }

    /// How many timers are armed.
    pub fn len(&self) -> usize {
        self.due.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<OffsetDateTime> {
        self.due.lock().unwrap_or_else(|e| e.into_inner()).first_key_value().map(|((t, _), _)| *t)
    }

    /// Removes and returns the timers due at `now`.
    pub fn take_due(&self, now: OffsetDateTime) -> Vec<Timer> {
        let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
        let later = due.split_off(&(now, u64::MAX));
        std::mem::replace(&mut *due, later).into_values().collect()
    }
}
