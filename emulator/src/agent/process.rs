//! Running a task's command as a local process, behind a trait so the scheduler can be tested
//! with a fake.

use futures::future::BoxFuture;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::oneshot;

/// One process to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// Program and arguments, already split (never run by a shell).
    pub argv: Vec<String>,
    /// The complete environment (nothing is inherited from the emulator).
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub timeout: Option<Duration>,
    /// Where the runner puts what the process used, once it has exited.
    pub usage: std::sync::Arc<std::sync::Mutex<Option<batch_model::stats::Usage>>>,
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessExit {
    Exited(i32),
    /// The program does not exist (`CommandProgramNotFound`).
    NotFound,
    /// It could not be started for another reason (`CommandLaunchFailed`).
    LaunchFailed(String),
    /// Stopped on request.
    Killed,
    /// Stopped by its timeout; the exit status if one was collected.
    TimedOut(Option<i32>),
}

/// Starts processes.
pub trait ProcessRunner: Send + Sync + 'static {
    /// Runs `spec` until it exits, `kill` fires, or its timeout passes; `started` is sent once
    /// the process exists.
    fn run(&self, spec: ProcessSpec, kill: oneshot::Receiver<()>, started: oneshot::Sender<()>) -> BoxFuture<'static, ProcessExit>;
}

/// Real processes on this machine.
#[derive(Debug, Default)]
pub struct LocalProcessRunner {
    /// Process groups of the tasks running now.
    live: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<u32>>>,
}

impl LocalProcessRunner {
    /// Kills every task process still running (on shutdown: a restarted emulator reruns them).
    pub fn kill_all(&self) {
        let live: Vec<u32> = self.live.lock().unwrap_or_else(|e| e.into_inner()).drain().collect();
        for pid in live {
            kill_group(Some(pid));
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// What an exited, not yet reaped process used (its own and its waited-for children's CPU
/// time, and its I/O), from `/proc/<pid>/stat` and `/proc/<pid>/io`.
fn read_usage(pid: u32) -> Option<batch_model::stats::Usage> {
    let s = super::procfs::read(pid)?;
    let ticks = super::procfs::ticks_per_second();
    let ms = |t: u64| t.saturating_mul(1000) / ticks;
    Some(batch_model::stats::Usage {
        user_cpu_ms: ms(s.utime + s.cutime),
        kernel_cpu_ms: ms(s.stime + s.cstime),
        read_ops: s.read_ops,
        write_ops: s.write_ops,
        read_bytes: s.read_bytes,
        write_bytes: s.write_bytes,
    })
}

/// Waits until `pid` has exited without reaping it, then measures it.
async fn exited_usage(pid: Option<u32>) -> Option<batch_model::stats::Usage> {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    let pid = pid?;
    tokio::task::spawn_blocking(move || {
        waitid(Id::Pid(nix::unistd::Pid::from_raw(pid as i32)), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT).ok()?;
        read_usage(pid)
    })
    .await
    .ok()
    .flatten()
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        // The child leads its own process group, so this also stops what it started.
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
    }
}

impl ProcessRunner for LocalProcessRunner {
    fn run(&self, spec: ProcessSpec, kill: oneshot::Receiver<()>, started: oneshot::Sender<()>) -> BoxFuture<'static, ProcessExit> {
        let live = self.live.clone();
        Box::pin(async move {
            let Some(program) = spec.argv.first() else {
                return ProcessExit::LaunchFailed("empty command line".into());
            };
            // A relative path with a slash is relative to the task working directory.
            let program = if program.contains('/') && !program.starts_with('/') { spec.cwd.join(program) } else { PathBuf::from(program) };
            let open = |p: &PathBuf| std::fs::OpenOptions::new().create(true).append(true).open(p);
            let (stdout, stderr) = match (open(&spec.stdout), open(&spec.stderr)) {
                (Ok(o), Ok(e)) => (o, e),
                (Err(e), _) | (_, Err(e)) => return ProcessExit::LaunchFailed(format!("cannot open output file: {e}")),
            };
            let mut cmd = tokio::process::Command::new(&program);
            cmd.args(&spec.argv[1..])
                .env_clear()
                .envs(spec.env.iter().map(|(k, v)| (k, v)))
                .current_dir(&spec.cwd)
                .stdin(std::process::Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .process_group(0)
                .kill_on_drop(true);
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ProcessExit::NotFound,
                Err(e) => return ProcessExit::LaunchFailed(e.to_string()),
            };
            let pid = child.id();
            if let Some(p) = pid {
                live.lock().unwrap_or_else(|e| e.into_inner()).insert(p);
            }
            let _ = started.send(());
            let timeout = async {
                match spec.timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => futures::future::pending::<()>().await,
                }
            };
            let exit = tokio::select! {
                // Measured while it is a zombie, then reaped.
                usage = exited_usage(pid) => {
                    *spec.usage.lock().unwrap_or_else(|e| e.into_inner()) = usage;
                    match child.wait().await {
                        Ok(s) => ProcessExit::Exited(exit_code(s)),
                        Err(e) => ProcessExit::LaunchFailed(e.to_string()),
                    }
                }
                _ = kill => {
                    kill_group(pid);
                    let _ = child.kill().await;
                    ProcessExit::Killed
                }
                () = timeout => {
                    kill_group(pid);
                    let _ = child.kill().await;
                    let code = child.wait().await.ok().map(exit_code);
                    ProcessExit::TimedOut(code)
                }
            };
            if let Some(p) = pid {
                live.lock().unwrap_or_else(|e| e.into_inner()).remove(&p);
            }
            exit
        })
    }
}

/// A fake for scheduler tests. It understands a few command lines:
/// `exit N` exits with N; `echo WORDS…` writes the words to stdout and exits 0;
/// `hang` runs until killed; `missing` is a program that does not exist.
/// Anything else exits 0. The argv and environment are recorded in `<cwd>/../fake-run.json`.
#[derive(Debug, Default)]
pub struct FakeProcessRunner;

impl ProcessRunner for FakeProcessRunner {
    fn run(&self, spec: ProcessSpec, kill: oneshot::Receiver<()>, started: oneshot::Sender<()>) -> BoxFuture<'static, ProcessExit> {
        Box::pin(async move {
            if spec.argv.first().map(String::as_str) != Some("missing") {
                let _ = started.send(());
            }
            let record = serde_json::json!({"argv": spec.argv, "env": spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>()});
            let _ = tokio::fs::write(spec.cwd.join("..").join("fake-run.json"), record.to_string()).await;
            match spec.argv.first().map(String::as_str) {
                Some("exit") => ProcessExit::Exited(spec.argv.get(1).and_then(|c| c.parse().ok()).unwrap_or(1)),
                Some("echo") => {
                    let _ = tokio::fs::write(&spec.stdout, format!("{}\n", spec.argv[1..].join(" "))).await;
                    ProcessExit::Exited(0)
                }
                Some("hang") => {
                    let _ = kill.await;
                    ProcessExit::Killed
                }
                Some("missing") => ProcessExit::NotFound,
                _ => ProcessExit::Exited(0),
            }
        })
    }
}
