"""The coach's tables on a tablet and a laptop in real headless Chromium: no header breaks
inside a word ("Reco rds"); a header may wrap only between words (or after a hyphen)."""

from __future__ import annotations

import contextlib

import pytest

from tests.support.procs import Mosquitto
from tests.support.web import Seeded, artifact, chromium, web_server

pytestmark = pytest.mark.slow  # a real Mosquitto, uvicorn and headless Chromium

# Every word of every header cell, with the number of line boxes it takes (1: whole).
BROKEN_WORDS = """(sel) => [...document.querySelectorAll(sel)].flatMap((th) => {
  const out = [];
  const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.data.matchAll(/[^\\s-]+/g)) {  // a hyphen may end a line
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (lines.size > 1) out.push(m[0]);
    }
  }
  return out;
})"""


@pytest.mark.parametrize("width", [1024, 1280])
async def test_coach_table_headers_never_break_a_word(
    mosquitto: Mosquitto, seeded: Seeded, width: int
) -> None:
    with web_server(mosquitto.url, seeded.db) as base:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": width, "height": 800})
            await page.goto(f"{base}/coach/login")
            await page.fill("input[name=username]", seeded.coach_user)
            await page.fill("input[name=password]", seeded.coach_password)
            await page.click("form.login button")
            await page.wait_for_url(f"{base}/coach")
            for path in ("/coach/strength", "/coach"):
                await page.goto(base + path)
                await page.screenshot(
                    path=artifact(f"coach-table-{width}{path.replace('/', '-')}.png")
                )
                assert await page.locator("main table th").count() > 0, path
                assert await page.evaluate(BROKEN_WORDS, "main table th") == [], path
            with contextlib.suppress(Exception):
                await page.close()
