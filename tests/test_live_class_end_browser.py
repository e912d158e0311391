"""The live board when a class ends, in real headless Chromium fed by the real data path (a
Mosquitto broker, a simulated class publishing every second, ``gympulse web`` under
uvicorn): the class's points target leaves the header at once, and the participants'
points stop counting although their straps keep sending."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from gympulse import contract
from gympulse.pipeline.journal import Journal
from tests.support.browser import until
from tests.support.procs import Mosquitto
from tests.support.web import (
    LiveClass,
    artifact,
    board_token,
    chromium,
    running,
    seed_athletes,
    web_server,
)

pytestmark = pytest.mark.slow  # a real Mosquitto, uvicorn and headless Chromium

COUNT_SAMPLES = """
window.__samples = {};
window.gympulseOnTile = (d) => {
  window.__samples[d.sensor] = (window.__samples[d.sensor] || 0) + 1;
};
"""
POINTS = "[...document.querySelectorAll('.tile .pts')].map(e => e.textContent)"


async def test_after_a_class_the_target_goes_and_points_stop_counting(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    live_class = LiveClass(mosquitto.url, 3, seed=7)
    now = contract.now_ms()
    seed_athletes(db, live_class.profiles, now - 600_000)
    journal = Journal(db)
    # Running since 10 minutes, ending 25 s from now (time for the board to open).
    end_ms = now + 25_000
    journal.add_class("Spin", now - 600_000, end_ms)
    journal.close()
    with web_server(mosquitto.url, db) as base:
        async with running(live_class), chromium() as browser:
            page = await browser.new_page(viewport={"width": 1920, "height": 1080})
            await page.add_init_script(COUNT_SAMPLES)
            await page.goto(f"{base}/board/{board_token(db)}")  # opens /live
            await until(page, "document.querySelectorAll('.tile[data-state=live]').length === 3")
            await until(page, "document.getElementById('target').textContent !== ''")
            assert "Spin" in await page.inner_text("#timer")
            # The class ends: within two ticks of the page's clock the target is gone (the
            # page asks the server about classes only every 30 s).
            await until(page, f"Date.now() > {end_ms + 2500}", limit_s=40)
            assert await page.inner_text("#target") == ""
            assert await page.evaluate(
                "document.querySelectorAll('.tile[data-state=live]').length") == 3  # fmt: skip
            shown = await page.evaluate(POINTS)
            # The straps go on sending; after 4 more samples each the points are as they were.
            before = await page.evaluate("({...window.__samples})")
            await until(page, f"Object.entries({json.dumps(before)}).every(([s, n]) => "
                              "window.__samples[s] >= n + 4)")  # fmt: skip
            assert await page.evaluate(POINTS) == shown
            await page.screenshot(path=artifact("live-class-ended.png"))
            with contextlib.suppress(Exception):
                await page.close()
