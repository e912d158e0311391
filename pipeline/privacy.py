"""Guests' rights on the data layer: export everything of one person, erase it from every
store, and keep raw samples only for a limited time (``docs/privacy.md``).

- :func:`export_athlete` writes one zip: for every kind of data (profile, strap
  assignments, heart-rate and machine samples, derived tables — sessions, daily metrics,
  morning readings, baselines — wellness check-ins, session RPE, morning recordings) a
  ``.json`` and a ``.csv`` file, and ``manifest.json`` with the row counts.
- :func:`erase_athlete` deletes them: raw samples (stamped with the person, or of their
  strap inside the windows they wore it) and quarantined messages of those straps in those
  windows (:meth:`ErasingStore.erase_samples`), derived rows (``delete_rows``), then the
  journal and registry rows (SQLite, one transaction). Web accounts, guest links and Grafana
  shares live above this layer: :mod:`gympulse.dashboards.rights` erases those.
- :func:`apply_retention` deletes raw samples older than ``ingest.retention_days``
  (default 400; ingestion already refuses samples that old); summaries stay until the
  person is erased.

CSV cells go through :func:`gympulse.csv_safe.safe_row` (no spreadsheet formulas).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import polars as pl

from gympulse import contract
from gympulse.csv_safe import safe_row
from gympulse.pipeline.analytics.tables import TABLES
from gympulse.pipeline.stores.base import ErasingStore, Store, Window
from gympulse.pipeline.stores.sqlite import connect

DAY_MS = 86_400_000
EXPORT_WINDOW_MS = 7 * DAY_MS  # samples are read this much at a time
# Journal and registry tables that hold a person's rows: table -> its athlete column.
PERSONAL_TABLES: dict[str, str] = {
    "wellness": "athlete_id",
    "session_rpe": "athlete_id",
    "morning_recordings": "athlete_id",
    "assignments": "athlete_id",
    "athletes": "id",
}


class NoSuchAthlete(LookupError):
    pass


def _conn(path: str | Path) -> sqlite3.Connection:
    return connect(path)


def _exists(conn: sqlite3.Connection, table: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return found is not None


def athlete_windows(path: str | Path, athlete_id: int) -> list[Window]:
    """Every (sensor, start, end) the person wore a strap (open-ended: until far future)."""
    conn = _conn(path)
    try:
        if not _exists(conn, "assignments"):
            return []
        rows = conn.execute(
            "SELECT sensor, start_ms, end_ms FROM assignments WHERE athlete_id = ?",
            (athlete_id,),
        ).fetchall()
    finally:
        conn.close()
    return [(str(s), int(a), int(b) if b is not None else 2**62) for s, a, b in rows]


def _rows(conn: sqlite3.Connection, table: str, column: str, athlete_id: int) -> pl.DataFrame:
    if not _exists(conn, table):
        return pl.DataFrame()
    cur = conn.execute(f"SELECT * FROM {table} WHERE {column} = ?", (athlete_id,))
    names = [d[0] for d in cur.description]
    return pl.DataFrame(cur.fetchall(), schema=names, orient="row", infer_schema_length=None)


def _csv_text(frame: pl.DataFrame) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(safe_row(frame.columns))
    for row in frame.iter_rows():
        writer.writerow(safe_row(_plain(v) for v in row))
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return str(value)


def _json_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: _jsonable(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]


class _Archive:
    """The zip being written: one .json and one .csv per kind of data."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.counts: dict[str, int] = {}

    def frame(self, name: str, frame: pl.DataFrame) -> None:
        self.counts[name] = frame.height
        self.zf.writestr(f"{name}.json", json.dumps(_json_rows(frame), indent=1))
        self.zf.writestr(f"{name}.csv", _csv_text(frame))

    @contextlib.contextmanager
    def streamed(self, name: str, columns: list[str]) -> Iterator[_Stream]:
        """A large table written in parts (samples): JSON array and CSV side by side."""
        # A zip takes one writer at a time: the JSON goes straight in, the CSV waits in a
        # temporary file (spilled to disk past 8 MB) and is copied in after.
        with tempfile.SpooledTemporaryFile(8 << 20) as cs:
            with self.zf.open(f"{name}.json", "w", force_zip64=True) as js:
                stream = _Stream(js, cs, columns)
                yield stream
                stream.finish()
            cs.seek(0)
            with self.zf.open(f"{name}.csv", "w", force_zip64=True) as out:
                shutil.copyfileobj(cs, out)
        self.counts[name] = stream.count


