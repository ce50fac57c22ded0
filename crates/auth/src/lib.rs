//! Authentication for Brandstream: client secrets and their keyed hashes, the signing keyring
//! (generation, encryption at rest, rotation), JWT issue and verification, the OAuth 2.0
//! client-credentials token service, rate limits and the audit trail.
//!
//! Nothing here knows about HTTP: the server parses requests into [`service::TokenRequest`]
//! and renders [`AuthError`] as RFC 6749 errors.

pub mod audit;
pub mod credentials;
pub mod jwt;
pub mod keys;
pub mod master;
pub mod ratelimit;
pub mod secret;
pub mod service;
pub mod users;

use brandstream_store::StoreError;

pub use audit::{audit_channel, AuditSink, AuditWriter};
pub use credentials::{CreateCredential, CreatedCredential, CredentialAdmin};
pub use jwt::{AccessTokenClaims, TokenError};
pub use keys::{Keyring, SigningAlgorithm};
pub use master::MasterKey;
pub use ratelimit::RateLimitSettings;
pub use secret::{ClientSecret, SecretHasher};
pub use service::{
    AuthMethod, ClientCredentials, IssuedToken, TokenRequest, TokenService, TokenSettings,
    VerifiedToken,
};
pub use users::{Authenticated, Users};

/// Why an authentication or administration call failed. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// RFC 6749 `invalid_request`.
    #[error("{0}")]
    InvalidRequest(String),
    /// RFC 6749 `invalid_client`; `reason` is for logs and the audit trail only.
    #[error("client authentication failed")]
    InvalidClient {
        /// Why, for the audit trail (never sent to the client).
        reason: &'static str,
        /// Whether the client used HTTP Basic (then the response carries `WWW-Authenticate`).
        basic: bool,
    },
    /// RFC 6749 `unsupported_grant_type`.
    #[error("only the client_credentials grant is supported")]
    UnsupportedGrantType,
    /// RFC 6749 `invalid_scope`.
    #[error("{0}")]
    InvalidScope(String),
    /// RFC 6749 §5.2 `unauthorized_client`: the authenticated client may not do this (revoke
    /// another client's token without `ai.org:admin`).
    #[error("{0}")]
    UnauthorizedClient(String),
    /// `access_denied`, as Auth0 answers an unknown audience or an ungranted scope.
    #[error("{0}")]
    AccessDenied(String),
    /// Too many requests; retry after this many seconds.
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds for `Retry-After`.
        retry_after: u64,
    },
    /// A field failed validation (administration).
    #[error("{0}")]
    Validation(String),
    /// The named object does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
    /// An internal failure; the message is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => AuthError::NotFound(what),
            StoreError::Conflict(message) => AuthError::Conflict(message),
            other => AuthError::Store(other),
        }
    }
}
