//! Inter-node communication (REEF's pattern): on a container pool with
//! `enableInterNodeCommunication`, a container on one node reaches another node's published
//! ports at that node's `ipAddress`, and so does a process on the host. Needs a Docker engine
//! and the fixture images; fails loudly without them.

mod common;

use batch_client::models::BatchTask;
use batch_emulator::clock::SystemClock;
use batch_model::node::NodeNetwork;
use common::*;
use serde_json::{json, Value};
use std::sync::Arc;

/// A two-node container pool, one slot per node, with or without inter-node communication;
/// `range` is this test's own (tests run at once, each emulator numbering its nodes from 1).
async fn two_node_pool(range: &str, inter_node: bool) -> (TestEmulator, Vec<Value>) {
    ensure_fixture_images();
    let range = NodeNetwork::parse(range).unwrap();
    let emu = emulator_configured(Runner::Docker, Arc::new(SystemClock), |c| c.inter_node_network = range).await;
    let mut spec = pool_spec("reef", 2, 1, "spread");
    spec.enable_inter_node_communication = Some(inter_node);
    spec.virtual_machine_configuration.as_mut().unwrap().container_configuration =
        Some(serde_json::from_value(json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/plain:1"]})).unwrap());
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
    let nodes: Vec<Value> = emu.client.list_all("/pools/reef/nodes", &[]).await.unwrap();
    assert!(nodes.iter().all(|n| n["state"] == "idle"), "{nodes:?}");
    emu.job("j", "reef").await;
    (emu, nodes)
}

/// A container task; at most two minutes, so a listener nobody reaches does not linger.
fn container_task(id: &str, command_line: &str, run_options: &str, affinity_id: &str) -> batch_client::models::BatchTaskCreateOptions {
    serde_json::from_value(json!({
        "id": id,
        "commandLine": command_line,
        "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": run_options},
        "affinityInfo": {"affinityId": affinity_id},
        "constraints": {"maxWallClockTime": "PT2M"},
    }))
    .unwrap()
}

async fn stdout(emu: &TestEmulator, task: &str) -> String {
    String::from_utf8(emu.client.get_task_file("j", task, "stdout.txt").await.unwrap()).unwrap()
}

fn exit_code(t: &BatchTask) -> Option<i32> {
    t.execution_info.as_ref().and_then(|i| i.exit_code)
}

/// A client that tries for about 20 s to send one line to `ip:port` and get `ack` back (a
/// connection the engine's port proxy accepts before the listener is up gets no answer).
fn sender(ip: &str, port: u16, line: &str) -> String {
    format!("sh -c \"for i in $(seq 1 100); do [ \\\"$(echo {line} | nc {ip} {port})\\\" = ack ] && exit 0; sleep 0.2; done; exit 1\"")
}

/// A listener that prints the line it gets and answers `ack`.
const LISTENER: &str = "sh -c \"echo ack | nc -l -p 2000\"";

/// Sends `line` to `ip:port` from this process until the listener answers `ack` (for about
/// 20 s); returns the answer. Other answers are retried: until the node's address is up, a
/// connection to it leaves the machine, and whatever answers there is not the listener.
async fn send_from_host(ip: &str, port: u16, line: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Ok(mut s) = tokio::net::TcpStream::connect((ip, port)).await {
            let mut answer = String::new();
            if s.write_all(line).await.is_ok() && s.shutdown().await.is_ok() {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_string(&mut answer)).await;
                if answer == "ack\n" {
                    return answer;
                }
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing answered on {ip}:{port}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_container_on_one_node_reaches_another_nodes_published_port_at_its_ip_address() {
    let (emu, nodes) = two_node_pool("10.199.240.0/24", true).await;
    let (n0, n1) = (nodes[0]["id"].as_str().unwrap(), nodes[1]["id"].as_str().unwrap());
    let (a0, a1) = (nodes[0]["affinityId"].as_str().unwrap(), nodes[1]["affinityId"].as_str().unwrap());
    let ip0 = nodes[0]["ipAddress"].as_str().unwrap().to_string();
    let ip1 = nodes[1]["ipAddress"].as_str().unwrap().to_string();
    // Routable addresses, one per node, from the configured range (not loopback).
    assert!(ip0.starts_with("10.199.240.") && ip1.starts_with("10.199.240."), "{ip0} {ip1}");
    assert_ne!(ip0, ip1);
    // The driver listens on node 0 with REEF's fixed published port; the evaluator on node 1
    // connects to node 0's ipAddress.
    emu.client.create_task("j", &container_task("driver", LISTENER, "--rm -p 2000:2000", a0)).await.unwrap();
    emu.client.create_task("j", &container_task("evaluator", &sender(&ip0, 2000, "hello-across-nodes"), "--rm", a1)).await.unwrap();
    let evaluator = emu.completed("j", "evaluator").await;
    let driver = emu.completed("j", "driver").await;
    assert_eq!(evaluator.node_info.as_ref().unwrap().node_id.as_deref(), Some(n1));
    assert_eq!(driver.node_info.as_ref().unwrap().node_id.as_deref(), Some(n0));
    assert_eq!(exit_code(&evaluator), Some(0), "{evaluator:?}");
    assert_eq!(exit_code(&driver), Some(0), "{driver:?}");
    assert_eq!(stdout(&emu, "driver").await.trim(), "hello-across-nodes");

    // The same port on the other node is free (each node is its own machine), and a process on
    // the host reaches that node's container at its address too.
    emu.client.create_task("j", &container_task("driver2", LISTENER, "--rm -p 2000:2000", a1)).await.unwrap();
    emu.client.wait_for_task("j", "driver2", |s| s == "running", std::time::Duration::from_secs(20)).await.unwrap();
    assert_eq!(send_from_host(&ip1, 2000, b"hello-from-the-host\n").await, "ack\n");
    let driver2 = emu.completed("j", "driver2").await;
    assert_eq!(exit_code(&driver2), Some(0), "{driver2:?}");
    assert_eq!(stdout(&emu, "driver2").await.trim(), "hello-from-the-host");

    // Deleting the pool removes the node networks it made.
    emu.client.send_raw(reqwest::Method::DELETE, "/jobs/j", &[], &[], None).await.unwrap();
    emu.client.send_raw(reqwest::Method::DELETE, "/pools/reef", &[], &[], None).await.unwrap();
    emu.idle().await;
    let filter = format!("label=batch-emulator.instance={}", emu.state().instance_id());
    let left = std::process::Command::new("docker").args(["network", "ls", "-q", "--filter", &filter]).output().unwrap();
    assert!(left.stdout.is_empty(), "node networks left behind: {}", String::from_utf8_lossy(&left.stdout));
}

#[tokio::test]
async fn without_inter_node_communication_nodes_keep_loopback_addresses_containers_cannot_reach() {
    let (emu, nodes) = two_node_pool("10.199.241.0/24", false).await;
    let (a0, a1) = (nodes[0]["affinityId"].as_str().unwrap(), nodes[1]["affinityId"].as_str().unwrap());
    let ip0 = nodes[0]["ipAddress"].as_str().unwrap().to_string();
    assert!(ip0.starts_with("127."), "{ip0}");
    emu.client.create_task("j", &container_task("driver", LISTENER, "--rm -p 2000:2000", a0)).await.unwrap();
    emu.client.wait_for_task("j", "driver", |s| s == "running", std::time::Duration::from_secs(20)).await.unwrap();
    let once = format!("sh -c \"sleep 1; echo x | nc {ip0} 2000\"");
    emu.client.create_task("j", &container_task("evaluator", &once, "--rm", a1)).await.unwrap();
    let evaluator = emu.completed("j", "evaluator").await;
    assert_ne!(exit_code(&evaluator), Some(0), "a container reached another node's loopback address: {evaluator:?}");
    emu.client.send_raw(reqwest::Method::POST, "/jobs/j/tasks/driver/terminate", &[], &[], None).await.unwrap();
    emu.idle().await;
}

#[path = "common/binary.rs"]
mod binary;

fn node_networks(instance_filter: &str) -> usize {
    let out = std::process::Command::new("docker").args(["network", "ls", "-q", "--filter", instance_filter]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// A stopped emulator removes its node networks; started again on the same data directory it
/// makes them again for the nodes it recovers, and their addresses work as before.
#[tokio::test]
async fn node_addresses_come_back_after_a_restart() {
    ensure_fixture_images();
    let args = ["--inter-node-network", "10.199.242.0/24"];
    let emu = binary::spawn(&args, &[]);
    let c = batch_client::BatchClient::new(&emu.url, batch_client::Credentials::SharedKey { account: emu.account.clone(), key: emu.key.clone() });
    let mut spec = pool_spec("reef", 1, 1, "spread");
    spec.enable_inter_node_communication = Some(true);
    spec.virtual_machine_configuration.as_mut().unwrap().container_configuration =
        Some(serde_json::from_value(json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/plain:1"]})).unwrap());
    c.create_pool(&spec).await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while c.list_nodes("reef").await.unwrap().iter().any(|n| n.state.as_deref() != Some("idle")) {
        assert!(tokio::time::Instant::now() < deadline, "the node never turned idle");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let ip = c.list_nodes("reef").await.unwrap()[0].ip_address.clone().unwrap();
    // Node ids are unique to the data directory: the node's network carries its id.
    let node = c.list_nodes("reef").await.unwrap()[0].id.clone();
    let filter = format!("label=batch-emulator.node={node}");
    assert_eq!(node_networks(&filter), 1);

    let dir = emu.stop();
    assert_eq!(node_networks(&filter), 0, "a stopped emulator leaves no node network behind");
    let emu = binary::spawn_in(dir, &args, &[]);
    let c = batch_client::BatchClient::new(&emu.url, batch_client::Credentials::SharedKey { account: emu.account.clone(), key: emu.key.clone() });
    c.create_job(&job_spec("j", "reef")).await.unwrap();
    let task = serde_json::from_value(json!({"id": "listen", "commandLine": LISTENER, "constraints": {"maxWallClockTime": "PT2M"},
        "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm -p 2000:2000"}}))
    .unwrap();
    c.create_task("j", &task).await.unwrap();
    assert_eq!(send_from_host(&ip, 2000, b"after-restart\n").await, "ack\n");
    let done = c.wait_for_task("j", "listen", |s| s == "completed", std::time::Duration::from_secs(30)).await.unwrap();
    assert_eq!(done.execution_info.unwrap().exit_code, Some(0));
    assert_eq!(c.get_task_file("j", "listen", "stdout.txt").await.unwrap(), b"after-restart\n");
    assert_eq!(node_networks(&filter), 1);
    drop(emu.stop());
    assert_eq!(node_networks(&filter), 0);
}
