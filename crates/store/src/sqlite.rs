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
use brandstream_domain::{ClientId, UnixSeconds};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::migrations::{migrations, Migration};
use crate::sql::{Backend, BoxFuture, Conn, Dialect, SqliteHandle};
use crate::token_service::BulkWrites;
use crate::{AuditEvent, Store, StoreError, StoreResult};

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
            for Migration { version, name, sql } in migrations(Dialect::Sqlite) {
                // IMMEDIATE takes the write lock first, so two processes starting together
                // cannot both apply the same migration.
                let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let applied: Option<i64> = transaction
                    .query_row("SELECT version FROM brandstream_migrations WHERE version = ?1", [version], |row| row.get(0))
                    .optional()?;
                if applied.is_none() {
                    transaction
                        .execute_batch(&sql)
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
}

/// A pooled reader, back to the pool when the call is done.
struct PooledReader<'s> {
    inner: &'s Inner,
    connection: Option<Connection>,
}

impl SqliteHandle for PooledReader<'_> {
    fn connection(&mut self) -> &mut Connection {
        self.connection.as_mut().expect("present until dropped")
    }
}

impl Drop for PooledReader<'_> {
    fn drop(&mut self) {
        let mut readers = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        if readers.len() < IDLE_READERS {
            readers.extend(self.connection.take());
        }
    }
}

impl SqliteHandle for tokio::sync::MutexGuard<'_, Connection> {
    fn connection(&mut self) -> &mut Connection {
        self
    }
}

#[async_trait]
impl Backend for SqliteStore {
    async fn reader(&self) -> StoreResult<Conn<'_>> {
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
        Ok(Conn::Sqlite(Box::new(PooledReader {
            inner: &self.inner,
            connection: Some(connection),
        })))
    }

    async fn writer(&self) -> StoreResult<Conn<'_>> {
        Ok(Conn::Sqlite(Box::new(self.inner.writer.lock().await)))
    }

    async fn off_runtime<T: Send + 'static>(
        &self,
        work: BoxFuture<'static, StoreResult<T>>,
    ) -> StoreResult<T> {
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || runtime.block_on(work))
            .await
            .map_err(|e| StoreError::Database(format!("background write failed: {e}")))?
    }
}

#[async_trait]
impl BulkWrites for SqliteStore {
    async fn write_last_uses(&self, uses: &[(ClientId, UnixSeconds)]) -> StoreResult<()> {
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

    async fn write_audit_events(&self, events: Vec<AuditEvent>) -> StoreResult<()> {
        self.transact_in_background(move |transaction| {
            let mut statement = transaction.prepare_cached(
                "INSERT INTO audit_events (at, org_id, kind, client_id, actor, source_address, \
                 detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
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
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.reader().await?.batch("SELECT 1").await
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
    use crate::{ClientStore, NewClient, NewSecret, Org, OrgStore};
    use brandstream_domain::{now_unix, OrgId, ScopeSet};

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
