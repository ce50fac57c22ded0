//! The token service's storage — organisations, credentials and their secrets, signing keys,
//! revoked tokens, the audit trail and leases — written once for both backends.
//!
//! Where the engines differ it says so: change times come from the database clock on
//! PostgreSQL (one clock for every node) and from this machine on SQLite (one machine); rows
//! read before a write are locked on PostgreSQL (`FOR UPDATE`, advisory and table locks)
//! where SQLite's `BEGIN IMMEDIATE` already serialises writers; bulk writes are the backends'
//! own ([`BulkWrites`]).

use async_trait::async_trait;
use brandstream_domain::{ClientId, OrgId, ScopeSet, UnixSeconds};

use crate::record::Column;
use crate::rows::{binds, SqlRow};
use crate::sql::{Backend, Dialect, Tx};
use crate::{
    AuditEvent, AuditStore, ClientRecord, ClientStatus, ClientStore, KeyRotation, KeyStore,
    LeaseStore, NewClient, NewSecret, Org, OrgStore, RevocationStore, SecretRecord,
    SigningKeyRecord, StoreError, StoreResult, TokenRevocation,
};

/// The batch writes each engine does its own way: SQLite on a blocking thread, row by row in
/// one transaction; PostgreSQL as one statement over arrays.
#[async_trait]
pub trait BulkWrites {
    /// Moves each credential's last-use time forward to its time in `uses` (non-empty).
    async fn write_last_uses(&self, uses: &[(ClientId, UnixSeconds)]) -> StoreResult<()>;
    /// Appends `events` (non-empty) in one transaction.
    async fn write_audit_events(&self, events: Vec<AuditEvent>) -> StoreResult<()>;
}

/// The database clock in Unix seconds (PostgreSQL), for change times every node agrees on.
macro_rules! pg_now {
    () => {
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)"
    };
}

/// How far back `clients_changed_since` re-reads on PostgreSQL: a transaction that started
/// earlier can commit later than a newer change; the overlap covers that (re-applying a
/// change is harmless). SQLite commits in order, so it needs none.
const CHANGE_LOOKBACK_SECONDS: i64 = 5;

/// The advisory lock key that serialises token revocations on PostgreSQL, so `seq` order is
/// commit order ("brandrvk" in ASCII).
const REVOCATION_LOCK: i64 = 0x6272_616e_6472_766b;

const CLIENT_COLUMNS: &str = "client_id, org_id, label, description, scopes, token_lifetime, \
     status, created_at, last_used_at, revoked_at";

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn client_from_row(row: &dyn SqlRow) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        client_id: ClientId::parse(&row.text("client_id")?).map_err(corrupt)?,
        org_id: OrgId::read(row, "org_id")?,
        label: row.text("label")?,
        description: row.text("description")?,
        scopes: ScopeSet::parse(&row.text("scopes")?).map_err(corrupt)?,
        token_lifetime: row.int("token_lifetime")?,
        status: ClientStatus::read(row, "status")?,
        created_at: row.int("created_at")?,
        last_used_at: row.opt_int("last_used_at")?,
        revoked_at: row.opt_int("revoked_at")?,
        secrets: Vec::new(),
    })
}

/// A secret from a row whose columns are `prefix` + `id`, `secret_hash`, `hint`, `created_at`
/// (the hash column never prefixed).
fn secret_from_row(row: &dyn SqlRow, id: &str, created_at: &str) -> StoreResult<SecretRecord> {
    Ok(SecretRecord {
        id: row.int(id)?,
        hash: row
            .bytes("secret_hash")?
            .try_into()
            .map_err(|_| StoreError::Corrupt("secret hash length".into()))?,
        hint: row.text("hint")?,
        created_at: row.int(created_at)?,
    })
}

