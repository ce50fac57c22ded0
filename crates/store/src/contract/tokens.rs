//! The token service's storage: organisations, credentials and their secrets, revocations, the
//! audit trail, the clock and leases.

use super::TestStore;
use crate::{AuditEvent, ClientStatus, NewClient, NewSecret, Org, StoreError, TokenRevocation};
use brandstream_domain::{now_unix, ClientId, OrgId, ScopeSet};

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

fn client(org: &Org) -> NewClient {
    NewClient {
        client_id: ClientId::generate(),
        org_id: org.id.clone(),
        label: "ci".into(),
        description: String::new(),
        scopes: ScopeSet::all(),
        token_lifetime: 86_400,
        created_at: now_unix(),
    }
}

/// The first byte of each active secret's hash, in the order the store returns them.
async fn active_secrets(store: &TestStore, id: &ClientId) -> Vec<u8> {
    store
        .get_client(id)
        .await
        .unwrap()
        .unwrap()
        .secrets
        .iter()
        .map(|s| s.hash[0])
        .collect()
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
    let new = client(&org);
    let id = new.client_id.clone();
    store.create_client(&new, &secret(1)).await.unwrap();
    store.add_secret(&id, &secret(2), 2).await.unwrap();
    store.add_secret(&id, &secret(3), 2).await.unwrap();
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
        .append_audit_events(&[AuditEvent {
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
    let new = client(&org);
    let id = new.client_id.clone();
    store.create_client(&new, &secret(1)).await.unwrap();
    store.add_secret(&id, &secret(2), 2).await.unwrap();
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
    assert!(store
        .acquire_lease("maintenance", "a", now, 30)
        .await
        .unwrap());
    assert!(!store
        .acquire_lease("maintenance", "b", now + 10, 30)
        .await
        .unwrap());
    assert!(store
        .acquire_lease("maintenance", "a", now + 20, 30)
        .await
        .unwrap());
    assert!(!store
        .acquire_lease("maintenance", "b", now + 40, 30)
        .await
        .unwrap());
    assert!(store
        .acquire_lease("maintenance", "b", now + 51, 30)
        .await
        .unwrap());
    assert!(store.acquire_lease("other", "a", now, 30).await.unwrap());
}

contract_tests! {
    credentials_keys_revocations_and_leases,
    secrets_rotate_with_at_most_two_active,
    a_lease_has_one_holder_until_it_expires,
}
