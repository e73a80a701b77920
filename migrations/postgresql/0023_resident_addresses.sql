-- baseline
-- The PostgreSQL schema as of SQLite's migrations 0001-0023, in one go: no PostgreSQL deployment
-- existed before, so `migrate` applies this file to an empty database and records the earlier
-- names (0001-0022) as applied with it. Every later migration has a twin here under the same
-- name (docs/postgresql.md); tests/meta/test_schema_drift.py compares the two schemas.
-- The references to residents (nik_ref) are DEFERRABLE INITIALLY IMMEDIATE: checked at once as
-- in SQLite, deferred where SQLite says `PRAGMA defer_foreign_keys` (rotate-key re-keys them).
-- Types: every INTEGER is BIGINT (Telegram ids exceed 32 bits), a surrogate `id` is an identity;
-- BLOB and the TEXT columns that hold sealed values or lookup hashes are BYTEA; REAL is DOUBLE
-- PRECISION; timestamps and dates stay ISO TEXT (they compare as in SQLite). Triggers that
-- refuse a change raise integrity_constraint_violation, as SQLite's RAISE(ABORT) gives an
-- IntegrityError.

-- SQLite's json_valid() for the CHECKs that use it.
CREATE FUNCTION json_valid(value TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM value::jsonb;
    RETURN TRUE;
EXCEPTION WHEN others THEN
    RETURN FALSE;
END $$;

-- A trigger's refusal: `EXECUTE FUNCTION refuse('message')` under the trigger's WHEN.
CREATE FUNCTION refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END $$;

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
    latitude        DOUBLE PRECISION NOT NULL,
    longitude       DOUBLE PRECISION NOT NULL,
    slot_capacity   BIGINT NOT NULL CHECK (slot_capacity > 0),
    prints_cards    BIGINT NOT NULL DEFAULT 0 CHECK (prints_cards IN (0, 1)),
    active          BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    auto_confirm    BIGINT NOT NULL DEFAULT 0 CHECK (auto_confirm IN (0, 1)),
    staff_chat_id   BIGINT,                -- staff group chat, if any
    hours           TEXT NOT NULL DEFAULT 'mon-thu 08:00-14:30, fri 08:00-11:00',
    contact         TEXT NOT NULL DEFAULT ''
);

-- No NIK, KK number or name in clear (bot/crypto.py): *_ref are lookup hashes, *_sealed sealed.
CREATE TABLE residents (
    nik_ref        BYTEA PRIMARY KEY CHECK (length(nik_ref) = 32),
    kk_ref         BYTEA NOT NULL CHECK (length(kk_ref) = 32),
    nik_sealed     BYTEA NOT NULL,
    kk_sealed      BYTEA NOT NULL,
    nama_sealed    BYTEA NOT NULL,
    lahir_sealed   BYTEA NOT NULL,  -- the birth date, ISO
    tahun_lahir    BIGINT NOT NULL CHECK (tahun_lahir BETWEEN 1800 AND 2999),
    jenis_kelamin  TEXT NOT NULL CHECK (jenis_kelamin IN ('L', 'P')),
    status_kawin   TEXT NOT NULL
        CHECK (status_kawin IN ('BELUM KAWIN', 'KAWIN', 'CERAI HIDUP', 'CERAI MATI')),
    kode_desa      TEXT NOT NULL REFERENCES areas (code),
    tanggal_rekam  TEXT,
    status_nik     TEXT NOT NULL CHECK (status_nik IN ('AKTIF', 'NONAKTIF')),
    updated_at     TEXT NOT NULL,
    deactivated_on TEXT  -- NULL for an AKTIF NIK
);
CREATE INDEX residents_kk ON residents (kk_ref);
CREATE INDEX residents_desa ON residents (kode_desa);
CREATE INDEX residents_birth ON residents (tahun_lahir);
CREATE INDEX residents_unrecorded ON residents
    (kk_ref, status_nik, tahun_lahir, status_kawin, kode_desa, tanggal_rekam, lahir_sealed)
    WHERE tanggal_rekam IS NULL;
CREATE INDEX residents_recorded_on ON residents (tanggal_rekam) WHERE tanggal_rekam IS NOT NULL;

