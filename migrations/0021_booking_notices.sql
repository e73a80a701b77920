-- Staff notices that stay true (issue 16, outdated staff notices). A booking's version grows
-- with every change of its slot or state; each staff notice of a new booking remembers the
-- version and slot it shows, so a button pressed on an outdated one is refused, and it is
-- edited once to say what became of the booking. An edit is an outbox message too: it names
-- the Telegram message it replaces.

ALTER TABLE bookings ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE outbox ADD COLUMN edit_message_id INTEGER;  -- set: edit this message of the chat

CREATE TABLE booking_notices (
    outbox_id  INTEGER PRIMARY KEY REFERENCES outbox (id),
    booking_id INTEGER NOT NULL REFERENCES bookings (id),
    version    INTEGER NOT NULL,  -- the booking's version the notice shows
    start_at   TEXT NOT NULL,     -- the slot it shows (UTC)
    retired_at TEXT               -- when it was edited (or withdrawn) as outdated
);
CREATE INDEX booking_notices_open ON booking_notices (booking_id) WHERE retired_at IS NULL;
