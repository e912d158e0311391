"""Ingestion against a real Mosquitto into SQLite: exactly once, through crashes and bad input."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import signal
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from gympulse import contract
from gympulse.mqtt import Received
from gympulse.pipeline.embedded_broker import EmbeddedBroker
from gympulse.pipeline.ingest import IngestService, Snapshot, decode_message
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.base import StoredSample, WriteBatch, WriteResult
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import Settings
from tests.support.pipeline import (
    barrier,
    class_samples,
    count_rows,
    publish_samples,
    settings_for,
    sqlite_has,
    stored_keys,
    wait_for,
)
from tests.support.procs import Mosquitto, gympulse_process

pytestmark = pytest.mark.slow  # real MQTT brokers (Mosquitto, amqtt)


@contextlib.asynccontextmanager
async def running_ingest(
    settings: Settings, registry: Registry | None = None, store: SqliteStore | None = None
) -> AsyncIterator[tuple[IngestService, SqliteStore]]:
    """An in-process ingestion service, subscribed and ready, closed afterwards."""
    db = Path(settings.store.path)
    registry = registry or Registry(db)
    store = store or SqliteStore(db)
    await store.open()
    service = IngestService(settings, store, registry)
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.ready.wait(), 20)  # connected and subscribed
        yield service, store
    finally:
        await service.stop()
        await task
        await store.close()
        registry.close()


async def test_twenty_straps_for_a_minute_are_stored_exactly_once(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    registry = Registry(db)
    athlete = registry.add_athlete("Anna", birth_year=1990, sex="female")
    samples = class_samples(20, 60)
    registry.assign("strap-1", athlete, samples[0].ts - 1)
    async with running_ingest(settings_for(mosquitto.url, db), registry) as (service, store):
        await publish_samples(mosquitto.url, samples)
        await wait_for(lambda: count_rows(db, "samples") >= len(samples), 30, "all samples")
        await barrier(mosquitto.url, sqlite_has(db))  # everything sent has been handled

        published = Counter((s.sensor, s.seq) for s in samples)
        assert len(samples) > 20 * 50  # drop-outs remove a few, not most
        assert Counter(stored_keys(db)) == published
        frame = await store.query_samples(0, 2**62, sensors=["strap-1"])
        assert set(frame["athlete_id"].to_list()) == {athlete}
        first = next(s for s in samples if s.sensor == "strap-1")
        row = frame.row(0, named=True)
        assert (row["ts"], row["bpm"], row["rr_ms"]) == (first.ts, first.bpm, first.rr_ms)
        unassigned = await store.query_samples(0, 2**62, sensors=["strap-2"])
        assert unassigned["athlete_id"].null_count() == unassigned.height > 0
        assert service.stats.duplicates == 0

        # Anna (born 1990, no measured HRmax): Tanaka 208 - 0.7 * age in the sample's year.
        with sqlite3.connect(db) as conn:
            stamped = conn.execute(
                "SELECT ts, bpm, pct_max, zone FROM samples WHERE sensor = 'strap-1'"
            ).fetchall()
            blank = conn.execute(
                "SELECT count(*) FROM samples WHERE sensor != 'strap-1'"
                " AND (pct_max IS NOT NULL OR zone IS NOT NULL)"
            ).fetchone()[0]
        assert stamped and blank == 0
        for ts, bpm, pct, zone in stamped:
            year = dt.datetime.fromtimestamp(ts / 1000, dt.UTC).year
            hr_max = 208 - 0.7 * (year - 1990)
            assert pct == int(100 * bpm / hr_max + 0.5)
            lower_pct = (50, 60, 70, 80, 90)
            assert zone == sum(1 for p in lower_pct if 100 * bpm >= p * hr_max)


async def test_redelivered_samples_are_not_stored_twice(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    async with running_ingest(settings_for(mosquitto.url, db)) as (service, _):
        samples = class_samples(2, 10)
        await publish_samples(mosquitto.url, samples + samples)
        await wait_for(
            lambda: service.stats.stored + service.stats.duplicates >= 2 * len(samples),
            20,
            "both copies",
        )
        assert count_rows(db, "samples") == len(samples)
        assert service.stats.duplicates == len(samples)


async def test_ingestion_killed_mid_stream_loses_and_doubles_nothing(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    config = tmp_path / "gympulse.toml"
    config.write_text(
        f'site = "demo"\n[mqtt]\nurl = "{mosquitto.url}"\n[store]\npath = "{db}"\n'
        "[ingest]\nbatch_size = 50\n"
    )
    log = tmp_path / "ingest.log"
    procs = [gympulse_process(config, log, "ingest")]
    try:
        # The first start creates the persistent session: publish probes until one is stored.
        template = class_samples(1, 1, seed=99)[0]
        for attempt in range(100):
            probe = msgspec.structs.replace(template, sensor="probe", ts=template.ts + attempt)
            await publish_samples(mosquitto.url, [probe])
            await asyncio.sleep(0.3)
            if count_rows(db, "samples") > 0:
                break
        probes = count_rows(db, "samples")
        assert probes > 0, log.read_text()

        samples = class_samples(20, 60)
        publishing = asyncio.create_task(
            publish_samples(mosquitto.url, samples, pause_every=40, pause_s=0.05)
        )
        await wait_for(lambda: count_rows(db, "samples") > 200, 30, "some samples stored")
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        killed_at = count_rows(db, "samples")
        assert killed_at < len(samples)  # we did kill it mid-stream
        await asyncio.sleep(0.5)
        procs.append(gympulse_process(config, log, "ingest"))
        await publishing
        await wait_for(lambda: count_rows(db, "samples") >= len(samples) + probes, 60, "catch-up")
        await barrier(mosquitto.url, sqlite_has(db))  # repeats still queued are in by now
        keys = Counter(k for k in stored_keys(db) if k[0] != "probe")
        assert keys == Counter((s.sensor, s.seq) for s in samples)
        procs[-1].send_signal(signal.SIGTERM)
        assert procs[-1].wait(timeout=20) == 0, log.read_text()
    finally:
        for proc in procs:  # never leave a service behind, whatever failed above
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _malformed(i: int, good_ts: int) -> tuple[str, bytes, str]:
    """The i-th bad message: (topic, payload, expected reason)."""
    topic = contract.hr_topic("demo", "sim", "strap-1")
    good = {"sensor": "strap-1", "ts": good_ts, "seq": 1, "bpm": 80, "rr_ms": [750]}
    kind = i % 10
    if kind == 0:
        return topic, b"\x00\x01 not json", "not-json"
    if kind == 1:
        return topic, json.dumps({**good, "bpm": "eighty"}).encode(), "wrong-type"
    if kind == 2:
        return topic, json.dumps({"sensor": "strap-1", "ts": good_ts}).encode(), "missing-field"
    if kind == 3:
        return topic, json.dumps({**good, "bpm": 400}).encode(), "bpm-range"
    if kind == 4:
        return topic, json.dumps({**good, "rr_ms": [50]}).encode(), "rr-range"
    if kind == 5:
        return topic, json.dumps({**good, "ts": good_ts + 2 * 86_400_000}).encode(), "ts-future"
    if kind == 6:
        return topic, json.dumps({**good, "ts": 1_000_000}).encode(), "ts-too-old"
    if kind == 7:
        return topic, b'{"sensor": "' + b"x" * 70_000 + b'"}', "oversized"
    if kind == 8:
        return topic, json.dumps({**good, "sensor": "strap-2"}).encode(), "sensor-mismatch"
    return "gympulse/v1/demo/sim/Strap_1/hr", json.dumps(good).encode(), "bad-topic"


async def test_a_thousand_malformed_payloads_are_quarantined_and_the_service_lives(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    async with running_ingest(settings_for(mosquitto.url, db)) as (service, store):
        samples = class_samples(10, 50)
        bad = [_malformed(i, samples[0].ts) for i in range(1000)]
        per_sample = -(-len(bad) // len(samples))

        def extra(i: int) -> list[tuple[str, bytes]]:
            return [(t, p) for t, p, _ in bad[i * per_sample : (i + 1) * per_sample]]

        await publish_samples(mosquitto.url, samples, extra=extra)
        total = len(samples) + len(bad)
        await wait_for(lambda: service.stats.messages >= total, 30, "every message handled")

        assert service.mqtt is not None and service.mqtt.connected.is_set()
        assert count_rows(db, "samples") == len(samples)
        rows = await store.query_quarantine(limit=5000)
        assert len(rows) == 1000
        assert Counter(r.reason for r in rows) == Counter(reason for _, _, reason in bad)
        # Payloads are kept whole up to 4 kB; beyond that a prefix with the size and hash.
        assert {(r.topic, r.payload[:4096], r.size, r.sha256) for r in rows} == {
            (t, p[:4096], len(p), hashlib.sha256(p).hexdigest()) for t, p, _ in bad
        }
        assert sum(service.stats.quarantined.values()) == 1000


async def _ingest_through(settings: Settings, publisher_url: str) -> IngestService:
    db = Path(settings.store.path)
    async with running_ingest(settings) as (service, _):
        samples = class_samples(3, 20)
        await publish_samples(publisher_url, samples)
        await wait_for(lambda: count_rows(db, "samples") >= len(samples), 20, "all samples")
        assert Counter(stored_keys(db)) == Counter((s.sensor, s.seq) for s in samples)
    return service


async def test_mqtt5_with_a_shared_subscription(mosquitto: Mosquitto, tmp_path: Path) -> None:
    base = settings_for(mosquitto.url, tmp_path / "g.db")
    settings = msgspec.structs.replace(
        base, mqtt=msgspec.structs.replace(base.mqtt, protocol="5", shared_group="gympulse-ingest")
    )
    service = await _ingest_through(settings, mosquitto.url)
    assert service.filters[0].startswith("$share/gympulse-ingest/")


async def test_the_embedded_broker_speaks_3_1_1(tmp_path: Path) -> None:
    async with EmbeddedBroker() as broker:
        settings = settings_for(broker.url, tmp_path / "g.db")
        assert settings.mqtt.protocol == "3.1.1"
        await _ingest_through(settings, broker.url)


async def test_metrics_endpoint_serves_prometheus_text() -> None:
    from gympulse.pipeline.metrics import serve_metrics
    from tests.support.procs import free_port

    port = free_port()
    server = await serve_metrics("127.0.0.1", port)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        body = (await reader.read()).decode()
        writer.close()
    finally:
        server.close()
    assert body.startswith("HTTP/1.1 200")
    assert "gympulse_ingest_samples_stored_total" in body
    assert "gympulse_ingest_quarantined_total" in body


# --------------------------------------------------------------------------- pct_max / zone

MARCH_2026 = int(dt.datetime(2026, 3, 1, 18, 0, tzinfo=dt.UTC).timestamp() * 1000)
NEW_YEARS_EVE = int(dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp() * 1000)


def _hr_message(sensor: str, ts: int, bpm: int) -> Received:
    sample = contract.HrSample(sensor=sensor, ts=ts, seq=ts, bpm=bpm, rr_ms=[60_000 // bpm])
    return Received(
        contract.hr_topic("gym", "edge", sensor), contract.encode(sample), 1, False, 0, 0
    )


def test_decode_stamps_percent_of_the_athletes_own_hr_max(tmp_path: Path) -> None:
    """150 bpm is zone 5 for a 60-year-old and zone 3 for a 20-year-old. Expected values are
    worked out by hand from the profiles (Tanaka: HRmax = 208 - 0.7 * age)."""
    registry = Registry(tmp_path / "r.db")
    old = registry.add_athlete("Olga", birth_year=1966)  # 60 in 2026: HRmax 166
    young = registry.add_athlete("Yves", birth_year=2006)  # 20 in 2026: HRmax 194
    measured = registry.add_athlete("Mia", birth_year=1990, hr_max=200)  # measured wins
    registry.assign("strap-1", old, 0)
    registry.assign("strap-2", young, 0)
    registry.assign("strap-3", measured, 0)
    snapshot = Snapshot.of(registry)
    registry.close()

    def stamp(sensor: str, ts: int, bpm: int) -> tuple[int | None, int | None, int | None]:
        result = decode_message(
            _hr_message(sensor, ts, bpm),
            snapshot,
            retention_days=365,
            received_ms=MARCH_2026 + 1000,
        )
        (s,), rows = result
        assert rows == [] and isinstance(s, StoredSample)
        return s.athlete_id, s.pct_max, s.zone

    assert stamp("strap-1", MARCH_2026, 150) == (old, 90, 5)  # 150/166 = 90.4 %
    assert stamp("strap-2", MARCH_2026, 150) == (young, 77, 3)  # 150/194 = 77.3 %
    assert stamp("strap-3", MARCH_2026, 101) == (measured, 51, 1)  # 50.5 % rounds half up
    assert stamp("strap-3", MARCH_2026, 60) == (measured, 30, 0)  # below 50 %: zone 0
    assert stamp("strap-3", MARCH_2026, 210) == (measured, 105, 5)  # above HRmax: zone 5
    # Age counts in the sample's year: on 31 Dec 2025 Olga was 59, HRmax 166.7, and
    # 150 bpm is 89.98 %: 90 % on the tile, but still zone 4 (the exact bound is 150.03).
    assert stamp("strap-1", NEW_YEARS_EVE, 150) == (old, 90, 4)
    # An unassigned strap: no athlete, so no percentage and no zone.
    assert stamp("strap-9", MARCH_2026, 150) == (None, None, None)


def test_a_sample_without_skin_contact_gets_no_effort_stamp(tmp_path: Path) -> None:
    """contact=false is no-signal time everywhere: the sample keeps its athlete, but no
    %HRmax and no zone (Grafana's tiles read those); contact unknown (null) is stamped."""
    registry = Registry(tmp_path / "r.db")
    mia = registry.add_athlete("Mia", birth_year=1990, hr_max=200)
    registry.assign("strap-3", mia, 0)
    snapshot = Snapshot.of(registry)
    registry.close()
    stamped = {}
    for contact in (True, False, None):
        sample = contract.HrSample(
            sensor="strap-3", ts=MARCH_2026, seq=1, bpm=150, rr_ms=[400], contact=contact
        )
        message = Received(
            contract.hr_topic("gym", "edge", "strap-3"), contract.encode(sample), 1, False, 0, 0
        )
        (s,), rows = decode_message(
            message, snapshot, retention_days=365, received_ms=MARCH_2026 + 1000
        )
        assert rows == [] and isinstance(s, StoredSample)
        stamped[contact] = (s.athlete_id, s.pct_max, s.zone)
    assert stamped == {True: (mia, 75, 3), False: (mia, None, None), None: (mia, 75, 3)}


async def test_sqlite_store_adds_the_new_columns_to_an_old_file(tmp_path: Path) -> None:
    """A samples table written before pct_max/zone existed: opening it adds both columns,
    keeps the old rows (NULL there), and new samples store their stamps."""
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            """
            CREATE TABLE samples (
                sensor TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL,
                site TEXT NOT NULL, collector TEXT NOT NULL, bpm INTEGER NOT NULL,
                rr TEXT NOT NULL DEFAULT '', contact INTEGER, energy_kj INTEGER,
                athlete_id INTEGER, PRIMARY KEY (sensor, ts)
            ) WITHOUT ROWID;
            INSERT INTO samples VALUES ('strap-1', 1000, 1, 'gym', 'edge', 120, '500', 1, NULL, 7);
            """
        )
    for _ in range(2):  # a second open finds the columns and changes nothing
        store = SqliteStore(db)
        await store.open()
        await store.close()
    store = SqliteStore(db)
    await store.open()
    try:
        new = StoredSample("gym", "edge", "strap-1", 2000, 2, 150, (400,), True, None, 7, 75, 3)
        assert (await store.write(WriteBatch([new]))).stored == 1
        frame = await store.query_samples(0, 10_000)
        assert frame["bpm"].to_list() == [120, 150]
        # Mia (measured HRmax 200) corrected onto the strap: both samples restamped.
        assert await store.reassign("strap-1", 0, 10_000, 8, hr_max=200.0) == 2
        rows = await store.execute("SELECT ts, athlete_id, pct_max, zone FROM samples")
        assert rows == [(1000, 8, 60, 2), (2000, 8, 75, 3)]
        # Without an HRmax (or to unassigned), stamps are cleared, never left stale.
        assert await store.reassign("strap-1", 0, 10_000, 9) == 2
        rows = await store.execute("SELECT athlete_id, pct_max, zone FROM samples")
        assert rows == [(9, None, None), (9, None, None)]
        assert await store.reassign("strap-1", 0, 10_000, 9, hr_max=190.0) == 0  # same athlete
        # A sample without skin contact moved to an athlete with an HRmax: no stamp.
        lost = StoredSample("gym", "edge", "strap-1", 3000, 3, 150, (), False, None, 9, None, None)
        assert (await store.write(WriteBatch([lost]))).stored == 1
        assert await store.reassign("strap-1", 0, 10_000, 8, hr_max=200.0) == 3
        rows = await store.execute("SELECT ts, pct_max, zone FROM samples")
        assert rows == [(1000, 60, 2), (2000, 75, 3), (3000, None, None)]
    finally:
        await store.close()
    with sqlite3.connect(db) as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(samples)")]
    assert cols[-2:] == ["pct_max", "zone"] and cols.count("zone") == 1


class _FlakyStore(SqliteStore):
    """A real SQLite store whose first writes fail the way a bug or a full disk would."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    async def write(self, batch: WriteBatch) -> WriteResult:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("No space left on device")
        return await super().write(batch)


async def test_unexpected_store_errors_hold_messages_until_a_write_succeeds(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    flaky = _FlakyStore(db, failures=3)
    async with running_ingest(settings_for(mosquitto.url, db), store=flaky) as (service, _):
        samples = class_samples(2, 10)
        await publish_samples(mosquitto.url, samples)
        await wait_for(lambda: count_rows(db, "samples") >= len(samples), 30, "all samples")
        assert service.stats.store_errors == 3
        assert Counter(stored_keys(db)) == Counter((s.sensor, s.seq) for s in samples)
