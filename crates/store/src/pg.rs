//! The scale-out backend: PostgreSQL through tokio-postgres with a deadpool connection pool.
//!
//! Every node of a cluster opens the same database; nothing that matters is node-local.
//! Statements are prepared once per pooled connection (`prepare_cached`). Migrations run under
//! a session advisory lock, so nodes starting together apply each migration once. The SQL
//! mirrors the SQLite backend's, with PostgreSQL's placeholders (`$1`) and types (BIGINT,
//! BOOLEAN, BYTEA); integer columns are all BIGINT so they map to `i64` like SQLite's.

use async_trait::async_trait;
use brandstream_domain::{ClientId, UnixSeconds};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::migrations::{migrations, Migration};
use crate::pg_tls::{client_config, tls_choice};
use crate::sql::{Backend, BoxFuture, Conn, Dialect};
use crate::token_service::BulkWrites;
use crate::{AuditEvent, Store, StoreError, StoreResult};

/// The advisory lock key that serialises migrations across nodes ("brandstr" in ASCII).
const MIGRATION_LOCK: i64 = 0x6272_616e_6473_7472;

/// A statement parameter.
pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

/// `values` as the parameter list tokio-postgres takes.
pub(crate) fn params<'a>(values: &'a [crate::rows::Bind<'_>]) -> Vec<Param<'a>> {
    values.iter().map(|value| value as Param<'a>).collect()
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        match error.as_db_error() {
            Some(db) if *db.code() == SqlState::CHARACTER_NOT_IN_REPERTOIRE => {
                StoreError::Unstorable
            }
            Some(db) => StoreError::Database(format!("{}: {}", db.code().code(), db.message())),
            None => StoreError::Database(error.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(error) => error.into(),
            other => StoreError::Database(format!("connection pool: {other}")),
        }
    }
}

/// Whether an error is a unique (or primary key) violation.
pub(crate) fn is_unique_violation(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// The PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

/// The client type statements run on: a pooled connection or a transaction.
pub(crate) type PooledClient = deadpool_postgres::Object;

impl PgStore {
    /// Connects to `url` (`postgres://` or `postgresql://`), keeps up to `max_connections`
    /// pooled connections, and applies pending migrations unless `migrate` is false (then it
    /// fails if the schema is behind).
    pub async fn connect(url: &str, max_connections: usize, migrate: bool) -> StoreResult<Self> {
        let store = Self::connect_only(url, max_connections)?;
        if migrate {
            store.migrate().await?;
        } else {
            let pending = store.pending_migrations().await?;
            if pending > 0 {
                return Err(StoreError::Migration(format!(
                    "the database is {pending} migration(s) behind; run `brandstream migrate`"
                )));
            }
        }
        Ok(store)
    }

    /// Builds the pool without touching the database.
    fn connect_only(url: &str, max_connections: usize) -> StoreResult<Self> {
        let choice = tls_choice(url);
        let mut config: tokio_postgres::Config = choice
            .url
            .parse()
            .map_err(|e| StoreError::Database(format!("invalid database URL: {e}")))?;
        // A node cut off mid-transaction must not hold locks (a credential row, the
        // revocation lock) for the whole cluster until TCP gives up hours later: the server
        // ends such sessions, and keepalives notice a dead peer within about a minute.
        let options = format!(
            "{} -c idle_in_transaction_session_timeout=60000 -c statement_timeout=300000",
            config.get_options().unwrap_or("")
        );
        config
            .options(options.trim())
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(30))
            .connect_timeout(std::time::Duration::from_secs(10));
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
            Manager::from_config(config, tokio_postgres::NoTls, manager_config)
        } else {
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_config(&choice)?);
            Manager::from_config(config, tls, manager_config)
        };
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(30)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Database(format!("connection pool: {e}")))?;
        Ok(Self { pool })
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> StoreResult<PooledClient> {
        Ok(self.pool.get().await?)
    }

    /// [`query_one`] on a pooled connection, for a statement that needs no transaction.
    pub(crate) async fn fetch_one<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        map: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        query_one(&self.client().await?, sql, params, map).await
    }

    /// [`execute`] on a pooled connection, for a statement that needs no transaction.
    pub(crate) async fn run(&self, sql: &str, params: &[Param<'_>]) -> StoreResult<u64> {
        execute(&self.client().await?, sql, params).await
    }

    /// How many known migrations the database has not applied.
    pub async fn pending_migrations(&self) -> StoreResult<usize> {
        let client = self.client().await?;
        let exists: bool = client
            .query_one(
                "SELECT to_regclass('brandstream_migrations') IS NOT NULL",
                &[],
            )
            .await?
            .get(0);
        if !exists {
            return Ok(migrations(Dialect::Postgres).len());
        }
        let applied: Vec<i64> = client
            .query("SELECT version FROM brandstream_migrations", &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        Ok(migrations(Dialect::Postgres)
            .iter()
            .filter(|migration| !applied.contains(&migration.version))
            .count())
    }

    /// Applies pending migrations. A session advisory lock makes nodes that start together
    /// take turns; the second finds everything applied. Returns how many it applied.
    pub async fn migrate(&self) -> StoreResult<usize> {
        let mut client = self.client().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        let result = apply_migrations(&mut client).await;
        // Unlock even after a failure; if this fails the session ends with the connection.
        let _ = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await;
        result
    }
}

#[async_trait]
impl Backend for PgStore {
    async fn reader(&self) -> StoreResult<Conn<'_>> {
        Ok(Conn::Postgres(self.pool.get().await?))
    }

    async fn writer(&self) -> StoreResult<Conn<'_>> {
        Ok(Conn::Postgres(self.pool.get().await?))
    }

    async fn off_runtime<T: Send + 'static>(
        &self,
        work: BoxFuture<'static, StoreResult<T>>,
    ) -> StoreResult<T> {
        work.await
    }
}

