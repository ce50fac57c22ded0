//! The embedded backend: one SQLite file in WAL mode, through rusqlite.
//!
//! SQLite answers a cached point read in microseconds, so reads run inline on the calling
//! task with a connection from a small pool: no hand-off to another thread, which would cost
//! more than the query. Writes go through one writer connection behind an async mutex, so
//! writers in this process queue without blocking runtime threads, and `BEGIN IMMEDIATE`
//! with a busy timeout orders them against other processes (the admin CLI). WAL lets readers
//! proceed while a writer commits; foreign keys are enforced.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use brandstream_domain::{ClientId, OrgId, ScopeSet, UnixSeconds};
use rusqlite::types::Value as SqlValue;
use rusqlite::{
    params, params_from_iter, Connection, OpenFlags, OptionalExtension, Params, Row,
    TransactionBehavior,
};

use crate::{
    AuditEvent, AuditStore, ClientRecord, ClientStatus, ClientStore, KeyState, KeyStore,
    LeaseStore, NewClient, NewSecret, Org, OrgStore, RevocationStore, SecretRecord,
    SigningKeyRecord, Store, StoreError, StoreResult, TokenRevocation,
};

/// Embedded migrations, applied in order; each runs once, in its own transaction.
const MIGRATIONS: &[(i64, &str, &str)] = migrations!("sqlite":
    1 "0001" token_service,
    2 "0002" brand_kits,
    3 "0003" documents_and_runs,
    4 "0004" portal,
    5 "0005" leases,
    6 "0006" search_form,
    7 "0007" document_charset,
    8 "0008" shared_indexes,
);

/// Idle reader connections kept for reuse.
const IDLE_READERS: usize = 16;

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}

/// Whether an error is a UNIQUE (or PRIMARY KEY) constraint violation.
pub(crate) fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

struct Inner {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: tokio::sync::Mutex<Connection>,
}

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(Duration::from_secs(10))?;
    connection.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    connection.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    connection.set_prepared_statement_cache_capacity(128);
    register_functions(&connection)?;
    Ok(connection)
}

/// Registers the SQL functions the schema uses: `bs_search_form(text)`, the search form of a
/// text ([`brandstream_domain::text::search_form`]) that the full-text index triggers apply.
/// Deterministic and innocuous, so triggers and indexes may call it.
fn register_functions(connection: &Connection) -> StoreResult<()> {
    use rusqlite::functions::FunctionFlags;
    connection.create_scalar_function(
        "bs_search_form",
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |context| {
            let text: Option<String> = context.get(0)?;
            Ok(text.map(|text| brandstream_domain::text::search_form(&text)))
        },
    )?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let writer = open_connection(path)?;
        let store = Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                readers: Mutex::new(Vec::new()),
                writer: tokio::sync::Mutex::new(writer),
            }),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens a database from a `sqlite:PATH` or `sqlite://PATH` URL.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .map(|rest| rest.split('?').next().unwrap_or(rest))
            .filter(|path| !path.is_empty() && !path.contains(":memory:"))
            .ok_or_else(|| {
                StoreError::Database("the database URL must be sqlite:PATH to a file".into())
            })?;
        Self::open(Path::new(path)).await
    }

    async fn migrate(&self) -> StoreResult<()> {
        self.write(|connection| {
            connection
                .execute_batch(
                    "CREATE TABLE IF NOT EXISTS brandstream_migrations (
                         version INTEGER PRIMARY KEY NOT NULL,
                         name TEXT NOT NULL,
                         applied_at INTEGER NOT NULL)",
                )
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            for (version, name, sql) in MIGRATIONS {
                // IMMEDIATE takes the write lock first, so two processes starting together
                // cannot both apply the same migration.
                let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let applied: Option<i64> = transaction
                    .query_row("SELECT version FROM brandstream_migrations WHERE version = ?1", [version], |row| row.get(0))
                    .optional()?;
                if applied.is_none() {
                    transaction
                        .execute_batch(sql)
                        .map_err(|e| StoreError::Migration(format!("{version} {name}: {e}")))?;
                    transaction.execute(
                        "INSERT INTO brandstream_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                        params![version, name, brandstream_domain::now_unix()],
                    )?;
                }
                transaction.commit()?;
            }
            Ok(())
        })
        .await
    }

    /// Runs `work` inline with a pooled reader connection.
    pub(crate) fn read<T>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let pooled = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => open_connection(&self.inner.path)?,
        };
        let result = work(&connection);
        let mut readers = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        if readers.len() < IDLE_READERS {
            readers.push(connection);
        }
        result
    }

    /// Runs `work` with the writer connection, after the writers queued before it.
    pub(crate) async fn write<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut connection = self.inner.writer.lock().await;
        work(&mut connection)
    }

    /// Runs a batch write (audit trail, last-use times) on a blocking thread, so a long batch
    /// never holds a runtime thread: request handling stays responsive while it commits.
    pub(crate) async fn transact_in_background<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut connection = inner.writer.blocking_lock();
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&transaction)?;
            transaction.commit()?;
            Ok(value)
        })
        .await
        .map_err(|e| StoreError::Database(format!("background write failed: {e}")))?
    }

    /// Runs `work` in an IMMEDIATE transaction on the writer; commits if it returns `Ok`.
    pub(crate) async fn transact<T>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.write(|connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&transaction)?;
            transaction.commit()?;
            Ok(value)
        })
        .await
    }
}

