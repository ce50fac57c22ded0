//! `brandstream admin …`: organisations, credentials, signing keys and the audit trail,
//! operating directly on the data dir or database.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use brandstream_auth::credentials::CredentialAdmin;
use brandstream_auth::keys::{KeySummary, Keyring};
use brandstream_auth::{CreateCredential, MasterKey, SecretHasher};
use brandstream_domain::{ClientId, OrgId, Scope, ScopeSet};
use brandstream_server::{load_master_key, open_store, Overrides, Settings};
use brandstream_store::{ClientRecord, Store};
use clap::{Args, Subcommand};
use serde_json::json;

const SECRET_WARNING: &str =
    "The client secret is displayed only once and cannot be retrieved later. Store it safely now.";
const ACTOR: &str = "admin-cli";

#[derive(Args)]
pub struct AdminArgs {
    /// TOML configuration file (also BRANDSTREAM_CONFIG).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Data directory [default: ./brandstream-data] (BRANDSTREAM_DATA_DIR).
    /// With a PostgreSQL database it is only where `master.key` may be found.
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL, `sqlite:PATH` or `postgres://…` (BRANDSTREAM_DATABASE_URL).
    #[arg(long, value_name = "URL", global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create the data dir (database, master key, default organisation) if it does not exist
    /// yet. `brandstream serve` does the same on its first start; the other admin commands
    /// never create one, and refuse to run where there is none.
    Init,
    /// Organisations.
    #[command(subcommand)]
    Orgs(OrgCommand),
    /// API credentials (OAuth clients).
    #[command(subcommand)]
    Credentials(CredentialCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Portal users.
    #[command(subcommand)]
    Users(UserCommand),
    /// Show the newest audit events.
    ///
    /// Example: brandstream admin audit --org org_… --limit 20
    Audit {
        /// Only events of this organisation.
        #[arg(long)]
        org: Option<String>,
        /// How many events (1–10000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a portal user with a role in an organisation; the password is read from stdin.
    ///
    /// Example: printf '%s' "$PASSWORD" | brandstream admin users create --username ada --org org_… --role admin --password-stdin
    Create {
        /// Sign-in name (3–64 letters, digits, . _ - @).
        #[arg(long)]
        username: String,
        /// Organisation.
        #[arg(long)]
        org: String,
        /// admin or member.
        #[arg(long, default_value = "member", value_parser = ["admin", "member"])]
        role: String,
        /// Read the password from stdin (the only way: passwords never go on command lines).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organisation.
    ///
    /// Example: brandstream admin orgs create --name "Acme" --json
    Create {
        /// Its name (1–100 characters).
        #[arg(long)]
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List organisations.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CredentialCommand {
    /// Create a credential and print its client id and secret (shown once).
    ///
    /// Example: brandstream admin credentials create --org org_… --label "CI" --scope ai.org.brd:r
    Create {
        /// Owning organisation.
        #[arg(long)]
        org: String,
        /// Label (1–100 characters).
        #[arg(long)]
        label: String,
        /// Description (up to 500 characters).
        #[arg(long)]
        description: Option<String>,
        /// Granted scope; repeat for several [default: all five].
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Access-token lifetime in seconds (60–2592000) [default: 86400].
        #[arg(long)]
        expires_in: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List an organisation's credentials (never their secrets).
    List {
        /// The organisation.
        #[arg(long)]
        org: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a credential: every secret stops working and its tokens are rejected.
    Revoke {
        /// The client id.
        client_id: String,
    },
    /// Add a new secret; the previous one stays valid until retired (zero-downtime rotation).
    RotateSecret {
        /// The client id.
        client_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Retire the older of two active secrets.
    RetireSecret {
        /// The client id.
        client_id: String,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// List signing keys (public facts only).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rotate: the published next key starts signing; the current one is retired but stays
    /// published until its tokens expire.
    Rotate,
    /// Re-encrypt the stored private keys under the current master key (during a master-key
    /// rotation, with BRANDSTREAM_MASTER_KEY_PREVIOUS set to the old key).
    Rewrap,
}

struct AdminContext {
    settings: Settings,
    store: Arc<dyn Store>,
    master: MasterKey,
    admin: CredentialAdmin,
}

async fn open(args: &AdminArgs) -> anyhow::Result<AdminContext> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        database_url: args.database_url.clone(),
        ..Overrides::default()
    };
    let settings = Settings::load(args.config.as_deref(), &overrides)?;
    brandstream_server::telemetry::init_logging("text", "warn");
    if !matches!(args.command, AdminCommand::Init) {
        ensure_initialised(&settings)?;
    }
    let store = open_store(&settings)
        .await
        .context("opening the database")?;
    let (master, _) = load_master_key(&settings)?;
    let hasher = Arc::new(SecretHasher::new(&master));
    let admin = CredentialAdmin::new(Arc::clone(&store), hasher);
    // The first start of the server creates the default organisation; so does the first
    // administration command, so credentials can be created before the server ever ran.
    admin.ensure_default_org().await?;
    Ok(AdminContext {
        settings,
        store,
        master,
        admin,
    })
}

/// Refuses to go on where no server's data is: an admin command run from another directory
/// would otherwise create a second database with its own master key and organisation, whose
/// credentials the running server does not know.
fn ensure_initialised(settings: &Settings) -> anyhow::Result<()> {
    if settings.is_shared_database() {
        // The database is the server's; the master key must be given (checked on load).
        return Ok(());
    }
    let brandstream_server::config::DatabaseLocation::SqliteFile(database) =
        settings.database_location()
    else {
        return Ok(());
    };
    let key = settings
        .data_dir
        .join(brandstream_auth::master::MASTER_KEY_FILE);
    let missing = if !database.is_file() {
        Some(database.display().to_string())
    } else if settings.master_key.is_none() && !key.is_file() {
        Some(key.display().to_string())
    } else {
        None
    };
    if let Some(missing) = missing {
        anyhow::bail!(
            "no Brandstream data in {} (there is no {missing}); admin commands do not create \
             one. Point them at the server's data dir with --data-dir DIR, BRANDSTREAM_DATA_DIR \
             or data_dir in the config file (--config FILE / BRANDSTREAM_CONFIG) — or create it \
             here with `brandstream admin init` (`brandstream serve` creates it on first start)",
            settings.data_dir.display()
        );
    }
    Ok(())
}

fn time(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| seconds.to_string())
}

fn print_json(value: &serde_json::Value) {
    say!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Prints `items` as a JSON array (`json`) or as a table with `headers`.
fn print_list<T>(
    json: bool,
    items: &[T],
    to_json: impl Fn(&T) -> serde_json::Value,
    headers: &[&str],
    to_row: impl Fn(&T) -> Vec<String>,
) {
    if json {
        print_json(&serde_json::Value::Array(
            items.iter().map(to_json).collect(),
        ));
    } else {
        let rows: Vec<Vec<String>> = items.iter().map(to_row).collect();
        crate::table(headers, &rows);
    }
}

impl AdminContext {
    /// The signing keyring on this context's store.
    async fn keyring(&self) -> anyhow::Result<Keyring> {
        Ok(Keyring::open(
            Arc::clone(&self.store),
            &self.master,
            self.settings.signing_algorithm(),
        )
        .await?)
    }

    /// Records a key event of this command in the audit trail.
    async fn audit_key_event(&self, kind: &str, detail: serde_json::Value) -> anyhow::Result<()> {
        self.store
            .append_audit_events(vec![brandstream_store::AuditEvent {
                id: 0,
                at: brandstream_domain::now_unix(),
                org_id: None,
                kind: kind.into(),
                client_id: None,
                actor: ACTOR.into(),
                source_address: None,
                detail,
            }])
            .await?;
        Ok(())
    }
}

fn credential_json(client: &ClientRecord) -> serde_json::Value {
    json!({
        "client_id": client.client_id,
        "org_id": client.org_id,
        "label": client.label,
        "description": client.description,
        "scopes": client.scopes.names(),
        "expires_in": client.token_lifetime,
        "status": client.status.as_str(),
        "created_at": time(client.created_at),
        "last_used_at": client.last_used_at.map(time),
        "revoked_at": client.revoked_at.map(time),
        "active_secrets": client.secrets.iter().map(|s| json!({"hint": s.hint, "created_at": time(s.created_at)})).collect::<Vec<_>>(),
    })
}

fn parse_org(value: &str) -> anyhow::Result<OrgId> {
    OrgId::parse(value).map_err(|e| anyhow::anyhow!("{e}: '{value}'"))
}

fn parse_client(value: &str) -> anyhow::Result<ClientId> {
    ClientId::parse(value).map_err(|e| anyhow::anyhow!("{e}: '{value}'"))
}

/// Runs an admin command.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let context = open(&args).await?;
    match args.command {
        AdminCommand::Init => {
            say!(
                "data dir {} is ready (database, master key, default organisation)",
                context.settings.data_dir.display()
            );
            Ok(())
        }
        AdminCommand::Orgs(command) => orgs(&context, command).await,
        AdminCommand::Credentials(command) => credentials(&context, command).await,
        AdminCommand::Keys(command) => keys(&context, command).await,
        AdminCommand::Users(command) => users(&context, command).await,
        AdminCommand::Audit { org, limit, json } => audit(&context, org, limit, json).await,
    }
}

async fn orgs(context: &AdminContext, command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Create { name, json } => {
            let org = context.admin.create_org(&name, false).await?;
            if json {
                print_json(&json!({"id": org.id, "name": org.name}));
            } else {
                say!("created organisation {} ({})", org.id, org.name);
            }
        }
        OrgCommand::List { json } => {
            let orgs = context.admin.list_orgs().await?;
            print_list(
                json,
                &orgs,
                |org| json!({"id": org.id, "name": org.name, "default": org.is_default, "created_at": time(org.created_at)}),
                &["ID", "DEFAULT", "CREATED", "NAME"],
                |org| {
                    vec![
                        org.id.to_string(),
                        if org.is_default { "yes" } else { "" }.to_owned(),
                        time(org.created_at),
                        org.name.clone(),
                    ]
                },
            );
        }
    }
    Ok(())
}

async fn credentials(context: &AdminContext, command: CredentialCommand) -> anyhow::Result<()> {
    match command {
        CredentialCommand::Create {
            org,
            label,
            description,
            scopes,
            expires_in,
            json,
        } => {
            let scopes = if scopes.is_empty() {
                None
            } else {
                Some(
                    scopes
                        .iter()
                        .flat_map(|item| item.split([' ', ',']))
                        .filter(|item| !item.is_empty())
                        .map(Scope::parse)
                        .collect::<Result<ScopeSet, _>>()
                        .map_err(|e| {
                            anyhow::anyhow!("{e} (known: {})", ScopeSet::all().names().join(", "))
                        })?,
                )
            };
            let created = context
                .admin
                .create_credential(
                    CreateCredential {
                        org_id: parse_org(&org)?,
                        label,
                        description,
                        scopes,
                        expires_in,
                    },
                    ACTOR,
                )
                .await?;
            let client = &created.client;
            if json {
                print_json(&json!({
                    "client_id": client.client_id,
                    "client_secret": created.secret.expose(),
                    "org_id": client.org_id,
                    "label": client.label,
                    "description": client.description,
                    "scopes": client.scopes.names(),
                    "expires_in": client.token_lifetime,
                }));
            } else {
                say!("Client ID:     {}", client.client_id);
                say!("Client Secret: {}", created.secret.expose());
                say!("Organisation:  {}", client.org_id);
                say!("Label:         {}", client.label);
                say!("Scopes:        {}", client.scopes);
                say!("Token lifetime: {} s", client.token_lifetime);
            }
            eprintln!("{SECRET_WARNING}");
        }
        CredentialCommand::List { org, json } => {
            let clients = context.admin.list_credentials(&parse_org(&org)?).await?;
            print_list(
                json,
                &clients,
                credential_json,
                &[
                    "CLIENT ID",
                    "STATUS",
                    "CREATED",
                    "LAST USED",
                    "SECRETS",
                    "LABEL",
                ],
                |client| {
                    vec![
                        client.client_id.to_string(),
                        client.status.as_str().to_owned(),
                        time(client.created_at),
                        client
                            .last_used_at
                            .map(time)
                            .unwrap_or_else(|| "never".into()),
                        client.secrets.len().to_string(),
                        client.label.clone(),
                    ]
                },
            );
        }
        CredentialCommand::Revoke { client_id } => {
            let id = parse_client(&client_id)?;
            if context.admin.revoke_credential(&id, ACTOR).await? {
                say!("revoked {id}: its secrets no longer work and its tokens are rejected within seconds");
            } else {
                say!("{id} was already revoked");
            }
        }
        CredentialCommand::RotateSecret { client_id, json } => {
            let id = parse_client(&client_id)?;
            let secret = context.admin.rotate_secret(&id, ACTOR).await?;
            if json {
                print_json(&json!({"client_id": id, "client_secret": secret.expose()}));
            } else {
                say!("Client ID:         {id}");
                say!("New Client Secret: {}", secret.expose());
                say!("The previous secret keeps working until `brandstream admin credentials retire-secret {id}`.");
            }
            eprintln!("{SECRET_WARNING}");
        }
        CredentialCommand::RetireSecret { client_id } => {
            let id = parse_client(&client_id)?;
            if context.admin.retire_secret(&id, ACTOR).await? {
                say!("retired the older secret of {id}");
            } else {
                anyhow::bail!("{id} has only one active secret; rotate first");
            }
        }
    }
    Ok(())
}

fn key_json(key: &KeySummary) -> serde_json::Value {
    json!({
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state,
        "created_at": time(key.created_at),
        "activated_at": key.activated_at.map(time),
        "retired_at": key.retired_at.map(time),
    })
}

async fn keys(context: &AdminContext, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::List { json } => {
            let keyring = context.keyring().await?;
            let summary = keyring.snapshot().summary.clone();
            print_list(
                json,
                &summary,
                key_json,
                &["KID", "ALG", "STATE", "CREATED", "RETIRED"],
                |key| {
                    vec![
                        key.kid.to_string(),
                        key.alg.to_string(),
                        key.state.as_str().to_owned(),
                        time(key.created_at),
                        key.retired_at.map(time).unwrap_or_default(),
                    ]
                },
            );
        }
        KeyCommand::Rotate => {
            let keyring = context.keyring().await?;
            let before = keyring.snapshot().active.kid.clone();
            let after = keyring.rotate().await?;
            context
                .audit_key_event("key.rotated", json!({"retired": before, "active": after}))
                .await?;
            say!("rotated signing keys: {after} now signs; {before} is retired and stays published until its tokens expire");
        }
        KeyCommand::Rewrap => {
            let keyring = context.keyring().await?;
            let rewrapped = keyring.rewrap().await?;
            context
                .audit_key_event("key.rewrapped", json!({"keys": rewrapped}))
                .await?;
            say!("re-encrypted {rewrapped} signing key(s) under the current master key");
        }
    }
    Ok(())
}

async fn users(context: &AdminContext, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            username,
            org,
            role,
            password_stdin: _,
            json,
        } => {
            let org = parse_org(&org)?;
            let mut password = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut password)?;
            let password = password.trim_end_matches(['\n', '\r']);
            let users = brandstream_auth::Users::new(std::sync::Arc::clone(&context.store))?;
            let user = users.create(&username, password, &org, &role).await?;
            if json {
                print_json(
                    &json!({"id": user.id, "username": user.username, "org_id": org, "role": role}),
                );
            } else {
                say!("Created user {} ({role} of {org})", user.username);
            }
            Ok(())
        }
    }
}

async fn audit(
    context: &AdminContext,
    org: Option<String>,
    limit: u32,
    json: bool,
) -> anyhow::Result<()> {
    let org = org.as_deref().map(parse_org).transpose()?;
    let events = context.store.list_audit_events(org.as_ref(), limit).await?;
    print_list(
        json,
        &events,
        |event| {
            json!({
                "id": event.id,
                "at": time(event.at),
                "org_id": event.org_id,
                "kind": event.kind,
                "client_id": event.client_id,
                "actor": event.actor,
                "source_address": event.source_address,
                "detail": event.detail,
            })
        },
        &["AT", "KIND", "CLIENT", "SOURCE", "DETAIL"],
        |event| {
            vec![
                time(event.at),
                event.kind.to_string(),
                event
                    .client_id
                    .as_ref()
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                event.source_address.clone().unwrap_or_default(),
                event.detail.to_string(),
            ]
        },
    );
    Ok(())
}
