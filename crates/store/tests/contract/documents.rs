//! Documents, their chunks and search, and the field changes ingestion writes.

use super::{brand, org_id as org, TestStore};
use brandstream_domain::OrgId;
use brandstream_store::{
    ChunkQuery, ChunkRecord, DocumentQuery, DocumentRecord, DocumentStatus, DocumentStore,
    FieldChange, FieldRecord, KitRecord, SectionRecord, Stamp, StoreError,
};
use serde_json::{json, Value};

pub(super) fn document(org: &OrgId, id: &str, created_at: i64) -> DocumentRecord {
    DocumentRecord {
        id: id.into(),
        org_id: org.clone(),
        status: DocumentStatus::Processed,
        doc_type: "brand guidelines".into(),
        title: format!("Title {id}"),
        summary: None,
        url: String::new(),
        file_id: format!("blob-{id}"),
        file_type: "application/pdf".into(),
        file_name: Some(format!("{id}.pdf")),
        size: 100,
        sha256: "00".repeat(32),
        number_of_pages: 3,
        page_range_from: None,
        page_range_to: None,
        tags: json!([]),
        references: json!([]),
        chunked: false,
        summarized: false,
        message: String::new(),
        version: 1,
        stamp: Stamp::new(created_at, "alice"),
        deleted_at: None,
        charset: None,
    }
}

