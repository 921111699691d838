//! The emulator's own container image: built with no network from the built binary
//! (`fixtures/images/build-emulator-image.sh`, the offline twin of the Dockerfile), run as a
//! non-root user with the host's Docker socket and the data directory bind-mounted at the same
//! path, it serves the API and runs a process task and a container task end to end. Needs a
//! Docker engine; fails loudly without one.

mod common;

use batch_client::{BatchClient, Credentials};
use batch_emulator::config::{DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME};
use common::*;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const TAG: &str = "batch-emulator-fixture/emulator:test";

struct Running {
    id: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        // SIGTERM first: the emulator removes its task containers and node networks.
        let _ = Command::new("docker").args(["stop", "-t", "20", &self.id]).output();
        let _ = Command::new("docker").args(["rm", "-f", &self.id]).output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn the_image_runs_process_and_container_tasks_with_the_hosts_engine() {
    ensure_fixture_images();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/images/build-emulator-image.sh");
    let out = Command::new("bash").args([script, env!("CARGO_BIN_EXE_batch-emulator"), TAG]).output().expect("run build-emulator-image.sh");
    assert!(out.status.success(), "building the emulator image (is a Docker engine running?): {}", String::from_utf8_lossy(&out.stderr));

    // The data directory: the same path inside and out, writable by the image's user.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let data = data.display().to_string();
    let gid = std::fs::metadata("/var/run/docker.sock").map(|m| std::os::unix::fs::MetadataExt::gid(&m)).expect("the Docker socket");
    let port = free_port();
    let out = Command::new("docker")
        .args(["run", "-d", "--network", "host", "--group-add", &gid.to_string()])
        .args(["-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", &format!("{data}:{data}")])
        .args([TAG, "--addr", &format!("127.0.0.1:{port}"), "--data-dir", &data, "--inter-node-network", "10.199.230.0/24"])
        .output()
        .unwrap();
    assert!(out.status.success(), "docker run: {}", String::from_utf8_lossy(&out.stderr));
    let running = Running { id: String::from_utf8_lossy(&out.stdout).trim().to_string() };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let logs = Command::new("docker").args(["logs", &running.id]).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&logs.stdout), String::from_utf8_lossy(&logs.stderr));
        if text.contains("batch-emulator ready") {
            assert!(text.contains("Docker Engine"), "the emulator in the image reaches the engine: {text}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no readiness line: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let whoami = Command::new("docker").args(["exec", &running.id, "id", "-u"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&whoami.stdout).trim(), "10001", "the emulator runs as a non-root user");

    let c = BatchClient::new(&format!("http://127.0.0.1:{port}"), Credentials::SharedKey { account: DEV_ACCOUNT_NAME.into(), key: DEV_ACCOUNT_KEY.into() });
    // A process task runs inside the emulator's container.
    c.create_pool(&pool_spec("procs", 1, 1, "spread")).await.unwrap();
    c.create_job(&job_spec("jp", "procs")).await.unwrap();
    c.create_task("jp", &task_spec("t", "/bin/sh -c 'echo process on $AZ_BATCH_POOL_ID'")).await.unwrap();
    let t = c.wait_for_task("jp", "t", |s| s == "completed", Duration::from_secs(60)).await.unwrap();
    assert_eq!(t.execution_info.unwrap().exit_code, Some(0));
    assert_eq!(c.get_task_file("jp", "t", "stdout.txt").await.unwrap(), b"process on procs\n");
    // A container task runs on the host's engine, its node directories mounted by their path.
    let mut spec = pool_spec("boxes", 1, 1, "spread");
    spec.virtual_machine_configuration.as_mut().unwrap().container_configuration =
        Some(serde_json::from_value(json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/plain:1"]})).unwrap());
    c.create_pool(&spec).await.unwrap();
    c.create_job(&job_spec("jc", "boxes")).await.unwrap();
    let task = serde_json::from_value(json!({"id": "t", "commandLine": "sh -c 'echo container in $PWD > out.txt; cat out.txt'",
        "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm"}}))
    .unwrap();
    c.create_task("jc", &task).await.unwrap();
    let t = c.wait_for_task("jc", "t", |s| s == "completed", Duration::from_secs(60)).await.unwrap();
    assert_eq!(t.execution_info.clone().unwrap().exit_code, Some(0), "{t:?}");
    let stdout = String::from_utf8(c.get_task_file("jc", "t", "stdout.txt").await.unwrap()).unwrap();
    assert!(stdout.starts_with(&format!("container in {data}/")), "{stdout}");
    // What the container wrote is in the task's directory on the host, at the same path.
    assert_eq!(String::from_utf8(c.get_task_file("jc", "t", "wd/out.txt").await.unwrap()).unwrap(), stdout);
    drop(running);
}

/// The Testcontainers module (`batch_client::testcontainers`, feature `testcontainers`) starts
/// the image, waits for its readiness line and hands back a client: on a published port (a
/// process pool), and with the host's engine (a container task).
#[tokio::test]
async fn the_testcontainers_module_starts_the_image_and_hands_back_a_client() {
    ensure_fixture_images();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/images/build-emulator-image.sh");
    let tag = "testcontainers";
    let out = Command::new("bash").args([script, env!("CARGO_BIN_EXE_batch-emulator"), &format!("batch-emulator-fixture/emulator:{tag}")]).output().unwrap();
    assert!(out.status.success(), "building the emulator image: {}", String::from_utf8_lossy(&out.stderr));
    use batch_client::testcontainers::BatchEmulator;

    let emu = BatchEmulator::new("batch-emulator-fixture/emulator", tag).start().await.expect("the container starts");
    emu.client.create_pool(&pool_spec("p", 1, 1, "spread")).await.unwrap();
    emu.client.create_job(&job_spec("j", "p")).await.unwrap();
    emu.client.create_task("j", &task_spec("t", "/bin/sh -c 'echo via testcontainers'")).await.unwrap();
    let t = emu.client.wait_for_task("j", "t", |s| s == "completed", Duration::from_secs(60)).await.unwrap();
    assert_eq!(t.execution_info.unwrap().exit_code, Some(0));
    assert_eq!(emu.client.get_task_file("j", "t", "stdout.txt").await.unwrap(), b"via testcontainers\n");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let gid = std::fs::metadata("/var/run/docker.sock").map(|m| std::os::unix::fs::MetadataExt::gid(&m)).expect("the Docker socket");
    let emu = BatchEmulator::new("batch-emulator-fixture/emulator", tag)
        .with_docker(data.display().to_string(), gid, free_port())
        .start()
        .await
        .expect("the container starts with the engine");
    let mut spec = pool_spec("boxes", 1, 1, "spread");
    spec.virtual_machine_configuration.as_mut().unwrap().container_configuration =
        Some(serde_json::from_value(json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/plain:1"]})).unwrap());
    emu.client.create_pool(&spec).await.unwrap();
    emu.client.create_job(&job_spec("jc", "boxes")).await.unwrap();
    let task = serde_json::from_value(json!({"id": "t", "commandLine": "sh -c 'echo in a container'",
        "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm"}}))
    .unwrap();
    emu.client.create_task("jc", &task).await.unwrap();
    let t = emu.client.wait_for_task("jc", "t", |s| s == "completed", Duration::from_secs(60)).await.unwrap();
    assert_eq!(t.execution_info.unwrap().exit_code, Some(0));
    assert_eq!(emu.client.get_task_file("jc", "t", "stdout.txt").await.unwrap(), b"in a container\n");
    // Stopped gracefully, so the emulator removes its task containers and networks.
    let _ = emu.container.stop().await;
}
