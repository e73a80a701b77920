-- A queued message may carry a file (issue 19: the admins' weekly report, its charts and the CSV
-- of the figures): sent as a photo or a document, the message's text its caption. The files of
-- the report hold counts only, no resident, so they are not sealed; a file is dropped once its
-- message is done (sent, blocked or failed).
ALTER TABLE outbox ADD COLUMN file_kind TEXT CHECK (file_kind IN ('photo', 'document'));
ALTER TABLE outbox ADD COLUMN file_name TEXT;
ALTER TABLE outbox ADD COLUMN file BLOB;
