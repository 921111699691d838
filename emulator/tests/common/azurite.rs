#![allow(dead_code)]
//! A real Azurite (`azurite-blob` from npm, installed by `tests/js/setup.sh`) on a free loopback
//! port with in-memory persistence and telemetry off, and a Shared Key client to put and read
//! blobs the way a user's own program would. A missing Node or npm registry fails the test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub struct Azurite {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    http: reqwest::Client,
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
    Azurite { child, url, http: reqwest::Client::new(), _dir: dir }
}

impl Azurite {
    /// The connection string of the development account on this Azurite.
    pub fn connection_string(&self) -> String {
        format!("DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={}/{ACCOUNT};", self.url)
    }

    pub fn container_url(&self, container: &str) -> String {
        format!("{}/{ACCOUNT}/{container}", self.url)
    }

    /// A container URL with a service SAS granting `permissions` (`rl`, `w`, …).
    pub fn container_sas(&self, container: &str, permissions: &str) -> String {
        let storage = batch_emulator::blob::LinkedStorage::from_connection_string(&self.connection_string()).expect("connection string");
        storage.container_sas_url(container, permissions, time::OffsetDateTime::now_utc() + time::Duration::hours(1)).expect("sas").to_string()
    }

    /// A blob URL with the container's SAS.
    pub fn blob_sas(&self, container: &str, name: &str, permissions: &str) -> String {
        let c = url::Url::parse(&self.container_sas(container, permissions)).expect("url");
        batch_emulator::blob::blob_url(&c, name).to_string()
    }

    /// A Shared Key signed request (storage's own scheme: x-ms-* headers, /account/path).
    async fn send(&self, method: reqwest::Method, path: &str, query: &[(&str, &str)], headers: &[(&str, &str)], body: Vec<u8>) -> reqwest::Response {
        use base64::Engine;
        let date = httpdate(time::OffsetDateTime::now_utc());
        let mut ms: Vec<(String, String)> = headers.iter().filter(|(k, _)| k.starts_with("x-ms-")).map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ms.push(("x-ms-date".into(), date.clone()));
        ms.push(("x-ms-version".into(), "2021-08-06".into()));
        ms.sort();
        let content_length = if body.is_empty() { String::new() } else { body.len().to_string() };
        let content_type = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.to_string()).unwrap_or_default();
        let mut q: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect();
        q.sort();
        let mut to_sign = format!("{method}\n\n\n{content_length}\n\n{content_type}\n\n\n\n\n\n\n");
        for (k, v) in &ms {
            to_sign.push_str(&format!("{k}:{v}\n"));
        }
        to_sign.push_str(&format!("/{ACCOUNT}/{ACCOUNT}{path}"));
        for (k, v) in &q {
            to_sign.push_str(&format!("\n{k}:{v}"));
        }
        let key = base64::engine::general_purpose::STANDARD.decode(KEY).expect("key");
        let sig = batch_client::auth::sign_with_key_bytes(&key, &to_sign);
        let mut req =
            self.http.request(method, format!("{}/{ACCOUNT}{path}", self.url)).query(query).header("Authorization", format!("SharedKey {ACCOUNT}:{sig}"));
        for (k, v) in &ms {
            req = req.header(k, v);
        }
        for (k, v) in headers.iter().filter(|(k, _)| !k.starts_with("x-ms-")) {
            req = req.header(*k, *v);
        }
        req.body(body).send().await.expect("azurite answers")
    }

    pub async fn create_container(&self, name: &str) {
        let r = self.send(reqwest::Method::PUT, &format!("/{name}"), &[("restype", "container")], &[], Vec::new()).await;
        assert!(r.status().is_success(), "create container {name}: {} {}", r.status(), r.text().await.unwrap_or_default());
    }

    pub async fn put_blob(&self, container: &str, name: &str, bytes: &[u8]) {
        let path = format!(
            "/{container}/{}",
            name.split('/').map(|s| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()).collect::<Vec<_>>().join("/")
        );
        let r = self.send(reqwest::Method::PUT, &path, &[], &[("x-ms-blob-type", "BlockBlob")], bytes.to_vec()).await;
        assert!(r.status().is_success(), "put blob {name}: {} {}", r.status(), r.text().await.unwrap_or_default());
    }

    /// A blob's bytes and headers, or None when it does not exist.
    pub async fn get_blob(&self, container: &str, name: &str) -> Option<(Vec<u8>, reqwest::header::HeaderMap)> {
        let path = format!(
            "/{container}/{}",
            name.split('/').map(|s| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()).collect::<Vec<_>>().join("/")
        );
        let r = self.send(reqwest::Method::GET, &path, &[], &[], Vec::new()).await;
        if r.status() == 404 {
            return None;
        }
        assert!(r.status().is_success(), "get blob {name}: {}", r.status());
        let headers = r.headers().clone();
        Some((r.bytes().await.expect("body").to_vec(), headers))
    }

    /// The names of a container's blobs.
    pub async fn list(&self, container: &str) -> Vec<String> {
        let r = self.send(reqwest::Method::GET, &format!("/{container}"), &[("restype", "container"), ("comp", "list")], &[], Vec::new()).await;
        assert!(r.status().is_success(), "list {container}: {}", r.status());
        let body = r.text().await.expect("body");
        let mut names: Vec<String> = body.split("<Name>").skip(1).filter_map(|s| s.split("</Name>").next()).map(|s| s.replace("&amp;", "&")).collect();
        names.sort();
        names
    }
}

fn httpdate(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    t.format(&f).expect("date")
}
