//! Container pools and container tasks on a real Docker engine, with Batch's `docker create`
//! rules. These tests need an engine and fail loudly without one (`.ci/run` starts dockerd);
//! images come from `fixtures/images/build.sh`, built locally.

mod common;

use batch_client::models::BatchTask;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

async fn container_emulator(pool: &str, nodes: i32, slots: i32) -> TestEmulator {
    container_emulator_on(pool, nodes, slots, std::sync::Arc::new(batch_emulator::clock::SystemClock)).await
}

async fn container_emulator_on(pool: &str, nodes: i32, slots: i32, clock: std::sync::Arc<dyn batch_emulator::clock::Clock>) -> TestEmulator {
    ensure_fixture_images();
    let emu = emulator_with_clock(Runner::Docker, clock).await;
    let mut spec = pool_spec(pool, nodes, slots, "spread");
    spec.virtual_machine_configuration.as_mut().unwrap().container_configuration = Some(
        serde_json::from_value(
            json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/plain:1", "batch-emulator-fixture/entrypoint:1"]}),
        )
        .unwrap(),
    );
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
    let ns = emu.client.list_nodes(pool).await.unwrap();
    assert!(ns.iter().all(|n| n.state.as_deref() == Some("idle")), "{ns:?}");
    emu.job("j", pool).await;
    emu
}

async fn container_task(emu: &TestEmulator, id: &str, image: &str, command_line: &str, settings: Value) -> BatchTask {
    let mut cs = json!({"imageName": image});
    if let Value::Object(extra) = settings {
        cs.as_object_mut().unwrap().extend(extra);
    }
    let task = serde_json::from_value(json!({"id": id, "commandLine": command_line, "containerSettings": cs})).unwrap();
    emu.client.create_task("j", &task).await.unwrap();
    emu.completed("j", id).await
}

async fn stdout(emu: &TestEmulator, task: &str) -> String {
    String::from_utf8(emu.client.get_task_file("j", task, "stdout.txt").await.unwrap()).unwrap()
}

fn exit_code(t: &BatchTask) -> Option<i32> {
    t.execution_info.as_ref().and_then(|i| i.exit_code)
}

fn failure_code(t: &BatchTask) -> Option<String> {
    t.execution_info.as_ref().and_then(|i| i.failure_info.as_ref()).and_then(|f| f.code.clone())
}

/// Waits until the engine runs the container of a task (the task turns `running` before its
/// container has started).
async fn wait_container_running(task: &str) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out =
            Command::new("docker").args(["ps", "-q", "--filter", &format!("label=batch-emulator.task={task}"), "--filter", "status=running"]).output().unwrap();
        if !out.stdout.is_empty() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the container of {task} never ran");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn docker_exists(id: &str) -> bool {
    Command::new("docker").args(["inspect", id]).output().map(|o| o.status.success()).unwrap_or(false)
}

#[tokio::test]
async fn container_task_keeps_image_entrypoint_when_no_entrypoint_option() {
    let emu = container_emulator("p", 1, 1).await;
    let t = container_task(&emu, "t", "batch-emulator-fixture/entrypoint:1", "hello 'two words'", json!({})).await;
    assert_eq!(exit_code(&t), Some(0), "{t:?}");
    assert_eq!(stdout(&emu, "t").await, "entrypoint-says hello two words\n");
    let info = t.execution_info.unwrap().container_info.unwrap();
    assert!(info.container_id.is_some());
    assert_eq!(info.state.as_deref(), Some("exited"));
}

#[tokio::test]
async fn entrypoint_option_replaces_the_image_entrypoint_and_empty_command_keeps_cmd() {
    let emu = container_emulator("p", 1, 2).await;
    let t =
        container_task(&emu, "ep", "batch-emulator-fixture/entrypoint:1", "-c 'echo replaced'", json!({"containerRunOptions": "--rm --entrypoint /bin/sh"}))
            .await;
    assert_eq!(exit_code(&t), Some(0), "{t:?}");
    assert_eq!(stdout(&emu, "ep").await, "replaced\n");
    let t = container_task(&emu, "cmd", "batch-emulator-fixture/cmd-only:1", "", json!({"containerRunOptions": "--rm"})).await;
    assert_eq!(stdout(&emu, "cmd").await, "cmd-says\n", "{t:?}");
}

