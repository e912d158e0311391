"""SQLite time-series store (the embedded default): one file, WAL, (sensor, ts) unique.

Writes are one transaction per batch with ``INSERT OR IGNORE``, so a redelivered sample is
counted as a duplicate and stored once. ``synchronous=FULL`` makes a committed batch
survive a power cut, which is what lets ingestion acknowledge it to the broker.

RR intervals are stored as a comma-separated string of milliseconds ("812,790"): compact,
readable in the sqlite3 shell, and split by polars in one vectorised call.

``pct_max`` and ``zone`` (stamped by ingestion, NULL when unassigned) were added after the
first release: :meth:`SqliteStore.open` adds them to an existing file's ``samples`` table
(``ALTER TABLE ... ADD COLUMN``, guarded by ``PRAGMA table_info``); older rows keep NULL.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from gympulse.pipeline.domain import effort_stamp
from gympulse.pipeline.stores.base import (
    SAMPLE_COLUMNS,
    QuarantineRow,
    StoredSample,
    StoreUnavailable,
    WriteBatch,
    WriteResult,
)

_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS quarantine (
    id          INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    topic       TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    reason      TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);
"""

# Columns added to ``samples`` after the first schema: (name, SQL type), in order.
_SAMPLE_MIGRATIONS = (("pct_max", "INTEGER"), ("zone", "INTEGER"))

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_POLARS_TO_SQL: dict[type[pl.DataType], str] = {
    pl.Int8: "INTEGER",
    pl.Int16: "INTEGER",
    pl.Int32: "INTEGER",
    pl.Int64: "INTEGER",
    pl.UInt8: "INTEGER",
    pl.UInt16: "INTEGER",
    pl.UInt32: "INTEGER",
    pl.UInt64: "INTEGER",
    pl.Boolean: "INTEGER",
    pl.Float32: "REAL",
    pl.Float64: "REAL",
    pl.String: "TEXT",
    pl.Date: "TEXT",
}


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a valid table or column name: {name!r}")
    return name


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with the pragmas every gympulse SQLite user wants."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _rr_text(rr: Sequence[int]) -> str:
    return ",".join(map(str, rr))


