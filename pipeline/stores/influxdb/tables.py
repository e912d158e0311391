"""Derived tables on InfluxDB (session summaries, daily metrics, ...): one measurement per
table, key columns as tags, the table's day or start as the point time, and each table's
column types in ``gympulse_schema`` so rows read back with their polars types — the
:class:`gympulse.pipeline.stores.base.TableStore` role.

A day (a ``Date`` key column: daily metrics, baselines) is the site's calendar day, as
the analytics count it (``settings.timezone``), so its point sits at that day's local
midnight in the site's zone: Grafana, showing the site's zone, draws Monday's load on
Monday. Read back, a point's day is the local day of its time plus 12 hours, which gives
the same day for points written at UTC midnight by releases before this one (for zones
within 12 hours of UTC); rewriting such a day deletes its old point (no second point).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from gympulse.pipeline.stores.influxdb.deletes import Deleter
from gympulse.pipeline.stores.influxdb.http import (
    InfluxHttp,
    InfluxQueryError,
    LineWriter,
    write_lines,
)
from gympulse.pipeline.stores.influxdb.influxql import quote_ident, quote_str
from gympulse.pipeline.stores.influxdb.lineprotocol import HR, QUARANTINE, SCHEMA, line

_POINT_TIME = "__point_time_ms"
_RAW_TAG = "__point_tag_"


class InfluxTables:
    """The table role of the InfluxDB store, over one HTTP client."""

    def __init__(
        self, http: InfluxHttp, writer: LineWriter, deleter: Deleter, *, zone: str = "UTC"
    ) -> None:
        self.zone = ZoneInfo(zone)  # the site's: where a day's point sits
        self.http = http
        self.writer = writer
        self.deleter = deleter
        self._schemas: dict[str, dict[str, Any]] = {}

    async def _write(self, lines: list[str], precision: str) -> list[tuple[int, str]]:
        return await write_lines(self.writer, lines, precision, self.http.settings.batch_points)

    async def _schema(self, table: str) -> dict[str, Any] | None:
        if table not in self._schemas:
            q = (
                f'SELECT "schema" FROM {self.http.measurement(SCHEMA)}'
                f" WHERE {quote_ident('table')} = {quote_str(table)}"
            )
            rows = await self.http.rows(q)
            if not rows:
                return None
            self._schemas[table] = json.loads(rows[-1]["schema"])
        return self._schemas[table]

    async def write_rows(self, table: str, rows: pl.DataFrame, key: Sequence[str]) -> None:
        if table in (HR, QUARANTINE, SCHEMA):
            raise ValueError(f"{table!r} is not a derived table")
        if rows.is_empty():
            return
        columns = {name: _dtype_name(dtype) for name, dtype in rows.schema.items()}
        previous = await self._schema(table)
        if previous is not None:
            merged = dict(previous["columns"])
            merged.update({k: v for k, v in columns.items() if v != "Null" or k not in merged})
            columns = merged
        time_col = _time_column(columns, key) if previous is None else previous["time"]
        if time_col is not None and time_col not in rows.columns:
            raise ValueError(f"{table}: rows lack the time column {time_col!r}")
        tag_cols = [k for k in key if k != time_col]
        schema = {"columns": columns, "key": list(key), "time": time_col, "tags": tag_cols}
        if schema != previous:
            await self._write_checked(
                [line(SCHEMA, {"table": table}, {"schema": json.dumps(schema)}, 0)], table
            )
            self._schemas[table] = schema
        field_cols = [c for c in rows.columns if c not in tag_cols and c != time_col]
        lines: list[str] = []
        times: dict[tuple[str, ...], int] = {}
        for row in rows.iter_rows(named=True):
            tags = {k: _tag_value(row[k]) for k in tag_cols}
            t = 0 if time_col is None else _to_ms(row[time_col], self.zone)
            fields = {c: _plain(row[c], columns[c]) for c in field_cols}
            if time_col is not None and time_col not in key:
                fields[time_col] = _plain(row[time_col], columns[time_col])
            if all(v is None for v in fields.values()):
                fields["_present"] = True  # a point needs a field
            lines.append(line(table, tags, fields, t))
            times[tuple(tags[k] for k in tag_cols)] = t
        if time_col is not None and time_col not in key:
            await self._drop_moved_rows(table, tag_cols, times)
        elif time_col is not None and columns.get(time_col) == "Date":
            await self._drop_other_points_of_days(table, tag_cols, rows[time_col].to_list())
        await self._write_checked(lines, table)

    async def _drop_other_points_of_days(
        self, table: str, tag_cols: list[str], days: list[dt.date]
    ) -> None:
        """Before a day's rows are written at local midnight: delete the points of the
        same tags and day that sit elsewhere (at UTC midnight, written before the day's
        point followed the site's zone, or under another zone)."""
        if not days:
            return
        lo, hi = _day_span(min(days), self.zone)[0], _day_span(max(days), self.zone)[1]
        group = " GROUP BY " + ", ".join(quote_ident(t) for t in tag_cols) if tag_cols else ""
        q = f"SELECT * FROM {self.http.measurement(table)} WHERE time >= {lo}ms AND time < {hi}ms"
        try:
            existing = await self.http.rows(q + group)
        except InfluxQueryError:
            return
        wanted = {_midnight_ms(d, self.zone) for d in days}
        rewritten = set(days)
        stale = [
            ({t: str(r.get(t) or "") for t in tag_cols}, int(r["time"]))
            for r in existing
            if int(r["time"]) not in wanted and _day_of(int(r["time"]), self.zone) in rewritten
        ]
        await self.deleter.delete_points(table, stale)

    async def _drop_moved_rows(
        self, table: str, tag_cols: list[str], times: dict[tuple[str, ...], int]
    ) -> None:
        """When the time comes from a non-key column (a session's start), a row whose start
        changed would become a second point: delete the key's old point first."""
        if not tag_cols:
            return
        group = ", ".join(quote_ident(t) for t in tag_cols)
        q = f"SELECT * FROM {self.http.measurement(table)} GROUP BY {group}"
        try:
            existing = await self.http.rows(q)
        except InfluxQueryError:
            return
        stale = []
        for r in existing:
            k = tuple(str(r.get(t) or "") for t in tag_cols)
            if k in times and int(r["time"]) != times[k]:
                stale.append((dict(zip(tag_cols, k, strict=True)), int(r["time"])))
        await self.deleter.delete_points(table, stale)

    async def _write_checked(self, lines: list[str], table: str) -> None:
        refused = await self._write(lines, "ms")
        if refused:
            raise ValueError(f"InfluxDB refused rows of {table}: {refused[0][1]}")

    async def read_rows(
        self, table: str, where: Mapping[str, object] | None = None
    ) -> pl.DataFrame:
        found = await self._read_points(table, where)
        if found is None:
            return pl.DataFrame()
        return found.drop(_POINT_TIME, *[c for c in found.columns if c.startswith(_RAW_TAG)])

    async def _read_points(
        self, table: str, where: Mapping[str, object] | None
    ) -> pl.DataFrame | None:
        """The rows of ``table`` matching ``where`` (tags and the time column filtered by the
        server, other columns by polars), plus each point's identity: its time in ms
        (column ``_POINT_TIME``) and its raw tag strings (``_RAW_TAG`` + tag name). None
        when the table was never written."""
        schema = await self._schema(table)
        if schema is None:
            return None
        columns: dict[str, str] = schema["columns"]
        tags: list[str] = schema["tags"]
        time_col: str | None = schema["time"]
        for k in where or {}:
            if k not in columns:
                raise ValueError(f"{table} has no column {k!r}")
        conds = [
            f"{quote_ident(k)} = {quote_str(_tag_value(v))}"
            for k, v in (where or {}).items()
            if k in tags
        ]
        if time_col is not None and time_col in (where or {}):
            value = (where or {})[time_col]
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                lo, hi = _day_span(value, self.zone)  # the points that read as that day
                conds.append(f"time >= {lo}ms AND time < {hi}ms")
            elif isinstance(value, dt.date | int) and not isinstance(value, bool):
                conds.append(f"time = {_to_ms(value, self.zone)}ms")
        q = f"SELECT * FROM {self.http.measurement(table)}"
        if conds:
            q += " WHERE " + " AND ".join(conds)
        raw = await self.http.rows(q)
        # A table's rows become a frame in a worker thread, as the answer was decoded.
        return await asyncio.to_thread(
            _points_frame, raw, columns, tags, time_col, where or {}, self.zone
        )

    async def delete_rows(self, table: str, where: Mapping[str, object]) -> int:
        """Rows matching ``where`` on any columns: the matching points are read (tags and
        time filtered by the server, field columns such as ``session_summary.date`` in
        polars), then each is deleted by its tag set and time, the only filters InfluxQL
        ``DELETE`` has. Returns how many points were deleted."""
        if table in (HR, QUARANTINE, SCHEMA):
            raise ValueError(f"{table!r} is not a derived table")
        if not where:
            raise ValueError("delete_rows needs at least one condition")
        found = await self._read_points(table, where)
        if found is None or found.is_empty():
            return 0
        tag_cols = [c for c in found.columns if c.startswith(_RAW_TAG)]
        points = [
            (
                {c.removeprefix(_RAW_TAG): str(row[c]) for c in tag_cols},
                int(row[_POINT_TIME]),
            )
            for row in found.select(_POINT_TIME, *tag_cols).iter_rows(named=True)
        ]
        await self.deleter.delete_points(table, points)
        return len(points)


def _points_frame(
    raw: list[dict[str, Any]],
    columns: Mapping[str, str],
    tags: list[str],
    time_col: str | None,
    where: Mapping[str, object],
    zone: ZoneInfo,
) -> pl.DataFrame:
    """The rows of a derived table's points (see :meth:`InfluxTables._read_points`)."""
    data: dict[str, list[object]] = {c: [] for c in columns}
    for r in raw:
        for c in columns:
            if c == time_col and c not in r and columns[c] == "Date":
                data[c].append(_day_of(int(r["time"]), zone))
            elif c == time_col and c not in r:
                data[c].append(int(r["time"]))
            elif c in tags:
                data[c].append(r.get(c) or None)
            else:
                data[c].append(r.get(c))
    frame = pl.DataFrame(
        {
            c: pl.Series(c, v, dtype=pl.String if c in tags else None, strict=False)
            for c, v in data.items()
        }
    )
    frame = frame.with_columns(
        [_cast_column(frame[c], t).alias(c) for c, t in columns.items() if t != "Null"]
    )
    frame = frame.with_columns(
        pl.Series(_POINT_TIME, [int(r["time"]) for r in raw], dtype=pl.Int64),
        *[
            pl.Series(_RAW_TAG + t, [str(r.get(t) or "") for r in raw], dtype=pl.String)
            for t in tags
        ],
    )
    for k, v in where.items():
        frame = frame.filter(pl.col(k) == v)
    return frame


def _time_column(schema: Mapping[str, str], key: Sequence[str]) -> str | None:
    """The column that becomes the point time: a Date key column, else ``start_ms``, else
    ``date``; None means every row sits at time 0."""
    for k in key:
        if schema.get(k) == "Date":
            return k
    for candidate in ("start_ms", "date", "ts"):
        if candidate in schema:
            return candidate
    return None


def _midnight_ms(day: dt.date, zone: ZoneInfo) -> int:
    """The start of ``day`` in ``zone`` (local midnight; the first instant of the day where
    a DST change skips midnight), in UTC ms."""
    start = dt.datetime.combine(day, dt.time(), zone)
    utc = start.astimezone(dt.UTC)
    if utc.astimezone(zone).date() != day:  # midnight did not exist: 01:00 instead
        utc = dt.datetime.combine(day, dt.time(1), zone).astimezone(dt.UTC)
    return int(utc.timestamp() * 1000)


def _day_of(ms: int, zone: ZoneInfo) -> dt.date:
    """The day a point at ``ms`` stands for: the local day in ``zone`` of ``ms`` + 12 h
    (a point at the local midnight of D, or at D 00:00 UTC from older releases, both
    read as D)."""
    return dt.datetime.fromtimestamp(ms / 1000 + 43_200, zone).date()


def _day_span(day: dt.date, zone: ZoneInfo) -> tuple[int, int]:
    """[lo, hi) in UTC ms of the point times :func:`_day_of` reads as ``day``."""
    noon_before = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), zone)
    noon = dt.datetime.combine(day, dt.time(12), zone)
    return int(noon_before.timestamp() * 1000), int(noon.timestamp() * 1000)


