"""Coach and guest pages in real headless Chromium against a real server, with a live
class on a real Mosquitto: the coach logs in and opens an athlete page; a guest link shows
that guest (live tile included) and nobody else, and its SSE stream carries only the
guest's own strap."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest

from gympulse import contract
from gympulse.dashboards.accounts import Accounts
from gympulse.pipeline.analytics.tables import BASELINES, DAILY_METRICS, SESSION_SUMMARY, conform
from gympulse.pipeline.stores.sqlite import SqliteStore
from tests.support.browser import until
from tests.support.procs import Mosquitto
from tests.support.web import (
    DAY_MS,
    LiveClass,
    _history_rows,
    artifact,
    chromium,
    running,
    seed_athletes,
    web_server,
)

pytestmark = pytest.mark.slow  # a real Mosquitto and headless Chromium

PASSWORD = "a long coach password"


def _read_stream(url: str, seconds: float) -> list[dict[str, object]]:
    """Tile events of an SSE stream for ``seconds`` (blocking; run in a thread)."""
    events = []
    deadline = time.monotonic() + seconds
    with urllib.request.urlopen(url, timeout=5) as response:
        while time.monotonic() < deadline:
            line = response.readline().decode()
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    return events


async def test_coach_and_guest_pages(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    live_class = LiveClass(mosquitto.url, 12)
    ids = seed_athletes(db, live_class.profiles, contract.now_ms() - 60_000)
    names = {p.sensor: p.name for p in live_class.profiles}
    guest_sensor = live_class.profiles[2].sensor
    guest_id = ids[guest_sensor]
    store = SqliteStore(db)
    await store.open()
    rows = _history_rows(guest_id, 10, "flag_hrv", 62.0)
    for table in (SESSION_SUMMARY, DAILY_METRICS, BASELINES):
        await store.write_rows(
            table.name, conform(table, pl.DataFrame(rows[table.name])), table.key
        )
    await store.close()
    # The coach account through the CLI, the way a site creates it.
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gympulse.cli",
        "coach-user",
        "coach",
        env={**os.environ, "GYMPULSE_STORE__PATH": str(db), "COACH_PASSWORD": PASSWORD},
    )
    assert await cli.wait() == 0
    accounts = Accounts(db)
    token = accounts.issue_guest_token(guest_id, contract.now_ms() + 7 * DAY_MS)
    accounts.close()

    with web_server(mosquitto.url, db) as base:
        async with running(live_class), chromium() as browser:
            # ---- coach
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(f"{base}/coach")
            assert page.url.endswith("/coach/login")
            await page.fill("input[name=username]", "coach")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("form.login button")
            await page.wait_for_url(f"{base}/coach")
            squad_rows = await page.locator("table.squad tbody tr").all_inner_texts()
            assert len(squad_rows) == 12
            assert squad_rows[0].startswith(names[guest_sensor])  # the flagged one first
            await page.screenshot(path=artifact("coach-squad.png"), full_page=True)
            await page.click(f"table.squad a:text-is('{names[guest_sensor]}')")
            await page.wait_for_url(f"{base}/coach/athletes/{guest_id}")
            assert await page.locator("svg.chart").count() >= 4
            # The normal ranges of ln RMSSD and resting HR; the ACWR chart has no
            # "sweet spot" band any more (issue 20 item 3).
            assert await page.locator("svg.chart .band").count() == 2
            assert await page.locator("table.sessions tbody tr").count() == 10
            await page.screenshot(path=artifact("coach-athlete.png"), full_page=True)
            await page.locator("table.sessions a").first.click()
            await page.wait_for_url(f"{base}/coach/athletes/{guest_id}/sessions/*")
            assert await page.locator("svg.zones rect").count() == 6  # zones 0–5
            await page.close()

            # ---- guest
            guest = await browser.new_page(viewport={"width": 390, "height": 844})
            await guest.goto(f"{base}/me/{token}")
            await until(guest, "document.querySelector('.me-tile').dataset.state === 'live'")
            text = await guest.inner_text("body")
            # The guest is greeted by first name; nobody else's name is on the page.
            assert f"Hello {names[guest_sensor].split()[0]}" in text
            others = [n for s, n in names.items() if s != guest_sensor]
            assert not [n for n in others if n in text or n.split()[0] in text]
            bpm = await guest.inner_text(".me-tile .bpm")
            assert bpm.isdigit()
            await guest.screenshot(path=artifact("guest-me.png"), full_page=True)
            await guest.goto(f"{base}/me/{token}/progress")
            assert "resting heart rate went down" in await guest.inner_text("body")
            await guest.close()

            # The guest's SSE stream carries only the guest's own strap.
            events = await asyncio.to_thread(_read_stream, f"{base}/api/me/{token}/stream", 3.5)
            assert len(events) >= 2
            assert {e["sensor"] for e in events} == {guest_sensor}
            assert {e["athlete_id"] for e in events} == {guest_id}
