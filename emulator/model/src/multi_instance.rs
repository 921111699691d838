//! Multi-instance tasks (Learn, "Use multi-instance tasks to run MPI applications"): the task
//! takes `numberOfInstances` nodes at once, one instance per node; every instance (the primary
//! on the master node, subtasks on the others) downloads the common resource files into the
//! task directory and runs the coordination command line; once all have finished it
//! successfully, the task's own command line runs on the primary only. The primary's exit code
//! is the task's; a failing instance fails the task (retried as a whole).

use crate::error::DomainError;
use crate::resource_files::ResourceFile;
use batch_client::models::FailureInfo;
use serde_json::Value;
use time::OffsetDateTime;

/// Batch reserves this port on the master node (`AZ_BATCH_MASTER_NODE`).
pub const MASTER_PORT: u16 = 6000;

/// `multiInstanceSettings`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiInstanceSettings {
    pub number_of_instances: u32,
    pub coordination_command_line: String,
    pub common_resource_files: Vec<ResourceFile>,
}

/// Validates `multiInstanceSettings` (numberOfInstances defaults to 1).
pub fn parse(settings: &Value) -> Result<MultiInstanceSettings, DomainError> {
    let number = match settings.get("numberOfInstances") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=i64::from(crate::account::MAX_NODES_PER_POOL)).contains(&n) => n as u32,
            // UNCONFIRMED: the service's bound (a pool's node count bounds what can run).
            _ => return Err(DomainError::invalid_property("numberOfInstances", v.to_string().trim_matches('"'), "The value must be at least 1")),
        },
    };
    let coordination = match settings.get("coordinationCommandLine") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(DomainError::missing_property("coordinationCommandLine")),
    };
    let common = crate::resource_files::parse(settings.get("commonResourceFiles").and_then(Value::as_array).map(Vec::as_slice))?;
    Ok(MultiInstanceSettings { number_of_instances: number, coordination_command_line: coordination, common_resource_files: common })
}

/// The settings of a task already validated at add time.
pub fn of(settings: Option<&Value>) -> Option<MultiInstanceSettings> {
    settings.and_then(|s| parse(s).ok())
}

/// `state` of a subtask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SubtaskState {
    Preparing,
    Running,
    Completed,
}

impl SubtaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            SubtaskState::Preparing => "preparing",
            SubtaskState::Running => "running",
            SubtaskState::Completed => "completed",
        }
    }
}

/// One instance of a multi-instance task on its node: id 0 is the primary (on the master
/// node), 1.. are the subtasks `list_subtasks` reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Subtask {
    pub id: u32,
    pub pool_id: String,
    pub node_id: String,
    pub node_ip: String,
    pub state: SubtaskState,
    pub state_transition_time: OffsetDateTime,
    pub previous_state: Option<(SubtaskState, OffsetDateTime)>,
    /// The run of its coordination command line, while it runs.
    pub run_id: Option<u64>,
    pub start_time: Option<OffsetDateTime>,
    pub end_time: Option<OffsetDateTime>,
    /// The coordination command line's exit code.
    pub exit_code: Option<i32>,
    pub failure_info: Option<FailureInfo>,
    /// Its coordination command line finished with exit code 0.
    pub coordinated: bool,
}

impl Subtask {
    pub fn set_state(&mut self, state: SubtaskState, now: OffsetDateTime) {
        if self.state != state {
            self.previous_state = Some((self.state, self.state_transition_time));
            self.state = state;
            self.state_transition_time = now;
        }
    }

    /// `result` once completed.
    pub fn result(&self) -> Option<&'static str> {
        (self.state == SubtaskState::Completed).then(|| if self.exit_code == Some(0) && self.failure_info.is_none() { "success" } else { "failure" })
    }
}

/// What an instance's launch needs to know of the others (the `AZ_BATCH_*` variables of
/// multi-instance tasks).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceLaunch {
    /// 0 for the primary.
    pub subtask_id: u32,
    /// The instances' node addresses, the master's first.
    pub hosts: Vec<String>,
    /// This run is the coordination command line (else the primary's application command).
    pub coordination: bool,
}

impl InstanceLaunch {
    /// `AZ_BATCH_HOST_LIST`, `AZ_BATCH_NODE_LIST`, `AZ_BATCH_MASTER_NODE`,
    /// `AZ_BATCH_IS_CURRENT_NODE_MASTER` and `CCP_NODES` (one core per node here).
    /// `AZ_BATCH_TASK_SHARED_DIR` is the task directory: the agent adds it.
    pub fn variables(&self) -> Vec<(String, String)> {
        let master = self.hosts.first().cloned().unwrap_or_default();
        let ccp = std::iter::once(self.hosts.len().to_string()).chain(self.hosts.iter().map(|h| format!("{h} 1"))).collect::<Vec<_>>().join(" ");
        vec![
            ("AZ_BATCH_HOST_LIST".into(), self.hosts.join(",")),
            ("AZ_BATCH_NODE_LIST".into(), self.hosts.join(";")),
            ("AZ_BATCH_MASTER_NODE".into(), format!("{master}:{MASTER_PORT}")),
            ("AZ_BATCH_IS_CURRENT_NODE_MASTER".into(), (self.subtask_id == 0).to_string()),
            ("CCP_NODES".into(), ccp),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_validated_with_the_documented_default() {
        let s = parse(&json!({"coordinationCommandLine": "sh -c 'start'"})).unwrap();
        assert_eq!(s.number_of_instances, 1);
        assert_eq!(parse(&json!({"numberOfInstances": 3, "coordinationCommandLine": "x"})).unwrap().number_of_instances, 3);
        assert!(parse(&json!({"numberOfInstances": 0, "coordinationCommandLine": "x"})).is_err());
        assert!(parse(&json!({"numberOfInstances": 2})).is_err());
        assert!(parse(&json!({"numberOfInstances": 2, "coordinationCommandLine": "x", "commonResourceFiles": [{"filePath": "a"}]})).is_err());
    }

    #[test]
    fn instance_variables_name_the_master_first() {
        let l = InstanceLaunch { subtask_id: 1, hosts: vec!["127.0.1.1".into(), "127.0.1.2".into()], coordination: true };
        let v: std::collections::HashMap<String, String> = l.variables().into_iter().collect();
        assert_eq!(v["AZ_BATCH_HOST_LIST"], "127.0.1.1,127.0.1.2");
        assert_eq!(v["AZ_BATCH_NODE_LIST"], "127.0.1.1;127.0.1.2");
        assert_eq!(v["AZ_BATCH_MASTER_NODE"], "127.0.1.1:6000");
        assert_eq!(v["AZ_BATCH_IS_CURRENT_NODE_MASTER"], "false");
        assert_eq!(v["CCP_NODES"], "2 127.0.1.1 1 127.0.1.2 1");
    }
}
