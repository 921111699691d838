//! Resource files: what a task's node downloads into the task's working directory before the
//! command line runs (tasks, job managers, start, preparation and release tasks). Validated
//! when the task is added, as the service documents the `ResourceFile` model:
//!
//! - "The autoStorageContainerName, storageContainerUrl and httpUrl properties are mutually
//!   exclusive and one of them must be specified."
//! - "If the httpUrl property is specified, the filePath is required"; with a container,
//!   `filePath` is optional and names the directory the blobs go to, keeping their paths.
//! - "The specified relative path cannot break out of the Task's working directory (for example
//!   by using '..')."
//! - `blobPrefix` "is valid only when autoStorageContainerName or storageContainerUrl is used".
//! - `fileMode` is "in octal format"; "if this property is not specified for a Linux Compute
//!   Node, then a default value of 0770 is applied to the file".
//!
//! UNCONFIRMED: the error codes of a body breaking these rules (the docs give none): 400
//! `MissingRequiredProperty` for an absent `filePath`, 400 `InvalidPropertyValue` for the rest.

use crate::error::DomainError;
use serde_json::Value;

/// Where a resource file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceSource {
    /// `httpUrl`: one file from any HTTP(S) URL (a blob's SAS URL, a web server).
    Http { url: String },
    /// `storageContainerUrl`: every blob in the container whose name starts with `prefix`.
    Container { url: String, prefix: Option<String> },
    /// `autoStorageContainerName`: the same, from a container of the account's linked storage.
    AutoStorage { container: String, prefix: Option<String> },
}

/// One validated `resourceFiles` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceFile {
    pub source: ResourceSource,
    /// Relative to the working directory: the file (for `httpUrl`) or the directory the
    /// container's blobs go to (none: the working directory itself). Never leaves it.
    pub file_path: Option<String>,
    /// The file mode on the node (default `0o770`).
    pub file_mode: u32,
}

/// The default file mode of a downloaded resource file on Linux.
pub const DEFAULT_FILE_MODE: u32 = 0o770;

fn invalid(property: &str, value: &str, reason: &str) -> DomainError {
    DomainError::invalid_property(property, value, reason)
}

/// True for an absolute `http://` or `https://` URL with a host.
fn is_http_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|r| r.split(['/', '?', '#']).next().is_some_and(|host| !host.is_empty()))
}

/// Checks a `filePath`: relative, and never above the working directory at any step.
pub fn check_file_path(path: &str) -> Result<(), DomainError> {
    let escapes = || invalid("filePath", path, "The specified relative path cannot break out of the Task's working directory");
    if path.starts_with('/') || path.starts_with('\\') || path.contains('\0') {
        return Err(escapes());
    }
    let mut depth: i64 = 0;
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Err(escapes());
                }
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

/// Parses an octal `fileMode` (`"0644"`, `"755"`).
fn file_mode(s: &str) -> Result<u32, DomainError> {
    let digits = s.trim();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(invalid("fileMode", s, "The file mode must be in octal format, for example 0644"));
    }
    u32::from_str_radix(digits, 8).map_err(|_| invalid("fileMode", s, "The file mode must be in octal format, for example 0644"))
}

fn text<'a>(entry: &'a Value, name: &str) -> Result<Option<&'a str>, DomainError> {
    match entry.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(invalid(name, &other.to_string(), "The value must be a string")),
    }
}

