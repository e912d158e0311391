"""Issue 9 (4): an assignment takes effect for every sample whose ts falls in it, whenever
it arrives — through real processes: Mosquitto, ``gympulse ingest``, ``gympulse assign``
and a second process writing the registry the way the admin form does (``Registry.assign``
from now, no re-stamp of its own).

Before, ingestion re-read assignments at most every 5 s and only when a batch arrived, so
samples right after an assignment were stored unassigned or under the previous wearer, for
good. Now it reads the registry's change counter before and after every batch (and every
second when idle) and re-stamps the stored samples of each window whose wearer changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gympulse import contract
from gympulse.contract import HrSample
from gympulse.mqtt import MqttClient
from gympulse.pipeline.assignments import changed_windows
from gympulse.pipeline.domain import Assignment
from gympulse.pipeline.registry import FOREVER_MS, Registry
from gympulse.settings import MqttSettings
from tests.support.pipeline import barrier, count_rows, publish_samples, sqlite_has, wait_for
from tests.support.procs import Mosquitto, gympulse_process

pytestmark = pytest.mark.slow
PROBE = "probe"


@contextlib.asynccontextmanager
async def ingest_process(mosquitto: Mosquitto, db: Path, tmp: Path) -> AsyncIterator[Path]:
    """``gympulse ingest`` as its own process, subscribed (a probe sample got stored)."""
    config = tmp / "gympulse.toml"
    config.write_text(f'site = "demo"\n[mqtt]\nurl = "{mosquitto.url}"\n[store]\npath = "{db}"\n')
    log = tmp / "ingest.log"
    proc = gympulse_process(config, log, "ingest")
    try:
        for attempt in range(100):
            probe = HrSample(PROBE, contract.now_ms() + attempt, attempt, 70)
            await publish_samples(mosquitto.url, [probe])
            await asyncio.sleep(0.2)
            if count_rows(db, "samples") > 0:
                break
        assert count_rows(db, "samples") > 0, log.read_text()
        yield config
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _stamps(db: Path, sensor: str) -> list[tuple[int, int | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT ts, athlete_id FROM samples WHERE sensor = ? ORDER BY ts", (sensor,)
        ).fetchall()


async def _all_stored(db: Path, sensor: str, n: int) -> None:
    await wait_for(lambda: len(_stamps(db, sensor)) >= n, 30, f"{n} samples of {sensor}")


async def _cli(config: Path, *argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gympulse.cli",
        "--config",
        str(config),
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


# The admin form's bulk assignment, in a process of its own: Registry.assign from now.
ADMIN_FORM = """
import sys
from gympulse.contract import now_ms
from gympulse.pipeline.registry import Registry
reg = Registry(sys.argv[1])
start = now_ms()
for pair in sys.argv[2:]:
    sensor, athlete = pair.split("=")
    reg.assign(sensor, int(athlete), start)
