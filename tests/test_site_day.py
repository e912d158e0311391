"""The site's day, one for the analytics, the daily points and the dashboards (issue 19
item 8): a session 30 minutes after midnight in Stockholm counts for that Stockholm day,
its daily point in a real InfluxDB (Debian's influxd) sits at that day's local midnight,
and the Grafana dashboards ``gympulse grafana sync`` pushes (to the fake Grafana) show the
site's zone — so Grafana draws the load on the day the session was, not on the UTC day
before it, and not in whatever zone a viewer's browser is in. Before: points at UTC
midnight, dashboards in browser time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from gympulse.dashboards.grafana import dashboards as gd
from gympulse.dashboards.grafana.sync import GrafanaSync, GrafanaTarget
from gympulse.pipeline.analytics import daily
from gympulse.pipeline.analytics.tables import DAILY_METRICS, SESSION_SUMMARY, conform
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores import make_store
from gympulse.settings import GrafanaSettings, InfluxSettings, Settings, StoreSettings
from tests.support.grafana import FakeGrafana
from tests.support.influxd import Influxd

pytestmark = pytest.mark.slow  # a real influxd

ZONE = "Europe/Stockholm"
STOCKHOLM = ZoneInfo(ZONE)
TOKEN = "glsa_test_token_0123456789"


def ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def utc(iso: str) -> int:
    """An instant written as UTC, in ms (as influxd answers with epoch=ms)."""
    return ms(dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC))


def site(influxd: Influxd, tmp_path: Path, zone: str = ZONE) -> Settings:
    return Settings(
        site="gym",
        timezone=zone,
        store=StoreSettings(
            backend="influxdb",
            path=str(tmp_path / "g.db"),
            influxdb=InfluxSettings(url=influxd.url, database="gympulse", retries=1),
        ),
    )


def session_row(athlete: int, start: dt.datetime) -> dict[str, object]:
    start_ms = ms(start)
    return {
        "athlete_id": athlete, "session_id": f"auto-{athlete}-{start_ms}", "kind": "auto",
        "date": start.astimezone(STOCKHOLM).date(), "start_ms": start_ms,
        "end_ms": start_ms + 1_800_000, "duration_s": 1800, "trimp_banister": 40.0,
        "srpe_load": 0.0,
    }  # fmt: skip


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    fake = FakeGrafana(token=TOKEN)
    url = fake.start()
    try:
        yield fake, url
    finally:
        fake.close()


async def test_a_session_after_midnight_is_drawn_on_the_sites_day(
    influxd: Influxd, tmp_path: Path
) -> None:
    settings = site(influxd, tmp_path)
    # 00:30 on Sunday 29 March 2026 in Stockholm (the night summer time begins at 02:00)
    # is 23:30 UTC on Saturday 28 March; 18:00 on Monday 30 March (summer time, +02:00).
    sunday = dt.datetime(2026, 3, 29, 0, 30, tzinfo=STOCKHOLM)
    monday = dt.datetime(2026, 3, 30, 18, 0, tzinfo=STOCKHOLM)
    summaries = conform(
        SESSION_SUMMARY, pl.DataFrame([session_row(7, sunday), session_row(7, monday)])
    )
    loads = daily.daily_loads(summaries, settings.timezone)
    days = daily.daily_metrics(loads, None, ms(monday))
    assert days["date"].to_list() == [dt.date(2026, 3, 29), dt.date(2026, 3, 30)]

    store = make_store(settings.store, zone=settings.timezone)
    await store.open()
    try:
        await store.write_rows(SESSION_SUMMARY.name, summaries, SESSION_SUMMARY.key)
        await store.write_rows(DAILY_METRICS.name, conform(DAILY_METRICS, days), DAILY_METRICS.key)
        back = (await store.read_rows(DAILY_METRICS.name, {"athlete_id": 7})).sort("date")
        one = await store.read_rows(DAILY_METRICS.name, {"date": dt.date(2026, 3, 29)})
    finally:
        await store.close()
    assert back["date"].to_list() == [dt.date(2026, 3, 29), dt.date(2026, 3, 30)]
    assert one["load"].to_list() == [40.0]

    # What Grafana reads: each day's point at its local midnight (23:00 and 22:00 UTC the
    # day before), in the site's zone the day of the session it counts.
    points = influxd.rows('SELECT "load" FROM "daily_metrics"', db="gympulse")
    assert [p["time"] for p in points] == [
        utc("2026-03-28T23:00:00"),
        utc("2026-03-29T22:00:00"),
    ]
    sessions = influxd.rows('SELECT "trimp_banister" FROM "session_summary"', db="gympulse")
    for point, session in zip(points, sessions, strict=True):
        drawn = dt.datetime.fromtimestamp(point["time"] / 1000, STOCKHOLM)
        started = dt.datetime.fromtimestamp(session["time"] / 1000, STOCKHOLM)
        assert drawn.time() == dt.time(0) and drawn.date() == started.date()


async def test_days_written_at_utc_midnight_read_and_rewrite_as_one_point(
    influxd: Influxd, tmp_path: Path
) -> None:
    """A store written before days followed the site's zone (points at UTC midnight, as
    a store in UTC writes them): read back as the same days, and rewriting a day leaves one
    point, at its local midnight."""
    rows = conform(
        DAILY_METRICS,
        pl.DataFrame(
            [{"athlete_id": 3, "date": dt.date(2026, 3, d), "load": 10.0 + d, "sessions": 1}
             for d in (27, 28)]
        ),
    )  # fmt: skip
    older = make_store(site(influxd, tmp_path, "UTC").store, zone="UTC")
    await older.open()
    await older.write_rows(DAILY_METRICS.name, rows, DAILY_METRICS.key)
    await older.close()
    assert [p["time"] for p in influxd.rows('SELECT * FROM "daily_metrics"', db="gympulse")] == [
        utc("2026-03-27T00:00:00"),
        utc("2026-03-28T00:00:00"),
    ]
    store = make_store(site(influxd, tmp_path).store, zone=ZONE)
    await store.open()
    try:
        before = (await store.read_rows(DAILY_METRICS.name)).sort("date")
        again = rows.filter(pl.col("date") == dt.date(2026, 3, 28)).with_columns(
            pl.lit(99.0).alias("load")
        )
        await store.write_rows(DAILY_METRICS.name, again, DAILY_METRICS.key)
        after = (await store.read_rows(DAILY_METRICS.name)).sort("date")
    finally:
        await store.close()
    assert before["date"].to_list() == [dt.date(2026, 3, 27), dt.date(2026, 3, 28)]
    assert after["date"].to_list() == [dt.date(2026, 3, 27), dt.date(2026, 3, 28)]
    assert after["load"].to_list() == [37.0, 99.0]
    points = influxd.rows('SELECT "load" FROM "daily_metrics"', db="gympulse")
    assert [(p["time"], p["load"]) for p in points] == [
        (utc("2026-03-27T00:00:00"), 37.0),
        (utc("2026-03-27T23:00:00"), 99.0),
    ]


def test_grafana_sync_pushes_dashboards_in_the_sites_zone(
    grafana: tuple[FakeGrafana, str], tmp_path: Path
) -> None:
    fake, url = grafana
    settings = Settings(
        site="gym",
        timezone=ZONE,
        grafana=GrafanaSettings(url=url, token=TOKEN, influx_url="http://influxdb:8086"),
    )
    registry = Registry(tmp_path / "registry.db")
    registry.add_athlete("Anna", birth_year=1990, sex="female")
    try:
        GrafanaSync(GrafanaTarget.from_settings(settings)).sync(registry.athletes())
    finally:
        registry.close()
    assert fake.violations == []
    assert len(fake.dashboards) == 4
    for uid, board in fake.dashboards.items():
        assert board["dashboard"]["timezone"] == ZONE, uid
    # The provisioned files know no site: they keep the viewer's browser time.
    assert {b.model["timezone"] for b in gd.staff_dashboards()} == {"browser"}
