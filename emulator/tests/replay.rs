//! Fidelity check: every recorded real-service exchange in `fixtures/recordings/` is replayed
//! against the emulator, and the answer is compared with the recording: status code, the
//! headers that matter, and the JSON shape (keys, types, the values of stable enums; ids,
//! times, ETags and messages ignored). The parity figure (checks that match / all checks) is
//! printed; run with `--nocapture` to see it (`.ci/run` does).

mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;
use std::path::PathBuf;

/// One recorded request and its recorded answer.
struct Exchange {
    method: String,
    path_and_query: String,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
    status: u16,
    headers: Vec<(String, String)>,
    response: Option<Value>,
}

fn path_and_query(uri: &str) -> String {
    let after_scheme = uri.split_once("://").map_or(uri, |(_, r)| r);
    after_scheme.find('/').map_or("/".to_string(), |i| after_scheme[i..].to_string())
}

fn header_list(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        match v {
                            Value::Array(a) => a.first().and_then(Value::as_str).unwrap_or("").to_string(),
                            Value::String(s) => s.clone(),
                            _ => String::new(),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn body_json(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) if !s.trim().is_empty() => serde_json::from_str(s).ok(),
        Value::Object(_) => Some(v.clone()),
        _ => None,
    }
}

/// Loads a recording: the azure-sdk test-proxy format (`Entries`), a vcrpy cassette
/// (`interactions`), or a REST spec example (`parameters`/`responses`).
fn load(path: &PathBuf) -> Vec<Exchange> {
    let d: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    if let Some(entries) = d["Entries"].as_array() {
        return entries
            .iter()
            .map(|e| Exchange {
                method: e["RequestMethod"].as_str().unwrap_or("GET").into(),
                path_and_query: path_and_query(e["RequestUri"].as_str().unwrap_or("/")),
                content_type: header_list(&e["RequestHeaders"]).into_iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v),
                body: match &e["RequestBody"] {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone().into_bytes()),
                    other => Some(other.to_string().into_bytes()),
                },
                status: e["StatusCode"].as_u64().unwrap_or(0) as u16,
                headers: header_list(&e["ResponseHeaders"]),
                response: body_json(&e["ResponseBody"]),
            })
            .collect();
    }
    if let Some(interactions) = d["interactions"].as_array() {
        return interactions
            .iter()
            .map(|i| Exchange {
                method: i["request"]["method"].as_str().unwrap_or("GET").into(),
                path_and_query: path_and_query(i["request"]["uri"].as_str().unwrap_or("/")),
                content_type: header_list(&i["request"]["headers"]).into_iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v),
                body: i["request"]["body"].as_str().map(|s| s.as_bytes().to_vec()),
                status: i["response"]["status"]["code"].as_u64().unwrap_or(0) as u16,
                headers: header_list(&i["response"]["headers"]),
                response: body_json(&i["response"]["body"]["string"]),
            })
            .collect();
    }
    // A spec example: the pool body and the documented status.
    let status = d["responses"].as_object().and_then(|r| r.keys().next()).and_then(|k| k.parse().ok()).unwrap_or(0);
    vec![Exchange {
        method: "POST".into(),
        path_and_query: format!("/pools?api-version={}", d["parameters"]["api-version"].as_str().unwrap_or("2025-06-01")),
        content_type: Some("application/json; odata=minimalmetadata".into()),
        body: Some(d["parameters"]["pool"].to_string().into_bytes()),
        status,
        headers: header_list(&d["responses"][status.to_string()]["headers"]),
        response: None,
    }]
}

/// Values of these keys are stable enums or codes and are compared (case-insensitively).
const ENUM_KEYS: [&str; 9] = ["code", "status", "nodeFillType", "workingDirectory", "scope", "elevationLevel", "category", "lang", "result"];
/// Headers whose presence matters to clients.
const HEADERS: [&str; 6] = ["etag", "last-modified", "location", "dataserviceid", "request-id", "dataserviceversion"];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compares shapes; pushes a description of each mismatch; returns the number of checks.
fn compare(path: &str, want: &Value, got: Option<&Value>, misses: &mut Vec<String>) -> usize {
    let Some(got) = got else {
        misses.push(format!("{path}: missing"));
        return 1 + count(want);
    };
    if kind(want) != kind(got) {
        misses.push(format!("{path}: {} instead of {}", kind(got), kind(want)));
        return 1 + count(want);
    }
    let mut checks = 1;
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                if k == "odata.metadata" {
                    checks += 1;
                    let suffix = |v: &Value| v.as_str().and_then(|s| s.split_once('#')).map(|(_, s)| s.to_string());
                    if suffix(wv) != g.get(k).and_then(&suffix) {
                        misses.push(format!("{path}.odata.metadata: #{:?} instead of #{:?}", g.get(k).and_then(&suffix), suffix(wv)));
                    }
                    continue;
                }
                checks += compare(&format!("{path}.{k}"), wv, g.get(k), misses);
                if ENUM_KEYS.contains(&k.as_str()) {
                    if let (Some(a), Some(b)) = (wv.as_str(), g.get(k).and_then(Value::as_str)) {
                        checks += 1;
                        if !a.eq_ignore_ascii_case(b) {
                            misses.push(format!("{path}.{k}: {b:?} instead of {a:?}"));
                        }
                    }
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if let (Some(w0), Some(g0)) = (w.first(), g.first()) {
                checks += compare(&format!("{path}[0]"), w0, Some(g0), misses);
            }
        }
        _ => {}
    }
    checks
}

