-- Twin of migrations/0027_outbox_files.sql (issue 19): a queued message may carry a file, sent
-- as a photo or a document with the message's text as its caption (see the SQLite file).
ALTER TABLE outbox ADD COLUMN file_kind TEXT CHECK (file_kind IN ('photo', 'document'));
ALTER TABLE outbox ADD COLUMN file_name TEXT;
ALTER TABLE outbox ADD COLUMN file BYTEA;
