//! Tasks run as real local processes: Batch's no-shell rule, the environment, exit codes,
//! launch failures, output streaming, timeouts and termination.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

async fn stdout(emu: &TestEmulator, job: &str, task: &str) -> String {
    String::from_utf8(emu.client.get_task_file(job, task, "stdout.txt").await.unwrap()).unwrap()
}

#[tokio::test]
async fn the_command_line_is_split_with_quotes_but_never_run_by_a_shell() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 4, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "and", "echo first && echo second").await;
    emu.task("j", "var", "echo $AZ_BATCH_TASK_ID '$HOME' \"two words\"").await;
    emu.task("j", "semi", "/bin/sh -c \"echo A\" ; /bin/sh -c 'echo B'").await;
    emu.task("j", "shell", "/bin/sh -c 'echo $AZ_BATCH_TASK_ID && echo second'").await;
    for t in ["and", "var", "semi", "shell"] {
        assert_eq!(emu.completed("j", t).await.execution_info.unwrap().exit_code, Some(0), "{t}");
    }
    assert_eq!(stdout(&emu, "j", "and").await, "first && echo second\n");
    assert_eq!(stdout(&emu, "j", "var").await, "$AZ_BATCH_TASK_ID $HOME two words\n");
    // Only A runs: `;` and the rest are arguments of the first sh (nextflow#6863).
    assert_eq!(stdout(&emu, "j", "semi").await, "A\n");
    assert_eq!(stdout(&emu, "j", "shell").await, "shell\nsecond\n");
}

#[tokio::test]
async fn a_task_sees_batch_variables_and_its_environment_settings() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    let mut job = job_spec("j", "p");
    job.common_environment_settings = Some(serde_json::from_value(json!([{"name": "FROM_JOB", "value": "job"}, {"name": "BOTH", "value": "job"}])).unwrap());
    emu.client.create_job(&job).await.unwrap();
    let mut t = task_spec("t", "/usr/bin/env");
    t.environment_settings = Some(serde_json::from_value(json!([{"name": "FROM_TASK", "value": "task value"}, {"name": "BOTH", "value": "task"}])).unwrap());
    emu.client.create_task("j", &t).await.unwrap();
    let done = emu.completed("j", "t").await;
    assert_eq!(done.execution_info.unwrap().exit_code, Some(0));
    let out = stdout(&emu, "j", "t").await;
    let env: std::collections::HashMap<&str, &str> = out.lines().filter_map(|l| l.split_once('=')).collect();
    let node = done.node_info.unwrap().node_id.unwrap();
    let root = emu.state().layout().root(&node);
    let wd = root.join("workitems/j/job-1/t/wd");
    assert_eq!(env["AZ_BATCH_TASK_WORKING_DIR"], wd.to_str().unwrap());
    assert_eq!(env["AZ_BATCH_TASK_DIR"], root.join("workitems/j/job-1/t").to_str().unwrap());
    assert_eq!(env["AZ_BATCH_NODE_ROOT_DIR"], root.to_str().unwrap());
    assert_eq!(env["AZ_BATCH_NODE_SHARED_DIR"], root.join("shared").to_str().unwrap());
    assert_eq!(env["AZ_BATCH_NODE_STARTUP_DIR"], root.join("startup").to_str().unwrap());
    assert_eq!(env["AZ_BATCH_JOB_ID"], "j");
    assert_eq!(env["AZ_BATCH_TASK_ID"], "t");
    assert_eq!(env["AZ_BATCH_POOL_ID"], "p");
    assert_eq!(env["AZ_BATCH_NODE_ID"], node);
    assert_eq!(env["AZ_BATCH_NODE_IS_DEDICATED"], "true");
    assert_eq!(env["AZ_BATCH_ACCOUNT_NAME"], "devbatchaccount1");
    assert_eq!(env["AZ_BATCH_ACCOUNT_URL"], format!("{}/", emu.running.url));
    assert_eq!(env["HOME"], wd.to_str().unwrap());
    assert_eq!(env["FROM_JOB"], "job");
    assert_eq!(env["FROM_TASK"], "task value");
    assert_eq!(env["BOTH"], "task", "a task setting overrides the job's");
    assert!(env["PATH"].ends_with(&format!("{}:{}", root.join("shared").display(), wd.display())));
    assert!(!env.contains_key("CARGO"), "nothing leaks from the emulator's own environment");
}

