-- Issue 13, finding 3 (its residual): a teen is reminded on their 17th birthday and monthly on
-- that day, so a reminder's key `teen:<hash prefix>:<chat>:<day>`, kept for ever with the
-- chat and the times, gave a linked teen's birth date, hence their NIK, to a stolen file.
-- Reminders about a resident are keyed now `<kind>:<keyed hash of the plan>`, the plan (the
-- NIK's lookup hash, kind, chat, due day) sealed beside it (bot/storage/outbox.py); once done,
-- the row keeps its key and outcome but no chat, text nor day (times blurred to the month).
-- The file is rebuilt after it: no old key is left in its free pages.
-- rebuild-file

ALTER TABLE outbox ADD COLUMN plan BLOB;  -- sealed, bound to the row's key; NULL but reminders

-- The old keys hold the first 12 bytes of the NIK's hash, in hex, after the kind.
CREATE TEMP TABLE old_keys AS
SELECT id, substr(idempotency_key, 1, instr(idempotency_key, ':') - 1) AS kind,
       substr(idempotency_key, instr(idempotency_key, ':') + 1, 24) AS prefix,
       substr(idempotency_key, instr(idempotency_key, ':') + 25) AS rest  -- :<chat>:<day>
FROM outbox
WHERE substr(idempotency_key, 1, instr(idempotency_key, ':') - 1)
      IN ('teen', 'deadline', 'deactivated')
  AND idempotency_key NOT LIKE '%:erased:%';  -- cut loose by an erase already
CREATE TEMP TABLE prefixes (prefix TEXT PRIMARY KEY, nik_ref BLOB NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO prefixes
SELECT lower(hex(substr(nik_ref, 1, 12))), nik_ref FROM residents
WHERE EXISTS (SELECT 1 FROM old_keys);
CREATE TEMP TABLE new_keys AS
SELECT o.id, o.kind || ':' || lower(hex(ref_of('outbox:' || plan))) AS key, plan
FROM (SELECT k.id, k.kind, lower(hex(p.nik_ref)) || ':' || k.kind || k.rest AS plan
      FROM old_keys k JOIN prefixes p ON p.prefix = k.prefix) o;
UPDATE outbox SET idempotency_key = n.key, plan = seal(n.plan, 'outbox.plan', n.key)
FROM new_keys n WHERE outbox.id = n.id;
-- A reminder whose resident is gone keeps only its kind and row.
UPDATE outbox SET idempotency_key = k.kind || ':gone:' || k.id
FROM old_keys k WHERE outbox.id = k.id AND outbox.plan IS NULL;

-- Done reminders about residents: no chat, text nor day.
UPDATE outbox SET chat_id = 0, text = seal('-', 'outbox.text', 0), reply_markup = NULL,
    not_before = substr(not_before, 1, 7) || '-01T00:00:00.000000+00:00',
    created_at = substr(created_at, 1, 7) || '-01T00:00:00.000000+00:00',
    updated_at = substr(updated_at, 1, 7) || '-01T00:00:00.000000+00:00'
WHERE id IN (SELECT id FROM old_keys) AND state IN ('sent', 'blocked', 'failed', 'withdrawn');
UPDATE blocked_chats SET blocked_at = substr(blocked_at, 1, 7) || '-01T00:00:00.000000+00:00';

DROP TABLE temp.old_keys;
DROP TABLE temp.prefixes;
DROP TABLE temp.new_keys;
