"""The plan of ``gympulse analyze`` (what to recompute) on plain data, without a store."""

from __future__ import annotations

import datetime as dt

import pytest

from gympulse.pipeline.analytics import plan

D = dt.date(2024, 3, 1)


def _utc(year: int, month: int, day: int, hour: int = 0) -> int:
    return int(dt.datetime(year, month, day, hour, tzinfo=dt.UTC).timestamp() * 1000)


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def test_scan_window_from_the_lookback_to_the_end_of_today() -> None:
    w = plan.scan_window(
        _utc(2024, 3, 5, 10), now=_utc(2024, 3, 5, 12), lookback_ms=2 * plan.DAY_MS, tz="UTC"
    )
    # 5 March 10:00 − 48 h = 3 March 10:00 → from its midnight; to midnight after 5 March.
    assert w == plan.Window(_utc(2024, 3, 3), _utc(2024, 3, 6))
    # First (or --full) run: from the oldest sample's day.
    first = plan.scan_window(
        None, now=_utc(2024, 3, 5, 12), lookback_ms=0, tz="UTC", oldest=_utc(2024, 1, 9, 18)
    )
    assert first == plan.Window(_utc(2024, 1, 9), _utc(2024, 3, 6))
    # A watermark ahead of the clock (a sample from a clock 20 h ahead) extends the end.
    ahead = plan.scan_window(_utc(2024, 3, 6, 8), now=_utc(2024, 3, 5, 12), lookback_ms=0, tz="UTC")
    assert ahead.end == _utc(2024, 3, 7)


def test_chunks_are_whole_local_days_across_summer_time() -> None:
    # Amsterdam: 30 March 2024 starts at 23:00 UTC the day before (CET, UTC+1); summer time
    # starts on 31 March, a 23-hour day; 1 April starts at 22:00 UTC (CEST, UTC+2).
    tz = "Europe/Amsterdam"
    w = plan.Window(_utc(2024, 3, 29, 23), _utc(2024, 4, 1, 22))
    assert plan.chunks(w, tz, 1) == [
        plan.Window(_utc(2024, 3, 29, 23), _utc(2024, 3, 30, 23)),
        plan.Window(_utc(2024, 3, 30, 23), _utc(2024, 3, 31, 22)),
        plan.Window(_utc(2024, 3, 31, 22), _utc(2024, 4, 1, 22)),
    ]
    assert plan.chunks(w, tz, 2) == [
        plan.Window(_utc(2024, 3, 29, 23), _utc(2024, 3, 31, 22)),
        plan.Window(_utc(2024, 3, 31, 22), _utc(2024, 4, 1, 22)),
    ]
    # 10 UTC days in blocks of 7: 7 + 3; an empty window has no chunk.
    ten = plan.Window(_utc(2024, 3, 1), _utc(2024, 3, 11))
    assert [(c.end - c.start) // plan.DAY_MS for c in plan.chunks(ten, "UTC", 7)] == [7, 3]
    assert plan.chunks(plan.Window(5, 5), "UTC") == []
    with pytest.raises(ValueError):
        plan.chunks(ten, "UTC", 0)


def test_touched_days_are_new_or_changed_counts_and_changed_class_days() -> None:
    counts = {(1, day(0)): 5, (1, day(1)): 3, (2, day(0)): 4}
    stored = {(1, day(0)): 5, (1, day(1)): 2, (3, day(0)): 9}
    assert plan.touched_days(counts, stored) == [(1, day(1)), (2, day(0))]
    # A class on day 0 changed in the journal: every athlete with samples that day.
    assert plan.touched_days(counts, stored, [day(0)]) == [
        (1, day(0)),
        (1, day(1)),
        (2, day(0)),
    ]
    assert plan.touched_days({}, stored, [day(0)]) == []


def test_daily_rows_reach_today_for_every_athlete_without_gaps() -> None:
    today = day(10)
    since = plan.daily_since(
        touched=[(1, day(5)), (1, day(7))],
        changed=[(1, day(3)), (4, day(2))],  # a rating on day 3, a morning reading on day 2
        last_daily={1: day(9), 2: day(4), 3: today, 4: today},
        today=today,
    )
    # 1: from its earliest change (day 3); 2: rested since day 4, rows from day 5 on;
    # 3: up to date and nothing new; 4: up to date but a reading on day 2 changed.
    assert since == {1: day(3), 2: day(5), 4: day(2)}
    # A new athlete (no daily rows yet) starts at their first touched day.
    assert plan.daily_since([(7, day(8))], [], {}, today) == {7: day(8)}
    assert plan.daily_since([], [], {1: today}, today) == {}


def test_daily_until_is_today_unless_a_sample_is_ahead() -> None:
    assert plan.daily_until(day(10), None) == day(10)
    assert plan.daily_until(day(10), day(8)) == day(10)
    assert plan.daily_until(day(10), day(11)) == day(11)


def test_morning_recordings_to_compute() -> None:
    recordings = [(10, 1, day(0)), (11, 1, day(1)), (12, 2, day(1)), (13, 2, day(2))]
    # Touched: athlete 1 on day 1; tagged since the last run: 13; 11 done in an earlier chunk.
    assert plan.morning_to_compute(recordings, [(1, day(1))], [13]) == [11, 13]
    assert plan.morning_to_compute(recordings, [(1, day(1))], [13], done=[11]) == [13]
    assert plan.morning_to_compute(recordings, [], []) == []


def test_rows_of_older_rules_are_recomputed_in_full_once() -> None:
    assert plan.needs_full(True, plan.RULES_VERSION, True)
    assert not plan.needs_full(False, plan.RULES_VERSION, True)
    # Analysed before this version (no version row = version 1): recompute everything.
    assert plan.needs_full(False, None, True) and plan.needs_full(False, 1, True)
    # A first run reads everything anyway.
    assert not plan.needs_full(False, None, False)
