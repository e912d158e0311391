"""The live board on a TV, in real headless Chromium against a real server and broker:
names fit for a shared screen, 40 tiles readable from a distance with no empty band and no
sparkline over text, zone 0 / zone 1 / no signal told apart, the class's points target,
and the site's language (screenshots: tests/support/web.artifact)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page

from gympulse import contract
from gympulse.pipeline.domain import board_name
from gympulse.pipeline.journal import Journal
from tests.support.browser import until
from tests.support.procs import Mosquitto
from tests.support.web import (
    LiveClass,
    artifact,
    board_token,
    chromium,
    running,
    seed_athletes,
    web_server,
)

pytestmark = pytest.mark.slow

LONG = "Maximiliaan-Alexander"


async def _fill_to_40(page: Page) -> None:
    """28 extra tiles through the page's own upsert(): long names, all zones."""
    await page.evaluate(
        "for (let i = 0; i < 37; i++) upsert({sensor: `extra-${i}`,"
        f" name: `{LONG} ${{i}}`, athlete_id: null, bpm: 100 + i * 2, pct_max: 50 + i,"
        " zone: i % 6, ts: Date.now(), received_ms: Date.now(), state: 'live',"
        " kcal: 123.4, points: 40 + i})"
    )


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


async def test_the_board_on_a_tv(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    live_class = LiveClass(mosquitto.url, 3)
    now = contract.now_ms()
    seed_athletes(db, live_class.profiles, now - 60_000)
    journal = Journal(db)
    journal.add_class("Circuit <b>", now - 10 * 60_000, now + 35 * 60_000, site="demo")
    journal.close()
    full_names = [p.name for p in live_class.profiles]
    with web_server(mosquitto.url, db) as base:
        async with running(live_class), chromium() as browser:
            link = f"{base}/board/{board_token(db)}"  # the TV's board link; opens /live
            page = await browser.new_page(viewport={"width": 1920, "height": 1080})
            await page.goto(link)
            await until(page, "document.querySelectorAll('.tile[data-state=live]').length === 3")
            # Names for a shared screen: first name and initial; the full name nowhere.
            shown = await page.locator(".tile .name").all_inner_texts()
            assert sorted(shown) == sorted(board_name(n) for n in full_names)
            body = await page.inner_text("body")
            assert not [n for n in full_names if n in body]
            # The class's points target (45 min × 2 points) in the header and on each tile.
            await until(page, "document.getElementById('target').textContent.includes('90')")
            assert (await page.inner_text("#target")) == "Target: 90 pts"
            assert "Circuit <b>" in await page.inner_text("#timer")  # text, never markup
            await until(page, "document.querySelectorAll('.tile .goal:not([hidden])').length === 3")

            await _fill_to_40(page)
            assert await page.locator(".tile").count() == 40
            checks = await page.evaluate(
                """() => {
                  const box = (el) => { const r = el.getBoundingClientRect();
                    return [r.left, r.top, r.right, r.bottom]; };
                  const tiles = [...document.querySelectorAll('.tile')];
                  return {
                    cut: tiles.map(t => t.querySelector('.name'))
                      .filter(n => n.scrollWidth > n.clientWidth + 1).map(n => n.textContent),
                    totalsPx: Math.min(...tiles.map(t =>
                      parseFloat(getComputedStyle(t.querySelector('.totals')).fontSize))),
                    lowest: Math.max(...tiles.map(t => t.getBoundingClientRect().bottom)),
                    board: box(document.getElementById('board')),
                    spark: tiles.map(t => box(t.querySelector('.spark'))),
                    text: tiles.map(t => ['.name', '.bpm', '.meta', '.totals']
                      .map(s => box(t.querySelector(s)))),
                  };
                }"""
            )
            assert checks["cut"] == []  # long names shrink to fit, never cut off
            assert checks["totalsPx"] >= 24  # points and kcal readable from across the room
            assert checks["board"][3] - checks["lowest"] <= 16  # no empty band under the grid
            for spark, texts in zip(checks["spark"], checks["text"], strict=True):
                assert not any(_overlap(spark, t) for t in texts)
            assert await page.evaluate("document.documentElement.scrollHeight") <= 1080
            await page.screenshot(path=artifact("board-40-tiles.png"))

            # Zone 0, zone 1 and no signal: three different looks.
            await page.evaluate(
                "for (const [s, z, st] of [['look-0', 0, 'live'], ['look-1', 1, 'live'],"
                " ['look-off', 0, 'no-signal']]) upsert({sensor: s, name: s, athlete_id: null,"
                " bpm: st === 'live' ? 80 + z * 20 : null, pct_max: 45 + z * 10, zone: z,"
                " ts: Date.now(), received_ms: Date.now(), state: st, kcal: null, points: 0})"
            )
            looks = await page.evaluate(
                "['look-0', 'look-1', 'look-off'].map(s => {"
                " const t = document.querySelector(`.tile[data-sensor=${s}]`);"
                " const c = getComputedStyle(t);"
                " return [c.backgroundColor, c.borderStyle, t.querySelector('.zone').textContent];"
                "})"
            )
            assert len({tuple(x[:2]) for x in looks}) == 3, looks
            assert looks[0][2] == "zone 0 · resting" and looks[1][2] == "zone 1 · easy"
            assert looks[2][2] == "no signal"
            await page.screenshot(path=artifact("board-zones.png"))
            await page.close()

            # The board speaks the site's language.
            context = await browser.new_context(
                locale="nl-NL", viewport={"width": 1920, "height": 1080}
            )
            nl = await context.new_page()
            await nl.goto(link)
            await until(nl, "document.getElementById('target').textContent.includes('90')")
            assert (await nl.inner_text("#target")) == "Doel: 90 ptn"
            await until(nl, "document.querySelectorAll('.tile[data-state=live]').length === 3")
            zones = await nl.locator(".tile .zone").all_inner_texts()
            assert all(z.startswith("zone ") and "·" in z for z in zones)
            await nl.screenshot(path=artifact("board-nl.png"))
            await context.close()
