//! Figure 8, storage: a task's resource-file download of N files × 1 MiB from a real Azurite
//! (a container listed through a SAS), and the upload of the same files as output files,
//! against curl doing the same transfers (8 at a time, as the node agent does) in the same run,
//! in alternating order, over 9 rounds after one that warms everything up.
//! The download is timed by the task itself: from its `executionInfo.startTime` (the node
//! agent reports the task running as its downloads begin) to its `endTime` (the process, a
//! `/bin/true`, exited), so the client's polling for completion, which shares the machine's
//! two cores with Azurite, is slow (every 50 ms) and outside the figure; the whole turnaround
//! is shown beside it. curl's download includes the same List Blobs call. The upload is timed
//! as turnarounds: the task with downloads and uploads less the one with downloads only.

use crate::{job, median, ms, pool, start_emulator_with, Row};
use batch_client::storage::{StorageAccount, StorageClient};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Azurite(std::process::Child);

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Azurite's blob service from `tests/js` (installed by `tests/js/setup.sh`); its URL.
fn azurite() -> (Azurite, String) {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/js/node_modules/.bin/azurite-blob");
    assert!(bin.exists(), "the storage figures need Azurite: run `bash tests/js/setup.sh` ({} is missing)", bin.display());
    let mut child = Command::new(&bin)
        .args(["--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--disableTelemetry", "--silent", "--skipApiVersionCheck"])
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start azurite-blob");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(u) = l.split("successfully listens on ").nth(1) {
                    break u.trim().to_string();
                }
            }
            _ => panic!("azurite-blob exited before it listened"),
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Azurite(child), url)
}

/// Runs curl over many transfers, 8 at a time; the time it took.
fn curl(args: Vec<String>) -> Duration {
    let t0 = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--parallel", "--parallel-max", "8"])
        .args(&args)
        .output()
        .expect("curl is needed for the storage baseline");
    assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
    t0.elapsed()
}

fn expiry() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::hours(2)
}

/// curl's round: the same transfers (the container listed, its blobs downloaded), then the same
/// uploads; the two times.
fn curl_round(account: &StorageAccount, input: &str, names: &[String], r: usize) -> (Duration, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let list_started = Instant::now();
    let listed = Command::new("curl").args(["-sS", "--fail", "-o", "/dev/null"]).arg(format!("{input}&restype=container&comp=list")).status().expect("curl");
    assert!(listed.success(), "curl could not list the container");
    let listing = list_started.elapsed();
    let mut args = Vec::new();
    for name in names {
        args.extend(["-o".into(), dir.path().join(name).to_string_lossy().into_owned(), account.blob_sas_url("input", name, "r", expiry())]);
    }
    let down = listing + curl(args);
    let mut args = vec!["-H".to_string(), "x-ms-blob-type: BlockBlob".into()];
    for name in names {
        args.extend([
            "-T".into(),
            dir.path().join(name).to_string_lossy().into_owned(),
            account.blob_sas_url("out-curl", &format!("c{r}/{name}"), "w", expiry()),
        ]);
    }
    (down, curl(args))
}

