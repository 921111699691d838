//! The field ledger against the reference models: every writable property of every emulated
//! operation's body (both api-versions, `fixtures/reference/request-bodies.json`) has exactly one
//! row, every row is such a property, every refused property answers 501 on every operation that
//! accepts it, and the README's list of echoed properties is the ledger's.

mod common;

use batch_emulator::api::operations::CATALOGUE;
use batch_model::ledger::{self, Treatment, When, LEDGER};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn reference() -> Value {
    serde_json::from_str(include_str!("../../fixtures/reference/request-bodies.json")).unwrap()
}

/// (property, kind) of a reference model.
fn properties(reference: &Value, model: &str) -> Vec<(String, String)> {
    reference["models"][model]
        .as_array()
        .unwrap_or_else(|| panic!("{model} is not in the reference"))
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["type"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn the_bodies_are_those_of_the_emulated_operations() {
    let reference = reference();
    for (op, model) in reference["operations"].as_object().unwrap() {
        let info = CATALOGUE.iter().find(|i| i.name == op.as_str()).unwrap_or_else(|| panic!("{op} is not catalogued"));
        if info.implemented {
            assert_eq!(ledger::body_model(op), model.as_str(), "{op}: the ledger's body model");
        } else {
            assert_eq!(ledger::body_model(op), None, "{op} answers 501 as a whole");
        }
    }
    for (op, _) in ledger::BODIES {
        assert!(reference["operations"].get(op).is_some(), "{op} takes no body in the reference");
    }
}

#[test]
fn every_property_has_exactly_one_row_and_every_row_a_property() {
    let reference = reference();
    let mut reached = BTreeSet::new();
    let mut missing = Vec::new();
    let mut todo: Vec<&str> = ledger::BODIES.iter().map(|(_, m)| *m).collect();
    let mut seen = BTreeSet::new();
    while let Some(model) = todo.pop() {
        if !seen.insert(model.to_string()) {
            continue;
        }
        for (property, kind) in properties(&reference, model) {
            let Some(row) = ledger::row(model, &property) else {
                missing.push(format!("{model}.{property}: {kind}"));
                continue;
            };
            assert_eq!(row.kind, kind, "{model}.{property}: the ledger's kind differs from the reference");
            reached.insert((row.model, row.property));
            // Below an echoed or refused property, that row covers everything.
            if let (Treatment::Applied(_), Some(child)) = (row.treatment, ledger::model_of(row.kind)) {
                todo.push(child);
            }
        }
    }
    assert!(missing.is_empty(), "properties without a ledger row:\n{}", missing.join("\n"));
    let stale: Vec<String> = LEDGER.iter().filter(|r| !reached.contains(&(r.model, r.property))).map(|r| format!("{}.{}", r.model, r.property)).collect();
    assert!(stale.is_empty(), "ledger rows no request body reaches:\n{}", stale.join("\n"));
}

/// The README's list of echoed properties is generated: run with `UPDATE_README=1` to rewrite it.
#[test]
fn readme_lists_the_echoed_properties() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (start, end) = ("<!-- echoed:start -->\n", "<!-- echoed:end -->");
    let a = readme.find(start).expect("echoed start marker") + start.len();
    let b = readme.find(end).expect("echoed end marker");
    let table = ledger::echoed_markdown();
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(path, format!("{}{}{}", &readme[..a], table, &readme[b..])).unwrap();
    } else {
        assert_eq!(readme[a..b], table, "README echoed list is stale: run `UPDATE_README=1 cargo test -p batch-emulator --test ledger`");
    }
}

/// Every path from a body model to a row, through applied properties: (property names, and
/// whether each step is a list).
fn paths_to(model: &str, target: (&str, &str), depth: usize) -> Vec<Vec<(String, bool)>> {
    let mut out = Vec::new();
    if depth > 8 {
        return out;
    }
    for row in LEDGER.iter().filter(|r| r.model == model) {
        let list = row.kind.starts_with('[');
        if (row.model, row.property) == target {
            out.push(vec![(row.property.to_string(), list)]);
        } else if let (Treatment::Applied(_), Some(child)) = (row.treatment, ledger::model_of(row.kind)) {
            for mut rest in paths_to(child, target, depth + 1) {
                rest.insert(0, (row.property.to_string(), list));
                out.push(rest);
            }
        }
    }
    out
}

