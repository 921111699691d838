//! Request authentication. What is checked:
//! * Shared Key: the signature, exactly as the SDKs compute it (query names as sent or
//!   lower-cased; an absent `Content-Length` signed as `0` or empty, as the Python and the
//!   JavaScript SDKs differ), compared in constant time; and the request's date (`ocp-date` or
//!   `Date`), which must be within 15 minutes of now, so a captured request cannot be replayed
//!   later.
//! * The task tokens the emulator issues (`AZ_BATCH_AUTHENTICATION_TOKEN`): signed with the
//!   account key, verified, and limited to their job.
//! * Other bearer tokens: a JWT whose audience is Batch's and that has not expired. Its
//!   signature cannot be checked offline (there is no Entra ID to fetch keys from), so this
//!   keeps out a stray `Bearer x`, not a forger; `--auth sharedkey` refuses bearer tokens.
//! * `--loose`: nothing at all.

use batch_client::auth::{sign_with_key_bytes, string_to_sign_with, AbsentLength, QueryNameCase, SignableRequest};
use batch_model::{BatchErrorCode, DomainError};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// How far a Shared Key request's date may be from now.
/// UNCONFIRMED: Batch's window is not documented; Azure Storage uses 15 minutes.
pub const DATE_WINDOW: time::Duration = time::Duration::minutes(15);

/// The audiences a Batch bearer token carries.
const BATCH_AUDIENCES: [&str; 2] = ["https://batch.core.windows.net/", "https://batch.core.windows.net"];

/// Which credentials the emulator takes (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuthMode {
    /// Shared Key, or a bearer token (JWT with Batch's audience, unexpired).
    #[default]
    SharedkeyOrBearer,
    /// Shared Key only (and the emulator's own task tokens).
    Sharedkey,
}

/// What a request's `Authorization` header proved.
#[derive(Debug, PartialEq, Eq)]
pub enum Authenticated {
    SharedKey,
    Bearer,
    /// A task's `AZ_BATCH_AUTHENTICATION_TOKEN`: the operations on this job only.
    TaskToken {
        job_id: String,
    },
    Loose,
}

/// One request as authentication sees it.
pub struct Request<'a> {
    pub method: &'a str,
    pub headers: &'a [(String, String)],
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
}

/// Verifies a request. `key` is the decoded account key; `now` is the real time (not the
/// emulator's clock: clients sign with theirs).
pub fn authenticate(account: &str, key: &[u8], loose: bool, mode: AuthMode, req: &Request<'_>, now: OffsetDateTime) -> Result<Authenticated, DomainError> {
    if loose {
        return Ok(Authenticated::Loose);
    }
    let failed = |detail: &str| DomainError::new(BatchErrorCode::AuthenticationFailed).with_value("AuthenticationErrorDetail", detail);
    let Some(auth) = req.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.trim()) else {
        return Err(failed("The request is not authenticated: no Authorization header."));
    };
    if let Some(token) = auth.strip_prefix("Bearer ") {
        let token = token.trim();
        if token.is_empty() {
            return Err(DomainError::new(BatchErrorCode::InvalidAuthenticationInfo));
        }
        return match crate::task_token::classify(key, token) {
            crate::task_token::Bearer::Job(job_id) => Ok(Authenticated::TaskToken { job_id }),
            crate::task_token::Bearer::Forged => Err(failed("The task authentication token was not issued for this account.")),
            crate::task_token::Bearer::Other if mode == AuthMode::Sharedkey => {
                Err(failed("This emulator takes Shared Key only (--auth sharedkey): bearer tokens are refused."))
            }
            crate::task_token::Bearer::Other => check_jwt(token, now).map(|()| Authenticated::Bearer).map_err(|why| failed(&why)),
        };
    }
    let Some(cred) = auth.strip_prefix("SharedKey ") else {
        return Err(DomainError::new(BatchErrorCode::InvalidAuthenticationInfo));
    };
    let Some((name, signature)) = cred.trim().split_once(':') else {
        return Err(DomainError::new(BatchErrorCode::InvalidAuthenticationInfo));
    };
    if !name.eq_ignore_ascii_case(account) {
        return Err(failed(&format!("The account name {name} is not served by this emulator (it serves {account}).")));
    }
    check_date(req.headers, now).map_err(|why| failed(&why))?;
    let signable = SignableRequest { method: req.method, headers: req.headers, raw_path: req.raw_path, raw_query: req.raw_query };
    // The SDKs sign query names as sent; the documentation says lower-case: accept either.
    // An absent Content-Length is "0" to the Python SDKs and empty to the JavaScript SDK.
    for case in [QueryNameCase::AsSent, QueryNameCase::Lowercase] {
        for absent in [AbsentLength::Zero, AbsentLength::Empty] {
            let expected = sign_with_key_bytes(key, &string_to_sign_with(name, &signable, case, absent));
            if bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
                return Ok(Authenticated::SharedKey);
            }
        }
    }
    let sts = string_to_sign_with(name, &signable, QueryNameCase::AsSent, AbsentLength::Zero);
    tracing::debug!(string_to_sign = %sts.escape_debug(), "Shared Key signature mismatch");
    Err(failed(&format!(
        "The MAC signature found in the HTTP request '{signature}' is not the same as any computed signature. Server used following string to sign: '{}'.",
        sts.escape_debug()
    )))
}

