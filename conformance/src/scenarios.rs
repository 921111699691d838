//! The scenarios. Each states one behaviour of Azure Batch and names where it comes from:
//! the Batch REST reference (`batch-rest-api.md`), the node/container reference
//! (`node-and-container-semantics.md`), a recording, or a document of `shared/sources/`.

use crate::{check, Ctx, Failure, Scenario};
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::{json, Value};

type R = Result<(), Failure>;

/// Every scenario, in a stable order: these, then the storage and elastic pool ones.
pub fn all() -> Vec<Scenario> {
    let mut all = core();
    all.extend(crate::storage_scenarios::all());
    all.extend(crate::elastic_scenarios::all());
    all.extend(crate::inter_node_scenarios::all());
    all
}

macro_rules! register {
    ($( $name:ident : $area:literal, $source:literal ;)*) => {
        /// The scenarios of this module, in a stable order.
        fn core() -> Vec<Scenario> {
            vec![ $( Scenario {
                name: stringify!($name),
                area: $area,
                source: $source,
                run: { fn w(c: &Ctx) -> BoxFuture<'_, R> { Box::pin($name(c)) } w },
            }, )* ]
        }
    };
}

register! {
    pool_create_echoes_service_defaults: "pools", "recording cli-ext_linux-pool-job-task-lifecycle (pool get after create)";
    pool_duplicate_id_is_pool_exists_case_insensitively: "pools", "batch-rest-api.md §3.6, §6 (ids unique case-insensitively)";
    pool_missing_vm_size_is_missing_required_property: "pools", "batch-rest-api.md §3.6";
    pool_unknown_is_pool_not_found: "pools", "recording py15_error-responses_exception_policy (404 PoolNotFound)";
    pool_nodes_become_idle: "pools", "batch-rest-api.md §5.2 (creating → starting → idle)";
    pool_resize_to_zero_removes_nodes: "pools", "batch-rest-api.md §2.1 resize";
    job_create_echoes_service_defaults: "jobs", "batch-rest-api.md §5.3 (defaults as echoed live)";
    job_duplicate_is_job_exists: "jobs", "recording py15_error-responses_exception_policy (409 JobExists)";
    job_unknown_is_job_not_found: "jobs", "official-sdk-wire-notes.md (JobNotFound 404)";
    job_update_with_a_stale_etag_is_condition_not_met: "jobs", "batch-rest-api.md §3.7";
    job_terminate_completes_with_user_terminate: "jobs", "node-and-container-semantics.md §5.7 (terminate reasons)";
    job_on_all_tasks_complete_terminates_the_job: "jobs", "node-and-container-semantics.md §5.7 onAllTasksComplete";
    job_list_pages_through_next_links: "jobs", "batch-rest-api.md §3.4 paging";
    task_stdout_is_readable: "tasks", "shared/sources/batch-service-docker-spike-notes.md";
    task_nonzero_exit_is_failure_exit_code: "tasks", "official-sdk-wire-notes.md (Task exit ≠ 0)";
    task_command_line_is_not_run_by_a_shell: "tasks", "shared/sources/batch-service-docker-spike-notes.md; node-and-container-semantics.md §1.4";
    task_variables_are_not_expanded_in_the_command_line: "tasks", "shared/sources/batch-service-docker-spike-notes.md";
    task_environment_settings_reach_the_process: "tasks", "shared/sources/batch-service-docker-spike-notes.md (task-level env vars)";
    task_sees_az_batch_variables: "tasks", "node-and-container-semantics.md §4.1";
    task_collection_reports_per_task_results: "tasks", "batch-rest-api.md §5.6";
    task_counts_add_up: "tasks", "batch-rest-api.md §6 (task counts)";
    task_terminate_gives_task_ended: "tasks", "node-and-container-semantics.md §6 TaskEnded";
    task_retries_count_attempts: "tasks", "node-and-container-semantics.md §5.4";
    task_list_filters_on_exit_code: "tasks", "batch-rest-api.md §3.4 $filter";
    task_files_list_recursively: "files", "batch-rest-api.md §2.5";
    task_file_download_honours_ocp_range: "files", "batch-rest-api.md §2.5 (ocp-range)";
    task_file_paths_cannot_escape: "files", "batch-rest-api.md §2.5";
    start_task_prepares_the_node: "lifecycle", "shared/sources/batch-service-docker-spike-notes.md (start task); node-and-container-semantics.md §5.1";
    job_preparation_runs_before_the_tasks: "lifecycle", "node-and-container-semantics.md §5.2";
    dependent_task_waits_for_its_parent: "lifecycle", "node-and-container-semantics.md §5.6";
    container_prefetched_pool_becomes_idle: "containers", "shared/sources/microsoft-docs-batch-container-workloads-2024.md (prefetch)";
    container_image_entrypoint_is_kept: "containers", "shared/sources/microsoft-docs-batch-container-workloads-2024.md; node-and-container-semantics.md §1.3";
    container_entrypoint_option_replaces_it: "containers", "node-and-container-semantics.md §1.3 row 5";
    container_rm_workdir_doc_example: "containers", "shared/sources/microsoft-docs-batch-container-workloads-2024.md (--rm --workdir /)";
    container_doazureparallel_contract: "containers", "shared/sources/doazureparallel-docker-containers.md";
    container_one_container_per_node_on_a_fixed_port: "containers", "shared/sources/reef-on-azure-batch-with-docker.md";
    container_private_registry_pool_runs_tasks: "containers", "shared/sources/microsoft-docs-batch-container-workloads-2024.md (private registry)";
    task_max_wall_clock_time_ends_the_task: "tasks", "node-and-container-semantics.md §1.9, §6 TaskEnded";
    job_release_runs_on_terminate: "lifecycle", "node-and-container-semantics.md §5.3";
    container_bind_mount_selection_isolates_the_task: "containers", "node-and-container-semantics.md §1.8 (containerHostBatchBindMounts)";
    container_same_host_port_collides_on_one_node: "containers", "shared/sources/reef-on-azure-batch-with-docker.md; node-and-container-semantics.md §1.7";
    job_manager_completion_terminates_the_job: "lifecycle", "node-and-container-semantics.md §5.7 (job manager, JMComplete)";
    job_max_wall_clock_time_terminates_the_job: "lifecycle", "node-and-container-semantics.md §5.7 (MaxWallClockTimeExpiry)";
    job_schedule_creates_its_first_job_at_once: "lifecycle", "batch-rest-api.md §2.3 (observed <scheduleId>:job-1, executionInfo)";
    job_schedule_terminate_ends_its_job: "lifecycle", "node-and-container-semantics.md §5.7 (TerminateJobSchedule)";
    node_disable_scheduling_takes_the_node_offline: "pools", "batch-rest-api.md §2.3 disablescheduling; node-and-container-semantics.md §5.1 (offline)";
    node_reboot_reruns_the_start_task: "pools", "node-and-container-semantics.md §5.1 (start task runs after reboot)";
    task_user_identity_variable_follows_the_auto_user: "tasks", "node-and-container-semantics.md §4.1 (AZ_BATCH_TASK_USER_IDENTITY PoolNonAdmin); batch-user-accounts";
    task_named_user_runs_as_the_pool_account: "tasks", "batch-rest-api.md §5.2 userAccounts; batch-user-accounts (named user accounts)";
    pool_patched_start_task_runs_on_new_nodes: "pools", "batch-rest-api.md (Update Pool: startTask overwrites; applies to nodes that join or restart)";
    node_recent_tasks_report_task_state: "pools", "REST docs BatchNode.recentTasks (tasks whose state recently changed)";
    task_affinity_prefers_the_named_node: "tasks", "REST docs affinityInfo (a locality hint)";
}

async fn plain_pool(ctx: &Ctx, nodes: i32) -> Result<String, Failure> {
    let spec = ctx.pool_spec("pool", nodes);
    ctx.create_pool(&spec).await?;
    Ok(spec.id)
}

async fn one_task(ctx: &Ctx, command_line: &str, extra: Value) -> Result<(String, batch_client::models::BatchTask), Failure> {
    let pool = plain_pool(ctx, 1).await?;
    let job = ctx.create_job("job", &pool, json!({})).await?;
    let mut body = json!({"id": "t", "commandLine": command_line});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    ctx.add_task(&job, body).await?;
    let t = ctx.completed(&job, "t").await?;
    Ok((job, t))
}

fn code_of(e: &batch_client::ApiError) -> Option<(u16, String)> {
    Some((e.status()?.as_u16(), e.code()?.to_string()))
}

async fn expect_error<T: std::fmt::Debug>(r: Result<T, batch_client::ApiError>, status: u16, code: &str) -> R {
    match r {
        Ok(v) => Err(Failure(format!("expected {status} {code}, got success: {v:?}"))),
        Err(e) if e.code() == Some("NotImplemented") => Err(Failure::from(e)),
        Err(e) => {
            check!(code_of(&e) == Some((status, code.to_string())), "expected {status} {code}, got {e}");
            Ok(())
        }
    }
}

async fn pool_create_echoes_service_defaults(ctx: &Ctx) -> R {
    let spec = ctx.pool_spec("pool", 0);
    ctx.create_pool(&spec).await?;
    let p = ctx.client.get_pool(&spec.id).await?;
    check!(p.state.as_deref() == Some("active"), "state {:?}", p.state);
    check!(p.spec.resize_timeout.map(|d| d.to_string()).as_deref() == Some("PT15M"), "resizeTimeout {:?}", p.spec.resize_timeout);
    check!(p.spec.task_slots_per_node == Some(1), "taskSlotsPerNode {:?}", p.spec.task_slots_per_node);
    let fill = p.spec.task_scheduling_policy.and_then(|t| t.node_fill_type).unwrap_or_default();
    check!(fill.eq_ignore_ascii_case("spread"), "nodeFillType {fill:?}");
    let version = p.spec.virtual_machine_configuration.and_then(|v| v.image_reference).and_then(|i| i.get("version").cloned());
    check!(version == Some(json!("latest")), "imageReference.version {version:?}");
    check!(p.e_tag.is_some_and(|e| e.starts_with("0x")), "eTag");
    Ok(())
}

async fn pool_duplicate_id_is_pool_exists_case_insensitively(ctx: &Ctx) -> R {
    let spec = ctx.pool_spec("Pool", 0);
    ctx.create_pool(&spec).await?;
    let mut again = spec.clone();
    again.id = spec.id.to_uppercase();
    expect_error(ctx.client.create_pool(&again).await, 409, "PoolExists").await
}

async fn pool_missing_vm_size_is_missing_required_property(ctx: &Ctx) -> R {
    let mut spec = ctx.pool_spec("pool", 0);
    spec.vm_size = String::new();
    let body = serde_json::to_value(&spec).map_err(|e| Failure(e.to_string()))?;
    let mut body = body.as_object().cloned().unwrap_or_default();
    body.remove("vmSize");
    expect_error(ctx.client.send_json(Method::POST, "/pools", &body).await, 400, "MissingRequiredProperty").await
}

async fn pool_unknown_is_pool_not_found(ctx: &Ctx) -> R {
    expect_error(ctx.client.get_pool(&ctx.id("missing")).await, 404, "PoolNotFound").await
}

async fn pool_nodes_become_idle(ctx: &Ctx) -> R {
    let spec = ctx.pool_spec("pool", 1);
    let nodes = ctx.create_pool(&spec).await?;
    check!(nodes[0].ip_address.is_some(), "ipAddress");
    let p = ctx.client.get_pool(&spec.id).await?;
    check!(p.allocation_state.as_deref() == Some("steady") && p.current_dedicated_nodes == Some(1), "{:?} {:?}", p.allocation_state, p.current_dedicated_nodes);
    Ok(())
}

async fn pool_resize_to_zero_removes_nodes(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 1).await?;
    let r = ctx.client.send_json(Method::POST, &format!("/pools/{pool}/resize"), &json!({"targetDedicatedNodes": 0})).await?;
    check!(r.status == 202, "status {}", r.status);
    let deadline = std::time::Instant::now() + ctx.target.patience();
    loop {
        let p = ctx.client.get_pool(&pool).await?;
        if p.allocation_state.as_deref() == Some("steady") && ctx.client.list_nodes(&pool).await?.is_empty() {
            return Ok(());
        }
        check!(std::time::Instant::now() < deadline, "pool still {:?}", p.allocation_state);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn job_create_echoes_service_defaults(ctx: &Ctx) -> R {
    let job = ctx.create_job("job", &ctx.id("nopool"), json!({})).await?;
    let j: Value = ctx.client.get_json(&format!("/jobs/{job}"), &[]).await?;
    check!(j["priority"] == 0 && j["maxParallelTasks"] == -1, "{j}");
    check!(j["onAllTasksComplete"] == "noaction" && j["onTaskFailure"] == "noaction", "{j}");
    check!(j["constraints"]["maxTaskRetryCount"] == 0, "{j}");
    check!(j["state"] == "active", "{j}");
    Ok(())
}

async fn job_duplicate_is_job_exists(ctx: &Ctx) -> R {
    let job = ctx.create_job("job", &ctx.id("nopool"), json!({})).await?;
    let spec = serde_json::from_value(json!({"id": job, "poolInfo": {"poolId": "x"}})).map_err(|e| Failure(e.to_string()))?;
    expect_error(ctx.client.create_job(&spec).await, 409, "JobExists").await
}

async fn job_unknown_is_job_not_found(ctx: &Ctx) -> R {
    expect_error(ctx.client.get_job(&ctx.id("missing")).await, 404, "JobNotFound").await
}

async fn job_update_with_a_stale_etag_is_condition_not_met(ctx: &Ctx) -> R {
    let job = ctx.create_job("job", &ctx.id("nopool"), json!({})).await?;
    let etag = ctx.client.get_job(&job).await?.e_tag.unwrap_or_default();
    let path = format!("/jobs/{job}");
    ctx.client.send_raw(Method::PATCH, &path, &[], &[("If-Match", &etag)], Some(br#"{"priority": 1}"#.to_vec())).await?;
    let stale = ctx.client.send_raw(Method::PATCH, &path, &[], &[("If-Match", &etag)], Some(br#"{"priority": 2}"#.to_vec())).await;
    expect_error(stale, 412, "ConditionNotMet").await?;
    check!(ctx.client.get_job(&job).await?.spec.priority == Some(1), "the refused update changed the job");
    Ok(())
}

async fn wait_job_state(ctx: &Ctx, job: &str, state: &str) -> Result<batch_client::models::BatchJob, Failure> {
    let deadline = std::time::Instant::now() + ctx.target.patience();
    loop {
        let j = ctx.client.get_job(job).await?;
        if j.state.as_deref() == Some(state) {
            return Ok(j);
        }
        check!(std::time::Instant::now() < deadline, "job {job} still {:?}", j.state);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn job_terminate_completes_with_user_terminate(ctx: &Ctx) -> R {
    let job = ctx.create_job("job", &ctx.id("nopool"), json!({})).await?;
    let r = ctx.client.send_raw(Method::POST, &format!("/jobs/{job}/terminate"), &[], &[], None).await?;
    check!(r.status == 202, "status {}", r.status);
    let j = wait_job_state(ctx, &job, "completed").await?;
    let reason = j.execution_info.and_then(|e| e.terminate_reason);
    check!(reason.as_deref() == Some("UserTerminate"), "terminateReason {reason:?}");
    Ok(())
}

async fn job_on_all_tasks_complete_terminates_the_job(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 1).await?;
    let job = ctx.create_job("job", &pool, json!({})).await?;
    ctx.add_task(&job, json!({"id": "t", "commandLine": "/bin/true"})).await?;
    ctx.client.send_json(Method::PATCH, &format!("/jobs/{job}"), &json!({"onAllTasksComplete": "terminatejob"})).await?;
    let j = wait_job_state(ctx, &job, "completed").await?;
    let reason = j.execution_info.and_then(|e| e.terminate_reason);
    check!(reason.as_deref() == Some("AllTasksComplete"), "terminateReason {reason:?}");
    Ok(())
}

async fn job_list_pages_through_next_links(ctx: &Ctx) -> R {
    for i in 0..3 {
        ctx.create_job(&format!("page{i}"), &ctx.id("nopool"), json!({})).await?;
    }
    let filter = format!("startswith(id,'{}')", ctx.id("page"));
    let first = ctx.client.send_raw(Method::GET, "/jobs", &[("maxresults", "1"), ("$filter", &filter)], &[], None).await?;
    let page: Value = serde_json::from_slice(&first.body).map_err(|e| Failure(e.to_string()))?;
    check!(page["value"].as_array().map(Vec::len) == Some(1), "first page {page}");
    check!(page["odata.nextLink"].as_str().is_some_and(|l| l.starts_with("http")), "nextLink must be absolute: {page}");
    let all: Vec<Value> = ctx.client.list_all("/jobs", &[("maxresults", "1"), ("$filter", &filter)]).await?;
    check!(all.len() == 3, "{} jobs through the pages", all.len());
    Ok(())
}

async fn task_stdout_is_readable(ctx: &Ctx) -> R {
    let (job, t) = one_task(ctx, "/bin/sh -c 'echo hello from batch'", json!({})).await?;
    check!(t.execution_info.as_ref().and_then(|i| i.exit_code) == Some(0), "{:?}", t.execution_info);
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "hello from batch\n", "stdout {out:?}");
    Ok(())
}

async fn task_nonzero_exit_is_failure_exit_code(ctx: &Ctx) -> R {
    let (_, t) = one_task(ctx, "/bin/sh -c 'exit 3'", json!({})).await?;
    let info = t.execution_info.unwrap_or_default();
    check!(info.exit_code == Some(3) && info.result.as_deref() == Some("failure"), "{info:?}");
    let f = info.failure_info.ok_or_else(|| Failure("no failureInfo".into()))?;
    check!(f.code.as_deref() == Some("FailureExitCode") && f.category.eq_ignore_ascii_case("usererror"), "{f:?}");
    Ok(())
}

async fn task_command_line_is_not_run_by_a_shell(ctx: &Ctx) -> R {
    let (job, _) = one_task(ctx, "echo first && echo second", json!({})).await?;
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "first && echo second\n", "stdout {out:?}");
    Ok(())
}

async fn task_variables_are_not_expanded_in_the_command_line(ctx: &Ctx) -> R {
    let (job, _) = one_task(ctx, "echo $AZ_BATCH_TASK_ID", json!({})).await?;
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "$AZ_BATCH_TASK_ID\n", "stdout {out:?}");
    Ok(())
}

async fn task_environment_settings_reach_the_process(ctx: &Ctx) -> R {
    let (job, _) = one_task(ctx, "/bin/sh -c 'echo $GREETING'", json!({"environmentSettings": [{"name": "GREETING", "value": "hi there"}]})).await?;
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "hi there\n", "stdout {out:?}");
    Ok(())
}

async fn task_sees_az_batch_variables(ctx: &Ctx) -> R {
    let (job, t) =
        one_task(ctx, "/bin/sh -c 'echo $AZ_BATCH_TASK_ID $AZ_BATCH_JOB_ID; test \"$PWD\" = \"$AZ_BATCH_TASK_WORKING_DIR\" && echo wd-ok'", json!({})).await?;
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == format!("t {job}\nwd-ok\n"), "stdout {out:?}");
    let root = t.node_info.and_then(|n| n.task_root_directory).unwrap_or_default();
    check!(root == format!("workitems/{job}/job-1/t"), "taskRootDirectory {root}");
    Ok(())
}

async fn task_collection_reports_per_task_results(ctx: &Ctx) -> R {
    let job = ctx.create_job("job", &ctx.id("nopool"), json!({})).await?;
    ctx.add_task(&job, json!({"id": "dup", "commandLine": "x"})).await?;
    let body = json!({"value": [{"id": "a", "commandLine": "x"}, {"id": "dup", "commandLine": "x"}]});
    let r = ctx.client.send_json(Method::POST, &format!("/jobs/{job}/addtaskcollection"), &body).await?;
    check!(r.status == 200, "status {}", r.status);
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| Failure(e.to_string()))?;
    let results = v["value"].as_array().cloned().unwrap_or_default();
    let status = |id: &str| results.iter().find(|x| x["taskId"] == id).map(|x| x["status"].as_str().unwrap_or_default().to_ascii_lowercase());
    check!(status("a").as_deref() == Some("success"), "{v}");
    check!(status("dup").as_deref() == Some("clienterror"), "{v}");
    check!(results.iter().any(|x| x["taskId"] == "dup" && x["error"]["code"] == "TaskExists"), "{v}");
    Ok(())
}

async fn task_counts_add_up(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 1).await?;
    let job = ctx.create_job("job", &pool, json!({})).await?;
    ctx.add_task(&job, json!({"id": "ok", "commandLine": "/bin/true"})).await?;
    ctx.add_task(&job, json!({"id": "bad", "commandLine": "/bin/false"})).await?;
    ctx.completed(&job, "ok").await?;
    ctx.completed(&job, "bad").await?;
    let c: Value = ctx.client.get_json(&format!("/jobs/{job}/taskcounts"), &[]).await?;
    let t = &c["taskCounts"];
    check!(t["completed"] == 2 && t["succeeded"] == 1 && t["failed"] == 1 && t["active"] == 0 && t["running"] == 0, "{c}");
    Ok(())
}

