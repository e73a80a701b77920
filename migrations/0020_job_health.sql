-- How each scheduled job (and the nightly backup) last ended, for /metrics and the admins'
-- alerts: one row per job, updated by every run. The error is the exception's class only,
-- never its message (a message may quote a person's data).
CREATE TABLE job_health (
    job              TEXT PRIMARY KEY,
    last_success_at  TEXT,
    last_failure_at  TEXT,
    last_error       TEXT,
    failures         INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    CHECK ((last_failure_at IS NULL) = (last_error IS NULL))
);