#[tokio::test]
async fn workdir_is_the_task_working_directory_unless_told_otherwise() {
    let emu = container_emulator("p", 1, 1).await;
    let t = container_task(
        &emu,
        "wd",
        "batch-emulator-fixture/plain:1",
        "/bin/sh -c 'pwd; echo $AZ_BATCH_TASK_WORKING_DIR; echo made > made.txt'",
        json!({"containerRunOptions": "--rm"}),
    )
    .await;
    assert_eq!(exit_code(&t), Some(0), "{t:?}");
    let out = stdout(&emu, "wd").await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], lines[1], "the container starts in the task working directory");
    assert!(lines[0].ends_with("/workitems/j/job-1/wd/wd"), "{out}");
    // The node root is bind-mounted at the same path: what the container wrote is a task file.
    assert_eq!(emu.client.get_task_file("j", "wd", "wd/made.txt").await.unwrap(), b"made\n");
    // A relative ENTRYPOINT fails in the task working directory...
    let t = container_task(&emu, "rel", "batch-emulator-fixture/workdir:1", "a", json!({"containerRunOptions": "--rm"})).await;
    assert_eq!(failure_code(&t).as_deref(), Some("ContainerInvalidSettings"), "{t:?}");
    // ...and works with --workdir or containerImageDefault.
    let t = container_task(&emu, "w", "batch-emulator-fixture/workdir:1", "b", json!({"containerRunOptions": "--rm --workdir /app"})).await;
    assert_eq!(stdout(&emu, "w").await, "run.sh in /app args: b\n", "{t:?}");
    let t =
        container_task(&emu, "d", "batch-emulator-fixture/workdir:1", "c", json!({"workingDirectory": "containerImageDefault", "containerRunOptions": "--rm"}))
            .await;
    assert_eq!(stdout(&emu, "d").await, "run.sh in /app args: c\n", "{t:?}");
}

#[tokio::test]
async fn the_container_sees_task_and_batch_variables_and_its_exit_code_is_the_tasks() {
    let emu = container_emulator("p", 1, 1).await;
    let task = serde_json::from_value(json!({
        "id": "env", "commandLine": "/bin/sh -c 'echo $MY_SETTING $AZ_BATCH_TASK_ID $AZ_BATCH_JOB_ID $AZ_BATCH_POOL_ID; echo oops >&2; exit 7'",
        "environmentSettings": [{"name": "MY_SETTING", "value": "from-task"}],
        "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm -e EXTRA=1"}
    }))
    .unwrap();
    emu.client.create_task("j", &task).await.unwrap();
    let t = emu.completed("j", "env").await;
    assert_eq!(exit_code(&t), Some(7));
    assert_eq!(failure_code(&t).as_deref(), Some("FailureExitCode"));
    assert_eq!(stdout(&emu, "env").await, "from-task env j p\n");
    assert_eq!(emu.client.get_task_file("j", "env", "stderr.txt").await.unwrap(), b"oops\n");
}

#[tokio::test]
async fn rm_removes_the_container_and_without_it_the_container_stays_until_the_task_is_deleted() {
    let emu = container_emulator("p", 1, 1).await;
    let t = container_task(&emu, "rm", "batch-emulator-fixture/plain:1", "true", json!({"containerRunOptions": "--rm"})).await;
    let rm_id = t.execution_info.unwrap().container_info.unwrap().container_id.unwrap();
    assert!(!docker_exists(&rm_id));
    let t = container_task(&emu, "keep", "batch-emulator-fixture/plain:1", "true", json!({})).await;
    let keep_id = t.execution_info.unwrap().container_info.unwrap().container_id.unwrap();
    assert!(docker_exists(&keep_id), "without --rm the exited container stays");
    emu.client.send_raw(Method::DELETE, "/jobs/j/tasks/keep", &[], &[], None).await.unwrap();
    emu.idle().await;
    assert!(!docker_exists(&keep_id), "deleting the task removes its container");
}

#[tokio::test]
async fn a_missing_image_completes_the_task_with_container_invalid_image_not_retried() {
    let emu = container_emulator("p", 1, 1).await;
    let task = serde_json::from_value(json!({
        "id": "img", "commandLine": "true", "constraints": {"maxTaskRetryCount": 3},
        "containerSettings": {"imageName": "127.0.0.1:1/no-such-image:1"}
    }))
    .unwrap();
    emu.client.create_task("j", &task).await.unwrap();
    let t = emu.completed("j", "img").await;
    let info = t.execution_info.unwrap();
    assert_eq!(info.retry_count, 0);
    let f = info.failure_info.unwrap();
    assert_eq!(f.code.as_deref(), Some("ContainerInvalidImage"));
    assert!(f.details.iter().any(|d| d.name.as_deref() == Some("ContainerImage") && d.value.as_deref() == Some("127.0.0.1:1/no-such-image:1")));
}

