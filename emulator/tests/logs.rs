//! `--log-format json`: one JSON object a line on stderr, with a line per request naming the
//! operation, its status, latency and request id (the one the response carries).

use batch_client::{BatchClient, Credentials};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn json_logs_have_a_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_batch-emulator"))
        .args(["--addr", "127.0.0.1:0", "--log-format", "json", "--data-dir"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = stdout.by_ref().map_while(Result::ok).find(|l| l.starts_with("batch-emulator ready:")).expect("readiness line");
    // The rest of stdout is drained, as a reader would.
    std::thread::spawn(move || for _ in stdout {});
    let field = |name: &str| ready.split_whitespace().find_map(|w| w.strip_prefix(&format!("{name}="))).unwrap().to_string();
    let c = BatchClient::new(&field("url"), Credentials::SharedKey { account: field("account"), key: field("key") });
    let missing = c.send_raw(reqwest::Method::GET, "/pools/nope", &[], &[], None).await.unwrap_err();
    let request_id = match &missing {
        batch_client::ApiError::Service { response, .. } => response.headers.get("request-id").unwrap().to_str().unwrap().to_string(),
        other => panic!("{other:?}"),
    };
    c.list_all::<serde_json::Value>("/pools", &[]).await.unwrap();
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM);
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let lines: Vec<serde_json::Value> =
        stderr.lines().map_while(Result::ok).map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    let _ = child.wait();
    let requests: Vec<&serde_json::Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    let get = requests.iter().find(|l| l["request_id"] == request_id.as_str()).unwrap_or_else(|| panic!("no line for {request_id}: {lines:?}"));
    assert_eq!(get["operation"], "get_pool");
    assert_eq!(get["status"], 404);
    assert_eq!(get["error_code"], "PoolNotFound");
    assert!(get["latency_ms"].as_f64().is_some_and(|l| l >= 0.0), "{get}");
    assert!(get["level"] == "INFO" && get["timestamp"].is_string(), "{get}");
    assert!(requests.iter().any(|l| l["operation"] == "list_pools" && l["status"] == 200), "{requests:?}");
}
