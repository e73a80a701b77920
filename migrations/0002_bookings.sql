-- Online queue: bookings, waitlist, closures, per-point booking settings.

ALTER TABLE service_points ADD COLUMN auto_confirm INTEGER NOT NULL DEFAULT 0
    CHECK (auto_confirm IN (0, 1));
ALTER TABLE service_points ADD COLUMN staff_chat_id INTEGER;  -- staff group chat, if any

-- One row per visit. `start_at` is the slot start in UTC; `day` its date in WIB.
CREATE TABLE bookings (
    id            INTEGER PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    chat_id       INTEGER NOT NULL,
    nik           TEXT NOT NULL REFERENCES residents (nik),
    service       TEXT NOT NULL CHECK (service IN ('rekam', 'rusak', 'hilang', 'ambil')),
    service_point TEXT NOT NULL REFERENCES service_points (code),
    start_at      TEXT NOT NULL,
    day           TEXT NOT NULL,
    queue_number  INTEGER NOT NULL CHECK (queue_number > 0),
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN (
                      'pending', 'confirmed', 'checked_in', 'recorded', 'handed_over',
                      'no_show', 'rejected', 'cancelled', 'released')),
    reason        TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (service_point, day, queue_number)
);
-- A person holds at most one active booking per service.
CREATE UNIQUE INDEX bookings_one_active_per_person_service ON bookings (nik, service)
    WHERE state IN ('pending', 'confirmed', 'checked_in');
CREATE INDEX bookings_slot ON bookings (service_point, start_at, state);
CREATE INDEX bookings_chat ON bookings (chat_id, state);
CREATE INDEX bookings_day ON bookings (day, service_point);

-- Closures an admin sets (cuti bersama, blank-card shortage, network outage).
-- service_point NULL closes every point.
CREATE TABLE closures (
    id            INTEGER PRIMARY KEY,
    service_point TEXT REFERENCES service_points (code),
    first_day     TEXT NOT NULL,
    last_day      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    created_by    INTEGER,
    created_at    TEXT NOT NULL,
    CHECK (first_day <= last_day)
);
CREATE INDEX closures_days ON closures (first_day, last_day);

-- People waiting for a freed place at a point between two dates, in order of joining.
CREATE TABLE waitlist (
    id            INTEGER PRIMARY KEY,
    chat_id       INTEGER NOT NULL,
    nik           TEXT NOT NULL REFERENCES residents (nik),
    service       TEXT NOT NULL CHECK (service IN ('rekam', 'rusak', 'hilang', 'ambil')),
    service_point TEXT NOT NULL REFERENCES service_points (code),
    first_day     TEXT NOT NULL,
    last_day      TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'waiting'
                  CHECK (state IN ('waiting', 'offered', 'booked', 'expired', 'cancelled')),
    created_at    TEXT NOT NULL,
    CHECK (first_day <= last_day)
);
CREATE UNIQUE INDEX waitlist_one_per_person_service ON waitlist (nik, service)
    WHERE state IN ('waiting', 'offered');
CREATE INDEX waitlist_point ON waitlist (service_point, state, id);

-- A freed slot held for one waitlist entry until `expires_at`.
CREATE TABLE waitlist_offers (
    id            INTEGER PRIMARY KEY,
    waitlist_id   INTEGER NOT NULL REFERENCES waitlist (id),
    service_point TEXT NOT NULL REFERENCES service_points (code),
    start_at      TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'taken', 'expired')),
    created_at    TEXT NOT NULL
);
CREATE INDEX waitlist_offers_open ON waitlist_offers (state, expires_at);
