//! Server configuration, loaded once: defaults < TOML file < `BRANDSTREAM_*` environment <
//! command-line flags. Every field's `///` line is its reference documentation.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use brandstream_auth::{RateLimitSettings, SigningAlgorithm};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};

/// The audience of the hosted Stream APIs; the default, so the documented request works.
pub const DEFAULT_AUDIENCE: &str = "https://api.sitecorecloud.io";

/// Everything `brandstream serve` can be configured with.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Directory holding the SQLite database, the master key file and blobs.
    pub data_dir: PathBuf,
    /// Address to listen on (`HOST:PORT`; port 0 picks a free port).
    pub listen: String,
    /// Token issuer (`iss`) and base of the metadata URLs; default `http://<listen>/`.
    pub issuer: Option<String>,
    /// Database URL: `sqlite:PATH` (default: `DATA_DIR/brandstream.db`) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=…` for scale-out.
    pub database_url: Option<String>,
    /// Most PostgreSQL connections this node keeps open (ignored for SQLite).
    pub database_max_connections: usize,
    /// Apply pending migrations when starting (nodes take turns under an advisory lock).
    /// When off, a node refuses to start on a schema that is behind (`brandstream migrate`).
    pub migrate_on_start: bool,
    /// Blob storage URL (default: `DATA_DIR/blobs`). Used by the document APIs.
    pub blob_url: Option<String>,
    /// Base64 of 32 random bytes. Default: read or create `DATA_DIR/master.key` (mode 0600).
    pub master_key: Option<String>,
    /// During a master-key rotation: the master key being replaced (base64). Stored signing
    /// keys and secret hashes made under it keep working; remove it once `brandstream admin
    /// keys rewrap` has run and every credential has been used (or its secret rotated).
    pub master_key_previous: Option<String>,
    /// Accepted token audiences, comma-separated in the environment. The first is the default
    /// and the one the Stream APIs accept.
    #[serde(deserialize_with = "comma_separated")]
    pub audiences: Vec<String>,
    /// JWS algorithm for new tokens: RS256 (default), ES256 or EdDSA.
    pub signing_alg: String,
    /// Rotate the signing key automatically after this many days (0 disables).
    pub key_rotation_days: u32,
    /// Delete audit events older than this many days (0 keeps them forever).
    pub audit_retention_days: u32,
    /// Seconds clients may cache the JWKS (`Cache-Control: max-age`).
    pub jwks_max_age: u32,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// Log filter in `tracing` syntax, e.g. `info` or `brandstream=debug`.
    pub log_level: String,
    /// Take the caller's address from the last `X-Forwarded-For` entry (set this only when
    /// every request arrives through your own reverse proxy or load balancer).
    pub trust_forwarded_for: bool,
    /// Largest JSON body the REST APIs accept, in bytes.
    pub api_body_limit: usize,
    /// Rate limits of `/oauth/token`.
    pub rate_limits: RateLimitSettings,
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_grace_seconds: u64,
    /// Document upload limits and URL fetching.
    pub documents: DocumentSettings,
    /// Ingestion workers and the extraction sandbox.
    pub pipeline: PipelineSettings,
    /// The sentence-embedding model (semantic features).
    pub embedding: EmbeddingSettings,
    /// Portal sessions and sign-in limits.
    pub portal: PortalSettings,
    /// On first start with no user, creates the user `admin` in the default organisation with
    /// this password (`BRANDSTREAM_ADMIN_PASSWORD`).
    pub admin_password: Option<String>,
}

/// The portal's sessions and sign-in throttling.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PortalSettings {
    /// A session ends after this many minutes without a request.
    pub idle_minutes: u64,
    /// A session ends this many hours after sign-in, active or not.
    pub absolute_hours: u64,
    /// Failed sign-ins allowed per account per minute (burst the same).
    pub attempts_per_account_per_minute: u32,
    /// Sign-in attempts allowed per address per minute (burst the same).
    pub attempts_per_address_per_minute: u32,
    /// Whether the one-time setup link (printed at start-up while no portal user exists) may
    /// be opened from another machine than the server's (default: loopback only).
    pub setup_from_any_address: bool,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self {
            idle_minutes: 30,
            absolute_hours: 12,
            attempts_per_account_per_minute: 5,
            attempts_per_address_per_minute: 20,
            setup_from_any_address: false,
        }
    }
}

