//! Multi-instance tasks (Learn, "Use multi-instance tasks to run MPI applications"): one
//! instance per node of an inter-node pool, the coordination command line on every instance,
//! the task's command line on the primary once all succeeded, and the subtasks in
//! `list_subtasks`. The program here is a real multi-node one: the master's coordination
//! command starts a TCP collector on the master's address, every subtask's coordination
//! command connects to it across nodes, and the primary's application reports what arrived.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;

const GATHER: &str = r#"
import os, socket, sys, time
hosts = os.environ["AZ_BATCH_HOST_LIST"].split(",")
master = os.environ["AZ_BATCH_MASTER_NODE"].split(":")[0]
is_master = os.environ["AZ_BATCH_IS_CURRENT_NODE_MASTER"] == "true"
out = os.path.join(os.environ["AZ_BATCH_TASK_SHARED_DIR"], "gathered.txt")
PORT = 7100
if sys.argv[1] == "coordinate":
    print("coordinating", os.environ["AZ_BATCH_NODE_ID"], "master" if is_master else "subtask", flush=True)
    if is_master:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((master, PORT))
        s.listen(16)
        if os.fork() == 0:
            s.settimeout(60)
            got = []
            while len(got) < len(hosts) - 1:
                c, _ = s.accept()
                got.append(c.makefile().readline().strip())
                c.close()
            with open(out + ".tmp", "w") as f:
                f.write("\n".join(sorted(got)) + "\n")
            os.rename(out + ".tmp", out)
            os._exit(0)
        sys.exit(0)
    deadline = time.time() + 30
    while True:
        try:
            c = socket.create_connection((master, PORT), timeout=2)
            c.sendall(("hello from " + os.environ["AZ_BATCH_NODE_ID"] + "\n").encode())
            c.close()
            break
        except OSError:
            if time.time() > deadline:
                sys.exit(2)
            time.sleep(0.05)
else:
    deadline = time.time() + 30
    while not os.path.exists(out):
        if time.time() > deadline:
            sys.exit(3)
        time.sleep(0.05)
    print(open(out).read(), end="")
    print("hosts", os.environ["AZ_BATCH_HOST_LIST"])
    print("nodes", os.environ["AZ_BATCH_NODE_LIST"])
    print("master", os.environ["AZ_BATCH_MASTER_NODE"], os.environ["AZ_BATCH_IS_CURRENT_NODE_MASTER"])
    print("ccp", os.environ["CCP_NODES"])
    print("shared", os.environ["AZ_BATCH_TASK_SHARED_DIR"] == os.environ["AZ_BATCH_TASK_DIR"])
"#;

async fn inter_node_pool(emu: &TestEmulator, id: &str, nodes: i32, slots: i32, inter_node: bool) {
    let mut spec = pool_spec(id, nodes, slots, "spread");
    spec.enable_inter_node_communication = Some(inter_node);
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
}

fn multi_instance_task(id: &str, command_line: &str, instances: u32, coordination: &str) -> batch_client::models::BatchTaskCreateOptions {
    serde_json::from_value(json!({
        "id": id,
        "commandLine": command_line,
        "multiInstanceSettings": {"numberOfInstances": instances, "coordinationCommandLine": coordination},
    }))
    .unwrap()
}

async fn get_json(emu: &TestEmulator, path: &str) -> Value {
    let r = emu.client.send_raw(reqwest::Method::GET, path, &[], &[], None).await.unwrap();
    serde_json::from_slice(&r.body).unwrap()
}

