"""The journal: data people enter (not measured), in the registry's SQLite file.

- **wellness**: a daily self-report per athlete — sleep quality, stress, mood, energy and
  muscle soreness on 1–5 scales (5 = best: slept well, no stress, good mood, full of
  energy, no soreness), after the short wellness questionnaires common in athlete
  monitoring (McLean et al. 2010, Int J Sports Physiol Perform 5:367).
- **session RPE**: a CR-10 rating of a session (Foster 2001), keyed by the
  ``session_summary.session_id`` it rates.
- **morning recordings** (readings): a 1–5 min seated or lying window of an athlete, with
  how it was taken (``method``: ``guest`` page, coach's ``station``, ``coach`` marked a
  window, ``auto`` found by the automatic rule, ``bluetooth`` from the guest's own strap at
  home, ``cli``), whether it counts (``status``: ``counted``, or ``proposed`` for an
  automatic window not yet confirmed), the strap, and the values computed when it was
  taken (ln RMSSD, resting HR, corrected beats; see
  :mod:`gympulse.pipeline.analytics.morning`). :mod:`gympulse.pipeline.readings` creates
  them; ``gympulse analyze`` turns the counted ones into ln RMSSD and resting HR baselines.
- **classes**: the schedule (name, start, end); samples inside a class form that class's
  session.

Every row carries ``updated_ms`` so ``gympulse analyze`` picks up what changed since its
last run. The tables are the store file's schema (:mod:`gympulse.pipeline.store_schema`);
see :class:`gympulse.pipeline.sqlite_db.SqliteDatabase`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gympulse.contract import now_ms
from gympulse.pipeline.sqlite_db import SqliteDatabase, new_id, transaction

WELLNESS_ITEMS = ("sleep", "stress", "mood", "energy", "soreness")

# How a reading was taken, and whether it counts.
READING_METHODS = ("guest", "station", "coach", "auto", "bluetooth", "cli")
READING_STATUSES = ("counted", "proposed")
_RECORDING_SELECT = (
    "SELECT id, athlete_id, start_ms, end_ms, tag, updated_ms, method, status, sensor, n_rr,"
    " n_corrected, rmssd, ln_rmssd, hr_rest FROM morning_recordings"
)


@dataclass(frozen=True, slots=True)
class Wellness:
    athlete_id: int
    date: dt.date
    sleep: int
    stress: int
    mood: int
    energy: int
    soreness: int
    note: str
    updated_ms: int

    @property
    def total(self) -> int:
        return self.sleep + self.stress + self.mood + self.energy + self.soreness


@dataclass(frozen=True, slots=True)
class SessionRpe:
    athlete_id: int
    session_id: str
    rpe: float
    updated_ms: int


@dataclass(frozen=True, slots=True)
class MorningRecording:
    id: int
    athlete_id: int
    start_ms: int
    end_ms: int
    tag: str
    updated_ms: int
    method: str = "coach"
    status: str = "counted"
    sensor: str | None = None
    n_rr: int | None = None
    n_corrected: int | None = None
    rmssd: float | None = None
    ln_rmssd: float | None = None
    hr_rest: float | None = None

    @property
    def duration_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000


@dataclass(frozen=True, slots=True)
class ScheduledClass:
    id: int
    site: str
    name: str
    start_ms: int
    end_ms: int
    updated_ms: int


CLASS_SESSION = "class-"  # a class's session summary id: "class-<class id>" (analytics)


def class_of_session(session_id: str) -> int | None:
    """The class id of a class's session id ("class-12" -> 12), None for other sessions."""
    rest = session_id.removeprefix(CLASS_SESSION)
    return int(rest) if rest != session_id and rest.isdigit() else None


def _overlapping(params: list[object], start_ms: int | None, end_ms: int | None) -> str:
    """The SQL condition (and its parameters, appended) for rows overlapping [start, end)."""
    sql = ""
    if start_ms is not None:
        sql += " AND end_ms > ?"
        params.append(start_ms)
    if end_ms is not None:
        sql += " AND start_ms < ?"
        params.append(end_ms)
    return sql


