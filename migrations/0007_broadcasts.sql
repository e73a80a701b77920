-- Village officials' broadcasts: who sent what to which audience of which area, how many chats
-- it was planned for (one outbox message each, key 'broadcast:<id>:<chat_id>'), and when the
-- author was sent the delivery report (once every message is final).

CREATE TABLE broadcasts (
    id          INTEGER PRIMARY KEY,
    author_id   INTEGER NOT NULL,            -- Telegram id of the official or admin
    area_code   TEXT NOT NULL REFERENCES areas (code),
    audience    TEXT NOT NULL CHECK (audience IN (
                    'linked', 'unrecorded', 'turning17', 'deactivated')),
    template    TEXT NOT NULL CHECK (template IN ('invitation', 'mobile', 'deadline', 'free')),
    parameters  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(parameters)),  -- date, place, text
    recipients  INTEGER NOT NULL CHECK (recipients >= 0),  -- chats messaged; > 0 once saved
    created_at  TEXT NOT NULL,               -- UTC, fixed width (text order = time order)
    reported_at TEXT                         -- NULL until the delivery report is planned
);
CREATE INDEX broadcasts_author ON broadcasts (author_id, created_at);
CREATE INDEX broadcasts_unreported ON broadcasts (id) WHERE reported_at IS NULL;