async fn subtasks(emu: &TestEmulator, job: &str, task: &str) -> Vec<Value> {
    let v = get_json(emu, &format!("/jobs/{job}/tasks/{task}/subtasksinfo")).await;
    v["value"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_multi_instance_task_runs_a_program_across_nodes_and_reports_its_subtasks() {
    let emu = emulator(Runner::Local).await;
    let script = emu.dir.path().join("gather.py");
    std::fs::write(&script, GATHER).unwrap();
    let script = script.display().to_string();
    inter_node_pool(&emu, "mpi", 3, 1, true).await;
    emu.job("j", "mpi").await;
    let task = multi_instance_task("gather", &format!("python3 {script} report"), 3, &format!("python3 {script} coordinate"));
    emu.client.create_task("j", &task).await.unwrap();
    let done = emu.completed("j", "gather").await;
    let info = done.execution_info.clone().unwrap();
    let stdout = String::from_utf8(emu.client.get_task_file("j", "gather", "stdout.txt").await.unwrap()).unwrap();
    assert_eq!(info.exit_code, Some(0), "{done:?}\n{stdout}");
    assert_eq!(info.result.as_deref(), Some("success"));

    let nodes = emu.client.list_nodes("mpi").await.unwrap();
    let ip: HashMap<String, String> = nodes.iter().map(|n| (n.id.clone(), n.ip_address.clone().unwrap())).collect();
    let master = done.node_info.as_ref().unwrap().node_id.clone().unwrap();
    // The subtasks: 1 and 2, each on a node of its own, not the master's; completed with their
    // coordination command's exit code.
    let subs = subtasks(&emu, "j", "gather").await;
    assert_eq!(subs.iter().map(|s| s["id"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 2], "{subs:?}");
    let mut sub_nodes: Vec<String> = subs.iter().map(|s| s["nodeInfo"]["nodeId"].as_str().unwrap().to_string()).collect();
    for s in &subs {
        assert_eq!(s["state"], "completed", "{s}");
        assert_eq!(s["exitCode"], 0, "{s}");
        assert_eq!(s["result"], "success", "{s}");
        assert_eq!(s["nodeInfo"]["poolId"], "mpi");
        assert_eq!(s["nodeInfo"]["taskRootDirectory"], "workitems/j/job-1/gather");
        assert!(s["startTime"].is_string() && s["endTime"].is_string(), "{s}");
    }
    sub_nodes.sort();
    sub_nodes.dedup();
    assert_eq!(sub_nodes.len(), 2);
    assert!(!sub_nodes.contains(&master));

    // What crossed the nodes: a hello from each subtask's node, over TCP to the master's address.
    let mut expected: Vec<String> = sub_nodes.iter().map(|n| format!("hello from {n}")).collect();
    expected.sort();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.contains(&format!("coordinating {master} master").as_str()), "{stdout}");
    for e in &expected {
        assert!(lines.contains(&e.as_str()), "{e} missing from:\n{stdout}");
    }
    let hosts: Vec<String> = std::iter::once(ip[&master].clone()).chain(subs.iter().map(|s| ip[s["nodeInfo"]["nodeId"].as_str().unwrap()].clone())).collect();
    assert!(lines.contains(&format!("hosts {}", hosts.join(",")).as_str()), "{stdout}");
    assert!(lines.contains(&format!("nodes {}", hosts.join(";")).as_str()), "{stdout}");
    assert!(lines.contains(&format!("master {}:6000 true", ip[&master]).as_str()), "{stdout}");
    assert!(lines.contains(&format!("ccp 3 {} 1 {} 1 {} 1", hosts[0], hosts[1], hosts[2]).as_str()), "{stdout}");
    assert!(lines.contains(&"shared True"), "{stdout}");

    // Each subtask's own output is on its node, in the task directory.
    for s in &subs {
        let node = s["nodeInfo"]["nodeId"].as_str().unwrap();
        let out = emu
            .client
            .send_raw(reqwest::Method::GET, &format!("/pools/mpi/nodes/{node}/files/workitems%2Fj%2Fjob-1%2Fgather%2Fstdout.txt"), &[], &[], None)
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.body).trim(), format!("coordinating {node} subtask"));
    }
    // Every node ran it once; all are free again.
    for n in emu.client.list_nodes("mpi").await.unwrap() {
        assert_eq!(n.total_tasks_run, Some(1), "{n:?}");
        assert_eq!(n.state.as_deref(), Some("idle"));
    }
    // A task that is not multi-instance has no subtasks.
    emu.task("j", "plain", "/bin/true").await;
    emu.completed("j", "plain").await;
    assert!(subtasks(&emu, "j", "plain").await.is_empty());
}

#[tokio::test]
async fn a_failing_coordination_command_fails_the_task_and_the_application_never_runs() {
    let emu = emulator(Runner::Local).await;
    inter_node_pool(&emu, "mpi", 2, 1, true).await;
    emu.job("j", "mpi").await;
    let coordination = "/bin/sh -c 'if [ \"$AZ_BATCH_IS_CURRENT_NODE_MASTER\" = true ]; then exit 0; fi; exit 3'";
    let task = multi_instance_task("t", "/bin/sh -c 'echo application ran'", 2, coordination);
    emu.client.create_task("j", &task).await.unwrap();
    let done = emu.completed("j", "t").await;
    let info = done.execution_info.unwrap();
    assert_eq!(info.result.as_deref(), Some("failure"));
    assert_eq!(info.exit_code, Some(3));
    let stdout = emu.client.get_task_file("j", "t", "stdout.txt").await.unwrap();
    assert!(!String::from_utf8_lossy(&stdout).contains("application ran"));
    let subs = subtasks(&emu, "j", "t").await;
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["exitCode"], 3);
    assert_eq!(subs[0]["result"], "failure");
    emu.idle().await;
    for n in emu.client.list_nodes("mpi").await.unwrap() {
        assert_eq!(n.state.as_deref(), Some("idle"), "{n:?}");
    }
}

