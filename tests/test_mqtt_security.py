"""MQTT security for a site (issue 10): the shipped Mosquitto config, ACL and certificate
script, run for real.

The broker runs the repository's ``config/mosquitto/mosquitto.conf`` and ``acl`` (only the
container paths and ports are swapped for temp ones) with TLS certificates made by
``config/mosquitto/make-certs.sh`` in the test. Ingestion connects over TLS as ``ingest``
with its password from the environment; a simulated collector connects over TLS as
``demo/edge``.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from gympulse import contract
from gympulse.collectors import simulator
from gympulse.collectors.buffer import DiskQueue, Forwarder
from gympulse.collectors.publisher import CollectorPublisher
from gympulse.mqtt import MqttClient, MqttError, NotAuthorized
from gympulse.pipeline.ingest import IngestService
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import MqttSettings, load
from tests.support.pipeline import BARRIER_SENSOR, barrier, count_rows, sqlite_has, stored_keys
from tests.support.procs import Mosquitto, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
MOSQUITTO = ROOT / "config" / "mosquitto"
PASSWORDS = {
    "ingest": "ingest-secret-0123456789",
    "web": "web-secret-0123456789",
    "demo/edge": "edge-secret-0123456789",
}


def _site_broker(tmp_path: Path) -> tuple[Mosquitto, int]:
    """The shipped config on free loopback ports; returns (broker, TLS port)."""
    certs = tmp_path / "certs"
    subprocess.run(
        ["sh", str(MOSQUITTO / "make-certs.sh"), str(certs), "localhost", "127.0.0.1"],
        check=True,
        capture_output=True,
    )
    data = tmp_path / "data"
    data.mkdir()
    passwd = data / "passwd"
    passwd.touch()
    for user, password in PASSWORDS.items():  # what entrypoint.sh does from the environment
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    broker = Mosquitto(tmp_path / "mosquitto")
    plain, tls = free_port(), free_port()

    def local(text: str) -> str:
        text = (
            text.replace("listener 1883", f"listener {plain} 127.0.0.1")
            .replace("listener 8883", f"listener {tls} 127.0.0.1")
            .replace("/mosquitto/data/tls/", f"{certs}/")
            .replace("/mosquitto/data/", f"{data}/")
            .replace("/mosquitto/config/acl", str(MOSQUITTO / "acl"))
            .replace("log_dest stdout", "log_dest stderr")
        )
        assert not [line for line in text.splitlines() if " /mosquitto/" in line.split("#")[0]]
        return text

    # The TLS listener as entrypoint.sh includes it when the certificates exist.
    (data / "conf.d").mkdir()
    (data / "conf.d" / "tls.conf").write_text(local((MOSQUITTO / "tls.conf").read_text()))
    conf = local((MOSQUITTO / "mosquitto.conf").read_text())
    broker.conf.write_text(f"user {pwd.getpwuid(os.getuid()).pw_name}\n{conf}")
    broker.port = plain
    return broker, tls


async def test_site_broker_refuses_strangers_and_other_prefixes(tmp_path: Path) -> None:
    broker, tls_port = _site_broker(tmp_path)
    broker.start()
    ca = str(tmp_path / "certs" / "ca.crt")
    tls_url = f"mqtts://127.0.0.1:{tls_port}"
    db = tmp_path / "g.db"
    settings = load(
        environ={
            "GYMPULSE_SITE": "demo",
            "GYMPULSE_MQTT__URL": tls_url,
            "GYMPULSE_MQTT__TLS_CA": ca,
            "GYMPULSE_MQTT__PROTOCOL": "5",
            "GYMPULSE_MQTT__USERNAME": "ingest",
            "GYMPULSE_MQTT__PASSWORD": PASSWORDS["ingest"],
            "GYMPULSE_STORE__PATH": str(db),
        }
    )
    edge = MqttSettings(
        url=tls_url, protocol="5", username="demo/edge", password=PASSWORDS["demo/edge"], tls_ca=ca
    )
    registry = Registry(db)
    store = SqliteStore(db)
    await store.open()
    service = IngestService(settings, store, registry)
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.ready.wait(), 20)  # TLS + password: connected

        # The collector, over TLS, under its own prefix: stored, confirmed by the watermark.
        profiles = simulator.make_profiles(2, 4)
        published = await asyncio.wait_for(
            simulator.run(
                edge,
                site="demo",
                collector="edge",
                profiles=profiles,
                seed=4,
                seconds=20,
                step_s=0,
                contact_loss_rate=0,
                dropout_rate=0,
            ),
            60,
        )
        assert published == 40
        assert count_rows(db, "samples") == 40
        computed = service.watermarks.get("demo", "edge")
        assert computed.keys() == {"strap-1", "strap-2"}

        # The same collector under another collector's prefix: refused, nothing stored.
        sample = contract.HrSample("strap-9", contract.now_ms(), 1, 80)
        async with MqttClient(edge, "edge-rogue") as rogue:
            await rogue.wait_connected()
            for site, collector in (("demo", "other"), ("elsewhere", "edge")):
                with pytest.raises(NotAuthorized) as refused:
                    await rogue.publish(
                        contract.hr_topic(site, collector, "strap-9"), contract.encode(sample)
                    )
                assert refused.value.reason_code == 135
            # Nor may it write a watermark, its own or a neighbour's: only ingestion says
            # what is stored (a forged one made collectors delete unsent samples, issue 18).
            forged = contract.encode(contract.Stored(seq={"strap-1": 9007199254740991}))
            for collector in ("edge", "other"):
                with pytest.raises(NotAuthorized) as refused:
                    await rogue.publish(
                        contract.stored_topic("demo", collector), forged, retain=True
                    )
                assert refused.value.reason_code == 135
        # Whatever the broker let through of the above has been handled once a marker sent
        # after it is stored (the marker's own watermark entry aside).
        await barrier(tls_url, sqlite_has(db), collector="edge", mqtt=edge)
        marks = service.watermarks.get("demo", "edge")
        assert {k: v for k, v in marks.items() if k != BARRIER_SENSOR} == computed
        # Ingestion may publish watermarks but no samples.
        assert service.mqtt is not None
        with pytest.raises(NotAuthorized) as refused:
            await service.mqtt.publish(
                contract.hr_topic("demo", "edge", "strap-9"), contract.encode(sample)
            )
        assert refused.value.reason_code == 135
        await barrier(tls_url, sqlite_has(db), collector="edge", mqtt=edge)
        assert Counter(s for s, _ in stored_keys(db)) == {"strap-1": 20, "strap-2": 20}

        # Wrong password, no user, no TLS trust: no connection at all.
        wrong = MqttSettings(
            url=tls_url, protocol="5", username="demo/edge", password="x", tls_ca=ca
        )
        anonymous = MqttSettings(url=tls_url, protocol="5", tls_ca=ca)
        plain_anonymous = MqttSettings(url=broker.url, protocol="5")
        for bad in (wrong, anonymous, plain_anonymous):
            async with MqttClient(bad, "stranger") as stranger:
                with pytest.raises(MqttError):
                    await stranger.wait_connected(timeout=1.5)
                assert stranger.connect_count == 0  # never accepted
        untrusted = MqttSettings(
            url=tls_url, protocol="5", username="demo/edge", password=PASSWORDS["demo/edge"]
        )
        async with MqttClient(untrusted, "no-ca") as stranger:  # the system CAs do not know ours
            with pytest.raises(MqttError):
                await stranger.wait_connected(timeout=1.5)
    finally:
        await service.stop()
        await task
        await store.close()
        registry.close()
        broker.kill()


async def test_ingestion_never_adopts_a_watermark_it_did_not_compute(tmp_path: Path) -> None:
    """On a broker without the site ACL (or with a leaked ingest password) a forged retained
    watermark far ahead is ignored: ingestion publishes only what it stored."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    url = MqttSettings(url=broker.url)
    forged = contract.encode(contract.Stored(seq={"strap-1": 9007199254740991}))
    async with MqttClient(url, "forger") as forger:
        await forger.wait_connected()
        await forger.publish(contract.stored_topic("demo", "edge"), forged, retain=True)
    db = tmp_path / "g.db"
    settings = load(
        environ={"GYMPULSE_SITE": "demo", "GYMPULSE_MQTT__URL": broker.url,
                 "GYMPULSE_STORE__PATH": str(db)}
    )  # fmt: skip
    registry = Registry(db)
    store = SqliteStore(db)
    await store.open()
    service = IngestService(settings, store, registry)
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.ready.wait(), 20)
        published = await asyncio.wait_for(
            simulator.run(url, site="demo", collector="edge",
                          profiles=simulator.make_profiles(1, 4), seed=4, seconds=10,
                          step_s=0, contact_loss_rate=0, dropout_rate=0),
            60,
        )  # fmt: skip
        assert published == 10 and count_rows(db, "samples") == 10
        with sqlite3.connect(db) as conn:
            (highest,) = conn.execute("SELECT max(seq) FROM samples").fetchone()
        assert service.watermarks.get("demo", "edge") == {"strap-1": highest}
        retained: list[bytes] = []
        async with MqttClient(
            url, "reader", subscriptions=[(contract.stored_topic("demo", "edge"), 1)]
        ) as reader:
            async for message in reader.messages():
                retained.append(message.payload)
                break
        assert contract.decode_stored(retained[0]).seq == {"strap-1": highest}
    finally:
        await service.stop()
        await task
        await store.close()
        registry.close()
        broker.kill()