#[tokio::test]
async fn an_unsupported_run_option_fails_the_task_naming_it() {
    let emu = container_emulator("p", 1, 1).await;
    let t = container_task(&emu, "opt", "batch-emulator-fixture/plain:1", "true", json!({"containerRunOptions": "--rm --gpus all"})).await;
    let f = t.execution_info.unwrap().failure_info.unwrap();
    assert_eq!(f.code.as_deref(), Some("ContainerInvalidSettings"));
    assert!(f.details.iter().any(|d| d.value.as_deref().is_some_and(|v| v.contains("--gpus"))), "{f:?}");
}

#[tokio::test]
async fn host_ports_collide_per_node_not_across_nodes() {
    let emu = container_emulator("p", 2, 2).await;
    let publish = json!({"containerRunOptions": "--rm -p 18481:80"});
    let mk = |id: &str| -> batch_client::models::BatchTaskCreateOptions {
        serde_json::from_value(json!({"id": id, "commandLine": "sleep 30", "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": publish["containerRunOptions"]}})).unwrap()
    };
    // Spread puts the first two on different nodes: both start.
    emu.client.create_task("j", &mk("a")).await.unwrap();
    emu.client.create_task("j", &mk("b")).await.unwrap();
    for t in ["a", "b"] {
        emu.client.wait_for_task("j", t, |s| s == "running", std::time::Duration::from_secs(20)).await.unwrap();
    }
    // Both containers are up (and hold their ports) before the third one tries.
    for t in ["a", "b"] {
        wait_container_running(t).await;
    }
    let a = emu.client.get_task("j", "a").await.unwrap();
    let b = emu.client.get_task("j", "b").await.unwrap();
    assert_ne!(a.node_info.unwrap().node_id, b.node_info.unwrap().node_id);
    assert_eq!(a.state.as_deref(), Some("running"));
    assert_eq!(b.state.as_deref(), Some("running"));
    // A third lands on a node whose port is taken: it fails with the engine's message.
    emu.client.create_task("j", &mk("c")).await.unwrap();
    let c = emu.completed("j", "c").await;
    let f = c.execution_info.unwrap().failure_info.unwrap();
    assert_eq!(f.code.as_deref(), Some("ContainerInvalidSettings"));
    assert!(f.details.iter().any(|d| d.value.as_deref().is_some_and(|v| v.contains("18481"))), "{f:?}");
    // Terminate stops the running containers.
    for t in ["a", "b"] {
        emu.client.send_raw(Method::POST, &format!("/jobs/j/tasks/{t}/terminate"), &[], &[], None).await.unwrap();
    }
    emu.idle().await;
}

#[tokio::test]
async fn a_plain_task_on_a_container_pool_fails_as_the_service_does() {
    let emu = container_emulator("p", 1, 1).await;
    emu.task("j", "plain", "/bin/true").await;
    let t = emu.completed("j", "plain").await;
    assert_eq!(failure_code(&t).as_deref(), Some("ContainerInvalidSettings"));
}

#[tokio::test]
async fn a_prefetch_failure_makes_the_node_unusable_with_a_node_error() {
    ensure_fixture_images();
    let emu = emulator(Runner::Docker).await;
    let mut spec = pool_spec("bad", 1, 1, "spread");
    spec.virtual_machine_configuration.as_mut().unwrap().container_configuration =
        Some(serde_json::from_value(json!({"type": "dockerCompatible", "containerImageNames": ["127.0.0.1:1/missing:1"]})).unwrap());
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
    let n: Vec<Value> = emu.client.list_all("/pools/bad/nodes", &[]).await.unwrap();
    assert_eq!(n[0]["state"], "unusable");
    assert_eq!(n[0]["errors"][0]["code"], "ContainerInvalidImage");
}

