-- Brand documents, their knowledge chunks with a full-text index, and pipeline runs (which are
-- also the durable job queue). Times are Unix microseconds (BIGINT); JSON columns hold the
-- serialized text the application writes, so key order and formatting are identical on both
-- backends.

CREATE TABLE documents (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT NOT NULL,
    status           TEXT NOT NULL,
    doc_type         TEXT NOT NULL,
    title            TEXT NOT NULL,
    summary          TEXT,
    url              TEXT NOT NULL DEFAULT '',
    file_id          TEXT NOT NULL,
    file_type        TEXT NOT NULL,
    file_name        TEXT,
    size             BIGINT NOT NULL,
    sha256           TEXT NOT NULL,
    number_of_pages  BIGINT NOT NULL DEFAULT 0,
    page_range_from  BIGINT,
    page_range_to    BIGINT,
    tags             TEXT NOT NULL DEFAULT '[]',
    refs             TEXT NOT NULL DEFAULT '[]',
    chunked          BOOLEAN NOT NULL DEFAULT FALSE,
    summarized       BOOLEAN NOT NULL DEFAULT FALSE,
    message          TEXT NOT NULL DEFAULT '',
    version          BIGINT NOT NULL DEFAULT 1,
    created_at       BIGINT NOT NULL,
    created_by       TEXT NOT NULL,
    updated_at       BIGINT NOT NULL,
    updated_by       TEXT NOT NULL,
    deleted_at       BIGINT
);
CREATE INDEX documents_by_org ON documents (org_id, created_at);

-- dialect: postgres
-- Full-text search mirrors the SQLite index's tokenizer (`porter unicode61 remove_diacritics
-- 2`), so the same searches find the same chunks. This configuration has the classic Porter
-- stemmer and no stop words: FTS5 drops none, and a search for a word the English list ignores
-- ("about", "all") must still find it.
CREATE TEXT SEARCH DICTIONARY brandstream_porter (TEMPLATE = snowball, Language = porter);
CREATE TEXT SEARCH CONFIGURATION brandstream_search (COPY = english);
ALTER TEXT SEARCH CONFIGURATION brandstream_search
    ALTER MAPPING REPLACE english_stem WITH brandstream_porter;

-- FTS5's `remove_diacritics 2` finds "café" for "cafe": accents on Latin letters are dropped
-- (decomposed, the marks removed, recomposed) from the indexed text and from search queries
-- alike. Needs PostgreSQL 13 or later and a UTF8 database, as `normalize` does.
CREATE FUNCTION brandstream_search_fold(words TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT normalize(regexp_replace(normalize(words, NFD), '([A-Za-z])[\u0300-\u036f]+', '\1', 'g'), NFC) $$;

-- dialect: end
-- `seq` orders chunks by insertion (the tie-break of equally ranked hits; SQLite: the rowid the
-- full-text index refers to); `id` is the public identifier.
CREATE TABLE chunks (
-- dialect: postgres
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
-- dialect: sqlite
    seq          INTEGER PRIMARY KEY,
-- dialect: end
    id           TEXT NOT NULL UNIQUE,
    document_id  TEXT NOT NULL REFERENCES documents (id),
    org_id       TEXT NOT NULL,
    ordinal      BIGINT NOT NULL,
    heading      TEXT NOT NULL,
    headings     TEXT NOT NULL DEFAULT '[]',
    text         TEXT NOT NULL,
    page_start   BIGINT NOT NULL,
    page_end     BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
-- dialect: postgres
    -- `search` indexes the heading (weight A) and the text (weight B). Punctuation becomes a
    -- space first, so words are runs of letters and digits as in FTS5: "e-mail", "acme.com"
    -- and "3.5mm" split into words instead of staying one token.
  , search       TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('brandstream_search',
                              brandstream_search_fold(regexp_replace(heading, '[[:punct:]]+', ' ', 'g'))), 'A')
        || setweight(to_tsvector('brandstream_search',
                                 brandstream_search_fold(regexp_replace(text, '[[:punct:]]+', ' ', 'g'))), 'B')
    ) STORED
-- dialect: end
);
CREATE INDEX chunks_by_document ON chunks (document_id, ordinal);
-- dialect: postgres
CREATE INDEX chunks_by_org ON chunks (org_id);
CREATE INDEX chunks_search ON chunks USING GIN (search);
-- dialect: sqlite

-- Ranked full-text search over headings and text (external content: the text is stored once).
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    heading, text,
    content = 'chunks', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, heading, text) VALUES (new.seq, new.heading, new.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, heading, text) VALUES ('delete', old.seq, old.heading, old.text);
END;
-- dialect: end

-- A run is also its job: workers claim queued runs (and runs whose lease expired because the
-- node running them stopped) and renew the lease while they work. On PostgreSQL they claim with
-- SELECT ... FOR UPDATE SKIP LOCKED, so workers on many nodes each get a different run.
CREATE TABLE pipeline_runs (
    id                TEXT PRIMARY KEY NOT NULL,
    org_id            TEXT NOT NULL,
    pipeline_id       TEXT NOT NULL,
    kit_id            TEXT NOT NULL,
    parameters        TEXT NOT NULL,
    status            TEXT NOT NULL,
    message           TEXT NOT NULL DEFAULT '',
    progress          TEXT NOT NULL DEFAULT '{}',
    run_start         BIGINT,
    run_end           BIGINT,
    duration_ms       BIGINT NOT NULL DEFAULT 0,
    attempts          BIGINT NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_until       BIGINT,
    created_at        BIGINT NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        BIGINT NOT NULL,
    updated_by        TEXT NOT NULL
);
CREATE INDEX pipeline_runs_by_org ON pipeline_runs (org_id, created_at);
CREATE INDEX pipeline_runs_claimable ON pipeline_runs (status, created_at);
