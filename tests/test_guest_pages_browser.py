"""The guest's home page on a 390×844 phone in real headless Chromium, English and Dutch:
sessions are listed by the day a person says ("Mo 30 Nov", "ma 30 nov"), not ISO dates, and
the check-in week view's question names stay inside their column."""

from __future__ import annotations

import contextlib
import re

import pytest

from tests.support.procs import Mosquitto
from tests.support.web import Seeded, artifact, chromium, guest_token, web_server

pytestmark = pytest.mark.slow  # a real Mosquitto, uvicorn and headless Chromium

DAYS = {
    "en": r"(Mo|Tu|We|Th|Fr|Sa|Su) \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)",
    "nl": r"(ma|di|wo|do|vr|za|zo) \d{1,2} (jan|feb|mrt|apr|mei|jun|jul|aug|sep|okt|nov|dec)",
}
SPILLS = """[...document.querySelectorAll('table.week th, table.week td')]
  .filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent)"""


@pytest.mark.parametrize("lang", ["en", "nl"])
async def test_sessions_by_day_and_a_week_view_that_fits(
    mosquitto: Mosquitto, seeded: Seeded, lang: str
) -> None:
    token = guest_token(seeded.db, seeded.athletes["Alice"])
    with web_server(mosquitto.url, seeded.db) as base:
        async with chromium() as browser:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, locale=lang,
                extra_http_headers={"Accept-Language": lang},
            )  # fmt: skip
            page = await context.new_page()
            await page.goto(f"{base}/me/{token}")
            await page.screenshot(path=artifact(f"guest-home-{lang}.png"), full_page=True)
            listed = await page.locator("ul.session-list li a").all_inner_texts()
            assert listed, "no sessions listed"
            assert all(re.fullmatch(DAYS[lang], x.strip()) for x in listed), listed
            assert await page.evaluate(SPILLS) == []
            with contextlib.suppress(Exception):
                await context.close()
