"""The outage case end to end: a real Mosquitto, the ingestion service, a real influxd.

A collector streams samples; influxd is SIGKILLed mid-stream and stays down for 30 s while
the stream goes on; then it comes back. The ingestion service must hold the backlog
unacknowledged with the broker while the store is down and write it when the store returns:
every published (sensor, ts) stored exactly once — nothing lost, nothing doubled, also when
the collector replays part of the stream (as it does after a reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from gympulse import contract
from gympulse.mqtt import MqttClient
from gympulse.pipeline.ingest import IngestService
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.influxdb import InfluxStore
from gympulse.settings import (
    InfluxSettings,
    IngestSettings,
    MqttSettings,
    Settings,
    StoreSettings,
)
from tests.support.influxd import Influxd
from tests.support.pipeline import barrier
from tests.support.procs import Mosquitto

SITE = "gym-a"
COLLECTOR = "edge-1"
SENSORS = [f"strap-{i}" for i in range(20)]
OUTAGE_S = 3.0  # 30 rounds with the store down: retries, backoff, redelivery all happen
ROUND_S = 0.1  # one sample per sensor per round (10x real time: ts advances 1 s per round)


def message(sensor: str, ts: int, seq: int) -> tuple[str, bytes]:
    sample = contract.HrSample(
        sensor=sensor, ts=ts, seq=seq, bpm=90 + seq % 60, rr_ms=[60000 // (90 + seq % 60)]
    )
    return contract.hr_topic(SITE, COLLECTOR, sensor), contract.encode(sample)


def influx_has(store: InfluxStore) -> Callable[[contract.HrSample], Awaitable[bool]]:
    """``is_stored`` for :func:`barrier` on the InfluxDB store."""

    async def has(sample: contract.HrSample) -> bool:
        frame = await store.query_samples(sample.ts, sample.ts + 1, sensors=[sample.sensor])
        return frame.height > 0

    return has


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_store_outage_loses_nothing_and_doubles_nothing(
    tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd
) -> None:
    registry = Registry(tmp_path / "registry.db")
    base_ts = (int(time.time()) - 3600) * 1000
    athletes = {}
    for i, sensor in enumerate(SENSORS):
        if i % 4 == 3:
            continue  # a few straps nobody wears
        athlete = registry.add_athlete(f"athlete {i}", birth_year=1990)
        registry.assign(sensor, athlete, base_ts - 60_000)
        athletes[sensor] = athlete

    influx = InfluxSettings(
        url=influxd.url, database="gympulse", retries=1, backoff_initial_s=0.05, backoff_max_s=0.2
    )
    settings = Settings(
        site=SITE,
        mqtt=MqttSettings(url=mosquitto.url),
        store=StoreSettings(
            backend="influxdb", path=str(tmp_path / "registry.db"), influxdb=influx
        ),
        ingest=IngestSettings(client_id="ingest-outage", batch_size=500, flush_ms=100),
    )
    store = InfluxStore(influx)
    await store.open()
    service = IngestService(settings, store, registry)
    ingest_task = asyncio.create_task(service.run())
    await asyncio.wait_for(service.ready.wait(), 10)

    connections = contextlib.AsyncExitStack()
    publisher = await connections.enter_async_context(
        MqttClient(MqttSettings(url=mosquitto.url), "collector-outage")
    )
    await publisher.wait_connected()

    published: set[tuple[str, int]] = set()
    sent = 0

    async def stream(first_round: int, rounds: int) -> None:
        nonlocal sent
        for r in range(first_round, first_round + rounds):
            started = time.monotonic()
            ts = base_ts + r * 1000
            await asyncio.gather(
                *(publisher.publish(*message(sensor, ts, r)) for sensor in SENSORS)
            )
            published.update((sensor, ts) for sensor in SENSORS)
            sent += len(SENSORS)
            await asyncio.sleep(max(0.0, ROUND_S - (time.monotonic() - started)))

    try:
        await stream(0, 30)  # ~3 s of normal operation
        influxd.kill()
        killed = time.monotonic()
        rounds_down = int(OUTAGE_S / ROUND_S)
        await stream(30, rounds_down)  # the stream goes on for 30 s while influxd is down
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - killed)))
        stored_while_down = service.stats.stored
        influxd.start()
        restarted = time.monotonic()
        await stream(30 + rounds_down, 30)
        # The collector replays rounds around the outage (e.g. after its own reconnect).
        await stream(20, 40)
        expected = len(published)

        # Wait (not a timed assertion: just for the work to finish) until ingestion has
        # processed every message it was sent and the store holds the expected count.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if service.stats.messages >= sent and await store.count_samples() >= expected:
                break
            await asyncio.sleep(0.2)
        caught_up_s = time.monotonic() - restarted
        await barrier(mosquitto.url, influx_has(store), site=SITE)  # late repeats are in now
        count = await store.count_samples() - 1  # the barrier's marker
        frame = await store.query_samples(base_ts, base_ts + 10**9, sensors=SENSORS)
    finally:
        await service.stop()
        await asyncio.wait_for(ingest_task, 30)
        await connections.aclose()
        await store.close()
        registry.close()

    print(
        f"\noutage: {sent} messages ({expected} distinct samples), influxd down {OUTAGE_S:.0f} s, "
        f"caught up {caught_up_s:.1f} s after restart; store errors seen: "
        f"{service.stats.store_errors}; duplicates skipped: {service.stats.duplicates}"
    )
    assert service.stats.store_errors > 0, "the outage was not noticed"
    assert stored_while_down <= 30 * len(SENSORS)
    assert count == expected
    keys = list(zip(frame["sensor"].to_list(), frame["ts"].to_list(), strict=True))
    assert len(keys) == len(set(keys)) == expected
    assert set(keys) == published
    assert service.stats.duplicates >= 40 * len(SENSORS) - len(SENSORS)
    stamped = dict(zip(frame["sensor"].to_list(), frame["athlete_id"].to_list(), strict=False))
    assert {s: a for s, a in stamped.items() if a is not None} == athletes
