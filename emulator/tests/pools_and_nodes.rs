//! Pools and nodes through the REST API: allocation, node states, resize, remove nodes,
//! node counts, delete.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_new_pool_is_resizing_then_steady_with_idle_nodes() {
    let emu = emulator(Runner::Fake).await;
    emu.client.create_pool(&pool_spec("p", 3, 1, "spread")).await.unwrap();
    // The service reports `resizing` right after create (recording).
    let pool = emu.client.get_pool("p").await.unwrap();
    assert_eq!(pool.state.as_deref(), Some("active"));
    assert!(matches!(pool.allocation_state.as_deref(), Some("resizing") | Some("steady")));
    emu.idle().await;
    let pool = emu.client.get_pool("p").await.unwrap();
    assert_eq!(pool.allocation_state.as_deref(), Some("steady"));
    assert_eq!(pool.current_dedicated_nodes, Some(3));
    assert_eq!(pool.spec.resize_timeout.map(|d| d.to_string()).as_deref(), Some("PT15M"));
    assert_eq!(pool.spec.task_scheduling_policy.and_then(|p| p.node_fill_type).as_deref(), Some("Spread"));
    let nodes = emu.client.list_nodes("p").await.unwrap();
    assert_eq!(nodes.len(), 3);
    let mut ips: Vec<_> = nodes.iter().map(|n| n.ip_address.clone().unwrap()).collect();
    ips.dedup();
    assert_eq!(ips.len(), 3, "each node has its own address");
    for n in &nodes {
        assert_eq!(n.state.as_deref(), Some("idle"));
        assert_eq!(n.scheduling_state.as_deref(), Some("enabled"));
        assert!(n.id.starts_with("tvmps_") && n.id.ends_with("_d"), "{}", n.id);
        assert_eq!(n.is_dedicated, Some(true));
        // Batch's node directory layout exists on disk.
        let root = emu.state().layout().root(&n.id);
        for d in ["shared", "startup", "workitems", "applications", "fsmounts"] {
            assert!(root.join(d).is_dir(), "{d}");
        }
    }
    let node: Value = emu.client.get_json(&format!("/pools/p/nodes/{}", nodes[0].id), &[]).await.unwrap();
    assert_eq!(node["affinityId"], format!("TVM:{}", nodes[0].id));
    assert!(node["odata.metadata"].as_str().unwrap().ends_with("#nodes/@Element"));
}

#[tokio::test]
async fn node_counts_add_up_per_state() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("a", 2, 1, "spread").await;
    let mut spec = pool_spec("b", 1, 1, "spread");
    spec.target_low_priority_nodes = Some(2);
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
    let counts: Vec<Value> = emu.client.list_all("/nodecounts", &[]).await.unwrap();
    assert_eq!(counts.len(), 2);
    assert_eq!(counts[0]["poolId"], "a");
    assert_eq!(counts[0]["dedicated"]["idle"], 2);
    assert_eq!(counts[0]["dedicated"]["total"], 2);
    assert_eq!(counts[1]["dedicated"]["total"], 1);
    assert_eq!(counts[1]["lowPriority"]["idle"], 2);
    assert_eq!(counts[1]["lowPriority"]["total"], 2);
    let nodes = emu.client.list_nodes("b").await.unwrap();
    assert_eq!(nodes.iter().filter(|n| n.is_dedicated == Some(false)).count(), 2);
}

#[tokio::test]
async fn resize_grows_and_shrinks_and_refuses_while_resizing() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    let r = emu.client.send_json(Method::POST, "/pools/p/resize", &json!({"targetDedicatedNodes": 3})).await.unwrap();
    assert_eq!(r.status, 202);
    assert!(r.header("dataserviceid").unwrap().ends_with("/pools/p/resize"));
    emu.idle().await;
    assert_eq!(emu.client.list_nodes("p").await.unwrap().len(), 3);
    assert_eq!(emu.client.get_pool("p").await.unwrap().allocation_state.as_deref(), Some("steady"));
    emu.client.send_json(Method::POST, "/pools/p/resize", &json!({"targetDedicatedNodes": 1})).await.unwrap();
    emu.idle().await;
    assert_eq!(emu.client.list_nodes("p").await.unwrap().len(), 1);
    assert_eq!(emu.client.get_pool("p").await.unwrap().spec.target_dedicated_nodes, Some(1));
    assert_batch_error(emu.client.send_json(Method::POST, "/pools/p/resize", &json!({"targetDedicatedNodes": -1})).await, 400, "InvalidPropertyValue");
    assert_batch_error(emu.client.send_json(Method::POST, "/pools/p/resize", &json!({"resizeTimeout": "PT1M"})).await, 400, "InvalidPropertyValue");
    assert_batch_error(emu.client.send_raw(Method::POST, "/pools/p/stopresize", &[], &[], None).await, 409, "OperationInvalidForCurrentState");
}