class _Stream:
    def __init__(self, js: IO[bytes], cs: IO[bytes], columns: list[str]) -> None:
        self.js, self.cs, self.columns = js, cs, columns
        self.count = 0
        self.js.write(b"[")
        self._csv_lines([columns])

    def _csv_lines(self, rows: list[list[Any]]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow(safe_row(_plain(v) for v in row))
        self.cs.write(buffer.getvalue().encode())

    def add(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        frame = frame.select([c for c in self.columns if c in frame.columns])
        parts = []
        for row in _json_rows(frame):
            parts.append(("," if self.count else "") + "\n" + json.dumps(row))
            self.count += 1
        self.js.write("".join(parts).encode())
        self._csv_lines([list(r) for r in frame.iter_rows()])

    def finish(self) -> None:
        self.js.write(b"\n]\n")


async def _spans(store: Store, windows: list[Window]) -> list[tuple[int, int]]:
    """The [lo, hi) spans to read: the union of the person's strap windows, clipped to the
    stored samples and cut into :data:`EXPORT_WINDOW_MS` pieces (no sample read twice)."""
    span = await store.sample_time_range()
    if span is None:
        return []
    oldest, newest = span
    merged: list[list[int]] = []
    for _sensor, start, end in sorted(windows, key=lambda w: w[1]):
        lo, hi = max(start, oldest), min(end, newest + 1)
        if lo >= hi:
            continue
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [
        (a, min(a + EXPORT_WINDOW_MS, hi))
        for lo, hi in merged
        for a in range(lo, hi, EXPORT_WINDOW_MS)
    ]


def _personal_rows(
    path: str | Path, athlete_id: int
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    conn = _conn(path)
    try:
        profile = _rows(conn, "athletes", "id", athlete_id)
        if profile.is_empty():
            raise NoSuchAthlete(athlete_id)
        return profile, {t: _rows(conn, t, c, athlete_id) for t, c in PERSONAL_TABLES.items()}
    finally:
        conn.close()


async def export_athlete(
    store: Store, path: str | Path, athlete_id: int, out: str | Path
) -> dict[str, int]:
    """Write all of the person's data to the zip ``out``; returns rows per file."""
    profile, personal = await asyncio.to_thread(_personal_rows, path, athlete_id)
    windows = await asyncio.to_thread(athlete_windows, path, athlete_id)
    # Blocking work (SQLite, compressing into the zip) runs in worker threads: a web
    # server calling this keeps serving.
    zf = await asyncio.to_thread(zipfile.ZipFile, out, "w", compression=zipfile.ZIP_DEFLATED)
    with zf:
        archive = _Archive(zf)
        archive.frame("profile", profile)
        for table, frame in personal.items():
            if table != "athletes":
                archive.frame(table, frame)
        for derived in TABLES:
            if "athlete_id" in derived.columns:
                rows = await store.read_rows(derived.name, {"athlete_id": athlete_id})
                # A derived copy of a journal table (wellness for Grafana) keeps its own name.
                name = derived.name + ("_store" if derived.name in PERSONAL_TABLES else "")
                archive.frame(name, rows)
        spans = await _spans(store, windows)
        sample_columns = ["sensor", "athlete_id", "ts", "bpm", "rr_ms", "contact"]
        with archive.streamed("samples", sample_columns) as samples:
            for lo, hi in spans:
                frame = await store.query_samples(lo, hi, athlete_ids=[athlete_id])
                await asyncio.to_thread(samples.add, frame)
        with archive.streamed("machine_samples", _machine_columns()) as machine:
            for lo, hi in spans:
                frame = await store.query_machine(lo, hi, athlete_ids=[athlete_id])
                await asyncio.to_thread(machine.add, frame)
        manifest = {
            "athlete_id": athlete_id,
            "exported_ms": contract.now_ms(),
            "files": {name: {"rows": n} for name, n in archive.counts.items()},
            "formats": "each kind of data as <name>.json and <name>.csv",
        }
        zf.writestr("manifest.json", json.dumps(manifest, indent=1))
    return archive.counts


def _machine_columns() -> list[str]:
    from gympulse.pipeline.stores.base import MACHINE_COLUMNS

    return list(MACHINE_COLUMNS)


async def erase_athlete(store: Store, path: str | Path, athlete_id: int) -> dict[str, int]:
    """Delete every row of the person in the store and the registry's SQLite file; returns
    rows deleted per place (-1: the store cannot count). Repeatable: a second run finds
    nothing and deletes nothing."""
    if not isinstance(store, ErasingStore):
        raise TypeError(f"store {store.name} cannot erase samples")
    windows = await asyncio.to_thread(athlete_windows, path, athlete_id)
    counts: dict[str, int] = {}
    counts["samples"] = await store.erase_samples(athlete_id, windows)
    for derived in TABLES:
        if "athlete_id" in derived.columns:
            counts[derived.name] = await store.delete_rows(derived.name, {"athlete_id": athlete_id})
    counts |= await asyncio.to_thread(_erase_identity, path, athlete_id)
    return counts


def _erase_identity(path: str | Path, athlete_id: int) -> dict[str, int]:
    """The journal and registry rows of the person, in one transaction."""
    counts: dict[str, int] = {}
    conn = _conn(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table, column in PERSONAL_TABLES.items():  # athletes last (assignments cascade)
                if _exists(conn, table):
                    sql = f"DELETE FROM {table} WHERE {column} = ?"
                    counts[table] = conn.execute(sql, (athlete_id,)).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return counts


async def apply_retention(store: Store, days: int, *, now_ms: int | None = None) -> int:
    """Delete raw samples older than ``days`` (summaries are kept until erased)."""
    if not isinstance(store, ErasingStore):
        raise TypeError(f"store {store.name} cannot delete samples")
    if days <= 0:
        raise ValueError("retention needs a positive number of days")
    now = contract.now_ms() if now_ms is None else now_ms
    return await store.delete_samples_before(now - days * DAY_MS)
