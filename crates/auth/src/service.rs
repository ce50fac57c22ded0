//! The OAuth 2.0 client-credentials token service (RFC 6749 §4.4 with Auth0's behaviour),
//! token introspection (RFC 7662) and revocation (RFC 7009), and the bearer-token verifier
//! every API request goes through.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use brandstream_domain::{now_unix, ClientId, OrgId, Scope, ScopeSet, UnixSeconds};
use brandstream_store::{AuditEvent, ClientRecord, ClientStatus, Store, TokenRevocation};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;

use crate::audit::AuditSink;
use crate::jwt::{self, AccessTokenClaims, TokenError};
use crate::keys::Keyring;
use crate::ratelimit::{retry_after_seconds, RateLimitSettings, RateLimits};
use crate::secret::{ClientSecret, SecretHasher};
use crate::AuthError;

/// The only grant we issue.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// How the client presented its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `client_id` and `client_secret` in the request body.
    Post,
    /// HTTP Basic (`Authorization: Basic`).
    Basic,
}

/// Presented client credentials. `Debug` never shows the secret.
#[derive(Debug)]
pub struct ClientCredentials {
    /// The presented client id (unvalidated).
    pub client_id: String,
    /// The presented secret (unvalidated).
    pub secret: SecretString,
    /// How it was presented.
    pub method: AuthMethod,
}

/// A parsed token request.
#[derive(Debug)]
pub struct TokenRequest {
    /// `grant_type`.
    pub grant_type: Option<String>,
    /// Client credentials, if any were presented.
    pub credentials: Option<ClientCredentials>,
    /// `audience`; the first configured audience when absent.
    pub audience: Option<String>,
    /// `scope`; every granted scope when absent.
    pub scope: Option<String>,
    /// The caller's address, for rate limits and the audit trail.
    pub source: IpAddr,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

/// Static settings of the token service.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The `iss` of every token, also the metadata's `issuer`.
    pub issuer: String,
    /// Accepted audiences; the first is the default and the Stream APIs' own.
    pub audiences: Vec<String>,
    /// Rate limits of the token endpoint.
    pub rate_limits: RateLimitSettings,
}

/// A bearer token that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// Its claims.
    pub claims: AccessTokenClaims,
    /// Its scopes.
    pub scopes: ScopeSet,
    /// The organisation it acts for.
    pub org_id: OrgId,
}

impl VerifiedToken {
    /// Whether the token carries `scope` (directly or through `ai.org:admin`).
    pub fn grants(&self, scope: Scope) -> bool {
        self.scopes.grants(scope)
    }
}

/// RFC 7662 introspection response.
#[derive(Debug, Serialize, Default)]
pub struct Introspection {
    /// Whether the token is currently valid.
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Scopes.
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Client id.
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Always `Bearer`.
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Expiry.
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Issued at.
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Not before.
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Subject.
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Audience.
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Issuer.
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Token id.
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Organisation.
    pub org_id: Option<String>,
}

/// What the verifier remembers about revocations, refreshed from the store every second so
/// revocations made by another process (the admin CLI, another node) apply within seconds.
#[derive(Default)]
struct RevocationCache {
    /// Revoked `jti` → its `exp` (forgotten after).
    tokens: RwLock<HashMap<String, UnixSeconds>>,
    /// Revoked credentials.
    clients: RwLock<HashSet<String>>,
    /// Progress of the incremental refresh: last token sequence and credential change time.
    cursor: Mutex<(i64, UnixSeconds)>,
}

/// Credentials recently read from the store, so a token request normally costs no database
/// round trip. Entries are dropped when the store reports a change to the credential (checked
/// every second, so changes by another process apply within about a second; changes made
/// through this process apply at once) and after [`CLIENT_CACHE_MAX_AGE`] in any case. A
/// presented secret that does not match the cached entry is re-checked against the store,
/// so a freshly rotated secret works immediately.
#[derive(Default)]
struct ClientCache {
    entries: RwLock<HashMap<ClientId, (Arc<ClientRecord>, Instant)>>,
}

/// Tokens whose signature already verified, so a client that sends the same token on every
/// request pays for signature verification and claim parsing once. A hit is still checked for
/// expiry, audience, its key still being published, and revocation, on every request.
#[derive(Default)]
struct VerifiedCache {
    entries: RwLock<HashMap<Box<str>, VerifiedEntry>>,
}

