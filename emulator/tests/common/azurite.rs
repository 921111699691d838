#![allow(dead_code)]
//! A real Azurite (`azurite-blob` from npm, installed by `tests/js/setup.sh`) on a free loopback
//! port with in-memory persistence and telemetry off, and a Shared Key client
//! ([`batch_client::storage::StorageClient`]) to put and read blobs the way a user's own program
//! would. A missing Node or npm registry fails the test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use batch_client::storage::{StorageAccount, StorageClient, DEV_STORAGE_ACCOUNT as ACCOUNT, DEV_STORAGE_KEY as KEY};

pub struct Azurite {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub storage: StorageClient,
    _dir: tempfile::TempDir,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// Starts Azurite's blob service (installing it first when missing).
pub fn start() -> Azurite {
    let out = Command::new("bash").arg(repo().join("tests/js/setup.sh")).output().expect("run tests/js/setup.sh");
    assert!(
        out.status.success(),
        "tests/js/setup.sh failed (Node and npm are needed):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(repo().join("tests/js/node_modules/.bin/azurite-blob"))
        .args(["--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--disableTelemetry", "--silent"])
        // azure-storage-blob 12.31 asks for a storage version newer than Azurite 3.37 knows.
        .arg("--skipApiVersionCheck")
        // Its debug and extent files, if any, go to its working directory.
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start azurite-blob");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let url = loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                if let Some(url) = line.split("successfully listens on ").nth(1) {
                    break url.trim().to_string();
                }
            }
            Err(e) => panic!("azurite-blob did not start: {e}"),
        }
    };
    let conn = format!("DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={url}/{ACCOUNT};");
    let storage = StorageClient::new(StorageAccount::from_connection_string(&conn).expect("connection string"));
    Azurite { child, url, storage, _dir: dir }
}

impl Azurite {
    /// The connection string of the development account on this Azurite.
    pub fn connection_string(&self) -> String {
        format!("DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={}/{ACCOUNT};", self.url)
    }

    pub fn container_url(&self, container: &str) -> String {
        self.storage.account.container_url(container)
    }

    fn expiry() -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + time::Duration::hours(1)
    }

    /// A container URL with a service SAS granting `permissions` (`rl`, `w`, …).
    pub fn container_sas(&self, container: &str, permissions: &str) -> String {
        self.storage.account.container_sas_url(container, permissions, Self::expiry())
    }

    /// A blob URL with the container's SAS.
    pub fn blob_sas(&self, container: &str, name: &str, permissions: &str) -> String {
        self.storage.account.blob_sas_url(container, name, permissions, Self::expiry())
    }

    pub async fn create_container(&self, name: &str) {
        self.storage.create_container(name).await.expect("create container");
    }

    pub async fn put_blob(&self, container: &str, name: &str, bytes: &[u8]) {
        self.storage.put_blob(container, name, bytes).await.expect("put blob");
    }

    /// A blob's bytes and headers, or None when it does not exist.
    pub async fn get_blob(&self, container: &str, name: &str) -> Option<(Vec<u8>, reqwest::header::HeaderMap)> {
        self.storage.get_blob(container, name).await.expect("get blob")
    }

    /// The names of a container's blobs, sorted.
    pub async fn list(&self, container: &str) -> Vec<String> {
        self.storage.list_blobs(container).await.expect("list blobs")
    }
}
