//! The node agent: carries out the domain's effects (make node directories, fetch container
//! images, run tasks as processes or containers, kill them, remove directories and containers)
//! and reports back to the domain as commands. It knows the disk, processes and the container
//! engine; the domain knows Batch.

pub mod app_packages;
pub mod container;
pub mod docker_create;
pub mod environment;
pub mod metrics;
pub mod output_files;
pub mod process;
mod procfs;
pub mod resource_files;
pub mod timers;

use crate::node_logs::NodeLog;
use crate::state::AppState;
use batch_client::models::{BatchNodeError, ContainerConfiguration, ContainerInfo, FailureInfo, NameValuePair};
use batch_model::{Command, Effect, Launch, LaunchKind, TaskOutcome};
use container::{credentials_for, ContainerEnd, ContainerFailure, ContainerRuntime, RegistryCredentials};
use docker_create::{plan_container, ContainerTaskInput};
use process::{ProcessExit, ProcessRunner, ProcessSpec};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

type Kills = Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>>;
/// Port forwarders per node, stopped when the node goes.
type Forwards = Arc<Mutex<HashMap<String, Vec<tokio::task::AbortHandle>>>>;
/// Nodes whose address network ([`batch_model::node::NodeNetwork`]) is known to exist.
/// Held while one is made, so a launch and a reconnect never make the same network twice.
type Networks = Arc<tokio::sync::Mutex<std::collections::HashSet<String>>>;

fn stop_forwards(forwards: &Forwards, node_id: &str) {
    if let Some(handles) = forwards.lock().unwrap_or_else(|e| e.into_inner()).remove(node_id) {
        for h in handles {
            h.abort();
        }
    }
}

