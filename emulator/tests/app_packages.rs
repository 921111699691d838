//! Application packages from a local store (`--app-packages`): list and get applications,
//! pool references checked (409 `InvalidApplicationPackageReferences`), packages extracted on
//! the node with their `AZ_BATCH_APP_PACKAGE_*` variables (versioned, and unversioned for the
//! default), pool packages seen by every task, and a task whose package cannot be deployed
//! failing before its command runs.

mod common;

use batch_emulator::clock::SystemClock;
use common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// A zip holding `bin/run.sh` (printing `text`, mode 0755).
fn package(path: &Path, text: &str) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    z.add_directory("bin/", options).unwrap();
    z.start_file("bin/run.sh", options).unwrap();
    z.write_all(format!("#!/bin/sh\necho {text}\n").as_bytes()).unwrap();
    z.finish().unwrap();
}

/// The store: Blender 2.79 and 3.0 (default 3.0, display name set), and `nodefault` 1.0.
fn store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("Blender");
    std::fs::create_dir_all(&b).unwrap();
    package(&b.join("2.79.zip"), "blender-2.79");
    package(&b.join("3.0.zip"), "blender-3.0");
    std::fs::write(b.join("default"), "3.0\n").unwrap();
    std::fs::write(b.join("displayName"), "Blender renderer\n").unwrap();
    std::fs::create_dir_all(dir.path().join("nodefault")).unwrap();
    package(&dir.path().join("nodefault/1.0.zip"), "nodefault-1.0");
    dir
}

async fn emulator_with(store: &Path) -> TestEmulator {
    let dir = store.to_path_buf();
    emulator_configured(Runner::Local, Arc::new(SystemClock), move |c| c.app_packages = Some(dir)).await
}

fn pool_with(id: &str, refs: Value) -> Value {
    let mut p = serde_json::to_value(pool_spec(id, 1, 2, "spread")).unwrap();
    p["applicationPackageReferences"] = refs;
    p
}

