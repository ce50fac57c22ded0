//! Portal sessions: starting one for a signed-in user, finding the user of a session token
//! (with idle and absolute expiry), switching its organisation, and ending it. Tokens are
//! random 32-byte values; the store keeps only their SHA-256, so a copy of the database
//! cannot be used to sign in.

use std::sync::Arc;

use base64::Engine;
use brandstream_domain::{now_unix, OrgId};
use brandstream_store::{Membership, SessionRecord, Store, UserRecord};
use ring::rand::SecureRandom;
use sha2::{Digest, Sha256};

use crate::error::ServiceError;

/// A fresh random token: 32 bytes, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS generator does not fail on supported platforms; a zero token would still be
    // unguessable per process start only, so fail loudly instead.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        tracing::error!("the system random generator failed");
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token, hex — what the database keeps.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A live session with its user and the membership it acts in.
pub struct ResumedSession {
    /// The session (its `org_id` may lag behind `membership` until touched).
    pub session: SessionRecord,
    /// The signed-in user.
    pub user: UserRecord,
    /// Every membership of the user.
    pub memberships: Vec<Membership>,
    /// The membership the session acts in: the session's organisation, or the user's first
    /// when that membership is gone.
    pub membership: Membership,
}

/// Starts, resumes and ends portal sessions. Cheap to clone.
#[derive(Clone)]
pub struct SessionService {
    store: Arc<dyn Store>,
    /// Seconds without a request after which a session ends.
    idle_seconds: i64,
    /// Seconds after sign-in after which a session ends regardless.
    absolute_seconds: i64,
}

impl SessionService {
    /// Sessions in `store` that end after `idle_minutes` without a request or
    /// `absolute_hours` after sign-in.
    pub fn new(store: Arc<dyn Store>, idle_minutes: u64, absolute_hours: u64) -> Self {
        Self {
            store,
            idle_seconds: i64::try_from(idle_minutes * 60).unwrap_or(i64::MAX),
            absolute_seconds: i64::try_from(absolute_hours * 3600).unwrap_or(i64::MAX),
        }
    }

    /// Starts a session of `user_id` in `org`; returns the token for the cookie (never
    /// stored) and the stored session.
    pub async fn start(
        &self,
        user_id: &str,
        org: &OrgId,
    ) -> Result<(String, SessionRecord), ServiceError> {
        let token = random_token();
        let now = now_unix();
        let session = SessionRecord {
            token_hash: token_hash(&token),
            user_id: user_id.to_owned(),
            org_id: org.clone(),
            csrf_token: random_token(),
            created_at: now,
            last_seen_at: now,
        };
        self.store.insert_session(&session).await?;
        Ok((token, session))
    }

    /// The live session of `token`, or `None` when there is none, it expired (then it is
    /// deleted), or its user has no membership left. Records activity at most once a minute
    /// (and whenever the organisation changes).
    pub async fn resume(&self, token: &str) -> Option<ResumedSession> {
        let hash = token_hash(token);
        let session = self.store.get_session(&hash).await.ok().flatten()?;
        let now = now_unix();
        if now - session.last_seen_at > self.idle_seconds
            || now - session.created_at > self.absolute_seconds
        {
            let _ = self.store.delete_session(&hash).await;
            return None;
        }
        let user = self.store.get_user(&session.user_id).await.ok().flatten()?;
        let memberships = self.store.memberships(&user.id).await.ok()?;
        let membership = memberships
            .iter()
            .find(|m| m.org_id == session.org_id)
            .or_else(|| memberships.first())
            .cloned()?;
        if now - session.last_seen_at >= 60 || membership.org_id != session.org_id {
            let _ = self
                .store
                .touch_session(&hash, &membership.org_id, now)
                .await;
        }
        Some(ResumedSession {
            session,
            user,
            memberships,
            membership,
        })
    }

    /// Moves the session to organisation `org` (a membership the caller checked).
    pub async fn switch_org(&self, session: &SessionRecord, org: &OrgId) {
        let _ = self
            .store
            .touch_session(&session.token_hash, org, now_unix())
            .await;
    }

    /// Ends the session (signing out). Ending one that is gone is not an error.
    pub async fn end(&self, session: &SessionRecord) {
        let _ = self.store.delete_session(&session.token_hash).await;
    }
}
