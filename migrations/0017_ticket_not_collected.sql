-- A card ready for pick-up and not collected by its deadline (ready_until) becomes
-- 'not_collected': still open (the card waits at the office and staff may hand it over).
-- SQLite cannot change a CHECK in place, so the ticket tables are rebuilt. Their rows are copied
-- aside first and the children dropped before `tickets`, so that dropping it cascades into
-- nothing; ids are kept, so every reference still holds.
CREATE TABLE tickets_keep AS SELECT * FROM tickets;
CREATE TABLE ticket_events_keep AS SELECT * FROM ticket_events;
CREATE TABLE received_cards_keep AS SELECT * FROM received_cards;
DROP TABLE ticket_events;
DROP TABLE received_cards;
DROP TABLE tickets;

CREATE TABLE tickets (
    id            INTEGER PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,    -- KR-7PX2MA (damaged) / KH-... (lost)
    chat_id       INTEGER NOT NULL,
    nik_ref       TEXT NOT NULL REFERENCES residents (nik_ref),
    kind          TEXT NOT NULL CHECK (kind IN ('damaged', 'lost')),
    cause         TEXT NOT NULL CHECK (cause IN ('peeling', 'chip', 'printing', 'other', 'lost')),
    description   TEXT CHECK (description IS NULL OR length(description) BETWEEN 3 AND 200),
    file_id       TEXT,                    -- Telegram file_id of the photo or police report
    file_type     TEXT CHECK (file_type IS NULL OR file_type IN ('photo', 'document')),
    service_point TEXT NOT NULL REFERENCES service_points (code),
    state         TEXT NOT NULL DEFAULT 'reported' CHECK (state IN (
                      'reported', 'verified', 'printed', 'ready', 'not_collected', 'handed_over',
                      'rejected')),
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
INSERT INTO tickets SELECT * FROM tickets_keep;
CREATE UNIQUE INDEX tickets_one_open_per_person ON tickets (nik_ref)
    WHERE state NOT IN ('handed_over', 'rejected');
CREATE INDEX tickets_nik ON tickets (nik_ref);
CREATE INDEX tickets_chat ON tickets (chat_id, created_at);
CREATE INDEX tickets_point_state ON tickets (service_point, state);
CREATE INDEX tickets_ready_until ON tickets (state, ready_until);

-- reported → verified → printed → ready → handed_over, or rejected from reported/verified;
-- ready → not_collected after the deadline, and a card not collected may still be handed over.
CREATE TRIGGER tickets_state_forward BEFORE UPDATE OF state ON tickets
WHEN NEW.state <> OLD.state AND NOT (
    (OLD.state = 'reported' AND NEW.state IN ('verified', 'rejected'))
    OR (OLD.state = 'verified' AND NEW.state IN ('printed', 'rejected'))
    OR (OLD.state = 'printed' AND NEW.state = 'ready')
    OR (OLD.state = 'ready' AND NEW.state IN ('handed_over', 'not_collected'))
    OR (OLD.state = 'not_collected' AND NEW.state = 'handed_over'))
BEGIN SELECT RAISE(ABORT, 'a ticket cannot jump states or go backwards'); END;

CREATE TABLE ticket_events (
    id        INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    at        TEXT NOT NULL,
    state     TEXT NOT NULL CHECK (state IN (
                  'reported', 'verified', 'printed', 'ready', 'not_collected', 'handed_over',
                  'rejected')),
    actor_id  INTEGER,                     -- the staff member; NULL for the citizen or a job
    note      TEXT
);
INSERT INTO ticket_events SELECT * FROM ticket_events_keep;
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

CREATE TABLE received_cards (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL UNIQUE REFERENCES tickets (id),
    nik_ref     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    batch_id    INTEGER REFERENCES destruction_batches (id)
);
INSERT INTO received_cards SELECT * FROM received_cards_keep;
CREATE INDEX received_cards_batch ON received_cards (batch_id);
CREATE TRIGGER received_cards_destroyed_once BEFORE UPDATE OF batch_id ON received_cards
WHEN OLD.batch_id IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a card can be in at most one destruction batch'); END;

DROP TABLE tickets_keep;
DROP TABLE ticket_events_keep;
DROP TABLE received_cards_keep;
