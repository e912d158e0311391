"""The strength-training log (SQLite, next to the registry and the journal in one file).

- ``exercises``: the catalogue; starts with :data:`gympulse.pipeline.analytics.strength.
  CATALOGUE`, the coach adds more (``added_by_coach`` = 1).
- ``strength_sets``: one row per set: athlete, time, exercise, reps, kg, optional RPE
  (1–10) or RIR (repetitions in reserve, 0–10), who logged it (``guest`` or ``coach``),
  and whether it was a warm-up (``warmup`` = 1: shown, never counted).
- ``strength_templates``: a coach's prescription for a class (by the class's name in the
  schedule): exercises in order with target sets × reps (and kg, optional).

A strength session is an athlete's sets of one day; the heart-rate session recorded at the
same time is found by time (a session_summary row whose [start, end] holds the sets).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from gympulse.pipeline.analytics.strength import CATALOGUE, Exercise
from gympulse.pipeline.sqlite_db import SqliteDatabase, new_id, transaction

# What a set or a plan line can say (a guest's, a coach's form and a class plan): the most
# reps a set counts, the heaviest load in kg (past a world-record deadlift), the most sets of
# one exercise in a plan.
MAX_REPS = 100
MAX_KG = 500
MAX_PLAN_SETS = 20


@dataclass(frozen=True, slots=True)
class StrengthSet:
    id: int
    athlete_id: int
    ts_ms: int
    exercise: str
    reps: int
    kg: float
    rpe: float | None
    rir: int | None
    logged_by: str
    warmup: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "ts_ms": self.ts_ms,
            "exercise": self.exercise,
            "reps": self.reps,
            "kg": self.kg,
            "rpe": self.rpe,
            "rir": self.rir,
            "logged_by": self.logged_by,
            "warmup": self.warmup,
        }


@dataclass(frozen=True, slots=True)
class TemplateItem:
    exercise: str
    sets: int
    reps: int
    kg: float | None


_SET_COLUMNS = "id, athlete_id, ts_ms, exercise, reps, kg, rpe, rir, logged_by, warmup"


# Columns added after the first release (a file made before them gains them on open).
def _set(row: tuple[Any, ...]) -> StrengthSet:
    id_, athlete_id, ts_ms, exercise, reps, kg, rpe, rir, logged_by, warmup = row
    return StrengthSet(
        id_, athlete_id, ts_ms, exercise, reps, kg, rpe, rir, logged_by, bool(warmup)
    )


class StrengthLog(SqliteDatabase):
    def _create(self, conn: sqlite3.Connection) -> None:
        super()._create(conn)
        conn.executemany(
            "INSERT OR IGNORE INTO exercises (key, name_en, name_nl, muscle, main)"
            " VALUES (?,?,?,?,?)",
            [(e.key, e.name_en, e.name_nl, e.muscle, int(e.main)) for e in CATALOGUE],
        )

    # ------------------------------------------------------------ catalogue

    def exercises(self) -> list[Exercise]:
        rows = self.conn.execute(
            "SELECT key, name_en, name_nl, muscle, main FROM exercises ORDER BY main DESC, rowid"
        ).fetchall()
        return [Exercise(k, en, nl, m, bool(main)) for k, en, nl, m, main in rows]

    def add_exercise(self, exercise: Exercise) -> None:
        """A coach's exercise (its key must be new)."""
        self.conn.execute(
            "INSERT INTO exercises (key, name_en, name_nl, muscle, main, added_by_coach)"
            " VALUES (?,?,?,?,?,1)",
            (exercise.key, exercise.name_en, exercise.name_nl, exercise.muscle, int(exercise.main)),
        )

    # ------------------------------------------------------------ sets

    def add_set(
        self,
        athlete_id: int,
        ts_ms: int,
        exercise: str,
        reps: int,
        kg: float,
        *,
        rpe: float | None = None,
        rir: int | None = None,
        logged_by: str = "guest",
        warmup: bool = False,
    ) -> int:
        cur = self.conn.execute(
            "INSERT INTO strength_sets (athlete_id, ts_ms, exercise, reps, kg, rpe, rir,"
            " logged_by, warmup) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
            (athlete_id, ts_ms, exercise, reps, kg, rpe, rir, logged_by, int(warmup)),
        )
        return new_id(cur)

    def sets(self, athlete_id: int, *, start_ms: int = 0, end_ms: int = 2**62) -> list[StrengthSet]:
        rows = self.conn.execute(
            f"SELECT {_SET_COLUMNS} FROM strength_sets"
            " WHERE athlete_id = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, id",
            (athlete_id, start_ms, end_ms),
        ).fetchall()
        return [_set(r) for r in rows]

    def last_set(self, athlete_id: int, exercise: str) -> StrengthSet | None:
        """The athlete's most recent work set of ``exercise`` (what the form pre-fills)."""
        row = self.conn.execute(
            f"SELECT {_SET_COLUMNS} FROM strength_sets WHERE athlete_id = ? AND exercise = ?"
            " AND warmup = 0 ORDER BY ts_ms DESC, id DESC LIMIT 1",
            (athlete_id, exercise),
        ).fetchone()
        return None if row is None else _set(row)

    def lift_sets(self, athlete_id: int, exercise: str) -> list[StrengthSet]:
        """Every set of one lift by the athlete (its history), oldest first."""
        rows = self.conn.execute(
            f"SELECT {_SET_COLUMNS} FROM strength_sets WHERE athlete_id = ? AND exercise = ?"
            " ORDER BY ts_ms, id",
            (athlete_id, exercise),
        ).fetchall()
        return [_set(r) for r in rows]

    def delete_set(self, athlete_id: int, set_id: int) -> bool:
        cur = self.conn.execute(
            "DELETE FROM strength_sets WHERE id = ? AND athlete_id = ?", (set_id, athlete_id)
        )
        return cur.rowcount == 1

    # ------------------------------------------------------------ templates

    def set_template(self, class_name: str, items: list[TemplateItem]) -> None:
        """The coach's prescription for a class (replaces the previous one)."""
        with transaction(self.conn) as conn:
            conn.execute("DELETE FROM strength_templates WHERE class_name = ?", (class_name,))
            conn.executemany(
                "INSERT INTO strength_templates (class_name, position, exercise, sets, reps, kg)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (class_name, i, it.exercise, it.sets, it.reps, it.kg)
                    for i, it in enumerate(items)
                ],
            )

    def plans(self) -> list[str]:
        """The classes with a plan (the routines a guest can start), by name."""
        rows = self.conn.execute(
            "SELECT DISTINCT class_name FROM strength_templates ORDER BY class_name"
        ).fetchall()
        return [r[0] for r in rows]

    def template(self, class_name: str) -> list[TemplateItem]:
        rows = self.conn.execute(
            "SELECT exercise, sets, reps, kg FROM strength_templates WHERE class_name = ?"
            " ORDER BY position",
            (class_name,),
        ).fetchall()
        return [TemplateItem(*r) for r in rows]