/// A value the row refuses.
fn refused_value(kind: &str, when: When) -> Value {
    match when {
        When::True => json!(true),
        When::Holds(s) => json!([s]),
        When::Set if kind.starts_with('[') => json!([{"name": "x"}]),
        When::Set if kind.starts_with('{') => json!({"x": "y"}),
        When::Set if ledger::model_of(kind).is_some() => json!({"name": "x"}),
        When::Set if kind == "duration" => json!("PT5M"),
        When::Set => json!("x"),
    }
}

/// An emulator whose package store has the application `sample` (version `sample`, the
/// default), so package references the ledger sends are ones the account has.
async fn ledger_emulator() -> TestEmulator {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ledger-app-store");
    std::fs::create_dir_all(dir.join("sample")).unwrap();
    std::fs::write(dir.join("sample/sample.zip"), b"").unwrap();
    std::fs::write(dir.join("sample/default"), "sample").unwrap();
    emulator_configured(Runner::Fake, std::sync::Arc::new(batch_emulator::clock::SystemClock), move |c| c.app_packages = Some(dir)).await
}

/// A valid object to create on the way to a property (what the service requires of it).
fn minimal(property: &str) -> Value {
    match property {
        "inboundNATPools" => json!({"name": "web", "protocol": "tcp", "backendPort": 8080, "frontendPortRangeStart": 15000, "frontendPortRangeEnd": 15099}),
        "userAccounts" => json!({"name": "u", "password": "p"}),
        "jobManagerTask" => json!({"id": "jm", "commandLine": "/bin/true"}),
        "jobPreparationTask" | "jobReleaseTask" | "startTask" => json!({"commandLine": "/bin/true"}),
        "virtualMachineConfiguration" => json!({"imageReference": {"publisher": "canonical"}, "nodeAgentSKUId": "batch.node.ubuntu 22.04"}),
        "value" => json!({"id": "t3", "commandLine": "/bin/true"}),
        "containerConfiguration" => json!({"type": "dockerCompatible"}),
        "containerSettings" => json!({"imageName": "img"}),
        "exitCodes" => json!({"code": 1, "exitOptions": {}}),
        "exitCodeRanges" => json!({"start": 1, "end": 2, "exitOptions": {}}),
        "taskIdRanges" => json!({"start": 1, "end": 2}),
        "metadata" => json!({"name": "m", "value": "v"}),
        "environmentSettings" | "commonEnvironmentSettings" => json!({"name": "E"}),
        "containerHostBatchBindMounts" => json!({"source": "Shared"}),
        "jobSpecification" => json!({"poolInfo": {"poolId": "p"}}),
        "poolInfo" => json!({"poolId": "p"}),
        "outputFiles" => {
            json!({"filePattern": "*.txt", "destination": {"container": {"containerUrl": "https://a.blob.core.windows.net/c"}}, "uploadOptions": {"uploadCondition": "tasksuccess"}})
        }
        "uploadHeaders" => json!({"name": "x-ms-meta-a"}),
        "applicationPackageReferences" => json!({"applicationId": "sample"}),
        "autoPoolSpecification" => json!({"poolLifetimeOption": "job", "pool": minimal("pool")}),
        "pool" => json!({"vmSize": "standard_d2s_v3", "virtualMachineConfiguration": minimal("virtualMachineConfiguration")}),
        _ => json!({}),
    }
}

