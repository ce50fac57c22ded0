//! The token service's storage: organisations, credentials and their secrets, revocations, the
//! audit trail, the clock and leases.

use super::TestStore;
use brandstream_domain::{now_unix, ClientId, OrgId, ScopeSet};
use brandstream_store::{
    AuditEvent, ClientStatus, NewClient, NewSecret, Org, SecretRecord, StoreError, TokenRevocation,
};

fn secret(byte: u8) -> NewSecret {
    NewSecret {
        hash: [byte; 32],
        hint: format!("{byte}"),
        created_at: now_unix(),
    }
}

fn org(name: &str, is_default: bool) -> Org {
    Org {
        id: OrgId::generate(),
        name: name.into(),
        is_default,
        created_at: 1,
    }
}

/// A new credential of `org`, stored with a secret for each of the `secrets` bytes in turn
/// (the first when it is created, the others added keeping at most two active).
async fn stored_client(store: &TestStore, org: &Org, secrets: &[u8]) -> ClientId {
    let new = NewClient {
        client_id: ClientId::generate(),
        org_id: org.id.clone(),
        label: "ci".into(),
        description: String::new(),
        scopes: ScopeSet::all(),
        token_lifetime: 86_400,
        created_at: now_unix(),
    };
    let (first, more) = secrets.split_first().expect("a first secret");
    store.create_client(&new, &secret(*first)).await.unwrap();
    for byte in more {
        store
            .add_secret(&new.client_id, &secret(*byte), 2)
            .await
            .unwrap();
    }
    new.client_id
}

/// The active secrets of a credential, in the order the store returns them.
async fn secrets(store: &TestStore, id: &ClientId) -> Vec<SecretRecord> {
    store.get_client(id).await.unwrap().unwrap().secrets
}

/// The first byte of each active secret's hash, in the order the store returns them.
async fn active_secrets(store: &TestStore, id: &ClientId) -> Vec<u8> {
    let secrets = secrets(store, id).await;
    secrets.iter().map(|s| s.hash[0]).collect()
}

async fn credentials_keys_revocations_and_leases(store: TestStore) {
    let org = org("Acme", true);
    store.create_org(&org).await.unwrap();
    assert!(store
        .create_org(&Org {
            id: OrgId::generate(),
            is_default: true,
            ..org.clone()
        })
        .await
        .is_err());
    assert_eq!(store.default_org().await.unwrap().unwrap().id, org.id);
    let id = stored_client(&store, &org, &[1, 2, 3]).await;
    assert_eq!(active_secrets(&store, &id).await, vec![2, 3]);
    assert!(store.retire_oldest_secret(&id, now_unix()).await.unwrap());
    assert!(!store.retire_oldest_secret(&id, now_unix()).await.unwrap());
    store
        .touch_clients(&[(id.clone(), 10), (id.clone(), 20)])
        .await
        .unwrap();
    assert_eq!(
        store.list_clients(&org.id).await.unwrap()[0].last_used_at,
        Some(20)
    );
    assert!(store.revoke_client(&id, now_unix()).await.unwrap());
    assert!(!store.revoke_client(&id, now_unix()).await.unwrap());
    let changed = store.clients_changed_since(now_unix()).await.unwrap();
    assert!(changed
        .iter()
        .any(|(c, s, _)| *c == id && *s == ClientStatus::Revoked));

    for jti in ["a", "b", "a"] {
        store
            .revoke_token(&TokenRevocation {
                jti: jti.into(),
                client_id: id.to_string(),
                expires_at: now_unix() + 60,
                revoked_at: now_unix(),
            })
            .await
            .unwrap();
    }
    let revoked = store.revocations_after(0).await.unwrap();
    assert_eq!(revoked.len(), 2);
    assert!(store
        .revocations_after(revoked[1].0)
        .await
        .unwrap()
        .is_empty());

    store
        .append_audit_events(vec![AuditEvent {
            id: 0,
            at: now_unix(),
            org_id: Some(org.id.to_string()),
            kind: "test".into(),
            client_id: None,
            actor: "me".into(),
            source_address: None,
            detail: serde_json::json!({"k": 1}),
        }])
        .await
        .unwrap();
    let events = store.list_audit_events(Some(&org.id), 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail["k"], 1);
    assert_eq!(store.list_audit_events(None, 10).await.unwrap().len(), 1);

    let clock = store.clock_micros().await.unwrap() / 1_000_000;
    assert!(
        (clock - now_unix()).abs() < 60,
        "the store's clock is close to this machine's"
    );
    let now = now_unix();
    assert!(store
        .acquire_lease("rotate", "node-a", now, 30)
        .await
        .unwrap());
    assert!(!store
        .acquire_lease("rotate", "node-b", now, 30)
        .await
        .unwrap());
    assert!(store
        .acquire_lease("rotate", "node-a", now + 1, 30)
        .await
        .unwrap());
    assert!(store
        .acquire_lease("rotate", "node-b", now + 40, 30)
        .await
        .unwrap());
}

