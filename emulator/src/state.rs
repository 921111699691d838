//! `AppState`: the account behind one lock, the clock, the configuration, and the channel to
//! the node agent. Domain calls run under the lock; the effects they produce are sent to the
//! agent after the lock is released.

use crate::agent::layout::NodeLayout;
use crate::clock::Clock;
use crate::config::EmulatorConfig;
use batch_model::{Account, DomainError, Effect};
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
    /// Effects sent to the agent and not yet finished (for `run_until_idle`).
    pending: AtomicUsize,
    idle: Notify,
}

impl AppState {
    /// A state and the receiving end of its effect channel (for the node agent).
    pub fn new(
        config: EmulatorConfig,
        clock: Arc<dyn Clock>,
        node_id_seed: u64,
    ) -> (Self, mpsc::UnboundedReceiver<Effect>) {
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD
            .decode(config.key.trim())
            .unwrap_or_default();
        let (tx, rx) = mpsc::unbounded_channel();
        let layout = NodeLayout::new(config.data_dir.clone());
        let public_url = format!("http://{}", config.addr);
        let inner = Inner {
            config,
            key,
            account: Mutex::new(Account::with_node_id_seed(node_id_seed)),
            clock,
            effects: tx,
            public_url: RwLock::new(public_url),
            layout,
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
        };
        (Self(Arc::new(inner)), rx)
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
    pub fn layout(&self) -> &NodeLayout {
        &self.0.layout
    }
    /// The URL the emulator is reachable at (set once the listener is bound).
    pub fn public_url(&self) -> String {
        self.0
            .public_url
            .read()
            .map(|u| u.clone())
            .unwrap_or_default()
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

    /// Runs a domain operation at the current time and hands its effects to the agent.
    pub fn mutate<R>(
        &self,
        f: impl FnOnce(&mut Account, OffsetDateTime) -> Result<R, DomainError>,
    ) -> Result<R, DomainError> {
        let now = self.now();
        let (result, effects) = {
            let mut acct = self.0.account.lock().unwrap_or_else(|e| e.into_inner());
            let r = f(&mut acct, now);
            (r, acct.drain_effects())
        };
        for e in effects {
            self.0.pending.fetch_add(1, Ordering::SeqCst);
            if self.0.effects.send(e).is_err() {
                self.effect_done();
            }
        }
        result
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