class Journal(SqliteDatabase):
    # ---------------------------------------------------------------- wellness

    def add_wellness(
        self,
        athlete_id: int,
        date: dt.date,
        *,
        sleep: int,
        stress: int,
        mood: int,
        energy: int,
        soreness: int,
        note: str = "",
    ) -> None:
        """Record (or replace) the athlete's self-report for ``date``; each item 1–5."""
        values = (sleep, stress, mood, energy, soreness)
        for name, v in zip(WELLNESS_ITEMS, values, strict=True):
            if not 1 <= v <= 5:
                raise ValueError(f"{name} must be 1..5, got {v}")
        self.conn.execute(
            "INSERT OR REPLACE INTO wellness (athlete_id, date, sleep, stress, mood, energy,"
            " soreness, note, updated_ms) VALUES (?,?,?,?,?,?,?,?,?)",
            (athlete_id, date.isoformat(), *values, note, now_ms()),
        )

    def wellness(
        self, athlete_id: int | None = None, *, updated_since_ms: int = -1
    ) -> list[Wellness]:
        sql = (
            "SELECT athlete_id, date, sleep, stress, mood, energy, soreness, note, updated_ms"
            " FROM wellness WHERE updated_ms > ?"
        )
        params: list[object] = [updated_since_ms]
        if athlete_id is not None:
            sql += " AND athlete_id = ?"
            params.append(athlete_id)
        rows = self.conn.execute(sql + " ORDER BY athlete_id, date", params).fetchall()
        return [Wellness(r[0], dt.date.fromisoformat(r[1]), *r[2:]) for r in rows]

    # ---------------------------------------------------------------- session RPE

    def set_session_rpe(self, athlete_id: int, session_id: str, rpe: float) -> None:
        """Rate a session (``session_summary.session_id``) on the CR-10 scale (0–10)."""
        if not 0 <= rpe <= 10:
            raise ValueError(f"rpe must be 0..10, got {rpe}")
        self.conn.execute(
            "INSERT OR REPLACE INTO session_rpe (athlete_id, session_id, rpe, updated_ms)"
            " VALUES (?,?,?,?)",
            (athlete_id, session_id, float(rpe), now_ms()),
        )

    def session_rpes(
        self, athlete_id: int | None = None, *, updated_since_ms: int = -1
    ) -> list[SessionRpe]:
        sql = "SELECT athlete_id, session_id, rpe, updated_ms FROM session_rpe WHERE updated_ms > ?"
        params: list[object] = [updated_since_ms]
        if athlete_id is not None:
            sql += " AND athlete_id = ?"
            params.append(athlete_id)
        return [SessionRpe(*r) for r in self.conn.execute(sql, params).fetchall()]

    # ---------------------------------------------------------------- morning recordings

    def tag_morning(self, athlete_id: int, start_ms: int, end_ms: int) -> int:
        """Tag the athlete's samples in [start_ms, end_ms) as a (counted) morning reading;
        ``gympulse analyze`` computes it. :mod:`gympulse.pipeline.readings` computes at once."""
        return self.add_reading(athlete_id, start_ms, end_ms, method="coach")

    def add_reading(
        self,
        athlete_id: int,
        start_ms: int,
        end_ms: int,
        *,
        method: str,
        status: str = "counted",
        sensor: str | None = None,
        n_rr: int | None = None,
        n_corrected: int | None = None,
        rmssd: float | None = None,
        ln_rmssd: float | None = None,
        hr_rest: float | None = None,
    ) -> int:
        """A reading of the athlete's window [start_ms, end_ms); returns its id."""
        if end_ms <= start_ms:
            raise ValueError("end_ms must be after start_ms")
        if method not in READING_METHODS:
            raise ValueError(f"method must be one of {READING_METHODS}, got {method!r}")
        if status not in READING_STATUSES:
            raise ValueError(f"status must be one of {READING_STATUSES}, got {status!r}")
        cur = self.conn.execute(
            "INSERT INTO morning_recordings (athlete_id, start_ms, end_ms, tag, updated_ms,"
            " method, status, sensor, n_rr, n_corrected, rmssd, ln_rmssd, hr_rest)"
            " VALUES (?,?,?,'morning',?,?,?,?,?,?,?,?,?) RETURNING id",
            (athlete_id, start_ms, end_ms, now_ms(), method, status, sensor, n_rr,
             n_corrected, rmssd, ln_rmssd, hr_rest),
        )  # fmt: skip
        return new_id(cur)

    def reading(self, reading_id: int) -> MorningRecording | None:
        row = self.conn.execute(_RECORDING_SELECT + " WHERE id = ?", (reading_id,)).fetchone()
        return None if row is None else MorningRecording(*row)

    def set_reading_status(self, reading_id: int, status: str) -> None:
        if status not in READING_STATUSES:
            raise ValueError(f"status must be one of {READING_STATUSES}, got {status!r}")
        self.conn.execute(
            "UPDATE morning_recordings SET status = ?, updated_ms = ? WHERE id = ?",
            (status, now_ms(), reading_id),
        )

    def delete_reading(self, reading_id: int) -> MorningRecording | None:
        """Remove a reading; returns what it was (None: no such reading)."""
        with transaction(self.conn):
            found = self.reading(reading_id)
            if found is not None:
                self.conn.execute("DELETE FROM morning_recordings WHERE id = ?", (reading_id,))
        return found

    def morning_recordings(
        self,
        athlete_id: int | None = None,
        *,
        updated_since_ms: int = -1,
        start_ms: int | None = None,
        end_ms: int | None = None,
        status: str | None = None,
    ) -> list[MorningRecording]:
        """Recordings changed since ``updated_since_ms`` and overlapping [start_ms, end_ms)
        (only those of ``status`` when given), oldest first."""
        sql = _RECORDING_SELECT + " WHERE updated_ms > ?"
        params: list[object] = [updated_since_ms]
        if athlete_id is not None:
            sql += " AND athlete_id = ?"
            params.append(athlete_id)
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        sql += _overlapping(params, start_ms, end_ms)
        rows = self.conn.execute(sql + " ORDER BY start_ms", params).fetchall()
        return [MorningRecording(*r) for r in rows]

    # ---------------------------------------------------------------- coach notes

    def add_note(self, athlete_id: int, text: str, *, author: str = "") -> int:
        """A dated note about an athlete, for coaches only (never on a guest page)."""
        cur = self.conn.execute(
            "INSERT INTO coach_notes (athlete_id, created_ms, author, text) VALUES (?,?,?,?)"
            " RETURNING id",
            (athlete_id, now_ms(), author, text),
        )
        return new_id(cur)

    def notes(self, athlete_id: int) -> list[tuple[int, int, str, str]]:
        """(id, created_ms, author, text), newest first."""
        rows = self.conn.execute(
            "SELECT id, created_ms, author, text FROM coach_notes WHERE athlete_id = ?"
            " ORDER BY created_ms DESC, id DESC",
            (athlete_id,),
        ).fetchall()
        return [(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]

    # ---------------------------------------------------------------- classes

    def add_class(self, name: str, start_ms: int, end_ms: int, *, site: str = "") -> int:
        if end_ms <= start_ms:
            raise ValueError("end_ms must be after start_ms")
        cur = self.conn.execute(
            "INSERT INTO classes (site, name, start_ms, end_ms, updated_ms) VALUES (?,?,?,?,?)"
            " RETURNING id",
            (site, name, start_ms, end_ms, now_ms()),
        )
        return new_id(cur)

    def update_class(self, class_id: int, name: str, start_ms: int, end_ms: int) -> bool:
        if end_ms <= start_ms:
            raise ValueError("end_ms must be after start_ms")
        cur = self.conn.execute(
            "UPDATE classes SET name = ?, start_ms = ?, end_ms = ?, updated_ms = ? WHERE id = ?",
            (name, start_ms, end_ms, now_ms(), class_id),
        )
        return cur.rowcount == 1

    def delete_class(self, class_id: int) -> bool:
        """Remove a class from the schedule (its samples stay; the next analyze sees the day
        as changed through the other classes' marks and the samples' own sessions)."""
        cur = self.conn.execute("DELETE FROM classes WHERE id = ?", (class_id,))
        return cur.rowcount == 1

    def class_by_id(self, class_id: int) -> ScheduledClass | None:
        row = self.conn.execute(
            "SELECT id, site, name, start_ms, end_ms, updated_ms FROM classes WHERE id = ?",
            (class_id,),
        ).fetchone()
        return None if row is None else ScheduledClass(*row)

    def class_names(self, session_ids: list[str]) -> dict[str, str]:
        """The class name of each class session among ``session_ids`` (session id -> name)."""
        ids = {sid: cid for sid in session_ids if (cid := class_of_session(sid)) is not None}
        if not ids:
            return {}
        marks = ",".join("?" * len(set(ids.values())))
        rows = self.conn.execute(
            f"SELECT id, name FROM classes WHERE id IN ({marks})", sorted(set(ids.values()))
        ).fetchall()
        names = dict(rows)
        return {sid: names[cid] for sid, cid in ids.items() if cid in names}

    def classes(
        self,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        updated_since_ms: int = -1,
    ) -> list[ScheduledClass]:
        """Classes overlapping [start_ms, end_ms) and changed since ``updated_since_ms``."""
        sql = (
            "SELECT id, site, name, start_ms, end_ms, updated_ms FROM classes WHERE updated_ms > ?"
        )
        params: list[object] = [updated_since_ms]
        sql += _overlapping(params, start_ms, end_ms)
        rows = self.conn.execute(sql + " ORDER BY start_ms", params).fetchall()
        return [ScheduledClass(*r) for r in rows]
