-- Damaged and lost e-KTP cards: tickets, their history, received cards and destruction batches.
-- Timestamps are ISO-8601 UTC text; dates are ISO text (YYYY-MM-DD).

CREATE TABLE tickets (
    id            INTEGER PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,    -- KR-7PX2MA (damaged) / KH-... (lost)
    chat_id       INTEGER NOT NULL,
    nik           TEXT NOT NULL REFERENCES residents (nik),
    kind          TEXT NOT NULL CHECK (kind IN ('damaged', 'lost')),
    cause         TEXT NOT NULL CHECK (cause IN ('peeling', 'chip', 'printing', 'other', 'lost')),
    description   TEXT CHECK (description IS NULL OR length(description) BETWEEN 3 AND 200),
    file_id       TEXT,                    -- Telegram file_id of the photo or police report
    file_type     TEXT CHECK (file_type IS NULL OR file_type IN ('photo', 'document')),
    service_point TEXT NOT NULL REFERENCES service_points (code),
    state         TEXT NOT NULL DEFAULT 'reported' CHECK (state IN (
                      'reported', 'verified', 'printed', 'ready', 'handed_over', 'rejected')),
    reason        TEXT,                    -- why it was rejected
    ready_until   TEXT,                    -- pick-up deadline (WIB date) once ready
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CHECK ((kind = 'lost') = (cause = 'lost')),
    CHECK (kind <> 'lost' OR file_id IS NOT NULL),  -- the police loss report is required
    CHECK ((file_id IS NULL) = (file_type IS NULL)),
    CHECK (cause <> 'other' OR description IS NOT NULL),
    CHECK (state <> 'rejected' OR reason IS NOT NULL)
);
-- A person has at most one open ticket.
CREATE UNIQUE INDEX tickets_one_open_per_person ON tickets (nik)
    WHERE state NOT IN ('handed_over', 'rejected');
CREATE INDEX tickets_nik ON tickets (nik);
CREATE INDEX tickets_chat ON tickets (chat_id, created_at);
CREATE INDEX tickets_point_state ON tickets (service_point, state);

-- reported → verified → printed → ready → handed_over, or rejected from reported/verified.
CREATE TRIGGER tickets_state_forward BEFORE UPDATE OF state ON tickets
WHEN NEW.state <> OLD.state AND NOT (
    (OLD.state = 'reported' AND NEW.state IN ('verified', 'rejected'))
    OR (OLD.state = 'verified' AND NEW.state IN ('printed', 'rejected'))
    OR (OLD.state = 'printed' AND NEW.state = 'ready')
    OR (OLD.state = 'ready' AND NEW.state = 'handed_over'))
BEGIN SELECT RAISE(ABORT, 'a ticket cannot jump states or go backwards'); END;

-- Every step of a ticket, the report included.
CREATE TABLE ticket_events (
    id        INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    at        TEXT NOT NULL,
    state     TEXT NOT NULL CHECK (state IN (
                  'reported', 'verified', 'printed', 'ready', 'handed_over', 'rejected')),
    actor_id  INTEGER,                     -- the staff member; NULL for the citizen
    note      TEXT
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

CREATE TABLE destruction_batches (
    id           INTEGER PRIMARY KEY,
    destroyed_on TEXT NOT NULL,
    method       TEXT NOT NULL CHECK (length(trim(method)) > 0),
    witnesses    TEXT NOT NULL CHECK (length(trim(witnesses)) > 0),
    created_by   INTEGER NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX destruction_batches_day ON destruction_batches (destroyed_on);

-- One row per damaged card received at hand-over. `batch_id` NULL: still waiting for
-- destruction. One column, set once: a card is in at most one batch.
CREATE TABLE received_cards (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL UNIQUE REFERENCES tickets (id),
    nik         TEXT NOT NULL,
    received_at TEXT NOT NULL,
    batch_id    INTEGER REFERENCES destruction_batches (id)
);
CREATE INDEX received_cards_batch ON received_cards (batch_id);
CREATE TRIGGER received_cards_destroyed_once BEFORE UPDATE OF batch_id ON received_cards
WHEN OLD.batch_id IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a card can be in at most one destruction batch'); END;
