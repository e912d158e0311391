"""One message never stops ingestion (issue 10, items 1, 9 and 10), through a real Mosquitto
and a real ``gympulse ingest`` process writing to SQLite:

- integers no store can hold (``seq = 2**63``, ``energy_kj = 2**64 - 1``, ``ts = 2**63``)
  are quarantined as ``int-range``;
- a sample the store itself refuses (a trigger in the database: a real ``sqlite3`` error that
  is not "unavailable") is found by bisection and quarantined as ``store-rejected``, the
  transaction is rolled back (another writer gets the lock at once) and the stream moves on;
- in a batch message only the bad samples are quarantined, the good ones are stored;
- an oversized payload keeps a 4 kB prefix with its size and sha256;
- a retained bad ``hr`` message is quarantined once, across ingestion restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from gympulse import contract
from gympulse.mqtt import MqttClient
from gympulse.pipeline.stores.base import QUARANTINE_PREFIX_BYTES
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import MqttSettings
from tests.support.pipeline import class_samples, count_rows, stored_keys, wait_for
from tests.support.procs import Mosquitto

pytestmark = pytest.mark.slow

REFUSED_BPM = 123  # the database's trigger refuses these samples (a store-side error)


def _ingest(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gympulse.cli", "--config", str(config), "ingest"],
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def _publish(url: str, messages: list[tuple[str, bytes, bool]]) -> None:
    """Publish (topic, payload, retain) at QoS 1 in order and wait for every PUBACK."""
    async with MqttClient(MqttSettings(url=url), f"test-raw-{time.monotonic_ns()}") as mqtt:
        await mqtt.wait_connected()
        for topic, payload, retain in messages:
            await mqtt.publish(topic, payload, qos=1, retain=retain)


def _quarantine(db: Path) -> list[tuple[str, str, bytes, int, str, str | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT topic, reason, payload, size, sha256, key FROM quarantine ORDER BY id"
        ).fetchall()


async def test_poison_messages_are_quarantined_and_the_stream_moves_on(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    store = SqliteStore(db)
    await store.open()
    await store.close()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON samples WHEN NEW.bpm = ?"
            " BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END".replace(
                "?", str(REFUSED_BPM)
            )
        )
    config = tmp_path / "gympulse.toml"
    config.write_text(
        f'site = "demo"\n[mqtt]\nurl = "{mosquitto.url}"\n[store]\npath = "{db}"\n'
        "[ingest]\nbatch_size = 50\n"
    )
    log = tmp_path / "ingest.log"
    procs = [_ingest(config, log)]
    try:
        good = class_samples(3, 20)
        assert REFUSED_BPM not in {s.bpm for s in good}
        ts0 = good[0].ts
        # The first start creates the persistent session: probe until one sample is stored.
        for attempt in range(100):
            probe = contract.HrSample("probe", ts0 + attempt, attempt, 70)
            await _publish(
                mosquitto.url,
                [(contract.hr_topic("demo", "sim", "probe"), contract.encode(probe), False)],
            )
            await asyncio.sleep(0.3)
            if count_rows(db, "samples") > 0:
                break
        probes = count_rows(db, "samples")
        assert probes > 0, log.read_text()

        def hr(sensor: str, **fields: object) -> tuple[str, bytes, bool]:
            body = {"sensor": sensor, "ts": ts0 + 5, "seq": 5, "bpm": 80, **fields}
            return contract.hr_topic("demo", "sim", sensor), json.dumps(body).encode(), False

        poison = [
            hr("strap-1", seq=2**63),
            hr("strap-1", energy_kj=2**64 - 1),
            hr("strap-1", ts=2**63),
            hr("strap-1", seq=-1),
        ]
        refused = contract.HrSample("strap-2", ts0 + 7, 7, REFUSED_BPM)
        refused_msg = (
            contract.hr_topic("demo", "sim", "strap-2"),
            contract.encode(refused),
            False,
        )
        batch_good = [
            contract.HrSample("extra-1", ts0 + i, i, 90 + i, [700], True, 12) for i in range(3)
        ]
        batch_refused = contract.HrSample("extra-2", ts0 + 9, 9, REFUSED_BPM)
        batch_items = [
            contract.encode(batch_good[0]),
            json.dumps({"sensor": "extra-1", "ts": ts0, "seq": 2**63, "bpm": 90}).encode(),
            contract.encode(batch_good[1]),
            contract.encode(batch_refused),
            contract.encode(batch_good[2]),
        ]
        batch_msg = (
            contract.batch_topic("demo", "sim"),
            b"[" + b",".join(batch_items) + b"]",
            False,
        )
        big = b'{"sensor": "strap-1", "pad": "' + b"x" * 200_000 + b'"}'
        retained_topic = contract.hr_topic("demo", "sim", "ghost")
        retained = (retained_topic, b"\x00 not json, retained", True)
        messages: list[tuple[str, bytes, bool]] = []
        for i, s in enumerate(good):
            messages.append((contract.hr_topic("demo", "sim", s.sensor), contract.encode(s), False))
            if i == 5:
                messages += [*poison, refused_msg, batch_msg]
            if i == 10:
                messages += [(retained_topic, big, False), retained]
        await _publish(mosquitto.url, messages)

        expected = Counter((s.sensor, s.seq) for s in [*good, *batch_good])
        await wait_for(
            lambda: count_rows(db, "samples") >= len(expected) + probes, 30, "the good samples"
        )
        await wait_for(lambda: count_rows(db, "quarantine") >= 9, 30, "the quarantine rows")
        # Another writer gets the lock at once: no transaction was left open.
        with sqlite3.connect(db, timeout=2, isolation_level=None) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("CREATE TABLE other_writer (x INTEGER)")
            other.execute("COMMIT")

        assert Counter(k for k in stored_keys(db) if k[0] != "probe") == expected
        rows = _quarantine(db)
        assert Counter(r[1] for r in rows) == Counter(
            {"int-range": 5, "store-rejected": 2, "oversized": 1, "not-json": 1}
        )
        rejected = {r[2] for r in rows if r[1] == "store-rejected"}
        assert rejected == {contract.encode(refused), contract.encode(batch_refused)}
        # The bad item of the batch is kept with its own bytes.
        assert batch_items[1] in {r[2] for r in rows}
        (oversized,) = [r for r in rows if r[1] == "oversized"]
        assert oversized[2] == big[:QUARANTINE_PREFIX_BYTES]
        assert (oversized[3], oversized[4]) == (len(big), hashlib.sha256(big).hexdigest())

        # Restart ingestion twice: the broker sends the retained bad message again on every
        # subscribe; it stays one quarantine row.
        for run in range(2):
            procs[-1].send_signal(signal.SIGTERM)
            assert procs[-1].wait(timeout=20) == 0, log.read_text()
            procs.append(_ingest(config, log))
            marker = contract.HrSample("marker", ts0 + 100 + run, 100 + run, 75)
            await _publish(
                mosquitto.url,
                [(contract.hr_topic("demo", "sim", "marker"), contract.encode(marker), False)],
            )
            await wait_for(
                lambda run=run: sum(1 for k in stored_keys(db) if k[0] == "marker") == run + 1,  # type: ignore[misc]
                30,
                "the marker sample",
            )
        rows = _quarantine(db)
        assert [r[1] for r in rows if r[0] == retained_topic].count("not-json") == 1
        assert len(rows) == 9
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
