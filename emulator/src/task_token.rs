//! The tokens a task gets in `AZ_BATCH_AUTHENTICATION_TOKEN` when its
//! `authenticationTokenSettings.access` holds `job`: a bearer token for the operations on the
//! task's job and its tasks, signed with the account key so the emulator can verify it (the
//! service issues an Entra ID token; this one only has to mean the same thing here).
//! Issued by the node agent, verified by the REST edge.

use batch_client::auth::sign_with_key_bytes;
use subtle::ConstantTimeEq;

const PREFIX: &str = "batch-emulator-task";

fn signature(key: &[u8], job_id: &str) -> String {
    sign_with_key_bytes(key, &format!("{PREFIX}\njob\n{job_id}"))
}

/// A token for the operations on `job_id`.
pub fn issue(key: &[u8], job_id: &str) -> String {
    format!("{PREFIX}.{job_id}.{}", signature(key, job_id))
}

/// What a bearer token is, as far as this emulator can tell.
#[derive(Debug, PartialEq, Eq)]
pub enum Bearer {
    /// Not one of the emulator's task tokens (an Entra ID token, accepted unverified).
    Other,
    /// A task token with a valid signature: the job it grants access to.
    Job(String),
    /// Looks like a task token but its signature is not this account's.
    Forged,
}

/// Classifies a bearer token.
pub fn classify(key: &[u8], token: &str) -> Bearer {
    let Some(rest) = token.strip_prefix(PREFIX).and_then(|r| r.strip_prefix('.')) else {
        return Bearer::Other;
    };
    // Job ids have no dots; the signature (base64) has none either.
    let Some((job_id, sig)) = rest.split_once('.') else {
        return Bearer::Forged;
    };
    if bool::from(signature(key, job_id).as_bytes().ct_eq(sig.as_bytes())) {
        Bearer::Job(job_id.to_string())
    } else {
        Bearer::Forged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_with_their_key_only() {
        let t = issue(b"key", "job-1");
        assert_eq!(classify(b"key", &t), Bearer::Job("job-1".into()));
        assert_eq!(classify(b"other", &t), Bearer::Forged);
        assert_eq!(classify(b"key", &t.replace("job-1", "job-2")), Bearer::Forged);
        assert_eq!(classify(b"key", "eyJ0eXAiOiJKV1Qi"), Bearer::Other);
    }
}
