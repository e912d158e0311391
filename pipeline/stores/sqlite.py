"""SQLite time-series store (the embedded default): one file, WAL, (sensor, ts) unique.

Writes are one transaction per batch with ``INSERT OR IGNORE``, so a redelivered sample is
counted as a duplicate and stored once. ``synchronous=FULL`` makes a committed batch
survive a power cut, which is what lets ingestion acknowledge it to the broker.

Threading: sqlite3 blocks (an fsync per commit, up to 30 s waiting for another writer's
lock), so no SQLite call runs on the event loop. Every coroutine hands its work to the
file's one owner thread in this process (:mod:`gympulse.sqlite_owner`), which the registry, the
journal and the accounts share when they live in the same file.

A write that fails always rolls back, so no transaction is ever left open (another writer
would get "database is locked"). ``sqlite3.OperationalError`` (locked, busy, disk full, I/O)
is :class:`StoreUnavailable`: retry later. Anything else (an integer sqlite3 cannot bind, a
constraint) is re-raised as it is, so ingestion knows the data, not the store, is at fault.

Quarantine rows keep a bounded payload prefix with the whole payload's ``size`` and
``sha256``; a row marked ``once`` is left out when a row with its ``key`` exists.

``query_samples`` reads columns through Arrow (:mod:`gympulse.pipeline.stores.arrow_read`,
a read-only ADBC connection used only on the owner thread); the row read is its fallback.

RR intervals are stored as a comma-separated string of milliseconds ("812,790"): compact,
readable in the sqlite3 shell, and split by polars in one vectorised call.

The tables are the store file's schema (:mod:`gympulse.pipeline.store_schema`), brought
to its latest version by :meth:`SqliteStore.open`.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from gympulse.pipeline.domain import sample_effort
from gympulse.pipeline.store_schema import migrate_store
from gympulse.pipeline.stores.arrow_read import ArrowReader
from gympulse.pipeline.stores.base import (
    MACHINE_COLUMNS,
    MACHINE_VALUES,
    QUARANTINE_SLACK_MS,
    SAMPLE_COLUMNS,
    QuarantineRow,
    StoreUnavailable,
    Window,
    WriteBatch,
    WriteResult,
    names_sensor,
    rr_from_text,
    rr_text,
)
from gympulse.pipeline.stores.sqlite_tables import SqliteTables
from gympulse.sqlite_owner import SqliteOwner, connect, open_owner, transaction

__all__ = ["SqliteStore", "connect", "samples_frame"]

T = TypeVar("T")


class SqliteStore(SqliteTables):
    """The SQLite store: the sample role here, the table role from :class:`SqliteTables`,
    through the file's one owner thread."""

    name = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._owner: SqliteOwner | None = None
        self._reader: ArrowReader | None = None  # made, used and closed on the owner thread

    @property
    def conn(self) -> sqlite3.Connection:
        """The owner thread's connection (only valid on that thread)."""
        if self._owner is None:
            raise RuntimeError("store is not open (or already closed)")
        return self._owner.conn

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._owner is None:
            raise RuntimeError("store is not open (or already closed)")
        return await self._owner.arun(lambda _conn: fn(*args))

    async def open(self) -> None:
        if self._owner is None:
            self._owner = open_owner(self.path)
        await self._run(self._open)

    def _open(self) -> None:
        conn = self.conn
        conn.create_function("names_sensor", 3, _names_sensor, deterministic=True)
        migrate_store(conn, self.path)

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and self._owner is not None:
            await self._run(reader.close)  # its connection lives on the owner's thread
        owner, self._owner = self._owner, None
        if owner is not None:
            await asyncio.to_thread(owner.release)  # the last user waits for the thread

    async def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on the store's thread and return its rows (tests, tools)."""
        return await self._run(lambda: self.conn.execute(sql, params).fetchall())

    async def write(self, batch: WriteBatch) -> WriteResult:
        return await self._run(self._write, batch)

    def _write(self, batch: WriteBatch) -> WriteResult:
        conn = self.conn
        rows = [
            (
                s.sensor,
                s.ts,
                s.seq,
                s.site,
                s.collector,
                s.bpm,
                rr_text(s.rr_ms),
                None if s.contact is None else int(s.contact),
                s.energy_kj,
                s.athlete_id,
                s.pct_max,
                s.zone,
            )
            for s in batch.samples
        ]
        machine_rows = [
            (
                m.sensor,
                m.ts,
                m.seq,
                m.site,
                m.collector,
                m.kind,
                *(getattr(m, c) for c in MACHINE_VALUES),
                m.athlete_id,
            )
            for m in batch.machine
        ]
        try:
            with transaction(conn):
                before = conn.total_changes
                conn.executemany(
                    "INSERT OR IGNORE INTO samples (sensor, ts, seq, site, collector, bpm, rr,"
                    " contact, energy_kj, athlete_id, pct_max, zone)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO machine_samples (sensor, ts, seq, site, collector, kind,"
                    f" {', '.join(MACHINE_VALUES)}, athlete_id)"
                    f" VALUES ({','.join('?' * (7 + len(MACHINE_VALUES)))})",
                    machine_rows,
                )
                stored = conn.total_changes - before
                before = conn.total_changes
                for q in batch.quarantine:
                    row = (q.received_ms, q.topic, q.payload, q.reason, q.detail, q.size, q.sha256)
                    if q.once and q.key is not None:
                        conn.execute(
                            "INSERT INTO quarantine"
                            " (received_ms, topic, payload, reason, detail, size, sha256, key)"
                            " SELECT ?,?,?,?,?,?,?,? WHERE NOT EXISTS"
                            " (SELECT 1 FROM quarantine WHERE key = ?)",
                            (*row, q.key, q.key),
                        )
                    else:
                        conn.execute(
                            "INSERT INTO quarantine"
                            " (received_ms, topic, payload, reason, detail, size, sha256, key)"
                            " VALUES (?,?,?,?,?,?,?,?)",
                            (*row, q.key),
                        )
                quarantined = conn.total_changes - before
        except BaseException as err:
            if isinstance(err, sqlite3.OperationalError):
                raise StoreUnavailable(f"sqlite write failed: {err}") from err
            raise
        return WriteResult(stored, len(rows) + len(machine_rows) - stored, quarantined)

    async def query_samples(
        self,
        start_ms: int,
        end_ms: int,
        *,
        sensors: Sequence[str] | None = None,
        athlete_ids: Sequence[int] | None = None,
    ) -> pl.DataFrame:
        return await self._run(self._query_samples, start_ms, end_ms, sensors, athlete_ids)

    def _query_samples(
        self,
        start_ms: int,
        end_ms: int,
        sensors: Sequence[str] | None,
        athlete_ids: Sequence[int] | None,
    ) -> pl.DataFrame:
        """Columns through Arrow (:mod:`gympulse.pipeline.stores.arrow_read`) unless this
        work runs inside a transaction of the owner's connection (its own uncommitted rows
        are visible only there) or the reader declines; then the rows, as before."""
        if not self.conn.in_transaction:
            if self._reader is None:
                self._reader = ArrowReader(self.path)
            raw = self._reader.read(start_ms, end_ms, sensors, athlete_ids)
            if raw is not None:
                return samples_frame(raw)
        where, params = _window(start_ms, end_ms, sensors, athlete_ids)
        sql = f"SELECT sensor, athlete_id, ts, bpm, rr, contact FROM samples WHERE {where}"
        return samples_frame(self.conn.execute(sql, params).fetchall())

    async def count_samples(self) -> int:
        (count,) = (await self.execute("SELECT count(*) FROM samples"))[0]
        return int(count)

    async def query_machine(
        self,
        start_ms: int,
        end_ms: int,
        *,
        sensors: Sequence[str] | None = None,
        athlete_ids: Sequence[int] | None = None,
    ) -> pl.DataFrame:
        where, params = _window(start_ms, end_ms, sensors, athlete_ids)
        sql = (
            f"SELECT sensor, athlete_id, ts, kind, {', '.join(MACHINE_VALUES)}"
            f" FROM machine_samples WHERE {where}"
        )
        return await self._run(
            lambda: pl.DataFrame(
                self.conn.execute(sql, params).fetchall(),
                schema=dict(MACHINE_COLUMNS),
                orient="row",
            )
        )  # the frame is built on the store's thread, as the samples' is

    async def sample_time_range(self) -> tuple[int, int] | None:
        lo, hi = (await self.execute("SELECT min(ts), max(ts) FROM samples"))[0]
        return None if lo is None else (int(lo), int(hi))

    async def query_quarantine(self, limit: int = 1000) -> list[QuarantineRow]:
        rows = await self.execute(
            "SELECT received_ms, topic, payload, reason, detail, size, sha256, key"
            " FROM quarantine ORDER BY id LIMIT ?",
            (limit,),
        )
        return [_quarantine_row(r) for r in rows]

    async def reassign(
        self,
        sensor: str,
        start_ms: int,
        end_ms: int,
        athlete_id: int | None,
        *,
        hr_max: float | None = None,
    ) -> int:
        """Re-stamp the samples whose athlete differs; their ``pct_max``/``zone`` are
        recomputed from ``hr_max``, or cleared without it (see ``README.md``)."""
        return await self._run(self._reassign, sensor, start_ms, end_ms, athlete_id, hr_max)

    def _reassign(
        self, sensor: str, start_ms: int, end_ms: int, athlete_id: int | None, hr_max: float | None
    ) -> int:
        where = "sensor = ? AND ts >= ? AND ts < ? AND athlete_id IS NOT ?"
        params = (sensor, start_ms, end_ms, athlete_id)
        with transaction(self.conn) as conn:
            # A machine assigned by the same corrected assignment follows it (no % of HRmax).
            conn.execute(
                f"UPDATE machine_samples SET athlete_id = ? WHERE {where}", (athlete_id, *params)
            )
            if athlete_id is None or hr_max is None:
                cur = conn.execute(
                    f"UPDATE samples SET athlete_id = ?, pct_max = NULL, zone = NULL WHERE {where}",
                    (athlete_id, *params),
                )
                return cur.rowcount
            rows = conn.execute(
                f"SELECT ts, bpm, contact FROM samples WHERE {where}", params
            ).fetchall()
            conn.executemany(
                "UPDATE samples SET athlete_id = ?, pct_max = ?, zone = ?"
                " WHERE sensor = ? AND ts = ?",
                [
                    (athlete_id, *sample_effort(bpm, hr_max, _contact(contact)), sensor, ts)
                    for ts, bpm, contact in rows
                ],
            )
        return len(rows)

    # ---------------------------------------------------------------- erasure

    async def erase_samples(self, athlete_id: int, windows: Sequence[Window]) -> int:
        return await self._run(self._erase_samples, athlete_id, list(windows))

    def _erase_samples(self, athlete_id: int, windows: list[Window]) -> int:
        deleted = 0
        with transaction(self.conn) as conn:
            for table in ("samples", "machine_samples"):
                sql = f"DELETE FROM {table} WHERE athlete_id = ?"
                deleted += conn.execute(sql, (athlete_id,)).rowcount
                for sensor, start, end in windows:
                    sql = f"DELETE FROM {table} WHERE sensor = ? AND ts >= ? AND ts < ?"
                    deleted += conn.execute(sql, (sensor, start, end)).rowcount
            for sensor, start, end in windows:
                where, params = _quarantine_where(sensor, start, end)
                deleted += conn.execute(f"DELETE FROM quarantine WHERE {where}", params).rowcount
        return deleted

    async def quarantine_of(self, windows: Sequence[Window]) -> list[QuarantineRow]:
        return await self._run(self._quarantine_of, list(windows))

    def _quarantine_of(self, windows: list[Window]) -> list[QuarantineRow]:
        found: dict[int, QuarantineRow] = {}
        for sensor, start, end in windows:
            where, params = _quarantine_where(sensor, start, end)
            sql = (
                "SELECT id, received_ms, topic, payload, reason, detail, size, sha256, key"
                f" FROM quarantine WHERE {where}"
            )
            for r in self.conn.execute(sql, params).fetchall():
                found[r[0]] = _quarantine_row(r[1:])
        return [found[k] for k in sorted(found)]

    async def delete_samples_before(self, cutoff_ms: int) -> int:
        return await self._run(self._delete_samples_before, cutoff_ms)

    def _delete_samples_before(self, cutoff_ms: int) -> int:
        deleted = 0
        with transaction(self.conn) as conn:
            for sql in (
                "DELETE FROM samples WHERE ts < ?",
                "DELETE FROM machine_samples WHERE ts < ?",
                "DELETE FROM quarantine WHERE received_ms < ?",
            ):
                deleted += conn.execute(sql, (cutoff_ms,)).rowcount
        return deleted


