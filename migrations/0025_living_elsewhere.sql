-- Issue 18: a chat's report that one of its linked household members lives elsewhere, in
-- another regency or city of Indonesia (its Kemendagri code, bot/data/kabupaten_kota.csv) or
-- abroad (an ISO 3166 country code), since a month, optionally why. It is the reporter's word:
-- it changes the reminders that chat gets about that person, and officials and admins see it
-- counted; nobody is exempted by it. The resident is named by the NIK's lookup hash, never in
-- clear; the place is a code from a fixed list (no free text). The row goes with its chat
-- (/hapus_data deletes the chat row), so no path from the chat to the resident is left.
CREATE TABLE living_elsewhere (
    id          INTEGER PRIMARY KEY,
    chat_id     INTEGER NOT NULL REFERENCES chats (chat_id) ON DELETE CASCADE,
    nik_ref     BLOB NOT NULL REFERENCES residents (nik_ref)
                ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    place_kind  TEXT NOT NULL CHECK (place_kind IN ('regency', 'abroad')),
    place_code  TEXT NOT NULL CHECK (length(place_code) BETWEEN 2 AND 5),
    since       TEXT NOT NULL CHECK (since GLOB '[12][0-9][0-9][0-9]-[01][0-9]'),  -- YYYY-MM
    reason      TEXT CHECK (reason IN ('work', 'study', 'marriage', 'other')),
    reported_at TEXT NOT NULL,
    UNIQUE (chat_id, nik_ref)
);
CREATE INDEX living_elsewhere_resident ON living_elsewhere (nik_ref);
