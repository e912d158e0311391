"""InfluxDB store against a real influxd (Debian's 1.6.7) on a free port.

Expectations are built from the samples the test writes, and checked through the store and
through an independent InfluxQL client (urllib, in tests/support/influxd.py). Retry and
backoff behaviour on 5xx is checked with httpx's MockTransport at the HTTP boundary, where a
real server cannot be made to fail on cue.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import polars as pl
import pytest

from gympulse import contract
from gympulse.pipeline.analytics import tables
from gympulse.pipeline.stores import make_store
from gympulse.pipeline.stores.base import (
    SAMPLE_COLUMNS,
    QuarantineRow,
    StoredSample,
    StoreUnavailable,
    WriteBatch,
)
from gympulse.pipeline.stores.influxdb import InfluxStore, line, sample_line
from gympulse.settings import InfluxSettings, StoreSettings
from tests.support.influxd import Influxd

DB = "gympulse"
T0 = 1_700_000_000_000


def settings_for(server: Influxd, **overrides: object) -> InfluxSettings:
    base: dict[str, object] = {
        "url": server.url,
        "database": DB,
        "retries": 2,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
    }
    base.update(overrides)
    return InfluxSettings(**base)  # type: ignore[arg-type]


@pytest.fixture
async def store(influxd: Influxd) -> AsyncIterator[InfluxStore]:
    s = InfluxStore(settings_for(influxd))
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def sample(
    sensor: str,
    ts: int,
    *,
    bpm: int = 70,
    rr: tuple[int, ...] = (857,),
    contact: bool | None = True,
    energy: int | None = None,
    athlete: int | None = 1,
    seq: int = 0,
    pct_max: int | None = None,
    zone: int | None = None,
) -> StoredSample:
    return StoredSample(
        "gym-a", "edge-1", sensor, ts, seq, bpm, rr, contact, energy, athlete, pct_max, zone
    )


def variety() -> list[StoredSample]:
    """Every shape a sample can have: contact True/False/None, energy or not, RR empty, one
    or several, assigned or not, several sensors."""
    out: list[StoredSample] = []
    for i in range(30):
        out.append(
            sample(
                f"strap-{i % 3}",
                T0 + (i // 3) * 1000,
                bpm=60 + i,
                rr=() if i % 4 == 0 else tuple(700 + i + k for k in range(i % 3 + 1)),
                contact=[True, False, None][i % 3] if i % 5 else None,
                energy=i * 2 if i % 2 else None,
                athlete=None if i % 7 == 0 else (i % 3) + 1,
                seq=i,
                pct_max=None if i % 7 == 0 else 30 + i,
                zone=None if i % 7 == 0 else i % 6,
            )
        )
    return out


def expected_frame(samples: list[StoredSample]) -> list[tuple[object, ...]]:
    ordered = sorted(samples, key=lambda s: (s.sensor, s.ts))
    return [(s.sensor, s.athlete_id, s.ts, s.bpm, list(s.rr_ms), s.contact) for s in ordered]


def frame_rows(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return [tuple(r) for r in frame.rows()]


@pytest.mark.slow  # a real influxd
async def test_round_trip_every_shape(store: InfluxStore, influxd: Influxd) -> None:
    samples = variety()
    result = await store.write(WriteBatch(samples))
    assert (result.stored, result.duplicates, result.quarantined) == (30, 0, 0)
    frame = await store.query_samples(T0, T0 + 10_000)
    assert frame.schema == pl.Schema(dict(SAMPLE_COLUMNS))
    assert frame_rows(frame) == expected_frame(samples)
    assert await store.count_samples() == 30
    # The schema as another client sees it: tags site/sensor/athlete, typed fields.
    raw = influxd.rows(
        f"SELECT * FROM hr WHERE sensor = 'strap-1' AND time = {T0}ms", db=DB
    ) or influxd.rows(f"SELECT * FROM hr WHERE sensor = 'strap-1' AND time = {T0 + 1000}ms", db=DB)
    assert raw[0]["site"] == "gym-a" and raw[0]["collector"] == "edge-1"
    keys = {r["fieldKey"]: r["fieldType"] for r in influxd.rows("SHOW FIELD KEYS FROM hr", db=DB)}
    assert keys == {
        "bpm": "integer",
        "rr": "string",
        "contact": "boolean",
        "energy_kj": "integer",
        "seq": "integer",
        "collector": "string",
        "pct_max": "integer",
        "zone": "integer",
    }
    # pct_max and zone as written, absent (null) on the unassigned samples.
    stamps = influxd.rows(
        'SELECT "bpm", "pct_max", "zone", "athlete" FROM hr GROUP BY "sensor"', db=DB
    )
    by_key = {(s.sensor, s.ts): s for s in samples}
    assert len(stamps) == 30
    for r in stamps:
        s = by_key[(r["sensor"], r["time"])]
        assert (r["pct_max"], r["zone"]) == (s.pct_max, s.zone)
        assert (r["pct_max"] is None) == (r["athlete"] is None)
    tag_keys = {r["tagKey"] for r in influxd.rows("SHOW TAG KEYS FROM hr", db=DB)}
    assert tag_keys == {"site", "sensor", "athlete"}


@pytest.mark.slow  # a real influxd
async def test_query_window_and_filters(store: InfluxStore) -> None:
    samples = variety()
    await store.write(WriteBatch(samples))
    # [start, end): the end is exclusive, the start inclusive.
    window = await store.query_samples(T0 + 2000, T0 + 5000)
    assert frame_rows(window) == expected_frame(
        [s for s in samples if T0 + 2000 <= s.ts < T0 + 5000]
    )
    by_sensor = await store.query_samples(T0, T0 + 10_000, sensors=["strap-2", "strap-0"])
    assert frame_rows(by_sensor) == expected_frame(
        [s for s in samples if s.sensor in ("strap-0", "strap-2")]
    )
    by_athlete = await store.query_samples(T0, T0 + 10_000, athlete_ids=[2])
    assert frame_rows(by_athlete) == expected_frame([s for s in samples if s.athlete_id == 2])
    assert (await store.query_samples(T0, T0 + 10_000, sensors=[])).height == 0


@pytest.mark.slow  # a real influxd
async def test_same_sample_twice_is_one_point(store: InfluxStore, influxd: Influxd) -> None:
    samples = variety()
    first = await store.write(WriteBatch(samples[:20]))
    assert first.stored == 20
    # Overlapping redelivery, a duplicate inside the batch, and a redelivery stamped with
    # another athlete (an assignment edited in between): all one point per (sensor, ts).
    again = [*samples[10:], samples[25], sample(samples[0].sensor, samples[0].ts, athlete=9)]
    second = await store.write(WriteBatch(again))
    assert (second.stored, second.duplicates) == (10, len(again) - 10)
    assert await store.count_samples() == 30
    counted = influxd.rows("SELECT count(bpm) FROM hr", db=DB)
    assert counted[0]["count"] == 30
    # First write wins, as with SQLite's INSERT OR IGNORE.
    first_point = await store.query_samples(
        samples[0].ts, samples[0].ts + 1, sensors=[samples[0].sensor]
    )
    assert first_point["athlete_id"].to_list() == [samples[0].athlete_id]


@pytest.mark.slow  # a real influxd
async def test_refused_points_go_to_quarantine_with_the_servers_message(
    store: InfluxStore, influxd: Influxd
) -> None:
    # Another writer made "rr" an integer in the shard that holds 1970: a sample of that week
    # is refused by InfluxDB (400, field type conflict), the rest of the batch is stored.
    influxd.write_lines(["hr,sensor=legacy rr=1i 5000"], db=DB)
    good = [sample("strap-1", T0 + i * 1000, seq=i) for i in range(50)]
    bad = sample("strap-9", 60_000, bpm=99, seq=7)
    result = await store.write(WriteBatch([*good[:25], bad, *good[25:]]))
    assert (result.stored, result.duplicates, result.quarantined) == (50, 0, 1)
    assert await store.count_samples() == 50
    rows = await store.query_quarantine()
    assert len(rows) == 1
    q = rows[0]
    assert q.reason == "store-rejected"
    assert "field type conflict" in q.detail
    assert q.topic == contract.hr_topic("gym-a", "edge-1", "strap-9")
    assert json.loads(q.payload) == {
        "sensor": "strap-9",
        "ts": 60_000,
        "seq": 7,
        "bpm": 99,
        "rr_ms": [857],
        "contact": True,
        "energy_kj": None,
    }


@pytest.mark.slow  # a real influxd
async def test_quarantine_rows_round_trip(store: InfluxStore) -> None:
    rows = [
        QuarantineRow(T0, "gympulse/v1/a/b/s/hr", b"\xff\x00not json", "not-json", "bad byte"),
        # Same millisecond, different payload: must stay two rows.
        QuarantineRow(T0, "gympulse/v1/a/b/s/hr", b'{"bpm": 999}', "bpm-range", 'bpm "999"'),
    ]
    result = await store.write(WriteBatch(quarantine=rows))
    assert result.quarantined == 2
    await store.write(WriteBatch(quarantine=rows[:1]))  # redelivered: still one row
    got = await store.query_quarantine()
    assert sorted(got, key=lambda r: r.reason) == sorted(rows, key=lambda r: r.reason)


@pytest.mark.slow  # a real influxd
async def test_quarantine_keeps_a_prefix_and_a_retained_copy_once(store: InfluxStore) -> None:
    big = b"x" * 100_000
    oversized = QuarantineRow(T0, "gympulse/v1/a/b/s/hr", big, "oversized", "too big", key="k1")
    first = QuarantineRow(T0, "gympulse/v1/a/b/g/hr", b"junk", "not-json", "d", key="k2")
    again = QuarantineRow(T0 + 5000, "gympulse/v1/a/b/g/hr", b"junk", "not-json", "d", key="k2")
    assert (await store.write(WriteBatch(quarantine=[oversized, first]))).quarantined == 2
    # The broker sends the retained message again on the next subscribe: not stored twice.
    assert (await store.write(WriteBatch(quarantine=[replace(again, once=True)]))).quarantined == 0
    got = {r.key: r for r in await store.query_quarantine()}
    assert set(got) == {"k1", "k2"}
    assert got["k1"].payload == big[:4096] and got["k1"].size == 100_000
    assert got["k1"].sha256 == hashlib.sha256(big).hexdigest()


@pytest.mark.slow  # a real influxd
async def test_reassign_keeps_one_point_per_sample(store: InfluxStore, influxd: Influxd) -> None:
    samples = [
        sample(
            "strap-5",
            T0 + i * 1000,
            athlete=None if i < 5 else 1,
            seq=i,
            pct_max=None if i < 5 else 35,  # 70 bpm of athlete 1's HRmax 200
            zone=None if i < 5 else 0,
        )
        for i in range(10)
    ]
    samples.append(sample("strap-6", T0, athlete=1, pct_max=35, zone=0))
    await store.write(WriteBatch(samples))
    changed = await store.reassign("strap-5", T0 + 3000, T0 + 8000, 4)
    assert changed == 5
    frame = await store.query_samples(T0, T0 + 20_000)
    expected = [
        (s.sensor, 4 if s.sensor == "strap-5" and T0 + 3000 <= s.ts < T0 + 8000 else s.athlete_id)
        for s in sorted(samples, key=lambda s: (s.sensor, s.ts))
    ]
    assert list(zip(frame["sensor"], frame["athlete_id"], strict=True)) == expected
    assert await store.count_samples() == 11
    assert (
        influxd.rows("SELECT count(bpm) FROM hr WHERE sensor = 'strap-5'", db=DB)[0]["count"] == 10
    )
    # The other fields came along unchanged.
    assert frame_rows(frame.drop("athlete_id")) == [(e[0], *e[2:]) for e in expected_frame(samples)]
    assert await store.reassign("strap-5", T0 + 3000, T0 + 8000, 4) == 0  # repeatable

    def stamps() -> dict[int, tuple[str | None, int | None, int | None]]:
        rows = influxd.rows(
            'SELECT "bpm", "athlete", "pct_max", "zone" FROM hr WHERE sensor = \'strap-5\'', db=DB
        )
        return {(r["time"] - T0) // 1000: (r["athlete"], r["pct_max"], r["zone"]) for r in rows}

    # Moved without an HRmax: athlete 1's 35 % is not carried over to athlete 4.
    assert stamps() == {
        **{i: (None, None, None) for i in range(3)},
        **{i: ("4", None, None) for i in range(3, 8)},
        **{i: ("1", 35, 0) for i in range(8, 10)},
    }
    # Moved with the new athlete's HRmax (150): 70 bpm is 46.7 % -> 47, zone 0; and with
    # HRmax 140 it is exactly 50 %, zone 1.
    assert await store.reassign("strap-5", T0 + 3000, T0 + 6000, 5, hr_max=150.0) == 3
    assert await store.reassign("strap-5", T0 + 6000, T0 + 10_000, 6, hr_max=140.0) == 4
    assert stamps() == {
        **{i: (None, None, None) for i in range(3)},
        **{i: ("5", 47, 0) for i in range(3, 6)},
        **{i: ("6", 50, 1) for i in range(6, 10)},
    }
    assert await store.count_samples() == 11
    # Back to unassigned: the 7 assigned points move, the 3 unassigned ones stay put.
    assert await store.reassign("strap-5", T0, T0 + 20_000, None) == 7
    assert (await store.query_samples(T0, T0 + 20_000, sensors=["strap-5"]))[
        "athlete_id"
    ].null_count() == 10


@pytest.mark.slow  # a real influxd
async def test_derived_rows_upsert_and_types(store: InfluxStore, influxd: Influxd) -> None:
    daily = tables.conform(
        tables.DAILY_METRICS,
        pl.DataFrame(
            {
                "athlete_id": [1, 1, 2],
                "date": [dt.date(2024, 3, 1), dt.date(2024, 3, 2), dt.date(2024, 3, 1)],
                "load": [80.5, 0.0, 42.0],
                "sessions": [1, 0, 1],
                "acwr_ewma": [None, 1.2, None],
            }
        ),
    )
    await store.write_rows("daily_metrics", daily, tables.DAILY_METRICS.key)
    updated = daily.with_columns(
        pl.when(pl.col("athlete_id") == 2).then(99.0).otherwise(pl.col("load")).alias("load")
    )
    await store.write_rows("daily_metrics", updated, tables.DAILY_METRICS.key)
    fresh = InfluxStore(store.settings)  # no cached schema: read it back from the server
    await fresh.open()
    try:
        got = await fresh.read_rows("daily_metrics")
        assert got.schema == daily.schema
        assert got.sort("athlete_id", "date").rows() == updated.sort("athlete_id", "date").rows()
        one = await fresh.read_rows("daily_metrics", {"athlete_id": 2})
        assert one["load"].to_list() == [99.0]
    finally:
        await fresh.close()
    # As Grafana sees it: one point per athlete and day, athlete_id a tag, day as time.
    points = influxd.rows('SELECT "load" FROM daily_metrics GROUP BY "athlete_id"', db=DB)
    assert sorted((p["athlete_id"], p["time"]) for p in points) == [
        ("1", 1709251200000),
        ("1", 1709337600000),
        ("2", 1709251200000),
    ]
    assert (await store.read_rows("no_such_table")).is_empty()


@pytest.mark.slow  # a real influxd
async def test_session_rows_whose_start_moves_stay_one_point(
    store: InfluxStore, influxd: Influxd
) -> None:
    def sessions(start: int) -> pl.DataFrame:
        return tables.conform(
            tables.SESSION_SUMMARY,
            pl.DataFrame(
                {
                    "athlete_id": [3],
                    "session_id": ["class-7"],
                    "kind": ["class"],
                    "date": [dt.date(2023, 11, 14)],
                    "start_ms": [start],
                    "end_ms": [start + 3_600_000],
                    "hr_avg": [131.5],
                    "hrr60": [None],
                }
            ),
        )

    await store.write_rows("session_summary", sessions(T0), tables.SESSION_SUMMARY.key)
    await store.write_rows("session_summary", sessions(T0 + 60_000), tables.SESSION_SUMMARY.key)
    got = await store.read_rows("session_summary")
    assert got.height == 1
    assert got["start_ms"].to_list() == [T0 + 60_000]
    assert got["hrr60"].to_list() == [None]
    assert influxd.rows('SELECT "hr_avg" FROM session_summary', db=DB)[0]["time"] == T0 + 60_000


@pytest.mark.slow  # a real influxd
async def test_down_server_raises_store_unavailable_then_recovers(
    store: InfluxStore, influxd: Influxd
) -> None:
    influxd.kill()
    with pytest.raises(StoreUnavailable):
        await store.write(WriteBatch([sample("strap-1", T0)]))
    influxd.start()
    result = await store.write(WriteBatch([sample("strap-1", T0)]))
    assert result.stored == 1


@pytest.mark.slow  # a real influxd
@pytest.mark.parametrize("gzip", [True, False])
async def test_auth_and_gzip(tmp_path: Path, gzip: bool) -> None:
    server = Influxd(tmp_path / "auth", auth=True)
    server.start()
    try:
        user, password = Influxd.ADMIN
        ok = InfluxStore(settings_for(server, username=user, password=password, gzip=gzip))
        await ok.open()
        try:
            assert (await ok.write(WriteBatch(variety()))).stored == 30
            assert await ok.count_samples() == 30
        finally:
            await ok.close()
        wrong = InfluxStore(settings_for(server, username=user, password="nope", gzip=gzip))
        with pytest.raises(StoreUnavailable, match="401"):
            await wrong.open()  # a configuration error is loud, and nothing gets acknowledged
        await wrong.close()
    finally:
        server.kill()


@pytest.mark.slow  # a real influxd
async def test_registry_builds_the_influx_store(influxd: Influxd) -> None:
    store = make_store(StoreSettings(backend="influxdb", influxdb=settings_for(influxd)))
    assert isinstance(store, InfluxStore)
    await store.open()
    try:
        assert (await store.write(WriteBatch([sample("s", T0)]))).stored == 1
    finally:
        await store.close()


# --------------------------------------------------------------------------- HTTP boundary


class Recorder:
    """A scripted InfluxDB for MockTransport: answers /query with "nothing stored" and
    /write with the next status of ``write_statuses`` (repeating the last one)."""

    def __init__(self, write_statuses: list[int]) -> None:
        self.write_statuses = write_statuses
        self.writes: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/query":
            return httpx.Response(200, text='{"results":[{"statement_id":0}]}\n')
        self.writes.append(request)
        status = self.write_statuses[min(len(self.writes) - 1, len(self.write_statuses) - 1)]
        if status >= 400:
            return httpx.Response(status, json={"error": f"scripted {status}"})
        return httpx.Response(status)


async def scripted(
    statuses: list[int], **overrides: object
) -> tuple[InfluxStore, Recorder, list[float]]:
    recorder = Recorder(statuses)
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    base: dict[str, object] = {
        "url": "http://influx.invalid:8086",
        "retries": 4,
        "backoff_initial_s": 0.5,
        "backoff_max_s": 2.0,
        "create_database": False,
    }
    base.update(overrides)
    store = InfluxStore(
        InfluxSettings(**base),  # type: ignore[arg-type]
        transport=httpx.MockTransport(recorder),
        sleep=fake_sleep,
    )
    await store.open()
    return store, recorder, sleeps


async def test_5xx_is_retried_with_capped_backoff_then_unavailable() -> None:
    store, recorder, sleeps = await scripted([503])
    with pytest.raises(StoreUnavailable, match="503"):
        await store.write(WriteBatch([sample("s", T0)]))
    assert len(recorder.writes) == 5  # 1 + 4 retries
    assert len(sleeps) == 4
    # Doubling from 0.5 s, capped at 2 s, ±50 % jitter (gympulse/backoff.py).
    for pause, nominal in zip(sleeps, [0.5, 1.0, 2.0, 2.0], strict=True):
        assert nominal / 2 <= pause < nominal * 1.5
    await store.close()


async def test_transient_5xx_then_success() -> None:
    store, recorder, _ = await scripted([500, 502, 204])
    result = await store.write(WriteBatch([sample("s", T0)]))
    assert result.stored == 1 and len(recorder.writes) == 3
    await store.close()


async def test_4xx_is_never_retried_and_the_request_is_line_protocol_gzip() -> None:
    store, recorder, sleeps = await scripted([400], database="gp", retention_policy="weekly")
    s = sample("s", T0, bpm=88)
    result = await store.write(WriteBatch([s]))
    assert (result.stored, result.quarantined) == (0, 1)
    assert sleeps == []
    sample_request = recorder.writes[0]
    assert dict(sample_request.url.params) == {"db": "gp", "rp": "weekly", "precision": "ms"}
    assert sample_request.headers["content-encoding"] == "gzip"
    import gzip as gz

    assert gz.decompress(sample_request.content).decode() == sample_line(s)
    # The second write is the quarantine row (ns precision); it got a 400 too and is logged.
    assert dict(recorder.writes[1].url.params)["precision"] == "ns"
    assert len(recorder.writes) == 2
    await store.close()


def test_line_protocol_escaping() -> None:
    assert (
        line(
            "m e",
            {"t,a": "v=1 x", "empty": "", "none": None},
            {"s": 'say "hi"\\', "i": 3, "f": 1.5, "b": False, "n": None},
            7,
        )
        == 'm\\ e,t\\,a=v\\=1\\ x s="say \\"hi\\"\\\\",i=3i,f=1.5,b=false 7'
    )


@pytest.mark.slow  # a real influxd
async def test_reassign_stamps_no_effort_on_samples_without_contact(
    store: InfluxStore, influxd: Influxd
) -> None:
    """A sample the strap sent without skin contact is no-signal time: moved to an athlete
    with an HRmax it gets no pct_max/zone (the others do: 70 of 140 bpm is 50 %, zone 1)."""
    contacts = [True, False, None, False]
    await store.write(
        WriteBatch(
            [
                sample("strap-7", T0 + i * 1000, athlete=None, contact=c, seq=i)
                for i, c in enumerate(contacts)
            ]
        )
    )
    assert await store.reassign("strap-7", T0, T0 + 10_000, 3, hr_max=140.0) == 4
    rows = influxd.rows(
        'SELECT "bpm", "athlete", "pct_max", "zone" FROM hr WHERE sensor = \'strap-7\'', db=DB
    )
    got = {(r["time"] - T0) // 1000: (r["athlete"], r["pct_max"], r["zone"]) for r in rows}
    assert got == {0: ("3", 50, 1), 1: ("3", None, None), 2: ("3", 50, 1), 3: ("3", None, None)}
