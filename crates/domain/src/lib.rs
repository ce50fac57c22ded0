//! Brandstream's domain vocabulary: identifiers, OAuth scopes and the rules a credential must
//! satisfy. Everything here is pure (no I/O besides drawing random identifiers from the OS
//! CSPRNG), so every other crate can depend on it.

pub mod brand;
pub mod credential;
pub mod ids;
pub mod scope;
pub mod testing;
pub mod text;

pub use credential::{CredentialRules, Description, Label, TokenLifetime};
pub use ids::{
    BrandKitId, ChunkId, ClientId, DocumentId, FieldId, IdError, OrgId, RunId, SectionId,
};
pub use scope::{Scope, ScopeError, ScopeSet};

/// Seconds since the Unix epoch, the one time representation stored and compared everywhere.
pub type UnixSeconds = i64;

/// The current time in whole seconds since the Unix epoch.
pub fn now_unix() -> UnixSeconds {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}
