-- Brand kits, their sections and subsections (fields). Times are Unix microseconds (BIGINT);
-- JSON columns hold the serialized text the application writes, so key order and formatting
-- are identical on both backends. `version` increments on every change and is the ETag.

CREATE TABLE brand_kits (
    id             TEXT PRIMARY KEY NOT NULL,
    org_id         TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT,
    brand_name     TEXT,
    company_name   TEXT,
    logo           TEXT,
    industry       TEXT,
    status         TEXT NOT NULL,
    parent_id      TEXT,
    parent_type    TEXT,
    tags           TEXT NOT NULL DEFAULT '[]',
    refs           TEXT NOT NULL DEFAULT '[]',
    locked         BOOLEAN NOT NULL DEFAULT FALSE,
    version        BIGINT NOT NULL DEFAULT 1,
    created_at     BIGINT NOT NULL,
    created_by     TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    updated_by     TEXT NOT NULL,
    deleted_at     BIGINT
);
CREATE INDEX brand_kits_by_org ON brand_kits (org_id, created_at);
-- Names are unique per organisation among kits that are not deleted (case-insensitively). The
-- index also settles two nodes creating or renaming kits to the same name at once: the second
-- waits for the first and then fails.
CREATE UNIQUE INDEX brand_kits_unique_name ON brand_kits (org_id, lower(name)) WHERE deleted_at IS NULL;

CREATE TABLE brand_sections (
    id           TEXT PRIMARY KEY NOT NULL,
    kit_id       TEXT NOT NULL REFERENCES brand_kits (id),
    name         TEXT NOT NULL,
    position     BIGINT NOT NULL,
    deletable    BOOLEAN NOT NULL,
    predefined   BOOLEAN NOT NULL,
    properties   TEXT NOT NULL DEFAULT '{}',
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    updated_by   TEXT NOT NULL,
    deleted_at   BIGINT
);
CREATE INDEX brand_sections_by_kit ON brand_sections (kit_id, position);

CREATE TABLE brand_fields (
    id            TEXT PRIMARY KEY NOT NULL,
    section_id    TEXT NOT NULL REFERENCES brand_sections (id),
    kit_id        TEXT NOT NULL REFERENCES brand_kits (id),
    name          TEXT NOT NULL,
    field_type    TEXT NOT NULL,
    position      BIGINT,
    value         TEXT NOT NULL,
    intent        TEXT,
    refs          TEXT NOT NULL DEFAULT '[]',
    deletable     BOOLEAN NOT NULL,
    verified      BOOLEAN,
    ai_editable   BOOLEAN NOT NULL,
    predefined    BOOLEAN NOT NULL,
    properties    TEXT NOT NULL DEFAULT '{}',
    version       BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    updated_by    TEXT NOT NULL
);
CREATE INDEX brand_fields_by_section ON brand_fields (section_id, position);
-- dialect: postgres
-- Ingestion finds a kit's fields through this one (SQLite gained it in `shared_indexes`).
CREATE INDEX brand_fields_by_kit ON brand_fields (kit_id);
-- dialect: end
