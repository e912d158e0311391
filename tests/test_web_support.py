"""Shared helpers for the web tests (no tests here): a real ``gympulse web`` server process,
a real-time simulated class published over MQTT, and headless Chromium via Playwright."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from playwright.async_api import Browser, async_playwright

from collectors.publisher import CollectorPublisher
from collectors.simulator import Profile, make_profiles, simulate
from gympulse import contract
from gympulse.mqtt import MqttClient
from gympulse.settings import MqttSettings
from pipeline.registry import Registry
from tests.support.procs import free_port, wait_port

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
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
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


@contextlib.contextmanager
def web_server(
    broker_url: str, db: Path, *, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """``gympulse web`` as a subprocess (real uvicorn) on a free port; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "GYMPULSE_SITE": SITE,
        "GYMPULSE_MQTT__URL": broker_url,
        "GYMPULSE_STORE__PATH": str(db),
        **(extra_env or {}),
    }
    log = open(db.parent / f"web-{port}.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "gympulse.cli", "web", "--port", str(port)],
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


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


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


class LiveClass:
    """A simulated class published in real time (1 sample/s per strap). Straps in
    ``silent`` stop sending (a strap that dropped without saying so)."""

    def __init__(self, broker_url: str, count: int, *, seed: int = 5) -> None:
        self.profiles = make_profiles(count, seed)
        self.broker_url = broker_url
        self.seed = seed
        self.silent: set[str] = set()
        self.published: dict[str, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        mqtt = MqttClient(MqttSettings(url=self.broker_url), f"test-class-{time.monotonic_ns()}")
        runner = asyncio.create_task(mqtt.run())
        try:
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
        finally:
            await mqtt.close()
            await runner


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