/// Forwards TCP connections from `127.0.0.1:frontend` to `node_ip:backend`; backend port 22
/// (SSH) reaches the node's own SSH endpoint (`crate::ssh`).
/// UNCONFIRMED: udp endpoints are reported but not forwarded.
async fn forward(state: AppState, node_id: String, frontend: u16, node_ip: String, backend: u16) {
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", frontend)).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(frontend, error = %e, "cannot listen on an inbound endpoint's frontend port");
            return;
        }
    };
    while let Ok((mut inbound, _)) = listener.accept().await {
        let port = match backend {
            22 => match crate::ssh::endpoint_of_node(&state, &node_id, &node_ip).await {
                Ok(p) => p,
                Err(_) => continue,
            },
            other => other,
        };
        let target = format!("{node_ip}:{port}");
        tokio::spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// How tasks run: local processes, and containers when an engine is reachable (else why not).
#[derive(Clone)]
pub struct Runtimes {
    pub processes: Arc<dyn ProcessRunner>,
    pub containers: Result<Arc<dyn ContainerRuntime>, String>,
}

/// Container labels: every container the emulator creates carries them, so terminate, delete
/// and a restarted emulator find exactly their own.
pub mod labels {
    pub const INSTANCE: &str = "batch-emulator.instance";
    pub const POOL: &str = "batch-emulator.pool";
    pub const NODE: &str = "batch-emulator.node";
    pub const JOB: &str = "batch-emulator.job";
    pub const TASK: &str = "batch-emulator.task";
}

/// Runs until the effect channel closes.
pub async fn run(state: AppState, mut rx: mpsc::UnboundedReceiver<Effect>, runtimes: Runtimes) {
    let timeout = std::time::Duration::from_secs(state.config().storage_timeout);
    let blob = crate::blob::BlobClient::new(std::time::Duration::from_secs(10), timeout);
    let agent = Agent { state, runtimes, kills: Arc::default(), forwards: Arc::default(), networks: Arc::default(), blob };
    while let Some(effect) = rx.recv().await {
        agent.handle(effect);
    }
}

/// The agent's own bookkeeping: how to stop each run in flight, and each node's port forwards.
struct Agent {
    state: AppState,
    runtimes: Runtimes,
    kills: Kills,
    forwards: Forwards,
    networks: Networks,
    /// The storage data path (resource files).
    blob: crate::blob::BlobClient,
}

impl Agent {
    /// Carries out one effect: bookkeeping at once, work that waits on the disk, a process or
    /// the engine in a task of its own. Every effect ends with `effect_done`.
    fn handle(&self, effect: Effect) {
        let (st, rt) = (self.state.clone(), self.runtimes.clone());
        match effect {
            Effect::Launch(launch) => self.launch(*launch),
            Effect::KillTask { run_id } => {
                if let Some(tx) = self.kills.lock().unwrap_or_else(|e| e.into_inner()).remove(&run_id) {
                    let _ = tx.send(());
                }
                st.effect_done();
            }
            Effect::ForwardPorts { node_id, node_ip, endpoints } => {
                stop_forwards(&self.forwards, &node_id);
                let handles = endpoints
                    .into_iter()
                    .filter(|e| e.protocol == "tcp")
                    .map(|e| tokio::spawn(forward(st.clone(), node_id.clone(), e.frontend_port, node_ip.clone(), e.backend_port)).abort_handle())
                    .collect();
                self.forwards.lock().unwrap_or_else(|e| e.into_inner()).insert(node_id, handles);
                st.effect_done();
            }
            Effect::At { when, timer } => {
                // A timer, not work in progress: it does not keep the agent busy.
                st.timers().at(when, timer);
                st.effect_done();
            }
            Effect::ProvisionNode { pool_id, node_id, containers, network } => {
                let networks = self.networks.clone();
                self.spawn(async move { provision_node(&st, &pool_id, &node_id, containers, network, &rt, &networks).await })
            }
            Effect::ConnectNode { pool_id, node_id, address } => {
                let networks = self.networks.clone();
                self.spawn(async move {
                    if let Err(e) = ensure_node_network(&st, &rt, &networks, &pool_id, &node_id, &address).await {
                        tracing::warn!(node = %node_id, error = ?e.error_details, "cannot make the node's network again");
                    }
                })
            }
            Effect::RestartNode { pool_id, node_id, reimage, containers } => self.spawn(restart_node(st, rt, pool_id, node_id, reimage, containers)),
            Effect::RemoveNode { pool_id, node_id } => {
                stop_forwards(&self.forwards, &node_id);
                let networks = self.networks.clone();
                self.spawn(async move {
                    networks.lock().await.remove(&node_id);
                    remove_node(st, rt, pool_id, node_id).await
                });
            }
            Effect::DeleteTaskDirectory { node_id, job_id, task_id, .. } => self.spawn(delete_task_directory(st, rt, node_id, job_id, task_id)),
            Effect::DeleteJob { job_id, nodes } => self.spawn(delete_job(st, rt, job_id, nodes)),
            Effect::FinishJobTransition { job_id } => self.spawn(async move {
                let _ = st.execute(Command::FinishJobTransition { job_id });
            }),
            Effect::DeletePool { pool_id, nodes } => {
                for n in &nodes {
                    stop_forwards(&self.forwards, n);
                }
                let networks = self.networks.clone();
                self.spawn(async move {
                    networks.lock().await.retain(|n| !nodes.contains(n));
                    delete_pool(st, rt, pool_id, nodes).await
                });
            }
        }
    }

    /// Runs `work` in a task of its own, then marks the effect done.
    fn spawn(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        let st = self.state.clone();
        tokio::spawn(async move {
            work.await;
            st.effect_done();
        });
    }

    /// Runs one attempt; a [`Effect::KillTask`] for its run id stops it.
    fn launch(&self, launch: Launch) {
        let (tx, krx) = oneshot::channel();
        self.kills.lock().unwrap_or_else(|e| e.into_inner()).insert(launch.run_id, tx);
        let (st, rt, kills, blob, networks) = (self.state.clone(), self.runtimes.clone(), self.kills.clone(), self.blob.clone(), self.networks.clone());
        self.spawn(async move {
            let run_id = launch.run_id;
            if batch_model::node::is_network_address(&launch.node_ip) {
                // After a restart the node's network is made again; a launch may come first.
                if let Err(e) = ensure_node_network(&st, &rt, &networks, &launch.pool_id, &launch.node_id, &launch.node_ip).await {
                    tracing::warn!(node = %launch.node_id, error = ?e.message, "cannot make the node's network");
                }
            }
            run_task(&st, launch, krx, &rt, &blob).await;
            kills.lock().unwrap_or_else(|e| e.into_inner()).remove(&run_id);
        });
    }
}

/// Reboots or reimages a node (a reimage is a fresh disk: the node's directories and kept
/// containers go), then makes sure of its pool's images as every container node does on start.
async fn restart_node(st: AppState, rt: Runtimes, pool_id: String, node_id: String, reimage: bool, containers: Option<ContainerConfiguration>) {
    if reimage {
        remove_containers(&st, &rt, vec![(labels::NODE.into(), node_id.clone())]).await;
        remove_dir(st.layout().node_dir(&node_id)).await;
        make_node_dirs(&st, &node_id).await;
    }
    note(&st, &node_id, NodeLog::Agent, if reimage { "node reimaged: disk wiped, restarting" } else { "node rebooted" });
    let _ = st.execute(Command::NodeRestarted { pool_id: pool_id.clone(), node_id: node_id.clone() });
    let fetched = match containers {
        Some(cc) => prefetch_images(&st, &pool_id, &node_id, cc, &rt).await,
        None => true,
    };
    if fetched {
        note(&st, &node_id, NodeLog::Agent, "node ready");
        let _ = st.execute(Command::NodeReady { pool_id, node_id });
    }
}

/// Removes a node that left its pool: its containers and its directory tree.
async fn remove_node(st: AppState, rt: Runtimes, pool_id: String, node_id: String) {
    remove_containers(&st, &rt, vec![(labels::NODE.into(), node_id.clone())]).await;
    remove_networks(&st, &rt, vec![(labels::NODE.into(), node_id.clone())]).await;
    remove_dir(st.layout().node_dir(&node_id)).await;
    let _ = st.execute(Command::NodeRemoved { pool_id, node_id });
}

/// Removes a task's directory and kept container (retention, delete task).
async fn delete_task_directory(st: AppState, rt: Runtimes, node_id: String, job_id: String, task_id: String) {
    remove_containers(&st, &rt, vec![(labels::JOB.into(), job_id.clone()), (labels::TASK.into(), task_id.clone())]).await;
    remove_dir(st.layout().task_dir(&node_id, &job_id, &task_id)).await;
}

/// Removes a deleted job's containers and its directory on each node it ran on.
async fn delete_job(st: AppState, rt: Runtimes, job_id: String, nodes: Vec<(String, String)>) {
    remove_containers(&st, &rt, vec![(labels::JOB.into(), job_id.clone())]).await;
    for (_, node_id) in &nodes {
        remove_dir(st.layout().job_dir(node_id, &job_id)).await;
    }
    let _ = st.execute(Command::FinishJobDeletion { job_id });
}

/// Removes a deleted pool's containers and nodes.
async fn delete_pool(st: AppState, rt: Runtimes, pool_id: String, nodes: Vec<String>) {
    remove_containers(&st, &rt, vec![(labels::POOL.into(), pool_id.clone())]).await;
    remove_networks(&st, &rt, vec![(labels::POOL.into(), pool_id.clone())]).await;
    for node_id in &nodes {
        remove_dir(st.layout().node_dir(node_id)).await;
    }
    let _ = st.execute(Command::FinishPoolDeletion { pool_id });
}

/// Removes one container (by the instance and node labels it carries, through the runtime).
async fn remove_container_by_id(engine: &Arc<dyn ContainerRuntime>, id: &str) {
    engine.remove(id).await;
}

/// Removes this emulator's containers that carry the given labels.
async fn remove_containers(state: &AppState, rt: &Runtimes, mut selector: Vec<(String, String)>) {
    if let Ok(c) = &rt.containers {
        selector.push((labels::INSTANCE.into(), state.instance_id()));
        c.remove_labelled(selector).await;
    }
}

/// Removes this emulator's node networks that carry the given labels.
async fn remove_networks(state: &AppState, rt: &Runtimes, mut selector: Vec<(String, String)>) {
    if let Ok(c) = &rt.containers {
        selector.push((labels::INSTANCE.into(), state.instance_id()));
        c.remove_networks(selector).await;
    }
}

/// Makes a node's address real ([`batch_model::node::NodeNetwork`]): a Docker network of its
/// own whose gateway is the address, named and labelled after the instance, pool and node.
/// Returns the node error to report when it cannot be made.
async fn ensure_node_network(state: &AppState, rt: &Runtimes, networks: &Networks, pool_id: &str, node_id: &str, address: &str) -> Result<(), BatchNodeError> {
    let mut made = networks.lock().await;
    if made.contains(node_id) {
        return Ok(());
    }
    // UNCONFIRMED: emulator-specific node errors (a real node always has its network).
    let error = |why: String| BatchNodeError {
        code: Some("NodeNetworkUnavailable".into()),
        message: Some(format!(
            "batch-emulator could not give the node its address {address} (a Docker network on this machine); choose a free range with --inter-node-network"
        )),
        error_details: vec![detail("Message", why)],
    };
    let engine = rt.containers.as_ref().map_err(|why| error(why.clone()))?;
    let gateway: std::net::Ipv4Addr = address.parse().map_err(|e: std::net::AddrParseError| error(e.to_string()))?;
    let name = format!("batch-emulator-{}-{node_id}", state.instance_id());
    let labels = vec![
        (labels::INSTANCE.to_string(), state.instance_id()),
        (labels::POOL.to_string(), pool_id.to_string()),
        (labels::NODE.to_string(), node_id.to_string()),
    ];
    engine.ensure_network(name, gateway, labels).await.map_err(error)?;
    note(state, node_id, NodeLog::Agent, &format!("node address {address} ready (a Docker network of its own)"));
    made.insert(node_id.to_string());
    Ok(())
}

async fn remove_dir(path: PathBuf) {
    if let Err(e) = tokio::fs::remove_dir_all(&path).await {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove directory");
        }
    }
}

