//! The signing keyring: bootstrap, rotation, re-wrapping under a new master key and pruning.

use super::TestStore;
use brandstream_store::{KeyRotation, KeyState, SigningKeyRecord, StoreResult};

/// A key record with recognisable fields: the material and the JWK name the key.
fn key(kid: &str, state: KeyState, created_at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        alg: "ES256".into(),
        state,
        private_key_encrypted: format!("sealed-{kid}").into_bytes(),
        public_jwk: format!(r#"{{"kid":"{kid}","kty":"EC"}}"#),
        created_at,
        activated_at: (state == KeyState::Active).then_some(created_at),
        retired_at: None,
    }
}

/// Everything a key record holds, comparable (the record itself hides its material from
/// `Debug` and is not `PartialEq`).
type KeyFacts = (
    String,
    String,
    KeyState,
    Vec<u8>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

fn facts(key: &SigningKeyRecord) -> KeyFacts {
    (
        key.kid.clone(),
        key.alg.clone(),
        key.state,
        key.private_key_encrypted.clone(),
        key.public_jwk.clone(),
        key.created_at,
        key.activated_at,
        key.retired_at,
    )
}

async fn keyring(store: &TestStore) -> Vec<KeyFacts> {
    store
        .list_signing_keys()
        .await
        .unwrap()
        .iter()
        .map(facts)
        .collect()
}

/// Each key as "kid state", in the order the store lists them.
async fn states(store: &TestStore) -> Vec<String> {
    let keys = store.list_signing_keys().await.unwrap();
    keys.iter()
        .map(|k| format!("{} {}", k.kid, k.state.as_str()))
        .collect()
}

/// Bootstraps a keyring of a new active key `active` and next key `next`, both created at `at`.
async fn bootstrap(store: &TestStore, active: &str, next: &str, at: i64) -> StoreResult<bool> {
    let active = key(active, KeyState::Active, at);
    let next = key(next, KeyState::Next, at);
    store.bootstrap_signing_keys(&active, &next).await
}

/// Rotates from `active` to `new_active` (or the next key) publishing `new_next`, at `at`.
async fn rotate_to(
    store: &TestStore,
    active: &str,
    new_active: Option<&SigningKeyRecord>,
    new_next: &SigningKeyRecord,
    at: i64,
) -> bool {
    let rotation = KeyRotation {
        expected_active: active,
        new_active,
        new_next,
        at,
    };
    store.rotate_signing_keys(&rotation).await.unwrap()
}

/// Rotates from the active key `active` (no new active key) with a new next key `next`, at `at`.
async fn rotate(store: &TestStore, active: &str, next: &str, at: i64) -> StoreResult<bool> {
    let next = key(next, KeyState::Next, at);
    store
        .rotate_signing_keys(&KeyRotation {
            expected_active: active,
            new_active: None,
            new_next: &next,
            at,
        })
        .await
}

async fn bootstrap_stores_the_first_keys_once(store: TestStore) {
    assert!(store.list_signing_keys().await.unwrap().is_empty());

    // Two keys with the same kid: the insert fails and neither is kept.
    assert!(bootstrap(&store, "k", "k", 10).await.is_err());
    assert!(store.list_signing_keys().await.unwrap().is_empty());

    let active = key("b-active", KeyState::Active, 20);
    let next = key("a-next", KeyState::Next, 20);
    assert!(store.bootstrap_signing_keys(&active, &next).await.unwrap());
    // Every field comes back as stored, ordered by creation time, then kid.
    assert_eq!(keyring(&store).await, vec![facts(&next), facts(&active)]);

    // A second bootstrap (another node starting) stores nothing.
    assert!(!bootstrap(&store, "c-active", "d-next", 5).await.unwrap());
    assert_eq!(keyring(&store).await, vec![facts(&next), facts(&active)]);

    // Listing orders by creation time before kid.
    rotate(&store, "b-active", "0-newer", 30).await.unwrap();
    assert_eq!(
        states(&store).await,
        ["a-next active", "b-active retired", "0-newer next"]
    );
}

async fn rotation_promotes_the_next_key_and_retires_the_active_one(store: TestStore) {
    let first = key("k1", KeyState::Active, 10);
    let second = key("k2", KeyState::Next, 10);
    assert!(store.bootstrap_signing_keys(&first, &second).await.unwrap());

    // Without a new active key, the published next key starts signing.
    let third = key("k3", KeyState::Next, 100);
    assert!(rotate_to(&store, "k1", None, &third, 100).await);
    let mut retired_first = facts(&first);
    retired_first.2 = KeyState::Retired;
    retired_first.7 = Some(100);
    let mut promoted_second = facts(&second);
    promoted_second.2 = KeyState::Active;
    promoted_second.6 = Some(100);
    assert_eq!(
        keyring(&store).await,
        vec![retired_first.clone(), promoted_second, facts(&third)]
    );

    // A node that still thinks k1 is active lost the race: nothing changes. Naming a key that
    // is only published (next), or an unknown one, is not the active one either.
    let before = keyring(&store).await;
    for stale in ["k1", "k3", "unknown"] {
        assert!(
            !rotate(&store, stale, "late", 150).await.unwrap(),
            "{stale}"
        );
    }
    assert_eq!(keyring(&store).await, before);

    // A new next key whose kid is taken fails the whole rotation: k2 stays active.
    assert!(rotate(&store, "k2", "k1", 160).await.is_err());
    assert_eq!(keyring(&store).await, before);

    // With a new active key, the published next key is retired unused.
    let emergency = key("k4", KeyState::Active, 200);
    let fifth = key("k5", KeyState::Next, 200);
    assert!(rotate_to(&store, "k2", Some(&emergency), &fifth, 200).await);
    assert_eq!(
        states(&store).await,
        [
            "k1 retired",
            "k2 retired",
            "k3 retired",
            "k4 active",
            "k5 next"
        ]
    );
    let keys = store.list_signing_keys().await.unwrap();
    assert_eq!(
        facts(&keys[0]),
        retired_first,
        "k1 keeps its retirement time"
    );
    assert_eq!(
        (keys[1].activated_at, keys[1].retired_at),
        (Some(100), Some(200))
    );
    assert_eq!(
        (keys[2].activated_at, keys[2].retired_at),
        (None, Some(200))
    );
    assert_eq!(facts(&keys[3]), facts(&emergency));
    assert_eq!(facts(&keys[4]), facts(&fifth));
}

async fn rotation_without_a_next_key_to_promote_changes_nothing(store: TestStore) {
    // A keyring whose only other key is already retired (stored as given).
    let mut old = key("old", KeyState::Retired, 5);
    old.retired_at = Some(6);
    assert!(store
        .bootstrap_signing_keys(&key("active", KeyState::Active, 10), &old)
        .await
        .unwrap());
    let before = keyring(&store).await;
    assert!(matches!(
        rotate(&store, "active", "next", 20).await,
        Err(brandstream_store::StoreError::Conflict(_))
    ));
    assert_eq!(keyring(&store).await, before);
}

async fn rewrap_replaces_only_the_wrapped_key_material(store: TestStore) {
    let active = key("k1", KeyState::Active, 10);
    let next = key("k2", KeyState::Next, 10);
    assert!(store.bootstrap_signing_keys(&active, &next).await.unwrap());

    assert!(store
        .rewrap_signing_key("k1", b"sealed-k1", b"resealed-k1")
        .await
        .unwrap());
    let mut rewrapped = facts(&active);
    rewrapped.3 = b"resealed-k1".to_vec();
    assert_eq!(keyring(&store).await, vec![rewrapped.clone(), facts(&next)]);

    // Compare-and-swap: a second node re-wrapping from the old material does nothing, nor does
    // a wrong or unknown kid, or the material of another key.
    assert!(!store
        .rewrap_signing_key("k1", b"sealed-k1", b"other")
        .await
        .unwrap());
    assert!(!store
        .rewrap_signing_key("k2", b"resealed-k1", b"other")
        .await
        .unwrap());
    assert!(!store
        .rewrap_signing_key("missing", b"sealed-k2", b"other")
        .await
        .unwrap());
    assert_eq!(keyring(&store).await, vec![rewrapped, facts(&next)]);
}

async fn pruning_deletes_only_keys_retired_before_the_cut_off(store: TestStore) {
    assert!(bootstrap(&store, "k1", "k2", 10).await.unwrap());
    assert_eq!(store.prune_signing_keys(i64::MAX).await.unwrap(), 0);
    rotate(&store, "k1", "k3", 100).await.unwrap();
    rotate(&store, "k2", "k4", 200).await.unwrap();

    // Retired at 100 and 200: the cut-off is exclusive.
    assert_eq!(store.prune_signing_keys(100).await.unwrap(), 0);
    assert_eq!(store.prune_signing_keys(101).await.unwrap(), 1);
    assert_eq!(states(&store).await, ["k2 retired", "k3 active", "k4 next"]);
    assert_eq!(store.prune_signing_keys(101).await.unwrap(), 0);
    // The active and next keys are never pruned, however late the cut-off.
    assert_eq!(store.prune_signing_keys(i64::MAX).await.unwrap(), 1);
    assert_eq!(states(&store).await, ["k3 active", "k4 next"]);
}

contract_tests! {
    bootstrap_stores_the_first_keys_once,
    rotation_promotes_the_next_key_and_retires_the_active_one,
    rotation_without_a_next_key_to_promote_changes_nothing,
    rewrap_replaces_only_the_wrapped_key_material,
    pruning_deletes_only_keys_retired_before_the_cut_off,
}