#[tokio::test]
async fn remove_nodes_takes_the_named_nodes_out() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 3, 1, "spread").await;
    let nodes = emu.client.list_nodes("p").await.unwrap();
    let victim = nodes[1].id.clone();
    let r = emu.client.send_json(Method::POST, "/pools/p/removenodes", &json!({"nodeList": [victim]})).await.unwrap();
    assert_eq!(r.status, 202);
    emu.idle().await;
    let left: Vec<String> = emu.client.list_nodes("p").await.unwrap().into_iter().map(|n| n.id).collect();
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&victim));
    assert!(!emu.state().layout().node_dir(&victim).exists(), "the node's directories are removed");
    assert_eq!(emu.client.get_pool("p").await.unwrap().spec.target_dedicated_nodes, Some(2));
    assert_batch_error(emu.client.send_json(Method::POST, "/pools/p/removenodes", &json!({"nodeList": ["nope"]})).await, 404, "NodeNotFound");
    assert_batch_error(emu.client.send_json(Method::POST, "/pools/p/removenodes", &json!({"nodeList": []})).await, 400, "MissingRequiredProperty");
}

#[tokio::test]
async fn a_deleted_pool_is_deleting_then_gone_and_refuses_writes() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 2, 1, "spread").await;
    let node_ids: Vec<String> = emu.client.list_nodes("p").await.unwrap().into_iter().map(|n| n.id).collect();
    let r = emu.client.delete_pool("p").await.unwrap();
    assert_eq!(r.status, 202);
    // Deleting is set before the 202 is answered (the 15.x poller depends on it), unless the
    // agent already finished.
    match emu.client.get_pool("p").await {
        Ok(p) => {
            assert_eq!(p.state.as_deref(), Some("deleting"));
            let r = emu.client.send_json(Method::PATCH, "/pools/p", &json!({"metadata": []})).await;
            assert!(matches!(r.as_ref().map_err(|e| e.code()), Err(Some("PoolBeingDeleted")) | Err(Some("PoolNotFound"))), "{r:?}");
        }
        Err(e) => assert_eq!(e.code(), Some("PoolNotFound")),
    }
    emu.idle().await;
    assert_batch_error(emu.client.get_pool("p").await, 404, "PoolNotFound");
    for n in node_ids {
        assert!(!emu.state().layout().node_dir(&n).exists());
    }
    // The id is free again.
    emu.pool("p", 1, 1, "spread").await;
}

#[tokio::test]
async fn update_and_replace_pool_properties() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 0, 1, "spread").await;
    let r = emu.client.send_json(Method::PATCH, "/pools/p", &json!({"metadata": [{"name": "a", "value": "1"}], "taskSlotsPerNode": 4})).await.unwrap();
    assert_eq!(r.status, 200);
    let p = emu.client.get_pool("p").await.unwrap();
    assert_eq!(p.spec.task_slots_per_node, Some(4));
    assert_eq!(p.spec.metadata.unwrap()[0].value, "1");
    let r = emu.client.send_json(Method::POST, "/pools/p/updateproperties", &json!({"applicationPackageReferences": [], "metadata": []})).await.unwrap();
    assert_eq!(r.status, 204);
    assert!(emu.client.get_pool("p").await.unwrap().spec.metadata.is_none());
    assert_batch_error(emu.client.send_json(Method::POST, "/pools/p/updateproperties", &json!({"metadata": []})).await, 400, "MissingRequiredProperty");
    // Properties that need an empty pool are refused once it has nodes.
    emu.client.send_json(Method::POST, "/pools/p/resize", &json!({"targetDedicatedNodes": 1})).await.unwrap();
    emu.idle().await;
    assert_batch_error(emu.client.send_json(Method::PATCH, "/pools/p", &json!({"taskSlotsPerNode": 2})).await, 409, "OperationInvalidForCurrentState");
}

