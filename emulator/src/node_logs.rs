//! The node agent's own logs, one directory a node (`<node dir>/agent-logs/`, outside the
//! node's file tree, so the Files API does not show them): `agent.log` (the node: provisioning,
//! images, restarts) and `task-runner.log` (each attempt: launch, files, exit), one line an event
//! with its time. `upload_node_logs` sends them to a container.

use crate::layout::NodeLayout;
use std::io::Write;
use std::path::PathBuf;
use time::OffsetDateTime;

/// Which log a line goes to.
#[derive(Debug, Clone, Copy)]
pub enum NodeLog {
    Agent,
    TaskRunner,
}

impl NodeLog {
    fn file(self) -> &'static str {
        match self {
            NodeLog::Agent => "agent.log",
            NodeLog::TaskRunner => "task-runner.log",
        }
    }
}

/// The directory of a node's logs.
pub fn dir(layout: &NodeLayout, node_id: &str) -> PathBuf {
    layout.node_dir(node_id).join("agent-logs")
}

/// Appends one line (best effort: a log that cannot be written never fails the work).
pub fn note(layout: &NodeLayout, node_id: &str, log: NodeLog, at: OffsetDateTime, message: &str) {
    let dir = dir(layout, node_id);
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(log.file())) {
        let at = at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let _ = writeln!(f, "{at} {message}");
    }
}

/// The log files holding a line in `[start, end]` (end open when `None`): the whole file goes,
/// as the service does ("the entire log file is always uploaded").
pub fn files_in_range(layout: &NodeLayout, node_id: &str, start: OffsetDateTime, end: Option<OffsetDateTime>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir(layout, node_id)) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            std::fs::read_to_string(p).is_ok_and(|text| {
                text.lines()
                    .filter_map(|l| l.split_once(' '))
                    .filter_map(|(t, _)| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
                    .any(|t| t >= start && end.is_none_or(|e| t <= e))
            })
        })
        .collect();
    files.sort();
    files
}
