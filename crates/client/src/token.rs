//! Access tokens: fetched with the client credentials, cached in memory (and optionally in a
//! [`TokenCache`]), refreshed at 80 % of their lifetime by one request that every concurrent
//! caller waits for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::{Client, Error, Result};

/// A token with its timing, as kept in memory and in caches. Never holds the secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct CachedToken {
    /// The JWT.
    pub access_token: String,
    /// Unix seconds at which it expires.
    pub expires_at: u64,
    /// Unix seconds after which it is refreshed (80 % of its lifetime).
    pub refresh_at: u64,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("access_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("refresh_at", &self.refresh_at)
            .finish()
    }
}

/// Keeps tokens between processes (one entry per client id and audience).
pub trait TokenCache: Send + Sync {
    /// The stored token, if any.
    fn load(&self, client_id: &str, audience: &str) -> Option<CachedToken>;
    /// Stores a token.
    fn store(&self, client_id: &str, audience: &str, token: &CachedToken);
    /// Forgets the token (it was rejected).
    fn clear(&self, client_id: &str, audience: &str);
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) struct Tokens {
    fixed: Option<String>,
    current: tokio::sync::Mutex<Option<CachedToken>>,
    cache: Option<Arc<dyn TokenCache>>,
    fetched: AtomicU64,
}

impl Tokens {
    pub(crate) fn new(fixed: Option<String>, cache: Option<Arc<dyn TokenCache>>) -> Self {
        Self {
            fixed,
            current: tokio::sync::Mutex::new(None),
            cache,
            fetched: AtomicU64::new(0),
        }
    }
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    expires_in: u64,
}

impl Client {
    /// A valid access token: the cached one, or a fresh one when it is due for refresh.
    /// Concurrent callers share one refresh.
    pub async fn access_token(&self) -> Result<String> {
        let inner = &self.inner;
        if let Some(fixed) = &inner.tokens.fixed {
            return Ok(fixed.clone());
        }
        let mut current = inner.tokens.current.lock().await;
        if let Some(token) = current.as_ref().filter(|t| now() < t.refresh_at) {
            return Ok(token.access_token.clone());
        }
        let client_id = inner.client_id.clone().unwrap_or_default();
        if current.is_none() {
            if let Some(cached) = inner
                .tokens
                .cache
                .as_ref()
                .and_then(|cache| cache.load(&client_id, &inner.audience))
                .filter(|t| now() < t.refresh_at)
            {
                let access_token = cached.access_token.clone();
                *current = Some(cached);
                return Ok(access_token);
            }
        }
        let token = self.request_token().await?;
        if let Some(cache) = &inner.tokens.cache {
            cache.store(&client_id, &inner.audience, &token);
        }
        let access_token = token.access_token.clone();
        *current = Some(token);
        Ok(access_token)
    }

    /// How many tokens this client fetched from the server (not from a cache).
    pub fn tokens_fetched(&self) -> u64 {
        self.inner.tokens.fetched.load(Ordering::Relaxed)
    }

    /// Forgets `stale` if it is still the current token (a `401` said it is no longer good).
    pub(crate) async fn forget_token(&self, stale: &str) {
        let inner = &self.inner;
        let mut current = inner.tokens.current.lock().await;
        if current.as_ref().is_some_and(|t| t.access_token == stale) {
            *current = None;
            if let Some(cache) = &inner.tokens.cache {
                cache.clear(
                    inner.client_id.as_deref().unwrap_or_default(),
                    &inner.audience,
                );
            }
        }
    }

    /// Exchanges the client credentials for a token (`POST /oauth/token`), with `429`
    /// backoff.
    async fn request_token(&self) -> Result<CachedToken> {
        let inner = &self.inner;
        let (Some(client_id), Some(secret)) = (&inner.client_id, &inner.secret) else {
            return Err(Error::Config("no client credentials to get a token".into()));
        };
        let url = self.url("oauth/token")?;
        let mut attempt = 0;
        loop {
            let response = inner
                .http
                .post(url.clone())
                .timeout(inner.timeout)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.expose_secret()),
                    ("audience", inner.audience.as_str()),
                ])
                .send()
                .await?;
            let status = response.status().as_u16();
            if status == 429 && attempt < inner.max_retries {
                attempt += 1;
                self.back_off(attempt, crate::api::retry_after(&response))
                    .await;
                continue;
            }
            let request_id = crate::api::request_id(&response);
            let body = response.bytes().await?;
            if status != 200 {
                return Err(Error::from_body(status, &body, request_id));
            }
            let parsed: TokenBody =
                serde_json::from_slice(&body).map_err(|e| Error::Decode(e.to_string()))?;
            inner.tokens.fetched.fetch_add(1, Ordering::Relaxed);
            let issued = now();
            let lifetime = parsed.expires_in.max(1);
            return Ok(CachedToken {
                access_token: parsed.access_token,
                expires_at: issued + lifetime,
                refresh_at: issued + (lifetime as f64 * inner.refresh_fraction) as u64,
            });
        }
    }

    /// The organisation the API paths name: configured, or the token's `org_id` claim.
    pub async fn organization(&self) -> Result<String> {
        if let Some(organization) = &self.inner.organization {
            return Ok(organization.clone());
        }
        let token = self.access_token().await?;
        let claims = token
            .split('.')
            .nth(1)
            .and_then(|part| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(part)
                    .ok()
            })
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .ok_or_else(|| Error::Decode("the token is not a JWT".into()))?;
        claims
            .get("org_id")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::Config("the token names no organisation; set one with organization()".into())
            })
    }
}
