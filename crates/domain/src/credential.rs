//! The rules a credential's human-facing fields and token lifetime must satisfy.

use serde::{Deserialize, Serialize};

/// The bounds on a credential, in one place so the CLI, the portal and the APIs agree.
pub struct CredentialRules;

impl CredentialRules {
    /// Longest label, in characters.
    pub const LABEL_MAX: usize = 100;
    /// Longest description, in characters.
    pub const DESCRIPTION_MAX: usize = 500;
    /// Default access-token lifetime, as the hosted service issues.
    pub const DEFAULT_LIFETIME: i64 = 86_400;
    /// Shortest access-token lifetime a credential may have.
    pub const MIN_LIFETIME: i64 = 60;
    /// Longest access-token lifetime a credential may have (30 days). Signing keys stay in the
    /// JWKS for this long after retirement, so no valid token ever loses its key.
    pub const MAX_LIFETIME: i64 = 2_592_000;
}

/// Why a credential field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialFieldError {
    /// Empty or blank label.
    #[error("the label is required")]
    LabelEmpty,
    /// Label too long.
    #[error("the label must be at most {} characters", CredentialRules::LABEL_MAX)]
    LabelTooLong,
    /// Description too long.
    #[error(
        "the description must be at most {} characters",
        CredentialRules::DESCRIPTION_MAX
    )]
    DescriptionTooLong,
    /// Control characters in a label or description.
    #[error("the {0} must not contain control characters")]
    ControlCharacters(&'static str),
    /// Lifetime out of bounds.
    #[error(
        "the token lifetime must be between {} and {} seconds",
        CredentialRules::MIN_LIFETIME,
        CredentialRules::MAX_LIFETIME
    )]
    Lifetime,
}

/// A credential's label: 1–100 characters, trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Label(String);

impl Label {
    /// Parses a label.
    pub fn parse(value: &str) -> Result<Self, CredentialFieldError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(CredentialFieldError::LabelEmpty);
        }
        if value.chars().count() > CredentialRules::LABEL_MAX {
            return Err(CredentialFieldError::LabelTooLong);
        }
        if value.chars().any(char::is_control) {
            return Err(CredentialFieldError::ControlCharacters("label"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The label text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A credential's optional description: at most 500 characters (newlines and tabs allowed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Description(String);

impl Description {
    /// Parses a description.
    pub fn parse(value: &str) -> Result<Self, CredentialFieldError> {
        let value = value.trim();
        if value.chars().count() > CredentialRules::DESCRIPTION_MAX {
            return Err(CredentialFieldError::DescriptionTooLong);
        }
        if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err(CredentialFieldError::ControlCharacters("description"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The description text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An access-token lifetime in seconds, within the credential bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenLifetime(i64);

impl TokenLifetime {
    /// Checks the bounds.
    pub fn new(seconds: i64) -> Result<Self, CredentialFieldError> {
        if (CredentialRules::MIN_LIFETIME..=CredentialRules::MAX_LIFETIME).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(CredentialFieldError::Lifetime)
        }
    }

    /// The lifetime in seconds.
    pub fn seconds(self) -> i64 {
        self.0
    }
}

impl Default for TokenLifetime {
    fn default() -> Self {
        Self(CredentialRules::DEFAULT_LIFETIME)
    }
}

pub use CredentialFieldError as FieldError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_bounds() {
        assert_eq!(Label::parse("  "), Err(CredentialFieldError::LabelEmpty));
        assert!(Label::parse(&"a".repeat(100)).is_ok());
        assert_eq!(
            Label::parse(&"a".repeat(101)),
            Err(CredentialFieldError::LabelTooLong)
        );
        assert!(Label::parse("bad\u{0}label").is_err());
        assert_eq!(Label::parse(" ok ").unwrap().as_str(), "ok");
    }

    #[test]
    fn description_and_lifetime_bounds() {
        assert!(Description::parse(&"d".repeat(500)).is_ok());
        assert!(Description::parse(&"d".repeat(501)).is_err());
        assert!(TokenLifetime::new(59).is_err());
        assert!(TokenLifetime::new(60).is_ok());
        assert!(TokenLifetime::new(2_592_000).is_ok());
        assert!(TokenLifetime::new(2_592_001).is_err());
        assert_eq!(TokenLifetime::default().seconds(), 86_400);
    }
}
