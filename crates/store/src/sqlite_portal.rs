//! The SQLite implementation of [`PortalStore`].

use async_trait::async_trait;
use brandstream_domain::{OrgId, UnixSeconds};
use rusqlite::{params, Row};

use crate::portal::{Membership, PortalStore, SessionRecord, UserRecord};
use crate::sqlite::{is_unique_violation, org_column, query_all, query_one};
use crate::{SqliteStore, StoreError, StoreResult};

fn user_from_row(row: &Row<'_>) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: row.get("id")?,
        username: row.get("username")?,
        password_hash: row.get("password_hash")?,
        must_change: row.get::<_, i64>("must_change")? != 0,
        created_at: row.get("created_at")?,
    })
}

fn session_from_row(row: &Row<'_>) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        token_hash: row.get("token_hash")?,
        user_id: row.get("user_id")?,
        org_id: org_column(row)?,
        csrf_token: row.get("csrf_token")?,
        created_at: row.get("created_at")?,
        last_seen_at: row.get("last_seen_at")?,
    })
}

#[async_trait]
impl PortalStore for SqliteStore {
    async fn create_user(&self, user: &UserRecord, membership: &Membership) -> StoreResult<()> {
        self.transact(|t| {
            t.execute(
                "INSERT INTO users (id, username, password_hash, must_change, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    user.id,
                    user.username,
                    user.password_hash,
                    i64::from(user.must_change),
                    user.created_at
                ],
            )
            .map_err(|error| {
                if is_unique_violation(&error) {
                    StoreError::Duplicate("username")
                } else {
                    error.into()
                }
            })?;
            t.execute(
                "INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    membership.user_id,
                    membership.org_id.as_str(),
                    membership.role,
                    membership.created_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        self.read(|c| {
            query_one(
                c,
                "SELECT id, username, password_hash, must_change, created_at FROM users WHERE username = ?1",
                [username],
                user_from_row,
            )
        })
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        self.read(|c| {
            query_one(
                c,
                "SELECT id, username, password_hash, must_change, created_at FROM users WHERE id = ?1",
                [id],
                user_from_row,
            )
        })
    }

    async fn count_users(&self) -> StoreResult<i64> {
        self.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))?))
    }

    async fn memberships(&self, user_id: &str) -> StoreResult<Vec<Membership>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT user_id, org_id, role, created_at FROM memberships WHERE user_id = ?1 \
                 ORDER BY created_at, org_id",
                [user_id],
                |row| {
                    Ok(Membership {
                        user_id: row.get("user_id")?,
                        org_id: org_column(row)?,
                        role: row.get("role")?,
                        created_at: row.get("created_at")?,
                    })
                },
            )
        })
    }

    async fn set_membership(&self, membership: &Membership) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (user_id, org_id) DO UPDATE SET role = excluded.role",
                params![
                    membership.user_id,
                    membership.org_id.as_str(),
                    membership.role,
                    membership.created_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO portal_sessions (token_hash, user_id, org_id, csrf_token, created_at, last_seen_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    session.token_hash,
                    session.user_id,
                    session.org_id.as_str(),
                    session.csrf_token,
                    session.created_at,
                    session.last_seen_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        self.read(|c| {
            query_one(
                c,
                "SELECT token_hash, user_id, org_id, csrf_token, created_at, last_seen_at \
                 FROM portal_sessions WHERE token_hash = ?1",
                [token_hash],
                session_from_row,
            )
        })
    }

    async fn touch_session(
        &self,
        token_hash: &str,
        org_id: &OrgId,
        at: UnixSeconds,
    ) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "UPDATE portal_sessions SET last_seen_at = ?1, org_id = ?2 WHERE token_hash = ?3",
                params![at, org_id.as_str(), token_hash],
            )?;
            Ok(())
        })
        .await
    }

    async fn org_members(&self, org: &OrgId) -> StoreResult<Vec<(UserRecord, Membership)>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT u.id, u.username, u.password_hash, u.must_change, u.created_at, \
                        m.org_id, m.role, m.created_at AS member_since \
                 FROM users u JOIN memberships m ON m.user_id = u.id \
                 WHERE m.org_id = ?1 ORDER BY u.username",
                [org.as_str()],
                |row| {
                    let user = user_from_row(row)?;
                    let membership = Membership {
                        user_id: user.id.clone(),
                        org_id: org.clone(),
                        role: row.get("role")?,
                        created_at: row.get("member_since")?,
                    };
                    Ok((user, membership))
                },
            )
        })
    }

    async fn remove_membership(&self, user_id: &str, org: &OrgId) -> StoreResult<bool> {
        self.transact(|t| {
            let removed = t.execute(
                "DELETE FROM memberships WHERE user_id = ?1 AND org_id = ?2",
                params![user_id, org.as_str()],
            )?;
            t.execute(
                "DELETE FROM portal_sessions WHERE user_id = ?1 AND org_id = ?2",
                params![user_id, org.as_str()],
            )?;
            let left: i64 = t.query_row(
                "SELECT COUNT(*) FROM memberships WHERE user_id = ?1",
                [user_id],
                |row| row.get(0),
            )?;
            if left == 0 {
                t.execute("DELETE FROM portal_sessions WHERE user_id = ?1", [user_id])?;
                t.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
            }
            Ok(removed == 1)
        })
        .await
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
    ) -> StoreResult<()> {
        self.transact(|t| {
            t.execute(
                "UPDATE users SET password_hash = ?1, must_change = ?2 WHERE id = ?3",
                params![password_hash, i64::from(must_change), user_id],
            )?;
            t.execute(
                "DELETE FROM portal_sessions WHERE user_id = ?1 AND token_hash != ?2",
                params![user_id, keep_session.unwrap_or("")],
            )?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "DELETE FROM portal_sessions WHERE token_hash = ?1",
                [token_hash],
            )?;
            Ok(())
        })
        .await
    }

    async fn prune_sessions(
        &self,
        idle_before: UnixSeconds,
        created_before: UnixSeconds,
    ) -> StoreResult<u64> {
        self.write(|c| {
            let deleted = c.execute(
                "DELETE FROM portal_sessions WHERE last_seen_at < ?1 OR created_at < ?2",
                params![idle_before, created_before],
            )?;
            Ok(deleted as u64)
        })
        .await
    }
}
