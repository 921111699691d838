//! `AppState`: the account behind one lock, the clock, the configuration, and the channel to
//! the node agent. Domain calls run under the lock; the effects they produce are sent to the
//! agent after the lock is released.

use crate::clock::Clock;
use crate::config::EmulatorConfig;
use crate::layout::NodeLayout;
use crate::store::{Record, Store};
use crate::timers::Timers;
use batch_model::{Account, Applied, BatchErrorCode, Command, DomainError, Effect};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use time::OffsetDateTime;
use tokio::sync::{mpsc, Notify};

/// Shared state of a running emulator.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: EmulatorConfig,
    key: Vec<u8>,
    account: Mutex<Account>,
    clock: Arc<dyn Clock>,
    effects: mpsc::UnboundedSender<Effect>,
    public_url: RwLock<String>,
    layout: NodeLayout,
    store: Arc<dyn Store>,
    node_id_seed: u64,
    /// Effects sent to the agent and not yet finished (for `run_until_idle`).
    pending: AtomicUsize,
    idle: Notify,
    timers: Timers,
    /// Woken when the journal has grown past `--snapshot-after` records.
    compaction_due: Notify,
    /// Injected throttling and latency (`crate::faults`).
    faults: crate::faults::Faults,
    /// The recent API requests and the agent's work per node, for the dashboard.
    recent: crate::recent::RecentRequests,
    activity: crate::recent::NodeActivity,
}

impl AppState {
    /// The recent API requests (for the dashboard).
    pub fn recent(&self) -> &crate::recent::RecentRequests {
        &self.0.recent
    }

    /// What the node agent is doing on each node (for the dashboard).
    pub fn activity(&self) -> &crate::recent::NodeActivity {
        &self.0.activity
    }

    /// The faults injected by the control API and the flags.
    pub fn faults(&self) -> &crate::faults::Faults {
        &self.0.faults
    }

    /// A state and the receiving end of its effect channel (for the node agent).
    pub fn new(config: EmulatorConfig, clock: Arc<dyn Clock>, node_id_seed: u64, store: Arc<dyn Store>) -> (Self, mpsc::UnboundedReceiver<Effect>) {
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD.decode(config.key.trim()).unwrap_or_default();
        let (tx, rx) = mpsc::unbounded_channel();
        let layout = NodeLayout::new(config.data_dir.clone());
        let public_url = format!("{}://{}", config.scheme(), config.addr);
        let mut account = Account::with_node_id_seed(node_id_seed);
        account.set_node_network(config.inter_node_network);
        let inner = Inner {
            config,
            key,
            account: Mutex::new(account),
            clock,
            effects: tx,
            public_url: RwLock::new(public_url),
            layout,
            store,
            node_id_seed,
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
            timers: Timers::default(),
            compaction_due: Notify::new(),
            faults: crate::faults::Faults::default(),
            recent: Default::default(),
            activity: Default::default(),
        };
        let state = Self(Arc::new(inner));
        state.set_flag_faults();
        (state, rx)
    }

    /// Turns every fault off but those the flags (`--throttle-*`, `--latency-ms`, `--fail-*`) set
    /// (failures the flags set are counted afresh).
    pub fn set_flag_faults(&self) {
        let (faults, config) = (&self.0.faults, &self.0.config);
        faults.clear();
        if let Some(status) = config.throttle_status {
            faults.set_throttle(Some(crate::faults::Throttle::new(status, config.throttle_share, config.throttle_operation.clone(), None, 1)));
        }
        if let Some(ms) = config.latency_ms {
            faults.set_latency(Some(crate::faults::Latency { milliseconds: ms, operation: None }));
        }
        let fail = |count: u64| crate::faults::FailNext { count, status: None, message: "Failure injected by the batch-emulator flags.".into() };
        faults.set_image_pull_failure(config.fail_image_pulls.filter(|n| *n > 0).map(fail));
        faults.set_resource_file_failure(config.fail_resource_files.filter(|n| *n > 0).map(fail));
    }

    /// Identifies this emulator's data (labels on its containers); stable across restarts.
    pub fn instance_id(&self) -> String {
        format!("{:016x}", self.0.node_id_seed)
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.0.config
    }
    /// The decoded account key.
    pub fn account_key(&self) -> &[u8] {
        &self.0.key
    }
    pub fn now(&self) -> OffsetDateTime {
        self.0.clock.now()
    }
    pub fn clock(&self) -> &dyn Clock {
        &*self.0.clock
    }
    /// The deadlines the domain asked for ([`Effect::At`]).
    pub fn timers(&self) -> &Timers {
        &self.0.timers
    }
    pub fn layout(&self) -> &NodeLayout {
        &self.0.layout
    }
    /// The URL the emulator is reachable at (set once the listener is bound).
    pub fn public_url(&self) -> String {
        self.0.public_url.read().map(|u| u.clone()).unwrap_or_default()
    }
    pub fn set_public_url(&self, url: String) {
        if let Ok(mut u) = self.0.public_url.write() {
            *u = url;
        }
    }

