//! Running containers, behind a trait so the scheduler can be tested without Docker.
//! [`DockerRuntime`] is the thin bollard adapter: version negotiated, one error per Engine call,
//! output streamed into `stdout.txt`/`stderr.txt` while the container runs.

use super::docker_create::ContainerPlan;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, CreateImageOptions, InspectNetworkOptions, KillContainerOptions, ListContainersOptions,
    ListNetworksOptions, LogsOptions, RemoveContainerOptions, StartContainerOptions, StatsOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures::future::BoxFuture;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

/// Credentials for a registry (from the pool's `containerRegistries` or the task's `registry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    pub server: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerEnd {
    Exited(i64),
    Killed,
    TimedOut(Option<i64>),
}

/// A failed Engine call, with the engine's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerFailure {
    #[error("create container: {0}")]
    Create(String),
    #[error("start container: {0}")]
    Start(String),
    #[error("wait for container: {0}")]
    Wait(String),
}

/// The result of running one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRun {
    pub container_id: Option<String>,
    pub result: Result<ContainerEnd, ContainerFailure>,
    /// What it used, from the engine's last statistics sample before it ended (a container
    /// that ends within the engine's first sample reports none).
    pub usage: Option<batch_model::stats::Usage>,
}

/// Hears a long piece of work's progress (`"Downloading 12.5MB/40MB"`).
pub type Progress = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// What the node agent needs from a container engine.
pub trait ContainerRuntime: Send + Sync + 'static {
    /// `Docker Engine 20.10.24 (API 1.41)`, for the banner.
    fn describe(&self) -> String;
    /// Makes sure the image is on this machine: present, or pulled with the credentials
    /// (`progress` hears how a pull goes, a line at a time).
    fn ensure_image(&self, image: &str, credentials: Option<RegistryCredentials>, progress: Progress) -> BoxFuture<'static, Result<(), String>>;
    /// Creates, starts and waits for a container; `auto_remove` removes it afterwards.
    /// `started` is sent once the engine has started the container.
    fn run(
        &self,
        plan: ContainerPlan,
        stdout: PathBuf,
        stderr: PathBuf,
        kill: oneshot::Receiver<()>,
        timeout: Option<Duration>,
        started: oneshot::Sender<()>,
    ) -> BoxFuture<'static, ContainerRun>;
    /// Removes (forcibly) every container carrying all of these labels.
    fn remove_labelled(&self, labels: Vec<(String, String)>) -> BoxFuture<'static, ()>;
    /// Removes (forcibly) one container.
    fn remove(&self, id: &str) -> BoxFuture<'static, ()>;
    /// Makes sure a bridge network `name` exists whose gateway is `gateway` (on a `/30`): the
    /// engine puts that address on this machine, where host processes and containers on any
    /// network reach it. An existing network of that name is kept.
    fn ensure_network(&self, name: String, gateway: std::net::Ipv4Addr, labels: Vec<(String, String)>) -> BoxFuture<'static, Result<(), String>>;
    /// Removes every network carrying all of these labels (after their containers).
    fn remove_networks(&self, labels: Vec<(String, String)>) -> BoxFuture<'static, ()>;
}

/// The Docker Engine, through bollard.
pub struct DockerRuntime {
    docker: Docker,
    description: String,
}

fn engine_message(e: bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message,
        other => other.to_string(),
    }
}

impl DockerRuntime {
    /// Connects to the local engine (`DOCKER_HOST` or the default socket) and negotiates the API
    /// version.
    pub async fn connect() -> Result<Self, String> {
        let docker = Docker::connect_with_local_defaults().map_err(engine_message)?;
        let docker = docker.negotiate_version().await.map_err(engine_message)?;
        let v = docker.version().await.map_err(engine_message)?;
        let description = format!("Docker Engine {} (API {})", v.version.unwrap_or_default(), docker.client_version());
        Ok(Self { docker, description })
    }
}

/// Which credentials apply to an image: the registry is the part before the first `/` when it
/// looks like a host (has a `.` or `:` or is `localhost`); otherwise Docker Hub.
pub fn credentials_for(image: &str, registries: &[RegistryCredentials]) -> Option<RegistryCredentials> {
    let host = match image.split_once('/') {
        Some((h, _)) if h.contains('.') || h.contains(':') || h == "localhost" => h,
        _ => "docker.io",
    };
    registries.iter().find(|r| r.server.trim_end_matches('/').eq_ignore_ascii_case(host) || (host == "docker.io" && r.server.contains("docker.io"))).cloned()
}

