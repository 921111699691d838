//! `EmulatorConfig`: the one place settings come from (flags with `BATCH_EMULATOR_*` twins).
//! Built in `main`, passed down, never re-read from the environment.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use batch_client::{DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME};

/// A local emulator of the Azure Batch data-plane REST API.
#[derive(Debug, Clone, Parser)]
#[command(name = "batch-emulator", version, about)]
pub struct EmulatorConfig {
    /// Address to serve on. Port 0 picks a free port (the readiness line shows the real one).
    /// A non-loopback address exposes an unauthenticated-by-default development service and
    /// is warned about.
    #[arg(long, env = "BATCH_EMULATOR_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Batch account name clients authenticate as.
    #[arg(long, env = "BATCH_EMULATOR_ACCOUNT", default_value = DEV_ACCOUNT_NAME)]
    pub account: String,

    /// Base64 account key for Shared Key authentication.
    #[arg(long, env = "BATCH_EMULATOR_KEY", default_value = DEV_ACCOUNT_KEY)]
    pub key: String,

    /// Directory for node file systems (task directories, stdout/stderr).
    #[arg(long, env = "BATCH_EMULATOR_DATA_DIR", default_value = "batch-emulator-data")]
    pub data_dir: PathBuf,

    /// Accept any or no authentication.
    #[arg(long, env = "BATCH_EMULATOR_LOOSE", default_value_t = false)]
    pub loose: bool,

    /// Which credentials are taken: Shared Key or a Batch bearer token (JWT with Batch's
    /// audience, unexpired; its signature cannot be checked offline), or Shared Key only.
    #[arg(long, env = "BATCH_EMULATOR_AUTH", value_enum, default_value_t = crate::api::auth::AuthMode::SharedkeyOrBearer)]
    pub auth: crate::api::auth::AuthMode,

    /// When the journal is fsynced: `always` (before every answer; concurrent requests share
    /// one fsync) or `never` (written to the OS: survives the emulator's crash, not a power loss).
    #[arg(long, env = "BATCH_EMULATOR_JOURNAL_SYNC", value_enum, default_value_t = crate::store::SyncPolicy::Always)]
    pub journal_sync: crate::store::SyncPolicy,

    /// A journal with more records than this is replaced by a snapshot of the account and a
    /// new, empty journal, at start and while serving (0: at every start and after every command).
    #[arg(long, env = "BATCH_EMULATOR_SNAPSHOT_AFTER", default_value_t = 10_000)]
    pub snapshot_after: u64,

    /// Refuse api-versions newer than this build knows (by default they are served with the
    /// newest behaviour, and a warning is logged).
    #[arg(long, env = "BATCH_EMULATOR_STRICT_API_VERSION", default_value_t = false)]
    pub strict_api_version: bool,

    /// The Batch account's linked storage (`autoStorageContainerName` resource files), as a
    /// storage connection string. The default is Azurite's well-known development account on
    /// 127.0.0.1:10000.
    #[arg(long, env = "BATCH_EMULATOR_AUTO_STORAGE", default_value = "UseDevelopmentStorage=true")]
    pub auto_storage: String,

    /// The application package store: `DIR/<applicationId>/<version>.zip`, with optional
    /// `default` and `displayName` files (one line each) beside the packages.
    #[arg(long, env = "BATCH_EMULATOR_APP_PACKAGES")]
    pub app_packages: Option<PathBuf>,

    /// Seconds a storage transfer (resource or output file) may wait for a byte before it fails
    /// its task; connecting may take at most 10 s.
    #[arg(long, env = "BATCH_EMULATOR_STORAGE_TIMEOUT", default_value_t = 60)]
    pub storage_timeout: u64,

    /// The IPv4 range nodes of container pools with inter-node communication take their
    /// addresses from, one `/30` Docker network per node (the node's `ipAddress` is its
    /// gateway, on this machine). It must not overlap a network in use; two emulators running
    /// at once need ranges of their own.
    #[arg(long, env = "BATCH_EMULATOR_INTER_NODE_NETWORK", default_value = "10.199.0.0/16", value_parser = batch_model::node::NodeNetwork::parse)]
    pub inter_node_network: batch_model::node::NodeNetwork,

    /// Log lines as text, or as JSON objects (one per line), which also turns on a line per
    /// request (operation, status, latency, request id).
    #[arg(long, env = "BATCH_EMULATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Fault injection from the start (the control API changes it later): answer a share of
    /// requests with this status (429 or 503, with `Retry-After`).
    #[arg(long, env = "BATCH_EMULATOR_THROTTLE_STATUS")]
    pub throttle_status: Option<u16>,

