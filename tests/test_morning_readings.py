"""Morning readings: computed at once from stored samples of a published resting RR series,
refused without contact or with too many corrected beats, listed, deleted through the CLI,
and the automatic fallback that finds a resting window and ignores training."""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from gympulse.pipeline import readings
from gympulse.pipeline.analytics import tables
from gympulse.pipeline.analytics.jobs import read_table
from gympulse.pipeline.analytics.morning import (
    AutoRule,
    QualityRules,
    ReadingValues,
    Refusal,
    RestRules,
    compute_reading,
    rest_refusal,
    resting_reference,
    resting_windows,
    rr_reading,
)
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import SAMPLE_COLUMNS, StoredSample, WriteBatch
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import MorningSettings
from tests.support.rr_series import per_second, pyhrv_rr

T0 = int(dt.datetime(2026, 3, 2, 6, 30, tzinfo=dt.UTC).timestamp() * 1000)


def _samples(
    rr: list[int], start_ms: int, *, sensor: str = "strap-1", athlete: int | None = 1,
    contact: bool | None = True,
) -> list[StoredSample]:  # fmt: skip
    return [
        StoredSample("demo", "c1", sensor, start_ms + k * 1000, start_ms + k, bpm, beats,
                     contact, None, athlete)
        for k, (bpm, beats) in enumerate(per_second(rr))
    ]  # fmt: skip


def _frame(samples: list[StoredSample]) -> pl.DataFrame:
    return pl.DataFrame(
        [(s.sensor, s.athlete_id, s.ts, s.bpm, list(s.rr_ms), s.contact) for s in samples],
        schema=dict(SAMPLE_COLUMNS),
        orient="row",
    )


# ---------------------------------------------------------------------- the pure reading


def test_reading_of_a_published_resting_series() -> None:
    rr = pyhrv_rr()[:200]  # about 3 minutes
    frame = _frame(_samples(rr, T0))
    values = compute_reading(frame, T0, T0 + 200_000)
    assert isinstance(values, ReadingValues)
    expected = rr_reading(rr)
    assert values.ln_rmssd == expected.ln_rmssd
    assert values.hr_rest == expected.hr_rest
    assert values.n_corrected == expected.n_corrected
    assert values.n_beats == 200
    assert values.ln_rmssd == pytest.approx(math.log(values.rmssd))
    # The series is clean at rest: few corrections, so its RMSSD is near the raw one.
    assert values.corrected_pct <= 5.0
    assert 60 < values.hr_rest < 75


def test_no_signal_no_contact_and_too_few_beats_are_refused() -> None:
    rr = pyhrv_rr()[:200]
    empty = _frame([])
    assert compute_reading(empty, T0, T0 + 180_000) == Refusal(
        "no-signal", "no samples in the window"
    )
    loose = _frame(_samples(rr, T0, contact=False))
    refused = compute_reading(loose, T0, T0 + 180_000)
    assert isinstance(refused, Refusal) and refused.reason == "no-contact"
    # Contact for 20 s, then the strap reports RR no more (a loose strap): the RR cover a
    # ninth of the window.
    short = _samples(rr[:20], T0) + [
        StoredSample("demo", "c1", "strap-1", T0 + k * 1000, T0 + k, 70, (), True, None, 1)
        for k in range(20, 180)
    ]
    refused = compute_reading(_frame(short), T0, T0 + 180_000)
    assert isinstance(refused, Refusal) and refused.reason == "too-few-beats"


def test_too_many_corrected_beats_are_refused() -> None:
    rr = pyhrv_rr()[:200]
    bumpy = list(rr)
    for i in range(10, 190, 12):  # a premature beat every 12th: 15 ectopic pairs
        short = round(bumpy[i] * 0.6)
        bumpy[i + 1] += bumpy[i] - short
        bumpy[i] = short
    refused = compute_reading(_frame(_samples(bumpy, T0)), T0, T0 + 200_000)
    assert isinstance(refused, Refusal) and refused.reason == "too-many-corrected"
    # A looser rule (a site's setting) accepts the same window.
    loose = QualityRules(max_corrected_pct=50.0)
    assert isinstance(compute_reading(_frame(_samples(bumpy, T0)), T0, T0 + 200_000, loose),
                      ReadingValues)  # fmt: skip