/// Limits of the Document Management API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DocumentSettings {
    /// Largest file accepted, in bytes (default 100 MiB).
    pub max_file_bytes: u64,
    /// Most pages a document may have (default 2,000).
    pub max_pages: u32,
    /// Largest decompressed part of a DOCX, in bytes (default 200 MiB).
    pub max_docx_inflated_bytes: u64,
    /// Seconds a URL fetch may take.
    pub fetch_timeout_seconds: u64,
    /// Allow fetching from loopback, private and link-local addresses (off: SSRF protection).
    pub allow_private_urls: bool,
}

impl Default for DocumentSettings {
    fn default() -> Self {
        Self {
            max_file_bytes: 100 * 1024 * 1024,
            max_pages: 2_000,
            max_docx_inflated_bytes: 200 * 1024 * 1024,
            fetch_timeout_seconds: 30,
            allow_private_urls: false,
        }
    }
}

/// The sentence-embedding model behind the semantic features (filling by meaning).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddingSettings {
    /// Directory holding `config.json`, `tokenizer.json` and `model.safetensors`
    /// (`BRANDSTREAM_EMBEDDING__MODEL_DIR`). Unset: the installed model named by `model`
    /// under `<data_dir>/models/` when `brandstream models pull` or `import` put it there;
    /// otherwise semantic features are off.
    pub model_dir: Option<PathBuf>,
    /// Name of the installed model to use (`BRANDSTREAM_EMBEDDING__MODEL`), e.g.
    /// `bge-small-en-v1.5`; default `all-MiniLM-L6-v2`. Ignored when `model_dir` is set.
    pub model: Option<String>,
}

/// The model directory `brandstream models import` installs the default model into.
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";

impl Settings {
    /// The embedding model directory in force: `embedding.model_dir`, else the model named by
    /// `embedding.model` (default [`DEFAULT_MODEL`]) under the data dir — if it is installed
    /// there, or was asked for by name (so a missing one is reported, not ignored).
    pub fn embedding_model_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.embedding.model_dir {
            return Some(dir.clone());
        }
        let named = self
            .embedding
            .model
            .as_deref()
            .filter(|name| !name.is_empty());
        let installed = self
            .data_dir
            .join("models")
            .join(named.unwrap_or(DEFAULT_MODEL));
        (named.is_some() || installed.join("model.safetensors").is_file()).then_some(installed)
    }
}

/// Ingestion workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineSettings {
    /// Runs executed at once by this process (0: this node runs no pipelines).
    pub workers: usize,
    /// Seconds a worker's claim on a run lasts without a heartbeat; a run whose node died is
    /// picked up again after this.
    pub lease_seconds: u64,
    /// Seconds one document's text extraction may take.
    pub extract_timeout_seconds: u64,
    /// Address-space limit of the extraction process, in MiB.
    pub extract_memory_mb: u64,
    /// Extract in a child process (the default); `false` extracts in the server process.
    pub sandbox: bool,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            workers: 2,
            lease_seconds: 30,
            extract_timeout_seconds: 120,
            extract_memory_mb: 1024,
            sandbox: true,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("issuer", &self.issuer)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("database_max_connections", &self.database_max_connections)
            .field("migrate_on_start", &self.migrate_on_start)
            .field("blob_url", &self.blob_url)
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "master_key_previous",
                &self.master_key_previous.as_ref().map(|_| "[redacted]"),
            )
            .field("audiences", &self.audiences)
            .field("signing_alg", &self.signing_alg)
            .field("key_rotation_days", &self.key_rotation_days)
            .field("audit_retention_days", &self.audit_retention_days)
            .field("jwks_max_age", &self.jwks_max_age)
            .field("log_format", &self.log_format)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("rate_limits", &self.rate_limits)
            .field("documents", &self.documents)
            .field("pipeline", &self.pipeline)
            .field("embedding", &self.embedding)
            .field("portal", &self.portal)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Hides a password in a database URL.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://[redacted]@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./brandstream-data"),
            listen: "127.0.0.1:8080".into(),
            issuer: None,
            database_url: None,
            database_max_connections: 16,
            migrate_on_start: true,
            blob_url: None,
            master_key: None,
            master_key_previous: None,
            audiences: vec![DEFAULT_AUDIENCE.into()],
            signing_alg: "RS256".into(),
            key_rotation_days: 30,
            audit_retention_days: 90,
            jwks_max_age: 300,
            log_format: "text".into(),
            log_level: "info".into(),
            trust_forwarded_for: false,
            api_body_limit: 1024 * 1024,
            rate_limits: RateLimitSettings::default(),
            shutdown_grace_seconds: 30,
            documents: DocumentSettings::default(),
            pipeline: PipelineSettings::default(),
            embedding: EmbeddingSettings::default(),
            portal: PortalSettings::default(),
            admin_password: None,
        }
    }
}

