"""Nothing waits on an event loop: the paths of issue 17 item 4 run under a guard that
records every SQLite call, every wait on a thread's result and every ``time.sleep`` made
on the loop's own thread (:mod:`tests.support.loop_guard`), through real processes.

No timing here; the loop lag these calls caused, and cause now, is measured by
``bench/bench_loop_lag.py`` (baseline and fix in the same run)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from gympulse.collectors import simulator
from gympulse.collectors.simulator import make_profiles
from gympulse.pipeline.analytics.tables import DAILY_METRICS, conform
from gympulse.pipeline.ingest import IngestService
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import (
    QuarantineRow,
    StoredMachineSample,
    StoredSample,
    WriteBatch,
)
from gympulse.pipeline.stores.influxdb import InfluxStore
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import InfluxSettings, MqttSettings
from tests.support.influxd import Influxd
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

pytestmark = pytest.mark.slow  # a real Mosquitto, a real influxd

T0 = 1_765_000_000_000  # a class, 2025-12-06


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


def test_the_guard_sees_decoding_on_the_loop() -> None:
    """The guard's ``work`` part: our code decoding JSON and building a frame on the loop
    is recorded, the same work in a worker thread is not, nor JSON the test decodes."""
    from gympulse.pipeline.stores.influxdb.http import decode_results

    body = b'{"results":[{"statement_id":0,"series":[{"columns":["time"],"values":[[1]]}]}]}'

    async def main() -> tuple[list[str], list[str], list[str]]:
        with LoopGuard(work=True) as on_loop:
            decode_results(body, "q")
        with LoopGuard(work=True) as off_loop:
            await asyncio.to_thread(decode_results, body, "q")
        with LoopGuard(work=True) as the_tests:
            json.loads(body)
        return on_loop.blocking, off_loop.blocking, the_tests.blocking

    on_loop, off_loop, the_tests = asyncio.run(main())
    assert any(line.startswith("json.loads") for line in on_loop), on_loop
    assert off_loop == [] and the_tests == []


def gym_day(straps: int, seconds: int) -> WriteBatch:
    """A class's heart rate (RR on every other sample, contact lost now and then), a rower
    and a bike, and two quarantined messages."""
    hr = [
        StoredSample("gym", "edge-1", f"strap-{n}", T0 + k * 1000, k, 90 + (k + n) % 90,
                     (600 + k % 50, 610) if k % 2 else (), None if k % 97 == 0 else k % 13 > 0,
                     None, n % 5 or None, 50 + k % 40 if n % 5 else None, k % 6 if n % 5 else None)
        for n in range(straps)
        for k in range(seconds)
    ]  # fmt: skip
    machine = [
        StoredMachineSample("gym", "edge-1", sensor, T0 + k * 1000, k, kind,
                            100 + k % 200, 80.5 if kind == "bike" else None, None, k * 4,
                            None, 120 if kind == "rower" else None, None, None, 1)
        for sensor, kind in (("rower-1", "rower"), ("bike-1", "bike"))
        for k in range(seconds)
    ]  # fmt: skip
    quarantine = [
        QuarantineRow(T0 + i, f"gympulse/v1/gym/edge-1/strap-{i}/hr", b"{not json", "malformed",
                      "expected object", 9, "ab" * 32)
        for i in range(2)
    ]  # fmt: skip
    return WriteBatch(hr, quarantine, machine)


async def test_influxdb_answers_are_decoded_off_the_loop(influxd: Influxd, tmp_path: Path) -> None:
    """Every read of the InfluxDB store the web app and ``gympulse analyze`` make —
    samples (three chunks of InfluxDB's chunked answer), machine samples, derived rows,
    quarantine, the time range — through a real influxd: no JSON is decoded, no row walked
    and no frame built on the loop (a gym-day, 1.15 M rows, stalled it for 6.4 s), and the
    frames are the ones the SQLite store gives for the same writes."""
    batch = gym_day(8, 3000)  # 24,000 samples: 10,000 rows per chunk
    daily = conform(
        DAILY_METRICS,
        pl.DataFrame(
            [{"athlete_id": a, "date": dt.date(2025, 12, d), "load": 10.0 * a + d, "sessions": 1}
             for a in (1, 2, 3) for d in (5, 6)]
        ),
    )  # fmt: skip
    influx = InfluxStore(InfluxSettings(url=influxd.url, database="gympulse", retries=1))
    sqlite = SqliteStore(tmp_path / "g.db")
    end = T0 + 3_000_000
    frames: dict[str, list[pl.DataFrame]] = {}
    others: dict[str, list[object]] = {}
    for store in (influx, sqlite):
        await store.open()
        result = await store.write(batch)
        assert result.stored == len(batch.samples) + len(batch.machine)
        await store.write_rows(DAILY_METRICS.name, daily, DAILY_METRICS.key)
        with LoopGuard(work=True) as guard:
            frames[store.name] = [
                await store.query_samples(T0, end),
                await store.query_samples(T0, end, sensors=["strap-3"], athlete_ids=[3]),
                await store.query_machine(T0, end),
                await store.read_rows(DAILY_METRICS.name, {"athlete_id": 2}),
            ]
            others[store.name] = [
                await store.sample_time_range(),
                await store.query_quarantine(),
                await store.quarantine_of([("strap-1", T0, end)]),
            ]
        await store.close()
        if store is influx:
            assert guard.blocking == []
    got, want = frames[influx.name], frames[sqlite.name]
    assert got[0].height == len(batch.samples)
    assert got[1].height == 3000
    for mine, theirs in zip(got[:3], want[:3], strict=True):
        assert mine.rows() == theirs.rows()
    assert got[3].sort("date")["load"].to_list() == want[3].sort("date")["load"].to_list()
    assert got[3].sort("date")["load"].to_list() == [25.0, 26.0]
    span, quarantine, of_strap = others[influx.name]
    assert [span, quarantine, of_strap] == others[sqlite.name]
    assert span == (T0, T0 + 2_999_000)
    assert isinstance(quarantine, list) and len(quarantine) == 2
    assert isinstance(of_strap, list) and len(of_strap) == 1


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
