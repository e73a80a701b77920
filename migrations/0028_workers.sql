-- Issue 15, part 3: several `dukcapil-bot run` workers on one PostgreSQL database
-- (bot/workers.py; docs/postgresql.md says what each guarantees). On SQLite (one process) both
-- tables stay empty.
--
-- workers: each running worker's heartbeat, every few seconds. The sending budget (30 messages
-- a second overall) is shared among the workers seen lately: each paces itself at its share.
CREATE TABLE workers (
    id         TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    started_at TEXT NOT NULL,
    seen_at    TEXT NOT NULL
);

-- inbox: the updates received (by the polling leader or any webhook) and not yet handled to
-- the end. Written before Telegram is told they arrived (the next getUpdates, the webhook's
-- 200), so a worker killed after that loses none. A worker claims a chat's rows (line: the
-- chat, else the user) while no other worker holds a live claim on that line, handles them in
-- update_id order, and deletes each row once its turn (effects, reply, conversation) is over;
-- a dead worker's claims lapse at claimed_until and another worker takes the line over.
-- body is the update's JSON sealed with the vault, bound to 'inbox.body' and the update id: a
-- message may hold a NIK or a name.
CREATE TABLE inbox (
    update_id     INTEGER PRIMARY KEY,
    line          INTEGER NOT NULL,
    body          BLOB NOT NULL,
    received_at   TEXT NOT NULL,
    claimed_by    TEXT,
    claimed_until TEXT,
    CHECK ((claimed_by IS NULL) = (claimed_until IS NULL))
);

CREATE INDEX inbox_line ON inbox (line, update_id);