/// `base` with `value` put at `path` (creating valid objects and one-element lists on the way;
/// a release task brings its preparation task).
fn with_value_at(mut base: Value, path: &[(String, bool)], value: Value) -> Value {
    if let Some(i) = path.iter().position(|(n, _)| n == "jobReleaseTask") {
        let mut at = &mut base;
        for (name, _) in &path[..i] {
            at = at.as_object_mut().unwrap().entry(name.clone()).or_insert_with(|| minimal(name));
        }
        at.as_object_mut().unwrap().entry("jobPreparationTask").or_insert_with(|| minimal("jobPreparationTask"));
    }
    let mut at = &mut base;
    for (i, (name, list)) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let obj = at.as_object_mut().unwrap();
        if last {
            obj.insert(name.clone(), value);
            return base;
        }
        let slot = obj.entry(name.clone()).or_insert_with(|| if *list { json!([]) } else { minimal(name) });
        at = if *list {
            let items = slot.as_array_mut().unwrap();
            if items.is_empty() {
                items.push(minimal(name));
            }
            &mut items[0]
        } else {
            slot
        };
    }
    base
}

/// A body each operation accepts as it is.
fn base_body(op: &str) -> Value {
    let job = json!({"id": "j2", "poolInfo": {"poolId": "p"}});
    match op {
        "create_pool" => {
            json!({"id": "p2", "vmSize": "standard_d2s_v3", "virtualMachineConfiguration": {"imageReference": {"publisher": "canonical"}, "nodeAgentSKUId": "batch.node.ubuntu 22.04"}})
        }
        "create_job" => job,
        "replace_job" | "update_job" => json!({"poolInfo": {"poolId": "p"}}),
        "create_job_schedule" => json!({"id": "s2", "schedule": {"doNotRunUntil": "2099-01-01T00:00:00Z"}, "jobSpecification": {"poolInfo": {"poolId": "p"}}}),
        "replace_job_schedule" | "update_job_schedule" => {
            json!({"schedule": {"doNotRunUntil": "2099-01-01T00:00:00Z"}, "jobSpecification": {"poolInfo": {"poolId": "p"}}})
        }
        "create_task" => json!({"id": "t2", "commandLine": "/bin/true"}),
        "create_task_collection" => json!({"value": [{"id": "t3", "commandLine": "/bin/true"}]}),
        "replace_pool_properties" => json!({"applicationPackageReferences": [], "metadata": []}),
        _ => json!({}),
    }
}

#[tokio::test]
async fn every_refused_property_answers_501_on_every_operation_that_accepts_it() {
    let emu = ledger_emulator().await;
    emu.pool("p", 0, 1, "spread").await;
    emu.job("j", "p").await;
    let schedule = json!({"id": "s", "schedule": {"doNotRunUntil": "2099-01-01T00:00:00Z"}, "jobSpecification": {"poolInfo": {"poolId": "p"}}});
    emu.client.send_json(Method::POST, "/jobschedules", &schedule).await.unwrap();
    let mut checked = 0;
    for row in LEDGER.iter() {
        let Treatment::Refused { feature, when } = row.treatment else { continue };
        let mut reached = false;
        for (op, model) in ledger::BODIES {
            for path in paths_to(model, (row.model, row.property), 0) {
                // Moving a job to an auto pool needs it disabled (tests/auto_pools.rs covers it).
                if matches!(*op, "update_job" | "replace_job") && path.iter().any(|(n, _)| n == "autoPoolSpecification") {
                    continue;
                }
                reached = true;
                let info = CATALOGUE.iter().find(|i| i.name == *op).unwrap();
                let url = info.path.replace("{poolId}", "p").replace("{jobId}", "j").replace("{jobScheduleId}", "s").replace("{taskId}", "t");
                let body = with_value_at(base_body(op), &path, refused_value(row.kind, when));
                let method = Method::from_bytes(info.method.as_bytes()).unwrap();
                let where_ = format!("{op} {}.{} at {:?}", row.model, row.property, path.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>());
                let err = emu.client.send_json(method, &url, &body).await.expect_err(&where_);
                assert_eq!(err.status().map(|s| s.as_u16()), Some(501), "{where_}: {err:?}");
                assert_eq!(err.code(), Some("NotImplemented"), "{where_}");
                let message = match &err {
                    batch_client::ApiError::Service { error: Some(e), .. } => e.message.as_ref().and_then(|m| m.value.clone()).unwrap_or_default(),
                    _ => String::new(),
                };
                assert!(message.contains(feature), "{where_}: the message names {feature:?}: {message}");
                checked += 1;
            }
        }
        assert!(reached, "{}.{} is refused but no body reaches it", row.model, row.property);
    }
    assert!(checked > 40, "{checked} refusals checked");
    // Nothing was created or changed by a refused request.
    let pools: Vec<Value> = emu.client.list_all("/pools", &[]).await.unwrap();
    assert_eq!(pools.len(), 1);
    let tasks: Vec<Value> = emu.client.list_all("/jobs/j/tasks", &[]).await.unwrap();
    assert!(tasks.is_empty());
}

