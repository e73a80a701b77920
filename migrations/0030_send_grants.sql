-- Issue 15, part 3: the workers' sending budget counts each message until Telegram has answered
-- it (bot/services/send_budget.py). grants: the grants not yet reported done and the moments
-- the recent ones were reported done (JSON, seconds on the database server's clock); version:
-- bumped by every change, so that a worker writes over only what it read. Unused on SQLite.
ALTER TABLE send_budget ADD COLUMN grants TEXT NOT NULL DEFAULT '{}';
ALTER TABLE send_budget ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
