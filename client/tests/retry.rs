//! The client retries 503/500/429 with `Retry-After` honoured, and gives up after its limit.

use batch_client::{BatchClient, Credentials, RetryPolicy};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A loopback server answering each connection with the next canned response.
fn server(responses: Vec<String>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for (stream, resp) in listener.incoming().zip(responses.into_iter().cycle()) {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            h.fetch_add(1, Ordering::SeqCst);
            let _ = s.write_all(resp.as_bytes());
        }
    });
    (url, hits)
}

fn response(status: &str, extra: &str, body: &str) -> String {
    format!("HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}
fn busy() -> String {
    response("503 Service Unavailable", "Retry-After: 0\r\n", r#"{"code":"ServerBusy"}"#)
}
fn ok() -> String {
    response("200 OK", "", r#"{"value":[]}"#)
}
fn not_found() -> String {
    response("404 Not Found", "", r#"{"code":"JobNotFound"}"#)
}

#[tokio::test]
async fn a_busy_answer_with_retry_after_is_retried_until_it_succeeds() {
    let (url, hits) = server(vec![busy(), busy(), ok()]);
    let c = BatchClient::new(&url, Credentials::None).with_retry(RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_secs(60),
        max_backoff: Duration::from_secs(60),
    });
    // Retry-After: 0 replaces the 60 s backoff, so this returns at once.
    let r = tokio::time::timeout(Duration::from_secs(10), c.send_raw(reqwest::Method::GET, "/pools", &[], &[], None)).await.unwrap().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_stop_at_the_limit_and_client_errors_are_not_retried() {
    let (url, hits) = server(vec![busy()]);
    let c = BatchClient::new(&url, Credentials::None).with_retry(RetryPolicy { max_retries: 2, ..Default::default() });
    let e = c.send_raw(reqwest::Method::GET, "/pools", &[], &[], None).await.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    let (url, hits) = server(vec![not_found()]);
    let c = BatchClient::new(&url, Credentials::None);
    let e = c.get_job("x").await.unwrap_err();
    assert_eq!(e.code(), Some("JobNotFound"));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}