#[tokio::test]
async fn values_the_ledger_does_not_refuse_are_accepted() {
    let emu = ledger_emulator().await;
    emu.pool("p", 0, 1, "spread").await;
    emu.job("j", "p").await;
    // Empty lists, false and IPv4 are not refused.
    let body = json!({"id": "t", "commandLine": "/bin/true", "resourceFiles": [], "outputFiles": [], "applicationPackageReferences": []});
    emu.client.send_json(Method::POST, "/jobs/j/tasks", &body).await.unwrap();
    let mut pool = base_body("create_pool");
    pool["enableAutoScale"] = json!(false);
    pool["networkConfiguration"] = json!({"publicIPAddressConfiguration": {"provision": "batchmanaged", "ipFamilies": ["IPv4"]}});
    emu.client.send_json(Method::POST, "/pools", &pool).await.unwrap();
}

/// A value of a reference kind, with every property of a model set (to `depth`).
fn sample(reference: &Value, kind: &str, depth: usize) -> Value {
    if let Some(inner) = kind.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
        return json!([sample(reference, inner, depth)]);
    }
    if let Some(inner) = kind.strip_prefix('{').and_then(|k| k.strip_suffix('}')) {
        return json!({"key": sample(reference, inner, depth)});
    }
    match kind {
        "string" => json!("x"),
        "int" => json!(1),
        "number" => json!(1.5),
        "bool" => json!(true),
        "duration" => json!("PT1M"),
        "datetime" => json!("2030-01-01T00:00:00Z"),
        "object" => json!({"any": "thing"}),
        model => {
            let mut out = serde_json::Map::new();
            if depth > 0 {
                for (name, kind) in properties(reference, model) {
                    out.insert(name, sample(reference, &kind, depth - 1));
                }
            }
            Value::Object(out)
        }
    }
}

/// The paths of every leaf of a JSON value.
fn leaves(v: &Value, at: String, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => m.iter().for_each(|(k, v)| leaves(v, format!("{at}.{k}"), out)),
        Value::Array(a) if !a.is_empty() => a.iter().enumerate().for_each(|(i, v)| leaves(v, format!("{at}[{i}]"), out)),
        _ => {
            out.insert(at);
        }
    }
}

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(body: &Value) -> Value {
    let typed: T = serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("the wire type refuses a full body: {e}\n{body}"));
    serde_json::to_value(typed).unwrap()
}

