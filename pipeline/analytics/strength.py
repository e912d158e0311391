"""Strength training: estimated 1RM, volume load, personal records. Pure, plain data.

- **e1RM** (estimated one-repetition maximum) by Epley (1985): ``kg × (1 + reps / 30)``,
  and ``kg`` itself for a single. Rep-max equations lose accuracy with many repetitions
  (LeSuer et al. 1997, *J Strength Cond Res* 11:211): a set of more than
  :data:`E1RM_MAX_REPS` (10) repetitions gives no e1RM at all (it still counts for volume).
  Sets without load (body weight, kg = 0) give none either.
- **Volume load** = Σ reps × kg (Haff 2010, *Strength Cond J* 32:43), per session and per
  muscle group per ISO week.
- A **warm-up set** (``warmup`` true) is logged and shown but does not count: it is left
  out of volume, e1RM and records. Every rule below reads only :func:`work_sets`.
- A **session** of a lift is the athlete's sets of it on one day (in the site's time zone).
- A **personal record** is a work set whose e1RM is higher than every earlier work set of
  the same lift by that athlete, **from the second session of the lift on**: the first
  session ever sets the baseline (whatever its sets, none is a record: there was nothing
  to beat before it).
- **Progression** of a routine (the coach's plan: sets × reps at kg): when every planned set
  of the lift's last session reached the target reps at its weight, the next session
  suggests :data:`PROGRESSION_KG` (2.5 kg) more; otherwise the same weight again. Without a
  session of the lift yet, the plan's weight (linear progression as in Rippetoe's *Starting
  Strength* and the "double progression" rule of the Strong and Hevy apps).
- A routine's **warm-up** suggestion: 5 reps at half the work weight, rounded down to
  2.5 kg (:func:`warmup_kg`).
- **Rest** after a set: :func:`rest_seconds` (warm-ups 60 s, main lifts 180 s, others 90 s;
  the ranges of the NSCA's *Essentials of Strength Training and Conditioning*, ch. 17).

A set is a mapping with ``exercise`` (catalogue key), ``reps``, ``kg``, ``ts_ms`` and
optionally ``warmup``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

E1RM_MAX_REPS = 10
PROGRESSION_KG = 2.5
REST_WARMUP_S = 60
REST_MAIN_S = 180
REST_OTHER_S = 90


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


def work_sets(sets: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The sets that count: every set but the warm-ups."""
    return [s for s in sets if not s.get("warmup")]


def volume_load(sets: Iterable[Mapping[str, Any]]) -> float:
    """Σ reps × kg of the work sets."""
    return float(sum(int(s["reps"]) * float(s["kg"]) for s in work_sets(sets)))


def day_of(ts_ms: int, tz: dt.tzinfo = dt.UTC) -> str:
    """The ISO date of a set in ``tz``: the session it belongs to."""
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz).date().isoformat()


def warmup_kg(work_kg: float | None) -> float | None:
    """The suggested warm-up weight for a work weight: half, rounded down to 2.5 kg."""
    if work_kg is None:
        return None
    return PROGRESSION_KG * int(work_kg * 0.5 / PROGRESSION_KG + 1e-9)


WARMUP_REPS = 5


def rest_seconds(*, warmup: bool, main: bool) -> int:
    """How long to rest after a set (warm-up, main lift, assistance)."""
    if warmup:
        return REST_WARMUP_S
    return REST_MAIN_S if main else REST_OTHER_S


def iso_week(ts_ms: int, tz: dt.tzinfo = dt.UTC) -> str:
    year, week, _ = dt.datetime.fromtimestamp(ts_ms / 1000, tz).isocalendar()
    return f"{year}-W{week:02d}"


