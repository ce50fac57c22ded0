//! Start-up, background upkeep and graceful shutdown of `brandstream serve`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use brandstream_auth::credentials::CredentialAdmin;
use brandstream_auth::{
    audit_channel, Keyring, MasterKey, SecretHasher, TokenService, TokenSettings,
};
use brandstream_store::{PgStore, SqliteStore, Store};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::app::{router, AppState};
use crate::config::{DatabaseLocation, Settings};
use crate::telemetry::metrics_handle;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Authentication set-up failed (master key, keyring).
    #[error(transparent)]
    Auth(#[from] brandstream_auth::AuthError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] brandstream_store::StoreError),
    /// A socket or file operation failed.
    #[error("{0}")]
    Io(String),
}

/// Opens the database the settings name (creating the data dir for the embedded default),
/// applying pending migrations unless `migrate_on_start` is off.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, ServeError> {
    open_store_migrating(settings, settings.migrate_on_start).await
}

/// Opens the database; `migrate` applies pending migrations (otherwise a schema that is
/// behind is an error). SQLite always migrates: its file belongs to one node.
pub async fn open_store_migrating(
    settings: &Settings,
    migrate: bool,
) -> Result<Arc<dyn Store>, ServeError> {
    match settings.database_location() {
        DatabaseLocation::SqliteFile(path) => {
            ensure_private_dir(&settings.data_dir)?;
            Ok(Arc::new(SqliteStore::open(&path).await?))
        }
        DatabaseLocation::Url(url) if url.starts_with("sqlite:") => {
            Ok(Arc::new(SqliteStore::open_url(&url).await?))
        }
        DatabaseLocation::Url(url)
            if url.starts_with("postgres://") || url.starts_with("postgresql://") =>
        {
            Ok(Arc::new(
                PgStore::connect(&url, settings.database_max_connections, migrate).await?,
            ))
        }
        DatabaseLocation::Url(_) => Err(ServeError::Io(
            "database_url must start with sqlite: or postgres://".into(),
        )),
    }
}

/// The embedded database file the settings name (`None` for PostgreSQL).
fn embedded_database(settings: &Settings) -> Option<PathBuf> {
    match settings.database_location() {
        DatabaseLocation::SqliteFile(path) => Some(path),
        DatabaseLocation::Url(url) => url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .map(|rest| PathBuf::from(rest.split('?').next().unwrap_or(rest))),
    }
}

/// Takes the serving lock of an embedded database, `<database>.serve-lock`: an advisory lock
/// the operating system drops when this process ends, however it ends. One server per embedded
/// database, so the one holding the lock knows that any run found running was left by a
/// process that stopped, and resumes it at once. A second `serve` is refused with the holder's
/// process id; admin commands do not take the lock.
fn lock_embedded_database(database: &Path) -> Result<std::fs::File, ServeError> {
    use std::io::{Read, Seek, Write};
    let mut name = database.as_os_str().to_owned();
    name.push(".serve-lock");
    let path = PathBuf::from(name);
    let failed = |e: std::io::Error| ServeError::Io(format!("{}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(failed)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(ServeError::Io(format!(
                "another brandstream server (process {}) is serving {}: stop it first, or give \
                 this one its own --data-dir",
                holder.trim(),
                database.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
    }
    file.set_len(0).map_err(failed)?;
    file.rewind().map_err(failed)?;
    write!(file, "{}", std::process::id()).map_err(failed)?;
    Ok(file)
}

/// The master key: `master_key` if set, else `DATA_DIR/master.key`. On the embedded database
/// a missing file is created; on a shared database it is an error, because every node must
/// encrypt and hash with the same key. Returns the key and whether a file was created.
pub fn load_master_key(settings: &Settings) -> Result<(MasterKey, bool), ServeError> {
    let shared = settings.is_shared_database();
    if shared
        && settings.master_key.is_none()
        && !settings
            .data_dir
            .join(brandstream_auth::master::MASTER_KEY_FILE)
            .exists()
    {
        return Err(ServeError::Io(
            "nodes on a shared PostgreSQL database must all use one master key: set \
             BRANDSTREAM_MASTER_KEY to the same base64 value on every node (create one with \
             `head -c 32 /dev/urandom | base64`)"
                .into(),
        ));
    }
    if !shared {
        ensure_private_dir(&settings.data_dir)?;
    }
    let (key, created) =
        MasterKey::load_or_create(settings.master_key.as_deref(), &settings.data_dir, !shared)?;
    match &settings.master_key_previous {
        Some(previous) => Ok((
            key.with_previous(MasterKey::from_base64(previous)?),
            created,
        )),
        None => Ok((key, created)),
    }
}

/// Prints the one-time setup link on standard error — not through the log, which may be
/// shipped elsewhere: a block for people, or one JSON object (level, timestamp, message,
/// `setup_url`, `expires_in`) when the log format is JSON, so the stream stays parseable.
fn announce_setup_link(settings: &Settings, address: SocketAddr, token: &str) {
    let url = format!("http://{address}/portal/setup?token={token}");
    let ttl = crate::portal::setup::SETUP_TTL.as_secs();
    if settings.log_format == "json" {
        let timestamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        eprintln!(
            "{}",
            serde_json::json!({
                "timestamp": timestamp,
                "level": "WARN",
                "message": "no portal user exists yet: open the setup link on this machine to choose the administrator's password (valid once)",
                "setup_url": url,
                "expires_in": ttl,
            })
        );
    } else {
        eprintln!(
            "\nNo portal user exists yet. To choose the administrator's password, open within {} \
             minutes, on this machine:\n\n    {url}\n\n(valid once; or create users with \
             `brandstream admin users create`)\n",
            ttl / 60
        );
    }
}

/// Creates the data dir (mode 0700) if needed.
pub fn ensure_private_dir(path: &Path) -> Result<(), ServeError> {
    if path.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path).map_err(|e| {
        ServeError::Io(format!(
            "cannot create the data dir {}: {e}",
            path.display()
        ))
    })
}

