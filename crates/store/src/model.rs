//! Plain records passed to and from storage.

use brandstream_domain::{ClientId, OrgId, ScopeSet, UnixSeconds};
use serde::{Deserialize, Serialize};

use crate::record::{named_enum, stored_record};

stored_record! {
    /// An organisation.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Org {
        /// `org_` + 16 alphanumerics.
        pub id: OrgId,
        /// Display name.
        pub name: String,
        /// Whether this is the organisation created on first start.
        pub is_default: bool,
        /// Creation time.
        pub created_at: UnixSeconds,
    }
}

named_enum! {
    /// Whether a credential may still obtain tokens.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum ClientStatus {
        /// Usable.
        Active = "active",
        /// Permanently disabled; every secret is retired and issued tokens are rejected.
        Revoked = "revoked",
    }
}

/// A credential to create.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// The client id.
    pub client_id: ClientId,
    /// Owning organisation.
    pub org_id: OrgId,
    /// Label (validated by the caller).
    pub label: String,
    /// Description, possibly empty.
    pub description: String,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// Access-token lifetime in seconds.
    pub token_lifetime: i64,
    /// Creation time.
    pub created_at: UnixSeconds,
}

/// A secret to store: only its keyed hash and a short hint ever reach the database.
#[derive(Clone)]
pub struct NewSecret {
    /// HMAC-SHA-256 of the secret under the server's secret-hashing key.
    pub hash: [u8; 32],
    /// The last characters of the secret, so people can tell secrets apart.
    pub hint: String,
    /// Creation time.
    pub created_at: UnixSeconds,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret")
            .field("hint", &self.hint)
            .finish_non_exhaustive()
    }
}

/// An active secret of a credential.
#[derive(Clone)]
pub struct SecretRecord {
    /// Row id.
    pub id: i64,
    /// Keyed hash.
    pub hash: [u8; 32],
    /// Last characters of the secret.
    pub hint: String,
    /// Creation time.
    pub created_at: UnixSeconds,
}

impl std::fmt::Debug for SecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretRecord")
            .field("id", &self.id)
            .field("hint", &self.hint)
            .finish_non_exhaustive()
    }
}

/// A stored credential with its active secrets (oldest first).
#[derive(Debug, Clone)]
pub struct ClientRecord {
    /// The client id.
    pub client_id: ClientId,
    /// Owning organisation.
    pub org_id: OrgId,
    /// Label.
    pub label: String,
    /// Description, possibly empty.
    pub description: String,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// Access-token lifetime in seconds.
    pub token_lifetime: i64,
    /// Status.
    pub status: ClientStatus,
    /// Creation time.
    pub created_at: UnixSeconds,
    /// Last successful token request, if any.
    pub last_used_at: Option<UnixSeconds>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<UnixSeconds>,
    /// Active secrets, oldest first (at most two).
    pub secrets: Vec<SecretRecord>,
}

named_enum! {
    /// Where a signing key is in its life.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum KeyState {
        /// Published in the JWKS, not yet signing.
        Next = "next",
        /// Signing new tokens.
        Active = "active",
        /// No longer signing; published until every token it signed has expired.
        Retired = "retired",
    }
}

stored_record! {
    /// A signing key as stored: the private half only encrypted.
    #[derive(Clone)]
    pub struct SigningKeyRecord {
        /// Key id (`kid`).
        pub kid: String,
        /// JWS algorithm name (RS256, ES256, EdDSA).
        pub alg: String,
        /// Life-cycle state.
        pub state: KeyState,
        /// AES-256-GCM nonce and ciphertext of the PKCS#8 private key.
        pub private_key_encrypted: Vec<u8> as "private_key_enc",
        /// The public key as a JWK (JSON text).
        pub public_jwk: String,
        /// Creation time.
        pub created_at: UnixSeconds,
        /// When it started signing.
        pub activated_at: Option<UnixSeconds>,
        /// When it stopped signing.
        pub retired_at: Option<UnixSeconds>,
    }
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("activated_at", &self.activated_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// A rotation of the signing keys ([`crate::KeyStore::rotate_signing_keys`]).
#[derive(Debug, Clone, Copy)]
pub struct KeyRotation<'a> {
    /// The key expected to be active: nothing changes when it no longer is.
    pub expected_active: &'a str,
    /// A key to activate at once; `None` promotes the published next key.
    pub new_active: Option<&'a SigningKeyRecord>,
    /// The next key to publish.
    pub new_next: &'a SigningKeyRecord,
    /// The time of the rotation.
    pub at: UnixSeconds,
}

/// A revoked access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRevocation {
    /// The token's `jti`.
    pub jti: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The token's `exp`; the revocation is forgotten after it.
    pub expires_at: UnixSeconds,
    /// When it was revoked.
    pub revoked_at: UnixSeconds,
}

stored_record! {
    /// One audit record. Never holds a secret, a token or key material.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct AuditEvent {
        /// Row id (0 before it is stored).
        #[serde(default)]
        pub id: i64,
        /// Time of the event.
        pub at: UnixSeconds,
        /// Organisation concerned, when known.
        pub org_id: Option<String>,
        /// What happened, e.g. `token.issued`, `credential.created`.
        pub kind: String,
        /// Credential concerned, when any.
        pub client_id: Option<String>,
        /// Who did it: `admin-cli`, `client:<id>`, `system`.
        pub actor: String,
        /// The caller's network address, for HTTP events.
        pub source_address: Option<String>,
        /// Further facts (scopes, audience, reason) as a JSON object.
        pub detail: serde_json::Value,
    }
}
