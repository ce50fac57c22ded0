//! Records and queries of portal users, memberships and sessions.

use async_trait::async_trait;
use brandstream_domain::{OrgId, UnixSeconds};

use crate::brand::collated;
use crate::record::{stored_record, Stored};
use crate::rows::binds;
use crate::sql::{duplicate_as, Backend, Dialect};
use crate::StoreResult;

/// A new password hash for a user ([`PortalStore::set_password`]).
#[derive(Debug, Clone, Copy)]
pub enum PasswordChange<'a> {
    /// A one-time password an administrator set: to be changed at the next sign-in; every
    /// session of the user ends.
    Temporary {
        /// The password's hash (PHC string).
        hash: &'a str,
    },
    /// A password the user chose: every session but `keep_session` (a token hash) ends.
    Chosen {
        /// The password's hash (PHC string).
        hash: &'a str,
        /// The session the change was made in.
        keep_session: &'a str,
    },
}

stored_record! {
    /// A person who signs in to the portal.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UserRecord {
        /// UUID.
        pub id: String,
        /// Unique (case-insensitively) sign-in name.
        pub username: String,
        /// Argon2id PHC string.
        pub password_hash: String,
        /// The password was given out once (an invitation): it must be changed at sign-in.
        pub must_change: bool,
        /// Creation time.
        pub created_at: UnixSeconds,
    }
}

stored_record! {
    /// A user's role in one organisation.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Membership {
        /// The user.
        pub user_id: String,
        /// The organisation.
        pub org_id: OrgId,
        /// `admin` or `member`.
        pub role: String,
        /// Since when.
        pub created_at: UnixSeconds,
    }
}

stored_record! {
    /// A signed-in browser.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SessionRecord {
        /// SHA-256 of the cookie's token, hex.
        pub token_hash: String,
        /// Who.
        pub user_id: String,
        /// The organisation being worked in.
        pub org_id: OrgId,
        /// The CSRF token of forms in this session.
        pub csrf_token: String,
        /// Sign-in time (absolute expiry counts from here).
        pub created_at: UnixSeconds,
        /// Last request (idle expiry counts from here).
        pub last_seen_at: UnixSeconds,
    }
}

/// Portal storage.
#[async_trait]
pub trait PortalStore {
    /// Stores a user with their first membership. A taken username fails with `Duplicate`.
    async fn create_user(&self, user: &UserRecord, membership: &Membership) -> StoreResult<()>;
    /// A user by name (case-insensitive).
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRecord>>;
    /// A user by id.
    async fn get_user(&self, id: &str) -> StoreResult<Option<UserRecord>>;
    /// How many users exist.
    async fn count_users(&self) -> StoreResult<i64>;
    /// A user's memberships, oldest first.
    async fn memberships(&self, user_id: &str) -> StoreResult<Vec<Membership>>;
    /// Adds or changes a membership.
    async fn set_membership(&self, membership: &Membership) -> StoreResult<()>;
    /// Stores a new session.
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// A session by token hash.
    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>>;
    /// Records activity (and the organisation, after a switch).
    async fn touch_session(
        &self,
        token_hash: &str,
        org_id: &OrgId,
        at: UnixSeconds,
    ) -> StoreResult<()>;
    /// The organisation's users with their membership, by name.
    async fn org_members(&self, org: &OrgId) -> StoreResult<Vec<(UserRecord, Membership)>>;
    /// Removes a user from an organisation (and their sessions there). A user left in no
    /// organisation is deleted.
    async fn remove_membership(&self, user_id: &str, org: &OrgId) -> StoreResult<bool>;
    /// Replaces a user's password hash and ends their other sessions.
    async fn set_password(&self, user_id: &str, password: PasswordChange<'_>) -> StoreResult<()>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Deletes sessions idle since before `idle_before` or created before `created_before`.
    async fn prune_sessions(
        &self,
        idle_before: UnixSeconds,
        created_before: UnixSeconds,
    ) -> StoreResult<u64>;
}

/// Usernames are unique case-insensitively (SQLite: a `COLLATE NOCASE` column; PostgreSQL: a
/// unique index on `lower(username)`), so lookups and the member listing compare and order by
/// `lower(username)` on both: ASCII case folding, as NOCASE does.
#[async_trait]
impl<B: Backend> PortalStore for B {
    async fn create_user(&self, user: &UserRecord, membership: &Membership) -> StoreResult<()> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        // The unique index settles two sign-ups of one name at once: the second waits for the
        // first and then fails.
        tx.insert("users", user)
            .await
            .map_err(duplicate_as("username"))?;
        tx.insert("memberships", membership).await?;
        tx.commit().await
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        let from = "users WHERE lower(username) = lower($1)";
        self.reader()
            .await?
            .select_opt(from, &binds![username])
            .await
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        let from = "users WHERE id = $1";
        self.reader().await?.select_opt(from, &binds![id]).await
    }

