//! Portal users, their memberships and sessions.

use super::TestStore;
use brandstream_domain::OrgId;
use brandstream_store::{Membership, Org, PasswordChange, SessionRecord, StoreError, UserRecord};

async fn org(store: &TestStore, name: &str, at: i64) -> OrgId {
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

/// Stores the user `id` called `username` with their first membership: `role` in `org` since
/// `at`. Returns the stored user.
async fn add_user(
    store: &TestStore,
    id: &str,
    username: &str,
    org: &OrgId,
    role: &str,
    at: i64,
) -> UserRecord {
    let record = user(id, username);
    store
        .create_user(&record, &membership(id, org, role, at))
        .await
        .unwrap();
    record
}

/// Stores the session `token_hash` of `user_id` in `org`, signed in (and last seen) at `at`.
async fn sign_in(store: &TestStore, token_hash: &str, user_id: &str, org: &OrgId, at: i64) {
    store
        .insert_session(&session(token_hash, user_id, org, at))
        .await
        .unwrap();
}

/// Organisations Acme and Globex, and the user `id` called `username`: admin of Acme, member of
/// Globex.
async fn in_acme_and_globex(store: &TestStore, id: &str, username: &str) -> (OrgId, OrgId) {
    let acme = org(store, "Acme", 1).await;
    let globex = org(store, "Globex", 2).await;
    add_user(store, id, username, &acme, "admin", 10).await;
    store
        .set_membership(&membership(id, &globex, "member", 11))
        .await
        .unwrap();
    (acme, globex)
}

async fn users_are_unique_case_insensitively_and_have_memberships(store: TestStore) {
    let acme = org(&store, "Acme", 1).await;
    let globex = org(&store, "Globex", 2).await;
    assert_eq!(store.count_users().await.unwrap(), 0);
    let ada = add_user(&store, "u1", "Ada", &acme, "admin", 10).await;
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
    for (org, at) in [(&globex, 5), (&acme, 99)] {
        store
            .set_membership(&membership("u1", org, "member", at))
            .await
            .unwrap();
    }
    assert_eq!(
        store.memberships("u1").await.unwrap(),
        vec![
            membership("u1", &globex, "member", 5),
            membership("u1", &acme, "member", 10),
        ]
    );

    // Members are listed by name, case-insensitively.
    for (id, username, role, at) in [
        ("u4", "bob", "member", 20),
        ("u5", "Carol", "admin", 21),
        ("u6", "alan", "member", 22),
    ] {
        add_user(&store, id, username, &acme, role, at).await;
    }
    let members = store.org_members(&acme).await.unwrap();
    let names: Vec<&str> = members.iter().map(|(u, _)| u.username.as_str()).collect();
    assert_eq!(names, vec!["Ada", "alan", "bob", "Carol"]);
    assert_eq!(members[3].1, membership("u5", &acme, "admin", 21));
    assert_eq!(store.org_members(&globex).await.unwrap().len(), 1);
    assert_eq!(store.count_users().await.unwrap(), 4);
}

async fn sessions_are_created_touched_pruned_and_ended(store: TestStore) {
    let (acme, globex) = in_acme_and_globex(&store, "u1", "ada").await;

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
    sign_in(&store, "idle", "u1", &acme, 150).await;
    let mut old = session("old", "u1", &acme, 40);
    old.last_seen_at = 300;
    store.insert_session(&old).await.unwrap();
    sign_in(&store, "fresh", "u1", &acme, 250).await;
    assert_eq!(store.prune_sessions(200, 50).await.unwrap(), 2);
    assert!(store.get_session("fresh").await.unwrap().is_some());
    assert_eq!(store.prune_sessions(200, 50).await.unwrap(), 0);

    // A new password ends every other session and sets the change flag.
    sign_in(&store, "s2", "u1", &acme, 260).await;
    sign_in(&store, "s3", "u1", &globex, 260).await;
    store
        .set_password(
            "u1",
            PasswordChange::Chosen {
                hash: "$argon2id$new",
                keep_session: "s2",
            },
        )
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
        .set_password(
            "u1",
            PasswordChange::Temporary {
                hash: "$argon2id$x",
            },
        )
        .await
        .unwrap();
    assert!(store.get_session("s2").await.unwrap().is_none());
    assert!(store.get_user("u1").await.unwrap().unwrap().must_change);
}

async fn removing_the_last_membership_deletes_the_user_and_sessions(store: TestStore) {
    let (acme, globex) = in_acme_and_globex(&store, "u1", "ada").await;
    sign_in(&store, "in-acme", "u1", &acme, 100).await;
    sign_in(&store, "in-globex", "u1", &globex, 100).await;

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
    add_user(&store, "u2", "ADA", &acme, "member", 12).await;

    // Deleting a user directly cascades to memberships and sessions.
    sign_in(&store, "s2", "u2", &acme, 100).await;
    store.delete_user_row("u2").await;
    assert!(store.get_session("s2").await.unwrap().is_none());
    assert!(store.memberships("u2").await.unwrap().is_empty());
}

async fn concurrent_removals_of_the_last_two_memberships_delete_the_user(store: TestStore) {
    for round in 0..5 {
        let id = format!("u{round}");
        let (acme, globex) = in_acme_and_globex(&store, &id, &id).await;
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

contract_tests! {
    users_are_unique_case_insensitively_and_have_memberships,
    sessions_are_created_touched_pruned_and_ended,
    removing_the_last_membership_deletes_the_user_and_sessions,
    concurrent_removals_of_the_last_two_memberships_delete_the_user,
}
