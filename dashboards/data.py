"""Read-only queries the coach and guest views need.

Time series and derived tables (the ones ``gympulse analyze`` writes, see
``gympulse.pipeline.analytics.tables``) are read through the opened
:class:`gympulse.pipeline.stores.base.Store` (``query_samples`` / ``read_rows``; filtering,
sorting and limits in polars), so the views work the same on the SQLite file and on
InfluxDB. Identity and journal tables (athletes, sensors, assignments, classes, wellness,
session RPE) are not time series: they stay on the registry's SQLite file and are only read
here for the CSV export.

A derived table that does not exist yet (analyze never ran) reads as empty. Every query that
returns an athlete's data takes the athlete id as a parameter and passes it to the store as
the filter (and filters again on the result), so a guest view can only ever ask for its own
athlete's rows.

Consent (``docs/privacy.md``, "Consent"): every read here — one athlete's, the squad's, a
CSV of a whole table — keeps only the rows of the people who consent *now* to the domain of
that table (:data:`gympulse.pipeline.consent.SHOWN_WITH`, applied in :meth:`Data._table`,
:meth:`Data.samples` and :meth:`Data.export`), so a page reading through ``Data`` cannot
show what a guest withdrew. Her own export does not come through here.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import logging
import math
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from gympulse.csv_safe import FORMULA_START, safe_row
from gympulse.pipeline.analytics.tables import (
    BASELINES,
    BY_NAME,
    DAILY_METRICS,
    MORNING_READINGS,
    SESSION_POWER,
    SESSION_SUMMARY,
    Table,
)
from gympulse.pipeline.consent import Policy, Shown, ShownCache
from gympulse.pipeline.personal_data import PLACES, Home
from gympulse.pipeline.sqlite_db import SqliteDatabase
from gympulse.pipeline.stores.base import SAMPLE_COLUMNS, Store, StoreUnavailable

log = logging.getLogger(__name__)

Row = dict[str, Any]

# Registry/journal tables a coach may export (SQLite next to the registry): name -> ORDER BY.
IDENTITY_EXPORTS: dict[str, str] = {
    "athletes": "id",
    "sensors": "id",
    "assignments": "id",
    "classes": "id",
    "wellness": "athlete_id, date",
    "session_rpe": "athlete_id, session_id",
    "morning_recordings": "athlete_id, start_ms",
    "strength_sets": "athlete_id, ts_ms, id",
    "coach_notes": "athlete_id, created_ms",
}
# Store tables a coach may export: name -> sort columns.
STORE_EXPORTS: dict[str, tuple[str, ...]] = {
    "samples": ("sensor", "ts"),
    SESSION_SUMMARY.name: ("athlete_id", "start_ms"),
    SESSION_POWER.name: ("athlete_id", "session_id"),
    DAILY_METRICS.name: ("athlete_id", "date"),
    MORNING_READINGS.name: ("athlete_id", "start_ms"),
    BASELINES.name: ("athlete_id", "date"),
}
# Places of a person's data (pipeline/personal_data.py) that are not among the coach's CSV
# tables, and why; every other place is (tests/test_csv_exports.py checks both ways). A
# registry table the map names and these do not is exported as it is (its withheld
# columns left out), so a new table of a person's data reaches the CSV set by itself.
NOT_IN_CSV: dict[str, str] = {
    "machine_samples": "raw machine samples: in the person's own export (zip)",
    "quarantine": "raw malformed messages, kept for diagnosis only",
    "analytics_state": "the analytics' bookkeeping (what to recompute)",
    "guest_tokens": "guest links: managed on the athlete's page; their hashes are secrets",
    "guest_token_nonce": "what re-derives a guest link: a secret",
    "guest_token_use": "when a link was last opened: on the athlete's page",
}
# The person's-data tables of the registry file (exported as they are, withheld left out).
_REGISTRY_PLACES = {p.name: p for p in PLACES if p.home is Home.REGISTRY}
REGISTRY_EXPORTS: dict[str, str] = IDENTITY_EXPORTS | {
    name: "1" for name in _REGISTRY_PLACES if name not in IDENTITY_EXPORTS | NOT_IN_CSV
}
EXPORTABLE: frozenset[str] = frozenset(REGISTRY_EXPORTS) | frozenset(STORE_EXPORTS)
# The admin page's list, in this order (then any other exportable table by name).
EXPORT_ORDER: tuple[str, ...] = (
    "athletes", "sensors", "assignments", "classes", "wellness", "session_rpe",
    "morning_recordings", "morning_readings", "strength_sets", "coach_notes",
    "session_summary", "session_power", "daily_metrics", "baselines", "samples",
)  # fmt: skip
EXPORT_ORDER += tuple(sorted(EXPORTABLE - set(EXPORT_ORDER)))

# The samples CSV export reads this much time per query_samples call (one day).
EXPORT_WINDOW_MS = 86_400_000

# Decimals per column in CSV exports (others: 2): numbers rounded to their meaning.
_DIGITS = {
    "hr_avg": 0, "hr_max": 0, "hr_min": 0, "kcal": 0, "points": 1, "trimp_banister": 1,
    "trimp_edwards": 1, "hrr60": 0, "rmssd": 1, "ln_rmssd": 2, "hr_rest": 0, "tsb": 1,
    "ctl": 1, "atl": 1, "acwr_ewma": 2, "load": 1, "weight_kg": 1, "rpe": 0, "srpe_load": 0,
}  # fmt: skip


def _rounded(value: Any, digits: int) -> Any:
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    return round(value) if digits == 0 else round(value, digits)


_INT = ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64")


def _normalise(table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    """One shape for every backend: ``Date`` columns as ISO text (SQLite keeps them as text,
    InfluxDB returns dates), booleans as booleans (SQLite keeps 0/1), integers as integers."""
    casts = []
    for name, type_name in table.columns.items():
        if name not in frame.columns:
            continue
        col = pl.col(name)
        dtype = frame.schema[name]
        if type_name == "Date":
            casts.append(col.cast(pl.String) if dtype != pl.String else col)
        elif type_name == "Boolean" and dtype != pl.Boolean and dtype != pl.Null:
            casts.append(col.cast(pl.Boolean, strict=False))
        elif type_name in _INT and dtype != pl.Null:
            casts.append(col.cast(getattr(pl, type_name), strict=False))
        else:
            continue
        casts[-1] = casts[-1].alias(name)
    return frame.with_columns(casts) if casts else frame


def _rows(frame: pl.DataFrame) -> list[Row]:
    return frame.to_dicts()


def _shown_rows(frame: pl.DataFrame, place: str, shown: Shown) -> pl.DataFrame:
    """The rows of ``place`` that may be shown now (rows of nobody stay)."""
    ids = shown.ids(place)
    if ids is None or frame.is_empty() or "athlete_id" not in frame.columns:
        return frame
    who = pl.col("athlete_id")
    return frame.filter(who.is_null() | who.is_in(sorted(ids)))


class Data:
    """The views' read side: ``store`` must be opened by its owner (the app's lifespan:
    :meth:`open_store` / :meth:`close_store`); ``path`` is the registry's SQLite file;
    ``policy``: the site's consent rules, which every read applies (module docstring)."""

    def __init__(self, store: Store, path: str | Path, *, policy: Policy) -> None:
        self.store = store
        self.db = SqliteDatabase(path)  # the identity tables, through the file's owner
        self.policy = policy
        self._shown = ShownCache(policy)
        self._store_users = 0
        self.tz = "UTC"  # the site's time zone: exports write local ISO times

    async def shown(self) -> Shown:
        """Who consents to what now (read per call: a withdrawal counts at once)."""
        if not self.policy.required:
            return Shown(None)
        return await self.db.arun(self._shown.get)

    def close(self) -> None:
        self.db.close()

    async def open_store(self) -> None:
        """Open the store for one more user (an app lifespan); the first opens it."""
        if self._store_users == 0:
            try:
                await self.store.open()
            except StoreUnavailable as err:
                # The live board does not need the store: serve it, and answer the views
                # that do with 503 until the store is back (its client retries per request).
                log.warning("time-series store unavailable at start-up: %s", err)
        self._store_users += 1

    async def close_store(self) -> None:
        """Release one user of the store; the last closes it."""
        self._store_users = max(0, self._store_users - 1)
        if self._store_users == 0:
            await self.store.close()

    async def _table(self, table: Table, athlete_id: int | None, **where: object) -> pl.DataFrame:
        """Rows of a derived table (only ``athlete_id``'s when given), normalised."""
        cond: dict[str, object] = dict(where)
        if athlete_id is not None:
            cond = {"athlete_id": athlete_id} | cond
        frame = await self.store.read_rows(table.name, cond or None)
        if frame.is_empty() or "athlete_id" not in frame.columns:
            return pl.DataFrame()
        frame = _normalise(table, frame)
        for name, value in cond.items():  # again, whatever the backend did with the filter
            if name not in frame.columns:
                return pl.DataFrame()
            frame = frame.filter(pl.col(name) == value)
        return _shown_rows(frame, table.name, await self.shown())

    # ---------------------------------------------------------------- one athlete

    async def sessions(self, athlete_id: int, limit: int = 200) -> list[Row]:
        """The athlete's session summaries, newest first."""
        frame = await self._table(SESSION_SUMMARY, athlete_id)
        if frame.is_empty():
            return []
        return _rows(frame.sort("start_ms", descending=True, nulls_last=True).head(limit))

    async def session_power(self, athlete_id: int, session_id: str) -> Row | None:
        """The session's power (``session_power``), None when it had no machine."""
        frame = await self._table(SESSION_POWER, athlete_id, session_id=session_id)
        return None if frame.is_empty() else _rows(frame)[0]

    async def session(self, athlete_id: int, session_id: str) -> Row | None:
        frame = await self._table(SESSION_SUMMARY, athlete_id, session_id=session_id)
        return _rows(frame.head(1))[0] if not frame.is_empty() else None

    async def _by_date(self, table: Table, athlete_id: int, days: int) -> list[Row]:
        frame = await self._table(table, athlete_id)
        if frame.is_empty():
            return []
        return _rows(frame.sort("date", descending=True, nulls_last=True).head(days).reverse())

    async def daily(self, athlete_id: int, days: int = 120) -> list[Row]:
        """The athlete's last ``days`` daily metrics, oldest first."""
        return await self._by_date(DAILY_METRICS, athlete_id, days)

    async def baselines(self, athlete_id: int, days: int = 120) -> list[Row]:
        """The athlete's last ``days`` baseline rows, oldest first."""
        return await self._by_date(BASELINES, athlete_id, days)

    async def samples(self, athlete_id: int, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """(ts, bpm) of the athlete's samples with skin contact in [start_ms, end_ms]."""
        if not (await self.shown()).allows(athlete_id, "samples"):
            return []
        frame = await self.store.query_samples(start_ms, end_ms + 1, athlete_ids=[athlete_id])
        frame = frame.filter(
            (pl.col("athlete_id") == athlete_id)
            & (pl.col("ts") >= start_ms)
            & (pl.col("ts") <= end_ms)
            & (pl.col("contact").is_null() | pl.col("contact"))
        ).sort("ts")
        return [(int(ts), int(bpm)) for ts, bpm in frame.select("ts", "bpm").iter_rows()]

    # ---------------------------------------------------------------- the squad

    async def recent_baselines(self, days: int = 60) -> dict[int, list[Row]]:
        """Each athlete's baseline rows of their last ``days`` days on record, oldest first
        (what :func:`gympulse.pipeline.analytics.readiness.daily_status` judges)."""
        frame = await self._table(BASELINES, None)
        if frame.is_empty():
            return {}
        day = pl.col("date").str.to_date("%Y-%m-%d", strict=False)
        recent = (
            frame.with_columns(day.alias("_day"))
            .filter(
                pl.col("_day") > pl.col("_day").max().over("athlete_id") - pl.duration(days=days)
            )
            .sort("athlete_id", "_day")
            .drop("_day")
        )
        out: dict[int, list[Row]] = {}
        for row in _rows(recent):
            if row["athlete_id"] is not None:
                out.setdefault(int(row["athlete_id"]), []).append(row)
        return out

    async def last_sessions(self) -> dict[int, Row]:
        """Each athlete's most recent session summary."""
        frame = await self._table(SESSION_SUMMARY, None)
        if frame.is_empty():
            return {}
        latest = frame.filter(pl.col("start_ms") == pl.col("start_ms").max().over("athlete_id"))
        return {int(r["athlete_id"]): r for r in _rows(latest) if r["athlete_id"] is not None}

    async def latest_per_athlete(self, table_name: str) -> dict[int, Row]:
        """The newest row (by date) of each athlete in a derived table."""
        table = BY_NAME.get(table_name)
        if table is None or "date" not in table.columns:
            return {}
        frame = await self._table(table, None)
        if frame.is_empty():
            return {}
        latest = frame.filter(pl.col("date") == pl.col("date").max().over("athlete_id"))
        return {int(r["athlete_id"]): r for r in _rows(latest) if r["athlete_id"] is not None}

    async def load_7d(self, column: str = "load") -> dict[int, float]:
        """Σ daily ``column`` (``load``: TRIMP; ``srpe_load``: session-RPE load) of each
        athlete's last 7 days on record."""
        frame = await self._table(DAILY_METRICS, None)
        if frame.is_empty():
            return {}
        day = pl.col("date").str.to_date("%Y-%m-%d", strict=False)
        sums = (
            frame.with_columns(day.alias("day"))
            .filter(pl.col("day") > pl.col("day").max().over("athlete_id") - pl.duration(days=7))
            .group_by("athlete_id")
            .agg(pl.col(column).cast(pl.Float64).sum())
        )
        return {int(a): float(s or 0.0) for a, s in sums.iter_rows() if a is not None}

    # ---------------------------------------------------------------- export

    async def _names(self) -> dict[int, str]:
        """athlete id -> name (empty before the registry made its table)."""
        return await self.db.arun(_athlete_names)

    async def export(
        self, table: str, *, window_ms: int = EXPORT_WINDOW_MS
    ) -> tuple[list[str], AsyncIterator[tuple[Any, ...]]] | None:
        """Column names and rows of an exportable table; None when not exportable.

        ``samples`` are streamed: :meth:`Store.sample_time_range` gives the oldest and newest
        ts, then one ``query_samples`` per ``window_ms`` (a day) is read only when the
        consumer asks for its rows, so memory holds one window, not the whole history. Rows
        come ordered by window, then (sensor, ts) within it. Derived tables (a few rows per
        athlete per day) are read whole."""
        if table in REGISTRY_EXPORTS:
            found = await self.db.arun(lambda conn: _identity_rows(conn, table))
            if found is None:
                return None
            found = _shown_identity(table, *found, await self.shown())
            names = await self._names()
            columns, rows = await asyncio.to_thread(self._readable, *found, names)
            return columns, _aiter(rows)
        if table not in STORE_EXPORTS:
            return None
        if table == "samples":
            return list(SAMPLE_COLUMNS), self._sample_rows(window_ms)
        frame = await self.store.read_rows(table)
        if frame.is_empty():
            return None
        frame = _shown_rows(frame, table, await self.shown())
        names = await self._names()
        columns, rows = await asyncio.to_thread(self._derived_rows, table, frame, names)
        return columns, _aiter(rows)

    def _derived_rows(
        self, table: str, frame: pl.DataFrame, names: dict[int, str]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """A derived table's rows for export, in its order (blocking: a worker thread)."""
        derived = BY_NAME[table]
        frame = _normalise(derived, frame)
        columns = [c for c in derived.columns if c in frame.columns]
        columns += [c for c in frame.columns if c not in derived.columns]
        order = [c for c in STORE_EXPORTS[table] if c in frame.columns]
        if order:
            frame = frame.sort(order, nulls_last=True)
        return self._readable(columns, frame.select(columns).rows(), names)

    def _readable(
        self, columns: list[str], rows: list[tuple[Any, ...]], names: dict[int, str]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Rows a person can read in a spreadsheet: numbers rounded to their meaning, and
        appended after the original columns (which stay for scripts) the athlete's name
        (from ``names``) and every ``*_ms`` time as ISO 8601 in the site's time zone
        (blocking: a worker thread)."""
        tz = ZoneInfo(self.tz)
        ms_cols = [i for i, c in enumerate(columns) if c.endswith("_ms")]
        athlete_col = columns.index("athlete_id") if "athlete_id" in columns else None
        digits = [_DIGITS.get(c, 2) for c in columns]
        out_columns = list(columns)
        if athlete_col is not None:
            out_columns.append("athlete")
        out_columns += [columns[i].removesuffix("_ms") + "_local" for i in ms_cols]

        def iso(ms: Any) -> str:
            if not isinstance(ms, int) or not 0 <= ms < 2**53:
                return ""
            return dt.datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="seconds")

        out = []
        for row in rows:
            cells = [_rounded(v, digits[i]) for i, v in enumerate(row)]
            if athlete_col is not None:
                cells.append(names.get(row[athlete_col], ""))
            cells += [iso(row[i]) for i in ms_cols]
            out.append(tuple(cells))
        return out_columns, out

    async def _sample_windows(self, window_ms: int) -> AsyncIterator[pl.DataFrame]:
        """Every stored sample once, one frame per window [lo, lo + window_ms) from the
        oldest ts until past the newest (samples that arrive meanwhile beyond the newest are
        not included), sorted by (sensor, ts), ``rr_ms`` joined to text."""
        if window_ms <= 0:
            raise ValueError("window_ms must be positive")
        span = await self.store.sample_time_range()
        if span is None:
            return
        oldest, newest = span
        order = list(STORE_EXPORTS["samples"])
        shown = await self.shown()
        for lo in range(oldest, newest + 1, window_ms):
            hi = min(lo + window_ms, newest + 1)
            frame = _shown_rows(await self.store.query_samples(lo, hi), "samples", shown)
            if frame.is_empty():
                continue
            yield await asyncio.to_thread(_sample_window, frame, order)

    async def _sample_rows(self, window_ms: int) -> AsyncIterator[tuple[Any, ...]]:
        columns = list(SAMPLE_COLUMNS)
        async for frame in self._sample_windows(window_ms):
            for row in await asyncio.to_thread(frame.select(columns).rows):
                yield row

    async def export_csv(
        self, table: str, *, window_ms: int = EXPORT_WINDOW_MS
    ) -> AsyncIterator[bytes] | None:
        """An exportable table as CSV chunks (header first); None when not exportable.

        Off the event loop: the samples (a year is millions of rows) are read one window
        per store query (the store's own worker) and written as CSV by polars in a worker
        thread, which holds the GIL only briefly, so the live board on the same loop stays
        as quick while a year streams out. Other tables are formatted in worker threads in
        batches."""
        if table == "samples":
            return self._samples_csv(window_ms)
        found = await self.export(table, window_ms=window_ms)
        if found is None:
            return None
        return _rows_csv(*found)

    async def _samples_csv(self, window_ms: int) -> AsyncIterator[bytes]:
        """The samples' columns, then (for a person reading it in a spreadsheet) the
        athlete's name and the sample's time in ISO 8601 in the site's time zone."""
        names = await self._names()
        yield await asyncio.to_thread(_csv_bytes, [[*SAMPLE_COLUMNS, "athlete", "time_local"]])
        async for frame in self._sample_windows(window_ms):
            yield await asyncio.to_thread(_samples_csv_bytes, frame, names, self.tz)


CSV_BATCH_ROWS = 5000


def _exists(conn: sqlite3.Connection, table: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return row is not None


def _athlete_names(conn: sqlite3.Connection) -> dict[int, str]:
    if not _exists(conn, "athletes"):
        return {}
    return {int(i): str(n) for i, n in conn.execute("SELECT id, name FROM athletes")}


def _identity_rows(
    conn: sqlite3.Connection, table: str
) -> tuple[list[str], list[tuple[Any, ...]]] | None:
    if not _exists(conn, table):
        return None
    cur = conn.execute(f"SELECT * FROM {table} ORDER BY {REGISTRY_EXPORTS[table]}")
    columns = [d[0] for d in cur.description]
    place = _REGISTRY_PLACES.get(table)
    withheld = set(place.withheld) if place is not None else set()
    keep = [i for i, c in enumerate(columns) if c not in withheld]
    rows = cur.fetchall()
    return [columns[i] for i in keep], [tuple(r[i] for i in keep) for r in rows]


def _shown_identity(
    table: str, columns: list[str], rows: list[tuple[Any, ...]], shown: Shown
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A registry table's rows that may be shown now (``consent.SHOWN_WITH``)."""
    ids = shown.ids(table)
    if ids is None or "athlete_id" not in columns:
        return columns, rows
    at = columns.index("athlete_id")
    return columns, [r for r in rows if r[at] is None or r[at] in ids]


def _sample_window(frame: pl.DataFrame, order: list[str]) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("rr_ms").cast(pl.List(pl.String)).list.join(",").alias("rr_ms")
    ).sort(order)


def _samples_csv_bytes(frame: pl.DataFrame, names: dict[int, str], tz: str) -> bytes:
    """Sample rows as CSV, the way ``csv.writer`` renders them (booleans True/False, None
    empty) with :func:`gympulse.csv_safe.safe_cell`'s rule on text, written by polars;
    then the athlete's name (``names``) and the local time in ``tz`` (seconds, with offset)."""
    contact = pl.col("contact")
    true_false = pl.when(contact).then(pl.lit("True")).when(contact.not_()).then(pl.lit("False"))
    athlete = pl.col("athlete_id").replace_strict(
        list(names), list(names.values()), default=None, return_dtype=pl.String
    )
    local = (
        pl.from_epoch(pl.col("ts"), time_unit="ms")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(tz)
        .dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
    )
    out = frame.select(list(SAMPLE_COLUMNS)).with_columns(
        true_false.alias("contact"),
        _safe_text("sensor"),
        _safe_text("rr_ms"),
        athlete.alias("athlete"),
        local.alias("time_local"),
    )
    out = out.with_columns(_safe_text("athlete"))
    return out.write_csv(include_header=False).encode()


def _safe_text(name: str) -> pl.Expr:
    """A text column with a leading ``'`` on cells a spreadsheet would run as a formula."""
    col = pl.col(name)
    risky = pl.any_horizontal([col.str.starts_with(c) for c in FORMULA_START])
    return pl.when(risky).then(pl.lit("'") + col).otherwise(col).alias(name)


def _csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows as CSV; no cell runs as a spreadsheet formula (``gympulse.csv_safe``)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(safe_row(row) for row in rows)
    return buffer.getvalue().encode()


async def _rows_csv(
    columns: list[str], rows: AsyncIterator[tuple[Any, ...]]
) -> AsyncIterator[bytes]:
    yield await asyncio.to_thread(_csv_bytes, [columns])
    batch: list[tuple[Any, ...]] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= CSV_BATCH_ROWS:
            yield await asyncio.to_thread(_csv_bytes, batch)
            batch = []
    if batch:
        yield await asyncio.to_thread(_csv_bytes, batch)


async def _aiter(rows: Iterable[tuple[Any, ...]]) -> AsyncIterator[tuple[Any, ...]]:
    for row in rows:
        yield row
