"""A broker crash while ingestion is away loses nothing end to end (issue 10, item 2).

A real Mosquitto is SIGKILLed — once with persistence and a 30 s autosave (the window the old
config left open: everything since the last save is forgotten, PUBACKs and all), once with
no persistence at all (the ingestion's session and every queued message are gone) — while
the ingestion service (a real ``gympulse ingest`` process) is away. The simulated collector
keeps every sample on disk until the ingestion's ``stored`` watermark covers it and replays
what is not covered after it reconnects; counted by (sensor, seq), the store holds every
sample once.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import pytest

from gympulse import contract
from gympulse.collectors import simulator
from gympulse.collectors.buffer import Forwarder
from gympulse.settings import MqttSettings
from tests.support.pipeline import (
    barrier,
    count_rows,
    simulated_keys,
    sqlite_has,
    stored_keys,
    wait_for,
)
from tests.support.procs import Mosquitto, gympulse_process

pytestmark = pytest.mark.slow

STRAPS = 6
SECONDS = 400  # simulated seconds, published at 50 per wall second: 2,400 samples in ~8 s
STEP_S = 0.02


@pytest.mark.parametrize("persistence", [True, False], ids=["autosave-30s", "no-persistence"])
async def test_broker_sigkill_while_ingestion_is_away_loses_and_doubles_nothing(
    tmp_path: Path, persistence: bool
) -> None:
    broker = Mosquitto(
        tmp_path / "mosquitto", persistence=persistence, extra_conf="autosave_interval 30"
    )
    broker.start()
    db = tmp_path / "g.db"
    config = tmp_path / "gympulse.toml"
    config.write_text(
        f'site = "demo"\n[mqtt]\nurl = "{broker.url}"\n[store]\npath = "{db}"\n'
        "[ingest]\nbatch_size = 100\n"
    )
    log = tmp_path / "ingest.log"
    procs = [gympulse_process(config, log, "ingest")]
    profiles = simulator.make_profiles(STRAPS, 5)
    start_ms = contract.now_ms() - SECONDS * 1000
    seq_base = contract.now_ms()
    expected = simulated_keys(profiles, start_ms, SECONDS, 5, seq_base)
    forwarders: list[Forwarder] = []
    stop = asyncio.Event()
    sim = asyncio.create_task(
        simulator.run(
            MqttSettings(url=broker.url),
            site="demo",
            collector="sim",
            profiles=profiles,
            seed=5,
            seconds=SECONDS,
            step_s=STEP_S,
            start_ms=start_ms,
            contact_loss_rate=0,
            dropout_rate=0,
            stop=stop,
            state_dir=tmp_path / "sim-state",
            seq_base=seq_base,
            on_forwarder=forwarders.append,
        )
    )
    try:
        await wait_for(lambda: count_rows(db, "samples") > 300, 30, "the first samples stored")
        procs[0].send_signal(signal.SIGKILL)  # ingestion goes away ...
        procs[0].wait()
        stored_before = count_rows(db, "samples")
        (forwarder,) = forwarders
        sent_at_kill = forwarder.stats.sent
        await wait_for(
            lambda: forwarder.stats.sent > sent_at_kill + 300, 30, "samples queued at the broker"
        )
        broker.kill()  # ... and the broker dies with the samples it acknowledged meanwhile
        forgotten_window = forwarder.stats.sent - sent_at_kill
        await asyncio.sleep(0.5)
        broker.start()
        await asyncio.sleep(1.0)  # the collector reconnects before ingestion is back
        procs.append(gympulse_process(config, log, "ingest"))
        published = await asyncio.wait_for(sim, 120)  # returns once all are confirmed
        await wait_for(lambda: count_rows(db, "samples") >= len(expected), 30, "every sample")
        await barrier(broker.url, sqlite_has(db))  # repeats still queued would be in by now

        assert published == sum(expected.values())
        assert Counter(stored_keys(db)) == expected  # zero lost, zero doubled
        assert forwarder.stats.replayed > 0  # the collector did replay after the crash
        assert forwarder.backlog == 0
        assert stored_before < len(expected) and forgotten_window > 0
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
        broker.kill()
