"""The exactly-once guarantees on a second, independent broker: NATS with JetStream's MQTT
listener, next to Mosquitto (issue 10, "Other brokers").

The same run on both: a simulated collector (samples on disk until ingestion's ``stored``
watermark covers them) publishes a class; the ingestion service — a real ``gympulse ingest``
process with a persistent session and manual acknowledgement — is SIGKILLed mid-stream and
started again. Counted by (sensor, seq), the store holds every sample exactly once.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from gympulse import contract
from gympulse.collectors import simulator
from gympulse.settings import MqttSettings
from tests.support.pipeline import (
    barrier,
    count_rows,
    simulated_keys,
    sqlite_has,
    stored_keys,
    wait_for,
)
from tests.support.procs import Mosquitto, NatsServer, gympulse_process

pytestmark = pytest.mark.slow

STRAPS = 4
SECONDS = 600  # 2,400 samples, published at 100 simulated seconds per wall second


class Broker(Protocol):
    @property
    def url(self) -> str: ...

    def start(self) -> None: ...

    def kill(self) -> None: ...


@pytest.fixture(params=["mosquitto", "nats"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    server: Broker
    if request.param == "nats":
        server = NatsServer(tmp_path / "nats")
    else:
        server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def test_ingestion_sigkill_mid_stream_stores_every_sample_once(
    broker: Broker, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    config = tmp_path / "gympulse.toml"
    config.write_text(
        f'site = "demo"\n[mqtt]\nurl = "{broker.url}"\nprotocol = "3.1.1"\n'
        f'[store]\npath = "{db}"\n[ingest]\nbatch_size = 50\n'
    )
    log = tmp_path / "ingest.log"
    procs = [gympulse_process(config, log, "ingest")]
    profiles = simulator.make_profiles(STRAPS, 8)
    start_ms = contract.now_ms() - SECONDS * 1000
    seq_base = contract.now_ms()
    expected = simulated_keys(profiles, start_ms, SECONDS, 8, seq_base)
    stop = asyncio.Event()
    sim = asyncio.create_task(
        simulator.run(
            MqttSettings(url=broker.url),
            site="demo",
            collector="sim",
            profiles=profiles,
            seed=8,
            seconds=SECONDS,
            step_s=0.01,
            start_ms=start_ms,
            contact_loss_rate=0,
            dropout_rate=0,
            stop=stop,
            state_dir=tmp_path / "sim-state",
            seq_base=seq_base,
        )
    )
    try:
        await wait_for(lambda: count_rows(db, "samples") > 300, 30, "the first samples stored")
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        killed_at = count_rows(db, "samples")
        assert killed_at < len(expected)  # killed mid-stream
        await asyncio.sleep(0.5)
        procs.append(gympulse_process(config, log, "ingest"))
        await asyncio.wait_for(sim, 120)  # returns once the watermark covers every sample
        await wait_for(lambda: count_rows(db, "samples") >= len(expected), 30, "every sample")
        # Repeats still on their way are in once a marker sent after them is stored.
        marker_via = MqttSettings(url=broker.url, protocol="3.1.1")
        await barrier(broker.url, sqlite_has(db), mqtt=marker_via)
        assert Counter(stored_keys(db)) == expected  # zero lost, zero doubled
        procs[-1].send_signal(signal.SIGTERM)
        assert procs[-1].wait(timeout=20) == 0, log.read_text()
    finally:
        stop.set()
        if not sim.done():
            sim.cancel()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
