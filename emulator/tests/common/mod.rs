//! Test helpers: an emulator started in-process on a free loopback port, and a signed client.
#![allow(dead_code)]

use batch_client::models::*;
use batch_client::{BatchClient, Credentials};
use batch_emulator::agent::container::{ContainerRuntime, DockerRuntime};
use batch_emulator::agent::process::{FakeProcessRunner, LocalProcessRunner, ProcessRunner};
use batch_emulator::agent::Runtimes;
use batch_emulator::clock::{Clock, SystemClock};
use batch_emulator::config::{EmulatorConfig, DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME};
use batch_emulator::server::{start, RunningEmulator};
use batch_emulator::state::AppState;
use std::sync::Arc;
use std::time::Duration;

pub struct TestEmulator {
    pub running: RunningEmulator,
    pub client: BatchClient,
    pub dir: tempfile::TempDir,
    /// Whether it has a container engine (and so may leave containers and networks).
    docker: bool,
}

/// Which process runner the emulator uses.
pub enum Runner {
    /// Scripted outcomes (`exit N`, `echo …`, `hang`, `missing`).
    Fake,
    /// Real processes.
    Local,
    /// The Docker engine for container tasks (fails loudly when none is reachable).
    Docker,
}

pub async fn emulator(runner: Runner) -> TestEmulator {
    emulator_with_clock(runner, Arc::new(SystemClock)).await
}

/// An emulator on the given clock (a [`ManualClock`](batch_emulator::clock::ManualClock) lets a
/// test move time instead of sleeping).
pub async fn emulator_with_clock(runner: Runner, clock: Arc<dyn Clock>) -> TestEmulator {
    emulator_configured(runner, clock, |_| {}).await
}

/// An emulator whose test configuration `configure` changes first.
pub async fn emulator_configured(runner: Runner, clock: Arc<dyn Clock>, configure: impl FnOnce(&mut EmulatorConfig)) -> TestEmulator {
    let docker = matches!(runner, Runner::Docker);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = EmulatorConfig::for_tests(dir.path().join("data"));
    configure(&mut config);
    let processes: Arc<dyn ProcessRunner> = match runner {
        Runner::Fake => Arc::new(FakeProcessRunner),
        Runner::Local | Runner::Docker => Arc::new(LocalProcessRunner::default()),
    };
    let containers: Result<Arc<dyn ContainerRuntime>, String> = match runner {
        Runner::Docker => {
            let d = DockerRuntime::connect()
                .await
                .unwrap_or_else(|e| panic!("these tests need a Docker engine and none is reachable ({e}); start one (see README, `.ci/run` does it)"));
            Ok(Arc::new(d))
        }
        _ => Err("this test runs without a container engine".into()),
    };
    let running = start(config, Runtimes { processes, containers }, clock).await.expect("emulator starts");
    let client = BatchClient::new(&running.url, Credentials::SharedKey { account: DEV_ACCOUNT_NAME.into(), key: DEV_ACCOUNT_KEY.into() });
    TestEmulator { running, client, dir, docker }
}

impl Drop for TestEmulator {
    /// A test's emulator goes away with its data dir: remove the containers it created (kept
    /// ones, those without `--rm`) and its node networks, as the binary does on shutdown, so no
    /// test run leaves them behind. (On a thread of its own: a drop cannot wait in the test's
    /// runtime.)
    fn drop(&mut self) {
        if !self.docker {
            return;
        }
        let instance = self.state().instance_id();
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok(engine) = DockerRuntime::connect().await {
                    batch_emulator::agent::remove_instance(&engine, &instance).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

impl TestEmulator {
    pub fn state(&self) -> &AppState {
        &self.running.state
    }

    /// Waits until the node agent has nothing in progress.
    pub async fn idle(&self) {
        tokio::time::timeout(Duration::from_secs(20), self.state().run_until_idle()).await.expect("agent became idle");
    }

    /// Creates a plain pool and waits until all its nodes are idle.
    pub async fn pool(&self, id: &str, nodes: i32, slots: i32, fill: &str) {
        self.client.create_pool(&pool_spec(id, nodes, slots, fill)).await.expect("create pool");
        self.idle().await;
        let ns = self.client.list_nodes(id).await.expect("list nodes");
        assert_eq!(ns.len(), nodes as usize);
        assert!(ns.iter().all(|n| n.state.as_deref() == Some("idle")), "{ns:?}");
    }

    pub async fn job(&self, id: &str, pool: &str) {
        self.client.create_job(&job_spec(id, pool)).await.expect("create job");
    }

    pub async fn task(&self, job: &str, id: &str, command_line: &str) {
        self.client.create_task(job, &task_spec(id, command_line)).await.expect("create task");
    }

    /// Waits for a task to reach `completed`.
    pub async fn completed(&self, job: &str, task: &str) -> BatchTask {
        self.client.wait_for_task(job, task, |s| s == "completed", Duration::from_secs(20)).await.expect("task completes")
    }
}

pub fn pool_spec(id: &str, nodes: i32, slots: i32, fill: &str) -> BatchPoolCreateOptions {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "vmSize": "standard_d2s_v3",
        "targetDedicatedNodes": nodes,
        "taskSlotsPerNode": slots,
        "taskSchedulingPolicy": {"nodeFillType": fill},
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts"},
            "nodeAgentSKUId": "batch.node.ubuntu 22.04"
        }
    }))
    .expect("pool spec")
}

pub fn job_spec(id: &str, pool: &str) -> BatchJobCreateOptions {
    serde_json::from_value(serde_json::json!({"id": id, "poolInfo": {"poolId": pool}})).expect("job spec")
}

pub fn task_spec(id: &str, command_line: &str) -> BatchTaskCreateOptions {
    serde_json::from_value(serde_json::json!({"id": id, "commandLine": command_line})).expect("task spec")
}

/// Waits (up to 20 s) until `cond` holds; the agent works asynchronously, so a task can be
/// `running` before its directory exists.
pub async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Asserts that a call failed with the given status and Batch error code.
pub fn assert_batch_error<T: std::fmt::Debug>(r: Result<T, batch_client::ApiError>, status: u16, code: &str) -> batch_client::ApiError {
    match r {
        Ok(v) => panic!("expected {status} {code}, got success {v:?}"),
        Err(e) => {
            assert_eq!(e.status().map(|s| s.as_u16()), Some(status), "{e}");
            assert_eq!(e.code(), Some(code), "{e}");
            e
        }
    }
}

static IMAGES: std::sync::Once = std::sync::Once::new();

/// Builds the fixture images once per test binary (`fixtures/images/build.sh`); fails loudly
/// when no Docker engine answers.
pub fn ensure_fixture_images() {
    IMAGES.call_once(|| {
        let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/images/build.sh");
        let out = std::process::Command::new("bash").arg(script).output().expect("run fixtures/images/build.sh");
        assert!(
            out.status.success(),
            "building fixture images failed (is a Docker engine running?):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}
