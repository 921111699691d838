//! Starting batch-emulator's container image from a Rust test (feature `testcontainers`):
//!
//! ```no_run
//! # async fn demo() -> Result<(), testcontainers::TestcontainersError> {
//! let emu = batch_client::testcontainers::BatchEmulator::new("batch-emulator", "latest").start().await?;
//! let pool = emu.client.get_pool("my-pool").await;
//! # Ok(()) }
//! ```
//!
//! The container is waited for until its readiness line and removed when the value is dropped.
//! By default the API port is published on a free host port and process pools work; with
//! [`BatchEmulator::with_docker`] the emulator also gets the host's Docker engine for container
//! tasks (host network, the socket, and a data directory mounted at the same path inside and
//! out, as the host's engine mounts node directories by their host path).

use crate::{BatchClient, Credentials, DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME};
use testcontainers::core::{IntoContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt, TestcontainersError};

/// How to start the image.
pub struct BatchEmulator {
    name: String,
    tag: String,
    docker: Option<DockerAccess>,
}

struct DockerAccess {
    data_dir: String,
    socket_gid: u32,
    port: u16,
}

/// A running emulator container and a client configured for it.
pub struct RunningBatchEmulator {
    pub client: BatchClient,
    pub url: String,
    pub container: ContainerAsync<GenericImage>,
}

impl BatchEmulator {
    pub fn new(name: impl Into<String>, tag: impl Into<String>) -> Self {
        Self { name: name.into(), tag: tag.into(), docker: None }
    }

    /// Gives the emulator the host's Docker engine for container tasks: host network (it
    /// serves on `127.0.0.1:port`), the socket (with its group `socket_gid`), and `data_dir`
    /// mounted at the same path (writable by the image's user, uid 10001).
    pub fn with_docker(mut self, data_dir: impl Into<String>, socket_gid: u32, port: u16) -> Self {
        self.docker = Some(DockerAccess { data_dir: data_dir.into(), socket_gid, port });
        self
    }

    /// Starts the container, waits for its readiness line, and configures a client.
    pub async fn start(self) -> Result<RunningBatchEmulator, TestcontainersError> {
        let image = GenericImage::new(self.name, self.tag).with_wait_for(WaitFor::message_on_stdout("batch-emulator ready"));
        match self.docker {
            None => {
                let container = image.with_exposed_port(8080.tcp()).with_cmd(["--addr", "0.0.0.0:8080"]).start().await?;
                let port = container.get_host_port_ipv4(8080.tcp()).await?;
                Ok(Self::running(container, format!("http://127.0.0.1:{port}")))
            }
            Some(d) => {
                let gid = d.socket_gid.to_string();
                let container = image
                    .with_cmd(["--addr".to_string(), format!("127.0.0.1:{}", d.port), "--data-dir".to_string(), d.data_dir.clone()])
                    .with_network("host")
                    .with_mount(Mount::bind_mount("/var/run/docker.sock", "/var/run/docker.sock"))
                    .with_mount(Mount::bind_mount(d.data_dir.clone(), d.data_dir.clone()))
                    .with_host_config_modifier(move |hc| hc.group_add = Some(vec![gid.clone()]))
                    .start()
                    .await?;
                Ok(Self::running(container, format!("http://127.0.0.1:{}", d.port)))
            }
        }
    }

    fn running(container: ContainerAsync<GenericImage>, url: String) -> RunningBatchEmulator {
        let client = BatchClient::new(&url, Credentials::SharedKey { account: DEV_ACCOUNT_NAME.into(), key: DEV_ACCOUNT_KEY.into() });
        RunningBatchEmulator { client, url, container }
    }
}
