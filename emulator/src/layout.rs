//! Where a node's file system lives on this machine: Batch's Linux layout under
//! `<data dir>/nodes/<node id>/batch/tasks` (node-and-container-semantics.md §3; the root is
//! an implementation detail there too).

use std::path::{Path, PathBuf};

/// Paths of the emulated nodes.
#[derive(Debug, Clone)]
pub struct NodeLayout {
    data_dir: PathBuf,
}

impl NodeLayout {
    pub fn new(data_dir: PathBuf) -> Self {
        Self { data_dir }
    }
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
    /// Everything that belongs to one node.
    pub fn node_dir(&self, node_id: &str) -> PathBuf {
        self.data_dir.join("nodes").join(node_id)
    }
    /// `AZ_BATCH_NODE_ROOT_DIR`.
    pub fn root(&self, node_id: &str) -> PathBuf {
        self.node_dir(node_id).join("batch").join("tasks")
    }
    /// A task directory relative to the node root (`nodeInfo.taskRootDirectory`).
    pub fn task_relative(job_id: &str, task_id: &str) -> String {
        batch_model::layout::task_root_directory(job_id, task_id)
    }
    /// `AZ_BATCH_TASK_DIR` of a job task.
    pub fn task_dir(&self, node_id: &str, job_id: &str, task_id: &str) -> PathBuf {
        self.root(node_id).join(Self::task_relative(job_id, task_id))
    }
    /// The task directory of a launch: `startup/` for a start task, else the job task's.
    pub fn launch_dir(&self, launch: &batch_model::Launch) -> PathBuf {
        match launch.kind {
            batch_model::LaunchKind::StartTask => self.root(&launch.node_id).join("startup"),
            batch_model::LaunchKind::Task | batch_model::LaunchKind::JobPreparation | batch_model::LaunchKind::JobRelease => {
                self.task_dir(&launch.node_id, &launch.job_id, &launch.task_id)
            }
        }
    }

    /// The directory of a job on a node (`workitems/<job>`, or its schedule's instance).
    pub fn job_dir(&self, node_id: &str, job_id: &str) -> PathBuf {
        self.root(node_id).join(batch_model::layout::job_directory(job_id))
    }
    /// The directories every node has from the start.
    pub fn node_skeleton(&self, node_id: &str) -> Vec<PathBuf> {
        let root = self.root(node_id);
        ["applications", "fsmounts", "shared", "startup/wd", "volatile", "workitems"].iter().map(|d| root.join(d)).collect()
    }
}
