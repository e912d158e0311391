"""Power analytics on worked examples (Allen & Coggan's definitions, numbers by hand), and
``analyze`` writing ``session_power`` for a workout ridden on a bike with an FTP set."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest

from gympulse.pipeline.analytics import power, tables
from gympulse.pipeline.analytics.jobs import analyze, read_table
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import StoredMachineSample, StoredSample, WriteBatch
from gympulse.pipeline.stores.sqlite import SqliteStore

# --------------------------------------------------------------------------- worked examples


def test_steady_hour_below_threshold() -> None:
    # 200 W for an hour, FTP 250: work 200 W × 3600 s = 720 kJ; steady, so NP = 200;
    # IF = 200 / 250 = 0.8; TSS = 3600 × 200 × 0.8 / (250 × 3600) × 100 = 64.
    s = power.summarize([200.0] * 3600, ftp_w=250)
    assert (s.seconds, s.avg_power_w, s.work_kj) == (3600, 200.0, 720.0)
    assert s.np_w == pytest.approx(200.0)
    assert s.intensity_factor == pytest.approx(0.8)
    assert s.tss == pytest.approx(64.0)


def test_an_hour_at_threshold_is_100_tss() -> None:
    s = power.summarize([250.0] * 3600, ftp_w=250)
    assert s.intensity_factor == pytest.approx(1.0)
    assert s.tss == pytest.approx(100.0)


def test_normalized_power_of_a_surge_is_above_the_average() -> None:
    # 30 s at 0 W then 30 s at 300 W: average 150 W. The 30 s rolling means are the 31
    # windows ending at seconds 29..59; the one ending at 29 + k holds k seconds of 300 W:
    # 10·k W, k = 0..30. NP = (Σ (10k)^4 / 31)^(1/4) = 10 · (Σ k^4 / 31)^(1/4), and
    # Σ_{k=0}^{30} k^4 = 30·31·61·(3·30² + 3·30 − 1) / 30 = 31·61·2789 = 5 273 999, so
    # NP = 10 · 170 129^(1/4) = 203.09 W.
    s = power.summarize([0.0] * 30 + [300.0] * 30, ftp_w=None)
    assert s.avg_power_w == 150.0
    assert s.np_w == pytest.approx(10 * 170_129**0.25)
    assert s.np_w == pytest.approx(203.09, abs=0.01)
    assert (s.intensity_factor, s.tss) == (None, None)  # no FTP: no IF, no TSS
    assert s.work_kj == pytest.approx(9.0)  # 300 W × 30 s


def test_np_needs_thirty_seconds() -> None:
    assert power.normalized_power([250.0] * 29) is None
    assert power.normalized_power([250.0] * 30) == pytest.approx(250.0)
    assert power.summarize([250.0] * 10, ftp_w=250).tss is None


def test_per_second_holds_a_sample_three_seconds_then_zero() -> None:
    # samples at 0 s (100 W), 1 s (200 W) and 5 s (300 W), series 0..9 s: second 4 still
    # holds the 1 s sample (3 s old), second 9 is 4 s after the last: the rider stopped.
    got = power.per_second([0, 1000, 5000], [100, 200, 300], 0, 9000)
    assert got == [100, 200, 200, 200, 200, 300, 300, 300, 300, 0]
    assert power.per_second([0, 1000], [None, 150], 0, 2000) == [0, 150, 150]


def test_session_power_and_daily_tss() -> None:
    day = dt.date(2026, 3, 2)
    sessions = pl.DataFrame(
        {
            "athlete_id": [1, 1, 2],
            "session_id": ["a", "b", "c"],
            "date": [day, day, day],
            "start_ms": [0, 10_000_000, 0],
            "end_ms": [3_599_000, 10_600_000, 3_599_000],
        }
    )
    machine = pl.DataFrame(
        {
            "athlete_id": [1] * 3600 + [2] * 3600,
            "ts": [i * 1000 for i in range(3600)] * 2,
            "power_w": [200] * 3600 + [250] * 3600,
        }
    )
    rows = power.session_power(sessions, machine, {1: 250, 2: None})
    assert rows.select("athlete_id", "session_id").rows() == [(1, "a"), (2, "c")]  # b: no power
    a = rows.row(0, named=True)
    assert (a["seconds"], a["avg_power_w"], a["work_kj"]) == (3600, 200.0, 720.0)
    assert a["tss"] == pytest.approx(64.0) and a["ftp_w"] == 250
    c = rows.row(1, named=True)
    assert c["np_w"] == pytest.approx(250.0) and c["tss"] is None  # no FTP in the profile
    daily = power.daily_tss(rows)
    assert daily.rows() == [(1, day, pytest.approx(64.0)), (2, day, 0.0)]


# --------------------------------------------------------------------------- analyze


async def _ride(tmp_path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    path = tmp_path / "gympulse.db"
    store = SqliteStore(path)
    await store.open()
    registry = Registry(path)
    journal = Journal(path)
    eva = registry.add_athlete(
        "Eva", birth_year=1990, sex="female", weight_kg=60, hr_max=190, hr_rest=60, ftp_w=250
    )
    start = int(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC).timestamp() * 1000)
    seconds = 30 * 60  # a 30 min ride at 150 bpm and 200 W, then 2 min easy at 100 bpm
    hr = [
        StoredSample(
            "gym",
            "c1",
            "strap-1",
            start + i * 1000,
            i,
            150 if i < seconds else 100,
            (400,),
            True,
            None,
            eva,
        )
        for i in range(seconds + 120)
    ]
    bike = [
        StoredMachineSample(
            "gym",
            "c1",
            "bike-1",
            start + i * 1000,
            i,
            "bike",
            200,
            85.0,
            30.0,
            None,
            None,
            None,
            None,
            None,
            eva,
        )
        for i in range(seconds)
    ]
    await store.write(WriteBatch(samples=hr, machine=bike))
    await analyze(store, registry, journal, now_ms=start + 3 * 3_600_000)
    summary = await read_table(store, tables.SESSION_SUMMARY, {"athlete_id": eva})
    rows = await read_table(store, tables.SESSION_POWER, {"athlete_id": eva})
    await store.close()
    registry.close()
    journal.close()
    return summary, rows


def test_analyze_writes_the_power_of_a_ride(tmp_path: Path) -> None:
    summary, rows = asyncio.run(_ride(tmp_path))
    assert summary.height == 1 and rows.height == 1
    (session,) = summary.to_dicts()
    (row,) = rows.to_dicts()
    assert row["session_id"] == session["session_id"]
    # the 1 Hz series covers the whole session; the bike stopped 3 s before its end + hold
    n = row["seconds"]
    assert n == (session["end_ms"] - session["start_ms"]) // 1000 + 1
    powered = min(n, 30 * 60 + power.HOLD_S)  # 200 W while riding (+ 3 s held), then 0
    assert row["work_kj"] == pytest.approx(200 * powered / 1000)
    assert row["avg_power_w"] == pytest.approx(200 * powered / n)
    assert row["ftp_w"] == 250
    assert row["intensity_factor"] == pytest.approx(row["np_w"] / 250)
    assert row["tss"] == pytest.approx(n * row["np_w"] * row["intensity_factor"] / 9000)
    # TRIMP stays heart rate's: the session still has its Banister TRIMP, power adds none
    assert session["trimp_banister"] > 0


# --------------------------------------------------------------------------- coach page


def test_coach_session_page_shows_the_power(tmp_path: Path) -> None:
    from tests.support.web import app_client, login, seed_history

    seeded = seed_history(tmp_path / "gympulse.db")
    name, athlete = next(iter(seeded.athletes.items()))
    session_id = seeded.sessions[name][0]
    row = {
        "athlete_id": [athlete],
        "session_id": [session_id],
        "date": [dt.date(2026, 3, 2)],
        "start_ms": [0],
        "seconds": [3600],
        "avg_power_w": [200.0],
        "np_w": [212.0],
        "work_kj": [720.0],
        "ftp_w": [250],
        "intensity_factor": [0.848],
        "tss": [71.9],
    }

    async def write() -> None:
        store = SqliteStore(seeded.db)
        await store.open()
        frame = tables.conform(tables.SESSION_POWER, pl.DataFrame(row))
        await store.write_rows(tables.SESSION_POWER.name, frame, tables.SESSION_POWER.key)
        await store.close()

    asyncio.run(write())
    with app_client(seeded.db) as client:
        login(client, seeded.coach_user, seeded.coach_password)
        page = client.get(f"/coach/athletes/{athlete}/sessions/{session_id}")
        assert page.status_code == 200
        power_table = page.text.split('<table class="power">')[1].split("</table>")[0]
        for shown in ("200 W", "212 W", "720 kJ", "250", "0.85", "71.9"):
            assert shown in power_table
        # the guest sees the average power and the work of their own session (kindly: no
        # FTP, IF or TSS on their page)
        from tests.support.web import guest_token

        token = guest_token(seeded.db, athlete)
        mine = client.get(f"/me/{token}/sessions/{session_id}").text
        shown = " ".join(re.findall(r'<div class="power">(.*?)</div>', mine))
        assert "200 W" in shown and "720 kJ" in shown and "TSS" not in mine
        other = seeded.sessions[name][1]  # a session without a machine: no power table
        assert 'class="power"' not in client.get(f"/coach/athletes/{athlete}/sessions/{other}").text
