"""Guests' rights on the data layer: export everything of one person, erase it from every
store, and keep raw samples only for a limited time (``docs/privacy.md``).

All three walk the one map of where a person's data lives,
:data:`gympulse.pipeline.personal_data.PLACES`; none keeps a list of its own.

- :func:`export_athlete` writes one zip: a ``.json`` and a ``.csv`` file for every place
  of the map (the ``athletes`` row is ``profile``; a store table named like a registry
  table is ``<name>_store``; secrets such as a guest link's nonce are left out), and
  ``manifest.json`` with the row counts.
- :func:`erase_athlete` deletes the person from every place: raw samples and quarantined
  messages of her straps in her windows (:meth:`ErasingStore.erase_samples`), derived rows
  (``delete_rows``), then the registry file's rows in one transaction that also records her
  strap windows in ``erased_windows`` (ingestion refuses late replays there). SQLite
  connections run with ``secure_delete`` and the erasure ends with a WAL checkpoint
  (TRUNCATE), so the deleted bytes are gone from the file, the ``-wal`` and the ``-shm``.
  Grafana lives above this layer: :mod:`gympulse.dashboards.rights` erases it.
- :func:`apply_retention` deletes what the map gives a retention column, older than
  ``ingest.retention_days`` (default 400; ingestion already refuses samples that old):
  raw samples, quarantined messages, erased windows; summaries stay until the person is
  erased.

CSV cells go through :func:`gympulse.csv_safe.safe_row` (no spreadsheet formulas).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import logging
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import polars as pl

from gympulse import contract
from gympulse.csv_safe import safe_row
from gympulse.pipeline.personal_data import NOT_PERSONAL, PLACES, Home, Link, Place, places
from gympulse.pipeline.stores.base import (
    MACHINE_COLUMNS,
    ErasingStore,
    QuarantineRow,
    Store,
    Window,
)
from gympulse.sqlite_owner import open_owner, transaction

DAY_MS = 86_400_000
EXPORT_WINDOW_MS = 7 * DAY_MS  # samples are read this much at a time
GUEST_LINKS = "guest_tokens"  # the table Link.GUEST_LINK rows point into (its id)
PROFILE = "athletes"  # exported as ``profile``

log = logging.getLogger(__name__)
T = TypeVar("T")


class NoSuchAthlete(LookupError):
    pass


def _on_file(path: str | Path, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn(conn)`` on the file's owner thread in this process (these run in worker
    threads, through ``asyncio.to_thread``)."""
    owner = open_owner(path)
    try:
        return owner.run(fn)
    finally:
        owner.release()


