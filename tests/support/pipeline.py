"""Helpers to publish simulated classes and to watch what the store holds."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from gympulse import contract
from gympulse.collectors.publisher import CollectorPublisher
from gympulse.collectors.simulator import Profile, make_profiles, simulate
from gympulse.contract import HrSample
from gympulse.mqtt import MqttClient
from gympulse.settings import MqttSettings, Settings, StoreSettings


def settings_for(broker_url: str, db: Path, **ingest: object) -> Settings:
    base = Settings()
    return Settings(
        site="demo",
        mqtt=MqttSettings(url=broker_url, protocol=base.mqtt.protocol),
        store=StoreSettings(path=str(db)),
        ingest=type(base.ingest)(**ingest),  # type: ignore[arg-type]
    )


def class_samples(straps: int, seconds: int, *, seed: int = 3) -> list[HrSample]:
    """A deterministic simulated class, every sample it produces (drop-outs included)."""
    profiles = make_profiles(straps, seed)
    start = contract.now_ms() - seconds * 1000
    return [
        e.sample
        for events in simulate(profiles, start_ms=start, seconds=seconds, seed=seed, seq_base=start)
        for e in events
        if e.sample is not None
    ]


async def publish_samples(
    url: str,
    samples: list[HrSample],
    *,
    site: str = "demo",
    collector: str = "sim",
    pause_every: int = 0,
    pause_s: float = 0.0,
    extra: Callable[[int], list[tuple[str, bytes]]] | None = None,
) -> None:
    """Publish each sample on its hr topic at QoS 1 and wait for every PUBACK. ``extra(i)``
    returns additional raw (topic, payload) messages to publish after sample ``i``."""
    async with MqttClient(MqttSettings(url=url), f"test-pub-{time.monotonic_ns()}") as mqtt:
        await mqtt.wait_connected()
        pub = CollectorPublisher(mqtt, site, collector)
        pending: list[asyncio.Future[None]] = []
        for i, s in enumerate(samples):
            pending.append(
                mqtt.publish_nowait(
                    contract.hr_topic(site, collector, s.sensor), contract.encode(s)
                )
            )
            if extra is not None:
                for topic, payload in extra(i):
                    pending.append(mqtt.publish_nowait(topic, payload))
            if pause_every and i % pause_every == pause_every - 1:
                await asyncio.gather(*pending)
                pending.clear()
                await asyncio.sleep(pause_s)
        await asyncio.gather(*pending)
        del pub


BARRIER_SENSOR = "barrier"  # the marker :func:`barrier` publishes; never a real strap


async def barrier(
    broker_url: str,
    is_stored: Callable[[HrSample], Awaitable[bool]],
    *,
    site: str = "demo",
    collector: str = "barrier",
    limit_s: float = 60,
    mqtt: MqttSettings | None = None,
) -> None:
    """Publish a marker sample once everything else was acknowledged by the broker, and
    wait until ``is_stored`` sees it: the broker queues a subscriber's QoS 1 messages in the
    order it accepted them and ingestion commits its batches in order, so whatever came
    before the marker (repeats included) has been handled by then — instead of a sleep
    that "shows nothing more came". The marker's sensor is :data:`BARRIER_SENSOR`, which
    :func:`stored_keys` leaves out. ``mqtt``: the connection settings of a broker that wants
    a collector's login (then ``collector`` is that login's collector)."""
    marker = HrSample(BARRIER_SENSOR, contract.now_ms(), time.monotonic_ns(), 60, [1000])
    connect = mqtt or MqttSettings(url=broker_url)
    async with MqttClient(connect, f"barrier-{marker.seq}") as client:
        await client.wait_connected()
        topic = contract.hr_topic(site, collector, marker.sensor)
        await client.publish(topic, contract.encode(marker))
    deadline = time.monotonic() + limit_s
    while not await is_stored(marker):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {limit_s} s waiting for the barrier sample")
        await asyncio.sleep(0.1)


def sqlite_has(db: Path) -> Callable[[HrSample], Awaitable[bool]]:
    """``is_stored`` for :func:`barrier` on a SQLite store file."""

    async def has(sample: HrSample) -> bool:
        def read() -> bool:
            with sqlite3.connect(db) as conn:
                query = "SELECT 1 FROM samples WHERE sensor = ? AND ts = ?"
                return conn.execute(query, (sample.sensor, sample.ts)).fetchone() is not None

        return await asyncio.to_thread(read)

    return has


def stored_keys(db: Path) -> list[tuple[str, int]]:
    """(sensor, seq) of every stored sample but :func:`barrier` markers."""
    with sqlite3.connect(db) as conn:
        query = "SELECT sensor, seq FROM samples WHERE sensor != ?"
        return [(r[0], r[1]) for r in conn.execute(query, (BARRIER_SENSOR,))]


def count_rows(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


async def wait_for(predicate: Callable[[], bool], limit_s: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail after ``limit_s`` (a bound, not a benchmark)."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {limit_s} s waiting for {what}")
        await asyncio.sleep(0.1)


def simulated_keys(
    profiles: list[Profile], start_ms: int, seconds: int, seed: int, seq_base: int
) -> Counter[tuple[str, int]]:
    """(sensor, seq) of every sample :func:`simulate` makes for ``profiles`` (no contact
    loss, no drop-outs): what a lossless pipeline stores exactly once."""
    return Counter(
        (e.sample.sensor, e.sample.seq)
        for events in simulate(
            profiles,
            start_ms=start_ms,
            seconds=seconds,
            seed=seed,
            seq_base=seq_base,
            contact_loss_rate=0,
            dropout_rate=0,
        )
        for e in events
        if e.sample is not None
    )
