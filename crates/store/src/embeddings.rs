//! Chunk embeddings: the vectors the embedding stage computes for knowledge chunks, stored with
//! them (SQLite `BLOB`, PostgreSQL `bytea`) and scored in the application.
//!
//! A vector is stored as its values in little-endian IEEE 754 single precision
//! ([`vector_bytes`], [`vector_from_bytes`]), tagged with the model that made it: a chunk
//! embedded by another model counts as not embedded, so changing the model re-embeds.

use async_trait::async_trait;
use brandstream_domain::{ChunkId, DocumentId, OrgId};

use crate::documents::{chunk_scope, ChunkQuery, ChunkRecord, Clause};
use crate::rows::{binds, chunk_from_row, Bind, SqlRow, CHUNK_COLUMNS};
use crate::sql::Backend;
use crate::{StoreError, StoreResult};

/// A chunk's embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkVector {
    /// The chunk.
    pub chunk_id: ChunkId,
    /// Its embedding (L2-normalised by the embedding stage).
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
    /// The embeddings from `model` of every chunk in `query`'s scope (its page is ignored),
    /// in no particular order.
    async fn chunk_vectors(
        &self,
        org: &OrgId,
        query: &ChunkQuery,
        model: &str,
    ) -> StoreResult<Vec<ChunkVector>>;
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

/// A vector from its stored form.
///
/// # Errors
/// [`StoreError::Corrupt`] when the length is not a multiple of four bytes.
pub fn vector_from_bytes(bytes: &[u8]) -> StoreResult<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt(format!(
            "an embedding of {} bytes (not whole f32 values)",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|four| f32::from_le_bytes([four[0], four[1], four[2], four[3]]))
        .collect())
}

fn vector_from_row(row: &dyn SqlRow) -> StoreResult<ChunkVector> {
    Ok(ChunkVector {
        chunk_id: row.text("chunk_id")?.into(),
        vector: vector_from_bytes(&row.bytes("vector")?)?,
    })
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
            "SELECT {CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.document_id \
             LEFT JOIN chunk_embeddings e ON e.chunk_id = c.id AND e.model = $1 \
             WHERE e.chunk_id IS NULL AND d.deleted_at IS NULL ORDER BY c.seq LIMIT $2"
        );
        let mut conn = self.reader().await?;
        conn.query(&sql, &binds![model, limit.max(0)], chunk_from_row)
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

    async fn chunk_vectors(
        &self,
        org: &OrgId,
        query: &ChunkQuery,
        model: &str,
    ) -> StoreResult<Vec<ChunkVector>> {
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
        conn.query(&sql, &clause.binds, vector_from_row).await
    }

    async fn get_chunks(&self, org: &OrgId, ids: &[ChunkId]) -> StoreResult<Vec<ChunkRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {CHUNK_COLUMNS} FROM chunks c WHERE c.org_id = $1 AND c.id IN ({})",
            placeholders(2, ids.len())
        );
        let mut binds: Vec<Bind<'_>> = vec![org.as_str().into()];
        binds.extend(ids.iter().map(Bind::from));
        let mut conn = self.reader().await?;
        let mut chunks = conn.query(&sql, &binds, chunk_from_row).await?;
        chunks.sort_by_key(|chunk| ids.iter().position(|id| *id == chunk.id));
        Ok(chunks)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn vectors_round_trip_through_their_stored_form() {
        let vector = vec![0.0, -1.5, f32::MIN_POSITIVE, 0.333_333_34];
        let bytes = vector_bytes(&vector);
        assert_eq!(bytes.len(), 16);
        assert_eq!(vector_from_bytes(&bytes).unwrap(), vector);
        assert!(matches!(
            vector_from_bytes(&bytes[..3]),
            Err(StoreError::Corrupt(_))
        ));
    }
}
