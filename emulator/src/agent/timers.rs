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
                    let command = match timer.command() {
                        // A pool sample carries what its nodes used (measured now, off the
                        // runtime's threads: it reads /proc and the nodes' directories).
                        batch_model::Command::SamplePool { pool_id, .. } => {
                            let nodes = sample_nodes(&st, &pool_id).await;
                            batch_model::Command::SamplePool { pool_id, nodes }
                        }
                        other => other,
                    };
                    let _ = st.execute(command);
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

/// What each node of the pool used since its previous sample.
async fn sample_nodes(st: &AppState, pool_id: &str) -> Vec<batch_model::stats::NodeMetrics> {
    let (nodes, cores) = st.read(|a| {
        a.pool(pool_id).map_or((Vec::new(), 1), |p| {
            let nodes: Vec<(String, std::path::PathBuf)> = p.nodes.keys().map(|n| (n.clone(), st.layout().node_dir(n))).collect();
            (nodes, batch_model::stats::cores_of(&p.spec.vm_size))
        })
    });
    if nodes.is_empty() {
        return Vec::new();
    }
    tokio::task::spawn_blocking(move || super::metrics::sample(&nodes, cores)).await.unwrap_or_default()
}