#[tokio::test]
async fn the_microsoft_docs_examples_behave_as_documented() {
    let emu = container_emulator("p", 1, 1).await;
    // Learn, "Run container applications on Azure Batch": --rm --workdir / with a shell that
    // writes into the task working directory through the variable.
    let t = container_task(
        &emu,
        "hello",
        "batch-emulator-fixture/plain:1",
        "/bin/sh -c \"echo 'hello world' > $AZ_BATCH_TASK_WORKING_DIR/output.txt\"",
        json!({"containerRunOptions": "--rm --workdir /"}),
    )
    .await;
    assert_eq!(exit_code(&t), Some(0), "{t:?}");
    assert_eq!(emu.client.get_task_file("j", "hello", "wd/output.txt").await.unwrap(), b"hello world\n");
    // The documented `/bin/sh -c python myscript.py` splits into [sh, -c, python, myscript.py]:
    // sh runs only the first word. The same with echo prints an empty line.
    let t = container_task(&emu, "split", "batch-emulator-fixture/plain:1", "/bin/sh -c echo hello", json!({"containerRunOptions": "--rm"})).await;
    assert_eq!(exit_code(&t), Some(0));
    assert_eq!(stdout(&emu, "split").await, "\n");
    // --entrypoint also discards the image CMD (Docker's rule, decision table row 5).
    let t = container_task(&emu, "nocmd", "batch-emulator-fixture/entrypoint:1", "", json!({"containerRunOptions": "--rm --entrypoint /bin/echo"})).await;
    assert_eq!(exit_code(&t), Some(0));
    assert_eq!(stdout(&emu, "nocmd").await, "\n");
    // A script found through --workdir (row 6).
    let t = container_task(
        &emu,
        "script",
        "batch-emulator-fixture/workdir:1",
        "./run.sh z",
        json!({"containerRunOptions": "--rm --entrypoint /bin/sh --workdir /app"}),
    )
    .await;
    assert_eq!(stdout(&emu, "script").await, "run.sh in /app args: z\n", "{t:?}");
}

#[tokio::test]
async fn doazureparallel_contract_node_root_mounted_variables_set_startup_wd_readable() {
    let emu = container_emulator("p", 1, 1).await;
    let node = emu.client.list_nodes("p").await.unwrap()[0].id.clone();
    // What the start task's resource files would have put there.
    let startup_wd = emu.state().layout().root(&node).join("startup/wd");
    std::fs::write(startup_wd.join("cluster.json"), "{\"ok\": true}").unwrap();
    let script =
        "for v in AZ_BATCH_NODE_ROOT_DIR AZ_BATCH_NODE_STARTUP_DIR AZ_BATCH_TASK_ID AZ_BATCH_JOB_ID AZ_BATCH_TASK_WORKING_DIR; do eval echo $v=\\$$v; done; \
                  ls $AZ_BATCH_NODE_ROOT_DIR; cat $AZ_BATCH_NODE_STARTUP_DIR/wd/cluster.json";
    let t = container_task(&emu, "r", "batch-emulator-fixture/plain:1", &format!("/bin/sh -c '{script}'"), json!({"containerRunOptions": "--rm"})).await;
    assert_eq!(exit_code(&t), Some(0), "{t:?}");
    let out = stdout(&emu, "r").await;
    let root = emu.state().layout().root(&node);
    assert!(out.contains(&format!("AZ_BATCH_NODE_ROOT_DIR={}\n", root.display())), "{out}");
    assert!(out.contains(&format!("AZ_BATCH_NODE_STARTUP_DIR={}\n", root.join("startup").display())), "{out}");
    assert!(out.contains("AZ_BATCH_TASK_ID=r\n") && out.contains("AZ_BATCH_JOB_ID=j\n"), "{out}");
    assert!(out.contains(&format!("AZ_BATCH_TASK_WORKING_DIR={}\n", root.join("workitems/j/job-1/r/wd").display())), "{out}");
    for d in ["shared", "startup", "workitems"] {
        assert!(out.lines().any(|l| l == d), "the node root is mounted: {out}");
    }
    assert!(out.ends_with("{\"ok\": true}"), "{out}");
}