async fn task_terminate_gives_task_ended(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 1).await?;
    let job = ctx.create_job("job", &pool, json!({})).await?;
    ctx.add_task(&job, json!({"id": "t", "commandLine": "/bin/sleep 600"})).await?;
    ctx.client.wait_for_task(&job, "t", |s| s == "running", ctx.target.patience()).await?;
    let r = ctx.client.send_raw(Method::POST, &format!("/jobs/{job}/tasks/t/terminate"), &[], &[], None).await?;
    check!(r.status == 204, "status {}", r.status);
    let t = ctx.completed(&job, "t").await?;
    let code = t.execution_info.and_then(|i| i.failure_info).and_then(|f| f.code);
    check!(code.as_deref() == Some("TaskEnded"), "failureInfo code {code:?}");
    Ok(())
}

async fn task_retries_count_attempts(ctx: &Ctx) -> R {
    let (_, t) = one_task(ctx, "/bin/false", json!({"constraints": {"maxTaskRetryCount": 1}})).await?;
    let info = t.execution_info.unwrap_or_default();
    check!(info.retry_count == 1 && info.result.as_deref() == Some("failure"), "{info:?}");
    Ok(())
}

async fn task_list_filters_on_exit_code(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 1).await?;
    let job = ctx.create_job("job", &pool, json!({})).await?;
    for (id, cmd) in [("ok", "/bin/true"), ("bad", "/bin/false")] {
        ctx.add_task(&job, json!({"id": id, "commandLine": cmd})).await?;
        ctx.completed(&job, id).await?;
    }
    let failed = ctx.client.list_tasks(&job, &[("$filter", "executionInfo/exitCode ne 0"), ("$select", "id,executionInfo")]).await?;
    let ids: Vec<String> = failed.into_iter().map(|t| t.spec.id).collect();
    check!(ids == ["bad"], "filtered {ids:?}");
    Ok(())
}

