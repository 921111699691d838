//! Nothing accepted is lost: a killed emulator restarted on the same data directory has every
//! pool, node, job and task back, reruns what was running, and keeps going. Journals written
//! by earlier builds (fixtures/journals/) still load.

mod common;

#[path = "common/binary.rs"]
mod binary;

use batch_client::{BatchClient, Credentials};
use common::*;
use std::time::Duration;

fn client(emu: &binary::Spawned) -> BatchClient {
    BatchClient::new(&emu.url, Credentials::SharedKey { account: emu.account.clone(), key: emu.key.clone() })
}

#[tokio::test]
async fn a_killed_emulator_comes_back_with_everything_it_accepted() {
    let emu = binary::spawn(&[], &[]);
    let c = client(&emu);
    c.create_pool(&pool_spec("p", 2, 1, "spread")).await.unwrap();
    c.create_job(&job_spec("j", "p")).await.unwrap();
    c.create_task("j", &task_spec("done", "/bin/sh -c 'echo finished'")).await.unwrap();
    let done = c.wait_for_task("j", "done", |s| s == "completed", Duration::from_secs(30)).await.unwrap();
    c.create_task("j", &task_spec("long", "/bin/sh -c 'echo $$ > ../first-pid; exec sleep 30'")).await.unwrap();
    let long = c.wait_for_task("j", "long", |s| s == "running", Duration::from_secs(30)).await.unwrap();
    let nodes_before: Vec<String> = c.list_nodes("p").await.unwrap().into_iter().map(|n| n.id).collect();
    let job_etag = c.get_job("j").await.unwrap().e_tag;

    let dir = emu.kill();
    let emu = binary::spawn_in(dir, &[], &[]);
    let c = client(&emu);

    let pool = c.get_pool("p").await.unwrap();
    assert_eq!(pool.current_dedicated_nodes, Some(2));
    let nodes_after: Vec<String> = c.list_nodes("p").await.unwrap().into_iter().map(|n| n.id).collect();
    assert_eq!(nodes_after, nodes_before, "the same nodes come back");
    assert_eq!(c.get_job("j").await.unwrap().e_tag, job_etag, "unchanged entities keep their ETag");
    let again = c.get_task("j", "done").await.unwrap();
    assert_eq!(again.state.as_deref(), Some("completed"));
    assert_eq!(again.e_tag, done.e_tag);
    assert_eq!(c.get_task_file("j", "done", "stdout.txt").await.unwrap(), b"finished\n");
    // The task that was running is run again (an internal requeue, not a retry).
    let rerun = c.wait_for_task("j", "long", |s| s == "running", Duration::from_secs(30)).await.unwrap();
    let info = rerun.execution_info.unwrap();
    assert_eq!((info.retry_count, info.requeue_count), (0, 0));
    assert!(rerun.state_transition_time >= long.state_transition_time);
    // New work is accepted and runs.
    c.create_task("j", &task_spec("after", "/bin/sh -c 'echo after restart'")).await.unwrap();
    let after = c.wait_for_task("j", "after", |s| s == "completed", Duration::from_secs(30)).await.unwrap();
    assert_eq!(after.execution_info.unwrap().exit_code, Some(0));
    // Clean up the process orphaned by the kill.
    let node = long.node_info.unwrap().node_id.unwrap();
    let pid_file = emu._dir.path().join("data/nodes").join(node).join("batch/tasks/workitems/j/job-1/long/first-pid");
    if let Ok(pid) = std::fs::read_to_string(pid_file) {
        let _ = std::process::Command::new("kill").arg("-9").arg(pid.trim()).status();
    }
    c.send_raw(reqwest::Method::POST, "/jobs/j/terminate", &[], &[], None).await.unwrap();
}

#[tokio::test]
async fn a_second_emulator_on_the_same_data_dir_is_refused() {
    let first = binary::spawn(&[], &[]);
    let data = first._dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_batch-emulator")).args(["--addr", "127.0.0.1:0", "--data-dir"]).arg(&data).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another batch-emulator"), "{}", String::from_utf8_lossy(&out.stderr));
    drop(first);
}

