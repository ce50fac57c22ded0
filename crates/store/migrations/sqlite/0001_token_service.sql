-- Organisations, credentials, signing keys, token revocations and the audit trail.
-- Times are Unix seconds (INTEGER) so the PostgreSQL schema can use BIGINT with the same values.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX orgs_one_default ON orgs (is_default) WHERE is_default = 1;

CREATE TABLE clients (
    client_id       TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL REFERENCES orgs (id),
    label           TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    scopes          TEXT NOT NULL,
    token_lifetime  INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER,
    -- Set by every change to the credential or its secrets (not by last-use updates), so
    -- servers can refresh their credential caches incrementally.
    updated_at      INTEGER NOT NULL
);
CREATE INDEX clients_by_org ON clients (org_id, created_at);
CREATE INDEX clients_by_update ON clients (updated_at);

-- Only keyed hashes of secrets are stored. At most two rows per client have retired_at NULL.
CREATE TABLE client_secrets (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id    TEXT NOT NULL REFERENCES clients (client_id),
    secret_hash  BLOB NOT NULL,
    hint         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER
);
CREATE INDEX client_secrets_active ON client_secrets (client_id) WHERE retired_at IS NULL;

CREATE TABLE signing_keys (
    kid              TEXT PRIMARY KEY NOT NULL,
    alg              TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    private_key_enc  BLOB NOT NULL,
    public_jwk       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    activated_at     INTEGER,
    retired_at       INTEGER
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

CREATE TABLE revoked_tokens (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    jti         TEXT NOT NULL UNIQUE,
    client_id   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    org_id          TEXT,
    kind            TEXT NOT NULL,
    client_id       TEXT,
    actor           TEXT NOT NULL,
    source_address  TEXT,
    detail          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_by_org ON audit_events (org_id, id);
