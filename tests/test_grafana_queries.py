"""Every panel query of every generated dashboard, run against a real influxd.

influxd is loaded through the InfluxDB store with simulated data: live samples of two
athletes (and an unassigned strap) up to now, stamped with ``pct_max``/``zone`` by
ingestion's :class:`gympulse.pipeline.ingest.Snapshot` from the athletes' profiles, and the
derived tables of
``gympulse.pipeline.analytics.tables`` for 30 days. Grafana's macros are expanded the way Grafana
does (``$timeFilter`` → ``time >= …ms and time <= …ms``, ``$__interval``, the ``$athlete``
variable → each value its own variable query returns). Each query must return the series the
panel expects: its columns, its grouping, and values the test computed from what it wrote.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from gympulse.dashboards.grafana import dashboards as gd
from gympulse.pipeline.analytics import recovery, tables
from gympulse.pipeline.domain import Assignment, Athlete, Resolver
from gympulse.pipeline.ingest import Snapshot
from gympulse.pipeline.stores.base import StoredSample, WriteBatch
from gympulse.pipeline.stores.influxdb import InfluxStore
from gympulse.settings import InfluxSettings
from tests.support.influxd import Influxd

DB = "gympulse"
ATHLETES = (1, 2)
DAYS = 30
# Both athletes end the class at 150 bpm. Athlete 1 has a measured HRmax of 196: 76.5 %,
# shown as 77, zone 3. Athlete 2 is 60 (Tanaka: 208 - 0.7 * 60 = 166): 90.4 %, 90, zone 5.
LAST_BPM = 150
LAST_PCT = {1: 77, 2: 90}


@pytest.fixture(scope="module")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    server = Influxd(tmp_path_factory.mktemp("influxd"))
    server.start()
    try:
        yield server
    finally:
        server.kill()


class Loaded:
    def __init__(self) -> None:
        self.now_ms = int(time.time() * 1000)
        self.today = dt.datetime.fromtimestamp(self.now_ms / 1000, dt.UTC).date()
        self.last_bpm: dict[int, int] = {}
        self.daily = pl.DataFrame()
        self.baselines = pl.DataFrame()
        self.sessions = pl.DataFrame()


@pytest.fixture(scope="module")
def data(influxd: Influxd) -> Loaded:
    return asyncio.run(load(influxd))


async def load(influxd: Influxd) -> Loaded:
    loaded = Loaded()
    store = InfluxStore(InfluxSettings(url=influxd.url, database=DB))
    await store.open()
    try:
        samples: list[StoredSample] = []
        start = loaded.now_ms - 600_000  # ten minutes of class up to 2 s ago
        year = dt.datetime.fromtimestamp((start + 597_000) / 1000, dt.UTC).year
        profiles = [
            Athlete(1, "One", year - 30, "female", 60.0, 196, 50),
            Athlete(2, "Two", year - 60, "male", 80.0, None, 60),
        ]
        snapshot = Snapshot(
            Resolver([Assignment(a, f"strap-{a}", a, 0, None) for a in ATHLETES]), profiles
        )
        for athlete in ATHLETES:
            for i in range(598):
                bpm = LAST_BPM - 27 + (i % 30)
                ts = start + i * 1000
                sensor = f"strap-{athlete}"
                athlete_id, pct, zone = snapshot.stamp(sensor, ts, bpm)
                samples.append(
                    StoredSample(
                        "gym-a",
                        "edge",
                        sensor,
                        ts,
                        i,
                        bpm,
                        (600,),
                        True,
                        None,
                        athlete_id,
                        pct,
                        zone,
                    )
                )
                loaded.last_bpm[athlete] = bpm
        samples += [
            StoredSample("gym-a", "edge", "strap-9", start + i * 1000, i, 80, (), None, None, None)
            for i in range(60)
        ]
        # Contact lost on athlete 1's strap after its last good sample: ingestion writes the
        # bpm without pct_max. The tile must keep showing one sample's bpm and % together.
        samples.append(
            StoredSample("gym-a", "edge", "strap-1", start + 598_000, 598, 95, (), False, None, 1)
        )
        # An athlete last seen 30 days ago: no tile on the live board (InfluxDB 1.x ignores
        # time in SHOW TAG VALUES, so a variable built on it would list them).
        month_ago = loaded.now_ms - 30 * 86_400_000
        samples.append(
            StoredSample("gym-a", "edge", "strap-3", month_ago, 0, 70, (), True, None, 3, 40, 0)
        )
        await store.write(WriteBatch(samples))

        days = [loaded.today - dt.timedelta(days=DAYS - 1 - d) for d in range(DAYS)]
        daily_rows: list[dict[str, Any]] = []
        base_rows: list[dict[str, Any]] = []
        session_rows: list[dict[str, Any]] = []
        for athlete in ATHLETES:
            for d, day in enumerate(days):
                daily_rows.append(
                    {
                        "athlete_id": athlete,
                        "date": day,
                        "load": float(40 + d),
                        "ctl": 10.0 * athlete + d,
                        "atl": 12.0 * athlete + d,
                        "tsb": -2.0 * athlete - d / 10,
                        "acwr_ewma": None if d < 7 else 1.0 + athlete / 10 + d / 100,
                    }
                )
                base_rows.append(
                    {
                        "athlete_id": athlete,
                        "date": day,
                        "ln_rmssd": 4.0 + athlete / 10,
                        "ln_rmssd_mean60": 4.0,
                        "ln_rmssd_sd60": 0.2,
                        "ln_rmssd_roll7": 4.0 + athlete / 10,
                        "hr_rest": 50.0 + athlete,
                        "hr_rest_mean60": 50.0,
                        "hr_rest_sd60": 2.0,
                        "hr_rest_roll7": 50.0 + athlete,
                        "flags": "hrv" if athlete == 2 and d == DAYS - 1 else "",
                    }
                )
                if d % 3 == 0:
                    start_ms = (day - dt.date(1970, 1, 1)).days * 86_400_000 + 18 * 3_600_000
                    session_rows.append(
                        {
                            "athlete_id": athlete,
                            "session_id": f"auto-{athlete}-{start_ms}",
                            "kind": "auto",
                            "date": day,
                            "start_ms": start_ms,
                            "end_ms": start_ms + 3_600_000,
                            "duration_s": 3600,
                            "hr_avg": 130.0 + athlete,
                            "hr_max": 170 + athlete,
                            "trimp_banister": 80.0,
                            "kcal": 600.0,
                            "points": 50.0,
                            # Every other session: no plausible HRR60, and the reason why.
                            "hrr60": None if d % 2 else 30.0,
                            "hrr60_note": recovery.NO_SIGNAL if d % 2 else None,
                            "rmssd": 20.0,
                        }
                    )
        loaded.daily = tables.conform(tables.DAILY_METRICS, pl.DataFrame(daily_rows))
        loaded.baselines = tables.conform(tables.BASELINES, pl.DataFrame(base_rows))
        loaded.sessions = tables.conform(tables.SESSION_SUMMARY, pl.DataFrame(session_rows))
        await store.write_rows("daily_metrics", loaded.daily, tables.DAILY_METRICS.key)
        await store.write_rows("baselines", loaded.baselines, tables.BASELINES.key)
        await store.write_rows("session_summary", loaded.sessions, tables.SESSION_SUMMARY.key)
    finally:
        await store.close()
    return loaded


def expand(query: str, loaded: Loaded, athlete: str | None) -> str:
    """Grafana's InfluxQL macro expansion for a dashboard range of the last 90 days."""
    lo = loaded.now_ms - 90 * 86_400_000
    q = query.replace("$timeFilter", f"time >= {lo}ms and time <= {loaded.now_ms + 60_000}ms")
    q = q.replace("$__interval", "1m")
    if athlete is not None:
        q = q.replace("$athlete", athlete)
    assert "$" not in q, f"unexpanded macro in {q}"
    return q


