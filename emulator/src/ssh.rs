//! Remote login (REST "Get Remote Login Settings"): each node has an SSH endpoint of its own,
//! on the node's address, started the first time its settings are asked for. The node's users
//! (`create_node_user`) log in with their password or SSH key until their `expiryTime`; a
//! session runs `/bin/sh` (a command, or an interactive shell without a terminal) in the
//! node's root directory, with the node's `AZ_BATCH_*` variables, as the emulator's own OS
//! user (as every process task does). The host key is made once per data directory.

use crate::state::AppState;
use russh::keys::{Algorithm, PrivateKey, PublicKey};
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// The running endpoints of every emulator in this process: (instance, node id) → port.
static PORTS: std::sync::LazyLock<Mutex<HashMap<(String, String), u16>>> = std::sync::LazyLock::new(Default::default);
/// The server configuration (host key) of each instance.
static CONFIGS: std::sync::LazyLock<Mutex<HashMap<String, Arc<russh::server::Config>>>> = std::sync::LazyLock::new(Default::default);

/// The host key of this data directory's nodes (`ssh_host_ed25519_key`, made on first use).
fn host_key(state: &AppState) -> Result<PrivateKey, String> {
    let path = state.config().data_dir.join("ssh_host_ed25519_key");
    if let Ok(pem) = std::fs::read_to_string(&path) {
        return PrivateKey::from_openssh(pem).map_err(|e| format!("{}: {e}", path.display()));
    }
    let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).map_err(|e| e.to_string())?;
    let pem = key.to_openssh(russh::keys::ssh_key::LineEnding::LF).map_err(|e| e.to_string())?;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(&mut f, pem.as_bytes()).map_err(|e| e.to_string())?;
    Ok(key)
}

fn server_config(state: &AppState) -> Result<Arc<russh::server::Config>, String> {
    let mut configs = CONFIGS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = configs.get(&state.instance_id()) {
        return Ok(c.clone());
    }
    let config = Arc::new(russh::server::Config {
        keys: vec![host_key(state)?],
        auth_rejection_time: std::time::Duration::from_millis(200),
        auth_rejection_time_initial: Some(std::time::Duration::ZERO),
        inactivity_timeout: Some(std::time::Duration::from_secs(3600)),
        ..Default::default()
    });
    configs.insert(state.instance_id(), config.clone());
    Ok(config)
}

/// The port of the node's SSH endpoint on its address, started now if it is not running.
pub async fn endpoint(state: &AppState, pool_id: &str, node_id: &str, address: &str) -> Result<u16, String> {
    let key = (state.instance_id(), node_id.to_string());
    if let Some(p) = PORTS.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(*p);
    }
    let config = server_config(state)?;
    let listener = tokio::net::TcpListener::bind((address, 0)).await.map_err(|e| format!("{address}: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    {
        let mut ports = PORTS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = ports.get(&key) {
            // Started meanwhile by a concurrent request: this listener is dropped.
            return Ok(*p);
        }
        ports.insert(key, port);
    }
    tokio::spawn(serve(state.clone(), pool_id.to_string(), node_id.to_string(), listener, config));
    Ok(port)
}

/// The port of a node's SSH endpoint, its pool looked up (an inbound NAT pool's frontend port
/// for backend port 22 forwards here).
pub async fn endpoint_of_node(state: &AppState, node_id: &str, address: &str) -> Result<u16, String> {
    let pool_id = state.read(|a| a.pools.values().find(|p| p.nodes.contains_key(node_id)).map(|p| p.spec.id.clone())).ok_or("the node is gone")?;
    endpoint(state, &pool_id, node_id, address).await
}

/// Accepts sessions until the node is gone.
async fn serve(state: AppState, pool_id: String, node_id: String, listener: tokio::net::TcpListener, config: Arc<russh::server::Config>) {
    while let Ok((stream, _)) = listener.accept().await {
        if node_user_names(&state, &pool_id, &node_id).is_none() {
            break;
        }
        let handler = NodeSession { state: state.clone(), pool_id: pool_id.clone(), node_id: node_id.clone(), user: None, stdin: HashMap::new() };
        let config = config.clone();
        tokio::spawn(async move {
            if let Ok(session) = russh::server::run_stream(config, stream, handler).await {
                let _ = session.await;
            }
        });
    }
    PORTS.lock().unwrap_or_else(|e| e.into_inner()).remove(&(state.instance_id(), node_id));
}

/// The node's users, or `None` when the node is gone.
fn node_user_names(state: &AppState, pool_id: &str, node_id: &str) -> Option<Vec<String>> {
    state.read(|a| a.pool(pool_id).ok().and_then(|p| p.nodes.get(node_id)).map(|n| n.users.keys().cloned().collect()))
}

/// A user of the node who has not expired.
fn node_user(state: &AppState, pool_id: &str, node_id: &str, name: &str) -> Option<batch_model::node::NodeUser> {
    let now = state.now();
    state.read(|a| {
        let node = a.pool(pool_id).ok()?.nodes.get(node_id)?;
        node.users.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, u)| u.clone()).filter(|u| u.expiry_time > now)
    })
}

