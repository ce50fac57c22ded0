//! The seam between the store's behaviours, written once, and the two engines.
//!
//! A behaviour takes a connection ([`Conn`]) from its backend ([`Backend::reader`] for reads,
//! [`Backend::writer`] for writes), optionally opens a transaction on it ([`Conn::begin`]) and
//! runs statements through the same four calls on either: `execute`, `query`, `query_opt`,
//! `batch`. Statements are written in PostgreSQL's placeholder style (`$1`, `$2`, …); on
//! SQLite each `$N` is read as `?N`, so one text serves both wherever the dialects agree.
//! Where they do not (the database clock, row locks, full-text search, bulk writes), the
//! behaviour asks [`Conn::dialect`] and writes each engine's statement.
//!
//! Both drivers stay what the benchmarks chose: rusqlite (statements run inline on the
//! calling task, SQLite answers in microseconds) and tokio-postgres through deadpool, with
//! statements prepared once per connection on both.

use std::borrow::Cow;

use async_trait::async_trait;
use rusqlite::Connection;

use crate::rows::{Bind, SqlRow};
use crate::{StoreError, StoreResult};

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `sqlite` on SQLite, `postgres` on PostgreSQL.
    pub(crate) fn pick<T>(self, sqlite: T, postgres: T) -> T {
        match self {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        }
    }
}

/// What a backend gives the shared behaviours: connections. Implemented by
/// [`crate::SqliteStore`] and [`crate::PgStore`] only (the trait is not reachable outside the
/// crate); every store trait is implemented once for any `Backend`.
#[async_trait]
pub trait Backend: Clone + Send + Sync + 'static {
    /// A connection for reads: SQLite, a pooled reader; PostgreSQL, a pooled connection.
    async fn reader(&self) -> StoreResult<Conn<'_>>;
    /// A connection for writes: SQLite, the one writer (after the writers queued before this
    /// one); PostgreSQL, a pooled connection.
    async fn writer(&self) -> StoreResult<Conn<'_>>;
    /// Runs a large write where it holds no runtime thread: SQLite (whose calls block) on a
    /// blocking thread; PostgreSQL (whose I/O is asynchronous) in place.
    async fn off_runtime<T: Send + 'static>(
        &self,
        work: BoxFuture<'static, StoreResult<T>>,
    ) -> StoreResult<T>;
    /// Runs one statement on the writer; returns how many rows it changed.
    async fn write(&self, sql: &str, binds: &[crate::rows::Bind<'_>]) -> StoreResult<u64> {
        self.writer().await?.execute(sql, binds).await
    }
}

/// A boxed future that can move between threads.
pub(crate) type BoxFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A SQLite connection held for one call: a pooled reader (returned on drop) or the writer.
pub trait SqliteHandle: Send {
    fn connection(&mut self) -> &mut Connection;
}

/// A connection taken for one store call.
#[expect(
    clippy::large_enum_variant,
    reason = "a Conn lives on the stack for one call; boxing the pooled object would add an allocation to every PostgreSQL call"
)]
pub enum Conn<'s> {
    Sqlite(Box<dyn SqliteHandle + 's>),
    Postgres(deadpool_postgres::Object),
}

/// A transaction on a [`Conn`]. Dropped without [`Tx::commit`], it rolls back.
pub(crate) struct Tx<'c> {
    inner: TxInner<'c>,
}

enum TxInner<'c> {
    /// `BEGIN IMMEDIATE` was run on the connection; `open` until COMMIT succeeds.
    Sqlite {
        connection: &'c mut Connection,
        open: bool,
    },
    /// tokio-postgres' transaction queues its ROLLBACK when dropped uncommitted.
    Postgres(Option<deadpool_postgres::Transaction<'c>>),
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if let TxInner::Sqlite {
            connection,
            open: true,
        } = &mut self.inner
        {
            // Nothing to report to: the call already failed (or chose not to commit).
            let _ = connection.execute_batch("ROLLBACK");
        }
    }
}

