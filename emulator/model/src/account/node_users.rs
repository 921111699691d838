//! Node users (REST "Compute Node - Add User", "Update User", "Delete User"): accounts a
//! person logs in to a node with, kept on the node until it is reimaged or removed.

use super::state::Account;
use crate::error::{BatchErrorCode as Code, DomainError};
use crate::ids::IdKey;
use crate::node::{NodeState, NodeUser};
use serde_json::Value;
use time::OffsetDateTime;

/// "If omitted, the default is 1 day from the current time."
const DEFAULT_EXPIRY: time::Duration = time::Duration::days(1);

fn string(body: &Value, name: &str) -> Result<Option<String>, DomainError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(DomainError::invalid_property(name, v.to_string(), "The value must be a string")),
    }
}

fn expiry(body: &Value, now: OffsetDateTime) -> Result<OffsetDateTime, DomainError> {
    match string(body, "expiryTime")? {
        None => Ok(now + DEFAULT_EXPIRY),
        Some(s) => batch_client::timefmt::parse_body(&s).ok_or_else(|| DomainError::invalid_property("expiryTime", s, "The value must be a date and time")),
    }
}

/// `sshPublicKey`: "compatible with OpenSSH encoding and base 64 encoded": `<type> <base64>
/// [comment]`. UNCONFIRMED: how strictly the service checks it.
fn ssh_key(body: &Value) -> Result<Option<String>, DomainError> {
    use base64::Engine;
    let Some(key) = string(body, "sshPublicKey")? else { return Ok(None) };
    let mut parts = key.split_whitespace();
    let ok = match (parts.next(), parts.next()) {
        (Some(kind), Some(b64)) => {
            ["ssh-", "ecdsa-", "sk-"].iter().any(|p| kind.starts_with(p)) && base64::engine::general_purpose::STANDARD.decode(b64).is_ok()
        }
        _ => false,
    };
    if !ok {
        return Err(DomainError::invalid_property("sshPublicKey", key, "The SSH public key must be in OpenSSH format"));
    }
    Ok(Some(key))
}

impl Account {
    /// The node a user operation addresses: users can be added, changed and deleted only on
    /// an `idle` or `running` node ("You can add a user Account to a Compute Node only when it
    /// is in the idle or running state"). UNCONFIRMED: the code for other states.
    fn node_for_users(&mut self, pool_id: &str, node_id: &str) -> Result<&mut crate::node::Node, DomainError> {
        let pool = self.pools.get_mut(&IdKey::of(pool_id)).ok_or(DomainError::new(Code::PoolNotFound))?;
        let node = pool.nodes.get_mut(node_id).ok_or(DomainError::new(Code::NodeNotFound))?;
        if !matches!(node.state, NodeState::Idle | NodeState::Running) {
            return Err(DomainError::new(Code::OperationNotValidOnNode).with_value("NodeState", node.state.as_str()));
        }
        Ok(node)
    }

    /// Add User: `name` required, `isAdmin` false and `expiryTime` a day from now by default.
    pub fn create_node_user(&mut self, pool_id: &str, node_id: &str, body: Value, now: OffsetDateTime) -> Result<(), DomainError> {
        let name = string(&body, "name")?.filter(|n| !n.is_empty()).ok_or_else(|| DomainError::missing_property("name"))?;
        let is_admin = match body.get("isAdmin") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => return Err(DomainError::invalid_property("isAdmin", v.to_string(), "The value must be a boolean")),
        };
        let user =
            NodeUser { name: name.clone(), is_admin, expiry_time: expiry(&body, now)?, password: string(&body, "password")?, ssh_public_key: ssh_key(&body)? };
        let node = self.node_for_users(pool_id, node_id)?;
        if node.users.keys().any(|k| k.eq_ignore_ascii_case(&name)) {
            return Err(Code::NodeUserExists.into());
        }
        node.users.insert(name, user);
        Ok(())
    }

    /// Update User: password, key and expiry are replaced as a whole (an omitted password or
    /// key is removed; an omitted expiry is a day from now).
    pub fn replace_node_user(&mut self, pool_id: &str, node_id: &str, name: &str, body: Value, now: OffsetDateTime) -> Result<(), DomainError> {
        let (password, key, expiry_time) = (string(&body, "password")?, ssh_key(&body)?, expiry(&body, now)?);
        let node = self.node_for_users(pool_id, node_id)?;
        let user = node.users.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, u)| u).ok_or(DomainError::new(Code::NodeUserNotFound))?;
        user.password = password;
        user.ssh_public_key = key;
        user.expiry_time = expiry_time;
        Ok(())
    }

    /// Delete User.
    pub fn delete_node_user(&mut self, pool_id: &str, node_id: &str, name: &str) -> Result<(), DomainError> {
        let node = self.node_for_users(pool_id, node_id)?;
        let key = node.users.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().ok_or(DomainError::new(Code::NodeUserNotFound))?;
        node.users.remove(&key);
        Ok(())
    }
}