class SqliteStore:
    name = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("store is not open (or already closed)")
        return self._conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.path)
        self._conn.executescript(_SCHEMA)
        _migrate_samples(self._conn)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def write(self, batch: WriteBatch) -> WriteResult:
        conn = self.conn
        rows = [
            (
                s.sensor,
                s.ts,
                s.seq,
                s.site,
                s.collector,
                s.bpm,
                _rr_text(s.rr_ms),
                None if s.contact is None else int(s.contact),
                s.energy_kj,
                s.athlete_id,
                s.pct_max,
                s.zone,
            )
            for s in batch.samples
        ]
        try:
            conn.execute("BEGIN IMMEDIATE")
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO samples (sensor, ts, seq, site, collector, bpm, rr,"
                " contact, energy_kj, athlete_id, pct_max, zone)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            stored = conn.total_changes - before
            conn.executemany(
                "INSERT INTO quarantine (received_ms, topic, payload, reason, detail)"
                " VALUES (?,?,?,?,?)",
                [(q.received_ms, q.topic, q.payload, q.reason, q.detail) for q in batch.quarantine],
            )
            conn.execute("COMMIT")
        except sqlite3.OperationalError as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreUnavailable(f"sqlite write failed: {err}") from err
        return WriteResult(stored, len(rows) - stored, len(batch.quarantine))

    async def query_samples(
        self,
        start_ms: int,
        end_ms: int,
        *,
        sensors: Sequence[str] | None = None,
        athlete_ids: Sequence[int] | None = None,
    ) -> pl.DataFrame:
        sql = (
            "SELECT sensor, athlete_id, ts, bpm, rr, contact FROM samples WHERE ts >= ? AND ts < ?"
        )
        params: list[object] = [start_ms, end_ms]
        if sensors is not None:
            sql += f" AND sensor IN ({','.join('?' * len(sensors))})"
            params += list(sensors)
        if athlete_ids is not None:
            sql += f" AND athlete_id IN ({','.join('?' * len(athlete_ids))})"
            params += list(athlete_ids)
        sql += " ORDER BY sensor, ts"
        rows = self.conn.execute(sql, params).fetchall()
        return samples_frame(rows)

    async def count_samples(self) -> int:
        (count,) = self.conn.execute("SELECT count(*) FROM samples").fetchone()
        return int(count)

    async def sample_time_range(self) -> tuple[int, int] | None:
        lo, hi = self.conn.execute("SELECT min(ts), max(ts) FROM samples").fetchone()
        return None if lo is None else (int(lo), int(hi))

    async def query_quarantine(self, limit: int = 1000) -> list[QuarantineRow]:
        rows = self.conn.execute(
            "SELECT received_ms, topic, payload, reason, detail FROM quarantine"
            " ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [QuarantineRow(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows]

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
        where = "sensor = ? AND ts >= ? AND ts < ? AND athlete_id IS NOT ?"
        params = (sensor, start_ms, end_ms, athlete_id)
        conn = self.conn
        if athlete_id is None or hr_max is None:
            cur = conn.execute(
                f"UPDATE samples SET athlete_id = ?, pct_max = NULL, zone = NULL WHERE {where}",
                (athlete_id, *params),
            )
            return cur.rowcount
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(f"SELECT ts, bpm FROM samples WHERE {where}", params).fetchall()
            conn.executemany(
                "UPDATE samples SET athlete_id = ?, pct_max = ?, zone = ?"
                " WHERE sensor = ? AND ts = ?",
                [(athlete_id, *effort_stamp(bpm, hr_max), sensor, ts) for ts, bpm in rows],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(rows)

    # ------------------------------------------------------------ derived tables

    def _ensure_table(self, table: str, rows: pl.DataFrame, key: Sequence[str]) -> None:
        existing = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})").fetchall()}
        columns = []
        for name, dtype in rows.schema.items():
            sql_type = _POLARS_TO_SQL.get(type(dtype), "TEXT")
            columns.append((_ident(name), sql_type))
        if not existing:
            cols = ", ".join(f"{n} {t}" for n, t in columns)
            pk = ", ".join(_ident(k) for k in key)
            self.conn.execute(f"CREATE TABLE {table} ({cols}, PRIMARY KEY ({pk}))")
        else:
            for name, sql_type in columns:
                if name not in existing:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}")

    async def write_rows(self, table: str, rows: pl.DataFrame, key: Sequence[str]) -> None:
        _ident(table)
        if rows.is_empty():
            return
        conn = self.conn
        frame = rows.with_columns(
            [pl.col(n).cast(pl.String) for n, t in rows.schema.items() if isinstance(t, pl.Date)]
        )
        names = [_ident(n) for n in frame.columns]
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._ensure_table(table, frame, key)
            conn.executemany(
                f"INSERT OR REPLACE INTO {table} ({', '.join(names)})"
                f" VALUES ({', '.join('?' * len(names))})",
                frame.rows(),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def read_rows(
        self, table: str, where: Mapping[str, object] | None = None
    ) -> pl.DataFrame:
        _ident(table)
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
        ).fetchone()
        if not exists:
            return pl.DataFrame()
        sql = f"SELECT * FROM {table}"
        params: list[object] = []
        if where:
            sql += " WHERE " + " AND ".join(f"{_ident(k)} = ?" for k in where)
            params = list(where.values())
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return pl.DataFrame(cur.fetchall(), schema=names, orient="row", infer_schema_length=None)

    async def delete_rows(self, table: str, where: Mapping[str, object]) -> int:
        """``DELETE FROM table WHERE col = ? AND ...`` in one transaction; dates compare as
        the ISO text ``write_rows`` stores, booleans as 0/1."""
        _ident(table)
        if not where:
            raise ValueError("delete_rows needs at least one condition")
        conn = self.conn
        existing = {r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()}
        if not existing:
            return 0
        for name in where:
            if _ident(name) not in existing:
                raise ValueError(f"{table} has no column {name!r}")
        sql = f"DELETE FROM {table} WHERE " + " AND ".join(f"{k} = ?" for k in where)
        params = [_sql_value(v) for v in where.values()]
        conn.execute("BEGIN IMMEDIATE")
        try:
            deleted = conn.execute(sql, params).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(deleted)


def _sql_value(value: object) -> object:
    """A filter value as ``write_rows`` stores it: dates as ISO text, booleans as 0/1."""
    if isinstance(value, dt.datetime):
        raise ValueError(f"cannot filter derived rows on a datetime: {value!r}")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _migrate_samples(conn: sqlite3.Connection) -> None:
    """Add the columns of :data:`_SAMPLE_MIGRATIONS` that an older file lacks. Checked again
    inside a write transaction, so two processes opening the same file add each once."""

    def missing() -> list[tuple[str, str]]:
        have = {r[1] for r in conn.execute("PRAGMA table_info(samples)").fetchall()}
        return [(n, t) for n, t in _SAMPLE_MIGRATIONS if n not in have]

    if not missing():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name, sql_type in missing():
            conn.execute(f"ALTER TABLE samples ADD COLUMN {name} {sql_type}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def samples_frame(rows: Sequence[tuple[object, ...]]) -> pl.DataFrame:
    """(sensor, athlete_id, ts, bpm, rr-text, contact) rows -> the SAMPLE_COLUMNS frame."""
    raw = pl.DataFrame(
        rows,
        schema={
            "sensor": pl.String,
            "athlete_id": pl.Int64,
            "ts": pl.Int64,
            "bpm": pl.Int32,
            "rr": pl.String,
            "contact": pl.Int8,
        },
        orient="row",
    )
    return raw.select(
        "sensor",
        "athlete_id",
        "ts",
        "bpm",
        pl.when(pl.col("rr") == "")
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(pl.col("rr").str.split(","))
        .cast(pl.List(pl.Int32))
        .alias("rr_ms"),
        pl.col("contact").cast(pl.Boolean),
    ).cast(dict(SAMPLE_COLUMNS))  # type: ignore[arg-type]


def sample_row(s: StoredSample) -> tuple[object, ...]:
    return (s.sensor, s.athlete_id, s.ts, s.bpm, _rr_text(s.rr_ms), s.contact)
