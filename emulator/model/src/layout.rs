//! Where things live on a node, relative to the node root, as the service names them in its
//! responses (`taskRootDirectory`) and as the node agent lays them out. Pure names: no disk.

/// The job instance `<schedule>:job-<n>` names, when the job belongs to a schedule.
fn schedule_instance(job_id: &str) -> Option<(&str, &str)> {
    job_id.rsplit_once(":job-").filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Everything of one job on a node, relative to the node root: `workitems/<job>`, or for a job
/// of a schedule (`<schedule>:job-<n>`) instance `n` of the schedule's work item,
/// `workitems/<schedule>/job-<n>`.
/// UNCONFIRMED: the schedule case (node-and-container-semantics.md §3 notes on `job-1`).
pub fn job_directory(job_id: &str) -> String {
    match schedule_instance(job_id) {
        Some((schedule, n)) => format!("workitems/{schedule}/job-{n}"),
        None => format!("workitems/{job_id}"),
    }
}

/// A task directory relative to the node root (`taskRootDirectory`):
/// `workitems/<job>/job-1/<task>`, or `workitems/<schedule>/job-<n>/<task>`.
pub fn task_root_directory(job_id: &str, task_id: &str) -> String {
    match schedule_instance(job_id) {
        Some(_) => format!("{}/{task_id}", job_directory(job_id)),
        None => format!("workitems/{job_id}/job-1/{task_id}"),
    }
}