print(start, flush=True)
"""


async def _admin_form(db: Path, **straps: int) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ADMIN_FORM,
        str(db),
        *(f"{s.replace('_', '-')}={a}" for s, a in straps.items()),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return int(out)


async def test_samples_right_after_gympulse_assign_carry_the_athlete(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    registry = Registry(db)
    anna = registry.add_athlete("Anna", hr_max=190)
    registry.close()
    async with ingest_process(mosquitto, db, tmp_path) as config:
        await _cli(config, "assign", "strap-1", "Anna")
        now = contract.now_ms()
        samples = [HrSample("strap-1", now + i * 100, i, 120) for i in range(30)]
        await publish_samples(mosquitto.url, samples)  # at once, right after the assignment
        await _all_stored(db, "strap-1", len(samples))
    stamps = _stamps(db, "strap-1")
    assert [a for _, a in stamps] == [anna] * len(samples)


async def test_a_strap_handed_over_mid_stream_goes_to_the_new_wearer_from_the_hand_over(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    registry = Registry(db)
    anna = registry.add_athlete("Anna", hr_max=190)
    bram = registry.add_athlete("Bram", hr_max=170)
    registry.assign("strap-1", anna, contract.now_ms() - 60_000)
    registry.assign("strap-2", anna, contract.now_ms() - 60_000)  # stays Anna's
    registry.close()
    sent: list[HrSample] = []
    async with ingest_process(mosquitto, db, tmp_path):
        async with MqttClient(MqttSettings(url=mosquitto.url), "test-stream") as mqtt:
            await mqtt.wait_connected()
            handover: asyncio.Task[int] | None = None
            for i in range(80):  # 8 s at 10 Hz, the hand-over in the middle
                for sensor in ("strap-1", "strap-2"):
                    sample = HrSample(sensor, contract.now_ms(), i, 100 + i % 40)
                    topic = contract.hr_topic("demo", "sim", sensor)
                    await mqtt.publish(topic, contract.encode(sample))
                    sent.append(sample)
                if i == 40:
                    handover = asyncio.create_task(_admin_form(db, strap_1=bram))
                await asyncio.sleep(0.1)
            assert handover is not None
            handed_at = await handover
        await _all_stored(db, "strap-1", 80)
        await _all_stored(db, "strap-2", 80)
        # Ingestion reads the registry's change counter around every batch: once a marker
        # sent after the hand-over is stored, every re-stamp it causes has been made.
        await barrier(mosquitto.url, sqlite_has(db))
        stamps = _stamps(db, "strap-1")
    before = [a for ts, a in stamps if ts < handed_at]
    after = [a for ts, a in stamps if ts >= handed_at]
    assert before and after
    assert before == [anna] * len(before)
    assert after == [bram] * len(after), f"{after.count(anna)} of {len(after)} still Anna's"
    assert {a for _, a in _stamps(db, "strap-2")} == {anna}
    # Bram's samples carry his %HRmax (170), not Anna's (190).
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT bpm, pct_max FROM samples WHERE sensor = 'strap-1' AND ts >= ?", (handed_at,)
        ).fetchall()
    assert all(pct == int(100 * bpm / 170 + 0.5) for bpm, pct in rows)


async def test_a_backlog_replayed_after_assign_with_a_past_start_is_stamped(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    registry = Registry(db)
    anna = registry.add_athlete("Anna", hr_max=190)
    registry.close()
    now = contract.now_ms()
    start = now - 11 * 60_000
    backlog = [HrSample("strap-1", start + 60_000 + i * 1000, i, 110) for i in range(600)]
    async with ingest_process(mosquitto, db, tmp_path) as config:
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start / 1000))
        out = await _cli(config, "assign", "strap-1", str(anna), "--start", iso)
        assert "0 stored samples re-stamped" in out  # nothing was stored yet
        await publish_samples(mosquitto.url, backlog)  # the collector's backlog, replayed
        await _all_stored(db, "strap-1", len(backlog))
    unassigned = [ts for ts, a in _stamps(db, "strap-1") if a != anna]
    assert unassigned == []


async def test_samples_stored_before_an_assignment_are_stamped_by_ingestion(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """A bulk assignment from the admin form (which re-stamps nothing itself) backdated
    over samples already stored unassigned: ingestion re-stamps them, even with the
    straps quiet (no batch arrives to notice the change)."""
    db = tmp_path / "g.db"
    registry = Registry(db)
    athletes = [registry.add_athlete(f"Guest {i}", hr_max=180) for i in range(20)]
    registry.close()
    now = contract.now_ms()
    samples = [
        HrSample(f"strap-{k + 1}", now - 30_000 + i * 1000, i, 100)
        for k in range(20)
        for i in range(20)
    ]
    async with ingest_process(mosquitto, db, tmp_path):
        await publish_samples(mosquitto.url, samples)
        await wait_for(lambda: count_rows(db, "samples") > len(samples), 30, "all samples")
        registry = Registry(db)
        try:
            for k, athlete in enumerate(athletes):  # one transaction each, as the form does
                registry.assign(f"strap-{k + 1}", athlete, now - 60_000)
        finally:
            registry.close()

        def all_stamped() -> bool:
            with sqlite3.connect(db) as conn:
                (n,) = conn.execute(
                    "SELECT count(*) FROM samples WHERE sensor != ? AND athlete_id IS NULL",
                    (PROBE,),
                ).fetchone()
            return int(n) == 0

        await wait_for(all_stamped, 10, "ingestion to re-stamp the stored samples")
    for k, athlete in enumerate(athletes):
        assert {a for _, a in _stamps(db, f"strap-{k + 1}")} == {athlete}


def test_changed_windows_cover_only_where_the_wearer_differs() -> None:
    anna = Assignment(1, "strap-1", 1, 1_000, None)
    handed = [Assignment(1, "strap-1", 1, 1_000, 5_000), Assignment(2, "strap-1", 2, 5_000, None)]
    assert changed_windows([anna], handed) == {"strap-1": (5_000, FOREVER_MS)}
    assert changed_windows(handed, handed) == {}
    backdated = [dataclasses.replace(anna, start_ms=500)]
    assert changed_windows([anna], backdated) == {"strap-1": (500, 1_000)}
    other = [anna, Assignment(3, "strap-2", 2, 0, 2_000)]
    assert changed_windows([anna], other) == {"strap-2": (0, 2_000)}
    assert changed_windows(other, [anna]) == {"strap-2": (0, 2_000)}
