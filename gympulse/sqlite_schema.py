"""Versioned SQLite schemas: one ordered list of steps per file, ``PRAGMA user_version``.

Every SQLite file gympulse writes has one :class:`Schema`: the store file (``store.path``:
samples, registry, journal, strength log, accounts; :mod:`gympulse.pipeline.store_schema`)
and the collector's disk queue (:mod:`gympulse.collectors.buffer`). A file's
``user_version`` is the number of steps applied to it. :func:`migrate` runs on every open:

- ``user_version`` equal to the schema's latest: nothing to do (one PRAGMA read);
- lower: ``BEGIN IMMEDIATE``, read ``user_version`` again (another process that opened the
  same file at the same moment may have migrated it while this one waited for the lock),
  run every pending step, set ``user_version``, ``COMMIT``; any error rolls all of it back;
- higher: :class:`SchemaTooNew` — a newer release wrote the file, and this one would not
  know its columns (an older release writing rows there could null them). The CLI prints
  its one line and exits.

Step 1 of each schema adopts files from before versioning (``user_version`` 0 with tables
present): ``CREATE ... IF NOT EXISTS`` and :func:`add_missing_columns`, so it is
idempotent against every earlier shape. Every later step is plain SQL run once. A step
never edits an earlier one: a released step is history (docs/architecture.md, "Schema
versions").

Imports only ``sqlite3``, so the collector (a Raspberry Pi with the collector extra) uses it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Schema", "SchemaTooNew", "Step", "add_missing_columns", "migrate", "run_script",
    "user_version",
]  # fmt: skip


class SchemaTooNew(RuntimeError):
    """The file was written by a newer gympulse than this one (one line, for the CLI)."""

    def __init__(self, path: str | Path, schema: str, found: int, latest: int) -> None:
        self.path = str(path)
        self.found = found
        self.latest = latest
        super().__init__(
            f"{path}: the {schema} file has schema version {found}, newer than this"
            f" gympulse knows ({latest}); it was written by a newer release: upgrade"
            " gympulse (or open a copy made before the upgrade)"
        )


@dataclass(frozen=True, slots=True)
class Step:
    """One change of a file's schema: SQL statements (``sql``) or a function of the
    connection (``run``, for changes SQL alone cannot express), run inside the
    migration's transaction. Never ``executescript`` in ``run``: it commits first."""

    doc: str
    sql: str = ""
    run: Callable[[sqlite3.Connection], None] | None = None

    def apply(self, conn: sqlite3.Connection) -> None:
        if self.sql:
            run_script(conn, self.sql)
        if self.run is not None:
            self.run(conn)


@dataclass(frozen=True, slots=True)
class Schema:
    """A file's steps, oldest first; step ``i`` (from 1) brings ``user_version`` to ``i``."""

    name: str
    steps: tuple[Step, ...]

    @property
    def latest(self) -> int:
        return len(self.steps)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, schema: Schema, path: str | Path = "") -> int:
    """Bring the file of ``conn`` (autocommit mode, no transaction open) to
    ``schema.latest``; returns how many steps ran (0 when it was up to date)."""
    where = path or schema.name
    found = user_version(conn)
    if found == schema.latest:
        return 0
    if found > schema.latest:
        raise SchemaTooNew(where, schema.name, found, schema.latest)
    if conn.in_transaction:
        raise RuntimeError(f"{where}: migrate needs a connection without an open transaction")
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = user_version(conn)  # again, under the write lock
        if found > schema.latest:
            raise SchemaTooNew(where, schema.name, found, schema.latest)
        for step in schema.steps[found:]:
            step.apply(conn)
        # PRAGMA takes no parameters; latest is an int of ours.
        conn.execute(f"PRAGMA user_version = {int(schema.latest)}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return schema.latest - found


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``script``'s statements one by one (``executescript`` would COMMIT the
    migration's transaction first). Triggers' ``BEGIN ... END`` bodies stay whole."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            if statement.strip().rstrip(";").strip():
                conn.execute(statement)
            statement = ""
    if statement.strip() and _without_comments(statement):
        raise ValueError(f"incomplete SQL statement in a schema step: {statement.strip()!r}")


def _without_comments(text: str) -> str:
    return "".join(line.split("--", 1)[0] for line in text.splitlines()).strip()


def add_missing_columns(
    conn: sqlite3.Connection, table: str, columns: Sequence[tuple[str, str]]
) -> None:
    """Add the ``(name, declaration)`` columns ``table`` lacks (step 1 only: files from
    before versioning, which grew their columns one release at a time)."""
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    for name, declaration in columns:
        if name not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
