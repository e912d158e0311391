-- A store file as gympulse at commit 544492c wrote it, the last release before schemas had
-- versions (user_version 0): that commit's CREATE statements (pipeline/stores/sqlite.py,
-- pipeline/registry.py, pipeline/journal.py, pipeline/strength_log.py,
-- dashboards/accounts.py, read with `git show 544492c:<path>`) and the ALTER TABLEs its
-- open routines ran on a new file; the rows are made up. tests/test_schema_migrations.py.
-- Since then the registry got erased_windows.

-- pipeline/stores/sqlite.py
CREATE TABLE IF NOT EXISTS samples (
    sensor     TEXT    NOT NULL,
    ts         INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    site       TEXT    NOT NULL,
    collector  TEXT    NOT NULL,
    bpm        INTEGER NOT NULL,
    rr         TEXT    NOT NULL DEFAULT '',
    contact    INTEGER,
    energy_kj  INTEGER,
    athlete_id INTEGER,
    pct_max    INTEGER,
    zone       INTEGER,
    PRIMARY KEY (sensor, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS samples_athlete_ts ON samples (athlete_id, ts);
CREATE INDEX IF NOT EXISTS samples_ts ON samples (ts);
CREATE TABLE IF NOT EXISTS machine_samples (
    sensor      TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    site        TEXT    NOT NULL,
    collector   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    power_w     INTEGER,
    cadence     REAL,
    speed_kmh   REAL,
    distance_m  INTEGER,
    split_s     INTEGER,
    pace_s      INTEGER,
    heart_rate  INTEGER,
    energy_kcal INTEGER,
    athlete_id  INTEGER,
    PRIMARY KEY (sensor, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS machine_athlete_ts ON machine_samples (athlete_id, ts);
CREATE TABLE IF NOT EXISTS quarantine (
    id          INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    topic       TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    reason      TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    size        INTEGER,
    sha256      TEXT,
    key         TEXT
);

-- pipeline/registry.py
CREATE TABLE IF NOT EXISTS athletes (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    birth_year  INTEGER,
    sex         TEXT CHECK (sex IN ('male', 'female') OR sex IS NULL),
    weight_kg   REAL,
    hr_max      INTEGER,
    hr_rest     INTEGER,
    display_name TEXT NOT NULL DEFAULT '',  -- shown on shared screens ("Anna B."), see board_name
    arrival     TEXT,                      -- stay dates (ISO dates, site time), optional
    departure   TEXT,
    created_ms  INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER) * 1000)
);
CREATE TABLE IF NOT EXISTS sensors (
    id     TEXT PRIMARY KEY,          -- normalised sensor id as it appears in topics
    label  TEXT NOT NULL DEFAULT ''   -- what the board shows for an unassigned strap
);
CREATE TABLE IF NOT EXISTS assignments (
    id          INTEGER PRIMARY KEY,
    sensor      TEXT    NOT NULL,
    athlete_id  INTEGER NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER            -- NULL: open-ended
);
CREATE INDEX IF NOT EXISTS assignments_sensor ON assignments (sensor, start_ms);
-- A change counter every writer bumps (triggers: the CLI, the admin form, a hand edit), so
-- another process learns of a change with one tiny read instead of polling the tables.
CREATE TABLE IF NOT EXISTS registry_version (
    id  INTEGER PRIMARY KEY CHECK (id = 0),
    n   INTEGER NOT NULL
);
INSERT OR IGNORE INTO registry_version (id, n) VALUES (0, 0);
CREATE TRIGGER IF NOT EXISTS assignments_ins AFTER INSERT ON assignments
    BEGIN UPDATE registry_version SET n = n + 1 WHERE id = 0; END;
CREATE TRIGGER IF NOT EXISTS assignments_upd AFTER UPDATE ON assignments
    BEGIN UPDATE registry_version SET n = n + 1 WHERE id = 0; END;
CREATE TRIGGER IF NOT EXISTS assignments_del AFTER DELETE ON assignments
    BEGIN UPDATE registry_version SET n = n + 1 WHERE id = 0; END;
CREATE TRIGGER IF NOT EXISTS athletes_ins AFTER INSERT ON athletes
    BEGIN UPDATE registry_version SET n = n + 1 WHERE id = 0; END;
CREATE TRIGGER IF NOT EXISTS athletes_upd AFTER UPDATE ON athletes
    BEGIN UPDATE registry_version SET n = n + 1 WHERE id = 0; END;
CREATE TRIGGER IF NOT EXISTS athletes_del AFTER DELETE ON athletes
    BEGIN UPDATE registry_version SET n = n + 1 WHERE id = 0; END;

-- pipeline/journal.py
CREATE TABLE IF NOT EXISTS coach_notes (
    id          INTEGER PRIMARY KEY,
    athlete_id  INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    author      TEXT    NOT NULL DEFAULT '',
    text        TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS coach_notes_athlete ON coach_notes (athlete_id, created_ms);
CREATE TABLE IF NOT EXISTS wellness (
    athlete_id  INTEGER NOT NULL,
    date        TEXT    NOT NULL,
    sleep       INTEGER NOT NULL CHECK (sleep BETWEEN 1 AND 5),
    stress      INTEGER NOT NULL CHECK (stress BETWEEN 1 AND 5),
    mood        INTEGER NOT NULL CHECK (mood BETWEEN 1 AND 5),
    energy      INTEGER NOT NULL CHECK (energy BETWEEN 1 AND 5),
    soreness    INTEGER NOT NULL CHECK (soreness BETWEEN 1 AND 5),
    note        TEXT    NOT NULL DEFAULT '',
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (athlete_id, date)
);
CREATE TABLE IF NOT EXISTS session_rpe (
    athlete_id  INTEGER NOT NULL,
    session_id  TEXT    NOT NULL,
    rpe         REAL    NOT NULL CHECK (rpe BETWEEN 0 AND 10),
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (athlete_id, session_id)
);
CREATE TABLE IF NOT EXISTS morning_recordings (
    id          INTEGER PRIMARY KEY,
    athlete_id  INTEGER NOT NULL,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER NOT NULL CHECK (end_ms > start_ms),
    tag         TEXT    NOT NULL DEFAULT 'morning',
    updated_ms  INTEGER NOT NULL
);
-- The reading's columns (added to files made before they existed: Journal.__init__).

CREATE INDEX IF NOT EXISTS morning_recordings_athlete ON morning_recordings (athlete_id, start_ms);
CREATE TABLE IF NOT EXISTS classes (
    id          INTEGER PRIMARY KEY,
    site        TEXT    NOT NULL DEFAULT '',
    name        TEXT    NOT NULL,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER NOT NULL CHECK (end_ms > start_ms),
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS classes_start ON classes (start_ms);

-- pipeline/strength_log.py
CREATE TABLE IF NOT EXISTS exercises (
    key            TEXT PRIMARY KEY,
    name_en        TEXT NOT NULL,
    name_nl        TEXT NOT NULL,
    muscle         TEXT NOT NULL,
    main           INTEGER NOT NULL DEFAULT 0,
    added_by_coach INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS strength_sets (
    id         INTEGER PRIMARY KEY,
    athlete_id INTEGER NOT NULL,
    ts_ms      INTEGER NOT NULL,
    exercise   TEXT    NOT NULL REFERENCES exercises (key),
    reps       INTEGER NOT NULL CHECK (reps BETWEEN 1 AND 100),
    kg         REAL    NOT NULL CHECK (kg BETWEEN 0 AND 500),
    rpe        REAL    CHECK (rpe IS NULL OR rpe BETWEEN 1 AND 10),
    rir        INTEGER CHECK (rir IS NULL OR rir BETWEEN 0 AND 10),
    logged_by  TEXT    NOT NULL CHECK (logged_by IN ('guest', 'coach'))
);
CREATE INDEX IF NOT EXISTS strength_sets_athlete ON strength_sets (athlete_id, ts_ms);
CREATE TABLE IF NOT EXISTS strength_templates (
    class_name TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    exercise   TEXT    NOT NULL REFERENCES exercises (key),
    sets       INTEGER NOT NULL,
    reps       INTEGER NOT NULL,
    kg         REAL,
    PRIMARY KEY (class_name, position)
);

-- dashboards/accounts.py
CREATE TABLE IF NOT EXISTS web_users (
    id          INTEGER PRIMARY KEY,
    username    TEXT    NOT NULL UNIQUE,
    pw_hash     TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS web_sessions (
    token_hash  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES web_users (id) ON DELETE CASCADE,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS guest_tokens (
    id          INTEGER PRIMARY KEY,
    athlete_id  INTEGER NOT NULL,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER,
    lang        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS guest_tokens_athlete ON guest_tokens (athlete_id);
CREATE TABLE IF NOT EXISTS guest_token_nonce (  -- re-derive a link to show it again
    token_id  INTEGER PRIMARY KEY,
    nonce     TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS guest_token_use (    -- when a link was last opened (per minute)
    token_id      INTEGER PRIMARY KEY,
    last_used_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS board_tokens (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,
    label       TEXT    NOT NULL DEFAULT '',
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER
);

-- what 544492c's open routines added to a new file
CREATE INDEX IF NOT EXISTS quarantine_key ON quarantine (key) WHERE key IS NOT NULL;
ALTER TABLE athletes ADD COLUMN ftp_w INTEGER;
ALTER TABLE morning_recordings ADD COLUMN method TEXT NOT NULL DEFAULT 'coach';
ALTER TABLE morning_recordings ADD COLUMN status TEXT NOT NULL DEFAULT 'counted';
ALTER TABLE morning_recordings ADD COLUMN sensor TEXT;
ALTER TABLE morning_recordings ADD COLUMN n_rr INTEGER;
ALTER TABLE morning_recordings ADD COLUMN n_corrected INTEGER;
ALTER TABLE morning_recordings ADD COLUMN rmssd REAL;
ALTER TABLE morning_recordings ADD COLUMN ln_rmssd REAL;
ALTER TABLE morning_recordings ADD COLUMN hr_rest REAL;

-- made-up rows
INSERT INTO athletes (id, name, birth_year, sex, weight_kg, hr_max, hr_rest, display_name,
                      arrival, departure, created_ms, ftp_w)
VALUES (1, 'Anna de Vries', 1988, 'female', 61.5, 186, 52, 'Anna V.', '2026-11-02',
        '2026-11-23', 1760000000000, NULL),
       (2, 'Bram Jansen', 1979, 'male', 82.0, NULL, 60, 'Bram J.', NULL, NULL,
        1760000100000, 230);
INSERT INTO sensors (id, label) VALUES ('strap-4', 'Strap 4'), ('bike-1', 'Bike 1');
INSERT INTO assignments (id, sensor, athlete_id, start_ms, end_ms)
VALUES (1, 'strap-4', 1, 1760000000000, 1760003600000),
       (2, 'strap-4', 2, 1760003600000, NULL);
INSERT INTO samples (sensor, ts, seq, site, collector, bpm, rr, contact, energy_kj,
                     athlete_id, pct_max, zone)
VALUES ('strap-4', 1760000001000, 1, 'gym', 'pi-1', 121, '496,500', 1, NULL, 1, 65, 2),
       ('strap-4', 1760003601000, 2, 'gym', 'pi-1', 98, '612', 1, 12, 2, 51, 1);
INSERT INTO machine_samples (sensor, ts, seq, site, collector, kind, power_w, cadence,
                             speed_kmh, distance_m, split_s, pace_s, heart_rate,
                             energy_kcal, athlete_id)
VALUES ('bike-1', 1760003602000, 7, 'gym', 'pi-1', 'bike', 180, 88.5, 31.2, 1200, NULL,
        NULL, NULL, 40, 2);
INSERT INTO quarantine (id, received_ms, topic, payload, reason, detail, size, sha256, key)
VALUES (1, 1760000005000, 'gympulse/v1/gym/pi-1/strap-4/hr', X'7B7D', 'invalid', 'no bpm',
        2, '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', NULL);
INSERT INTO coach_notes (id, athlete_id, created_ms, author, text)
VALUES (1, 1, 1760010000000, 'coach', 'Slept badly, keep it light today.');
INSERT INTO wellness (athlete_id, date, sleep, stress, mood, energy, soreness, note, updated_ms)
VALUES (1, '2026-11-03', 2, 4, 3, 2, 3, 'tired', 1760020000000);
INSERT INTO session_rpe (athlete_id, session_id, rpe, updated_ms)
VALUES (2, 'class-1', 6.5, 1760030000000);
INSERT INTO morning_recordings (id, athlete_id, start_ms, end_ms, tag, updated_ms, method,
                                status, sensor, n_rr, n_corrected, rmssd, ln_rmssd, hr_rest)
VALUES (1, 1, 1760020000000, 1760020180000, 'morning', 1760020200000, 'guest', 'counted',
        'strap-4', 210, 2, 48.2, 3.875, 54.0);
INSERT INTO classes (id, site, name, start_ms, end_ms, updated_ms)
VALUES (1, 'gym', 'Spinning', 1760003600000, 1760007200000, 1760000000000);
INSERT INTO exercises (key, name_en, name_nl, muscle, main, added_by_coach)
VALUES ('sled-push', 'Sled push', 'Sleeduwen', 'legs', 0, 1);
INSERT INTO strength_sets (id, athlete_id, ts_ms, exercise, reps, kg, rpe, rir, logged_by)
VALUES (1, 2, 1760005000000, 'sled-push', 8, 60.0, 7.0, NULL, 'coach');
INSERT INTO strength_templates (class_name, position, exercise, sets, reps, kg)
VALUES ('Strength', 1, 'sled-push', 3, 8, NULL);
INSERT INTO web_users (id, username, pw_hash, created_ms)
VALUES (1, 'coach', '$argon2id$v=19$m=65536,t=3,p=4$bm90LWEtcmVhbC1oYXNo$bm90LXJlYWw',
        1760000000000);
INSERT INTO web_sessions (token_hash, user_id, created_ms, expires_ms)
VALUES ('5e55', 1, 1760000000000, 1760043200000);
INSERT INTO guest_tokens (id, athlete_id, token_hash, created_ms, expires_ms, revoked_ms, lang)
VALUES (1, 1, 'a3f1', 1760000000000, 1790000000000, NULL, 'nl'),
       (2, 2, 'b7c2', 1760000100000, 1790000000000, 1760500000000, 'en');
INSERT INTO guest_token_nonce (token_id, nonce) VALUES (1, 'n0nce-1');
INSERT INTO guest_token_use (token_id, last_used_ms) VALUES (1, 1760010000000);
INSERT INTO board_tokens (id, token_hash, label, created_ms, revoked_ms)
VALUES (1, 'b0a7', 'TV by the bikes', 1760000000000, NULL);
