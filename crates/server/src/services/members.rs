//! Members of an organisation: who they are, changing a member's role, removing a member.
//! Inviting goes through `brandstream_auth::Users`, which owns passwords.
//!
//! An administrator never changes their own membership: that takes another administrator, so
//! an organisation cannot lose its last administrator by a slip of its own.

use std::sync::Arc;

use brandstream_domain::OrgId;
use brandstream_store::{Membership, Store, UserRecord};

use crate::error::ServiceError;

/// The sentence for an attempt to change one's own membership.
pub const OWN_MEMBERSHIP: &str =
    "You cannot change your own membership; ask another administrator.";
/// The sentence for a role other than the two there are.
pub const UNKNOWN_ROLE: &str = "The role is admin or member.";

/// Reads and changes the memberships of an organisation. Cheap to clone.
#[derive(Clone)]
pub struct MemberService {
    store: Arc<dyn Store>,
}

impl MemberService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// How many portal users exist (none: the portal is not set up yet).
    pub async fn count_users(&self) -> Result<i64, ServiceError> {
        Ok(self.store.count_users().await?)
    }

    /// The organisation's members with their user records.
    pub async fn list(&self, org: &OrgId) -> Result<Vec<(UserRecord, Membership)>, ServiceError> {
        Ok(self.store.org_members(org).await?)
    }

    /// The membership of `member_id` in `org`, when it is not `actor_id`'s own.
    ///
    /// Errors: [`ServiceError::Forbidden`] for one's own membership, [`ServiceError::NotFound`]
    /// when `member_id` is not a member of `org`.
    async fn other_member(
        &self,
        org: &OrgId,
        actor_id: &str,
        member_id: &str,
    ) -> Result<Membership, ServiceError> {
        if member_id == actor_id {
            return Err(ServiceError::Forbidden(OWN_MEMBERSHIP));
        }
        self.list(org)
            .await?
            .into_iter()
            .map(|(_, membership)| membership)
            .find(|membership| membership.user_id == member_id)
            .ok_or(ServiceError::NotFound("Member"))
    }

    /// Gives `member_id` the role `role` (`admin` or `member`) in `org`, on behalf of
    /// `actor_id`. Errors: [`ServiceError::Rejected`] with [`UNKNOWN_ROLE`] for another
    /// role, then those of a membership that is the actor's own or does not exist.
    pub async fn change_role(
        &self,
        org: &OrgId,
        actor_id: &str,
        member_id: &str,
        role: &str,
    ) -> Result<(), ServiceError> {
        if !brandstream_auth::users::ROLES.contains(&role) {
            return Err(ServiceError::Rejected(UNKNOWN_ROLE.to_owned()));
        }
        let mut membership = self.other_member(org, actor_id, member_id).await?;
        membership.role = role.to_owned();
        Ok(self.store.set_membership(&membership).await?)
    }

    /// Removes `member_id` from `org`, on behalf of `actor_id` (the user record stays; other
    /// organisations' memberships are untouched).
    pub async fn remove(
        &self,
        org: &OrgId,
        actor_id: &str,
        member_id: &str,
    ) -> Result<(), ServiceError> {
        let membership = self.other_member(org, actor_id, member_id).await?;
        self.store
            .remove_membership(&membership.user_id, org)
            .await?;
        Ok(())
    }
}
