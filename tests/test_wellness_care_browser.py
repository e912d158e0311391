"""Wellness as a coach's care (issue 20 item 5), through a real ``gympulse web`` in headless
Chromium: a guest who answers mood 1 ("very low") on the phone's check-in gets a reply that
acknowledges it and offers a coach (English and Dutch), and the coach's squad shows that
guest at once at the top, above a guest with more attention points; the coach's wellness
table reads every answer in words, one direction, with a legend (stress 5 = "none", good)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from gympulse.dashboards.i18n import t
from tests.support.procs import Mosquitto
from tests.support.web import Seeded, artifact, chromium, guest_token, web_server

pytestmark = pytest.mark.slow  # a real Mosquitto, uvicorn and headless Chromium


async def _check_in(browser: Browser, me: str, lang: str, answers: dict[str, int]) -> Page:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, locale="nl-NL" if lang == "nl" else "en-GB"
    )
    page = await context.new_page()
    await page.goto(me)
    for item, value in answers.items():
        await page.check(f"input[name={item}][value='{value}']")
    await page.click("form.wellness button[type=submit]")
    await page.wait_for_load_state()
    return page


async def test_a_very_low_mood_is_answered_with_care_and_seen_first(
    mosquitto: Mosquitto, seeded: Seeded
) -> None:
    alice, bob = seeded.athletes["Alice"], seeded.athletes["Bob"]
    with web_server(mosquitto.url, seeded.db) as base:
        async with chromium() as browser:
            # Bob (two flags: HRV below, resting HR above) answers well; Alice very low.
            page = await _check_in(
                browser,
                f"{base}/me/{guest_token(seeded.db, bob)}",
                "en",
                {"sleep": 5, "stress": 5, "mood": 4, "energy": 4, "soreness": 5},
            )
            assert await page.locator("#care-reply").count() == 0
            assert t("en", "wellness_saved") in await page.inner_text("main")
            await page.context.close()
            token = guest_token(seeded.db, alice)
            for lang in ("en", "nl"):
                page = await _check_in(
                    browser,
                    f"{base}/me/{token}?edit=1",
                    lang,
                    {"sleep": 2, "stress": 2, "mood": 1, "energy": 2, "soreness": 4},
                )
                reply = await page.inner_text("#care-reply")
                assert t(lang, "wellness_care") in reply
                assert t(lang, "wellness_care_now") in reply
                assert t(lang, "wellness_saved") not in await page.inner_text("main")
                await page.screenshot(path=artifact(f"wellness-care-{lang}.png"), full_page=True)
                await page.context.close()

            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(f"{base}/coach/login")
            await page.fill("input[name=username]", seeded.coach_user)
            await page.fill("input[name=password]", seeded.coach_password)
            await page.click("form.login button")
            await page.wait_for_url(f"{base}/coach")
            # At the top of the squad, before the table: Alice, to be seen today.
            care = page.locator("main > section.care")
            assert await care.count() == 1
            assert t("en", "care_row", name="Alice") in await care.inner_text()
            first = page.locator("table.squad tbody tr").first
            assert (await first.locator("td").first.inner_text()).strip() == "Alice"
            assert await first.get_attribute("data-care") == "true"
            assert t("en", "reason_mood_very_low") in await first.inner_text()
            second = page.locator("table.squad tbody tr").nth(1)
            assert await second.get_attribute("data-care") == "false"
            hover = await second.locator("td.wellness-today abbr").get_attribute("title")
            assert hover is not None and "Stress: none" in hover and "Mood: good" in hover
            await page.screenshot(path=artifact("wellness-care-squad.png"), full_page=True)

            # Bob's wellness table: stress 5 reads "none", coloured good, with a legend.
            await page.goto(f"{base}/coach/athletes/{bob}")
            stress = page.locator("table.wellness tbody tr").first.locator("td[data-item=stress]")
            assert (await stress.inner_text()).strip() == "none"
            assert await stress.get_attribute("class") == "w w-good"
            assert "Stress 5" not in await page.inner_text("table.wellness")
            assert t("en", "wellness_legend") in await page.inner_text("main")
            await page.goto(f"{base}/coach/athletes/{alice}")
            mood = page.locator("table.wellness tbody tr").first.locator("td[data-item=mood]")
            assert (await mood.inner_text()).strip() == "very low"
            assert await mood.get_attribute("class") == "w w-low"
            await page.screenshot(path=artifact("wellness-words-alice.png"), full_page=True)
