//! Pool `networkConfiguration.endpointConfiguration.inboundNATPools`: validated as the service
//! validates them (batch-rest-api.md §6, node-and-container-semantics.md §1.7), and turned into
//! each node's `endpointConfiguration.inboundEndpoints`.

use crate::error::DomainError;
use serde_json::Value;

/// One validated inbound NAT pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundNatPool {
    pub name: String,
    pub protocol: String,
    pub backend_port: u16,
    pub frontend_start: u16,
    pub frontend_end: u16,
}

/// One node endpoint: the frontend port on the emulator's loopback address that reaches the
/// node's backend port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEndpoint {
    pub name: String,
    pub protocol: String,
    pub frontend_port: u16,
    pub backend_port: u16,
}

fn invalid(name: &str, value: impl ToString, reason: &str) -> DomainError {
    DomainError::invalid_property(name, value.to_string(), reason)
}

fn valid_name(n: &str) -> bool {
    let ok_edge = |c: char| c.is_ascii_alphanumeric() || c == '_';
    !n.is_empty()
        && n.len() <= 77
        && n.chars().next().is_some_and(ok_edge)
        && n.chars().last().is_some_and(ok_edge)
        && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn port(v: &Value, name: &str) -> Result<i64, DomainError> {
    match v.get(name) {
        None | Some(Value::Null) => Err(DomainError::missing_property(name)),
        Some(p) => p.as_i64().ok_or_else(|| invalid(name, p, "The value must be an integer")),
    }
}

/// Validates `networkConfiguration` (only the endpoint part is interpreted) and returns the
/// NAT pools.
pub fn inbound_nat_pools(network_configuration: Option<&Value>) -> Result<Vec<InboundNatPool>, DomainError> {
    let Some(pools) = network_configuration.and_then(|n| n.get("endpointConfiguration")).and_then(|e| e.get("inboundNATPools")) else {
        return Ok(Vec::new());
    };
    let Some(list) = pools.as_array() else {
        return Err(invalid("inboundNATPools", pools, "The value must be a list"));
    };
    if list.len() > 5 {
        return Err(invalid("inboundNATPools", list.len(), "A pool can have at most 5 inbound NAT pools"));
    }
    let no_public_ip = network_configuration
        .and_then(|n| n.pointer("/publicIPAddressConfiguration/provision"))
        .and_then(Value::as_str)
        .is_some_and(|p| p.eq_ignore_ascii_case("nopublicipaddresses"));
    if no_public_ip && !list.is_empty() {
        return Err(invalid("inboundNATPools", "", "Inbound NAT pools cannot be used with NoPublicIPAddresses"));
    }
    let mut out: Vec<InboundNatPool> = Vec::new();
    let mut nsg_rules = 0usize;
    for p in list {
        let name = p.get("name").and_then(Value::as_str).ok_or_else(|| DomainError::missing_property("name"))?;
        if !valid_name(name) {
            return Err(invalid("name", name, "The name can contain letters, numbers, underscores, periods and hyphens, must start and end with a letter, number or underscore, and cannot exceed 77 characters"));
        }
        let protocol = p.get("protocol").and_then(Value::as_str).ok_or_else(|| DomainError::missing_property("protocol"))?;
        if !protocol.eq_ignore_ascii_case("tcp") && !protocol.eq_ignore_ascii_case("udp") {
            return Err(invalid("protocol", protocol, "The value must be tcp or udp"));
        }
        let backend = port(p, "backendPort")?;
        if !(1..=65535).contains(&backend) || backend == 29876 || backend == 29877 {
            return Err(invalid("backendPort", backend, "The backend port must be between 1 and 65535 and cannot be 29876 or 29877, which are reserved"));
        }
        let start = port(p, "frontendPortRangeStart")?;
        let end = port(p, "frontendPortRangeEnd")?;
        if !(1..=65534).contains(&start) || !(1..=65534).contains(&end) || end < start {
            return Err(invalid("frontendPortRangeStart", start, "The frontend port range must lie within 1 to 65534, start before its end"));
        }
        if start <= 55000 && end >= 50000 {
            return Err(invalid("frontendPortRangeStart", start, "The frontend port range cannot overlap 50000-55000, which is reserved by the Batch service"));
        }
        if end - start + 1 < 40 {
            return Err(invalid("frontendPortRangeEnd", end, "The frontend port range must contain at least 40 ports"));
        }
        if out.iter().any(|o| i64::from(o.backend_port) == backend) {
            return Err(invalid("backendPort", backend, "Backend ports must be unique within a pool"));
        }
        if out.iter().any(|o| start <= i64::from(o.frontend_end) && end >= i64::from(o.frontend_start)) {
            return Err(invalid("frontendPortRangeStart", start, "Frontend port ranges cannot overlap"));
        }
        let rules = p.get("networkSecurityGroupRules").and_then(Value::as_array).cloned().unwrap_or_default();
        nsg_rules += rules.len();
        if nsg_rules > 25 {
            return Err(invalid("networkSecurityGroupRules", nsg_rules, "A pool can have at most 25 network security group rules"));
        }
        let mut priorities = Vec::new();
        for r in &rules {
            let prio = port(r, "priority")?;
            if !(150..=4096).contains(&prio) || priorities.contains(&prio) {
                return Err(invalid("priority", prio, "Rule priorities must be unique and between 150 and 4096"));
            }
            priorities.push(prio);
            let access = r.get("access").and_then(Value::as_str).ok_or_else(|| DomainError::missing_property("access"))?;
            if !access.eq_ignore_ascii_case("allow") && !access.eq_ignore_ascii_case("deny") {
                return Err(invalid("access", access, "The value must be allow or deny"));
            }
            if r.get("sourceAddressPrefix").and_then(Value::as_str).is_none() {
                return Err(DomainError::missing_property("sourceAddressPrefix"));
            }
        }
        out.push(InboundNatPool {
            name: name.into(),
            protocol: protocol.to_ascii_lowercase(),
            backend_port: backend as u16,
            frontend_start: start as u16,
            frontend_end: end as u16,
        });
    }
    Ok(out)
}

/// The endpoints of the node with the given index in its pool (0, 1, …): the node takes the
/// index-th frontend port of each NAT pool. A pool with more nodes than ports gives the extra
/// nodes no endpoint. UNCONFIRMED: how the service assigns frontend ports to nodes.
pub fn node_endpoints(pools: &[InboundNatPool], index: u32) -> Vec<InboundEndpoint> {
    pools
        .iter()
        .filter_map(|p| {
            let port = u32::from(p.frontend_start) + index;
            (port <= u32::from(p.frontend_end)).then(|| InboundEndpoint {
                name: format!("{}.{index}", p.name),
                protocol: p.protocol.clone(),
                frontend_port: port as u16,
                backend_port: p.backend_port,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nat(pools: Value) -> Result<Vec<InboundNatPool>, DomainError> {
        inbound_nat_pools(Some(&json!({"endpointConfiguration": {"inboundNATPools": pools}})))
    }

    #[test]
    fn valid_pools_give_each_node_its_own_frontend_port() {
        let p = nat(json!([{"name": "ssh", "protocol": "tcp", "backendPort": 22, "frontendPortRangeStart": 15000, "frontendPortRangeEnd": 15099}])).unwrap();
        let e = node_endpoints(&p, 3);
        assert_eq!(e, vec![InboundEndpoint { name: "ssh.3".into(), protocol: "tcp".into(), frontend_port: 15003, backend_port: 22 }]);
        assert!(node_endpoints(&p, 100).is_empty());
    }

    #[test]
    fn the_service_rules_are_enforced() {
        let base = json!({"name": "a", "protocol": "tcp", "backendPort": 80, "frontendPortRangeStart": 1000, "frontendPortRangeEnd": 1099});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            nat(json!([b]))
        };
        assert!(with("backendPort", json!(29876)).is_err());
        assert!(with("frontendPortRangeStart", json!(50010)).is_err(), "reserved range");
        assert!(with("frontendPortRangeEnd", json!(1010)).is_err(), "fewer than 40 ports");
        assert!(with("protocol", json!("icmp")).is_err());
        assert!(with("name", json!("-bad")).is_err());
        assert_eq!(with("name", Value::Null).unwrap_err().code, crate::BatchErrorCode::MissingRequiredProperty);
        let mut other = base.clone();
        other["name"] = json!("b");
        assert!(nat(json!([base, other])).is_err(), "same backend port twice");
        other["backendPort"] = json!(81);
        assert!(nat(json!([base, other])).is_err(), "overlapping frontend ranges");
        other["frontendPortRangeStart"] = json!(2000);
        other["frontendPortRangeEnd"] = json!(2099);
        assert_eq!(nat(json!([base, other])).unwrap().len(), 2);
        let six: Vec<Value> = (0..6).map(|i| json!({"name": format!("p{i}"), "protocol": "tcp", "backendPort": 100 + i, "frontendPortRangeStart": 1000 + i * 100, "frontendPortRangeEnd": 1099 + i * 100})).collect();
        assert!(nat(json!(six)).is_err(), "at most 5");
        let mut rules = base.clone();
        rules["networkSecurityGroupRules"] = json!([{"priority": 100, "access": "allow", "sourceAddressPrefix": "*"}]);
        assert!(nat(json!([rules])).is_err(), "priority below 150");
    }
}