/// Every row of a query, mapped.
pub(crate) fn query_all<T, P: Params>(
    connection: &Connection,
    sql: &str,
    params: P,
    map: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// The `org_id` column as an organisation id.
/// Runs a versioned row update; true when the row had the expected version and changed.
pub(crate) fn update_row(
    connection: &Connection,
    update: &crate::rows::RowUpdate<'_>,
) -> rusqlite::Result<bool> {
    let changed = connection.execute(&update.sql('?'), params_from_iter(&update.values))?;
    Ok(changed == 1)
}

pub(crate) fn org_column(row: &Row<'_>) -> StoreResult<OrgId> {
    OrgId::parse(&row.get::<_, String>("org_id")?).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A paged listing: the total matching `count_sql`, and the rows of `page_sql` (which ends in
/// `LIMIT ? OFFSET ?`) for `(limit, offset)`; both take `values` for their placeholders.
pub(crate) fn count_and_page<T>(
    connection: &Connection,
    count_sql: &str,
    values: &[rusqlite::types::Value],
    (limit, offset): (i64, i64),
    page_sql: &str,
    map: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<(i64, Vec<T>)> {
    let total: i64 = connection.query_row(
        count_sql,
        rusqlite::params_from_iter(values.iter()),
        |row| row.get(0),
    )?;
    let mut page_values = values.to_vec();
    page_values.push(rusqlite::types::Value::Integer(limit));
    page_values.push(rusqlite::types::Value::Integer(offset));
    let rows = query_all(
        connection,
        page_sql,
        rusqlite::params_from_iter(page_values.iter()),
        map,
    )?;
    Ok((total, rows))
}

/// The first row of a query, mapped.
pub(crate) fn query_one<T, P: Params>(
    connection: &Connection,
    sql: &str,
    params: P,
    map: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    match rows.next()? {
        Some(row) => Ok(Some(map(row)?)),
        None => Ok(None),
    }
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn org_from_row(row: &Row<'_>) -> StoreResult<Org> {
    Ok(Org {
        id: OrgId::parse(&row.get::<_, String>("id")?).map_err(corrupt)?,
        name: row.get("name")?,
        is_default: row.get::<_, i64>("is_default")? != 0,
        created_at: row.get("created_at")?,
    })
}

fn status_from_str(value: &str) -> StoreResult<ClientStatus> {
    match value {
        "active" => Ok(ClientStatus::Active),
        "revoked" => Ok(ClientStatus::Revoked),
        other => Err(StoreError::Corrupt(format!("client status {other}"))),
    }
}

fn client_from_row(row: &Row<'_>) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        client_id: ClientId::parse(&row.get::<_, String>("client_id")?).map_err(corrupt)?,
        org_id: OrgId::parse(&row.get::<_, String>("org_id")?).map_err(corrupt)?,
        label: row.get("label")?,
        description: row.get("description")?,
        scopes: ScopeSet::parse(&row.get::<_, String>("scopes")?).map_err(corrupt)?,
        token_lifetime: row.get("token_lifetime")?,
        status: status_from_str(&row.get::<_, String>("status")?)?,
        created_at: row.get("created_at")?,
        last_used_at: row.get("last_used_at")?,
        revoked_at: row.get("revoked_at")?,
        secrets: Vec::new(),
    })
}

fn secret_hash(row: &Row<'_>, column: &str) -> StoreResult<[u8; 32]> {
    row.get::<_, Vec<u8>>(column)?
        .try_into()
        .map_err(|_| StoreError::Corrupt("secret hash length".into()))
}

fn secret_from_row(row: &Row<'_>) -> StoreResult<SecretRecord> {
    Ok(SecretRecord {
        id: row.get("id")?,
        hash: secret_hash(row, "secret_hash")?,
        hint: row.get("hint")?,
        created_at: row.get("created_at")?,
    })
}

fn key_from_row(row: &Row<'_>) -> StoreResult<SigningKeyRecord> {
    let state: String = row.get("state")?;
    Ok(SigningKeyRecord {
        kid: row.get("kid")?,
        alg: row.get("alg")?,
        state: KeyState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("key state {state}")))?,
        private_key_encrypted: row.get("private_key_enc")?,
        public_jwk: row.get("public_jwk")?,
        created_at: row.get("created_at")?,
        activated_at: row.get("activated_at")?,
        retired_at: row.get("retired_at")?,
    })
}

const CLIENT_COLUMNS: &str = "client_id, org_id, label, description, scopes, token_lifetime, \
     status, created_at, last_used_at, revoked_at";

fn mark_client_updated(
    transaction: &Connection,
    id: &ClientId,
    now: UnixSeconds,
) -> StoreResult<()> {
    transaction.execute(
        "UPDATE clients SET updated_at = MAX(updated_at, ?1) WHERE client_id = ?2",
        params![now, id.as_str()],
    )?;
    Ok(())
}

fn insert_key(transaction: &Connection, key: &SigningKeyRecord) -> StoreResult<()> {
    transaction.execute(
        "INSERT INTO signing_keys (kid, alg, state, private_key_enc, public_jwk, created_at, \
         activated_at, retired_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            key.kid,
            key.alg,
            key.state.as_str(),
            key.private_key_encrypted,
            key.public_jwk,
            key.created_at,
            key.activated_at,
            key.retired_at
        ],
    )?;
    Ok(())
}

