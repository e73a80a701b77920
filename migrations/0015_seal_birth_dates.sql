-- Issue 13, findings 3 and 16.
-- A NIK is the kecamatan code, the birth date (day + 40 for women) and a small serial: with the
-- birth date, sex and desa in clear, a stolen file gave back almost every NIK. The exact birth
-- date is sealed now (`lahir_sealed`); only the birth year stays in clear (`tahun_lahir`), which
-- leaves hundreds of candidate days per resident. Queries select by year, and open the sealed
-- date only for the year at a boundary (bot/storage/residents.py, `born_*`).
-- Every sealed value is bound to its place and row (bot/crypto.py): a resident's to the column
-- and the row's `nik_ref`, a message's to the outbox text and its chat. Sealed before (v1) they
-- were bound to nothing: this migration re-seals them all, in its one transaction, and the file
-- is rebuilt after it (no v1 value nor clear birth date left in it or its WAL).
-- rebuild-file

-- The children keep pointing at nik_ref while the parent is rebuilt; checked at COMMIT.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE residents_sealing AS
SELECT nik_ref, kk_ref,
       seal(unseal_v1(nik_sealed), 'residents.nik_sealed', nik_ref) AS nik_sealed,
       seal(unseal_v1(kk_sealed), 'residents.kk_sealed', nik_ref) AS kk_sealed,
       seal(unseal_v1(nama_sealed), 'residents.nama_sealed', nik_ref) AS nama_sealed,
       seal(tanggal_lahir, 'residents.lahir_sealed', nik_ref) AS lahir_sealed,
       CAST(substr(tanggal_lahir, 1, 4) AS INTEGER) AS tahun_lahir,
       jenis_kelamin, status_kawin, kode_desa, tanggal_rekam, status_nik, updated_at,
       deactivated_on
FROM residents;
DROP TABLE residents;
CREATE TABLE residents (
    nik_ref        BLOB PRIMARY KEY CHECK (length(nik_ref) = 32),
    kk_ref         BLOB NOT NULL CHECK (length(kk_ref) = 32),
    nik_sealed     BLOB NOT NULL,
    kk_sealed      BLOB NOT NULL,
    nama_sealed    BLOB NOT NULL,
    lahir_sealed   BLOB NOT NULL,  -- the birth date, ISO
    tahun_lahir    INTEGER NOT NULL CHECK (tahun_lahir BETWEEN 1800 AND 2999),
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
CREATE INDEX residents_birth ON residents (tahun_lahir);
-- Covering for the reminder and deactivation queries (the sealed date opened at a boundary).
CREATE INDEX residents_unrecorded ON residents
    (kk_ref, status_nik, tahun_lahir, status_kawin, kode_desa, tanggal_rekam, lahir_sealed)
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

-- A message's text is bound to the chat it is for.
UPDATE outbox SET text = seal(unseal_v1(text), 'outbox.text', chat_id);