-- The day (WIB) a NIK became NONAKTIF, from its updated_at (UTC ISO text; one without an offset
-- is UTC, as SQLite's date() reads it). SQLite's AFTER triggers update the row; here the row is
-- set before it is written, with the same outcome.
CREATE FUNCTION residents_deactivated_on() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
BEGIN
    NEW.deactivated_on := CASE WHEN NEW.status_nik = 'NONAKTIF' THEN coalesce(
        NEW.deactivated_on,
        to_char(NEW.updated_at::timestamptz + interval '7 hours', 'YYYY-MM-DD')) END;
    RETURN NEW;
END $$;
CREATE TRIGGER residents_deactivated_insert BEFORE INSERT ON residents
FOR EACH ROW WHEN (NEW.status_nik = 'NONAKTIF' AND NEW.deactivated_on IS NULL)
EXECUTE FUNCTION residents_deactivated_on();
CREATE TRIGGER residents_deactivated_update BEFORE UPDATE OF status_nik ON residents
FOR EACH ROW WHEN (NEW.status_nik IS DISTINCT FROM OLD.status_nik)
EXECUTE FUNCTION residents_deactivated_on();

CREATE TABLE resident_addresses (
    nik_ref       BYTEA PRIMARY KEY REFERENCES residents (nik_ref)
                  ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    alamat_sealed BYTEA,            -- NULL when the export left it empty
    rt            TEXT CHECK (rt IS NULL OR length(rt) BETWEEN 1 AND 4),
    rw            TEXT CHECK (rw IS NULL OR length(rw) BETWEEN 1 AND 4)
);

CREATE TABLE chats (
    chat_id     BIGINT PRIMARY KEY,
    locale      TEXT NOT NULL DEFAULT 'id' CHECK (locale IN ('id', 'en')),
    blocked_at  TEXT,
    created_at  TEXT NOT NULL
);

-- A chat's consent to reminders about one resident or a household: subject_ref is the NIK's or
-- the KK number's lookup hash.
CREATE TABLE links (
    id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    chat_id      BIGINT NOT NULL REFERENCES chats (chat_id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('nik', 'household')),
    subject_ref  BYTEA NOT NULL,
    reminders_on BIGINT NOT NULL DEFAULT 1 CHECK (reminders_on IN (0, 1)),
    consent_at   TEXT NOT NULL,
    UNIQUE (chat_id, kind, subject_ref)
);
CREATE INDEX links_subject ON links (kind, subject_ref);

CREATE TABLE check_attempts (
    id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    at         TEXT NOT NULL,
    succeeded  BIGINT NOT NULL CHECK (succeeded IN (0, 1))
);
CREATE INDEX check_attempts_user_at ON check_attempts (user_id, at);
CREATE INDEX check_attempts_failed_at ON check_attempts (at) WHERE succeeded = 0;
CREATE UNIQUE INDEX check_attempts_one_success ON check_attempts (user_id) WHERE succeeded = 1;

CREATE TABLE check_bursts (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    started_at  TEXT NOT NULL,
    failures    BIGINT NOT NULL,          -- failed checks in the window when it was detected
    until       TEXT NOT NULL
);
CREATE INDEX check_bursts_until ON check_bursts (until);

CREATE TABLE check_holds (
    user_id   BIGINT PRIMARY KEY,
    asked_at  TEXT NOT NULL
);
CREATE INDEX check_holds_asked_at ON check_holds (asked_at);

CREATE TABLE users (
    telegram_id   BIGINT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('staff', 'official', 'admin')),
    service_point TEXT REFERENCES service_points (code),
    area_code     TEXT REFERENCES areas (code),
    created_at    TEXT NOT NULL,
    CHECK (role <> 'staff' OR service_point IS NOT NULL),
    CHECK (role <> 'official' OR area_code IS NOT NULL)
);

CREATE TABLE audit_log (
    id       BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at       TEXT NOT NULL,
    actor_id BIGINT,
    action   TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
FOR EACH ROW EXECUTE FUNCTION refuse('audit_log is append-only');
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION refuse('audit_log is append-only');

CREATE TABLE audit_repeats (
    audit_id  BIGINT PRIMARY KEY REFERENCES audit_log (id),
    actor_id  BIGINT NOT NULL,
    action    TEXT NOT NULL,
    hour      TEXT NOT NULL,                    -- UTC, `YYYY-MM-DDTHH`
    repeats   BIGINT NOT NULL DEFAULT 0 CHECK (repeats >= 0),  -- after the audited first one
    UNIQUE (actor_id, action, hour)
);

-- One row per visit. `start_at` is the slot start in UTC; `day` its date in WIB.
CREATE TABLE bookings (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    chat_id       BIGINT NOT NULL,
    nik_ref       BYTEA NOT NULL REFERENCES residents (nik_ref) DEFERRABLE INITIALLY IMMEDIATE,
    service       TEXT NOT NULL CHECK (service IN ('rekam', 'rusak', 'hilang', 'ambil')),
    service_point TEXT NOT NULL REFERENCES service_points (code),
    start_at      TEXT NOT NULL,
    day           TEXT NOT NULL,
    queue_number  BIGINT NOT NULL CHECK (queue_number > 0),
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN (
                      'pending', 'confirmed', 'checked_in', 'recorded', 'handed_over',
                      'no_show', 'rejected', 'cancelled', 'released')),
    reason        TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    version       BIGINT NOT NULL DEFAULT 1,
    UNIQUE (service_point, day, queue_number)
);
-- A person holds at most one active booking per service.
CREATE UNIQUE INDEX bookings_one_active_per_person_service ON bookings (nik_ref, service)
    WHERE state IN ('pending', 'confirmed', 'checked_in');