/// Validates one `resourceFiles` entry.
pub fn parse_one(entry: &Value) -> Result<ResourceFile, DomainError> {
    if !entry.is_object() {
        return Err(invalid("resourceFiles", &entry.to_string(), "Each resource file must be an object"));
    }
    let (auto, container, http) = (text(entry, "autoStorageContainerName")?, text(entry, "storageContainerUrl")?, text(entry, "httpUrl")?);
    let prefix = text(entry, "blobPrefix")?.map(String::from);
    let file_path = text(entry, "filePath")?.filter(|p| !p.is_empty()).map(String::from);
    let exclusive = "The autoStorageContainerName, storageContainerUrl and httpUrl properties are mutually exclusive and one of them must be specified";
    let source = match (auto, container, http) {
        (Some(name), None, None) => {
            if name.is_empty() {
                return Err(invalid("autoStorageContainerName", name, "The container name must not be empty"));
            }
            ResourceSource::AutoStorage { container: name.to_string(), prefix }
        }
        (None, Some(url), None) => {
            if !is_http_url(url) {
                return Err(invalid("storageContainerUrl", url, "The value must be an absolute http or https URL"));
            }
            ResourceSource::Container { url: url.to_string(), prefix }
        }
        (None, None, Some(url)) => {
            if !is_http_url(url) {
                return Err(invalid("httpUrl", url, "The value must be an absolute http or https URL"));
            }
            if prefix.is_some() {
                return Err(invalid(
                    "blobPrefix",
                    prefix.as_deref().unwrap_or_default(),
                    "The blobPrefix is valid only with autoStorageContainerName or storageContainerUrl",
                ));
            }
            if file_path.is_none() {
                return Err(DomainError::missing_property("filePath"));
            }
            ResourceSource::Http { url: url.to_string() }
        }
        _ => return Err(invalid("resourceFiles", &entry.to_string(), exclusive)),
    };
    if let Some(p) = &file_path {
        check_file_path(p)?;
        // A file downloaded from a URL needs a name: a path that ends at a directory has none.
        if matches!(source, ResourceSource::Http { .. }) && (p.ends_with('/') || p.split('/').next_back().is_some_and(|l| l == "." || l == "..")) {
            return Err(invalid("filePath", p, "With httpUrl, filePath names the file to download to, including its file name"));
        }
    }
    let file_mode = match text(entry, "fileMode")? {
        Some(m) => file_mode(m)?,
        None => DEFAULT_FILE_MODE,
    };
    Ok(ResourceFile { source, file_path, file_mode })
}

/// Validates a `resourceFiles` list (absent: none).
pub fn parse(entries: Option<&[Value]>) -> Result<Vec<ResourceFile>, DomainError> {
    entries.unwrap_or_default().iter().map(parse_one).collect()
}

/// The resource files of a body already validated (a launch of a stored task).
pub fn of(entries: Option<&Vec<Value>>) -> Vec<ResourceFile> {
    entries.map(|e| e.iter().filter_map(|v| parse_one(v).ok()).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(v: Value) -> String {
        parse_one(&v).unwrap_err().code.as_str().to_string()
    }

    #[test]
    fn each_documented_rule() {
        let f = parse_one(&json!({"httpUrl": "https://h/x?sv=1", "filePath": "in/x.txt", "fileMode": "0644"})).unwrap();
        assert_eq!((f.source, f.file_path.as_deref(), f.file_mode), (ResourceSource::Http { url: "https://h/x?sv=1".into() }, Some("in/x.txt"), 0o644));
        let f = parse_one(&json!({"storageContainerUrl": "http://127.0.0.1:10000/a/c?sig=x", "blobPrefix": "p/"})).unwrap();
        assert_eq!(f.file_mode, DEFAULT_FILE_MODE);
        assert!(matches!(f.source, ResourceSource::Container { prefix: Some(ref p), .. } if p == "p/"));
        assert!(matches!(parse_one(&json!({"autoStorageContainerName": "c"})).unwrap().source, ResourceSource::AutoStorage { .. }));
        assert_eq!(code(json!({"httpUrl": "https://h/x"})), "MissingRequiredProperty");
        assert_eq!(code(json!({"filePath": "x"})), "InvalidPropertyValue");
        assert_eq!(code(json!({"httpUrl": "https://h/x", "storageContainerUrl": "https://h/c", "filePath": "x"})), "InvalidPropertyValue");
        assert_eq!(code(json!({"httpUrl": "https://h/x", "filePath": "../x"})), "InvalidPropertyValue");
        assert_eq!(code(json!({"httpUrl": "https://h/x", "filePath": "a/../../x"})), "InvalidPropertyValue");
        assert_eq!(code(json!({"httpUrl": "https://h/x", "filePath": "/etc/x"})), "InvalidPropertyValue");
        assert_eq!(code(json!({"httpUrl": "https://h/x", "filePath": "dir/"})), "InvalidPropertyValue");
        assert_eq!(code(json!({"httpUrl": "https://h/x", "filePath": "x", "blobPrefix": "p"})), "InvalidPropertyValue");
        assert_eq!(code(json!({"httpUrl": "ftp://h/x", "filePath": "x"})), "InvalidPropertyValue");
        assert_eq!(code(json!({"httpUrl": "https://h/x", "filePath": "x", "fileMode": "0999"})), "InvalidPropertyValue");
        assert!(parse_one(&json!({"httpUrl": "https://h/x", "filePath": "a/../b"})).is_ok(), "inside the directory all along");
        assert!(parse_one(&json!({"storageContainerUrl": "https://h/c", "filePath": "a/.."})).is_ok(), "the working directory itself");
    }
}