/// Marks a credential changed (for the nodes' change feed), never moving its change time
/// back: at `now` on SQLite, at the database clock on PostgreSQL.
async fn mark_client_updated(tx: &mut Tx<'_>, id: &ClientId, now: UnixSeconds) -> StoreResult<()> {
    match tx.dialect() {
        Dialect::Sqlite => {
            tx.execute(
                "UPDATE clients SET updated_at = MAX(updated_at, $2) WHERE client_id = $1",
                &binds![id.as_str(), now],
            )
            .await?
        }
        Dialect::Postgres => {
            tx.execute(
                concat!(
                    "UPDATE clients SET updated_at = GREATEST(updated_at, ",
                    pg_now!(),
                    ") WHERE client_id = $1"
                ),
                &binds![id.as_str()],
            )
            .await?
        }
    };
    Ok(())
}

async fn insert_key(tx: &mut Tx<'_>, key: &SigningKeyRecord) -> StoreResult<()> {
    tx.insert("signing_keys", key).await
}

/// The credential's status; on PostgreSQL its row stays locked for the rest of the
/// transaction (SQLite's transaction holds the write lock already).
async fn client_status(tx: &mut Tx<'_>, id: &ClientId) -> StoreResult<Option<String>> {
    let sql = tx.dialect().pick(
        "SELECT status FROM clients WHERE client_id = $1",
        "SELECT status FROM clients WHERE client_id = $1 FOR UPDATE",
    );
    tx.query_opt(sql, &binds![id.as_str()], |row| row.text("status"))
        .await
}

async fn active_secret_ids(tx: &mut Tx<'_>, id: &ClientId) -> StoreResult<Vec<i64>> {
    tx.query(
        "SELECT id FROM client_secrets WHERE client_id = $1 AND retired_at IS NULL ORDER BY id",
        &binds![id.as_str()],
        |row| row.int("id"),
    )
    .await
}

async fn retire_secret(tx: &mut Tx<'_>, secret_id: i64, now: UnixSeconds) -> StoreResult<()> {
    tx.execute(
        "UPDATE client_secrets SET retired_at = $1 WHERE id = $2",
        &binds![now, secret_id],
    )
    .await
    .map(drop)
}

async fn insert_secret(tx: &mut Tx<'_>, id: &ClientId, secret: &NewSecret) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO client_secrets (client_id, secret_hash, hint, created_at) \
         VALUES ($1, $2, $3, $4)",
        &binds![
            id.as_str(),
            &secret.hash[..],
            &secret.hint,
            secret.created_at
        ],
    )
    .await
    .map(drop)
}

#[async_trait]
impl<B: Backend> OrgStore for B {
    async fn create_org(&self, org: &Org) -> StoreResult<()> {
        let mut conn = self.writer().await?;
        conn.insert("orgs", org).await.map_err(|error| match error {
            StoreError::Duplicate(_) => {
                StoreError::Conflict("the organisation already exists".into())
            }
            other => other,
        })
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        let from = "orgs ORDER BY created_at, id";
        self.reader().await?.select(from, &[]).await
    }

    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Org>> {
        let from = "orgs WHERE id = $1";
        self.reader()
            .await?
            .select_opt(from, &binds![id.as_str()])
            .await
    }

    async fn default_org(&self) -> StoreResult<Option<Org>> {
        let from = "orgs WHERE is_default";
        self.reader().await?.select_opt(from, &[]).await
    }
}

