"""The guest's consent page on her phone (390 × 844), in Dutch, in real headless Chromium
against a real ``gympulse web``: every domain explained, nothing pre-ticked and nothing
given before she answers, one press to say yes and one press to take it back, each
answer stamped by the server (screenshots: tests/support/web.artifact)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from playwright.async_api import ViewportSize

from gympulse import contract
from gympulse.dashboards.i18n import CATALOGUE, t
from gympulse.pipeline.consent import DOMAINS
from gympulse.pipeline.registry import Registry
from tests.support.procs import Mosquitto
from tests.support.web import artifact, chromium, guest_token, web_server

pytestmark = pytest.mark.slow
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def consent_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GYMPULSE_CONSENT__REQUIRED", "true")
    yield


async def test_the_consent_page_on_a_dutch_phone(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    registry = Registry(db)
    dana = registry.add_athlete("Dana Vos")
    registry.close()
    token = guest_token(db, dana)
    english = {
        v["en"]
        for k, v in CATALOGUE.items()
        if k.startswith("consent") and v["en"] != v["nl"] and "{" not in v["en"]
    }
    with web_server(mosquitto.url, db) as base:
        url = f"{base}/me/{token}/consent"
        async with chromium() as browser:
            context = await browser.new_context(viewport=PHONE, locale="nl-NL")
            page = await context.new_page()
            await page.goto(url)
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{width} px wide"
            text = await page.inner_text("body")
            assert not [e for e in english if e in text], "English on the Dutch page"
            for domain in DOMAINS:
                block = page.locator(f"article#{domain.value}")
                words = await block.inner_text()
                assert t("nl", f"consent_{domain.value}_explain") in words
                assert t("nl", "consent_unanswered") in words
                # Yes and no, side by side, as buttons: no box to tick, none ticked.
                assert await block.locator("button.consent-yes").count() == 1
                assert await block.locator("button.consent-no").count() == 1
            assert await page.locator("input[type=checkbox], input[type=radio]").count() == 0
            await page.screenshot(path=artifact("consent-phone-nl.png"), full_page=True)

            before = contract.now_ms()
            await page.click("article#live button.consent-yes")
            await page.wait_for_url(re.compile(r"consent\?saved=live"))
            live = await page.inner_text("article#live")
            assert "Je zei ja op" in live and t("nl", "consent_saved") in live
            assert await page.locator("article#live button.consent-withdraw").count() == 1
            await page.screenshot(path=artifact("consent-phone-nl-yes.png"), full_page=True)
            await page.click("article#live button.consent-withdraw")  # as easy: one press
            await page.wait_for_url(re.compile(r"consent\?saved=live"))
            assert "Je zei nee op" in await page.inner_text("article#live")
            await page.click("article#morning button.consent-no")
            await page.wait_for_url(re.compile(r"consent\?saved=morning"))
            assert "Je zei nee op" in await page.inner_text("article#morning")
            after = contract.now_ms()
            await context.close()
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT domain, given, ts_ms, by_whom FROM consent_events ORDER BY id"
        ).fetchall()
    assert [(d, g, b) for d, g, _, b in rows] == [
        ("live", 1, "guest"), ("live", 0, "guest"), ("morning", 0, "guest"),
    ]  # fmt: skip
    assert all(before <= ts <= after for _, _, ts, _ in rows)  # the server's clock
