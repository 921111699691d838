//! The built binary, black-box: readiness line, flags and their environment twins, and a whole
//! pool → job → process task → stdout flow through the signed client.

mod common;

#[path = "common/binary.rs"]
mod binary;

use batch_client::{BatchClient, Credentials};
use common::*;
use std::process::Command;
use std::time::Duration;

#[tokio::test]
async fn the_binary_announces_itself_and_runs_a_task_end_to_end() {
    let emu = binary::spawn(&[], &[]);
    assert!(emu.url.starts_with("http://127.0.0.1:") && !emu.url.ends_with(":0"), "{}", emu.url);
    assert_eq!(emu.account, batch_emulator::config::DEV_ACCOUNT_NAME);
    assert_eq!(emu.key, batch_emulator::config::DEV_ACCOUNT_KEY);
    assert!(emu.banner.iter().any(|l| l.contains("AzureNamedKeyCredential")), "{:?}", emu.banner);
    let client = BatchClient::new(&emu.url, Credentials::SharedKey { account: emu.account.clone(), key: emu.key.clone() });
    client.create_pool(&pool_spec("p", 1, 1, "spread")).await.unwrap();
    client.create_job(&job_spec("j", "p")).await.unwrap();
    client.create_task("j", &task_spec("t", "/bin/sh -c 'echo hello from $AZ_BATCH_TASK_ID'")).await.unwrap();
    let t = client.wait_for_task("j", "t", |s| s == "completed", Duration::from_secs(30)).await.unwrap();
    assert_eq!(t.execution_info.unwrap().exit_code, Some(0));
    assert_eq!(client.get_task_file("j", "t", "stdout.txt").await.unwrap(), b"hello from t\n");
    // A client with another key is refused.
    let wrong = BatchClient::new(&emu.url, Credentials::SharedKey { account: emu.account.clone(), key: "d3Jvbmcga2V5".into() });
    assert_batch_error(wrong.get_job("j").await, 403, "AuthenticationFailed");
}

#[tokio::test]
async fn flags_have_environment_twins_and_loose_skips_auth() {
    let emu = binary::spawn(&["--loose"], &[("BATCH_EMULATOR_ACCOUNT", "myaccount"), ("BATCH_EMULATOR_KEY", "bXlrZXk=")]);
    assert_eq!(emu.account, "myaccount");
    assert_eq!(emu.key, "bXlrZXk=");
    let anyone = BatchClient::new(&emu.url, Credentials::None);
    let pools: Vec<serde_json::Value> = anyone.list_all("/pools", &[]).await.unwrap();
    assert!(pools.is_empty());
}

#[test]
fn a_bad_key_stops_startup_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_batch-emulator")).args(["--addr", "127.0.0.1:0", "--key", "not base64!"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key must be base64"));
}

#[test]
fn help_documents_every_flag_with_its_environment_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_batch-emulator")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for (flag, env) in [
        ("--addr", "BATCH_EMULATOR_ADDR"),
        ("--account", "BATCH_EMULATOR_ACCOUNT"),
        ("--key", "BATCH_EMULATOR_KEY"),
        ("--data-dir", "BATCH_EMULATOR_DATA_DIR"),
        ("--loose", "BATCH_EMULATOR_LOOSE"),
    ] {
        assert!(help.contains(flag) && help.contains(env), "{flag} / {env} missing from --help:\n{help}");
    }
    assert!(help.contains("127.0.0.1:8080"));
}
