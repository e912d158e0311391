"""A spin and rowing class on the live board in real headless Chromium: virtual machines
and straps (bumble) -> the collector -> a real Mosquitto -> ``gympulse web`` (uvicorn): each
rider's tile shows watts and cadence, the rower's its split per 500 m, next to heart rate."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from pathlib import Path

import pytest
from playwright.async_api import Page

from gympulse.collectors.service import run_collector
from gympulse.pipeline.registry import Registry
from gympulse.settings import CollectorSettings, MqttSettings, Settings
from tests.support.procs import Mosquitto
from tests.support.virtual_machines import MachineRoom
from tests.support.virtual_straps import StrapField
from tests.support.web import SITE, artifact, board_token, chromium, web_server


async def _text(page: Page, sensor: str) -> str:
    text: str = await page.evaluate(
        f"(document.querySelector('.tile[data-sensor=\"{sensor}\"] .machine') || {{}})"
        ".textContent || ''"
    )
    return text


async def _wait_text(page: Page, sensor: str, pattern: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        text = await _text(page, sensor)
        if re.fullmatch(pattern, text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"tile {sensor} shows {text!r}, not {pattern}")
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_live_tiles_show_watts_cadence_and_split(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    field = StrapField(3, rate_hz=2)
    await field.start()
    room = MachineRoom(field, ["bike", "rower"])
    await room.start()
    bike, rower = room.machines
    registry = Registry(db)
    anna = registry.add_athlete("Anna", birth_year=1990, sex="female")
    ben = registry.add_athlete("Ben", birth_year=1985, sex="male")
    cleo = registry.add_athlete("Cleo", birth_year=1995, sex="female")
    for sensor, athlete in (
        (field.straps[0].sensor, anna),
        (bike.sensor, anna),
        (field.straps[1].sensor, ben),
        (rower.sensor, ben),
        (field.straps[2].sensor, cleo),  # Cleo has no machine
    ):
        registry.assign(sensor, athlete, 0)
    registry.close()
    settings = Settings(
        site=SITE,
        mqtt=MqttSettings(url=mosquitto.url),
        collector=CollectorSettings(
            name="floor",
            central="bumble",
            transport=field.transport,
            state_dir=str(tmp_path / "state"),
            scan_seconds=0.3,
            confirm="broker",  # no ingestion here: the board reads the broker
        ),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_collector(settings, stop))
    try:
        with web_server(mosquitto.url, db) as base:
            async with chromium() as browser:
                page = await browser.new_page(viewport={"width": 1280, "height": 800})
                await page.goto(f"{base}/board/{board_token(db)}")  # opens /live
                anna_tile = field.straps[0].sensor
                ben_tile = field.straps[1].sensor
                shown = await _wait_text(page, anna_tile, r"\d+ W · \d+ rpm", 60)
                watts = int(shown.split(" W")[0])
                assert watts in {s.power_w for s in bike.sent}
                assert int(shown.split("· ")[1].split()[0]) in {86, 100}  # the ride's cadences
                shown = await _wait_text(page, ben_tile, r"\d:\d\d /500m · \d+ W · \d+ spm", 30)
                assert int(shown.split("· ")[1].split()[0]) in {s.power_w for s in rower.sent}
                # heart rate is still there, next to it
                bpm = await page.locator(f'.tile[data-sensor="{anna_tile}"] .bpm').inner_text()
                assert bpm.split("\n")[0].rstrip("bpm").strip().isdigit()
                # no machine, no machine line
                assert await _text(page, field.straps[2].sensor) == ""
                await page.screenshot(path=artifact("live-board-machines.png"))
                # the bike stops: its numbers leave Anna's tile, her heart rate stays
                room.running = False
                await _wait_text(page, anna_tile, r"", 20)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 20)
        await room.stop()
        await field.stop()