#[tokio::test]
async fn features_not_emulated_yet_are_refused_with_501_not_ignored() {
    let emu = emulator(Runner::Fake).await;
    let mut spec = serde_json::to_value(pool_spec("s", 1, 1, "spread")).unwrap();
    spec["mountConfiguration"] = json!([{"azureBlobFileSystemConfiguration": {"accountName": "a", "containerName": "c", "relativeMountPath": "m"}}]);
    assert_batch_error(emu.client.send_json(Method::POST, "/pools", &spec).await, 501, "NotImplemented");
    // (Autoscale and auto pools left this list when they were emulated.)
    let r = emu.client.send_raw(Method::GET, "/pools", &[], &[], None).await.unwrap();
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["value"], json!([]));
}

#[tokio::test]
async fn a_container_pool_without_an_engine_has_unusable_nodes_that_say_why() {
    let emu = emulator(Runner::Fake).await;
    let mut spec = pool_spec("c", 2, 1, "spread");
    spec.virtual_machine_configuration.as_mut().unwrap().container_configuration =
        Some(serde_json::from_value(json!({"type": "dockerCompatible", "containerImageNames": ["busybox"]})).unwrap());
    emu.client.create_pool(&spec).await.unwrap();
    emu.idle().await;
    let nodes: Vec<Value> = emu.client.list_all("/pools/c/nodes", &[]).await.unwrap();
    assert_eq!(nodes.len(), 2);
    for n in &nodes {
        assert_eq!(n["state"], "unusable");
        assert_eq!(n["errors"][0]["code"], "ContainerEngineUnavailable");
    }
    let counts: Vec<Value> = emu.client.list_all("/nodecounts", &[]).await.unwrap();
    assert_eq!(counts[0]["dedicated"]["unusable"], 2);
    // Plain pools keep working meanwhile.
    emu.pool("plain", 1, 1, "spread").await;
    // The container configuration is validated like the service does.
    let mut bad = pool_spec("bad", 0, 1, "spread");
    bad.virtual_machine_configuration.as_mut().unwrap().container_configuration = Some(serde_json::from_value(json!({"containerImageNames": []})).unwrap());
    assert_batch_error(emu.client.create_pool(&bad).await, 400, "MissingRequiredProperty");
    bad.virtual_machine_configuration.as_mut().unwrap().container_configuration = Some(serde_json::from_value(json!({"type": "podman"})).unwrap());
    assert_batch_error(emu.client.create_pool(&bad).await, 400, "InvalidPropertyValue");
}

/// Properties the service returns (REST specification examples, 2025-06-01, and recordings).
#[tokio::test]
async fn read_only_properties_are_filled_as_the_service_fills_them() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("empty", 0, 1, "spread").await;
    let pool: Value = emu.client.get_json("/pools/empty", &[]).await.unwrap();
    assert!(pool.get("currentNodeCommunicationMode").is_none(), "absent while the pool has no node");
    let mut spec = serde_json::to_value(pool_spec("p", 1, 1, "spread")).unwrap();
    spec["virtualMachineConfiguration"]["imageReference"]["version"] = json!("latest");
    emu.client.send_json(Method::POST, "/pools", &spec).await.unwrap();
    let mut pinned = serde_json::to_value(pool_spec("pinned", 1, 1, "spread")).unwrap();
    pinned["virtualMachineConfiguration"]["imageReference"]["version"] = json!("22.04.202401010");
    emu.client.send_json(Method::POST, "/pools", &pinned).await.unwrap();
    emu.idle().await;
    let pool: Value = emu.client.get_json("/pools/p", &[]).await.unwrap();
    assert_eq!(pool["currentNodeCommunicationMode"], "simplified");
    let nodes: Vec<Value> = emu.client.list_all("/pools/p/nodes", &[]).await.unwrap();
    let image = &nodes[0]["virtualMachineInfo"]["imageReference"];
    assert_eq!(image["version"], "latest");
    assert!(image["exactVersion"].as_str().is_some_and(|v| !v.is_empty() && v != "latest"), "{image}");
    let nodes: Vec<Value> = emu.client.list_all("/pools/pinned/nodes", &[]).await.unwrap();
    assert_eq!(nodes[0]["virtualMachineInfo"]["imageReference"]["exactVersion"], "22.04.202401010", "the same as version when not latest");
    let images: Vec<Value> = emu.client.list_all("/supportedimages", &[]).await.unwrap();
    for image in &images {
        let retired = image["nodeAgentSKUId"] == "batch.node.ubuntu 20.04";
        assert_eq!(image.get("batchSupportEndOfLife").is_some(), retired, "{image}");
    }
    assert!(images.iter().any(|i| i["batchSupportEndOfLife"].as_str().is_some_and(|d| d.starts_with("2025-04-23T00:00:00"))), "{images:?}");
}
