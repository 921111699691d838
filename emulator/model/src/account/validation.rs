//! Checks shared by several request bodies (container settings, start tasks, preparation and
//! release tasks), and the defaults the service fills in for them.

use crate::error::{BatchErrorCode as Code, DomainError};
use crate::ids::validate_id;
use batch_client::models::*;
use batch_client::BatchDuration;

pub(super) fn ci_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

pub(super) fn not_implemented(what: &str) -> DomainError {
    DomainError::new(Code::NotImplemented).with_message(format!("{what} is not emulated yet by batch-emulator {}.", env!("CARGO_PKG_VERSION")))
}

/// `containerConfiguration.type` is required (since 2023-05-01): `dockerCompatible` or
/// `criCompatible`; older api-versions sent `docker`.
pub(super) fn validate_container_configuration(cc: &ContainerConfiguration) -> Result<(), DomainError> {
    match cc.kind.as_deref() {
        None => Err(DomainError::missing_property("type")),
        Some(t) if ["dockerCompatible", "criCompatible", "docker"].iter().any(|k| k.eq_ignore_ascii_case(t)) => {
            if cc.container_image_names.iter().flatten().any(|i| i.trim().is_empty()) {
                return Err(DomainError::invalid_property("containerImageNames", "", "An image name cannot be empty"));
            }
            Ok(())
        }
        Some(t) => Err(DomainError::invalid_property("type", t, "The value must be dockerCompatible or criCompatible")),
    }
}

/// A job's preparation and release tasks: ids, command lines, containers, the release task's
/// 15-minute limit, and no release task without a preparation task.
pub(super) fn validate_prep_and_release(spec: &BatchJobCreateOptions) -> Result<(), DomainError> {
    if let Some(jp) = &spec.job_preparation_task {
        if let Some(id) = &jp.id {
            validate_id("id", id)?;
        }
        if jp.command_line.is_empty() && jp.container_settings.is_none() {
            return Err(DomainError::missing_property("commandLine"));
        }
        if let Some(cs) = &jp.container_settings {
            validate_container_settings(cs)?;
        }
        crate::resource_files::parse(jp.resource_files.as_deref())?;
        if let Some(r) = jp.constraints.as_ref().and_then(|c| c.max_task_retry_count) {
            if r < -1 {
                return Err(DomainError::invalid_property("maxTaskRetryCount", r.to_string(), "The value must be -1 or greater"));
            }
        }
    }
    if let Some(jr) = &spec.job_release_task {
        if spec.job_preparation_task.is_none() {
            // UNCONFIRMED: the error for a release task without a preparation task.
            return Err(DomainError::missing_property("jobPreparationTask"));
        }
        if let Some(id) = &jr.id {
            validate_id("id", id)?;
        }
        let prep_id = spec.job_preparation_task.as_ref().and_then(|p| p.id.clone()).unwrap_or_else(|| "jobpreparation".into());
        if jr.id.as_deref().unwrap_or("jobrelease").eq_ignore_ascii_case(&prep_id) {
            return Err(DomainError::invalid_property(
                "id",
                jr.id.clone().unwrap_or_default(),
                "The job release task id must differ from the job preparation task id",
            ));
        }
        if jr.command_line.is_empty() && jr.container_settings.is_none() {
            return Err(DomainError::missing_property("commandLine"));
        }
        if let Some(cs) = &jr.container_settings {
            validate_container_settings(cs)?;
        }
        crate::resource_files::parse(jr.resource_files.as_deref())?;
        if let Some(t) = jr.max_wall_clock_time {
            if t > BatchDuration::from_secs(15 * 60) {
                return Err(DomainError::invalid_property("maxWallClockTime", t.to_string(), "The job release task can run at most 15 minutes"));
            }
        }
    }
    Ok(())
}

/// The defaults the service echoes for preparation and release tasks (batch-rest-api.md §5.3).
pub(super) fn fill_prep_and_release_defaults(spec: &mut BatchJobCreateOptions) {
    if let Some(jp) = spec.job_preparation_task.as_mut() {
        jp.id.get_or_insert_with(|| "jobpreparation".into());
        jp.wait_for_success.get_or_insert(true);
        jp.rerun_on_node_reboot_after_success.get_or_insert(true);
        let c = jp.constraints.get_or_insert_with(Default::default);
        c.max_wall_clock_time.get_or_insert(BatchDuration::UNLIMITED);
        c.retention_time.get_or_insert(BatchDuration::from_secs(7 * 86_400));
        c.max_task_retry_count.get_or_insert(0);
        jp.user_identity.get_or_insert(UserIdentity {
            username: None,
            auto_user: Some(AutoUserSpecification { scope: Some("pool".into()), elevation_level: Some("nonadmin".into()) }),
        });
    }
    if let Some(jr) = spec.job_release_task.as_mut() {
        jr.id.get_or_insert_with(|| "jobrelease".into());
        jr.max_wall_clock_time.get_or_insert(BatchDuration::from_secs(15 * 60));
        jr.retention_time.get_or_insert(BatchDuration::from_secs(7 * 86_400));
    }
}

/// A pool's start task: a command line (or a container image's CMD), valid container
/// settings and retry count.
pub(super) fn validate_start_task(st: &StartTask) -> Result<(), DomainError> {
    if st.command_line.is_empty() && st.container_settings.is_none() {
        return Err(DomainError::missing_property("commandLine"));
    }
    if let Some(cs) = &st.container_settings {
        validate_container_settings(cs)?;
    }
    crate::resource_files::parse(st.resource_files.as_deref())?;
    if let Some(r) = st.max_task_retry_count {
        if r < -1 {
            return Err(DomainError::invalid_property("maxTaskRetryCount", r.to_string(), "The value must be -1 or greater"));
        }
    }
    Ok(())
}

/// The defaults the service applies to a start task (waitForSuccess true, no retries).
pub(super) fn with_start_task_defaults(mut st: StartTask) -> StartTask {
    st.wait_for_success.get_or_insert(true);
    st.max_task_retry_count.get_or_insert(0);
    if let Some(cs) = st.container_settings.as_mut() {
        cs.working_directory.get_or_insert_with(|| "taskWorkingDirectory".into());
    }
    st
}

/// `containerSettings` of a task: an image, a known working directory mode, known mount sources.
pub(super) fn validate_container_settings(cs: &ContainerSettings) -> Result<(), DomainError> {
    if cs.image_name.trim().is_empty() {
        return Err(DomainError::missing_property("imageName"));
    }
    if let Some(w) = &cs.working_directory {
        if !w.eq_ignore_ascii_case("taskWorkingDirectory") && !w.eq_ignore_ascii_case("containerImageDefault") {
            return Err(DomainError::invalid_property("workingDirectory", w.clone(), "The value must be taskWorkingDirectory or containerImageDefault"));
        }
    }
    if let Some(m) = &cs.container_host_batch_bind_mounts {
        let Some(items) = m.as_array() else {
            return Err(DomainError::invalid_property("containerHostBatchBindMounts", m.to_string(), "The value must be a list"));
        };
        for item in items {
            let source = item.get("source").and_then(|s| s.as_str()).unwrap_or_default();
            if !["Shared", "Startup", "VfsMounts", "Task", "JobPrep", "Applications"].iter().any(|k| k.eq_ignore_ascii_case(source)) {
                return Err(DomainError::invalid_property("source", source, "The value must be Shared, Startup, VfsMounts, Task, JobPrep or Applications"));
            }
        }
    }
    Ok(())
}

pub(super) fn is_empty_list<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(|v| v.is_empty())
}