/// A started server, bound and ready to run.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    address: SocketAddr,
    audit: brandstream_auth::AuditSink,
    audit_writer: JoinHandle<()>,
    /// The embedded database's serving lock, held while this server lives.
    _database_lock: Option<std::fs::File>,
}

impl Server {
    /// Opens storage, keys and the listener: everything short of serving.
    pub async fn start(settings: Settings) -> Result<Self, ServeError> {
        settings.validate()?;
        let store = open_store(&settings).await?;
        let database_lock = match embedded_database(&settings) {
            Some(database) => {
                let lock = lock_embedded_database(&database)?;
                let released = store.release_all_runs(crate::api::now_micros()).await?;
                if released > 0 {
                    tracing::info!(
                        released,
                        "resuming pipeline runs that a stopped server left running"
                    );
                }
                Some(lock)
            }
            None => None,
        };
        let (master, created) = load_master_key(&settings)?;
        if created {
            tracing::info!(
                path = %settings.data_dir.join(brandstream_auth::master::MASTER_KEY_FILE).display(),
                "created the master key file (mode 0600); back it up: without it stored keys cannot be decrypted"
            );
        }
        let hasher = Arc::new(SecretHasher::new(&master));
        let admin = Arc::new(CredentialAdmin::new(
            Arc::clone(&store),
            Arc::clone(&hasher),
        ));
        let (org, created) = admin.ensure_default_org().await?;
        if created {
            tracing::info!(org_id = %org.id, "created the default organisation {}", org.id);
        } else {
            tracing::info!(org_id = %org.id, "default organisation {}", org.id);
        }
        let keyring = Arc::new(
            Keyring::open(Arc::clone(&store), &master, settings.signing_algorithm()).await?,
        );
        drop(master);

        let requested = settings.listen_address()?;
        let listener = TcpListener::bind(requested)
            .await
            .map_err(|e| ServeError::Io(format!("cannot listen on {requested}: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| ServeError::Io(e.to_string()))?;

        let (audit, writer) = audit_channel(Arc::clone(&store));
        let audit_writer = tokio::spawn(writer.run());
        let tokens = Arc::new(
            TokenService::new(
                Arc::clone(&store),
                hasher,
                keyring,
                audit.clone(),
                TokenSettings {
                    issuer: settings.issuer_for(address),
                    audiences: settings.audiences.clone(),
                    rate_limits: settings.rate_limits,
                },
            )
            .await?,
        );
        let blobs = match &settings.blob_url {
            Some(url) => brandstream_store::Blobs::open_url(url)?,
            None => {
                if settings.is_shared_database() {
                    tracing::warn!(
                        "documents are stored in this node's data dir: on a cluster set \
                         blob_url (s3://bucket/prefix) so every node can read every upload"
                    );
                }
                brandstream_store::Blobs::local(&settings.data_dir.join("blobs"))?
            }
        };
        let extractor = if settings.pipeline.sandbox {
            let program = std::env::current_exe().map_err(|e| {
                ServeError::Io(format!(
                    "cannot find this program for the extraction sandbox: {e}"
                ))
            })?;
            crate::ingestion::Extractor::Sandboxed {
                program,
                timeout: Duration::from_secs(settings.pipeline.extract_timeout_seconds),
                memory_mb: settings.pipeline.extract_memory_mb,
            }
        } else {
            crate::ingestion::Extractor::InProcess
        };
        let meaning = crate::meaning::load(&settings).await;
        let queued = crate::services::pipeline::RunQueued::default();
        let pipeline = Arc::new(
            crate::ingestion::Pipeline::new(
                Arc::clone(&store),
                blobs.clone(),
                extractor,
                brandstream_ingest::ExtractLimits {
                    docx_part_bytes: settings.documents.max_docx_inflated_bytes,
                    max_pages: settings.documents.max_pages,
                },
                Duration::from_secs(settings.pipeline.lease_seconds),
                settings.pipeline.workers,
                queued.clone(),
            )
            .with_semantics(meaning.clone()),
        );
        let users = Arc::new(brandstream_auth::Users::new(Arc::clone(&store))?);
        let login_limits = crate::portal::session::LoginLimits::new(
            settings.portal.attempts_per_account_per_minute,
            settings.portal.attempts_per_address_per_minute,
        );
        if let Some(password) = settings.admin_password.as_deref() {
            if store.count_users().await? == 0 {
                users.create("admin", password, &org.id, "admin").await?;
                tracing::info!(org_id = %org.id, "created the portal user admin from BRANDSTREAM_ADMIN_PASSWORD");
            }
        }
        let brands = crate::services::brands::BrandService::new(Arc::clone(&store));
        let documents = crate::services::documents::DocumentService::new(
            Arc::clone(&store),
            blobs.clone(),
            brands.clone(),
            settings.documents.clone(),
        )
        .with_semantics(meaning.clone());
        let runs = crate::services::pipeline::PipelineService::new(
            Arc::clone(&store),
            brands.clone(),
            queued,
        );
        let setup = Arc::new(crate::portal::setup::SetupLink::default());
        if store.count_users().await? == 0 {
            announce_setup_link(&settings, address, &setup.issue());
        }
        let state = Arc::new(AppState {
            setup,
            admin,
            users,
            login_limits,
            blobs,
            pipeline,
            semantic: meaning.is_some(),
            tokens,
            brands,
            documents,
            runs,
            members: crate::services::members::MemberService::new(Arc::clone(&store)),
            audit: crate::services::audit::AuditService::new(Arc::clone(&store)),
            sessions: crate::services::sessions::SessionService::new(
                Arc::clone(&store),
                settings.portal.idle_minutes,
                settings.portal.absolute_hours,
            ),
            store,
            settings: Arc::new(settings),
            openapi: serde_json::to_string(&crate::app::openapi_document())
                .map_err(|e| ServeError::Io(format!("OpenAPI document: {e}")))?
                .into(),
            metrics: metrics_handle(),
        });
        Ok(Self {
            listener,
            state,
            address,
            audit,
            audit_writer,
            _database_lock: database_lock,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish
    /// (up to the configured grace period), and writes pending audit events.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let Server {
            listener,
            state,
            address,
            audit,
            audit_writer,
            _database_lock: database_lock,
        } = self;
        let upkeep = spawn_upkeep(Arc::clone(&state));
        let (stop_workers, workers_stopped) = tokio::sync::watch::channel(false);
        let workers = state.pipeline.spawn(workers_stopped);
        let grace = Duration::from_secs(state.settings.shutdown_grace_seconds);
        let (fired_sender, fired) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = fired_sender.send(());
        };
        tracing::info!(%address, issuer = %state.tokens.settings().issuer, "listening on http://{address}");
        let app = router(Arc::clone(&state)).into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(listener, app).with_graceful_shutdown(signal);
        let outcome = tokio::select! {
            result = serve => result.map_err(|e| ServeError::Io(e.to_string())),
            () = async { let _ = fired.await; tokio::time::sleep(grace).await } => {
                tracing::warn!("shutdown grace period expired; closing remaining connections");
                Ok(())
            }
        };
        for task in upkeep {
            task.abort();
        }
        // Workers hand their runs back to the queue; another start (or node) resumes them.
        let _ = stop_workers.send(true);
        for worker in workers {
            let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
        }
        audit.flush().await;
        drop(audit);
        drop(state);
        // The writer ends once every sink is gone; do not wait forever if one lingers.
        let _ = tokio::time::timeout(Duration::from_secs(5), audit_writer).await;
        // Only now may another server take the embedded database.
        drop(database_lock);
        tracing::info!("stopped");
        outcome
    }
}

/// Background upkeep: revocation sync (1 s), key reload (5 s), rotation and pruning of keys,
/// revocations and old audit events (60 s).
fn spawn_upkeep(state: Arc<AppState>) -> Vec<JoinHandle<()>> {
    let sync_state = Arc::clone(&state);
    let sync = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = sync_state.tokens.sync().await {
                tracing::warn!(%error, "revocation sync failed");
            }
        }
    });
    let key_state = Arc::clone(&state);
    let keys = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let rotation_period = i64::from(key_state.settings.key_rotation_days) * 86_400;
        let mut rounds: u64 = 0;
        loop {
            tick.tick().await;
            rounds += 1;
            if let Err(error) = key_state.tokens.keyring().reload().await {
                tracing::warn!(%error, "signing key reload failed");
            }
            // Rotation and pruning are cluster-wide work: only the node holding the
            // maintenance lease does them (it renews the lease every minute; another node
            // takes over within MAINTENANCE_LEASE_SECONDS of its death).
            if rounds % 12 == 1 && holds_maintenance_lease(&key_state).await {
                if let Err(error) = key_state.tokens.keyring().maintain(rotation_period).await {
                    tracing::warn!(%error, "signing key maintenance failed");
                }
                if let Err(error) = key_state.tokens.prune().await {
                    tracing::warn!(%error, "pruning expired revocations failed");
                }
                // Heartbeats of nodes gone for a day.
                let day_ago = brandstream_domain::now_unix() - 86_400;
                if let Err(error) = key_state
                    .store
                    .forget_leases(brandstream_store::NODE_LEASE_PREFIX, day_ago)
                    .await
                {
                    tracing::warn!(%error, "forgetting old node leases failed");
                }
                let retention = i64::from(key_state.settings.audit_retention_days) * 86_400;
                if retention > 0 {
                    let before = brandstream_domain::now_unix() - retention;
                    match key_state.store.prune_audit_events(before).await {
                        Ok(0) => {}
                        Ok(pruned) => tracing::info!(pruned, "pruned old audit events"),
                        Err(error) => tracing::warn!(%error, "pruning audit events failed"),
                    }
                }
            }
        }
    });
    let mut tasks = vec![sync, keys];
    if state.settings.is_shared_database() {
        tasks.push(tokio::spawn(node_heartbeat(state)));
    }
    tasks
}

