//! The client commands (`token`, `kits`, `sections`, `fields`, `docs`, `ingest`, `enrich`,
//! `runs`, `search`, `configure`): thin wrappers around the SDK with table or JSON output.
//!
//! Connection settings: flags, then `BRANDSTREAM_URL` / `_CLIENT_ID` / `_CLIENT_SECRET` /
//! `_ORG` / `_AUDIENCE`, then a profile of the user's config file. The secret is never written
//! anywhere; tokens are cached (mode 0600) in the user's cache dir.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use brandstream_client::{CachedToken, Client, NewField, NewKit, TokenCache, UploadOptions};
use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::table;

/// Exit code of an API error.
pub const EXIT_API: u8 = 1;
/// Exit code of a usage or configuration error.
pub const EXIT_USAGE: u8 = 2;

/// Why a client command failed, with its exit code.
pub struct Failure {
    /// 1 (API) or 2 (usage).
    pub code: u8,
    /// One line for people.
    pub message: String,
}

impl From<brandstream_client::Error> for Failure {
    fn from(error: brandstream_client::Error) -> Self {
        let code = match error {
            brandstream_client::Error::Config(_) => EXIT_USAGE,
            _ => EXIT_API,
        };
        Failure {
            code,
            message: error.to_string(),
        }
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_USAGE,
        message: message.into(),
    }
}

/// Output format.
#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum Output {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON document for scripts.
    Json,
}

/// Where to connect and as whom.
#[derive(Args, Clone, Debug)]
pub struct Connection {
    /// Server base URL (BRANDSTREAM_URL).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Client ID (BRANDSTREAM_CLIENT_ID).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Client secret (prefer BRANDSTREAM_CLIENT_SECRET or --client-secret-file: flags show up
    /// in process lists).
    #[arg(long, value_name = "SECRET")]
    pub client_secret: Option<String>,
    /// File holding the client secret.
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Token audience (BRANDSTREAM_AUDIENCE) [default: https://api.sitecorecloud.io].
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,
    /// Organisation (BRANDSTREAM_ORG) [default: the token's].
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// Profile of the config file (BRANDSTREAM_PROFILE) [default: default].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// A saved connection (never the secret).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Profile {
    /// Server base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Client ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// A file holding the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    profiles: std::collections::BTreeMap<String, Profile>,
}

/// The user's config file: `BRANDSTREAM_CLIENT_CONFIG`, or `<config dir>/brandstream/config.toml`.
pub fn config_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BRANDSTREAM_CLIENT_CONFIG") {
        return Some(PathBuf::from(path));
    }
    dirs::config_dir().map(|dir| dir.join("brandstream").join("config.toml"))
}

fn load_config() -> Result<ConfigFile, Failure> {
    let Some(path) = config_path() else {
        return Ok(ConfigFile::default());
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(error) => Err(usage(format!("cannot read {}: {error}", path.display()))),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Writes `bytes` to `path` atomically with mode 0600 (temporary file, then rename).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}

/// Tokens cached in `<cache dir>/brandstream/tokens/`, one file per server, client id,
/// audience and secret, mode 0600. Holds the token and its timing, never the secret: the
/// secret enters the file name only as a keyed hash (HMAC-SHA256 under a random key kept in
/// the cache dir, mode 0600), so a changed or wrong secret never reuses a token fetched with
/// another one, and the name reveals nothing about the secret.
struct FileTokenCache {
    dir: PathBuf,
    url: String,
    secret_tag: String,
}

/// The cache's HMAC key file (32 random bytes, created on first use).
const CACHE_KEY_FILE: &str = ".key";

impl FileTokenCache {
    /// A cache for `secret`'s tokens in `dir`; `None` when the key cannot be read or made
    /// (then tokens are simply not cached).
    fn new(dir: PathBuf, url: String, secret: &str) -> Option<Self> {
        let key_path = dir.join(CACHE_KEY_FILE);
        let key = match std::fs::read(&key_path) {
            Ok(key) if key.len() == 32 => key,
            _ => {
                let mut key = [0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key).ok()?;
                std::fs::create_dir_all(&dir).ok()?;
                write_private(&key_path, &key).ok()?;
                key.to_vec()
            }
        };
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
            secret.as_bytes(),
        );
        Some(Self {
            dir,
            url,
            secret_tag: hex::encode(tag.as_ref()),
        })
    }

    fn path(&self, client_id: &str, audience: &str) -> PathBuf {
        use sha2::Digest;
        let key = sha2::Sha256::digest(format!(
            "{}\n{client_id}\n{audience}\n{}",
            self.url, self.secret_tag
        ));
        self.dir.join(format!("{}.json", &hex::encode(key)[..32]))
    }
}

