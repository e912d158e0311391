"""Read-only queries the coach and guest views need, on the SQLite file next to the registry.

The derived tables are the ones ``gympulse analyze`` writes (``pipeline.analytics.tables``);
a table that does not exist yet (analyze never ran) reads as empty. Every query that
returns an athlete's data takes the athlete id as a parameter, so a guest view can only
ever ask for its own athlete's rows.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.analytics.tables import BASELINES, DAILY_METRICS, SESSION_SUMMARY
from pipeline.stores.sqlite import connect

Row = dict[str, Any]

# Tables a coach may export as CSV: name -> ORDER BY.
EXPORTABLE: dict[str, str] = {
    "athletes": "id",
    "sensors": "id",
    "assignments": "id",
    "classes": "id",
    "wellness": "athlete_id, date",
    "session_rpe": "athlete_id, session_id",
    "samples": "sensor, ts",
    SESSION_SUMMARY.name: "athlete_id, start_ms",
    DAILY_METRICS.name: "athlete_id, date",
    "morning_readings": "athlete_id, start_ms",
    BASELINES.name: "athlete_id, date",
}
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class Data:
    def __init__(self, path: str | Path) -> None:
        self.conn: sqlite3.Connection = connect(path)

    def close(self) -> None:
        self.conn.close()

    def _exists(self, table: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        return row is not None

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # ---------------------------------------------------------------- one athlete

    def sessions(self, athlete_id: int, limit: int = 200) -> list[Row]:
        if not self._exists(SESSION_SUMMARY.name):
            return []
        return self._rows(
            f"SELECT * FROM {SESSION_SUMMARY.name} WHERE athlete_id = ?"
            " ORDER BY start_ms DESC LIMIT ?",
            (athlete_id, limit),
        )

    def session(self, athlete_id: int, session_id: str) -> Row | None:
        if not self._exists(SESSION_SUMMARY.name):
            return None
        rows = self._rows(
            f"SELECT * FROM {SESSION_SUMMARY.name} WHERE athlete_id = ? AND session_id = ?",
            (athlete_id, session_id),
        )
        return rows[0] if rows else None

    def daily(self, athlete_id: int, days: int = 120) -> list[Row]:
        if not self._exists(DAILY_METRICS.name):
            return []
        rows = self._rows(
            f"SELECT * FROM {DAILY_METRICS.name} WHERE athlete_id = ? ORDER BY date DESC LIMIT ?",
            (athlete_id, days),
        )
        return rows[::-1]

    def baselines(self, athlete_id: int, days: int = 120) -> list[Row]:
        if not self._exists(BASELINES.name):
            return []
        rows = self._rows(
            f"SELECT * FROM {BASELINES.name} WHERE athlete_id = ? ORDER BY date DESC LIMIT ?",
            (athlete_id, days),
        )
        return rows[::-1]

    def samples(self, athlete_id: int, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """(ts, bpm) of the athlete's samples with skin contact in [start_ms, end_ms]."""
        if not self._exists("samples"):
            return []
        rows = self.conn.execute(
            "SELECT ts, bpm FROM samples WHERE athlete_id = ? AND ts >= ? AND ts <= ?"
            " AND (contact IS NULL OR contact = 1) ORDER BY ts",
            (athlete_id, start_ms, end_ms),
        ).fetchall()
        return [(int(ts), int(bpm)) for ts, bpm in rows]

    # ---------------------------------------------------------------- the squad

    def latest_per_athlete(self, table: str) -> dict[int, Row]:
        """The newest row (by date) of each athlete in ``table``."""
        if not _IDENT.match(table) or not self._exists(table):
            return {}
        rows = self._rows(
            f"SELECT t.* FROM {table} t JOIN (SELECT athlete_id, max(date) AS d FROM {table}"
            " GROUP BY athlete_id) m ON m.athlete_id = t.athlete_id AND m.d = t.date"
        )
        return {int(r["athlete_id"]): r for r in rows}

    def load_7d(self) -> dict[int, float]:
        """Σ daily load of each athlete's last 7 days on record."""
        if not self._exists(DAILY_METRICS.name):
            return {}
        rows = self.conn.execute(
            f"SELECT athlete_id, sum(load) FROM {DAILY_METRICS.name} d WHERE date > ("
            f"SELECT date(max(date), '-7 days') FROM {DAILY_METRICS.name} e"
            " WHERE e.athlete_id = d.athlete_id) GROUP BY athlete_id"
        ).fetchall()
        return {int(a): float(s or 0.0) for a, s in rows}

    # ---------------------------------------------------------------- export

    def export(self, table: str) -> tuple[list[str], Iterator[tuple[Any, ...]]] | None:
        """Column names and rows of an exportable table; None when not exportable."""
        if table not in EXPORTABLE or not self._exists(table):
            return None
        cur = self.conn.execute(f"SELECT * FROM {table} ORDER BY {EXPORTABLE[table]}")
        return [d[0] for d in cur.description], iter(cur)
