"""A spin and rowing class through the real pipeline: virtual machines (bumble GATT servers
for the Fitness Machine, Cycling Power and CSC services) beside a virtual strap -> the bumble
central over HCI-over-TCP -> the collector -> a real Mosquitto -> ingestion -> SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from gympulse.collectors.service import run_collector
from gympulse.pipeline.registry import Registry
from tests.support.pipeline import barrier, count_rows, settings_for, sqlite_has, wait_for
from tests.support.procs import Mosquitto
from tests.support.virtual_machines import MachineRoom
from tests.support.virtual_straps import StrapField
from tests.test_collector_stream import collector_settings
from tests.test_ingest import running_ingest


@pytest.mark.slow
async def test_machines_beside_a_strap_reach_the_store(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    field = StrapField(1, rate_hz=5)
    await field.start()
    room = MachineRoom(field, ["bike", "rower", "power", "csc"])
    await room.start()
    bike, rower, meter, cadence_sensor = room.machines
    db = tmp_path / "g.db"
    registry = Registry(db)
    anna = registry.add_athlete("Anna", birth_year=1990, sex="female")
    registry.assign(bike.sensor, anna, 0)  # the bike is Anna's, like a strap would be
    collector = collector_settings(mosquitto, field, tmp_path / "state", max_connections=8)
    stop = asyncio.Event()
    try:
        ingest = msgspec.structs.replace(settings_for(mosquitto.url, db), site=collector.site)
        async with running_ingest(ingest, registry) as (_, store):
            task = asyncio.create_task(run_collector(collector, stop))
            try:
                await wait_for(
                    lambda: (
                        all(len(m.sent) >= 15 for m in room.machines)
                        and len(field.straps[0].sent) >= 15
                    ),
                    60,
                    "every machine and the strap notifying",
                )
                room.running = False  # the class ends: no more notifications
                await asyncio.sleep(0.3)

                async def settle() -> None:
                    # every notification the machines sent is stored (CSC: its first value
                    # only starts the rate, so it publishes one less)
                    want = {m.sensor: len(m.sent) - (m.kind == "csc") for m in room.machines}
                    counts: dict[str, int] = {}
                    for _ in range(100):
                        frame = await store.query_machine(0, 2**62)
                        got = frame.group_by("sensor").len()
                        counts = dict(zip(got["sensor"], got["len"], strict=True))
                        if all(counts.get(s) == n for s, n in want.items()):
                            return
                        await asyncio.sleep(0.1)
                    raise AssertionError(f"stored {counts}, sent {want}")

                await settle()
            finally:
                stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 20)
            frame = await store.query_machine(0, 2**62)
            strap_rows = await store.count_samples()
    finally:
        await room.stop()
        await field.stop()

    def rows(sensor: str) -> list[dict[str, object]]:
        return frame.filter(frame["sensor"] == sensor).sort("ts").to_dicts()

    # the bike: every watt and rpm as sent, in order, with Anna as the rider
    b = rows(bike.sensor)
    assert [r["power_w"] for r in b] == [s.power_w for s in bike.sent]
    assert [r["cadence"] for r in b] == [s.cadence for s in bike.sent]
    assert {r["kind"] for r in b} == {"bike"} and {r["athlete_id"] for r in b} == {anna}
    # the rower: watts, stroke rate, and the split time per 500 m
    r = rows(rower.sensor)
    assert [x["power_w"] for x in r] == [s.power_w for s in rower.sent]
    assert [x["cadence"] for x in r] == [s.cadence for s in rower.sent]
    assert all(isinstance(x["split_s"], int) and 90 < x["split_s"] < 150 for x in r)
    assert {x["athlete_id"] for x in r} == {None}  # nobody is assigned to it
    # the power meter: watts; cadence from crank revolutions from its second value on
    p = rows(meter.sensor)
    assert [x["power_w"] for x in p] == [s.power_w for s in meter.sent]
    assert p[0]["cadence"] is None
    for got, sent in zip(p[1:], meter.sent[1:], strict=True):
        assert isinstance(got["cadence"], float) and sent.cadence is not None
        assert abs(got["cadence"] - sent.cadence) < 0.2  # event times are whole 1/1024 s
    # the speed/cadence sensor: cadence only
    c = rows(cadence_sensor.sensor)
    assert all(x["power_w"] is None for x in c)
    for got, sent in zip(c, cadence_sensor.sent[1:], strict=True):
        assert isinstance(got["cadence"], float) and sent.cadence is not None
        assert abs(got["cadence"] - sent.cadence) < 0.2
    # and the strap beside them is still a strap
    assert strap_rows >= 15
    assert count_rows(db, "quarantine") == 0


def _machine_keys(db: Path) -> Counter[tuple[str, int]]:
    with sqlite3.connect(db) as conn:
        return Counter(
            (r[0], r[1]) for r in conn.execute("SELECT sensor, seq FROM machine_samples")
        )


@pytest.mark.slow
async def test_machine_samples_survive_a_broker_crash_while_ingestion_is_away(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """A bike and a power meter keep notifying while ingestion is away and the broker is
    SIGKILLed (forgetting what it had acknowledged): the collector keeps their samples on
    disk until ingestion's watermark covers them and replays the rest, so every machine
    sample is stored exactly once, counted by (sensor, seq)."""
    field = StrapField(1, rate_hz=5)
    await field.start()
    room = MachineRoom(field, ["bike", "power"])
    await room.start()
    db = tmp_path / "g.db"
    collector = collector_settings(
        mosquitto, field, tmp_path / "state", max_connections=8, confirm="ingest"
    )
    ingest = msgspec.structs.replace(settings_for(mosquitto.url, db), site=collector.site)
    stop = asyncio.Event()
    task = asyncio.create_task(run_collector(collector, stop))
    try:
        async with running_ingest(ingest):
            await wait_for(
                lambda: all(n >= 5 for n in _per_sensor(_machine_keys(db), room).values()),
                60,
                "machine samples stored",
            )
        away_from = {m.sensor: len(m.sent) for m in room.machines}  # ingestion is away ...
        await wait_for(
            lambda: all(len(m.sent) >= away_from[m.sensor] + 5 for m in room.machines),
            20,
            "machines notifying while ingestion is away",
        )
        mosquitto.kill()  # ... and the broker dies with what it acknowledged meanwhile
        down_from = {m.sensor: len(m.sent) for m in room.machines}
        await wait_for(
            lambda: all(len(m.sent) >= down_from[m.sensor] + 5 for m in room.machines),
            20,
            "machines notifying while the broker is down",
        )
        mosquitto.start()
        async with running_ingest(ingest):
            await asyncio.sleep(1.0)
            room.running = False  # the class ends
            await asyncio.sleep(0.3)
            want = {m.sensor: len(m.sent) for m in room.machines}
            await wait_for(
                lambda: _per_sensor(_machine_keys(db), room) == want,
                60,
                f"every machine sample stored ({want})",
            )
            # Anything doubled is in once the collector has stopped (no more replays) and a
            # marker sent after it has been stored: the broker hands ingestion its
            # messages in order.
            stop.set()
            await asyncio.wait_for(task, 20)
            await barrier(mosquitto.url, sqlite_has(db), site=collector.site)
            keys = _machine_keys(db)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 20)
        await room.stop()
        await field.stop()
    assert set(keys.values()) == {1}  # zero doubled (the store's key is (sensor, ts))
    for m in room.machines:  # zero lost: one sample per notification, seq without a gap
        seqs = sorted(seq for sensor, seq in keys if sensor == m.sensor)
        assert len(seqs) == len(m.sent) and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert all(want[m.sensor] > down_from[m.sensor] + 5 for m in room.machines)
    assert count_rows(db, "quarantine") == 0


def _per_sensor(keys: Counter[tuple[str, int]], room: MachineRoom) -> dict[str, int]:
    return {m.sensor: sum(n for (s, _), n in keys.items() if s == m.sensor) for m in room.machines}
