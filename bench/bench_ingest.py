"""Benchmark: ingestion throughput (MQTT -> validate -> SQLite -> ack) against bare MQTT.

A backlog of N single-sample messages waits in a private Mosquitto for a persistent session
(the situation after an ingestion restart or a store outage). Measured in one run:

- baseline: a bare subscriber on the same asyncio MQTT client that acknowledges each
  message as it arrives (transport only: no decoding, no store);
- ingest: :class:`gympulse.pipeline.ingest.IngestService` draining the same backlog into SQLite,
  acknowledging only after each batch is committed.

Prints both rates and the ratio ingest/baseline (how much of the transport's capacity the
whole pipeline keeps). Broker and benchmark share this machine's cores.

    PYTHONPATH=. .venv/bin/python bench/bench_ingest.py --messages 50000
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


async def _publish_backlog(url: str, messages: int) -> None:
    straps = 40
    # Drop-outs in the simulated class remove a few samples: simulate a little longer.
    samples = class_samples(straps, int(messages / straps * 1.2) + 10)[:messages]
    assert len(samples) == messages
    async with MqttClient(MqttSettings(url=url), "bench-publisher", max_inflight=2000) as client:
        await client.wait_connected()
        pending = []
        for s in samples:
            pending.append(
                client.publish_nowait(
                    contract.hr_topic("demo", "sim", s.sensor), contract.encode(s)
                )
            )
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)


async def _baseline(url: str, messages: int) -> float:
    await _subscribe_once(url, "bench-bare")
    await _publish_backlog(url, messages)
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
            if got >= messages:
                break
        elapsed = time.perf_counter() - started
    return messages / elapsed


async def _ingest(url: str, messages: int, db: Path) -> float:
    settings = settings_for(url, db)
    await _subscribe_once(url, settings.ingest.client_id)
    await _publish_backlog(url, messages)
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


async def main(messages: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto", persistence=False)
        broker.start()
        try:
            bare = await _baseline(broker.url, messages)
            ingest = await _ingest(broker.url, messages, Path(tmp) / "bench.db")
        finally:
            broker.kill()
    print(f"messages:           {messages}")
    print(f"baseline (bare ack): {bare:9.0f} msg/s")
    print(f"ingest -> SQLite:    {ingest:9.0f} msg/s")
    print(f"ratio ingest/bare:   {ingest / bare:9.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().messages))
