"""The morning pages as they are used, in real headless Chromium against a real
``gympulse web`` on a real Mosquitto with straps publishing every second:

- a guest who wears a strap and rides a bike (assigned after the strap, as the demo does)
  sees their own strap marked as theirs on the morning page, never the bike, and strap
  names in the page's language, on a 390×844 phone in English and Dutch;
- on the coach's morning station (a tablet) the rows keep their places when a strap stops
  sending and when it comes back, so a tap never lands on another person's row.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from gympulse import contract
from gympulse.dashboards.accounts import Accounts
from gympulse.pipeline.registry import Registry
from tests.support.browser import coach_login, until
from tests.support.procs import Mosquitto
from tests.support.web import (
    LiveClass,
    artifact,
    chromium,
    running,
    seed_athletes,
    web_server,
)

pytestmark = pytest.mark.slow  # a real Mosquitto, uvicorn and headless Chromium

DAY_MS = 86_400_000
OPTIONS = "[...document.querySelectorAll('.straps label')].map(l => [l.querySelector('input')" \
    ".value, l.textContent.trim()])"  # fmt: skip


@pytest.mark.parametrize(
    ("lang", "strap", "yours"), [("en", "strap", "(yours)"), ("nl", "borstband", "(van jou)")]
)
async def test_the_guest_s_own_strap_is_marked_theirs(
    mosquitto: Mosquitto, tmp_path: Path, lang: str, strap: str, yours: str
) -> None:
    db = tmp_path / "gympulse.db"
    live_class = LiveClass(mosquitto.url, 2, seed=3)
    own, free = (p.sensor for p in live_class.profiles)
    now = contract.now_ms()
    guest = seed_athletes(db, live_class.profiles[:1], now - DAY_MS)[own]  # the other: free
    registry = Registry(db)
    registry.assign("bike-1", guest, now - 60_000)  # the guest's bike, assigned after
    registry.close()
    accounts = Accounts(db)
    token = accounts.issue_guest_token(guest, now + 7 * DAY_MS)
    accounts.close()
    with web_server(mosquitto.url, db) as base:
        async with running(live_class), chromium() as browser:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, locale=lang,
                extra_http_headers={"Accept-Language": lang},
            )  # fmt: skip
            page = await context.new_page()
            await page.goto(f"{base}/me/{token}/morning")
            await until(page, f"{OPTIONS}.length === 2")
            options = dict(await page.evaluate(OPTIONS))
            await page.screenshot(path=artifact(f"morning-own-strap-{lang}.png"))
            number = own.removeprefix("strap-")
            assert options[own] == f"{strap} {number} {yours}"
            assert options[free] == f"{strap} {free.removeprefix('strap-')}"
            assert "bike-1" not in options
            with contextlib.suppress(Exception):
                await context.close()


ORDER = "[...document.querySelectorAll('table.station tbody tr')].map(tr => tr.dataset.sensor)"


async def test_station_rows_keep_their_places_when_a_strap_drops_and_returns(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    live_class = LiveClass(mosquitto.url, 5, seed=9)
    seed_athletes(db, live_class.profiles, contract.now_ms() - 60_000)
    accounts = Accounts(db)
    accounts.add_user("coach", "a long coach password")
    accounts.close()
    with web_server(mosquitto.url, db) as base:
        async with running(live_class), chromium() as browser:
            page = await browser.new_page(viewport={"width": 1024, "height": 1366})
            await coach_login(page, base, "coach", "a long coach password", "/coach/morning")
            await until(page, f"{ORDER}.length === 5")
            order = await page.evaluate(ORDER)
            dropped = order[1]
            row = f"document.querySelector('tr[data-sensor=\"{dropped}\"]')"

            live_class.silent.add(dropped)  # the strap stops sending
            await until(page, f"{row} && {row}.dataset.live === 'gone'", limit_s=30)
            assert await page.evaluate(ORDER) == order
            assert await page.evaluate(f"{row}.querySelector('button.start').disabled")
            await page.screenshot(path=artifact("morning-station-strap-gone.png"))

            live_class.silent.discard(dropped)  # ... and comes back
            await until(page, f"{row}.dataset.live === 'live'", limit_s=30)
            assert await page.evaluate(ORDER) == order
            assert not await page.evaluate(f"{row}.querySelector('button.start').disabled")
            with contextlib.suppress(Exception):
                await page.close()