#[tokio::test]
async fn a_version_1_journal_from_an_earlier_build_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/journals/v1-pool-job-task.jsonl");
    std::fs::copy(fixture, dir.path().join("data/journal.jsonl")).unwrap();
    let emu = binary::spawn_in(dir, &[], &[]);
    let c = client(&emu);
    let pool = c.get_pool("fixture-pool").await.unwrap();
    assert_eq!(pool.spec.vm_size, "standard_d2s_v3");
    let nodes = c.list_nodes("fixture-pool").await.unwrap();
    assert_eq!(nodes.len(), 1);
    let t = c.get_task("fixture-job", "fixture-task").await.unwrap();
    assert_eq!(t.state.as_deref(), Some("completed"));
    assert_eq!(t.execution_info.unwrap().exit_code, Some(0));
    assert_eq!(c.get_job("fixture-job").await.unwrap().spec.priority, Some(7));
}

#[tokio::test]
async fn stopping_the_emulator_stops_its_task_processes() {
    let mut emu = binary::spawn(&[], &[]);
    let c = client(&emu);
    c.create_pool(&pool_spec("p", 1, 1, "spread")).await.unwrap();
    c.create_job(&job_spec("j", "p")).await.unwrap();
    c.create_task("j", &task_spec("t", "/bin/sh -c 'echo $$ > pid; exec sleep 30'")).await.unwrap();
    c.wait_for_task("j", "t", |s| s == "running", Duration::from_secs(30)).await.unwrap();
    let pid = loop {
        if let Ok(b) = c.get_task_file("j", "t", "wd/pid").await {
            if let Ok(p) = String::from_utf8_lossy(&b).trim().parse::<u32>() {
                break p;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    std::process::Command::new("kill").arg("-TERM").arg(emu.child.id().to_string()).status().unwrap();
    let status = emu.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // Killed with SIGKILL (delivered asynchronously), so it is gone or a zombie soon.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut state = String::new();
    while std::time::Instant::now() < deadline {
        state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if state.is_empty() || state.split_whitespace().nth(2) == Some("Z") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(state.is_empty() || state.split_whitespace().nth(2) == Some("Z"), "task process {pid} survived: {state}");
}

/// A journal that grows past `--snapshot-after` records is replaced by a snapshot and a new
/// journal while the emulator serves; the state comes back from the snapshot plus what followed
/// it, restart after restart.
#[tokio::test]
async fn a_snapshot_replaces_a_long_journal_and_restarts_keep_everything() {
    let args = ["--snapshot-after", "5"];
    let emu = binary::spawn(&args, &[]);
    let c = client(&emu);
    c.create_pool(&pool_spec("p", 1, 1, "spread")).await.unwrap();
    for i in 0..4 {
        c.create_job(&job_spec(&format!("j{i}"), "p")).await.unwrap();
    }
    c.create_task("j0", &task_spec("t", "/bin/sh -c 'echo before'")).await.unwrap();
    c.wait_for_task("j0", "t", |s| s == "completed", Duration::from_secs(30)).await.unwrap();
    let etag = c.get_job("j3").await.unwrap().e_tag;
    let data = emu._dir.path().join("data");
    // More than 5 records were journalled, and the emulator compacts in the background.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let lines = std::fs::read_to_string(data.join("journal.jsonl")).unwrap().lines().count();
        if data.join("snapshot.json").exists() && lines <= 6 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no compaction while serving ({lines} journal lines)");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dir = emu.kill();

    // Start 2: everything is back.
    let emu = binary::spawn_in(dir, &args, &[]);
    let c = client(&emu);
    assert_eq!(c.get_job("j3").await.unwrap().e_tag, etag, "unchanged entities keep their ETag");
    assert_eq!(c.get_task_file("j0", "t", "stdout.txt").await.unwrap(), b"before\n");
    c.create_job(&job_spec("after-snapshot", "p")).await.unwrap();
    c.create_task("j1", &task_spec("t2", "/bin/sh -c 'echo after'")).await.unwrap();
    c.wait_for_task("j1", "t2", |s| s == "completed", Duration::from_secs(30)).await.unwrap();
    let dir = emu.kill();

    // Start 3: the snapshot plus what came after it.
    let emu = binary::spawn_in(dir, &args, &[]);
    let c = client(&emu);
    for j in ["j0", "j1", "j2", "j3", "after-snapshot"] {
        c.get_job(j).await.unwrap_or_else(|e| panic!("{j}: {e}"));
    }
    assert_eq!(c.get_task("j1", "t2").await.unwrap().state.as_deref(), Some("completed"));
    assert_eq!(c.get_task_file("j1", "t2", "stdout.txt").await.unwrap(), b"after\n");
    assert_eq!(c.list_nodes("p").await.unwrap().len(), 1);
}