pub(super) fn chunk(
    document: &DocumentRecord,
    ordinal: i64,
    headings: &[&str],
    text: &str,
) -> ChunkRecord {
    ChunkRecord {
        id: format!("{}-chunk-{ordinal}", document.id).into(),
        document_id: document.id.clone(),
        org_id: document.org_id.clone(),
        ordinal,
        headings: headings
            .iter()
            .map(|heading| (*heading).to_owned())
            .collect(),
        text: text.into(),
        page_start: 1,
        page_end: 2,
        created_at: 10,
        blocks: Some(format!(r#"[["p",0,{}]]"#, text.len())),
    }
}

/// The one section of a kit that [`seed_kit`] stores: `{kit}-section`.
fn kit_section(kit: &str) -> SectionRecord {
    brand::section(kit, &format!("{kit}-section"), 1, 1)
}

/// A field of the kit's one section, holding the value "old".
fn field(kit: &str, id: &str, references: Value, ai_editable: bool) -> FieldRecord {
    FieldRecord {
        value: json!("old"),
        references,
        ai_editable,
        ..brand::field(&kit_section(kit), id, Some(1), 1)
    }
}

/// A kit (locked or not) with the one section `{kit}-section`.
async fn seed_kit(store: &TestStore, org: &OrgId, kit: &str, locked: bool) {
    let record = KitRecord {
        locked,
        ..brand::kit(org, kit, kit, 1)
    };
    store
        .create_kit(&record, &[kit_section(kit)], &[])
        .await
        .unwrap();
}

/// A field's references exactly as stored, and its version.
async fn field_state(store: &TestStore, kit: &str, id: &str) -> (String, i64) {
    let section = format!("{kit}-section");
    let field = store.get_field(&section, id).await.unwrap().unwrap();
    (store.field_references_text(id).await, field.version)
}

async fn documents_are_filtered_paged_versioned_and_deleted(store: TestStore) {
    let acme = org('A');
    let other = org('B');
    let mut first = document(&acme, "d1", 100);
    first.title = "Logo 100% Guide".into();
    first.tags = json!(["Print", "Colour"]);
    first.references = json!([{"id": "kit-1", "path": "", "type": "brandkit"}]);
    let mut second = document(&acme, "d2", 200);
    second.doc_type = "presentation".into();
    second.summary = Some("All about typography".into());
    second.tags = json!(["print"]);
    second.references = json!([{"id": "kit-2", "path": "", "type": "brandkit"}]);
    second.file_type = "text/markdown".into();
    let mut third = document(&acme, "d3", 300);
    third.status = DocumentStatus::Failed;
    third.stamp.created_by = "bob".into();
    third.references = json!([{"id": "kit-1", "path": "", "type": "website"}]);
    for record in [&first, &second, &third, &document(&other, "d4", 400)] {
        store.insert_document(record).await.unwrap();
    }
    assert_eq!(
        store.get_document(&acme, "d1").await.unwrap().as_ref(),
        Some(&first)
    );
    assert!(store.get_document(&other, "d1").await.unwrap().is_none());

    let list = |query: DocumentQuery| {
        let store = store.clone();
        let acme = acme.clone();
        async move {
            let (total, rows) = store.list_documents(&acme, &query).await.unwrap();
            (
                total,
                rows.into_iter().map(|record| record.id).collect::<Vec<_>>(),
            )
        }
    };
    let page = |offset, limit| DocumentQuery {
        offset,
        limit,
        ..DocumentQuery::default()
    };
    // Newest first, paged, the total counting every match.
    assert_eq!(
        list(page(0, 10)).await,
        (3, vec!["d3".into(), "d2".into(), "d1".into()])
    );
    assert_eq!(list(page(1, 1)).await, (3, vec!["d2".into()]));
    assert_eq!(list(page(5, 10)).await, (3, vec![]));
    let with = |change: fn(&mut DocumentQuery)| {
        let mut query = page(0, 10);
        change(&mut query);
        query
    };
    // Each filter alone: (what it changes, the matching ids newest first).
    type Filter = (fn(&mut DocumentQuery), &'static [&'static str]);
    let filters: [Filter; 14] = [
        // Search: case-insensitive substring of title, summary or tags; wildcards literal.
        (|q| q.search = Some("LOGO 100%".into()), &["d1"]),
        (|q| q.search = Some("0_%".into()), &[]),
        (|q| q.search = Some("typo".into()), &["d2"]),
        (|q| q.search = Some("colour".into()), &["d1"]),
        (|q| q.doc_type = Some("presentation".into()), &["d2"]),
        (|q| q.status = Some(DocumentStatus::Failed), &["d3"]),
        (|q| q.created_by = Some("bob".into()), &["d3"]),
        (|q| q.file_type = Some("text/markdown".into()), &["d2"]),
        // Every tag, case-insensitively.
        (|q| q.tags = vec!["PRINT".into()], &["d2", "d1"]),
        (|q| q.tags = vec!["print".into(), "colour".into()], &["d1"]),
        // References: type and id must hold for the same reference.
        (|q| q.reference_id = Some("kit-1".into()), &["d3", "d1"]),
        (
            |q| {
                q.reference_id = Some("kit-1".into());
                q.reference_type = Some("brandkit".into());
            },
            &["d1"],
        ),
        (|q| q.reference_type = Some("website".into()), &["d3"]),
        (|q| q.reference_id = Some("kit-9".into()), &[]),
    ];
    for (index, (change, expected)) in filters.into_iter().enumerate() {
        let (total, ids) = list(with(change)).await;
        assert_eq!(ids, expected, "filter {index}");
        assert_eq!(total, expected.len() as i64, "filter {index}");
    }

    // Versions: a stale version changes nothing.
    let mut changed = first.clone();
    changed.title = "Renamed".into();
    changed.chunked = true;
    changed.version = 2;
    assert!(!store.update_document(&changed, 5).await.unwrap());
    assert!(store.update_document(&changed, 1).await.unwrap());
    assert!(!store.update_document(&changed, 1).await.unwrap());
    assert_eq!(
        store.get_document(&acme, "d1").await.unwrap().unwrap(),
        changed
    );

    // Delete returns the document as it was, once; listings leave it out unless asked.
    for (org, id, at, expected) in [
        (&acme, "d1", 500, Some(&changed)),
        (&acme, "d1", 600, None),
        (&other, "d2", 600, None),
    ] {
        let deleted = store.delete_document(org, id, at, "carol").await.unwrap();
        assert_eq!(deleted.as_ref(), expected, "{id} at {at}");
    }
    let after = store.get_document(&acme, "d1").await.unwrap().unwrap();
    assert_eq!(after.deleted_at, Some(500));
    assert_eq!(after.version, 3);
    assert!(!after.chunked);
    assert_eq!(after.stamp.updated_by, "carol");
    assert_eq!(list(page(0, 10)).await.0, 2);
    assert_eq!(
        list(with(|query| query.include_deleted = true)).await.1,
        vec!["d3", "d2", "d1"]
    );
}

async fn chunks_are_replaced_ranked_and_scoped(store: TestStore) {
    let acme = org('A');
    let mut guide = document(&acme, "guide", 100);
    guide.references = json!([{"id": "kit-1", "path": "", "type": "brandkit"}]);
    let mut deck = document(&acme, "deck", 200);
    deck.references = json!([{"id": "kit-2", "path": "", "type": "brandkit"}]);
    store.insert_document(&guide).await.unwrap();
    store.insert_document(&deck).await.unwrap();

    guide.version = 2;
    guide.chunked = true;
    let long_text = "Our primary brand colour is a deep green used across all print and \
         digital channels. The logo must always appear on a white or green background with \
         enough clear space around it, and never stretched, rotated or recoloured.";
    let guide_chunks = vec![
        chunk(
            &guide,
            0,
            &["Brand", "Colours"],
            "The logo is green, and so is the type.",
        ),
        chunk(
            &guide,
            1,
            &["Brand", "Logo usage"],
            "Keep clear space around it.",
        ),
        chunk(
            &guide,
            2,
            &["Contact"],
            "Send an e-mail to brand@acme.com about it.",
        ),
        chunk(&guide, 3, &["Palette"], long_text),
    ];
    store.replace_chunks(&guide, &guide_chunks).await.unwrap();
    deck.version = 2;
    store
        .replace_chunks(&deck, &[chunk(&deck, 0, &["Intro"], "Logos everywhere.")])
        .await
        .unwrap();
    // A stale version is a conflict and leaves the chunks as they were.
    let err = store
        .replace_chunks(&guide, &[chunk(&guide, 9, &[], "lost")])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(
        store
            .get_document(&acme, "guide")
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );

    let terms = |list: &[&str]| {
        list.iter()
            .map(|term| (*term).to_owned())
            .collect::<Vec<_>>()
    };
    let scope = |document: Option<&str>, kit: Option<&str>| ChunkQuery {
        document_id: document.map(str::to_owned),
        reference_id: kit.map(str::to_owned),
        offset: 0,
        limit: 10,
    };
    let search = |words: Vec<String>, query: ChunkQuery| {
        let store = store.clone();
        let acme = acme.clone();
        async move { store.search_chunks(&acme, &words, &query).await.unwrap() }
    };

    // A heading match outranks body-only matches; stemming finds "logos" for "logo".
    let (total, hits) = search(terms(&["logo"]), scope(None, None)).await;
    assert_eq!(total, 4);
    assert_eq!(hits[0].chunk.id, "guide-chunk-1");
    assert!(hits.windows(2).all(|pair| pair[0].score >= pair[1].score));
    assert!(hits.iter().all(|hit| hit.score > 0.0));
    let ids: Vec<&str> = hits.iter().map(|hit| hit.chunk.id.as_str()).collect();
    assert!(ids.contains(&"deck-chunk-0") && ids.contains(&"guide-chunk-3"));
    let body = hits
        .iter()
        .find(|hit| hit.chunk.id == "guide-chunk-0")
        .unwrap();
    assert!(
        body.snippet.contains("<mark>logo</mark>"),
        "{}",
        body.snippet
    );
    assert_eq!(body.chunk, guide_chunks[0]);
    let long = hits
        .iter()
        .find(|hit| hit.chunk.id == "guide-chunk-3")
        .unwrap();
    assert!(long.snippet.starts_with('…') && long.snippet.ends_with('…'));
    assert!(
        long.snippet.contains("<mark>logo</mark>"),
        "{}",
        long.snippet
    );

    // Any term may match; a chunk with more of them ranks higher.
    let (total, hits) = search(terms(&["green", "type"]), scope(None, None)).await;
    assert_eq!(total, 2);
    assert_eq!(hits[0].chunk.id, "guide-chunk-0");

    // Paging keeps the total.
    let mut paged = scope(None, None);
    paged.offset = 1;
    paged.limit = 1;
    let (total, hits) = search(terms(&["logo"]), paged).await;
    assert_eq!(total, 4);
    assert_eq!(hits.len(), 1);

    // Punctuation splits words as in SQLite; common words are not dropped.
    assert_eq!(search(terms(&["acme"]), scope(None, None)).await.0, 1);
    assert_eq!(search(terms(&["e-mail"]), scope(None, None)).await.0, 1);
    assert_eq!(search(terms(&["mail", "e"]), scope(None, None)).await.0, 1);
    assert_eq!(search(terms(&["about"]), scope(None, None)).await.0, 1);
    assert_eq!(
        search(terms(&["clear-space"]), scope(None, None)).await.0,
        2
    );
    assert_eq!(
        search(terms(&["space-clear"]), scope(None, None)).await.0,
        0
    );
    // Nothing to look for finds nothing; query syntax in a term is just text.
    assert_eq!(search(terms(&[]), scope(None, None)).await, (0, vec![]));
    assert_eq!(
        search(terms(&["--", "\"'"]), scope(None, None)).await,
        (0, vec![])
    );
    assert_eq!(
        search(terms(&["logo & !green"]), scope(None, None)).await.0,
        0
    );

    // Scopes: one document, one kit's documents, another organisation.
    assert_eq!(
        search(terms(&["logo"]), scope(Some("deck"), None)).await.0,
        1
    );
    assert_eq!(
        search(terms(&["logo"]), scope(None, Some("kit-1"))).await.0,
        3
    );
    assert_eq!(
        search(terms(&["logo"]), scope(None, Some("kit-9"))).await.0,
        0
    );
    assert_eq!(
        store
            .search_chunks(&org('B'), &terms(&["logo"]), &scope(None, None))
            .await
            .unwrap()
            .0,
        0
    );

    // Listing: documents oldest first, chunks in order.
    let (total, chunks) = store.list_chunks(&acme, &scope(None, None)).await.unwrap();
    assert_eq!(total, 5);
    let ids: Vec<&str> = chunks.iter().map(|chunk| chunk.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "guide-chunk-0",
            "guide-chunk-1",
            "guide-chunk-2",
            "guide-chunk-3",
            "deck-chunk-0"
        ]
    );
    let (total, chunks) = store
        .list_chunks(&acme, &scope(None, Some("kit-2")))
        .await
        .unwrap();
    assert_eq!((total, chunks.len()), (1, 1));
    assert_eq!(
        store
            .get_chunk(&acme, "guide-chunk-2")
            .await
            .unwrap()
            .as_ref(),
        Some(&guide_chunks[2])
    );
    assert!(store
        .get_chunk(&org('B'), "guide-chunk-2")
        .await
        .unwrap()
        .is_none());

    // Re-chunking replaces the old chunks.
    guide.version = 3;
    store
        .replace_chunks(&guide, &[chunk(&guide, 0, &["Only"], "Fresh text.")])
        .await
        .unwrap();
    assert_eq!(
        store
            .list_chunks(&acme, &scope(Some("guide"), None))
            .await
            .unwrap()
            .0,
        1
    );
    assert_eq!(
        search(terms(&["logo"]), scope(Some("guide"), None)).await.0,
        0
    );
    // A deleted document's chunks are gone.
    store
        .delete_document(&acme, "deck", 900, "me")
        .await
        .unwrap();
    assert_eq!(search(terms(&["logos"]), scope(None, None)).await.0, 0);
    assert_eq!(
        store
            .list_chunks(&acme, &scope(None, None))
            .await
            .unwrap()
            .0,
        1
    );
}