CREATE INDEX bookings_slot ON bookings (service_point, start_at, state);
CREATE INDEX bookings_chat ON bookings (chat_id, state);
CREATE INDEX bookings_day ON bookings (day, service_point);

-- Closures an admin sets; service_point NULL closes every point.
CREATE TABLE closures (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    service_point TEXT REFERENCES service_points (code),
    first_day     TEXT NOT NULL,
    last_day      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    created_by    BIGINT,
    created_at    TEXT NOT NULL,
    CHECK (first_day <= last_day)
);
CREATE INDEX closures_days ON closures (first_day, last_day);

CREATE TABLE waitlist (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    chat_id       BIGINT NOT NULL,
    nik_ref       BYTEA NOT NULL REFERENCES residents (nik_ref) DEFERRABLE INITIALLY IMMEDIATE,
    service       TEXT NOT NULL CHECK (service IN ('rekam', 'rusak', 'hilang', 'ambil')),
    service_point TEXT NOT NULL REFERENCES service_points (code),
    first_day     TEXT NOT NULL,
    last_day      TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'waiting'
                  CHECK (state IN ('waiting', 'offered', 'booked', 'expired', 'cancelled')),
    created_at    TEXT NOT NULL,
    CHECK (first_day <= last_day)
);
CREATE UNIQUE INDEX waitlist_one_per_person_service ON waitlist (nik_ref, service)
    WHERE state IN ('waiting', 'offered');
CREATE INDEX waitlist_point ON waitlist (service_point, state, id);

CREATE TABLE waitlist_offers (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    waitlist_id   BIGINT NOT NULL REFERENCES waitlist (id),
    service_point TEXT NOT NULL REFERENCES service_points (code),
    start_at      TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'taken', 'expired')),
    created_at    TEXT NOT NULL
);
CREATE INDEX waitlist_offers_open ON waitlist_offers (state, expires_at);