fn detail(name: &str, value: impl Into<String>) -> NameValuePair {
    NameValuePair { name: Some(name.into()), value: Some(value.into()) }
}

/// The registries a pool or task names, as credentials.
fn registries(values: impl IntoIterator<Item = serde_json::Value>) -> Vec<RegistryCredentials> {
    values
        .into_iter()
        .map(|r| RegistryCredentials {
            server: r.get("registryServer").and_then(|v| v.as_str()).unwrap_or("docker.io").to_string(),
            username: r.get("username").and_then(|v| v.as_str()).map(String::from),
            password: r.get("password").and_then(|v| v.as_str()).map(String::from),
        })
        .collect()
}

/// `creating`: make the node's directory tree; `starting`: fetch the pool's container images
/// (a failure makes the node `unusable` with a node error, as the service does); then `idle`.
async fn provision_node(
    state: &AppState,
    pool_id: &str,
    node_id: &str,
    containers: Option<ContainerConfiguration>,
    network: Option<String>,
    rt: &Runtimes,
    networks: &Networks,
) {
    make_node_dirs(state, node_id).await;
    note(state, node_id, NodeLog::Agent, &format!("node {node_id} of pool {pool_id} allocated; directories created"));
    let _ = state.execute(Command::NodeProvisioned { pool_id: pool_id.into(), node_id: node_id.into() });
    if let Some(address) = network {
        if let Err(e) = ensure_node_network(state, rt, networks, pool_id, node_id, &address).await {
            let _ = state.execute(Command::NodeUnusable { pool_id: pool_id.into(), node_id: node_id.into(), errors: vec![e] });
            return;
        }
    }
    if let Some(cc) = containers {
        if !prefetch_images(state, pool_id, node_id, cc, rt).await {
            return;
        }
    }
    note(state, node_id, NodeLog::Agent, "node ready");
    let _ = state.execute(Command::NodeReady { pool_id: pool_id.into(), node_id: node_id.into() });
}