def _to_ms(value: object, zone: ZoneInfo) -> int:
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dt.date):
        return _midnight_ms(value, zone)
    if isinstance(value, int):
        return value
    raise ValueError(f"cannot use {value!r} as a point time")


def _plain(value: object, dtype_name: str) -> object:
    """A derived-table cell as a field value. Numbers are written as floats so a column that
    is Int in one run and Float in the next never causes a field type conflict."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return str(value)


def _cast_column(series: pl.Series, dtype_name: str) -> pl.Series:
    if dtype_name == "Date":
        if series.dtype == pl.Date:
            return series
        if series.dtype == pl.String:
            return series.str.to_date("%Y-%m-%d", strict=False)
        return series.cast(pl.Int64).cast(pl.Datetime("ms")).dt.date()
    if dtype_name.startswith("Datetime"):
        if series.dtype == pl.String:
            return series.str.to_datetime(strict=False)
        return series.cast(pl.Int64).cast(pl.Datetime("ms"))
    if dtype_name == "Boolean" and series.dtype == pl.String:
        return series == "true"
    if dtype_name.startswith(("Int", "UInt")):
        return series.cast(pl.Float64).round(0).cast(getattr(pl, dtype_name))
    try:
        return series.cast(getattr(pl, dtype_name))
    except (AttributeError, TypeError, pl.exceptions.PolarsError):
        return series


def _dtype_name(dtype: pl.DataType) -> str:
    name = str(type(dtype).__name__)
    return name


def _tag_value(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)