#[tokio::test]
async fn applications_are_listed_and_got_from_the_store() {
    let s = store();
    let emu = emulator_with(s.path()).await;
    let apps: Vec<Value> = emu.client.list_all("/applications", &[("maxresults", "1")]).await.unwrap();
    assert_eq!(
        apps,
        [
            json!({"id": "Blender", "displayName": "Blender renderer", "versions": ["2.79", "3.0"]}),
            json!({"id": "nodefault", "displayName": "nodefault", "versions": ["1.0"]})
        ]
    );
    let one: Value = emu.client.get_json("/applications/blender", &[]).await.unwrap();
    assert_eq!((one["id"].as_str(), one["versions"].as_array().map(Vec::len)), (Some("Blender"), Some(2)));
    assert!(one["odata.metadata"].as_str().unwrap().ends_with("$metadata#applications/@Element"));
    assert_batch_error(emu.client.get_json::<Value>("/applications/absent", &[]).await, 404, "ApplicationNotFound");
    // Without a store the account has no applications.
    let bare = emulator(Runner::Fake).await;
    assert!(bare.client.list_all::<Value>("/applications", &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn pool_references_must_name_packages_the_account_has() {
    let s = store();
    let emu = emulator_with(s.path()).await;
    for refs in [json!([{"applicationId": "absent"}]), json!([{"applicationId": "Blender", "version": "9.9"}]), json!([{"applicationId": "nodefault"}])] {
        let r = emu.client.send_json(reqwest::Method::POST, "/pools", &pool_with("p", refs.clone())).await;
        assert_batch_error(r, 409, "InvalidApplicationPackageReferences");
    }
    assert_batch_error(emu.client.send_json(reqwest::Method::POST, "/pools", &pool_with("p", json!([{"version": "1"}]))).await, 400, "MissingRequiredProperty");
    let eleven: Vec<Value> = (0..11).map(|_| json!({"applicationId": "Blender"})).collect();
    assert_batch_error(emu.client.send_json(reqwest::Method::POST, "/pools", &pool_with("p", json!(eleven))).await, 400, "InvalidPropertyValue");
    emu.client.send_json(reqwest::Method::POST, "/pools", &pool_with("p", json!([{"applicationId": "blender"}]))).await.unwrap();
    let pool: Value = emu.client.get_json("/pools/p", &[]).await.unwrap();
    assert_eq!(pool["applicationPackageReferences"], json!([{"applicationId": "blender"}]));
    // PATCH and updateproperties are checked too, and replace the list.
    assert_batch_error(
        emu.client.send_json(reqwest::Method::PATCH, "/pools/p", &json!({"applicationPackageReferences": [{"applicationId": "absent"}]})).await,
        409,
        "InvalidApplicationPackageReferences",
    );
    emu.client
        .send_json(
            reqwest::Method::POST,
            "/pools/p/updateproperties",
            &json!({"applicationPackageReferences": [{"applicationId": "nodefault", "version": "1.0"}], "metadata": []}),
        )
        .await
        .unwrap();
    let pool: Value = emu.client.get_json("/pools/p", &[]).await.unwrap();
    assert_eq!(pool["applicationPackageReferences"], json!([{"applicationId": "nodefault", "version": "1.0"}]));
}

#[tokio::test]
async fn packages_are_extracted_on_the_node_and_named_by_variables() {
    let s = store();
    let emu = emulator_with(s.path()).await;
    emu.client.send_json(reqwest::Method::POST, "/pools", &pool_with("p", json!([{"applicationId": "Blender"}]))).await.unwrap();
    emu.idle().await;
    emu.job("j", "p").await;
    let cmd = "/bin/sh -c '$AZ_BATCH_APP_PACKAGE_blender_3_0/bin/run.sh; $AZ_BATCH_APP_PACKAGE_BLENDER/bin/run.sh; $AZ_BATCH_APP_PACKAGE_nodefault_1_0/bin/run.sh; test -d $AZ_BATCH_NODE_ROOT_DIR/applications && echo under-the-node-root'";
    emu.client
        .send_json(
            reqwest::Method::POST,
            "/jobs/j/tasks",
            &json!({"id": "t", "commandLine": cmd, "applicationPackageReferences": [{"applicationId": "nodefault", "version": "1.0"}]}),
        )
        .await
        .unwrap();
    // A task without references of its own still sees the pool's package.
    emu.task("j", "plain", "/bin/sh -c '$AZ_BATCH_APP_PACKAGE_Blender_3_0/bin/run.sh; printenv AZ_BATCH_APP_PACKAGE_nodefault_1_0 || echo not-mine'").await;
    let t = emu.completed("j", "t").await;
    assert_eq!(t.execution_info.as_ref().and_then(|i| i.exit_code), Some(0), "{:?}", t.execution_info);
    let out = String::from_utf8(emu.client.get_task_file("j", "t", "stdout.txt").await.unwrap()).unwrap();
    assert_eq!(out, "blender-3.0\nblender-3.0\nnodefault-1.0\nunder-the-node-root\n");
    emu.completed("j", "plain").await;
    let out = String::from_utf8(emu.client.get_task_file("j", "plain", "stdout.txt").await.unwrap()).unwrap();
    assert_eq!(out, "blender-3.0\nnot-mine\n");
}

#[tokio::test]
async fn a_task_package_that_cannot_be_deployed_fails_before_the_command_runs() {
    let s = store();
    let emu = emulator_with(s.path()).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    // "If this is omitted on a Task, and no default version is specified for this application,
    // the Task fails with a pre-processing error."
    emu.client
        .send_json(
            reqwest::Method::POST,
            "/jobs/j/tasks",
            &json!({"id": "t", "commandLine": "/bin/sh -c 'echo ran'", "applicationPackageReferences": [{"applicationId": "nodefault"}]}),
        )
        .await
        .unwrap();
    let t = emu.completed("j", "t").await;
    let info = t.execution_info.unwrap();
    let f = info.failure_info.clone().unwrap();
    assert_eq!((f.category.as_str(), f.code.as_deref()), ("usererror", Some("ApplicationPackageError")));
    assert_eq!((info.result.as_deref(), info.exit_code), (Some("failure"), None));
    assert!(emu.client.get_task_file("j", "t", "stdout.txt").await.unwrap().is_empty(), "the command never ran");
}