def _exists(conn: sqlite3.Connection, table: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return found is not None


def athlete_windows(path: str | Path, athlete_id: int) -> list[Window]:
    """Every (sensor, start, end) the person wore a strap (open-ended: until far future)."""
    return _on_file(path, lambda conn: _windows(conn, athlete_id))


def _windows(conn: sqlite3.Connection, athlete_id: int) -> list[Window]:
    if not _exists(conn, "assignments"):
        return []
    rows = conn.execute(
        "SELECT sensor, start_ms, end_ms FROM assignments WHERE athlete_id = ?", (athlete_id,)
    ).fetchall()
    return [(str(s), int(a), int(b) if b is not None else 2**62) for s, a, b in rows]


def _belongs(place: Place) -> str:
    """The WHERE clause of a registry place's rows of one person (one ``?``: the id)."""
    if place.link is Link.ATHLETE:
        return f"{place.column} = ?"
    if place.link is Link.GUEST_LINK:
        return f"{place.column} IN (SELECT id FROM {GUEST_LINKS} WHERE athlete_id = ?)"
    raise ValueError(f"{place.name}: a registry place cannot link by {place.link}")


def _rows(conn: sqlite3.Connection, place: Place, athlete_id: int) -> pl.DataFrame:
    if not _exists(conn, place.name):
        return pl.DataFrame()
    cur = conn.execute(f"SELECT * FROM {place.name} WHERE {_belongs(place)}", (athlete_id,))
    names = [d[0] for d in cur.description]
    frame = pl.DataFrame(cur.fetchall(), schema=names, orient="row", infer_schema_length=None)
    return frame.drop([c for c in place.withheld if c in frame.columns])


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


def _write_json(zf: zipfile.ZipFile, name: str, value: object) -> None:
    zf.writestr(name, json.dumps(value, indent=1))


class _Archive:
    """The zip being written: one .json and one .csv per kind of data."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.counts: dict[str, int] = {}

    def frame(self, name: str, frame: pl.DataFrame) -> None:
        self.counts[name] = frame.height
        self.zf.writestr(f"{name}.json", json.dumps(_json_rows(frame), indent=1))
        self.zf.writestr(f"{name}.csv", _csv_text(frame))

    def messages(self, name: str, rows: list[QuarantineRow]) -> None:
        self.frame(name, _quarantine_frame(rows))

    @contextlib.asynccontextmanager
    async def streamed(self, name: str, columns: list[str]) -> AsyncIterator[_Stream]:
        """A large table written in parts (samples): JSON array and CSV side by side; every
        write in a worker thread (the caller's :meth:`_Stream.add` too)."""
        # A zip takes one writer at a time: the JSON goes straight in, the CSV waits in a
        # temporary file (spilled to disk past 8 MB) and is copied in after.
        cs = await asyncio.to_thread(tempfile.SpooledTemporaryFile, 8 << 20)
        try:
            js = await asyncio.to_thread(self.zf.open, f"{name}.json", "w", force_zip64=True)
            try:
                stream = await asyncio.to_thread(_Stream, js, cs, columns)
                yield stream
                await asyncio.to_thread(stream.finish)
            finally:
                await asyncio.to_thread(js.close)
            await asyncio.to_thread(self._copy_in, f"{name}.csv", cs)
        finally:
            await asyncio.to_thread(cs.close)
        self.counts[name] = stream.count

    def _copy_in(self, name: str, spool: IO[bytes]) -> None:
        spool.seek(0)
        with self.zf.open(name, "w", force_zip64=True) as out:
            shutil.copyfileobj(spool, out)


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

    def add_outside(self, frame: pl.DataFrame, inside: pl.Expr) -> None:
        """The rows of ``frame`` that ``inside`` does not select."""
        self.add(frame.filter(~inside))

    def finish(self) -> None:
        self.js.write(b"\n]\n")


def _chunks(lo: int, hi: int) -> list[tuple[int, int]]:
    """[lo, hi) in :data:`EXPORT_WINDOW_MS` pieces."""
    return [(a, min(a + EXPORT_WINDOW_MS, hi)) for a in range(lo, hi, EXPORT_WINDOW_MS)]


def _merged(windows: list[Window]) -> list[Window]:
    """The windows with overlapping ones of the same sensor joined (no sample read twice)."""
    out: list[Window] = []
    for sensor, start, end in sorted(windows):
        if out and out[-1][0] == sensor and start <= out[-1][2]:
            out[-1] = (sensor, out[-1][1], max(out[-1][2], end))
        else:
            out.append((sensor, start, end))
    return out


def _registry_rows(path: str | Path, athlete_id: int) -> dict[str, pl.DataFrame]:

    def read(conn: sqlite3.Connection) -> dict[str, pl.DataFrame]:
        with transaction(conn, write=False):  # one consistent snapshot of the person
            return {p.name: _rows(conn, p, athlete_id) for p in places(Home.REGISTRY)}

    found = _on_file(path, read)
    if found[PROFILE].is_empty():
        raise NoSuchAthlete(athlete_id)
    return found


def _file_name(place: Place) -> str:
    if place.home is Home.REGISTRY:
        return "profile" if place.name == PROFILE else place.name
    # A derived copy of a journal table (wellness for Grafana) keeps its own name.
    clash = any(p.name == place.name for p in places(Home.REGISTRY))
    return place.name + ("_store" if clash else "")


async def export_athlete(
    store: Store, path: str | Path, athlete_id: int, out: str | Path
) -> dict[str, int]:
    """Write all of the person's data to the zip ``out``: one file per place of the map;
    returns rows per file."""
    registry_rows = await asyncio.to_thread(_registry_rows, path, athlete_id)
    windows = await asyncio.to_thread(athlete_windows, path, athlete_id)
    # Blocking work (SQLite, compressing into the zip) runs in worker threads: a web
    # server calling this keeps serving.
    zf = await asyncio.to_thread(zipfile.ZipFile, out, "w", compression=zipfile.ZIP_DEFLATED)
    try:
        archive = _Archive(zf)
        span = await store.sample_time_range()
        for place in PLACES:
            name = _file_name(place)
            if place.home is Home.REGISTRY:
                await asyncio.to_thread(archive.frame, name, registry_rows[place.name])
            elif place.link is Link.ATHLETE:
                rows = await store.read_rows(place.name, {place.column: athlete_id})
                await asyncio.to_thread(archive.frame, name, rows)
            elif place.link is Link.WORN:
                await _export_samples(archive, store, place, span, windows, athlete_id)
            elif place.link is Link.STRAP_MESSAGE:
                if not isinstance(store, ErasingStore):
                    raise TypeError(f"store {store.name} cannot find quarantined messages")
                messages = await store.quarantine_of(windows)
                await asyncio.to_thread(archive.messages, name, messages)
            else:
                raise ValueError(f"{place.name}: nothing exports {place.home}/{place.link}")
        manifest = {
            "athlete_id": athlete_id,
            "exported_ms": contract.now_ms(),
            "files": {name: {"rows": n} for name, n in archive.counts.items()},
            "formats": "each kind of data as <name>.json and <name>.csv",
        }
        await asyncio.to_thread(_write_json, zf, "manifest.json", manifest)
    finally:
        await asyncio.to_thread(zf.close)  # writes the zip's central directory
    return archive.counts


async def _export_samples(
    archive: _Archive,
    store: Store,
    place: Place,
    span: tuple[int, int] | None,
    windows: list[Window],
    athlete_id: int,
) -> None:
    """A raw-sample place, what erasure deletes (Link.WORN): every sample of her straps
    inside her windows, whatever it is stamped with, then the samples stamped with her
    outside them; a week at a time (memory stays flat)."""
    if place.name == "samples":
        columns = ["sensor", "athlete_id", "ts", "bpm", "rr_ms", "contact"]
        query = store.query_samples
    elif place.name == "machine_samples":
        columns, query = list(MACHINE_COLUMNS), store.query_machine
    else:
        raise ValueError(f"{place.name}: no store query reads these samples")
    async with archive.streamed(place.name, columns) as stream:
        if span is None:
            return
        oldest, newest = span[0], span[1] + 1
        worn = _merged(windows)
        for sensor, start, end in worn:
            for lo, hi in _chunks(max(start, oldest), min(end, newest)):
                frame = await query(lo, hi, sensors=[sensor])
                await asyncio.to_thread(stream.add, frame)
        inside = pl.lit(False)
        for sensor, start, end in worn:
            inside = inside | (
                (pl.col("sensor") == sensor) & (pl.col("ts") >= start) & (pl.col("ts") < end)
            )
        for lo, hi in _chunks(oldest, newest):
            frame = await query(lo, hi, athlete_ids=[athlete_id])
            await asyncio.to_thread(stream.add_outside, frame, inside)


def _quarantine_frame(rows: list[QuarantineRow]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "received_ms": r.received_ms,
                "topic": r.topic,
                "payload": r.payload,
                "reason": r.reason,
                "detail": r.detail,
                "size": r.size,
                "sha256": r.sha256,
            }
            for r in rows
        ],
        schema={
            "received_ms": pl.Int64,
            "topic": pl.String,
            "payload": pl.Binary,
            "reason": pl.String,
            "detail": pl.String,
            "size": pl.Int64,
            "sha256": pl.String,
        },
    )


