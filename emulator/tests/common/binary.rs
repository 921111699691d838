#![allow(dead_code)]
//! Spawning the built `batch-emulator` binary and waiting for its readiness line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Spawned {
    pub child: Child,
    pub url: String,
    pub account: String,
    pub key: String,
    pub banner: Vec<String>,
    pub _dir: tempfile::TempDir,
}

impl Spawned {
    /// Kills the emulator the hard way (SIGKILL) and hands back its directory.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self._dir, dir)
    }
}

impl Spawned {
    /// Stops the emulator as a user does (SIGTERM: it cleans up) and hands back its directory.
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self._dir, dir)
    }
}

impl Drop for Spawned {
    /// Stops the emulator as a user does (SIGTERM: it removes its containers and node
    /// networks), so a failed test leaves nothing running; SIGKILL after 10 s.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::Signal::SIGTERM);
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn field(line: &str, name: &str) -> String {
    line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{name}="))).unwrap_or_default().to_string()
}

/// Starts the binary on a free loopback port with a fresh data dir plus `args`/`env`.
pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Spawned {
    spawn_in(tempfile::tempdir().expect("tempdir"), args, env)
}

/// Starts the binary with `<dir>/data` as its data directory.
pub fn spawn_in(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Spawned {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_batch-emulator"));
    cmd.args(["--addr", "127.0.0.1:0", "--data-dir"]).arg(dir.path().join("data")).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("spawn batch-emulator");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut banner = Vec::new();
    let ready = loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.starts_with("batch-emulator ready:") => break line,
            Ok(line) => banner.push(line),
            Err(e) => panic!("no readiness line from batch-emulator: {e}; saw {banner:?}"),
        }
    };
    // The hint lines follow (SDKs, container engine, dashboard).
    for _ in 0..4 {
        if let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
            banner.push(l);
        }
    }
    Spawned {
        url: field(&ready, "url"),
        account: field(&ready, "account"),
        key: field(&ready, "key"),
        banner: std::iter::once(ready).chain(banner).collect(),
        child,
        _dir: dir,
    }
}
