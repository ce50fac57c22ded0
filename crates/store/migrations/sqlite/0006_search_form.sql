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
