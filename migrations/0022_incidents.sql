-- Incidents the admins are alerted of in Telegram (bot/services/alerts.py): once when one
-- begins, once when it is over. Counts, job names and error classes only, never personal data.
CREATE TABLE incidents (
    id                 INTEGER PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('outbox', 'telegram', 'job', 'backup', 'disk')),
    subject            TEXT NOT NULL DEFAULT '',  -- the job's name for kind 'job'
    detail             TEXT NOT NULL DEFAULT '',  -- a count, an error's class
    opened_at          TEXT NOT NULL,
    closed_at          TEXT,
    open_notified_at   TEXT,                      -- when the admins were told it began
    close_notified_at  TEXT,                      -- when they were told it is over
    CHECK (close_notified_at IS NULL OR closed_at IS NOT NULL)
);
-- One open incident of a kind and subject at a time.
CREATE UNIQUE INDEX incidents_open ON incidents (kind, subject) WHERE closed_at IS NULL;
CREATE INDEX incidents_to_notify ON incidents (id)
    WHERE open_notified_at IS NULL OR (closed_at IS NOT NULL AND close_notified_at IS NULL);
