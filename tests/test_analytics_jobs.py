"""``analyze`` over a real SqliteStore: summaries, daily metrics, journal data, and an
incremental run that recomputes only the new day."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gympulse.pipeline.analytics import tables
from gympulse.pipeline.analytics.jobs import analyze, read_table
from gympulse.pipeline.analytics.load import banister_trimp
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import StoredSample, WriteBatch
from gympulse.pipeline.stores.sqlite import SqliteStore

DAY0 = dt.datetime(2024, 3, 4, tzinfo=dt.UTC)
DAY_MS = 86_400_000


def _ms(d: dt.datetime) -> int:
    return int(d.timestamp() * 1000)


def _workout(
    sensor: str, athlete: int, start_ms: int, minutes: int, bpm: int
) -> list[StoredSample]:
    """A workout at a steady ``bpm`` with ±1 bpm of beat-to-beat variation in the RR,
    followed by 2 min of recovery at 100 bpm."""
    out = []
    for i in range(minutes * 60 + 120):
        b = bpm if i < minutes * 60 else 100
        rr = round(60000 / b) + (4 if i % 2 else -4)
        out.append(
            StoredSample(
                "gym",
                "c1",
                sensor,
                start_ms + i * 1000,
                start_ms + i,
                b,
                (rr,),
                True,
                None,
                athlete,
            )
        )
    return out


MORNING_RR = [round(1090 + 40 * math.sin(2 * math.pi * i / 4.5)) for i in range(180)]


def _morning(sensor: str, athlete: int, start_ms: int) -> list[StoredSample]:
    """3 min at rest, one RR per sample with a breathing rhythm (RSA)."""
    return [
        StoredSample(
            "gym", "c1", sensor, start_ms + i * 1000, start_ms + i, 55, (rr,), True, None, athlete
        )
        for i, rr in enumerate(MORNING_RR)
    ]


async def _run(tmp_path: Path) -> None:
    path = tmp_path / "gympulse.db"
    store = SqliteStore(path)
    await store.open()
    registry = Registry(path)
    journal = Journal(path)
    a1 = registry.add_athlete(
        "Ana", birth_year=1990, sex="female", weight_kg=60, hr_max=190, hr_rest=60
    )
    a2 = registry.add_athlete(
        "Ben", birth_year=1985, sex="male", weight_kg=80, hr_max=190, hr_rest=60
    )

    async def day(n: int) -> None:
        base = _ms(DAY0) + n * DAY_MS
        batch = WriteBatch()
        batch.samples += _morning("s1", a1, base + 6 * 3_600_000)
        batch.samples += _workout("s1", a1, base + 18 * 3_600_000, 30, 150)
        batch.samples += _workout("s2", a2, base + 18 * 3_600_000, 45, 160)
        await store.write(batch)
        journal.tag_morning(a1, base + 6 * 3_600_000, base + 6 * 3_600_000 + 180_000)

    for n in range(3):
        await day(n)
    journal.add_wellness(a1, DAY0.date(), sleep=4, stress=3, mood=4, energy=5, soreness=2)

    first = await analyze(store, registry, journal, now_ms=_ms(DAY0) + 3 * DAY_MS)
    assert first.touched_days == 6 and first.sessions == 6
    summary = await read_table(store, tables.SESSION_SUMMARY)
    assert summary.height == 6
    ana = summary.filter(pl.col("athlete_id") == a1).sort("start_ms")
    row = ana.row(0, named=True)
    assert row["kind"] == "auto" and row["date"] == DAY0.date()
    # Active from the first sample at 150 bpm until the last recovery sample at 100 bpm
    # (100 ≥ 60 + 20 % of the 130 bpm reserve = 86): 30 min + 2 min − 1 s.
    assert row["duration_s"] == 32 * 60 - 1
    assert row["n_samples"] == 32 * 60
    # 150/190 = 79 % → zone 3; 100/190 = 53 % → zone 1.
    assert row["zone3_s"] == 1800 and row["zone1_s"] == 120
    assert row["trimp_edwards"] == pytest.approx((1800 * 3 + 120 * 1) / 60)
    hr_avg = (1800 * 150 + 120 * 100) / 1920
    assert row["hr_avg"] == pytest.approx(hr_avg)
    x = (hr_avg - 60) / 130
    assert row["trimp_banister"] == pytest.approx((1919 / 60) * x * 0.86 * math.exp(1.67 * x))

    # Keytel (women): per-sample kcal/min summed over seconds.
    def kcal(b: float) -> float:
        return max(0.0, (-20.4022 + 0.4472 * b - 0.1263 * 60 + 0.074 * 34) / 4.184)

    assert row["kcal"] == pytest.approx((1800 * kcal(150) + 120 * kcal(100)) / 60)
    # End of exercise: the last sample at or above moderate intensity (60 + 40 % of 130 =
    # 112 bpm) is the last one at 150 bpm (i = 1799), also the peak of the minute before;
    # 60 s later the strap is still on, at 100 bpm: HRR60 = 150 − 100.
    assert row["exercise_end_ms"] == row["start_ms"] + 1799 * 1000
    assert row["hrr60"] == 50.0 and row["hrr60_note"] is None
    # RR alternates ±4 ms around 400 ms (150 bpm): successive differences of 8 ms, then
    # the jump to 600 ms at the recovery; RMSSD stays near 8–20 ms, nothing corrected.
    assert row["n_rr"] == 1920 and 7.9 < row["rmssd"] < 20

    metrics = await read_table(store, tables.DAILY_METRICS)
    ana_days = metrics.filter(pl.col("athlete_id") == a1).sort("date")
    # Days 0–2 trained, and today (day 3, "now" is its midnight) a rest day: load 0.
    assert ana_days.height == 4 and ana_days["load"][3] == 0.0
    loads = ana["trimp_banister"].to_list()
    # Four days of history: every load average is still building (load.py, one rule).
    assert ana_days["history_days"].to_list() == [1, 2, 3, 4]
    assert loads[0] > 0
    for column in ("ctl", "atl", "tsb", "acwr_ewma", "acwr_rolling"):
        assert ana_days[column].is_null().all(), column

    readings = await read_table(store, tables.MORNING_READINGS)
    assert readings.height == 3
    diffs = np.diff(np.array(MORNING_RR, dtype=float))
    assert readings["rmssd"][0] == pytest.approx(float(np.sqrt(np.mean(diffs**2))), rel=0.05)
    assert readings["ln_rmssd"][0] == pytest.approx(math.log(readings["rmssd"][0]))
    assert readings["hr_rest"][0] == pytest.approx(60000 / float(np.mean(MORNING_RR)))
    assert (await read_table(store, tables.WELLNESS))["total"].to_list() == [18]
    assert (await read_table(store, tables.BASELINES)).height == 8  # 2 athletes × 4 days

    # Nothing new: nothing recomputed.
    again = await analyze(store, registry, journal, now_ms=_ms(DAY0) + 3 * DAY_MS + 1)
    assert again.touched_days == 0 and again.sessions == 0 and again.daily_rows == 0

    # One new day and a rating: only that day's sessions are written again.
    await day(3)
    session_id = ana["session_id"][0]
    journal.set_session_rpe(a1, session_id, 6)
    later = _ms(DAY0) + 4 * DAY_MS
    second = await analyze(store, registry, journal, now_ms=later)
    assert second.touched_days == 2 and second.sessions == 2
    summary = await read_table(store, tables.SESSION_SUMMARY)
    assert summary.height == 8
    fresh = summary.filter(pl.col("updated_ms") == later)
    day3 = summary.filter(pl.col("date") == DAY0.date() + dt.timedelta(days=3))
    assert day3.height == 2
    # Rewritten: the new day's two sessions, and the day-0 session that got its RPE.
    assert set(fresh["session_id"]) == {*day3["session_id"], session_id}
    rated = summary.filter(pl.col("session_id") == session_id).row(0, named=True)
    assert rated["srpe_load"] == pytest.approx(6 * (32 * 60 - 1) / 60)
    untouched = summary.filter(
        (pl.col("date") < DAY0.date() + dt.timedelta(days=3)) & (pl.col("session_id") != session_id)
    )
    assert (untouched["updated_ms"] == _ms(DAY0) + 3 * DAY_MS).all()
    metrics = await read_table(store, tables.DAILY_METRICS)
    assert metrics.filter(pl.col("athlete_id") == a2).height == 5  # days 0–3 and today
    assert metrics.filter(pl.col("athlete_id") == a1)["srpe_load"].sort(descending=True)[0] == (
        pytest.approx(6 * (32 * 60 - 1) / 60)
    )
    await store.close()
    journal.close()
    registry.close()


def test_analyze_end_to_end_and_incremental(tmp_path: Path) -> None:
    asyncio.run(_run(tmp_path))


async def _run_amsterdam(tmp_path: Path) -> None:
    path = tmp_path / "gympulse.db"
    store = SqliteStore(path)
    await store.open()
    registry = Registry(path)
    journal = Journal(path)
    a1 = registry.add_athlete(
        "Cas", birth_year=1990, sex="male", weight_kg=70, hr_max=190, hr_rest=60
    )
    # Amsterdam is UTC+1 in March (summer time starts on 31 March 2024).
    evening = _ms(dt.datetime(2024, 3, 5, 18, 0, tzinfo=dt.UTC))  # 19:00 local, 5 March
    late = _ms(dt.datetime(2024, 3, 5, 23, 20, tzinfo=dt.UTC))  # 00:20 local, 6 March
    morning = _ms(dt.datetime(2024, 3, 5, 23, 5, tzinfo=dt.UTC))  # 00:05 local, 6 March
    batch = WriteBatch()
    batch.samples += _workout("s1", a1, evening, 30, 150)
    batch.samples += _morning("s1", a1, morning)
    batch.samples += _workout("s1", a1, late, 30, 160)
    await store.write(batch)
    journal.tag_morning(a1, morning, morning + 180_000)
    now = _ms(dt.datetime(2024, 3, 6, 12, 0, tzinfo=dt.UTC))
    await analyze(store, registry, journal, now_ms=now, tz="Europe/Amsterdam")

    summary = (await read_table(store, tables.SESSION_SUMMARY)).sort("start_ms")
    assert summary["date"].to_list() == [dt.date(2024, 3, 5), dt.date(2024, 3, 6)]
    metrics = (await read_table(store, tables.DAILY_METRICS)).sort("date")
    assert metrics["date"].to_list() == [dt.date(2024, 3, 5), dt.date(2024, 3, 6)]
    assert metrics["sessions"].to_list() == [1, 1]
    assert metrics["load"].to_list() == pytest.approx(summary["trimp_banister"].to_list())
    readings = await read_table(store, tables.MORNING_READINGS)
    assert readings["date"].to_list() == [dt.date(2024, 3, 6)]
    baselines = await read_table(store, tables.BASELINES)
    assert sorted(baselines["date"].to_list()) == [dt.date(2024, 3, 5), dt.date(2024, 3, 6)]
    await store.close()
    journal.close()
    registry.close()


def test_training_days_in_the_site_time_zone(tmp_path: Path) -> None:
    asyncio.run(_run_amsterdam(tmp_path))


def test_daily_loads_local_day_across_summer_time() -> None:
    from gympulse.pipeline.analytics.daily import daily_loads

    # 22:30 UTC on 1 July = 00:30 CEST on 2 July; 21:30 UTC = 23:30 CEST on 1 July.
    starts = [
        _ms(dt.datetime(2024, 7, 1, 21, 30, tzinfo=dt.UTC)),
        _ms(dt.datetime(2024, 7, 1, 22, 30, tzinfo=dt.UTC)),
    ]
    rows = pl.DataFrame(
        {
            "athlete_id": [1, 1],
            "date": [dt.date(2024, 7, 1)] * 2,  # as a UTC run would have stored them
            "start_ms": starts,
            "trimp_banister": [10.0, 20.0],
            "srpe_load": [None, None],
            "duration_s": [600, 1200],
        },
        schema_overrides={"srpe_load": pl.Float64},
    )
    local = daily_loads(rows, "Europe/Amsterdam")
    assert local["date"].to_list() == [dt.date(2024, 7, 1), dt.date(2024, 7, 2)]
    assert local["load"].to_list() == [10.0, 20.0]
    assert daily_loads(rows)["load"].to_list() == [30.0]


async def _run_late_samples(tmp_path: Path) -> None:
    path = tmp_path / "gympulse.db"
    store = SqliteStore(path)
    await store.open()
    registry = Registry(path)
    journal = Journal(path)
    a1 = registry.add_athlete(
        "Dea", birth_year=1990, sex="female", weight_kg=60, hr_max=190, hr_rest=60
    )
    day = DAY0.date()
    start = _ms(DAY0) + 18 * 3_600_000  # 18:00 UTC
    await store.write(WriteBatch(_workout("s1", a1, start, 30, 150)))
    await analyze(store, registry, journal, now_ms=start + 3_600_000)
    (old_id,) = (await read_table(store, tables.SESSION_SUMMARY))["session_id"].to_list()
    assert old_id == f"auto-{a1}-{start}"

    # Hours later the collector replays its disk queue: the 15 min before 18:00 at 140 bpm.
    early = start - 15 * 60_000
    late = [
        StoredSample("gym", "c1", "s1", early + i * 1000, 10_000 + i, 140, (429,), True, None, a1)
        for i in range(15 * 60)
    ]
    await store.write(WriteBatch(late))
    # Before the next analyze, the guest rates the workout she sees: under its old key.
    journal.set_session_rpe(a1, old_id, 7)
    report = await analyze(store, registry, journal, now_ms=start + 5 * 3_600_000)
    assert report.touched_days == 1

    summary = await read_table(store, tables.SESSION_SUMMARY)
    assert summary.height == 1  # the row keyed by 18:00 is gone
    row = summary.row(0, named=True)
    assert row["session_id"] == f"auto-{a1}-{early}" and row["start_ms"] == early
    # 15 min at 140, 30 min at 150, 2 min of recovery at 100 (all ≥ the 86 bpm threshold).
    n = 15 * 60 + 30 * 60 + 120
    hr_avg = (900 * 140 + 1800 * 150 + 120 * 100) / n
    assert row["n_samples"] == n and row["hr_avg"] == pytest.approx(hr_avg)
    assert row["duration_s"] == n - 1
    trimp = banister_trimp((n - 1) / 60, hr_avg, 60.0, 190.0, "female")
    assert row["trimp_banister"] == pytest.approx(trimp)
    # The rating followed the workout to its new key, in the journal too.
    assert row["rpe"] == 7 and row["srpe_load"] == pytest.approx(7 * (n - 1) / 60)
    assert {(r.session_id, r.rpe) for r in journal.session_rpes(a1)} >= {(row["session_id"], 7)}

    metrics = (await read_table(store, tables.DAILY_METRICS)).filter(pl.col("date") == day)
    assert metrics["sessions"].to_list() == [1]
    assert metrics["load"].to_list() == [pytest.approx(trimp)]
    assert metrics["srpe_load"].to_list() == [pytest.approx(7 * (n - 1) / 60)]
    await store.close()
    journal.close()
    registry.close()


def test_late_samples_that_move_a_workouts_start_leave_one_row(tmp_path: Path) -> None:
    asyncio.run(_run_late_samples(tmp_path))


def test_rpe_of_a_vanished_session_goes_to_the_new_session_overlapping_it_most() -> None:
    from gympulse.pipeline.analytics.jobs import _carry_rpe

    def sessions(rows: list[tuple[str, int, int]]) -> pl.DataFrame:
        return pl.DataFrame(
            [(1, sid, s, e) for sid, s, e in rows],
            schema={
                "athlete_id": pl.Int64,
                "session_id": pl.String,
                "start_ms": pl.Int64,
                "end_ms": pl.Int64,
            },
            orient="row",
        )

    rpe = pl.DataFrame(
        {"athlete_id": [1, 1], "session_id": ["auto-1-0", "auto-1-5000"], "rpe": [6.0, 8.0]}
    )
    # Split: auto-1-0 (0–4000) becomes auto-1-100 (100–1000) and auto-1-1500 (1500–4000);
    # auto-1-5000 kept its key and its own rating; auto-1-9000 never overlapped anything.
    previous = sessions([("auto-1-0", 0, 4000), ("auto-1-5000", 5000, 6000)])
    new = sessions(
        [
            ("auto-1-100", 100, 1000),
            ("auto-1-1500", 1500, 4000),
            ("auto-1-5000", 5000, 6000),
            ("auto-1-9000", 9000, 9900),
        ]
    )
    # auto-1-1500 overlaps auto-1-0 by 2500 ms, auto-1-100 by 900 ms.
    assert _carry_rpe(previous, new, rpe).rows() == [(1, "auto-1-1500", 6.0)]
    # Merge: two rated workouts (900 ms and 2500 ms inside the new one) under a new key;
    # the one it overlaps most gives the rating.
    split = sessions([("auto-1-100", 100, 1000), ("auto-1-1500", 1500, 4000)])
    split_rpe = pl.DataFrame(
        {"athlete_id": [1, 1], "session_id": ["auto-1-100", "auto-1-1500"], "rpe": [6.0, 8.0]}
    )
    merged = sessions([("auto-1-50", 50, 4000)])
    assert _carry_rpe(split, merged, split_rpe).rows() == [(1, "auto-1-50", 8.0)]
    # A new session that kept a rated key is not given a second rating.
    assert _carry_rpe(previous, sessions([("auto-1-0", 0, 6000)]), rpe).is_empty()


async def _athlete_with_store(tmp_path: Path) -> tuple[SqliteStore, Registry, Journal, int]:
    path = tmp_path / "gympulse.db"
    store = SqliteStore(path)
    await store.open()
    registry = Registry(path)
    journal = Journal(path)
    a1 = registry.add_athlete(
        "Eva", birth_year=1990, sex="female", weight_kg=60, hr_max=190, hr_rest=60
    )
    return store, registry, journal, a1


async def _run_resting(tmp_path: Path) -> None:
    store, registry, journal, a1 = await _athlete_with_store(tmp_path)
    base = _ms(DAY0) + 18 * 3_600_000
    await store.write(WriteBatch(_workout("s1", a1, base, 30, 150)))
    await analyze(store, registry, journal, now_ms=base + 3_600_000)
    # Eight rest days later, analyze runs again with no new samples at all.
    later = _ms(DAY0) + 8 * DAY_MS + 12 * 3_600_000
    report = await analyze(store, registry, journal, now_ms=later)
    assert report.touched_days == 0 and report.daily_rows == 8
    rows = (await read_table(store, tables.DAILY_METRICS)).sort("date")
    assert rows["date"].to_list() == [DAY0.date() + dt.timedelta(days=d) for d in range(9)]
    load = rows["load"][0]
    assert load > 0 and rows["load"].to_list()[1:] == [0.0] * 8
    # Rest days: fatigue (τ 7, shown from day 7) is the weighted mean of the days so far,
    # L0 · (1 − k)^d · k / (1 − (1 − k)^(d+1)); fitness, form and ACWR are still building.
    k7 = 1 - math.exp(-1 / 7)
    assert rows["atl"][8] == pytest.approx(load * (1 - k7) ** 8 * k7 / (1 - (1 - k7) ** 9))
    assert rows["atl"][5] is None and rows["history_days"][8] == 9
    assert rows["ctl"][8] is None and rows["tsb"][8] is None and rows["acwr_ewma"][8] is None
    base_rows = await read_table(store, tables.BASELINES)
    assert base_rows.height == 9
    # The same day again: nothing to write.
    again = await analyze(store, registry, journal, now_ms=later + 60_000)
    assert again.daily_rows == 0
    await store.close()
    journal.close()
    registry.close()


def test_a_resting_athlete_gets_a_row_every_day_until_today(tmp_path: Path) -> None:
    asyncio.run(_run_resting(tmp_path))


async def _run_gap(tmp_path: Path) -> None:
    store, registry, journal, a1 = await _athlete_with_store(tmp_path)
    base = _ms(DAY0) + 18 * 3_600_000
    await store.write(WriteBatch(_workout("s1", a1, base, 30, 150)))
    await analyze(store, registry, journal, now_ms=base + 3_600_000)
    # Five days later she trains again; analyze runs that evening (days 1–4 never seen).
    await store.write(WriteBatch(_workout("s1", a1, base + 5 * DAY_MS, 30, 150)))
    await analyze(store, registry, journal, now_ms=base + 5 * DAY_MS + 3_600_000)
    dates = (await read_table(store, tables.DAILY_METRICS)).sort("date")["date"].to_list()
    assert dates == [DAY0.date() + dt.timedelta(days=d) for d in range(6)]
    await store.close()
    journal.close()
    registry.close()


def test_daily_rows_have_no_gaps(tmp_path: Path) -> None:
    asyncio.run(_run_gap(tmp_path))


async def _full_in_chunks(tmp_path: Path, chunk_days: int) -> dict[str, pl.DataFrame]:
    store, registry, journal, a1 = await _athlete_with_store(tmp_path)
    batch = WriteBatch()
    for d in range(6):
        # A workout across midnight every day (23:40 for 40 min) and a morning reading.
        batch.samples += _workout(
            "s1", a1, _ms(DAY0) + d * DAY_MS + 23 * 3_600_000 + 40 * 60_000, 40, 140 + d
        )
        batch.samples += _morning("s1", a1, _ms(DAY0) + d * DAY_MS + 7 * 3_600_000)
        journal.tag_morning(
            a1,
            _ms(DAY0) + d * DAY_MS + 7 * 3_600_000,
            _ms(DAY0) + d * DAY_MS + 7 * 3_600_000 + 180_000,
        )
    await store.write(batch)
    now = _ms(DAY0) + 7 * DAY_MS
    report = await analyze(store, registry, journal, full=True, now_ms=now, chunk_days=chunk_days)
    assert report.sessions == 6
    out = {
        t.name: (await read_table(store, t)).drop("updated_ms").sort(list(t.key))
        for t in (
            tables.SESSION_SUMMARY,
            tables.DAILY_METRICS,
            tables.MORNING_READINGS,
            tables.BASELINES,
        )
    }
    await store.close()
    journal.close()
    registry.close()
    return out


def test_full_recompute_in_one_day_chunks_equals_one_chunk(tmp_path: Path) -> None:
    small = asyncio.run(_full_in_chunks(tmp_path / "a", 1))
    whole = asyncio.run(_full_in_chunks(tmp_path / "b", 30))
    for name, frame in whole.items():
        assert frame.height > 0
        assert small[name].equals(frame), name
    # Every session crossed midnight, so with 1-day chunks each crossed a chunk edge.
    assert whole["session_summary"]["duration_s"].to_list() == [42 * 60 - 1] * 6


async def _run_upgrade(tmp_path: Path) -> None:
    store, registry, journal, a1 = await _athlete_with_store(tmp_path)
    start = _ms(DAY0) + 18 * 3_600_000
    await store.write(WriteBatch(_workout("s1", a1, start, 30, 150)))
    await analyze(store, registry, journal, now_ms=start + 3_600_000)
    # A store analysed by an older version: no rules-version row, a negative HRR60 stored.
    await store.delete_rows(tables.ANALYTICS_STATE.name, {"athlete_id": -3})
    rows = (await read_table(store, tables.SESSION_SUMMARY)).with_columns(
        pl.lit(-33.0).alias("hrr60"), pl.lit(None, pl.String).alias("hrr60_note")
    )
    await store.write_rows(tables.SESSION_SUMMARY.name, rows, tables.SESSION_SUMMARY.key)
    report = await analyze(store, registry, journal, now_ms=start + 2 * 3_600_000)
    assert report.touched_days == 1 and report.sessions == 1  # recomputed in full
    (hrr,) = (await read_table(store, tables.SESSION_SUMMARY))["hrr60"].to_list()
    assert hrr == 50.0  # 150 at the end of exercise, 100 a minute later
    again = await analyze(store, registry, journal, now_ms=start + 3 * 3_600_000)
    assert again.touched_days == 0  # once
    await store.close()
    journal.close()
    registry.close()


def test_rows_of_older_rules_are_recomputed_once_after_an_upgrade(tmp_path: Path) -> None:
    asyncio.run(_run_upgrade(tmp_path))


async def _journal_written_just_before_analyze(tmp_path: Path) -> list[int]:
    path = tmp_path / "gympulse.db"
    store = SqliteStore(path)
    await store.open()
    registry = Registry(path)
    journal = Journal(path)
    try:
        a1 = registry.add_athlete("Ana", birth_year=1990, sex="female", hr_max=190, hr_rest=60)
        base = _ms(DAY0)
        await store.write(WriteBatch(_morning("s1", a1, base)))
        now = base + DAY_MS
        redone = []
        for k in range(25):
            # A journal write, then analyze in the very same millisecond (most of the time:
            # the call follows at once); the next run must not take the row as new again.
            journal.tag_morning(a1, base + k, base + 180_000 - k)
            await analyze(store, registry, journal, now_ms=now)
            redone.append((await analyze(store, registry, journal, now_ms=now)).morning_readings)
        return redone
    finally:
        journal.close()
        registry.close()
        await store.close()


def test_a_journal_row_written_just_before_analyze_is_read_once(tmp_path: Path) -> None:
    """The journal watermark is wall-clock ms: a row written in the millisecond analyze
    starts was read by that run and must not count as changed in the next one."""
    assert asyncio.run(_journal_written_just_before_analyze(tmp_path)) == [0] * 25