    /// The share of requests `--throttle-status` answers (0 to 1; default 1).
    #[arg(long, env = "BATCH_EMULATOR_THROTTLE_SHARE", default_value_t = 1.0)]
    pub throttle_share: f64,

    /// Throttle only this operation (its azure-batch 15.x name, e.g. `create_task`).
    #[arg(long, env = "BATCH_EMULATOR_THROTTLE_OPERATION")]
    pub throttle_operation: Option<String>,

    /// Add this many milliseconds to every request.
    #[arg(long, env = "BATCH_EMULATOR_LATENCY_MS")]
    pub latency_ms: Option<u64>,

    /// Fail this many image pulls, the first ones (a container pool's node turns `unusable`,
    /// a container task fails with its pull error).
    #[arg(long, env = "BATCH_EMULATOR_FAIL_IMAGE_PULLS")]
    pub fail_image_pulls: Option<u64>,

    /// Fail the resource-file downloads of this many tasks, the first ones (as storage
    /// answering 500 would: `BlobDownloadMiscError`).
    #[arg(long, env = "BATCH_EMULATOR_FAIL_RESOURCE_FILES")]
    pub fail_resource_files: Option<u64>,

    /// Let the dashboard inject node faults (preempt, recover, make unusable) and reset the
    /// account, through the control API. Off: the dashboard only reads.
    #[arg(long, env = "BATCH_EMULATOR_DASHBOARD_ACTIONS")]
    pub dashboard_actions: bool,

    /// Serve HTTPS with this certificate chain (PEM), with `--cert-key`.
    #[arg(long, env = "BATCH_EMULATOR_CERT")]
    pub cert: Option<PathBuf>,

    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1), with `--cert`.
    #[arg(long, env = "BATCH_EMULATOR_KEY_FILE")]
    pub cert_key: Option<PathBuf>,
}

impl EmulatorConfig {
    /// `https` when serving TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.cert.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// A configuration for tests: free loopback port, the dev account, the given data dir.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            account: DEV_ACCOUNT_NAME.into(),
            key: DEV_ACCOUNT_KEY.into(),
            data_dir,
            loose: false,
            auth: crate::api::auth::AuthMode::SharedkeyOrBearer,
            strict_api_version: false,
            journal_sync: crate::store::SyncPolicy::Always,
            snapshot_after: 10_000,
            auto_storage: "UseDevelopmentStorage=true".into(),
            storage_timeout: 60,
            app_packages: None,
            inter_node_network: batch_model::node::NodeNetwork::default(),
            log_format: LogFormat::Text,
            cert: None,
            cert_key: None,
            throttle_status: None,
            throttle_share: 1.0,
            throttle_operation: None,
            latency_ms: None,
            fail_image_pulls: None,
            fail_resource_files: None,
            dashboard_actions: false,
        }
    }

    /// Cross-field checks, with a message for the user.
    pub fn validate(&self) -> Result<(), String> {
        use base64::Engine;
        if !batch_model::ids::is_valid_id(&self.account) || self.account.contains('_') {
            return Err(format!("--account {:?}: an account name is letters, digits and hyphens", self.account));
        }
        if base64::engine::general_purpose::STANDARD.decode(self.key.trim()).is_err() {
            return Err("--key must be base64".into());
        }
        batch_client::storage::StorageAccount::from_connection_string(&self.auto_storage).map_err(|e| format!("--auto-storage: {e}"))?;
        if let Some(s) = self.throttle_status {
            crate::faults::Throttle::new(s, self.throttle_share, None, None, 1).validate().map_err(|e| format!("--throttle-status/--throttle-share: {e}"))?;
        }
        if self.cert.is_some() != self.cert_key.is_some() {
            return Err("--cert and --cert-key go together (HTTPS needs both)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loopback_8080_and_the_dev_account() {
        let c = EmulatorConfig::parse_from(["batch-emulator"]);
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.account, DEV_ACCOUNT_NAME);
        assert!(c.validate().is_ok());
        assert!(!c.loose);
    }

    #[test]
    fn a_bad_key_is_refused_at_startup() {
        let c = EmulatorConfig::parse_from(["batch-emulator", "--key", "not base64!"]);
        assert!(c.validate().is_err());
    }
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}
