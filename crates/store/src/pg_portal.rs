//! The PostgreSQL implementation of [`PortalStore`]: portal users, their memberships and
//! sign-in sessions.
//!
//! The statements mirror `sqlite_portal`. Usernames are unique case-insensitively through a
//! unique index on `lower(username)` (SQLite declares the column `COLLATE NOCASE`), so every
//! lookup and the member listing compare and order by `lower(username)` as well.

use async_trait::async_trait;
use brandstream_domain::{OrgId, UnixSeconds};
use tokio_postgres::Row;

use crate::pg::{column, duplicate_as, execute, org_column, query_all, query_one};
use crate::portal::{Membership, PortalStore, SessionRecord, UserRecord};
use crate::{PgStore, StoreResult};

const USER_COLUMNS: &str = "id, username, password_hash, must_change, created_at";
const SESSION_COLUMNS: &str = "token_hash, user_id, org_id, csrf_token, created_at, last_seen_at";

fn user_from_row(row: &Row) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: column(row, "id")?,
        username: column(row, "username")?,
        password_hash: column(row, "password_hash")?,
        must_change: column(row, "must_change")?,
        created_at: column(row, "created_at")?,
    })
}

fn session_from_row(row: &Row) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        token_hash: column(row, "token_hash")?,
        user_id: column(row, "user_id")?,
        org_id: org_column(row)?,
        csrf_token: column(row, "csrf_token")?,
        created_at: column(row, "created_at")?,
        last_seen_at: column(row, "last_seen_at")?,
    })
}

#[async_trait]
impl PortalStore for PgStore {
    async fn create_user(&self, user: &UserRecord, membership: &Membership) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // The unique index on lower(username) settles two sign-ups of one name at once: the
        // second waits for the first and then fails.
        let statement = transaction
            .prepare_cached(&format!(
                "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
            ))
            .await?;
        transaction
            .execute(
                &statement,
                &[
                    &user.id,
                    &user.username,
                    &user.password_hash,
                    &user.must_change,
                    &user.created_at,
                ],
            )
            .await
            .map_err(duplicate_as("username"))?;
        execute(
            &transaction,
            "INSERT INTO memberships (user_id, org_id, role, created_at) VALUES ($1, $2, $3, $4)",
            &[
                &membership.user_id,
                &membership.org_id.as_str(),
                &membership.role,
                &membership.created_at,
            ],
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        self.fetch_one(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1)"),
            &[&username],
            user_from_row,
        )
        .await
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        self.fetch_one(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
            &[&id],
            user_from_row,
        )
        .await
    }

    async fn count_users(&self) -> StoreResult<i64> {
        let client = self.client().await?;
        let count = query_one(&client, "SELECT COUNT(*) AS count FROM users", &[], |row| {
            column(row, "count")
        })
        .await?;
        Ok(count.unwrap_or(0))
    }

    async fn memberships(&self, user_id: &str) -> StoreResult<Vec<Membership>> {
        self.fetch_all(
            "SELECT user_id, org_id, role, created_at FROM memberships WHERE user_id = $1 \
             ORDER BY created_at, org_id COLLATE \"C\"",
            &[&user_id],
            |row| {
                Ok(Membership {
                    user_id: column(row, "user_id")?,
                    org_id: org_column(row)?,
                    role: column(row, "role")?,
                    created_at: column(row, "created_at")?,
                })
            },
        )
        .await
    }

    async fn set_membership(&self, membership: &Membership) -> StoreResult<()> {
        self.run(
            "INSERT INTO memberships (user_id, org_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, org_id) DO UPDATE SET role = EXCLUDED.role",
            &[
                &membership.user_id,
                &membership.org_id.as_str(),
                &membership.role,
                &membership.created_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.run(
            &format!(
                "INSERT INTO portal_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
            ),
            &[
                &session.token_hash,
                &session.user_id,
                &session.org_id.as_str(),
                &session.csrf_token,
                &session.created_at,
                &session.last_seen_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        self.fetch_one(
            &format!("SELECT {SESSION_COLUMNS} FROM portal_sessions WHERE token_hash = $1"),
            &[&token_hash],
            session_from_row,
        )
        .await
    }

    async fn touch_session(
        &self,
        token_hash: &str,
        org_id: &OrgId,
        at: UnixSeconds,
    ) -> StoreResult<()> {
        self.run(
            "UPDATE portal_sessions SET last_seen_at = $1, org_id = $2 WHERE token_hash = $3",
            &[&at, &org_id.as_str(), &token_hash],
        )
        .await?;
        Ok(())
    }

    async fn org_members(&self, org: &OrgId) -> StoreResult<Vec<(UserRecord, Membership)>> {
        let client = self.client().await?;
        // SQLite orders the NOCASE column by its ASCII-lowercased bytes; this is the same.
        query_all(
            &client,
            "SELECT u.id, u.username, u.password_hash, u.must_change, u.created_at, \
                    m.role, m.created_at AS member_since \
             FROM users u JOIN memberships m ON m.user_id = u.id \
             WHERE m.org_id = $1 ORDER BY lower(u.username) COLLATE \"C\"",
            &[&org.as_str()],
            |row| {
                let user = user_from_row(row)?;
                let membership = Membership {
                    user_id: user.id.clone(),
                    org_id: org.clone(),
                    role: column(row, "role")?,
                    created_at: column(row, "member_since")?,
                };
                Ok((user, membership))
            },
        )
        .await
    }

    async fn remove_membership(&self, user_id: &str, org: &OrgId) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // Lock the user first: two removals from different organisations at once would each
        // still see the other's membership and neither would delete the user left in none.
        execute(
            &transaction,
            "SELECT id FROM users WHERE id = $1 FOR UPDATE",
            &[&user_id],
        )
        .await?;
        let removed = execute(
            &transaction,
            "DELETE FROM memberships WHERE user_id = $1 AND org_id = $2",
            &[&user_id, &org.as_str()],
        )
        .await?;
        execute(
            &transaction,
            "DELETE FROM portal_sessions WHERE user_id = $1 AND org_id = $2",
            &[&user_id, &org.as_str()],
        )
        .await?;
        let left: i64 = query_one(
            &transaction,
            "SELECT COUNT(*) AS count FROM memberships WHERE user_id = $1",
            &[&user_id],
            |row| column(row, "count"),
        )
        .await?
        .unwrap_or(0);
        if left == 0 {
            execute(
                &transaction,
                "DELETE FROM portal_sessions WHERE user_id = $1",
                &[&user_id],
            )
            .await?;
            execute(&transaction, "DELETE FROM users WHERE id = $1", &[&user_id]).await?;
        }
        transaction.commit().await?;
        Ok(removed == 1)
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        execute(
            &transaction,
            "UPDATE users SET password_hash = $1, must_change = $2 WHERE id = $3",
            &[&password_hash, &must_change, &user_id],
        )
        .await?;
        execute(
            &transaction,
            "DELETE FROM portal_sessions WHERE user_id = $1 AND token_hash <> $2",
            &[&user_id, &keep_session.unwrap_or("")],
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        self.run(
            "DELETE FROM portal_sessions WHERE token_hash = $1",
            &[&token_hash],
        )
        .await?;
        Ok(())
    }

    async fn prune_sessions(
        &self,
        idle_before: UnixSeconds,
        created_before: UnixSeconds,
    ) -> StoreResult<u64> {
        self.run(
            "DELETE FROM portal_sessions WHERE last_seen_at < $1 OR created_at < $2",
            &[&idle_before, &created_before],
        )
        .await
    }
}