def run(influxd: Influxd, q: str) -> list[dict[str, Any]]:
    """The series of a query: name, tags, columns, values."""
    series: list[dict[str, Any]] = influxd.query(q, db=DB)["results"][0].get("series", [])
    return series


def variable_values(influxd: Influxd, model_json: dict[str, Any]) -> list[str]:
    variables = model_json.get("templating", {}).get("list", [])
    assert len(variables) == 1 and variables[0]["name"] == "athlete"
    return sorted(v[1] for s in run(influxd, variables[0]["query"]) for v in s["values"])


def columns(series: list[dict[str, Any]]) -> set[str]:
    return {c for s in series for c in s["columns"]} - {"time"}


# What each panel (by title) must return: its columns besides time, and its GROUP BY tags.
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "Athlete $athlete": ({"pct_max", "bpm"}, set()),
    "Squad: load and form (latest day)": ({"fitness", "fatigue", "form", "acwr"}, {"athlete_id"}),
    "Squad: HRV and resting HR against normal (latest day)": (
        {"ln_rmssd_7d", "ln_rmssd_normal", "hr_rest_7d", "hr_rest_normal", "flags"},
        {"athlete_id"},
    ),
    "Form (TSB) per athlete": ({"form"}, {"athlete_id"}),
    "ACWR (EWMA 7/28) per athlete": ({"acwr"}, {"athlete_id"}),
    "Flags raised": ({"flags"}, {"athlete_id"}),
    "Fitness, fatigue and form": ({"fitness", "fatigue", "form"}, set()),
    "Acute:chronic workload ratio": ({"acwr"}, set()),
    "Morning HRV (ln RMSSD) and normal range": (
        {"ln_rmssd", "7-day mean", "normal low", "normal high"},
        set(),
    ),
    "Resting heart rate and normal range": (
        {"hr_rest", "7-day mean", "normal low", "normal high"},
        set(),
    ),
    "Sessions": (
        {
            "session_id",
            "kind",
            "duration_s",
            "hr_avg",
            "hr_max",
            "trimp_banister",
            "kcal",
            "points",
            "hrr60",
            "hrr60_note",
            "rmssd",
        },
        set(),
    ),
    "Heart rate": ({"bpm"}, set()),
}


