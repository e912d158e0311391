"""Benchmark: ingestion throughput (MQTT -> validate -> SQLite -> ack) against bare MQTT.

A backlog of N single-sample messages waits in a private Mosquitto for a persistent session
(the situation after an ingestion restart or a store outage). Measured in one run:

- baseline: a bare subscriber on the same asyncio MQTT client that acknowledges each
  message as it arrives (transport only: no decoding, no store);
- ingest: :class:`gympulse.pipeline.ingest.IngestService` draining the same backlog into SQLite,
  acknowledging only after each batch is committed.

Prints both rates and the ratio ingest/baseline (how much of the transport's capacity the
whole pipeline keeps). Broker and benchmark share this machine's cores.

With ``--batch N`` the backlog is N-sample messages on the collector's batch topic (what a
collector replays after an outage), and a third figure is measured in the same run: bare
``sqlite3.executemany`` of the same rows into the same schema (WAL, synchronous=FULL,
5,000-row transactions) — the store's own speed; the ratio ingest/executemany is the one
issue 24 asks to bring to 0.7.

    PYTHONPATH=. .venv/bin/python bench/bench_ingest.py --messages 50000 [--batch 200]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from gympulse import contract
from gympulse.mqtt import MqttClient
from gympulse.pipeline.ingest import IngestService
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import MqttSettings
from tests.support.pipeline import class_samples, count_rows, settings_for, wait_for
from tests.support.procs import Mosquitto


async def _subscribe_once(url: str, client_id: str) -> None:
    """Create the persistent session (and its subscriptions) then leave."""
    async with MqttClient(
        MqttSettings(url=url),
        client_id,
        subscriptions=[(f, 1) for f in contract.subscription("demo")],
        persistent=True,
        manual_ack=True,
    ) as client:
        await client.wait_connected()
        await asyncio.wait_for(client.subscribed.wait(), 10)


def _samples(messages: int) -> list[contract.HrSample]:
    straps = 40
    # Drop-outs in the simulated class remove a few samples: simulate a little longer.
    samples = class_samples(straps, int(messages / straps * 1.2) + 10)[:messages]
    assert len(samples) == messages
    return samples


def _payloads(samples: list[contract.HrSample], batch: int) -> list[tuple[str, bytes]]:
    if batch <= 1:
        return [(contract.hr_topic("demo", "sim", s.sensor), contract.encode(s)) for s in samples]
    topic = contract.batch_topic("demo", "sim")
    return [
        (topic, contract.encode_samples(samples[i : i + batch]))
        for i in range(0, len(samples), batch)
    ]


async def _publish_backlog(url: str, messages: int, batch: int = 1) -> int:
    """Publish the backlog; returns how many MQTT messages carried it."""
    payloads = _payloads(_samples(messages), batch)
    async with MqttClient(MqttSettings(url=url), "bench-publisher", max_inflight=2000) as client:
        await client.wait_connected()
        pending = []
        for topic, payload in payloads:
            pending.append(client.publish_nowait(topic, payload))
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    return len(payloads)


async def _baseline(url: str, messages: int, batch: int) -> float:
    """Samples per second a bare acknowledging subscriber drains (no decoding, no store)."""
    await _subscribe_once(url, "bench-bare")
    count = await _publish_backlog(url, messages, batch)
    async with MqttClient(
        MqttSettings(url=url),
        "bench-bare",
        subscriptions=[(f, 1) for f in contract.subscription("demo")],
        persistent=True,
        manual_ack=True,
    ) as client:
        got = 0
        started = time.perf_counter()
        async for msg in client.messages():
            client.ack(msg)
            got += 1
            if got >= count:
                break
        elapsed = time.perf_counter() - started
    return messages / elapsed


def _executemany(db: Path, messages: int) -> float:
    """Rows per second of bare executemany into the store's schema (the store's speed)."""
    import asyncio as aio
    import sqlite3

    from gympulse.pipeline.stores.base import rr_text

    async def schema() -> None:
        store = SqliteStore(db)
        await store.open()
        await store.close()

    aio.run(schema())
    rows = [
        (s.sensor, s.ts, s.seq, "demo", "sim", s.bpm, rr_text(s.rr_ms),
         None if s.contact is None else int(s.contact), s.energy_kj, 1, None, None)
        for s in _samples(messages)
    ]  # fmt: skip
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    started = time.perf_counter()
    for i in range(0, len(rows), 5000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT OR IGNORE INTO samples (sensor, ts, seq, site, collector, bpm, rr,"
            " contact, energy_kj, athlete_id, pct_max, zone) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows[i : i + 5000],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


async def _ingest(url: str, messages: int, db: Path, batch: int) -> float:
    settings = settings_for(url, db)
    await _subscribe_once(url, settings.ingest.client_id)
    await _publish_backlog(url, messages, batch)
    store = SqliteStore(db)
    await store.open()
    registry = Registry(db)
    service = IngestService(settings, store, registry)
    started = time.perf_counter()
    task = asyncio.create_task(service.run())
    await wait_for(lambda: count_rows(db, "samples") >= messages, 600, "the backlog stored")
    elapsed = time.perf_counter() - started
    await service.stop()
    await task
    await store.close()
    registry.close()
    return messages / elapsed


async def main(messages: int, batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto", persistence=False)
        broker.start()
        try:
            bare = await _baseline(broker.url, messages, batch)
            ingest = await _ingest(broker.url, messages, Path(tmp) / "bench.db", batch)
        finally:
            broker.kill()
        many = await asyncio.to_thread(_executemany, Path(tmp) / "bare.db", messages)
    print(f"samples:              {messages} ({batch} per message)")
    print(f"baseline (bare ack):  {bare:9.0f} samples/s")
    print(f"bare executemany:     {many:9.0f} rows/s")
    print(f"ingest -> SQLite:     {ingest:9.0f} samples/s")
    print(f"ratio ingest/bare:    {ingest / bare:9.2f}")
    print(f"ratio ingest/execmany:{ingest / many:9.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1, help="samples per MQTT message")
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.batch))
