"""The shared TV keeps health markers private (issue 20 item 8): with ``web.board_privacy =
"initials"`` the live board at 1920x1080, in real headless Chromium fed by a simulated class
over a real Mosquitto into a real ``gympulse web``, shows initials, zones and points only —
no heart rate, % HRmax or kcal on a tile (nor in what the server sends it), and a class
summary without kcal, peak HR or HRR60 — while each guest's own page keeps the full
summary of that class."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from gympulse import contract
from gympulse.dashboards.board_privacy import initials
from gympulse.pipeline.domain import board_name
from gympulse.pipeline.journal import Journal
from tests.support.browser import until
from tests.support.procs import Mosquitto
from tests.support.web import (
    LiveClass,
    artifact,
    board_token,
    chromium,
    guest_token,
    running,
    seed_athletes,
    web_server,
)

pytestmark = pytest.mark.slow  # a real Mosquitto, uvicorn and headless Chromium

RECORD_TILES = """
window.__tiles = [];
window.gympulseOnTile = (d) => { window.__tiles.push(d); };
"""
HEALTH_KEYS = {"bpm", "pct_max", "kcal", "peak_bpm", "hrr60", "spark", "machine"}


def test_initials_are_the_first_letter_of_each_word() -> None:
    assert initials("Anna de Vries") == "AdV"
    assert initials("Bike 3") == "B3"
    assert initials("") == "?"


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


async def test_a_private_board_shows_initials_zones_and_points_only(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    live_class = LiveClass(mosquitto.url, 3, seed=7)
    now = contract.now_ms()
    ids = seed_athletes(db, live_class.profiles, now - 600_000)
    journal = Journal(db)
    end_ms = now + 30_000  # running since 2 minutes, ends in 30 s (time to open the board)
    class_id = journal.add_class("Spin", now - 120_000, end_ms)
    journal.close()
    names = {p.sensor: board_name(p.name) for p in live_class.profiles}
    expected = {s: "".join(w[0] for w in n.split()) for s, n in names.items()}
    env = {"GYMPULSE_WEB__BOARD_PRIVACY": "initials"}
    with web_server(mosquitto.url, db, extra_env=env) as base:
        async with running(live_class), chromium() as browser:
            page = await browser.new_page(viewport={"width": 1920, "height": 1080})
            await page.add_init_script(RECORD_TILES)
            await page.goto(f"{base}/board/{board_token(db)}")  # the TV's link; opens /live
            await until(page, "document.querySelectorAll('.tile[data-state=live]').length === 3")
            await until(page, "window.__tiles.length >= 9")  # a few seconds of the stream
            tiles = await page.evaluate(
                "[...document.querySelectorAll('.tile')].map(t => ({sensor: t.dataset.sensor,"
                " name: t.querySelector('.name').textContent, text: t.innerText,"
                " zone: t.dataset.zone}))"
            )
            for tile in tiles:
                assert tile["name"] == expected[tile["sensor"]]
                assert names[tile["sensor"]] not in tile["text"]
                for word in ("bpm", "kcal", "%"):
                    assert word not in tile["text"], (word, tile["text"])
                assert tile["zone"] != ""  # the zone colour is there
                assert "pts" in tile["text"]
            streamed = await page.evaluate("window.__tiles")
            assert not [k for d in streamed for k in d if k in HEALTH_KEYS]
            snapshot = await page.evaluate("fetch('/api/live/snapshot').then(r => r.json())")
            assert snapshot and not [k for d in snapshot for k in d if k in HEALTH_KEYS]
            await page.screenshot(path=artifact("board-private-tiles-1920.png"))

            # The class ends: the summary opens with zones and points, nothing more.
            await until(page, "!document.getElementById('summary').hidden", limit_s=60)
            heads = await page.evaluate(
                "[...document.querySelectorAll('#summary thead th')].map(th => th.textContent)"
            )
            assert len(heads) == 7 and not {"kcal", "Peak HR", "HRR60"} & set(heads)
            rows = await page.evaluate(
                "[...document.querySelectorAll('#summary tbody tr')]"
                ".map(tr => [...tr.children].map(td => td.textContent))"
            )
            assert sorted(r[0] for r in rows) == sorted(expected.values())
            assert all(len(r) == 7 for r in rows)
            summary = await page.evaluate(
                f"fetch('/api/live/summary?class_id={class_id}').then(r => r.json())"
            )
            assert len(summary) == 3 and not [k for r in summary for k in r if k in HEALTH_KEYS]
            await page.screenshot(path=artifact("board-private-summary-1920.png"))
            await page.close()

        # Each guest's own page keeps the full summary of the class.
        sensor = live_class.profiles[0].sensor
        token = guest_token(db, ids[sensor])
        mine = _json(f"{base}/api/me/{token}/classes/{class_id}")
        assert mine["peak_bpm"] is not None and mine["peak_bpm"] > 60
        assert mine["kcal"] is not None and mine["kcal"] > 0
        assert sum(mine["zone_minutes"]) > 0