/// How often a node on a shared database renews its node lease, and how long one lasts: a
/// node that stopped is known to be gone (and its runs are taken over) within
/// `NODE_LEASE_SECONDS`, instead of when each run's own lease ends.
const NODE_HEARTBEAT: Duration = Duration::from_secs(2);
const NODE_LEASE_SECONDS: i64 = 6;

/// Renews this node's lease ([`brandstream_store::node_lease_name`]) while it serves.
async fn node_heartbeat(state: Arc<AppState>) {
    let node = state.pipeline.node_id().to_owned();
    let name = brandstream_store::node_lease_name(&node);
    let mut tick = tokio::time::interval(NODE_HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // The database's clock, as for every lease.
        let now = match state.store.clock_micros().await {
            Ok(micros) => micros / 1_000_000,
            Err(_) => brandstream_domain::now_unix(),
        };
        if let Err(error) = state
            .store
            .acquire_lease(&name, &node, now, NODE_LEASE_SECONDS)
            .await
        {
            tracing::warn!(%error, "renewing this node's lease failed");
        }
    }
}

/// How long the maintenance lease lasts without renewal.
const MAINTENANCE_LEASE_SECONDS: i64 = 150;

/// Takes or renews the maintenance lease for this node.
async fn holds_maintenance_lease(state: &AppState) -> bool {
    let node = state.pipeline.node_id();
    // The database's clock, shared by every node, decides when a lease has expired.
    let now = match state.store.clock_micros().await {
        Ok(micros) => micros / 1_000_000,
        Err(_) => brandstream_domain::now_unix(),
    };
    match state
        .store
        .acquire_lease("maintenance", node, now, MAINTENANCE_LEASE_SECONDS)
        .await
    {
        Ok(held) => held,
        Err(error) => {
            tracing::warn!(%error, "cannot take the maintenance lease");
            false
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
