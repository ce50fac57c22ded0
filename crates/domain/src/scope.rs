//! The five OAuth scopes of the Stream APIs and sets of them.
//!
//! A [`ScopeSet`] is a small bit set, so checking "does this token carry that scope" on every
//! API request costs one AND. Its canonical order is the order the hosted service lists scopes
//! in a token response.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One OAuth scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    /// Write brand kits, sections and subsections.
    BrandsWrite,
    /// Read brand kits, sections and subsections.
    BrandsRead,
    /// Upload, change and delete brand documents.
    DocumentsWrite,
    /// Read brand documents and search knowledge.
    DocumentsRead,
    /// Administer the organisation; satisfies every other scope.
    Admin,
}

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A scope name we do not know.
    #[error("unknown scope '{0}'")]
    Unknown(String),
    /// The scope parameter is not a space-separated list of scope names.
    #[error("the scope parameter is malformed")]
    Malformed,
}

impl Scope {
    /// Every scope, in the canonical order.
    pub const ALL: [Scope; 5] = [
        Scope::BrandsWrite,
        Scope::BrandsRead,
        Scope::DocumentsWrite,
        Scope::DocumentsRead,
        Scope::Admin,
    ];

    /// The scope's wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::BrandsWrite => "ai.org.brd:w",
            Scope::BrandsRead => "ai.org.brd:r",
            Scope::DocumentsWrite => "ai.org.docs:w",
            Scope::DocumentsRead => "ai.org.docs:r",
            Scope::Admin => "ai.org:admin",
        }
    }

    /// Parses a scope's wire name.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == value)
            .ok_or_else(|| ScopeError::Unknown(value.chars().take(64).collect()))
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Scope {
    type Error = ScopeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Scope::parse(&value)
    }
}

impl From<Scope> for String {
    fn from(value: Scope) -> String {
        value.as_str().to_owned()
    }
}

/// A set of scopes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(u8);

impl ScopeSet {
    /// The empty set.
    pub const EMPTY: ScopeSet = ScopeSet(0);

    /// All five scopes.
    pub fn all() -> Self {
        Scope::ALL.into_iter().collect()
    }

    /// Parses a space-separated scope list (RFC 6749 §3.3). Repeated names are allowed and
    /// collapse; empty items (double spaces) are tolerated as Auth0 does.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        if value.len() > 1024 || value.chars().any(|c| c.is_control()) {
            return Err(ScopeError::Malformed);
        }
        value
            .split(' ')
            .filter(|item| !item.is_empty())
            .map(Scope::parse)
            .collect()
    }

    /// Whether the set contains the scope.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether every scope of `other` is in this set.
    pub fn is_superset_of(self, other: ScopeSet) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set grants `scope`, directly or through `ai.org:admin`.
    pub fn grants(self, scope: Scope) -> bool {
        self.contains(scope) || self.contains(Scope::Admin)
    }

    /// Scopes of `other` that are not in this set.
    pub fn missing_from(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(other.0 & !self.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes, in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.contains(*scope))
    }

    /// The wire names, in canonical order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Scope::as_str).collect()
    }

    /// The RFC 6749 `scope` string: names separated by single spaces, in canonical order.
    pub fn to_scope_string(self) -> String {
        self.names().join(" ")
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        ScopeSet(iter.into_iter().fold(0, |bits, scope| bits | scope.bit()))
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_scope_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_order_matches_the_hosted_service() {
        assert_eq!(
            ScopeSet::all().to_scope_string(),
            "ai.org.brd:w ai.org.brd:r ai.org.docs:w ai.org.docs:r ai.org:admin"
        );
    }

    #[test]
    fn parse_collapses_duplicates_and_rejects_unknown() {
        let set = ScopeSet::parse("ai.org.brd:r  ai.org.brd:r ai.org.docs:r").unwrap();
        assert_eq!(set.to_scope_string(), "ai.org.brd:r ai.org.docs:r");
        assert_eq!(
            ScopeSet::parse("ai.org.brd:r openid"),
            Err(ScopeError::Unknown("openid".into()))
        );
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn admin_grants_everything() {
        let admin: ScopeSet = [Scope::Admin].into_iter().collect();
        assert!(admin.grants(Scope::DocumentsWrite));
        let read: ScopeSet = [Scope::BrandsRead].into_iter().collect();
        assert!(!read.grants(Scope::BrandsWrite));
        assert!(ScopeSet::all().is_superset_of(read));
        assert_eq!(read.missing_from(admin), admin);
    }
}
