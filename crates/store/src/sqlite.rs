//! The embedded backend: one SQLite file in WAL mode.
//!
//! WAL lets readers (token requests) proceed while a writer (the audit batcher, the admin CLI
//! in another process) commits; `busy_timeout` makes concurrent writers wait instead of
//! failing; foreign keys are enforced.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use brandstream_domain::{ClientId, OrgId, ScopeSet, UnixSeconds};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::{
    AuditEvent, AuditStore, ClientRecord, ClientStatus, ClientStore, KeyState, KeyStore, NewClient,
    NewSecret, Org, OrgStore, RevocationStore, SecretRecord, SigningKeyRecord, Store, StoreError,
    StoreResult, TokenRevocation,
};

/// Embedded migrations, applied in order; each runs once, in its own transaction.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "token_service",
        include_str!("../migrations/sqlite/0001_token_service.sql"),
    ),
    (
        2,
        "brand_kits",
        include_str!("../migrations/sqlite/0002_brand_kits.sql"),
    ),
];

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .statement_cache_capacity(128);
        Self::connect(options).await
    }

    /// Opens a database from a `sqlite:` URL.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> StoreResult<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS brandstream_migrations (
                 version INTEGER PRIMARY KEY NOT NULL,
                 name TEXT NOT NULL,
                 applied_at INTEGER NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        for (version, name, sql) in MIGRATIONS {
            // BEGIN IMMEDIATE takes the write lock first, so two processes starting together
            // cannot both apply the same migration.
            let mut connection = self.pool.acquire().await?;
            sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(&mut *connection)
                .await
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM brandstream_migrations WHERE version = ?")
                    .bind(version)
                    .fetch_optional(&mut *connection)
                    .await?;
            let outcome = if applied.is_some() {
                Ok(())
            } else {
                let result = sqlx::raw_sql(sql).execute(&mut *connection).await;
                match result {
                    Ok(_) => sqlx::query(
                        "INSERT INTO brandstream_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    )
                    .bind(version)
                    .bind(name)
                    .bind(brandstream_domain::now_unix())
                    .execute(&mut *connection)
                    .await
                    .map(|_| ()),
                    Err(error) => Err(error),
                }
            };
            match outcome {
                Ok(()) => {
                    sqlx::raw_sql("COMMIT").execute(&mut *connection).await?;
                }
                Err(error) => {
                    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *connection).await;
                    return Err(StoreError::Migration(format!("{version} {name}: {error}")));
                }
            }
        }
        Ok(())
    }

    /// Starts a write transaction. `BEGIN IMMEDIATE` takes the write lock up front, so a
    /// transaction that reads before it writes cannot fail with `SQLITE_BUSY` when another
    /// process (the admin CLI) committed in between; it waits for the busy timeout instead.
    pub(crate) async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn org_from_row(row: &SqliteRow) -> StoreResult<Org> {
    Ok(Org {
        id: OrgId::parse(row.try_get::<&str, _>("id")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        name: row.try_get("name")?,
        is_default: row.try_get::<i64, _>("is_default")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

fn status_from_str(value: &str) -> StoreResult<ClientStatus> {
    match value {
        "active" => Ok(ClientStatus::Active),
        "revoked" => Ok(ClientStatus::Revoked),
        other => Err(StoreError::Corrupt(format!("client status {other}"))),
    }
}

fn client_from_row(row: &SqliteRow) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        client_id: ClientId::parse(row.try_get::<&str, _>("client_id")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        org_id: OrgId::parse(row.try_get::<&str, _>("org_id")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        label: row.try_get("label")?,
        description: row.try_get("description")?,
        scopes: ScopeSet::parse(row.try_get::<&str, _>("scopes")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        token_lifetime: row.try_get("token_lifetime")?,
        status: status_from_str(row.try_get::<&str, _>("status")?)?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
        secrets: Vec::new(),
    })
}

fn secret_from_row(row: &SqliteRow) -> StoreResult<SecretRecord> {
    let hash: Vec<u8> = row.try_get("secret_hash")?;
    Ok(SecretRecord {
        id: row.try_get("id")?,
        hash: hash
            .try_into()
            .map_err(|_| StoreError::Corrupt("secret hash length".into()))?,
        hint: row.try_get("hint")?,
        created_at: row.try_get("created_at")?,
    })
}

fn key_from_row(row: &SqliteRow) -> StoreResult<SigningKeyRecord> {
    let state: &str = row.try_get("state")?;
    Ok(SigningKeyRecord {
        kid: row.try_get("kid")?,
        alg: row.try_get("alg")?,
        state: KeyState::parse(state)
            .ok_or_else(|| StoreError::Corrupt(format!("key state {state}")))?,
        private_key_encrypted: row.try_get("private_key_enc")?,
        public_jwk: row.try_get("public_jwk")?,
        created_at: row.try_get("created_at")?,
        activated_at: row.try_get("activated_at")?,
        retired_at: row.try_get("retired_at")?,
    })
}

const CLIENT_COLUMNS: &str = "client_id, org_id, label, description, scopes, token_lifetime, \
     status, created_at, last_used_at, revoked_at";

async fn mark_client_updated(
    transaction: &mut Transaction<'static, Sqlite>,
    id: &ClientId,
    now: UnixSeconds,
) -> StoreResult<()> {
    sqlx::query("UPDATE clients SET updated_at = MAX(updated_at, ?) WHERE client_id = ?")
        .bind(now)
        .bind(id.as_str())
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

async fn insert_key(
    transaction: &mut Transaction<'static, Sqlite>,
    key: &SigningKeyRecord,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, state, private_key_enc, public_jwk, created_at, \
         activated_at, retired_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&key.kid)
    .bind(&key.alg)
    .bind(key.state.as_str())
    .bind(&key.private_key_encrypted)
    .bind(&key.public_jwk)
    .bind(key.created_at)
    .bind(key.activated_at)
    .bind(key.retired_at)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

#[async_trait]
impl OrgStore for SqliteStore {
    async fn create_org(&self, org: &Org) -> StoreResult<()> {
        sqlx::query("INSERT INTO orgs (id, name, is_default, created_at) VALUES (?, ?, ?, ?)")
            .bind(org.id.as_str())
            .bind(&org.name)
            .bind(i64::from(org.is_default))
            .bind(org.created_at)
            .execute(&self.pool)
            .await
            .map_err(|error| match &error {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    StoreError::Conflict("the organisation already exists".into())
                }
                _ => error.into(),
            })?;
        Ok(())
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        sqlx::query("SELECT id, name, is_default, created_at FROM orgs ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(org_from_row)
            .collect()
    }

    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Org>> {
        sqlx::query("SELECT id, name, is_default, created_at FROM orgs WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(org_from_row)
            .transpose()
    }

    async fn default_org(&self) -> StoreResult<Option<Org>> {
        sqlx::query("SELECT id, name, is_default, created_at FROM orgs WHERE is_default = 1")
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(org_from_row)
            .transpose()
    }
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn create_client(&self, client: &NewClient, secret: &NewSecret) -> StoreResult<()> {
        let mut transaction = self.begin().await?;
        sqlx::query(
            "INSERT INTO clients (client_id, org_id, label, description, scopes, token_lifetime, \
             status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)",
        )
        .bind(client.client_id.as_str())
        .bind(client.org_id.as_str())
        .bind(&client.label)
        .bind(&client.description)
        .bind(client.scopes.to_scope_string())
        .bind(client.token_lifetime)
        .bind(client.created_at)
        .bind(client.created_at)
        .execute(&mut *transaction)
        .await?;
        sqlx::query(
            "INSERT INTO client_secrets (client_id, secret_hash, hint, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(client.client_id.as_str())
        .bind(&secret.hash[..])
        .bind(&secret.hint)
        .bind(secret.created_at)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn get_client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        // One statement (a round trip to the connection's worker) on the token hot path: the
        // credential joined with its active secrets.
        let rows = sqlx::query(
            "SELECT c.client_id, c.org_id, c.label, c.description, c.scopes, c.token_lifetime, \
             c.status, c.created_at, c.last_used_at, c.revoked_at, \
             s.id, s.secret_hash, s.hint, s.created_at AS secret_created_at \
             FROM clients c LEFT JOIN client_secrets s \
               ON s.client_id = c.client_id AND s.retired_at IS NULL \
             WHERE c.client_id = ? ORDER BY s.id",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut client = client_from_row(first)?;
        for row in &rows {
            let Some(secret_id) = row.try_get::<Option<i64>, _>("id")? else {
                continue;
            };
            let hash: Vec<u8> = row.try_get("secret_hash")?;
            client.secrets.push(SecretRecord {
                id: secret_id,
                hash: hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("secret hash length".into()))?,
                hint: row.try_get("hint")?,
                created_at: row.try_get("secret_created_at")?,
            });
        }
        Ok(Some(client))
    }

    async fn list_clients(&self, org: &OrgId) -> StoreResult<Vec<ClientRecord>> {
        let query = format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE org_id = ? ORDER BY created_at, client_id"
        );
        let mut clients = sqlx::query(&query)
            .bind(org.as_str())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(client_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let secrets = sqlx::query(
            "SELECT s.client_id, s.id, s.secret_hash, s.hint, s.created_at FROM client_secrets s \
             JOIN clients c ON c.client_id = s.client_id \
             WHERE c.org_id = ? AND s.retired_at IS NULL ORDER BY s.id",
        )
        .bind(org.as_str())
        .fetch_all(&self.pool)
        .await?;
        for row in &secrets {
            let owner: &str = row.try_get("client_id")?;
            if let Some(client) = clients.iter_mut().find(|c| c.client_id.as_str() == owner) {
                client.secrets.push(secret_from_row(row)?);
            }
        }
        Ok(clients)
    }

    async fn revoke_client(&self, id: &ClientId, now: UnixSeconds) -> StoreResult<bool> {
        let mut transaction = self.begin().await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT status FROM clients WHERE client_id = ?")
                .bind(id.as_str())
                .fetch_optional(&mut *transaction)
                .await?;
        match exists.as_deref() {
            None => return Err(StoreError::NotFound("credential")),
            Some("revoked") => return Ok(false),
            _ => {}
        }
        sqlx::query(
            "UPDATE clients SET status = 'revoked', revoked_at = ?, updated_at = ? WHERE client_id = ?",
        )
        .bind(now)
        .bind(now)
        .bind(id.as_str())
            .execute(&mut *transaction)
            .await?;
        sqlx::query(
            "UPDATE client_secrets SET retired_at = ? WHERE client_id = ? AND retired_at IS NULL",
        )
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *transaction)
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
        let mut transaction = self.begin().await?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM clients WHERE client_id = ?")
                .bind(id.as_str())
                .fetch_optional(&mut *transaction)
                .await?;
        match status.as_deref() {
            None => return Err(StoreError::NotFound("credential")),
            Some("revoked") => {
                return Err(StoreError::Conflict("the credential is revoked".into()))
            }
            _ => {}
        }
        let active: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM client_secrets WHERE client_id = ? AND retired_at IS NULL ORDER BY id",
        )
        .bind(id.as_str())
        .fetch_all(&mut *transaction)
        .await?;
        let excess = (active.len() + 1).saturating_sub(max_active);
        for secret_id in active.iter().take(excess) {
            sqlx::query("UPDATE client_secrets SET retired_at = ? WHERE id = ?")
                .bind(secret.created_at)
                .bind(secret_id)
                .execute(&mut *transaction)
                .await?;
        }
        sqlx::query(
            "INSERT INTO client_secrets (client_id, secret_hash, hint, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(id.as_str())
        .bind(&secret.hash[..])
        .bind(&secret.hint)
        .bind(secret.created_at)
        .execute(&mut *transaction)
        .await?;
        mark_client_updated(&mut transaction, id, secret.created_at).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn retire_oldest_secret(&self, id: &ClientId, now: UnixSeconds) -> StoreResult<bool> {
        let mut transaction = self.begin().await?;
        let active: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM client_secrets WHERE client_id = ? AND retired_at IS NULL ORDER BY id",
        )
        .bind(id.as_str())
        .fetch_all(&mut *transaction)
        .await?;
        if active.len() < 2 {
            let known: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM clients WHERE client_id = ?")
                    .bind(id.as_str())
                    .fetch_optional(&mut *transaction)
                    .await?;
            return match known {
                None => Err(StoreError::NotFound("credential")),
                Some(_) => Ok(false),
            };
        }
        sqlx::query("UPDATE client_secrets SET retired_at = ? WHERE id = ?")
            .bind(now)
            .bind(active[0])
            .execute(&mut *transaction)
            .await?;
        mark_client_updated(&mut transaction, id, now).await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn touch_clients(&self, uses: &[(ClientId, UnixSeconds)]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut transaction = self.begin().await?;
        for (id, at) in uses {
            sqlx::query(
                "UPDATE clients SET last_used_at = ? WHERE client_id = ? \
                 AND (last_used_at IS NULL OR last_used_at < ?)",
            )
            .bind(at)
            .bind(id.as_str())
            .bind(at)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn clients_changed_since(
        &self,
        since: UnixSeconds,
    ) -> StoreResult<Vec<(ClientId, ClientStatus, UnixSeconds)>> {
        sqlx::query(
            "SELECT client_id, status, updated_at FROM clients \
             WHERE updated_at >= ? ORDER BY updated_at LIMIT 10000",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            let id = ClientId::parse(row.try_get::<&str, _>("client_id")?)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let status = status_from_str(row.try_get::<&str, _>("status")?)?;
            Ok((id, status, row.try_get("updated_at")?))
        })
        .collect()
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        sqlx::query(
            "SELECT kid, alg, state, private_key_enc, public_jwk, created_at, activated_at, \
             retired_at FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    async fn bootstrap_signing_keys(
        &self,
        active: &SigningKeyRecord,
        next: &SigningKeyRecord,
    ) -> StoreResult<bool> {
        let mut transaction = self.begin().await?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys")
            .fetch_one(&mut *transaction)
            .await?;
        if existing > 0 {
            return Ok(false);
        }
        insert_key(&mut transaction, active).await?;
        insert_key(&mut transaction, next).await?;
        match transaction.commit().await {
            Ok(()) => Ok(true),
            // Another process bootstrapped concurrently; theirs wins.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    async fn rotate_signing_keys(
        &self,
        expected_active: &str,
        new_active: Option<&SigningKeyRecord>,
        new_next: &SigningKeyRecord,
        now: UnixSeconds,
    ) -> StoreResult<bool> {
        let mut transaction = self.begin().await?;
        let retired = sqlx::query(
            "UPDATE signing_keys SET state = 'retired', retired_at = ? \
             WHERE kid = ? AND state = 'active'",
        )
        .bind(now)
        .bind(expected_active)
        .execute(&mut *transaction)
        .await?;
        if retired.rows_affected() != 1 {
            return Ok(false);
        }
        match new_active {
            Some(key) => {
                sqlx::query(
                    "UPDATE signing_keys SET state = 'retired', retired_at = ? WHERE state = 'next'",
                )
                .bind(now)
                .execute(&mut *transaction)
                .await?;
                insert_key(&mut transaction, key).await?;
            }
            None => {
                let promoted = sqlx::query(
                    "UPDATE signing_keys SET state = 'active', activated_at = ? \
                     WHERE kid = (SELECT kid FROM signing_keys WHERE state = 'next' \
                                  ORDER BY created_at LIMIT 1)",
                )
                .bind(now)
                .execute(&mut *transaction)
                .await?;
                if promoted.rows_affected() != 1 {
                    return Err(StoreError::Conflict(
                        "no next signing key to promote".into(),
                    ));
                }
            }
        }
        insert_key(&mut transaction, new_next).await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn prune_signing_keys(&self, retired_before: UnixSeconds) -> StoreResult<u64> {
        let result =
            sqlx::query("DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < ?")
                .bind(retired_before)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected())
    }
}

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn revoke_token(&self, revocation: &TokenRevocation) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(&revocation.jti)
        .bind(&revocation.client_id)
        .bind(revocation.expires_at)
        .bind(revocation.revoked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn revocations_after(&self, after: i64) -> StoreResult<Vec<(i64, TokenRevocation)>> {
        sqlx::query(
            "SELECT seq, jti, client_id, expires_at, revoked_at FROM revoked_tokens \
             WHERE seq > ? ORDER BY seq LIMIT 10000",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("seq")?,
                TokenRevocation {
                    jti: row.try_get("jti")?,
                    client_id: row.try_get("client_id")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                },
            ))
        })
        .collect()
    }

    async fn prune_revocations(&self, now: UnixSeconds) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut transaction = self.begin().await?;
        // Multi-row statements: one round trip per 100 events, not per event.
        for chunk in events.chunks(100) {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO audit_events (at, org_id, kind, client_id, actor, source_address, detail) \
                 VALUES {rows}"
            );
            let mut statement = sqlx::query(&sql);
            for event in chunk {
                statement = statement
                    .bind(event.at)
                    .bind(&event.org_id)
                    .bind(&event.kind)
                    .bind(&event.client_id)
                    .bind(&event.actor)
                    .bind(&event.source_address)
                    .bind(event.detail.to_string());
            }
            statement.execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn prune_audit_events(&self, before: UnixSeconds) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM audit_events WHERE at < ?")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    async fn list_audit_events(
        &self,
        org: Option<&OrgId>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let rows = match org {
            Some(org) => {
                sqlx::query(
                    "SELECT id, at, org_id, kind, client_id, actor, source_address, detail \
                     FROM audit_events WHERE org_id = ? ORDER BY id DESC LIMIT ?",
                )
                .bind(org.as_str())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT id, at, org_id, kind, client_id, actor, source_address, detail \
                     FROM audit_events ORDER BY id DESC LIMIT ?",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(AuditEvent {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    org_id: row.try_get("org_id")?,
                    kind: row.try_get("kind")?,
                    client_id: row.try_get("client_id")?,
                    actor: row.try_get("actor")?,
                    source_address: row.try_get("source_address")?,
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
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

    async fn org_and_client(store: &SqliteStore) -> ClientId {
        let org = Org {
            id: OrgId::generate(),
            name: "Acme".into(),
            is_default: true,
            created_at: 1,
        };
        store.create_org(&org).await.unwrap();
        let client = NewClient {
            client_id: ClientId::generate(),
            org_id: org.id.clone(),
            label: "ci".into(),
            description: String::new(),
            scopes: ScopeSet::all(),
            token_lifetime: 86_400,
            created_at: now_unix(),
        };
        store.create_client(&client, &secret(1)).await.unwrap();
        client.client_id
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
    async fn secrets_rotate_with_at_most_two_active() {
        let (_dir, store) = store().await;
        let id = org_and_client(&store).await;
        store.add_secret(&id, &secret(2), 2).await.unwrap();
        let hashes: Vec<u8> = store
            .get_client(&id)
            .await
            .unwrap()
            .unwrap()
            .secrets
            .iter()
            .map(|s| s.hash[0])
            .collect();
        assert_eq!(hashes, vec![1, 2]);
        store.add_secret(&id, &secret(3), 2).await.unwrap();
        let hashes: Vec<u8> = store
            .get_client(&id)
            .await
            .unwrap()
            .unwrap()
            .secrets
            .iter()
            .map(|s| s.hash[0])
            .collect();
        assert_eq!(hashes, vec![2, 3]);
        assert!(store.retire_oldest_secret(&id, now_unix()).await.unwrap());
        assert!(!store.retire_oldest_secret(&id, now_unix()).await.unwrap());
        assert!(store.revoke_client(&id, now_unix()).await.unwrap());
        let client = store.get_client(&id).await.unwrap().unwrap();
        assert_eq!(client.status, ClientStatus::Revoked);
        assert!(client.secrets.is_empty());
        assert!(matches!(
            store.add_secret(&id, &secret(4), 2).await,
            Err(StoreError::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn only_one_default_org() {
        let (_dir, store) = store().await;
        org_and_client(&store).await;
        let second = Org {
            id: OrgId::generate(),
            name: "B".into(),
            is_default: true,
            created_at: 2,
        };
        assert!(store.create_org(&second).await.is_err());
    }
}
