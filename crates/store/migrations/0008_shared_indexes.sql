-- SQLite only: indexes the PostgreSQL schema has had from its first migrations and SQLite
-- lacked (found by the schema-equality test of the store contract): pruning audit events by
-- time, finding a kit's fields during ingestion, and scoping chunks by organisation.
CREATE INDEX audit_events_by_time ON audit_events (at);
CREATE INDEX brand_fields_by_kit ON brand_fields (kit_id);
CREATE INDEX chunks_by_org ON chunks (org_id);