/// One line in a node's own logs (`crate::node_logs`).
fn note(state: &AppState, node_id: &str, log: NodeLog, message: &str) {
    crate::node_logs::note(state.layout(), node_id, log, state.now(), message);
}

async fn make_node_dirs(state: &AppState, node_id: &str) {
    for dir in state.layout().node_skeleton(node_id) {
        if let Err(e) = tokio::fs::create_dir_all(&dir).await {
            tracing::error!(node_id, error = %e, "cannot create node directory");
        }
    }
}

/// Removes what one emulator instance left on the container engine (containers kept after
/// their task, node networks): on shutdown, since tasks do not outlive the emulator (the
/// journal reruns them on the next start, and makes the networks again).
pub async fn remove_instance(engine: &dyn ContainerRuntime, instance: &str) {
    let label = vec![(labels::INSTANCE.to_string(), instance.to_string())];
    engine.remove_labelled(label.clone()).await;
    engine.remove_networks(label).await;
}

/// What a launch runs, in a word (for the dashboard's node activity).
fn kind_name(kind: LaunchKind) -> &'static str {
    match kind {
        LaunchKind::Task => "task",
        LaunchKind::StartTask => "start task",
        LaunchKind::JobPreparation => "job preparation task",
        LaunchKind::JobRelease => "job release task",
    }
}

/// Makes sure of an image for a node (an injected fault fails it first), the pull's progress
/// shown as the node's activity on the dashboard.
async fn pull_image(
    state: &AppState,
    engine: &Arc<dyn ContainerRuntime>,
    node_id: &str,
    image: &str,
    creds: Option<RegistryCredentials>,
) -> Result<(), String> {
    if let Some(message) = state.faults().take_image_pull_failure() {
        return Err(message);
    }
    let (st, node, img) = (state.clone(), node_id.to_string(), image.to_string());
    let progress: container::Progress = Arc::new(move |line: &str| st.activity().set(&node, format!("pulling image {img}: {line}")));
    state.activity().set(node_id, format!("pulling image {image}"));
    let r = engine.ensure_image(image, creds, progress).await;
    state.activity().clear(node_id);
    r
}

/// Fetches a container pool's images onto a node; on failure the node is reported `unusable`
/// with the reason, and `false` is returned.
async fn prefetch_images(state: &AppState, pool_id: &str, node_id: &str, cc: ContainerConfiguration, rt: &Runtimes) -> bool {
    let unusable = |errors: Vec<BatchNodeError>| state.execute(Command::NodeUnusable { pool_id: pool_id.into(), node_id: node_id.into(), errors });
    let engine = match &rt.containers {
        Ok(e) => e.clone(),
        Err(why) => {
            // UNCONFIRMED: an emulator-specific node error (a real node always has its engine).
            let _ = unusable(vec![BatchNodeError {
                code: Some("ContainerEngineUnavailable".into()),
                message: Some("The node has no container engine: batch-emulator could not reach Docker when it started.".into()),
                error_details: vec![detail("Message", why.clone())],
            }]);
            return false;
        }
    };
    let regs = registries(cc.container_registries.clone().unwrap_or_default());
    for image in cc.container_image_names.iter().flatten() {
        if let Err(message) = pull_image(state, &engine, node_id, image, credentials_for(image, &regs)).await {
            let _ = unusable(vec![BatchNodeError {
                code: Some("ContainerInvalidImage".into()),
                message: Some("One or more container images specified are invalid".into()),
                error_details: vec![detail("ContainerImage", image.clone()), detail("Message", message)],
            }]);
            return false;
        }
    }
    true
}

