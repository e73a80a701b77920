-- Mobile recording drives (perekaman keliling): staff take the equipment to a school, a village
-- hall or a pesantren for one day.
--
-- Design: a drive is a service point of its own, open on one day only, plus a `drives` row that
-- says which area it serves and which ordinary point's staff run it. Bookings at a drive are
-- then ordinary bookings at that point: the same code, queue number, QR, reminders, "still
-- coming?", waitlist and check-in, capacity counted per slot of the drive (never mixed with the
-- running point's own slots), one active booking per person and service, both enforced by the
-- existing indexes; and wherever a booking's place is shown (name, address, map pin) it is the
-- drive's. What the drive's point row holds:
--   name, address      the drive's name and place (e.g. "SMAN 1 Talun", "Jl. Raya Talun 1")
--   open_day           the drive's day (WIB); NULL for every ordinary point
--   hours              '<weekday> HH:MM-HH:MM' for that day (e.g. 'wed 08:00-12:00')
--   slot_capacity      places per 30-minute slot
--   latitude/longitude the pin; `pinned` = 0 when the admin gave none (the numbers are then the
--                      running point's and no map pin is sent)
--   kind               'kecamatan' and kecamatan_code the served area's kecamatan: the CHECK on
--                      kind cannot change without rebuilding a table other tables reference, and
--                      drive points never appear in the ordinary lists (open_day IS NOT NULL)
--   prints_cards 0     recording only; auto_confirm 1: a drive's bookings are confirmed at once
--   active 0           once the drive is cancelled (a cancelled drive offers no slot)
-- The point's code is 'drv-' + the drive's code in lower case.

ALTER TABLE service_points ADD COLUMN open_day TEXT;
ALTER TABLE service_points ADD COLUMN pinned INTEGER NOT NULL DEFAULT 1 CHECK (pinned IN (0, 1));
CREATE INDEX service_points_open_day ON service_points (open_day) WHERE open_day IS NOT NULL;

CREATE TABLE drives (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,     -- 6 characters that read aloud, like a booking code
    point_code  TEXT NOT NULL UNIQUE REFERENCES service_points (code),  -- the drive's own point
    run_by      TEXT NOT NULL REFERENCES service_points (code),  -- whose staff run it
    area_code   TEXT NOT NULL REFERENCES areas (code),           -- a desa/kelurahan or kecamatan
    state       TEXT NOT NULL DEFAULT 'planned' CHECK (state IN ('planned', 'cancelled')),
    created_by  INTEGER,                  -- the admin's Telegram id; NULL: the command line
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX drives_area ON drives (area_code, state);
CREATE INDEX drives_run_by ON drives (run_by, state);