pub async fn storage_rows(bin: &Path, smoke: bool) -> Vec<Row> {
    // Round 0 warms Azurite (and both clients' connections) up and is not counted.
    let (n, rounds) = if smoke { (5, 2) } else { (100, 10) };
    let (_azurite, url) = azurite();
    let conn = format!(
        "DefaultEndpointsProtocol=http;AccountName={0};AccountKey={1};BlobEndpoint={url}/{0};",
        batch_client::storage::DEV_STORAGE_ACCOUNT,
        batch_client::storage::DEV_STORAGE_KEY
    );
    let storage = StorageClient::new(StorageAccount::from_connection_string(&conn).expect("connection string"));
    for c in ["input", "out-emu", "out-curl"] {
        storage.create_container(c).await.expect("container");
    }
    let names: Vec<String> = (0..n).map(|i| format!("f{i:03}")).collect();
    let body: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    for name in &names {
        storage.put_blob("input", name, &body).await.expect("put input");
    }
    let account = &storage.account;
    let input = account.container_sas_url("input", "rl", expiry());

    let e = start_emulator_with(&bin.to_path_buf(), &["--auto-storage", &conn], tempfile::tempdir().expect("tempdir"));
    let c = &e.client;
    pool(c, "sp", 1, 1, false).await;
    job(c, "sj", "sp").await;
    // The turnaround (add → `completed` seen, polled every `poll`) and the task's own span
    // (`startTime` → `endTime`).
    let run = |id: String, body: serde_json::Value, poll: u64| async move {
        let t0 = Instant::now();
        c.send_json(reqwest::Method::POST, "/jobs/sj/tasks", &body).await.expect("add task");
        let task = loop {
            if let Ok(t) = c.get_task("sj", &id).await {
                if t.state.as_deref() == Some("completed") {
                    break t;
                }
            }
            tokio::time::sleep(Duration::from_millis(poll)).await;
        };
        let turnaround = t0.elapsed();
        let info = task.execution_info.expect("executionInfo");
        let span = match (info.start_time, info.end_time) {
            (Some(s), Some(e)) => Duration::from_secs_f64((e - s).as_seconds_f64().max(0.0)),
            _ => turnaround,
        };
        (turnaround, span)
    };
    // Polled every 5 ms, not every 1: on two cores a tighter poll takes CPU from the transfer.
    let turnaround = |id: String, body: serde_json::Value| async move { run(id, body, 5).await.0 };
    let (mut download, mut download_turnaround, mut both, mut curl_down, mut curl_up, mut plain) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        // Who goes first alternates, so neither side always meets Azurite fresh.
        let curl_first = r % 2 == 1;
        if curl_first {
            let (d, u) = curl_round(account, &input, &names, r);
            curl_down.push(d);
            curl_up.push(u);
        }
        let id = format!("p{r}");
        plain.push(turnaround(id.clone(), json!({"id": id, "commandLine": "/bin/true"})).await);
        let id = format!("d{r}");
        let (whole, span) = run(id.clone(), json!({"id": id, "commandLine": "/bin/true", "resourceFiles": [{"storageContainerUrl": input}]}), 50).await;
        download.push(span);
        download_turnaround.push(whole);
        let id = format!("t{r}");
        let d = turnaround(id.clone(), json!({"id": id, "commandLine": "/bin/true", "resourceFiles": [{"storageContainerUrl": input}]})).await;
        let id = format!("u{r}");
        let out = json!({"filePattern": "f*", "destination": {"container": {"containerUrl": account.container_sas_url("out-emu", "w", expiry()), "path": id}},
            "uploadOptions": {"uploadCondition": "taskcompletion"}});
        let b = turnaround(id.clone(), json!({"id": id, "commandLine": "/bin/true", "resourceFiles": [{"storageContainerUrl": input}], "outputFiles": [out]}))
            .await;
        both.push(b.saturating_sub(d));
        if !curl_first {
            let (d, u) = curl_round(account, &input, &names, r);
            curl_down.push(d);
            curl_up.push(u);
        }
    }
    for v in [&mut download, &mut download_turnaround, &mut both, &mut curl_down, &mut curl_up, &mut plain] {
        v.remove(0);
    }
    let uploaded = storage.list_blobs("out-emu").await.expect("list").len();
    let (d, dt, up, cd, cu, p) = (median(download), median(download_turnaround), median(both), median(curl_down), median(curl_up), median(plain));
    let all_there = uploaded == n * rounds;
    vec![
        Row {
            name: format!("resource files: {n} × 1 MiB from Azurite"),
            emulator: format!("{:.0} ms (turnaround {:.0} ms; no files {:.0} ms)", ms(d), ms(dt), ms(p)),
            baseline: format!("{:.0} ms (curl: list, then 8 at a time)", ms(cd)),
            ratio: format!("{:.2}x", d.as_secs_f64() / cd.as_secs_f64()),
            target: "≤ 1.2x".into(),
        },
        Row {
            name: format!("output files: {n} × 1 MiB to Azurite"),
            emulator: format!("{:.0} ms", ms(up)),
            baseline: format!("{:.0} ms (curl, 8 at a time)", ms(cu)),
            ratio: format!("{:.2}x{}", up.as_secs_f64() / cu.as_secs_f64(), if all_there { "" } else { "; BLOBS MISSING" }),
            target: "≤ 1.2x".into(),
        },
    ]
}
