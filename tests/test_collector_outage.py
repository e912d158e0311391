"""Broker outage mid-class: every sample of the gap arrives afterwards, in order, once.

Two collectors share one outage (one broker, two groups of six virtual straps) so the
required 30 s are spent once:

- ``floor-a`` runs in this process and simply rides the outage out;
- ``floor-b`` runs as a real subprocess (``python -m gympulse.cli collect``) and is killed
  with SIGKILL in the middle of the outage, then started again: the samples it had queued on
  disk, and those its successor queues, all arrive once the broker is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest

from gympulse.collectors.service import run_collector
from gympulse.settings import CollectorSettings, MqttSettings, Settings
from tests.support.procs import Mosquitto
from tests.support.virtual_straps import StrapField, Watcher, check_stream

pytestmark = pytest.mark.slow  # a real Mosquitto, virtual straps, a collector process

OUTAGE_S = 3.0  # long enough for every path (buffering, a SIGKILL, replay); the rest follows
RATE_HZ = 2.0
SITE = "gym"
REPO = Path(__file__).resolve().parent.parent


def _config(path: Path, broker: Mosquitto, name: str, transport: str, state_dir: Path) -> Path:
    path.write_text(
        f'site = "{SITE}"\n'
        'log_level = "INFO"\n'
        f'[mqtt]\nurl = "{broker.url}"\n'
        f'[collector]\nname = "{name}"\ncentral = "bumble"\ntransport = "{transport}"\n'
        f'state_dir = "{state_dir}"\nscan_seconds = 0.3\n'
        'confirm = "broker"\n'
    )
    return path


async def _spawn(config: Path, log: Path) -> asyncio.subprocess.Process:
    out = log.open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gympulse.cli",
            "--config",
            str(config),
            "collect",
            cwd=REPO,
            stdout=out,
            stderr=out,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    finally:
        out.close()


async def test_broker_outage_nothing_lost_even_through_sigkill(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    field_a = StrapField(6, rate_hz=RATE_HZ, first=0)
    field_b = StrapField(6, rate_hz=RATE_HZ, first=100)
    await field_a.start()
    await field_b.start()
    watcher = Watcher(mosquitto.url, SITE)
    await watcher.start()
    stop_a = asyncio.Event()
    settings_a = Settings(
        site=SITE,
        mqtt=MqttSettings(url=mosquitto.url),
        collector=CollectorSettings(
            name="floor-a",
            central="bumble",
            transport=field_a.transport,
            state_dir=str(tmp_path / "state-a"),
            scan_seconds=0.3,
            confirm="broker",  # no ingestion here: the broker hop is what is tested
        ),
    )
    task_a = asyncio.create_task(run_collector(settings_a, stop_a))
    config_b = _config(
        tmp_path / "b.toml", mosquitto, "floor-b", field_b.transport, tmp_path / "state-b"
    )
    log_b = tmp_path / "collector-b.log"
    proc_b = await _spawn(config_b, log_b)
    procs = [proc_b]
    straps = field_a.straps + field_b.straps
    try:
        await watcher.until(lambda: all(s.subscribed and len(s.sent) >= 4 for s in straps))
        before = {s.address_text: len(s.sent) for s in straps}

        await asyncio.to_thread(mosquitto.stop)
        # The broker saved its sessions (the watcher's above all): see tests/support/procs.py.
        assert (mosquitto.workdir / "data" / "mosquitto.db").is_file()
        loop = asyncio.get_running_loop()
        outage_end = loop.time() + OUTAGE_S
        await asyncio.sleep(OUTAGE_S / 3)

        # SIGKILL the subprocess collector mid-outage. The straps pause first so that no
        # notification is in the air at the instant of the kill: whatever a strap sent, its
        # collector received.
        field_b.pause()
        await asyncio.sleep(0.5)
        proc_b.kill()
        await proc_b.wait()
        await watcher.until(lambda: all(s.connection is None for s in field_b.straps))
        field_b.resume()
        proc_b = await _spawn(config_b, log_b)
        procs.append(proc_b)
        await watcher.until(lambda: all(s.subscribed for s in field_b.straps))

        await asyncio.sleep(max(0.0, outage_end - loop.time()))
        during = {s.address_text: len(s.sent) - before[s.address_text] for s in straps}
        assert all(n > 0 for n in during.values()), during  # every strap sent while it was down
        await asyncio.to_thread(mosquitto.start)

        await watcher.until(
            lambda: all(
                len(s.sent) >= before[s.address_text] + during[s.address_text] + 6 for s in straps
            )
        )
        field_a.pause()
        field_b.pause()
        await asyncio.sleep(0.5)
        sent = sum(len(s.sent) for s in straps)
        await watcher.until(lambda: watcher.got.total() >= sent, within_s=90)
        await asyncio.sleep(0.5)

        repeats = 0
        for field in (field_a, field_b):
            for sensor, strap in field.by_sensor().items():
                repeats += check_stream(strap, watcher.got.samples[sensor], dedup=True)
        # At least once: a repeat is only possible for a message the broker stored in the
        # instant it went down; the ingestion's (sensor, ts) key absorbs it.
        assert repeats <= 12, repeats
        print(f"outage {OUTAGE_S:g} s: {sent} samples, {repeats} repeated")
    finally:
        stop_a.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task_a, 20)
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 15)
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        await watcher.stop()
        await field_a.stop()
        await field_b.stop()


@pytest.fixture(autouse=True)
def _quiet_bumble(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR", logger="bumble")
