"""Versioned schemas (issue 17 item 3): one migrator per SQLite file (gympulse.sqlite_schema).

- files written by older releases (tests/data/store_*.sql: their CREATE statements and a
  few made-up rows) upgrade through the real ``gympulse`` command without losing a row,
  and the columns added since hold their defaults;
- two processes opening the same new file at once (ingest's and the web app's openers)
  never race into "duplicate column name";
- a file whose ``user_version`` is newer than this release's is refused with one line;
- every product SQLite file ends at its schema's latest step, holding exactly what the
  steps create (a table added outside the migrator fails here).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gympulse.collectors.buffer import QUEUE_SCHEMA, DiskQueue
from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.data import Data
from gympulse.pipeline.analytics.tables import TABLES
from gympulse.pipeline.consent import Policy
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.store_schema import STORE_SCHEMA
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.pipeline.strength_log import StrengthLog
from gympulse.sqlite_schema import Schema, SchemaTooNew, Step, migrate, user_version

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
DERIVED = {t.name for t in TABLES}  # the analytics' tables: the store's table role makes them


def _cli(
    db: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GYMPULSE_")} | (env or {})
    env["GYMPULSE_STORE__PATH"] = str(db)
    return subprocess.run(
        [sys.executable, "-m", "gympulse.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=db.parent,
    )


def _old_file(tmp_path: Path, fixture: str) -> Path:
    db = tmp_path / "gympulse.db"
    with sqlite3.connect(db) as conn:
        conn.executescript((DATA / fixture).read_text(encoding="utf-8"))
    conn.close()
    return db


def _rows(db: Path) -> dict[str, tuple[list[str], list[tuple[object, ...]]]]:
    """Every table's columns and rows (ordered), to compare before and after an upgrade."""
    out: dict[str, tuple[list[str], list[tuple[object, ...]]]] = {}
    conn = sqlite3.connect(db)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        for table in tables:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            out[table] = (cols, rows)
    finally:
        conn.close()
    return out


def _kept(before: dict[str, tuple[list[str], list[tuple[object, ...]]]], db: Path) -> None:
    after = _rows(db)
    for table, (cols, rows) in before.items():
        assert table in after, f"{table} is gone"
        new_cols, new_rows = after[table]
        assert new_cols[: len(cols)] == cols, table  # old columns kept, in place
        kept = [r[: len(cols)] for r in new_rows]
        for row in rows:
            assert row in kept, f"{table}: {row} lost"


def _one(db: Path, sql: str) -> tuple[object, ...]:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(sql).fetchone()
    finally:
        conn.close()
    assert row is not None, sql
    return tuple(row)


# ------------------------------------------------------------------ (a) older files


def test_a_store_file_of_544492c_upgrades_through_the_cli_without_losing_a_row(
    tmp_path: Path,
) -> None:
    db = _old_file(tmp_path, "store_544492c.sql")
    before = _rows(db)
    assert _one(db, "PRAGMA user_version") == (0,)

    listed = _cli(db, "reading", "list", "1")  # opens the registry, the journal, the store
    assert listed.returncode == 0, listed.stderr
    assert "guest\tcounted" in listed.stdout  # Anna's reading, read back by the product

    assert _one(db, "PRAGMA user_version") == (STORE_SCHEMA.latest,)
    _kept(before, db)
    assert _one(db, "SELECT count(*) FROM erased_windows") == (0,)  # new since 544492c

    # The web app's objects read the old rows (the accounts and the strength log too).
    accounts, strength, registry = Accounts(db), StrengthLog(db), Registry(db)
    try:
        assert [a.name for a in registry.athletes()] == ["Anna de Vries", "Bram Jansen"]
        assert [t.lang for t in accounts.guest_tokens(1)] == ["nl"]
        assert [(s.exercise, s.kg) for s in strength.sets(2)] == [("sled-push", 60.0)]
    finally:
        for db_object in (accounts, strength, registry):
            db_object.close()
    _kept(before, db)


