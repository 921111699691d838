//! Node users and remote login: users are added, replaced and deleted with the service's
//! validation and errors, and log in with OpenSSH's own client (`ssh`, from Debian's
//! openssh-client, which `.ci/run` installs) at the node's remote login settings, with their
//! key or password, until they are deleted or expire.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Command;

async fn node_id(emu: &TestEmulator) -> String {
    emu.client.list_nodes("p").await.unwrap()[0].id.clone()
}

async fn add_user(emu: &TestEmulator, node: &str, body: Value) -> Result<batch_client::RawResponse, batch_client::ApiError> {
    emu.client.send_json(Method::POST, &format!("/pools/p/nodes/{node}/users"), &body).await
}

/// Runs `command` over SSH as `user` (with `key`, or with `password` through SSH_ASKPASS).
fn ssh(
    dir: &std::path::Path,
    address: &str,
    port: u16,
    user: &str,
    key: Option<&std::path::Path>,
    password: Option<&str>,
    command: &str,
) -> std::process::Output {
    let mut cmd = Command::new("ssh");
    cmd.args([
        "-T",
        "-p",
        &port.to_string(),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "LogLevel=ERROR",
    ]);
    match (key, password) {
        (Some(k), _) => {
            cmd.args(["-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey", "-o", "IdentitiesOnly=yes", "-i"]).arg(k);
        }
        (None, Some(p)) => {
            let askpass = dir.join("askpass.sh");
            std::fs::write(&askpass, format!("#!/bin/sh\necho '{p}'\n")).unwrap();
            std::fs::set_permissions(&askpass, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            cmd.args(["-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1"])
                .env("SSH_ASKPASS", &askpass)
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env("DISPLAY", ":0");
        }
        _ => {}
    }
    cmd.arg(format!("{user}@{address}")).arg(command).stdin(std::process::Stdio::null());
    cmd.output().expect("run ssh (Debian: openssh-client; .ci/run installs it)")
}

// The SSH client runs as a blocking child process: the emulator needs threads of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_users_log_in_over_ssh_at_the_remote_login_settings() {
    let emu = emulator(Runner::Local).await;
    emu.pool("p", 1, 1, "spread").await;
    let node = node_id(&emu).await;
    let dir = emu.dir.path();
    let key = dir.join("id_ed25519");
    let out = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).output().expect("ssh-keygen (openssh-client)");
    assert!(out.status.success(), "{out:?}");
    let public = std::fs::read_to_string(dir.join("id_ed25519.pub")).unwrap();

    add_user(&emu, &node, json!({"name": "alice", "isAdmin": false, "sshPublicKey": public.trim()})).await.unwrap();
    add_user(&emu, &node, json!({"name": "bob", "password": "S3cret!pw"})).await.unwrap();
    let settings: Value =
        serde_json::from_slice(&emu.client.send_raw(Method::GET, &format!("/pools/p/nodes/{node}/remoteloginsettings"), &[], &[], None).await.unwrap().body)
            .unwrap();
    let address = settings["remoteLoginIPAddress"].as_str().unwrap().to_string();
    let port = settings["remoteLoginPort"].as_u64().unwrap() as u16;
    let ip = emu.client.list_nodes("p").await.unwrap()[0].ip_address.clone().unwrap();
    assert_eq!(address, ip, "the node's SSH endpoint is on the node's address");

    // With the key: a command runs on the node, in its root directory, with its variables.
    let out = ssh(dir, &address, port, "alice", Some(&key), None, "echo \"$USER $AZ_BATCH_NODE_ID\"; pwd; exit 7");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(format!("alice {node}").as_str()), "{out:?}");
    // AZ_BATCH_NODE_ROOT_DIR (`<data>/nodes/<node>/batch/tasks`).
    assert!(lines.next().is_some_and(|l| l.ends_with(&format!("nodes/{node}/batch/tasks"))), "{stdout}");
    // With the password, and a shell reading its input.
    let out = ssh(dir, &address, port, "bob", None, Some("S3cret!pw"), "cat; echo done");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
    // A wrong password, a user without the key, and an unknown user are refused.
    assert_eq!(ssh(dir, &address, port, "bob", None, Some("wrong"), "true").status.code(), Some(255));
    assert_eq!(ssh(dir, &address, port, "bob", Some(&key), None, "true").status.code(), Some(255));
    assert_eq!(ssh(dir, &address, port, "mallory", Some(&key), None, "true").status.code(), Some(255));

    // Replacing a user replaces its credentials: alice loses her key and gets a password.
    let r = emu.client.send_json(Method::PUT, &format!("/pools/p/nodes/{node}/users/alice"), &json!({"password": "n3w-pass"})).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(ssh(dir, &address, port, "alice", Some(&key), None, "true").status.code(), Some(255));
    assert!(ssh(dir, &address, port, "alice", None, Some("n3w-pass"), "true").status.success());
    // An expired user cannot log in.
    emu.client
        .send_json(Method::PUT, &format!("/pools/p/nodes/{node}/users/bob"), &json!({"password": "S3cret!pw", "expiryTime": "2000-01-01T00:00:00Z"}))
        .await
        .unwrap();
    assert_eq!(ssh(dir, &address, port, "bob", None, Some("S3cret!pw"), "true").status.code(), Some(255));
    // A deleted user cannot log in, and is gone.
    let r = emu.client.send_raw(Method::DELETE, &format!("/pools/p/nodes/{node}/users/alice"), &[], &[], None).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(ssh(dir, &address, port, "alice", None, Some("n3w-pass"), "true").status.code(), Some(255));
    assert_batch_error(emu.client.send_raw(Method::DELETE, &format!("/pools/p/nodes/{node}/users/alice"), &[], &[], None).await, 404, "NodeUserNotFound");
}

