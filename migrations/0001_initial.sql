-- Foundation schema: areas, service points, residents, chats, links, roles, rate limits, audit.
-- Timestamps are ISO-8601 UTC text; dates are ISO text (YYYY-MM-DD).

CREATE TABLE areas (
    code        TEXT PRIMARY KEY,          -- plain Kemendagri code: 3505, 350510, 3505102001
    dotted_code TEXT NOT NULL UNIQUE,      -- 35.05.10.2001
    level       TEXT NOT NULL CHECK (level IN ('kabupaten', 'kecamatan', 'kelurahan', 'desa')),
    name        TEXT NOT NULL,
    parent_code TEXT NOT NULL
);
CREATE INDEX areas_parent ON areas (parent_code);

CREATE TABLE service_points (
    code            TEXT PRIMARY KEY,      -- kanigoro, tla-srengat, kec-wonodadi
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('office', 'tla', 'kecamatan')),
    kecamatan_code  TEXT NOT NULL REFERENCES areas (code),
    address         TEXT NOT NULL,
    latitude        REAL NOT NULL,
    longitude       REAL NOT NULL,
    slot_capacity   INTEGER NOT NULL CHECK (slot_capacity > 0),
    prints_cards    INTEGER NOT NULL DEFAULT 0 CHECK (prints_cards IN (0, 1)),
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE residents (
    nik           TEXT PRIMARY KEY CHECK (length(nik) = 16),
    no_kk         TEXT NOT NULL CHECK (length(no_kk) = 16),
    nama          TEXT NOT NULL,
    tanggal_lahir TEXT NOT NULL,
    jenis_kelamin TEXT NOT NULL CHECK (jenis_kelamin IN ('L', 'P')),
    status_kawin  TEXT NOT NULL
        CHECK (status_kawin IN ('BELUM KAWIN', 'KAWIN', 'CERAI HIDUP', 'CERAI MATI')),
    kode_desa     TEXT NOT NULL REFERENCES areas (code),
    tanggal_rekam TEXT,
    status_nik    TEXT NOT NULL CHECK (status_nik IN ('AKTIF', 'NONAKTIF')),
    updated_at    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX residents_no_kk ON residents (no_kk);
CREATE INDEX residents_desa ON residents (kode_desa);
CREATE INDEX residents_birth ON residents (tanggal_lahir);

CREATE TABLE chats (
    chat_id     INTEGER PRIMARY KEY,
    locale      TEXT NOT NULL DEFAULT 'id' CHECK (locale IN ('id', 'en')),
    blocked_at  TEXT,
    created_at  TEXT NOT NULL
);

-- A chat's consent to receive reminders about one resident or a whole household (KK).
CREATE TABLE links (
    id           INTEGER PRIMARY KEY,
    chat_id      INTEGER NOT NULL REFERENCES chats (chat_id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('nik', 'household')),
    subject      TEXT NOT NULL,            -- the NIK, or the KK number for a household
    reminders_on INTEGER NOT NULL DEFAULT 1 CHECK (reminders_on IN (0, 1)),
    consent_at   TEXT NOT NULL,
    UNIQUE (chat_id, kind, subject)
);
CREATE INDEX links_subject ON links (kind, subject);

-- Every status check by a Telegram account, for the failed-check lockout.
CREATE TABLE check_attempts (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    at         TEXT NOT NULL,
    succeeded  INTEGER NOT NULL CHECK (succeeded IN (0, 1))
);
CREATE INDEX check_attempts_user_at ON check_attempts (user_id, at);

CREATE TABLE users (
    telegram_id   INTEGER PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('staff', 'official', 'admin')),
    service_point TEXT REFERENCES service_points (code),
    area_code     TEXT REFERENCES areas (code),
    created_at    TEXT NOT NULL,
    CHECK (role <> 'staff' OR service_point IS NOT NULL),
    CHECK (role <> 'official' OR area_code IS NOT NULL)
);

CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    actor_id INTEGER,
    action   TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
