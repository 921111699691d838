//! Shared Key signing, byte-for-byte as both official Python SDKs build it
//! (`shared/reference/official-sdk-wire-notes.md`, "Shared Key authentication").
//!
//! The same functions sign requests in [`crate::BatchClient`] and verify them in the emulator,
//! so the two cannot drift apart.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The standard headers, in the order they appear in the string to sign.
const SIGNED_STANDARD_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// What the signature covers, taken from a request as it is (or will be) on the wire.
#[derive(Debug, Clone)]
pub struct SignableRequest<'a> {
    /// HTTP method, any case.
    pub method: &'a str,
    /// Header (name, value) pairs; names in any case.
    pub headers: &'a [(String, String)],
    /// The URL path exactly as sent, still percent-encoded (`/jobs/j/tasks/t/files/wd%2Fx`).
    pub raw_path: &'a str,
    /// The raw query string without `?`, still encoded.
    pub raw_query: Option<&'a str>,
}

/// How query parameter names enter the canonicalized resource. The SDKs keep them as sent;
/// the Batch documentation says lower-case. Servers accept either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryNameCase {
    AsSent,
    Lowercase,
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Percent-decodes a query component, `+` meaning space. Invalid escapes are kept literally.
pub fn decode_query_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits and decodes a raw query string into (name, value) pairs in their original order.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (decode_query_component(n), decode_query_component(v)),
            None => (decode_query_component(p), String::new()),
        })
        .collect()
}

/// How a signer writes an absent `Content-Length` on a request that is not GET or HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbsentLength {
    /// `0`: both Python SDKs on body-less writes (wire notes).
    Zero,
    /// Empty: the JavaScript SDK (`@azure/batch`) on DELETE.
    Empty,
}

/// Builds the string to sign, as the Python SDKs do.
pub fn string_to_sign(account: &str, req: &SignableRequest<'_>, case: QueryNameCase) -> String {
    string_to_sign_with(account, req, case, AbsentLength::Zero)
}

/// Builds the string to sign with the given signer convention.
pub fn string_to_sign_with(account: &str, req: &SignableRequest<'_>, case: QueryNameCase, absent_length: AbsentLength) -> String {
    let method = req.method.to_ascii_uppercase();
    let mut s = String::with_capacity(256);
    s.push_str(&method);
    s.push('\n');
    for name in SIGNED_STANDARD_HEADERS {
        let value = header(req.headers, name).unwrap_or("");
        if name == "content-length" && value.is_empty() && method != "GET" && method != "HEAD" && absent_length == AbsentLength::Zero {
            s.push('0');
        } else {
            s.push_str(value);
        }
        s.push('\n');
    }
    let mut ocp: Vec<(String, String)> =
        req.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string())).filter(|(n, v)| n.starts_with("ocp-") && !v.is_empty()).collect();
    ocp.sort_by(|a, b| a.0.cmp(&b.0));
    for (n, v) in ocp {
        s.push_str(&n);
        s.push(':');
        s.push_str(&v);
        s.push('\n');
    }
    s.push('/');
    s.push_str(account);
    s.push_str(req.raw_path);
    let mut params: Vec<(String, String)> = Vec::new();
    for (n, v) in parse_query(req.raw_query.unwrap_or("")) {
        let n = match case {
            QueryNameCase::AsSent => n,
            QueryNameCase::Lowercase => n.to_ascii_lowercase(),
        };
        // First value only; empty values are skipped (both SDKs).
        if v.is_empty() || params.iter().any(|(pn, _)| *pn == n) {
            continue;
        }
        params.push((n, v));
    }
    params.sort_by(|a, b| a.0.cmp(&b.0));
    for (n, v) in params {
        s.push('\n');
        s.push_str(&n);
        s.push(':');
        s.push_str(&v);
    }
    s
}

/// Errors of [`sign`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the account key is not valid base64")]
    NotBase64,
}

/// `base64(HMAC-SHA256(base64decode(key), string_to_sign))`.
pub fn sign(key_base64: &str, string_to_sign: &str) -> Result<String, KeyError> {
    let key = B64.decode(key_base64.trim()).map_err(|_| KeyError::NotBase64)?;
    Ok(sign_with_key_bytes(&key, string_to_sign))
}

