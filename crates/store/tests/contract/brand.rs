//! Brand kits, their sections and fields.

use super::TestStore;
use brandstream_domain::OrgId;
use brandstream_store::{
    FieldRecord, KitQuery, KitRecord, SectionRecord, Stamp, StoreError, StoreResult,
};
use serde_json::json;
use std::fmt::Debug;

pub(super) fn kit(org: &OrgId, id: &str, name: &str, at: i64) -> KitRecord {
    KitRecord {
        id: id.into(),
        org_id: org.clone(),
        name: name.into(),
        description: None,
        brand_name: Some("Acme".into()),
        company_name: None,
        logo: None,
        industry: None,
        status: "draft".into(),
        parent_id: None,
        parent_type: Some(String::new()),
        tags: json!([{"category": "tone", "values": ["warm", "plain"]}]),
        references: json!([]),
        locked: false,
        version: 1,
        stamp: Stamp::new(at, "creator"),
        deleted_at: None,
    }
}

pub(super) fn section(kit_id: &str, id: &str, order: i64, at: i64) -> SectionRecord {
    SectionRecord {
        id: id.into(),
        kit_id: kit_id.into(),
        name: format!("Section {id}"),
        order,
        deletable: true,
        predefined: false,
        properties: json!({"sourceLanguage": "en-US", "another": 1}),
        version: 1,
        stamp: Stamp::new(at, "creator"),
        deleted_at: None,
    }
}

pub(super) fn field(section: &SectionRecord, id: &str, order: Option<i64>, at: i64) -> FieldRecord {
    FieldRecord {
        id: id.into(),
        section_id: section.id.clone(),
        kit_id: section.kit_id.clone(),
        name: format!("Field {id}"),
        field_type: "text".into(),
        order,
        value: json!("value"),
        intent: Some("what belongs here".into()),
        references: json!([{"id": "chunk-1", "path": "doc", "type": "chunk"}]),
        deletable: true,
        verified: None,
        ai_editable: true,
        predefined: false,
        properties: json!({}),
        version: 1,
        stamp: Stamp::new(at, "creator"),
    }
}

fn query(limit: i64) -> KitQuery {
    KitQuery {
        limit,
        ..KitQuery::default()
    }
}

fn ids(kits: &[KitRecord]) -> Vec<&str> {
    kits.iter().map(|k| k.id.as_str()).collect()
}

/// Stores the kit `id` of `org` called `name`, created at `at`, without sections.
async fn add_kit(store: &TestStore, org: &OrgId, id: &str, name: &str, at: i64) -> StoreResult<()> {
    store.create_kit(&kit(org, id, name, at), &[], &[]).await
}

/// The next version of `kit`, soft-deleted at `at`.
fn deleted(kit: &KitRecord, at: i64) -> KitRecord {
    KitRecord {
        deleted_at: Some(at),
        version: kit.version + 1,
        ..kit.clone()
    }
}

/// Sections and fields alike: each is read under its parent (a kit, a section) and replaced
/// only at its stored version.
trait Child: Clone + PartialEq + Debug {
    fn id(&self) -> &str;
    /// The id of the kit (of a section) or the section (of a field).
    fn parent(&self) -> &str;
    fn version(&self) -> i64;
    /// The record `id` under `parent`, if there is one.
    async fn get(store: &TestStore, parent: &str, id: &str) -> Option<Self>;
    /// Replaces the record if the stored one has the version `expected`.
    async fn update(&self, store: &TestStore, expected: i64) -> bool;
}

/// Implements [`Child`] for a record with its parent's id field and the store's two methods.
macro_rules! child {
    ($record:ty, $parent:ident, $get:ident, $update:ident) => {
        impl Child for $record {
            fn id(&self) -> &str {
                self.id.as_str()
            }

            fn parent(&self) -> &str {
                self.$parent.as_str()
            }

            fn version(&self) -> i64 {
                self.version
            }

            async fn get(store: &TestStore, parent: &str, id: &str) -> Option<Self> {
                store.$get(parent, id).await.unwrap()
            }

            async fn update(&self, store: &TestStore, expected: i64) -> bool {
                store.$update(self, expected).await.unwrap()
            }
        }
    };
}

child!(SectionRecord, kit_id, get_section, update_section);
child!(FieldRecord, section_id, get_field, update_field);

