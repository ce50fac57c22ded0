//! The scale-out backend: PostgreSQL through tokio-postgres with a deadpool connection pool.
//!
//! Every node of a cluster opens the same database; nothing that matters is node-local.
//! Statements are prepared once per pooled connection (`prepare_cached`). Migrations run under
//! a session advisory lock, so nodes starting together apply each migration once. The SQL
//! mirrors the SQLite backend's, with PostgreSQL's placeholders (`$1`) and types (BIGINT,
//! BOOLEAN, BYTEA); integer columns are all BIGINT so they map to `i64` like SQLite's.

use async_trait::async_trait;
use brandstream_domain::{ClientId, OrgId, ScopeSet, UnixSeconds};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::pg_tls::{client_config, tls_choice};
use crate::{
    AuditEvent, AuditStore, ClientRecord, ClientStatus, ClientStore, KeyState, KeyStore,
    LeaseStore, NewClient, NewSecret, Org, OrgStore, RevocationStore, SecretRecord,
    SigningKeyRecord, Store, StoreError, StoreResult, TokenRevocation,
};

/// Migrations, applied in order; each runs once, in its own transaction.
const MIGRATIONS: &[(i64, &str, &str)] = migrations!("postgres":
    1 "0001" token_service,
    2 "0002" brand_kits,
    3 "0003" documents_and_runs,
    4 "0004" portal,
    5 "0005" search_form,
    6 "0006" document_charset,
);

/// The advisory lock key that serialises migrations across nodes ("brandstr" in ASCII).
const MIGRATION_LOCK: i64 = 0x6272_616e_6473_7472;
/// The advisory lock key that serialises token revocations, so `seq` order is commit order.
const REVOCATION_LOCK: i64 = 0x6272_616e_6472_766b;

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

