"""Nothing waits on an event loop: the paths of issue 17 item 4 run under a guard that
records every SQLite call, every wait on a thread's result and every ``time.sleep`` made
on the loop's own thread (:mod:`tests.support.loop_guard`), through real processes.

No timing here; the loop lag these calls caused, and cause now, is measured by
``bench/bench_loop_lag.py`` (baseline and fix in the same run)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gympulse.collectors import simulator
from gympulse.collectors.simulator import make_profiles
from gympulse.pipeline.ingest import IngestService
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import MqttSettings
from tests.support.loop_guard import LoopGuard
from tests.support.pipeline import (
    barrier,
    class_samples,
    publish_samples,
    settings_for,
    sqlite_has,
    wait_for,
)
from tests.support.procs import Mosquitto

pytestmark = pytest.mark.slow  # a real Mosquitto


def test_the_guard_sees_sqlite_and_waits_on_the_loop(tmp_path: Path) -> None:
    """The guard itself: a registry read made on a running loop is recorded, the same read
    handed to a thread is not."""

    async def main() -> tuple[list[str], list[str]]:
        registry = await asyncio.to_thread(Registry, tmp_path / "g.db")
        with LoopGuard() as on_loop:
            registry.version()
        with LoopGuard() as off_loop:
            await asyncio.to_thread(registry.version)
        await asyncio.to_thread(registry.close)
        return on_loop.blocking, off_loop.blocking

    on_loop, off_loop = asyncio.run(main())
    assert any("waited on a Future" in line for line in on_loop), on_loop
    assert off_loop == []


async def test_ingestion_reads_the_registry_off_its_loop(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Samples through a real Mosquitto into SQLite, a strap handed to someone else
    meanwhile (registry change, re-stamping of stored samples): the ingestion loop never
    touches SQLite itself and never waits for the owner thread."""
    db = tmp_path / "g.db"
    registry = await asyncio.to_thread(Registry, db)
    anna = await asyncio.to_thread(registry.add_athlete, "Anna", birth_year=1990, sex="female")
    bram = await asyncio.to_thread(registry.add_athlete, "Bram", birth_year=1985, sex="male")
    samples = class_samples(3, 20)
    await asyncio.to_thread(registry.assign, "strap-1", anna, samples[0].ts - 1)
    store = SqliteStore(db)
    await store.open()
    with LoopGuard() as guard:
        service = IngestService(settings_for(mosquitto.url, db), store, registry)
        task = asyncio.create_task(service.run())
        await asyncio.wait_for(service.ready.wait(), 20)
        half = len(samples) // 2
        await publish_samples(mosquitto.url, samples[:half])
        await wait_for(lambda: service.stats.stored >= half, 30, "the first half stored")
        await asyncio.to_thread(registry.assign, "strap-1", bram, samples[0].ts + 5_000)
        await publish_samples(mosquitto.url, samples[half:])
        await barrier(mosquitto.url, sqlite_has(db))
        await wait_for(lambda: service.stats.restamped > 0, 30, "re-stamping for Bram")
        await service.stop()
        await task
    await store.close()
    await asyncio.to_thread(registry.close)
    assert service.stats.stored >= len(samples)
    assert guard.blocking == []


async def test_the_collector_queue_and_ingestion_never_block_their_loop(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """A collector's path (disk queue, seq reservations, sender, watermarks deleting what
    is stored) and ingestion on one loop through a real Mosquitto: every sample of 8 straps
    for 2 minutes is stored and confirmed, and neither touched SQLite on the loop (the disk
    queue's puts, reads and deletes all ran there before)."""
    db = tmp_path / "g.db"
    registry = await asyncio.to_thread(Registry, db)
    store = SqliteStore(db)
    await store.open()
    profiles = make_profiles(8, 4)
    with LoopGuard() as guard:
        service = IngestService(settings_for(mosquitto.url, db), store, registry)
        task = asyncio.create_task(service.run())
        await asyncio.wait_for(service.ready.wait(), 20)
        published = await simulator.run(
            MqttSettings(url=mosquitto.url),
            site="demo",
            collector="sim",
            profiles=profiles,
            seed=4,
            seconds=120,
            step_s=0,
            state_dir=tmp_path / "state",
            confirm="ingest",
        )  # returns once every sample is confirmed: stored, watermarked, deleted from disk
        await service.stop()
        await task
    await store.close()
    await asyncio.to_thread(registry.close)
    assert published > 8 * 100
    assert service.stats.stored == published
    assert guard.blocking == []
