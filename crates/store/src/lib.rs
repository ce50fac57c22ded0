//! Storage for Brandstream: the traits every backend implements, the embedded SQLite backend
//! and the scale-out PostgreSQL backend. All SQL lives in this crate; callers see plain records and [`StoreError`].
//!
//! The traits are split by area (organisations, credentials, keys, revocations, audit) and
//! gathered in [`Store`], which the server holds as `Arc<dyn Store>`.

mod blobs;
pub mod brand;
pub mod documents;
pub mod embeddings;
mod migrations;
mod model;
mod pg;
mod pg_documents;
mod pg_tls;
pub mod portal;
mod record;
mod rows;
mod sql;
mod sqlite;
mod sqlite_documents;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod token_service;

use async_trait::async_trait;
use brandstream_domain::{ClientId, OrgId, UnixSeconds};

pub use blobs::Blobs;
pub use brand::{BrandStore, FieldRecord, KitQuery, KitRecord, SectionRecord};
pub use documents::{
    ChunkHit, ChunkQuery, ChunkRecord, DocumentQuery, DocumentRecord, DocumentStatus,
    DocumentStore, FieldChange, RunQuery, RunRecord, RunStatus,
};
pub use embeddings::{ChunkVector, EmbeddingProgress, EmbeddingStore, VectorSearch};
pub use model::*;
pub use pg::PgStore;
pub use portal::{Membership, PasswordChange, PortalStore, SessionRecord, UserRecord};
pub use record::Stamp;
pub use sqlite::SqliteStore;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or a statement failed. The message is for logs only.
    #[error("database error: {0}")]
    Database(String),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The referenced record does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with the current state (for example a revoked credential).
    #[error("{0}")]
    Conflict(String),
    /// A uniqueness rule was violated (the named value already exists).
    #[error("duplicate {0}")]
    Duplicate(&'static str),
    /// A stored value could not be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The value cannot be stored or looked up: text with a NUL character (PostgreSQL's text
    /// type cannot hold one). A client error, not a failure of the database.
    #[error("text must not contain NUL characters")]
    Unstorable,
}

/// Result alias for storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Organisations.
#[async_trait]
pub trait OrgStore {
    /// Creates an organisation; `is_default` marks the one created on first start.
    async fn create_org(&self, org: &Org) -> StoreResult<()>;
    /// Every organisation, oldest first.
    async fn list_orgs(&self) -> StoreResult<Vec<Org>>;
    /// One organisation.
    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Org>>;
    /// The default organisation, if one was created.
    async fn default_org(&self) -> StoreResult<Option<Org>>;
}

/// Credentials (OAuth clients) and their secrets.
#[async_trait]
pub trait ClientStore {
    /// Stores a new credential with its first secret.
    async fn create_client(&self, client: &NewClient, secret: &NewSecret) -> StoreResult<()>;
    /// A credential with its active secrets, for authentication.
    async fn get_client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>>;
    /// An organisation's credentials, oldest first.
    async fn list_clients(&self, org: &OrgId) -> StoreResult<Vec<ClientRecord>>;
    /// Revokes a credential and retires all its secrets. Returns false when it was already
    /// revoked.
    async fn revoke_client(&self, id: &ClientId, now: UnixSeconds) -> StoreResult<bool>;
    /// Adds a secret. When `max_active` secrets are already active the oldest is retired first,
    /// in the same transaction. Fails with `Conflict` for a revoked credential.
    async fn add_secret(
        &self,
        id: &ClientId,
        secret: &NewSecret,
        max_active: usize,
    ) -> StoreResult<()>;
    /// Retires the older of two active secrets. Returns false when only one is active.
    async fn retire_oldest_secret(&self, id: &ClientId, now: UnixSeconds) -> StoreResult<bool>;
    /// Replaces a stored secret hash by one made under a new master key (a master-key
    /// rotation re-hashes each secret when it is next used). Returns false when `old` is no
    /// longer stored for the credential.
    async fn replace_secret_hash(
        &self,
        id: &ClientId,
        old: &[u8; 32],
        new: &[u8; 32],
    ) -> StoreResult<bool>;
    /// Records last-use times, batched.
    async fn touch_clients(&self, uses: &[(ClientId, UnixSeconds)]) -> StoreResult<()>;
    /// Credentials changed (created, revoked, secrets added or retired) at or after `since`:
    /// their id, status and change time, oldest change first. Servers refresh their credential
    /// caches and revocation lists from this.
    async fn clients_changed_since(
        &self,
        since: UnixSeconds,
    ) -> StoreResult<Vec<(ClientId, ClientStatus, UnixSeconds)>>;
}