fn failure(category: &str, code: &str, message: &str, details: Vec<NameValuePair>) -> FailureInfo {
    FailureInfo { category: category.into(), code: Some(code.into()), message: Some(message.into()), details }
}

/// The container user of a task: "Batch maps the user/group permission to the container"
/// (node-and-container-semantics.md §1.2): an admin auto-user runs as root; a non-admin
/// identity runs as the user that owns the node's directories here, the emulator's own.
/// UNCONFIRMED: the exact flag the agent uses.
fn container_user(launch: &Launch) -> String {
    match &launch.user {
        Ok(u) if u.admin => "0:0".into(),
        Ok(batch_model::users::TaskUser { uid_gid: Some((uid, gid)), .. }) => format!("{uid}:{gid}"),
        _ => format!("{}:{}", nix::unistd::getuid(), nix::unistd::getgid()),
    }
}

/// A failed pull: `ContainerInvalidRegistry` when credentials for the image's registry were
/// given and the registry itself failed (unreachable, refused the login), else
/// `ContainerInvalidImage`. UNCONFIRMED: the service's exact split (node-and-container-semantics.md §1.5).
fn pull_failure(image: &str, creds: Option<&RegistryCredentials>, message: String) -> FailureInfo {
    let lower = message.to_ascii_lowercase();
    let registry_failed = ["unauthorized", "authentication required", "denied", "no such host", "connection refused", "dial tcp", "timeout", "x509"]
        .iter()
        .any(|m| lower.contains(m));
    match creds {
        Some(c) if registry_failed => failure(
            "usererror",
            "ContainerInvalidRegistry",
            "The specified container registry was invalid",
            vec![detail("ContainerRegistry", c.server.clone()), detail("ContainerImage", image), detail("Message", message)],
        ),
        _ => failure(
            "usererror",
            "ContainerInvalidImage",
            "One or more container images specified are invalid",
            vec![detail("ContainerImage", image), detail("Message", message)],
        ),
    }
}

fn invalid_settings(message: impl Into<String>) -> FailureInfo {
    failure("usererror", "ContainerInvalidSettings", "At least one value of specified task container settings is invalid", vec![detail("Message", message)])
}

/// Runs one attempt of a task and reports how it ended.
async fn run_task(state: &AppState, mut launch: Launch, mut kill: oneshot::Receiver<()>, rt: &Runtimes, blob: &crate::blob::BlobClient) {
    let layout = state.layout();
    let task_dir = layout.launch_dir(&launch);
    let wd = task_dir.join("wd");
    let start = state.now();
    note(
        state,
        &launch.node_id,
        NodeLog::TaskRunner,
        &format!(
            "run {}: {:?} {}/{} starting ({} resource file entries, {} packages)",
            launch.run_id,
            launch.kind,
            launch.job_id,
            launch.task_id,
            launch.resource_files.len(),
            launch.application_packages.len()
        ),
    );
    if launch.is_retry {
        // The working directory is cleaned before a retry on the same node (§5.4).
        remove_dir(wd.clone()).await;
    }
    // The primary's application command writes after its coordination command's output.
    let keeps_output = launch.multi_instance.as_ref().is_some_and(|m| !m.coordination);
    let prepared = async {
        tokio::fs::create_dir_all(&wd).await?;
        tokio::fs::create_dir_all(task_dir.join("certs")).await?;
        if keeps_output {
            return Ok(());
        }
        tokio::fs::write(task_dir.join("stdout.txt"), b"").await?;
        tokio::fs::write(task_dir.join("stderr.txt"), b"").await
    }
    .await;
    let failed =
        |f: FailureInfo, container_info: Option<ContainerInfo>| Some(TaskOutcome::FailedToStart { failure: f, start, end: state.now(), container_info });
    let outcome = if let Err(why) = &launch.user {
        // UNCONFIRMED: the code for a task whose named user the pool does not have (no
        // documented code; the launch fails before the command line runs).
        failed(failure("usererror", "CommandLaunchFailed", "Failed to launch the specified command line.", vec![detail("Message", why.clone())]), None)
    } else if let Err(e) = prepared {
        failed(
            failure("servererror", "ResourceDirectoryCreateFailed", "Failure encountered creating resource directory", vec![detail("Message", e.to_string())]),
            None,
        )
    } else if let Err(f) = prepare_node_files(state, &mut launch, &wd, &mut kill, blob).await {
        match f {
            Some(f) => failed(f, None),
            // Killed while downloading: the domain already moved the task on.
            None => return,
        }
    } else {
        match (&launch.container_settings, &launch.pool_containers) {
            (Some(_), Some(_)) => run_container_task(state, &launch, kill, rt, start).await,
            // UNCONFIRMED: the code for a container task on a pool without containers, and for a
            // plain task on a container pool ("Container-enabled compute node requires task
            // container settings", node-and-container-semantics.md §1.1).
            (Some(_), None) => failed(invalid_settings("The pool is not container-enabled: it has no containerConfiguration."), None),
            // A start task without container settings runs on the host of a container node.
            // Start, preparation and release tasks without container settings run on the host
            // of a container node (node-and-container-semantics.md §1.1).
            (None, Some(_)) if launch.kind != LaunchKind::Task => run_process_task(state, &launch, kill, rt, start).await,
            (None, Some(_)) => failed(invalid_settings("Container-enabled compute node requires task container settings"), None),
            (None, None) => run_process_task(state, &launch, kill, rt, start).await,
        }
    };
    let outcome = match outcome {
        Some(o) if !launch.output_files.is_empty() => Some(upload_output_files(state, &launch, o, blob).await),
        o => o,
    };
    let ended = match &outcome {
        Some(TaskOutcome::Exited { exit_code, .. }) => format!("exited with code {exit_code}"),
        Some(TaskOutcome::UploadFailed { exit_code, failure, .. }) => {
            format!("exited with code {exit_code}; output upload failed: {}", failure.code.as_deref().unwrap_or_default())
        }
        Some(TaskOutcome::FailedToStart { failure, .. }) => format!("did not start: {}", failure.code.as_deref().unwrap_or_default()),
        Some(TaskOutcome::TimedOut { .. }) => "stopped at its maximum wall clock time".into(),
        None => "stopped (terminated, deleted or requeued)".into(),
    };
    note(state, &launch.node_id, NodeLog::TaskRunner, &format!("run {}: {ended}", launch.run_id));
    if let Some(outcome) = outcome {
        let _ = state.execute(Command::TaskExited { run_id: launch.run_id, outcome });
    }
}

