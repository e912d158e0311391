"""12 virtual straps (driven by the simulator) -> the bumble central over HCI-over-TCP ->
collector -> a real Mosquitto -> a subscriber; and a strap that drops out mid-class and comes
back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gympulse.collectors.service import run_collector
from gympulse.settings import CollectorSettings, MqttSettings, Settings
from tests.support.procs import Mosquitto
from tests.support.virtual_straps import StrapField, Watcher, check_simulation, check_stream

pytestmark = pytest.mark.slow  # a real Mosquitto and virtual straps

SITE = "gym"
COLLECTOR = "floor"


def collector_settings(
    broker: Mosquitto, field: StrapField, state_dir: Path, **collector: object
) -> Settings:
    options: dict[str, object] = {
        "name": COLLECTOR,
        "central": "bumble",
        "transport": field.transport,
        "state_dir": str(state_dir),
        "scan_seconds": 0.3,
        "confirm": "broker",  # no ingestion here: the broker hop is what is tested
    }
    options.update(collector)
    return Settings(
        site=SITE,
        mqtt=MqttSettings(url=broker.url),
        collector=CollectorSettings(**options),  # type: ignore[arg-type]
    )


@dataclass
class Running:
    field: StrapField
    watcher: Watcher
    stop: asyncio.Event
    task: asyncio.Task[dict[str, dict[str, int]]]


@contextlib.asynccontextmanager
async def running_collector(
    broker: Mosquitto, tmp_path: Path, field: StrapField, **collector: object
) -> AsyncIterator[Running]:
    await field.start()
    watcher = Watcher(broker.url, SITE)
    await watcher.start()
    stop = asyncio.Event()
    settings = collector_settings(broker, field, tmp_path / "state", **collector)
    task = asyncio.create_task(run_collector(settings, stop))
    try:
        yield Running(field, watcher, stop, task)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 20)
        await watcher.stop()
        await field.stop()


async def wait_connected(field: StrapField, watcher: Watcher, straps: int) -> None:
    await watcher.until(
        lambda: (
            sum(1 for s in field.straps if s.subscribed) == straps
            and all(len(s.sent) >= 3 for s in field.straps if s.subscribed)
        )
    )


async def test_twelve_straps_every_notification_once_in_order(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    field = StrapField(12, rate_hz=5, adapters=2)
    async with running_collector(mosquitto, tmp_path, field, max_connections=6) as run:
        await wait_connected(field, run.watcher, 12)
        await run.watcher.until(lambda: min(len(s.sent) for s in field.straps) >= 25)
        field.pause()
        sent = sum(len(s.sent) for s in field.straps)
        await run.watcher.until(lambda: run.watcher.got.total() >= sent)
        availability = {k: list(v) for k, v in run.watcher.got.availability.items()}
        status = list(run.watcher.got.status)  # what it said while it ran
        # Anything extra (a duplicate) has arrived once the collector has stopped and a
        # marker sent after it is in.
        run.stop.set()
        await asyncio.wait_for(run.task, 20)
        await run.watcher.barrier()

        got = run.watcher.got
        assert set(got.samples) == set(field.by_sensor())
        for sensor, strap in field.by_sensor().items():
            assert check_stream(strap, got.samples[sensor]) == 0
            assert availability[sensor] == ["connected"]
            info = got.info[sensor]
            assert info.battery_pct == 87
            assert info.name == strap.name
            assert info.rssi is not None
            # Body Sensor Location and Device Information, where the strap has them
            assert info.location == strap.kind.want_location
            assert info.model == (strap.kind.want_model or strap.name)
        # max_connections is per adapter: two virtual controllers, six straps each
        assert sorted(s.connections for s in field.straps) == [1] * 12
        assert status[-1] == "online"
        # ... and the straps played the simulated class, second by second
        assert check_simulation(field) == sent
        assert {s.kind.want_location for s in field.straps} == {"Chest", "Wrist", "unknown", None}
    summary = await run.task
    assert sum(c["published"] for c in summary.values()) == sent
    assert got.status[-1] == "offline"


async def test_max_connections_per_adapter(mosquitto: Mosquitto, tmp_path: Path) -> None:
    field = StrapField(5, rate_hz=5)
    async with running_collector(mosquitto, tmp_path, field, max_connections=3) as run:
        await run.watcher.until(lambda: len(run.watcher.got.samples) == 3)
        for _ in range(10):  # a few more scans: a fourth strap must not be taken
            await asyncio.sleep(0.3)
        assert sum(1 for s in field.straps if s.connection is not None) == 3
        assert len(run.watcher.got.samples) == 3


async def test_strap_drops_out_and_comes_back(mosquitto: Mosquitto, tmp_path: Path) -> None:
    field = StrapField(3, rate_hz=5)
    async with running_collector(mosquitto, tmp_path, field) as run:
        await wait_connected(field, run.watcher, 3)
        strap = field.straps[1]
        sensor = strap.address_text.lower().replace(":", "-")
        before = len(strap.sent)
        await strap.drop()
        await run.watcher.until(lambda: run.watcher.got.availability[sensor][-1] == "lost")
        for _ in range(10):  # out of range for a while; the others keep streaming
            await asyncio.sleep(0.1)
        assert len(strap.sent) == before
        await strap.come_back()
        await run.watcher.until(lambda: len(strap.sent) >= before + 10)
        field.pause()
        sent = sum(len(s.sent) for s in field.straps)
        await run.watcher.until(lambda: run.watcher.got.total() >= sent)

        got = run.watcher.got
        assert got.availability[sensor] == ["connected", "lost", "connected"]
        assert strap.connections == 2
        for other_sensor, other in field.by_sensor().items():
            check_stream(other, got.samples[other_sensor])
            if other is not strap:
                assert got.availability[other_sensor] == ["connected"]


async def test_no_contact_is_never_a_live_bpm(mosquitto: Mosquitto, tmp_path: Path) -> None:
    field = StrapField(2, rate_hz=5)
    async with running_collector(mosquitto, tmp_path, field) as run:
        await wait_connected(field, run.watcher, 2)
        strap = field.straps[0]
        sensor = strap.address_text.lower().replace(":", "-")
        with_contact = len(strap.sent)
        strap.contact = False  # the strap slips: same bpm over and over, contact false
        await run.watcher.until(lambda: run.watcher.got.availability[sensor][-1] == "no-contact")
        await run.watcher.until(lambda: len(strap.sent) >= with_contact + 10)
        strap.contact = True
        await run.watcher.until(lambda: run.watcher.got.availability[sensor][-1] == "connected")
        field.pause()
        contact_sent = [x for x in strap.sent if x.contact is not False]
        await run.watcher.until(lambda: len(run.watcher.got.samples[sensor]) >= len(contact_sent))
        samples = run.watcher.got.samples[sensor]
        assert all(s.contact is True for s in samples)
        assert [s.bpm for s in samples] == [x.bpm for x in contact_sent]
        assert run.watcher.got.availability[sensor] == ["connected", "no-contact", "connected"]


async def test_the_simulators_contact_losses_never_reach_the_board(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # 20 simulated seconds per real second; a contact loss (5-20 s, stale bpm, contact false)
    # every ~10 simulated seconds per strap.
    field = StrapField(2, rate_hz=20, contact_loss_rate=0.1)
    async with running_collector(mosquitto, tmp_path, field) as run:
        await wait_connected(field, run.watcher, 2)

        def slipped_a_while() -> bool:  # a loss, and 20 notifications after it began
            for strap in field.straps:
                flags = [x.contact for x in strap.sent]
                if False in flags and len(flags) - flags.index(False) >= 20:
                    return True
            return False

        await run.watcher.until(slipped_a_while)
        field.pause()
        sent = sum(1 for s in field.straps for x in s.sent if x.contact)
        await run.watcher.until(lambda: run.watcher.got.total() >= sent)
        run.stop.set()  # nothing of it is on its way once it has stopped ...
        await asyncio.wait_for(run.task, 20)
        await run.watcher.barrier()  # ... and a marker sent after it is in

        got = run.watcher.got
        check_simulation(field)
        for sensor, strap in field.by_sensor().items():
            check_stream(strap, got.samples.get(sensor, []))  # contact false: never published
            if any(x.contact is False for x in strap.sent):
                assert "no-contact" in got.availability[sensor]
        assert all(s.contact is True for samples in got.samples.values() for s in samples)


@pytest.fixture(autouse=True)
def _quiet_bumble(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR", logger="bumble")
