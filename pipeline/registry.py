"""Identity: athletes, straps (sensors) and who wears which strap when.

Always a SQLite file (``store.path``), whatever the time-series store: identity is small,
relational and edited by coaches, not time series. Ingestion keeps an in-memory snapshot
(:meth:`Registry.read_snapshot`) and, before each batch, compares :meth:`Registry.version`
(a counter the tables' triggers bump on every change, whichever process makes it) with the
snapshot's: a change is seen by the next batch, without a polling delay.
"""

from __future__ import annotations

from gympulse.pipeline.domain import (
    Assignment,
    Athlete,
    ErasedWindows,
    Resolver,
    board_name,
    strap_label,
)
from gympulse.pipeline.sqlite_db import SqliteDatabase, transaction

__all__ = [
    "FOREVER_MS", "Assignment", "Athlete", "Registry", "Resolver", "board_name", "strap_label",
]  # fmt: skip

FOREVER_MS = 2**62
_ATHLETE_COLUMNS = (
    "id, name, birth_year, sex, weight_kg, hr_max, hr_rest, display_name, arrival, departure, ftp_w"
)


class Registry(SqliteDatabase):
    # ---------------------------------------------------------------- athletes

    def add_athlete(
        self,
        name: str,
        *,
        birth_year: int | None = None,
        sex: str | None = None,
        weight_kg: float | None = None,
        hr_max: int | None = None,
        hr_rest: int | None = None,
        display_name: str = "",
        arrival: str | None = None,
        departure: str | None = None,
        ftp_w: int | None = None,
    ) -> int:
        row = self.conn.execute(
            "INSERT INTO athletes (name, birth_year, sex, weight_kg, hr_max, hr_rest,"
            " display_name, arrival, departure, ftp_w) VALUES (?,?,?,?,?,?,?,?,?,?)"
            " RETURNING id",
            (
                name,
                birth_year,
                sex,
                weight_kg,
                hr_max,
                hr_rest,
                display_name,
                arrival,
                departure,
                ftp_w,
            ),
        ).fetchone()
        return int(row[0])

    def athletes(self) -> list[Athlete]:
        rows = self.conn.execute(f"SELECT {_ATHLETE_COLUMNS} FROM athletes ORDER BY id").fetchall()
        return [Athlete(*row) for row in rows]

    def athlete(self, athlete_id: int) -> Athlete | None:
        row = self.conn.execute(
            f"SELECT {_ATHLETE_COLUMNS} FROM athletes WHERE id = ?",
            (athlete_id,),
        ).fetchone()
        return None if row is None else Athlete(*row)

    def update_athlete(self, athlete_id: int, **fields: object) -> None:
        allowed = {
            "name", "birth_year", "sex", "weight_kg", "hr_max", "hr_rest", "display_name",
            "arrival", "departure", "ftp_w",
        }  # fmt: skip
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown athlete fields: {sorted(unknown)}")
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            self.conn.execute(
                f"UPDATE athletes SET {sets} WHERE id = ?", (*fields.values(), athlete_id)
            )

    # ---------------------------------------------------------------- sensors

    def set_sensor_label(self, sensor: str, label: str) -> None:
        self.conn.execute(
            "INSERT INTO sensors (id, label) VALUES (?, ?)"
            " ON CONFLICT (id) DO UPDATE SET label = excluded.label",
            (sensor, label),
        )

    def sensor_labels(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT id, label FROM sensors").fetchall())

    # ---------------------------------------------------------------- assignments

    def assign(self, sensor: str, athlete_id: int, start_ms: int, end_ms: int | None = None) -> int:
        """Give ``sensor`` to ``athlete_id`` from ``start_ms``; an open assignment of the same
        strap that is still running at ``start_ms`` ends there (straps are shared)."""
        with transaction(self.conn) as conn:
            conn.execute(
                "UPDATE assignments SET end_ms = ? WHERE sensor = ? AND start_ms < ?"
                " AND (end_ms IS NULL OR end_ms > ?)",
                (start_ms, sensor, start_ms, start_ms),
            )
            row = conn.execute(
                "INSERT INTO assignments (sensor, athlete_id, start_ms, end_ms) VALUES (?,?,?,?)"
                " RETURNING id",
                (sensor, athlete_id, start_ms, end_ms),
            ).fetchone()
        return int(row[0])

    def assignments(self, sensor: str | None = None) -> list[Assignment]:
        sql = "SELECT id, sensor, athlete_id, start_ms, end_ms FROM assignments"
        params: tuple[object, ...] = ()
        if sensor is not None:
            sql += " WHERE sensor = ?"
            params = (sensor,)
        return [Assignment(*row) for row in self.conn.execute(sql + " ORDER BY start_ms", params)]

    def erased_windows(self) -> ErasedWindows:
        """The strap windows of erased people (:func:`gympulse.pipeline.privacy.erase_athlete`)."""
        rows = self.conn.execute("SELECT sensor, start_ms, end_ms FROM erased_windows")
        return ErasedWindows([(str(s), int(a), int(b)) for s, a, b in rows])

    def resolver(self) -> Resolver:
        return Resolver(self.assignments())

    # ---------------------------------------------------------------- changes

    def version(self) -> int:
        """The change counter of athletes and assignments (bumped by triggers)."""
        row = self.conn.execute("SELECT n FROM registry_version WHERE id = 0").fetchone()
        return 0 if row is None else int(row[0])

    def read_snapshot(self) -> tuple[int, list[Assignment], list[Athlete]]:
        """(version, assignments, athletes) read in one transaction: consistent together."""
        with transaction(self.conn, write=False):
            return self.version(), self.assignments(), self.athletes()