/// Uploads the launch's output files after its command exited (an attempt that never ran
/// uploads nothing, and writes no upload logs); an upload that fails turns the outcome into
/// [`TaskOutcome::UploadFailed`]. UNCONFIRMED: a timed-out attempt uploads as a failure and keeps
/// its timeout failure.
async fn upload_output_files(state: &AppState, launch: &Launch, outcome: TaskOutcome, blob: &crate::blob::BlobClient) -> TaskOutcome {
    let succeeded = match &outcome {
        TaskOutcome::Exited { exit_code, .. } => *exit_code == 0,
        TaskOutcome::TimedOut { .. } => false,
        _ => return outcome,
    };
    let layout = state.layout();
    let task_dir = layout.launch_dir(launch);
    let url = state.public_url();
    let account = environment::AccountInfo { name: &state.config().account, url: &url, key: state.account_key() };
    let env = environment::task_environment(launch, layout, &account);
    let uploaded = output_files::upload(blob, &launch.output_files, &task_dir, &task_dir.join("wd"), &env, succeeded).await;
    match (uploaded, outcome) {
        (Err(failure), TaskOutcome::Exited { exit_code, start, container_info, .. }) => {
            TaskOutcome::UploadFailed { exit_code, failure, container_info, start, end: state.now() }
        }
        (Ok(()), TaskOutcome::Exited { exit_code, start, container_info, .. }) => TaskOutcome::Exited { exit_code, start, end: state.now(), container_info },
        (_, o) => o,
    }
}

