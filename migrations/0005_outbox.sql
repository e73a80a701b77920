-- The outbox: every outgoing notification is written here first, then drained by the sender.
-- Timestamps are ISO-8601 UTC text with microseconds (fixed width, so text order = time order).

CREATE TABLE outbox (
    id                  INTEGER PRIMARY KEY,
    idempotency_key     TEXT NOT NULL UNIQUE,  -- planning the same message twice sends it once
    chat_id             INTEGER NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('reminder', 'broadcast', 'staff', 'reply')),
    text                TEXT NOT NULL CHECK (length(text) > 0),  -- rendered Telegram HTML
    reply_markup        TEXT CHECK (reply_markup IS NULL OR json_valid(reply_markup)),
    state               TEXT NOT NULL DEFAULT 'queued' CHECK (state IN (
                            'queued', 'sending', 'sent', 'blocked', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    not_before          TEXT NOT NULL,         -- quiet hours and retry backoff
    telegram_message_id INTEGER,
    error               TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    CHECK ((state = 'sent') = (telegram_message_id IS NOT NULL)),
    CHECK (state <> 'failed' OR error IS NOT NULL)
);
CREATE INDEX outbox_due ON outbox (state, not_before, id);
CREATE INDEX outbox_chat ON outbox (chat_id, state);

-- Chats that blocked the bot (403): nothing is sent there until the person writes again.
CREATE TABLE blocked_chats (
    chat_id    INTEGER PRIMARY KEY,
    blocked_at TEXT NOT NULL
);
