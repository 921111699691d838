//! A bounded fuzz of every operation the emulator implements: deep, huge and malformed bodies,
//! query values and path parameters. Every answer is Batch's (a 4xx, or 501 for what is not
//! emulated), never a 5xx, and the emulator keeps serving. Deterministic (a fixed seed) and
//! bounded in count, so it is a test, not a soak.

mod common;

use batch_emulator::api::operations::CATALOGUE;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// xorshift64*: a fixed sequence, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const NAMES: [&str; 16] = [
    "id",
    "commandLine",
    "poolInfo",
    "poolId",
    "vmSize",
    "targetDedicatedNodes",
    "constraints",
    "maxTaskRetryCount",
    "dependsOn",
    "taskIdRanges",
    "containerSettings",
    "imageName",
    "environmentSettings",
    "startTask",
    "schedule",
    "value",
];

fn scalar(r: &mut Rng) -> Value {
    match r.below(9) {
        0 => Value::Null,
        1 => json!(r.below(2) == 0),
        2 => json!(r.next() as i64),
        3 => json!(-(r.below(1000) as i64)),
        4 => json!(f64::from(r.below(1000) as u32) / 7.0),
        5 => json!("x".repeat(r.below(70_000) as usize)),
        6 => json!("\u{1F600}\u{0}'\"\\/%2F..\u{e9}"),
        7 => json!("PT-5M"),
        _ => json!(format!("{}", r.next())),
    }
}

fn value(r: &mut Rng, depth: u32) -> Value {
    if depth == 0 {
        return scalar(r);
    }
    match r.below(6) {
        0 | 1 => scalar(r),
        2 => Value::Array((0..r.below(4)).map(|_| value(r, depth - 1)).collect()),
        _ => {
            let mut m = serde_json::Map::new();
            for _ in 0..r.below(6) {
                let k = (*r.pick(&NAMES)).to_string();
                m.insert(k, value(r, depth - 1));
            }
            Value::Object(m)
        }
    }
}

/// A body: random JSON, deeply nested JSON, a huge array, or bytes that are not JSON at all.
fn body(r: &mut Rng) -> Vec<u8> {
    match r.below(6) {
        0 => format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
        1 => json!({"value": (0..150).map(|i| json!({"id": format!("t{i}"), "commandLine": "x"})).collect::<Vec<_>>()}).to_string().into_bytes(),
        2 => vec![0xff, 0xfe, b'{', 0x00],
        3 => b"{\"id\": \"unterminated".to_vec(),
        _ => value(r, 5).to_string().into_bytes(),
    }
}

fn param(r: &mut Rng) -> String {
    match r.below(6) {
        0 => "p".into(),
        1 => "j".into(),
        2 => "x".repeat(300),
        3 => "%2e%2e%2F%2e%2e".into(),
        4 => "%FF%FE".into(),
        _ => format!("n{}", r.below(10)),
    }
}

#[tokio::test]
async fn no_input_gets_a_5xx_or_stops_the_emulator() {
    let emu = emulator(Runner::Fake).await;
    emu.pool("p", 1, 2, "spread").await;
    emu.job("j", "p").await;
    emu.task("j", "t", "exit 0").await;
    let mut r = Rng(0x5eed_1234_abcd_0001);
    let queries = ["$filter", "$select", "$expand", "maxresults", "timeout", "recursive", "api-version"];
    let mut sent = 0;
    for info in CATALOGUE.iter().filter(|i| i.implemented) {
        for _ in 0..12 {
            let mut path = String::new();
            for seg in info.path.split('/').filter(|s| !s.is_empty()) {
                path.push('/');
                if seg.starts_with('{') {
                    path.push_str(&param(&mut r));
                } else {
                    path.push_str(seg);
                }
            }
            let mut q: Vec<(String, String)> = Vec::new();
            for _ in 0..r.below(3) {
                let name = (*r.pick(&queries)).to_string();
                if q.iter().any(|(n, _)| *n == name) || name == "api-version" {
                    continue;
                }
                let v = match r.below(4) {
                    0 => format!("{}id eq 'x'{}", "(".repeat(r.below(3000) as usize), ")".repeat(r.below(3000) as usize)),
                    1 => "-1".into(),
                    2 => "x".repeat(r.below(9000) as usize),
                    _ => "state eq 'active' and not startswith(id, 'a')".into(),
                };
                q.push((name, v));
            }
            let q: Vec<(&str, &str)> = q.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let method = Method::from_bytes(info.method.as_bytes()).unwrap();
            let b = if matches!(info.method, "POST" | "PUT" | "PATCH") { Some(body(&mut r)) } else { None };
            let headers = [("Content-Type", "application/json; odata=minimalmetadata")];
            let status = match emu.client.send_raw(method, &path, &q, &headers, b).await {
                Ok(resp) => resp.status.as_u16(),
                Err(batch_client::ApiError::Service { status, .. }) => status.as_u16(),
                Err(e) => panic!("{} {path}: no answer: {e}", info.method),
            };
            assert!(status < 500 || status == 501, "{} {path} {q:?}: {status}", info.method);
            sent += 1;
        }
    }
    assert!(sent > 500, "{sent} requests");
    // Still serving (the fuzz may well have deleted the job and pool: those are operations too).
    emu.client.get_json::<Value>("/pools", &[]).await.unwrap();
    emu.client.create_pool(&pool_spec("after", 0, 1, "spread")).await.unwrap();
}
