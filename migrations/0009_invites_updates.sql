-- One-time, expiring invitations for staff, officials and admins (`dukcapil-bot invite`),
-- and the updates already handled (so a re-delivered update is handled once).
-- Only a hash of the token is kept: the database alone cannot be used to claim one.

CREATE TABLE invites (
    token_hash    TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('staff', 'official', 'admin')),
    service_point TEXT REFERENCES service_points (code),
    area_code     TEXT REFERENCES areas (code),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    claimed_by    INTEGER,
    claimed_at    TEXT,
    CHECK ((claimed_by IS NULL) = (claimed_at IS NULL))
);

-- Updates already handled: Telegram delivers an update again when its receipt was not
-- confirmed (a crash between handling and the next getUpdates); it is handled once.
CREATE TABLE processed_updates (
    update_id INTEGER PRIMARY KEY,
    at        TEXT NOT NULL
);