#[tokio::test]
async fn multi_instance_tasks_wait_for_enough_free_nodes_of_an_inter_node_pool() {
    let emu = emulator(Runner::Local).await;
    // Without inter-node communication, or with more slots per node, or more instances than
    // nodes: the task stays active (Learn: it is never scheduled).
    inter_node_pool(&emu, "apart", 2, 1, false).await;
    inter_node_pool(&emu, "slots", 2, 2, true).await;
    inter_node_pool(&emu, "small", 2, 1, true).await;
    for pool in ["apart", "slots", "small"] {
        emu.job(&format!("j-{pool}"), pool).await;
    }
    let t = |n| multi_instance_task("t", "/bin/true", n, "/bin/true");
    emu.client.create_task("j-apart", &t(2)).await.unwrap();
    emu.client.create_task("j-slots", &t(2)).await.unwrap();
    emu.client.create_task("j-small", &t(3)).await.unwrap();
    // A busy node delays a task that fits: it runs once both nodes are free.
    emu.task("j-small", "busy", "/bin/sh -c 'sleep 1'").await;
    emu.client.create_task("j-small", &multi_instance_task("later", "/bin/true", 2, "/bin/true")).await.unwrap();
    emu.idle().await;
    for job in ["j-apart", "j-slots", "j-small"] {
        let t = emu.client.get_task(job, "t").await.unwrap();
        assert_eq!(t.state.as_deref(), Some("active"), "{job}: {t:?}");
    }
    let later = emu.completed("j-small", "later").await;
    assert_eq!(later.execution_info.as_ref().unwrap().exit_code, Some(0));
    let busy = emu.client.get_task("j-small", "busy").await.unwrap();
    let (busy_end, later_start) = (busy.execution_info.unwrap().end_time.unwrap(), later.execution_info.unwrap().start_time.unwrap());
    assert!(busy_end <= later_start, "the multi-instance task started at {later_start} before the busy node was free at {busy_end}");
}

#[tokio::test]
async fn multi_instance_settings_are_validated() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    let add = |body: Value| {
        let c = emu.client.clone();
        async move { c.send_json(reqwest::Method::POST, "/jobs/j/tasks", &body).await }
    };
    let r = add(json!({"id": "a", "commandLine": "x", "multiInstanceSettings": {"numberOfInstances": 0, "coordinationCommandLine": "y"}})).await;
    assert_batch_error(r, 400, "InvalidPropertyValue");
    let r = add(json!({"id": "a", "commandLine": "x", "multiInstanceSettings": {"numberOfInstances": 2}})).await;
    assert_batch_error(r, 400, "MissingRequiredProperty");
    let r = add(json!({"id": "a", "commandLine": "x", "requiredSlots": 2, "multiInstanceSettings": {"numberOfInstances": 2, "coordinationCommandLine": "y"}}))
        .await;
    assert_batch_error(r, 400, "InvalidPropertyValue");
    // Accepted settings are returned as sent, numberOfInstances defaulting to 1.
    add(json!({"id": "ok", "commandLine": "x", "multiInstanceSettings": {"coordinationCommandLine": "y"}})).await.unwrap();
    let t = get_json(&emu, "/jobs/j/tasks/ok").await;
    assert_eq!(t["multiInstanceSettings"]["coordinationCommandLine"], "y");
}

#[tokio::test]
async fn terminate_stops_every_instance_and_a_failed_attempt_is_retried_as_a_whole() {
    let emu = emulator(Runner::Local).await;
    inter_node_pool(&emu, "mpi", 2, 1, true).await;
    emu.job("j", "mpi").await;
    // Terminated while every instance coordinates: all stop, every node is free again.
    emu.client.create_task("j", &multi_instance_task("long", "/bin/true", 2, "/bin/sh -c 'sleep 30'")).await.unwrap();
    emu.client.wait_for_task("j", "long", |s| s == "running", std::time::Duration::from_secs(20)).await.unwrap();
    emu.client.send_raw(reqwest::Method::POST, "/jobs/j/tasks/long/terminate", &[], &[], None).await.unwrap();
    let t = emu.client.get_task("j", "long").await.unwrap();
    assert_eq!(t.state.as_deref(), Some("completed"));
    assert_eq!(t.execution_info.unwrap().failure_info.unwrap().code.as_deref(), Some("TaskEnded"));
    let subs = subtasks(&emu, "j", "long").await;
    assert!(subs.iter().all(|s| s["state"] == "completed"), "{subs:?}");
    emu.idle().await;
    for n in emu.client.list_nodes("mpi").await.unwrap() {
        assert_eq!(n.state.as_deref(), Some("idle"), "{n:?}");
        assert_eq!(n.running_tasks_count, Some(0));
    }
    // A subtask that fails makes the attempt fail; it is retried (all instances again).
    let mut retried = multi_instance_task("retried", "/bin/true", 2, "/bin/sh -c '[ \"$AZ_BATCH_IS_CURRENT_NODE_MASTER\" = true ] || exit 4'");
    retried.constraints = Some(serde_json::from_value(json!({"maxTaskRetryCount": 1})).unwrap());
    emu.client.create_task("j", &retried).await.unwrap();
    let done = emu.completed("j", "retried").await;
    let info = done.execution_info.unwrap();
    assert_eq!((info.retry_count, info.exit_code, info.result.as_deref()), (1, Some(4), Some("failure")));
}
