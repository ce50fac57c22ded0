//! Chunk embeddings: the vectors the embedding stage computes for knowledge chunks, stored with
//! them (SQLite `BLOB`, PostgreSQL `bytea`) and scored in the application.
//!
//! A vector is stored as its values in little-endian IEEE 754 single precision
//! ([`vector_bytes`]), tagged with the model that made it: a chunk
//! embedded by another model counts as not embedded, so changing the model re-embeds.

use async_trait::async_trait;
use brandstream_domain::{ChunkId, DocumentId, OrgId};

use crate::documents::{chunk_scope, ChunkQuery, ChunkRecord, Clause};
use crate::record::Stored;
use crate::rows::{binds, chunk_columns, Bind};
use crate::sql::Backend;
use crate::StoreResult;

/// A chunk's embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkVector {
    /// The chunk.
    pub chunk_id: ChunkId,
    /// Its embedding: the vectors of its passages one after the other (each L2-normalised and
    /// as long as the model's embeddings).
    pub vector: Vec<f32>,
}

/// How far the embedding stage got with some documents' chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmbeddingProgress {
    /// Chunks with an embedding from the model asked about.
    pub embedded: i64,
    /// All their chunks.
    pub total: i64,
}

/// A search by meaning ([`EmbeddingStore::nearest_chunks`]).
#[derive(Debug, Clone, Copy)]
pub struct VectorSearch<'a> {
    /// Which chunks (the page is ignored).
    pub scope: &'a ChunkQuery,
    /// The model whose embeddings are compared.
    pub model: &'a str,
    /// The query's embedding by that model (L2-normalised).
    pub probe: &'a [f32],
}

/// Storage of chunk embeddings.
#[async_trait]
pub trait EmbeddingStore {
    /// Up to `limit` chunks of live documents that have no embedding from `model`, oldest
    /// first (the embedding stage's queue, which survives restarts because it is the data).
    async fn chunks_to_embed(&self, model: &str, limit: i64) -> StoreResult<Vec<ChunkRecord>>;
    /// Stores (or replaces) embeddings made by `model`. Chunks deleted meanwhile are skipped.
    /// Returns how many were stored.
    async fn save_embeddings(&self, model: &str, vectors: &[ChunkVector]) -> StoreResult<usize>;
    /// How many of the chunks of `documents` (of `org`) have an embedding from `model`.
    async fn embedding_progress(
        &self,
        org: &OrgId,
        documents: &[DocumentId],
        model: &str,
    ) -> StoreResult<EmbeddingProgress>;
    /// Every chunk in the search's scope (its page is ignored) with an embedding from its
    /// model, scored by the best dot product of its probe with one of its stored vectors (a chunk may
    /// hold several, one after the other, each as long as `probe`): the cosine similarity for
    /// unit vectors. In no particular order. Vectors are scored as they are read, so memory
    /// holds scores, not vectors; an embedding whose length is not a multiple of the probe's
    /// (another model's shape) is left out.
    async fn nearest_chunks(
        &self,
        org: &OrgId,
        search: &VectorSearch<'_>,
    ) -> StoreResult<Vec<(ChunkId, f64)>>;
    /// The chunks of `org` with these ids, in the order given; unknown ids are left out.
    async fn get_chunks(&self, org: &OrgId, ids: &[ChunkId]) -> StoreResult<Vec<ChunkRecord>>;
}

/// The stored form of a vector: its values as little-endian `f32`.
#[must_use]
pub fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

/// The best dot product of `probe` with one of the vectors stored one after the other in
/// `bytes` (little-endian f32); `None` when `bytes` does not hold whole vectors of that length.
fn best_dot(probe: &[f32], bytes: &[u8]) -> Option<f64> {
    let width = probe.len() * 4;
    if width == 0 || bytes.is_empty() || !bytes.len().is_multiple_of(width) {
        return None;
    }
    bytes
        .chunks_exact(width)
        .map(|vector| {
            vector
                .chunks_exact(4)
                .zip(probe)
                .map(|(four, p)| f32::from_le_bytes([four[0], four[1], four[2], four[3]]) * p)
                .sum::<f32>()
        })
        .reduce(f32::max)
        .map(f64::from)
}