/// Asserts that `stored` is found under its parent but not under `other_parent`, and that its
/// next version `next` is refused at the version `stale`, then replaces it at the stored one.
async fn assert_found_and_replaced<T: Child>(
    store: &TestStore,
    stored: &T,
    other_parent: &str,
    next: &T,
    stale: i64,
) {
    let (parent, id) = (stored.parent(), stored.id());
    assert_eq!(T::get(store, parent, id).await.as_ref(), Some(stored));
    assert_eq!(T::get(store, other_parent, id).await, None);
    assert!(!next.update(store, stale).await);
    assert!(next.update(store, stored.version()).await);
    assert_eq!(T::get(store, parent, id).await.as_ref(), Some(next));
}

async fn kits_are_created_listed_filtered_paged_and_updated(store: TestStore) {
    let org = OrgId::generate();
    let other_org = OrgId::generate();
    let mut first = kit(&org, "k1", "Alpha 100% Brand", 10);
    first.description = Some("The first one".into());
    let mut second = kit(&org, "k2", "Beta", 20);
    second.status = "published".into();
    second.parent_id = Some("k1".into());
    second.parent_type = Some("brandkit".into());
    let third = kit(&org, "k3", "Gamma", 30);
    // A catalogue-sized kit: sections and hundreds of fields in one transaction.
    let sections: Vec<SectionRecord> = (1..=12)
        .map(|n| section("k1", &format!("s{n:02}"), n, 10))
        .collect();
    let fields: Vec<FieldRecord> = sections
        .iter()
        .flat_map(|s| (1..=25).map(move |n| field(s, &format!("{}-f{n:02}", s.id), Some(n), 10)))
        .collect();
    store.create_kit(&first, &sections, &fields).await.unwrap();
    store.create_kit(&second, &[], &[]).await.unwrap();
    store.create_kit(&third, &[], &[]).await.unwrap();
    add_kit(&store, &other_org, "k4", "Alpha 100% Brand", 40)
        .await
        .unwrap();

    assert_eq!(
        store.get_kit(&org, "k1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get_kit(&other_org, "k1").await.unwrap(), None);
    assert_eq!(store.list_sections("k1").await.unwrap().len(), 12);
    assert_eq!(store.list_fields("s03").await.unwrap().len(), 25);

    // Default order is oldest first; descending is newest first.
    let (total, kits) = store.list_kits(&org, &query(10)).await.unwrap();
    assert_eq!((total, ids(&kits)), (3, vec!["k1", "k2", "k3"]));
    let newest_first = KitQuery {
        descending: true,
        ..query(10)
    };
    let (_, kits) = store.list_kits(&org, &newest_first).await.unwrap();
    assert_eq!(ids(&kits), vec!["k3", "k2", "k1"]);

    // Paging keeps the total of all matches.
    let second_page = KitQuery {
        offset: 2,
        ..query(2)
    };
    let (total, kits) = store.list_kits(&org, &second_page).await.unwrap();
    assert_eq!((total, ids(&kits)), (3, vec!["k3"]));

    // Search is a case-insensitive substring of name or description; wildcards are literal.
    let search = |text: &str| KitQuery {
        search: Some(text.into()),
        ..query(10)
    };
    let (total, kits) = store.list_kits(&org, &search("ALPHA")).await.unwrap();
    assert_eq!((total, ids(&kits)), (1, vec!["k1"]));
    let (_, kits) = store.list_kits(&org, &search("first ONE")).await.unwrap();
    assert_eq!(ids(&kits), vec!["k1"]);
    let (_, kits) = store.list_kits(&org, &search("100%")).await.unwrap();
    assert_eq!(ids(&kits), vec!["k1"]);
    let (total, _) = store.list_kits(&org, &search("1_0")).await.unwrap();
    assert_eq!(total, 0);
    let (total, _) = store.list_kits(&org, &search("%")).await.unwrap();
    assert_eq!(total, 1);

    // Status compares case-insensitively; parent and ids exactly.
    let filters: [(KitQuery, &[&str]); 3] = [
        (
            KitQuery {
                status: Some("PUBLISHED".into()),
                ..query(10)
            },
            &["k2"],
        ),
        (
            KitQuery {
                parent_id: Some("k1".into()),
                ..query(10)
            },
            &["k2"],
        ),
        (
            KitQuery {
                ids: vec!["k3".into(), "k1".into(), "k4".into()],
                ..query(10)
            },
            &["k1", "k3"],
        ),
    ];
    for (filter, expected) in filters {
        let (_, kits) = store.list_kits(&org, &filter).await.unwrap();
        assert_eq!(ids(&kits), expected, "{filter:?}");
    }

    // An update needs the stored version; the record carries the next one.
    let renamed = KitRecord {
        name: "Alpha renamed".into(),
        locked: true,
        tags: json!([{"values": [], "category": "z"}]),
        version: 2,
        stamp: Stamp {
            updated_at: 50,
            ..first.stamp.clone()
        },
        ..first.clone()
    };
    assert!(!store.update_kit(&renamed, 7).await.unwrap());
    assert!(store.update_kit(&renamed, 1).await.unwrap());
    assert!(!store.update_kit(&renamed, 1).await.unwrap());
    let stored = store.get_kit(&org, "k1").await.unwrap().unwrap();
    assert_eq!(stored, renamed);
    // JSON is stored as the text the record serialises to, key order included, on both backends.
    assert_eq!(store.kit_tags_text("k1").await, renamed.tags.to_string());
    // A kit of another organisation is not updated.
    let mut foreign = renamed.clone();
    foreign.org_id = other_org.clone();
    assert!(!store.update_kit(&foreign, 2).await.unwrap());

    // Sorting by update time puts the renamed kit last.
    let by_update = KitQuery {
        sort_by_updated: true,
        ..query(10)
    };
    let (_, kits) = store.list_kits(&org, &by_update).await.unwrap();
    assert_eq!(ids(&kits), vec!["k2", "k3", "k1"]);

    // Soft-deleted kits are listed only on request.
    assert!(store.update_kit(&deleted(&third, 60), 1).await.unwrap());
    assert_eq!(store.list_kits(&org, &query(10)).await.unwrap().0, 2);
    let with_deleted = KitQuery {
        include_deleted: true,
        ..query(10)
    };
    assert_eq!(store.list_kits(&org, &with_deleted).await.unwrap().0, 3);
    assert!(store.get_kit(&org, "k3").await.unwrap().is_some());
}

async fn kit_names_are_unique_per_org_case_insensitively_until_deleted(store: TestStore) {
    let org = OrgId::generate();
    let original = kit(&org, "k1", "Acme", 1);
    store.create_kit(&original, &[], &[]).await.unwrap();
    let result = add_kit(&store, &org, "k2", "aCME", 2).await;
    assert!(matches!(
        result,
        Err(StoreError::Duplicate("brand kit name"))
    ));
    // Nothing of the refused kit remains.
    assert!(store.get_kit(&org, "k2").await.unwrap().is_none());
    // Another organisation may use the name.
    add_kit(&store, &OrgId::generate(), "k3", "ACME", 3)
        .await
        .unwrap();
    // A rename onto a taken name is refused too.
    add_kit(&store, &org, "k4", "Other", 4).await.unwrap();
    let rename = KitRecord {
        version: 2,
        ..kit(&org, "k4", "acme", 4)
    };
    let result = store.update_kit(&rename, 1).await;
    assert!(matches!(
        result,
        Err(StoreError::Duplicate("brand kit name"))
    ));
    // Deleting the kit frees its name.
    assert!(store.update_kit(&deleted(&original, 5), 1).await.unwrap());
    add_kit(&store, &org, "k5", "ACME", 6).await.unwrap();
    assert!(store.update_kit(&rename, 1).await.is_err());
    // The same id twice is refused as well.
    let result = add_kit(&store, &org, "k5", "Fresh", 7).await;
    assert!(matches!(result, Err(StoreError::Duplicate(_))));
}

async fn concurrent_updates_of_one_version_let_exactly_one_succeed(store: TestStore) {
    let org = OrgId::generate();
    add_kit(&store, &org, "k1", "Acme", 1).await.unwrap();
    let attempts: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            let next = KitRecord {
                version: 2,
                ..kit(&org, "k1", &format!("Acme {n}"), 1)
            };
            tokio::spawn(async move { store.update_kit(&next, 1).await })
        })
        .collect();
    let mut successes = 0;
    for attempt in attempts {
        if attempt.await.unwrap().unwrap() {
            successes += 1;
        }
    }
    assert_eq!(successes, 1);
    assert_eq!(store.get_kit(&org, "k1").await.unwrap().unwrap().version, 2);
}