async def test_a_new_collector_never_deletes_what_it_did_not_send(tmp_path: Path) -> None:
    """A collector whose state directory was lost starts its seq low under an old, higher
    retained watermark: the samples it took during an outage are still sent, every one."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    url = MqttSettings(url=broker.url)
    old = contract.encode(contract.Stored(seq={"strap-1": 1_000_000}))
    async with MqttClient(url, "old-ingest") as ingest:
        await ingest.wait_connected()
        await ingest.publish(contract.stored_topic("demo", "edge"), old, retain=True)
    broker.stop()  # the outage: the new collector takes samples while the broker is away

    received: list[int] = []
    listener = MqttClient(
        url, "listener", subscriptions=[(contract.hr_topic("demo", "edge", "strap-1"), 1)]
    )
    queue = DiskQueue(tmp_path / "state" / "edge.sqlite3", 10_000)
    mqtt = MqttClient(url, "new-edge", subscriptions=[(contract.stored_topic("demo", "edge"), 1)])
    forwarder = Forwarder(mqtt, CollectorPublisher(mqtt, "demo", "edge"), queue)
    stop = asyncio.Event()
    async with mqtt:
        tasks = [
            asyncio.create_task(forwarder.run()),
            asyncio.create_task(forwarder.watch(until=stop)),
        ]
        start = contract.now_ms()
        for seq in range(20):
            forwarder.put(contract.HrSample("strap-1", start + seq * 1000, seq, 70 + seq))
        assert await queue.arun(len, queue) == 20  # counted after the puts handed over
        broker.start()
        async with listener:
            await listener.wait_connected(timeout=20)

            async def collect() -> None:
                async for message in listener.messages(until=stop):
                    body = contract.decode_samples(message.payload)
                    received.extend(s.seq for s in body)
                    if len(set(received)) == 20:
                        return

            await asyncio.wait_for(collect(), 60)
        stop.set()
        await forwarder.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    queue.close()
    broker.kill()
    assert sorted(set(received)) == list(range(20))
