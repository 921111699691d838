//! Who a task runs as: its `userIdentity` resolved against the pool's `userAccounts`
//! (batch-user-accounts: an auto-user of pool or task scope, admin or not, or a named account
//! the pool creates on each node).
//!
//! Every process task runs as the emulator's own user (the README says so); what the identity
//! changes is what the task sees (`AZ_BATCH_TASK_USER_IDENTITY`, `AZ_BATCH_TASK_USER`) and which
//! user a container task runs as: root for admin, a named account's `uid:gid` when it has a
//! `linuxUserConfiguration`, else the owner of the node directories.

use batch_client::models::UserIdentity;
use serde_json::Value;

/// The Linux user of the default pool non-admin auto-user (observed).
pub const AUTO_USER: &str = "_azbatch";

/// A resolved task identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUser {
    /// `AZ_BATCH_TASK_USER_IDENTITY`: `PoolNonAdmin`, `PoolAdmin`, `TaskNonAdmin`, `TaskAdmin`,
    /// or the named account.
    pub identity: String,
    /// `AZ_BATCH_TASK_USER`: the Linux user name.
    pub name: String,
    /// Elevated (root in a container).
    pub admin: bool,
    /// A named account's `linuxUserConfiguration` uid and gid.
    pub uid_gid: Option<(u32, u32)>,
}

/// Resolves `identity` (the service's default when absent: the pool's non-admin auto-user)
/// against the pool's `userAccounts`. A name that is not one of them cannot run: the message
/// says why.
pub fn resolve(identity: Option<&UserIdentity>, accounts: &[Value]) -> Result<TaskUser, String> {
    if let Some(name) = identity.and_then(|i| i.username.as_deref()) {
        // UNCONFIRMED: account names match exactly (Linux user names are case-sensitive).
        let account = accounts
            .iter()
            .find(|a| a.get("name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| format!("The user {name} is not one of the pool's userAccounts"))?;
        let admin = account.get("elevationLevel").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case("admin"));
        let linux = account.get("linuxUserConfiguration");
        let id = |k: &str| linux.and_then(|l| l.get(k)).and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok());
        let uid_gid = id("uid").zip(id("gid"));
        return Ok(TaskUser { identity: name.to_string(), name: name.to_string(), admin, uid_gid });
    }
    let auto = identity.and_then(|i| i.auto_user.as_ref());
    let task_scope = auto.and_then(|a| a.scope.as_deref()).is_some_and(|s| s.eq_ignore_ascii_case("task"));
    let admin = auto.and_then(|a| a.elevation_level.as_deref()).is_some_and(|e| e.eq_ignore_ascii_case("admin"));
    // UNCONFIRMED: only PoolNonAdmin (user _azbatch) is observed; the other three follow its
    // pattern (node-and-container-semantics.md §4.1), and every auto-user keeps the user name.
    let identity = format!("{}{}", if task_scope { "Task" } else { "Pool" }, if admin { "Admin" } else { "NonAdmin" });
    Ok(TaskUser { identity, name: AUTO_USER.to_string(), admin, uid_gid: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use batch_client::models::AutoUserSpecification;
    use serde_json::json;

    fn auto(scope: &str, elevation: &str) -> UserIdentity {
        UserIdentity { username: None, auto_user: Some(AutoUserSpecification { scope: Some(scope.into()), elevation_level: Some(elevation.into()) }) }
    }

    #[test]
    fn auto_users_and_named_accounts_resolve() {
        assert_eq!(resolve(None, &[]).unwrap().identity, "PoolNonAdmin");
        assert_eq!(
            resolve(Some(&auto("task", "admin")), &[]).unwrap(),
            TaskUser { identity: "TaskAdmin".into(), name: "_azbatch".into(), admin: true, uid_gid: None }
        );
        assert_eq!(resolve(Some(&auto("pool", "admin")), &[]).unwrap().identity, "PoolAdmin");
        let accounts =
            [json!({"name": "runner", "password": "p", "elevationLevel": "admin"}), json!({"name": "u2", "linuxUserConfiguration": {"uid": 1234, "gid": 99}})];
        let named = |n: &str| UserIdentity { username: Some(n.into()), auto_user: None };
        assert_eq!(
            resolve(Some(&named("runner")), &accounts).unwrap(),
            TaskUser { identity: "runner".into(), name: "runner".into(), admin: true, uid_gid: None }
        );
        assert_eq!(resolve(Some(&named("u2")), &accounts).unwrap().uid_gid, Some((1234, 99)));
        assert!(resolve(Some(&named("nobody")), &accounts).unwrap_err().contains("nobody"));
    }
}
