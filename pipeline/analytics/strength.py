"""Strength training: estimated 1RM, volume load, personal records. Pure, plain data.

- **e1RM** (estimated one-repetition maximum) by Epley (1985): ``kg × (1 + reps / 30)``,
  and ``kg`` itself for a single. Rep-max equations lose accuracy with many repetitions
  (LeSuer et al. 1997, *J Strength Cond Res* 11:211): a set of more than
  :data:`E1RM_MAX_REPS` (10) repetitions gives no e1RM at all (it still counts for volume).
  Sets without load (body weight, kg = 0) give none either.
- **Volume load** = Σ reps × kg (Haff 2010, *Strength Cond J* 32:43), per session and per
  muscle group per ISO week.
- A **personal record** is a set whose e1RM is higher than every earlier set of the same
  lift by that athlete (the first set of a lift is not a record: there is nothing to beat).

A set is a mapping with ``exercise`` (catalogue key), ``reps``, ``kg`` and ``ts_ms``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

E1RM_MAX_REPS = 10


@dataclass(frozen=True, slots=True)
class Exercise:
    key: str
    name_en: str
    name_nl: str
    muscle: str  # muscle group for the weekly volume: legs, chest, back, shoulders, ...
    main: bool = False  # a main lift: trends on the guest's progress page

    def name(self, lang: str) -> str:
        return self.name_nl if lang == "nl" else self.name_en


# The starter catalogue (the coach adds more): the main barbell lifts and common assistance.
CATALOGUE: tuple[Exercise, ...] = (
    Exercise("squat", "Back squat", "Squat", "legs", main=True),
    Exercise("bench", "Bench press", "Bankdrukken", "chest", main=True),
    Exercise("deadlift", "Deadlift", "Deadlift", "back", main=True),
    Exercise("ohp", "Overhead press", "Schouderdrukken", "shoulders", main=True),
    Exercise("row", "Barbell row", "Roeien met halter", "back", main=True),
    Exercise("lunge", "Lunge", "Lunge", "legs"),
    Exercise("pullup", "Pull-up", "Optrekken", "back"),
    Exercise("hipthrust", "Hip thrust", "Hip thrust", "legs"),
)


def e1rm(reps: int, kg: float) -> float | None:
    """Epley's estimated 1RM; None beyond 10 repetitions, for no load or no reps."""
    if reps < 1 or kg <= 0 or reps > E1RM_MAX_REPS:
        return None
    if reps == 1:
        return float(kg)
    return kg * (1 + reps / 30)


def volume_load(sets: Iterable[Mapping[str, Any]]) -> float:
    """Σ reps × kg."""
    return float(sum(int(s["reps"]) * float(s["kg"]) for s in sets))


def iso_week(ts_ms: int, tz: dt.tzinfo = dt.UTC) -> str:
    year, week, _ = dt.datetime.fromtimestamp(ts_ms / 1000, tz).isocalendar()
    return f"{year}-W{week:02d}"


def weekly_muscle_volume(
    sets: Iterable[Mapping[str, Any]], muscles: Mapping[str, str], tz: dt.tzinfo = dt.UTC
) -> dict[str, dict[str, float]]:
    """{ISO week: {muscle group: volume load}}; exercises not in ``muscles`` go to "other"."""
    out: dict[str, dict[str, float]] = {}
    for s in sets:
        week = out.setdefault(iso_week(int(s["ts_ms"]), tz), {})
        muscle = muscles.get(str(s["exercise"]), "other")
        week[muscle] = week.get(muscle, 0.0) + int(s["reps"]) * float(s["kg"])
    return out


def best_e1rm_per_day(
    sets: Iterable[Mapping[str, Any]], exercise: str, tz: dt.tzinfo = dt.UTC
) -> list[tuple[str, float]]:
    """[(ISO date, the day's best e1RM)] of one lift, oldest first; days without a set
    that gives an e1RM are left out."""
    best: dict[str, float] = {}
    for s in sets:
        if s["exercise"] != exercise:
            continue
        value = e1rm(int(s["reps"]), float(s["kg"]))
        if value is None:
            continue
        day = dt.datetime.fromtimestamp(int(s["ts_ms"]) / 1000, tz).date().isoformat()
        best[day] = max(best.get(day, 0.0), value)
    return sorted(best.items())


def records(sets: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The sets that set a new e1RM record for their lift, in time order, each with the
    record it beat (``previous``)."""
    best: dict[str, float] = {}
    out = []
    for s in sorted(sets, key=lambda s: int(s["ts_ms"])):
        value = e1rm(int(s["reps"]), float(s["kg"]))
        if value is None:
            continue
        lift = str(s["exercise"])
        before = best.get(lift)
        if before is not None and value > before + 1e-9:
            out.append({**s, "e1rm": value, "previous": before})
        if before is None or value > before:
            best[lift] = value
    return out