async fn task_files_list_recursively(ctx: &Ctx) -> R {
    let (job, _) = one_task(ctx, "/bin/sh -c 'mkdir -p out && echo x > out/result.txt'", json!({})).await?;
    let files: Vec<Value> = ctx.client.list_all(&format!("/jobs/{job}/tasks/t/files"), &[("recursive", "true")]).await?;
    let names: Vec<&str> = files.iter().filter_map(|f| f["name"].as_str()).collect();
    for want in ["stdout.txt", "stderr.txt", "wd", "wd/out/result.txt"] {
        check!(names.contains(&want), "{want} missing from {names:?}");
    }
    let f = files.iter().find(|f| f["name"] == "wd/out/result.txt").cloned().unwrap_or_default();
    check!(f["properties"]["contentLength"] == "2", "contentLength is a string: {f}");
    Ok(())
}

async fn task_file_download_honours_ocp_range(ctx: &Ctx) -> R {
    let (job, _) = one_task(ctx, "/bin/sh -c 'printf 0123456789'", json!({})).await?;
    let r = ctx.client.send_raw(Method::GET, &format!("/jobs/{job}/tasks/t/files/stdout.txt"), &[], &[("ocp-range", "bytes=2-5")], None).await?;
    check!(r.body == b"2345", "range body {:?}", String::from_utf8_lossy(&r.body));
    Ok(())
}