#[tokio::test]
async fn programs_in_the_shared_dir_and_the_working_dir_are_found_by_bare_name() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    let node = emu.client.list_nodes("p").await.unwrap()[0].id.clone();
    let script = emu.state().layout().root(&node).join("shared").join("hello-shared");
    std::fs::write(&script, "#!/bin/sh\necho from shared \"$1\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    emu.job("j", "p").await;
    emu.task("j", "t", "hello-shared arg").await;
    assert_eq!(emu.completed("j", "t").await.execution_info.unwrap().exit_code, Some(0));
    assert_eq!(stdout(&emu, "j", "t").await, "from shared arg\n");
}

#[tokio::test]
async fn a_missing_program_fails_with_command_program_not_found() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "t", "definitely-not-a-program-xyz --flag").await;
    emu.task("j", "q", "/bin/echo 'unbalanced").await;
    let info = emu.completed("j", "t").await.execution_info.unwrap();
    assert_eq!(info.result.as_deref(), Some("failure"));
    assert!(info.exit_code.is_none());
    let f = info.failure_info.unwrap();
    assert_eq!((f.category.as_str(), f.code.as_deref()), ("usererror", Some("CommandProgramNotFound")));
    let q = emu.completed("j", "q").await.execution_info.unwrap();
    assert_eq!(q.failure_info.unwrap().code.as_deref(), Some("CommandLaunchFailed"));
}

#[tokio::test]
async fn stdout_is_readable_while_the_task_runs_and_terminate_stops_the_process() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "t", "/bin/sh -c 'echo $$ > pid; echo started; sleep 60; echo never'").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        // Until the agent has made the task directory the file is not there yet (404).
        if emu.client.get_task_file("j", "t", "stdout.txt").await.is_ok_and(|b| b == b"started\n") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "stdout never showed the first line");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(emu.client.get_task("j", "t").await.unwrap().state.as_deref(), Some("running"));
    let pid: i32 = String::from_utf8(emu.client.get_task_file("j", "t", "wd/pid").await.unwrap()).unwrap().trim().parse().unwrap();
    emu.client.send_raw(Method::POST, "/jobs/j/tasks/t/terminate", &[], &[], None).await.unwrap();
    emu.idle().await;
    // The shell and its sleep are gone.
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "process {pid} still alive");
    assert_eq!(stdout(&emu, "j", "t").await, "started\n");
}

#[tokio::test]
async fn max_wall_clock_time_stops_the_task() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    let mut t = task_spec("t", "sleep 60");
    t.constraints = Some(serde_json::from_value(json!({"maxWallClockTime": "PT1S", "maxTaskRetryCount": 3})).unwrap());
    emu.client.create_task("j", &t).await.unwrap();
    let info = emu.completed("j", "t").await.execution_info.unwrap();
    assert_eq!(info.result.as_deref(), Some("failure"));
    assert_eq!(info.retry_count, 0, "a timeout is not retried");
    let f = info.failure_info.unwrap();
    assert_eq!(f.code.as_deref(), Some("TaskEnded"));
    assert!(f.details.iter().any(|d| d.value.as_deref().is_some_and(|v| v.contains("maximum execution time"))));
}

#[tokio::test]
async fn the_working_directory_is_cleaned_before_a_retry() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    // Succeeds only if a file from the previous attempt is still there.
    let mut t = task_spec("t", "/bin/sh -c 'test -e marker && exit 0; touch marker; exit 1'");
    t.constraints = Some(serde_json::from_value(json!({"maxTaskRetryCount": 1})).unwrap());
    emu.client.create_task("j", &t).await.unwrap();
    let info = emu.completed("j", "t").await.execution_info.unwrap();
    assert_eq!((info.retry_count, info.exit_code), (1, Some(1)));
}

/// `running` means the process exists: its output files are there and `startTime` is set the
/// moment the agent started it (it used to read `running` the moment the task was placed).
#[tokio::test]
async fn a_task_is_running_once_its_process_has_started() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    let before = time::OffsetDateTime::now_utc();
    emu.task("j", "t", "/bin/sleep 2").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let running = loop {
        let t = emu.client.get_task("j", "t").await.unwrap();
        match t.state.as_deref() {
            Some("running") => break t,
            Some("active") => assert!(t.execution_info.as_ref().and_then(|i| i.start_time).is_none(), "no startTime before the start"),
            other => panic!("unexpected state {other:?}"),
        }
        assert!(std::time::Instant::now() < deadline, "never running");
    };
    let start = running.execution_info.unwrap().start_time.expect("startTime once running");
    assert!(start >= before - time::Duration::seconds(1));
    // Its output can be read at once.
    assert_eq!(emu.client.get_task_file("j", "t", "stdout.txt").await.unwrap(), b"");
    emu.client.send_raw(Method::POST, "/jobs/j/tasks/t/terminate", &[], &[], None).await.unwrap();
}
