-- A regency-wide burst of failed status checks (bot/services/burst.py): many accounts guessing
-- NIK + KK pairs. While a burst lasts every check waits its turn and the admins are alerted.
-- No NIK or KK number is stored here: only times, counts and Telegram account ids.

-- The failed checks of the last minutes, counted before every check (a partial index: the
-- successful checks are not in it).
CREATE INDEX check_attempts_failed_at ON check_attempts (at) WHERE succeeded = 0;

-- Each burst: when it was detected and until when checks are slowed (moved on while the
-- failures keep coming). The admins' alert is keyed by the burst's id, so it is sent once.
CREATE TABLE check_bursts (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    failures    INTEGER NOT NULL,          -- failed checks in the window when it was detected
    until       TEXT NOT NULL
);
CREATE INDEX check_bursts_until ON check_bursts (until);

-- During a burst, when an account first asked for a check: it may check once the delay has
-- passed since then. Deleted when the check runs (and with the account's attempts).
CREATE TABLE check_holds (
    user_id   INTEGER PRIMARY KEY,
    asked_at  TEXT NOT NULL
);
CREATE INDEX check_holds_asked_at ON check_holds (asked_at);