/// Maps a unique violation to `Duplicate(what)` and anything else to a database error.
pub(crate) fn duplicate_as(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |error| {
        if is_unique_violation(&error) {
            StoreError::Duplicate(what)
        } else {
            error.into()
        }
    }
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

    /// [`query_all`] on a pooled connection, for a statement that needs no transaction.
    pub(crate) async fn fetch_all<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        map: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        query_all(&self.client().await?, sql, params, map).await
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
            return Ok(MIGRATIONS.len());
        }
        let applied: Vec<i64> = client
            .query("SELECT version FROM brandstream_migrations", &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        Ok(MIGRATIONS
            .iter()
            .filter(|(version, _, _)| !applied.contains(version))
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
    for (version, name, sql) in MIGRATIONS {
        let transaction = client.transaction().await?;
        let done = transaction
            .query_opt(
                "SELECT version FROM brandstream_migrations WHERE version = $1",
                &[version],
            )
            .await?
            .is_some();
        if !done {
            transaction.batch_execute(sql).await.map_err(|e| {
                StoreError::Migration(format!("{version} {name}: {}", StoreError::from(e)))
            })?;
            transaction
                .execute(
                    "INSERT INTO brandstream_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    &[version, name, &brandstream_domain::now_unix()],
                )
                .await?;
            applied += 1;
        }
        transaction.commit().await?;
    }
    Ok(applied)
}

/// Every row of a query, mapped.
pub(crate) async fn query_all<T>(
    client: &impl GenericClient,
    sql: &str,
    params: &[Param<'_>],
    map: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let statement = client.prepare_cached(sql).await?;
    client
        .query(&statement, params)
        .await?
        .iter()
        .map(map)
        .collect()
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

/// Runs a versioned row update; true when the row had the expected version and changed. The
/// version condition is re-checked after waiting for a concurrent writer's row lock, so of two
/// writers that read the same version the second changes nothing.
pub(crate) async fn update_row(
    client: &impl GenericClient,
    update: &crate::rows::RowUpdate<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let statement = client.prepare_cached(&update.sql('$')).await?;
    Ok(client.execute(&statement, &params(&update.values)).await? == 1)
}

/// A column, with a decoding failure reported as corrupt data.
pub(crate) fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    name: &str,
) -> StoreResult<T> {
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// The `org_id` column as an organisation id.
pub(crate) fn org_column(row: &Row) -> StoreResult<OrgId> {
    OrgId::parse(&column::<String>(row, "org_id")?).map_err(corrupt)
}

/// A paged listing: the total matching `count_sql`, and the rows of `page_sql` (which ends in
/// `LIMIT $n OFFSET $n+1`, numbered after `values`) for `(limit, offset)`.
pub(crate) async fn count_and_page<T>(
    client: &impl GenericClient,
    count_sql: &str,
    values: &[Param<'_>],
    (limit, offset): (i64, i64),
    page_sql: &str,
    map: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<(i64, Vec<T>)> {
    let total: i64 = query_one(client, count_sql, values, |row| column(row, "count"))
        .await?
        .unwrap_or(0);
    let mut page_values: Vec<Param<'_>> = values.to_vec();
    page_values.push(&limit);
    page_values.push(&offset);
    let rows = query_all(client, page_sql, &page_values, map).await?;
    Ok((total, rows))
}

pub(crate) fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn org_from_row(row: &Row) -> StoreResult<Org> {
    Ok(Org {
        id: OrgId::parse(&column::<String>(row, "id")?).map_err(corrupt)?,
        name: column(row, "name")?,
        is_default: column(row, "is_default")?,
        created_at: column(row, "created_at")?,
    })
}

fn status_from_str(value: &str) -> StoreResult<ClientStatus> {
    match value {
        "active" => Ok(ClientStatus::Active),
        "revoked" => Ok(ClientStatus::Revoked),
        other => Err(StoreError::Corrupt(format!("client status {other}"))),
    }
}

fn client_from_row(row: &Row) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        client_id: ClientId::parse(&column::<String>(row, "client_id")?).map_err(corrupt)?,
        org_id: org_column(row)?,
        label: column(row, "label")?,
        description: column(row, "description")?,
        scopes: ScopeSet::parse(&column::<String>(row, "scopes")?).map_err(corrupt)?,
        token_lifetime: column(row, "token_lifetime")?,
        status: status_from_str(&column::<String>(row, "status")?)?,
        created_at: column(row, "created_at")?,
        last_used_at: column(row, "last_used_at")?,
        revoked_at: column(row, "revoked_at")?,
        secrets: Vec::new(),
    })
}

fn secret_hash(row: &Row, name: &str) -> StoreResult<[u8; 32]> {
    column::<Vec<u8>>(row, name)?
        .try_into()
        .map_err(|_| StoreError::Corrupt("secret hash length".into()))
}

fn secret_from_row(row: &Row) -> StoreResult<SecretRecord> {
    Ok(SecretRecord {
        id: column(row, "id")?,
        hash: secret_hash(row, "secret_hash")?,
        hint: column(row, "hint")?,
        created_at: column(row, "created_at")?,
    })
}

fn key_from_row(row: &Row) -> StoreResult<SigningKeyRecord> {
    let state: String = column(row, "state")?;
    Ok(SigningKeyRecord {
        kid: column(row, "kid")?,
        alg: column(row, "alg")?,
        state: KeyState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("key state {state}")))?,
        private_key_encrypted: column(row, "private_key_enc")?,
        public_jwk: column(row, "public_jwk")?,
        created_at: column(row, "created_at")?,
        activated_at: column(row, "activated_at")?,
        retired_at: column(row, "retired_at")?,
    })
}

const CLIENT_COLUMNS: &str = "client_id, org_id, label, description, scopes, token_lifetime, \
     status, created_at, last_used_at, revoked_at";

/// How far back `clients_changed_since` re-reads. Change times come from the database clock
/// (one clock for every node), but a transaction that started earlier can commit later; the
/// overlap covers that. Re-applying a change is harmless.
const CHANGE_LOOKBACK_SECONDS: i64 = 5;

/// The database clock in Unix seconds, for change times every node agrees on.
const DB_NOW: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)";

async fn mark_client_updated(client: &impl GenericClient, id: &ClientId) -> StoreResult<()> {
    execute(
        client,
        &format!(
            "UPDATE clients SET updated_at = GREATEST(updated_at, {DB_NOW}) WHERE client_id = $1"
        ),
        &[&id.as_str()],
    )
    .await?;
    Ok(())
}

