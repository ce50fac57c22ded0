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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::testing::fresh_store;
    use crate::{Org, OrgStore, StoreError};

    async fn org(store: &PgStore, name: &str, at: i64) -> OrgId {
        let id = OrgId::generate();
        store
            .create_org(&Org {
                id: id.clone(),
                name: name.into(),
                is_default: false,
                created_at: at,
            })
            .await
            .unwrap();
        id
    }

    fn user(id: &str, username: &str) -> UserRecord {
        UserRecord {
            id: id.into(),
            username: username.into(),
            password_hash: "$argon2id$hash".into(),
            must_change: true,
            created_at: 100,
        }
    }

    fn membership(user_id: &str, org: &OrgId, role: &str, at: i64) -> Membership {
        Membership {
            user_id: user_id.into(),
            org_id: org.clone(),
            role: role.into(),
            created_at: at,
        }
    }

    fn session(token_hash: &str, user_id: &str, org: &OrgId, at: i64) -> SessionRecord {
        SessionRecord {
            token_hash: token_hash.into(),
            user_id: user_id.into(),
            org_id: org.clone(),
            csrf_token: format!("csrf-{token_hash}"),
            created_at: at,
            last_seen_at: at,
        }
    }

    #[tokio::test]
    async fn users_are_unique_case_insensitively_and_have_memberships() {
        let Some(store) = fresh_store("users_are_unique_case_insensitively").await else {
            return;
        };
        let acme = org(&store, "Acme", 1).await;
        let globex = org(&store, "Globex", 2).await;
        assert_eq!(store.count_users().await.unwrap(), 0);
        let ada = user("u1", "Ada");
        store
            .create_user(&ada, &membership("u1", &acme, "admin", 10))
            .await
            .unwrap();
        let result = store
            .create_user(&user("u2", "aDA"), &membership("u2", &acme, "member", 11))
            .await;
        assert!(matches!(result, Err(StoreError::Duplicate("username"))));
        // The refused user left no membership behind.
        assert!(store.memberships("u2").await.unwrap().is_empty());
        assert_eq!(store.count_users().await.unwrap(), 1);
        // A membership in an unknown organisation is refused, user and all.
        let nowhere = OrgId::generate();
        assert!(store
            .create_user(
                &user("u3", "Bob"),
                &membership("u3", &nowhere, "member", 12)
            )
            .await
            .is_err());
        assert!(store.get_user("u3").await.unwrap().is_none());

        assert_eq!(store.user_by_name("ADA").await.unwrap(), Some(ada.clone()));
        assert_eq!(store.user_by_name("ada").await.unwrap(), Some(ada.clone()));
        assert_eq!(store.user_by_name("ad").await.unwrap(), None);
        assert_eq!(store.get_user("u1").await.unwrap(), Some(ada.clone()));
        assert_eq!(store.get_user("missing").await.unwrap(), None);

        // Memberships: oldest first; setting one again changes only the role.
        store
            .set_membership(&membership("u1", &globex, "member", 5))
            .await
            .unwrap();
        store
            .set_membership(&membership("u1", &acme, "member", 99))
            .await
            .unwrap();
        assert_eq!(
            store.memberships("u1").await.unwrap(),
            vec![
                membership("u1", &globex, "member", 5),
                membership("u1", &acme, "member", 10),
            ]
        );

        // Members are listed by name, case-insensitively.
        store
            .create_user(&user("u4", "bob"), &membership("u4", &acme, "member", 20))
            .await
            .unwrap();
        store
            .create_user(&user("u5", "Carol"), &membership("u5", &acme, "admin", 21))
            .await
            .unwrap();
        store
            .create_user(&user("u6", "alan"), &membership("u6", &acme, "member", 22))
            .await
            .unwrap();
        let members = store.org_members(&acme).await.unwrap();
        let names: Vec<&str> = members.iter().map(|(u, _)| u.username.as_str()).collect();
        assert_eq!(names, vec!["Ada", "alan", "bob", "Carol"]);
        assert_eq!(members[3].1, membership("u5", &acme, "admin", 21));
        assert_eq!(store.org_members(&globex).await.unwrap().len(), 1);
        assert_eq!(store.count_users().await.unwrap(), 4);
    }

    #[tokio::test]
    async fn sessions_are_created_touched_pruned_and_ended() {
        let Some(store) = fresh_store("sessions_are_created_touched_pruned_and_ended").await else {
            return;
        };
        let acme = org(&store, "Acme", 1).await;
        let globex = org(&store, "Globex", 2).await;
        store
            .create_user(&user("u1", "ada"), &membership("u1", &acme, "admin", 10))
            .await
            .unwrap();
        store
            .set_membership(&membership("u1", &globex, "member", 11))
            .await
            .unwrap();

        let first = session("t1", "u1", &acme, 100);
        store.insert_session(&first).await.unwrap();
        assert!(store.insert_session(&first).await.is_err());
        // A session of an unknown user is refused.
        assert!(store
            .insert_session(&session("t0", "nobody", &acme, 100))
            .await
            .is_err());
        assert_eq!(store.get_session("t1").await.unwrap(), Some(first.clone()));
        assert_eq!(store.get_session("t9").await.unwrap(), None);

        // Touching records activity and the organisation switched to.
        store.touch_session("t1", &globex, 150).await.unwrap();
        let touched = store.get_session("t1").await.unwrap().unwrap();
        assert_eq!(
            (touched.org_id.clone(), touched.last_seen_at),
            (globex.clone(), 150)
        );
        assert_eq!(touched.created_at, 100);
        store.touch_session("missing", &acme, 150).await.unwrap();

        store.delete_session("t1").await.unwrap();
        assert_eq!(store.get_session("t1").await.unwrap(), None);
        store.delete_session("t1").await.unwrap();

        // Pruning: idle since before 200, or signed in before 50.
        store
            .insert_session(&session("idle", "u1", &acme, 150))
            .await
            .unwrap();
        let mut old = session("old", "u1", &acme, 40);
        old.last_seen_at = 300;
        store.insert_session(&old).await.unwrap();
        store
            .insert_session(&session("fresh", "u1", &acme, 250))
            .await
            .unwrap();
        assert_eq!(store.prune_sessions(200, 50).await.unwrap(), 2);
        assert!(store.get_session("fresh").await.unwrap().is_some());
        assert_eq!(store.prune_sessions(200, 50).await.unwrap(), 0);

        // A new password ends every other session and sets the change flag.
        store
            .insert_session(&session("s2", "u1", &acme, 260))
            .await
            .unwrap();
        store
            .insert_session(&session("s3", "u1", &globex, 260))
            .await
            .unwrap();
        store
            .set_password("u1", "$argon2id$new", false, Some("s2"))
            .await
            .unwrap();
        let ada = store.get_user("u1").await.unwrap().unwrap();
        assert_eq!(
            (ada.password_hash.as_str(), ada.must_change),
            ("$argon2id$new", false)
        );
        assert!(store.get_session("s2").await.unwrap().is_some());
        assert!(store.get_session("fresh").await.unwrap().is_none());
        assert!(store.get_session("s3").await.unwrap().is_none());
        store
            .set_password("u1", "$argon2id$x", true, None)
            .await
            .unwrap();
        assert!(store.get_session("s2").await.unwrap().is_none());
        assert!(store.get_user("u1").await.unwrap().unwrap().must_change);
    }

    #[tokio::test]
    async fn removing_the_last_membership_deletes_the_user_and_sessions() {
        let Some(store) = fresh_store("removing_the_last_membership").await else {
            return;
        };
        let acme = org(&store, "Acme", 1).await;
        let globex = org(&store, "Globex", 2).await;
        store
            .create_user(&user("u1", "ada"), &membership("u1", &acme, "admin", 10))
            .await
            .unwrap();
        store
            .set_membership(&membership("u1", &globex, "member", 11))
            .await
            .unwrap();
        store
            .insert_session(&session("in-acme", "u1", &acme, 100))
            .await
            .unwrap();
        store
            .insert_session(&session("in-globex", "u1", &globex, 100))
            .await
            .unwrap();

        // Leaving one organisation ends only the sessions there.
        assert!(store.remove_membership("u1", &acme).await.unwrap());
        assert!(!store.remove_membership("u1", &acme).await.unwrap());
        assert!(store.get_session("in-acme").await.unwrap().is_none());
        assert!(store.get_session("in-globex").await.unwrap().is_some());
        assert!(store.get_user("u1").await.unwrap().is_some());

        // Leaving the last one deletes the user with every session.
        assert!(store.remove_membership("u1", &globex).await.unwrap());
        assert!(store.get_user("u1").await.unwrap().is_none());
        assert!(store.get_session("in-globex").await.unwrap().is_none());
        assert_eq!(store.count_users().await.unwrap(), 0);
        assert!(!store.remove_membership("u1", &globex).await.unwrap());
        // The name is free again.
        store
            .create_user(&user("u2", "ADA"), &membership("u2", &acme, "member", 12))
            .await
            .unwrap();

        // Deleting a user directly cascades to memberships and sessions.
        store
            .insert_session(&session("s2", "u2", &acme, 100))
            .await
            .unwrap();
        let client = store.client().await.unwrap();
        client
            .execute("DELETE FROM users WHERE id = 'u2'", &[])
            .await
            .unwrap();
        assert!(store.get_session("s2").await.unwrap().is_none());
        assert!(store.memberships("u2").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn concurrent_removals_of_the_last_two_memberships_delete_the_user() {
        let Some(store) = fresh_store("concurrent_membership_removals").await else {
            return;
        };
        for round in 0..5 {
            let acme = org(&store, "Acme", 1).await;
            let globex = org(&store, "Globex", 2).await;
            let id = format!("u{round}");
            store
                .create_user(&user(&id, &id), &membership(&id, &acme, "admin", 10))
                .await
                .unwrap();
            store
                .set_membership(&membership(&id, &globex, "member", 11))
                .await
                .unwrap();
            let removals: Vec<_> = [acme, globex]
                .into_iter()
                .map(|org| {
                    let store = store.clone();
                    let id = id.clone();
                    tokio::spawn(async move { store.remove_membership(&id, &org).await })
                })
                .collect();
            for removal in removals {
                assert!(removal.await.unwrap().unwrap());
            }
            assert!(store.get_user(&id).await.unwrap().is_none());
        }
    }
}
