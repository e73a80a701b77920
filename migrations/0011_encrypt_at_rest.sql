-- Encryption at rest (bot/crypto.py). The database keeps no NIK, KK number or name in clear:
--   *_ref     HMAC-SHA256 of the number under a key from SECRET_KEY: the lookup and join column;
--   *_sealed  AES-GCM of the value (random nonce), opened only to show it to someone allowed.
-- Birth date, sex, marital status, area and recording status stay in clear for the jobs.
-- ref_of(), seal_v1() and key_fingerprint() are the connection's functions (bot.db.connect): this
-- migration converts the rows already stored, in its one transaction. The clear values it
-- replaces would survive in the gaps of rewritten pages and in the WAL: the file is rebuilt
-- after it (bot.db.rebuild_file).
-- rebuild-file

-- The children are converted before the parent exists in its new form; checked at COMMIT.
PRAGMA defer_foreign_keys = ON;

-- Queued reminders are keyed `<kind>:<stand-in for the NIK>:<chat>:<day>`; the stand-in was an
-- unkeyed hash of the NIK and becomes a prefix of its keyed lookup hash, so a reminder planned
-- before this migration is still recognised after it (withdrawn, never planned twice).
CREATE TEMP TABLE legacy_keys (old TEXT PRIMARY KEY, new TEXT NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO legacy_keys
SELECT legacy_outbox_ref(nik), lower(hex(substr(ref_of(nik), 1, 12))) FROM residents
WHERE EXISTS (SELECT 1 FROM outbox WHERE kind = 'reminder');
UPDATE outbox SET idempotency_key = substr(idempotency_key, 1, instr(idempotency_key, ':'))
    || m.new || substr(idempotency_key, instr(idempotency_key, ':') + 21)
FROM legacy_keys m
WHERE m.old = substr(idempotency_key, instr(idempotency_key, ':') + 1, 20)
  AND substr(idempotency_key, 1, instr(idempotency_key, ':') - 1)
      IN ('teen', 'deadline', 'deactivated');
DROP TABLE temp.legacy_keys;

-- Renaming the parent's column first rewrites the children's REFERENCES clauses to match.
ALTER TABLE residents RENAME COLUMN nik TO nik_ref;
ALTER TABLE bookings RENAME COLUMN nik TO nik_ref;
UPDATE bookings SET nik_ref = ref_of(nik_ref);
ALTER TABLE waitlist RENAME COLUMN nik TO nik_ref;
UPDATE waitlist SET nik_ref = ref_of(nik_ref);
ALTER TABLE tickets RENAME COLUMN nik TO nik_ref;
UPDATE tickets SET nik_ref = ref_of(nik_ref);
ALTER TABLE received_cards RENAME COLUMN nik TO nik_ref;
UPDATE received_cards SET nik_ref = ref_of(nik_ref);
-- A link's subject: the NIK's ref (kind 'nik') or the KK number's (kind 'household').
ALTER TABLE links RENAME COLUMN subject TO subject_ref;
UPDATE links SET subject_ref = ref_of(subject_ref);

-- Sealed into a holding table, then back into `residents` created anew: inserting the parent
-- rows under the table's own name is what resolves the children's deferred references.
CREATE TABLE residents_sealing AS
SELECT ref_of(nik_ref) AS nik_ref, ref_of(no_kk) AS kk_ref, seal_v1(nik_ref) AS nik_sealed,
       seal_v1(no_kk) AS kk_sealed, seal_v1(nama) AS nama_sealed, tanggal_lahir, jenis_kelamin,
       status_kawin, kode_desa, tanggal_rekam, status_nik, updated_at, deactivated_on
FROM residents;
DROP TABLE residents;
CREATE TABLE residents (
    nik_ref        BLOB PRIMARY KEY CHECK (length(nik_ref) = 32),
    kk_ref         BLOB NOT NULL CHECK (length(kk_ref) = 32),
    nik_sealed     BLOB NOT NULL,
    kk_sealed      BLOB NOT NULL,
    nama_sealed    BLOB NOT NULL,
    tanggal_lahir  TEXT NOT NULL,
    jenis_kelamin  TEXT NOT NULL CHECK (jenis_kelamin IN ('L', 'P')),
    status_kawin   TEXT NOT NULL
        CHECK (status_kawin IN ('BELUM KAWIN', 'KAWIN', 'CERAI HIDUP', 'CERAI MATI')),
    kode_desa      TEXT NOT NULL REFERENCES areas (code),
    tanggal_rekam  TEXT,
    status_nik     TEXT NOT NULL CHECK (status_nik IN ('AKTIF', 'NONAKTIF')),
    updated_at     TEXT NOT NULL,
    deactivated_on TEXT  -- NULL for an AKTIF NIK
) WITHOUT ROWID;
INSERT INTO residents SELECT * FROM residents_sealing ORDER BY nik_ref;
DROP TABLE residents_sealing;

CREATE INDEX residents_kk ON residents (kk_ref);
CREATE INDEX residents_desa ON residents (kode_desa);
CREATE INDEX residents_birth ON residents (tanggal_lahir);
CREATE INDEX residents_unrecorded ON residents
    (kk_ref, status_nik, tanggal_lahir, status_kawin, kode_desa, tanggal_rekam)
    WHERE tanggal_rekam IS NULL;
CREATE INDEX residents_recorded_on ON residents (tanggal_rekam) WHERE tanggal_rekam IS NOT NULL;

CREATE TRIGGER residents_deactivated_insert AFTER INSERT ON residents
WHEN NEW.status_nik = 'NONAKTIF' AND NEW.deactivated_on IS NULL
BEGIN
    UPDATE residents SET deactivated_on = date(NEW.updated_at, '+7 hours')
    WHERE nik_ref = NEW.nik_ref;
END;
CREATE TRIGGER residents_deactivated_update AFTER UPDATE OF status_nik ON residents
WHEN NEW.status_nik IS NOT OLD.status_nik
BEGIN
    UPDATE residents SET deactivated_on = CASE WHEN NEW.status_nik = 'NONAKTIF'
        THEN coalesce(NEW.deactivated_on, date(NEW.updated_at, '+7 hours')) END
    WHERE nik_ref = NEW.nik_ref;
END;

-- Rendered messages name the resident: the outbox keeps them sealed too.
UPDATE outbox SET text = seal_v1(text);

-- Which key the database is sealed with (a short public fingerprint, never the key): a bot
-- started with another SECRET_KEY refuses to run instead of finding nobody.
CREATE TABLE vault_key (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    since       TEXT NOT NULL
);
INSERT INTO vault_key (id, fingerprint, since)
VALUES (1, key_fingerprint(), strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'));