async fn secrets_rotate_with_at_most_two_active(store: TestStore) {
    let org = org("Acme", true);
    store.create_org(&org).await.unwrap();
    let id = stored_client(&store, &org, &[1, 2]).await;
    assert_eq!(active_secrets(&store, &id).await, vec![1, 2]);
    store.add_secret(&id, &secret(3), 2).await.unwrap();
    assert_eq!(active_secrets(&store, &id).await, vec![2, 3]);
    assert!(store.retire_oldest_secret(&id, now_unix()).await.unwrap());
    assert!(!store.retire_oldest_secret(&id, now_unix()).await.unwrap());
    assert!(store.revoke_client(&id, now_unix()).await.unwrap());
    let revoked = store.get_client(&id).await.unwrap().unwrap();
    assert_eq!(revoked.status, ClientStatus::Revoked);
    assert!(revoked.secrets.is_empty());
    assert!(matches!(
        store.add_secret(&id, &secret(4), 2).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn a_lease_has_one_holder_until_it_expires(store: TestStore) {
    let now = now_unix();
    // (owner, seconds from now, taken?): a 30 s lease, renewed by its holder, free once expired.
    for (owner, at, taken) in [
        ("a", 0, true),
        ("b", 10, false),
        ("a", 20, true),
        ("b", 40, false),
        ("b", 51, true),
    ] {
        let result = store
            .acquire_lease("maintenance", owner, now + at, 30)
            .await;
        assert_eq!(result.unwrap(), taken, "{owner} at +{at} s");
    }
    assert!(store.acquire_lease("other", "a", now, 30).await.unwrap());
}

async fn organisations_are_listed_oldest_first_and_found_by_id(store: TestStore) {
    store.ping().await.unwrap();
    assert!(store.list_orgs().await.unwrap().is_empty());
    // Fixed ids of one case, so the tie on `created_at` is ordered by id whatever the
    // database's collation.
    let at = |id: &str, name: &str, is_default: bool, created_at: i64| Org {
        id: OrgId::parse(id).unwrap(),
        name: name.into(),
        is_default,
        created_at,
    };
    let late = at("org_aaaaaaaaaaaaaaaa", "Late", false, 30);
    let tie_second = at("org_cccccccccccccccc", "Tie 2", false, 20);
    let first = at("org_zzzzzzzzzzzzzzzz", "First", true, 10);
    let tie_first = at("org_bbbbbbbbbbbbbbbb", "Tie 1", false, 20);
    for org in [&late, &tie_second, &first, &tie_first] {
        store.create_org(org).await.unwrap();
    }
    assert_eq!(
        store.list_orgs().await.unwrap(),
        vec![
            first.clone(),
            tie_first.clone(),
            tie_second.clone(),
            late.clone()
        ]
    );
    assert_eq!(store.get_org(&first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.get_org(&late.id).await.unwrap(), Some(late.clone()));
    assert_eq!(store.get_org(&OrgId::generate()).await.unwrap(), None);

    // An id already taken is a conflict and the stored organisation is kept.
    assert!(matches!(
        store
            .create_org(&Org {
                name: "Impostor".into(),
                ..late.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_org(&late.id).await.unwrap(), Some(late));
    assert_eq!(store.list_orgs().await.unwrap().len(), 4);
    store.ping().await.unwrap();
}

/// The active secrets as (row id, first hash byte, hint, created_at).
async fn secret_rows(store: &TestStore, id: &ClientId) -> Vec<(i64, u8, String, i64)> {
    let secrets = secrets(store, id).await;
    secrets
        .into_iter()
        .map(|s| (s.id, s.hash[0], s.hint, s.created_at))
        .collect()
}

async fn replacing_a_secret_hash_changes_what_verification_sees(store: TestStore) {
    let org = org("Acme", true);
    store.create_org(&org).await.unwrap();
    let id = stored_client(&store, &org, &[1, 2]).await;
    let other = stored_client(&store, &org, &[1]).await;

    let before = secret_rows(&store, &id).await;
    assert!(store
        .replace_secret_hash(&id, &[1; 32], &[9; 32])
        .await
        .unwrap());
    let after = secret_rows(&store, &id).await;
    // Only the hash changed: same row, hint and creation time, same order.
    assert_eq!(
        after[0],
        (before[0].0, 9, before[0].1.to_string(), before[0].3)
    );
    assert_eq!(after[1], before[1]);
    let hashes = secrets(&store, &id).await;
    assert_eq!(hashes[0].hash, [9; 32]);
    // The other credential's secret with the same hash is untouched.
    assert_eq!(active_secrets(&store, &other).await, vec![1]);

    // The old hash is no longer stored: a second node re-hashing it does nothing.
    assert!(!store
        .replace_secret_hash(&id, &[1; 32], &[8; 32])
        .await
        .unwrap());
    assert!(!store
        .replace_secret_hash(&ClientId::generate(), &[9; 32], &[8; 32])
        .await
        .unwrap());
    assert_eq!(secret_rows(&store, &id).await, after);

    // A retired secret is never re-hashed.
    store.add_secret(&id, &secret(3), 2).await.unwrap();
    assert_eq!(active_secrets(&store, &id).await, vec![2, 3]);
    assert!(!store
        .replace_secret_hash(&id, &[9; 32], &[7; 32])
        .await
        .unwrap());
    assert_eq!(active_secrets(&store, &id).await, vec![2, 3]);
    store.revoke_client(&id, now_unix()).await.unwrap();
    assert!(!store
        .replace_secret_hash(&id, &[2; 32], &[7; 32])
        .await
        .unwrap());
}

fn revocation(jti: &str, expires_at: i64) -> TokenRevocation {
    TokenRevocation {
        jti: jti.into(),
        client_id: "client".into(),
        expires_at,
        revoked_at: 1,
    }
}

async fn revocations_are_forgotten_once_their_tokens_expire(store: TestStore) {
    assert_eq!(store.prune_revocations(i64::MAX).await.unwrap(), 0);
    for (jti, expires_at) in [("a", 100), ("b", 200), ("c", 300)] {
        store
            .revoke_token(&revocation(jti, expires_at))
            .await
            .unwrap();
    }
    // Expiring at 100 is still kept at 100: the cut-off is exclusive.
    assert_eq!(store.prune_revocations(100).await.unwrap(), 0);
    assert_eq!(store.prune_revocations(201).await.unwrap(), 2);
    assert_eq!(store.prune_revocations(201).await.unwrap(), 0);
    let kept = store.revocations_after(0).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].1, revocation("c", 300));

    // A forgotten token id can be revoked again; it gets a new, later sequence number.
    store.revoke_token(&revocation("a", 400)).await.unwrap();
    let again = store.revocations_after(kept[0].0).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1, revocation("a", 400));
    assert!(again[0].0 > kept[0].0);
}

fn event(at: i64, org: Option<&OrgId>, kind: &str) -> AuditEvent {
    AuditEvent {
        id: 0,
        at,
        org_id: org.map(|o| o.to_string()),
        kind: kind.into(),
        client_id: org.map(|_| "client".to_string()),
        actor: "system".into(),
        source_address: org.map(|_| "192.0.2.1".to_string()),
        detail: serde_json::json!({"at": at}),
    }
}

async fn audit_events_are_listed_newest_first_and_pruned_before_the_cut_off(store: TestStore) {
    let acme = OrgId::generate();
    store.append_audit_events(Vec::new()).await.unwrap();
    assert_eq!(store.prune_audit_events(i64::MAX).await.unwrap(), 0);
    let written = vec![
        event(10, Some(&acme), "a"),
        event(30, None, "b"),
        event(20, Some(&acme), "c"),
    ];
    store.append_audit_events(written.clone()).await.unwrap();

    // Newest written first (by id, not by time), every field as written.
    let listed = store.list_audit_events(None, 10).await.unwrap();
    assert!(listed[0].id > listed[1].id && listed[1].id > listed[2].id);
    let without_ids = |events: Vec<AuditEvent>| {
        events
            .into_iter()
            .map(|e| AuditEvent { id: 0, ..e })
            .collect::<Vec<_>>()
    };
    let newest_first: Vec<AuditEvent> = written.iter().rev().cloned().collect();
    assert_eq!(without_ids(listed), newest_first);
    assert_eq!(
        without_ids(store.list_audit_events(None, 2).await.unwrap()),
        newest_first[..2].to_vec()
    );
    assert_eq!(
        without_ids(store.list_audit_events(Some(&acme), 10).await.unwrap()),
        vec![written[2].clone(), written[0].clone()]
    );

    // Events at exactly the cut-off are kept.
    assert_eq!(store.prune_audit_events(10).await.unwrap(), 0);
    assert_eq!(store.prune_audit_events(20).await.unwrap(), 1);
    assert_eq!(
        without_ids(store.list_audit_events(None, 10).await.unwrap()),
        vec![written[2].clone(), written[1].clone()]
    );
    assert_eq!(store.prune_audit_events(31).await.unwrap(), 2);
    assert!(store.list_audit_events(None, 10).await.unwrap().is_empty());
}

contract_tests! {
    credentials_keys_revocations_and_leases,
    secrets_rotate_with_at_most_two_active,
    a_lease_has_one_holder_until_it_expires,
    organisations_are_listed_oldest_first_and_found_by_id,
    replacing_a_secret_hash_changes_what_verification_sees,
    revocations_are_forgotten_once_their_tokens_expire,
    audit_events_are_listed_newest_first_and_pruned_before_the_cut_off,
}
