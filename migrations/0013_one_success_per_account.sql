-- A successful status check kept its row for ever (issue 13, finding 14), though only the
-- failures count for the lockout. Now each account keeps only its latest success (written over
-- at the next one, bot/storage/attempts.py) and the hourly housekeeping job forgets it after 30
-- days (bot/services/verified.py). The older rows go now.
DELETE FROM check_attempts
WHERE succeeded = 1
  AND id NOT IN (SELECT max(id) FROM check_attempts WHERE succeeded = 1 GROUP BY user_id);

CREATE UNIQUE INDEX check_attempts_one_success ON check_attempts (user_id) WHERE succeeded = 1;