/// The signing keyring.
#[async_trait]
pub trait KeyStore {
    /// Every signing key (next, active and retired).
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Stores the first active and next keys when the keyring is empty. Returns false (and
    /// stores nothing) when another process created a keyring first.
    async fn bootstrap_signing_keys(
        &self,
        active: &SigningKeyRecord,
        next: &SigningKeyRecord,
    ) -> StoreResult<bool>;
    /// Retires the active key `expected_active`, activates `new_active` if given (otherwise
    /// the published next key), retires any other next key and publishes `new_next`.
    /// Returns false, changing nothing, when `expected_active` is no longer the active key
    /// (someone else rotated first).
    async fn rotate_signing_keys(&self, rotation: &KeyRotation<'_>) -> StoreResult<bool>;
    /// Replaces a private key's ciphertext (re-encrypted under a new master key) if it is
    /// still `old`. Returns whether it replaced it.
    async fn rewrap_signing_key(&self, kid: &str, old: &[u8], new: &[u8]) -> StoreResult<bool>;
    /// Deletes retired keys retired before `retired_before`. Returns how many.
    async fn prune_signing_keys(&self, retired_before: UnixSeconds) -> StoreResult<u64>;
}

/// Revoked access tokens, remembered until they expire.
#[async_trait]
pub trait RevocationStore {
    /// Records a revoked token id. Revoking twice is not an error.
    async fn revoke_token(&self, revocation: &TokenRevocation) -> StoreResult<()>;
    /// Revocations recorded after sequence number `after`, in order, with their sequence.
    async fn revocations_after(&self, after: i64) -> StoreResult<Vec<(i64, TokenRevocation)>>;
    /// Forgets revocations of tokens that expired before `now`.
    async fn prune_revocations(&self, now: UnixSeconds) -> StoreResult<u64>;
}

/// The audit trail.
#[async_trait]
pub trait AuditStore {
    /// Appends events in one transaction. Takes the batch by value: the writer hands it to a
    /// blocking thread (SQLite) without copying every event's detail.
    async fn append_audit_events(&self, events: Vec<AuditEvent>) -> StoreResult<()>;
    /// Deletes events older than `before`. Returns how many.
    async fn prune_audit_events(&self, before: UnixSeconds) -> StoreResult<u64>;
    /// The newest events, newest first, optionally for one organisation.
    async fn list_audit_events(
        &self,
        org: Option<&OrgId>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>>;
}

/// Named, expiring leases: work that one process of a cluster should do (key rotation,
/// pruning) is done by whoever holds the lease.
#[async_trait]
pub trait LeaseStore {
    /// Takes or renews the lease `name` for `owner` until `now + ttl_seconds`. Succeeds when
    /// the lease is free, expired, or already held by `owner`; returns false otherwise.
    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        now: UnixSeconds,
        ttl_seconds: i64,
    ) -> StoreResult<bool>;
    /// Deletes the leases whose name starts with `prefix` and that expired before `before`
    /// (node heartbeats of processes long gone). Returns how many.
    async fn forget_leases(&self, prefix: &str, before: UnixSeconds) -> StoreResult<u64>;
}

/// The lease a serving process renews while it lives (`node:` + its run-claiming owner id):
/// a run whose holder's node lease has expired is taken over at once, before the run's own
/// lease ends (see [`DocumentStore::claim_run`]).
pub fn node_lease_name(owner: &str) -> String {
    format!("{NODE_LEASE_PREFIX}{owner}")
}

/// The prefix of node leases.
pub const NODE_LEASE_PREFIX: &str = "node:";

/// Everything the server needs from storage.
#[async_trait]
pub trait Store:
    OrgStore
    + ClientStore
    + KeyStore
    + RevocationStore
    + AuditStore
    + LeaseStore
    + BrandStore
    + DocumentStore
    + EmbeddingStore
    + PortalStore
    + Send
    + Sync
    + 'static
{
    /// Checks that the database answers (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// A short name of the backend for logs and metrics.
    fn backend(&self) -> &'static str;
    /// The time every process sharing this database agrees on, in Unix microseconds: the
    /// database server's clock on PostgreSQL (so run and maintenance leases do not depend on
    /// the nodes' clocks agreeing), this machine's clock on SQLite (one machine).
    async fn clock_micros(&self) -> StoreResult<i64>;
}