/// Like [`sign`] with an already decoded key.
pub fn sign_with_key_bytes(key: &[u8], string_to_sign: &str) -> String {
    #[expect(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(string_to_sign.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// The full `Authorization` header value.
pub fn authorization_header(account: &str, key_base64: &str, req: &SignableRequest<'_>) -> Result<String, KeyError> {
    let sts = string_to_sign(account, req, QueryNameCase::AsSent);
    Ok(format!("SharedKey {account}:{}", sign(key_base64, &sts)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn sdk15_get_matches_wire_notes_example() {
        let headers = h(&[("ocp-date", "Sun, 22 Nov 2026 13:14:19 GMT"), ("Accept", "application/json")]);
        let req = SignableRequest { method: "GET", headers: &headers, raw_path: "/pools/p1", raw_query: Some("api-version=2025-06-01") };
        assert_eq!(
            string_to_sign("emulator", &req, QueryNameCase::AsSent),
            "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Sun, 22 Nov 2026 13:14:19 GMT\n/emulator/pools/p1\napi-version:2025-06-01"
        );
    }

    #[test]
    fn sdk14_terminate_signs_zero_length_and_charset() {
        let headers = h(&[
            ("Content-Length", "0"),
            ("Content-Type", "application/json; odata=minimalmetadata; charset=utf-8"),
            ("ocp-date", "Sun, 22 Nov 2026 13:14:19 GMT"),
        ]);
        let req = SignableRequest { method: "POST", headers: &headers, raw_path: "/jobs/j14/terminate", raw_query: Some("api-version=2024-02-01.19.0") };
        assert_eq!(
            string_to_sign("emulator", &req, QueryNameCase::AsSent),
            "POST\n\n\n0\n\napplication/json; odata=minimalmetadata; charset=utf-8\n\n\n\n\n\n\nocp-date:Sun, 22 Nov 2026 13:14:19 GMT\n/emulator/jobs/j14/terminate\napi-version:2024-02-01.19.0"
        );
    }

    #[test]
    fn absent_length_on_delete_is_signed_as_zero() {
        let headers = h(&[("ocp-date", "x")]);
        let req = SignableRequest { method: "DELETE", headers: &headers, raw_path: "/jobs/j", raw_query: None };
        assert!(string_to_sign("a", &req, QueryNameCase::AsSent).starts_with("DELETE\n\n\n0\n"));
    }

    #[test]
    fn documented_list_jobs_example() {
        // learn.microsoft.com "Authenticate requests to the Azure Batch service".
        let headers = h(&[("ocp-date", "Tue, 29 Jul 2014 21:49:13 GMT")]);
        let req = SignableRequest { method: "GET", headers: &headers, raw_path: "/jobs", raw_query: Some("api-version=2014-01-01.1.0&timeout=20") };
        assert_eq!(
            string_to_sign("myaccount", &req, QueryNameCase::AsSent),
            "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Tue, 29 Jul 2014 21:49:13 GMT\n/myaccount/jobs\napi-version:2014-01-01.1.0\ntimeout:20"
        );
    }

    #[test]
    fn query_is_decoded_sorted_first_value_only_and_empty_skipped() {
        let headers = h(&[]);
        let req = SignableRequest {
            method: "GET",
            headers: &headers,
            raw_path: "/jobs/j/tasks/t/files/wd%2Fout.txt",
            raw_query: Some("timeOut=30&%24filter=state%20eq%20%27active%27&api-version=2025-06-01&x=&timeOut=5&$select=id+state"),
        };
        let s = string_to_sign("acct", &req, QueryNameCase::AsSent);
        assert!(s.ends_with("/acct/jobs/j/tasks/t/files/wd%2Fout.txt\n$filter:state eq 'active'\n$select:id state\napi-version:2025-06-01\ntimeOut:30"), "{s}");
        let lower = string_to_sign("acct", &req, QueryNameCase::Lowercase);
        assert!(lower.ends_with("timeout:30"));
    }

    #[test]
    fn signature_is_hmac_sha256_base64() {
        // HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog")
        let sig = sign(&B64.encode("key"), "The quick brown fox jumps over the lazy dog").unwrap();
        assert_eq!(sig, B64.encode(hex("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")));
        assert_eq!(sign("not base64!", "x"), Err(KeyError::NotBase64));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