async fn field_changes_apply_only_where_allowed_and_deletes_drop_references(store: TestStore) {
    let acme = org('A');
    seed_kit(&store, &acme, "open", false).await;
    seed_kit(&store, &acme, "closed", true).await;
    let cited = json!([
        {"id": "doc-chunk-0", "path": "p0", "type": "chunk"},
        {"id": "other", "path": "p1", "type": "chunk"},
        {"id": "doc-chunk-1", "path": "p2", "type": "chunk"}
    ]);
    for record in [
        field("open", "editable", cited.clone(), true),
        field("open", "manual", json!([]), false),
        field("open", "stale", json!([]), true),
        field("closed", "locked", json!([]), true),
    ] {
        store.insert_field(&record).await.unwrap();
    }

    let change = |record: FieldRecord, expected: Option<i64>| {
        let mut next = record;
        next.value = json!("new");
        next.version += 1;
        next.stamp.updated_at = 50;
        FieldChange {
            field: next,
            expected_version: expected,
        }
    };
    let applied = store
        .apply_field_changes(&[
            change(field("open", "editable", cited.clone(), true), Some(1)),
            change(field("open", "manual", json!([]), false), Some(1)),
            change(field("open", "stale", json!([]), true), Some(7)),
            change(field("closed", "locked", json!([]), true), Some(1)),
            change(field("open", "added", json!([]), true), None),
            change(field("closed", "refused", json!([]), true), None),
            change(field("gone", "orphan", json!([]), true), None),
        ])
        .await
        .unwrap();
    assert_eq!(applied, 2);
    // Every field of the three kits' sections, whether the change should have made it or not.
    let mut values = Vec::new();
    for kit in ["open", "closed", "gone"] {
        for record in store.list_fields(&format!("{kit}-section")).await.unwrap() {
            values.push((
                record.id.to_string(),
                record.value.to_string(),
                record.version,
            ));
        }
    }
    values.sort();
    assert_eq!(
        values,
        [
            ("added".to_owned(), "\"new\"".to_owned(), 2),
            ("editable".to_owned(), "\"new\"".to_owned(), 2),
            ("locked".to_owned(), "\"old\"".to_owned(), 1),
            ("manual".to_owned(), "\"old\"".to_owned(), 1),
            ("stale".to_owned(), "\"old\"".to_owned(), 1),
        ]
    );
    assert_eq!(store.apply_field_changes(&[]).await.unwrap(), 0);

    // Deleting the cited document drops exactly its chunks from the references, keeping the
    // rest verbatim and in order, and bumps the field's version.
    let mut cited_document = document(&acme, "doc", 1);
    store.insert_document(&cited_document).await.unwrap();
    cited_document.version = 2;
    store
        .replace_chunks(
            &cited_document,
            &[
                chunk(&cited_document, 0, &[], "zero"),
                chunk(&cited_document, 1, &[], "one"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(field_state(&store, "open", "editable").await.1, 2);
    store
        .delete_document(&acme, "doc", 70, "me")
        .await
        .unwrap()
        .unwrap();
    let (references, version) = field_state(&store, "open", "editable").await;
    assert_eq!(references, r#"[{"id":"other","path":"p1","type":"chunk"}]"#);
    assert_eq!(version, 3);
    assert_eq!(
        field_state(&store, "open", "manual").await,
        ("[]".to_owned(), 1)
    );
}

async fn rechunking_drops_references_to_the_old_chunks(store: TestStore) {
    let acme = org('A');
    seed_kit(&store, &acme, "open", false).await;
    let cited = json!([
        {"id": "doc-chunk-0", "path": "p0", "type": "chunk"},
        {"id": "other", "path": "p1", "type": "chunk"}
    ]);
    store
        .insert_field(&field("open", "editable", cited, true))
        .await
        .unwrap();
    let mut cited_document = document(&acme, "doc", 1);
    store.insert_document(&cited_document).await.unwrap();
    // The first chunking touches no field (the document had no chunks to cite yet).
    cited_document.version = 2;
    store
        .replace_chunks(&cited_document, &[chunk(&cited_document, 0, &[], "zero")])
        .await
        .unwrap();
    assert_eq!(field_state(&store, "open", "editable").await.1, 1);
    // Chunking again replaces the chunks, and references to the old ones go.
    cited_document.version = 3;
    store
        .replace_chunks(&cited_document, &[chunk(&cited_document, 5, &[], "five")])
        .await
        .unwrap();
    assert_eq!(
        field_state(&store, "open", "editable").await,
        (
            r#"[{"id":"other","path":"p1","type":"chunk"}]"#.to_owned(),
            2
        )
    );
}

/// The same chunks and searches on both backends find the same chunks (ranks differ in
/// scale, and order may differ between close scores). One test over both stores, so it is not
/// part of [`contract_tests!`].
#[tokio::test]
async fn searches_find_the_same_chunks_on_both_backends() {
    let Some(postgres) =
        super::postgres_store("searches_find_the_same_chunks_on_both_backends").await
    else {
        return;
    };
    let (_directory, sqlite) = super::sqlite_store().await;
    let acme = org('A');
    let passages: &[(&[&str], &str)] = &[
        (
            &["Logo", "Clear space"],
            "Always keep clear space around the logo equal to the x.",
        ),
        (
            &["Colours"],
            "Our primary colour is #1B4D3E (Pantone 3435 C). Secondary colours are rare.",
        ),
        (
            &["Typography"],
            "Headlines use Gotham Bold at 3.5mm minimum; body copy uses Georgia.",
        ),
        (
            &["Contact"],
            "Questions? E-mail brand@acme.com or visit www.acme.com/brand-portal.",
        ),
        (
            &["Voice"],
            "We're friendly, not flippant. We don't over-promise. It's about people.",
        ),
        (
            &["Imagery"],
            "Photographs should feel natural; avoid stock imagery. Running, playing.",
        ),
        (
            &["Café"],
            "The café menu uses naïve illustrations and the word resume/résumé.",
        ),
        (
            &["Don'ts"],
            "Don't stretch, rotate or recolour the logo. Never place it on busy photos.",
        ),
        (
            &["Co-branding"],
            "Partner logos sit right, after a 1px rule; all partners are approved.",
        ),
        (
            &["Misc"],
            "Version v2.0, updated 2024-05-01, supersedes v1.3. See section 4.2.1.",
        ),
    ];
    let mut guide = document(&acme, "guide", 1);
    let chunks: Vec<ChunkRecord> = passages
        .iter()
        .zip(0..)
        .map(|((headings, text), ordinal)| chunk(&guide, ordinal, headings, text))
        .collect();
    let stores: [&dyn DocumentStore; 2] = [&*postgres, &*sqlite];
    for store in stores {
        guide.version = 1;
        store.insert_document(&guide).await.unwrap();
        guide.version = 2;
        store.replace_chunks(&guide, &chunks).await.unwrap();
    }
    let searches: &[&[&str]] = &[
        &["logo"],
        &["logos"],
        &["colour"],
        &["colors"],
        &["1b4d3e"],
        &["3435"],
        &["3", "5mm"],
        &["3.5mm"],
        &["e-mail"],
        &["mail"],
        &["acme"],
        &["brand"],
        &["portal"],
        &["we're"],
        &["re"],
        &["don't"],
        &["t"],
        &["about"],
        &["it"],
        &["running"],
        &["run"],
        &["play"],
        &["cafe"],
        &["café"],
        &["resume"],
        &["résumé"],
        &["naive"],
        &["v2"],
        &["2", "0"],
        &["2024"],
        &["05"],
        &["4", "2", "1"],
        &["partner"],
        &["1px"],
        &["rule", "approved"],
        &["busy-photos"],
        &["photos-busy"],
        &["clear-space"],
        &["x"],
        &["co"],
        &["cobranding"],
        &["primary", "secondary"],
        &["generalization"],
        &["--"],
    ];
    let scope = ChunkQuery {
        limit: 100,
        ..ChunkQuery::default()
    };
    for search in searches {
        let terms: Vec<String> = search.iter().map(|term| (*term).to_owned()).collect();
        let mut found = Vec::new();
        for store in stores {
            let (total, hits) = store.search_chunks(&acme, &terms, &scope).await.unwrap();
            let mut ids: Vec<String> = hits
                .into_iter()
                .map(|hit| hit.chunk.id.to_string())
                .collect();
            ids.sort();
            found.push((total, ids));
        }
        assert_eq!(
            found[0], found[1],
            "PostgreSQL, then SQLite, for {search:?}"
        );
    }
}

contract_tests! {
    documents_are_filtered_paged_versioned_and_deleted,
    chunks_are_replaced_ranked_and_scoped,
    field_changes_apply_only_where_allowed_and_deletes_drop_references,
    rechunking_drops_references_to_the_old_chunks,
}
