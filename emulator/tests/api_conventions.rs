//! The REST conventions every operation shares: api-version, authentication, error bodies,
//! ids, ETags and conditional requests, paging, `$filter`/`$select`, the 501 for operations not
//! built, and no 500 for bad input. Driven in-process over HTTP with the fake process runner.

mod common;

use batch_client::auth::{authorization_header, SignableRequest};
use batch_emulator::api::operations::CATALOGUE;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn missing_api_version_is_missing_required_query_parameter() {
    let emu = emulator(Runner::Fake).await;
    let r = reqwest::get(format!("{}/pools", emu.running.url)).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("request-id").is_some());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "MissingRequiredQueryParameter");
    assert_eq!(body["values"], json!([{"key": "QueryParameterName", "value": "api-version"}]));
    assert!(body["message"]["value"].as_str().unwrap().contains("\nRequestId:"));
}

#[tokio::test]
async fn unknown_api_versions_are_unsupported_newer_ones_served_and_both_sdk_versions_accepted() {
    let emu = emulator(Runner::Fake).await;
    for v in ["2019-01-01", "latest", "2025-13-01", "2030-01-01.x.1", "1.0"] {
        let r = emu.client.send_raw(Method::GET, "/pools", &[("api-version", v)], &[], None).await;
        assert_batch_error(r, 400, "UnsupportedRequestVersion");
    }
    // A version newer than this build knows is served with the newest behaviour: the next SDK
    // release does not break everyone's CI.
    for v in ["2025-06-01", "2024-02-01.19.0", "2024-07-01.20.0", "2099-01-01", "2027-01-01.21.0"] {
        let r = emu.client.send_raw(Method::GET, "/pools", &[("api-version", v)], &[], None).await.unwrap();
        assert_eq!(r.status, 200, "{v}");
    }
}

#[tokio::test]
async fn strict_api_version_refuses_newer_versions() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = batch_emulator::config::EmulatorConfig::for_tests(dir.path().join("data"));
    config.strict_api_version = true;
    let runtimes = batch_emulator::agent::Runtimes {
        processes: std::sync::Arc::new(batch_emulator::agent::process::FakeProcessRunner),
        containers: Err("no engine in this test".into()),
    };
    let emu = batch_emulator::server::start(config, runtimes, std::sync::Arc::new(batch_emulator::clock::SystemClock)).await.unwrap();
    let client = batch_client::BatchClient::new(
        &emu.url,
        batch_client::Credentials::SharedKey { account: batch_emulator::config::DEV_ACCOUNT_NAME.into(), key: batch_emulator::config::DEV_ACCOUNT_KEY.into() },
    );
    assert_batch_error(client.send_raw(Method::GET, "/pools", &[("api-version", "2099-01-01")], &[], None).await, 400, "UnsupportedRequestVersion");
    assert!(client.send_raw(Method::GET, "/pools", &[("api-version", "2025-06-01")], &[], None).await.is_ok());
}

fn signed_at(date: time::OffsetDateTime, key: &str, query: &str) -> (String, String) {
    let date = batch_client::timefmt::format_http(date);
    let headers = vec![("ocp-date".to_string(), date.clone())];
    let req = SignableRequest { method: "GET", headers: &headers, raw_path: "/pools", raw_query: Some(query) };
    (date, authorization_header("devbatchaccount1", key, &req).unwrap())
}