/// Installs the launch's application packages (their variables join its environment) and
/// downloads its resource files into `wd`, after telling the domain the task is `running`
/// ("running starts when resource files / app packages … start downloading", §5.4).
/// `Err(None)`: a kill came first.
async fn prepare_node_files(
    state: &AppState,
    launch: &mut Launch,
    wd: &std::path::Path,
    kill: &mut oneshot::Receiver<()>,
    blob: &crate::blob::BlobClient,
) -> Result<(), Option<FailureInfo>> {
    if launch.resource_files.is_empty() && launch.application_packages.is_empty() {
        return Ok(());
    }
    if launch.kind == LaunchKind::Task {
        let _ = state.execute(Command::TaskStarted { run_id: launch.run_id, start: state.now() });
    }
    let root = state.layout().root(&launch.node_id);
    let work = async {
        let env = app_packages::install(state.config().app_packages.as_deref(), &launch.application_packages, &root).await?;
        // A multi-instance task's common resource files go to the task directory, one above
        // the working directory (MultiInstanceSettings.commonResourceFiles).
        let into = if launch.multi_instance.as_ref().is_some_and(|m| m.coordination) { wd.parent().unwrap_or(wd) } else { wd };
        if let Some((status, message)) = state.faults().take_resource_file_failure().filter(|_| !launch.resource_files.is_empty()) {
            return Err(resource_files::injected_failure(status, message));
        }
        let what = format!("{} {}/{}", kind_name(launch.kind), launch.job_id, launch.task_id);
        let started = std::time::Instant::now();
        // The node's activity on the dashboard; progress lines in the log once it takes long.
        let progress = |p: resource_files::DownloadProgress| {
            if p.files == 0 {
                return;
            }
            let mib = p.bytes as f64 / (1024.0 * 1024.0);
            state.activity().set(&launch.node_id, format!("downloading resource files for {what}: {} of {} files, {mib:.1} MiB", p.files_done, p.files));
            let seconds = started.elapsed().as_secs_f64();
            if seconds >= 2.0 {
                tracing::info!(node = %launch.node_id, task = %what, files_done = p.files_done, files = p.files, mib, seconds, "downloading resource files");
            } else if p.files_done == p.files {
                tracing::debug!(node = %launch.node_id, task = %what, files = p.files, mib, seconds, "resource files downloaded");
            }
        };
        let downloaded = resource_files::download(blob, &launch.resource_files, into, &state.config().auto_storage, state.now(), progress).await;
        state.activity().clear(&launch.node_id);
        downloaded?;
        Ok::<_, FailureInfo>(env)
    };
    let env = tokio::select! {
        r = work => r.map_err(Some)?,
        _ = kill => return Err(None),
    };
    launch.environment.extend(env);
    Ok(())
}

/// Tells the domain that a task's process or container has started (it turns `running`), when
/// the runner says so; start, preparation and release tasks keep their own `running` from launch.
async fn report_started(state: &AppState, launch: &Launch, started: oneshot::Receiver<()>) {
    if started.await.is_ok() && launch.kind == LaunchKind::Task {
        let _ = state.execute(Command::TaskStarted { run_id: launch.run_id, start: state.now() });
    }
}

async fn run_process_task(state: &AppState, launch: &Launch, kill: oneshot::Receiver<()>, rt: &Runtimes, start: time::OffsetDateTime) -> Option<TaskOutcome> {
    let layout = state.layout();
    let task_dir = layout.launch_dir(launch);
    let launch_failed = |m: &str| failure("usererror", "CommandLaunchFailed", "Failed to launch the specified command line.", vec![detail("Message", m)]);
    let Some(argv) = shlex::split(&launch.command_line).filter(|a| !a.is_empty()) else {
        return Some(TaskOutcome::FailedToStart {
            failure: launch_failed("The command line could not be split into arguments (unbalanced quotes)."),
            start,
            end: state.now(),
            container_info: None,
        });
    };
    let url = state.public_url();
    let account = environment::AccountInfo { name: &state.config().account, url: &url, key: state.account_key() };
    let env = environment::task_environment(launch, layout, &account);
    let spec = ProcessSpec {
        argv,
        env,
        cwd: task_dir.join("wd"),
        stdout: task_dir.join("stdout.txt"),
        stderr: task_dir.join("stderr.txt"),
        timeout: launch.max_wall_clock_time.map(|d| d.to_std()),
        usage: Default::default(),
    };
    let usage = spec.usage.clone();
    let (started, on_start) = oneshot::channel();
    let (exit, ()) = tokio::join!(rt.processes.run(spec, kill, started), report_started(state, launch, on_start));
    let end = state.now();
    // What it used, before its exit is reported (the domain adds it to the task's statistics).
    let measured = *usage.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(usage) = measured {
        let _ = state.execute(Command::TaskUsage { run_id: launch.run_id, usage });
    }
    match exit {
        ProcessExit::Exited(code) => Some(TaskOutcome::Exited { exit_code: code, start, end, container_info: None }),
        ProcessExit::NotFound => Some(TaskOutcome::FailedToStart {
            failure: failure("usererror", "CommandProgramNotFound", "The specified command program is not found.", Vec::new()),
            start,
            end,
            container_info: None,
        }),
        ProcessExit::LaunchFailed(msg) => Some(TaskOutcome::FailedToStart { failure: launch_failed(&msg), start, end, container_info: None }),
        // The domain already moved the task on (terminate, delete, requeue).
        ProcessExit::Killed => None,
        ProcessExit::TimedOut(code) => Some(TaskOutcome::TimedOut { exit_code: code, start, end, container_info: None }),
    }
}