impl TokenCache for FileTokenCache {
    fn load(&self, client_id: &str, audience: &str) -> Option<CachedToken> {
        let text = std::fs::read(self.path(client_id, audience)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    fn store(&self, client_id: &str, audience: &str, token: &CachedToken) {
        if let Ok(bytes) = serde_json::to_vec(token) {
            let _ = write_private(&self.path(client_id, audience), &bytes);
        }
    }

    fn clear(&self, client_id: &str, audience: &str) {
        let _ = std::fs::remove_file(self.path(client_id, audience));
    }
}

/// The token cache directory: `BRANDSTREAM_CACHE_DIR`, or `<cache dir>/brandstream/tokens`.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BRANDSTREAM_CACHE_DIR") {
        return Some(PathBuf::from(path));
    }
    dirs::cache_dir().map(|dir| dir.join("brandstream").join("tokens"))
}

impl Connection {
    fn profile(&self) -> Result<Profile, Failure> {
        let name = self
            .profile
            .clone()
            .or_else(|| env("BRANDSTREAM_PROFILE"))
            .unwrap_or_else(|| "default".into());
        let config = load_config()?;
        match config.profiles.get(&name) {
            Some(profile) => Ok(profile.clone()),
            None if self.profile.is_some() => Err(usage(format!("no profile named {name}"))),
            None => Ok(Profile::default()),
        }
    }

    /// The SDK client for these settings.
    pub fn client(&self) -> Result<Client, Failure> {
        let profile = self.profile()?;
        let url = self
            .url
            .clone()
            .or_else(|| env("BRANDSTREAM_URL"))
            .or(profile.url.clone())
            .ok_or_else(|| {
                usage("no server URL: use --url, BRANDSTREAM_URL or brandstream configure")
            })?;
        let client_id = self
            .client_id
            .clone()
            .or_else(|| env("BRANDSTREAM_CLIENT_ID"))
            .or(profile.client_id.clone())
            .ok_or_else(|| {
                usage(
                    "no client ID: use --client-id, BRANDSTREAM_CLIENT_ID or brandstream configure",
                )
            })?;
        let secret = self.secret(&profile)?;
        let cache = cache_dir().and_then(|dir| FileTokenCache::new(dir, url.clone(), &secret));
        let audience = self
            .audience
            .clone()
            .or_else(|| env("BRANDSTREAM_AUDIENCE"))
            .or(profile.audience.clone())
            .unwrap_or_else(|| brandstream_client::DEFAULT_AUDIENCE.into());
        let mut builder = Client::builder()
            .base_url(url.clone())
            .credentials(client_id, secret)
            .audience(audience);
        if let Some(org) = self
            .org
            .clone()
            .or_else(|| env("BRANDSTREAM_ORG"))
            .or(profile.org)
        {
            builder = builder.organization(org);
        }
        if let Some(cache) = cache {
            builder = builder.token_cache(Arc::new(cache));
        }
        builder.build().map_err(Failure::from)
    }

    fn secret(&self, profile: &Profile) -> Result<String, Failure> {
        if let Some(secret) = &self.client_secret {
            return Ok(secret.clone());
        }
        if let Some(secret) = env("BRANDSTREAM_CLIENT_SECRET") {
            return Ok(secret);
        }
        if let Some(file) = self
            .client_secret_file
            .as_ref()
            .or(profile.secret_file.as_ref())
        {
            return std::fs::read_to_string(file)
                .map(|text| text.trim().to_owned())
                .map_err(|e| {
                    usage(format!(
                        "cannot read the secret file {}: {e}",
                        file.display()
                    ))
                });
        }
        if std::io::stdin().is_terminal() {
            return rpassword::prompt_password("Client secret: ")
                .map_err(|e| usage(format!("cannot read the secret: {e}")));
        }
        Err(usage(
            "no client secret: set BRANDSTREAM_CLIENT_SECRET, --client-secret-file, or run on a terminal to be asked",
        ))
    }
}

