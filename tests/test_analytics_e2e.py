"""The numbers of issue 9 through the real processes: samples published to a real
Mosquitto, stored by ``gympulse ingest`` and analysed by ``gympulse analyze``, both run as
subprocesses on a config file, the way a gym runs them; the derived tables are read back
from the SQLite file.

Athletes: HRmax 190, resting HR 60 (reserve 130), female, 60 kg, born 1990. Detection
threshold 60 + 20 % · 130 = 86 bpm; moderate intensity from 60 + 40 % · 130 = 112 bpm.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from gympulse import contract
from gympulse.contract import HrSample
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from tests.support.pipeline import count_rows, publish_samples, wait_for
from tests.support.procs import Mosquitto

pytestmark = pytest.mark.slow

DAY_MS = 86_400_000


def _cli(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "gympulse.cli", "--config", str(config), *args]


@dataclass
class Gym:
    db: Path
    config: Path
    url: str
    log: Path
    ids: dict[str, int]
    seq: int = 0

    def samples(
        self, sensor: str, start_ms: int, bpm: Sequence[int], contact: Sequence[bool] | None = None
    ) -> list[HrSample]:
        """One sample a second from ``start_ms``."""
        out = []
        for i, b in enumerate(bpm):
            self.seq += 1
            ok = True if contact is None else contact[i]
            out.append(
                HrSample(
                    sensor=sensor,
                    ts=start_ms + i * 1000,
                    seq=self.seq,
                    bpm=b,
                    rr_ms=[round(60000 / b)] if ok else [],
                    contact=ok,
                )
            )
        return out

    async def publish(self, samples: list[HrSample]) -> None:
        before = count_rows(self.db, "samples")
        await publish_samples(self.url, samples)
        await wait_for(
            lambda: count_rows(self.db, "samples") >= before + len(samples), 60, "samples stored"
        )

    def analyze(self) -> str:
        done = subprocess.run(
            _cli(self.config, "analyze"), capture_output=True, text=True, timeout=120, check=False
        )
        out = done.stdout + done.stderr
        assert done.returncode == 0 and "Traceback" not in out, out
        return out

    def rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.db) as conn:
            return list(conn.execute(sql, params).fetchall())


def _start_ingest(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            _cli(config, "ingest"),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


@contextlib.asynccontextmanager
async def gym(mosquitto: Mosquitto, tmp_path: Path, athletes: dict[str, str]) -> AsyncIterator[Gym]:
    """``gympulse ingest`` running on a config file, subscribed (a probe sample from an
    unassigned strap was stored), stopped with SIGTERM afterwards. ``athletes``: name →
    strap, registered and wearing it for the last 30 days before ingestion starts."""
    db = tmp_path / "gympulse.db"
    config = tmp_path / "gympulse.toml"
    config.write_text(
        f'site = "demo"\ntimezone = "UTC"\n[mqtt]\nurl = "{mosquitto.url}"\n'
        f'[store]\npath = "{db}"\n'
    )
    registry = Registry(db)
    ids = {}
    for name, sensor in athletes.items():
        ids[name] = registry.add_athlete(
            name, birth_year=1990, sex="female", weight_kg=60, hr_max=190, hr_rest=60
        )
        registry.assign(sensor, ids[name], contract.now_ms() - 30 * DAY_MS)
    registry.close()
    g = Gym(db, config, mosquitto.url, tmp_path / "ingest.log", ids)
    proc = _start_ingest(config, g.log)
    try:
        for attempt in range(100):
            probe = g.samples("probe", contract.now_ms() - 1000 + attempt, [60])
            await publish_samples(mosquitto.url, probe)
            try:
                await wait_for(lambda: count_rows(db, "samples") > 0, 0.5, "probe")
                break
            except AssertionError:
                continue
        assert count_rows(db, "samples") > 0, g.log.read_text()
        yield g
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _midnight(days_ago: int) -> int:
    today = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_ago)
    return int(dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)


# ------------------------------------------------------------------ items 2 and 3


async def test_resting_athletes_get_a_daily_row_every_day_up_to_today(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with gym(mosquitto, tmp_path, {"Ana": "strap-1", "Ben": "strap-2"}) as g:
        ana, ben = g.ids["Ana"], g.ids["Ben"]
        # Ana trains 9 days ago, analyze runs that evening ... (the run is "now"; what
        # matters is that her next samples come days later).
        workout = [150] * 900 + [70] * 120  # 15 min at 150, then resting with the strap on
        await g.publish(g.samples("strap-1", _midnight(9) + 18 * 3_600_000, workout))
        g.analyze()
        # ... and again 4 days ago; Ben trained once, 6 days ago, and has rested since.
        await g.publish(g.samples("strap-1", _midnight(4) + 18 * 3_600_000, workout))
        await g.publish(g.samples("strap-2", _midnight(6) + 7 * 3_600_000, workout))
        g.analyze()

        today = dt.datetime.now(dt.UTC).date()
        for athlete, first in ((ana, 9), (ben, 6)):
            rows = g.rows(
                "SELECT date, load, ctl, atl FROM daily_metrics WHERE athlete_id = ? ORDER BY date",
                athlete,
            )
            # Every day from the first session to today, no gaps, no duplicates.
            assert [r[0] for r in rows] == [
                (today - dt.timedelta(days=d)).isoformat() for d in range(first, -1, -1)
            ]
            # Rest days after the last session: load 0; fitness still building (42 days),
            # fatigue shown from the 7th day of history and decaying (load.py).
            rest = rows[-4:]
            assert [r[1] for r in rest] == [0.0] * 4
            assert [r[2] for r in rest] == [None] * 4
            atl = [float(r[3]) for r in rest if r[3] is not None]  # type: ignore[arg-type]
            assert len(atl) == (4 if athlete == ana else 1)  # Ana: days 7-10; Ben: day 7
            assert atl == sorted(atl, reverse=True)
            if athlete == ana:
                # The weighted mean of the days so far on a rest day, from day h to h + 1:
                # X_{h+1} = X_h · (1 − k) · S_h / S_{h+1}, S_h = (1 − (1 − k)^h) / k, h = 7.
                q = 2.718281828459045 ** (-1 / 7)
                assert atl[1] == pytest.approx(atl[0] * q * (1 - q**7) / (1 - q**8))
        # The baselines (ACWR and form flags) follow the same days.
        (n,) = g.rows("SELECT count(*) FROM baselines WHERE athlete_id = ?", ben)[0]
        assert n == 7


# ------------------------------------------------------------------ item 5


async def test_samples_without_skin_contact_count_as_no_signal(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with gym(mosquitto, tmp_path, {"Cas": "strap-3"}) as g:
        a = g.ids["Cas"]
        # 20 min at 150; in minute 10 contact is lost and the strap repeats 170 (zone 4).
        bpm = [150] * 600 + [170] * 60 + [150] * 540 + [70] * 120
        contact = [True] * 600 + [False] * 60 + [True] * 660
        await g.publish(g.samples("strap-3", _midnight(1) + 9 * 3_600_000, bpm, contact))
        g.analyze()
        ((n, hr_avg, hr_max, z3, z4, kcal, points, trimp_e),) = g.rows(
            "SELECT n_samples, hr_avg, hr_max, zone3_s, zone4_s, kcal, points, trimp_edwards"
            " FROM session_summary WHERE athlete_id = ?",
            a,
        )
        age = dt.datetime.now(dt.UTC).year - 1990
        kcal_150 = (-20.4022 + 0.4472 * 150 - 0.1263 * 60 + 0.074 * age) / 4.184
        assert n == 1140 and hr_avg == 150.0 and hr_max == 150
        assert z3 == 1140 and z4 == 0  # 150/190 = 79 %: zone 3
        assert kcal == pytest.approx(1140 * kcal_150 / 60)
        assert points == pytest.approx(1140 * 3 / 60) and trimp_e == pytest.approx(57.0)


# ------------------------------------------------------------------ item 6


async def test_hrr60_from_the_end_of_exercise_and_never_negative(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with gym(mosquitto, tmp_path, {"Dea": "strap-4", "Eli": "strap-5"}) as g:
        dea, eli = g.ids["Dea"], g.ids["Eli"]
        # Dea: a detected workout, 20 min at 150, a 3-min cool-down walk at 100 (still in
        # the session: above 86 bpm), then 3 min sitting at 70 with the strap on.
        start = _midnight(1) + 18 * 3_600_000
        await g.publish(g.samples("strap-4", start, [150] * 1200 + [100] * 180 + [70] * 180))
        # Eli: a 10-min class at 120; after it she runs on at 153 (HR 60 s later is higher).
        class_start = _midnight(1) + 10 * 3_600_000
        journal = Journal(g.db)
        journal.add_class("Spinning", class_start, class_start + 600_000)
        journal.close()
        await g.publish(g.samples("strap-5", class_start, [120] * 600 + [153] * 120))
        g.analyze()

        ((hrr, end),) = g.rows(
            "SELECT hrr60, end_ms FROM session_summary WHERE athlete_id = ?", dea
        )
        # End of exercise: the last 150 sample (t = 1199 s), not the end of the walk (t =
        # 1379 s); 60 s later she walks at 100: 150 − 100 = 50 bpm.
        assert end == start + 1379 * 1000 and hrr == 50.0
        ((note, ex_end),) = g.rows(
            "SELECT hrr60_note, exercise_end_ms FROM session_summary WHERE athlete_id = ?", dea
        )
        assert note is None and ex_end == start + 1199 * 1000
        ((hrr,),) = g.rows("SELECT hrr60 FROM session_summary WHERE athlete_id = ?", eli)
        assert hrr is None  # 120 − 153 = −33 is not a recovery
        ((note,),) = g.rows("SELECT hrr60_note FROM session_summary WHERE athlete_id = ?", eli)
        assert note == "rose"  # the coach sees why there is no value
