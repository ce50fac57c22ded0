-- Each chunk's block layout: where the extracted paragraphs, list items, table rows and
-- headings lie in its text, as JSON triples [kind, start byte, end byte] (brandstream-ingest's
-- ChunkBlock). The section filler reads structure from it instead of guessing it from the
-- text. Chunks written before this step have none (NULL) and are read as before.
ALTER TABLE chunks ADD COLUMN blocks TEXT;