/// The statement runner both [`Conn`] and [`Tx`] lend out.
enum Exec<'e> {
    Sqlite(&'e mut Connection),
    Postgres(&'e deadpool_postgres::Object),
    PostgresTx(&'e deadpool_postgres::Transaction<'e>),
}

/// `sql` with each `$N` placeholder written `?N` (SQLite's numbered form).
fn sqlite_text(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A unique or primary-key violation, on either engine, as [`StoreError::Duplicate`]; a
/// behaviour that knows what was duplicated relabels it ([`duplicate_as`]).
fn sqlite_error(error: rusqlite::Error) -> StoreError {
    if crate::sqlite::is_unique_violation(&error) {
        StoreError::Duplicate("value")
    } else {
        error.into()
    }
}

fn postgres_error(error: tokio_postgres::Error) -> StoreError {
    if crate::pg::is_unique_violation(&error) {
        StoreError::Duplicate("value")
    } else {
        error.into()
    }
}

/// Relabels a uniqueness violation as `Duplicate(what)`; other errors pass unchanged.
pub(crate) fn duplicate_as(what: &'static str) -> impl Fn(StoreError) -> StoreError {
    move |error| match error {
        StoreError::Duplicate(_) => StoreError::Duplicate(what),
        other => other,
    }
}

/// Whether a statement is kept in the connection's statement cache: every statement but the
/// bulk inserts, whose text varies with their row count and which are large once compiled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cache {
    Keep,
    Once,
}

fn sqlite_execute(
    connection: &Connection,
    sql: &str,
    binds: &[Bind<'_>],
    cache: Cache,
) -> StoreResult<u64> {
    let sql = sqlite_text(sql);
    let params = rusqlite::params_from_iter(binds);
    let changed = match cache {
        Cache::Keep => connection
            .prepare_cached(&sql)
            .and_then(|mut statement| statement.execute(params)),
        Cache::Once => connection
            .prepare(&sql)
            .and_then(|mut statement| statement.execute(params)),
    }
    .map_err(sqlite_error)?;
    Ok(changed as u64)
}

fn sqlite_query<T>(
    connection: &Connection,
    sql: &str,
    binds: &[Bind<'_>],
    limit: usize,
    map: impl Fn(&dyn SqlRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = connection
        .prepare_cached(&sqlite_text(sql))
        .map_err(sqlite_error)?;
    let mut rows = statement
        .query(rusqlite::params_from_iter(binds))
        .map_err(sqlite_error)?;
    let mut out = Vec::new();
    while out.len() < limit {
        match rows.next().map_err(sqlite_error)? {
            Some(row) => out.push(map(row)?),
            None => break,
        }
    }
    Ok(out)
}

async fn postgres_query<T>(
    client: &impl deadpool_postgres::GenericClient,
    sql: &str,
    binds: &[Bind<'_>],
    map: impl Fn(&dyn SqlRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let statement = client.prepare_cached(sql).await.map_err(postgres_error)?;
    let params = crate::pg::params(binds);
    let rows = client
        .query(&statement, &params)
        .await
        .map_err(postgres_error)?;
    rows.iter().map(|row| map(row)).collect()
}

async fn postgres_execute(
    client: &impl deadpool_postgres::GenericClient,
    sql: &str,
    binds: &[Bind<'_>],
    cache: Cache,
) -> StoreResult<u64> {
    let params = crate::pg::params(binds);
    match cache {
        Cache::Keep => {
            let statement = client.prepare_cached(sql).await.map_err(postgres_error)?;
            client.execute(&statement, &params).await
        }
        // An unnamed statement, prepared and run in one exchange, cached nowhere.
        Cache::Once => client.execute(sql, &params).await,
    }
    .map_err(postgres_error)
}

impl Exec<'_> {
    async fn execute(self, sql: &str, binds: &[Bind<'_>], cache: Cache) -> StoreResult<u64> {
        match self {
            Exec::Sqlite(connection) => sqlite_execute(connection, sql, binds, cache),
            Exec::Postgres(client) => postgres_execute(client, sql, binds, cache).await,
            Exec::PostgresTx(transaction) => postgres_execute(transaction, sql, binds, cache).await,
        }
    }

    async fn query<T>(
        self,
        sql: &str,
        binds: &[Bind<'_>],
        limit: usize,
        map: impl Fn(&dyn SqlRow) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        match self {
            Exec::Sqlite(connection) => sqlite_query(connection, sql, binds, limit, map),
            Exec::Postgres(client) => postgres_query(client, sql, binds, map).await,
            Exec::PostgresTx(transaction) => postgres_query(transaction, sql, binds, map).await,
        }
    }

    async fn batch(self, sql: &str) -> StoreResult<()> {
        match self {
            Exec::Sqlite(connection) => connection.execute_batch(sql).map_err(sqlite_error),
            Exec::Postgres(client) => client.batch_execute(sql).await.map_err(postgres_error),
            Exec::PostgresTx(transaction) => {
                transaction.batch_execute(sql).await.map_err(postgres_error)
            }
        }
    }
}

/// Rows per multi-row insert: within both engines' parameter limits (SQLite 32,766,
/// PostgreSQL 65,535) for the widest table.
pub(crate) const INSERT_BATCH: usize = 64;

/// The statement calls, the same on a connection and on a transaction (not every call is
/// made on both, hence `dead_code` allowed).
macro_rules! statement_calls {
    () => {
        /// Runs a statement; returns how many rows it changed.
        #[allow(dead_code)]
        pub(crate) async fn execute(&mut self, sql: &str, binds: &[Bind<'_>]) -> StoreResult<u64> {
            self.exec().execute(sql, binds, Cache::Keep).await
        }

        /// Every row of a query, mapped.
        #[allow(dead_code)]
        pub(crate) async fn query<T>(
            &mut self,
            sql: &str,
            binds: &[Bind<'_>],
            map: impl Fn(&dyn SqlRow) -> StoreResult<T>,
        ) -> StoreResult<Vec<T>> {
            self.exec().query(sql, binds, usize::MAX, map).await
        }

        /// The first row of a query, mapped, if there is one.
        #[allow(dead_code)]
        pub(crate) async fn query_opt<T>(
            &mut self,
            sql: &str,
            binds: &[Bind<'_>],
            map: impl Fn(&dyn SqlRow) -> StoreResult<T>,
        ) -> StoreResult<Option<T>> {
            Ok(self
                .exec()
                .query(sql, binds, 1, map)
                .await?
                .into_iter()
                .next())
        }

        /// The records of `SELECT <R's columns> FROM <from>`, where `from` names the table and
        /// what follows it (`users WHERE id = $1`).
        #[allow(dead_code)]
        pub(crate) async fn select<R: crate::record::Stored>(
            &mut self,
            from: &str,
            binds: &[Bind<'_>],
        ) -> StoreResult<Vec<R>> {
            let sql = format!("SELECT {} FROM {from}", R::columns());
            self.query(&sql, binds, R::from_row).await
        }

        /// The first record of such a select, if there is one.
        #[allow(dead_code)]
        pub(crate) async fn select_opt<R: crate::record::Stored>(
            &mut self,
            from: &str,
            binds: &[Bind<'_>],
        ) -> StoreResult<Option<R>> {
            let sql = format!("SELECT {} FROM {from}", R::columns());
            self.query_opt(&sql, binds, R::from_row).await
        }

        /// Stores one new record in `table`.
        #[allow(dead_code)]
        pub(crate) async fn insert<R: crate::record::Stored>(
            &mut self,
            table: &str,
            record: &R,
        ) -> StoreResult<()> {
            let sql = crate::rows::insert_statement(table, R::columns());
            self.execute(&sql, &record.values()).await.map(drop)
        }

        /// Runs statements without parameters, separated by semicolons.
        #[allow(dead_code)]
        pub(crate) async fn batch(&mut self, sql: &str) -> StoreResult<()> {
            self.exec().batch(sql).await
        }

        /// A versioned row update; true when the row had the expected version and changed.
        /// On PostgreSQL the version condition is re-checked after waiting for a concurrent
        /// writer's row lock, so of two writers that read the same version the second
        /// changes nothing.
        #[allow(dead_code)]
        pub(crate) async fn update_row(
            &mut self,
            update: &crate::rows::RowUpdate<'_>,
        ) -> StoreResult<bool> {
            Ok(self.execute(&update.sql(), &update.values).await? == 1)
        }

        /// Inserts `records` into `table` (`columns` in the order `values` gives them), as
        /// multi-row `VALUES` lists of at most [`INSERT_BATCH`] rows: one round trip per batch.
        /// The statements are not cached (their text varies with the row count).
        #[allow(dead_code)]
        pub(crate) async fn insert_rows<R>(
            &mut self,
            table: &str,
            columns: &str,
            records: &[R],
            values: impl for<'r> Fn(&'r R) -> StoreResult<Vec<Bind<'r>>>,
        ) -> StoreResult<()> {
            self.insert_rows_by(table, columns, records, INSERT_BATCH, values)
                .await
        }

        /// [`insert_rows`](Self::insert_rows) with `rows_per_statement` rows per statement.
        #[allow(dead_code)]
        pub(crate) async fn insert_rows_by<R>(
            &mut self,
            table: &str,
            columns: &str,
            records: &[R],
            rows_per_statement: usize,
            values: impl for<'r> Fn(&'r R) -> StoreResult<Vec<Bind<'r>>>,
        ) -> StoreResult<()> {
            for batch in records.chunks(rows_per_statement.max(1)) {
                let sql = crate::rows::insert_rows_statement(table, columns, batch.len());
                let mut binds = Vec::new();
                for record in batch {
                    binds.extend(values(record)?);
                }
                self.exec().execute(&sql, &binds, Cache::Once).await?;
            }
            Ok(())
        }

        /// A paged listing: the total `count_sql` answers (its one column named `count`),
        /// and the rows of `page_sql` — which ends in `LIMIT $n OFFSET $n+1`, numbered after
        /// `binds` — for `(limit, offset)`.
        #[allow(dead_code)]
        pub(crate) async fn count_and_page<T>(
            &mut self,
            count_sql: &str,
            binds: Vec<Bind<'_>>,
            (limit, offset): (i64, i64),
            page_sql: &str,
            map: impl Fn(&dyn SqlRow) -> StoreResult<T>,
        ) -> StoreResult<(i64, Vec<T>)> {
            let total = self
                .query_opt(count_sql, &binds, |row| row.int("count"))
                .await?
                .unwrap_or(0);
            let mut binds = binds;
            binds.push(Bind::Int(limit));
            binds.push(Bind::Int(offset));
            let rows = self.query(page_sql, &binds, map).await?;
            Ok((total, rows))
        }
    };
}

impl<'s> Conn<'s> {
    /// The engine this connection talks to.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    fn exec(&mut self) -> Exec<'_> {
        match self {
            Conn::Sqlite(handle) => Exec::Sqlite(handle.connection()),
            Conn::Postgres(client) => Exec::Postgres(client),
        }
    }

    /// Opens a transaction. SQLite: `BEGIN IMMEDIATE` (take the write lock first, so two
    /// processes cannot both read and then write); PostgreSQL: READ COMMITTED, with rows
    /// locked where a behaviour reads before it writes.
    pub(crate) async fn begin(&mut self) -> StoreResult<Tx<'_>> {
        let inner = match self {
            Conn::Sqlite(handle) => {
                let connection = handle.connection();
                connection
                    .execute_batch("BEGIN IMMEDIATE")
                    .map_err(sqlite_error)?;
                TxInner::Sqlite {
                    connection,
                    open: true,
                }
            }
            Conn::Postgres(client) => {
                TxInner::Postgres(Some(client.transaction().await.map_err(postgres_error)?))
            }
        };
        Ok(Tx { inner })
    }

    statement_calls!();
}

impl Tx<'_> {
    /// The engine this transaction runs on.
    pub(crate) fn dialect(&self) -> Dialect {
        match self.inner {
            TxInner::Sqlite { .. } => Dialect::Sqlite,
            TxInner::Postgres(_) => Dialect::Postgres,
        }
    }

    fn exec(&mut self) -> Exec<'_> {
        match &mut self.inner {
            TxInner::Sqlite { connection, .. } => Exec::Sqlite(connection),
            TxInner::Postgres(transaction) => Exec::PostgresTx(
                transaction
                    .as_ref()
                    .expect("a transaction is used only until it commits"),
            ),
        }
    }

    /// Commits; on failure the transaction rolls back.
    pub(crate) async fn commit(mut self) -> StoreResult<()> {
        match &mut self.inner {
            TxInner::Sqlite { connection, open } => {
                connection.execute_batch("COMMIT").map_err(sqlite_error)?;
                *open = false;
                Ok(())
            }
            TxInner::Postgres(transaction) => match transaction.take() {
                Some(transaction) => transaction.commit().await.map_err(postgres_error),
                None => Ok(()),
            },
        }
    }

    statement_calls!();
}

#[cfg(test)]
mod tests {
    use super::sqlite_text;

    #[test]
    fn placeholders_are_numbered_the_sqlite_way() {
        assert_eq!(
            sqlite_text("UPDATE t SET a = $1 WHERE b = $12 AND c = '$x'"),
            "UPDATE t SET a = ?1 WHERE b = ?12 AND c = '$x'"
        );
        assert!(matches!(
            sqlite_text("SELECT 1"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