    /// Reads the account.
    pub fn read<R>(&self, f: impl FnOnce(&Account) -> R) -> R {
        let acct = self.0.account.lock().unwrap_or_else(|e| e.into_inner());
        f(&acct)
    }

    /// Applies a command at the current time: journalled first, then applied, and its effects
    /// handed to the agent. A rejected command changes nothing, so replaying it is harmless.
    pub fn execute(&self, cmd: Command) -> Result<Applied, DomainError> {
        self.execute_if(cmd, |_| Ok(()))
    }

    /// Like [`execute`](Self::execute), after `precheck` accepted the current state (conditional
    /// headers), under the same lock.
    pub fn execute_if(&self, cmd: Command, precheck: impl FnOnce(&Account) -> Result<(), DomainError>) -> Result<Applied, DomainError> {
        let now = self.now();
        let (result, effects) = {
            let mut acct = self.0.account.lock().unwrap_or_else(|e| e.into_inner());
            precheck(&acct)?;
            if let Err(e) = self.0.store.append(now, &cmd) {
                tracing::error!(error = %e, "cannot journal a command; refusing it");
                return Err(DomainError::new(BatchErrorCode::InternalError));
            }
            let r = acct.apply(cmd, now);
            if r.is_err() {
                // Under the same lock, so the marker follows its command.
                if let Err(e) = self.0.store.refused(now) {
                    tracing::warn!(error = %e, "cannot mark a refused command in the journal");
                }
            }
            if self.0.store.journal_records() > self.0.config.snapshot_after {
                self.0.compaction_due.notify_one();
            }
            (r, acct.drain_effects())
        };
        // Outside the account lock, so concurrent requests share one fsync.
        if let Err(e) = self.0.store.sync() {
            tracing::error!(error = %e, "cannot fsync the journal; the command is written to the OS only");
        }
        self.send_effects(effects);
        result
    }

    fn send_effects(&self, effects: Vec<Effect>) {
        for e in effects {
            self.0.pending.fetch_add(1, Ordering::SeqCst);
            if self.0.effects.send(e).is_err() {
                self.effect_done();
            }
        }
    }

    /// Rebuilds the account from a journal: every record applied at its time, effects dropped
    /// (they happened before the restart). Call [`Command::Recover`] next.
    pub fn replay(&self, snapshot: Option<&str>, records: Vec<Record>) -> Result<(), String> {
        let mut acct = self.0.account.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = snapshot {
            *acct = Account::from_snapshot(s).map_err(|e| format!("snapshot.json: {e}"))?;
            acct.set_node_network(self.0.config.inter_node_network);
        }
        for r in records {
            let _ = acct.apply(r.cmd, r.at);
            acct.drain_effects();
        }
        Ok(())
    }

    /// When the journal holds more than `after` records, snapshots the account and starts a
    /// new journal after it, under the account lock (nothing changes meanwhile).
    pub fn compact_if_longer_than(&self, after: u64) -> Result<bool, String> {
        let acct = self.0.account.lock().unwrap_or_else(|e| e.into_inner());
        if self.0.store.journal_records() <= after {
            return Ok(false);
        }
        let snapshot = acct.snapshot().map_err(|e| e.to_string())?;
        self.0.store.compact(&snapshot).map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// Compacts the journal whenever it grows past `--snapshot-after` records, for as long as
    /// the emulator runs. The snapshot is taken on a blocking thread under the account lock:
    /// requests wait for it (the time it takes to serialise the account) and nothing is lost
    /// or reordered.
    pub async fn compact_while_serving(self) {
        loop {
            self.0.compaction_due.notified().await;
            let state = self.clone();
            let after = self.0.config.snapshot_after;
            match tokio::task::spawn_blocking(move || state.compact_if_longer_than(after)).await {
                Ok(Ok(true)) => tracing::info!("took a snapshot of the account and started a new journal"),
                Ok(Ok(false)) => {}
                // The journal goes on growing: the next start replays it whole, and tries again.
                Ok(Err(e)) => tracing::error!(error = %e, "cannot compact the journal"),
                Err(e) => tracing::error!(error = %e, "the compaction task failed"),
            }
        }
    }

    /// The agent finished one effect.
    pub fn effect_done(&self) {
        if self.0.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }

    /// Waits until the agent has no effect in progress (a running process counts as in
    /// progress until it exits). For in-process tests.
    pub async fn run_until_idle(&self) {
        loop {
            let notified = self.0.idle.notified();
            if self.0.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}