fn client_status(connection: &Connection, id: &ClientId) -> StoreResult<Option<String>> {
    query_one(
        connection,
        "SELECT status FROM clients WHERE client_id = ?1",
        [id.as_str()],
        |row| Ok(row.get(0)?),
    )
}

fn active_secret_ids(connection: &Connection, id: &ClientId) -> StoreResult<Vec<i64>> {
    query_all(
        connection,
        "SELECT id FROM client_secrets WHERE client_id = ?1 AND retired_at IS NULL ORDER BY id",
        [id.as_str()],
        |row| Ok(row.get(0)?),
    )
}

#[async_trait]
impl OrgStore for SqliteStore {
    async fn create_org(&self, org: &Org) -> StoreResult<()> {
        self.write(|connection| {
            connection
                .execute(
                    "INSERT INTO orgs (id, name, is_default, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        org.id.as_str(),
                        org.name,
                        i64::from(org.is_default),
                        org.created_at
                    ],
                )
                .map_err(|error| {
                    if is_unique_violation(&error) {
                        StoreError::Conflict("the organisation already exists".into())
                    } else {
                        error.into()
                    }
                })?;
            Ok(())
        })
        .await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT id, name, is_default, created_at FROM orgs ORDER BY created_at, id",
                [],
                org_from_row,
            )
        })
    }

    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Org>> {
        self.read(|c| {
            query_one(
                c,
                "SELECT id, name, is_default, created_at FROM orgs WHERE id = ?1",
                [id.as_str()],
                org_from_row,
            )
        })
    }

    async fn default_org(&self) -> StoreResult<Option<Org>> {
        self.read(|c| {
            query_one(
                c,
                "SELECT id, name, is_default, created_at FROM orgs WHERE is_default = 1",
                [],
                org_from_row,
            )
        })
    }
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn create_client(&self, client: &NewClient, secret: &NewSecret) -> StoreResult<()> {
        self.transact(|transaction| {
            transaction.execute(
                "INSERT INTO clients (client_id, org_id, label, description, scopes, token_lifetime, \
                 status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?7)",
                params![
                    client.client_id.as_str(),
                    client.org_id.as_str(),
                    client.label,
                    client.description,
                    client.scopes.to_scope_string(),
                    client.token_lifetime,
                    client.created_at
                ],
            )?;
            transaction.execute(
                "INSERT INTO client_secrets (client_id, secret_hash, hint, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![client.client_id.as_str(), &secret.hash[..], secret.hint, secret.created_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn get_client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        // One statement on the token hot path: the credential joined with its active secrets.
        let rows = self.read(|c| {
            query_all(
                c,
                "SELECT c.client_id, c.org_id, c.label, c.description, c.scopes, c.token_lifetime, \
                 c.status, c.created_at, c.last_used_at, c.revoked_at, \
                 s.id AS secret_id, s.secret_hash, s.hint, s.created_at AS secret_created_at \
                 FROM clients c LEFT JOIN client_secrets s \
                   ON s.client_id = c.client_id AND s.retired_at IS NULL \
                 WHERE c.client_id = ?1 ORDER BY s.id",
                [id.as_str()],
                |row| {
                    let client = client_from_row(row)?;
                    let secret = match row.get::<_, Option<i64>>("secret_id")? {
                        Some(secret_id) => Some(SecretRecord {
                            id: secret_id,
                            hash: secret_hash(row, "secret_hash")?,
                            hint: row.get("hint")?,
                            created_at: row.get("secret_created_at")?,
                        }),
                        None => None,
                    };
                    Ok((client, secret))
                },
            )
        })?;
        let mut rows = rows.into_iter();
        let Some((mut client, first_secret)) = rows.next() else {
            return Ok(None);
        };
        client.secrets.extend(first_secret);
        client.secrets.extend(rows.filter_map(|(_, secret)| secret));
        Ok(Some(client))
    }

    async fn list_clients(&self, org: &OrgId) -> StoreResult<Vec<ClientRecord>> {
        self.read(|c| {
            let mut clients = query_all(
                c,
                &format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE org_id = ?1 ORDER BY created_at, client_id"),
                [org.as_str()],
                client_from_row,
            )?;
            let secrets = query_all(
                c,
                "SELECT s.client_id, s.id, s.secret_hash, s.hint, s.created_at FROM client_secrets s \
                 JOIN clients c ON c.client_id = s.client_id \
                 WHERE c.org_id = ?1 AND s.retired_at IS NULL ORDER BY s.id",
                [org.as_str()],
                |row| Ok((row.get::<_, String>("client_id")?, secret_from_row(row)?)),
            )?;
            for (owner, secret) in secrets {
                if let Some(client) = clients.iter_mut().find(|c| c.client_id.as_str() == owner) {
                    client.secrets.push(secret);
                }
            }
            Ok(clients)
        })
    }

    async fn revoke_client(&self, id: &ClientId, now: UnixSeconds) -> StoreResult<bool> {
        self.transact(|transaction| {
            match client_status(transaction, id)?.as_deref() {
                None => return Err(StoreError::NotFound("credential")),
                Some("revoked") => return Ok(false),
                _ => {}
            }
            transaction.execute(
                "UPDATE clients SET status = 'revoked', revoked_at = ?1, updated_at = ?1 WHERE client_id = ?2",
                params![now, id.as_str()],
            )?;
            transaction.execute(
                "UPDATE client_secrets SET retired_at = ?1 WHERE client_id = ?2 AND retired_at IS NULL",
                params![now, id.as_str()],
            )?;
            Ok(true)
        })
        .await
    }

    async fn add_secret(
        &self,
        id: &ClientId,
        secret: &NewSecret,
        max_active: usize,
    ) -> StoreResult<()> {
        self.transact(|transaction| {
            match client_status(transaction, id)?.as_deref() {
                None => return Err(StoreError::NotFound("credential")),
                Some("revoked") => return Err(StoreError::Conflict("the credential is revoked".into())),
                _ => {}
            }
            let active = active_secret_ids(transaction, id)?;
            let excess = (active.len() + 1).saturating_sub(max_active);
            for secret_id in active.iter().take(excess) {
                transaction.execute(
                    "UPDATE client_secrets SET retired_at = ?1 WHERE id = ?2",
                    params![secret.created_at, secret_id],
                )?;
            }
            transaction.execute(
                "INSERT INTO client_secrets (client_id, secret_hash, hint, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id.as_str(), &secret.hash[..], secret.hint, secret.created_at],
            )?;
            mark_client_updated(transaction, id, secret.created_at)
        })
        .await
    }

    async fn retire_oldest_secret(&self, id: &ClientId, now: UnixSeconds) -> StoreResult<bool> {
        self.transact(|transaction| {
            let active = active_secret_ids(transaction, id)?;
            if active.len() < 2 {
                return match client_status(transaction, id)? {
                    None => Err(StoreError::NotFound("credential")),
                    Some(_) => Ok(false),
                };
            }
            transaction.execute(
                "UPDATE client_secrets SET retired_at = ?1 WHERE id = ?2",
                params![now, active[0]],
            )?;
            mark_client_updated(transaction, id, now)?;
            Ok(true)
        })
        .await
    }

    async fn replace_secret_hash(
        &self,
        id: &ClientId,
        old: &[u8; 32],
        new: &[u8; 32],
    ) -> StoreResult<bool> {
        self.write(|c| {
            Ok(c.execute(
                "UPDATE client_secrets SET secret_hash = ?1 \
                 WHERE client_id = ?2 AND secret_hash = ?3 AND retired_at IS NULL",
                params![&new[..], id.as_str(), &old[..]],
            )? == 1)
        })
        .await
    }

    async fn touch_clients(&self, uses: &[(ClientId, UnixSeconds)]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let uses = uses.to_vec();
        self.transact_in_background(move |transaction| {
            let mut statement = transaction.prepare_cached(
                "UPDATE clients SET last_used_at = ?1 WHERE client_id = ?2 \
                 AND (last_used_at IS NULL OR last_used_at < ?1)",
            )?;
            for (id, at) in &uses {
                statement.execute(params![at, id.as_str()])?;
            }
            Ok(())
        })
        .await
    }

    async fn clients_changed_since(
        &self,
        since: UnixSeconds,
    ) -> StoreResult<Vec<(ClientId, ClientStatus, UnixSeconds)>> {
        self.read(|c| {
            query_all(
                c,
                // At most about 10,000 changes, always ending on a whole second, so the
                // caller's cursor (the newest time returned) moves forward even when more than
                // a page changed within one second.
                "SELECT client_id, status, updated_at FROM clients \
                 WHERE updated_at >= ?1 AND updated_at <= COALESCE( \
                     (SELECT updated_at FROM clients WHERE updated_at > ?1 \
                      ORDER BY updated_at LIMIT 1 OFFSET 9999), 9223372036854775807) \
                 ORDER BY updated_at",
                [since],
                |row| {
                    let id =
                        ClientId::parse(&row.get::<_, String>("client_id")?).map_err(corrupt)?;
                    let status = status_from_str(&row.get::<_, String>("status")?)?;
                    Ok((id, status, row.get("updated_at")?))
                },
            )
        })
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT kid, alg, state, private_key_enc, public_jwk, created_at, activated_at, \
                 retired_at FROM signing_keys ORDER BY created_at, kid",
                [],
                key_from_row,
            )
        })
    }

    async fn bootstrap_signing_keys(
        &self,
        active: &SigningKeyRecord,
        next: &SigningKeyRecord,
    ) -> StoreResult<bool> {
        self.transact(|transaction| {
            let existing: i64 =
                transaction.query_row("SELECT COUNT(*) FROM signing_keys", [], |row| row.get(0))?;
            if existing > 0 {
                return Ok(false);
            }
            insert_key(transaction, active)?;
            insert_key(transaction, next)?;
            Ok(true)
        })
        .await
    }

    async fn rotate_signing_keys(
        &self,
        expected_active: &str,
        new_active: Option<&SigningKeyRecord>,
        new_next: &SigningKeyRecord,
        now: UnixSeconds,
    ) -> StoreResult<bool> {
        self.write(|connection| {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let retired = transaction.execute(
                "UPDATE signing_keys SET state = 'retired', retired_at = ?1 WHERE kid = ?2 AND state = 'active'",
                params![now, expected_active],
            )?;
            if retired != 1 {
                // Someone else rotated first; the transaction rolls back when dropped.
                return Ok(false);
            }
            match new_active {
                Some(key) => {
                    transaction.execute(
                        "UPDATE signing_keys SET state = 'retired', retired_at = ?1 WHERE state = 'next'",
                        [now],
                    )?;
                    insert_key(&transaction, key)?;
                }
                None => {
                    let promoted = transaction.execute(
                        "UPDATE signing_keys SET state = 'active', activated_at = ?1 \
                         WHERE kid = (SELECT kid FROM signing_keys WHERE state = 'next' \
                                      ORDER BY created_at LIMIT 1)",
                        [now],
                    )?;
                    if promoted != 1 {
                        return Err(StoreError::Conflict("no next signing key to promote".into()));
                    }
                }
            }
            insert_key(&transaction, new_next)?;
            transaction.commit()?;
            Ok(true)
        })
        .await
    }

    async fn rewrap_signing_key(&self, kid: &str, old: &[u8], new: &[u8]) -> StoreResult<bool> {
        self.write(|c| {
            Ok(c.execute(
                "UPDATE signing_keys SET private_key_enc = ?1 WHERE kid = ?2 AND private_key_enc = ?3",
                params![new, kid, old],
            )? == 1)
        })
        .await
    }

    async fn prune_signing_keys(&self, retired_before: UnixSeconds) -> StoreResult<u64> {
        self.write(|c| {
            Ok(c.execute(
                "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < ?1",
                [retired_before],
            )? as u64)
        })
        .await
    }
}

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn revoke_token(&self, revocation: &TokenRevocation) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (jti) DO NOTHING",
                params![revocation.jti, revocation.client_id, revocation.expires_at, revocation.revoked_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn revocations_after(&self, after: i64) -> StoreResult<Vec<(i64, TokenRevocation)>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT seq, jti, client_id, expires_at, revoked_at FROM revoked_tokens \
                 WHERE seq > ?1 ORDER BY seq LIMIT 10000",
                [after],
                |row| {
                    Ok((
                        row.get("seq")?,
                        TokenRevocation {
                            jti: row.get("jti")?,
                            client_id: row.get("client_id")?,
                            expires_at: row.get("expires_at")?,
                            revoked_at: row.get("revoked_at")?,
                        },
                    ))
                },
            )
        })
    }

    async fn prune_revocations(&self, now: UnixSeconds) -> StoreResult<u64> {
        self.write(|c| {
            Ok(c.execute("DELETE FROM revoked_tokens WHERE expires_at < ?1", [now])? as u64)
        })
        .await
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let events = events.to_vec();
        self.transact_in_background(move |transaction| {
            let mut statement = transaction.prepare_cached(
                "INSERT INTO audit_events (at, org_id, kind, client_id, actor, source_address, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for event in &events {
                statement.execute(params![
                    event.at,
                    event.org_id,
                    event.kind,
                    event.client_id,
                    event.actor,
                    event.source_address,
                    event.detail.to_string()
                ])?;
            }
            Ok(())
        })
        .await
    }

    async fn prune_audit_events(&self, before: UnixSeconds) -> StoreResult<u64> {
        self.write(|c| Ok(c.execute("DELETE FROM audit_events WHERE at < ?1", [before])? as u64))
            .await
    }

    async fn list_audit_events(
        &self,
        org: Option<&OrgId>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let mut values: Vec<SqlValue> = Vec::new();
        let filter = match org {
            Some(org) => {
                values.push(SqlValue::Text(org.to_string()));
                "WHERE org_id = ?1"
            }
            None => "",
        };
        values.push(SqlValue::Integer(i64::from(limit)));
        let sql = format!(
            "SELECT id, at, org_id, kind, client_id, actor, source_address, detail \
             FROM audit_events {filter} ORDER BY id DESC LIMIT ?{}",
            values.len()
        );
        self.read(|c| {
            query_all(c, &sql, params_from_iter(values.iter()), |row| {
                let detail: String = row.get("detail")?;
                Ok(AuditEvent {
                    id: row.get("id")?,
                    at: row.get("at")?,
                    org_id: row.get("org_id")?,
                    kind: row.get("kind")?,
                    client_id: row.get("client_id")?,
                    actor: row.get("actor")?,
                    source_address: row.get("source_address")?,
                    detail: serde_json::from_str(&detail).map_err(corrupt)?,
                })
            })
        })
    }
}

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        now: UnixSeconds,
        ttl_seconds: i64,
    ) -> StoreResult<bool> {
        self.write(|c| {
            let changed = c.execute(
                "INSERT INTO leases (name, owner, until) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until \
                 WHERE leases.owner = excluded.owner OR leases.until < ?4",
                params![name, owner, now + ttl_seconds, now],
            )?;
            Ok(changed == 1)
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn clock_micros(&self) -> StoreResult<i64> {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| StoreError::Database(format!("system clock: {e}")))?;
        Ok(i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    // The store behaviours are in the contract suite (`crate::contract`), run on both backends;
    // these are SQLite's own: its migrations and its change-feed paging under a burst.
    use super::*;
    use brandstream_domain::now_unix;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite"))
            .await
            .unwrap();
        (dir, store)
    }

    fn secret(byte: u8) -> NewSecret {
        NewSecret {
            hash: [byte; 32],
            hint: format!("{byte}"),
            created_at: now_unix(),
        }
    }

    #[tokio::test]
    async fn migrations_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        drop(SqliteStore::open(&path).await.unwrap());
        let store = SqliteStore::open(&path).await.unwrap();
        store.ping().await.unwrap();
    }

    #[tokio::test]
    async fn a_burst_of_credential_changes_does_not_stall_the_change_feed() {
        let (_dir, store) = store().await;
        let org = Org {
            id: OrgId::generate(),
            name: "Acme".into(),
            is_default: true,
            created_at: 1,
        };
        store.create_org(&org).await.unwrap();
        // 10,050 credentials changed within one second, then one a second later.
        for index in 0..10_051 {
            let client = NewClient {
                client_id: ClientId::generate(),
                org_id: org.id.clone(),
                label: "burst".into(),
                description: String::new(),
                scopes: ScopeSet::all(),
                token_lifetime: 60,
                created_at: if index < 10_050 { 1_000 } else { 1_001 },
            };
            store.create_client(&client, &secret(1)).await.unwrap();
        }
        let page = store.clients_changed_since(999).await.unwrap();
        assert_eq!(page.len(), 10_050, "the whole second, beyond the page size");
        let cursor = page.iter().map(|(_, _, at)| *at).max().unwrap();
        assert_eq!(cursor, 1_000);
        let next = store.clients_changed_since(cursor).await.unwrap();
        assert_eq!(next.iter().map(|(_, _, at)| *at).max(), Some(1_001));
    }
}