/// Client subcommands.
#[derive(Subcommand)]
pub enum ClientCommand {
    /// Print an access token (for curl and friends).
    ///
    /// Example: curl -H "Authorization: Bearer $(brandstream token)" …
    Token {
        #[command(flatten)]
        connection: Connection,
    },
    /// Brand kits.
    #[command(subcommand)]
    Kits(KitCommand),
    /// Brand-kit sections.
    #[command(subcommand)]
    Sections(SectionCommand),
    /// Subsections (fields).
    #[command(subcommand)]
    Fields(FieldCommand),
    /// Brand documents.
    #[command(subcommand)]
    Docs(DocCommand),
    /// Start brand ingestion of a kit's documents.
    ///
    /// Example: brandstream ingest --kit 98689dd5-… --wait
    Ingest {
        #[command(flatten)]
        connection: Connection,
        /// The brand kit.
        #[arg(long)]
        kit: String,
        /// Only these documents (repeatable) [default: every unprocessed document of the kit].
        #[arg(long = "doc")]
        docs: Vec<String>,
        /// Index only; do not fill subsections.
        #[arg(long)]
        no_populate: bool,
        /// Wait for the run to end, showing progress.
        #[arg(long)]
        wait: bool,
    },
    /// Start section enrichment from the kit's knowledge.
    ///
    /// Example: brandstream enrich --kit 98689dd5-… --section b2f2e1a1-… --wait
    Enrich {
        #[command(flatten)]
        connection: Connection,
        /// The brand kit.
        #[arg(long)]
        kit: String,
        /// Only this section.
        #[arg(long)]
        section: Option<String>,
        /// Only this subsection (with --section).
        #[arg(long)]
        field: Option<String>,
        /// Wait for the run to end, showing progress.
        #[arg(long)]
        wait: bool,
    },
    /// Pipeline runs.
    #[command(subcommand)]
    Runs(RunCommand),
    /// Search a kit's knowledge.
    ///
    /// Example: brandstream search "minimum logo size" --kit 98689dd5-…
    Search {
        #[command(flatten)]
        connection: Connection,
        /// What to look for.
        query: String,
        /// The brand kit.
        #[arg(long)]
        kit: Option<String>,
        /// How many results.
        #[arg(long, default_value_t = 5)]
        limit: i64,
    },
    /// Save connection settings (never the secret) as a profile of the config file.
    ///
    /// Example: brandstream configure --url http://127.0.0.1:8080 --client-id … --org org_…
    Configure {
        /// Profile name.
        #[arg(long, default_value = "default")]
        profile: String,
        /// Server base URL.
        #[arg(long)]
        url: Option<String>,
        /// Client ID.
        #[arg(long)]
        client_id: Option<String>,
        /// Organisation.
        #[arg(long)]
        org: Option<String>,
        /// Audience.
        #[arg(long)]
        audience: Option<String>,
        /// A file the secret is read from.
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
}

/// `kits` subcommands.
#[derive(Subcommand)]
pub enum KitCommand {
    /// Create a kit. Example: brandstream kits create "Acme EU" --description "EU market"
    Create {
        #[command(flatten)]
        connection: Connection,
        /// Name.
        name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
    },
    /// List kits. Example: brandstream kits list --output json
    List {
        #[command(flatten)]
        connection: Connection,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show a kit. Example: brandstream kits get 98689dd5-…
    Get {
        #[command(flatten)]
        connection: Connection,
        /// Kit id.
        id: String,
    },
    /// Change a kit. Example: brandstream kits update KIT --set '{"locked": true}'
    Update {
        #[command(flatten)]
        connection: Connection,
        /// Kit id.
        id: String,
        /// JSON object of the keys to set.
        #[arg(long)]
        set: String,
    },
    /// Delete a kit. Example: brandstream kits delete 98689dd5-…
    Delete {
        #[command(flatten)]
        connection: Connection,
        /// Kit id.
        id: String,
    },
}

/// `sections` subcommands.
#[derive(Subcommand)]
pub enum SectionCommand {
    /// List a kit's sections. Example: brandstream sections list --kit 98689dd5-…
    List {
        #[command(flatten)]
        connection: Connection,
        /// Kit id.
        #[arg(long)]
        kit: String,
    },
}

/// `fields` subcommands.
#[derive(Subcommand)]
pub enum FieldCommand {
    /// List a section's subsections. Example: brandstream fields list --kit K --section S
    List {
        #[command(flatten)]
        connection: Connection,
        /// Kit id.
        #[arg(long)]
        kit: String,
        /// Section id.
        #[arg(long)]
        section: String,
    },
    /// Add a subsection. Example: brandstream fields create --kit K --section S --name Mascot --value '"A heron"'
    Create {
        #[command(flatten)]
        connection: Connection,
        /// Kit id.
        #[arg(long)]
        kit: String,
        /// Section id.
        #[arg(long)]
        section: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// text | array | richArray.
        #[arg(long = "type", default_value = "text")]
        field_type: String,
        /// Initial value as JSON.
        #[arg(long)]
        value: Option<String>,
    },
    /// Change a subsection. Example: brandstream fields update --kit K --section S FIELD --set '{"value": "…"}'
    Update {
        #[command(flatten)]
        connection: Connection,
        /// Kit id.
        #[arg(long)]
        kit: String,
        /// Section id.
        #[arg(long)]
        section: String,
        /// Field id.
        id: String,
        /// JSON object of the keys to set.
        #[arg(long)]
        set: String,
    },
    /// Delete a subsection. Example: brandstream fields delete --kit K --section S FIELD
    Delete {
        #[command(flatten)]
        connection: Connection,
        /// Kit id.
        #[arg(long)]
        kit: String,
        /// Section id.
        #[arg(long)]
        section: String,
        /// Field id.
        id: String,
    },
}

/// `docs` subcommands.
#[derive(Subcommand)]
pub enum DocCommand {
    /// Upload files to a kit. Example: brandstream docs upload guidelines.pdf tone.md --kit K
    Upload {
        #[command(flatten)]
        connection: Connection,
        /// Files to upload.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The brand kit they belong to.
        #[arg(long)]
        kit: String,
    },
    /// List documents. Example: brandstream docs list --kit 98689dd5-…
    List {
        #[command(flatten)]
        connection: Connection,
        /// Only this kit's.
        #[arg(long)]
        kit: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show a document (status, pages, summary). Example: brandstream docs get 30e73070-…
    Get {
        #[command(flatten)]
        connection: Connection,
        /// Document id.
        id: String,
    },
    /// Delete a document (its file, chunks and references). Example: brandstream docs delete 30e73070-…
    Delete {
        #[command(flatten)]
        connection: Connection,
        /// Document id.
        id: String,
    },
}

/// `runs` subcommands.
#[derive(Subcommand)]
pub enum RunCommand {
    /// Show a run. Example: brandstream runs get e774b4b6-…
    Get {
        #[command(flatten)]
        connection: Connection,
        /// Run id.
        id: String,
    },
    /// List runs, newest first. Example: brandstream runs list --kit 98689dd5-…
    List {
        #[command(flatten)]
        connection: Connection,
        /// Only this kit's.
        #[arg(long)]
        kit: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

fn print_json<T: Serialize>(value: &T) {
    say!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into())
    );
}

fn parse_json(text: &str, what: &str) -> Result<Value, Failure> {
    serde_json::from_str(text).map_err(|e| usage(format!("{what} is not valid JSON: {e}")))
}

fn value_summary(value: &Value) -> String {
    match value {
        Value::String(text) => text.replace('\n', " "),
        Value::Array(items) => format!("{} entries", items.len()),
        other => other.to_string(),
    }
}

async fn wait(
    client: &Client,
    run: brandstream_client::Run,
    output: Output,
) -> Result<(), Failure> {
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut last = String::new();
    let run = client
        .wait_for_run(&run.id, Duration::from_secs(3600), |run| {
            let line = format!(
                "{} {} {}/{}",
                run.status,
                run.progress
                    .get("stage")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                run.progress
                    .get("documentsDone")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                run.progress
                    .get("documentsTotal")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
            );
            if line != last {
                match &bar {
                    Some(bar) => bar.set_message(line.clone()),
                    None => eprintln!("{line}"),
                }
                last = line;
            }
        })
        .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    print_run(&run, output);
    if run.status == "Succeeded" {
        Ok(())
    } else {
        Err(Failure {
            code: EXIT_API,
            message: format!("run {} {}: {}", run.id, run.status, run.message),
        })
    }
}

fn print_run(run: &brandstream_client::Run, output: Output) {
    match output {
        Output::Json => print_json(run),
        Output::Table => table(
            &["ID", "PIPELINE", "STATUS", "MESSAGE"],
            &[vec![
                run.id.clone(),
                run.pipeline_id.clone(),
                run.status.clone(),
                run.message.clone(),
            ]],
        ),
    }
}

/// Runs a client command.
pub async fn run(command: ClientCommand) -> Result<(), Failure> {
    match command {
        ClientCommand::Token { connection } => {
            let client = connection.client()?;
            let token = client.access_token().await?;
            match connection.output {
                Output::Json => print_json(&json!({"access_token": token, "token_type": "Bearer"})),
                Output::Table => say!("{token}"),
            }
        }
        ClientCommand::Configure {
            profile,
            url,
            client_id,
            org,
            audience,
            secret_file,
        } => {
            let path = config_path().ok_or_else(|| usage("no config directory on this system"))?;
            let mut config = load_config()?;
            let entry = config.profiles.entry(profile.clone()).or_default();
            entry.url = url.or(entry.url.take());
            entry.client_id = client_id.or(entry.client_id.take());
            entry.org = org.or(entry.org.take());
            entry.audience = audience.or(entry.audience.take());
            entry.secret_file = secret_file.or(entry.secret_file.take());
            let text = toml::to_string_pretty(&config).map_err(|e| usage(e.to_string()))?;
            write_private(&path, text.as_bytes())
                .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?;
            eprintln!(
                "saved profile {profile} in {} (the secret is not stored)",
                path.display()
            );
        }
        ClientCommand::Kits(command) => kits(command).await?,
        ClientCommand::Sections(SectionCommand::List { connection, kit }) => {
            let client = connection.client()?;
            let sections = client.sections(&kit).await?;
            match connection.output {
                Output::Json => print_json(&sections),
                Output::Table => table(
                    &["ID", "ORDER", "NAME"],
                    &sections
                        .iter()
                        .map(|s| vec![s.id.clone(), s.order.to_string(), s.name.clone()])
                        .collect::<Vec<_>>(),
                ),
            }
        }
        ClientCommand::Fields(command) => fields(command).await?,
        ClientCommand::Docs(command) => docs(command).await?,
        ClientCommand::Ingest {
            connection,
            kit,
            docs,
            no_populate,
            wait: wait_for_it,
        } => {
            let client = connection.client()?;
            let run = client.ingest(&kit, &docs, !no_populate).await?;
            if wait_for_it {
                wait(&client, run, connection.output).await?;
            } else {
                print_run(&run, connection.output);
            }
        }
        ClientCommand::Enrich {
            connection,
            kit,
            section,
            field,
            wait: wait_for_it,
        } => {
            let client = connection.client()?;
            let run = client
                .enrich(&kit, section.as_deref(), field.as_deref())
                .await?;
            if wait_for_it {
                wait(&client, run, connection.output).await?;
            } else {
                print_run(&run, connection.output);
            }
        }
        ClientCommand::Runs(RunCommand::Get { connection, id }) => {
            let client = connection.client()?;
            print_run(&client.run(&id).await?, connection.output);
        }
        ClientCommand::Runs(RunCommand::List {
            connection,
            kit,
            limit,
        }) => {
            let client = connection.client()?;
            let page = client
                .list_runs(kit.as_deref(), limit.clamp(1, 100))
                .await?;
            match connection.output {
                Output::Json => print_json(&page),
                Output::Table => table(
                    &["ID", "PIPELINE", "STATUS", "MESSAGE"],
                    &page
                        .data
                        .iter()
                        .map(|r| {
                            vec![
                                r.id.clone(),
                                r.pipeline_id.clone(),
                                r.status.clone(),
                                r.message.clone(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        }
        ClientCommand::Search {
            connection,
            query,
            kit,
            limit,
        } => {
            let client = connection.client()?;
            // The API filters by the kit id without checking it names a kit (an unknown id
            // finds nothing); say so instead of printing an empty result.
            if let Some(kit) = &kit {
                client.kit(kit).await?;
            }
            let page = client
                .search(&query, kit.as_deref(), limit.clamp(1, 100))
                .await?;
            match connection.output {
                Output::Json => print_json(&page),
                Output::Table => table(
                    &["SCORE", "PAGE", "HEADING", "TEXT"],
                    &page
                        .data
                        .iter()
                        .map(|c| {
                            vec![
                                format!("{:.2}", c.score.unwrap_or(0.0)),
                                c.page.to_string(),
                                c.heading.clone(),
                                c.text.replace('\n', " "),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        }
    }
    Ok(())
}

async fn kits(command: KitCommand) -> Result<(), Failure> {
    let print = |kit: &brandstream_client::BrandKit, output: Output| match output {
        Output::Json => print_json(kit),
        Output::Table => table(
            &["ID", "NAME", "STATUS", "LOCKED"],
            &[vec![
                kit.id.clone(),
                kit.name.clone(),
                kit.status.clone(),
                kit.locked.to_string(),
            ]],
        ),
    };
    match command {
        KitCommand::Create {
            connection,
            name,
            description,
        } => {
            let client = connection.client()?;
            let kit = client
                .create_kit(&NewKit {
                    name,
                    description,
                    ..NewKit::default()
                })
                .await?;
            print(&kit, connection.output);
        }
        KitCommand::List { connection, limit } => {
            let client = connection.client()?;
            let page = client.list_kits(1, limit.clamp(1, 100)).await?;
            match connection.output {
                Output::Json => print_json(&page),
                Output::Table => table(
                    &["ID", "NAME", "STATUS", "LOCKED"],
                    &page
                        .data
                        .iter()
                        .map(|k| {
                            vec![
                                k.id.clone(),
                                k.name.clone(),
                                k.status.clone(),
                                k.locked.to_string(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        }
        KitCommand::Get { connection, id } => {
            let client = connection.client()?;
            print(&client.kit(&id).await?, connection.output);
        }
        KitCommand::Update {
            connection,
            id,
            set,
        } => {
            let changes = parse_json(&set, "--set")?;
            let client = connection.client()?;
            print(&client.update_kit(&id, &changes).await?, connection.output);
        }
        KitCommand::Delete { connection, id } => {
            let client = connection.client()?;
            client.delete_kit(&id).await?;
            if connection.output == Output::Json {
                print_json(&json!({"deleted": id}));
            }
        }
    }
    Ok(())
}

async fn fields(command: FieldCommand) -> Result<(), Failure> {
    let print = |field: &brandstream_client::Field, output: Output| match output {
        Output::Json => print_json(field),
        Output::Table => table(
            &["ID", "NAME", "TYPE", "VALUE"],
            &[vec![
                field.id.clone(),
                field.name.clone(),
                field.field_type.clone(),
                value_summary(&field.value),
            ]],
        ),
    };
    match command {
        FieldCommand::List {
            connection,
            kit,
            section,
        } => {
            let client = connection.client()?;
            let fields = client.fields(&kit, &section).await?;
            match connection.output {
                Output::Json => print_json(&fields),
                Output::Table => table(
                    &["ID", "NAME", "TYPE", "VALUE"],
                    &fields
                        .iter()
                        .map(|f| {
                            vec![
                                f.id.clone(),
                                f.name.clone(),
                                f.field_type.clone(),
                                value_summary(&f.value),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        }
        FieldCommand::Create {
            connection,
            kit,
            section,
            name,
            field_type,
            value,
        } => {
            let value = value.map(|v| parse_json(&v, "--value")).transpose()?;
            let client = connection.client()?;
            let field = client
                .create_field(
                    &kit,
                    &section,
                    &NewField {
                        name,
                        field_type,
                        value,
                        deletable: Some(true),
                        ..NewField::default()
                    },
                )
                .await?;
            print(&field, connection.output);
        }
        FieldCommand::Update {
            connection,
            kit,
            section,
            id,
            set,
        } => {
            let changes = parse_json(&set, "--set")?;
            let client = connection.client()?;
            print(
                &client.update_field(&kit, &section, &id, &changes).await?,
                connection.output,
            );
        }
        FieldCommand::Delete {
            connection,
            kit,
            section,
            id,
        } => {
            let client = connection.client()?;
            client.delete_field(&kit, &section, &id).await?;
            if connection.output == Output::Json {
                print_json(&json!({"deleted": id}));
            }
        }
    }
    Ok(())
}

async fn docs(command: DocCommand) -> Result<(), Failure> {
    let row = |d: &brandstream_client::Document| {
        vec![
            d.id.clone(),
            d.title.clone(),
            d.file_type.clone(),
            d.status.clone(),
            d.number_of_pages.to_string(),
        ]
    };
    let headers = ["ID", "TITLE", "TYPE", "STATUS", "PAGES"];
    match command {
        DocCommand::Upload {
            connection,
            files,
            kit,
        } => {
            let client = connection.client()?;
            let mut uploaded = Vec::new();
            let print = |uploaded: &[brandstream_client::Document]| match connection.output {
                Output::Json => print_json(&uploaded),
                Output::Table => table(&headers, &uploaded.iter().map(row).collect::<Vec<_>>()),
            };
            for file in files {
                // Drawn only once the upload has a size: no "0 B/0 B" flash.
                let bar = std::io::stderr().is_terminal().then(|| {
                    let bar = indicatif::ProgressBar::with_draw_target(
                        Some(0),
                        indicatif::ProgressDrawTarget::hidden(),
                    );
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{msg} {bar:30} {bytes}/{total_bytes}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                    bar.set_message(file.display().to_string());
                    bar
                });
                let report: Option<Arc<dyn Fn(u64, u64) + Send + Sync>> = bar.clone().map(|bar| {
                    Arc::new(move |sent: u64, total: u64| {
                        if total > 0 && bar.is_hidden() {
                            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                        }
                        bar.set_length(total);
                        bar.set_position(sent);
                    }) as Arc<dyn Fn(u64, u64) + Send + Sync>
                });
                let options = UploadOptions {
                    kit_ids: vec![kit.clone()],
                    ..UploadOptions::default()
                };
                let result = client.upload(&file, &options, report).await;
                if let Some(bar) = &bar {
                    bar.finish_and_clear();
                }
                match result {
                    Ok(document) => {
                        if bar.is_none() && connection.output == Output::Table {
                            eprintln!("uploaded {}", file.display());
                        }
                        uploaded.push(document);
                    }
                    Err(error) => {
                        // What did go up is shown before the error that stopped the rest.
                        if !uploaded.is_empty() {
                            print(&uploaded);
                        }
                        let mut failure = Failure::from(error);
                        failure.message = format!("{}: {}", file.display(), failure.message);
                        return Err(failure);
                    }
                }
            }
            print(&uploaded);
        }
        DocCommand::List {
            connection,
            kit,
            limit,
        } => {
            let client = connection.client()?;
            let page = client
                .list_documents(kit.as_deref(), 1, limit.clamp(1, 100))
                .await?;
            match connection.output {
                Output::Json => print_json(&page),
                Output::Table => table(&headers, &page.data.iter().map(row).collect::<Vec<_>>()),
            }
        }
        DocCommand::Get { connection, id } => {
            let client = connection.client()?;
            let document = client.document(&id).await?;
            match connection.output {
                Output::Json => print_json(&document),
                Output::Table => table(&headers, &[row(&document)]),
            }
        }
        DocCommand::Delete { connection, id } => {
            let client = connection.client()?;
            client.delete_document(&id).await?;
            if connection.output == Output::Json {
                print_json(&json!({"deleted": id}));
            }
        }
    }
    Ok(())
}
