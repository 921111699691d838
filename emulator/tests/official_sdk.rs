//! The official clients, which nobody here wrote, drive the built binary: Python azure-batch
//! 15.1.0 and 14.2.0, each in its own venv (`tests/python/setup-venvs.sh` creates them), the
//! JavaScript `@azure/batch` 10.2.0 and 8.0.0 (`tests/js/setup.sh` installs them from its lock
//! file), and `az batch` from azure-cli 2.91.0 (`tests/azcli/setup.sh`). The scripts are
//! idempotent and `scripts/test` runs them first. A missing Python, Node, PyPI or npm registry
//! makes these tests fail, loudly.

#[path = "common/azurite.rs"]
mod azurite;
#[path = "common/binary.rs"]
mod binary;

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn ensure_venvs() {
    let out = Command::new("bash").arg(repo().join("tests/python/setup-venvs.sh")).output().expect("run setup-venvs.sh");
    assert!(out.status.success(), "setup-venvs.sh failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn run_flow(venv: &str, script: &str) {
    ensure_venvs();
    let emu = binary::spawn(&[], &[]);
    let out = Command::new(repo().join(venv).join("bin/python"))
        .arg(repo().join("tests/python").join(script))
        .args([&emu.url, &emu.account, &emu.key])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("flow: OK"), "{script} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn azure_batch_15_drives_pool_job_task_and_reads_stdout() {
    run_flow(".venv-sdk15", "sdk15_flow.py");
}

#[test]
fn azure_batch_15_drives_job_manager_job_schedule_and_node_operations() {
    run_flow(".venv-sdk15", "sdk15_lifecycle_flow.py");
}

#[test]
fn azure_batch_14_drives_pool_job_task_and_reads_stdout() {
    run_flow(".venv-sdk14", "sdk14_flow.py");
}

/// Runs `tests/js/flow.cjs` with the JavaScript SDK package `sdk` against a fresh emulator.
fn run_js_flow(sdk: &str) {
    let out = Command::new("bash").arg(repo().join("tests/js/setup.sh")).output().expect("run tests/js/setup.sh");
    assert!(out.status.success(), "tests/js/setup.sh failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let emu = binary::spawn(&[], &[]);
    let out =
        Command::new("node").arg(repo().join("tests/js/flow.cjs")).args([&emu.url, &emu.account, &emu.key]).env("BATCH_SDK", sdk).output().expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("flow: OK"), "flow.cjs ({sdk}) failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// The JavaScript SDK signs a body-less DELETE with an empty Content-Length (where the Python
/// SDKs sign `0`): its deletes of a task, a file, a job and a pool must all be accepted.
#[test]
fn azure_batch_js_10_2_drives_pool_job_task_and_deletes() {
    run_js_flow("@azure/batch");
}

/// An older generation of the JavaScript SDK (8.0.0, installed as `@azure/batch-8`).
#[test]
fn azure_batch_js_8_drives_pool_job_task_and_deletes() {
    run_js_flow("@azure/batch-8");
}

/// Microsoft's Python quickstart as its users write it: inputs uploaded to Azurite with
/// azure-storage-blob, `httpUrl` resource files with blob SAS URLs, `outputFiles` to a container,
/// results read back from storage; on both SDK generations.
fn run_quickstart(venv: &str) {
    ensure_venvs();
    let az = azurite::start();
    let conn = az.connection_string();
    let emu = binary::spawn(&["--auto-storage", &conn], &[]);
    let out = Command::new(repo().join(venv).join("bin/python"))
        .arg(repo().join("tests/python/quickstart_flow.py"))
        .args([&emu.url, &emu.account, &emu.key, &conn])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("flow: OK"), "quickstart_flow.py ({venv}) failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_python_quickstart_runs_unchanged_with_azure_batch_15_and_azurite() {
    run_quickstart(".venv-sdk15");
}

#[test]
fn the_python_quickstart_runs_unchanged_with_azure_batch_14_and_azurite() {
    run_quickstart(".venv-sdk14");
}

/// HTTPS (`--cert`/`--cert-key`) for code that authenticates with Microsoft Entra ID: the
/// official Python SDK sends a TokenCredential's bearer token to the emulator over TLS,
/// trusting a development certificate made here with openssl (REQUESTS_CA_BUNDLE).
#[test]
fn azure_batch_15_with_a_token_credential_over_https() {
    ensure_venvs();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian: openssl; scripts/test installs it)");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    let emu = binary::spawn(&["--cert", &cert_s, "--cert-key", &key_s], &[]);
    assert!(emu.url.starts_with("https://127.0.0.1:"), "{}", emu.url);
    let out = Command::new(repo().join(".venv-sdk15/bin/python"))
        .arg(repo().join("tests/python/https_token_flow.py"))
        .arg(&emu.url)
        .env("REQUESTS_CA_BUNDLE", &cert)
        .env("SSL_CERT_FILE", &cert)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("flow: OK"), "https_token_flow.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// `az batch` (azure-cli 2.91.0 in its own venv, `tests/azcli/setup.sh`): pool, nodes, job,
/// tasks, stdout, task counts, an error and deletes, as a user types them.
#[test]
fn az_batch_drives_pool_job_task_and_deletes() {
    let out = Command::new("bash").arg(repo().join("tests/azcli/setup.sh")).output().expect("run tests/azcli/setup.sh");
    assert!(out.status.success(), "tests/azcli/setup.sh failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let emu = binary::spawn(&[], &[]);
    let out = Command::new("bash").arg(repo().join("tests/azcli/flow.sh")).args([&emu.url, &emu.account, &emu.key]).output().expect("run flow.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("flow: OK"), "az batch flow failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// The Python helper (`clients/python`: `BatchEmulator` and its pytest fixtures) starts the
/// binary, and the container image, and hands back a working azure-batch client.
#[test]
fn the_python_pytest_fixtures_start_the_binary_and_the_image() {
    ensure_venvs();
    let script = repo().join("fixtures/images/build-emulator-image.sh");
    let image = "batch-emulator-fixture/emulator:pytest";
    let out = Command::new("bash").arg(&script).args([env!("CARGO_BIN_EXE_batch-emulator"), image]).output().expect("build the image");
    assert!(out.status.success(), "building the emulator image (is a Docker engine running?): {}", String::from_utf8_lossy(&out.stderr));
    for image in [None, Some(image)] {
        let mut cmd = Command::new(repo().join(".venv-sdk15/bin/python"));
        cmd.args(["-m", "pytest", "-q", "-p", "batch_emulator.pytest_plugin"])
            .arg(repo().join("clients/python/tests"))
            .env("PYTHONPATH", repo().join("clients/python"))
            .env("BATCH_EMULATOR_BIN", env!("CARGO_BIN_EXE_batch-emulator"));
        if let Some(i) = image {
            // The block-of-its-own test starts the binary: only the fixtures' tests here.
            cmd.env("BATCH_EMULATOR_IMAGE", i).args(["-k", "runs_a_task or errors"]);
        }
        let out = cmd.output().expect("run pytest");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && stdout.contains("passed"), "pytest ({image:?}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    }
}
