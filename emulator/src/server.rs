//! Starting an emulator: bind, spawn the node agent, serve.

use crate::agent::Runtimes;
use crate::clock::Clock;
use crate::config::EmulatorConfig;
use crate::state::AppState;
use crate::store::{FileJournal, Store};
use batch_model::Command;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A running emulator.
pub struct RunningEmulator {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningEmulator {
    /// Stops serving and waits for the server to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.server).await;
    }

    /// Waits until the server stops (it never does on its own).
    pub async fn wait(self) -> std::io::Result<()> {
        self.server.await.map_err(std::io::Error::other)?
    }
}

/// Binds `config.addr`, starts the node agent and serves the API.
pub async fn start(config: EmulatorConfig, runtimes: Runtimes, clock: Arc<dyn Clock>) -> std::io::Result<RunningEmulator> {
    tokio::fs::create_dir_all(&config.data_dir).await?;
    let mut config = config;
    config.data_dir = tokio::fs::canonicalize(&config.data_dir).await?;
    let listener = TcpListener::bind(config.addr).await?;
    let local = listener.local_addr()?;
    config.addr = local;
    let journal = FileJournal::open(&config.data_dir).map_err(std::io::Error::other)?.with_policy(config.journal_sync);
    let loaded = journal.load().map_err(std::io::Error::other)?;
    let seed = match &loaded {
        Some(l) => l.node_id_seed,
        None => {
            let seed = uuid::Uuid::new_v4().as_u64_pair().0;
            journal.begin(seed).map_err(std::io::Error::other)?;
            seed
        }
    };
    let snapshot_after = config.snapshot_after;
    let (state, effects) = AppState::new(config, clock, seed, Arc::new(journal));
    if let Some(l) = loaded {
        let n = l.records.len();
        state.replay(l.snapshot.as_deref(), l.records).map_err(std::io::Error::other)?;
        tracing::info!(records = n, snapshot = l.snapshot.is_some(), "replayed the journal");
    }
    // Nothing that ran before a restart still runs; ask the agent to redo what was in flight.
    state.execute(Command::Recover).map_err(|e| std::io::Error::other(e.to_string()))?;
    // A long journal is compacted before serving: the next start reads a snapshot and a short
    // journal instead of every command ever accepted.
    if state.compact_if_longer_than(snapshot_after).map_err(std::io::Error::other)? {
        tracing::info!("took a snapshot of the account and started a new journal");
    }
    let url = format!("{}://{local}", state.config().scheme());
    state.set_public_url(url.clone());
    // Containers left by an earlier run of this data dir (killed emulator) go; the journal reruns
    // their tasks.
    if let Ok(c) = &runtimes.containers {
        c.remove_labelled(vec![(crate::agent::labels::INSTANCE.into(), state.instance_id())]).await;
    }
    tokio::spawn(crate::agent::run(state.clone(), effects, runtimes));
    tokio::spawn(crate::agent::timers::run(state.clone()));
    tokio::spawn(state.clone().compact_while_serving());
    let app = crate::api::router(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let tls = match (&state.config().cert, &state.config().cert_key) {
        (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
        _ => None,
    };
    let server = match tls {
        Some(acceptor) => {
            let listener = crate::tls::TlsListener::new(listener, acceptor)?;
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
            })
        }
        None => tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        }),
    };
    Ok(RunningEmulator { url, state, shutdown: Some(tx), server })
}
