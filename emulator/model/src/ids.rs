//! Batch ids: 1–64 characters of letters, digits, `-` and `_`; unique case-insensitively,
//! stored and echoed with their original case.

use crate::error::DomainError;
use std::fmt;

/// The case-insensitive key an id is stored and looked up under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct IdKey(String);

impl IdKey {
    /// The key of `id` (no validation; a lookup with an impossible id simply finds nothing).
    pub fn of(id: &str) -> Self {
        IdKey(id.to_ascii_lowercase())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `id` is a syntactically valid Batch id.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Validates the `id` property of a create body.
pub fn validate_id(property: &str, id: &str) -> Result<IdKey, DomainError> {
    if id.is_empty() {
        return Err(DomainError::missing_property(property));
    }
    if !is_valid_id(id) {
        let reason = if id.len() > 64 {
            "The id can contain at most 64 characters"
        } else {
            "The id can contain any combination of alphanumeric characters including hyphens and underscores"
        };
        return Err(DomainError::invalid_property(property, id, reason));
    }
    Ok(IdKey::of(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_batch_rules() {
        assert!(is_valid_id("Pool-1_a"));
        assert!(is_valid_id(&"a".repeat(64)));
        assert!(!is_valid_id(&"a".repeat(65)));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("a.b"));
        assert!(!is_valid_id("ä"));
        assert_eq!(IdKey::of("MyPool"), IdKey::of("mypool"));
    }
}
