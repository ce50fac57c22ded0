//! Identifiers with the shapes the hosted service uses: organisations are `org_` followed by 16
//! alphanumerics, client ids are 32 alphanumerics. They are only built by parsing or by
//! drawing fresh random values, so holding one proves the shape is right.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The organisation id is not `org_` followed by 16 letters or digits.
    #[error("an organisation id is 'org_' followed by 16 letters or digits")]
    OrgId,
    /// The client id is not 32 letters or digits.
    #[error("a client id is 32 letters or digits")]
    ClientId,
}

/// Draws `length` uniformly distributed alphanumeric characters from the OS CSPRNG.
///
/// Rejection sampling keeps the distribution uniform: bytes ≥ 248 (= 4 × 62) are discarded.
pub fn random_alphanumeric(length: usize) -> String {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(length);
    let mut buffer = [0u8; 64];
    while out.len() < length {
        // A CSPRNG failure is unrecoverable for a security product: refuse to continue.
        #[allow(clippy::expect_used)]
        rng.fill(&mut buffer)
            .expect("the OS random number generator failed");
        for byte in buffer {
            if byte < 248 && out.len() < length {
                out.push(ALPHANUMERIC[(byte % 62) as usize] as char);
            }
        }
    }
    out
}

fn is_alphanumeric(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An organisation identifier, `org_` + 16 alphanumerics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

impl OrgId {
    /// A fresh random organisation id.
    pub fn generate() -> Self {
        Self(format!("org_{}", random_alphanumeric(16)))
    }

    /// Parses an organisation id.
    pub fn parse(value: &str) -> Result<Self, IdError> {
        match value.strip_prefix("org_") {
            Some(rest) if rest.len() == 16 && is_alphanumeric(rest) => Ok(Self(value.to_owned())),
            _ => Err(IdError::OrgId),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client (credential) identifier, 32 alphanumerics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// A fresh random client id.
    pub fn generate() -> Self {
        Self(random_alphanumeric(32))
    }

    /// Parses a client id.
    pub fn parse(value: &str) -> Result<Self, IdError> {
        if value.len() == 32 && is_alphanumeric(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(IdError::ClientId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_id_impls {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }
    };
}
string_id_impls!(OrgId);
string_id_impls!(ClientId);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_ids_parse() {
        for _ in 0..100 {
            let org = OrgId::generate();
            assert_eq!(OrgId::parse(org.as_str()), Ok(org.clone()));
            let client = ClientId::generate();
            assert_eq!(ClientId::parse(client.as_str()), Ok(client.clone()));
        }
    }

    #[test]
    fn malformed_ids_are_rejected() {
        assert!(OrgId::parse("org_short").is_err());
        assert!(OrgId::parse("org_abcdefghijklmno!").is_err());
        assert!(OrgId::parse("abc_abcdefghijklmnop").is_err());
        assert!(ClientId::parse("a").is_err());
        assert!(ClientId::parse(&"é".repeat(16)).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_roundtrips(value in ".{0,64}") {
            if let Ok(id) = OrgId::parse(&value) { prop_assert_eq!(id.as_str(), value.as_str()); }
            if let Ok(id) = ClientId::parse(&value) { prop_assert_eq!(id.as_str(), value.as_str()); }
        }
    }
}

/// Declares the identifiers of the brand, document and pipeline records. Each is its own type,
/// so a section id cannot be passed where a kit id is meant; on the wire and in storage it is
/// the text it always was (`#[serde(transparent)]`). New ones are UUIDs as the Stream API
/// writes them ([`generate`](BrandKitId::generate)); path ids are checked as UUIDs at the HTTP
/// edge before they become ids, and stored ones are taken as stored.
macro_rules! record_ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random UUID (version 4), hyphenated lowercase.
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    )*};
}

record_ids! {
    /// A brand kit's id.
    BrandKitId;
    /// A brand-kit section's id.
    SectionId;
    /// A subsection's (field's) id.
    FieldId;
    /// A brand document's id.
    DocumentId;
    /// A knowledge chunk's id.
    ChunkId;
    /// A pipeline run's id.
    RunId;
}
