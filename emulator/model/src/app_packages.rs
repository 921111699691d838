//! Application package references (`applicationPackageReferences` on pools, tasks and job
//! managers): which packages a node installs before a task runs. The packages themselves are
//! registered through the management plane, so the emulator reads them from a local store
//! (`--app-packages`); the REST edge checks a pool's references against it (409
//! `InvalidApplicationPackageReferences`), and the node agent installs them.

use crate::error::DomainError;
use serde_json::Value;

/// At most this many references on a pool (batch-rest-api.md: "≤10 per pool").
pub const MAX_PER_POOL: usize = 10;

/// One validated reference: an application and, optionally, a version (none: the
/// application's default version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRef {
    pub application_id: String,
    pub version: Option<String>,
}

/// Validates a list of references (absent: none).
pub fn parse(entries: Option<&[Value]>) -> Result<Vec<PackageRef>, DomainError> {
    let mut out = Vec::new();
    for e in entries.unwrap_or_default() {
        let text = |name: &str| match e.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(DomainError::invalid_property(name, other.to_string(), "The value must be a string")),
        };
        let application_id = text("applicationId")?.filter(|s| !s.is_empty()).ok_or_else(|| DomainError::missing_property("applicationId"))?;
        let version = text("version")?.filter(|s| !s.is_empty());
        out.push(PackageRef { application_id, version });
    }
    Ok(out)
}

/// Validates a pool's references, which are also limited in number. UNCONFIRMED: the error for
/// more than ten (InvalidPropertyValue).
pub fn parse_for_pool(entries: Option<&[Value]>) -> Result<Vec<PackageRef>, DomainError> {
    let refs = parse(entries)?;
    if refs.len() > MAX_PER_POOL {
        return Err(DomainError::invalid_property(
            "applicationPackageReferences",
            refs.len().to_string(),
            "A pool can reference at most 10 application packages",
        ));
    }
    Ok(refs)
}

/// The references of a body already validated.
pub fn of(entries: Option<&Vec<Value>>) -> Vec<PackageRef> {
    parse(entries.map(|v| v.as_slice())).unwrap_or_default()
}
