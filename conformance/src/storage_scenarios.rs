//! Scenarios of the storage data path: resource files and output files through the target's
//! linked storage account (Azurite beside the emulator, the account's own storage on Azure).
//! Each names the document it checks.

use crate::{check, Ctx, Failure, Scenario};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

type R = Result<(), Failure>;

/// The storage scenarios, in a stable order.
pub fn all() -> Vec<Scenario> {
    macro_rules! s {
        ($name:ident, $area:literal, $source:literal) => {
            Scenario {
                name: stringify!($name),
                area: $area,
                source: $source,
                run: {
                    fn w(c: &Ctx) -> BoxFuture<'_, R> {
                        Box::pin($name(c))
                    }
                    w
                },
            }
        };
    }
    vec![
        s!(
            resource_files_land_in_the_working_directory,
            "storage",
            "ResourceFile (httpUrl, storageContainerUrl + blobPrefix + filePath, autoStorageContainerName); resource-files.md"
        ),
        s!(
            resource_file_missing_blob_fails_before_the_command_runs,
            "storage",
            "node-and-container-semantics.md §6 BlobNotFound, §5.4 (pre-processing errors are not retried)"
        ),
        s!(output_files_upload_on_their_condition, "storage", "batch-task-output-files.md (../std*.txt with path, single file, upload conditions)"),
        s!(
            output_file_to_a_missing_container_is_file_upload_container_not_found,
            "storage",
            "batch-task-output-files.md (Diagnose file upload errors: FileUploadContainerNotFound)"
        ),
        s!(
            pool_application_package_is_named_by_its_variable,
            "storage",
            "batch-compute-node-environment-variables.md AZ_BATCH_APP_PACKAGE (Linux: lower case, underscores); batch-application-packages.md"
        ),
    ]
}

/// Two hours from now, as the SAS expiry.
fn expiry() -> time::OffsetDateTime {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(2 * 3600);
    time::OffsetDateTime::from_unix_timestamp(now.as_secs() as i64).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn output(pattern: &str, container_url: &str, path: Option<&str>, condition: &str) -> Value {
    let mut c = json!({"containerUrl": container_url});
    if let Some(p) = path {
        c["path"] = json!(p);
    }
    json!({"filePattern": pattern, "destination": {"container": c}, "uploadOptions": {"uploadCondition": condition}})
}

async fn one_node_job(ctx: &Ctx) -> Result<String, Failure> {
    let spec = ctx.pool_spec("pool", 1);
    ctx.create_pool(&spec).await?;
    ctx.create_job("job", &spec.id, json!({})).await
}

async fn resource_files_land_in_the_working_directory(ctx: &Ctx) -> R {
    let (storage, container) = ctx.storage_container("in").await?;
    for (name, body) in [("data/a.txt", "a\n"), ("data/sub/b.txt", "b\n"), ("other/c.txt", "c\n")] {
        storage.put_blob(&container, name, body.as_bytes()).await.map_err(Failure)?;
    }
    let job = one_node_job(ctx).await?;
    let account = &storage.account;
    ctx.add_task(
        &job,
        json!({"id": "t", "commandLine": "/bin/sh -c 'cat one.txt got/data/a.txt got/data/sub/b.txt linked/other/c.txt; test ! -e got/other && echo only-the-prefix'",
            "resourceFiles": [
                {"httpUrl": account.blob_sas_url(&container, "other/c.txt", "r", expiry()), "filePath": "one.txt"},
                {"storageContainerUrl": account.container_sas_url(&container, "rl", expiry()), "blobPrefix": "data/", "filePath": "got"},
                {"autoStorageContainerName": container, "blobPrefix": "other/", "filePath": "linked"}
            ]}),
    )
    .await?;
    let t = ctx.completed(&job, "t").await?;
    let info = t.execution_info.unwrap_or_default();
    check!(info.exit_code == Some(0) && info.result.as_deref() == Some("success"), "{info:?}");
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "c\na\nb\nc\nonly-the-prefix\n", "stdout {out:?}");
    Ok(())
}

async fn resource_file_missing_blob_fails_before_the_command_runs(ctx: &Ctx) -> R {
    let (storage, container) = ctx.storage_container("in").await?;
    let job = one_node_job(ctx).await?;
    let url = storage.account.blob_sas_url(&container, "absent.txt", "r", expiry());
    ctx.add_task(&job, json!({"id": "t", "commandLine": "/bin/sh -c 'echo ran'", "constraints": {"maxTaskRetryCount": 2}, "resourceFiles": [{"httpUrl": url, "filePath": "x"}]}))
        .await?;
    let t = ctx.completed(&job, "t").await?;
    let info = t.execution_info.unwrap_or_default();
    let f = info.failure_info.clone();
    check!(f.as_ref().is_some_and(|f| f.category == "usererror" && f.code.as_deref() == Some("BlobNotFound")), "{f:?}");
    check!(info.result.as_deref() == Some("failure") && info.exit_code.is_none() && info.retry_count == 0, "{info:?}");
    let out = ctx.file(&job, "t", "stdout.txt").await.unwrap_or_default();
    check!(out.is_empty(), "the command never ran: stdout {out:?}");
    Ok(())
}

