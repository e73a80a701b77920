-- Issue 15, part 3: one sending budget for all the workers on one PostgreSQL database
-- (bot/workers.py's SharedBudget, bot/ratelimit.py). Its one row holds the next free moment to
-- send a message at (seconds since the epoch, on the database server's clock): each worker
-- takes one moment at a time (row-locked), SEND_RATE of them a second in all, so Telegram never
-- gets more than SEND_RATE messages a second from the workers together. Unused on SQLite.
CREATE TABLE send_budget (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    next_at REAL NOT NULL
);

INSERT INTO send_budget (id, next_at) VALUES (1, 0);
