-- The annual deactivation: one run per cycle (keyed by its recording deadline). The bot
-- previews who would be deactivated; nothing changes until an admin approves and it is applied.

CREATE TABLE deactivation_runs (
    id            INTEGER PRIMARY KEY,
    deadline      TEXT NOT NULL UNIQUE,      -- the cycle's recording deadline (ISO date)
    cohort_date   TEXT NOT NULL,             -- wajib KTP on this day (31 December)
    state         TEXT NOT NULL DEFAULT 'previewed' CHECK (state IN ('previewed', 'applied')),
    counts        TEXT NOT NULL CHECK (json_valid(counts)),  -- per desa, as previewed
    total         INTEGER NOT NULL CHECK (total >= 0),
    previewed_at  TEXT NOT NULL,
    approved_by   INTEGER,                   -- the admin's Telegram id
    applied_at    TEXT,
    applied_count INTEGER CHECK (applied_count IS NULL OR applied_count >= 0),
    CHECK ((state = 'applied') = (applied_at IS NOT NULL)),
    CHECK ((state = 'applied') = (approved_by IS NOT NULL)),
    CHECK ((state = 'applied') = (applied_count IS NOT NULL))
);
-- Applied once: a run never goes back to 'previewed'.
CREATE TRIGGER deactivation_runs_applied_once BEFORE UPDATE ON deactivation_runs
WHEN OLD.state = 'applied'
BEGIN SELECT RAISE(ABORT, 'a deactivation run is applied once'); END;