async fn pump(mut output: std::pin::Pin<Box<dyn futures::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>, stdout: PathBuf, stderr: PathBuf) {
    let open = |p: PathBuf| async move { tokio::fs::OpenOptions::new().create(true).append(true).open(p).await };
    let (Ok(mut out), Ok(mut err)) = (open(stdout).await, open(stderr).await) else { return };
    while let Some(Ok(chunk)) = output.next().await {
        let _ = match chunk {
            LogOutput::StdOut { message } | LogOutput::Console { message } => out.write_all(&message).await,
            LogOutput::StdErr { message } => err.write_all(&message).await,
            LogOutput::StdIn { .. } => Ok(()),
        };
    }
    let _ = out.flush().await;
    let _ = err.flush().await;
}

/// What a statistics sample says the container used so far (CPU in nanoseconds, block I/O
/// by operation). `None` for a sample without CPU figures (the engine's first, or a stopped
/// container's empty one).
fn usage_of(s: &bollard::models::ContainerStatsResponse) -> Option<batch_model::stats::Usage> {
    let cpu = s.cpu_stats.as_ref()?.cpu_usage.as_ref()?;
    let (user, kernel) = (cpu.usage_in_usermode?, cpu.usage_in_kernelmode.unwrap_or(0));
    let sum = |entries: Option<&Vec<bollard::models::ContainerBlkioStatEntry>>, op: &str| {
        entries.into_iter().flatten().filter(|e| e.op.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(op))).filter_map(|e| e.value).sum::<u64>()
    };
    let blkio = s.blkio_stats.as_ref();
    let bytes = blkio.and_then(|b| b.io_service_bytes_recursive.as_ref());
    let ops = blkio.and_then(|b| b.io_serviced_recursive.as_ref());
    Some(batch_model::stats::Usage {
        user_cpu_ms: user / 1_000_000,
        kernel_cpu_ms: kernel / 1_000_000,
        read_ops: sum(ops, "read"),
        write_ops: sum(ops, "write"),
        read_bytes: sum(bytes, "read"),
        write_bytes: sum(bytes, "write"),
    })
}

/// Removes another emulator instance's node network on `subnet` when no container of that node
/// exists (two emulators running at once need ranges of their own: an idle node of the other
/// one loses its address); true when one was removed.
async fn remove_abandoned_node_network(docker: &Docker, subnet: &str, ours: Option<&str>) -> bool {
    let filters: HashMap<String, Vec<String>> = HashMap::from([("label".to_string(), vec![super::labels::INSTANCE.to_string()])]);
    let Ok(list) = docker.list_networks(Some(ListNetworksOptions { filters: Some(filters) })).await else {
        return false;
    };
    for n in list {
        let on_subnet = n.ipam.as_ref().and_then(|i| i.config.as_ref()).is_some_and(|c| c.iter().any(|c| c.subnet.as_deref() == Some(subnet)));
        let instance = n.labels.as_ref().and_then(|l| l.get(super::labels::INSTANCE)).map(String::as_str);
        let (Some(id), true) = (n.id, on_subnet && instance != ours) else { continue };
        // Containers use a node's address without joining its network: the node is in use
        // while a container of that node exists.
        let node = n.labels.as_ref().and_then(|l| l.get(super::labels::NODE)).cloned().unwrap_or_default();
        let filters = HashMap::from([("label".to_string(), vec![format!("{}={node}", super::labels::NODE)])]);
        let used = docker
            .list_containers(Some(ListContainersOptions { all: true, filters: Some(filters), ..Default::default() }))
            .await
            .map_or(true, |c| !c.is_empty());
        if !used && docker.remove_network(&id).await.is_ok() {
            tracing::warn!(network = ?n.name, subnet, "removed a node network an earlier emulator left behind");
            return true;
        }
    }
    false
}

