"""Shared helpers for the web tests (no tests here): a real ``gympulse web`` server process,
a real-time simulated class published over MQTT, and headless Chromium via Playwright."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from fastapi.testclient import TestClient
from playwright.async_api import Browser, async_playwright

from gympulse import contract
from gympulse.collectors.publisher import CollectorPublisher
from gympulse.collectors.simulator import Plan, Profile, class_target, make_profiles, simulate
from gympulse.dashboards.accounts import Accounts
from gympulse.dashboards.app import create_app
from gympulse.dashboards.live import LiveHub
from gympulse.mqtt import MqttClient
from gympulse.pipeline.analytics.tables import BASELINES, DAILY_METRICS, SESSION_SUMMARY, conform
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores import make_store
from gympulse.pipeline.stores.base import StoredSample, WriteBatch
from gympulse.settings import MqttSettings, Settings, StoreSettings, WebSettings
from tests.support.procs import free_port, wait_port

# Screenshots go outside the checkout: GYMPULSE_TEST_ARTIFACTS, else the temp dir.
ARTIFACTS = Path(
    os.environ.get("GYMPULSE_TEST_ARTIFACTS")
    or Path(tempfile.gettempdir()) / "gympulse-test-artifacts"
)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SITE = "demo"


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


@contextlib.contextmanager
def web_server(
    broker_url: str,
    db: Path,
    *,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
    config: Path | None = None,
) -> Iterator[str]:
    """``gympulse web`` as a subprocess (real uvicorn) on ``port`` (default: a free one);
    yields its base URL and stops the process (SIGTERM) on exit."""
    port = port or free_port()
    env = {
        **os.environ,
        "GYMPULSE_SITE": SITE,
        "GYMPULSE_MQTT__URL": broker_url,
        "GYMPULSE_STORE__PATH": str(db),
        **(extra_env or {}),
    }
    log = open(db.parent / f"web-{port}.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "gympulse.cli"]
        + (["--config", str(config)] if config is not None else [])
        + ["web", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=db.parent,
    )
    log.close()
    try:
        wait_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def seed_athletes(db: Path, profiles: list[Profile], start_ms: int) -> dict[str, int]:
    """Every profile becomes an athlete wearing its strap from ``start_ms``: sensor -> id."""
    registry = Registry(db)
    try:
        ids = {}
        for p in profiles:
            athlete_id = registry.add_athlete(
                p.name,
                birth_year=p.birth_year,
                sex=p.sex,
                weight_kg=p.weight_kg,
                hr_max=p.hr_max,
                hr_rest=p.hr_rest,
            )
            registry.assign(p.sensor, athlete_id, start_ms)
            ids[p.sensor] = athlete_id
        return ids
    finally:
        registry.close()


async def write_session_rows(db: Path, rows: list[dict[str, Any]]) -> None:
    """``session_summary`` rows into the store file ``db``, as ``gympulse analyze`` writes
    them (missing columns null)."""
    store = make_store(StoreSettings(path=str(db)))
    await store.open()
    try:
        frame = conform(SESSION_SUMMARY, pl.DataFrame(rows))
        await store.write_rows(SESSION_SUMMARY.name, frame, SESSION_SUMMARY.key)
    finally:
        await store.close()


async def weekly_sessions(db: Path, athlete: int, weeks: int) -> None:
    """One 45-minute session a week in the ``weeks`` weeks before this one: finished weeks
    for the weekly charts to draw, whatever the weekday of the run (the seeded five days
    may all lie in the current week, which the charts leave out)."""
    monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday())
    rows = []
    for k in range(1, weeks + 1):
        day = monday - dt.timedelta(weeks=k, days=-2)  # a Wednesday
        start = int(dt.datetime.combine(day, dt.time(9), dt.UTC).timestamp() * 1000)
        rows.append({"athlete_id": athlete, "session_id": f"auto-{athlete}-{start}",
                     "kind": "auto", "date": day, "start_ms": start, "end_ms": start + 2_700_000,
                     "duration_s": 2700, "n_samples": 2701, "hr_avg": 130.0, "hr_max": 165,
                     "zone1_s": 600, "zone2_s": 900 + 120 * k, "zone3_s": 600, "zone4_s": 300,
                     "points": 40.0 + k, "kcal": 300.0, "updated_ms": 0})  # fmt: skip
    await write_session_rows(db, rows)


def consent_all(db: Path, athlete_ids: Iterable[int], since_ms: int = 0) -> None:
    """Made-up guests who said yes to every domain from ``since_ms`` (the benches run with
    consent on, as a site does; without it nothing of theirs is stored, shown or analysed)."""
    from gympulse.pipeline.consent import record_all

    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        for athlete_id in athlete_ids:
            record_all(conn, athlete_id, "bench", since_ms=since_ms)


class LiveClass:
    """A simulated class published in real time (1 sample/s per strap). Straps in
    ``silent`` stop sending (a strap that dropped without saying so)."""

    def __init__(
        self, broker_url: str, count: int, *, seed: int = 5, plan: Plan = class_target
    ) -> None:
        self.profiles = make_profiles(count, seed)
        self.plan = plan  # the interval class; simulator.at_rest: a group lying still
        self.broker_url = broker_url
        self.seed = seed
        self.silent: set[str] = set()
        self.published: dict[str, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        async with MqttClient(
            MqttSettings(url=self.broker_url), f"test-class-{time.monotonic_ns()}"
        ) as mqtt:
            await mqtt.wait_connected()
            pub = CollectorPublisher(mqtt, SITE, "sim")
            start = contract.now_ms()
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            events_per_second = simulate(
                self.profiles,
                start_ms=start,
                seconds=None,
                seed=self.seed,
                seq_base=start,
                contact_loss_rate=0.0,
                dropout_rate=0.0,
                plan=self.plan,
            )
            for i, events in enumerate(events_per_second):
                if stop.is_set():
                    break
                await asyncio.sleep(max(0.0, t0 + i - loop.time()))
                now = contract.now_ms()
                for event in events:
                    if event.sample is None or event.sensor in self.silent:
                        continue
                    # Stamp with the real clock: the board measures freshness against it.
                    sample = contract.HrSample(
                        sensor=event.sample.sensor,
                        ts=now,
                        seq=event.sample.seq,
                        bpm=event.sample.bpm,
                        rr_ms=event.sample.rr_ms,
                        contact=event.sample.contact,
                        energy_kj=event.sample.energy_kj,
                    )
                    await pub.samples(sample.sensor, [sample])
                    self.published[sample.sensor] = self.published.get(sample.sensor, 0) + 1


@contextlib.asynccontextmanager
async def running(live_class: LiveClass) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(live_class.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


# ---------------------------------------------------------------------- history for API tests

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Seeded:
    db: Path
    athletes: dict[str, int]  # name -> id
    sessions: dict[str, list[str]]  # name -> session ids
    coach_user: str
    coach_password: str


def seeded_copy(template: Seeded, dest_dir: Path) -> Seeded:
    """A private copy of a seeded database in ``dest_dir`` (SQLite's backup API, so what
    is still in the template's WAL comes along): seed once, copy per test."""
    db = dest_dir / template.db.name
    with (
        contextlib.closing(sqlite3.connect(template.db)) as src,
        contextlib.closing(sqlite3.connect(db)) as dst,
    ):
        src.backup(dst)
    return dataclasses.replace(template, db=db)


def _history_rows(
    athlete_id: int, days: int, flags: str, hr_rest0: float
) -> dict[str, list[dict[str, Any]]]:
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    # The latest session ended an hour before the run, whatever its hour (at 18:00 it lay
    # in the future before 18:10, and its RPE was refused); one a day before it.
    latest = now - dt.timedelta(minutes=70)
    daily, base, sessions = [], [], []
    for i in range(days):
        date = today - dt.timedelta(days=days - 1 - i)
        daily.append(
            {"athlete_id": athlete_id, "date": date, "load": 50.0 + i, "sessions": 1,
             "minutes": 45.0, "ctl": 10.0 + i, "atl": 20.0 + i, "tsb": -10.0 + i / 2,
             "acwr_ewma": 1.0 + i / 100, "acwr_rolling": 1.0 + i / 100,
             "history_days": 60 + i, "srpe_load": 0.0, "updated_ms": 0}
        )  # fmt: skip
        base.append(
            {"athlete_id": athlete_id, "date": date, "ln_rmssd": 3.5 + i / 100,
             "ln_rmssd_mean60": 3.6, "ln_rmssd_sd60": 0.2, "ln_rmssd_roll7": 3.5 + i / 100,
             "hr_rest": hr_rest0 - i / 2, "hr_rest_mean60": hr_rest0, "hr_rest_sd60": 2.0,
             "hr_rest_roll7": hr_rest0 - i / 2,
             "flag_hrv": "flag_hrv" in flags, "flag_hr_rest": "flag_hr_rest" in flags,
             "flag_acwr": False, "flag_form": False,
             "flags": flags if i == days - 1 else "", "updated_ms": 0}
        )  # fmt: skip
        begun = latest - dt.timedelta(days=days - 1 - i)
        start = int(begun.timestamp() * 1000) // 1000 * 1000
        sessions.append(
            {"athlete_id": athlete_id, "session_id": f"auto-{athlete_id}-{start}",
             "kind": "auto", "date": begun.date(), "start_ms": start, "end_ms": start + 600_000,
             "duration_s": 600, "n_samples": 601, "hr_avg": 140.0, "hr_max": 170,
             "hr_max_ref": 185.0, "hr_rest_ref": hr_rest0, "zone0_s": 0, "zone1_s": 60,
             "zone2_s": 120, "zone3_s": 180, "zone4_s": 180, "zone5_s": 60,
             "trimp_banister": 20.0, "trimp_edwards": 30.0, "kcal": 120.0, "points": 31.0,
             "hrr60": 20.0 + i, "rmssd": None, "n_rr": 0, "n_corrected": 0, "rpe": None,
             "srpe_load": None, "updated_ms": 0}
        )  # fmt: skip
    return {"daily_metrics": daily, "baselines": base, "session_summary": sessions}


def seed_history(db: Path, store_settings: StoreSettings | None = None) -> Seeded:
    """Two guests (Alice, Bob) with 5 days of sessions, daily metrics, baselines and the HR
    samples of each session; Bob's latest day raises two flags. A coach account.
    Identity lives in the registry at ``db``; the time series and derived tables are
    written through the store ``store_settings`` name (default: the SQLite file ``db``)."""
    registry = Registry(db)
    ids = {
        "Alice": registry.add_athlete("Alice", birth_year=1990, sex="female", weight_kg=60),
        "Bob": registry.add_athlete("Bob", birth_year=1980, sex="male", weight_kg=80),
    }
    registry.assign("strap-1", ids["Alice"], 0)
    registry.assign("strap-2", ids["Bob"], 0)
    registry.close()
    sessions: dict[str, list[str]] = {}

    async def write() -> None:
        store = make_store(store_settings or StoreSettings(path=str(db)))
        await store.open()
        try:
            for name, flags, rest, strap in (
                ("Alice", "", 60.0, "strap-1"),
                ("Bob", "flag_hrv,flag_hr_rest", 70.0, "strap-2"),
            ):
                rows = _history_rows(ids[name], 5, flags, rest)
                for table in (SESSION_SUMMARY, DAILY_METRICS, BASELINES):
                    frame = conform(table, pl.DataFrame(rows[table.name]))
                    await store.write_rows(table.name, frame, table.key)
                sessions[name] = [r["session_id"] for r in rows["session_summary"]]
                samples = [
                    StoredSample(SITE, "sim", strap, s["start_ms"] + k * 1000, k,
                                 110 + k % 60, (), True, None, ids[name])
                    for s in rows["session_summary"]
                    for k in range(0, 601, 5)
                ]  # fmt: skip
                await store.write(WriteBatch(samples))
        finally:
            await store.close()

    asyncio.run(write())
    accounts = Accounts(db)
    accounts.add_user("coach", "correct horse battery")
    accounts.close()
    return Seeded(db, ids, sessions, "coach", "correct horse battery")


# ---------------------------------------------------------------------- in-process client

CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def csrf_from(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found is not None, "page has no CSRF field"
    return found.group(1)


@contextlib.contextmanager
def app_client(
    db: Path,
    store_settings: StoreSettings | None = None,
    *,
    timezone: str = "UTC",
    web: WebSettings | None = None,
) -> Iterator[TestClient]:
    """The app in process (no MQTT: the live hub is not started) on the registry ``db``
    and the store ``store_settings`` (default: the SQLite file ``db``), in the site time
    zone ``timezone``."""
    settings = Settings(
        site=SITE,
        store=store_settings or StoreSettings(path=str(db)),
        timezone=timezone,
        web=web or WebSettings(),
    )
    registry = Registry(db)
    hub = LiveHub(settings, registry)
    try:
        with TestClient(create_app(settings, registry, hub), follow_redirects=False) as client:
            yield client
    finally:
        registry.close()


def login(client: TestClient, user: str, password: str) -> str:
    """Log in as a coach; returns the CSRF token of the session's forms."""
    form = client.get("/coach/login")
    response = client.post(
        "/coach/login",
        data={"username": user, "password": password, "csrf": csrf_from(form.text)},
    )
    assert response.status_code == 303 and response.headers["location"] == "/coach"
    return csrf_from(client.get("/coach").text)


def board_token(db: Path, label: str = "test") -> str:
    """A new board link token for the live board."""
    accounts = Accounts(db)
    try:
        return accounts.issue_board_token(label)[1]
    finally:
        accounts.close()


def open_board(client: TestClient, db: Path) -> str:
    """Open the live board in ``client`` the way the gym's TV does: through a board link
    (the cookie it sets stays in the client). Returns the token."""
    token = board_token(db)
    response = client.get(f"/board/{token}")
    assert response.status_code == 303 and response.headers["location"] == "/live"
    return token


def guest_token(db: Path, athlete_id: int, days: float = 7) -> str:
    accounts = Accounts(db)
    try:
        return accounts.issue_guest_token(athlete_id, contract.now_ms() + int(days * DAY_MS))
    finally:
        accounts.close()
