-- Brand documents, their knowledge chunks with a full-text index, and pipeline runs (which are
-- also the durable job queue). Times are Unix microseconds; JSON columns hold text.

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
    size             INTEGER NOT NULL,
    sha256           TEXT NOT NULL,
    number_of_pages  INTEGER NOT NULL DEFAULT 0,
    page_range_from  INTEGER,
    page_range_to    INTEGER,
    tags             TEXT NOT NULL DEFAULT '[]',
    refs             TEXT NOT NULL DEFAULT '[]',
    chunked          INTEGER NOT NULL DEFAULT 0,
    summarized       INTEGER NOT NULL DEFAULT 0,
    message          TEXT NOT NULL DEFAULT '',
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       INTEGER NOT NULL,
    created_by       TEXT NOT NULL,
    updated_at       INTEGER NOT NULL,
    updated_by       TEXT NOT NULL,
    deleted_at       INTEGER
);
CREATE INDEX documents_by_org ON documents (org_id, created_at);

-- `seq` is the rowid the full-text index refers to; `id` is the public identifier.
CREATE TABLE chunks (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    document_id  TEXT NOT NULL REFERENCES documents (id),
    org_id       TEXT NOT NULL,
    ordinal      INTEGER NOT NULL,
    heading      TEXT NOT NULL,
    headings     TEXT NOT NULL DEFAULT '[]',
    text         TEXT NOT NULL,
    page_start   INTEGER NOT NULL,
    page_end     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX chunks_by_document ON chunks (document_id, ordinal);

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

-- A run is also its job: workers claim queued runs (and runs whose lease expired because the
-- node running them stopped) by taking a lease they renew while they work.
CREATE TABLE pipeline_runs (
    id                TEXT PRIMARY KEY NOT NULL,
    org_id            TEXT NOT NULL,
    pipeline_id       TEXT NOT NULL,
    kit_id            TEXT NOT NULL,
    parameters        TEXT NOT NULL,
    status            TEXT NOT NULL,
    message           TEXT NOT NULL DEFAULT '',
    progress          TEXT NOT NULL DEFAULT '{}',
    run_start         INTEGER,
    run_end           INTEGER,
    duration_ms       INTEGER NOT NULL DEFAULT 0,
    attempts          INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_until       INTEGER,
    created_at        INTEGER NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        INTEGER NOT NULL,
    updated_by        TEXT NOT NULL
);
CREATE INDEX pipeline_runs_by_org ON pipeline_runs (org_id, created_at);
CREATE INDEX pipeline_runs_claimable ON pipeline_runs (status, created_at);
