"""The guest's home page on a 390×844 phone in real headless Chromium, English and Dutch:
sessions are listed by the day a person says ("Mo 30 Nov", "ma 30 nov"), not ISO dates, and
the check-in week view's question names stay inside their column; her progress charts
have round axes and weeks named by their Monday, within the screen."""

from __future__ import annotations

import contextlib
import itertools
import re

import pytest

from tests.support.procs import Mosquitto
from tests.support.web import (
    Seeded,
    artifact,
    chromium,
    guest_token,
    web_server,
    weekly_sessions,
)

pytestmark = pytest.mark.slow  # a real Mosquitto, uvicorn and headless Chromium

DAYS = {
    "en": r"(Mo|Tu|We|Th|Fr|Sa|Su) \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)",
    "nl": r"(ma|di|wo|do|vr|za|zo) \d{1,2} (jan|feb|mrt|apr|mei|jun|jul|aug|sep|okt|nov|dec)",
}
WEEK = {  # a week named by its Monday: "26 Oct", "26 okt"
    "en": r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b",
    "nl": r"\b\d{1,2} (jan|feb|mrt|apr|mei|jun|jul|aug|sep|okt|nov|dec)\b",
}
SPILLS = """[...document.querySelectorAll('table.week th, table.week td')]
  .filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent)"""


@pytest.mark.parametrize("lang", ["en", "nl"])
async def test_sessions_by_day_and_a_week_view_that_fits(
    mosquitto: Mosquitto, seeded: Seeded, lang: str
) -> None:
    token = guest_token(seeded.db, seeded.athletes["Alice"])
    await weekly_sessions(seeded.db, seeded.athletes["Alice"], 3)
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
            # Her progress: the weeks' charts on the phone, axes round and even, weeks named
            # by their Monday in her language, nothing wider than the screen (issue 21 item 5).
            await page.goto(f"{base}/me/{token}/progress")
            await page.screenshot(path=artifact(f"guest-progress-{lang}.png"), full_page=True)
            axes = await page.eval_on_selector_all(
                "svg.chart", "cs => cs.map(c => [...c.querySelectorAll('text.tick.y')]"
                ".map(t => t.textContent))",
            )  # fmt: skip
            drawn = [labels for labels in axes if labels]
            assert drawn, axes
            for labels in drawn:
                values = [float(x.replace(",", ".")) for x in labels]
                steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
                assert len(steps) == 1 and steps.pop() > 0, labels
            text = await page.inner_text("main")
            assert "-W" not in text and not re.search(r"\de-\d", text)
            assert re.search(WEEK[lang], text), text[:400]
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            with contextlib.suppress(Exception):
                await context.close()