async fn task_file_paths_cannot_escape(ctx: &Ctx) -> R {
    let (job, _) = one_task(ctx, "/bin/true", json!({})).await?;
    let r = ctx.client.send_raw(Method::GET, &format!("/jobs/{job}/tasks/t/files/..%2F..%2F..%2F..%2Fetc%2Fpasswd"), &[], &[], None).await;
    expect_error(r, 404, "FileNotFound").await
}

async fn start_task_prepares_the_node(ctx: &Ctx) -> R {
    let mut spec = ctx.pool_spec("pool", 1);
    spec.start_task = Some(
        serde_json::from_value(json!({"commandLine": "/bin/sh -c 'echo ready > $AZ_BATCH_NODE_SHARED_DIR/start-marker'", "waitForSuccess": true}))
            .map_err(|e| Failure(e.to_string()))?,
    );
    let nodes = ctx.create_pool(&spec).await?;
    let node: Value = ctx.client.get_json(&format!("/pools/{}/nodes/{}", spec.id, nodes[0].id), &[]).await?;
    check!(node["startTaskInfo"]["result"] == "success", "{}", node["startTaskInfo"]);
    let job = ctx.create_job("job", &spec.id, json!({})).await?;
    ctx.add_task(&job, json!({"id": "t", "commandLine": "/bin/sh -c 'cat $AZ_BATCH_NODE_SHARED_DIR/start-marker'"})).await?;
    ctx.completed(&job, "t").await?;
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "ready\n", "stdout {out:?}");
    Ok(())
}