/// One SSH connection to a node.
struct NodeSession {
    state: AppState,
    pool_id: String,
    node_id: String,
    user: Option<String>,
    /// Where a channel's input goes (its process's stdin).
    stdin: HashMap<ChannelId, mpsc::UnboundedSender<Vec<u8>>>,
}

impl NodeSession {
    fn key_matches(&self, user: &str, key: &PublicKey) -> bool {
        node_user(&self.state, &self.pool_id, &self.node_id, user)
            .and_then(|u| u.ssh_public_key)
            .and_then(|k| PublicKey::from_openssh(&k).ok())
            .is_some_and(|k| k.key_data() == key.key_data())
    }

    /// Runs `/bin/sh` with `args` for a channel: its output goes to the channel, the channel's
    /// data to its input, and its exit status ends the channel.
    fn start(&mut self, channel: ChannelId, args: Vec<String>, session: &mut Session) -> Result<(), russh::Error> {
        let layout = self.state.layout();
        let root = layout.root(&self.node_id);
        let user = self.user.clone().unwrap_or_default();
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.args(&args)
            .current_dir(&root)
            .env("HOME", &root)
            .env("USER", &user)
            .env("LOGNAME", &user)
            .env("AZ_BATCH_POOL_ID", &self.pool_id)
            .env("AZ_BATCH_NODE_ID", &self.node_id)
            .env("AZ_BATCH_NODE_ROOT_DIR", &root)
            .env("AZ_BATCH_NODE_SHARED_DIR", root.join("shared"))
            .env("AZ_BATCH_NODE_STARTUP_DIR", root.join("startup"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(_) => return session.channel_failure(channel),
        };
        session.channel_success(channel)?;
        let handle = session.handle();
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        self.stdin.insert(channel, tx);
        let mut stdin = child.stdin.take();
        tokio::spawn(async move {
            while let Some(data) = rx.recv().await {
                if let Some(s) = stdin.as_mut() {
                    if s.write_all(&data).await.is_err() {
                        break;
                    }
                }
            }
        });
        let (out, err) = (child.stdout.take(), child.stderr.take());
        tokio::spawn(async move {
            // stdout as channel data, stderr as extended data (type 1).
            tokio::join!(pump(out, &handle, channel, None), pump(err, &handle, channel, Some(1)));
            let code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(255);
            let _ = handle.exit_status_request(channel, code as u32).await;
            let _ = handle.eof(channel).await;
            let _ = handle.close(channel).await;
        });
        Ok(())
    }
}

/// Copies a process's output to a channel: as data, or as extended data of type `ext`.
async fn pump(mut from: Option<impl tokio::io::AsyncRead + Unpin>, handle: &russh::server::Handle, channel: ChannelId, ext: Option<u32>) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Some(r) = from.as_mut() {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let chunk = buf[..n].to_vec();
                let _ = match ext {
                    Some(e) => handle.extended_data(channel, e, chunk).await,
                    None => handle.data(channel, chunk).await,
                };
            }
        }
    }
}

impl russh::server::Handler for NodeSession {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        use subtle::ConstantTimeEq;
        let ok = node_user(&self.state, &self.pool_id, &self.node_id, user)
            .and_then(|u| u.password)
            .is_some_and(|p| p.len() == password.len() && bool::from(p.as_bytes().ct_eq(password.as_bytes())));
        if ok {
            self.user = Some(user.to_string());
            return Ok(Auth::Accept);
        }
        Ok(Auth::reject())
    }

    async fn auth_publickey_offered(&mut self, user: &str, offer: PublicKeyOffer<'_>) -> Result<Auth, Self::Error> {
        Ok(if self.key_matches(user, offer.public_key) { Auth::Accept } else { Auth::reject() })
    }

    async fn auth_publickey(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        if self.key_matches(user, key.public_key) {
            self.user = Some(user.to_string());
            return Ok(Auth::Accept);
        }
        Ok(Auth::reject())
    }

    async fn channel_open_session(&mut self, _channel: Channel<Msg>, reply: ChannelOpenHandle, _session: &mut Session) -> Result<(), Self::Error> {
        reply.accept().await;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // No terminal is emulated: the shell runs on pipes (the request is not refused, so
        // `ssh` without `-T` still connects).
        session.channel_success(channel)
    }

    async fn env_request(&mut self, channel: ChannelId, _name: &str, _value: &str, session: &mut Session) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        self.start(channel, vec!["-i".into()], session)
    }

    async fn exec_request(&mut self, channel: ChannelId, data: &[u8], session: &mut Session) -> Result<(), Self::Error> {
        self.start(channel, vec!["-c".into(), String::from_utf8_lossy(data).into_owned()], session)
    }

    async fn data(&mut self, channel: ChannelId, data: &[u8], _session: &mut Session) -> Result<(), Self::Error> {
        if let Some(tx) = self.stdin.get(&channel) {
            let _ = tx.send(data.to_vec());
        }
        Ok(())
    }

    async fn channel_eof(&mut self, channel: ChannelId, _session: &mut Session) -> Result<(), Self::Error> {
        // The input ends: the process's stdin is closed.
        self.stdin.remove(&channel);
        Ok(())
    }
}
