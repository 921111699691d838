//! Task and node files: listing, download with ranges, properties, deletion, and paths that
//! try to leave their directory.

mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;

async fn setup() -> TestEmulator {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "t", "/bin/sh -c 'mkdir -p sub/deeper && printf 0123456789 > sub/deeper/data.bin && echo out'").await;
    emu.completed("j", "t").await;
    emu
}

#[tokio::test]
async fn task_files_list_flat_and_recursive() {
    let emu = setup().await;
    let flat: Vec<Value> = emu.client.list_all("/jobs/j/tasks/t/files", &[]).await.unwrap();
    let names: Vec<&str> = flat.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["certs", "stderr.txt", "stdout.txt", "wd"]);
    let deep: Vec<Value> = emu.client.list_all("/jobs/j/tasks/t/files", &[("recursive", "true")]).await.unwrap();
    let file = deep.iter().find(|f| f["name"] == "wd/sub/deeper/data.bin").expect("nested file listed");
    assert_eq!(file["isDirectory"], false);
    assert_eq!(file["properties"]["contentLength"], "10", "64-bit lengths are strings");
    assert_eq!(file["properties"]["contentType"], "application/octet-stream");
    assert!(file["url"].as_str().unwrap().ends_with("/jobs/j/tasks/t/files/wd%2Fsub%2Fdeeper%2Fdata.bin"));
    let dir = deep.iter().find(|f| f["name"] == "wd/sub").unwrap();
    assert_eq!(dir["isDirectory"], true);
    assert!(dir.get("properties").is_none());
    let filtered: Vec<Value> =
        emu.client.list_all("/jobs/j/tasks/t/files", &[("recursive", "true"), ("$filter", "startswith(name,'wd/sub/d')")]).await.unwrap();
    assert_eq!(filtered.len(), 2);
}

#[tokio::test]
async fn download_honours_ocp_range_and_head_gives_properties() {
    let emu = setup().await;
    let all = emu.client.get_task_file("j", "t", "wd/sub/deeper/data.bin").await.unwrap();
    assert_eq!(all, b"0123456789");
    let r = emu.client.send_raw(Method::GET, "/jobs/j/tasks/t/files/wd%2Fsub%2Fdeeper%2Fdata.bin", &[], &[("ocp-range", "bytes=2-5")], None).await.unwrap();
    assert_eq!(r.body, b"2345");
    let r = emu.client.send_raw(Method::GET, "/jobs/j/tasks/t/files/wd%2Fsub%2Fdeeper%2Fdata.bin", &[], &[("ocp-range", "bytes=50-60")], None).await;
    assert_batch_error(r, 416, "InvalidRange");
    let h = emu.client.send_raw(Method::HEAD, "/jobs/j/tasks/t/files/stdout.txt", &[], &[], None).await.unwrap();
    assert_eq!(h.header("content-length"), Some("4"));
    assert_eq!(h.header("content-type"), Some("text/plain"));
    assert_eq!(h.header("ocp-batch-file-isdirectory"), Some("False"));
    assert!(h.header("ocp-creation-time").unwrap().ends_with("GMT"));
    assert!(h.header("ocp-batch-file-url").unwrap().starts_with("http%3A%2F%2F"));
    let d = emu.client.send_raw(Method::HEAD, "/jobs/j/tasks/t/files/wd", &[], &[], None).await.unwrap();
    assert_eq!(d.header("ocp-batch-file-isdirectory"), Some("True"));
    // Windows-style separators are accepted too.
    assert_eq!(emu.client.get_task_file("j", "t", "wd\\sub\\deeper\\data.bin").await.unwrap(), b"0123456789");
}

#[tokio::test]
async fn paths_cannot_leave_their_directory() {
    let emu = setup().await;
    for p in [
        "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "wd%2F..%2F..%2Ft%2Fstdout.txt",
        "%2Fetc%2Fpasswd",
        "..%2F",
        "wd%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fhostname",
    ] {
        let r = emu.client.send_raw(Method::GET, &format!("/jobs/j/tasks/t/files/{p}"), &[], &[], None).await;
        assert_batch_error(r, 404, "FileNotFound");
    }
    // A symlink pointing outside is not followed out.
    let node = emu.client.list_nodes("p").await.unwrap()[0].id.clone();
    let wd = emu.state().layout().task_dir(&node, "j", "t").join("wd");
    std::os::unix::fs::symlink("/etc", wd.join("escape")).unwrap();
    assert_batch_error(emu.client.send_raw(Method::GET, "/jobs/j/tasks/t/files/wd%2Fescape%2Fhostname", &[], &[], None).await, 404, "FileNotFound");
}

#[tokio::test]
async fn delete_removes_files_and_directories_only_recursively() {
    let emu = setup().await;
    assert_eq!(emu.client.send_raw(Method::DELETE, "/jobs/j/tasks/t/files/wd%2Fsub%2Fdeeper%2Fdata.bin", &[], &[], None).await.unwrap().status, 200);
    assert_batch_error(emu.client.get_task_file("j", "t", "wd/sub/deeper/data.bin").await, 404, "FileNotFound");
    assert_batch_error(emu.client.send_raw(Method::DELETE, "/jobs/j/tasks/t/files/wd%2Fsub", &[], &[], None).await, 409, "OperationInvalidForCurrentState");
    assert_eq!(emu.client.send_raw(Method::DELETE, "/jobs/j/tasks/t/files/wd%2Fsub", &[("recursive", "true")], &[], None).await.unwrap().status, 200);
    let gone = emu.client.send_raw(Method::HEAD, "/jobs/j/tasks/t/files/wd%2Fsub", &[], &[], None).await;
    assert_eq!(gone.unwrap_err().status().map(|s| s.as_u16()), Some(404));
}

#[tokio::test]
async fn node_files_cover_the_node_root() {
    let emu = setup().await;
    let node = emu.client.list_nodes("p").await.unwrap()[0].id.clone();
    let top: Vec<Value> = emu.client.list_all(&format!("/pools/p/nodes/{node}/files"), &[]).await.unwrap();
    let names: Vec<&str> = top.iter().map(|f| f["name"].as_str().unwrap()).collect();
    for n in ["applications", "fsmounts", "shared", "startup", "workitems"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let out = emu.client.send_raw(Method::GET, &format!("/pools/p/nodes/{node}/files/workitems%2Fj%2Fjob-1%2Ft%2Fstdout.txt"), &[], &[], None).await.unwrap();
    assert_eq!(out.body, b"out\n");
    assert_batch_error(emu.client.send_raw(Method::GET, "/pools/p/nodes/nope/files", &[], &[], None).await, 404, "NodeNotFound");
}