def weekly_muscle_volume(
    sets: Iterable[Mapping[str, Any]], muscles: Mapping[str, str], tz: dt.tzinfo = dt.UTC
) -> dict[str, dict[str, float]]:
    """{ISO week: {muscle group: volume load}}; exercises not in ``muscles`` go to "other"."""
    out: dict[str, dict[str, float]] = {}
    for s in work_sets(sets):
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
    for s in work_sets(sets):
        if s["exercise"] != exercise:
            continue
        value = e1rm(int(s["reps"]), float(s["kg"]))
        if value is None:
            continue
        day = day_of(int(s["ts_ms"]), tz)
        best[day] = max(best.get(day, 0.0), value)
    return sorted(best.items())


def records(sets: Sequence[Mapping[str, Any]], tz: dt.tzinfo = dt.UTC) -> list[dict[str, Any]]:
    """The work sets that set a new e1RM record for their lift, in time order, each with the
    record it beat (``previous``). None in a lift's first session: it is the baseline."""
    best: dict[str, float] = {}
    first_day: dict[str, str] = {}
    out = []
    for s in sorted(work_sets(sets), key=lambda s: int(s["ts_ms"])):
        value = e1rm(int(s["reps"]), float(s["kg"]))
        if value is None:
            continue
        lift = str(s["exercise"])
        day = day_of(int(s["ts_ms"]), tz)
        first = first_day.setdefault(lift, day) == day
        before = best.get(lift)
        if not first and before is not None and value > before + 1e-9:
            out.append({**s, "e1rm": value, "previous": before})
        if before is None or value > before:
            best[lift] = value
    return out


@dataclass(frozen=True, slots=True)
class LiftSession:
    """One day's sets of one lift: its sets in order (warm-ups included, marked), the best
    e1RM of its work sets and whether a work set was a record."""

    day: str
    sets: tuple[Mapping[str, Any], ...]
    best_e1rm: float | None
    volume: float
    record: bool


def lift_history(
    sets: Sequence[Mapping[str, Any]], exercise: str, tz: dt.tzinfo = dt.UTC
) -> list[LiftSession]:
    """Every session of ``exercise``, newest first."""
    mine = sorted((s for s in sets if s["exercise"] == exercise), key=lambda s: int(s["ts_ms"]))
    record_days = {day_of(int(r["ts_ms"]), tz) for r in records(mine, tz)}
    by_day: dict[str, list[Mapping[str, Any]]] = {}
    for s in mine:
        by_day.setdefault(day_of(int(s["ts_ms"]), tz), []).append(s)
    out = []
    for day, day_sets in by_day.items():
        values = [e1rm(int(s["reps"]), float(s["kg"])) for s in work_sets(day_sets)]
        known = [v for v in values if v is not None]
        out.append(
            LiftSession(
                day,
                tuple(day_sets),
                max(known) if known else None,
                volume_load(day_sets),
                day in record_days,
            )
        )
    return out[::-1]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What a routine pre-fills for a lift: ``kg`` (None: no weight known yet) and why —
    ``plan`` (no session yet: the coach's weight), ``up`` (every set reached the target
    last time: + 2.5 kg), ``repeat`` (not every set did: the same weight again)."""

    kg: float | None
    why: str
    last_kg: float | None = None


def suggest(
    target_sets: int, target_reps: int, plan_kg: float | None, last: Sequence[Mapping[str, Any]]
) -> Suggestion:
    """The progression rule for one lift of a routine; ``last`` is the lift's previous
    session's sets (warm-ups are ignored). The weight is the session's top work weight; the
    sets at it must number at least ``target_sets`` and each reach ``target_reps``. The
    plan's weight is where a guest starts; after that the guest's own sessions lead."""
    done = work_sets(last)
    if not done:
        return Suggestion(plan_kg, "plan")
    weight = max(float(s["kg"]) for s in done)
    at_weight = [s for s in done if float(s["kg"]) >= weight - 1e-9]
    hit = sum(1 for s in at_weight if int(s["reps"]) >= target_reps)
    if len(at_weight) >= target_sets and hit == len(at_weight) and weight > 0:
        return Suggestion(weight + PROGRESSION_KG, "up", weight)
    return Suggestion(weight, "repeat", weight)
