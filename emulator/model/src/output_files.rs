//! Output files: what a task's node uploads to blob containers after the command exits and
//! before the task is `completed` (tasks and job managers). Validated when the task is added,
//! as the `OutputFile` model documents it: `filePattern`, `destination.container.containerUrl`
//! and `uploadOptions.uploadCondition` are required; the condition is `tasksuccess`,
//! `taskfailure` or `taskcompletion`; `uploadHeaders` are name-value pairs.
//!
//! UNCONFIRMED: the error codes of a body breaking these rules (400 `MissingRequiredProperty`,
//! 400 `InvalidPropertyValue`, as for the other models).

use crate::error::DomainError;
use serde_json::Value;

/// When an output file is uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadCondition {
    TaskSuccess,
    TaskFailure,
    TaskCompletion,
}

impl UploadCondition {
    /// Whether an attempt that ended this way uploads (`succeeded`: exit code 0).
    pub fn applies(self, succeeded: bool) -> bool {
        match self {
            UploadCondition::TaskSuccess => succeeded,
            UploadCondition::TaskFailure => !succeeded,
            UploadCondition::TaskCompletion => true,
        }
    }
}

/// One validated `outputFiles` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// Relative to the working directory, or absolute; `$VAR` expanded on the node.
    pub file_pattern: String,
    /// The container URL (with its SAS).
    pub container_url: String,
    /// The blob name (a pattern without wildcards) or virtual directory (with wildcards).
    pub path: Option<String>,
    pub upload_headers: Vec<(String, String)>,
    pub condition: UploadCondition,
}

fn invalid(property: &str, value: &str, reason: &str) -> DomainError {
    DomainError::invalid_property(property, value, reason)
}

fn text<'a>(v: Option<&'a Value>, name: &str) -> Result<Option<&'a str>, DomainError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(invalid(name, &other.to_string(), "The value must be a string")),
    }
}

/// Validates one `outputFiles` entry.
pub fn parse_one(entry: &Value) -> Result<OutputFile, DomainError> {
    if !entry.is_object() {
        return Err(invalid("outputFiles", &entry.to_string(), "Each output file must be an object"));
    }
    let file_pattern = text(entry.get("filePattern"), "filePattern")?.filter(|p| !p.is_empty()).ok_or_else(|| DomainError::missing_property("filePattern"))?;
    let container = entry.get("destination").and_then(|d| d.get("container")).ok_or_else(|| DomainError::missing_property("destination"))?;
    let container_url =
        text(container.get("containerUrl"), "containerUrl")?.filter(|u| !u.is_empty()).ok_or_else(|| DomainError::missing_property("containerUrl"))?;
    let lower = container_url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(invalid("containerUrl", container_url, "The value must be an absolute http or https URL"));
    }
    let path = text(container.get("path"), "path")?.filter(|p| !p.is_empty()).map(String::from);
    let mut upload_headers = Vec::new();
    if let Some(hs) = container.get("uploadHeaders").filter(|h| !h.is_null()) {
        let hs = hs.as_array().ok_or_else(|| invalid("uploadHeaders", &hs.to_string(), "The value must be a list of name-value pairs"))?;
        for h in hs {
            let name = text(h.get("name"), "name")?.filter(|n| !n.is_empty()).ok_or_else(|| DomainError::missing_property("name"))?;
            if !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(invalid("name", name, "A header name is printable ASCII without ':'"));
            }
            let value = text(h.get("value"), "value")?.unwrap_or_default();
            if value.bytes().any(|b| b == b'\r' || b == b'\n') {
                return Err(invalid("value", value, "A header value is one line"));
            }
            upload_headers.push((name.to_string(), value.to_string()));
        }
    }
    let condition = text(entry.get("uploadOptions").and_then(|o| o.get("uploadCondition")), "uploadCondition")?
        .ok_or_else(|| DomainError::missing_property("uploadOptions"))?;
    let condition = match condition.to_ascii_lowercase().as_str() {
        "tasksuccess" => UploadCondition::TaskSuccess,
        "taskfailure" => UploadCondition::TaskFailure,
        "taskcompletion" => UploadCondition::TaskCompletion,
        _ => return Err(invalid("uploadCondition", condition, "The value must be tasksuccess, taskfailure or taskcompletion")),
    };
    Ok(OutputFile { file_pattern: file_pattern.to_string(), container_url: container_url.to_string(), path, upload_headers, condition })
}

/// Validates an `outputFiles` list (absent: none).
pub fn parse(entries: Option<&[Value]>) -> Result<Vec<OutputFile>, DomainError> {
    entries.unwrap_or_default().iter().map(parse_one).collect()
}

/// The output files of a body already validated (a launch of a stored task).
pub fn of(entries: Option<&Vec<Value>>) -> Vec<OutputFile> {
    entries.map(|e| e.iter().filter_map(|v| parse_one(v).ok()).collect()).unwrap_or_default()
}

/// Whether a pattern has wildcards (`*`, `?`, `[`): without, it names one file and `path` is
/// that file's blob name.
pub fn has_wildcards(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(pattern: &str, condition: &str) -> Value {
        json!({"filePattern": pattern, "destination": {"container": {"containerUrl": "https://a.blob.core.windows.net/c?sig=x", "path": "out"}}, "uploadOptions": {"uploadCondition": condition}})
    }

    #[test]
    fn each_documented_rule() {
        let f = parse_one(&entry("../std*.txt", "TaskCompletion")).unwrap();
        assert_eq!((f.condition, f.path.as_deref()), (UploadCondition::TaskCompletion, Some("out")));
        assert!(has_wildcards(&f.file_pattern) && !has_wildcards("output.txt"));
        let code = |v: Value| parse_one(&v).unwrap_err().code.as_str().to_string();
        assert_eq!(code(entry("", "tasksuccess")), "MissingRequiredProperty");
        assert_eq!(code(entry("x", "sometimes")), "InvalidPropertyValue");
        assert_eq!(code(json!({"filePattern": "x", "uploadOptions": {"uploadCondition": "tasksuccess"}})), "MissingRequiredProperty");
        assert_eq!(code(json!({"filePattern": "x", "destination": {"container": {"containerUrl": "https://h/c"}}})), "MissingRequiredProperty");
        let mut bad = entry("x", "tasksuccess");
        bad["destination"]["container"]["uploadHeaders"] = json!([{"name": "x-ms-blob-content-type", "value": "a\nb"}]);
        assert_eq!(code(bad), "InvalidPropertyValue");
        assert!(UploadCondition::TaskFailure.applies(false) && !UploadCondition::TaskSuccess.applies(false));
    }
}
