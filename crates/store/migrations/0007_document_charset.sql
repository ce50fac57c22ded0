-- The charset a textual file's sender declared (the Content-Type's charset parameter, as the
-- WHATWG Encoding Standard names it), used to read the file when it names none itself.
ALTER TABLE documents ADD COLUMN charset TEXT;
