//! The environment of a task process: Batch's `AZ_BATCH_*` variables, the job's and task's
//! settings, and the host basics Batch sets (node-and-container-semantics.md §4).

use crate::layout::NodeLayout;
use batch_model::Launch;
use std::path::Path;

/// The system part of a task's `PATH`; Batch appends the shared dir and the task wd.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The account a task sees: its name, URL, and the key task tokens are signed with.
pub struct AccountInfo<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub key: &'a [u8],
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Every variable of a job task run on the host, in the order they are set (later wins).
pub fn task_environment(launch: &Launch, layout: &NodeLayout, account: &AccountInfo<'_>) -> Vec<(String, String)> {
    environment(launch, layout, account, true)
}

/// The variables passed into a task's container: the job's and task's settings and every
/// `AZ_BATCH_*` variable; the image keeps its own `PATH`, `HOME` and `USER`.
/// UNCONFIRMED: whether the host PATH reaches the container (node-and-container-semantics.md §1.2).
pub fn container_environment(launch: &Launch, layout: &NodeLayout, account: &AccountInfo<'_>) -> Vec<(String, String)> {
    environment(launch, layout, account, false)
}

fn environment(launch: &Launch, layout: &NodeLayout, account: &AccountInfo<'_>, host: bool) -> Vec<(String, String)> {
    let (account_name, account_url) = (account.name, account.url);
    // A task whose user cannot be resolved never starts; these are its names if it did.
    let (user_name, user_identity) = match &launch.user {
        Ok(u) => (u.name.clone(), u.identity.clone()),
        Err(_) => (batch_model::users::AUTO_USER.to_string(), "PoolNonAdmin".to_string()),
    };
    let root = layout.root(&launch.node_id);
    let task_dir = layout.launch_dir(launch);
    let start_task = launch.kind == batch_model::LaunchKind::StartTask;
    let wd = task_dir.join("wd");
    let shared = root.join("shared");
    let mut env: Vec<(String, String)> = if host {
        vec![
            ("PATH".into(), format!("{SYSTEM_PATH}:{}:{}", s(&shared), s(&wd))),
            ("HOME".into(), s(&wd)),
            ("USER".into(), user_name.clone()),
            ("PWD".into(), s(&wd)),
            ("LANG".into(), "C.UTF-8".into()),
        ]
    } else {
        Vec::new()
    };
    // Job commonEnvironmentSettings, then task environmentSettings (the domain merged them).
    env.extend(launch.environment.iter().cloned());
    let url = if account_url.ends_with('/') { account_url.to_string() } else { format!("{account_url}/") };
    let batch = [
        ("AZ_BATCH_ACCOUNT_NAME", account_name.to_string()),
        ("AZ_BATCH_ACCOUNT_URL", url),
        ("AZ_BATCH_POOL_ID", launch.pool_id.clone()),
        ("AZ_BATCH_NODE_ID", launch.node_id.clone()),
        ("AZ_BATCH_NODE_IS_DEDICATED", launch.is_dedicated.to_string()),
        ("AZ_BATCH_NODE_ROOT_DIR", s(&root)),
        ("AZ_BATCH_NODE_SHARED_DIR", s(&shared)),
        ("AZ_BATCH_NODE_STARTUP_DIR", s(&root.join("startup"))),
        ("AZ_BATCH_NODE_STARTUP_WORKING_DIR", s(&root.join("startup").join("wd"))),
        ("AZ_BATCH_NODE_MOUNTS_DIR", s(&root.join("fsmounts"))),
        ("AZ_BATCH_TASK_DIR", s(&task_dir)),
        ("AZ_BATCH_TASK_WORKING_DIR", s(&wd)),
        ("AZ_BATCH_TASK_ID", launch.task_id.clone()),
        ("AZ_BATCH_JOB_ID", launch.job_id.clone()),
        ("AZ_BATCH_CERTIFICATES_DIR", s(&task_dir.join("certs"))),
        // UNCONFIRMED: value and exact name (node-and-container-semantics.md §4.1).
        ("AZ_BATCH_TASK_RESERVED_EPHEMERAL_DISK_SPACE_BYTES", "1000000".into()),
        ("AZ_BATCH_TASK_USER", user_name),
        // The task's identity (batch_model::users); every process task still runs as the
        // emulator's user.
        ("AZ_BATCH_TASK_USER_IDENTITY", user_identity),
    ];
    let token = launch.token_job.as_ref().map(|job| ("AZ_BATCH_AUTHENTICATION_TOKEN", crate::task_token::issue(account.key, job)));
    // The job preparation task's directory, for tasks of a job that has one (not for the
    // preparation task itself).
    let prep = launch
        .job_prep_id
        .as_ref()
        .filter(|_| launch.kind != batch_model::LaunchKind::JobPreparation)
        .map(|id| layout.task_dir(&launch.node_id, &launch.job_id, id));
    let batch = batch
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(prep.iter().flat_map(|d| [("AZ_BATCH_JOB_PREP_DIR".to_string(), s(d)), ("AZ_BATCH_JOB_PREP_WORKING_DIR".to_string(), s(&d.join("wd")))]))
        .chain(token.map(|(k, v)| (k.to_string(), v)))
        // Multi-instance tasks: the instances' hosts, and the task directory as the shared one
        // (the same path on every node of the task).
        .chain(launch.multi_instance.iter().flat_map(|m| m.variables()))
        .chain(launch.multi_instance.as_ref().map(|_| ("AZ_BATCH_TASK_SHARED_DIR".to_string(), s(&task_dir))));
    for (k, v) in batch {
        // A start task has no task or job id (node-and-container-semantics.md §4.1).
        if start_task && (k == "AZ_BATCH_TASK_ID" || k == "AZ_BATCH_JOB_ID") {
            continue;
        }
        env.retain(|(n, _)| *n != k);
        env.push((k, v));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use batch_model::LaunchKind;

    #[test]
    fn task_environment_has_batch_variables_and_user_settings() {
        let launch = Launch {
            run_id: 1,
            kind: LaunchKind::Task,
            pool_id: "Pool1".into(),
            node_id: "tvmps_x_d".into(),
            node_ip: "127.0.1.1".into(),
            is_dedicated: true,
            job_id: "Job1".into(),
            task_id: "t1".into(),
            command_line: "x".into(),
            environment: vec![("MY_VAR".into(), "v".into()), ("AZ_BATCH_TASK_ID".into(), "spoof".into())],
            container_settings: None,
            resource_files: Vec::new(),
            output_files: Vec::new(),
            application_packages: Vec::new(),
            user: Ok(batch_model::users::resolve(None, &[]).unwrap()),
            token_job: None,
            pool_containers: None,
            max_wall_clock_time: None,
            is_retry: false,
            job_prep_id: None,
            multi_instance: None,
        };
        let layout = NodeLayout::new("/data".into());
        let env = task_environment(&launch, &layout, &AccountInfo { name: "acct", url: "http://127.0.0.1:8080", key: b"k" });
        let get = |k: &str| env.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("AZ_BATCH_TASK_WORKING_DIR"), Some("/data/nodes/tvmps_x_d/batch/tasks/workitems/Job1/job-1/t1/wd"));
        assert_eq!(get("AZ_BATCH_NODE_ROOT_DIR"), Some("/data/nodes/tvmps_x_d/batch/tasks"));
        assert_eq!(get("AZ_BATCH_ACCOUNT_URL"), Some("http://127.0.0.1:8080/"));
        assert_eq!(get("AZ_BATCH_POOL_ID"), Some("Pool1"));
        assert_eq!(get("AZ_BATCH_TASK_ID"), Some("t1"));
        assert_eq!(get("MY_VAR"), Some("v"));
        assert_eq!(get("HOME"), get("AZ_BATCH_TASK_WORKING_DIR"));
        assert!(get("PATH").unwrap().ends_with("/batch/tasks/shared:/data/nodes/tvmps_x_d/batch/tasks/workitems/Job1/job-1/t1/wd"));
        assert_eq!(env.iter().filter(|(n, _)| n == "AZ_BATCH_TASK_ID").count(), 1);
    }
}