async fn job_preparation_runs_before_the_tasks(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 1).await?;
    let job = ctx.create_job("job", &pool, json!({"jobPreparationTask": {"commandLine": "/bin/sh -c 'echo prepared > prep.txt'"}})).await?;
    ctx.add_task(&job, json!({"id": "t", "commandLine": "/bin/sh -c 'cat $AZ_BATCH_JOB_PREP_WORKING_DIR/prep.txt'"})).await?;
    ctx.completed(&job, "t").await?;
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "prepared\n", "stdout {out:?}");
    let status: Vec<Value> = ctx.client.list_all(&format!("/jobs/{job}/jobpreparationandreleasetaskstatus"), &[]).await?;
    check!(status.len() == 1 && status[0]["jobPreparationTaskExecutionInfo"]["result"] == "success", "{status:?}");
    Ok(())
}

async fn dependent_task_waits_for_its_parent(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 1).await?;
    let job = ctx.create_job("job", &pool, json!({"usesTaskDependencies": true})).await?;
    ctx.add_task(&job, json!({"id": "child", "commandLine": "/bin/sh -c 'cat ../../parent/wd/made.txt'", "dependsOn": {"taskIds": ["parent"]}})).await?;
    ctx.add_task(&job, json!({"id": "parent", "commandLine": "/bin/sh -c 'echo made > made.txt'"})).await?;
    let child = ctx.completed(&job, "child").await?;
    let parent = ctx.client.get_task(&job, "parent").await?;
    let (cs, pe) = (child.execution_info.and_then(|i| i.start_time), parent.execution_info.and_then(|i| i.end_time));
    check!(cs.is_some() && pe.is_some() && cs >= pe, "child started {cs:?} before parent ended {pe:?}");
    Ok(())
}

async fn container_job(ctx: &Ctx, nodes: i32, extra_pool: Value) -> Result<String, Failure> {
    let mut spec = ctx.container_pool_spec("cpool", nodes, &["plain:1", "entrypoint:1"]);
    // REEF's pools: inter-node communication on, one task per node.
    spec.enable_inter_node_communication = Some(extra_pool.get("networkConfiguration").is_some());
    if let Some(nc) = extra_pool.get("networkConfiguration") {
        spec.network_configuration = Some(nc.clone());
    }
    ctx.create_pool(&spec).await?;
    ctx.create_job("cjob", &spec.id, json!({})).await
}

async fn container_task(ctx: &Ctx, job: &str, id: &str, image: &str, command_line: &str, options: &str) -> Result<batch_client::models::BatchTask, Failure> {
    ctx.add_task(job, json!({"id": id, "commandLine": command_line, "containerSettings": {"imageName": ctx.image(image), "containerRunOptions": options}}))
        .await?;
    ctx.completed(job, id).await
}

async fn container_prefetched_pool_becomes_idle(ctx: &Ctx) -> R {
    let spec = ctx.container_pool_spec("cpool", 1, &["plain:1"]);
    let nodes = ctx.create_pool(&spec).await?;
    check!(nodes[0].state.as_deref() == Some("idle"), "{:?}", nodes[0].state);
    Ok(())
}

async fn container_image_entrypoint_is_kept(ctx: &Ctx) -> R {
    let job = container_job(ctx, 1, json!({})).await?;
    let t = container_task(ctx, &job, "t", "entrypoint:1", "hello", "--rm").await?;
    check!(t.execution_info.as_ref().and_then(|i| i.container_info.as_ref()).is_some(), "containerInfo missing");
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "entrypoint-says hello\n", "stdout {out:?}");
    Ok(())
}

async fn container_entrypoint_option_replaces_it(ctx: &Ctx) -> R {
    let job = container_job(ctx, 1, json!({})).await?;
    container_task(ctx, &job, "t", "entrypoint:1", "-c 'echo replaced'", "--rm --entrypoint /bin/sh").await?;
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "replaced\n", "stdout {out:?}");
    Ok(())
}

async fn container_rm_workdir_doc_example(ctx: &Ctx) -> R {
    let job = container_job(ctx, 1, json!({})).await?;
    container_task(ctx, &job, "t", "plain:1", "/bin/sh -c \"echo 'hello world' > $AZ_BATCH_TASK_WORKING_DIR/output.txt\"", "--rm --workdir /").await?;
    let out = ctx.file(&job, "t", "wd/output.txt").await?;
    check!(out == "hello world\n", "output.txt {out:?}");
    Ok(())
}

async fn container_doazureparallel_contract(ctx: &Ctx) -> R {
    let job = container_job(ctx, 1, json!({})).await?;
    let script = "test -d $AZ_BATCH_NODE_ROOT_DIR/shared && test -d $AZ_BATCH_NODE_STARTUP_DIR/wd && test \"$PWD\" = \"$AZ_BATCH_TASK_WORKING_DIR\" && echo $AZ_BATCH_JOB_ID/$AZ_BATCH_TASK_ID";
    container_task(ctx, &job, "t", "plain:1", &format!("/bin/sh -c '{script}'"), "--rm").await?;
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == format!("{job}/t\n"), "stdout {out:?}");
    Ok(())
}