fn comma_separated<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(text) => text.split(',').map(str::to_owned).collect(),
        OneOrMany::Many(items) => items,
    };
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// `--issuer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--blob-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_url: Option<String>,
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// Loads the layers. `config_file` defaults to `BRANDSTREAM_CONFIG` when unset; a named
    /// file that does not exist is an error.
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let from_env = std::env::var_os("BRANDSTREAM_CONFIG").map(PathBuf::from);
        if let Some(path) = config_file.map(Path::to_path_buf).or(from_env) {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} not found",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let settings: Settings = figment
            .merge(
                Env::prefixed("BRANDSTREAM_")
                    .split("__")
                    .ignore(&["config"]),
            )
            .merge(Serialized::globals(overrides))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that deserialisation cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.audiences.is_empty() {
            return Err(ConfigError(
                "audiences must name at least one audience".into(),
            ));
        }
        SigningAlgorithm::from_config(&self.signing_alg).map_err(|e| ConfigError(e.to_string()))?;
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ConfigError("log_format must be text or json".into()));
        }
        if let Some(issuer) = &self.issuer {
            if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                return Err(ConfigError("issuer must be an http(s) URL".into()));
            }
        }
        self.listen_address()?;
        if let Some(model) = &self.embedding.model {
            let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
            if model.starts_with('.') || !model.chars().all(plain) {
                return Err(ConfigError(format!(
                    "embedding.model must be the name of an installed model (letters, digits, '-', '_', '.'), got {model:?}"
                )));
            }
        }
        if self.pipeline.lease_seconds < 2 {
            return Err(ConfigError(
                "pipeline.lease_seconds must be at least 2".into(),
            ));
        }
        Ok(())
    }

    /// The parsed listen address.
    pub fn listen_address(&self) -> Result<SocketAddr, ConfigError> {
        self.listen
            .parse()
            .map_err(|_| ConfigError(format!("listen must be HOST:PORT, not '{}'", self.listen)))
    }

    /// The signing algorithm.
    pub fn signing_algorithm(&self) -> SigningAlgorithm {
        SigningAlgorithm::from_config(&self.signing_alg).unwrap_or(SigningAlgorithm::Rs256)
    }

    /// The issuer for a server bound to `bound`: the configured one, with a trailing `/`.
    pub fn issuer_for(&self, bound: SocketAddr) -> String {
        let mut issuer = self
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{bound}/"));
        if !issuer.ends_with('/') {
            issuer.push('/');
        }
        issuer
    }

    /// Whether the database is shared by several nodes (PostgreSQL): then nothing node-local,
    /// such as a generated master key file, may be relied upon.
    pub fn is_shared_database(&self) -> bool {
        self.database_url
            .as_deref()
            .is_some_and(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
    }

    /// The database location: an explicit URL, or the SQLite file in the data dir.
    pub fn database_location(&self) -> DatabaseLocation {
        match &self.database_url {
            Some(url) => DatabaseLocation::Url(url.clone()),
            None => DatabaseLocation::SqliteFile(self.data_dir.join("brandstream.db")),
        }
    }
}

/// Where the database is.
#[derive(Debug, Clone)]
pub enum DatabaseLocation {
    /// The embedded default.
    SqliteFile(PathBuf),
    /// A URL given by configuration.
    Url(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@db/x"),
            "postgres://[redacted]@db/x"
        );
        let settings = Settings {
            master_key: Some("c2VjcmV0".into()),
            database_url: Some("postgres://u:pw@h/d".into()),
            ..Settings::default()
        };
        let debug = format!("{settings:?}");
        assert!(!debug.contains("c2VjcmV0") && !debug.contains("pw@"));
    }

    #[test]
    fn issuer_gets_a_trailing_slash() {
        let settings = Settings {
            issuer: Some("https://auth.example".into()),
            ..Settings::default()
        };
        assert_eq!(
            settings.issuer_for("127.0.0.1:1".parse().unwrap()),
            "https://auth.example/"
        );
        assert_eq!(
            Settings::default().issuer_for("127.0.0.1:9".parse().unwrap()),
            "http://127.0.0.1:9/"
        );
    }
}
