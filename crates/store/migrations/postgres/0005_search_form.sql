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