/// A verified token, its key id (it must still be published) and its `nbf`.
type VerifiedEntry = (VerifiedToken, String, Option<i64>);

/// Bound on remembered verified tokens (memory limit).
const VERIFIED_CACHE_CAPACITY: usize = 10_000;

/// Longest time a cached credential is trusted without a re-read.
const CLIENT_CACHE_MAX_AGE: Duration = Duration::from_secs(60);
/// Bound on cached credentials (memory limit).
const CLIENT_CACHE_CAPACITY: usize = 10_000;
/// Rows fetched per incremental refresh query.
const SYNC_PAGE: usize = 10_000;

impl ClientCache {
    fn get(&self, id: &ClientId) -> Option<Arc<ClientRecord>> {
        let entries = read(&self.entries);
        let (record, fetched) = entries.get(id)?;
        (fetched.elapsed() < CLIENT_CACHE_MAX_AGE).then(|| Arc::clone(record))
    }

    fn put(&self, record: Arc<ClientRecord>) {
        let mut entries = write(&self.entries);
        if entries.len() >= CLIENT_CACHE_CAPACITY {
            entries.retain(|_, (_, fetched)| fetched.elapsed() < CLIENT_CACHE_MAX_AGE);
            if entries.len() >= CLIENT_CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(record.client_id.clone(), (record, Instant::now()));
    }

    fn forget(&self, id: &ClientId) {
        write(&self.entries).remove(id);
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The token service.
pub struct TokenService {
    store: Arc<dyn Store>,
    hasher: Arc<SecretHasher>,
    keyring: Arc<Keyring>,
    limits: RateLimits,
    audit: AuditSink,
    revocations: RevocationCache,
    clients: ClientCache,
    verified: VerifiedCache,
    settings: TokenSettings,
    last_key_reload: Mutex<Instant>,
}

fn random_jti() -> Result<String, AuthError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AuthError::Internal("the OS random number generator failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl TokenService {
    /// Builds the service and loads the revocation lists.
    pub async fn new(
        store: Arc<dyn Store>,
        hasher: Arc<SecretHasher>,
        keyring: Arc<Keyring>,
        audit: AuditSink,
        settings: TokenSettings,
    ) -> Result<Self, AuthError> {
        if settings.audiences.is_empty() {
            return Err(AuthError::Config(
                "at least one audience must be configured".into(),
            ));
        }
        let service = Self {
            limits: RateLimits::new(&settings.rate_limits),
            store,
            hasher,
            keyring,
            audit,
            revocations: RevocationCache::default(),
            clients: ClientCache::default(),
            verified: VerifiedCache::default(),
            settings,
            last_key_reload: Mutex::new(Instant::now()),
        };
        service.sync().await?;
        Ok(service)
    }

    /// The settings.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// The keyring.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    fn audit_event(
        &self,
        kind: &str,
        org_id: Option<&OrgId>,
        client_id: Option<&str>,
        source: IpAddr,
        detail: serde_json::Value,
    ) {
        self.audit.record(AuditEvent {
            id: 0,
            at: now_unix(),
            org_id: org_id.map(ToString::to_string),
            kind: kind.to_owned(),
            client_id: client_id.map(str::to_owned),
            actor: client_id.map_or_else(|| "anonymous".to_owned(), |id| format!("client:{id}")),
            source_address: Some(source.to_string()),
            detail,
        });
    }

    fn too_many(wait: Duration) -> AuthError {
        metrics::counter!("brandstream_token_requests_limited_total").increment(1);
        AuthError::TooManyRequests {
            retry_after: retry_after_seconds(wait),
        }
    }

    /// Authenticates a client. The secret is checked first (a keyed hash: cheap), so a correct
    /// one always passes here; failures are counted, audited with their reason and throttled
    /// per source address and per client id (then `429`); the caller only ever learns
    /// `invalid_client`.
    pub async fn authenticate(
        &self,
        credentials: &ClientCredentials,
        source: IpAddr,
    ) -> Result<Arc<ClientRecord>, AuthError> {
        let basic = credentials.method == AuthMethod::Basic;
        let outcome = self.check_credentials(credentials).await;
        let reason = match outcome {
            Ok(client) => return Ok(client),
            Err(Err(error)) => return Err(error),
            Err(Ok(reason)) => reason,
        };
        metrics::counter!("brandstream_client_authentication_failures_total", "reason" => reason)
            .increment(1);
        let known_id = ClientId::parse(&credentials.client_id).ok();
        tracing::info!(reason, client_id = known_id.as_ref().map(ClientId::as_str), %source, "client authentication failed");
        self.audit_event(
            "auth.failed",
            None,
            known_id.as_ref().map(ClientId::as_str),
            source,
            json!({"reason": reason, "method": if basic { "client_secret_basic" } else { "client_secret_post" }}),
        );
        self.limits
            .record_failure(source, known_id.as_ref())
            .map_err(Self::too_many)?;
        Err(AuthError::InvalidClient { reason, basic })
    }

    /// `Ok(client)`, `Err(Ok(reason))` for an authentication failure, `Err(Err(e))` for an
    /// internal error.
    async fn check_credentials(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<Arc<ClientRecord>, Result<&'static str, AuthError>> {
        let client_id =
            ClientId::parse(&credentials.client_id).map_err(|_| Ok("malformed_client_id"))?;
        let secret = ClientSecret::parse(credentials.secret.expose_secret())
            .map_err(|_| Ok("malformed_secret"))?;
        if let Some(client) = self.clients.get(&client_id) {
            if client.status == ClientStatus::Active
                && self
                    .hasher
                    .matches(&secret, client.secrets.iter().map(|s| &s.hash))
            {
                return Ok(client);
            }
        }
        let client = Arc::new(
            self.store
                .get_client(&client_id)
                .await
                .map_err(|e| Err(AuthError::from(e)))?
                .ok_or(Ok("unknown_client"))?,
        );
        self.clients.put(Arc::clone(&client));
        if client.status != ClientStatus::Active {
            return Err(Ok("revoked_client"));
        }
        if !self
            .hasher
            .matches(&secret, client.secrets.iter().map(|s| &s.hash))
        {
            return Err(Ok("wrong_secret"));
        }
        // During a master-key rotation, a secret hashed under the previous key is re-hashed
        // under the current one on first use, so the previous key can later be dropped.
        if let Some((old, new)) = self
            .hasher
            .outdated(&secret, client.secrets.iter().map(|s| &s.hash))
        {
            match self.store.replace_secret_hash(&client_id, &old, &new).await {
                Ok(_) => {
                    self.clients.forget(&client_id);
                    tracing::info!(client_id = %client_id, "re-hashed a client secret under the current master key");
                }
                Err(error) => tracing::warn!(%error, "re-hashing a client secret failed"),
            }
        }
        Ok(client)
    }

    /// Handles a token request end to end.
    pub async fn issue_token(&self, request: TokenRequest) -> Result<IssuedToken, AuthError> {
        match request.grant_type.as_deref() {
            None | Some("") => {
                return Err(AuthError::InvalidRequest(
                    "the grant_type parameter is required".into(),
                ))
            }
            Some(CLIENT_CREDENTIALS) => {}
            Some(_) => return Err(AuthError::UnsupportedGrantType),
        }
        let Some(credentials) = request.credentials.as_ref() else {
            self.limits
                .record_failure(request.source, None)
                .map_err(Self::too_many)?;
            return Err(AuthError::InvalidClient {
                reason: "no_credentials",
                basic: false,
            });
        };
        let client = self.authenticate(credentials, request.source).await?;
        self.limits
            .check_client(&client.client_id)
            .map_err(Self::too_many)?;

        let audience = match request.audience.as_deref() {
            None | Some("") => self.settings.audiences[0].as_str(),
            Some(audience) => self
                .settings
                .audiences
                .iter()
                .find(|known| known.as_str() == audience)
                .map(String::as_str)
                .ok_or_else(|| {
                    AuthError::AccessDenied(format!(
                        "Service not found: {}",
                        audience.chars().take(200).collect::<String>()
                    ))
                })?,
        };
        let scopes = match request.scope.as_deref().map(str::trim) {
            None | Some("") => client.scopes,
            Some(requested) => {
                let requested = ScopeSet::parse(requested)
                    .map_err(|e| AuthError::InvalidScope(e.to_string()))?;
                let missing = client.scopes.missing_from(requested);
                if !missing.is_empty() {
                    return Err(AuthError::AccessDenied(format!(
                        "Client has not been granted scopes: {}",
                        missing.names().join(", ")
                    )));
                }
                requested
            }
        };

        let now = now_unix();
        let scope = scopes.to_scope_string();
        let claims = AccessTokenClaims {
            iss: self.settings.issuer.clone(),
            sub: format!("{}@clients", client.client_id),
            aud: audience.to_owned(),
            iat: now,
            exp: now + client.token_lifetime,
            jti: random_jti()?,
            azp: client.client_id.to_string(),
            client_id: client.client_id.to_string(),
            gty: "client-credentials".to_owned(),
            scope: scope.clone(),
            org_id: client.org_id.to_string(),
        };
        let keyring = self.keyring.snapshot();
        let access_token = jwt::encode(&keyring.active, &claims)?;
        metrics::counter!("brandstream_tokens_issued_total", "alg" => keyring.active.alg.as_str())
            .increment(1);
        self.audit_event(
            "token.issued",
            Some(&client.org_id),
            Some(client.client_id.as_str()),
            request.source,
            json!({"scope": scope, "audience": audience, "jti": claims.jti, "kid": keyring.active.kid, "exp": claims.exp}),
        );
        self.audit.used(client.client_id.clone(), now);
        Ok(IssuedToken {
            access_token,
            scope,
            expires_in: client.token_lifetime,
            token_type: "Bearer",
        })
    }

    /// Verifies a bearer token for one of `audiences`: signature, header, claims, and that
    /// neither the token nor its credential is revoked.
    pub async fn verify(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<VerifiedToken, TokenError> {
        let now = now_unix();
        if token.len() > jwt::MAX_TOKEN_LENGTH {
            return Err(TokenError::Malformed);
        }
        let cached = read(&self.verified.entries).get(token).cloned();
        if let Some((verified, kid, not_before)) = cached {
            if audiences.contains(&verified.claims.aud)
                && self.keyring.snapshot().verifiers.contains_key(&kid)
            {
                let claims = &verified.claims;
                if claims.exp <= now {
                    return Err(TokenError::Expired);
                }
                if not_before.is_some_and(|nbf| nbf > now) {
                    return Err(TokenError::NotYetValid);
                }
                self.check_revocation(claims)?;
                return Ok(verified);
            }
        }
        let decoded = match jwt::decode(
            &self.keyring.snapshot(),
            token,
            &self.settings.issuer,
            audiences,
            now,
        ) {
            Err(TokenError::UnknownKey) if self.may_reload_keys() => {
                // Another process may have rotated keys since our last refresh.
                let _ = self.keyring.reload().await;
                jwt::decode(
                    &self.keyring.snapshot(),
                    token,
                    &self.settings.issuer,
                    audiences,
                    now,
                )?
            }
            other => other?,
        };
        let kid = decoded.kid;
        let not_before = decoded.not_before;
        let claims = decoded.claims;
        self.check_revocation(&claims)?;
        let scopes = ScopeSet::parse(&claims.scope).map_err(|_| TokenError::Malformed)?;
        let org_id = OrgId::parse(&claims.org_id).map_err(|_| TokenError::Malformed)?;
        let verified = VerifiedToken {
            claims,
            scopes,
            org_id,
        };
        let mut entries = write(&self.verified.entries);
        if entries.len() >= VERIFIED_CACHE_CAPACITY {
            entries.retain(|_, (token, _, _)| token.claims.exp + jwt::LEEWAY_SECONDS > now);
            if entries.len() >= VERIFIED_CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(token.into(), (verified.clone(), kid, not_before));
        Ok(verified)
    }

    /// Rejects revoked tokens and tokens of revoked credentials.
    fn check_revocation(&self, claims: &AccessTokenClaims) -> Result<(), TokenError> {
        if read(&self.revocations.tokens).contains_key(&claims.jti)
            || read(&self.revocations.clients).contains(&claims.client_id)
        {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }

    fn may_reload_keys(&self) -> bool {
        let mut last = self
            .last_key_reload
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if last.elapsed() >= Duration::from_secs(1) {
            *last = Instant::now();
            true
        } else {
            false
        }
    }

    /// RFC 7662: describes a token to an authenticated credential of the same organisation.
    pub async fn introspect(&self, caller: &ClientRecord, token: &str) -> Introspection {
        let Ok(verified) = self.verify(token, &self.settings.audiences).await else {
            return Introspection::default();
        };
        if verified.org_id != caller.org_id {
            return Introspection::default();
        }
        let claims = verified.claims;
        Introspection {
            active: true,
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            token_type: Some("Bearer"),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: None,
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            jti: Some(claims.jti),
            org_id: Some(claims.org_id),
        }
    }

    /// RFC 7009: revokes a token. The caller may revoke its own tokens (§2.1: the server
    /// checks the token was issued to the client asking), and a credential granted
    /// `ai.org:admin` any token of its organisation; any other caller gets
    /// [`AuthError::UnauthorizedClient`] and the token stays valid. Unknown, invalid or
    /// foreign tokens are ignored, as the RFC asks.
    pub async fn revoke(
        &self,
        caller: &ClientRecord,
        token: &str,
        source: IpAddr,
    ) -> Result<(), AuthError> {
        let Ok(verified) = self.verify(token, &self.settings.audiences).await else {
            return Ok(());
        };
        if verified.org_id != caller.org_id {
            return Ok(());
        }
        let claims = verified.claims;
        if claims.client_id != caller.client_id.as_str()
            && !caller.scopes.contains(brandstream_domain::Scope::Admin)
        {
            return Err(AuthError::UnauthorizedClient(
                "a client may revoke only its own tokens unless it is granted ai.org:admin".into(),
            ));
        }
        self.store
            .revoke_token(&TokenRevocation {
                jti: claims.jti.clone(),
                client_id: claims.client_id.clone(),
                expires_at: claims.exp,
                revoked_at: now_unix(),
            })
            .await?;
        write(&self.revocations.tokens).insert(claims.jti.clone(), claims.exp);
        self.audit_event(
            "token.revoked",
            Some(&caller.org_id),
            Some(caller.client_id.as_str()),
            source,
            json!({"jti": claims.jti, "token_client_id": claims.client_id}),
        );
        Ok(())
    }

    /// Applies a credential change made through this process at once (the store is already
    /// updated): drops the cached credential and, if it was revoked, rejects its tokens.
    pub fn note_client_changed(&self, client_id: &ClientId, revoked: bool) {
        self.clients.forget(client_id);
        if revoked {
            write(&self.revocations.clients).insert(client_id.to_string());
        }
    }

    /// Pulls revocations made since the last call (by this or any other process), forgets
    /// expired ones, and drops idle rate-limit buckets. Run every second.
    pub async fn sync(&self) -> Result<(), AuthError> {
        let (mut sequence, mut clients_since) = *self
            .revocations
            .cursor
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        loop {
            let batch = self.store.revocations_after(sequence).await?;
            if batch.is_empty() {
                break;
            }
            let mut tokens = write(&self.revocations.tokens);
            for (seq, revocation) in &batch {
                sequence = sequence.max(*seq);
                tokens.insert(revocation.jti.clone(), revocation.expires_at);
            }
            if batch.len() < SYNC_PAGE {
                break;
            }
        }
        let now = now_unix();
        write(&self.revocations.tokens).retain(|_, exp| *exp + jwt::LEEWAY_SECONDS >= now);
        // Change times have one-second resolution: re-read the last second so a change
        // committed later within it is not missed (applying one twice is harmless).
        loop {
            let from = clients_since.saturating_sub(1);
            let changed = self.store.clients_changed_since(from).await?;
            let full_page = changed.len() >= SYNC_PAGE;
            let mut revoked = Vec::new();
            for (client_id, status, at) in changed {
                clients_since = clients_since.max(at);
                self.clients.forget(&client_id);
                if status == ClientStatus::Revoked {
                    revoked.push(client_id.to_string());
                }
            }
            if !revoked.is_empty() {
                write(&self.revocations.clients).extend(revoked);
            }
            if !full_page || clients_since.saturating_sub(1) <= from {
                break;
            }
        }
        *self
            .revocations
            .cursor
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = (sequence, clients_since);
        self.limits.forget_idle();
        Ok(())
    }

    /// Prunes revocations of expired tokens from the store.
    pub async fn prune(&self) -> Result<(), AuthError> {
        self.store
            .prune_revocations(now_unix() - jwt::LEEWAY_SECONDS)
            .await?;
        Ok(())
    }
}
