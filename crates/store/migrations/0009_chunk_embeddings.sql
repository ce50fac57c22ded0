-- Each chunk's sentence embedding under the model that made it (little-endian f32 values,
-- L2-normalised), written by the embedding stage after a document is processed. Deleting a
-- chunk (re-ingestion, document deletion) deletes its embedding. Scored in the application
-- (no pgvector needed).
CREATE TABLE chunk_embeddings (
    chunk_id  TEXT PRIMARY KEY NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    org_id    TEXT NOT NULL,
    model     TEXT NOT NULL,
    vector    BYTEA NOT NULL
);
CREATE INDEX chunk_embeddings_by_org ON chunk_embeddings (org_id, model);
