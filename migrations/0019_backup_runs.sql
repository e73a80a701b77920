-- Each nightly backup's outcome, for /metrics and the alerts (bot/services/backup.py::last_backup):
-- when it finished, and on failure the class of the error (never its message, which may name
-- paths or data).
CREATE TABLE backup_runs (
    id INTEGER PRIMARY KEY,
    finished_at TEXT NOT NULL,
    ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
    file TEXT,
    size_bytes INTEGER,
    error TEXT,
    CHECK ((ok = 1 AND file IS NOT NULL AND error IS NULL) OR (ok = 0 AND error IS NOT NULL))
);
CREATE INDEX backup_runs_by_outcome ON backup_runs (ok, finished_at);
