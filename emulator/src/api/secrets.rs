//! Secrets a client sends are kept (the node agent logs in to registries with them) but never
//! returned on a read: registry passwords, user account passwords and SSH private keys. No
//! recording of the real service shows one coming back. The field ledger lists the same
//! properties ([`batch_model::ledger::SECRETS`]); its tests check that none is returned.

use batch_client::models::{BatchJobCreateOptions, BatchPoolCreateOptions, BatchTaskCreateOptions, ContainerSettings, StartTask};
use serde_json::Value;

fn without(v: &mut Value, key: &str) {
    if let Some(o) = v.as_object_mut() {
        o.remove(key);
    }
}

/// A container registry reference without its password.
fn registry(v: &mut Value) {
    without(v, "password");
}

fn container_settings(cs: Option<&mut ContainerSettings>) {
    if let Some(r) = cs.and_then(|cs| cs.registry.as_mut()) {
        registry(r);
    }
}

/// A start task as returned (pool and node reads).
pub fn start_task(st: Option<&mut StartTask>) {
    container_settings(st.and_then(|s| s.container_settings.as_mut()));
}

/// A pool specification as returned.
pub fn pool(spec: &mut BatchPoolCreateOptions) {
    if let Some(cc) = spec.virtual_machine_configuration.as_mut().and_then(|v| v.container_configuration.as_mut()) {
        cc.container_registries.iter_mut().flatten().for_each(registry);
    }
    for account in spec.user_accounts.iter_mut().flatten() {
        without(account, "password");
        if let Some(linux) = account.get_mut("linuxUserConfiguration") {
            without(linux, "sshPrivateKey");
        }
    }
    start_task(spec.start_task.as_mut());
}

/// A job (or a schedule's job specification) as returned: its auto pool's specification too.
pub fn job(spec: &mut BatchJobCreateOptions) {
    if let Some(pool_body) = spec.pool_info.auto_pool_specification.as_mut().and_then(|a| a.get_mut("pool")) {
        let mut with_id = pool_body.clone();
        with_id["id"] = Value::String(String::new());
        if let Ok(mut p) = serde_json::from_value::<BatchPoolCreateOptions>(with_id) {
            pool(&mut p);
            if let Ok(mut back) = serde_json::to_value(p) {
                without(&mut back, "id");
                *pool_body = back;
            }
        }
    }
    container_settings(spec.job_manager_task.as_mut().and_then(|t| t.container_settings.as_deref_mut()));
    container_settings(spec.job_preparation_task.as_mut().and_then(|t| t.container_settings.as_mut()));
    container_settings(spec.job_release_task.as_mut().and_then(|t| t.container_settings.as_mut()));
}

/// A task as returned.
pub fn task(spec: &mut BatchTaskCreateOptions) {
    container_settings(spec.container_settings.as_deref_mut());
}