#[tokio::test]
async fn shared_key_is_verified_with_its_date_and_bearer_must_be_a_batch_jwt() {
    let emu = emulator(Runner::Fake).await;
    let url = format!("{}/pools?api-version=2025-06-01", emu.running.url);
    let http = reqwest::Client::new();
    let now = time::OffsetDateTime::now_utc();
    let get = |date: String, auth: String| http.get(&url).header("ocp-date", date).header("authorization", auth).send();
    // No Authorization header.
    let r = http.get(&url).header("ocp-date", batch_client::timefmt::format_http(now)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "AuthenticationFailed");
    // Signed with the wrong key.
    let (date, wrong) = signed_at(now, "d3Jvbmc=", "api-version=2025-06-01");
    assert_eq!(get(date, wrong).await.unwrap().status(), 403);
    // Signed right, now: accepted; the same request signed in 2017: refused (a replay).
    let (date, good) = signed_at(now, batch_emulator::config::DEV_ACCOUNT_KEY, "api-version=2025-06-01");
    assert_eq!(get(date, good).await.unwrap().status(), 200);
    let (date, old) = signed_at(time::macros::datetime!(2017-02-17 00:00 UTC), batch_emulator::config::DEV_ACCOUNT_KEY, "api-version=2025-06-01");
    let r = get(date, old).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("too old"));
    // A stray bearer token is refused; a Batch JWT that has not expired is taken (its signature
    // cannot be checked offline).
    let r = http.get(&url).header("authorization", "Bearer abc.def.ghi").send().await.unwrap();
    assert_eq!(r.status(), 403);
    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let jwt = format!("{}.{}.sig", b64(json!({"alg": "RS256"})), b64(json!({"aud": "https://batch.core.windows.net/", "exp": now.unix_timestamp() + 600})));
    let r = http.get(&url).header("authorization", format!("Bearer {jwt}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// `$filter=&$filter=…`: the signature skips the empty value and the server would read the
/// other; a name given twice is refused.
#[tokio::test]
async fn a_query_parameter_given_twice_is_refused() {
    let emu = emulator(Runner::Fake).await;
    let e = emu.client.send_raw(Method::GET, "/jobs", &[("$filter", ""), ("$filter", "id eq 'x'")], &[], None).await.unwrap_err();
    assert_eq!((e.status().map(|s| s.as_u16()), e.code()), (Some(400), Some("InvalidQueryParameterValue")));
    let e = emu.client.send_raw(Method::GET, "/jobs", &[("maxresults", "1"), ("MaxResults", "2")], &[], None).await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
}

#[tokio::test]
async fn malformed_bodies_get_batch_errors_and_change_nothing() {
    let emu = emulator(Runner::Fake).await;
    let c = &emu.client;
    assert_batch_error(c.send_raw(Method::POST, "/pools", &[], &[], Some(b"{not json".to_vec())).await, 400, "InvalidRequestBody");
    let e = assert_batch_error(c.send_raw(Method::POST, "/pools", &[], &[], Some(br#"{"vmSize":"x"}"#.to_vec())).await, 400, "MissingRequiredProperty");
    let err = e.to_string();
    assert!(err.contains("MissingRequiredProperty"), "{err}");
    let mut spec = pool_spec("ok", 0, 1, "spread");
    spec.id = "bad id".into();
    assert_batch_error(c.create_pool(&spec).await, 400, "InvalidPropertyValue");
    spec.id = "a".repeat(65);
    assert_batch_error(c.create_pool(&spec).await, 400, "InvalidPropertyValue");
    spec.id = "p".into();
    spec.vm_size = String::new();
    assert_batch_error(c.create_pool(&spec).await, 400, "MissingRequiredProperty");
    spec.vm_size = "x".into();
    spec.task_slots_per_node = Some(0);
    assert_batch_error(c.create_pool(&spec).await, 400, "InvalidPropertyValue");
    // Nothing was created by the rejected requests.
    let pools: Vec<Value> = c.list_all("/pools", &[]).await.unwrap();
    assert!(pools.is_empty(), "{pools:?}");
}

#[tokio::test]
async fn ids_are_unique_case_insensitively_and_keep_their_case() {
    let emu = emulator(Runner::Fake).await;
    emu.client.create_pool(&pool_spec("MyPool", 0, 1, "spread")).await.unwrap();
    assert_batch_error(emu.client.create_pool(&pool_spec("MYPOOL", 0, 1, "spread")).await, 409, "PoolExists");
    let p = emu.client.get_pool("mypool").await.unwrap();
    assert_eq!(p.spec.id, "MyPool");
    emu.job("Job-A", "MyPool").await;
    assert_batch_error(emu.client.create_job(&job_spec("job-a", "MyPool")).await, 409, "JobExists");
    emu.client.create_task("job-a", &task_spec("T1", "exit 0")).await.unwrap();
    assert_batch_error(emu.client.create_task("JOB-A", &task_spec("t1", "exit 0")).await, 409, "TaskExists");
    assert_eq!(emu.client.get_task("job-a", "t1").await.unwrap().spec.id, "T1");
}

#[tokio::test]
async fn unknown_paths_and_methods_and_missing_entities() {
    let emu = emulator(Runner::Fake).await;
    let c = &emu.client;
    assert_batch_error(c.send_raw(Method::GET, "/nothing/here", &[], &[], None).await, 400, "InvalidUri");
    assert_batch_error(c.send_raw(Method::PUT, "/pools", &[], &[], None).await, 405, "UnsupportedHttpVerb");
    assert_batch_error(c.get_pool("nope").await, 404, "PoolNotFound");
    assert_batch_error(c.get_job("nope").await, 404, "JobNotFound");
    emu.job("j", "nopool").await;
    assert_batch_error(c.get_task("j", "nope").await, 404, "TaskNotFound");
    assert_batch_error(c.send_raw(Method::GET, "/pools/nope/nodes/n1", &[], &[], None).await, 404, "PoolNotFound");
}

fn sample_path(template: &str) -> String {
    if template.contains("thumbprint=") {
        return template.replace("{thumbprintAlgorithm}", "sha1").replace("{thumbprint}", "abc");
    }
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        out.push_str("x1");
        rest = &rest[rest[i..].find('}').map_or(rest.len(), |j| i + j + 1)..];
    }
    out + rest
}

#[tokio::test]
async fn every_operation_not_built_answers_501_naming_itself() {
    let emu = emulator(Runner::Fake).await;
    let mut seen = 0;
    for info in CATALOGUE.iter().filter(|i| !i.implemented) {
        let method = Method::from_bytes(info.method.as_bytes()).unwrap();
        let r = emu.client.send_raw(method.clone(), &sample_path(info.path), &[], &[], Some(b"{}".to_vec())).await;
        if method == Method::HEAD {
            // A HEAD answer has no body to carry the code.
            assert_eq!(r.unwrap_err().status().map(|s| s.as_u16()), Some(501));
        } else {
            let e = assert_batch_error(r, 501, "NotImplemented");
            let msg = match &e {
                batch_client::ApiError::Service { error: Some(b), .. } => b.message.as_ref().and_then(|m| m.value.clone()).unwrap_or_default(),
                _ => String::new(),
            };
            assert!(msg.contains(info.name), "{} {}: {msg}", info.method, info.path);
        }
        seen += 1;
    }
    // The five certificate operations are what is left.
    assert!(seen >= 5, "{seen}");
}

#[tokio::test]
async fn no_operation_answers_500_to_bad_input() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 1, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "t", "echo hi").await;
    emu.completed("j", "t").await;
    let bodies: [&[u8]; 6] = [b"", b"{", b"[]", b"null", br#"{"id": 5, "value": "x", "commandLine": []}"#, b"\xff\xfe"];
    for info in CATALOGUE.iter().filter(|i| i.implemented) {
        let method = Method::from_bytes(info.method.as_bytes()).unwrap();
        for path in [
            sample_path(info.path),
            info.path.replace("{poolId}", "p").replace("{jobId}", "j").replace("{taskId}", "t").replace("{filePath}", "..%2F..%2Fetc%2Fpasswd"),
        ] {
            for body in bodies {
                let r = emu.client.send_raw(method.clone(), &path, &[("$filter", "((("), ("maxresults", "-3")], &[], Some(body.to_vec())).await;
                if let Err(e) = &r {
                    let status = e.status().map(|s| s.as_u16()).unwrap_or(0);
                    assert!(status > 0 && status < 500, "{} {path} {:?}: {e}", info.method, String::from_utf8_lossy(body));
                }
            }
        }
    }
}

#[tokio::test]
async fn etags_change_on_every_write_and_conditions_are_honoured() {
    let emu = emulator(Runner::Fake).await;
    let created = emu.client.create_job(&job_spec("j", "p")).await.unwrap();
    assert_eq!(created.status, 201);
    let etag = created.header("etag").unwrap().to_string();
    assert!(etag.starts_with("0x8"), "{etag}");
    assert!(created.header("last-modified").unwrap().ends_with(" GMT"));
    assert_eq!(created.header("location"), Some(format!("{}/jobs/j", emu.running.url).as_str()));
    assert_eq!(created.header("dataserviceid"), created.header("location"));
    let job = emu.client.get_job("j").await.unwrap();
    assert_eq!(job.e_tag.as_deref(), Some(etag.as_str()));
    // If-None-Match with the current ETag on a read: 304.
    let r = emu.client.send_raw(Method::GET, "/jobs/j", &[], &[("If-None-Match", &etag)], None).await;
    assert_eq!(r.unwrap_err().status().map(|s| s.as_u16()), Some(304));
    // A write with the current ETag (quoted, as 15.x sends it) succeeds and changes it.
    let quoted = format!("\"{etag}\"");
    let r = emu.client.send_raw(Method::PATCH, "/jobs/j", &[], &[("If-Match", &quoted)], Some(br#"{"priority": 100}"#.to_vec())).await.unwrap();
    assert_eq!(r.status, 200);
    let new_etag = r.header("etag").unwrap().to_string();
    assert_ne!(new_etag, etag);
    // The stale ETag is now refused and the job is unchanged.
    let r = emu.client.send_raw(Method::PATCH, "/jobs/j", &[], &[("If-Match", &etag)], Some(br#"{"priority": 7}"#.to_vec())).await;
    assert_batch_error(r, 412, "ConditionNotMet");
    let job = emu.client.get_job("j").await.unwrap();
    assert_eq!(job.spec.priority, Some(100));
    assert_eq!(job.e_tag.as_deref(), Some(new_etag.as_str()));
    // If-Unmodified-Since in the past fails a delete.
    let r = emu.client.send_raw(Method::DELETE, "/jobs/j", &[], &[("If-Unmodified-Since", "Sun, 01 Jan 2017 00:00:00 GMT")], None).await;
    assert_batch_error(r, 412, "ConditionNotMet");
}

#[tokio::test]
async fn lists_page_with_absolute_next_links_that_carry_the_query() {
    let emu = emulator(Runner::Fake).await;
    for i in 0..25 {
        emu.client.create_job(&job_spec(&format!("job{i:02}"), "p")).await.unwrap();
    }
    let first = emu
        .client
        .send_raw(
            Method::GET,
            "/jobs",
            &[("maxresults", "10"), ("$filter", "startswith(id,'job1') or startswith(id,'job2')"), ("$select", "id,state")],
            &[],
            None,
        )
        .await
        .unwrap();
    let page: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 10);
    assert_eq!(page["value"][0], json!({"id": "job10", "state": "active"}));
    let next = page["odata.nextLink"].as_str().unwrap().to_string();
    assert!(next.starts_with(&emu.running.url), "{next}");
    assert!(next.contains("api-version=2025-06-01") && !next.contains("%24filter=") && next.contains("$filter="), "{next}");
    // Follow every link verbatim, as azure-batch 14.x does.
    let all: Vec<Value> = emu.client.list_all("/jobs", &[("maxresults", "10"), ("$filter", "startswith(id,'job1') or startswith(id,'job2')")]).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 15);
    assert_eq!(ids.first(), Some(&"job10"));
    assert_eq!(ids.last(), Some(&"job24"));
    assert_batch_error(emu.client.send_raw(Method::GET, "/jobs", &[("maxresults", "0")], &[], None).await, 400, "OutOfRangeQueryParameterValue");
    assert_batch_error(emu.client.send_raw(Method::GET, "/jobs", &[("$filter", "state eq")], &[], None).await, 400, "InvalidQueryParameterValue");
}

#[tokio::test]
async fn client_request_id_is_echoed_only_when_asked() {
    let emu = emulator(Runner::Fake).await;
    let r = emu.client.send_raw(Method::GET, "/pools", &[], &[("return-client-request-id", "true")], None).await.unwrap();
    assert!(r.header("client-request-id").is_some());
    assert_eq!(r.header("dataserviceversion"), Some("3.0"));
    let r = emu.client.send_raw(Method::GET, "/pools", &[], &[], None).await.unwrap();
    assert!(r.header("client-request-id").is_none());
    assert_eq!(r.header("content-type"), Some("application/json;odata=minimalmetadata"));
}
