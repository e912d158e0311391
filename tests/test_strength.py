"""Strength training: the formulas on worked examples, and the log's storage rules."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from gympulse.pipeline.analytics import strength
from gympulse.pipeline.analytics.strength import Exercise
from gympulse.pipeline.strength_log import StrengthLog, TemplateItem

MON = int(dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC).timestamp() * 1000)  # ISO week 10
DAY = 86_400_000


def test_epley_on_worked_examples() -> None:
    # 100 kg × 5: 100 × (1 + 5/30) = 116.67; 60 kg × 10: 60 × (1 + 10/30) = 80
    assert strength.e1rm(5, 100) == pytest.approx(116.6667, abs=1e-4)
    assert strength.e1rm(10, 60) == pytest.approx(80.0)
    assert strength.e1rm(1, 140) == 140.0  # a single is its own 1RM
    assert strength.e1rm(3, 90) == pytest.approx(99.0)  # 90 × 1.1
    # beyond 10 reps the estimate is not trusted; no load or no reps has none either
    assert strength.e1rm(11, 60) is None
    assert strength.e1rm(5, 0) is None
    assert strength.e1rm(0, 50) is None


def test_volume_load() -> None:
    # 3 × 5 at 60 kg and 2 × 8 at 40 kg: 900 + 640 = 1540 kg
    sets = [{"reps": 5, "kg": 60}] * 3 + [{"reps": 8, "kg": 40}] * 2
    assert strength.volume_load(sets) == 1540.0
    assert strength.volume_load([]) == 0.0


def test_weekly_volume_per_muscle_group() -> None:
    muscles = {"squat": "legs", "bench": "chest"}
    sets = [
        {"exercise": "squat", "reps": 5, "kg": 60, "ts_ms": MON},  # week 10: legs 300
        {"exercise": "squat", "reps": 5, "kg": 70, "ts_ms": MON + DAY},  # legs +350
        {"exercise": "bench", "reps": 8, "kg": 40, "ts_ms": MON + DAY},  # chest 320
        {"exercise": "curl", "reps": 10, "kg": 10, "ts_ms": MON + 7 * DAY},  # week 11, other
    ]
    assert strength.weekly_muscle_volume(sets, muscles) == {
        "2026-W10": {"legs": 650.0, "chest": 320.0},
        "2026-W11": {"other": 100.0},
    }


def test_best_e1rm_per_day_and_records() -> None:
    sets = [
        {"exercise": "squat", "reps": 5, "kg": 60, "ts_ms": MON},  # 70
        # 71.5: higher, but in the lift's first session (the baseline): not a record
        {"exercise": "squat", "reps": 3, "kg": 65, "ts_ms": MON + 60_000},
        {"exercise": "squat", "reps": 12, "kg": 70, "ts_ms": MON + DAY},  # > 10 reps: none
        {"exercise": "squat", "reps": 5, "kg": 67.5, "ts_ms": MON + 2 * DAY},  # 78.75: record
        {"exercise": "squat", "reps": 5, "kg": 60, "ts_ms": MON + 3 * DAY},  # 70: not
        {"exercise": "bench", "reps": 5, "kg": 40, "ts_ms": MON},  # first bench: not a record
    ]
    days = strength.best_e1rm_per_day(sets, "squat")
    assert [d for d, _ in days] == ["2026-03-02", "2026-03-04", "2026-03-05"]
    assert [round(v, 2) for _, v in days] == [71.5, 78.75, 70.0]
    recs = strength.records(sets)
    assert [(r["kg"], round(r["e1rm"], 2), round(r["previous"], 2)) for r in recs] == [
        (67.5, 78.75, 71.5),
    ]


def test_log_keeps_sets_prefills_last_and_templates(tmp_path: Path) -> None:
    log = StrengthLog(tmp_path / "g.db")
    keys = [e.key for e in log.exercises()]
    assert keys[:5] == ["squat", "bench", "deadlift", "ohp", "row"]  # main lifts first
    log.add_exercise(Exercise("goblet", "Goblet squat", "Goblet squat", "legs"))
    assert "goblet" in [e.key for e in log.exercises()]
    log.add_set(1, MON, "squat", 5, 60)
    log.add_set(1, MON + 1000, "squat", 5, 62.5, rpe=8)
    log.add_set(2, MON + 2000, "squat", 3, 100, logged_by="coach")
    last = log.last_set(1, "squat")
    assert last is not None and (last.reps, last.kg, last.rpe) == (5, 62.5, 8)
    assert log.last_set(1, "bench") is None
    assert [s.kg for s in log.sets(1)] == [60, 62.5]  # only the athlete's own
    with pytest.raises(sqlite3.IntegrityError):
        log.add_set(1, MON, "squat", 0, 60)  # no reps
    with pytest.raises(sqlite3.IntegrityError):
        log.add_set(1, MON, "no-such-lift", 5, 60)
    log.set_template(
        "Strength basics", [TemplateItem("squat", 3, 5, None), TemplateItem("bench", 3, 8, 30)]
    )
    assert [i.exercise for i in log.template("Strength basics")] == ["squat", "bench"]
    assert log.delete_set(2, log.sets(1)[0].id) is False  # not their set
    log.close()