/// Nothing a client sends is dropped by the wire types: a body with every property of the
/// reference set (so new SDK properties are seen) comes back whole from deserialize + serialize,
/// which is what the emulator stores and echoes.
#[test]
fn the_wire_types_keep_every_property_of_every_body() {
    use batch_client::models::*;
    let reference = reference();
    for (op, model) in ledger::BODIES {
        let body = sample(&reference, model, 6);
        let back = match *op {
            "create_job" => round_trip::<BatchJobCreateOptions>(&body),
            "create_job_schedule" => round_trip::<BatchJobScheduleCreateOptions>(&body),
            "create_pool" => round_trip::<BatchPoolCreateOptions>(&body),
            "create_task" => round_trip::<BatchTaskCreateOptions>(&body),
            "create_task_collection" => round_trip::<BatchTaskGroup>(&body),
            "disable_job" => round_trip::<BatchJobDisableOptions>(&body),
            "disable_node_scheduling" => round_trip::<BatchNodeDisableSchedulingOptions>(&body),
            "reboot_node" => round_trip::<BatchNodeRebootOptions>(&body),
            "reimage_node" => round_trip::<BatchNodeReimageOptions>(&body),
            "remove_nodes" => round_trip::<BatchNodeRemoveOptions>(&body),
            "replace_job" | "update_job" => round_trip::<BatchJobUpdateOptions>(&body),
            "replace_job_schedule" | "update_job_schedule" => round_trip::<BatchJobScheduleUpdateOptions>(&body),
            "replace_pool_properties" => round_trip::<BatchPoolReplaceOptions>(&body),
            "replace_task" => round_trip::<BatchTaskReplaceOptions>(&body),
            "resize_pool" => round_trip::<BatchPoolResizeOptions>(&body),
            "terminate_job" => round_trip::<BatchJobTerminateOptions>(&body),
            "update_pool" => round_trip::<BatchPoolUpdateOptions>(&body),
            // Read as they came: two properties each, taken one by one.
            "upload_node_logs" | "enable_pool_auto_scale" | "evaluate_pool_auto_scale" | "deallocate_node" | "create_node_user" | "replace_node_user" => {
                round_trip::<serde_json::Map<String, Value>>(&body)
            }
            other => panic!("{other}: no wire type named here"),
        };
        let (mut sent, mut kept) = (BTreeSet::new(), BTreeSet::new());
        leaves(&body, String::new(), &mut sent);
        leaves(&back, String::new(), &mut kept);
        let dropped: Vec<&String> = sent.difference(&kept).collect();
        assert!(dropped.is_empty(), "{op}: the wire type drops {dropped:?}");
    }
}

/// Where an operation's body lands: the entity to read back, and how much of the body path to
/// drop (`value[0]` of a task collection).
fn read_back(op: &str) -> Option<(&'static str, usize)> {
    Some(match op {
        "create_pool" => ("/pools/p2", 0),
        "update_pool" | "replace_pool_properties" | "resize_pool" | "remove_nodes" => ("/pools/p", 0),
        "create_job" => ("/jobs/j2", 0),
        "update_job" | "replace_job" => ("/jobs/j", 0),
        "create_job_schedule" => ("/jobschedules/s2", 0),
        "update_job_schedule" | "replace_job_schedule" => ("/jobschedules/s", 0),
        "create_task" => ("/jobs/j/tasks/t2", 0),
        "create_task_collection" => ("/jobs/j/tasks/t3", 1),
        _ => return None,
    })
}

/// Whether `got` holds everything of `sent` (objects may have more keys).
fn holds(got: &Value, sent: &Value) -> bool {
    match (got, sent) {
        (Value::Object(g), Value::Object(s)) => s.iter().all(|(k, v)| g.get(k).is_some_and(|gv| holds(gv, v))),
        (Value::Array(g), Value::Array(s)) => g.len() == s.len() && g.iter().zip(s).all(|(a, b)| holds(a, b)),
        // Times come back with Batch's seven fractional digits, enum values in the service's case.
        (Value::String(g), Value::String(s)) => g.eq_ignore_ascii_case(s) || g.replace(".0000000Z", "Z") == *s,
        _ => got == sent,
    }
}

fn value_at<'a>(mut v: &'a Value, path: &[(String, bool)]) -> Option<&'a Value> {
    for (name, list) in path {
        v = v.get(name)?;
        if *list && path.last().is_none_or(|(last, _)| last != name) {
            v = v.get(0)?;
        }
    }
    Some(v)
}