async fn container_one_container_per_node_on_a_fixed_port(ctx: &Ctx) -> R {
    let nat = json!({"networkConfiguration": {"endpointConfiguration": {"inboundNATPools": [
        {"name": "reef", "protocol": "tcp", "backendPort": 18500, "frontendPortRangeStart": 15600, "frontendPortRangeEnd": 15699}
    ]}}});
    let job = container_job(ctx, 2, nat).await?;
    for id in ["a", "b"] {
        ctx.add_task(&job, json!({"id": id, "commandLine": "sleep 600", "containerSettings": {"imageName": ctx.image("plain:1"), "containerRunOptions": "--rm -p 18500:18500"}})).await?;
    }
    for id in ["a", "b"] {
        ctx.client.wait_for_task(&job, id, |s| s == "running", ctx.target.patience()).await?;
    }
    let a = ctx.client.get_task(&job, "a").await?.node_info.and_then(|n| n.node_id);
    let b = ctx.client.get_task(&job, "b").await?.node_info.and_then(|n| n.node_id);
    check!(a.is_some() && a != b, "the two containers share a node: {a:?} {b:?}");
    for id in ["a", "b"] {
        ctx.client.send_raw(Method::POST, &format!("/jobs/{job}/tasks/{id}/terminate"), &[], &[], None).await?;
    }
    Ok(())
}

async fn container_private_registry_pool_runs_tasks(ctx: &Ctx) -> R {
    // The pool names the registry and its credentials; the task names it again (Learn's
    // private-registry example). The emulator pulls only a missing image; a real account
    // pulls from BATCH_CONFORMANCE_REGISTRY_SERVER.
    let registry =
        ctx.target.profile.registry.clone().unwrap_or_else(|| json!({"registryServer": "myregistry.azurecr.io", "username": "user", "password": "secret"}));
    let mut spec = ctx.container_pool_spec("cpool", 1, &["plain:1"]);
    if let Some(cc) = spec.virtual_machine_configuration.as_mut().and_then(|v| v.container_configuration.as_mut()) {
        cc.container_registries = Some(vec![registry.clone()]);
    }
    ctx.create_pool(&spec).await?;
    let job = ctx.create_job("cjob", &spec.id, json!({})).await?;
    ctx.add_task(&job, json!({"id": "t", "commandLine": "/bin/sh -c 'echo from the registry image'", "containerSettings": {"imageName": ctx.image("plain:1"), "registry": registry, "containerRunOptions": "--rm"}})).await?;
    let t = ctx.completed(&job, "t").await?;
    check!(t.execution_info.as_ref().and_then(|i| i.exit_code) == Some(0), "{:?}", t.execution_info);
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "from the registry image\n", "stdout {out:?}");
    Ok(())
}

async fn task_max_wall_clock_time_ends_the_task(ctx: &Ctx) -> R {
    let (_, t) = one_task(ctx, "/bin/sleep 600", json!({"constraints": {"maxWallClockTime": "PT5S"}})).await?;
    let info = t.execution_info.unwrap_or_default();
    check!(info.result.as_deref() == Some("failure"), "{info:?}");
    let code = info.failure_info.and_then(|f| f.code);
    check!(code.as_deref() == Some("TaskEnded"), "failureInfo code {code:?}");
    Ok(())
}

async fn job_release_runs_on_terminate(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 1).await?;
    let job = ctx
        .create_job("job", &pool, json!({"jobPreparationTask": {"commandLine": "/bin/true"}, "jobReleaseTask": {"commandLine": "/bin/sh -c 'echo released'"}}))
        .await?;
    ctx.add_task(&job, json!({"id": "t", "commandLine": "/bin/true"})).await?;
    ctx.completed(&job, "t").await?;
    ctx.client.send_raw(Method::POST, &format!("/jobs/{job}/terminate"), &[], &[], None).await?;
    wait_job_state(ctx, &job, "completed").await?;
    let status: Vec<Value> = ctx.client.list_all(&format!("/jobs/{job}/jobpreparationandreleasetaskstatus"), &[]).await?;
    check!(status.len() == 1 && status[0]["jobReleaseTaskExecutionInfo"]["result"] == "success", "{status:?}");
    Ok(())
}

async fn container_bind_mount_selection_isolates_the_task(ctx: &Ctx) -> R {
    let job = container_job(ctx, 1, json!({})).await?;
    let script = "echo root=${AZ_BATCH_NODE_ROOT_DIR:-unset}; (echo x > $AZ_BATCH_NODE_SHARED_DIR/x) 2>/dev/null && echo shared-writable || echo shared-read-only; echo ok > mine.txt";
    ctx.add_task(
        &job,
        json!({"id": "t", "commandLine": format!("/bin/sh -c '{script}'"), "containerSettings": {
            "imageName": ctx.image("plain:1"), "containerRunOptions": "--rm",
            "containerHostBatchBindMounts": [{"source": "Task"}, {"source": "Shared", "isReadOnly": true}]
        }}),
    )
    .await?;
    ctx.completed(&job, "t").await?;
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "root=unset\nshared-read-only\n", "stdout {out:?}");
    let mine = ctx.file(&job, "t", "wd/mine.txt").await?;
    check!(mine == "ok\n", "the task directory is mounted read-write: {mine:?}");
    Ok(())
}

async fn container_same_host_port_collides_on_one_node(ctx: &Ctx) -> R {
    let mut spec = ctx.container_pool_spec("cpool", 1, &["plain:1"]);
    spec.task_slots_per_node = Some(2);
    ctx.create_pool(&spec).await?;
    let job = ctx.create_job("cjob", &spec.id, json!({})).await?;
    let task = |id: &str| json!({"id": id, "commandLine": "sleep 600", "containerSettings": {"imageName": ctx.image("plain:1"), "containerRunOptions": "--rm -p 18520:18520"}});
    ctx.add_task(&job, task("first")).await?;
    ctx.client.wait_for_task(&job, "first", |s| s == "running", ctx.target.patience()).await?;
    // On the emulator `running` means the container has started, so it holds the port. The
    // service says `running` "does not necessarily mean that the Task command line has started
    // executing" (REST docs, TaskState): give the real container time to start.
    if ctx.target.kind == crate::TargetKind::Azure {
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    }
    ctx.add_task(&job, task("second")).await?;
    let second = ctx.completed(&job, "second").await?;
    let info = second.execution_info.unwrap_or_default();
    check!(info.result.as_deref() == Some("failure"), "the second container on the node got the port: {info:?}");
    let first = ctx.client.get_task(&job, "first").await?;
    check!(first.state.as_deref() == Some("running"), "first is {:?}", first.state);
    ctx.client.send_raw(Method::POST, &format!("/jobs/{job}/tasks/first/terminate"), &[], &[], None).await?;
    Ok(())
}