CREATE TABLE destruction_batches (
    id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    destroyed_on TEXT NOT NULL,
    method       TEXT NOT NULL CHECK (length(trim(method)) > 0),
    witnesses    TEXT NOT NULL CHECK (length(trim(witnesses)) > 0),
    created_by   BIGINT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX destruction_batches_day ON destruction_batches (destroyed_on);

CREATE TABLE tickets (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,    -- KR-7PX2MA (damaged) / KH-... (lost)
    chat_id       BIGINT NOT NULL,
    nik_ref       BYTEA NOT NULL REFERENCES residents (nik_ref) DEFERRABLE INITIALLY IMMEDIATE,
    kind          TEXT NOT NULL CHECK (kind IN ('damaged', 'lost')),
    cause         TEXT NOT NULL CHECK (cause IN ('peeling', 'chip', 'printing', 'other', 'lost')),
    description   TEXT CHECK (description IS NULL OR length(description) BETWEEN 3 AND 200),
    file_id       TEXT,                    -- Telegram file_id of the photo or police report
    file_type     TEXT CHECK (file_type IS NULL OR file_type IN ('photo', 'document')),
    service_point TEXT NOT NULL REFERENCES service_points (code),
    state         TEXT NOT NULL DEFAULT 'reported' CHECK (state IN (
                      'reported', 'verified', 'printed', 'ready', 'not_collected', 'handed_over',
                      'rejected')),
    reason        TEXT,                    -- why it was rejected
    ready_until   TEXT,                    -- pick-up deadline (WIB date) once ready
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CHECK ((kind = 'lost') = (cause = 'lost')),
    CHECK (kind <> 'lost' OR file_id IS NOT NULL),  -- the police loss report is required
    CHECK ((file_id IS NULL) = (file_type IS NULL)),
    CHECK (cause <> 'other' OR description IS NOT NULL),
    CHECK (state <> 'rejected' OR reason IS NOT NULL)
);
CREATE UNIQUE INDEX tickets_one_open_per_person ON tickets (nik_ref)
    WHERE state NOT IN ('handed_over', 'rejected');
CREATE INDEX tickets_nik ON tickets (nik_ref);
CREATE INDEX tickets_chat ON tickets (chat_id, created_at);
CREATE INDEX tickets_point_state ON tickets (service_point, state);
CREATE INDEX tickets_ready_until ON tickets (state, ready_until);
-- reported → verified → printed → ready → handed_over, or rejected from reported/verified;
-- ready → not_collected after the deadline, and a card not collected may still be handed over.
CREATE TRIGGER tickets_state_forward BEFORE UPDATE OF state ON tickets
FOR EACH ROW WHEN (NEW.state <> OLD.state AND NOT (
    (OLD.state = 'reported' AND NEW.state IN ('verified', 'rejected'))
    OR (OLD.state = 'verified' AND NEW.state IN ('printed', 'rejected'))
    OR (OLD.state = 'printed' AND NEW.state = 'ready')
    OR (OLD.state = 'ready' AND NEW.state IN ('handed_over', 'not_collected'))
    OR (OLD.state = 'not_collected' AND NEW.state = 'handed_over')))
EXECUTE FUNCTION refuse('a ticket cannot jump states or go backwards');

CREATE TABLE ticket_events (
    id        BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    at        TEXT NOT NULL,
    state     TEXT NOT NULL CHECK (state IN (
                  'reported', 'verified', 'printed', 'ready', 'not_collected', 'handed_over',
                  'rejected')),
    actor_id  BIGINT,                     -- the staff member; NULL for the citizen or a job
    note      TEXT
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

CREATE TABLE received_cards (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    ticket_id   BIGINT NOT NULL UNIQUE REFERENCES tickets (id),
    nik_ref     BYTEA NOT NULL,
    received_at TEXT NOT NULL,
    batch_id    BIGINT REFERENCES destruction_batches (id)
);
CREATE INDEX received_cards_batch ON received_cards (batch_id);
CREATE TRIGGER received_cards_destroyed_once BEFORE UPDATE OF batch_id ON received_cards
FOR EACH ROW WHEN (OLD.batch_id IS NOT NULL)
EXECUTE FUNCTION refuse('a card can be in at most one destruction batch');

-- Every message the bot sends on its own; `text` and `plan` are sealed (bound to the chat, and
-- to the idempotency key).
CREATE TABLE outbox (
    id                  BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    idempotency_key     TEXT NOT NULL UNIQUE,  -- planning the same message twice sends it once
    chat_id             BIGINT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN (
                            'reminder', 'broadcast', 'staff', 'reply', 'booking')),
    text                BYTEA NOT NULL CHECK (length(text) > 0),
    reply_markup        TEXT CHECK (reply_markup IS NULL OR json_valid(reply_markup)),
    state               TEXT NOT NULL DEFAULT 'queued' CHECK (state IN (
                            'queued', 'sending', 'sent', 'blocked', 'failed', 'withdrawn')),
    attempts            BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    not_before          TEXT NOT NULL,         -- quiet hours and retry backoff
    telegram_message_id BIGINT,
    error               TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    plan                BYTEA,
    edit_message_id     BIGINT,                -- set: edit this message of the chat
    CHECK ((state = 'sent') = (telegram_message_id IS NOT NULL)),
    CHECK (state <> 'failed' OR error IS NOT NULL)
);
CREATE INDEX outbox_due ON outbox (state, not_before, id);
CREATE INDEX outbox_chat ON outbox (chat_id, state);

CREATE TABLE booking_notices (
    outbox_id  BIGINT PRIMARY KEY REFERENCES outbox (id),
    booking_id BIGINT NOT NULL REFERENCES bookings (id),
    version    BIGINT NOT NULL,  -- the booking's version the notice shows
    start_at   TEXT NOT NULL,     -- the slot it shows (UTC)
    retired_at TEXT               -- when it was edited (or withdrawn) as outdated
);
CREATE INDEX booking_notices_open ON booking_notices (booking_id) WHERE retired_at IS NULL;

CREATE TABLE blocked_chats (
    chat_id    BIGINT PRIMARY KEY,
    blocked_at TEXT NOT NULL
);

CREATE TABLE broadcasts (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    author_id   BIGINT NOT NULL,            -- Telegram id of the official or admin
    area_code   TEXT NOT NULL REFERENCES areas (code),
    audience    TEXT NOT NULL CHECK (audience IN (
                    'linked', 'unrecorded', 'turning17', 'deactivated')),
    template    TEXT NOT NULL CHECK (template IN ('invitation', 'mobile', 'deadline', 'free')),
    parameters  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(parameters)),  -- date, place, text
    recipients  BIGINT NOT NULL CHECK (recipients >= 0),  -- chats messaged; > 0 once saved
    created_at  TEXT NOT NULL,               -- UTC, fixed width (text order = time order)
    reported_at TEXT                         -- NULL until the delivery report is planned
);
CREATE INDEX broadcasts_author ON broadcasts (author_id, created_at);
CREATE INDEX broadcasts_unreported ON broadcasts (id) WHERE reported_at IS NULL;