async fn insert_key(client: &impl GenericClient, key: &SigningKeyRecord) -> StoreResult<()> {
    execute(
        client,
        "INSERT INTO signing_keys (kid, alg, state, private_key_enc, public_jwk, created_at, \
         activated_at, retired_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &key.kid,
            &key.alg,
            &key.state.as_str(),
            &key.private_key_encrypted,
            &key.public_jwk,
            &key.created_at,
            &key.activated_at,
            &key.retired_at,
        ],
    )
    .await?;
    Ok(())
}

/// The credential's status, locking its row for the rest of the transaction.
async fn lock_client_status(
    client: &impl GenericClient,
    id: &ClientId,
) -> StoreResult<Option<String>> {
    query_one(
        client,
        "SELECT status FROM clients WHERE client_id = $1 FOR UPDATE",
        &[&id.as_str()],
        |row| column(row, "status"),
    )
    .await
}

async fn active_secret_ids(client: &impl GenericClient, id: &ClientId) -> StoreResult<Vec<i64>> {
    query_all(
        client,
        "SELECT id FROM client_secrets WHERE client_id = $1 AND retired_at IS NULL ORDER BY id",
        &[&id.as_str()],
        |row| column(row, "id"),
    )
    .await
}

#[async_trait]
impl OrgStore for PgStore {
    async fn create_org(&self, org: &Org) -> StoreResult<()> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO orgs (id, name, is_default, created_at) VALUES ($1, $2, $3, $4)",
            )
            .await?;
        client
            .execute(
                &statement,
                &[
                    &org.id.as_str(),
                    &org.name,
                    &org.is_default,
                    &org.created_at,
                ],
            )
            .await
            .map_err(|error| {
                if is_unique_violation(&error) {
                    StoreError::Conflict("the organisation already exists".into())
                } else {
                    error.into()
                }
            })?;
        Ok(())
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        self.fetch_all(
            "SELECT id, name, is_default, created_at FROM orgs ORDER BY created_at, id",
            &[],
            org_from_row,
        )
        .await
    }

    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Org>> {
        self.fetch_one(
            "SELECT id, name, is_default, created_at FROM orgs WHERE id = $1",
            &[&id.as_str()],
            org_from_row,
        )
        .await
    }

    async fn default_org(&self) -> StoreResult<Option<Org>> {
        self.fetch_one(
            "SELECT id, name, is_default, created_at FROM orgs WHERE is_default",
            &[],
            org_from_row,
        )
        .await
    }
}

#[async_trait]
impl ClientStore for PgStore {
    async fn create_client(&self, new: &NewClient, secret: &NewSecret) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        execute(
            &transaction,
            &format!(
                "INSERT INTO clients (client_id, org_id, label, description, scopes, token_lifetime, \
                 status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, \
                 GREATEST($7, {DB_NOW}))"
            ),
            &[
                &new.client_id.as_str(),
                &new.org_id.as_str(),
                &new.label,
                &new.description,
                &new.scopes.to_scope_string(),
                &new.token_lifetime,
                &new.created_at,
            ],
        )
        .await?;
        execute(
            &transaction,
            "INSERT INTO client_secrets (client_id, secret_hash, hint, created_at) VALUES ($1, $2, $3, $4)",
            &[&new.client_id.as_str(), &&secret.hash[..], &secret.hint, &secret.created_at],
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn get_client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        let client = self.client().await?;
        let rows = query_all(
            &client,
            "SELECT c.client_id, c.org_id, c.label, c.description, c.scopes, c.token_lifetime, \
             c.status, c.created_at, c.last_used_at, c.revoked_at, \
             s.id AS secret_id, s.secret_hash, s.hint, s.created_at AS secret_created_at \
             FROM clients c LEFT JOIN client_secrets s \
               ON s.client_id = c.client_id AND s.retired_at IS NULL \
             WHERE c.client_id = $1 ORDER BY s.id",
            &[&id.as_str()],
            |row| {
                let record = client_from_row(row)?;
                let secret = match column::<Option<i64>>(row, "secret_id")? {
                    Some(secret_id) => Some(SecretRecord {
                        id: secret_id,
                        hash: secret_hash(row, "secret_hash")?,
                        hint: column(row, "hint")?,
                        created_at: column(row, "secret_created_at")?,
                    }),
                    None => None,
                };
                Ok((record, secret))
            },
        )
        .await?;
        let mut rows = rows.into_iter();
        let Some((mut record, first_secret)) = rows.next() else {
            return Ok(None);
        };
        record.secrets.extend(first_secret);
        record.secrets.extend(rows.filter_map(|(_, secret)| secret));
        Ok(Some(record))
    }