    async fn count_users(&self) -> StoreResult<i64> {
        let mut conn = self.reader().await?;
        let count = conn
            .query_opt("SELECT COUNT(*) AS count FROM users", &[], |row| {
                row.int("count")
            })
            .await?;
        Ok(count.unwrap_or(0))
    }

    async fn memberships(&self, user_id: &str) -> StoreResult<Vec<Membership>> {
        let mut conn = self.reader().await?;
        let sql = collated(
            conn.dialect(),
            "SELECT user_id, org_id, role, created_at FROM memberships WHERE user_id = $1 \
             ORDER BY created_at, org_id COLLATE \"C\"",
        )
        .into_owned();
        conn.query(&sql, &binds![user_id], Membership::from_row)
            .await
    }

    async fn set_membership(&self, membership: &Membership) -> StoreResult<()> {
        self.write(
            "INSERT INTO memberships (user_id, org_id, role, created_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, org_id) DO UPDATE SET role = excluded.role",
            &membership.values(),
        )
        .await
        .map(drop)
    }

    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        let mut conn = self.writer().await?;
        conn.insert("portal_sessions", session).await
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let from = "portal_sessions WHERE token_hash = $1";
        self.reader()
            .await?
            .select_opt(from, &binds![token_hash])
            .await
    }

    async fn touch_session(
        &self,
        token_hash: &str,
        org_id: &OrgId,
        at: UnixSeconds,
    ) -> StoreResult<()> {
        self.write(
            "UPDATE portal_sessions SET last_seen_at = $1, org_id = $2 WHERE token_hash = $3",
            &binds![at, org_id.as_str(), token_hash],
        )
        .await
        .map(drop)
    }

    async fn org_members(&self, org: &OrgId) -> StoreResult<Vec<(UserRecord, Membership)>> {
        let mut conn = self.reader().await?;
        let sql = collated(
            conn.dialect(),
            "SELECT u.id, u.username, u.password_hash, u.must_change, u.created_at, \
                    m.role, m.created_at AS member_since \
             FROM users u JOIN memberships m ON m.user_id = u.id \
             WHERE m.org_id = $1 ORDER BY lower(u.username) COLLATE \"C\"",
        )
        .into_owned();
        conn.query(&sql, &binds![org.as_str()], |row| {
            let user = UserRecord::from_row(row)?;
            let membership = Membership {
                user_id: user.id.clone(),
                org_id: org.clone(),
                role: row.text("role")?,
                created_at: row.int("member_since")?,
            };
            Ok((user, membership))
        })
        .await
    }

    async fn remove_membership(&self, user_id: &str, org: &OrgId) -> StoreResult<bool> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        if tx.dialect() == Dialect::Postgres {
            // Lock the user first: two removals from different organisations at once would
            // each still see the other's membership and neither would delete the user left in
            // none. (SQLite's transaction holds the write lock already.)
            tx.execute(
                "SELECT id FROM users WHERE id = $1 FOR UPDATE",
                &binds![user_id],
            )
            .await?;
        }
        let removed = tx
            .execute(
                "DELETE FROM memberships WHERE user_id = $1 AND org_id = $2",
                &binds![user_id, org.as_str()],
            )
            .await?;
        tx.execute(
            "DELETE FROM portal_sessions WHERE user_id = $1 AND org_id = $2",
            &binds![user_id, org.as_str()],
        )
        .await?;
        let left = tx
            .query_opt(
                "SELECT COUNT(*) AS count FROM memberships WHERE user_id = $1",
                &binds![user_id],
                |row| row.int("count"),
            )
            .await?
            .unwrap_or(0);
        if left == 0 {
            tx.execute(
                "DELETE FROM portal_sessions WHERE user_id = $1",
                &binds![user_id],
            )
            .await?;
            tx.execute("DELETE FROM users WHERE id = $1", &binds![user_id])
                .await?;
        }
        tx.commit().await?;
        Ok(removed == 1)
    }

    async fn set_password(&self, user_id: &str, password: PasswordChange<'_>) -> StoreResult<()> {
        let (password_hash, must_change, keep_session) = match password {
            PasswordChange::Temporary { hash } => (hash, true, ""),
            PasswordChange::Chosen { hash, keep_session } => (hash, false, keep_session),
        };
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        tx.execute(
            "UPDATE users SET password_hash = $1, must_change = $2 WHERE id = $3",
            &binds![password_hash, must_change, user_id],
        )
        .await?;
        tx.execute(
            "DELETE FROM portal_sessions WHERE user_id = $1 AND token_hash <> $2",
            &binds![user_id, keep_session],
        )
        .await?;
        tx.commit().await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        self.write(
            "DELETE FROM portal_sessions WHERE token_hash = $1",
            &binds![token_hash],
        )
        .await
        .map(drop)
    }

    async fn prune_sessions(
        &self,
        idle_before: UnixSeconds,
        created_before: UnixSeconds,
    ) -> StoreResult<u64> {
        self.write(
            "DELETE FROM portal_sessions WHERE last_seen_at < $1 OR created_at < $2",
            &binds![idle_before, created_before],
        )
        .await
    }
}