/// Sends `body` (with `sent` at `path`) through `op` and reads the entity back: `sent` is
/// there (the service's defaults may be filled in beside it), or, for a secret, nowhere, not in
/// the entity nor in its list.
async fn send_and_read_back(emu: &TestEmulator, op: &str, row: &ledger::Row, path: &[(String, bool)], mut body: Value, sent: &Value) {
    let Some((entity, skip)) = read_back(op) else { panic!("{op}: no entity to read {}.{} back from", row.model, row.property) };
    let info = CATALOGUE.iter().find(|i| i.name == op).unwrap();
    let url = info.path.replace("{poolId}", "p").replace("{jobId}", "j").replace("{jobScheduleId}", "s").replace("{taskId}", "t");
    if op == "remove_nodes" {
        // A node to remove.
        emu.client.send_json(Method::POST, "/pools/p/resize", &json!({"targetDedicatedNodes": 1})).await.unwrap();
        emu.idle().await;
        let nodes: Vec<Value> = emu.client.list_all("/pools/p/nodes", &[]).await.unwrap();
        body["nodeList"] = json!([nodes[0]["id"]]);
    }
    let where_ = format!("{op} {}.{} at {:?}", row.model, row.property, path.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>());
    let method = Method::from_bytes(info.method.as_bytes()).unwrap();
    emu.client.send_json(method, &url, &body).await.unwrap_or_else(|e| panic!("{where_}: {e:?}\n{body}"));
    let back: Value = emu.client.get_json(entity, &[]).await.unwrap();
    let got = value_at(&back, &path[skip..]);
    if ledger::SECRETS.contains(&(row.model, row.property)) {
        assert_eq!(got, None, "{where_}: a secret is never returned");
        let list = entity.rsplit_once('/').map(|(l, _)| l).unwrap_or(entity);
        let all: Value = emu.client.get_json(list, &[]).await.unwrap();
        assert!(!all.to_string().contains(&format!("\"{}\":{sent}", row.property)), "{where_}: listed {all}");
    } else {
        assert!(got.is_some_and(|g| holds(g, sent)), "{where_}: sent {sent}, read back {got:?}");
    }
}

/// Echoed means stored and returned: every echoed property, sent through every operation that
/// accepts it, is there when the entity is read back.
#[tokio::test]
async fn every_echoed_property_is_stored_and_returned() {
    let emu = ledger_emulator().await;
    let mut checked = 0;
    for row in LEDGER.iter() {
        let Treatment::Echoed(_) = row.treatment else { continue };
        for (op, model) in ledger::BODIES {
            for path in paths_to(model, (row.model, row.property), 0) {
                // Moving a job to an auto pool needs it disabled (tests/auto_pools.rs covers it).
                if matches!(*op, "update_job" | "replace_job") && path.iter().any(|(n, _)| n == "autoPoolSpecification") {
                    continue;
                }
                // A fresh account state for each case: a pool with no node, a job, a schedule.
                emu.client.send_raw(Method::DELETE, "/pools/p2", &[], &[], None).await.ok();
                for (path, body) in [
                    ("/pools", serde_json::to_value(pool_spec("p", 0, 1, "spread")).unwrap()),
                    ("/jobs", json!({"id": "j", "poolInfo": {"poolId": "p"}})),
                    (
                        "/jobschedules",
                        json!({"id": "s", "schedule": {"doNotRunUntil": "2099-01-01T00:00:00Z"}, "jobSpecification": {"poolInfo": {"poolId": "p"}}}),
                    ),
                ] {
                    let _ = emu.client.send_json(Method::POST, path, &body).await;
                }
                let sent = match row.kind {
                    "duration" => json!("PT7M"),
                    "bool" => json!(true),
                    "string" if row.property == "targetNodeCommunicationMode" => json!("simplified"),
                    "string" => json!("echo-me"),
                    kind if kind.starts_with('{') => json!({"team": "research"}),
                    kind if kind.starts_with('[') => json!([{"name": "echo-me", "priority": 150, "access": "allow", "sourceAddressPrefix": "*"}]),
                    _ => json!({"echo": "me"}),
                };
                let mut body = with_value_at(base_body(op), &path, sent.clone());
                complete_autoscale(&mut body);
                send_and_read_back(&emu, op, row, &path, body, &sent).await;
                checked += 1;
                // Leave the next case a clean slate.
                let _ = emu.client.send_raw(Method::DELETE, "/jobs/j2", &[], &[], None).await;
                let _ = emu.client.send_raw(Method::DELETE, "/jobschedules/s2", &[], &[], None).await;
                let _ = emu.client.send_raw(Method::DELETE, "/jobs/j/tasks/t2", &[], &[], None).await;
                let _ = emu.client.send_raw(Method::DELETE, "/jobs/j/tasks/t3", &[], &[], None).await;
                emu.idle().await;
            }
        }
    }
    assert!(checked > 30, "{checked} echoes checked");
}

