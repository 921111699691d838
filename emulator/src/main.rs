//! `batch-emulator`: serve the Batch API on loopback and print a readiness line.

use batch_emulator::agent::container::{ContainerRuntime, DockerRuntime};
use batch_emulator::agent::process::LocalProcessRunner;
use batch_emulator::agent::Runtimes;
use batch_emulator::clock::SystemClock;
use batch_emulator::config::EmulatorConfig;
use clap::Parser;
use std::sync::Arc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = EmulatorConfig::parse();
    // Request lines (target `batch_emulator::requests`) are on with JSON logs, or when
    // BATCH_EMULATOR_LOG asks for them.
    let json = config.log_format == batch_emulator::config::LogFormat::Json;
    let default_filter = if json { "info" } else { "info,batch_emulator::requests=off" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BATCH_EMULATOR_LOG").unwrap_or_else(|_| default_filter.into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        logs.json().flatten_event(true).with_current_span(false).init();
    } else {
        logs.init();
    }
    if let Err(msg) = config.validate() {
        eprintln!("batch-emulator: {msg}");
        return std::process::ExitCode::from(2);
    }
    if !config.addr.ip().is_loopback() {
        tracing::warn!(addr = %config.addr, "serving on a non-loopback address: anyone who can reach it and knows the development key (or any key with --loose) controls processes on this machine");
    }
    let (account, key, loose) = (config.account.clone(), config.key.clone(), config.loose);
    let runner = Arc::new(LocalProcessRunner::default());
    let containers = match DockerRuntime::connect().await {
        Ok(d) => {
            let d: Arc<dyn ContainerRuntime> = Arc::new(d);
            Ok(d)
        }
        Err(e) => Err(e),
    };
    let engine_line = match &containers {
        Ok(d) => format!("container engine: {}", d.describe()),
        Err(e) => format!("container engine: not reachable ({e}); container pools get unusable nodes, plain pools work"),
    };
    let shutdown_containers = containers.clone().ok();
    let runtimes = Runtimes { processes: runner.clone(), containers };
    let running = match batch_emulator::server::start(config, runtimes, Arc::new(SystemClock)).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("batch-emulator: cannot start: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let url = running.url.clone();
    let instance = running.state.instance_id();
    // Written, not printed: a reader that stops reading (`| head -1`) must not stop the emulator.
    let banner = format!(
        "batch-emulator ready: url={url} account={account} key={key}{}\n  Python (azure-batch 15.x): BatchClient(\"{url}\", AzureNamedKeyCredential(\"{account}\", \"{key}\"))\n  {engine_line}\n  Python (azure-batch 14.x): BatchServiceClient(SharedKeyCredentials(\"{account}\", \"{key}\"), batch_url=\"{url}\")\n  dashboard: {}\n",
        if loose { " auth=loose" } else { "" },
        batch_emulator::api::dashboard::link(&url, running.state.account_key()),
    );
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    tokio::select! {
        r = running.wait() => {
            if let Err(e) = r {
                eprintln!("batch-emulator: server stopped: {e}");
                return std::process::ExitCode::from(1);
            }
        }
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated() => {}
    }
    // Tasks do not outlive the emulator (the journal reruns them on the next start): stop the
    // processes and remove this instance's containers.
    runner.kill_all();
    if let Some(c) = shutdown_containers {
        batch_emulator::agent::remove_instance(c.as_ref(), &instance).await;
    }
    std::process::ExitCode::SUCCESS
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => futures::future::pending::<()>().await,
    }
}
