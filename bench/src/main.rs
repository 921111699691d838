//! `batch-bench`: measures the emulator against baselines taken in the same run (absolute times
//! on shared machines are noise; ratios are what is reported):
//!
//! 1. container task turnaround (add → completed seen by a client) vs the same container
//!    created, started, waited for and removed directly on the Engine API;
//! 2. process task turnaround for `/bin/true` vs spawning it directly;
//! 3. pool ready time: a 10-node plain pool until every node is idle;
//! 4. throughput: N container tasks (add collection) through S slots vs the same containers run
//!    S at a time on the Engine API, and M process tasks vs M spawns S at a time;
//! 5. API: GET task and list tasks with `$filter`, K tasks stored, Shared Key signed, C
//!    concurrent connections from this (separate) process: requests/s, p50, p99;
//! 6. memory: the emulator's RSS with K completed tasks stored, and how it (and the API
//!    figures) grow from K/100 to K/10 to K;
//! 7. journal: accepted commands/s (jobs created by C concurrent clients) with the journal
//!    fsynced before every answer (group commit) against not fsynced; the start time of an
//!    emulator after it accepted J commands (compacting while it served), and of one replaying
//!    J/10 commands from a journal never compacted;
//! 8. storage: resource-file download and output-file upload of N × 1 MiB against a real
//!    Azurite, against curl doing the same transfers;
//! 9. autoscale: evaluations per second of the documented formulas against 1,000 samples a
//!    metric.
//!
//! `--smoke` shrinks every size so CI can check that the benchmark keeps working; no time is
//! ever asserted.

mod autoscale;
mod storage;

use batch_client::{BatchClient, Credentials};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions, StartContainerOptions, WaitContainerOptions};
use clap::Parser;
use futures::StreamExt;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Benchmark of batch-emulator against same-run baselines.
#[derive(Debug, Parser)]
#[command(name = "batch-bench")]
struct Args {
    /// The emulator binary (default: `batch-emulator` beside this binary).
    #[arg(long)]
    emulator_bin: Option<PathBuf>,
    /// Small sizes, for CI: checks the benchmark runs, measures nothing worth reading.
    #[arg(long)]
    smoke: bool,
    /// Write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Tasks stored for the API and memory figures.
    #[arg(long, default_value_t = 100_000)]
    stored_tasks: usize,
    /// Container tasks for the throughput figure.
    #[arg(long, default_value_t = 1000)]
    containers: usize,
    /// Process tasks for the throughput figure.
    #[arg(long, default_value_t = 10_000)]
    processes: usize,
    /// Only the journal figures (7), which need no Docker engine.
    #[arg(long)]
    journal_only: bool,
    /// Only the storage figures (8), which need Azurite (`tests/js/setup.sh`) and curl.
    #[arg(long)]
    storage_only: bool,
    /// Only the autoscale formula figures (9), pure computation.
    #[arg(long)]
    autoscale_only: bool,
    /// Commands accepted (and journalled) before the start-time figure.
    #[arg(long, default_value_t = 1_000_000)]
    journalled: usize,
}

struct Emulator {
    child: std::process::Child,
    client: BatchClient,
    dir: Option<tempfile::TempDir>,
}