/// A pool body (or an auto pool's) with one autoscale property gets the others autoscale needs
/// (enabled, a formula) and loses the fixed targets it must not have; a `poolInfo` with an
/// auto pool loses the `poolId` it must not have beside it.
fn complete_autoscale(v: &mut Value) {
    let Some(map) = v.as_object_mut() else { return };
    if ["enableAutoScale", "autoScaleFormula", "autoScaleEvaluationInterval"].iter().any(|k| map.contains_key(*k)) && map.contains_key("vmSize") {
        map.insert("enableAutoScale".into(), json!(true));
        map.entry("autoScaleFormula").or_insert(json!("$TargetDedicatedNodes = 0"));
        map.remove("targetDedicatedNodes");
        map.remove("targetLowPriorityNodes");
    }
    if map.contains_key("autoPoolSpecification") {
        map.remove("poolId");
    }
    map.values_mut().for_each(complete_autoscale);
}

/// Makes each `resourceFiles` entry valid around the one property under test: a source when it
/// has none (the three are exclusive, one is required), and the `filePath` an `httpUrl` needs.
fn complete_resource_files(v: &mut Value) {
    match v {
        Value::Object(map) => {
            // A multi-instance task needs its coordination command line.
            if let Some(Value::Object(m)) = map.get_mut("multiInstanceSettings") {
                m.entry("coordinationCommandLine").or_insert(json!("/bin/true"));
            }
            for list in ["resourceFiles", "commonResourceFiles"] {
                let Some(Value::Array(entries)) = map.get_mut(list) else { continue };
                {
                    for e in entries.iter_mut().filter_map(Value::as_object_mut) {
                        if !["httpUrl", "storageContainerUrl", "autoStorageContainerName"].iter().any(|k| e.contains_key(*k)) {
                            e.insert("storageContainerUrl".into(), json!("https://account.blob.core.windows.net/c"));
                        }
                        if e.contains_key("httpUrl") {
                            e.entry("filePath").or_insert(json!("f"));
                        }
                    }
                }
            }
            map.values_mut().for_each(complete_resource_files);
        }
        Value::Array(items) => items.iter_mut().for_each(complete_resource_files),
        _ => {}
    }
}

/// A value the service accepts for an applied leaf property (what it means is tested elsewhere).
fn valid_value(property: &str, kind: &str) -> Value {
    match (property, kind) {
        ("onAllTasksComplete", _) => json!("noaction"),
        ("onTaskFailure", _) => json!("performexitoptionsjobaction"),
        ("nodeFillType", _) => json!("pack"),
        ("jobDefaultOrder", _) => json!("creationtime"),
        ("scope", _) => json!("task"),
        ("elevationLevel", _) => json!("admin"),
        ("workingDirectory", _) => json!("containerImageDefault"),
        ("source", _) => json!("Shared"),
        ("protocol", _) => json!("tcp"),
        ("backendPort", _) => json!(8080),
        ("frontendPortRangeStart", _) => json!(15000),
        ("frontendPortRangeEnd", _) => json!(15099),
        ("type", _) => json!("dockerCompatible"),
        ("dependencyAction", _) => json!("satisfy"),
        ("jobAction", _) => json!("none"),
        ("poolId", _) => json!("p"),
        ("access", _) => json!(["job"]),
        ("containerRunOptions", _) => json!("--rm"),
        ("doNotRunUntil", _) => json!("2099-01-01T00:00:00Z"),
        ("doNotRunAfter", _) => json!("2099-06-01T00:00:00Z"),
        ("taskSlotsPerNode" | "maxParallelTasks", _) => json!(2),
        ("requiredSlots", _) => json!(1),
        ("numberOfInstances", _) => json!(2),
        ("fileMode", _) => json!("0644"),
        ("storageContainerUrl", _) => json!("https://account.blob.core.windows.net/c"),
        ("httpUrl", _) => json!("https://account.blob.core.windows.net/c/f"),
        ("containerUrl", _) => json!("https://account.blob.core.windows.net/out"),
        ("uploadCondition", _) => json!("taskcompletion"),
        ("poolLifetimeOption", _) => json!("job"),
        ("start", _) => json!(1),
        ("end", _) => json!(5),
        ("targetDedicatedNodes" | "targetLowPriorityNodes", _) => json!(1),
        (_, "string") => json!("sample"),
        (_, "int") => json!(3),
        (_, "bool") => json!(true),
        (_, "duration") => json!("PT7M"),
        (_, "datetime") => json!("2099-01-01T00:00:00Z"),
        (_, "[string]") => json!(["sample"]),
        (p, k) => panic!("no valid value for {p}: {k}"),
    }
}

