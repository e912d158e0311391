"""The machine extension of the wire contract: machine and power samples from a real
Mosquitto into SQLite and InfluxDB, exactly once, with their athlete, bad ones quarantined,
and consumers written for heart rate only untouched."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest
from paho.mqtt.client import topic_matches_sub

from gympulse import contract
from gympulse.contract import HrSample, MachineSample
from gympulse.mqtt import MqttClient
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import MACHINE_COLUMNS, StoredMachineSample, WriteBatch
from gympulse.pipeline.stores.influxdb import InfluxStore
from gympulse.settings import InfluxSettings, MqttSettings
from tests.support.influxd import Influxd
from tests.support.pipeline import class_samples, count_rows, settings_for, wait_for
from tests.support.procs import Mosquitto
from tests.test_ingest import running_ingest

SITE = "demo"


def bike(sensor: str, ts: int, seq: int, power: int = 180) -> MachineSample:
    return MachineSample(
        sensor=sensor, ts=ts, seq=seq, kind="bike", power_w=power, cadence=88.5, speed_kmh=31.2
    )


# --------------------------------------------------------------------------- contract


def test_machine_topics_and_payloads() -> None:
    t = contract.machine_topic(SITE, "pi-1", "bike-3")
    assert t == "gympulse/v1/demo/pi-1/bike-3/machine"
    assert contract.parse_topic(t) == contract.Topic(SITE, "pi-1", "bike-3", "machine")
    assert contract.parse_topic(contract.power_topic(SITE, "pi-1", "pm-1")).kind == "power"
    s = bike("bike-3", contract.now_ms(), 7)
    (back,) = contract.decode_machine_samples(contract.encode(s), topic_sensor="bike-3")
    assert back == s and back.ext == contract.MACHINE_EXT
    # a newer extension's extra field is ignored by this reader
    newer = msgspec.json.encode({**msgspec.to_builtins(s), "ext": 2, "gear": 7})
    assert contract.decode_machine_samples(newer)[0].power_w == 180
    assert "machine-range" in contract.ALL_REASONS


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"power_w": 5000}, "machine-range"),
        ({"cadence": -1.0}, "machine-range"),
        ({"kind": "sofa"}, "wrong-type"),
        ({"ts": 1}, "ts-too-old"),
        ({"sensor": "Bike 3"}, "wrong-type"),
    ],
)
def test_bad_machine_samples_are_refused(change: dict[str, object], reason: str) -> None:
    raw = {**msgspec.to_builtins(bike("bike-3", contract.now_ms(), 1)), **change}
    with pytest.raises(contract.PayloadError) as caught:
        contract.decode_machine_samples(msgspec.json.encode(raw))
    assert caught.value.reason == reason


def test_heart_rate_subscriptions_do_not_match_machine_topics() -> None:
    hr_filters = contract.subscription(SITE) + contract.subscription()
    for topic in (
        contract.machine_topic(SITE, "pi-1", "bike-3"),
        contract.power_topic(SITE, "pi-1", "pm-1"),
    ):
        assert not any(topic_matches_sub(f, topic) for f in hr_filters)
        assert any(topic_matches_sub(f, topic) for f in contract.subscription(SITE, "machine"))
    # and a machine payload sent to an hr topic by mistake is refused there, not misread
    with pytest.raises(contract.MissingField):
        contract.decode_samples(contract.encode(bike("bike-3", contract.now_ms(), 1)))


# --------------------------------------------------------------------------- real broker


@pytest.mark.slow
async def test_old_style_consumer_sees_only_heart_rate(mosquitto: Mosquitto) -> None:
    """A consumer written before the extension (subscription() + decode_samples) gets the
    heart-rate messages and nothing else while machines publish beside the straps."""
    got: list[str] = []
    old = MqttClient(
        MqttSettings(url=mosquitto.url),
        "old-consumer",
        subscriptions=[(f, 1) for f in contract.subscription(SITE)],
    )
    async with old:
        await old.wait_subscribed()

        async def consume() -> None:
            async for msg in old.messages():
                contract.decode_samples(msg.payload)  # raises on anything but heart rate
                got.append(msg.topic)

        task = asyncio.create_task(consume())
        hr = class_samples(1, 3)
        now = contract.now_ms()
        async with MqttClient(MqttSettings(url=mosquitto.url), "pub") as pub:
            await pub.wait_connected()
            sends = []
            for i in range(5):
                sends.append(
                    pub.publish_nowait(
                        contract.machine_topic(SITE, "pi", "bike-1"),
                        contract.encode(bike("bike-1", now + i, i)),
                    )
                )
                sends.append(
                    pub.publish_nowait(
                        contract.power_topic(SITE, "pi", "pm-1"),
                        contract.encode(MachineSample("pm-1", now + i, i, "power", power_w=200)),
                    )
                )
            for s in hr:
                sends.append(
                    pub.publish_nowait(contract.hr_topic(SITE, "pi", s.sensor), contract.encode(s))
                )
            await asyncio.gather(*sends)
            # A last heart-rate message on the same connection: MQTT delivers one
            # connection's QoS 1 messages in order, so once it is in, every machine
            # message sent before it would have been too.
            marker = HrSample("strap-barrier", now, 1, 60)
            await pub.publish(contract.hr_topic(SITE, "pi", marker.sensor), contract.encode(marker))
        await wait_for(lambda: len(got) >= len(hr) + 1, 10, "the heart-rate messages")
        task.cancel()
    assert len(got) == len(hr) + 1
    assert all(t.endswith("/hr") for t in got)
    assert got[-1] == contract.hr_topic(SITE, "pi", "strap-barrier")


@pytest.mark.slow
async def test_machine_samples_stored_once_with_athlete(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    registry = Registry(db)
    anna = registry.add_athlete("Anna", birth_year=1990, sex="female")
    start = contract.now_ms() - 60_000
    registry.assign("bike-1", anna, start - 1)  # a bike is assigned like a strap
    samples = [bike("bike-1", start + i * 1000, i, power=150 + i) for i in range(20)]
    samples += [MachineSample("pm-2", start + i * 1000, i, "power", power_w=210) for i in range(5)]
    bad = bike("bike-1", start + 500, 99, power=5000)
    async with running_ingest(settings_for(mosquitto.url, db), registry) as (service, store):
        async with MqttClient(MqttSettings(url=mosquitto.url), "machines") as pub:
            await pub.wait_connected()
            sends = []
            for s in [*samples, *samples[:10], bad]:  # ten redelivered, one implausible
                topic = contract.power_topic if s.kind == "power" else contract.machine_topic
                sends.append(pub.publish_nowait(topic(SITE, "pi", s.sensor), contract.encode(s)))
            await asyncio.gather(*sends)
        await wait_for(
            lambda: (
                count_rows(db, "machine_samples") >= len(samples)
                and count_rows(db, "quarantine") >= 1
            ),
            30,
            "machine samples and the quarantined one",
        )
        await wait_for(lambda: service.stats.duplicates >= 10, 10, "the duplicates counted")
        frame = await store.query_machine(0, 2**62)
        assert frame.schema == dict(MACHINE_COLUMNS)
        assert frame.height == len(samples)
        mine = await store.query_machine(0, 2**62, athlete_ids=[anna])
        assert mine["power_w"].to_list() == [150 + i for i in range(20)]
        assert set(mine["sensor"]) == {"bike-1"}
        assert mine["cadence"].to_list() == [88.5] * 20
        unassigned = frame.filter(frame["sensor"] == "pm-2")
        assert unassigned["athlete_id"].null_count() == 5
        (q,) = await store.query_quarantine()
        assert q.reason == "machine-range" and q.topic.endswith("/bike-1/machine")
        assert await store.count_samples() == 0  # heart-rate samples untouched


# --------------------------------------------------------------------------- influx


@pytest.mark.slow
async def test_influx_machine_samples_idempotent(influxd: Influxd) -> None:
    store = InfluxStore(InfluxSettings(url=influxd.url, database="gympulse", retries=2))
    await store.open()
    try:
        t0 = int(time.time() * 1000) - 10_000
        rows = [
            StoredMachineSample(
                site="gym",
                collector="pi",
                sensor="rower-1",
                ts=t0 + i * 1000,
                seq=i,
                kind="rower",
                power_w=120 + i,
                cadence=24.0,
                speed_kmh=None,
                distance_m=10 * i,
                split_s=125,
                pace_s=None,
                heart_rate=None,
                energy_kcal=None,
                athlete_id=3 if i % 2 else None,
            )
            for i in range(6)
        ]
        first = await store.write(WriteBatch(machine=rows))
        again = await store.write(WriteBatch(machine=rows[:3]))
        assert (first.stored, first.duplicates) == (6, 0)
        assert (again.stored, again.duplicates) == (0, 3)
        frame = await store.query_machine(t0, t0 + 10_000)
        assert frame.height == 6
        assert frame["power_w"].to_list() == [120 + i for i in range(6)]
        assert frame["split_s"].to_list() == [125] * 6
        assert frame["kind"].to_list() == ["rower"] * 6
        mine = await store.query_machine(t0, t0 + 10_000, athlete_ids=[3])
        assert mine["ts"].to_list() == [t0 + i * 1000 for i in (1, 3, 5)]
        # a corrected assignment moves the rower's points to the new athlete, once each
        assert await store.reassign("rower-1", t0, t0 + 10_000, 7) == 6
        assert (await store.query_machine(t0, t0 + 10_000, athlete_ids=[3])).height == 0
        moved = await store.query_machine(t0, t0 + 10_000, athlete_ids=[7])
        assert moved["power_w"].to_list() == [120 + i for i in range(6)]
        assert moved["kind"].to_list() == ["rower"] * 6
        assert (await store.query_machine(t0, t0 + 10_000)).height == 6
    finally:
        await store.close()


async def test_sqlite_reassign_moves_machine_rows(tmp_path: Path) -> None:
    from gympulse.pipeline.stores.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "g.db")
    await store.open()
    try:
        rows = [
            StoredMachineSample(
                site="gym",
                collector="pi",
                sensor="bike-1",
                ts=1_000 * i,
                seq=i,
                kind="bike",
                power_w=150,
                cadence=None,
                speed_kmh=None,
                distance_m=None,
                split_s=None,
                pace_s=None,
                heart_rate=None,
                energy_kcal=None,
                athlete_id=None,
            )
            for i in range(4)
        ]
        await store.write(WriteBatch(machine=rows))
        await store.reassign("bike-1", 2_000, 10_000, 5)
        frame = await store.query_machine(0, 10_000)
        assert frame["athlete_id"].to_list() == [None, None, 5, 5]
    finally:
        await store.close()


@pytest.mark.slow
async def test_simulated_bikes_are_stored_with_their_riders(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """``simulate`` / the demo with bikes: the first riders' bikes publish beside their
    straps, and ingestion stores them with the rider the demo assigned the bike to."""
    from gympulse.collectors import simulator
    from gympulse.demo import seed_registry

    db = tmp_path / "g.db"
    profiles = simulator.make_profiles(4, 3)
    registry = Registry(db)
    start = contract.now_ms() - 60_000
    seed_registry(registry, list(profiles), start - 5_000, bikes=2)  # samples carry jitter
    riders = {a.name: a.id for a in registry.athletes()}
    async with running_ingest(settings_for(mosquitto.url, db), registry) as (_, store):
        await simulator.run(
            MqttSettings(url=mosquitto.url),
            site=SITE,
            collector="sim",
            profiles=profiles,
            seed=3,
            seconds=20,
            step_s=0.0,
            start_ms=start,
            contact_loss_rate=0,
            dropout_rate=0,
            confirm="broker",
            bikes=2,
        )
        await wait_for(lambda: count_rows(db, "machine_samples") >= 40, 20, "40 bike samples")
        frame = await store.query_machine(0, 2**62)
    assert sorted(set(frame["sensor"])) == ["bike-1", "bike-2"]
    for i in (0, 1):
        mine = frame.filter(frame["sensor"] == f"bike-{i + 1}")
        assert mine.height == 20
        assert set(mine["athlete_id"]) == {riders[profiles[i].name]}
        assert min(mine["power_w"].to_list()) >= 0 and set(mine["kind"]) == {"bike"}
    # the pure rule: watts grow with the heart rate above rest
    hr = contract.HrSample(sensor=profiles[0].sensor, ts=1, seq=1, bpm=150)
    ride = ("bike-1", profiles[0])
    easy = simulator.bike_sample(ride, contract.HrSample(sensor="s", ts=1, seq=1, bpm=90))
    assert (simulator.bike_sample(ride, hr).power_w or 0) > (easy.power_w or 0)