async fn sections_and_fields_are_ordered_versioned_and_deleted(store: TestStore) {
    let org = OrgId::generate();
    let first = section("k1", "s-b", 1, 10);
    store
        .create_kit(
            &kit(&org, "k1", "Acme", 1),
            std::slice::from_ref(&first),
            &[],
        )
        .await
        .unwrap();
    // Sections order by position, then creation, then id.
    for (id, position, created_at) in [("s-c", 2, 5), ("s-a", 2, 5), ("s-d", 0, 20)] {
        store
            .insert_section(&section("k1", id, position, created_at))
            .await
            .unwrap();
    }
    let sections = store.list_sections("k1").await.unwrap();
    let order: Vec<&str> = sections.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(order, vec!["s-d", "s-b", "s-a", "s-c"]);
    // A section of an unknown kit is refused.
    assert!(store
        .insert_section(&section("missing", "s-x", 1, 1))
        .await
        .is_err());

    let changed = SectionRecord {
        name: "Renamed".into(),
        order: 9,
        deletable: false,
        properties: json!({"b": 1, "a": 2}),
        version: 2,
        deleted_at: Some(30),
        ..first.clone()
    };
    assert_found_and_replaced(&store, &first, "k2", &changed, 2).await;
    // Deleted sections are still listed (the service filters them).
    assert_eq!(store.list_sections("k1").await.unwrap().len(), 4);

    // Fields: positioned first by position, unpositioned last, ties by creation and id.
    let verified = FieldRecord {
        verified: Some(false),
        ..field(&first, "f-2", Some(2), 1)
    };
    store.insert_field(&verified).await.unwrap();
    for (id, position, created_at) in [
        ("f-none", None, 0),
        ("f-1b", Some(1), 3),
        ("f-1a", Some(1), 3),
        ("f-0", Some(1), 2),
    ] {
        store
            .insert_field(&field(&first, id, position, created_at))
            .await
            .unwrap();
    }
    let fields = store.list_fields("s-b").await.unwrap();
    let order: Vec<&str> = fields.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(order, vec!["f-0", "f-1a", "f-1b", "f-2", "f-none"]);
    let (total, page) = store.page_fields("s-b", 1, 2).await.unwrap();
    assert_eq!(total, 5);
    let page: Vec<&str> = page.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(page, vec!["f-1a", "f-1b"]);
    assert_eq!(store.page_fields("s-b", 10, 2).await.unwrap(), (5, vec![]));
    assert_eq!(store.page_fields("none", 0, 2).await.unwrap(), (0, vec![]));
    // A duplicate field id is refused.
    assert!(store
        .insert_field(&field(&first, "f-0", None, 9))
        .await
        .is_err());

    let edited = FieldRecord {
        name: "Edited".into(),
        order: None,
        value: json!(["one", "two"]),
        intent: None,
        references: json!([]),
        deletable: false,
        verified: Some(true),
        ai_editable: false,
        properties: json!({"k": "v"}),
        version: 2,
        stamp: Stamp {
            updated_at: 99,
            updated_by: "editor".into(),
            ..verified.stamp.clone()
        },
        ..verified.clone()
    };
    assert_found_and_replaced(&store, &verified, "s-c", &edited, 3).await;
    let cleared = FieldRecord {
        verified: None,
        version: 3,
        ..edited.clone()
    };
    assert!(store.update_field(&cleared, 2).await.unwrap());
    assert_eq!(
        store
            .get_field("s-b", "f-2")
            .await
            .unwrap()
            .unwrap()
            .verified,
        None
    );

    assert!(store.delete_field("s-b", "f-2").await.unwrap());
    assert!(!store.delete_field("s-b", "f-2").await.unwrap());
    assert!(!store.delete_field("s-c", "f-0").await.unwrap());
    assert_eq!(store.list_fields("s-b").await.unwrap().len(), 4);
}

contract_tests! {
    kits_are_created_listed_filtered_paged_and_updated,
    kit_names_are_unique_per_org_case_insensitively_until_deleted,
    concurrent_updates_of_one_version_let_exactly_one_succeed,
    sections_and_fields_are_ordered_versioned_and_deleted,
}
