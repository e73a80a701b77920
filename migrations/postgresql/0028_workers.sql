-- Twin of migrations/0028_workers.sql: the workers' heartbeats and the inbox of updates not yet
-- handled (issue 15, part 3; see the SQLite file and bot/workers.py).
CREATE TABLE workers (
    id         TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    started_at TEXT NOT NULL,
    seen_at    TEXT NOT NULL
);

CREATE TABLE inbox (
    update_id     BIGINT PRIMARY KEY,
    line          BIGINT NOT NULL,
    body          BYTEA NOT NULL,
    received_at   TEXT NOT NULL,
    claimed_by    TEXT,
    claimed_until TEXT,
    CHECK ((claimed_by IS NULL) = (claimed_until IS NULL))
);

CREATE INDEX inbox_line ON inbox (line, update_id);