async fn apply_migrations(client: &mut PooledClient) -> StoreResult<usize> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS brandstream_migrations (
                 version BIGINT PRIMARY KEY,
                 name TEXT NOT NULL,
                 applied_at BIGINT NOT NULL)",
        )
        .await
        .map_err(|e| StoreError::Migration(e.to_string()))?;
    let mut applied = 0;
    for Migration { version, name, sql } in migrations(Dialect::Postgres) {
        let transaction = client.transaction().await?;
        let done = transaction
            .query_opt(
                "SELECT version FROM brandstream_migrations WHERE version = $1",
                &[&version],
            )
            .await?
            .is_some();
        if !done {
            transaction.batch_execute(&sql).await.map_err(|e| {
                StoreError::Migration(format!("{version} {name}: {}", StoreError::from(e)))
            })?;
            transaction
                .execute(
                    "INSERT INTO brandstream_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    &[&version, &name, &brandstream_domain::now_unix()],
                )
                .await?;
            applied += 1;
        }
        transaction.commit().await?;
    }
    Ok(applied)
}

/// The first row of a query, mapped.
pub(crate) async fn query_one<T>(
    client: &impl GenericClient,
    sql: &str,
    params: &[Param<'_>],
    map: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let statement = client.prepare_cached(sql).await?;
    client
        .query_opt(&statement, params)
        .await?
        .as_ref()
        .map(map)
        .transpose()
}

/// Runs a statement; returns the number of rows it changed.
pub(crate) async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[Param<'_>],
) -> StoreResult<u64> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.execute(&statement, params).await?)
}

/// A column, with a decoding failure reported as corrupt data.
pub(crate) fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    name: &str,
) -> StoreResult<T> {
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

#[async_trait]
impl BulkWrites for PgStore {
    async fn write_last_uses(&self, uses: &[(ClientId, UnixSeconds)]) -> StoreResult<()> {
        // One statement for the whole batch: arrays unnested into (id, time) pairs. Rows are
        // locked in client-id order first, so two nodes flushing overlapping batches wait for
        // each other instead of deadlocking.
        let ids: Vec<&str> = uses.iter().map(|(id, _)| id.as_str()).collect();
        let times: Vec<i64> = uses.iter().map(|(_, at)| *at).collect();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        execute(
            &transaction,
            "SELECT 1 FROM clients WHERE client_id = ANY($1::text[]) \
             ORDER BY client_id FOR UPDATE",
            &[&ids],
        )
        .await?;
        execute(
            &transaction,
            "UPDATE clients c SET last_used_at = u.at \
             FROM (SELECT id, MAX(at) AS at FROM UNNEST($1::text[], $2::bigint[]) AS t(id, at) GROUP BY id) u \
             WHERE c.client_id = u.id AND (c.last_used_at IS NULL OR c.last_used_at < u.at)",
            &[&ids, &times],
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn write_audit_events(&self, events: Vec<AuditEvent>) -> StoreResult<()> {
        // One multi-row insert per batch, as arrays unnested server-side.
        let at: Vec<i64> = events.iter().map(|e| e.at).collect();
        let org: Vec<Option<&str>> = events.iter().map(|e| e.org_id.as_deref()).collect();
        let kind: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        let client_id: Vec<Option<&str>> = events.iter().map(|e| e.client_id.as_deref()).collect();
        let actor: Vec<&str> = events.iter().map(|e| e.actor.as_str()).collect();
        let source: Vec<Option<&str>> =
            events.iter().map(|e| e.source_address.as_deref()).collect();
        let detail: Vec<String> = events.iter().map(|e| e.detail.to_string()).collect();
        self.run(
            "INSERT INTO audit_events (at, org_id, kind, client_id, actor, source_address, detail) \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
                                  $6::text[], $7::text[])",
            &[&at, &org, &kind, &client_id, &actor, &source, &detail],
        )
        .await.map(drop)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn clock_micros(&self) -> StoreResult<i64> {
        self.fetch_one(
            "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT) AS now",
            &[],
            |row| column(row, "now"),
        )
        .await?
        .ok_or_else(|| StoreError::Database("the database returned no time".into()))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::fresh_store;

    // Every other store behaviour is in the contract suite (`crate::contract`), run on both
    // backends; applying migrations is each backend's own.
    #[tokio::test]
    async fn migrations_are_idempotent() {
        let Some(store) = fresh_store("migrations_are_idempotent").await else {
            return;
        };
        // `fresh_store` migrated; a second migrate finds nothing to do.
        assert_eq!(store.migrate().await.unwrap(), 0);
        assert_eq!(store.pending_migrations().await.unwrap(), 0);
    }
}
