"""Bounded everywhere (issue 17 item 5): what the MQTT client holds for its consumer and
for the broker, and the dictionaries keyed by topic text anyone can publish — against a
real Mosquitto and a real ingestion service."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from gympulse import contract
from gympulse.logs import RateLimitedLog
from gympulse.mqtt import MqttClient, MqttError
from gympulse.pipeline.ingest import IngestService
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import MqttSettings
from tests.support.pipeline import barrier, settings_for, sqlite_has, wait_for
from tests.support.procs import Mosquitto

pytestmark = pytest.mark.slow  # a real Mosquitto

TOPIC = "gympulse/v1/demo/sim/strap-1/hr"


async def test_a_consumer_that_falls_behind_holds_at_most_the_bound(
    mosquitto: Mosquitto,
) -> None:
    """A consumer that takes nothing: the client stops reading at its bound (the broker
    keeps the rest); once the consumer takes them every message comes, in order."""
    bound, sent = 100, 600  # Mosquitto queues up to 1,000 per client by default
    settings = MqttSettings(url=mosquitto.url)
    async with MqttClient(
        settings, "slow-consumer", subscriptions=[(TOPIC, 1)], max_received=bound
    ) as slow:
        await slow.wait_subscribed()
        async with MqttClient(settings, "fast-publisher") as pub:
            await pub.wait_connected()
            await asyncio.gather(*(pub.publish_nowait(TOPIC, b"%d" % i) for i in range(sent)))
        messages = slow.messages()
        await wait_for(lambda: slow.reading_paused, 30, "the reader to pause at its bound")
        assert bound - 1 <= len(messages) <= bound
        got: list[int] = []
        highest = 0
        deadline = time.monotonic() + 60
        while len(got) < sent and time.monotonic() < deadline:
            got.extend(int(m.payload) for m in messages.take_nowait(7))
            highest = max(highest, len(messages))
            await asyncio.sleep(0)
        assert got == list(range(sent))
        assert highest <= bound
        assert not slow.reading_paused


async def test_publishes_beyond_the_outbound_bound_fail_at_once(mosquitto: Mosquitto) -> None:
    """paho holds at most ``max_outbound`` publishes; the next ones fail straight away
    (a collector's samples stay on disk and go out again), the held ones are delivered."""
    async with MqttClient(MqttSettings(url=mosquitto.url), "bounded", max_outbound=50) as pub:
        await pub.wait_connected()
        futures = [pub.publish_nowait(TOPIC, b"x") for _ in range(80)]  # no PUBACK yet
        refused = [f for f in futures if f.done() and isinstance(f.exception(), MqttError)]
        assert len(refused) == 30
        await asyncio.gather(*futures[:50])
        await pub.publish(TOPIC, b"after")  # room again once acknowledged


def test_the_rate_limited_log_remembers_a_bounded_number_of_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limited = RateLimitedLog(logging.getLogger("bounded"), 60.0, max_keys=100)
    for i in range(5_000):
        limited.warning(f"made-up-{i}", "bad message %d", i)
    assert len(limited) == 100
    assert not limited.warning("made-up-4999", "again")  # a recent key is still quiet
    assert limited.warning("made-up-0", "again")  # forgotten: logged once more


async def test_made_up_topics_leave_ingestion_a_bounded_log(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """5,000 malformed messages, each on a sensor topic nobody has: all quarantined, and the
    rate-limited log of ingestion remembers at most its bound of them."""
    db = tmp_path / "g.db"
    registry = await asyncio.to_thread(Registry, db)
    store = SqliteStore(db)
    await store.open()
    service = IngestService(settings_for(mosquitto.url, db), store, registry)
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.ready.wait(), 20)
        async with MqttClient(MqttSettings(url=mosquitto.url), "flood") as flood:
            await flood.wait_connected()
            for start in range(0, 5_000, 500):
                await asyncio.gather(
                    *(
                        flood.publish_nowait(contract.hr_topic("demo", "sim", f"x{i}"), b"nope")
                        for i in range(start, start + 500)
                    )
                )
        await barrier(mosquitto.url, sqlite_has(db))
        assert sum(service.stats.quarantined.values()) == 5_000
        assert len(service.bad_log) <= service.bad_log.max_keys == 1024
    finally:
        await service.stop()
        await task
        await store.close()
        await asyncio.to_thread(registry.close)
