-- SQLite only: PostgreSQL has had this table since `token_service`.
-- Named leases: periodic work (key rotation, pruning) is done by the holder only, so two
-- processes sharing the database do not both do it.
CREATE TABLE leases (
    name   TEXT PRIMARY KEY NOT NULL,
    owner  TEXT NOT NULL,
    until  BIGINT NOT NULL
);