async def erase_athlete(
    store: Store, path: str | Path, athlete_id: int, *, by: str = "operator"
) -> dict[str, int]:
    """Delete the person from every place of the map in the store and the registry's
    SQLite file; returns rows deleted per place (-1: the store cannot count). The access
    log keeps one entry naming nobody: "erased on <now> by ``by``". Repeatable: a second
    run finds nothing and deletes nothing."""
    if not isinstance(store, ErasingStore):
        raise TypeError(f"store {store.name} cannot erase samples")
    windows = await asyncio.to_thread(athlete_windows, path, athlete_id)
    counts: dict[str, int] = {}
    raw = places(Home.STORE, Link.WORN, Link.STRAP_MESSAGE)
    if raw:  # one call erases every raw place of the store (ErasingStore.erase_samples)
        counts["+".join(p.name for p in raw)] = await store.erase_samples(athlete_id, windows)
    for place in places(Home.STORE, Link.ATHLETE):
        counts[_file_name(place)] = await store.delete_rows(place.name, {place.column: athlete_id})
    counts |= await asyncio.to_thread(_erase_registry, path, athlete_id, by)
    return counts


def _erase_registry(path: str | Path, athlete_id: int, by: str) -> dict[str, int]:
    """The registry file's rows of the person, and her erased windows, in one transaction;
    then a checkpoint that empties the WAL (the deleted bytes were overwritten:
    ``secure_delete``)."""

    def erase(conn: sqlite3.Connection) -> dict[str, int]:
        counts: dict[str, int] = {}
        with transaction(conn):
            # Open-ended windows end now: what the strap sends later is the next wearer's.
            now = contract.now_ms()
            conn.executemany(
                "INSERT INTO erased_windows (sensor, start_ms, end_ms) VALUES (?, ?, ?)",
                [(s, a, min(b, now)) for s, a, b in _windows(conn, athlete_id) if a < now],
            )
            for place in places(Home.REGISTRY):  # in the map's order: athletes last
                if _exists(conn, place.name):
                    sql = f"DELETE FROM {place.name} WHERE {_belongs(place)}"
                    counts[_file_name(place)] = conn.execute(sql, (athlete_id,)).rowcount
            if counts.get("profile"):  # she was here: the log keeps that, naming nobody
                conn.execute(
                    "INSERT INTO access_log (ts_ms, actor, athlete_id, what, detail)"
                    " VALUES (?, ?, NULL, 'erasure', '')",
                    (now, by),
                )
        _checkpoint(conn)
        return counts

    return _on_file(path, erase)


