-- The delivery engine grows: booking reminders (never held in quiet hours), withdrawn messages
-- (a cancelled or moved booking's reminder), the days each scheduled job has planned (so a
-- restart catches up without duplicates), and the day a NIK was deactivated.

CREATE TABLE outbox_new (
    id                  INTEGER PRIMARY KEY,
    idempotency_key     TEXT NOT NULL UNIQUE,  -- planning the same message twice sends it once
    chat_id             INTEGER NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN (
                            'reminder', 'broadcast', 'staff', 'reply', 'booking')),
    text                TEXT NOT NULL CHECK (length(text) > 0),  -- rendered Telegram HTML
    reply_markup        TEXT CHECK (reply_markup IS NULL OR json_valid(reply_markup)),
    state               TEXT NOT NULL DEFAULT 'queued' CHECK (state IN (
                            'queued', 'sending', 'sent', 'blocked', 'failed', 'withdrawn')),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    not_before          TEXT NOT NULL,         -- quiet hours and retry backoff
    telegram_message_id INTEGER,
    error               TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    CHECK ((state = 'sent') = (telegram_message_id IS NOT NULL)),
    CHECK (state <> 'failed' OR error IS NOT NULL)
);
INSERT INTO outbox_new SELECT * FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, not_before, id);
CREATE INDEX outbox_chat ON outbox (chat_id, state);

-- One row per scheduled job and WIB day it has planned.
CREATE TABLE job_runs (
    job         TEXT NOT NULL,
    day         TEXT NOT NULL,
    planned     INTEGER NOT NULL DEFAULT 0,   -- messages planned by that run
    finished_at TEXT NOT NULL,
    PRIMARY KEY (job, day)
);

ALTER TABLE residents ADD COLUMN deactivated_on TEXT;  -- NULL for an AKTIF NIK
UPDATE residents SET deactivated_on = date(updated_at, '+7 hours') WHERE status_nik = 'NONAKTIF';
-- Whoever sets a NIK NONAKTIF (the importer, the annual deactivation) gets the day recorded,
-- as the WIB date (UTC+7, no daylight saving) of the change.
CREATE TRIGGER residents_deactivated_insert AFTER INSERT ON residents
WHEN NEW.status_nik = 'NONAKTIF' AND NEW.deactivated_on IS NULL
BEGIN
    UPDATE residents SET deactivated_on = date(NEW.updated_at, '+7 hours') WHERE nik = NEW.nik;
END;
CREATE TRIGGER residents_deactivated_update AFTER UPDATE OF status_nik ON residents
WHEN NEW.status_nik IS NOT OLD.status_nik
BEGIN
    UPDATE residents SET deactivated_on = CASE WHEN NEW.status_nik = 'NONAKTIF'
        THEN coalesce(NEW.deactivated_on, date(NEW.updated_at, '+7 hours')) END
    WHERE nik = NEW.nik;
END;