def test_an_older_store_file_gets_the_columns_added_since_with_their_defaults(
    tmp_path: Path,
) -> None:
    db = _old_file(tmp_path, "store_3b1eb2d.sql")
    before = _rows(db)

    listed = _cli(db, "reading", "list", "Anna de Vries")
    assert listed.returncode == 0, listed.stderr

    assert _one(db, "PRAGMA user_version") == (STORE_SCHEMA.latest,)
    _kept(before, db)
    assert _one(
        db, "SELECT display_name, arrival, departure, ftp_w FROM athletes WHERE id = 2"
    ) == ("", None, None, None)
    assert _one(
        db,
        "SELECT method, status, sensor, n_rr, n_corrected, rmssd, ln_rmssd, hr_rest"
        " FROM morning_recordings WHERE id = 1",
    ) == ("coach", "counted", None, None, None, None, None, None)
    registry = Registry(db)
    try:
        anna = registry.athlete(1)
        assert anna is not None and (anna.name, anna.hr_rest, anna.display_name) == (
            "Anna de Vries",
            52,
            "",
        )
        assert registry.version() == 4  # the old counter goes on from where it was
    finally:
        registry.close()


# ------------------------------------------------------------------ (b) at the same moment


def _open_as(role: str, path: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    """What ingest (the store, then the registry) or the web app (the registry, then the
    accounts, journal and strength log) opens first, in their order, started together at
    the barrier. Before versioning both could add athletes.ftp_w: with these openers, the
    code before versioning (f2105b3) failed 1 round of 30 ("duplicate column name")."""
    barrier.wait(timeout=60)
    if role == "ingest":
        store = SqliteStore(path)

        async def open_store() -> None:
            await store.open()
            await store.close()

        asyncio.run(open_store())
        Registry(path).close()
    else:
        for kind in (Registry, Accounts, Journal, StrengthLog):
            kind(path).close()


@pytest.mark.parametrize("first", ["ingest", "web"])
def test_two_processes_opening_a_new_file_at_once_never_collide(tmp_path: Path, first: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    for round_ in range(5):  # 2 x 5 = 10 rounds
        path = tmp_path / f"round{round_}.db"
        barrier = ctx.Barrier(2)
        roles = ["ingest", "web"] if first == "ingest" else ["web", "ingest"]
        procs = [ctx.Process(target=_open_as, args=(role, str(path), barrier)) for role in roles]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
        assert [p.exitcode for p in procs] == [0, 0], f"round {round_}"
        assert _one(path, "PRAGMA user_version") == (STORE_SCHEMA.latest,)


def test_a_failing_step_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    """All pending steps run in one transaction: a step that fails undoes the ones before."""
    schema = Schema(
        "test",
        (
            Step("a table", "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);"),
            Step("a broken step", "ALTER TABLE missing ADD COLUMN y INTEGER;"),
        ),
    )
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, schema)
        assert user_version(conn) == 0
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
        assert migrate(conn, Schema("test", schema.steps[:1])) == 1
        assert migrate(conn, Schema("test", schema.steps[:1])) == 0  # done once
    finally:
        conn.close()


# ------------------------------------------------------------------ (c) a newer file


def test_a_store_file_from_a_newer_release_is_refused_with_one_line(tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    Registry(db).close()
    newer = STORE_SCHEMA.latest + 1
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.commit()
    conn.close()
    schema_before = _rows(db)

    for command in (
        ["reading", "list", "1"],
        ["ingest"],
        ["board", "list"],
        ["web", "--port", "1"],
    ):
        done = _cli(db, *command)
        assert done.returncode == 2, (command, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, (command, done.stderr)
        assert "Traceback" not in done.stderr
        assert f"schema version {newer}, newer than this gympulse knows" in lines[0]
        assert str(db) in lines[0]
    assert _one(db, "PRAGMA user_version") == (newer,)  # untouched
    assert _rows(db) == schema_before


def test_a_queue_file_from_a_newer_collector_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pi-1.sqlite3"
    DiskQueue(path, max_samples=10).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {QUEUE_SCHEMA.latest + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match="collector queue file has schema version"):
        DiskQueue(path, max_samples=10)
    # `gympulse collect` opens its queue before any radio: refused with the one line.
    done = _cli(
        tmp_path / "unused.db",
        "collect",
        env={"GYMPULSE_COLLECTOR__STATE_DIR": str(tmp_path), "GYMPULSE_COLLECTOR__NAME": "pi-1"},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"gympulse: {path}: the collector queue file has schema version"
        f" {QUEUE_SCHEMA.latest + 1}, newer than this gympulse knows ({QUEUE_SCHEMA.latest});"
        " it was written by a newer release: upgrade gympulse (or open a copy made before"
        " the upgrade)"
    ]


# ------------------------------------------------------------------ (d) every product file


def _shape(db: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
    finally:
        conn.close()
    return {(t, n) for t, n in rows if n not in DERIVED}


def _migrated_only(tmp_path: Path, schema: Schema) -> set[tuple[str, str]]:
    path = tmp_path / f"only-{schema.name.replace(' ', '-')}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        migrate(conn, schema)
    finally:
        conn.close()
    return _shape(path)


def test_every_product_sqlite_file_ends_at_its_latest_step_with_only_what_the_steps_make(
    tmp_path: Path,
) -> None:
    db = tmp_path / "gympulse.db"
    store = SqliteStore(db)

    async def use_store() -> None:
        await store.open()
        await store.close()

    asyncio.run(use_store())
    # Every opener of the store file, and a row through each (a table made on first use
    # outside the steps would show up below).
    registry, journal, accounts, strength = Registry(db), Journal(db), Accounts(db), StrengthLog(db)
    data = Data(store, db, policy=Policy(required=False))
    try:
        athlete = registry.add_athlete("Anna de Vries", display_name="Anna V.")
        registry.assign("strap-4", athlete, 1_760_000_000_000)
        journal.add_note(athlete, "first day", author="coach")
        accounts.issue_guest_token(athlete, 1_790_000_000_000)
        strength.add_set(athlete, 1_760_000_500_000, "squat", 5, 60.0, logged_by="coach")
    finally:
        for db_object in (data, registry, journal, accounts, strength):
            db_object.close()
    assert _one(db, "PRAGMA user_version") == (STORE_SCHEMA.latest,)
    assert _shape(db) == _migrated_only(tmp_path, STORE_SCHEMA)

    queue_path = tmp_path / "pi-1.sqlite3"
    DiskQueue(queue_path, max_samples=10).close()
    assert _one(queue_path, "PRAGMA user_version") == (QUEUE_SCHEMA.latest,)
    assert _shape(queue_path) == _migrated_only(tmp_path, QUEUE_SCHEMA)


# Where SQL that makes or changes tables may be written: the migrator and its step lists,
# and the store's table role (the analytics' derived tables, made from their frames).
_SCHEMA_MODULES = {
    "gympulse/sqlite_schema.py",
    "pipeline/store_schema.py",
    "collectors/buffer.py",
    "pipeline/stores/sqlite_tables.py",
}
_DDL = re.compile(r"CREATE\s+(TABLE|INDEX|TRIGGER|UNIQUE\s+INDEX)|ALTER\s+TABLE|table_info\(")


def test_tables_and_columns_are_made_only_by_schema_steps() -> None:
    found = []
    for folder in ("gympulse", "pipeline", "dashboards", "collectors"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.is_symlink() or any(p.is_symlink() for p in path.parents if p != ROOT):
                continue
            rel = path.relative_to(ROOT).as_posix()
            if rel not in _SCHEMA_MODULES and _DDL.search(path.read_text(encoding="utf-8")):
                found.append(rel)
    assert found == [], f"schema changes outside a schema step: {found}"
