//! Portal users: creation with validated names and Argon2id password hashes, and password
//! checks that take the same time whether or not the user exists.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use brandstream_domain::{now_unix, OrgId};
use brandstream_store::{Membership, PasswordChange, Store, StoreError, UserRecord};

use crate::AuthError;

/// Roles a user can have in an organisation.
pub const ROLES: [&str; 2] = ["admin", "member"];
/// Shortest password accepted.
pub const PASSWORD_MIN: usize = 10;
/// Longest password accepted (Argon2 hashes any length; this bounds the work per request).
pub const PASSWORD_MAX: usize = 1024;

/// Argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Validation(format!("cannot hash the password: {e}")))
}

/// Checks a password against a PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => argon2().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

/// Checks a username: 3–64 characters of letters, digits and `.`, `_`, `-`, `@`.
pub fn validate_username(username: &str) -> Result<(), AuthError> {
    let length = username.chars().count();
    if !(3..=64).contains(&length)
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(AuthError::Validation(
            "a username has 3 to 64 letters, digits or . _ - @".into(),
        ));
    }
    Ok(())
}

/// Checks a new password's length.
pub fn validate_password(password: &str) -> Result<(), AuthError> {
    let length = password.chars().count();
    if length < PASSWORD_MIN {
        return Err(AuthError::Validation(format!(
            "a password needs at least {PASSWORD_MIN} characters"
        )));
    }
    if length > PASSWORD_MAX {
        return Err(AuthError::Validation(format!(
            "a password has at most {PASSWORD_MAX} characters"
        )));
    }
    Ok(())
}

/// A random one-time password: 20 characters from an unambiguous alphabet (~100 bits).
pub fn one_time_password() -> String {
    use aws_lc_rs::rand::SecureRandom;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    if aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .is_err()
    {
        tracing::error!("the system random generator failed");
    }
    bytes
        .iter()
        .map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char)
        .collect()
}

/// A signed-in user's identity.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user.
    pub user: UserRecord,
    /// Their organisations and roles.
    pub memberships: Vec<Membership>,
}

/// User administration and password sign-in.
pub struct Users {
    store: Arc<dyn Store>,
    /// Verified when the user does not exist, so timing does not reveal which names exist.
    /// Made on first use (hashing takes tens of milliseconds; start-up should not wait).
    decoy: Arc<std::sync::OnceLock<String>>,
}

impl Users {
    /// Users over `store`.
    pub fn new(store: Arc<dyn Store>) -> Result<Self, AuthError> {
        Ok(Self {
            store,
            decoy: Arc::new(std::sync::OnceLock::new()),
        })
    }

    /// Creates a user with a role in `org`.
    pub async fn create(
        &self,
        username: &str,
        password: &str,
        org: &OrgId,
        role: &str,
    ) -> Result<UserRecord, AuthError> {
        validate_username(username)?;
        validate_password(password)?;
        if !ROLES.contains(&role) {
            return Err(AuthError::Validation("the role is admin or member".into()));
        }
        if self.store.get_org(org).await?.is_none() {
            return Err(AuthError::NotFound("organisation"));
        }
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| AuthError::Validation(e.to_string()))??;
        let user = UserRecord {
            id: uuid::Uuid::new_v4().to_string(),
            username: username.to_owned(),
            password_hash: hash,
            must_change: false,
            created_at: now_unix(),
        };
        let membership = Membership {
            user_id: user.id.clone(),
            org_id: org.clone(),
            role: role.to_owned(),
            created_at: user.created_at,
        };
        match self.store.create_user(&user, &membership).await {
            Ok(()) => Ok(user),
            Err(StoreError::Duplicate(_)) => {
                Err(AuthError::Validation("that username is taken".into()))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Creates a user with a one-time password (returned once); they choose their own at
    /// first sign-in.
    pub async fn invite(
        &self,
        username: &str,
        org: &OrgId,
        role: &str,
    ) -> Result<(UserRecord, Option<String>), AuthError> {
        if !ROLES.contains(&role) {
            return Err(AuthError::Validation("the role is admin or member".into()));
        }
        // Someone who already has an account joins with it: no new password.
        if let Some(existing) = self.store.user_by_name(username.trim()).await? {
            let memberships = self.store.memberships(&existing.id).await?;
            if memberships.iter().any(|m| &m.org_id == org) {
                return Err(AuthError::Validation(
                    "that user is already a member".into(),
                ));
            }
            self.store
                .set_membership(&Membership {
                    user_id: existing.id.clone(),
                    org_id: org.clone(),
                    role: role.to_owned(),
                    created_at: now_unix(),
                })
                .await?;
            return Ok((existing, None));
        }
        let password = one_time_password();
        let mut user = self.create(username, &password, org, role).await?;
        self.store
            .set_password(
                &user.id,
                PasswordChange::Temporary {
                    hash: &user.password_hash,
                },
            )
            .await?;
        user.must_change = true;
        Ok((user, Some(password)))
    }

    /// Sets a new password chosen by the user; ends their other sessions.
    pub async fn change_password(
        &self,
        user_id: &str,
        password: &str,
        keep_session: &str,
    ) -> Result<(), AuthError> {
        validate_password(password)?;
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| AuthError::Validation(e.to_string()))??;
        self.store
            .set_password(
                user_id,
                PasswordChange::Chosen {
                    hash: &hash,
                    keep_session,
                },
            )
            .await?;
        Ok(())
    }

    /// Checks a username and password (Argon2id on a blocking thread). `None` when either is
    /// wrong or the user belongs to no organisation.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Authenticated>, AuthError> {
        if password.chars().count() > PASSWORD_MAX {
            return Ok(None);
        }
        let user = self.store.user_by_name(username).await?;
        let phc = user.as_ref().map(|user| user.password_hash.clone());
        let decoy = Arc::clone(&self.decoy);
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            let phc = phc.unwrap_or_else(|| {
                decoy
                    .get_or_init(|| {
                        hash_password("decoy password that matches nothing").unwrap_or_default()
                    })
                    .clone()
            });
            verify_password(&password, &phc)
        })
        .await
        .unwrap_or(false);
        let Some(user) = user.filter(|_| matches) else {
            return Ok(None);
        };
        let memberships = self.store.memberships(&user.id).await?;
        if memberships.is_empty() {
            return Ok(None);
        }
        Ok(Some(Authenticated { user, memberships }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let one = hash_password("correct horse battery").unwrap();
        let two = hash_password("correct horse battery").unwrap();
        assert!(one.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{one}");
        assert_ne!(one, two);
        assert!(verify_password("correct horse battery", &one));
        assert!(!verify_password("wrong horse battery", &one));
        assert!(!verify_password("anything", "not a phc string"));
    }

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(validate_username("ada.lovelace@example").is_ok());
        assert!(validate_username("a").is_err());
        assert!(validate_username("with space").is_err());
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough password").is_ok());
    }
}
