//! Request authentication: Shared Key verified exactly as the service and both SDKs compute it,
//! the task tokens the emulator issues (verified, and limited to their job), other bearer tokens
//! accepted without verification (nothing to verify against offline), or nothing at all with
//! `--loose`.

use batch_client::auth::{sign_with_key_bytes, string_to_sign, QueryNameCase, SignableRequest};
use batch_model::{BatchErrorCode, DomainError};
use subtle::ConstantTimeEq;

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

/// Verifies a request. `key` is the decoded account key.
pub fn authenticate(
    account: &str,
    key: &[u8],
    loose: bool,
    method: &str,
    headers: &[(String, String)],
    raw_path: &str,
    raw_query: Option<&str>,
) -> Result<Authenticated, DomainError> {
    if loose {
        return Ok(Authenticated::Loose);
    }
    let failed = |detail: &str| DomainError::new(BatchErrorCode::AuthenticationFailed).with_value("AuthenticationErrorDetail", detail);
    let Some(auth) = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.trim()) else {
        return Err(failed("The request is not authenticated: no Authorization header."));
    };
    if let Some(token) = auth.strip_prefix("Bearer ") {
        // UNCONFIRMED: real Batch validates the token against Microsoft Entra ID; offline there is
        // nothing to validate against, so any non-empty token is accepted (README says so).
        if token.trim().is_empty() {
            return Err(DomainError::new(BatchErrorCode::InvalidAuthenticationInfo));
        }
        return match crate::task_token::classify(key, token.trim()) {
            crate::task_token::Bearer::Other => Ok(Authenticated::Bearer),
            crate::task_token::Bearer::Job(job_id) => Ok(Authenticated::TaskToken { job_id }),
            crate::task_token::Bearer::Forged => Err(failed("The task authentication token was not issued for this account.")),
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
    let req = SignableRequest { method, headers, raw_path, raw_query };
    // The SDKs sign query names as sent; the documentation says lower-case: accept either.
    for case in [QueryNameCase::AsSent, QueryNameCase::Lowercase] {
        let expected = sign_with_key_bytes(key, &string_to_sign(name, &req, case));
        if bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            return Ok(Authenticated::SharedKey);
        }
    }
    let sts = string_to_sign(name, &req, QueryNameCase::AsSent);
    tracing::debug!(string_to_sign = %sts.escape_debug(), "Shared Key signature mismatch");
    Err(failed(&format!(
        "The MAC signature found in the HTTP request '{signature}' is not the same as any computed signature. Server used following string to sign: '{}'.",
        sts.escape_debug()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use batch_client::auth::authorization_header;

    const KEY: &str = "a2V5";

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

    #[test]
    fn a_correct_signature_is_accepted_and_a_tampered_one_refused() {
        let h = signed("GET", "/jobs/j/tasks/t/files/wd%2Fout.txt", "api-version=2025-06-01");
        assert_eq!(
            authenticate("acct", b"key", false, "GET", &h, "/jobs/j/tasks/t/files/wd%2Fout.txt", Some("api-version=2025-06-01")),
            Ok(Authenticated::SharedKey)
        );
        // Decoding the path before verifying would break every file read: the signature covers the raw path.
        let e = authenticate("acct", b"key", false, "GET", &h, "/jobs/j/tasks/t/files/wd/out.txt", Some("api-version=2025-06-01")).unwrap_err();
        assert_eq!(e.code, BatchErrorCode::AuthenticationFailed);
        let e = authenticate("acct", b"other", false, "GET", &h, "/jobs/j/tasks/t/files/wd%2Fout.txt", Some("api-version=2025-06-01")).unwrap_err();
        assert_eq!(e.code, BatchErrorCode::AuthenticationFailed);
    }

    #[test]
    fn lower_case_query_names_are_accepted_too() {
        let mut h = headers(&[]);
        let req = SignableRequest { method: "GET", headers: &h, raw_path: "/jobs", raw_query: Some("api-version=1&timeOut=30") };
        let sig = sign_with_key_bytes(b"key", &string_to_sign("acct", &req, QueryNameCase::Lowercase));
        h.push(("Authorization".into(), format!("SharedKey acct:{sig}")));
        assert!(authenticate("acct", b"key", false, "GET", &h, "/jobs", Some("api-version=1&timeOut=30")).is_ok());
    }

    #[test]
    fn missing_malformed_and_foreign_credentials_are_refused() {
        let h = headers(&[]);
        assert_eq!(authenticate("acct", b"key", false, "GET", &h, "/jobs", None).unwrap_err().code, BatchErrorCode::AuthenticationFailed);
        let h = headers(&[("Authorization", "Basic abc")]);
        assert_eq!(authenticate("acct", b"key", false, "GET", &h, "/jobs", None).unwrap_err().code, BatchErrorCode::InvalidAuthenticationInfo);
        let h = headers(&[("Authorization", "SharedKey other:abc")]);
        assert_eq!(authenticate("acct", b"key", false, "GET", &h, "/jobs", None).unwrap_err().code, BatchErrorCode::AuthenticationFailed);
        let h = headers(&[("Authorization", "Bearer eyJ0")]);
        assert_eq!(authenticate("acct", b"key", false, "GET", &h, "/jobs", None), Ok(Authenticated::Bearer));
        assert_eq!(authenticate("acct", b"key", true, "GET", &[], "/jobs", None), Ok(Authenticated::Loose));
    }
}
