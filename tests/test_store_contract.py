"""``Store.delete_rows`` and ``Store.sample_time_range`` on both backends: the SQLite file
and a real influxd (Debian's 1.6.7, tests/support/influxd.py).

Expected values are built from the rows and samples the tests write; on InfluxDB the points
left behind are also counted with an independent InfluxQL client (urllib)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import polars as pl
import pytest

from gympulse.pipeline.analytics import tables
from gympulse.pipeline.stores.base import Store, StoredSample, WriteBatch, rr_from_text, rr_text
from gympulse.pipeline.stores.influxdb import InfluxStore
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.settings import InfluxSettings
from tests.support.influxd import Influxd

DB = "gympulse"
T0 = 1_709_510_400_000  # 2024-03-04 00:00 UTC
HOUR = 3_600_000
D1 = dt.date(2024, 3, 4)
D2 = dt.date(2024, 3, 5)


class Backend:
    def __init__(self, store: Store, influxd: Influxd | None) -> None:
        self.store = store
        self.influxd = influxd


@pytest.fixture(params=["sqlite", pytest.param("influxdb", marks=pytest.mark.slow)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    server: Influxd | None = None
    store: Store
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "gympulse.db")
    else:
        server = Influxd(tmp_path / "influxd")
        server.start()
        store = InfluxStore(InfluxSettings(url=server.url, database=DB, retries=1))
    await store.open()
    try:
        yield Backend(store, server)
    finally:
        await store.close()
        if server is not None:
            server.kill()


# (athlete, session_id, date, start_ms, hr_avg)
SESSIONS = [
    (1, "auto-1-a", D1, T0 + 7 * HOUR, 120.0),
    (1, "class-3", D1, T0 + 18 * HOUR, 140.0),
    (1, "auto-1-b", D2, T0 + 31 * HOUR, 130.0),
    (2, "class-3", D1, T0 + 18 * HOUR, 150.0),
    (2, "auto-2-c", D2, T0 + 30 * HOUR, 110.0),
]


def session_frame(rows: list[tuple[int, str, dt.date, int, float]]) -> pl.DataFrame:
    return tables.conform(
        tables.SESSION_SUMMARY,
        pl.DataFrame(
            {
                "athlete_id": [r[0] for r in rows],
                "session_id": [r[1] for r in rows],
                "kind": ["class" if r[1].startswith("class") else "auto" for r in rows],
                "date": [r[2] for r in rows],
                "start_ms": [r[3] for r in rows],
                "end_ms": [r[3] + HOUR for r in rows],
                "hr_avg": [r[4] for r in rows],
            }
        ),
    )


def keys(frame: pl.DataFrame) -> set[tuple[int, str]]:
    return set(frame.select("athlete_id", "session_id").iter_rows())


async def test_delete_rows_by_athlete_and_day(backend: Backend) -> None:
    store = backend.store
    await store.write_rows("session_summary", session_frame(SESSIONS), tables.SESSION_SUMMARY.key)

    # athlete_id is a tag on InfluxDB, date a field of session_summary (time is start_ms).
    assert await store.delete_rows("session_summary", {"athlete_id": 1, "date": D1}) == 2
    left = [r for r in SESSIONS if not (r[0] == 1 and r[2] == D1)]
    got = await store.read_rows("session_summary")
    assert keys(got) == {(r[0], r[1]) for r in left}
    assert sorted(got["hr_avg"].to_list()) == sorted(r[4] for r in left)
    if backend.influxd is not None:
        points = backend.influxd.rows('SELECT "hr_avg" FROM session_summary', db=DB)
        assert len(points) == len(left)

    # Nothing left to match: 0, and the other athlete's class-3 of that day is still there.
    assert await store.delete_rows("session_summary", {"athlete_id": 1, "date": D1}) == 0
    assert await store.delete_rows("session_summary", {"session_id": "class-3"}) == 1
    assert keys(await store.read_rows("session_summary")) == {(1, "auto-1-b"), (2, "auto-2-c")}

    # The deleted rows can be written again (delete, then upsert, as analyze does).
    await store.write_rows("session_summary", session_frame(SESSIONS), tables.SESSION_SUMMARY.key)
    assert keys(await store.read_rows("session_summary")) == {(r[0], r[1]) for r in SESSIONS}


async def test_delete_rows_of_a_per_day_table(backend: Backend) -> None:
    store = backend.store
    days = [D1 + dt.timedelta(days=k) for k in range(3)]
    daily = tables.conform(
        tables.DAILY_METRICS,
        pl.DataFrame(
            {
                "athlete_id": [1, 1, 1, 2, 2, 2],
                "date": days * 2,
                "load": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
            }
        ),
    )
    await store.write_rows("daily_metrics", daily, tables.DAILY_METRICS.key)
    # date is the point time on InfluxDB for the per-day tables.
    assert await store.delete_rows("daily_metrics", {"athlete_id": 2, "date": days[1]}) == 1
    assert await store.delete_rows("daily_metrics", {"athlete_id": 1}) == 3
    got = (await store.read_rows("daily_metrics")).sort("date")
    assert got["load"].to_list() == [40.0, 60.0]
    if backend.influxd is not None:
        assert len(backend.influxd.rows('SELECT "load" FROM daily_metrics', db=DB)) == 2


async def test_delete_rows_refuses_no_condition_and_unknown_columns(backend: Backend) -> None:
    store = backend.store
    assert await store.delete_rows("session_summary", {"athlete_id": 1}) == 0  # no table yet
    await store.write_rows("session_summary", session_frame(SESSIONS), tables.SESSION_SUMMARY.key)
    with pytest.raises(ValueError):
        await store.delete_rows("session_summary", {})
    with pytest.raises(ValueError):
        await store.delete_rows("session_summary", {"no_such_column": 1})
    assert (await store.read_rows("session_summary")).height == len(SESSIONS)


async def test_sample_time_range(backend: Backend) -> None:
    store = backend.store
    assert await store.sample_time_range() is None
    stamps = [
        ("strap-1", T0 + 5 * HOUR, 1),
        ("strap-2", T0 + 2 * HOUR + 17, None),  # unassigned: still a sample
        ("strap-1", T0 + 50 * HOUR + 999, 1),
        ("strap-3", T0 + 26 * HOUR, 2),
    ]
    batch = WriteBatch(
        [
            StoredSample("gym", "c1", sensor, ts, i, 70 + i, (850,), True, None, athlete)
            for i, (sensor, ts, athlete) in enumerate(stamps)
        ]
    )
    await store.write(batch)
    times = [ts for _, ts, _ in stamps]
    assert await store.sample_time_range() == (min(times), max(times))


def test_rr_text_round_trips_through_the_stores_column_rule() -> None:
    rows = [(), (812,), (1024, 998, 1001)]
    frame = pl.DataFrame({"rr": [rr_text(r) for r in rows]})
    assert frame["rr"].to_list() == ["", "812", "1024,998,1001"]
    assert frame.select(rr_from_text())["rr_ms"].to_list() == [list(r) for r in rows]