# ---------------------------------------------------------------------- kept at once


async def test_take_list_and_delete(tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    registry = Registry(db)
    ana = registry.add_athlete("Ana", hr_rest=60)
    registry.close()
    store = SqliteStore(db)
    await store.open()
    journal = Journal(db)
    rr = pyhrv_rr()[:200]
    await store.write(WriteBatch(_samples(rr, T0, athlete=ana)))
    await store.write(WriteBatch(_samples(rr, T0 + 86_400_000, contact=False, athlete=ana)))
    try:
        got = await readings.take_reading(
            store, journal, ana, T0, T0 + 200_000, method="station", sensor="strap-1"
        )
        assert not isinstance(got, Refusal)
        assert got.method == "station" and got.status == "counted"
        assert got.ln_rmssd == rr_reading(rr).ln_rmssd
        stored = await read_table(store, tables.MORNING_READINGS, {"athlete_id": ana})
        assert stored["recording_id"].to_list() == [got.id]
        assert stored["ln_rmssd"][0] == pytest.approx(got.ln_rmssd)
        base = await read_table(store, tables.BASELINES, {"athlete_id": ana})
        assert base["ln_rmssd"].to_list() == [pytest.approx(got.ln_rmssd)]
        # The next morning the strap had no contact: refused, nothing kept.
        day2 = T0 + 86_400_000
        refused = await readings.take_reading(store, journal, ana, day2, day2 + 200_000,
                                              method="guest")  # fmt: skip
        assert isinstance(refused, Refusal) and refused.reason == "no-contact"
        assert [r.id for r in journal.morning_recordings(ana)] == [got.id]
    finally:
        journal.close()
        await store.close()

    # The CLI, the way a site script uses it.
    env = {**os.environ, "GYMPULSE_STORE__PATH": str(db)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gympulse.cli", "reading", *args],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    start = dt.datetime.fromtimestamp(T0 / 1000, dt.UTC).isoformat()
    end = dt.datetime.fromtimestamp((T0 + 120_000) / 1000, dt.UTC).isoformat()
    added = cli("add", "Ana", "--start", start, "--end", end)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("reading ")
    listed = cli("list", "Ana")
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[1].endswith("station\tcounted")
    assert lines[2].endswith("cli\tcounted")
    day2_iso = dt.datetime.fromtimestamp((T0 + 86_400_000) / 1000, dt.UTC).isoformat()
    day2_end = dt.datetime.fromtimestamp((T0 + 86_580_000) / 1000, dt.UTC).isoformat()
    refused_cli = cli("add", "Ana", "--start", day2_iso, "--end", day2_end)
    assert refused_cli.returncode == 1 and "no-contact" in refused_cli.stderr
    assert cli("delete", str(got.id)).returncode == 0
    assert len(cli("list", "Ana").stdout.strip().splitlines()) == 2
    check = SqliteStore(db)
    await check.open()
    left = await read_table(check, tables.MORNING_READINGS, {"athlete_id": ana})
    await check.close()
    assert got.id not in left["recording_id"].to_list() and left.height == 1


# ---------------------------------------------------------------------- automatic fallback


def _steady(start_ms: int, seconds: int, bpm: int, *, athlete: int = 1) -> list[StoredSample]:
    rr = round(60000 / bpm)
    return [
        StoredSample("demo", "c1", "strap-1", start_ms + k * 1000, start_ms + k, bpm + k % 2,
                     (rr + (k % 3) * 15,), True, None, athlete)
        for k in range(seconds)
    ]  # fmt: skip


def test_resting_window_found_training_ignored() -> None:
    day = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)

    def at(h: int, m: int = 0) -> int:
        return int((day + dt.timedelta(hours=h, minutes=m)).timestamp() * 1000)

    samples = (
        _steady(at(3, 50), 300, 58)  # before 04:00: not morning
        + _steady(at(6, 10), 240, 59)  # 4 min at rest: the window
        + _steady(at(7), 600, 142)  # training: far above the resting range
        + _steady(at(8), 300, 57)  # resting HR but inside a class: busy
        + _steady(at(9), 90, 56)  # too short
        + _steady(at(12), 300, 55)  # after 11:00
    )
    frame = _frame(samples)
    busy = [(at(7, 55), at(9) - 1)]
    found = resting_windows(frame, 60.0, busy)
    assert len(found) == 1
    start, end = found[0]
    assert at(6, 10) <= start and end <= at(6, 14) + 1000
    assert end - start == 300_000 - 60_000 or end - start >= 120_000
    # Without the class, the 08:00 window (lower HR) would be the better one.
    found_free = resting_windows(frame, 60.0, [])
    assert found_free[0][0] >= at(8)
    # In Amsterdam (UTC+1 in March) 03:50 UTC is 04:50 local: morning there.
    assert resting_windows(frame, 60.0, busy, tz="Europe/Amsterdam", rule=AutoRule())[0][0] < at(4)


async def test_automatic_proposal_is_counted_only_when_confirmed(tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    registry = Registry(db)
    ana = registry.add_athlete("Ana", hr_rest=67)
    store = SqliteStore(db)
    await store.open()
    journal = Journal(db)
    rr = pyhrv_rr()  # ~5 min at 68 bpm on average: the smoothed HR stays within 67 ± 10
    await store.write(WriteBatch(_samples(rr, T0, athlete=ana)))
    try:
        made = await readings.propose_automatic(
            store, registry, journal, start_ms=T0 - 3_600_000, end_ms=T0 + 3_600_000,
            settings=MorningSettings(),
        )  # fmt: skip
        assert [(r.method, r.status) for r in made] == [("auto", "proposed")]
        assert (await read_table(store, tables.MORNING_READINGS)).is_empty()
        # Running again proposes nothing new for that day.
        again = await readings.propose_automatic(
            store, registry, journal, start_ms=T0 - 3_600_000, end_ms=T0 + 3_600_000,
            settings=MorningSettings(),
        )  # fmt: skip
        assert again == []
        confirmed = await readings.confirm_reading(store, journal, made[0].id)
        assert confirmed is not None and confirmed.status == "counted"
        stored = await read_table(store, tables.MORNING_READINGS)
        assert stored["recording_id"].to_list() == [made[0].id]
    finally:
        journal.close()
        registry.close()
        await store.close()


def test_morning_spans_follow_the_site_clock() -> None:
    day = dt.datetime(2026, 3, 28, tzinfo=dt.UTC)  # the clocks go forward on 29 March
    start = int(day.timestamp() * 1000)
    spans = readings.morning_spans(start, start + 2 * 86_400_000, AutoRule(), "Europe/Amsterdam")
    as_utc = [
        (dt.datetime.fromtimestamp(a / 1000, dt.UTC).hour,
         dt.datetime.fromtimestamp(b / 1000, dt.UTC).hour)
        for a, b in spans
    ]  # fmt: skip
    # 04:00-11:00 local: UTC+1 on the 28th, UTC+2 from the 29th.
    assert as_utc == [(3, 10), (2, 9)]


# ---------------------------------------------------------------------- looks like rest


def _scaled(factor: float, n: int = 200) -> list[int]:
    """The published resting series with every interval scaled (0.45: the same heart in a
    class, about 150 bpm), its beat-to-beat pattern kept."""
    return [round(x * factor) for x in pyhrv_rr()[:n]]


def _accepted(rr: list[int], start: int) -> tuple[pl.DataFrame, ReadingValues]:
    frame = _frame(_samples(rr, start))
    values = compute_reading(frame, start, start + sum(rr))
    assert isinstance(values, ReadingValues)
    return frame, values


NOTHING_BEFORE = _frame([])


def test_a_reading_in_a_class_is_not_a_resting_reading() -> None:
    frame, values = _accepted(_scaled(0.45), T0)
    assert values.hr_rest > 140  # the quality rule alone accepted it
    refusal = rest_refusal(frame, T0, T0 + 90_000, values, 62.0, NOTHING_BEFORE)
    assert isinstance(refusal, Refusal) and refusal.reason == "not-at-rest"
    # Without any resting reference, a heart rate over 100 is not rest either.
    alone = rest_refusal(frame, T0, T0 + 90_000, values, None, NOTHING_BEFORE)
    assert isinstance(alone, Refusal) and alone.reason == "not-at-rest"


def test_a_quiet_morning_passes_the_rest_rule() -> None:
    rr = pyhrv_rr()[:200]
    frame, values = _accepted(rr, T0)
    assert rest_refusal(frame, T0, T0 + sum(rr), values, 66.0, NOTHING_BEFORE) is None
    # Its own mean, 14 bpm above the reference, is within the 15 bpm margin.
    assert (
        rest_refusal(frame, T0, T0 + sum(rr), values, values.hr_rest - 14, NOTHING_BEFORE) is None
    )


def test_a_heart_rate_still_coming_down_is_not_settled() -> None:
    # Right after climbing the stairs: 96 bpm falling to 66 over the window.
    rr = [round(60000 / (96 - 30 * k / 199)) for k in range(200)]
    frame, values = _accepted(rr, T0)
    refusal = rest_refusal(frame, T0, T0 + sum(rr), values, 66.0, NOTHING_BEFORE)
    assert isinstance(refusal, Refusal) and refusal.reason == "not-settled"


def test_a_reading_right_after_training_is_refused() -> None:
    rr = pyhrv_rr()[:200]
    frame, values = _accepted(rr, T0)
    # Five minutes at 140 bpm, ending ten minutes before the reading.
    workout = _frame(_samples(_scaled(0.48, 330), T0 - 15 * 60_000))
    refusal = rest_refusal(frame, T0, T0 + sum(rr), values, 66.0, workout)
    assert isinstance(refusal, Refusal) and refusal.reason == "after-training"
    # The same workout 40 minutes earlier is outside the 30-minute rule.
    earlier = _frame(_samples(_scaled(0.48, 330), T0 - 45 * 60_000))
    assert rest_refusal(frame, T0, T0 + sum(rr), values, 66.0, earlier) is None


def test_the_resting_reference_is_robust() -> None:
    rules = RestRules()
    assert resting_reference([60, 61, 158], 70, rules) == 61  # the median, not the mean
    assert resting_reference([60, 61], 70, rules) == 70  # too few readings: the profile
    assert resting_reference([], None, rules) is None


async def test_take_reading_refuses_a_reading_taken_while_moving(tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    registry = Registry(db)
    ana = registry.add_athlete("Ana", hr_rest=60)
    registry.close()
    store = SqliteStore(db)
    await store.open()
    journal = Journal(db)
    moving = _scaled(0.45)
    await store.write(WriteBatch(_samples(moving, T0, athlete=ana)))
    try:
        refused = await readings.take_reading(
            store, journal, ana, T0, T0 + sum(moving), method="station", profile_hr_rest=60
        )
        assert isinstance(refused, Refusal) and refused.reason == "not-at-rest"
        assert journal.morning_recordings(ana) == []
        assert (await read_table(store, tables.MORNING_READINGS, {"athlete_id": ana})).is_empty()
    finally:
        journal.close()
        await store.close()