#[tokio::test]
async fn bind_mount_selection_mounts_only_the_chosen_paths_read_only_where_asked() {
    let emu = container_emulator("p", 1, 1).await;
    let script = "echo root=${AZ_BATCH_NODE_ROOT_DIR:-unset}; echo task > task.txt && echo task-ok; \
                  (echo x > $AZ_BATCH_NODE_SHARED_DIR/x.txt) 2>/dev/null && echo shared-writable || echo shared-read-only; \
                  test -d $(dirname $AZ_BATCH_NODE_SHARED_DIR)/workitems/j/job-1/other && echo sees-others || echo isolated";
    let t = container_task(
        &emu,
        "iso",
        "batch-emulator-fixture/plain:1",
        &format!("/bin/sh -c '{script}'"),
        json!({"containerRunOptions": "--rm", "containerHostBatchBindMounts": [{"source": "Task"}, {"source": "Shared", "isReadOnly": true}]}),
    )
    .await;
    assert_eq!(exit_code(&t), Some(0), "{t:?}");
    assert_eq!(stdout(&emu, "iso").await, "root=unset\ntask-ok\nshared-read-only\nisolated\n");
    assert_eq!(emu.client.get_task_file("j", "iso", "wd/task.txt").await.unwrap(), b"task\n");
}

#[tokio::test]
async fn max_wall_clock_time_and_terminate_stop_the_container() {
    let emu = container_emulator("p", 1, 2).await;
    let task = serde_json::from_value(json!({
        "id": "slow", "commandLine": "sleep 60", "constraints": {"maxWallClockTime": "PT1S"},
        "containerSettings": {"imageName": "batch-emulator-fixture/plain:1"}
    }))
    .unwrap();
    emu.client.create_task("j", &task).await.unwrap();
    let t = emu.completed("j", "slow").await;
    assert_eq!(failure_code(&t).as_deref(), Some("TaskEnded"));
    let id = t.execution_info.unwrap().container_info.unwrap().container_id.unwrap();
    let state = Command::new("docker").args(["inspect", "-f", "{{.State.Running}}", &id]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "false");
    let task =
        serde_json::from_value(json!({"id": "term", "commandLine": "sleep 60", "containerSettings": {"imageName": "batch-emulator-fixture/plain:1"}})).unwrap();
    emu.client.create_task("j", &task).await.unwrap();
    wait_container_running("term").await;
    emu.client.send_raw(Method::POST, "/jobs/j/tasks/term/terminate", &[], &[], None).await.unwrap();
    emu.idle().await;
    let running = Command::new("docker").args(["ps", "-q", "--filter", "label=batch-emulator.task=term"]).output().unwrap();
    assert!(running.stdout.is_empty(), "terminate stops the container");
}

