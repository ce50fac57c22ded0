//! Chunk embeddings: the embedding stage's queue, storage by model, scoping, and deletion with
//! their chunks.

use super::documents::{chunk, document};
use super::{org_id as org, TestStore};
use brandstream_domain::{ChunkId, DocumentId};
use brandstream_store::{ChunkQuery, ChunkVector, EmbeddingProgress, VectorSearch};
use serde_json::json;

fn vector(id: &str, values: &[f32]) -> ChunkVector {
    ChunkVector {
        chunk_id: id.into(),
        vector: values.to_vec(),
    }
}

/// `(embedded, total)` of the documents' chunks for the model "mini" in organisation A.
async fn progress(store: &TestStore, documents: &[DocumentId]) -> (i64, i64) {
    let EmbeddingProgress { embedded, total } = store
        .embedding_progress(&org('A'), documents, "mini")
        .await
        .unwrap();
    (embedded, total)
}

/// The chunks in `scope` scored against `probe`, by id.
async fn nearest(
    store: &TestStore,
    org: &brandstream_domain::OrgId,
    scope: &ChunkQuery,
    model: &str,
    probe: &[f32],
) -> Vec<(String, f64)> {
    let mut scored: Vec<(String, f64)> = store
        .nearest_chunks(
            org,
            &VectorSearch {
                scope,
                model,
                probe,
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|(id, score)| (id.to_string(), score))
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0));
    scored
}

fn ids(scored: &[(String, f64)]) -> Vec<&str> {
    scored.iter().map(|(id, _)| id.as_str()).collect()
}

async fn embeddings_follow_their_chunks_and_model(store: TestStore) {
    let acme = org('A');
    let other = org('B');
    let mut guide = document(&acme, "guide", 100);
    guide.references = json!([{"id": "kit-1", "path": "", "type": "brandkit"}]);
    let mut deck = document(&acme, "deck", 200);
    let mut theirs = document(&other, "theirs", 300);
    for doc in [&guide, &deck, &theirs] {
        store.insert_document(doc).await.unwrap();
    }
    for (doc, count) in [(&mut guide, 3), (&mut deck, 1), (&mut theirs, 1)] {
        doc.version = 2;
        let chunks: Vec<_> = (0..count)
            .map(|n| chunk(doc, n, &["Heading"], &format!("text {n}")))
            .collect();
        store.replace_chunks(doc, &chunks).await.unwrap();
    }
    let documents: Vec<DocumentId> = vec!["guide".into(), "deck".into()];

    // Every chunk waits for the model, oldest first; none has an embedding yet.
    let queue = store.chunks_to_embed("mini", 10).await.unwrap();
    assert_eq!(queue.len(), 5);
    assert_eq!(queue[0].id.as_str(), "guide-chunk-0");
    assert_eq!(store.chunks_to_embed("mini", 2).await.unwrap().len(), 2);
    assert_eq!(progress(&store, &documents).await, (0, 4));

    // Saved vectors come back exactly, scoped by organisation, kit and document; a vector for
    // a chunk that no longer exists is skipped.
    let saved = store
        .save_embeddings(
            "mini",
            &[
                vector("guide-chunk-0", &[1.0, 0.0, 0.0]),
                // Two passages: the chunk scores as the better one.
                vector("guide-chunk-1", &[0.0, 1.0, 0.0, 0.5, 0.5, 0.0]),
                vector("deck-chunk-0", &[0.0, 0.0, 1.0]),
                vector("theirs-chunk-0", &[0.5, 0.5, 0.0]),
                vector("gone", &[0.1, 0.2, 0.3]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(saved, 4);
    assert_eq!(progress(&store, &documents).await, (3, 4));
    let queue = store.chunks_to_embed("mini", 10).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].id.as_str(), "guide-chunk-2");
    let everywhere = ChunkQuery::default();
    let kit = ChunkQuery {
        reference_id: Some("kit-1".into()),
        ..ChunkQuery::default()
    };
    let one = ChunkQuery {
        document_id: Some("deck".into()),
        ..ChunkQuery::default()
    };
    // (scope, probe, the chunks in scope with their scores).
    type Case<'a> = (&'a ChunkQuery, [f32; 3], &'static [(&'static str, f64)]);
    let cases: [Case; 3] = [
        (
            &everywhere,
            [1.0, 0.0, 0.0],
            &[
                ("deck-chunk-0", 0.0),
                ("guide-chunk-0", 1.0),
                ("guide-chunk-1", 0.5),
            ],
        ),
        (
            &kit,
            [0.0, 1.0, 0.0],
            &[("guide-chunk-0", 0.0), ("guide-chunk-1", 1.0)],
        ),
        (&one, [0.0, 0.0, 1.0], &[("deck-chunk-0", 1.0)]),
    ];
    for (scope, probe, expected) in cases {
        let scored = nearest(&store, &acme, scope, "mini", &probe).await;
        let scored: Vec<(&str, f64)> = scored.iter().map(|(id, s)| (id.as_str(), *s)).collect();
        assert_eq!(scored, expected, "{scope:?}");
    }
    // A probe of another length (another model's shape) scores nothing.
    assert!(
        nearest(&store, &acme, &everywhere, "mini", &[1.0, 0.0, 0.0, 0.0])
            .await
            .is_empty()
    );

    // Another model's vectors do not count for this one; saving again replaces.
    assert!(
        nearest(&store, &acme, &everywhere, "other-model", &[1.0, 0.0, 0.0])
            .await
            .is_empty()
    );
    assert_eq!(
        store
            .chunks_to_embed("other-model", 10)
            .await
            .unwrap()
            .len(),
        5
    );
    store
        .save_embeddings("other-model", &[vector("deck-chunk-0", &[0.0, 1.0, 0.0])])
        .await
        .unwrap();
    let in_deck = nearest(&store, &acme, &one, "other-model", &[0.0, 1.0, 0.0]).await;
    assert_eq!(in_deck, [("deck-chunk-0".to_owned(), 1.0)]);
    assert!(nearest(&store, &acme, &one, "mini", &[0.0, 1.0, 0.0])
        .await
        .is_empty());

    // Chunks by id, in the order asked, only the organisation's own.
    let wanted: Vec<ChunkId> = [
        "guide-chunk-1",
        "theirs-chunk-0",
        "deck-chunk-0",
        "guide-chunk-0",
    ]
    .iter()
    .map(|id| (*id).into())
    .collect();
    let chunks = store.get_chunks(&acme, &wanted).await.unwrap();
    let got: Vec<&str> = chunks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(got, ["guide-chunk-1", "deck-chunk-0", "guide-chunk-0"]);

    // Re-chunking and deleting a document take its embeddings with the chunks (the deck's
    // one chunk now holds the other model's vector).
    guide.version = 3;
    store
        .replace_chunks(&guide, &[chunk(&guide, 7, &[], "new")])
        .await
        .unwrap();
    let probe = [1.0, 0.0, 0.0];
    assert!(nearest(&store, &acme, &everywhere, "mini", &probe)
        .await
        .is_empty());
    let theirs = nearest(&store, &other, &everywhere, "mini", &probe).await;
    assert_eq!(ids(&theirs), ["theirs-chunk-0"]);
    store
        .delete_document(&acme, "deck", 400, "alice")
        .await
        .unwrap();
    assert!(nearest(&store, &acme, &everywhere, "other-model", &probe)
        .await
        .is_empty());
    let queue = store.chunks_to_embed("mini", 10).await.unwrap();
    let queued: Vec<&str> = queue.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(queued, ["guide-chunk-7"]);
}

contract_tests! {
    embeddings_follow_their_chunks_and_model,
}