async fn job_manager_completion_terminates_the_job(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 1).await?;
    let job = ctx.create_job("job", &pool, json!({"jobManagerTask": {"id": "manager", "commandLine": "/bin/sh -c 'echo managing'"}})).await?;
    let j = wait_job_state(ctx, &job, "completed").await?;
    let reason = j.execution_info.and_then(|e| e.terminate_reason);
    check!(reason.as_deref() == Some("JMComplete"), "terminateReason {reason:?}");
    let jm = j.spec.job_manager_task.ok_or_else(|| Failure("no jobManagerTask echoed".into()))?;
    check!(jm.kill_job_on_completion == Some(true) && jm.run_exclusive == Some(true), "defaults {jm:?}");
    let out = ctx.file(&job, "manager", "stdout.txt").await?;
    check!(out == "managing\n", "stdout {out:?}");
    Ok(())
}

async fn job_max_wall_clock_time_terminates_the_job(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 1).await?;
    let job = ctx.create_job("job", &pool, json!({"constraints": {"maxWallClockTime": "PT10S"}})).await?;
    ctx.add_task(&job, json!({"id": "long", "commandLine": "/bin/sleep 600"})).await?;
    let deadline = std::time::Instant::now() + ctx.target.patience() + std::time::Duration::from_secs(60);
    let j = loop {
        let j = ctx.client.get_job(&job).await?;
        if j.state.as_deref() == Some("completed") {
            break j;
        }
        check!(std::time::Instant::now() < deadline, "job {job} still {:?} past its limit", j.state);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    let reason = j.execution_info.and_then(|e| e.terminate_reason);
    check!(reason.as_deref() == Some("MaxWallClockTimeExpiry"), "terminateReason {reason:?}");
    let t = ctx.completed(&job, "long").await?;
    let code = t.execution_info.and_then(|i| i.failure_info).and_then(|f| f.code);
    check!(code.as_deref() == Some("TaskEnded"), "failureInfo.code {code:?}");
    Ok(())
}

