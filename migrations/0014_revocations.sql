-- Repeated refusals counted instead of audited one by one, and invitations that can be revoked.

-- A refused role command is audited once per account, command and hour: the first refusal is an
-- audit_log row as before, and the repeats within that hour only count up here, so a citizen
-- sending /rekap a hundred times adds one audit row, not a hundred. The audit log stays
-- append-only; `dukcapil-bot audit` prints the count next to the row.
CREATE TABLE audit_repeats (
    audit_id  INTEGER PRIMARY KEY REFERENCES audit_log (id),
    actor_id  INTEGER NOT NULL,
    action    TEXT NOT NULL,
    hour      TEXT NOT NULL,                    -- UTC, `YYYY-MM-DDTHH`
    repeats   INTEGER NOT NULL DEFAULT 0 CHECK (repeats >= 0),  -- after the audited first one
    UNIQUE (actor_id, action, hour)
);

-- An invitation can be revoked before it is used (`dukcapil-bot revoke-invite`, `/cabut`).
ALTER TABLE invites ADD COLUMN revoked_at TEXT;