def _names_sensor(sensor: str, topic: str, payload: bytes | str) -> bool:
    return names_sensor(sensor, topic, payload.encode() if isinstance(payload, str) else payload)


def _quarantine_where(sensor: str, start: int, end: int) -> tuple[str, tuple[object, ...]]:
    """The WHERE clause of a window's quarantined messages (ErasingStore.erase_samples)."""
    where = "received_ms >= ? AND received_ms < ? AND names_sensor(?, topic, payload)"
    return where, (start, min(end, 2**62) + QUARANTINE_SLACK_MS, sensor)


def _quarantine_row(r: Sequence[Any]) -> QuarantineRow:
    """A row read back: (received_ms, topic, payload, reason, detail, size, sha256, key)."""
    payload = bytes(r[2])
    size = len(payload) if r[5] is None else int(r[5])
    sha = str(r[6]) if r[6] else _sha256(payload)
    return QuarantineRow(r[0], r[1], payload, r[3], r[4], size, sha, r[7])


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


_RAW_SCHEMA: dict[str, pl.DataType] = {
    "sensor": pl.String(),
    "athlete_id": pl.Int64(),
    "ts": pl.Int64(),
    "bpm": pl.Int32(),
    "rr": pl.String(),
    "contact": pl.Int8(),
}


def samples_frame(rows: Sequence[tuple[object, ...]] | pl.DataFrame) -> pl.DataFrame:
    """(sensor, athlete_id, ts, bpm, rr-text, contact) rows, or the same columns read as
    Arrow (:mod:`gympulse.pipeline.stores.arrow_read`) -> the SAMPLE_COLUMNS frame."""
    if isinstance(rows, pl.DataFrame):
        raw = rows.select(pl.col(c).cast(t, strict=True) for c, t in _RAW_SCHEMA.items())
    else:
        raw = pl.DataFrame(rows, schema=_RAW_SCHEMA, orient="row")
    return raw.select(
        "sensor",
        "athlete_id",
        "ts",
        "bpm",
        rr_from_text(),
        pl.col("contact").cast(pl.Boolean),
    ).cast(dict(SAMPLE_COLUMNS))  # type: ignore[arg-type]


def _contact(stored: int | None) -> bool | None:
    """The ``contact`` column (0, 1 or NULL) as the sample's flag."""
    return None if stored is None else bool(stored)


def _window(
    start_ms: int,
    end_ms: int,
    sensors: Sequence[str] | None,
    athlete_ids: Sequence[int] | None,
) -> tuple[str, list[object]]:
    """The WHERE clause (ordered by sensor, ts) and parameters of a sample query: the
    window [start_ms, end_ms), optionally only ``sensors`` and ``athlete_ids``."""
    sql = "ts >= ? AND ts < ?"
    params: list[object] = [start_ms, end_ms]
    if sensors is not None:
        sql += f" AND sensor IN ({','.join('?' * len(sensors))})"
        params += list(sensors)
    if athlete_ids is not None:
        sql += f" AND athlete_id IN ({','.join('?' * len(athlete_ids))})"
        params += list(athlete_ids)
    return sql + " ORDER BY sensor, ts", params