#[tokio::test]
async fn deleting_jobs_and_pools_leaves_no_container_behind() {
    let emu = container_emulator("p", 2, 1).await;
    for (i, opts) in ["", "--rm"].iter().enumerate() {
        container_task(&emu, &format!("t{i}"), "batch-emulator-fixture/plain:1", "true", json!({"containerRunOptions": opts})).await;
    }
    let task =
        serde_json::from_value(json!({"id": "live", "commandLine": "sleep 60", "containerSettings": {"imageName": "batch-emulator-fixture/plain:1"}})).unwrap();
    emu.client.create_task("j", &task).await.unwrap();
    wait_container_running("live").await;
    let instance = format!("label=batch-emulator.instance={}", emu.state().instance_id());
    let count = || {
        let out = Command::new("docker").args(["ps", "-aq", "--filter", &instance]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert!(count() >= 2, "the kept and the live container exist");
    emu.client.send_raw(Method::DELETE, "/jobs/j", &[], &[], None).await.unwrap();
    emu.client.delete_pool("p").await.unwrap();
    emu.idle().await;
    assert_eq!(count(), 0, "no container of this emulator is left");
}

#[tokio::test]
async fn the_official_python_sdk_runs_a_container_task_end_to_end() {
    ensure_fixture_images();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let setup = Command::new("bash").arg(repo.join("tests/python/setup-venvs.sh")).output().unwrap();
    assert!(setup.status.success(), "{}", String::from_utf8_lossy(&setup.stderr));
    let emu = emulator(Runner::Docker).await;
    // The emulator serves from this test's runtime: run Python on a blocking thread.
    let url = emu.running.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(repo.join(".venv-sdk15/bin/python"))
            .arg(repo.join("tests/python/sdk15_container_flow.py"))
            .args([&url, batch_emulator::config::DEV_ACCOUNT_NAME, batch_emulator::config::DEV_ACCOUNT_KEY])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("flow: OK"), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn inbound_nat_pools_give_each_node_a_frontend_port_that_reaches_its_container() {
    use tokio::io::AsyncReadExt;
    ensure_fixture_images();
    // A range of its own: tests run at once, each emulator numbering its nodes from 1.
    let range = batch_model::node::NodeNetwork::parse("10.199.250.0/24").unwrap();
    let emu = emulator_configured(Runner::Docker, std::sync::Arc::new(batch_emulator::clock::SystemClock), |c| c.inter_node_network = range).await;
    // REEF's shape: one container per node on a fixed port, inter-node communication on.
    let mut spec = pool_spec("reef", 2, 1, "spread");
    spec.enable_inter_node_communication = Some(true);
    spec.virtual_machine_configuration.as_mut().unwrap().container_configuration =
        Some(serde_json::from_value(json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/listener:1"]})).unwrap());
    spec.network_configuration = Some(json!({"endpointConfiguration": {"inboundNATPools": [
        {"name": "web", "protocol": "tcp", "backendPort": 18470, "frontendPortRangeStart": 15470, "frontendPortRangeEnd": 15569}
    ]}}));
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
    let nodes: Vec<Value> = emu.client.list_all("/pools/reef/nodes", &[]).await.unwrap();
    let mut frontends: Vec<u64> = nodes.iter().map(|n| n["endpointConfiguration"]["inboundEndpoints"][0]["frontendPort"].as_u64().unwrap()).collect();
    frontends.sort();
    assert_eq!(frontends, vec![15470, 15471]);
    assert_eq!(nodes[0]["endpointConfiguration"]["inboundEndpoints"][0]["backendPort"], 18470);
    emu.job("j", "reef").await;
    for t in ["w0", "w1"] {
        let task = serde_json::from_value(json!({"id": t, "commandLine": "", "containerSettings": {"imageName": "batch-emulator-fixture/listener:1", "containerRunOptions": "--rm -p 18470:8080"}})).unwrap();
        emu.client.create_task("j", &task).await.unwrap();
        wait_container_running(t).await;
    }
    let mut answers = Vec::new();
    for port in [15470u16, 15471] {
        // The listener may need a moment to bind inside its container.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        let line = loop {
            let mut buf = String::new();
            if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), s.read_to_string(&mut buf)).await;
            }
            if buf.starts_with("hello from ") {
                break buf;
            }
            assert!(tokio::time::Instant::now() < deadline, "nothing answered on frontend port {port}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        answers.push(line);
    }
    assert_ne!(answers[0], answers[1], "each frontend port reaches a different node's container");
    // Invalid NAT pools get the service's answer.
    let mut bad = pool_spec("bad", 0, 1, "spread");
    bad.network_configuration = Some(json!({"endpointConfiguration": {"inboundNATPools": [
        {"name": "x", "protocol": "tcp", "backendPort": 29876, "frontendPortRangeStart": 1000, "frontendPortRangeEnd": 1099}
    ]}}));
    assert_batch_error(emu.client.create_pool(&bad).await, 400, "InvalidPropertyValue");
    for t in ["w0", "w1"] {
        emu.client.send_raw(Method::POST, &format!("/jobs/j/tasks/{t}/terminate"), &[], &[], None).await.unwrap();
    }
    emu.idle().await;
}

#[tokio::test]
async fn a_registry_that_fails_gives_container_invalid_registry() {
    let emu = container_emulator("p", 1, 1).await;
    let task = serde_json::from_value(json!({
        "id": "reg", "commandLine": "true",
        "containerSettings": {"imageName": "127.0.0.1:1/team/app:1", "registry": {"registryServer": "127.0.0.1:1", "username": "u", "password": "p"}}
    }))
    .unwrap();
    emu.client.create_task("j", &task).await.unwrap();
    let t = emu.completed("j", "reg").await;
    let f = t.execution_info.unwrap().failure_info.unwrap();
    assert_eq!(f.code.as_deref(), Some("ContainerInvalidRegistry"), "{f:?}");
    assert!(f.details.iter().any(|d| d.name.as_deref() == Some("ContainerRegistry") && d.value.as_deref() == Some("127.0.0.1:1")));
}

#[tokio::test]
async fn a_start_task_with_container_settings_runs_in_a_container_and_without_on_the_host() {
    ensure_fixture_images();
    let emu = emulator(Runner::Docker).await;
    for (pool, start_task) in [
        (
            "inbox",
            json!({"commandLine": "/bin/sh -c 'echo from-container > $AZ_BATCH_NODE_SHARED_DIR/who; cat /etc/passwd | head -1'", "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm"}}),
        ),
        ("onhost", json!({"commandLine": "/bin/sh -c 'echo from-host > $AZ_BATCH_NODE_SHARED_DIR/who'"})),
    ] {
        let mut spec = pool_spec(pool, 1, 1, "spread");
        spec.virtual_machine_configuration.as_mut().unwrap().container_configuration =
            Some(serde_json::from_value(json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/plain:1"]})).unwrap());
        spec.start_task = Some(serde_json::from_value(start_task).unwrap());
        emu.client.create_pool(&spec).await.unwrap();
    }
    emu.idle().await;
    for (pool, expected) in [("inbox", "from-container\n"), ("onhost", "from-host\n")] {
        let nodes: Vec<Value> = emu.client.list_all(&format!("/pools/{pool}/nodes"), &[]).await.unwrap();
        assert_eq!(nodes[0]["state"], "idle", "{pool}: {}", nodes[0]);
        assert_eq!(nodes[0]["startTaskInfo"]["result"], "success");
        let root = emu.state().layout().root(nodes[0]["id"].as_str().unwrap());
        let who = std::fs::read_to_string(root.join("shared/who"));
        let stderr = std::fs::read_to_string(root.join("startup/stderr.txt")).unwrap_or_default();
        assert_eq!(who.ok().as_deref(), Some(expected), "{pool}: {} / stderr: {stderr}", nodes[0]);
    }
    let inbox: Vec<Value> = emu.client.list_all("/pools/inbox/nodes", &[]).await.unwrap();
    assert!(inbox[0]["startTaskInfo"]["containerInfo"]["containerId"].is_string());
}

#[tokio::test]
async fn when_the_retention_time_passes_the_kept_container_and_the_task_files_go() {
    let clock = std::sync::Arc::new(batch_emulator::clock::ManualClock::new(time::OffsetDateTime::now_utc()));
    let emu = container_emulator_on("p", 1, 1, clock.clone()).await;
    let task = serde_json::from_value(json!({
        "id": "kept", "commandLine": "/bin/sh -c 'echo out'", "constraints": {"retentionTime": "PT1H"},
        "containerSettings": {"imageName": "batch-emulator-fixture/plain:1"}
    }))
    .unwrap();
    emu.client.create_task("j", &task).await.unwrap();
    let t = emu.completed("j", "kept").await;
    let id = t.execution_info.unwrap().container_info.unwrap().container_id.unwrap();
    let node = t.node_info.unwrap().node_id.unwrap();
    let task_dir = emu.state().layout().task_dir(&node, "j", "kept");
    // Kept for the retention time (the emulator's clock moves, the test does not sleep).
    clock.advance(time::Duration::minutes(59));
    emu.idle().await;
    assert!(docker_exists(&id) && task_dir.exists(), "removed before the retention time passed");
    clock.advance(time::Duration::minutes(2));
    eventually("the retention time removed the container", || !docker_exists(&id)).await;
    eventually("the retention time removed the task directory", || !task_dir.exists()).await;
    assert_batch_error(emu.client.get_task_file("j", "kept", "stdout.txt").await, 409, "TaskFilesCleanedup");
    assert_eq!(emu.client.get_task("j", "kept").await.unwrap().state.as_deref(), Some("completed"), "the task itself stays");
}

#[tokio::test]
async fn preparation_and_release_tasks_with_container_settings_run_in_containers() {
    let emu = container_emulator("p", 1, 1).await;
    let job = serde_json::from_value(json!({
        "id": "cj", "poolInfo": {"poolId": "p"},
        "jobPreparationTask": {"commandLine": "/bin/sh -c 'hostname > $AZ_BATCH_NODE_SHARED_DIR/prep-host'", "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm --hostname prep-box"}},
        "jobReleaseTask": {"commandLine": "/bin/sh -c 'hostname > $AZ_BATCH_NODE_SHARED_DIR/release-host'", "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm --hostname release-box"}}
    }))
    .unwrap();
    emu.client.create_job(&job).await.unwrap();
    let task = serde_json::from_value(json!({"id": "t", "commandLine": "/bin/sh -c 'cat $AZ_BATCH_NODE_SHARED_DIR/prep-host'", "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm"}})).unwrap();
    emu.client.create_task("cj", &task).await.unwrap();
    let t = emu.client.wait_for_task("cj", "t", |s| s == "completed", std::time::Duration::from_secs(20)).await.unwrap();
    assert_eq!(exit_code(&t), Some(0), "{t:?}");
    assert_eq!(emu.client.get_task_file("cj", "t", "stdout.txt").await.unwrap(), b"prep-box\n", "the preparation ran in its container first");
    emu.client.send_raw(Method::POST, "/jobs/cj/terminate", &[], &[], None).await.unwrap();
    emu.idle().await;
    let node = t.node_info.unwrap().node_id.unwrap();
    assert_eq!(std::fs::read_to_string(emu.state().layout().root(&node).join("shared/release-host")).unwrap(), "release-box\n");
    let s: Vec<Value> = emu.client.list_all("/jobs/cj/jobpreparationandreleasetaskstatus", &[]).await.unwrap();
    assert!(s[0]["jobPreparationTaskExecutionInfo"]["containerInfo"]["containerId"].is_string());
}

#[tokio::test]
async fn a_named_account_runs_its_container_as_its_uid_and_an_admin_as_root() {
    ensure_fixture_images();
    let emu = emulator(Runner::Docker).await;
    let mut pool = serde_json::to_value(pool_spec("p", 1, 2, "spread")).unwrap();
    pool["virtualMachineConfiguration"]["containerConfiguration"] =
        json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/plain:1"]});
    pool["userAccounts"] = json!([
        {"name": "builder", "password": "p", "linuxUserConfiguration": {"uid": 4321, "gid": 4322}},
        {"name": "boss", "password": "p", "elevationLevel": "admin", "linuxUserConfiguration": {"uid": 4321, "gid": 4322}}
    ]);
    emu.client.send_json(Method::POST, "/pools", &pool).await.unwrap();
    emu.idle().await;
    emu.job("j", "p").await;
    let settings = json!({"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm"});
    for (id, user) in [("builder", "builder"), ("boss", "boss")] {
        let task = json!({"id": id, "commandLine": "/bin/sh -c 'echo $(id -u):$(id -g) $AZ_BATCH_TASK_USER_IDENTITY'", "containerSettings": settings, "userIdentity": {"username": user}});
        emu.client.send_json(Method::POST, "/jobs/j/tasks", &task).await.unwrap();
    }
    let builder = emu.completed("j", "builder").await;
    assert_eq!(exit_code(&builder), Some(0), "{builder:?}");
    assert_eq!(stdout(&emu, "builder").await, "4321:4322 builder\n");
    let boss = emu.completed("j", "boss").await;
    assert_eq!(exit_code(&boss), Some(0), "{boss:?}");
    assert_eq!(stdout(&emu, "boss").await, "0:0 boss\n", "an admin account runs as root");
}

#[tokio::test]
async fn the_job_prep_bind_mount_is_the_preparation_tasks_own_directory() {
    let emu = container_emulator("p", 1, 1).await;
    let job = serde_json::from_value(json!({
        "id": "pj", "poolInfo": {"poolId": "p"},
        "jobPreparationTask": {"id": "stage-inputs", "commandLine": "/bin/sh -c 'echo staged > input.txt'"}
    }))
    .unwrap();
    emu.client.create_job(&job).await.unwrap();
    let task = json!({"id": "t", "commandLine": "/bin/sh -c 'cat $AZ_BATCH_JOB_PREP_WORKING_DIR/input.txt'", "containerSettings": {
        "imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm",
        "containerHostBatchBindMounts": [{"source": "Task"}, {"source": "JobPrep", "isReadOnly": true}]
    }});
    emu.client.send_json(Method::POST, "/jobs/pj/tasks", &task).await.unwrap();
    let t = emu.client.wait_for_task("pj", "t", |s| s == "completed", std::time::Duration::from_secs(20)).await.unwrap();
    assert_eq!(exit_code(&t), Some(0), "{t:?}");
    assert_eq!(emu.client.get_task_file("pj", "t", "stdout.txt").await.unwrap(), b"staged\n");
}

/// A test's emulator, like the binary on shutdown, removes the containers it kept.
#[tokio::test]
async fn an_emulator_going_away_removes_its_kept_containers() {
    let emu = container_emulator("p", 1, 1).await;
    let t = container_task(&emu, "keep", "batch-emulator-fixture/plain:1", "true", json!({})).await;
    let keep_id = t.execution_info.unwrap().container_info.unwrap().container_id.unwrap();
    assert!(docker_exists(&keep_id));
    drop(emu);
    assert!(!docker_exists(&keep_id), "the kept container went with its emulator");
}
