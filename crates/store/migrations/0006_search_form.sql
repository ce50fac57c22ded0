-- dialect: postgres
-- Search form of indexed text and queries, as brandstream_domain::text::search_form defines it:
-- NFKC (typeset ligatures such as "ﬁ" become "fi", full-width letters ASCII), invisible format
-- characters (soft hyphen, zero-width and bidirectional controls) removed, every CJK ideograph
-- and kana a word of its own; then, as before, accents off Latin letters. Queries arrive in
-- the search form already; folding them again gives the same words.
CREATE OR REPLACE FUNCTION brandstream_search_fold(words TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT regexp_replace(
              normalize(regexp_replace(
                  normalize(normalize(regexp_replace(words, '[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]', '', 'g'), NFKC), NFD),
                  '([A-Za-z])[\u0300-\u036f]+', '\1', 'g'), NFC),
              '([\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f])', ' \1 ', 'g') $$;

-- Stored generated columns are computed when a row is written: rewrite the existing rows so
-- their index entries use the new form.
UPDATE chunks SET heading = heading;

-- dialect: sqlite
-- The full-text index holds the search form of headings and text (NFKC, invisible characters
-- removed, CJK characters as words: brandstream_domain::text::search_form, registered on every
-- connection as the SQL function bs_search_form). The text itself is stored once, in chunks,
-- in its original spelling; the index is contentless, and snippets are made from the original
-- text by the application.
DROP TRIGGER chunks_fts_insert;
DROP TRIGGER chunks_fts_delete;
DROP TABLE chunks_fts;
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    heading, text,
    content = '', contentless_delete = 1,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO chunks_fts (rowid, heading, text)
    SELECT seq, bs_search_form(heading), bs_search_form(text) FROM chunks;
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, heading, text)
        VALUES (new.seq, bs_search_form(new.heading), bs_search_form(new.text));
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    DELETE FROM chunks_fts WHERE rowid = old.seq;
END;
-- dialect: end
