//! The timer service: one task that sleeps until the earliest armed deadline
//! ([`crate::timers::Timers`]) and applies the commands that fell due.

use crate::state::AppState;

/// Fires timers as they become due, for as long as the emulator runs.
pub async fn run(st: AppState) {
    let timers = st.timers();
    loop {
        match timers.next() {
            None => timers.earlier_armed().await,
            Some(t) if st.now() >= t => {
                for timer in timers.take_due(st.now()) {
                    let _ = st.execute(timer.command());
                }
            }
            Some(t) => {
                tokio::select! {
                    () = st.clock().sleep_until(t) => {}
                    () = timers.earlier_armed() => {}
                }
            }
        }
    }
}
