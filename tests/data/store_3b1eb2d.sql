-- A store file as gympulse at commit 3b1eb2d wrote it, before schemas had versions
-- (user_version 0). The CREATE statements are that commit's (pipeline/registry.py,
-- pipeline/journal.py, pipeline/stores/sqlite.py, dashboards/accounts.py; a subset of its
-- tables), copied by hand; the rows are made up. Used by tests/test_schema_migrations.py.
-- Since then athletes got display_name, arrival, departure and ftp_w, and
-- morning_recordings the reading's columns (method, status, sensor, n_rr, ...).
CREATE TABLE athletes (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    birth_year  INTEGER,
    sex         TEXT CHECK (sex IN ('male', 'female') OR sex IS NULL),
    weight_kg   REAL,
    hr_max      INTEGER,
    hr_rest     INTEGER,
    created_ms  INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER) * 1000)
);
CREATE TABLE sensors (
    id     TEXT PRIMARY KEY,
    label  TEXT NOT NULL DEFAULT ''
);
CREATE TABLE assignments (
    id          INTEGER PRIMARY KEY,
    sensor      TEXT    NOT NULL,
    athlete_id  INTEGER NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER
);
CREATE INDEX assignments_sensor ON assignments (sensor, start_ms);
CREATE TABLE registry_version (
    id  INTEGER PRIMARY KEY CHECK (id = 0),
    n   INTEGER NOT NULL
);
CREATE TABLE morning_recordings (
    id          INTEGER PRIMARY KEY,
    athlete_id  INTEGER NOT NULL,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER NOT NULL CHECK (end_ms > start_ms),
    tag         TEXT    NOT NULL DEFAULT 'morning',
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX morning_recordings_athlete ON morning_recordings (athlete_id, start_ms);
CREATE TABLE samples (
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
CREATE TABLE guest_tokens (
    id          INTEGER PRIMARY KEY,
    athlete_id  INTEGER NOT NULL,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER,
    lang        TEXT    NOT NULL DEFAULT ''
);

INSERT INTO athletes (id, name, birth_year, sex, weight_kg, hr_max, hr_rest, created_ms)
VALUES (1, 'Anna de Vries', 1988, 'female', 61.5, 186, 52, 1760000000000),
       (2, 'Bram Jansen', 1979, 'male', 82.0, NULL, 60, 1760000100000);
INSERT INTO sensors (id, label) VALUES ('strap-4', 'Strap 4');
INSERT INTO assignments (id, sensor, athlete_id, start_ms, end_ms)
VALUES (1, 'strap-4', 1, 1760000000000, 1760003600000),
       (2, 'strap-4', 2, 1760003600000, NULL);
INSERT INTO registry_version (id, n) VALUES (0, 4);
INSERT INTO morning_recordings (id, athlete_id, start_ms, end_ms, tag, updated_ms)
VALUES (1, 1, 1760020000000, 1760020180000, 'morning', 1760020200000);
INSERT INTO samples (sensor, ts, seq, site, collector, bpm, rr, contact, energy_kj,
                     athlete_id, pct_max, zone)
VALUES ('strap-4', 1760000001000, 1, 'gym', 'pi-1', 71, '845,851', 1, NULL, 1, 38, 0),
       ('strap-4', 1760000002000, 2, 'gym', 'pi-1', 72, '833', 1, NULL, 1, 39, 0);
INSERT INTO guest_tokens (id, athlete_id, token_hash, created_ms, expires_ms, revoked_ms, lang)
VALUES (1, 1, 'a3f1', 1760000000000, 1790000000000, NULL, 'nl');
