//! Rust SDK for the Stream APIs — Brand Management, Document Management, Pipeline and
//! knowledge search — as served by Brandstream (or the hosted service).
//!
//! The client handles tokens the way the service recommends: it fetches one with the client
//! credentials on first use, caches it, refreshes it at 80 % of its lifetime with a single
//! request shared by every concurrent caller, refreshes once and retries once on a `401`, and
//! waits out `429`s (honouring `Retry-After`, bounded and jittered). The secret and tokens never
//! reach logs or error messages.
//!
//! ```no_run
//! # async fn example() -> Result<(), brandstream_client::Error> {
//! use brandstream_client::Client;
//!
//! let client = Client::builder()
//!     .base_url("http://127.0.0.1:8080")
//!     .credentials("my-client-id", "bss_…")
//!     .organization("org_ABCDEFGHIJKLMNOP")
//!     .build()?;
//! let kit = client.create_kit(&brandstream_client::NewKit::named("Acme")).await?;
//! for section in client.sections(&kit.id).await? {
//!     println!("{}", section.name);
//! }
//! # Ok(())
//! # }
//! ```

mod api;
mod error;
mod token;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

pub use error::Error;
pub use token::{CachedToken, TokenCache};
pub use types::*;

/// The audience of the Stream APIs (the documented token request's).
pub const DEFAULT_AUDIENCE: &str = "https://api.sitecorecloud.io";

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;

/// A connection to one server, for one credential and organisation. Cheap to clone; clones
/// share the token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: url::Url,
    client_id: Option<String>,
    secret: Option<SecretString>,
    audience: String,
    organization: Option<String>,
    tokens: token::Tokens,
    max_retries: u32,
    max_backoff: Duration,
    timeout: Duration,
    refresh_fraction: f64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("client_id", &self.inner.client_id)
            .field("audience", &self.inner.audience)
            .field("organization", &self.inner.organization)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`].
#[derive(Default)]
pub struct ClientBuilder {
    base_url: Option<String>,
    client_id: Option<String>,
    secret: Option<SecretString>,
    audience: Option<String>,
    organization: Option<String>,
    token: Option<String>,
    cache: Option<Arc<dyn TokenCache>>,
    timeout: Option<Duration>,
    max_retries: Option<u32>,
    max_backoff: Option<Duration>,
    refresh_fraction: Option<f64>,
}

impl ClientBuilder {
    /// When to refresh a token, as a fraction of its lifetime (default 0.8).
    pub fn refresh_at(mut self, fraction: f64) -> Self {
        self.refresh_fraction = Some(fraction.clamp(0.0, 1.0));
        self
    }

    /// The server, e.g. `http://127.0.0.1:8080` (a hosted base URL with a path prefix works).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The client credentials exchanged for tokens.
    pub fn credentials(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self.secret = Some(SecretString::from(secret.into()));
        self
    }

    /// The token audience (default [`DEFAULT_AUDIENCE`]).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The organisation the API paths name. Without it, the client reads `org_id` from its
    /// token.
    pub fn organization(mut self, organization: impl Into<String>) -> Self {
        self.organization = Some(organization.into());
        self
    }

    /// A ready access token instead of credentials (it is not refreshed).
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Where tokens are kept between processes (the CLI uses a file in the user's cache dir).
    pub fn token_cache(mut self, cache: Arc<dyn TokenCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Time limit of one HTTP request (default 60 s; uploads get no overall limit).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Retries after `429` (default 3) and the longest wait between them (default 30 s).
    pub fn retries(mut self, max_retries: u32, max_backoff: Duration) -> Self {
        self.max_retries = Some(max_retries);
        self.max_backoff = Some(max_backoff);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client> {
        let base = self
            .base_url
            .ok_or_else(|| Error::Config("a base URL is required".into()))?;
        let mut base = url::Url::parse(base.trim())
            .map_err(|e| Error::Config(format!("invalid base URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config("the base URL must be http or https".into()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        if self.client_id.is_none() && self.token.is_none() {
            return Err(Error::Config(
                "credentials (client id and secret) or an access token are required".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("brandstream-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        let audience = self.audience.unwrap_or_else(|| DEFAULT_AUDIENCE.into());
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                tokens: token::Tokens::new(self.token, self.cache),
                client_id: self.client_id,
                secret: self.secret,
                audience,
                organization: self.organization,
                max_retries: self.max_retries.unwrap_or(3),
                max_backoff: self.max_backoff.unwrap_or(Duration::from_secs(30)),
                timeout: self.timeout.unwrap_or(Duration::from_secs(60)),
                refresh_fraction: self.refresh_fraction.unwrap_or(0.8),
            }),
        })
    }
}

impl Client {
    /// Starts building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }
}