/// Properties a body carries that are not part of the entity it changes (the operation's own
/// parameters), so they are not read back.
const NOT_STORED: &[(&str, &str)] =
    &[("BatchNodeRemoveOptions", "nodeList"), ("BatchNodeRemoveOptions", "nodeDeallocationOption"), ("BatchPoolResizeOptions", "nodeDeallocationOption")];

/// Applied properties are kept too (the service returns what it was given): every applied leaf
/// property, sent through every operation that accepts it, is there when the entity is read
/// back. This is what catches a property validated and then never copied.
#[tokio::test]
async fn every_applied_property_is_stored_and_returned() {
    let mut checked = 0;
    for row in LEDGER.iter() {
        let Treatment::Applied(_) = row.treatment else { continue };
        if ledger::model_of(row.kind).is_some() || NOT_STORED.contains(&(row.model, row.property)) {
            continue;
        }
        for (op, model) in ledger::BODIES {
            let Some((_, skip)) = read_back(op) else { continue };
            for path in paths_to(model, (row.model, row.property), 0) {
                // Moving a job to an auto pool needs it disabled (tests/auto_pools.rs covers it).
                if matches!(*op, "update_job" | "replace_job") && path.iter().any(|(n, _)| n == "autoPoolSpecification") {
                    continue;
                }
                // The entity's own id is what names it.
                if path.len() == 1 + skip && row.property == "id" {
                    continue;
                }
                let emu = ledger_emulator().await;
                emu.client.send_json(Method::POST, "/pools", &pool_spec("p", 0, 1, "spread")).await.unwrap();
                let job = json!({"id": "j", "poolInfo": {"poolId": "p"}, "usesTaskDependencies": true, "onTaskFailure": "performexitoptionsjobaction"});
                emu.client.send_json(Method::POST, "/jobs", &job).await.unwrap();
                let schedule = json!({"id": "s", "schedule": {"doNotRunUntil": "2099-01-01T00:00:00Z"}, "jobSpecification": {"poolInfo": {"poolId": "p"}}});
                emu.client.send_json(Method::POST, "/jobschedules", &schedule).await.unwrap();
                let sent = valid_value(row.property, row.kind);
                let mut body = with_value_at(base_body(op), &path, sent.clone());
                complete_resource_files(&mut body);
                complete_autoscale(&mut body);
                if *op == "create_job" || *op == "create_job_schedule" {
                    // Exit conditions and dependencies of a job manager need a job that allows them.
                    let spec = if *op == "create_job" { &mut body } else { &mut body["jobSpecification"] };
                    spec["usesTaskDependencies"] = json!(true);
                    spec["onTaskFailure"] = json!("performexitoptionsjobaction");
                }
                send_and_read_back(&emu, op, row, &path, body, &sent).await;
                checked += 1;
            }
        }
    }
    assert!(checked > 150, "{checked} applied properties checked");
}