impl ContainerRuntime for DockerRuntime {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn ensure_image(&self, image: &str, credentials: Option<RegistryCredentials>, progress: Progress) -> BoxFuture<'static, Result<(), String>> {
        let docker = self.docker.clone();
        let image = image.to_string();
        Box::pin(async move {
            if docker.inspect_image(&image).await.is_ok() {
                // UNCONFIRMED: a present image is not pulled again, even `:latest` (§1.5).
                return Ok(());
            }
            let creds =
                credentials.map(|c| DockerCredentials { username: c.username, password: c.password, serveraddress: Some(c.server), ..Default::default() });
            let (from, tag) = match image.rsplit_once(':') {
                Some((f, t)) if !t.contains('/') => (f.to_string(), t.to_string()),
                _ => (image.clone(), "latest".to_string()),
            };
            let opts = CreateImageOptions { from_image: Some(from), tag: Some(tag), ..Default::default() };
            let started = std::time::Instant::now();
            tracing::info!(image = %image, "pulling an image");
            let mut pull = docker.create_image(Some(opts), None, creds);
            let (mut last_report, mut last_heard) = (started, started);
            while let Some(step) = pull.next().await {
                match step {
                    Err(e) => {
                        let message = engine_message(e);
                        tracing::warn!(image = %image, error = %message, "image pull failed");
                        return Err(message);
                    }
                    Ok(info) => {
                        let (status, detail) = (info.status.as_deref().unwrap_or(""), info.progress.as_deref().unwrap_or(""));
                        // Progress in the log at most every 5 seconds on a long pull; to
                        // `progress` (the dashboard) twice a second.
                        if last_report.elapsed() >= Duration::from_secs(5) {
                            last_report = std::time::Instant::now();
                            tracing::info!(image = %image, status, progress = detail, "pulling");
                        }
                        if last_heard.elapsed() >= Duration::from_millis(500) {
                            last_heard = std::time::Instant::now();
                            progress(format!("{status} {detail}").trim());
                        }
                    }
                }
            }
            tracing::info!(image = %image, seconds = started.elapsed().as_secs_f64(), "image pulled");
            docker.inspect_image(&image).await.map(|_| ()).map_err(engine_message)
        })
    }

    fn run(
        &self,
        plan: ContainerPlan,
        stdout: PathBuf,
        stderr: PathBuf,
        mut kill: oneshot::Receiver<()>,
        timeout: Option<Duration>,
        started: oneshot::Sender<()>,
    ) -> BoxFuture<'static, ContainerRun> {
        let docker = self.docker.clone();
        Box::pin(async move {
            // Stopped before it was created (terminate, delete): create nothing.
            if !matches!(kill.try_recv(), Err(oneshot::error::TryRecvError::Empty)) {
                return ContainerRun { container_id: None, result: Ok(ContainerEnd::Killed), usage: None };
            }
            let mut body = plan.body;
            // `--rm` is carried out here, after the exit code and the output are collected, so
            // nothing races the engine's own removal.
            let remove = body.host_config.as_mut().and_then(|h| h.auto_remove.take()).unwrap_or(false);
            let created = docker.create_container(Some(CreateContainerOptions { name: plan.name, platform: String::new() }), body).await;
            let id = match created {
                Ok(r) => r.id,
                Err(e) => return ContainerRun { container_id: None, result: Err(ContainerFailure::Create(engine_message(e))), usage: None },
            };
            let (stdout_path, stderr_path) = (stdout.clone(), stderr.clone());
            // Attached before the start, so the stream sees everything; replaying the log as
            // well (`logs`) can deliver output twice.
            let attach = AttachContainerOptions { stdout: true, stderr: true, stream: true, logs: false, ..Default::default() };
            let logs = match docker.attach_container(&id, Some(attach)).await {
                Ok(a) => Some(tokio::spawn(pump(a.output, stdout.clone(), stderr.clone()))),
                Err(e) => {
                    tracing::warn!(container = %id, error = %engine_message(e), "cannot attach to the container's output");
                    None
                }
            };
            let measured: std::sync::Arc<std::sync::Mutex<Option<batch_model::stats::Usage>>> = Default::default();
            let sampler: std::sync::Arc<std::sync::Mutex<Option<tokio::task::AbortHandle>>> = Default::default();
            let finish = |result: Result<ContainerEnd, ContainerFailure>| {
                let docker = docker.clone();
                let id = id.clone();
                let (measured, sampler) = (measured.clone(), sampler.clone());
                async move {
                    if let Some(s) = sampler.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        s.abort();
                    }
                    match logs {
                        Some(l) => {
                            let _ = tokio::time::timeout(Duration::from_secs(10), l).await;
                        }
                        // Attaching failed: collect what the container wrote from its log.
                        None => {
                            let opts = LogsOptions { stdout: true, stderr: true, follow: false, ..Default::default() };
                            pump(Box::pin(docker.logs(&id, Some(opts))), stdout_path, stderr_path).await;
                        }
                    }
                    if remove {
                        let _ = docker.remove_container(&id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
                    }
                    let usage = *measured.lock().unwrap_or_else(|e| e.into_inner());
                    ContainerRun { container_id: Some(id), result, usage }
                }
            };
            if !matches!(kill.try_recv(), Err(oneshot::error::TryRecvError::Empty)) {
                let _ = docker.remove_container(&id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
                return ContainerRun { container_id: Some(id), result: Ok(ContainerEnd::Killed), usage: None };
            }
            if let Err(e) = docker.start_container(&id, None::<StartContainerOptions>).await {
                return finish(Err(ContainerFailure::Start(engine_message(e)))).await;
            }
            let _ = started.send(());
            // The engine's statistics while it runs; the last sample is what it used.
            let stats = docker.stats(&id, Some(StatsOptions { stream: true, one_shot: false }));
            let store = measured.clone();
            let handle = tokio::spawn(async move {
                let mut stats = std::pin::pin!(stats);
                while let Some(Ok(s)) = stats.next().await {
                    if let Some(u) = usage_of(&s) {
                        *store.lock().unwrap_or_else(|e| e.into_inner()) = Some(u);
                    }
                }
            });
            *sampler.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle.abort_handle());
            let wait = async {
                match docker.wait_container(&id, None::<WaitContainerOptions>).next().await {
                    Some(Ok(r)) => Ok(r.status_code),
                    Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
                    Some(Err(e)) => Err(ContainerFailure::Wait(engine_message(e))),
                    None => Err(ContainerFailure::Wait("the engine closed the wait".into())),
                }
            };
            let sleep = async {
                match timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => futures::future::pending::<()>().await,
                }
            };
            let stop = |d: Docker, id: String| async move {
                let _ = d.kill_container(&id, Some(KillContainerOptions { signal: "SIGKILL".into() })).await;
            };
            let result = tokio::select! {
                w = wait => w.map(ContainerEnd::Exited),
                _ = kill => {
                    stop(docker.clone(), id.clone()).await;
                    Ok(ContainerEnd::Killed)
                }
                () = sleep => {
                    stop(docker.clone(), id.clone()).await;
                    let code = docker.wait_container(&id, None::<WaitContainerOptions>).next().await.and_then(|r| match r {
                        Ok(r) => Some(r.status_code),
                        Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => Some(code),
                        Err(_) => None,
                    });
                    Ok(ContainerEnd::TimedOut(code))
                }
            };
            finish(result).await
        })
    }

    fn remove(&self, id: &str) -> BoxFuture<'static, ()> {
        let docker = self.docker.clone();
        let id = id.to_string();
        Box::pin(async move {
            let _ = docker.remove_container(&id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
        })
    }

    fn ensure_network(&self, name: String, gateway: std::net::Ipv4Addr, labels: Vec<(String, String)>) -> BoxFuture<'static, Result<(), String>> {
        let docker = self.docker.clone();
        let instance = labels.iter().find(|(k, _)| k == super::labels::INSTANCE).map(|(_, v)| v.clone());
        Box::pin(async move {
            if docker.inspect_network(&name, None::<InspectNetworkOptions>).await.is_ok() {
                return Ok(());
            }
            let subnet = std::net::Ipv4Addr::from(u32::from(gateway) & !3);
            let request = NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                ipam: Some(Ipam {
                    config: Some(vec![IpamConfig { subnet: Some(format!("{subnet}/30")), gateway: Some(gateway.to_string()), ..Default::default() }]),
                    ..Default::default()
                }),
                labels: Some(labels.into_iter().collect()),
                ..Default::default()
            };
            let first = match docker.create_network(request.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) => engine_message(e),
            };
            // A node network left by an emulator that was killed (its data directory gone with
            // it) holds the range: one no container uses is taken back, once.
            let subnet = format!("{subnet}/30");
            if !first.contains("overlap") || !remove_abandoned_node_network(&docker, &subnet, instance.as_deref()).await {
                return Err(first);
            }
            docker.create_network(request).await.map(|_| ()).map_err(engine_message)
        })
    }

    fn remove_networks(&self, labels: Vec<(String, String)>) -> BoxFuture<'static, ()> {
        let docker = self.docker.clone();
        Box::pin(async move {
            let filters: HashMap<String, Vec<String>> = HashMap::from([("label".to_string(), labels.iter().map(|(k, v)| format!("{k}={v}")).collect())]);
            let Ok(list) = docker.list_networks(Some(ListNetworksOptions { filters: Some(filters) })).await else {
                return;
            };
            for n in list {
                if let Some(id) = n.id {
                    if let Err(e) = docker.remove_network(&id).await {
                        tracing::warn!(network = %id, error = %engine_message(e), "cannot remove a node network");
                    }
                }
            }
        })
    }

    fn remove_labelled(&self, labels: Vec<(String, String)>) -> BoxFuture<'static, ()> {
        let docker = self.docker.clone();
        Box::pin(async move {
            let filters: HashMap<String, Vec<String>> = HashMap::from([("label".to_string(), labels.iter().map(|(k, v)| format!("{k}={v}")).collect())]);
            let Ok(list) = docker.list_containers(Some(ListContainersOptions { all: true, filters: Some(filters), ..Default::default() })).await else {
                return;
            };
            for c in list {
                if let Some(id) = c.id {
                    let _ = docker.remove_container(&id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_credentials_are_matched_by_the_image_host() {
        let regs = vec![
            RegistryCredentials { server: "myregistry.azurecr.io".into(), username: Some("u".into()), password: Some("p".into()) },
            RegistryCredentials { server: "https://index.docker.io/v1/".into(), username: Some("hub".into()), password: None },
        ];
        assert_eq!(credentials_for("myregistry.azurecr.io/team/app:1", &regs).unwrap().username.as_deref(), Some("u"));
        assert_eq!(credentials_for("busybox", &regs).unwrap().username.as_deref(), Some("hub"));
        assert_eq!(credentials_for("localhost:5000/x", &regs), None);
    }
}
