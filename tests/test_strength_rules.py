"""A lifter's rules, pure: warm-ups never count, records only from a lift's second session
on, the routine's progression (+2.5 kg when every set reached its reps), the warm-up and
rest suggestions, a lift's history by session; and the log keeping the warm-up flag (a file
made before the column gains it on open)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

from gympulse.dashboards.strength_view import history_rows, rest_after
from gympulse.pipeline.analytics import strength
from gympulse.pipeline.strength_log import StrengthLog

MON = int(dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC).timestamp() * 1000)
DAY = 86_400_000


def _set(
    kg: float, reps: int = 5, day: int = 0, minute: int = 0, **extra: object
) -> dict[str, object]:
    return {"exercise": "squat", "reps": reps, "kg": kg, "ts_ms": MON + day * DAY + minute * 60_000,
            **extra}  # fmt: skip


def test_warmups_count_for_nothing() -> None:
    sets = [_set(20, warmup=True), _set(40, warmup=True), _set(60), _set(60, minute=3)]
    assert strength.volume_load(sets) == 600.0  # 2 × 5 × 60; the warm-ups left out
    assert strength.best_e1rm_per_day(sets, "squat") == [("2026-03-02", 70.0)]
    heavy_warmup = [_set(60), _set(100, day=1, warmup=True)]  # a mislabelled heavy single
    assert strength.records(heavy_warmup) == []
    assert strength.best_e1rm_per_day(heavy_warmup, "squat") == [("2026-03-02", 70.0)]
    muscles = {"squat": "legs"}
    assert strength.weekly_muscle_volume(sets, muscles) == {"2026-W10": {"legs": 600.0}}


def test_the_first_session_is_the_baseline_not_a_record() -> None:
    first = [_set(40), _set(50, minute=3), _set(55, minute=6)]  # rising, all on day one
    assert strength.records(first) == []
    second = [*first, _set(50, day=2), _set(57.5, day=2, minute=3)]
    recs = strength.records(second)
    assert [(r["kg"], round(r["previous"], 2)) for r in recs] == [(57.5, 64.17)]
    # a session is a day in the site's time zone: 23:30 and 00:30 in Amsterdam are two
    ams = ZoneInfo("Europe/Amsterdam")
    late = int(dt.datetime(2026, 3, 2, 23, 30, tzinfo=ams).timestamp() * 1000)
    night = [{"exercise": "bench", "reps": 5, "kg": k, "ts_ms": late + i * 3_600_000}
             for i, k in enumerate((40, 45))]  # fmt: skip
    assert len(strength.records(night, ams)) == 1
    assert strength.records(night, dt.timezone(dt.timedelta(hours=-5))) == []  # same day


def test_progression_adds_2_5_kg_when_every_set_reached_its_reps() -> None:
    hit = [_set(60), _set(60), _set(60)]
    assert strength.suggest(3, 5, 50, hit) == strength.Suggestion(62.5, "up", 60.0)
    missed = [_set(60), _set(60), _set(60, reps=4)]
    assert strength.suggest(3, 5, 50, missed) == strength.Suggestion(60.0, "repeat", 60.0)
    too_few = [_set(60), _set(60)]
    assert strength.suggest(3, 5, 50, too_few).why == "repeat"
    more_reps = [_set(60, reps=6)] * 3  # more than asked counts as reached
    assert strength.suggest(3, 5, 50, more_reps).kg == 62.5
    with_warmups = [_set(20, warmup=True, reps=2), *hit]  # a short warm-up does not spoil it
    assert strength.suggest(3, 5, 50, with_warmups).kg == 62.5
    assert strength.suggest(3, 5, 50, []) == strength.Suggestion(50, "plan")
    assert strength.suggest(3, 5, None, []) == strength.Suggestion(None, "plan")
    assert strength.suggest(3, 5, None, [_set(20, warmup=True)]).why == "plan"
    body_weight = [_set(0)] * 3  # no load to add to
    assert strength.suggest(3, 5, None, body_weight) == strength.Suggestion(0.0, "repeat", 0.0)


def test_warmup_and_rest_suggestions() -> None:
    assert strength.warmup_kg(62.5) == 30.0  # half, rounded down to 2.5 kg
    assert strength.warmup_kg(60) == 30.0
    assert strength.warmup_kg(None) is None
    assert strength.rest_seconds(warmup=True, main=True) == 60
    assert strength.rest_seconds(warmup=False, main=True) == 180
    assert strength.rest_seconds(warmup=False, main=False) == 90


def test_lift_history_by_session_newest_first() -> None:
    sets = [_set(20, warmup=True), _set(60), _set(60, minute=3), _set(65, day=3)]
    rows = history_rows(sets, "squat", "nl", dt.UTC)
    assert [r["iso"] for r in rows] == ["2026-03-05", "2026-03-02"]
    assert rows[0]["record"] and not rows[0]["first"]
    assert rows[1]["first"] and not rows[1]["record"]
    assert [s["text"] for s in rows[1]["sets"]] == [
        "5 × 20 kg (opwarming)",
        "5 × 60 kg",
        "5 × 60 kg",
    ]
    assert rows[1]["best"] == "beste geschatte 1RM 70 kg"
    assert rows[1]["volume"] == "600 kg getild"  # the warm-up not counted
    assert rows[0]["best"] == "beste geschatte 1RM 75,8 kg"  # 65 × (1 + 5/30)


def test_rest_starts_at_the_stored_set(tmp_path: Path) -> None:
    log = StrengthLog(tmp_path / "g.db")
    log.add_set(1, MON, "squat", 5, 60)
    log.add_set(1, MON + 60_000, "squat", 5, 20, warmup=True)
    today = log.sets(1)
    log.close()
    rest = rest_after(today, {"squat"}, MON + 90_000, "en")  # 30 s into a warm-up's 60 s
    assert rest is not None and rest["start_ms"] == MON + 60_000 and rest["seconds"] == 60
    assert rest["left"] == "0:30"
    over = rest_after(today, {"squat"}, MON + 200_000, "en")
    assert over is not None and over["left"] == ""
    assert rest_after(today, {"squat"}, MON + 60 * 60_000, "en") is None  # long over
    assert rest_after([], {"squat"}, MON, "en") is None


def test_log_keeps_the_warmup_flag_and_adds_the_column_to_an_old_file(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # the table as it was before warm-ups
        conn.execute(
            "CREATE TABLE strength_sets (id INTEGER PRIMARY KEY, athlete_id INTEGER NOT NULL,"
            " ts_ms INTEGER NOT NULL, exercise TEXT NOT NULL, reps INTEGER NOT NULL,"
            " kg REAL NOT NULL, rpe REAL, rir INTEGER, logged_by TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO strength_sets (athlete_id, ts_ms, exercise, reps, kg, logged_by)"
            " VALUES (1, ?, 'squat', 5, 60, 'guest')",
            (MON,),
        )
    conn.close()
    log = StrengthLog(db)
    log.add_set(1, MON + 1000, "squat", 5, 100, warmup=True)
    assert [(s.kg, s.warmup) for s in log.sets(1)] == [(60, False), (100, True)]
    last = log.last_set(1, "squat")  # what the form pre-fills: the last work set
    assert last is not None and last.kg == 60
    assert [s.kg for s in log.lift_sets(1, "squat")] == [60, 100]
    assert log.lift_sets(1, "bench") == []
    log.close()
