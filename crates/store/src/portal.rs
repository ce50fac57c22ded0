//! Records and queries of portal users, memberships and sessions.

use async_trait::async_trait;
use brandstream_domain::{OrgId, UnixSeconds};

use crate::StoreResult;

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
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
    ) -> StoreResult<()>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Deletes sessions idle since before `idle_before` or created before `created_before`.
    async fn prune_sessions(
        &self,
        idle_before: UnixSeconds,
        created_before: UnixSeconds,
    ) -> StoreResult<u64>;
}
