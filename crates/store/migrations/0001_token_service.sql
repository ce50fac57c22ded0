-- Organisations, credentials, signing keys, token revocations and the audit trail. Times are
-- Unix seconds (BIGINT; SQLite INTEGER), every integer maps to i64 both ways.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    is_default  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL
);
-- dialect: postgres
CREATE UNIQUE INDEX orgs_one_default ON orgs (is_default) WHERE is_default;
-- dialect: sqlite
CREATE UNIQUE INDEX orgs_one_default ON orgs (is_default) WHERE is_default = 1;
-- dialect: end

CREATE TABLE clients (
    client_id       TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL REFERENCES orgs (id),
    label           TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    scopes          TEXT NOT NULL,
    token_lifetime  BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT,
    -- Set by every change to the credential or its secrets (not by last-use updates), so
    -- every node can refresh its credential cache incrementally.
    updated_at      BIGINT NOT NULL
);
CREATE INDEX clients_by_org ON clients (org_id, created_at);
CREATE INDEX clients_by_update ON clients (updated_at);

-- Only keyed hashes of secrets are stored. At most two rows per client have retired_at NULL.
CREATE TABLE client_secrets (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES clients (client_id),
    secret_hash  BYTEA NOT NULL,
    hint         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT
);
CREATE INDEX client_secrets_active ON client_secrets (client_id) WHERE retired_at IS NULL;

-- Private keys are encrypted with the master key every node shares.
CREATE TABLE signing_keys (
    kid              TEXT PRIMARY KEY NOT NULL,
    alg              TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    private_key_enc  BYTEA NOT NULL,
    public_jwk       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    activated_at     BIGINT,
    retired_at       BIGINT
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

-- `seq` orders revocations for the nodes that poll them; on PostgreSQL inserts are serialised
-- (an advisory lock) so sequence order is commit order and a poller never skips a late commit.
CREATE TABLE revoked_tokens (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jti         TEXT NOT NULL UNIQUE,
    client_id   TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              BIGINT NOT NULL,
    org_id          TEXT,
    kind            TEXT NOT NULL,
    client_id       TEXT,
    actor           TEXT NOT NULL,
    source_address  TEXT,
    detail          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_by_org ON audit_events (org_id, id);
-- dialect: postgres
-- SQLite gained these two later (`leases`, `shared_indexes`).
CREATE INDEX audit_events_by_time ON audit_events (at);

-- Named leases: periodic cluster-wide work (key rotation, pruning) is done by the holder only.
CREATE TABLE leases (
    name   TEXT PRIMARY KEY NOT NULL,
    owner  TEXT NOT NULL,
    until  BIGINT NOT NULL
);
-- dialect: end
