//! The node agent: carries out the domain's effects (make node directories, run tasks, kill
//! them, remove directories) and reports back to the domain. It knows the disk and processes;
//! the domain knows Batch.
//!
//! Container tasks will slot in beside [`process::ProcessRunner`] as a `ContainerRuntime` chosen
//! per launch; nothing else here depends on how a task runs.

pub mod docker_create;
pub mod environment;
pub mod layout;
pub mod process;

use crate::state::AppState;
use batch_client::models::{FailureInfo, NameValuePair};
use batch_model::{Command, Effect, Launch, TaskOutcome};
use process::{ProcessExit, ProcessRunner, ProcessSpec};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

type Kills = Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>>;

/// Runs until the effect channel closes.
pub async fn run(state: AppState, mut rx: mpsc::UnboundedReceiver<Effect>, runner: Arc<dyn ProcessRunner>) {
    let kills: Kills = Arc::default();
    while let Some(effect) = rx.recv().await {
        let st = state.clone();
        match effect {
            Effect::Launch(launch) => {
                let (tx, krx) = oneshot::channel();
                kills.lock().unwrap_or_else(|e| e.into_inner()).insert(launch.run_id, tx);
                let runner = runner.clone();
                let kills = kills.clone();
                tokio::spawn(async move {
                    let run_id = launch.run_id;
                    run_task(&st, *launch, krx, runner.as_ref()).await;
                    kills.lock().unwrap_or_else(|e| e.into_inner()).remove(&run_id);
                    st.effect_done();
                });
            }
            Effect::KillTask { run_id } => {
                if let Some(tx) = kills.lock().unwrap_or_else(|e| e.into_inner()).remove(&run_id) {
                    let _ = tx.send(());
                }
                st.effect_done();
            }
            Effect::ProvisionNode { pool_id, node_id } => {
                tokio::spawn(async move {
                    provision_node(&st, &pool_id, &node_id).await;
                    st.effect_done();
                });
            }
            Effect::RemoveNode { pool_id, node_id } => {
                tokio::spawn(async move {
                    remove_dir(st.layout().node_dir(&node_id)).await;
                    let _ = st.execute(Command::NodeRemoved { pool_id, node_id });
                    st.effect_done();
                });
            }
            Effect::DeleteTaskDirectory { node_id, job_id, task_id, .. } => {
                tokio::spawn(async move {
                    remove_dir(st.layout().task_dir(&node_id, &job_id, &task_id)).await;
                    st.effect_done();
                });
            }
            Effect::DeleteJob { job_id, nodes } => {
                tokio::spawn(async move {
                    for (_, node_id) in &nodes {
                        remove_dir(st.layout().job_dir(node_id, &job_id)).await;
                    }
                    let _ = st.execute(Command::FinishJobDeletion { job_id });
                    st.effect_done();
                });
            }
            Effect::FinishJobTransition { job_id } => {
                tokio::spawn(async move {
                    let _ = st.execute(Command::FinishJobTransition { job_id });
                    st.effect_done();
                });
            }
            Effect::DeletePool { pool_id, nodes } => {
                tokio::spawn(async move {
                    for node_id in &nodes {
                        remove_dir(st.layout().node_dir(node_id)).await;
                    }
                    let _ = st.execute(Command::FinishPoolDeletion { pool_id });
                    st.effect_done();
                });
            }
        }
    }
}

async fn remove_dir(path: PathBuf) {
    if let Err(e) = tokio::fs::remove_dir_all(&path).await {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove directory");
        }
    }
}

/// `creating`: make the node's directory tree; `starting`: (start task, with issue 4); then
/// `idle`.
async fn provision_node(state: &AppState, pool_id: &str, node_id: &str) {
    for dir in state.layout().node_skeleton(node_id) {
        if let Err(e) = tokio::fs::create_dir_all(&dir).await {
            tracing::error!(node_id, error = %e, "cannot create node directory");
        }
    }
    let _ = state.execute(Command::NodeProvisioned { pool_id: pool_id.into(), node_id: node_id.into() });
    let _ = state.execute(Command::NodeReady { pool_id: pool_id.into(), node_id: node_id.into() });
}

fn failure(code: &str, message: &str, detail: Option<String>) -> FailureInfo {
    FailureInfo {
        category: "usererror".into(),
        code: Some(code.into()),
        message: Some(message.into()),
        details: detail.map(|d| vec![NameValuePair { name: Some("Message".into()), value: Some(d) }]).unwrap_or_default(),
    }
}

/// Runs one attempt of a task and reports how it ended.
async fn run_task(state: &AppState, launch: Launch, kill: oneshot::Receiver<()>, runner: &dyn ProcessRunner) {
    let layout = state.layout();
    let task_dir = layout.task_dir(&launch.node_id, &launch.job_id, &launch.task_id);
    let wd = task_dir.join("wd");
    let start = state.now();
    if launch.is_retry {
        // The working directory is cleaned before a retry on the same node (§5.4).
        remove_dir(wd.clone()).await;
    }
    let prepared = async {
        tokio::fs::create_dir_all(&wd).await?;
        tokio::fs::create_dir_all(task_dir.join("certs")).await?;
        tokio::fs::write(task_dir.join("stdout.txt"), b"").await?;
        tokio::fs::write(task_dir.join("stderr.txt"), b"").await
    }
    .await;
    let outcome = if let Err(e) = prepared {
        let f = FailureInfo {
            category: "servererror".into(),
            code: Some("ResourceDirectoryCreateFailed".into()),
            message: Some("Failure encountered creating resource directory".into()),
            details: vec![NameValuePair { name: Some("Message".into()), value: Some(e.to_string()) }],
        };
        Some(TaskOutcome::FailedToStart { failure: f, start, end: state.now() })
    } else {
        match shlex::split(&launch.command_line).filter(|a| !a.is_empty()) {
            None => Some(TaskOutcome::FailedToStart {
                failure: failure(
                    "CommandLaunchFailed",
                    "Failed to launch the specified command line.",
                    Some("The command line could not be split into arguments (unbalanced quotes).".into()),
                ),
                start,
                end: state.now(),
            }),
            Some(argv) => {
                let env = environment::task_environment(&launch, layout, &state.config().account, &state.public_url());
                let spec = ProcessSpec {
                    argv,
                    env,
                    cwd: wd.clone(),
                    stdout: task_dir.join("stdout.txt"),
                    stderr: task_dir.join("stderr.txt"),
                    timeout: launch.max_wall_clock_time.map(|d| d.to_std()),
                };
                let exit = runner.run(spec, kill).await;
                let end = state.now();
                match exit {
                    ProcessExit::Exited(code) => Some(TaskOutcome::Exited { exit_code: code, start, end }),
                    ProcessExit::NotFound => Some(TaskOutcome::FailedToStart {
                        failure: failure("CommandProgramNotFound", "The specified command program is not found.", None),
                        start,
                        end,
                    }),
                    ProcessExit::LaunchFailed(msg) => Some(TaskOutcome::FailedToStart {
                        failure: failure("CommandLaunchFailed", "Failed to launch the specified command line.", Some(msg)),
                        start,
                        end,
                    }),
                    // The domain already moved the task on (terminate, delete, requeue).
                    ProcessExit::Killed => None,
                    ProcessExit::TimedOut(code) => Some(TaskOutcome::TimedOut { exit_code: code, start, end }),
                }
            }
        }
    };
    if let Some(outcome) = outcome {
        let _ = state.execute(Command::TaskExited { run_id: launch.run_id, outcome });
    }
}