def all_dashboards() -> list[gd.Generated]:
    return [*gd.staff_dashboards(), *(gd.guest_dashboard(a, f"Guest {a}") for a in ATHLETES)]


def test_every_panel_has_an_expectation() -> None:
    titles = {title for g in all_dashboards() for title, _ in gd.iter_targets(g.model)}
    assert titles == set(EXPECTED)


@pytest.mark.slow  # a real influxd
def test_every_panel_query_returns_its_series(influxd: Influxd, data: Loaded) -> None:
    checked = 0
    for board in all_dashboards():
        has_var = bool(board.model.get("templating", {}).get("list"))
        athletes = variable_values(influxd, board.model) if has_var else [None]
        if has_var:
            assert athletes == [str(a) for a in ATHLETES]  # the unassigned strap is no athlete
        for title, target in gd.iter_targets(board.model):
            want_cols, want_tags = EXPECTED[title]
            assert target["rawQuery"] is True and target["datasource"]["uid"] == gd.DATASOURCE_UID
            for athlete in athletes:
                series = run(influxd, expand(target["query"], data, athlete))
                assert series, f"{board.uid} / {title} ({athlete}) returned nothing"
                assert columns(series) == want_cols, (board.uid, title)
                tags = {k for s in series for k in (s.get("tags") or {})}
                assert tags == want_tags, (board.uid, title)
                if want_tags == {"athlete_id"}:
                    got = sorted(s["tags"]["athlete_id"] for s in series)
                    expected_ids = [str(a) for a in ATHLETES]
                    if title == "Flags raised":
                        expected_ids = ["2"]
                    assert got == expected_ids
                checked += 1
    assert checked > 20