async fn output_files_upload_on_their_condition(ctx: &Ctx) -> R {
    let (storage, container) = ctx.storage_container("out").await?;
    let sas = storage.account.container_sas_url(&container, "w", expiry());
    let job = one_node_job(ctx).await?;
    ctx.add_task(
        &job,
        json!({"id": "t", "commandLine": "/bin/sh -c 'echo result > out.txt; echo logged'",
        "outputFiles": [
            output("../std*.txt", &sas, Some("t/logs"), "taskcompletion"),
            output("out.txt", &sas, Some("t/result.txt"), "tasksuccess"),
            output("out.txt", &sas, Some("t/on-failure.txt"), "taskfailure"),
        ]}),
    )
    .await?;
    let t = ctx.completed(&job, "t").await?;
    let info = t.execution_info.unwrap_or_default();
    check!(info.result.as_deref() == Some("success"), "{info:?}");
    let names = storage.list_blobs(&container).await.map_err(Failure)?;
    check!(names == ["t/logs/stderr.txt", "t/logs/stdout.txt", "t/result.txt"], "blobs {names:?}");
    let result = storage.get_blob(&container, "t/result.txt").await.map_err(Failure)?.map(|(b, _)| b);
    check!(result.as_deref() == Some(b"result\n".as_slice()), "t/result.txt {result:?}");
    let log = storage.get_blob(&container, "t/logs/stdout.txt").await.map_err(Failure)?.map(|(b, _)| b);
    check!(log.as_deref() == Some(b"logged\n".as_slice()), "t/logs/stdout.txt {log:?}");
    Ok(())
}

async fn pool_application_package_is_named_by_its_variable(ctx: &Ctx) -> R {
    let Some((app, version)) = ctx.target.application.clone() else {
        return Err(Failure("this scenario needs an application package holding hello.sh: BATCH_CONFORMANCE_APPLICATION=id:version".into()));
    };
    let listed: Value = ctx.client.get_json(&format!("/applications/{}", batch_client::encode_segment(&app)), &[]).await?;
    check!(listed["versions"].as_array().is_some_and(|v| v.iter().any(|x| x == version.as_str())), "{listed}");
    let mut spec = ctx.pool_spec("pool", 1);
    spec.application_package_references = Some(vec![json!({"applicationId": app, "version": version})]);
    ctx.create_pool(&spec).await?;
    let job = ctx.create_job("job", &spec.id, json!({})).await?;
    // "AZ_BATCH_APP_PACKAGE_agent_linux_x64_1_1_46_0, using underscores and lower case".
    let clean = |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect::<String>();
    let var = format!("AZ_BATCH_APP_PACKAGE_{}_{}", clean(&app), clean(&version));
    ctx.add_task(&job, json!({"id": "t", "commandLine": format!("/bin/sh -c 'sh ${var}/hello.sh'")})).await?;
    let t = ctx.completed(&job, "t").await?;
    let info = t.execution_info.unwrap_or_default();
    check!(info.exit_code == Some(0), "{info:?}");
    let out = ctx.file(&job, "t", "stdout.txt").await?;
    check!(out == "hello from the package\n", "stdout {out:?}");
    Ok(())
}

async fn output_file_to_a_missing_container_is_file_upload_container_not_found(ctx: &Ctx) -> R {
    let (storage, container) = ctx.storage_container("out").await?;
    let missing = format!("{container}-absent");
    let sas = storage.account.container_sas_url(&missing, "w", expiry());
    let job = one_node_job(ctx).await?;
    ctx.add_task(&job, json!({"id": "t", "commandLine": "/bin/sh -c 'echo x > out.txt'", "outputFiles": [output("out.txt", &sas, None, "taskcompletion")]}))
        .await?;
    let t = ctx.completed(&job, "t").await?;
    let info = t.execution_info.unwrap_or_default();
    let f = info.failure_info.clone();
    check!(f.as_ref().is_some_and(|f| f.category == "usererror" && f.code.as_deref() == Some("FileUploadContainerNotFound")), "{f:?}");
    check!(info.result.as_deref() == Some("failure") && info.exit_code == Some(0), "{info:?}");
    Ok(())
}
