//! The whole suite against an emulator started in-process (with the Docker engine for the
//! container scenarios and a real Azurite for the storage ones: without them they fail,
//! loudly), and the azure target without credentials.

#[path = "../../emulator/tests/common/azurite.rs"]
mod azurite;

use batch_client::Credentials;
use batch_conformance::{report, run, Outcome, PoolProfile, Target, TargetKind};
use batch_emulator::agent::container::{ContainerRuntime, DockerRuntime};
use batch_emulator::agent::process::LocalProcessRunner;
use batch_emulator::agent::Runtimes;
use batch_emulator::clock::SystemClock;
use batch_emulator::config::{EmulatorConfig, DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes_on_the_emulator() {
    let build = std::process::Command::new("bash").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/images/build.sh")).output().unwrap();
    assert!(build.status.success(), "fixture images: {}", String::from_utf8_lossy(&build.stderr));
    let az = azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let docker = DockerRuntime::connect().await.unwrap_or_else(|e| panic!("the container scenarios need a Docker engine: {e}"));
    let containers: Arc<dyn ContainerRuntime> = Arc::new(docker);
    let runtimes = Runtimes { processes: Arc::new(LocalProcessRunner::default()), containers: Ok(containers) };
    let mut config = EmulatorConfig::for_tests(dir.path().join("data"));
    config.auto_storage = az.connection_string();
    let store = dir.path().join("app-packages");
    batch_conformance::write_app_package_store(&store).unwrap();
    config.app_packages = Some(store);
    let emu = batch_emulator::server::start(config, runtimes, Arc::new(SystemClock)).await.unwrap();
    let target = Target {
        kind: TargetKind::Emulator,
        url: emu.url.clone(),
        credentials: Credentials::SharedKey { account: DEV_ACCOUNT_NAME.into(), key: DEV_ACCOUNT_KEY.into() },
        profile: PoolProfile::emulator(),
        storage: Some(az.connection_string()),
        application: Some((batch_conformance::APP_PACKAGE_ID.into(), batch_conformance::APP_PACKAGE_VERSION.into())),
    };
    let results = run(&target, None).await;
    let table = report::table(&results);
    let (passed, failed, not_yet) = report::counts(&results);
    assert_eq!(failed, 0, "{table}");
    assert_eq!(passed + not_yet, results.len());
    // Exactly these scenarios may answer "not yet emulated"; one that passed before and turns
    // into "not yet" is a regression, and one listed here that passes should leave the list.
    const EXPECTED_NOT_YET: &[&str] = &[];
    let not_yet_names: Vec<&str> = results.iter().filter(|r| r.outcome != Outcome::Passed).map(|r| r.name.as_str()).collect();
    assert_eq!(not_yet_names, EXPECTED_NOT_YET, "{table}");
    assert!(passed >= 60, "{table}");
    // Scenarios clean up after themselves: no pool or job of the run is left.
    let client = batch_client::BatchClient::new(&emu.url, target.credentials.clone());
    let jobs: Vec<serde_json::Value> = client.list_all("/jobs", &[("$filter", "startswith(id,'conf-')")]).await.unwrap();
    let pools: Vec<serde_json::Value> = client.list_all("/pools", &[("$filter", "startswith(id,'conf-') and state eq 'active'")]).await.unwrap();
    assert!(jobs.iter().all(|j| j["state"] == "deleting"), "{jobs:?}");
    assert!(pools.is_empty(), "{pools:?}");
    // Once the deletions have run, no container of this emulator is left.
    tokio::time::timeout(std::time::Duration::from_secs(30), emu.state.run_until_idle()).await.expect("deletions finish");
    let filter = format!("label=batch-emulator.instance={}", emu.state.instance_id());
    let out = std::process::Command::new("docker").args(["ps", "-aq", "--filter", &filter]).output().unwrap();
    assert!(out.stdout.is_empty(), "containers left behind: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn the_azure_target_without_credentials_exits_with_a_message() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_batch-conformance"))
        .args(["--target", "azure"])
        .env_remove("BATCH_ACCOUNT_URL")
        .env_remove("BATCH_ACCOUNT_NAME")
        .env_remove("BATCH_ACCOUNT_KEY")
        .env_remove("BATCH_ACCESS_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BATCH_ACCOUNT_URL") && err.contains("BATCH_ACCOUNT_KEY"), "{err}");
}

#[test]
fn list_shows_every_scenario_with_its_source() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_batch-conformance")).arg("--list").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().count() >= 30, "{text}");
    assert!(text.contains("reef-on-azure-batch-with-docker.md"));
}
