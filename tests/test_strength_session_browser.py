"""A lifter's session on a phone (390×844, Dutch) in real headless Chromium against a real
``gympulse web``: start the coach's routine, the weight pre-filled by the progression rule
(+2,5 kg after every set reached its reps), a warm-up that does not count, a work set, the
rest timer that survives a reload and a locked screen (the page's clock jumps while its
timers are stopped; the visibility change recomputes it), a first session of a lift that is
a starting point and no record; then the coach's history of that lift."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from gympulse import contract
from gympulse.dashboards.accounts import Accounts
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.strength_log import StrengthLog, TemplateItem
from tests.support.procs import Mosquitto
from tests.support.web import artifact, chromium, web_server

pytestmark = pytest.mark.slow

DAY = 86_400_000
PASSWORD = "a long coach password"
PLAN = "Kracht basis"


def _seed(db: Path) -> str:
    registry = Registry(db)
    eva = registry.add_athlete("Eva de Boer", birth_year=1988, sex="female", weight_kg=64)
    registry.close()
    log = StrengthLog(db)
    log.set_template(PLAN, [TemplateItem("squat", 3, 5, 35), TemplateItem("bench", 3, 8, None)])
    before = contract.now_ms() - 3 * DAY
    for k in range(3):  # last session: every set of 5 at 40 kg (so today: 42,5 kg)
        log.add_set(eva, before + k * 180_000, "squat", 5, 40)
    log.close()
    accounts = Accounts(db)
    accounts.add_user("coach", PASSWORD)
    token = accounts.issue_guest_token(eva, contract.now_ms() + 7 * DAY, lang="nl")
    accounts.close()
    return token


def _rest_seconds(text: str) -> int:
    minutes, seconds = text.strip().split(":")
    return int(minutes) * 60 + int(seconds)


async def _rest_left(page: Page) -> int:
    return _rest_seconds(await page.locator("section.rest .rest-left").inner_text())


async def test_a_lifters_session_on_a_phone(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    token = _seed(db)
    with web_server(mosquitto.url, db) as base:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.clock.install()  # the page's own clock, running: jumped below
            await page.goto(f"{base}/me/{token}/strength")
            start = page.locator("a.routine", has_text=f"{PLAN} starten")
            box = await start.bounding_box()
            assert box is not None and box["height"] >= 44
            await start.click()
            await page.wait_for_url("**/strength/routine?plan=*")
            squat = page.locator("section.routine-lift[data-exercise=squat]")
            suggest = await squat.locator("p.suggest").inner_text()
            assert "haalde je bij 40 kg in elke set 5 herhalingen" in suggest
            assert "Vandaag: 42,5 kg" in suggest  # Dutch decimal comma
            form = squat.locator("form.routine-set")
            assert await form.locator("input[name=kg]").input_value() == "42.5"
            assert await form.locator("input[name=reps]").input_value() == "5"
            assert await squat.locator("ol.routine-sets li").count() == 3

            # A warm-up: half the weight, pre-filled; listed, marked, not counted.
            await squat.locator("details.warmup summary").click()
            warm = squat.locator("form.warmup-set")
            assert await warm.locator("input[name=kg]").input_value() == "20"
            await warm.locator("button").click()
            await page.wait_for_url("**saved=squat")
            assert "5 × 20 kg (opwarming)" in await squat.locator("ul.warmups").inner_text()
            assert "Rust" in await page.locator("section.rest").inner_text()
            assert 50 <= await _rest_left(page) <= 60  # a warm-up's 60 s
            assert await squat.locator("li.done").count() == 0  # still set 1 to do

            # The first work set: done, a record (40 kg was the baseline), 3 min rest.
            await squat.locator("form.routine-set button.save").click()
            await page.wait_for_url("**saved=squat")
            await page.wait_for_load_state()
            done = await squat.locator("li.done").all_inner_texts()
            assert done == ["Set 1: 5 × 42,5 kg ✓"]
            saved = await page.locator("p.saved").inner_text()
            assert "nieuw persoonlijk record: 49,6 kg" in saved
            left = await _rest_left(page)
            assert 150 <= left <= 180
            await page.screenshot(path=artifact("strength-routine-rest-nl.png"), full_page=True)

            # A reload counts on from the same moment (the set's time on the server).
            await page.reload()
            after_reload = await _rest_left(page)
            assert 100 <= after_reload <= left
            # A locked screen: the phone's timers stop, its clock goes on. Stop the page's
            # timers, jump its clock past the rest, then wake it (visibility change).
            now_s = await page.evaluate("Date.now()") / 1000  # Playwright takes seconds
            await page.clock.pause_at(now_s + 1)
            await page.clock.set_system_time(now_s + 200)
            rest_text = page.locator("section.rest .rest-left")
            assert ":" in await rest_text.inner_text()  # no timer ran while "locked"
            await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
            await expect(rest_text).to_contain_text("De rust is voorbij", timeout=10_000)
            await expect(page.locator("section.rest")).to_have_class("rest over")
            await page.screenshot(path=artifact("strength-rest-over-nl.png"), full_page=True)
            await page.clock.resume()

            # Bench: never done before: no weight to suggest; the first session is a
            # starting point, never a record, however it goes.
            bench = page.locator("section.routine-lift[data-exercise=bench]")
            assert "Kies een gewicht" in await bench.locator("p.suggest").inner_text()
            for kg in ("25", "30"):
                await bench.locator("form.routine-set input[name=kg]").fill(kg)
                await bench.locator("form.routine-set button.save").click()
                await page.wait_for_url("**saved=bench")
                await page.wait_for_load_state()
                saved = await page.locator("p.saved").inner_text()
                assert "startpunt" in saved and "record" not in saved
            await page.click("section.routine-lift[data-exercise=squat] a:text('Alle trainingen')")
            await page.wait_for_url("**/strength/history/squat")
            sessions = page.locator("li.lift-session")
            assert await sessions.count() == 2
            assert "persoonlijk record" in await sessions.nth(0).locator("h3").inner_text()
            assert "startpunt" in await sessions.nth(1).locator("h3").inner_text()
            assert await sessions.nth(0).locator("li.warmup").all_inner_texts() == [
                "5 × 20 kg (opwarming)"
            ]
            assert "212,5 kg getild" in await sessions.nth(0).inner_text()  # warm-up left out
            await page.screenshot(path=artifact("strength-history-nl.png"), full_page=True)
            await page.close()

            # The coach: from the squad's strength table to Eva's squat, session by session.
            coach = await browser.new_page(viewport={"width": 1280, "height": 900})
            await coach.goto(f"{base}/coach/login")
            await coach.fill("input[name=username]", "coach")
            await coach.fill("input[name=password]", PASSWORD)
            await coach.click("form.login button")
            await coach.wait_for_url(f"{base}/coach")
            await coach.goto(f"{base}/coach/strength")
            await coach.locator("table.strength a.lift-history").first.click()
            await coach.wait_for_url("**/coach/strength/athletes/*?exercise=squat")
            assert "Eva de Boer" in await coach.title()
            rows = coach.locator("li.lift-session")
            assert await rows.count() == 2
            newest = await rows.nth(0).inner_text()
            assert "5 × 20 kg (warm-up)" in newest and "5 × 42.5 kg" in newest
            assert "personal record" in newest
            assert (await rows.nth(1).locator("ul.lift-sets li").all_inner_texts()) == [
                "5 × 40 kg"
            ] * 3
            await coach.select_option("form.lift-pick select", "bench")
            await coach.click("form.lift-pick button")
            await coach.wait_for_url("**exercise=bench")
            bench_rows = coach.locator("li.lift-session")
            assert await bench_rows.count() == 1
            assert "starting point" in await bench_rows.nth(0).inner_text()
            await coach.screenshot(path=artifact("strength-coach-history.png"), full_page=True)
    await asyncio.sleep(0)
