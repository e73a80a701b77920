-- Twin of migrations/0027_outbox_files.sql: a queued message may carry a file (the admins'
-- weekly report), sent as a photo or a document with the text as caption.
ALTER TABLE outbox ADD COLUMN file_kind TEXT CHECK (file_kind IN ('photo', 'document'));
ALTER TABLE outbox ADD COLUMN file_name TEXT;
ALTER TABLE outbox ADD COLUMN file BYTEA;