async fn job_schedule_creates_its_first_job_at_once(ctx: &Ctx) -> R {
    let schedule = ctx
        .create_job_schedule("sched", json!({"schedule": {"recurrenceInterval": "PT1H"}, "jobSpecification": {"poolInfo": {"poolId": ctx.id("nopool")}}}))
        .await?;
    let first = format!("{schedule}:job-1");
    let deadline = std::time::Instant::now() + ctx.target.patience();
    loop {
        let s: Value = ctx.client.get_json(&format!("/jobschedules/{schedule}"), &[]).await?;
        if s["executionInfo"]["recentJob"]["id"] == first.as_str() {
            check!(s["state"] == "active", "state {}", s["state"]);
            check!(s["executionInfo"]["nextRunTime"].is_string(), "executionInfo {}", s["executionInfo"]);
            break;
        }
        check!(std::time::Instant::now() < deadline, "no job yet: {}", s["executionInfo"]);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let jobs: Vec<Value> = ctx.client.list_all(&format!("/jobschedules/{schedule}/jobs"), &[]).await?;
    check!(jobs.len() == 1 && jobs[0]["id"] == first.as_str(), "jobs {jobs:?}");
    Ok(())
}

async fn job_schedule_terminate_ends_its_job(ctx: &Ctx) -> R {
    let schedule = ctx
        .create_job_schedule("sched", json!({"schedule": {"recurrenceInterval": "PT1H"}, "jobSpecification": {"poolInfo": {"poolId": ctx.id("nopool")}}}))
        .await?;
    let first = format!("{schedule}:job-1");
    let deadline = std::time::Instant::now() + ctx.target.patience();
    while ctx.client.get_job(&first).await.is_err() {
        check!(std::time::Instant::now() < deadline, "{first} never appeared");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let r = ctx.client.send_raw(Method::POST, &format!("/jobschedules/{schedule}/terminate"), &[], &[], None).await?;
    check!(r.status == 202, "status {}", r.status);
    let j = wait_job_state(ctx, &first, "completed").await?;
    let reason = j.execution_info.and_then(|e| e.terminate_reason);
    check!(reason.as_deref() == Some("TerminateJobSchedule"), "terminateReason {reason:?}");
    loop {
        let s: Value = ctx.client.get_json(&format!("/jobschedules/{schedule}"), &[]).await?;
        if s["state"] == "completed" {
            break;
        }
        check!(std::time::Instant::now() < deadline + ctx.target.patience(), "schedule still {}", s["state"]);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok(())
}

async fn node_disable_scheduling_takes_the_node_offline(ctx: &Ctx) -> R {
    let spec = ctx.pool_spec("pool", 1);
    let nodes = ctx.create_pool(&spec).await?;
    let path = format!("/pools/{}/nodes/{}", spec.id, nodes[0].id);
    let r = ctx
        .client
        .send_raw(
            Method::POST,
            &format!("{path}/disablescheduling"),
            &[],
            &[],
            Some(json!({"nodeDisableSchedulingOption": "requeue"}).to_string().into_bytes()),
        )
        .await?;
    check!(r.status == 200, "status {}", r.status);
    let deadline = std::time::Instant::now() + ctx.target.patience();
    loop {
        let n: Value = ctx.client.get_json(&path, &[]).await?;
        if n["state"] == "offline" {
            check!(n["schedulingState"] == "disabled", "schedulingState {}", n["schedulingState"]);
            break;
        }
        check!(std::time::Instant::now() < deadline, "node {} / {}", n["state"], n["schedulingState"]);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let r = ctx.client.send_raw(Method::POST, &format!("{path}/enablescheduling"), &[], &[], None).await?;
    check!(r.status == 200, "status {}", r.status);
    loop {
        let n: Value = ctx.client.get_json(&path, &[]).await?;
        if n["state"] == "idle" && n["schedulingState"] == "enabled" {
            return Ok(());
        }
        check!(std::time::Instant::now() < deadline + ctx.target.patience(), "node {} / {}", n["state"], n["schedulingState"]);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn node_reboot_reruns_the_start_task(ctx: &Ctx) -> R {
    let mut spec = ctx.pool_spec("pool", 1);
    spec.start_task = Some(serde_json::from_value(json!({"commandLine": "/bin/true", "waitForSuccess": true})).map_err(|e| Failure(e.to_string()))?);
    let nodes = ctx.create_pool(&spec).await?;
    let path = format!("/pools/{}/nodes/{}", spec.id, nodes[0].id);
    let before: Value = ctx.client.get_json(&path, &[]).await?;
    let r =
        ctx.client.send_raw(Method::POST, &format!("{path}/reboot"), &[], &[], Some(json!({"nodeRebootOption": "requeue"}).to_string().into_bytes())).await?;
    check!(r.status == 202, "status {}", r.status);
    let deadline = std::time::Instant::now() + ctx.target.patience() * 2;
    loop {
        let n: Value = ctx.client.get_json(&path, &[]).await?;
        if n["state"] == "idle" && n["lastBootTime"].as_str() > before["lastBootTime"].as_str() {
            check!(n["startTaskInfo"]["result"] == "success", "startTaskInfo {}", n["startTaskInfo"]);
            check!(n["startTaskInfo"]["startTime"].as_str() > before["startTaskInfo"]["startTime"].as_str(), "the start task did not run again");
            return Ok(());
        }
        check!(std::time::Instant::now() < deadline, "node {} after reboot", n["state"]);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn task_user_identity_variable_follows_the_auto_user(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 1).await?;
    let job = ctx.create_job("job", &pool, json!({})).await?;
    let auto = |scope: &str, level: &str| json!({"autoUser": {"scope": scope, "elevationLevel": level}});
    for (id, identity) in [("default", None), ("admin", Some(auto("pool", "admin")))] {
        let mut body = json!({"id": id, "commandLine": "/bin/sh -c 'echo $AZ_BATCH_TASK_USER_IDENTITY'"});
        if let Some(i) = identity {
            body["userIdentity"] = i;
        }
        ctx.add_task(&job, body).await?;
    }
    for (id, expected) in [("default", "PoolNonAdmin"), ("admin", "PoolAdmin")] {
        ctx.completed(&job, id).await?;
        let out = ctx.file(&job, id, "stdout.txt").await?;
        check!(out == format!("{expected}\n"), "{id}: stdout {out:?}");
    }
    Ok(())
}

async fn task_named_user_runs_as_the_pool_account(ctx: &Ctx) -> R {
    let mut spec = serde_json::to_value(ctx.pool_spec("pool", 1)).map_err(|e| Failure(e.to_string()))?;
    spec["userAccounts"] = json!([{"name": "runner", "password": "Conformance-1-pass", "elevationLevel": "nonadmin"}]);
    let spec: batch_client::models::BatchPoolCreateOptions = serde_json::from_value(spec).map_err(|e| Failure(e.to_string()))?;
    ctx.create_pool(&spec).await?;
    let job = ctx.create_job("job", &spec.id, json!({})).await?;
    ctx.add_task(&job, json!({"id": "t", "commandLine": "/bin/sh -c 'echo $AZ_BATCH_TASK_USER_IDENTITY'", "userIdentity": {"username": "runner"}})).await?;
    let t = ctx.completed(&job, "t").await?;
    check!(t.execution_info.as_ref().and_then(|i| i.exit_code) == Some(0), "{:?}", t.execution_info);
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "runner\n", "stdout {out:?}");
    Ok(())
}

async fn pool_patched_start_task_runs_on_new_nodes(ctx: &Ctx) -> R {
    let spec = ctx.pool_spec("pool", 0);
    ctx.create_pool(&spec).await?;
    let path = format!("/pools/{}", spec.id);
    let patch = json!({"startTask": {"commandLine": "/bin/sh -c 'echo patched > $AZ_BATCH_NODE_SHARED_DIR/patched'", "waitForSuccess": true}});
    ctx.client.send_json(Method::PATCH, &path, &patch).await?;
    let pool: Value = ctx.client.get_json(&path, &[]).await?;
    check!(pool["startTask"]["commandLine"] == patch["startTask"]["commandLine"], "startTask {}", pool["startTask"]);
    ctx.client.send_json(Method::POST, &format!("{path}/resize"), &json!({"targetDedicatedNodes": 1})).await?;
    let job = ctx.create_job("job", &spec.id, json!({})).await?;
    ctx.add_task(&job, json!({"id": "t", "commandLine": "/bin/sh -c 'cat $AZ_BATCH_NODE_SHARED_DIR/patched'"})).await?;
    ctx.completed(&job, "t").await?;
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "patched\n", "stdout {out:?}");
    Ok(())
}

async fn node_recent_tasks_report_task_state(ctx: &Ctx) -> R {
    let (job, t) = one_task(ctx, "/bin/true", json!({})).await?;
    let info = t.node_info.ok_or_else(|| Failure("no nodeInfo".into()))?;
    let (pool, node) = (info.pool_id.unwrap_or_default(), info.node_id.unwrap_or_default());
    let n: Value = ctx.client.get_json(&format!("/pools/{pool}/nodes/{node}"), &[]).await?;
    let recent = n["recentTasks"].as_array().cloned().unwrap_or_default();
    let entry = recent.iter().find(|r| r["taskId"] == "t" && r["jobId"] == job.as_str());
    check!(entry.is_some_and(|e| e["taskState"] == "completed"), "recentTasks {}", n["recentTasks"]);
    Ok(())
}

async fn task_affinity_prefers_the_named_node(ctx: &Ctx) -> R {
    let pool = plain_pool(ctx, 2).await?;
    let nodes: Vec<Value> = ctx.client.list_all(&format!("/pools/{pool}/nodes"), &[]).await?;
    let target = nodes.last().ok_or_else(|| Failure("no nodes".into()))?;
    let job = ctx.create_job("job", &pool, json!({})).await?;
    ctx.add_task(&job, json!({"id": "t", "commandLine": "/bin/true", "affinityInfo": {"affinityId": target["affinityId"]}})).await?;
    let t = ctx.completed(&job, "t").await?;
    let node = t.node_info.and_then(|n| n.node_id).unwrap_or_default();
    check!(node == target["id"].as_str().unwrap_or_default(), "ran on {node}, not {}", target["id"]);
    Ok(())
}
