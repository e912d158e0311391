"""The guest's phone (390 × 844) in real headless Chromium, in English and Dutch: no page
scrolls sideways, chart text is at least 12 px, every answer is acknowledged at once (RPE,
check-in with a week view), the Dutch pages carry no English, "Live now" shows only while
the guest's strap is live, and somebody else's session is the same small 404 page as an
unknown link (screenshots: tests/support/web.artifact)."""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request

import pytest
from playwright.async_api import Browser, Page, ViewportSize

from gympulse.dashboards.i18n import CATALOGUE
from tests.support.browser import until
from tests.support.procs import Mosquitto
from tests.support.web import (
    LiveClass,
    Seeded,
    artifact,
    chromium,
    guest_token,
    running,
    web_server,
)

pytestmark = pytest.mark.slow
PHONE: ViewportSize = {"width": 390, "height": 844}


async def _fits(page: Page, what: str) -> None:
    """No sideways scrolling; every chart's text at least 12 px on screen."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{what}: {width} px wide"
    smallest = await page.evaluate(
        """() => Math.min(1000, ...[...document.querySelectorAll('svg.chart')].flatMap(svg => {
             const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
             return [...svg.querySelectorAll('text')].map(t =>
               parseFloat(getComputedStyle(t).fontSize) * scale);
           }))"""
    )
    assert smallest >= 12, f"{what}: chart text of {smallest:.1f} px"


def _english_only() -> set[str]:
    """Catalogue texts that differ in Dutch (no placeholders): none may show on a Dutch page."""
    return {
        v["en"]
        for v in CATALOGUE.values()
        if v["en"] != v["nl"] and "{" not in v["en"] and len(v["en"]) > 4
    }


async def _phone(browser: Browser, lang: str) -> Page:
    context = await browser.new_context(viewport=PHONE, locale="nl-NL" if lang == "nl" else "en-GB")
    return await context.new_page()


def _status_and_body(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


async def test_the_guest_phone(mosquitto: Mosquitto, seeded: Seeded) -> None:
    alice = seeded.athletes["Alice"]
    token = guest_token(seeded.db, alice)
    english = _english_only()
    with web_server(mosquitto.url, seeded.db) as base:
        me = f"{base}/me/{token}"
        # Somebody else's session: the same small page as an unknown link.
        bob_session = seeded.sessions["Bob"][0]
        status, other = await asyncio.to_thread(_status_and_body, f"{me}/sessions/{bob_session}")
        status_unknown, unknown = await asyncio.to_thread(_status_and_body, f"{base}/me/nope")
        assert status == status_unknown == 404
        assert other == unknown and "Alice" not in other and "{" not in other

        async with chromium() as browser:
            for lang in ("en", "nl"):
                page = await _phone(browser, lang)
                sid = seeded.sessions["Alice"][-1]
                pages = {
                    "home": me,
                    "session": f"{me}/sessions/{sid}",
                    "progress": f"{me}/progress",
                    "morning": f"{me}/morning",
                }
                for name, url in pages.items():
                    await page.goto(url)
                    await _fits(page, f"{lang} {name}")
                    if lang == "nl":
                        text = await page.inner_text("body")
                        leaks = [e for e in english if re.search(rf"\b{re.escape(e)}\b", text)]
                        assert not leaks, f"{name}: English on a Dutch page: {leaks}"
                    await page.screenshot(
                        path=artifact(f"guest-phone-{lang}-{name}.png"), full_page=True
                    )
                await page.context.close()

            # ---- answers are acknowledged at once (English)
            page = await _phone(browser, "en")
            await page.goto(me)
            assert await page.locator("#me-live").is_hidden()  # no strap live: no block
            assert await page.locator("form.rpe").count() == 1
            await page.click("form.rpe button[value='6']")
            await page.wait_for_url(f"{me}?saved=rpe")
            assert await page.locator("form.rpe").count() == 0  # the answer replaced it
            answer = await page.inner_text("#rpe-answer")
            assert "6 out of 10" in answer
            listed = await page.locator("ul.session-list li").first.inner_text()
            assert "Rated 6/10" in listed
            # The check-in: unambiguous ends, then the week view shows today's answers.
            assert "1 = very much" in await page.inner_text("form.wellness fieldset >> nth=1")
            for item, value in (("sleep", 4), ("stress", 2), ("mood", 3), ("energy", 4)):
                await page.check(f"input[name={item}][value='{value}']")
            await page.check("input[name=soreness][value='5']")
            await page.click("form.wellness button[type=submit]")
            await page.wait_for_url(f"{me}?saved=wellness")
            assert await page.locator("form.wellness").count() == 0
            today = await page.locator("table.week tbody tr >> nth=0").inner_text()
            assert today.rstrip().endswith("4")  # sleep, today's column (the last)
            await _fits(page, "en home after answers")
            await page.screenshot(path=artifact("guest-phone-en-answered.png"), full_page=True)

            # ---- "Live now" only while the guest's strap is live
            live_class = LiveClass(mosquitto.url, 1)  # strap-1: Alice's
            async with running(live_class):
                await page.goto(me)
                await until(page, "!document.getElementById('me-live').hidden")
                await page.screenshot(path=artifact("guest-phone-en-live.png"), full_page=True)
            await until(page, "document.getElementById('me-live').hidden", 20)
            await page.context.close()