#[tokio::test]
async fn node_user_requests_get_the_services_answers() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    let node = node_id(&emu).await;
    let r = add_user(&emu, &node, json!({"name": "u", "password": "p"})).await.unwrap();
    assert_eq!(r.status, 201);
    assert!(r.headers.get("dataserviceid").is_some_and(|v| v.to_str().unwrap().ends_with(&format!("/pools/p/nodes/{node}/users/u"))));
    assert_batch_error(add_user(&emu, &node, json!({"name": "U", "password": "p"})).await, 409, "NodeUserExists");
    assert_batch_error(add_user(&emu, &node, json!({"password": "p"})).await, 400, "MissingRequiredProperty");
    assert_batch_error(add_user(&emu, &node, json!({"name": "k", "sshPublicKey": "not a key"})).await, 400, "InvalidPropertyValue");
    assert_batch_error(add_user(&emu, &node, json!({"name": "e", "expiryTime": "soon"})).await, 400, "InvalidPropertyValue");
    assert_batch_error(add_user(&emu, "tvmps_nonexistent_d", json!({"name": "x"})).await, 404, "NodeNotFound");
    let put = emu.client.send_json(Method::PUT, &format!("/pools/p/nodes/{node}/users/nobody"), &json!({"password": "p"})).await;
    assert_batch_error(put, 404, "NodeUserNotFound");
    // Extensions: pools cannot have VM extensions here, so nodes have none.
    let list: Value =
        serde_json::from_slice(&emu.client.send_raw(Method::GET, &format!("/pools/p/nodes/{node}/extensions"), &[], &[], None).await.unwrap().body).unwrap();
    assert_eq!(list["value"], json!([]));
    assert!(emu.client.send_raw(Method::GET, &format!("/pools/p/nodes/{node}/extensions/any"), &[], &[], None).await.is_err());
    // The RDP file is for cloud service pools only.
    assert!(emu.client.send_raw(Method::GET, &format!("/pools/p/nodes/{node}/rdp"), &[("api-version", "2023-05-01.17.0")], &[], None).await.is_err());
    // A reimaged node has a fresh disk: its users are gone.
    emu.client.send_raw(Method::POST, &format!("/pools/p/nodes/{node}/reimage"), &[], &[], None).await.unwrap();
    emu.idle().await;
    let put = emu.client.send_json(Method::PUT, &format!("/pools/p/nodes/{node}/users/u"), &json!({"password": "p"})).await;
    assert_batch_error(put, 404, "NodeUserNotFound");
}

/// With an inbound NAT pool for backend port 22, logins go through its frontend port on
/// 127.0.0.1, as they do through a pool's public IP on the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_go_through_an_inbound_nat_pool_for_port_22() {
    let emu = emulator(Runner::Local).await;
    let mut spec = pool_spec("p", 1, 1, "spread");
    spec.network_configuration = Some(json!({"endpointConfiguration": {"inboundNATPools": [
        {"name": "ssh", "protocol": "tcp", "backendPort": 22, "frontendPortRangeStart": 16700, "frontendPortRangeEnd": 16799}
    ]}}));
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
    let node = node_id(&emu).await;
    add_user(&emu, &node, json!({"name": "carol", "password": "pw-c4rol"})).await.unwrap();
    let settings: Value =
        serde_json::from_slice(&emu.client.send_raw(Method::GET, &format!("/pools/p/nodes/{node}/remoteloginsettings"), &[], &[], None).await.unwrap().body)
            .unwrap();
    assert_eq!(settings, json!({"remoteLoginIPAddress": "127.0.0.1", "remoteLoginPort": 16700}));
    let out = ssh(emu.dir.path(), "127.0.0.1", 16700, "carol", None, Some("pw-c4rol"), "echo $AZ_BATCH_NODE_ID");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), node, "{out:?}");
}