def _checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the WAL into the file and truncate it, so no old frame keeps a deleted row."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.warning("WAL checkpoint after erasure was blocked by a reader; it runs again later")


async def apply_retention(
    store: Store, path: str | Path, days: int, *, now_ms: int | None = None
) -> int:
    """Delete what the map gives a retention column, older than ``days``: the store's raw
    samples and quarantined messages, and the registry file's rows (erased windows; a
    sample that old is refused anyway). Summaries are kept until erased."""
    if not isinstance(store, ErasingStore):
        raise TypeError(f"store {store.name} cannot delete samples")
    if days <= 0:
        raise ValueError("retention needs a positive number of days")
    cutoff = (contract.now_ms() if now_ms is None else now_ms) - days * DAY_MS
    deleted = 0
    if any(p.retention for p in places(Home.STORE)):  # erase_samples' places, by time
        deleted = await store.delete_samples_before(cutoff)
    timed = [(p.name, p.retention) for p in PLACES if p.home is Home.REGISTRY and p.retention]
    timed += [
        (n.name, n.retention) for n in NOT_PERSONAL if n.home is Home.REGISTRY and n.retention
    ]
    await asyncio.to_thread(_registry_retention, path, timed, cutoff)
    return deleted


def _registry_retention(path: str | Path, tables: list[tuple[str, str]], cutoff: int) -> None:

    def delete(conn: sqlite3.Connection) -> None:
        with transaction(conn):
            for table, column in tables:
                if _exists(conn, table):
                    conn.execute(f"DELETE FROM {table} WHERE {column} < ?", (cutoff,))
        _checkpoint(conn)

    _on_file(path, delete)
