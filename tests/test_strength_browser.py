"""Logging a strength set on a phone (390×844) in real headless Chromium, in English and
in Dutch: pick the lift, adjust the weight with a tap, save; the next set is one tap with
last time's numbers filled in; the set sits next to the heart-rate session of the same
hour; the progress page says, kindly, that the guest is getting stronger."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from gympulse import contract
from gympulse.dashboards.accounts import Accounts
from gympulse.pipeline.analytics.tables import SESSION_SUMMARY, conform
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores.sqlite import SqliteStore
from gympulse.pipeline.strength_log import StrengthLog
from tests.support.procs import Mosquitto
from tests.support.web import artifact, chromium, web_server

DAY = 86_400_000
WORDS = {
    "en": {
        "saved": "Saved. Well done",
        "before": "Last time: 5 × 35 kg",
        "last": "Last time: 5 × 42.5 kg",
        "with_hr": "Recorded together with your heart-rate session",
        "stronger": "You are getting stronger",
        "squat": "Back squat",
        "kg": "42.5",
        "e1rm_before": "40.8",
        "e1rm_now": "49.6",
    },
    "nl": {
        "saved": "Bewaard. Goed gedaan",
        "before": "Vorige keer: 5 × 35 kg",
        "last": "Vorige keer: 5 × 42,5 kg",
        "with_hr": "Vastgelegd samen met je hartslagtraining",
        "stronger": "Je wordt sterker",
        "squat": "Squat",
        "kg": "42,5",  # Dutch writes a decimal comma
        "e1rm_before": "40,8",
        "e1rm_now": "49,6",
    },
}


async def _seed(db: Path, lang: str) -> str:
    registry = Registry(db)
    eva = registry.add_athlete("Eva de Boer", birth_year=1988, sex="female", weight_kg=64)
    registry.close()
    now = contract.now_ms()
    log = StrengthLog(db)
    log.add_set(eva, now - 21 * DAY, "squat", 5, 35)  # three weeks ago: e1RM 40.8 kg
    log.close()
    store = SqliteStore(db)
    await store.open()
    session = {  # the heart-rate session of this hour
        "athlete_id": [eva],
        "session_id": [f"auto-{eva}-{now - 600_000}"],
        "kind": ["auto"],
        "date": [dt.datetime.now(dt.UTC).date()],
        "start_ms": [now - 600_000],
        "end_ms": [now + 3_600_000],
        "duration_s": [4200],
        "n_samples": [600],
        "hr_avg": [120.0],
    }
    await store.write_rows(
        SESSION_SUMMARY.name, conform(SESSION_SUMMARY, pl.DataFrame(session)), SESSION_SUMMARY.key
    )
    await store.close()
    accounts = Accounts(db)
    token = accounts.issue_guest_token(eva, now + 7 * DAY, lang=lang)
    accounts.close()
    return token


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "nl"])
async def test_log_a_set_on_a_phone(mosquitto: Mosquitto, tmp_path: Path, lang: str) -> None:
    db = tmp_path / "gympulse.db"
    token = await _seed(db, lang)
    words = WORDS[lang]
    with web_server(mosquitto.url, db) as base:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.goto(f"{base}/me/{token}/strength")
            assert await page.get_attribute("html", "lang") == lang
            squat = page.locator("a.lift[data-exercise=squat]")
            assert (await squat.inner_text()).strip() == words["squat"]
            box = await squat.bounding_box()
            assert box is not None and box["height"] >= 44  # a thumb-sized target
            await squat.click()
            await page.wait_for_url("**/strength?exercise=squat")
            # three weeks ago: 5 × 35 kg, filled in; three taps on + make it 42.5 kg
            assert words["before"] in await page.locator("p.last").inner_text()
            assert await page.input_value("#kg") == "35"
            for _ in range(3):
                await page.click("button.step[data-for=kg][data-by='2.5']")
            assert await page.input_value("#kg") == "42.5"
            assert await page.input_value("#reps") == "5"
            await page.click("form.set button.save")
            await page.wait_for_url("**saved=1")
            assert words["saved"] in await page.locator("p.saved").inner_text()
            # the next set: last time's numbers are filled in, one tap saves it
            assert words["last"] in await page.locator("p.last").inner_text()
            assert await page.input_value("#kg") == "42.5"
            await page.click("form.set button.save")
            await page.wait_for_url("**saved=1")
            await page.wait_for_load_state()
            today = await page.locator("ol.today li").all_inner_texts()
            assert today == [f"{words['squat']}: 5 × {words['kg']} kg"] * 2
            assert "425" in await page.locator("p.volume").inner_text()  # 2 × 5 × 42.5
            assert words["with_hr"] in await page.locator("p.with-hr").inner_text()
            await page.screenshot(path=artifact(f"strength-log-{lang}.png"), full_page=True)

            await page.goto(f"{base}/me/{token}/strength/progress")
            text = await page.locator("ul.words").inner_text()
            # 35 × (1 + 5/30) = 40.8 three weeks ago, 42.5 × (1 + 5/30) = 49.6 today
            assert words["e1rm_before"] in text and words["e1rm_now"] in text
            assert words["stronger"] in text
            assert await page.locator("svg.chart").count() >= 2  # squat e1RM, weekly volume
            await page.screenshot(path=artifact(f"strength-progress-{lang}.png"), full_page=True)
    log = StrengthLog(db)
    sets = log.sets(1)
    log.close()
    assert [(s.exercise, s.reps, s.kg, s.logged_by) for s in sets[1:]] == [
        ("squat", 5, 42.5, "guest")
    ] * 2
    await asyncio.sleep(0)
