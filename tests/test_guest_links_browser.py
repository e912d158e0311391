"""Issue 21 item 8 (guest links): the coach's guest-link forms in real Chromium (a real
``gympulse web``), English and Dutch — the day fields have labels; a new link is shown on
its own page after a redirect (POST-redirect-GET), so reloading it shows the same link and
issues no second one; a link shown again is titled "Guest link", not "New guest link".
Many coaches issuing links at once: tests/test_many_guests.py."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path

import pytest

from tests.support.procs import Mosquitto
from tests.support.web import Seeded, artifact, chromium, web_server

pytestmark = pytest.mark.slow  # a real Mosquitto, uvicorn and headless Chromium

WORDS = {
    "en": ("Valid for (days)", "Extend by (days)", "New guest link: Alice", "Guest link: Alice"),
    "nl": ("Geldig (dagen)", "Verlengen met (dagen)", "Nieuwe gastlink: Alice", "Gastlink: Alice"),
}


def _links(db: Path, athlete_id: int) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (n,) = conn.execute(
            "SELECT count(*) FROM guest_tokens WHERE athlete_id = ?", (athlete_id,)
        ).fetchone()
    return int(n)


@pytest.mark.parametrize("lang", ["en", "nl"])
async def test_guest_link_forms_labels_titles_and_no_second_link_on_reload(
    mosquitto: Mosquitto, seeded: Seeded, lang: str
) -> None:
    valid, extend, new_title, again_title = WORDS[lang]
    alice = seeded.athletes["Alice"]
    with web_server(mosquitto.url, seeded.db) as base:
        async with chromium() as browser:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 800}, locale=lang,
                extra_http_headers={"Accept-Language": lang},
            )  # fmt: skip
            page = await context.new_page()
            await page.goto(f"{base}/coach/login")
            await page.fill("input[name=username]", seeded.coach_user)
            await page.fill("input[name=password]", seeded.coach_password)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/coach")
            await page.goto(f"{base}/coach/athletes/{alice}")
            before = _links(seeded.db, alice)
            # The day field is found by its label (as a screen reader announces it).
            await page.get_by_label(valid).fill("5")
            await page.click(f"form[action='/coach/athletes/{alice}/guest-links'] button")
            await page.wait_for_selector("a.guest-link")
            assert re.search(r"/coach/guest-links/\d+\?new=1$", page.url), page.url
            assert (await page.locator("h1").inner_text()) == new_title
            url = await page.get_attribute("a.guest-link", "href")
            await page.screenshot(path=artifact(f"coach-new-link-{lang}.png"), full_page=True)
            assert _links(seeded.db, alice) == before + 1
            await page.reload()  # the coach reloads: the same link, no second one
            assert await page.get_attribute("a.guest-link", "href") == url
            assert _links(seeded.db, alice) == before + 1
            # Shown again from the athlete's list: "Guest link", the same URL.
            await page.goto(f"{base}/coach/athletes/{alice}")
            assert await page.get_by_label(extend).count() >= 1
            shown = page.locator("a.show-link").last
            await shown.click()
            await page.wait_for_selector("a.guest-link")
            assert (await page.locator("h1").inner_text()) == again_title
            assert await page.get_attribute("a.guest-link", "href") == url
            with contextlib.suppress(Exception):
                await context.close()