impl Emulator {
    /// Stops the emulator and hands back its data directory (to start another on it).
    fn stop(mut self) -> tempfile::TempDir {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        self.dir.take().expect("a data directory")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

fn start_emulator(bin: &PathBuf) -> Emulator {
    start_emulator_with(bin, &[], tempfile::tempdir().expect("tempdir"))
}

fn start_emulator_with(bin: &PathBuf, extra: &[&str], dir: tempfile::TempDir) -> Emulator {
    let mut child = Command::new(bin)
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(extra)
        .env("BATCH_EMULATOR_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("batch-emulator ready:") => break l,
            Some(Ok(_)) => {}
            _ => panic!("the emulator exited before it was ready"),
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let field = |n: &str| ready.split_whitespace().find_map(|w| w.strip_prefix(&format!("{n}="))).unwrap_or_default().to_string();
    let url = field("url");
    let client = BatchClient::new(&url, Credentials::SharedKey { account: field("account"), key: field("key") });
    Emulator { child, client, dir: Some(dir) }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v.get(((v.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Waits until a task is completed, polling as fast as a client reasonably can.
async fn until_completed(c: &BatchClient, job: &str, task: &str) {
    loop {
        if let Ok(t) = c.get_task(job, task).await {
            if t.state.as_deref() == Some("completed") {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn pool(c: &BatchClient, id: &str, nodes: i32, slots: i32, containers: bool) {
    let mut vm = json!({"imageReference": {"publisher": "canonical", "offer": "x", "sku": "y"}, "nodeAgentSKUId": "batch.node.ubuntu 22.04"});
    if containers {
        vm["containerConfiguration"] = json!({"type": "dockerCompatible", "containerImageNames": ["batch-emulator-fixture/plain:1"]});
    }
    let body = json!({"id": id, "vmSize": "standard_d2s_v3", "targetDedicatedNodes": nodes, "taskSlotsPerNode": slots, "virtualMachineConfiguration": vm});
    c.send_json(reqwest::Method::POST, "/pools", &body).await.expect("create pool");
    loop {
        let ns = c.list_nodes(id).await.expect("list nodes");
        if ns.len() == nodes as usize && ns.iter().all(|n| n.state.as_deref() == Some("idle")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn job(c: &BatchClient, id: &str, pool: &str) {
    c.send_json(reqwest::Method::POST, "/jobs", &json!({"id": id, "poolInfo": {"poolId": pool}})).await.expect("create job");
}

async fn add_collection(c: &BatchClient, job: &str, tasks: Vec<Value>) {
    for chunk in tasks.chunks(100) {
        c.send_json(reqwest::Method::POST, &format!("/jobs/{job}/addtaskcollection"), &json!({"value": chunk})).await.expect("add collection");
    }
}

async fn docker_run(docker: &bollard::Docker, cmd: &[&str]) {
    let body = bollard::models::ContainerCreateBody {
        image: Some("batch-emulator-fixture/plain:1".into()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    let id = docker.create_container(None::<CreateContainerOptions>, body).await.expect("create").id;
    docker.start_container(&id, None::<StartContainerOptions>).await.expect("start");
    let _ = docker.wait_container(&id, None::<WaitContainerOptions>).next().await;
    let _ = docker.remove_container(&id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
}

/// Waits until `n` tasks of `job` are completed.
async fn until_counted(c: &BatchClient, job: &str, n: usize) {
    loop {
        let counts: Value = c.get_json(&format!("/jobs/{job}/taskcounts"), &[]).await.expect("counts");
        if counts["taskCounts"]["completed"].as_u64() == Some(n as u64) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `conns` clients sending the same signed request for `seconds`; the latencies of the answers.
async fn load(c: &BatchClient, path: &str, query: &[(String, String)], conns: usize, seconds: u64) -> Vec<Duration> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers = (0..conns).map(|_| {
        let c = c.clone();
        let path = path.to_string();
        let query = query.to_vec();
        tokio::spawn(async move {
            let q: Vec<(&str, &str)> = query.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                if c.send_raw(reqwest::Method::GET, &path, &q, &[], None).await.is_ok() {
                    lat.push(t0.elapsed());
                }
            }
            lat
        })
    });
    futures::future::join_all(workers).await.into_iter().flat_map(|r| r.unwrap_or_default()).collect()
}

/// `conns` clients creating jobs (each a journalled command) for `seconds`: jobs created.
async fn create_jobs(c: &BatchClient, conns: usize, seconds: u64) -> usize {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers = (0..conns).map(|_| {
        let (c, next) = (c.clone(), next.clone());
        tokio::spawn(async move {
            let mut made = 0;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let body = json!({"id": format!("w{i}"), "poolInfo": {"poolId": "none"}});
                if c.send_json(reqwest::Method::POST, "/jobs", &body).await.is_ok() {
                    made += 1;
                }
            }
            made
        })
    });
    futures::future::join_all(workers).await.into_iter().map(|r| r.unwrap_or(0)).sum()
}

/// `conns` clients each repeating a job's life (create it, add a task, change its priority,
/// delete it) until `commands` requests were accepted, each a journalled command; the last job
/// of each client is kept. Returns the commands accepted.
async fn churn(c: &BatchClient, conns: usize, commands: usize) -> usize {
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers = (0..conns).map(|w| {
        let (c, accepted) = (c.clone(), accepted.clone());
        tokio::spawn(async move {
            let mut cycle = 0;
            loop {
                let job = format!("c{w}-{cycle}");
                let ok = |r: Result<_, _>| usize::from(r.is_ok());
                let mut n = ok(c.send_json(reqwest::Method::POST, "/jobs", &json!({"id": job, "poolInfo": {"poolId": "none"}})).await);
                n += ok(c.send_json(reqwest::Method::POST, &format!("/jobs/{job}/tasks"), &json!({"id": "t", "commandLine": "/bin/true"})).await);
                n += ok(c.send_json(reqwest::Method::PATCH, &format!("/jobs/{job}"), &json!({"priority": 1})).await);
                let total = accepted.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
                if total >= commands {
                    return;
                }
                let deleted = c.send_raw(reqwest::Method::DELETE, &format!("/jobs/{job}"), &[], &[], None).await.is_ok();
                accepted.fetch_add(usize::from(deleted), std::sync::atomic::Ordering::Relaxed);
                cycle += 1;
            }
        })
    });
    futures::future::join_all(workers).await;
    accepted.load(std::sync::atomic::Ordering::Relaxed)
}

/// Every job's id, sorted.
async fn job_ids(c: &BatchClient) -> Vec<String> {
    let jobs: Vec<Value> = c.list_all("/jobs", &[("$select", "id")]).await.unwrap_or_default();
    let mut ids: Vec<String> = jobs.iter().filter_map(|j| j["id"].as_str().map(String::from)).collect();
    ids.sort();
    ids
}

/// A data directory whose journal holds `n` job creations, written as the journal format
/// documents it (README, Durability).
fn journal_of(n: usize) -> tempfile::TempDir {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
    let file = std::fs::File::create(dir.path().join("data/journal.jsonl")).expect("journal");
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, r#"{{"format":"batch-emulator-journal","version":1,"nodeIdSeed":1}}"#).expect("write");
    for i in 0..n {
        writeln!(w, r#"{{"v":1,"at":"2026-01-01T00:00:00.0000000Z","cmd":{{"type":"createJob","spec":{{"id":"j{i}","poolInfo":{{"poolId":"none"}}}}}}}}"#)
            .expect("write");
    }
    w.flush().expect("flush");
    dir
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

struct Row {
    name: String,
    emulator: String,
    baseline: String,
    ratio: String,
    target: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let bin = args.emulator_bin.clone().unwrap_or_else(|| std::env::current_exe().unwrap_or_default().with_file_name("batch-emulator"));
    let (iterations, containers_n, processes_n, slots, stored, seconds, conns) =
        if args.smoke { (3, 8, 20, 4, 200, 1, 8) } else { (21, args.containers, args.processes, 8, args.stored_tasks, 5, 64) };
    let mut rows: Vec<Row> = Vec::new();
    if args.journal_only {
        rows.extend(journal_rows(&bin, &args, conns, seconds).await);
        return report(&rows, &args, &bin);
    }
    if args.autoscale_only {
        rows.extend(autoscale::autoscale_rows(args.smoke));
        return report(&rows, &args, &bin);
    }
    if args.storage_only {
        rows.extend(storage::storage_rows(&bin, args.smoke).await);
        return report(&rows, &args, &bin);
    }
    let docker = bollard::Docker::connect_with_local_defaults().expect("docker").negotiate_version().await.expect("a Docker engine is needed");
    let emu = start_emulator(&bin);
    let c = &emu.client;

    // 1. Container task turnaround, interleaved with its baseline.
    pool(c, "cpool", 1, 1, true).await;
    job(c, "cjob", "cpool").await;
    let (mut emu_t, mut base_t) = (Vec::new(), Vec::new());
    for i in 0..iterations {
        let t0 = Instant::now();
        let body = json!({"id": format!("c{i}"), "commandLine": "true", "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm"}});
        c.send_json(reqwest::Method::POST, "/jobs/cjob/tasks", &body).await.expect("add");
        until_completed(c, "cjob", &format!("c{i}")).await;
        emu_t.push(t0.elapsed());
        let t0 = Instant::now();
        docker_run(&docker, &["true"]).await;
        base_t.push(t0.elapsed());
    }
    let (e, b) = (median(emu_t), median(base_t));
    rows.push(Row {
        name: "container task turnaround (median)".into(),
        emulator: format!("{:.1} ms", ms(e)),
        baseline: format!("{:.1} ms (Engine API)", ms(b)),
        ratio: format!("{:.2}x", e.as_secs_f64() / b.as_secs_f64()),
        target: "≤ 1.15x".into(),
    });

    // 2. Process task turnaround.
    pool(c, "ppool", 1, 1, false).await;
    job(c, "pjob", "ppool").await;
    let (mut emu_t, mut base_t) = (Vec::new(), Vec::new());
    for i in 0..iterations {
        let t0 = Instant::now();
        c.send_json(reqwest::Method::POST, "/jobs/pjob/tasks", &json!({"id": format!("p{i}"), "commandLine": "/bin/true"})).await.expect("add");
        until_completed(c, "pjob", &format!("p{i}")).await;
        emu_t.push(t0.elapsed());
        let t0 = Instant::now();
        let _ = tokio::process::Command::new("/bin/true").status().await;
        base_t.push(t0.elapsed());
    }
    let (e, b) = (median(emu_t), median(base_t));
    rows.push(Row {
        name: "process task turnaround (median)".into(),
        emulator: format!("{:.1} ms", ms(e)),
        baseline: format!("{:.1} ms (spawn)", ms(b)),
        ratio: format!("+{:.1} ms", ms(e) - ms(b)),
        target: "< 20 ms, ≤ 5 ms overhead".into(),
    });

    // 3. Pool ready time.
    let mut ready = Vec::new();
    for i in 0..iterations.min(5) {
        let t0 = Instant::now();
        pool(c, &format!("ready{i}"), 10, 1, false).await;
        ready.push(t0.elapsed());
    }
    rows.push(Row {
        name: "10-node pool ready (median)".into(),
        emulator: format!("{:.1} ms", ms(median(ready))),
        baseline: "–".into(),
        ratio: "–".into(),
        target: "< 100 ms".into(),
    });

    // 4. Throughput: containers, then processes, through `slots` slots.
    // (`--containers 0` skips the container half.)
    if containers_n > 0 {
        pool(c, "tpool", 1, slots, true).await;
        job(c, "tjob", "tpool").await;
        let t0 = Instant::now();
        let tasks: Vec<Value> = (0..containers_n).map(|i| json!({"id": format!("t{i}"), "commandLine": "true", "containerSettings": {"imageName": "batch-emulator-fixture/plain:1", "containerRunOptions": "--rm"}})).collect();
        add_collection(c, "tjob", tasks).await;
        until_counted(c, "tjob", containers_n).await;
        let e = t0.elapsed();
        let t0 = Instant::now();
        futures::stream::iter(0..containers_n).for_each_concurrent(slots as usize, |_| docker_run(&docker, &["true"])).await;
        let b = t0.elapsed();
        rows.push(Row {
            name: format!("{containers_n} container tasks, {slots} slots"),
            emulator: format!("{:.2} s", e.as_secs_f64()),
            baseline: format!("{:.2} s (Engine API, {slots} at a time)", b.as_secs_f64()),
            ratio: format!("{:.2}x", e.as_secs_f64() / b.as_secs_f64()),
            target: "≤ 1.2x".into(),
        });
    }

    pool(c, "ppool2", 1, slots, false).await;
    job(c, "pjob2", "ppool2").await;
    let t0 = Instant::now();
    add_collection(c, "pjob2", (0..processes_n).map(|i| json!({"id": format!("t{i}"), "commandLine": "/bin/true"})).collect()).await;
    until_counted(c, "pjob2", processes_n).await;
    let e = t0.elapsed();
    let t0 = Instant::now();
    futures::stream::iter(0..processes_n)
        .for_each_concurrent(slots as usize, |_| async {
            let _ = tokio::process::Command::new("/bin/true").status().await;
        })
        .await;
    let b = t0.elapsed();
    rows.push(Row {
        name: format!("{processes_n} process tasks, {slots} slots"),
        emulator: format!("{:.2} s", e.as_secs_f64()),
        baseline: format!("{:.2} s (spawn, {slots} at a time)", b.as_secs_f64()),
        ratio: format!("{:.2}x", e.as_secs_f64() / b.as_secs_f64()),
        target: "–".into(),
    });

    // 5 and 6. Completed tasks stored in steps (stored/100, stored/10, stored): at each step the
    // emulator's RSS, then GET and filtered lists under load, so growth shows as a table.
    pool(c, "spool", 1, 16, false).await;
    job(c, "store", "spool").await;
    let pid = emu.child.id();
    let baseline_rss = rss_kib(pid);
    let mut memory = Vec::new();
    let mut added = 0;
    for step in [stored / 100, stored / 10, stored] {
        let batch: Vec<Value> = (added..step).map(|i| json!({"id": format!("s{i:06}"), "commandLine": "/bin/true"})).collect();
        add_collection(c, "store", batch).await;
        added = step;
        until_counted(c, "store", step).await;
        memory.push((step, rss_kib(pid)));
        for (label, path, query) in [
            ("GET task", "/jobs/store/tasks/s000001".to_string(), vec![]),
            ("list $filter id eq", "/jobs/store/tasks".to_string(), vec![("$filter", "id eq 's000001'"), ("maxresults", "10")]),
            ("list $filter state eq, 10/page", "/jobs/store/tasks".to_string(), vec![("$filter", "state eq 'completed'"), ("maxresults", "10")]),
        ] {
            let query: Vec<(String, String)> = query.into_iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            let lat = load(c, &path, &query, conns, seconds).await;
            let rps = lat.len() as f64 / seconds as f64;
            rows.push(Row {
                name: format!("API {label}, {step} stored, {conns} conns"),
                emulator: format!("{rps:.0} req/s"),
                baseline: format!("p50 {:.2} ms, p99 {:.2} ms", ms(pct(lat.clone(), 0.5)), ms(pct(lat, 0.99))),
                ratio: "–".into(),
                target: "≥ 15,000 GET/s, p99 < 10 ms".into(),
            });
        }
    }
    let growth = memory.iter().map(|(n, kib)| format!("{n}: {:.0} MB", *kib as f64 / 1024.0)).collect::<Vec<_>>().join(", ");
    rows.push(Row {
        name: format!("emulator RSS, {stored} completed tasks"),
        emulator: format!("{:.0} MB", memory.last().map_or(0, |m| m.1) as f64 / 1024.0),
        baseline: format!("{:.0} MB before storing", baseline_rss as f64 / 1024.0),
        ratio: growth,
        target: "< 300 MB".into(),
    });

    drop(emu);
    rows.extend(journal_rows(&bin, &args, conns, seconds).await);
    rows.extend(storage::storage_rows(&bin, args.smoke).await);
    rows.extend(autoscale::autoscale_rows(args.smoke));
    report(&rows, &args, &bin);
}

/// 7. Journal: accepted commands/s with and without fsync; start times.
async fn journal_rows(bin: &std::path::Path, args: &Args, conns: usize, seconds: u64) -> Vec<Row> {
    let bin = bin.to_path_buf();
    let mut rows = Vec::new();
    let mut rates = Vec::new();
    for policy in ["always", "never"] {
        let e = start_emulator_with(&bin, &["--journal-sync", policy], tempfile::tempdir().expect("tempdir"));
        rates.push(create_jobs(&e.client, conns.min(16), seconds).await as f64 / seconds as f64);
    }
    rows.push(Row {
        name: format!("journal: jobs created/s, fsync always, {} conns", conns.min(16)),
        emulator: format!("{:.0} cmd/s", rates[0]),
        baseline: format!("{:.0} cmd/s without fsync", rates[1]),
        ratio: format!("{:.2}x", rates[1] / rates[0].max(1.0)),
        target: "–".into(),
    });
    // Start time: after `journalled` commands accepted while serving (compacted as it goes),
    // and from a journal of 100,000 commands never compacted (the replay it saves).
    let journalled = if args.smoke { 2000 } else { args.journalled };
    let snapshot_after = if args.smoke { "500" } else { "10000" };
    let e = start_emulator_with(&bin, &["--journal-sync", "never", "--snapshot-after", snapshot_after], tempfile::tempdir().expect("tempdir"));
    let t0 = Instant::now();
    let accepted = churn(&e.client, conns.min(16), journalled).await;
    let churn_time = t0.elapsed();
    let kept: Vec<String> = job_ids(&e.client).await;
    let dir = e.stop();
    let data = dir.path().join("data");
    let size = |f: &str| std::fs::metadata(data.join(f)).map_or(0, |m| m.len());
    let journal_lines = std::fs::read_to_string(data.join("journal.jsonl")).map_or(0, |t| t.lines().count());
    let (snapshot_kib, journal_kib) = (size("snapshot.json") / 1024, size("journal.jsonl") / 1024);
    let t0 = Instant::now();
    let e = start_emulator_with(&bin, &["--snapshot-after", snapshot_after], dir);
    let churned_start = t0.elapsed();
    let after: Vec<String> = job_ids(&e.client).await;
    drop(e);
    let replayed = if args.smoke { 1000 } else { journalled / 10 };
    let t0 = Instant::now();
    let e = start_emulator_with(&bin, &["--snapshot-after", "100000000"], journal_of(replayed));
    let replay_start = t0.elapsed();
    let back = e.client.get_json::<Value>(&format!("/jobs/j{}", replayed - 1), &[]).await.is_ok();
    drop(e);
    let t0 = Instant::now();
    let fresh = start_emulator(&bin);
    let empty_start = t0.elapsed();
    drop(fresh);
    rows.push(Row {
        name: format!("start after {accepted} commands accepted"),
        emulator: format!("{:.0} ms", ms(churned_start)),
        baseline: format!("{:.0} ms with an empty journal", ms(empty_start)),
        ratio: format!(
            "{}; snapshot {snapshot_kib} KiB + journal {journal_lines} lines ({journal_kib} KiB); {:.0} cmd/s",
            if !kept.is_empty() && after == kept { "state back" } else { "STATE DIFFERS" },
            accepted as f64 / churn_time.as_secs_f64()
        ),
        target: "< 1 s at 1,000,000 commands".into(),
    });
    rows.push(Row {
        name: format!("start replaying {replayed} commands, no snapshot"),
        emulator: format!("{:.0} ms", ms(replay_start)),
        baseline: format!("{:.0} ms with an empty journal", ms(empty_start)),
        ratio: if back { "state back".into() } else { "STATE MISSING".into() },
        target: "–".into(),
    });

    rows
}

fn report(rows: &[Row], args: &Args, bin: &std::path::Path) {
    println!(
        "batch-bench{} of {} (machine: {} cores)",
        if args.smoke { " --smoke" } else { "" },
        bin.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{:<48} {:>14}  {:<36} {:<34} target", "measurement", "emulator", "baseline", "ratio");
    for r in rows {
        println!("{:<48} {:>14}  {:<36} {:<34} {}", r.name, r.emulator, r.baseline, r.ratio, r.target);
    }
    if let Some(p) = &args.json {
        let v: Vec<Value> =
            rows.iter().map(|r| json!({"measurement": r.name, "emulator": r.emulator, "baseline": r.baseline, "ratio": r.ratio, "target": r.target})).collect();
        let _ = std::fs::write(p, serde_json::to_string_pretty(&v).unwrap_or_default());
    }
}
