"""The strap watchdog refreshes a strap's info (battery, RSSI) one read at a time: a slow
GATT read is not joined by a new one every round (issue 17 item 5).

The link is a fake at the radio boundary (no Bluetooth here) whose battery read hangs until
the test lets it answer; the watchdog, the publisher and a real Mosquitto are real."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from gympulse.collectors.buffer import DiskQueue, Forwarder, SeqAllocator
from gympulse.collectors.central import NotificationHandler, StrapDetails
from gympulse.collectors.manager import Strap, StrapManager
from gympulse.collectors.publisher import CollectorPublisher
from gympulse.mqtt import MqttClient
from gympulse.settings import MqttSettings, Settings
from tests.support.pipeline import wait_for
from tests.support.procs import Mosquitto

pytestmark = pytest.mark.slow  # a real Mosquitto


class SlowGattLink:
    """A connected strap whose Battery Level read answers only when ``answer`` is set."""

    address = "AA:BB:CC:DD:EE:01"

    def __init__(self) -> None:
        self.answer = asyncio.Event()
        self.reads = 0  # battery reads started
        self.in_flight = 0
        self.most_in_flight = 0

    async def subscribe_hr(self, handler: NotificationHandler) -> None:
        return None

    async def read_battery(self) -> int | None:
        self.reads += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.answer.wait()
        finally:
            self.in_flight -= 1
        return 64

    async def read_rssi(self) -> int | None:
        return -60

    async def read_details(self) -> StrapDetails:
        return StrapDetails()

    async def disconnect(self) -> None:
        return None


async def test_a_slow_battery_read_is_one_refresh_at_a_time(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = Settings()
    queue = DiskQueue(tmp_path / "queue.db", 1000)
    async with MqttClient(MqttSettings(url=mosquitto.url), "pi") as mqtt:
        await mqtt.wait_connected()
        publisher = CollectorPublisher(mqtt, "demo", "pi")
        manager = StrapManager(
            settings, [], Forwarder(mqtt, publisher, queue), publisher, SeqAllocator(queue)
        )
        link = SlowGattLink()
        # Connected, never silent (only the refresh is at stake), its info due long ago.
        strap = Strap("strap-1", link.address, "H10", link=link)
        strap.last_notification, strap.last_info_at = float("inf"), float("-inf")
        manager.straps[link.address] = strap
        runner = asyncio.create_task(manager.run())
        try:
            await wait_for(lambda: link.reads == 1, 30, "the first battery read")
            rounds = manager.watchdog_rounds
            await wait_for(lambda: manager.watchdog_rounds >= rounds + 6, 30, "six more rounds")
            assert (link.reads, link.most_in_flight) == (1, 1)  # was one more every round
            link.answer.set()
            await wait_for(lambda: strap.battery_pct == 64, 30, "the answer")
            assert strap.rssi == -60 and not strap.refreshing
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
            queue.close()