    async fn list_clients(&self, org: &OrgId) -> StoreResult<Vec<ClientRecord>> {
        let client = self.client().await?;
        let mut records = query_all(
            &client,
            &format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE org_id = $1 ORDER BY created_at, client_id"),
            &[&org.as_str()],
            client_from_row,
        )
        .await?;
        let secrets = query_all(
            &client,
            "SELECT s.client_id, s.id, s.secret_hash, s.hint, s.created_at FROM client_secrets s \
             JOIN clients c ON c.client_id = s.client_id \
             WHERE c.org_id = $1 AND s.retired_at IS NULL ORDER BY s.id",
            &[&org.as_str()],
            |row| Ok((column::<String>(row, "client_id")?, secret_from_row(row)?)),
        )
        .await?;
        for (owner, secret) in secrets {
            if let Some(record) = records.iter_mut().find(|c| c.client_id.as_str() == owner) {
                record.secrets.push(secret);
            }
        }
        Ok(records)
    }

    async fn revoke_client(&self, id: &ClientId, now: UnixSeconds) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        match lock_client_status(&transaction, id).await?.as_deref() {
            None => return Err(StoreError::NotFound("credential")),
            Some("revoked") => return Ok(false),
            _ => {}
        }
        execute(
            &transaction,
            &format!(
                "UPDATE clients SET status = 'revoked', revoked_at = $1, \
                 updated_at = GREATEST(updated_at, {DB_NOW}) WHERE client_id = $2"
            ),
            &[&now, &id.as_str()],
        )
        .await?;
        execute(
            &transaction,
            "UPDATE client_secrets SET retired_at = $1 WHERE client_id = $2 AND retired_at IS NULL",
            &[&now, &id.as_str()],
        )
        .await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn add_secret(
        &self,
        id: &ClientId,
        secret: &NewSecret,
        max_active: usize,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        match lock_client_status(&transaction, id).await?.as_deref() {
            None => return Err(StoreError::NotFound("credential")),
            Some("revoked") => {
                return Err(StoreError::Conflict("the credential is revoked".into()))
            }
            _ => {}
        }
        let active = active_secret_ids(&transaction, id).await?;
        let excess = (active.len() + 1).saturating_sub(max_active);
        for secret_id in active.iter().take(excess) {
            execute(
                &transaction,
                "UPDATE client_secrets SET retired_at = $1 WHERE id = $2",
                &[&secret.created_at, secret_id],
            )
            .await?;
        }
        execute(
            &transaction,
            "INSERT INTO client_secrets (client_id, secret_hash, hint, created_at) VALUES ($1, $2, $3, $4)",
            &[&id.as_str(), &&secret.hash[..], &secret.hint, &secret.created_at],
        )
        .await?;
        mark_client_updated(&transaction, id).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn retire_oldest_secret(&self, id: &ClientId, now: UnixSeconds) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let Some(_) = lock_client_status(&transaction, id).await? else {
            return Err(StoreError::NotFound("credential"));
        };
        let active = active_secret_ids(&transaction, id).await?;
        if active.len() < 2 {
            return Ok(false);
        }
        execute(
            &transaction,
            "UPDATE client_secrets SET retired_at = $1 WHERE id = $2",
            &[&now, &active[0]],
        )
        .await?;
        mark_client_updated(&transaction, id).await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn replace_secret_hash(
        &self,
        id: &ClientId,
        old: &[u8; 32],
        new: &[u8; 32],
    ) -> StoreResult<bool> {
        Ok(self
            .run(
                "UPDATE client_secrets SET secret_hash = $1 \
             WHERE client_id = $2 AND secret_hash = $3 AND retired_at IS NULL",
                &[&&new[..], &id.as_str(), &&old[..]],
            )
            .await?
            == 1)
    }

    async fn touch_clients(&self, uses: &[(ClientId, UnixSeconds)]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
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

    async fn clients_changed_since(
        &self,
        since: UnixSeconds,
    ) -> StoreResult<Vec<(ClientId, ClientStatus, UnixSeconds)>> {
        let client = self.client().await?;
        let from = since.saturating_sub(CHANGE_LOOKBACK_SECONDS);
        query_all(
            &client,
            // Everything from the look-back start, then at most about 10,000 newer changes,
            // always ending on a whole second: the caller's cursor (the newest time returned)
            // then moves forward even when more than a page changed within the look-back.
            "SELECT client_id, status, updated_at FROM clients \
             WHERE updated_at >= $1 AND updated_at <= COALESCE( \
                 (SELECT updated_at FROM clients WHERE updated_at > $2 \
                  ORDER BY updated_at OFFSET 9999 LIMIT 1), 9223372036854775807) \
             ORDER BY updated_at",
            &[&from, &since],
            |row| {
                let id = ClientId::parse(&column::<String>(row, "client_id")?).map_err(corrupt)?;
                let status = status_from_str(&column::<String>(row, "status")?)?;
                Ok((id, status, column(row, "updated_at")?))
            },
        )
        .await
    }
}

#[async_trait]
impl KeyStore for PgStore {
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.fetch_all(
            "SELECT kid, alg, state, private_key_enc, public_jwk, created_at, activated_at, \
             retired_at FROM signing_keys ORDER BY created_at, kid",
            &[],
            key_from_row,
        )
        .await
    }

    async fn bootstrap_signing_keys(
        &self,
        active: &SigningKeyRecord,
        next: &SigningKeyRecord,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // Nodes starting together on an empty keyring take turns here; the second sees keys.
        execute(
            &transaction,
            "LOCK TABLE signing_keys IN EXCLUSIVE MODE",
            &[],
        )
        .await?;
        let existing: i64 = query_one(
            &transaction,
            "SELECT COUNT(*) AS count FROM signing_keys",
            &[],
            |row| column(row, "count"),
        )
        .await?
        .unwrap_or(0);
        if existing > 0 {
            return Ok(false);
        }
        insert_key(&transaction, active).await?;
        insert_key(&transaction, next).await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn rotate_signing_keys(
        &self,
        expected_active: &str,
        new_active: Option<&SigningKeyRecord>,
        new_next: &SigningKeyRecord,
        now: UnixSeconds,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let retired = execute(
            &transaction,
            "UPDATE signing_keys SET state = 'retired', retired_at = $1 WHERE kid = $2 AND state = 'active'",
            &[&now, &expected_active],
        )
        .await?;
        if retired != 1 {
            // Someone else rotated first; the transaction rolls back when dropped.
            return Ok(false);
        }
        match new_active {
            Some(key) => {
                execute(
                    &transaction,
                    "UPDATE signing_keys SET state = 'retired', retired_at = $1 WHERE state = 'next'",
                    &[&now],
                )
                .await?;
                insert_key(&transaction, key).await?;
            }
            None => {
                let promoted = execute(
                    &transaction,
                    "UPDATE signing_keys SET state = 'active', activated_at = $1 \
                     WHERE kid = (SELECT kid FROM signing_keys WHERE state = 'next' \
                                  ORDER BY created_at LIMIT 1)",
                    &[&now],
                )
                .await?;
                if promoted != 1 {
                    return Err(StoreError::Conflict(
                        "no next signing key to promote".into(),
                    ));
                }
            }
        }
        insert_key(&transaction, new_next).await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn rewrap_signing_key(&self, kid: &str, old: &[u8], new: &[u8]) -> StoreResult<bool> {
        Ok(self.run(
            "UPDATE signing_keys SET private_key_enc = $1 WHERE kid = $2 AND private_key_enc = $3",
            &[&new, &kid, &old],
        )
        .await?
            == 1)
    }

    async fn prune_signing_keys(&self, retired_before: UnixSeconds) -> StoreResult<u64> {
        self.run(
            "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < $1",
            &[&retired_before],
        )
        .await
    }
}

#[async_trait]
impl RevocationStore for PgStore {
    async fn revoke_token(&self, revocation: &TokenRevocation) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // Serialised: a revocation that takes its sequence number later also commits later,
        // so nodes polling `seq > last seen` never skip one.
        execute(
            &transaction,
            "SELECT pg_advisory_xact_lock($1)",
            &[&REVOCATION_LOCK],
        )
        .await?;
        execute(
            &transaction,
            "INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (jti) DO NOTHING",
            &[&revocation.jti, &revocation.client_id, &revocation.expires_at, &revocation.revoked_at],
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn revocations_after(&self, after: i64) -> StoreResult<Vec<(i64, TokenRevocation)>> {
        self.fetch_all(
            "SELECT seq, jti, client_id, expires_at, revoked_at FROM revoked_tokens \
             WHERE seq > $1 ORDER BY seq LIMIT 10000",
            &[&after],
            |row| {
                Ok((
                    column(row, "seq")?,
                    TokenRevocation {
                        jti: column(row, "jti")?,
                        client_id: column(row, "client_id")?,
                        expires_at: column(row, "expires_at")?,
                        revoked_at: column(row, "revoked_at")?,
                    },
                ))
            },
        )
        .await
    }

    async fn prune_revocations(&self, now: UnixSeconds) -> StoreResult<u64> {
        self.run("DELETE FROM revoked_tokens WHERE expires_at < $1", &[&now])
            .await
    }
}

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
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
        .await?;
        Ok(())
    }

    async fn prune_audit_events(&self, before: UnixSeconds) -> StoreResult<u64> {
        self.run("DELETE FROM audit_events WHERE at < $1", &[&before])
            .await
    }

    async fn list_audit_events(
        &self,
        org: Option<&OrgId>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let client = self.client().await?;
        let limit = i64::from(limit);
        // Two statements rather than `($1 IS NULL OR org_id = $1)`: a cached generic plan for
        // that would scan the whole trail backwards for a quiet organisation.
        let (sql, org_id);
        let params: Vec<Param<'_>> = match org {
            Some(org) => {
                org_id = org.as_str();
                sql = "SELECT id, at, org_id, kind, client_id, actor, source_address, detail \
                       FROM audit_events WHERE org_id = $1 ORDER BY id DESC LIMIT $2";
                vec![&org_id, &limit]
            }
            None => {
                sql = "SELECT id, at, org_id, kind, client_id, actor, source_address, detail \
                       FROM audit_events ORDER BY id DESC LIMIT $1";
                vec![&limit]
            }
        };
        query_all(&client, sql, &params, |row| {
            let detail: String = column(row, "detail")?;
            Ok(AuditEvent {
                id: column(row, "id")?,
                at: column(row, "at")?,
                org_id: column(row, "org_id")?,
                kind: column(row, "kind")?,
                client_id: column(row, "client_id")?,
                actor: column(row, "actor")?,
                source_address: column(row, "source_address")?,
                detail: serde_json::from_str(&detail).map_err(corrupt)?,
            })
        })
        .await
    }
}

#[async_trait]
impl LeaseStore for PgStore {
    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        now: UnixSeconds,
        ttl_seconds: i64,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        let until = now + ttl_seconds;
        let changed = execute(
            &client,
            "INSERT INTO leases (name, owner, until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until \
             WHERE leases.owner = EXCLUDED.owner OR leases.until < $4",
            &[&name, &owner, &until, &now],
        )
        .await?;
        Ok(changed == 1)
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

/// Test support: a fresh database on the server named by `TEST_DATABASE_URL`.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A store on a new, empty database, or `None` (with a note) when `TEST_DATABASE_URL` is
    /// not set.
    pub async fn fresh_store(purpose: &str) -> Option<PgStore> {
        let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("skipped {purpose}: TEST_DATABASE_URL is not set");
            return None;
        };
        let name = format!(
            "bs_unit_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .expect("TEST_DATABASE_URL reachable");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let url = match base.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("TEST_DATABASE_URL must name a database"),
        };
        Some(PgStore::connect(&url, 4, true).await.expect("connect"))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::fresh_store;

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