CREATE TABLE deactivation_runs (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    deadline      TEXT NOT NULL UNIQUE,      -- the cycle's recording deadline (ISO date)
    cohort_date   TEXT NOT NULL,             -- wajib KTP on this day (31 December)
    state         TEXT NOT NULL DEFAULT 'previewed' CHECK (state IN ('previewed', 'applied')),
    counts        TEXT NOT NULL CHECK (json_valid(counts)),  -- per desa, as previewed
    total         BIGINT NOT NULL CHECK (total >= 0),
    previewed_at  TEXT NOT NULL,
    approved_by   BIGINT,                    -- the admin's Telegram id
    applied_at    TEXT,
    applied_count BIGINT CHECK (applied_count IS NULL OR applied_count >= 0),
    CHECK ((state = 'applied') = (applied_at IS NOT NULL)),
    CHECK ((state = 'applied') = (approved_by IS NOT NULL)),
    CHECK ((state = 'applied') = (applied_count IS NOT NULL))
);
CREATE TRIGGER deactivation_runs_applied_once BEFORE UPDATE ON deactivation_runs
FOR EACH ROW WHEN (OLD.state = 'applied')
EXECUTE FUNCTION refuse('a deactivation run is applied once');

CREATE TABLE invites (
    token_hash    TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('staff', 'official', 'admin')),
    service_point TEXT REFERENCES service_points (code),
    area_code     TEXT REFERENCES areas (code),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    claimed_by    BIGINT,
    claimed_at    TEXT,
    revoked_at    TEXT,
    CHECK ((claimed_by IS NULL) = (claimed_at IS NULL))
);

CREATE TABLE processed_updates (
    update_id BIGINT PRIMARY KEY,
    at        TEXT NOT NULL
);

-- Which key the database is sealed with (a short public fingerprint, never the key). SQLite's
-- migration 0011 wrote its row with a SQL function of the connection; here `migrate` writes it
-- from Python after this file (the key never reaches the server).
CREATE TABLE vault_key (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    since       TEXT NOT NULL
);

CREATE TABLE job_runs (
    job         TEXT NOT NULL,
    day         TEXT NOT NULL,
    planned     BIGINT NOT NULL DEFAULT 0,   -- messages planned by that run
    finished_at TEXT NOT NULL,
    PRIMARY KEY (job, day)
);

CREATE TABLE backup_runs (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    finished_at TEXT NOT NULL,
    ok          BIGINT NOT NULL CHECK (ok IN (0, 1)),
    file        TEXT,
    size_bytes  BIGINT,
    error       TEXT,
    CHECK ((ok = 1 AND file IS NOT NULL AND error IS NULL) OR (ok = 0 AND error IS NOT NULL))
);
CREATE INDEX backup_runs_by_outcome ON backup_runs (ok, finished_at);

CREATE TABLE job_health (
    job              TEXT PRIMARY KEY,
    last_success_at  TEXT,
    last_failure_at  TEXT,
    last_error       TEXT,
    failures         BIGINT NOT NULL DEFAULT 0 CHECK (failures >= 0),
    CHECK ((last_failure_at IS NULL) = (last_error IS NULL))
);

CREATE TABLE incidents (
    id                 BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('outbox', 'telegram', 'job', 'backup', 'disk')),
    subject            TEXT NOT NULL DEFAULT '',  -- the job's name for kind 'job'
    detail             TEXT NOT NULL DEFAULT '',  -- a count, an error's class
    opened_at          TEXT NOT NULL,
    closed_at          TEXT,
    open_notified_at   TEXT,                      -- when the admins were told it began
    close_notified_at  TEXT,                      -- when they were told it is over
    CHECK (close_notified_at IS NULL OR closed_at IS NOT NULL)
);
CREATE UNIQUE INDEX incidents_open ON incidents (kind, subject) WHERE closed_at IS NULL;
CREATE INDEX incidents_to_notify ON incidents (id)
    WHERE open_notified_at IS NULL OR (closed_at IS NOT NULL AND close_notified_at IS NULL);