@pytest.mark.slow  # a real influxd
def test_panel_values_match_what_was_written(influxd: Influxd, data: Loaded) -> None:
    live = gd.staff_dashboards()[0].model
    ((_, tile),) = gd.iter_targets(live)
    for athlete in ATHLETES:
        (series,) = run(influxd, expand(tile["query"], data, str(athlete)))
        (row,) = [dict(zip(series["columns"], v, strict=True)) for v in series["values"]]
        # The same bpm, each athlete's own % of HRmax, from the latest sample.
        assert data.last_bpm[athlete] == LAST_BPM
        assert (row["bpm"], row["pct_max"]) == (LAST_BPM, LAST_PCT[athlete])
    # A strap silent for longer than the signal window shows "no signal" (no rows).
    assert run(influxd, expand(tile["query"], data, "777")) == []

    coach = gd.staff_dashboards()[1].model
    targets = dict(gd.iter_targets(coach))
    squad = run(influxd, expand(targets["Squad: load and form (latest day)"]["query"], data, None))
    last_day = data.daily.filter(pl.col("date") == data.today)
    for s in squad:
        row = dict(zip(s["columns"], s["values"][0], strict=True))
        want = last_day.filter(pl.col("athlete_id") == int(s["tags"]["athlete_id"])).row(
            0, named=True
        )
        assert row["form"] == pytest.approx(want["tsb"])
        assert row["acwr"] == pytest.approx(want["acwr_ewma"])
        assert row["fitness"] == pytest.approx(want["ctl"])

    guest = gd.guest_dashboard(2, "Guest 2").model
    gt = dict(gd.iter_targets(guest))
    sessions = run(influxd, expand(gt["Sessions"]["query"], data, None))
    got_ids = sorted(v[sessions[0]["columns"].index("session_id")] for v in sessions[0]["values"])
    assert got_ids == sorted(
        data.sessions.filter(pl.col("athlete_id") == 2)["session_id"].to_list()
    )
    hrv = run(influxd, expand(gt["Morning HRV (ln RMSSD) and normal range"]["query"], data, None))
    first = dict(zip(hrv[0]["columns"], hrv[0]["values"][0], strict=True))
    assert first["normal low"] == pytest.approx(3.8) and first["normal high"] == pytest.approx(4.2)
    assert first["ln_rmssd"] == pytest.approx(4.2)


def test_guest_dashboards_fix_the_athlete_and_have_no_variables() -> None:
    for athlete in ATHLETES:
        board = gd.guest_dashboard(athlete, "x")
        assert board.model.get("templating", {}).get("list", []) == []
        assert board.folder_uid == gd.FOLDER_GUESTS
        for _, target in gd.iter_targets(board.model):
            q = target["query"]
            assert "$athlete" not in q
            named = set(re.findall(r"\"athlete(?:_id)?\" = '(\d+)'", q))
            assert named == {str(athlete)}, q


def test_live_board_shape() -> None:
    live = gd.staff_dashboards()[0].model
    assert live["refresh"] == "1s"
    (panel,) = live["panels"]
    assert panel["type"] == "stat" and panel["repeat"] == "athlete"
    defaults = panel["fieldConfig"]["defaults"]
    # Coloured by % of each athlete's own HRmax: the zone bounds 50/60/70/80/90 %.
    assert defaults["unit"] == "percent"
    assert [s["value"] for s in defaults["thresholds"]["steps"]] == [None, 50, 60, 70, 80, 90]
    assert [s["color"] for s in defaults["thresholds"]["steps"]] == list(gd.ZONE_COLOURS)
    # bpm alongside, named and uncoloured; the series are named by column for the overrides.
    overrides = {
        o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
        for o in panel["fieldConfig"]["overrides"]
    }
    assert overrides["pct_max"]["displayName"] == "% HRmax"
    assert overrides["bpm"]["color"] == {"mode": "fixed", "fixedColor": "transparent"}
    (target,) = panel["targets"]
    assert target["alias"] == "$col"