async fn run_container_task(state: &AppState, launch: &Launch, kill: oneshot::Receiver<()>, rt: &Runtimes, start: time::OffsetDateTime) -> Option<TaskOutcome> {
    let (Some(cs), Some(pool)) = (&launch.container_settings, &launch.pool_containers) else { return None };
    let failed = |f: FailureInfo, info: Option<ContainerInfo>| Some(TaskOutcome::FailedToStart { failure: f, start, end: state.now(), container_info: info });
    let engine = match &rt.containers {
        Ok(e) => e.clone(),
        Err(why) => {
            return failed(
                failure(
                    "servererror",
                    "ContainerMiscError",
                    "There was an unknown error encountered while attempting to run a Task in a container.",
                    vec![detail("Message", why.clone())],
                ),
                None,
            )
        }
    };
    let layout = state.layout();
    let root = layout.root(&launch.node_id);
    let task_dir = layout.launch_dir(launch);
    let url = state.public_url();
    let account = environment::AccountInfo { name: &state.config().account, url: &url, key: state.account_key() };
    let env = environment::container_environment(launch, layout, &account);
    let labels = vec![
        (labels::INSTANCE.to_string(), state.instance_id()),
        (labels::POOL.to_string(), launch.pool_id.clone()),
        (labels::NODE.to_string(), launch.node_id.clone()),
        (labels::JOB.to_string(), launch.job_id.clone()),
        (labels::TASK.to_string(), if launch.kind == LaunchKind::StartTask { "starttask".to_string() } else { launch.task_id.clone() }),
    ];
    let plan = match plan_container(&ContainerTaskInput {
        image: &cs.image_name,
        command_line: &launch.command_line,
        run_options: cs.container_run_options.as_deref(),
        working_directory: cs.working_directory.as_deref(),
        bind_mounts: cs.container_host_batch_bind_mounts.as_ref(),
        env: &env,
        node_root: &root,
        task_dir: &task_dir,
        node_ip: &launch.node_ip,
        labels: &labels,
        user: Some(&container_user(launch)),
    }) {
        Ok(p) => p,
        Err(e) => return failed(invalid_settings(e.to_string()), None),
    };
    // The task's own registry first, then the pool's.
    let mut regs = registries(cs.registry.clone());
    regs.extend(registries(pool.container_registries.clone().unwrap_or_default()));
    let creds = credentials_for(&cs.image_name, &regs);
    if let Err(message) = pull_image(state, &engine, &launch.node_id, &cs.image_name, creds.clone()).await {
        return failed(pull_failure(&cs.image_name, creds.as_ref(), message), None);
    }
    let (started, on_start) = oneshot::channel();
    let (run, ()) = tokio::join!(
        engine.run(plan, task_dir.join("stdout.txt"), task_dir.join("stderr.txt"), kill, launch.max_wall_clock_time.map(|d| d.to_std()), started),
        report_started(state, launch, on_start)
    );
    if let Some(usage) = run.usage {
        let _ = state.execute(Command::TaskUsage { run_id: launch.run_id, usage });
    }
    // The task, its job or its pool may have been deleted while the container was being
    // created: the label sweep of that deletion can have run before the container existed.
    let gone = state.read(|a| {
        let pool_gone = a.pool(&launch.pool_id).map_or(true, |p| p.state != batch_model::pool::PoolState::Active);
        let task_gone = launch.kind == LaunchKind::Task && a.task(&launch.job_id, &launch.task_id).is_err();
        pool_gone || task_gone || a.job(&launch.job_id).is_ok_and(|j| j.state == batch_model::job::JobState::Deleting)
    });
    if gone {
        if let Some(id) = &run.container_id {
            remove_container_by_id(&engine, id).await;
        }
    }
    let end = state.now();
    let info = |state: &str, error: Option<String>| Some(ContainerInfo { container_id: run.container_id.clone(), state: Some(state.into()), error });
    match run.result.clone() {
        Ok(ContainerEnd::Exited(code)) => Some(TaskOutcome::Exited { exit_code: code as i32, start, end, container_info: info("exited", None) }),
        Ok(ContainerEnd::Killed) => None,
        Ok(ContainerEnd::TimedOut(code)) => Some(TaskOutcome::TimedOut { exit_code: code.map(|c| c as i32), start, end, container_info: info("exited", None) }),
        Err(f @ (ContainerFailure::Create(_) | ContainerFailure::Start(_))) => {
            let message = match &f {
                ContainerFailure::Create(m) | ContainerFailure::Start(m) | ContainerFailure::Wait(m) => m.clone(),
            };
            let state_name = if matches!(f, ContainerFailure::Create(_)) { "failed" } else { "created" };
            Some(TaskOutcome::FailedToStart { failure: invalid_settings(message.clone()), start, end, container_info: info(state_name, Some(message)) })
        }
        Err(ContainerFailure::Wait(m)) => Some(TaskOutcome::FailedToStart {
            failure: failure(
                "servererror",
                "ContainerMiscError",
                "There was an unknown error encountered while attempting to run a Task in a container.",
                vec![detail("Message", m.clone())],
            ),
            start,
            end,
            container_info: info("unknown", Some(m)),
        }),
    }
}
