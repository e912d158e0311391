"""The live board in real headless Chromium, fed by the real data path: a Mosquitto broker,
a simulated class publishing every second, and ``gympulse web`` served by uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest
from playwright.async_api import Page

from gympulse import contract
from gympulse.pipeline.domain import board_name
from tests.support.procs import Mosquitto, free_port
from tests.support.web import (
    LiveClass,
    artifact,
    board_token,
    chromium,
    running,
    seed_athletes,
    web_server,
)

pytestmark = pytest.mark.slow  # a real Mosquitto and headless Chromium

PARTICIPANTS = 12
COLLECT_EVENTS = """
window.__events = {};
window.gympulseOnTile = (d) => {
  (window.__events[d.sensor] = window.__events[d.sensor] || []).push(
    {ts: d.ts, bpm: d.bpm, state: d.state, at: Date.now()});
};
"""


async def _wait(page: Page, js: str, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await page.evaluate(js):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.2)


async def _states(page: Page) -> dict[str, str]:
    result: dict[str, str] = await page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.tile')]"
        ".map(t => [t.dataset.sensor, t.dataset.state]))"
    )
    return result


async def test_live_board_shows_the_class_and_greys_a_dropped_strap(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    live_class = LiveClass(mosquitto.url, PARTICIPANTS)
    # The board shows first name + initial (a shared screen), never the full name.
    names = {p.sensor: board_name(p.name) for p in live_class.profiles}
    seed_athletes(db, live_class.profiles, contract.now_ms() - 60_000)
    with web_server(mosquitto.url, db) as base:
        async with running(live_class), chromium() as browser:
            page = await browser.new_page(viewport={"width": 1920, "height": 1080})
            await page.add_init_script(COLLECT_EVENTS)
            await page.goto(f"{base}/board/{board_token(db)}")  # opens /live

            # 12 tiles, every one live with a heart rate, each named after its athlete.
            await _wait(
                page,
                f"document.querySelectorAll('.tile[data-state=live]').length === {PARTICIPANTS}",
                20,
                "12 live tiles",
            )
            shown = await page.evaluate(
                "Object.fromEntries([...document.querySelectorAll('.tile')].map(t =>"
                " [t.dataset.sensor, t.querySelector('.name').textContent]))"
            )
            assert shown == names

            # Updating: every strap delivers several successive samples to the page.
            await _wait(
                page,
                f"Object.keys(window.__events).length === {PARTICIPANTS} && "
                "Object.values(window.__events).every(e => "
                "new Set(e.filter(x => x.state === 'live').map(x => x.ts)).size >= 4)",
                20,
                "4 distinct samples per strap",
            )
            events = await page.evaluate("window.__events")
            for sensor, seen in events.items():
                live_ts = [e["ts"] for e in seen if e["state"] == "live"]
                assert live_ts == sorted(live_ts), sensor
                assert all(30 <= e["bpm"] <= 240 for e in seen if e["state"] == "live")
            bpm_texts = await page.locator(".tile .bpm").all_inner_texts()
            assert all(t.split("\n")[0].rstrip("bpm").strip().isdigit() for t in bpm_texts)
            await page.screenshot(path=artifact("live-board-12.png"))

            # A strap drops silently (no "lost" message): its tile greys out, others stay.
            dropped = live_class.profiles[4].sensor
            dropped_at = contract.now_ms()
            live_class.silent.add(dropped)
            await _wait(
                page,
                f"document.querySelector('.tile[data-sensor=\"{dropped}\"]')"
                ".dataset.state === 'no-signal'",
                15,
                "the dropped strap's tile to grey out",
            )
            states = await _states(page)
            assert states[dropped] == "no-signal"
            # The others kept updating: each delivered a live sample sent after the drop (a
            # state snapshot would flake on a loaded machine, where a tile can go stale for
            # a moment between two samples).
            await _wait(
                page,
                "Object.entries(window.__events).every(([k, e]) =>"
                f" k === '{dropped}' || e.some(x => x.state === 'live' && x.ts > {dropped_at}))",
                30,
                "every other strap updating after the drop",
            )
            dropped_bpm = await page.locator(f'.tile[data-sensor="{dropped}"] .bpm').inner_text()
            assert dropped_bpm.strip() == "--"  # no phantom value
            await page.screenshot(path=artifact("live-board-dropped.png"))

            # ... and comes back when the strap returns.
            live_class.silent.discard(dropped)
            await _wait(
                page,
                f"document.querySelector('.tile[data-sensor=\"{dropped}\"]')"
                ".dataset.state === 'live'",
                15,
                "the strap's tile to come back",
            )
            # Tiles carry effort points (and kcal: every athlete has weight and age) and a
            # sparkline of the last two minutes.
            totals = await page.locator(".tile .totals").all_inner_texts()
            assert all("pts" in x and "kcal" in x for x in totals), totals
            spark = await page.locator(".tile .spark polyline").first.get_attribute("points")
            assert spark is not None and len(spark.split()) >= 3

            # 40 tiles fit a 1920×1080 screen without scrolling (28 extra tiles added
            # through the page's own upsert()).
            await page.evaluate(
                "for (let i = 0; i < 28; i++) upsert({sensor: `extra-${i}`, name: `Extra ${i}`,"
                " athlete_id: null, bpm: 120, pct_max: 60, zone: 2, ts: Date.now(),"
                " received_ms: Date.now(), state: 'live', kcal: null, points: 0})"
            )
            boxes = await page.evaluate(
                "[...document.querySelectorAll('.tile')].map(t => t.getBoundingClientRect())"
                ".map(r => [r.left, r.top, r.right, r.bottom])"
            )
            assert len(boxes) == 40
            assert all(
                x0 >= 0 and y0 >= 0 and x1 <= 1920 and y1 <= 1080 for x0, y0, x1, y1 in boxes
            )
            assert await page.evaluate("document.documentElement.scrollHeight") <= 1080
            await page.screenshot(path=artifact("live-board-40.png"))
            with contextlib.suppress(Exception):
                await page.close()


async def test_live_board_reconnects_after_a_server_restart(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Stop the ``gympulse web`` process, start it again on the same port: the open page
    gets tiles updating again by itself, without a reload."""
    db = tmp_path / "gympulse.db"
    live_class = LiveClass(mosquitto.url, 3, seed=11)
    seed_athletes(db, live_class.profiles, contract.now_ms() - 60_000)
    port = free_port()
    all_live = "document.querySelectorAll('.tile[data-state=live]').length === 3"
    async with running(live_class), chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        await page.add_init_script(COLLECT_EVENTS)
        with web_server(mosquitto.url, db, port=port) as base:
            await page.goto(f"{base}/board/{board_token(db)}")  # opens /live
            await _wait(page, all_live, 20, "3 live tiles")
            await page.evaluate("window.__samePage = true")
        # The server is gone: the page notices, and the tiles grey out (no frozen values).
        await _wait(page, "document.getElementById('status').dataset.state === 'error'", 10,
                    "the page to notice the lost stream")  # fmt: skip
        await _wait(page, "document.querySelectorAll('.tile[data-state=live]').length === 0",
                    10, "tiles to grey out while the server is down")  # fmt: skip
        restarted_at = await page.evaluate("Date.now()")
        with web_server(mosquitto.url, db, port=port):
            await _wait(
                page,
                f"{all_live} && Object.values(window.__events).every(e => e.filter("
                f"x => x.state === 'live' && x.at > {restarted_at}).length >= 2)",
                20,
                "tiles updating again after the restart",
            )
            assert await page.evaluate("window.__samePage === true")  # never reloaded
            assert await page.evaluate("document.getElementById('status').dataset.state") == (
                "open"
            )
            await page.screenshot(path=artifact("live-board-reconnected.png"))
        with contextlib.suppress(Exception):
            await page.close()