#[async_trait]
impl<B: Backend + BulkWrites> ClientStore for B {
    async fn create_client(&self, client: &NewClient, secret: &NewSecret) -> StoreResult<()> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        let sql = tx.dialect().pick(
            "INSERT INTO clients (client_id, org_id, label, description, scopes, \
             token_lifetime, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $7)",
            concat!(
                "INSERT INTO clients (client_id, org_id, label, description, scopes, ",
                "token_lifetime, status, created_at, updated_at) ",
                "VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, GREATEST($7, ",
                pg_now!(),
                "))"
            ),
        );
        tx.execute(
            sql,
            &binds![
                client.client_id.as_str(),
                client.org_id.as_str(),
                &client.label,
                &client.description,
                client.scopes.to_scope_string(),
                client.token_lifetime,
                client.created_at,
            ],
        )
        .await?;
        insert_secret(&mut tx, &client.client_id, secret).await?;
        tx.commit().await
    }

    async fn get_client(&self, id: &ClientId) -> StoreResult<Option<ClientRecord>> {
        // One statement on the token hot path: the credential joined with its active secrets.
        let mut conn = self.reader().await?;
        let rows = conn
            .query(
                "SELECT c.client_id, c.org_id, c.label, c.description, c.scopes, \
                 c.token_lifetime, c.status, c.created_at, c.last_used_at, c.revoked_at, \
                 s.id AS secret_id, s.secret_hash, s.hint, s.created_at AS secret_created_at \
                 FROM clients c LEFT JOIN client_secrets s \
                   ON s.client_id = c.client_id AND s.retired_at IS NULL \
                 WHERE c.client_id = $1 ORDER BY s.id",
                &binds![id.as_str()],
                |row| {
                    let client = client_from_row(row)?;
                    let secret = match row.opt_int("secret_id")? {
                        Some(_) => Some(secret_from_row(row, "secret_id", "secret_created_at")?),
                        None => None,
                    };
                    Ok((client, secret))
                },
            )
            .await?;
        let mut rows = rows.into_iter();
        let Some((mut client, first_secret)) = rows.next() else {
            return Ok(None);
        };
        client.secrets.extend(first_secret);
        client.secrets.extend(rows.filter_map(|(_, secret)| secret));
        Ok(Some(client))
    }

    async fn list_clients(&self, org: &OrgId) -> StoreResult<Vec<ClientRecord>> {
        let mut conn = self.reader().await?;
        let mut clients = conn
            .query(
                &format!(
                    "SELECT {CLIENT_COLUMNS} FROM clients WHERE org_id = $1 \
                     ORDER BY created_at, client_id"
                ),
                &binds![org.as_str()],
                client_from_row,
            )
            .await?;
        let secrets = conn
            .query(
                "SELECT s.client_id, s.id, s.secret_hash, s.hint, s.created_at \
                 FROM client_secrets s JOIN clients c ON c.client_id = s.client_id \
                 WHERE c.org_id = $1 AND s.retired_at IS NULL ORDER BY s.id",
                &binds![org.as_str()],
                |row| {
                    Ok((
                        row.text("client_id")?,
                        secret_from_row(row, "id", "created_at")?,
                    ))
                },
            )
            .await?;
        for (owner, secret) in secrets {
            if let Some(client) = clients.iter_mut().find(|c| c.client_id.as_str() == owner) {
                client.secrets.push(secret);
            }
        }
        Ok(clients)
    }

    async fn revoke_client(&self, id: &ClientId, now: UnixSeconds) -> StoreResult<bool> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        match client_status(&mut tx, id).await?.as_deref() {
            None => return Err(StoreError::NotFound("credential")),
            Some("revoked") => return Ok(false),
            _ => {}
        }
        tx.execute(
            "UPDATE clients SET status = 'revoked', revoked_at = $1 WHERE client_id = $2",
            &binds![now, id.as_str()],
        )
        .await?;
        tx.execute(
            "UPDATE client_secrets SET retired_at = $1 WHERE client_id = $2 AND retired_at IS NULL",
            &binds![now, id.as_str()],
        )
        .await?;
        mark_client_updated(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn add_secret(
        &self,
        id: &ClientId,
        secret: &NewSecret,
        max_active: usize,
    ) -> StoreResult<()> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        match client_status(&mut tx, id).await?.as_deref() {
            None => return Err(StoreError::NotFound("credential")),
            Some("revoked") => {
                return Err(StoreError::Conflict("the credential is revoked".into()))
            }
            _ => {}
        }
        let active = active_secret_ids(&mut tx, id).await?;
        let excess = (active.len() + 1).saturating_sub(max_active);
        for secret_id in active.iter().take(excess) {
            retire_secret(&mut tx, *secret_id, secret.created_at).await?;
        }
        insert_secret(&mut tx, id, secret).await?;
        mark_client_updated(&mut tx, id, secret.created_at).await?;
        tx.commit().await
    }

    async fn retire_oldest_secret(&self, id: &ClientId, now: UnixSeconds) -> StoreResult<bool> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        if client_status(&mut tx, id).await?.is_none() {
            return Err(StoreError::NotFound("credential"));
        }
        let active = active_secret_ids(&mut tx, id).await?;
        if active.len() < 2 {
            return Ok(false);
        }
        retire_secret(&mut tx, active[0], now).await?;
        mark_client_updated(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn replace_secret_hash(
        &self,
        id: &ClientId,
        old: &[u8; 32],
        new: &[u8; 32],
    ) -> StoreResult<bool> {
        let mut conn = self.writer().await?;
        let changed = conn
            .execute(
                "UPDATE client_secrets SET secret_hash = $1 \
                 WHERE client_id = $2 AND secret_hash = $3 AND retired_at IS NULL",
                &binds![&new[..], id.as_str(), &old[..]],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn touch_clients(&self, uses: &[(ClientId, UnixSeconds)]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        self.write_last_uses(uses).await
    }

    async fn clients_changed_since(
        &self,
        since: UnixSeconds,
    ) -> StoreResult<Vec<(ClientId, ClientStatus, UnixSeconds)>> {
        let mut conn = self.reader().await?;
        let lookback = conn.dialect().pick(0, CHANGE_LOOKBACK_SECONDS);
        let from = since.saturating_sub(lookback);
        conn.query(
            // Everything from the look-back start, then at most about 10,000 newer changes,
            // always ending on a whole second: the caller's cursor (the newest time returned)
            // then moves forward even when more than a page changed within one second.
            "SELECT client_id, status, updated_at FROM clients \
             WHERE updated_at >= $1 AND updated_at <= COALESCE( \
                 (SELECT updated_at FROM clients WHERE updated_at > $2 \
                  ORDER BY updated_at LIMIT 1 OFFSET 9999), 9223372036854775807) \
             ORDER BY updated_at",
            &binds![from, since],
            |row| {
                let id = ClientId::parse(&row.text("client_id")?).map_err(corrupt)?;
                let status = ClientStatus::read(row, "status")?;
                Ok((id, status, row.int("updated_at")?))
            },
        )
        .await
    }
}

#[async_trait]
impl<B: Backend> KeyStore for B {
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let from = "signing_keys ORDER BY created_at, kid";
        self.reader().await?.select(from, &[]).await
    }

    async fn bootstrap_signing_keys(
        &self,
        active: &SigningKeyRecord,
        next: &SigningKeyRecord,
    ) -> StoreResult<bool> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        if tx.dialect() == Dialect::Postgres {
            // Nodes starting together on an empty keyring take turns here; the second sees
            // keys. (SQLite's BEGIN IMMEDIATE already took the write lock.)
            tx.batch("LOCK TABLE signing_keys IN EXCLUSIVE MODE")
                .await?;
        }
        let existing = tx
            .query_opt("SELECT COUNT(*) AS count FROM signing_keys", &[], |row| {
                row.int("count")
            })
            .await?
            .unwrap_or(0);
        if existing > 0 {
            return Ok(false);
        }
        insert_key(&mut tx, active).await?;
        insert_key(&mut tx, next).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rotate_signing_keys(&self, rotation: &KeyRotation<'_>) -> StoreResult<bool> {
        let KeyRotation {
            expected_active,
            new_active,
            new_next,
            at: now,
        } = *rotation;
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        let retired = tx
            .execute(
                "UPDATE signing_keys SET state = 'retired', retired_at = $1 \
                 WHERE kid = $2 AND state = 'active'",
                &binds![now, expected_active],
            )
            .await?;
        if retired != 1 {
            // Someone else rotated first; the transaction rolls back when dropped.
            return Ok(false);
        }
        match new_active {
            Some(key) => {
                tx.execute(
                    "UPDATE signing_keys SET state = 'retired', retired_at = $1 WHERE state = 'next'",
                    &binds![now],
                )
                .await?;
                insert_key(&mut tx, key).await?;
            }
            None => {
                let promoted = tx
                    .execute(
                        "UPDATE signing_keys SET state = 'active', activated_at = $1 \
                         WHERE kid = (SELECT kid FROM signing_keys WHERE state = 'next' \
                                      ORDER BY created_at LIMIT 1)",
                        &binds![now],
                    )
                    .await?;
                if promoted != 1 {
                    return Err(StoreError::Conflict(
                        "no next signing key to promote".into(),
                    ));
                }
            }
        }
        insert_key(&mut tx, new_next).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn rewrap_signing_key(&self, kid: &str, old: &[u8], new: &[u8]) -> StoreResult<bool> {
        let mut conn = self.writer().await?;
        let changed = conn
            .execute(
                "UPDATE signing_keys SET private_key_enc = $1 WHERE kid = $2 AND private_key_enc = $3",
                &binds![new, kid, old],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn prune_signing_keys(&self, retired_before: UnixSeconds) -> StoreResult<u64> {
        self.write(
            "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < $1",
            &binds![retired_before],
        )
        .await
    }
}

#[async_trait]
impl<B: Backend> RevocationStore for B {
    async fn revoke_token(&self, revocation: &TokenRevocation) -> StoreResult<()> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        if tx.dialect() == Dialect::Postgres {
            // Serialised: a revocation that takes its sequence number later also commits
            // later, so nodes polling `seq > last seen` never skip one.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &binds![REVOCATION_LOCK])
                .await?;
        }
        tx.execute(
            "INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
            &binds![
                &revocation.jti,
                &revocation.client_id,
                revocation.expires_at,
                revocation.revoked_at,
            ],
        )
        .await?;
        tx.commit().await
    }

    async fn revocations_after(&self, after: i64) -> StoreResult<Vec<(i64, TokenRevocation)>> {
        let mut conn = self.reader().await?;
        conn.query(
            "SELECT seq, jti, client_id, expires_at, revoked_at FROM revoked_tokens \
             WHERE seq > $1 ORDER BY seq LIMIT 10000",
            &binds![after],
            |row| {
                Ok((
                    row.int("seq")?,
                    TokenRevocation {
                        jti: row.text("jti")?,
                        client_id: row.text("client_id")?,
                        expires_at: row.int("expires_at")?,
                        revoked_at: row.int("revoked_at")?,
                    },
                ))
            },
        )
        .await
    }

    async fn prune_revocations(&self, now: UnixSeconds) -> StoreResult<u64> {
        self.write(
            "DELETE FROM revoked_tokens WHERE expires_at < $1",
            &binds![now],
        )
        .await
    }
}

#[async_trait]
impl<B: Backend + BulkWrites> AuditStore for B {
    async fn append_audit_events(&self, events: Vec<AuditEvent>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.write_audit_events(events).await
    }

    async fn prune_audit_events(&self, before: UnixSeconds) -> StoreResult<u64> {
        self.write("DELETE FROM audit_events WHERE at < $1", &binds![before])
            .await
    }

    async fn list_audit_events(
        &self,
        org: Option<&OrgId>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let mut conn = self.reader().await?;
        let limit = i64::from(limit);
        // Two statements rather than `($1 IS NULL OR org_id = $1)`: a cached generic plan for
        // that would scan the whole trail backwards for a quiet organisation.
        match org {
            Some(org) => {
                let from = "audit_events WHERE org_id = $1 ORDER BY id DESC LIMIT $2";
                conn.select(from, &binds![org.as_str(), limit]).await
            }
            None => {
                let from = "audit_events ORDER BY id DESC LIMIT $1";
                conn.select(from, &binds![limit]).await
            }
        }
    }
}

#[async_trait]
impl<B: Backend> LeaseStore for B {
    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        now: UnixSeconds,
        ttl_seconds: i64,
    ) -> StoreResult<bool> {
        let changed = self
            .write(
                "INSERT INTO leases (name, owner, until) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until \
                 WHERE leases.owner = excluded.owner OR leases.until < $4",
                &binds![name, owner, now + ttl_seconds, now],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn forget_leases(&self, prefix: &str, before: UnixSeconds) -> StoreResult<u64> {
        // A prefix compared as text (no LIKE patterns to escape); the table is small.
        self.write(
            "DELETE FROM leases WHERE substr(name, 1, length($1)) = $1 AND until < $2",
            &binds![prefix, before],
        )
        .await
    }
}
