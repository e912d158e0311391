"""The table role of the SQLite store (:class:`gympulse.pipeline.stores.base.TableStore`):
the analytics' derived tables, one SQLite table each, created from the first frame written
(polars types mapped to SQLite types, the key columns as the primary key) and widened when
a later frame brings a new column. Rows are upserted with ``INSERT OR REPLACE``. Dates are
stored as ISO text. Every call runs on the store's worker thread, in one transaction."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import polars as pl

from gympulse.sqlite_owner import transaction

T = TypeVar("T")

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


class SqliteTables:
    """The table role, mixed into :class:`gympulse.pipeline.stores.sqlite.SqliteStore`,
    which provides the connection and the worker thread."""

    @property
    def conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        raise NotImplementedError

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
        frame = rows.with_columns(
            [pl.col(n).cast(pl.String) for n, t in rows.schema.items() if isinstance(t, pl.Date)]
        )
        await self._run(self._write_rows, table, frame, key)

    def _write_rows(self, table: str, frame: pl.DataFrame, key: Sequence[str]) -> None:
        names = [_ident(n) for n in frame.columns]
        with transaction(self.conn) as conn:
            self._ensure_table(table, frame, key)
            conn.executemany(
                f"INSERT OR REPLACE INTO {table} ({', '.join(names)})"
                f" VALUES ({', '.join('?' * len(names))})",
                frame.rows(),
            )

    async def read_rows(
        self, table: str, where: Mapping[str, object] | None = None
    ) -> pl.DataFrame:
        _ident(table)
        return await self._run(self._read_rows, table, where)

    def _read_rows(self, table: str, where: Mapping[str, object] | None) -> pl.DataFrame:
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
        return await self._run(self._delete_rows, table, where)

    def _delete_rows(self, table: str, where: Mapping[str, object]) -> int:
        conn = self.conn
        existing = {r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()}
        if not existing:
            return 0
        for name in where:
            if _ident(name) not in existing:
                raise ValueError(f"{table} has no column {name!r}")
        sql = f"DELETE FROM {table} WHERE " + " AND ".join(f"{k} = ?" for k in where)
        params = [_sql_value(v) for v in where.values()]
        with transaction(conn):
            deleted = conn.execute(sql, params).rowcount
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
