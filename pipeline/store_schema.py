"""The schema of the store file (``store.path``): every table of the sample store, the
registry, the journal, the strength log and the accounts, as one ordered list of steps
(:mod:`gympulse.sqlite_schema`). Every opener of the file runs :func:`migrate_store`
(:class:`gympulse.pipeline.sqlite_db.SqliteDatabase`, :class:`SqliteStore.open
<gympulse.pipeline.stores.sqlite.SqliteStore>`), so whichever process comes first brings
the file up to date, in one transaction, and the others find it done.

A new table or column is a new :class:`Step` appended to :data:`STORE_SCHEMA`; a released
step is never edited (docs/architecture.md, "Schema versions"). The analytics' derived
tables (:mod:`gympulse.pipeline.analytics.tables`) are not here: the store's table role
creates them from the frames ``gympulse analyze`` writes, which it can always write again.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gympulse.sqlite_schema import Schema, Step, add_missing_columns, migrate

__all__ = ["STORE_SCHEMA", "migrate_store"]

# Step 1: the tables as they were when versioning began (created IF NOT EXISTS, so a file
# from before versioning keeps its tables and rows).
_BASELINE = """
-- The sample store (pipeline/stores/sqlite.py)
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
-- The registry (pipeline/registry.py)
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
-- Where an erased person wore a strap (no one named): ingestion refuses late replays there.
CREATE TABLE IF NOT EXISTS erased_windows (
    sensor    TEXT    NOT NULL,
    start_ms  INTEGER NOT NULL,
    end_ms    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS erased_windows_sensor ON erased_windows (sensor, start_ms);
-- The journal (pipeline/journal.py)
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
-- The reading's columns: _ADDED_COLUMNS below.
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
-- The strength log (pipeline/strength_log.py)
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
    logged_by  TEXT    NOT NULL CHECK (logged_by IN ('guest', 'coach')),
    warmup     INTEGER NOT NULL DEFAULT 0 CHECK (warmup IN (0, 1))
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
-- Accounts and guest links (dashboards/accounts.py)
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
"""

# Columns that files from before versioning grew one release at a time: (table, [(name,
# declaration)]), added in place by step 1 when a file lacks them.
_ADDED_COLUMNS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("samples", (("pct_max", "INTEGER"), ("zone", "INTEGER"))),
    ("quarantine", (("size", "INTEGER"), ("sha256", "TEXT"), ("key", "TEXT"))),
    (
        "athletes",
        (
            ("display_name", "TEXT NOT NULL DEFAULT ''"),
            ("arrival", "TEXT"),
            ("departure", "TEXT"),
            ("ftp_w", "INTEGER"),
        ),
    ),
    (
        "morning_recordings",
        (
            ("method", "TEXT NOT NULL DEFAULT 'coach'"),
            ("status", "TEXT NOT NULL DEFAULT 'counted'"),
            ("sensor", "TEXT"),
            ("n_rr", "INTEGER"),
            ("n_corrected", "INTEGER"),
            ("rmssd", "REAL"),
            ("ln_rmssd", "REAL"),
            ("hr_rest", "REAL"),
        ),
    ),
    ("strength_sets", (("warmup", "INTEGER NOT NULL DEFAULT 0 CHECK (warmup IN (0, 1))"),)),
)


def _adopt(conn: sqlite3.Connection) -> None:
    for table, columns in _ADDED_COLUMNS:
        add_missing_columns(conn, table, columns)
    conn.execute(
        "CREATE INDEX IF NOT EXISTS quarantine_key ON quarantine (key) WHERE key IS NOT NULL"
    )


# Step 3 (issue 18 item 7): consent per domain and the access log (pipeline/consent.py,
# pipeline/access_log.py). Consent is a history: every decision is a row, the latest of a
# (person, domain) counts; a decision bumps the registry's change counter, so ingestion and
# the live board see a withdrawal with their next look at the counter.
_CONSENT_AND_ACCESS_LOG = """
CREATE TABLE consent_events (
    id          INTEGER PRIMARY KEY,
    athlete_id  INTEGER NOT NULL,
    domain      TEXT    NOT NULL
        CHECK (domain IN ('live', 'morning', 'wellness', 'strength', 'grafana')),
    given       INTEGER NOT NULL CHECK (given IN (0, 1)),
    ts_ms       INTEGER NOT NULL,   -- server time (contract.now_ms)
    by_whom     TEXT    NOT NULL    -- 'guest' (her own page) or 'coach:<login>' / 'operator'
);
CREATE INDEX consent_events_athlete ON consent_events (athlete_id, domain, id);
CREATE TRIGGER consent_events_ins AFTER INSERT ON consent_events
    BEGIN UPDATE registry_version SET n = n + 1 WHERE id = 0; END;
CREATE TRIGGER consent_events_del AFTER DELETE ON consent_events
    BEGIN UPDATE registry_version SET n = n + 1 WHERE id = 0; END;
-- When this file began recording consent: guests created before it are the site's
-- existing guests (settings consent.existing_guests).
CREATE TABLE consent_start (
    id     INTEGER PRIMARY KEY CHECK (id = 0),
    ts_ms  INTEGER NOT NULL
);
INSERT INTO consent_start (id, ts_ms) VALUES (0, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
CREATE TABLE access_log (
    id          INTEGER PRIMARY KEY,
    ts_ms       INTEGER NOT NULL,
    actor       TEXT    NOT NULL,   -- 'coach:<login>', 'operator' (the command line), 'guest'
    athlete_id  INTEGER,            -- whose data; NULL on an erasure's entry (nobody named)
    what        TEXT    NOT NULL,   -- 'view', 'export', 'erasure', 'consent'
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX access_log_athlete ON access_log (athlete_id, ts_ms);
CREATE INDEX access_log_ts ON access_log (ts_ms);
"""

# The coach's choice per guest (dashboards/access.py stay_link_end_ms): her guest links
# work until keep_days after her departure day (0: to the end of that day). No row: each
# link runs until it expires, whatever the stay.
_AFTER_STAY = """
CREATE TABLE guest_after_stay (
    athlete_id  INTEGER PRIMARY KEY,
    keep_days   INTEGER NOT NULL CHECK (keep_days BETWEEN 0 AND 3650),
    set_ms      INTEGER NOT NULL,   -- server time (contract.now_ms)
    by_whom     TEXT    NOT NULL    -- 'coach:<login>'
);
"""

STORE_SCHEMA = Schema(
    "store",
    (
        Step("the tables when versioning began; adopts files from before it", _BASELINE, _adopt),
        Step(
            "coach accounts: an address and a language for the coaches' morning email",
            "ALTER TABLE web_users ADD COLUMN email TEXT NOT NULL DEFAULT '';\n"
            "ALTER TABLE web_users ADD COLUMN lang TEXT NOT NULL DEFAULT '';\n",
        ),
        Step("consent per domain and the access log", _CONSENT_AND_ACCESS_LOG),
        Step("how long a guest's links keep working after her stay", _AFTER_STAY),
    ),
)


def migrate_store(conn: sqlite3.Connection, path: str | Path) -> int:
    """Bring the store file to :data:`STORE_SCHEMA`'s latest step (see
    :func:`gympulse.sqlite_schema.migrate`)."""
    return migrate(conn, STORE_SCHEMA, path)