fn count(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.values().map(|v| 1 + count(v)).sum(),
        Value::Array(a) => a.first().map_or(0, |v| 1 + count(v)),
        _ => 0,
    }
}

#[tokio::test]
async fn recorded_exchanges_replay_with_high_parity() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/recordings");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    let (mut all_checks, mut all_misses, mut status_total, mut status_match) = (0usize, 0usize, 0usize, 0usize);
    let mut not_emulated = 0usize;
    let mut report = String::new();
    for file in &files {
        let emu = emulator(Runner::Local).await;
        let exchanges = load(file);
        // Jobs the recording uses without creating them are created first (on a pool that
        // does not exist, which Batch allows).
        for ex in &exchanges {
            if let Some(rest) = ex.path_and_query.strip_prefix("/jobs/") {
                let id = rest.split(['/', '?']).next().unwrap_or_default();
                let created_in_recording = exchanges.iter().any(|e| {
                    e.method == "POST"
                        && e.path_and_query.starts_with("/jobs?")
                        && e.body.as_ref().is_some_and(|b| String::from_utf8_lossy(b).contains(&format!("\"{id}\"")))
                });
                if !created_in_recording && emu.client.get_job(id).await.is_err() {
                    emu.client.create_job(&job_spec(id, "replay-pool")).await.unwrap();
                }
            }
        }
        let (mut checks, mut misses) = (0usize, Vec::new());
        let mut stopped: Option<String> = None;
        for (n, ex) in exchanges.iter().enumerate() {
            let mut headers: Vec<(&str, &str)> = Vec::new();
            if let Some(ct) = &ex.content_type {
                headers.push(("Content-Type", ct));
            }
            let query: Vec<(String, String)> = ex.path_and_query.split_once('?').map(|(_, q)| batch_client::auth::parse_query(q)).unwrap_or_default();
            let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let path = ex.path_and_query.split('?').next().unwrap_or("/");
            let method = Method::from_bytes(ex.method.as_bytes()).unwrap();
            let raw = match emu.client.send_raw(method, path, &q, &headers, ex.body.clone()).await {
                Ok(r) => r,
                Err(batch_client::ApiError::Service { response, .. }) => *response,
                Err(e) => panic!("{}: {e}", file.display()),
            };
            // An exchange the emulator answers "not implemented" (whole request or one task of a
            // collection) ends the replay of this recording: what follows depends on it.
            let body_text = String::from_utf8_lossy(&raw.body);
            if body_text.contains("\"NotImplemented\"") {
                let what = serde_json::from_slice::<Value>(&raw.body).ok().and_then(|v| {
                    v["message"]["value"]
                        .as_str()
                        .or(v["value"][0]["error"]["message"]["value"].as_str())
                        .map(|m| m.lines().next().unwrap_or_default().to_string())
                });
                stopped = Some(format!("stopped at #{n} {} {path}: not yet emulated ({})", ex.method, what.unwrap_or_default()));
                // A 501 is a miss: the service answered this exchange.
                checks += 1;
                status_total += 1;
                misses.push(format!("#{n} {} {path}: 501 instead of {}", ex.method, ex.status));
                break;
            }
            status_total += 1;
            checks += 1;
            if raw.status.as_u16() == ex.status {
                status_match += 1;
            } else {
                misses.push(format!("#{n} {} {path}: status {} instead of {}", ex.method, raw.status, ex.status));
            }
            for (name, _) in ex.headers.iter().filter(|(k, _)| HEADERS.contains(&k.to_ascii_lowercase().as_str())) {
                checks += 1;
                if raw.header(name).is_none() {
                    misses.push(format!("#{n} {path}: header {name} missing"));
                }
            }
            if let Some(want) = &ex.response {
                let got: Option<Value> = serde_json::from_slice(&raw.body).ok();
                checks += compare(&format!("#{n}"), want, got.as_ref(), &mut misses);
            }
            // Let the node agent do what the service would have done by the next request.
            tokio::time::timeout(std::time::Duration::from_secs(20), emu.state().run_until_idle()).await.ok();
        }
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        report.push_str(&format!("{name:<55} {:>4}/{:<4} {:>6.1}%\n", checks - misses.len(), checks, 100.0 * (checks - misses.len()) as f64 / checks as f64));
        for m in &misses {
            report.push_str(&format!("    {m}\n"));
        }
        if let Some(s) = &stopped {
            report.push_str(&format!("    {s}\n"));
            not_emulated += 1;
        }
        all_checks += checks;
        all_misses += misses.len();
    }
    let parity = 100.0 * (all_checks - all_misses) as f64 / all_checks as f64;
    println!(
        "Replay of recorded Batch exchanges ({} recordings):\n{report}parity: {}/{} checks = {parity:.1}%; status codes {status_match}/{status_total}; {not_emulated} recording(s) stopped at a feature not yet emulated",
        files.len(),
        all_checks - all_misses,
        all_checks
    );
    // Every exchange the emulator answers (all but the 501s that end a recording) has the
    // recorded status code.
    assert_eq!(status_match, status_total - not_emulated, "every recorded status code is reproduced\n{report}");
    assert!(parity >= 90.0, "parity {parity:.1}% is below 90%\n{report}");
}