/// `$first, $first+1, …` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl<B: Backend> EmbeddingStore for B {
    async fn chunks_to_embed(&self, model: &str, limit: i64) -> StoreResult<Vec<ChunkRecord>> {
        let sql = format!(
            "SELECT {} FROM chunks c JOIN documents d ON d.id = c.document_id \
             LEFT JOIN chunk_embeddings e ON e.chunk_id = c.id AND e.model = $1 \
             WHERE e.chunk_id IS NULL AND d.deleted_at IS NULL ORDER BY c.seq LIMIT $2",
            chunk_columns()
        );
        let mut conn = self.reader().await?;
        conn.query(&sql, &binds![model, limit.max(0)], ChunkRecord::from_row)
            .await
    }

    async fn save_embeddings(&self, model: &str, vectors: &[ChunkVector]) -> StoreResult<usize> {
        // Selecting from `chunks` skips a chunk deleted since it was read; the WHERE clause also
        // keeps SQLite from reading ON CONFLICT as a join constraint.
        let stored: Vec<(ChunkId, Vec<u8>)> = vectors
            .iter()
            .map(|v| (v.chunk_id.clone(), vector_bytes(&v.vector)))
            .collect();
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        // PostgreSQL types a parameter in a SELECT list as text unless told.
        let upsert = format!(
            "INSERT INTO chunk_embeddings (chunk_id, org_id, model, vector) \
             SELECT id, org_id, CAST($2 AS TEXT), {} FROM chunks WHERE id = $1 \
             ON CONFLICT (chunk_id) DO UPDATE SET model = excluded.model, vector = excluded.vector",
            tx.dialect().pick("$3", "CAST($3 AS BYTEA)")
        );
        let mut saved = 0;
        for (id, bytes) in &stored {
            saved += tx.execute(&upsert, &binds![id, model, bytes]).await?;
        }
        tx.commit().await?;
        Ok(usize::try_from(saved).unwrap_or(usize::MAX))
    }

    async fn embedding_progress(
        &self,
        org: &OrgId,
        documents: &[DocumentId],
        model: &str,
    ) -> StoreResult<EmbeddingProgress> {
        if documents.is_empty() {
            return Ok(EmbeddingProgress::default());
        }
        let sql = format!(
            "SELECT COUNT(*) AS total, COUNT(e.chunk_id) AS embedded FROM chunks c \
             LEFT JOIN chunk_embeddings e ON e.chunk_id = c.id AND e.model = $2 \
             WHERE c.org_id = $1 AND c.document_id IN ({})",
            placeholders(3, documents.len())
        );
        let mut binds: Vec<Bind<'_>> = vec![org.as_str().into(), model.into()];
        binds.extend(documents.iter().map(Bind::from));
        let mut conn = self.reader().await?;
        let progress = conn
            .query_opt(&sql, &binds, |row| {
                Ok(EmbeddingProgress {
                    embedded: row.int("embedded")?,
                    total: row.int("total")?,
                })
            })
            .await?;
        Ok(progress.unwrap_or_default())
    }

    async fn nearest_chunks(
        &self,
        org: &OrgId,
        search: &VectorSearch<'_>,
    ) -> StoreResult<Vec<(ChunkId, f64)>> {
        let VectorSearch {
            scope: query,
            model,
            probe,
        } = *search;
        let mut conn = self.reader().await?;
        let mut clause = Clause::new();
        chunk_scope(&mut clause, conn.dialect(), org, query);
        let model_placeholder = clause.bind(model);
        let sql = format!(
            "SELECT e.chunk_id, e.vector FROM chunk_embeddings e \
             JOIN chunks c ON c.id = e.chunk_id JOIN documents d ON d.id = c.document_id \
             WHERE e.model = {model_placeholder} AND {}",
            clause.sql
        );
        let scored = conn
            .query(&sql, &clause.binds, |row| {
                match best_dot(probe, &row.bytes("vector")?) {
                    Some(score) => Ok(Some((ChunkId::from(row.text("chunk_id")?), score))),
                    None => Ok(None),
                }
            })
            .await?;
        Ok(scored.into_iter().flatten().collect())
    }

    async fn get_chunks(&self, org: &OrgId, ids: &[ChunkId]) -> StoreResult<Vec<ChunkRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM chunks c WHERE c.org_id = $1 AND c.id IN ({})",
            chunk_columns(),
            placeholders(2, ids.len())
        );
        let mut binds: Vec<Bind<'_>> = vec![org.as_str().into()];
        binds.extend(ids.iter().map(Bind::from));
        let mut conn = self.reader().await?;
        let mut chunks = conn.query(&sql, &binds, ChunkRecord::from_row).await?;
        chunks.sort_by_key(|chunk| ids.iter().position(|id| *id == chunk.id));
        Ok(chunks)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn vectors_are_stored_as_little_endian_f32() {
        assert_eq!(vector_bytes(&[1.0, -2.5]), [0, 0, 128, 63, 0, 0, 32, 192]);
    }

    #[test]
    fn a_chunk_scores_as_its_best_stored_vector() {
        let two = vector_bytes(&[1.0, 0.0, 0.6, 0.8]);
        assert_eq!(best_dot(&[0.0, 1.0], &two), Some(0.800_000_011_920_929));
        assert_eq!(best_dot(&[1.0, 0.0], &two), Some(1.0));
        assert_eq!(best_dot(&[1.0, 0.0, 0.0], &two), None);
        assert_eq!(best_dot(&[], &two), None);
        assert_eq!(best_dot(&[1.0, 0.0], &[]), None);
    }
}
