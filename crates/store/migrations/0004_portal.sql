-- Portal users, their organisation memberships and sign-in sessions. Times are Unix seconds
-- (BIGINT).

CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,
-- dialect: postgres
    username       TEXT NOT NULL,
-- dialect: sqlite
    username       TEXT NOT NULL UNIQUE COLLATE NOCASE,
-- dialect: end
    password_hash  TEXT NOT NULL,
    -- Set for one-time passwords: the user must choose a new one at first sign-in.
    must_change    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL
);
-- dialect: postgres
-- Usernames are unique case-insensitively (SQLite: COLLATE NOCASE); lookups compare
-- `lower(username)` so they use this index.
CREATE UNIQUE INDEX users_unique_name ON users (lower(username));
-- dialect: end

CREATE TABLE memberships (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, org_id)
);
CREATE INDEX memberships_by_org ON memberships (org_id);

-- Only a hash of the session token is stored: a copy of the database does not sign anyone in.
CREATE TABLE portal_sessions (
    token_hash    TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX portal_sessions_by_user ON portal_sessions (user_id);