/// The request's date (`ocp-date`, else `Date`) must be within [`DATE_WINDOW`] of now.
fn check_date(headers: &[(String, String)], now: OffsetDateTime) -> Result<(), String> {
    let header = |n: &str| headers.iter().find(|(h, _)| h.eq_ignore_ascii_case(n)).map(|(_, v)| v.trim());
    let Some(raw) = header("ocp-date").or_else(|| header("date")) else {
        return Err("The request has no date: Shared Key needs an ocp-date or Date header.".into());
    };
    let Some(date) = batch_client::timefmt::parse_http(raw) else {
        return Err(format!("The request date {raw:?} is not an HTTP date."));
    };
    if (now - date).abs() > DATE_WINDOW {
        return Err(format!("Request date header too old or too far in the future: {raw} (now {}).", batch_client::timefmt::format_http(now)));
    }
    Ok(())
}

/// A bearer token must be a JWT for Batch that has not expired (its signature cannot be
/// checked offline).
fn check_jwt(token: &str, now: OffsetDateTime) -> Result<(), String> {
    use base64::Engine;
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("The bearer token is not a JWT.".into());
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| "The bearer token's payload is not base64url.".to_string())?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| "The bearer token's payload is not JSON.".to_string())?;
    let audience_ok = match &claims["aud"] {
        serde_json::Value::String(a) => BATCH_AUDIENCES.contains(&a.as_str()),
        serde_json::Value::Array(a) => a.iter().any(|x| x.as_str().is_some_and(|x| BATCH_AUDIENCES.contains(&x))),
        _ => false,
    };
    if !audience_ok {
        return Err(format!("The bearer token is not for Batch (aud must be {}).", BATCH_AUDIENCES[0]));
    }
    match claims["exp"].as_i64() {
        Some(exp) if exp > now.unix_timestamp() => Ok(()),
        Some(_) => Err("The bearer token has expired.".into()),
        None => Err("The bearer token has no exp.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use batch_client::auth::{authorization_header, string_to_sign};
    use time::macros::datetime;

    const KEY: &str = "a2V5";
    const NOW: OffsetDateTime = datetime!(2026-11-22 13:14:19 UTC);

    fn headers(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut h = vec![("ocp-date".to_string(), "Sun, 22 Nov 2026 13:14:19 GMT".to_string())];
        h.extend(extra.iter().map(|(a, b)| (a.to_string(), b.to_string())));
        h
    }

    fn signed(method: &str, path: &str, query: &str) -> Vec<(String, String)> {
        let mut h = headers(&[]);
        let req = SignableRequest { method, headers: &h, raw_path: path, raw_query: Some(query) };
        let a = authorization_header("acct", KEY, &req).unwrap();
        h.push(("Authorization".into(), a));
        h
    }

    fn auth(key: &[u8], method: &str, h: &[(String, String)], path: &str, query: Option<&str>) -> Result<Authenticated, DomainError> {
        authenticate("acct", key, false, AuthMode::default(), &Request { method, headers: h, raw_path: path, raw_query: query }, NOW)
    }

    #[test]
    fn a_correct_signature_is_accepted_and_a_tampered_one_refused() {
        let h = signed("GET", "/jobs/j/tasks/t/files/wd%2Fout.txt", "api-version=2025-06-01");
        assert_eq!(auth(b"key", "GET", &h, "/jobs/j/tasks/t/files/wd%2Fout.txt", Some("api-version=2025-06-01")), Ok(Authenticated::SharedKey));
        // Decoding the path before verifying would break every file read: the signature covers the raw path.
        let e = auth(b"key", "GET", &h, "/jobs/j/tasks/t/files/wd/out.txt", Some("api-version=2025-06-01")).unwrap_err();
        assert_eq!(e.code, BatchErrorCode::AuthenticationFailed);
        let e = auth(b"other", "GET", &h, "/jobs/j/tasks/t/files/wd%2Fout.txt", Some("api-version=2025-06-01")).unwrap_err();
        assert_eq!(e.code, BatchErrorCode::AuthenticationFailed);
    }

    #[test]
    fn lower_case_query_names_are_accepted_too() {
        let mut h = headers(&[]);
        let req = SignableRequest { method: "GET", headers: &h, raw_path: "/jobs", raw_query: Some("api-version=1&timeOut=30") };
        let sig = sign_with_key_bytes(b"key", &string_to_sign_with("acct", &req, QueryNameCase::Lowercase, AbsentLength::Zero));
        h.push(("Authorization".into(), format!("SharedKey acct:{sig}")));
        assert!(auth(b"key", "GET", &h, "/jobs", Some("api-version=1&timeOut=30")).is_ok());
    }

    /// The JavaScript SDK (`@azure/batch`, its Shared Key credential policy) signs a DELETE
    /// without a body with an empty Content-Length line; the Python SDKs write `0`.
    #[test]
    fn a_body_less_delete_is_accepted_as_either_sdk_signs_it() {
        for absent in [AbsentLength::Empty, AbsentLength::Zero] {
            let mut h = headers(&[]);
            let req = SignableRequest { method: "DELETE", headers: &h, raw_path: "/jobs/j", raw_query: Some("api-version=2025-06-01") };
            let sig = sign_with_key_bytes(b"key", &string_to_sign_with("acct", &req, QueryNameCase::AsSent, absent));
            h.push(("Authorization".into(), format!("SharedKey acct:{sig}")));
            assert_eq!(auth(b"key", "DELETE", &h, "/jobs/j", Some("api-version=2025-06-01")), Ok(Authenticated::SharedKey), "{absent:?}");
        }
        // The two forms differ (this test would prove nothing otherwise).
        let h = headers(&[]);
        let req = SignableRequest { method: "DELETE", headers: &h, raw_path: "/jobs/j", raw_query: None };
        assert_ne!(string_to_sign("acct", &req, QueryNameCase::AsSent), string_to_sign_with("acct", &req, QueryNameCase::AsSent, AbsentLength::Empty));
    }

    #[test]
    fn a_request_signed_long_ago_or_without_a_date_is_refused() {
        let h = signed("GET", "/jobs", "api-version=2025-06-01");
        let later = |d: time::Duration| {
            authenticate(
                "acct",
                b"key",
                false,
                AuthMode::default(),
                &Request { method: "GET", headers: &h, raw_path: "/jobs", raw_query: Some("api-version=2025-06-01") },
                NOW + d,
            )
        };
        assert!(later(time::Duration::minutes(14)).is_ok());
        assert!(later(-time::Duration::minutes(14)).is_ok());
        let e = later(time::Duration::minutes(16)).unwrap_err();
        assert_eq!(e.code, BatchErrorCode::AuthenticationFailed);
        assert!(e.values.iter().any(|(_, v)| v.contains("too old")), "{e:?}");
        assert!(later(-time::Duration::days(3000)).is_err(), "a request signed in 2017 replayed now");
        let mut undated: Vec<(String, String)> = h.iter().filter(|(n, _)| n != "ocp-date").cloned().collect();
        undated.retain(|(n, _)| n != "date");
        assert!(auth(b"key", "GET", &undated, "/jobs", Some("api-version=2025-06-01")).is_err());
    }

    fn jwt(claims: serde_json::Value) -> String {
        use base64::Engine;
        let enc = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.sig", enc(&serde_json::json!({"alg": "RS256", "typ": "JWT"})), enc(&claims))
    }

    #[test]
    fn bearer_tokens_must_be_unexpired_batch_jwts_and_sharedkey_mode_refuses_them() {
        let bearer = |t: &str, mode: AuthMode| {
            let h = headers(&[("Authorization", &format!("Bearer {t}"))]);
            authenticate("acct", b"key", false, mode, &Request { method: "GET", headers: &h, raw_path: "/jobs", raw_query: None }, NOW)
        };
        let good = jwt(serde_json::json!({"aud": "https://batch.core.windows.net/", "exp": NOW.unix_timestamp() + 3600}));
        assert_eq!(bearer(&good, AuthMode::SharedkeyOrBearer), Ok(Authenticated::Bearer));
        assert_eq!(bearer(&good, AuthMode::Sharedkey).unwrap_err().code, BatchErrorCode::AuthenticationFailed);
        for bad in [
            "x".to_string(),
            "eyJ0".to_string(),
            jwt(serde_json::json!({"aud": "https://management.azure.com/", "exp": NOW.unix_timestamp() + 3600})),
            jwt(serde_json::json!({"aud": "https://batch.core.windows.net/", "exp": NOW.unix_timestamp() - 1})),
            jwt(serde_json::json!({"aud": "https://batch.core.windows.net/"})),
        ] {
            assert_eq!(bearer(&bad, AuthMode::SharedkeyOrBearer).unwrap_err().code, BatchErrorCode::AuthenticationFailed, "{bad}");
        }
        // The emulator's own task tokens are verified in either mode.
        let task = crate::task_token::issue(b"key", "j");
        assert_eq!(bearer(&task, AuthMode::Sharedkey), Ok(Authenticated::TaskToken { job_id: "j".into() }));
    }

    #[test]
    fn missing_malformed_and_foreign_credentials_are_refused() {
        let h = headers(&[]);
        assert_eq!(auth(b"key", "GET", &h, "/jobs", None).unwrap_err().code, BatchErrorCode::AuthenticationFailed);
        let h = headers(&[("Authorization", "Basic abc")]);
        assert_eq!(auth(b"key", "GET", &h, "/jobs", None).unwrap_err().code, BatchErrorCode::InvalidAuthenticationInfo);
        let h = headers(&[("Authorization", "SharedKey other:abc")]);
        assert_eq!(auth(b"key", "GET", &h, "/jobs", None).unwrap_err().code, BatchErrorCode::AuthenticationFailed);
        let h = headers(&[("Authorization", "Bearer eyJ0")]);
        assert_eq!(auth(b"key", "GET", &h, "/jobs", None).unwrap_err().code, BatchErrorCode::AuthenticationFailed);
        assert_eq!(
            authenticate("acct", b"key", true, AuthMode::default(), &Request { method: "GET", headers: &[], raw_path: "/jobs", raw_query: None }, NOW),
            Ok(Authenticated::Loose)
        );
    }
}
